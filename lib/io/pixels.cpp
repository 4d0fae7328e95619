// lib/io/pixels.cpp: stored pixel types -> float32, NaN checks, positioned file reads.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "domainmap/error.hpp"
#include "readers.hpp"

namespace domainmap::io {

std::size_t pixel_bytes(PixelType t) {
  switch (t) {
  case PixelType::u8: case PixelType::i8: return 1;
  case PixelType::u16: case PixelType::i16: return 2;
  case PixelType::u32: case PixelType::i32: case PixelType::f32: return 4;
  case PixelType::u64: case PixelType::i64: case PixelType::f64: return 8;
  }
  return 1;
}

PixelType parse_pixel_type(const std::string& name, const std::string& where) {
  std::string n = name;
  if (!n.empty() && (n[0] == '<' || n[0] == '>' || n[0] == '|' || n[0] == '=')) n.erase(0, 1);
  static const std::pair<const char*, PixelType> table[] = {
      {"uint8", PixelType::u8},   {"u1", PixelType::u8},   {"uint16", PixelType::u16},
      {"u2", PixelType::u16},     {"uint32", PixelType::u32}, {"u4", PixelType::u32},
      {"uint64", PixelType::u64}, {"u8", PixelType::u64},  {"int8", PixelType::i8},
      {"i1", PixelType::i8},      {"int16", PixelType::i16}, {"i2", PixelType::i16},
      {"int32", PixelType::i32},  {"i4", PixelType::i32},  {"int64", PixelType::i64},
      {"i8", PixelType::i64},     {"float32", PixelType::f32}, {"f4", PixelType::f32},
      {"float64", PixelType::f64}, {"f8", PixelType::f64}};
  for (const auto& [k, v] : table)
    if (n == k) return v;
  fail(ErrorKind::bad_parameter, where, "unsupported dtype '", name,
       "' (uint8, uint16, uint32, uint64, int8, int16, int32, int64, float32, float64)");
}

std::string numpy_dtype(PixelType t, bool big_endian) {
  std::size_t b = pixel_bytes(t);
  char kind = 'u';
  if (t == PixelType::i8 || t == PixelType::i16 || t == PixelType::i32 || t == PixelType::i64) kind = 'i';
  if (t == PixelType::f32 || t == PixelType::f64) kind = 'f';
  char order = b == 1 ? '|' : (big_endian ? '>' : '<');
  return std::string(1, order) + kind + std::to_string(b);
}

namespace {
template <typename T> void convert_typed(const unsigned char* src, bool swap, std::size_t n, float* dst) {
  for (std::size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, src + i * sizeof(T), sizeof(T));
    if constexpr (sizeof(T) > 1) {
      if (swap) {
        unsigned char b[sizeof(T)];
        std::memcpy(b, &v, sizeof(T));
        std::reverse(b, b + sizeof(T));
        std::memcpy(&v, b, sizeof(T));
      }
    }
    dst[i] = static_cast<float>(v);
  }
}
} // namespace

void convert_to_float(const void* src_v, PixelType t, bool big_endian, std::size_t n, float* dst) {
  const auto* src = static_cast<const unsigned char*>(src_v);
  const bool swap = big_endian != (std::endian::native == std::endian::big);
  switch (t) {
  case PixelType::u8: convert_typed<std::uint8_t>(src, swap, n, dst); break;
  case PixelType::u16: convert_typed<std::uint16_t>(src, swap, n, dst); break;
  case PixelType::u32: convert_typed<std::uint32_t>(src, swap, n, dst); break;
  case PixelType::u64: convert_typed<std::uint64_t>(src, swap, n, dst); break;
  case PixelType::i8: convert_typed<std::int8_t>(src, swap, n, dst); break;
  case PixelType::i16: convert_typed<std::int16_t>(src, swap, n, dst); break;
  case PixelType::i32: convert_typed<std::int32_t>(src, swap, n, dst); break;
  case PixelType::i64: convert_typed<std::int64_t>(src, swap, n, dst); break;
  case PixelType::f32: convert_typed<float>(src, swap, n, dst); break;
  case PixelType::f64: convert_typed<double>(src, swap, n, dst); break;
  }
}

std::int64_t check_finite(float* data, std::size_t n, bool nan_to_zero, const std::string& where,
                          std::int64_t first_frame, std::int64_t frame_pixels) {
  std::int64_t bad = 0;
  std::int64_t first_bad = -1;
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(data[i])) {
      if (first_bad < 0) first_bad = static_cast<std::int64_t>(i);
      ++bad;
      if (nan_to_zero) data[i] = 0.0f;
    }
  }
  if (bad > 0 && !nan_to_zero) {
    std::int64_t frame = first_frame + (frame_pixels > 0 ? first_bad / frame_pixels : 0);
    fail(ErrorKind::bad_input, where, "frame ", frame, ": ", bad,
         " NaN/Inf pixel(s) in this block; use --read.nan_to_zero true to replace them by 0");
  }
  return bad;
}

BinaryFile::BinaryFile(const std::string& path) : path_(path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail(ErrorKind::bad_input, path, "no such file");
  if (std::filesystem::is_directory(path, ec)) fail(ErrorKind::bad_input, path, "is a directory, not a file");
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) fail(ErrorKind::bad_input, path, "cannot open: ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    ::close(fd_);
    fail(ErrorKind::io, path, "cannot stat: ", std::strerror(errno));
  }
  size_ = static_cast<std::uint64_t>(st.st_size);
}

BinaryFile::~BinaryFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::size_t BinaryFile::read_some(std::uint64_t offset, std::size_t n, void* dst) const {
  auto* p = static_cast<char*>(dst);
  std::size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd_, p + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      fail(ErrorKind::io, path_, "read error at byte ", offset + done, ": ", std::strerror(errno));
    }
    if (r == 0) break;
    done += static_cast<std::size_t>(r);
  }
  return done;
}

void BinaryFile::read_at(std::uint64_t offset, std::size_t n, void* dst) const {
  std::size_t got = read_some(offset, n, dst);
  if (got != n)
    fail(ErrorKind::bad_input, path_, "truncated: needed bytes ", offset, "..", offset + n, " but the file has ",
         size_, " bytes");
}

} // namespace domainmap::io
