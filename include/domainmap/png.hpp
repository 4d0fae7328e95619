// domainmap/png.hpp: quick-look PNG images (8-bit grayscale maps and patterns, 8-bit RGB).
//
// Grayscale images are auto-contrasted: the values are optionally compressed (sqrt or log, for
// diffraction patterns whose central beam outshines everything else), then clipped to the
// [low_percentile, high_percentile] range of the finite values and mapped linearly to 0..255.
// NaN and infinite pixels are drawn black. Files are written to a temporary name and renamed
// when complete; errors name the file.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace domainmap {

enum class PngScale {
  linear,  ///< values as they are
  sqrt,    ///< sqrt(v - min): milder compression
  log,     ///< log(1 + v - min): diffraction patterns
};

/// How write_png_gray() maps values to gray levels.
struct PngScaling {
  PngScale scale = PngScale::linear;  ///< applied before the percentile clip
  double low_percentile = 0.5;        ///< % of the finite pixels drawn black (0 = the minimum)
  double high_percentile = 99.5;      ///< % of the finite pixels below white (100 = the maximum)
};

/// Gray levels (0..255) of n values, as write_png_gray() draws them. If the clip range is empty
/// (few distinct values) it widens to [min, max]; a constant image is mid-gray (128).
std::vector<std::uint8_t> gray_levels(const float* data, std::size_t n, const PngScaling& s = {});

/// 8-bit grayscale PNG of a height x width image stored row by row (C order).
void write_png_gray(const std::string& path, const float* data, int height, int width, const PngScaling& s = {});

/// 8-bit RGB PNG; rgb holds height * width * 3 bytes, row by row.
void write_png_rgb(const std::string& path, const std::uint8_t* rgb, int height, int width);

} // namespace domainmap
