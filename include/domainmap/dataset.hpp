// domainmap/dataset.hpp: the 4D-STEM dataset model and the `read` stage.
//
// Axis convention (used everywhere in domainmap): a dataset is [scan_y, scan_x, det_y, det_x]
// in C order. scan_y is the slow scan axis (scan rows), det_y the detector row. Frame k of a
// scan is the pattern at (ry, rx) = (k / scan_x, k % scan_x). This is exactly py4DSTEM's
// [Rx, Ry, Qx, Qy]: py4DSTEM's "x" is the FIRST axis, so no transpose is needed between the two,
// only the names differ (scan_y = Rx, scan_x = Ry, det_y = Qx, det_x = Qy).
//
// Data are read as a stream of frame blocks converted to float32, under the memory budget of
// the RunContext; one pattern can also be read at random.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "domainmap/context.hpp"
#include "domainmap/params.hpp"

namespace domainmap {

/// [scan_y, scan_x, det_y, det_x].
struct Shape4 {
  std::int64_t scan_y = 0, scan_x = 0, det_y = 0, det_x = 0;
  std::int64_t n_frames() const { return scan_y * scan_x; }
  std::int64_t frame_pixels() const { return det_y * det_x; }
  bool operator==(const Shape4&) const = default;
};

/// Pixel and scan calibration when the file has one (py4DSTEM's Calibration vocabulary).
struct Calibration {
  double q_pixel_size = 1.0;          ///< detector pixel size in q_units
  std::string q_units = "pixels";     ///< "pixels", "A^-1" or "mrad"
  double r_pixel_size = 1.0;          ///< scan step in r_units
  std::string r_units = "pixels";     ///< "pixels" or "nm"
  bool known = false;                 ///< true if read from the file
};

/// What a reader knows of its file before reading any pixel.
struct DatasetInfo {
  std::string path;                   ///< the file the user named
  std::string format;                 ///< "emd", "hdf5", "dectris", "merlin", "blockfile", "empad", "raw", "simulated"
  std::string object;                 ///< HDF5 dataset path inside `path`, "" if none
  Shape4 shape;                       ///< shape as read (after ROI, quad assembly, axis order)
  std::string dtype;                  ///< as stored, numpy style: "<u2", ">u1", "<f4", "1-bit"
  std::vector<std::int64_t> chunks;   ///< HDF5 chunk shape as stored, empty if contiguous or not HDF5
  std::string compression = "none";   ///< "none", "gzip", "lz4", "bitshuffle-lz4", ...
  std::int64_t frames_present = 0;    ///< frames in the file; < shape.n_frames() only for an interrupted acquisition read with pad_missing (the rest read as 0)
  Calibration calibration;
  /// Format-specific facts for `domainmap info` (e.g. {"counter_depth", "12"}).
  std::vector<std::pair<std::string, std::string>> metadata;
  /// Detector pixels flagged bad by the file (e.g. Dectris pixel_mask), det_y*det_x, 1 = bad;
  /// readers return 0 for them. Empty if the file flags none.
  std::vector<std::uint8_t> bad_pixels;
  /// Things the user should be told (interrupted acquisition, NaN replaced, ...).
  std::vector<std::string> notes;
};

/// A reader: an open file that returns frames as float32.
/// Not thread-safe: one thread reads (BlockStream does it), many threads compute.
class FrameSource {
public:
  virtual ~FrameSource() = default;
  const DatasetInfo& info() const { return info_; }
  const Shape4& shape() const { return info_.shape; }
  /// Reads frames [first, first + count) in raster order into out[count * det_y * det_x].
  /// Throws Error (naming the file) on truncated or corrupt data.
  virtual void read_frames(std::int64_t first, std::int64_t count, float* out) = 0;
  /// Blocks that start and end on multiples of this many frames read fastest (HDF5 chunks).
  virtual std::int64_t frame_alignment() const { return 1; }
protected:
  DatasetInfo info_;
};

/// Parameters of the `read` stage (INI section [read], flags --read.KEY).
struct ReadParams {
  std::string format = "auto";        ///< auto (from the file's content) or a reader name
  std::string dataset;                ///< HDF5 dataset path for generic HDF5 (also FILE.h5:/path)
  Shape2 scan_shape;                  ///< scan [rows, cols]; required for 3D stacks and raw files without metadata
  std::string axis_order;             ///< stored axis order, e.g. "ry,rx,qy,qx" (default for 4D) or "n,qy,qx" (3D)
  bool apply_mask = true;             ///< zero the pixels the file flags bad (Dectris pixel_mask)
  bool nan_to_zero = false;           ///< replace NaN/Inf pixels by 0 (counted and reported); otherwise NaN is an error
  // Generic raw binary (format = raw); see docs/formats/raw.md of the project.
  Shape2 raw_detector_shape;          ///< [det_y, det_x] of a stored frame
  std::string raw_dtype = "uint16";   ///< uint8, uint16, uint32, int8, int16, int32, float32, float64
  std::string raw_endian = "little";  ///< little or big
  std::int64_t raw_file_header = 0;   ///< bytes skipped once at the start of the file
  std::int64_t raw_frame_header = 0;  ///< bytes before every frame
  std::int64_t raw_frame_footer = 0;  ///< bytes after every frame
  bool raw_allow_trailing = false;    ///< accept bytes after the last frame
  std::int64_t raw_frame_offset = 0;  ///< skip this many frames at the start (LiberTEM sync_offset)
  // Merlin .mib
  bool merlin_scan_from_timestamps = false; ///< opt-in: infer the scan width from flyback gaps in frame times when no other source gives it
  // Interrupted acquisitions (fewer frames than the scan needs)
  bool pad_missing = false;           ///< false: keep the complete scan rows only; true: keep the scan shape, missing frames read as 0 (reported)
  bool operator==(const ReadParams&) const = default;
};
void describe(ReadParams& p, ParamSink& s);

/// Opens a dataset. `spec` is a file name, optionally "FILE.h5:/path/in/file" for HDF5.
/// The reader is chosen from the file's content unless p.format names one.
std::unique_ptr<FrameSource> open_dataset(const std::string& spec, const ReadParams& p = {});

/// Reader name detected from the file's content ("emd", "dectris", "hdf5", "merlin",
/// "blockfile", "empad", "raw" if nothing matched). Throws if the file cannot be opened.
std::string detect_format(const std::string& path);

/// One block of consecutive frames held by a BlockStream.
struct FrameBlock {
  std::int64_t first_frame = 0;       ///< raster index of the first frame
  std::int64_t n_frames = 0;
  std::int64_t frame_pixels = 0;
  const float* data = nullptr;        ///< n_frames * frame_pixels floats
  const float* frame(std::int64_t i) const { return data + i * frame_pixels; }
};

/// Streams a FrameSource in blocks of whole scan rows (or of frames when one row does not fit)
/// that hold at most half the memory budget, and at most 16 MiB, each. While the caller works on one block, a
/// background thread reads the next (double buffering, as libvips' sinkdisc does).
class BlockStream {
public:
  BlockStream(FrameSource& src, std::size_t memory_budget, bool prefetch = true);
  ~BlockStream();
  BlockStream(const BlockStream&) = delete;
  BlockStream& operator=(const BlockStream&) = delete;
  /// Next block; false after the last one. The previous block's data become invalid.
  bool next(FrameBlock& block);
  std::int64_t frames_per_block() const { return frames_per_block_; }
  std::int64_t n_blocks() const;
private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::int64_t frames_per_block_ = 1;
};

/// Frames per block for a budget: whole rows when a row fits in min(half the budget, 16 MiB), aligned to
/// `alignment`; at least 1. Throws bad_parameter if one frame does not fit.
std::int64_t block_frames_for_budget(const Shape4& shape, std::size_t memory_budget,
                                     std::int64_t alignment);

/// Reads the pattern at (ry, rx) (random access).
std::vector<float> read_pattern(FrameSource& src, std::int64_t ry, std::int64_t rx);

/// Streamed value statistics of a whole dataset.
struct DatasetStats {
  double sum = 0, min = 0, max = 0, mean = 0;
  double first_frame_sum = 0, last_frame_sum = 0;
  std::int64_t n_nan = 0, n_inf = 0, n_zero_frames = 0;
};
DatasetStats compute_stats(FrameSource& src, RunContext& ctx);

} // namespace domainmap
