// domainmap/braggvectors.hpp: Bragg disks found in every pattern of a scan (py4DSTEM's
// BraggVectors), the fitted origin per position, and the Bragg vector map.
//
// Peaks are a ragged array in CSR form: the peaks of scan position i = ry * Rx + rx are
// [offsets[i], offsets[i+1]). Raw positions are detector pixels from the detector's first
// pixel (pixel (i, j) has its centre at (qy, qx) = (i, j)); corrected positions are relative to
// the fitted origin of their position, after the elliptical-distortion correction.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "domainmap/params.hpp"

namespace domainmap {

struct PeakList {
  Shape2 scan;                          ///< [Ry, Rx]
  Shape2 detector;                      ///< [Qy, Qx]
  std::vector<std::uint64_t> offsets;   ///< [Ry * Rx + 1]
  std::vector<float> qy_raw, qx_raw;    ///< as found, detector px
  std::vector<float> intensity;         ///< correlation intensity
  std::vector<float> qy, qx;            ///< origin-corrected and distortion-corrected; empty until the origin stage ran
  std::size_t size() const { return qy_raw.size(); }
  std::size_t n_positions() const { return offsets.empty() ? 0 : offsets.size() - 1; }
  std::size_t begin_of(std::size_t i) const { return static_cast<std::size_t>(offsets[i]); }
  std::size_t end_of(std::size_t i) const { return static_cast<std::size_t>(offsets[i + 1]); }
};

/// Fitted origin (central beam) per scan position, detector px.
struct OriginMap {
  Shape2 scan;
  std::vector<float> qy0, qx0;          ///< [Ry, Rx] fitted (smooth descan model)
  std::vector<float> qy0_measured, qx0_measured;  ///< [Ry, Rx] measured per position, NaN where none was found
};

/// Elliptical distortion of the diffraction plane: a point at distance r along direction theta
/// from the origin is seen at a * r along the a axis (angle theta_deg from +qx towards +qy) and
/// b * r across it. Correction maps measured vectors back to a circle of radius a.
struct EllipseDistortion {
  double a = 1, b = 1;                  ///< semi-axes (relative; b / a is what matters)
  double theta_deg = 0;                 ///< direction of the a axis, from +qx towards +qy
  bool fitted = false;
};

/// 2D histogram of all corrected peaks (bilinear splatting), M x M, centred on q = 0.
struct BraggVectorMap {
  std::int64_t size = 0;                ///< M
  double pixel = 1;                     ///< histogram bin size in detector px
  std::vector<float> counts;            ///< [M, M], bin (M/2, M/2) holds q = 0
};

} // namespace domainmap
