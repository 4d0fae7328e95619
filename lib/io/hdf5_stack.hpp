// lib/io/hdf5_stack.hpp (internal): frames of one or more 3D/4D HDF5 datasets read as float32.
// Shared by the EMD, generic HDF5 and Dectris readers.
//
// A stored dataset is either 4D, with its axes some permutation of (ry, rx, qy, qx), or 3D,
// (n, qy, qx) or (n, qx, qy), frames in raster order. Frames are read by hyperslabs that follow
// the chunk grid; when the stored order is domainmap's and no conversion is needed the hyperslab
// goes straight into the caller's buffer, otherwise through a small typed scratch buffer (a few
// MiB, reused) that is converted (and transposed) into float32.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../core/h5util.hpp"
#include "readers.hpp"

namespace domainmap::io {

/// Where each of domainmap's axes lives in a stored dataset (stored axis indices).
/// 3D: `ry` is the frame axis n and `rx` is -1.
struct AxisMap {
  int rank = 4;
  int ry = 0, rx = 1, qy = 2, qx = 3;
  bool standard() const { return rank == 4 ? (ry == 0 && rx == 1 && qy == 2 && qx == 3) : (ry == 0 && qy == 1 && qx == 2); }
};
/// Parses "ry,rx,qy,qx" (any permutation; also "rx ry qx qy") for rank 4 or "n,qy,qx" /
/// "n,qx,qy" for rank 3; "" = the default. Throws bad_parameter naming `where`.
AxisMap parse_axis_order(const std::string& text, int rank, const std::string& where);
std::string to_string(const AxisMap& a);

/// Pixel type of a numeric HDF5 datatype; throws bad_input naming `where` for other classes.
PixelType pixel_type_of(hid_t type, const std::string& where);

/// Throws bad_input "<where>: compression filter N (name) is not available ..." if a filter of
/// the dataset cannot be loaded (missing plugin).
void check_filters_available(hid_t dset, const std::string& where);

/// The innermost message of HDF5's error stack of this thread ("" if none), for details in
/// one-line errors.
std::string hdf5_error_detail();

/// One stored dataset holding frames [first, first + rows * cols) of the scan.
struct StackPart {
  std::string where;               ///< "<file>:<dataset>" for messages
  h5::Handle file;                 ///< keeps a data file open (Dectris); may be empty
  h5::Handle dset;
  AxisMap axes;
  std::vector<std::int64_t> dims;  ///< stored dims
  std::vector<std::int64_t> chunks;///< stored chunk dims, empty if contiguous
  std::int64_t first = 0;          ///< global index of the part's first frame
  std::int64_t rows = 0, cols = 0; ///< frames of the part as rows x cols (3D: n x 1)
  h5::Handle space;                ///< file dataspace, reused for every hyperslab
  std::string note;                ///< for DatasetInfo::notes (e.g. a chunk layout that reads slowly)
};

/// Opens `object` in `file_handle` with a chunk cache suited to raster-order streaming, checks
/// rank (3 or 4), type and filters. `where_file` names the file in messages.
StackPart open_stack_part(hid_t file_handle, const std::string& where_file, const std::string& object,
                          const AxisMap& axes);

/// Fills dtype, chunks and compression of `info` from a dataset.
void describe_storage(hid_t dset, DatasetInfo& info);

/// Absolute form of an HDF5 path ("entry/x" -> "/entry/x").
std::string absolute_h5_path(const std::string& object);

/// Numeric 3D/4D datasets below `group_path` of an open file, as absolute paths in name order,
/// each with a description "[a x b x c x d] <u2".
std::vector<std::pair<std::string, std::string>> find_stack_candidates(hid_t file, const std::string& group_path);
/// "/a [..], /b [..]" (the first few).
std::string list_candidates(const std::vector<std::pair<std::string, std::string>>& c);

class H5StackSource;
/// A source over the 3D/4D numeric dataset `object` of an open file: axis order from
/// p.axis_order, scan shape from the dataset (4D) or p.scan_shape (3D, required).
/// `path` names the file in messages; `format` goes into DatasetInfo::format.
std::unique_ptr<H5StackSource> open_stack_dataset(h5::Handle file, const std::string& path,
                                                  const std::string& object, const ReadParams& p,
                                                  const std::string& format);

/// A FrameSource over parts that share frame shape and pixel type.
class H5StackSource : public FrameSource {
public:
  /// `parts` in frame order, contiguous (parts[i].first = sum of the earlier sizes).
  /// frames_present = frames stored; info.shape.n_frames() may be larger (the rest read as 0).
  H5StackSource(DatasetInfo info, std::vector<StackPart> parts, bool nan_to_zero);
  void read_frames(std::int64_t first, std::int64_t count, float* out) override;
  std::int64_t frame_alignment() const override { return alignment_; }
  DatasetInfo& mutable_info() { return info_; }
  /// Pixels (det_y * det_x indices) returned as 0 in every frame.
  void set_zeroed_pixels(std::vector<std::int64_t> idx) { zeroed_ = std::move(idx); }
  /// Number of NaN/Inf pixels replaced by 0 so far.
  std::int64_t replaced_non_finite() const { return replaced_; }
private:
  void read_part(StackPart& part, std::int64_t a, std::int64_t n, float* out);
  void read_rect(StackPart& part, std::int64_t r0, std::int64_t nr, std::int64_t c0, std::int64_t nc, float* out);
  void read_slab(StackPart& part, std::int64_t r0, std::int64_t nr, std::int64_t c0, std::int64_t nc, float* out);

  std::vector<StackPart> parts_;
  PixelType type_ = PixelType::u16;
  hid_t mem_type_ = -1;            ///< native type of the same class and size (not owned)
  bool direct_ = false;            ///< hyperslabs of standard parts go straight into `out`
  bool nan_to_zero_ = false;
  bool streaming_ = false;         ///< this read_frames call converts with streaming stores
  std::int64_t alignment_ = 1;
  std::int64_t piece_frames_ = 1;  ///< frames per scratch read
  std::int64_t stored_frames_ = 0;
  std::vector<unsigned char> scratch_;
  std::vector<std::int64_t> zeroed_;
  h5::Handle mem_space_;           ///< memory dataspace, reshaped to each hyperslab
  std::int64_t replaced_ = 0;
};

} // namespace domainmap::io
