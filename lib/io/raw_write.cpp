// lib/io/raw_write.cpp: write_raw, any FrameSource to plain raw binary (little-endian, no
// headers, frames in raster order), streamed in blocks under ctx.memory_budget, written to a
// temporary name and renamed when complete.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>

#include "domainmap/error.hpp"
#include "domainmap/write.hpp"
#include "readers.hpp"

namespace domainmap {

namespace {

using io::PixelType;

bool is_integer(PixelType t) { return t != PixelType::f32 && t != PixelType::f64; }

// WriteParams.dtype -> stored type. auto: an integer source keeps its type, anything else
// (float, 1-bit, unknown) is float32 except 1-bit, which becomes uint8.
PixelType output_type(const FrameSource& src, const WriteParams& p, const std::string& path) {
  if (p.dtype != "auto") {
    if (p.dtype != "uint8" && p.dtype != "uint16" && p.dtype != "uint32" && p.dtype != "float32")
      fail(ErrorKind::bad_parameter, path, "write.dtype = ", p.dtype, ": must be auto, uint8, uint16, uint32 or float32");
    return io::parse_pixel_type(p.dtype, path);
  }
  const std::string& d = src.info().dtype;
  if (d == "1-bit") return PixelType::u8;
  try {
    PixelType t = io::parse_pixel_type(d, path);
    return is_integer(t) ? t : PixelType::f32;
  } catch (const Error&) {
    return PixelType::f32;
  }
}

std::string type_name(PixelType t) {
  switch (t) {
  case PixelType::u8: return "uint8";
  case PixelType::u16: return "uint16";
  case PixelType::u32: return "uint32";
  case PixelType::u64: return "uint64";
  case PixelType::i8: return "int8";
  case PixelType::i16: return "int16";
  case PixelType::i32: return "int32";
  case PixelType::i64: return "int64";
  case PixelType::f32: return "float32";
  case PixelType::f64: return "float64";
  }
  return "float32";
}

struct Converter {
  std::string path;
  std::int64_t rounded = 0;  // non-integer values rounded to the nearest integer

