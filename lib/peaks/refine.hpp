// lib/peaks/refine.hpp: private to lib/peaks/: the "fit" sub-pixel refinement, a weighted
// least-squares fit of the probe disk to the pattern around each peak.
#pragma once
#include <cstdint>
#include <vector>

#include "domainmap/peaks.hpp"

namespace domainmap::peaks_detail {

/// Radial profile D(r) of the probe disk (1 at the centre, 0 outside), tabulated every `step`
/// px from r = 0, with its derivative dD/dr.
struct DiskProfile {
  double radius = 0;          ///< half-maximum radius, px
  double edge = 0.5;          ///< Gaussian sigma of the edge, px
  double step = 0.02;         ///< table spacing, px
  double reach = 0;           ///< D(r) = 0 beyond this, px
  std::vector<float> value;   ///< D(k step)
  std::vector<float> slope;   ///< dD/dr at k step
};

/// Soft disk erfc((r - R) / (sqrt 2 edge)) / 2.
DiskProfile disk_profile(double radius, double edge);

/// Refines peaks[m] (qy, qx from a previous sub-pixel step) by fitting a D(|q - p|) + b to the
/// pattern (det_y * det_x, bad pixels already repaired) over the pixels within radius + 1.5 px
/// of p that are nearer to p than to any other peak of the list; weights 1 / (gain model) for
/// Poisson data (gain > 0), uniform otherwise; Gauss-Newton, a few iterations. A fit that moves
/// more than 1 px, or fails, leaves the peak as it was. `scratch` is reused (no allocation once
/// it has grown).
void refine_fit(const float* pattern, int ny, int nx, const DiskProfile& prof, double gain, Peak* peaks, int n,
                std::vector<float>& scratch);

/// Radius and edge width of the disks of one pattern, fitted at each of the given peaks: a
/// least-squares fit of a erfc((r - R) / (sqrt 2 s)) / 2 + b with the position, R, s, a and b
/// free (Levenberg-Marquardt), over the pixels within R0 + 8 px nearer to the peak than to any
/// other. Appends (R, s) of every fit that converged to `radius` and `edge`.
void fit_disk_shapes(const float* pattern, int ny, int nx, const Peak* peaks, int n, int n_fit, double R0, double s0,
                     std::vector<double>& radius, std::vector<double>& edge);

} // namespace domainmap::peaks_detail
