// lib/io/readers.hpp (internal): the entry points of the individual readers, and the small
// helpers they share (pixel type conversion, positioned reads of binary files).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "domainmap/dataset.hpp"

namespace domainmap::io {

// ---- readers (one file each in lib/io/) ----
/// EMD 1.0 DataCube (py4DSTEM / emdfile). `object` may name the data set or its group; "" = the first DataCube.
std::unique_ptr<FrameSource> open_emd(const std::string& path, const std::string& object, const ReadParams& p);
/// Any 3D or 4D HDF5 dataset; `object` "" = the only 3D/4D dataset in the file (error if several).
std::unique_ptr<FrameSource> open_hdf5(const std::string& path, const std::string& object, const ReadParams& p);
/// Dectris ARINA / EIGER NeXus master file with external links to data files.
std::unique_ptr<FrameSource> open_dectris(const std::string& path, const ReadParams& p);
/// Quantum Detectors Merlin .mib (or its .hdr).
std::unique_ptr<FrameSource> open_merlin(const std::string& path, const ReadParams& p);
/// NanoMegas ASTAR blockfile .blo.
std::unique_ptr<FrameSource> open_blockfile(const std::string& path, const ReadParams& p);
/// EMPAD .xml header (or its .raw, if the .xml beside it can be found).
std::unique_ptr<FrameSource> open_empad(const std::string& path, const ReadParams& p);
/// Generic raw binary, layout from p.raw_* and p.scan_shape.
std::unique_ptr<FrameSource> open_raw(const std::string& path, const ReadParams& p);

/// For an HDF5 file: "emd" (EMD 1.0 root attributes), "dectris" (NXentry with data_NNNNNN links)
/// or "hdf5". Implemented beside the HDF5 readers.
std::string detect_hdf5_flavour(const std::string& path);

// ---- pixel types ----
enum class PixelType { u8, u16, u32, u64, i8, i16, i32, i64, f32, f64 };
std::size_t pixel_bytes(PixelType t);
/// "uint16", "u2", "<u2", "float32", "f4" ... -> PixelType; throws bad_parameter naming `where`.
PixelType parse_pixel_type(const std::string& name, const std::string& where);
/// numpy-style name: "<u2", ">f4", "|u1".
std::string numpy_dtype(PixelType t, bool big_endian);
/// Converts n stored values (byte order big_endian or little) to float32.
void convert_to_float(const void* src, PixelType t, bool big_endian, std::size_t n, float* dst);

/// Counts NaN/Inf in `data`; with nan_to_zero replaces them by 0, otherwise throws
/// Error(bad_input) "<where> at frame k: N NaN/Inf pixels; use --read.nan_to_zero".
/// Returns the number replaced.
std::int64_t check_finite(float* data, std::size_t n, bool nan_to_zero, const std::string& where,
                          std::int64_t first_frame, std::int64_t frame_pixels);

// ---- binary files ----
/// A read-only file with positioned reads (pread) and errors that name the file.
class BinaryFile {
public:
  explicit BinaryFile(const std::string& path);
  ~BinaryFile();
  BinaryFile(const BinaryFile&) = delete;
  BinaryFile& operator=(const BinaryFile&) = delete;
  const std::string& path() const { return path_; }
  std::uint64_t size() const { return size_; }
  /// Reads exactly n bytes at offset; Error(bad_input) "<file>: truncated: ..." if the file ends first.
  void read_at(std::uint64_t offset, std::size_t n, void* dst) const;
  /// Reads up to n bytes; returns the count read.
  std::size_t read_some(std::uint64_t offset, std::size_t n, void* dst) const;
private:
  std::string path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

} // namespace domainmap::io