  // Stores n floats as T, little-endian, at dst. Integers: round to nearest; a NaN or a value
  // outside T's range is an error (never a silent clamp).
  template <typename T> void store(const float* src, std::size_t n, unsigned char* dst, std::int64_t first_frame,
                                   std::int64_t frame_pixels) {
    for (std::size_t i = 0; i < n; ++i) {
      T v;
      if constexpr (std::is_floating_point_v<T>) {
        v = static_cast<T>(src[i]);
      } else {
        const double x = src[i];
        const double r = std::nearbyint(x);
        if (!(r >= double(std::numeric_limits<T>::lowest()) && r <= double(std::numeric_limits<T>::max())))
          fail(ErrorKind::bad_input, path, "frame ", first_frame + std::int64_t(i) / frame_pixels, " has value ", x,
               ", which does not fit ", type_name(io_type<T>()), "; use --write.dtype float32 or a wider type");
        if (r != x) ++rounded;
        v = static_cast<T>(r);
      }
      if constexpr (sizeof(T) > 1 && std::endian::native == std::endian::big) v = byteswap(v);
      std::memcpy(dst + i * sizeof(T), &v, sizeof(T));
    }
  }
  template <typename T> static PixelType io_type() {
    if constexpr (std::is_same_v<T, std::uint8_t>) return PixelType::u8;
    else if constexpr (std::is_same_v<T, std::uint16_t>) return PixelType::u16;
    else if constexpr (std::is_same_v<T, std::uint32_t>) return PixelType::u32;
    else if constexpr (std::is_same_v<T, std::uint64_t>) return PixelType::u64;
    else if constexpr (std::is_same_v<T, std::int8_t>) return PixelType::i8;
    else if constexpr (std::is_same_v<T, std::int16_t>) return PixelType::i16;
    else if constexpr (std::is_same_v<T, std::int32_t>) return PixelType::i32;
    else if constexpr (std::is_same_v<T, std::int64_t>) return PixelType::i64;
    else if constexpr (std::is_same_v<T, float>) return PixelType::f32;
    else return PixelType::f64;
  }
  template <typename T> static T byteswap(T v) {
    unsigned char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    std::reverse(b, b + sizeof(T));
    std::memcpy(&v, b, sizeof(T));
    return v;
  }
  void run(PixelType t, const float* src, std::size_t n, unsigned char* dst, std::int64_t first, std::int64_t fp) {
    switch (t) {
    case PixelType::u8: store<std::uint8_t>(src, n, dst, first, fp); break;
    case PixelType::u16: store<std::uint16_t>(src, n, dst, first, fp); break;
    case PixelType::u32: store<std::uint32_t>(src, n, dst, first, fp); break;
    case PixelType::u64: store<std::uint64_t>(src, n, dst, first, fp); break;
    case PixelType::i8: store<std::int8_t>(src, n, dst, first, fp); break;
    case PixelType::i16: store<std::int16_t>(src, n, dst, first, fp); break;
    case PixelType::i32: store<std::int32_t>(src, n, dst, first, fp); break;
    case PixelType::i64: store<std::int64_t>(src, n, dst, first, fp); break;
    case PixelType::f32: store<float>(src, n, dst, first, fp); break;
    case PixelType::f64: store<double>(src, n, dst, first, fp); break;
    }
  }
};

// An output file descriptor that closes itself; errors name the final path.
struct OutFile {
  int fd = -1;
  std::string path;  // the final name, for messages
  ~OutFile() {
    if (fd >= 0) ::close(fd);
  }
  void write_all(const unsigned char* p, std::size_t n) {
    while (n > 0) {
      ssize_t w = ::write(fd, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        fail(ErrorKind::io, path, "write error: ", std::strerror(errno));
      }
      p += w;
      n -= static_cast<std::size_t>(w);
    }
  }
  void close_checked() {
    const int f = fd;
    fd = -1;
    if (::close(f) != 0) fail(ErrorKind::io, path, "error closing the file: ", std::strerror(errno));
  }
};

} // namespace

void write_raw(FrameSource& src, const std::string& path, const WriteParams& p, RunContext& ctx) {
  const PixelType t = output_type(src, p, path);
  const Shape4& s = src.shape();
  const std::string tmp = temporary_name_for(path);
  try {
    OutFile out;
    out.path = path;
    out.fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out.fd < 0) fail(ErrorKind::io, path, "cannot create: ", std::strerror(errno));
    Converter conv{path};
    BlockStream stream(src, ctx.memory_budget);
    const std::size_t px = io::pixel_bytes(t);
    std::vector<unsigned char> buf(static_cast<std::size_t>(stream.frames_per_block() * s.frame_pixels()) * px);
    FrameBlock b;
    const std::int64_t total = s.n_frames();
    std::int64_t done = 0;
    ctx.report("convert", 0, total);
    while (stream.next(b)) {
      check_cancel(ctx);
      const std::size_t n = static_cast<std::size_t>(b.n_frames * b.frame_pixels);
      conv.run(t, b.data, n, buf.data(), b.first_frame, b.frame_pixels);
      out.write_all(buf.data(), n * px);
      done += b.n_frames;
      ctx.report("convert", done, total);
    }
    out.close_checked();
    commit_temporary(tmp, path);
    if (conv.rounded > 0)
      ctx.warn(detail::cat(path, ": ", conv.rounded, " non-integer values rounded to the nearest ", type_name(t)));
    ctx.info(detail::cat(path, ": wrote ", total, " frames; read back with --read.format raw --read.raw_dtype ",
                         type_name(t), " --read.raw_detector_shape ", s.det_y, "x", s.det_x, " --read.scan_shape ",
                         s.scan_y, "x", s.scan_x));
  } catch (...) {
    discard_temporary(tmp);
    throw;
  }
}

} // namespace domainmap
