// lib/export/png.cpp: 8-bit PNG writing with libpng, auto contrast for float images.
#include "domainmap/png.hpp"

#include <png.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>

#include "domainmap/error.hpp"
#include "domainmap/write.hpp"

namespace domainmap {

namespace {

struct PngError {
  char message[256] = "unknown libpng error";
};

extern "C" void on_png_error(png_structp png, png_const_charp msg) {
  auto* e = static_cast<PngError*>(png_get_error_ptr(png));
  std::snprintf(e->message, sizeof e->message, "%s", msg ? msg : "libpng error");
  png_longjmp(png, 1);
}

extern "C" void on_png_warning(png_structp, png_const_charp) {}

// Encodes rows of `channels` bytes per pixel into f. Returns false with err->message set.
// Only trivially destructible objects live in this frame, as setjmp/longjmp require.
bool encode(std::FILE* f, const std::uint8_t* pixels, int height, int width, int color_type, int channels,
            PngError* err) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, err, on_png_error, on_png_warning);
  if (!png) {
    std::snprintf(err->message, sizeof err->message, "libpng cannot start (out of memory?)");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_write_struct(&png, nullptr);
    std::snprintf(err->message, sizeof err->message, "libpng cannot start (out of memory?)");
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8, color_type,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  const std::size_t stride = static_cast<std::size_t>(width) * static_cast<std::size_t>(channels);
  for (int y = 0; y < height; ++y) png_write_row(png, pixels + static_cast<std::size_t>(y) * stride);
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

void check_size(const std::string& path, int height, int width) {
  // libpng's default limit is 1,000,000 pixels per side
  if (height <= 0 || width <= 0 || height > 1000000 || width > 1000000)
    fail(ErrorKind::bad_parameter, path, "cannot write a PNG of ", height, " x ", width, " pixels");
}

void write_png(const std::string& path, const std::uint8_t* pixels, int height, int width, int color_type,
               int channels) {
  std::error_code ec;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec))
    fail(ErrorKind::io, path, "cannot create the file: folder ", parent.string(), " does not exist");
  const std::string tmp = temporary_name_for(path);
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) fail(ErrorKind::io, path, "cannot create the file: ", std::strerror(errno));
  PngError err;
  bool ok = encode(f, pixels, height, width, color_type, channels, &err);
  const bool flushed = std::fflush(f) == 0 && !std::ferror(f);
  const int saved_errno = errno;
  const bool closed = std::fclose(f) == 0;
  if (!ok || !flushed || !closed) {
    discard_temporary(tmp);
    if (!ok) fail(ErrorKind::io, path, "cannot write PNG: ", err.message);
    fail(ErrorKind::io, path, "cannot write PNG: ", std::strerror(saved_errno));
  }
  commit_temporary(tmp, path);
}

// Percentile p (0..100) of sorted values, interpolated linearly as numpy.percentile does.
double percentile(const std::vector<double>& sorted, double p) {
  const double pos = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(sorted.size() - 1);
  const std::size_t i = static_cast<std::size_t>(std::floor(pos));
  const double frac = pos - static_cast<double>(i);
  if (i + 1 >= sorted.size()) return sorted.back();
  return sorted[i] + frac * (sorted[i + 1] - sorted[i]);
}

} // namespace

std::vector<std::uint8_t> gray_levels(const float* data, std::size_t n, const PngScaling& s) {
  std::vector<std::uint8_t> out(n, 0);
  double vmin = std::numeric_limits<double>::infinity();
  for (std::size_t k = 0; k < n; ++k)
    if (std::isfinite(data[k])) vmin = std::min(vmin, static_cast<double>(data[k]));
  if (!std::isfinite(vmin)) return out;  // nothing finite: all black
  auto transform = [&](float v) {
    const double d = static_cast<double>(v) - vmin;
    switch (s.scale) {
    case PngScale::sqrt: return std::sqrt(d);
    case PngScale::log: return std::log1p(d);
    case PngScale::linear: break;
    }
    return static_cast<double>(v);
  };
  std::vector<double> t;
  t.reserve(n);
  for (std::size_t k = 0; k < n; ++k)
    if (std::isfinite(data[k])) t.push_back(transform(data[k]));
  std::sort(t.begin(), t.end());
  double lo = percentile(t, s.low_percentile), hi = percentile(t, s.high_percentile);
  if (!(hi > lo)) {
    lo = t.front();
    hi = t.back();
  }
  const bool constant = !(hi > lo);
  for (std::size_t k = 0; k < n; ++k) {
    if (!std::isfinite(data[k])) continue;
    if (constant) {
      out[k] = 128;
      continue;
    }
    const double g = (transform(data[k]) - lo) / (hi - lo) * 255.0;
    out[k] = static_cast<std::uint8_t>(std::lround(std::clamp(g, 0.0, 255.0)));
  }
  return out;
}

void write_png_gray(const std::string& path, const float* data, int height, int width, const PngScaling& s) {
  check_size(path, height, width);
  if (!data) fail(ErrorKind::internal, path, "no image data");
  std::vector<std::uint8_t> g =
      gray_levels(data, static_cast<std::size_t>(height) * static_cast<std::size_t>(width), s);
  write_png(path, g.data(), height, width, PNG_COLOR_TYPE_GRAY, 1);
}

void write_png_rgb(const std::string& path, const std::uint8_t* rgb, int height, int width) {
  check_size(path, height, width);
  if (!rgb) fail(ErrorKind::internal, path, "no image data");
  write_png(path, rgb, height, width, PNG_COLOR_TYPE_RGB, 3);
}

} // namespace domainmap
