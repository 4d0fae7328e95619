// domainmap/write.hpp: writing a dataset (any FrameSource, streamed) to a file.
//
// Every writer streams the source in blocks under ctx.memory_budget, writes to a temporary
// name beside the output ("OUT.part-XXXX") and renames it when complete, so an error or an
// interruption never leaves a partial OUT behind.
#pragma once
#include <string>

#include "domainmap/context.hpp"
#include "domainmap/dataset.hpp"
#include "domainmap/params.hpp"

namespace domainmap {

/// Parameters of writing data (INI section [write], flags --write.KEY).
struct WriteParams {
  std::string compress = "none";  ///< EMD: none, gzip or lz4 (HDF5 filter 32004, chunked one frame per chunk)
  int gzip_level = 4;             ///< deflate level 1..9 for compress = gzip
  std::string dtype = "auto";     ///< stored pixel type: auto (integer sources keep their type, else float32), uint8, uint16, uint32, float32
  bool operator==(const WriteParams&) const = default;
};
void describe(WriteParams& p, ParamSink& s);

/// EMD 1.0 DataCube as py4DSTEM/emdfile write it (opens in py4DSTEM unchanged), with the
/// source's calibration. Data [Rx, Ry, Qx, Qy] = [scan_y, scan_x, det_y, det_x].
void write_emd(FrameSource& src, const std::string& path, const WriteParams& p, RunContext& ctx);

/// Quantum Detectors Merlin .mib (single chip or any size, U08/U16/U32 by dtype, with a .hdr
/// beside it) that domainmap's Merlin reader reads back with the same scan shape.
void write_mib(FrameSource& src, const std::string& path, const WriteParams& p, RunContext& ctx);

/// Plain raw binary, little-endian, no headers, frames in raster order; read it back with
/// --read.format raw and the printed shape and dtype.
void write_raw(FrameSource& src, const std::string& path, const WriteParams& p, RunContext& ctx);

/// Temporary name beside `path` for writing, unique per process and call.
std::string temporary_name_for(const std::string& path);
/// Renames tmp to path (replacing it); throws Error(io) naming path on failure.
void commit_temporary(const std::string& tmp, const std::string& path);
/// Removes tmp if it exists (for error paths); never throws.
void discard_temporary(const std::string& tmp) noexcept;

} // namespace domainmap
