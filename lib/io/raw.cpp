// lib/io/raw.cpp: generic raw binary reader; the layout comes from ReadParams.raw_* and
// scan_shape (docs/formats/raw.md).
//
// File = file header, then frames; frame = frame header + det_y*det_x pixels (row-major, det_x
// fastest) + frame footer; frames in raster order (scan_x fastest). Frame k (after skipping
// raw_frame_offset frames) starts at file_header + (offset + k) * stride + frame_header. All
// sizes are checked against the file in overflow-checked 64-bit arithmetic before any pixel
// is read; trailing bytes are an error unless raw_allow_trailing is set.
#include <algorithm>
#include <bit>
#include <cstring>

#include "domainmap/error.hpp"
#include "readers.hpp"

namespace domainmap::io {

namespace {

// a * b and a + b in 64 bits; false on overflow
bool mul_u64(std::uint64_t a, std::uint64_t b, std::uint64_t& r) { return !__builtin_mul_overflow(a, b, &r); }
bool add_u64(std::uint64_t a, std::uint64_t b, std::uint64_t& r) { return !__builtin_add_overflow(a, b, &r); }

bool is_float(PixelType t) { return t == PixelType::f32 || t == PixelType::f64; }

class RawSource : public FrameSource {
public:
  RawSource(const std::string& path, const ReadParams& p);
  void read_frames(std::int64_t first, std::int64_t count, float* out) override;
private:
  BinaryFile file_;
  PixelType type_ = PixelType::u16;
  bool big_endian_ = false;
  bool nan_to_zero_ = false;
  std::uint64_t file_header_ = 0, frame_header_ = 0, frame_footer_ = 0;
  std::uint64_t frame_bytes_ = 0, stride_ = 0;
  std::uint64_t first_frame_byte_ = 0;  // byte of frame 0 (after the skipped frames), including its header
  std::int64_t nan_replaced_ = 0;
  std::ptrdiff_t nan_note_ = -1;
  std::vector<unsigned char> scratch_;  // one block of stored frames, reused
};

RawSource::RawSource(const std::string& path, const ReadParams& p) : file_(path), nan_to_zero_(p.nan_to_zero) {
  // parameters first
  type_ = parse_pixel_type(p.raw_dtype, path);
  if (p.raw_endian == "big") big_endian_ = true;
  else if (p.raw_endian != "little")
    fail(ErrorKind::bad_parameter, path, "read.raw_endian = ", p.raw_endian, ": must be little or big");
  const Shape2 det = p.raw_detector_shape;
  if (det.y <= 0 || det.x <= 0)
    fail(ErrorKind::bad_parameter, path, "read.raw_detector_shape = ", to_string(det),
         ": a raw file needs a positive detector shape (e.g. --read.raw_detector_shape 128x128)");
  for (auto [key, v] : {std::pair<const char*, std::int64_t>{"raw_file_header", p.raw_file_header},
                        {"raw_frame_header", p.raw_frame_header},
                        {"raw_frame_footer", p.raw_frame_footer},
                        {"raw_frame_offset", p.raw_frame_offset}})
    if (v < 0) fail(ErrorKind::bad_parameter, path, "read.", key, " = ", v, ": must be >= 0");
  file_header_ = static_cast<std::uint64_t>(p.raw_file_header);
  frame_header_ = static_cast<std::uint64_t>(p.raw_frame_header);
  frame_footer_ = static_cast<std::uint64_t>(p.raw_frame_footer);
  const std::uint64_t offset = static_cast<std::uint64_t>(p.raw_frame_offset);

  bool ok = mul_u64(std::uint64_t(det.y), std::uint64_t(det.x), frame_bytes_) &&
            mul_u64(frame_bytes_, pixel_bytes(type_), frame_bytes_) && add_u64(frame_bytes_, frame_header_, stride_) &&
            add_u64(stride_, frame_footer_, stride_);
  if (!ok) fail(ErrorKind::bad_parameter, path, "frame layout overflows 64 bits (detector ", to_string(det), ")");

  const std::uint64_t size = file_.size();
  if (file_header_ > size)
    fail(ErrorKind::bad_input, path, "file header of ", file_header_, " bytes is larger than the file (", size, " bytes)");
  const std::uint64_t body = size - file_header_;
  const std::uint64_t fit = body / stride_, rem = body % stride_;
  auto holds = [&] {
    std::string s = detail::cat(size, " bytes");
    if (file_header_) s += detail::cat(" (", body, " after the ", file_header_, "-byte file header)");
    s += rem == 0 ? detail::cat(" = ", fit, " frames of ", stride_)
                  : detail::cat(" = ", fit, " whole frames of ", stride_, " + ", rem, " bytes of a truncated frame");
    return s;
  };

  const Shape2 scan = p.scan_shape;
  if (scan.y < 0 || scan.x < 0 || (scan.y == 0) != (scan.x == 0))
    fail(ErrorKind::bad_parameter, path, "read.scan_shape = ", to_string(scan), ": must be positive");
  if (scan.empty())
    fail(ErrorKind::bad_parameter, path, "a raw file needs --read.scan_shape (rows x columns); the file holds ", holds());

  std::uint64_t n = 0, needed_frames = 0, needed = 0;
  ok = mul_u64(std::uint64_t(scan.y), std::uint64_t(scan.x), n) && add_u64(n, offset, needed_frames) &&
       mul_u64(needed_frames, stride_, needed);
  if (!ok) fail(ErrorKind::bad_parameter, path, "scan ", to_string(scan), " of ", stride_, "-byte frames overflows 64 bits");
  std::uint64_t needed_total = 0;
  if (!add_u64(needed, file_header_, needed_total))
    fail(ErrorKind::bad_parameter, path, "layout overflows 64 bits");
  if (body < needed || (body > needed && !p.raw_allow_trailing)) {
    std::string why = detail::cat("scan ", scan.y, " x ", scan.x, " needs ", n, " frames");
    if (offset) why += detail::cat(" after skipping ", offset);
    why += detail::cat(" (", needed_total, " bytes)");
    fail(ErrorKind::bad_input, path, holds(), ", but ", why,
         body > needed ? "; use --read.raw_allow_trailing true to ignore the extra bytes" : "");
  }
  if (body > needed)
    info_.notes.push_back(detail::cat(body - needed, " bytes after the last frame ignored (read.raw_allow_trailing)"));
  first_frame_byte_ = file_header_ + offset * stride_;

  info_.path = path;
  info_.format = "raw";
  info_.dtype = numpy_dtype(type_, big_endian_);
  info_.shape = Shape4{scan.y, scan.x, det.y, det.x};
  info_.frames_present = info_.shape.n_frames();
  auto& md = info_.metadata;
  md.emplace_back("file_header", std::to_string(file_header_));
  md.emplace_back("frame_header", std::to_string(frame_header_));
  md.emplace_back("frame_footer", std::to_string(frame_footer_));
  md.emplace_back("frame_stride", std::to_string(stride_));
  md.emplace_back("frame_offset", std::to_string(offset));
  md.emplace_back("frames_in_file", std::to_string(fit));
}

void RawSource::read_frames(std::int64_t first, std::int64_t count, float* out) {
  if (first < 0 || count < 0 || first + count > info_.shape.n_frames())
    fail(ErrorKind::internal, file_.path(), "frames ", first, "..", first + count, " outside the ", info_.shape.n_frames(),
         " frames");
  if (count == 0) return;
  const std::int64_t fp = info_.shape.frame_pixels();
  const bool packed = frame_header_ == 0 && frame_footer_ == 0;
  const std::uint64_t start = first_frame_byte_ + std::uint64_t(first) * stride_;
  if (packed && type_ == PixelType::f32) {
    // stored as float32 and contiguous: read straight into out, swap in place if needed
    file_.read_at(start, static_cast<std::size_t>(count) * frame_bytes_, out);
    if (big_endian_ != (std::endian::native == std::endian::big))
      convert_to_float(out, type_, big_endian_, static_cast<std::size_t>(count * fp), out);
  } else {
    // one pread of the whole stride range of the block (headers and footers skipped in memory);
    // stored types wider than float32 are read in as many pieces as keep the scratch buffer no
    // larger than the output block
    const std::size_t px = pixel_bytes(type_);
    const std::int64_t per_read = px <= 4 ? count : std::max<std::int64_t>(1, count * 4 / std::int64_t(px));
    for (std::int64_t done = 0; done < count; done += per_read) {
      const std::int64_t n = std::min(per_read, count - done);
      // the last frame's footer is not needed
      const std::size_t bytes = static_cast<std::size_t>(std::uint64_t(n) * stride_ - frame_footer_);
      if (scratch_.size() < bytes) scratch_.resize(bytes);
      file_.read_at(start + std::uint64_t(done) * stride_, bytes, scratch_.data());
      for (std::int64_t k = 0; k < n; ++k)
        convert_to_float(scratch_.data() + std::uint64_t(k) * stride_ + frame_header_, type_, big_endian_,
                         static_cast<std::size_t>(fp), out + (done + k) * fp);
    }
  }
  if (is_float(type_)) {
    const std::int64_t bad = check_finite(out, static_cast<std::size_t>(count * fp), nan_to_zero_, file_.path(), first, fp);
    if (bad > 0) {
      nan_replaced_ += bad;
      std::string note = detail::cat(nan_replaced_, " NaN/Inf pixel(s) replaced by 0 (read.nan_to_zero)");
      if (nan_note_ < 0) {
        nan_note_ = static_cast<std::ptrdiff_t>(info_.notes.size());
        info_.notes.push_back(note);
      } else {
        info_.notes[static_cast<std::size_t>(nan_note_)] = note;
      }
    }
  }
}

} // namespace

std::unique_ptr<FrameSource> open_raw(const std::string& path, const ReadParams& p) {
  return std::make_unique<RawSource>(path, p);
}

} // namespace domainmap::io
