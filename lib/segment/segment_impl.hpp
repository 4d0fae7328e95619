// lib/segment/segment_impl.hpp: what the files of lib/segment share: the orientation map
// prepared for fast pair comparisons, and the scan neighbourhoods.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include <Eigen/Geometry>

#include "domainmap/orientation.hpp"
#include "domainmap/segment.hpp"
#include "domainmap/symmetry.hpp"

namespace domainmap::seg {

/// A disorientation threshold in the forms the comparisons need.
struct Threshold {
  double deg = 5;
  double cos_half = 0;  ///< cos(deg / 2): angle < deg  <=>  cos(angle / 2) > cos_half (3D)
  explicit Threshold(double d) : deg(d), cos_half(std::cos(d * 3.14159265358979323846 / 360.0)) {}
};

/// The orientation map checked and converted once: per position the phase (-1 where not
/// oriented: not indexed or below min_score) and the orientation, per phase the group.
struct Field {
  std::int64_t ny = 0, nx = 0, n = 0;
  bool three_d = false;
  double step_nm = 0;
  std::vector<std::int32_t> phase;          ///< -1 = no orientation
  std::vector<const RotationGroup*> group;  ///< per phase
  std::vector<int> nfold;                   ///< per phase: n of the rotation about the beam (2D mode)
  std::vector<double> period;               ///< per phase: 360 / nfold, deg
  std::vector<double> angle;                ///< 2D mode: deg, reduced to [0, 360/n)
  std::vector<Eigen::Quaterniond> quat;     ///< 3D mode: unit quaternions
  std::int64_t n_unindexed = 0;             ///< positions with phase -1

  bool oriented(std::int64_t i) const { return phase[i] >= 0; }
  /// In-plane disorientation of two angles already reduced to [0, period): |a - b| < period,
  /// so min(|a - b|, period - |a - b|) (disorientation_2d without its fmod; exactly symmetric).
  static double dis_reduced(double a, double b, double period) {
    const double d = std::fabs(a - b);
    const double e = period - d;
    return d < e ? d : e;
  }
  /// Disorientation of positions i and j of the same phase, deg.
  double dis(std::int64_t i, std::int64_t j) const {
    const int ph = phase[i];
    if (three_d) return disorientation_angle(quat[i], quat[j], *group[ph]);
    return dis_reduced(angle[i], angle[j], period[ph]);
  }
  /// True if i and j are of one phase and their disorientation is below t.
  bool close(std::int64_t i, std::int64_t j, const Threshold& t) const {
    const int ph = phase[i];
    if (ph < 0 || ph != phase[j]) return false;
    if (three_d) return disorientation_cos_half(quat[i], quat[j], *group[ph]) > t.cos_half;
    return dis_reduced(angle[i], angle[j], period[ph]) < t.deg;
  }
};

/// Offsets (dy, dx) of the 3 x 3 window in raster order; the 4-neighbours are entries 1, 3, 4, 6.
inline constexpr int kDy[8] = {-1, -1, -1, 0, 0, 1, 1, 1};
inline constexpr int kDx[8] = {-1, 0, 1, -1, 1, -1, 0, 1};
inline constexpr int kFour[4] = {1, 3, 4, 6};
inline constexpr int kEight[8] = {0, 1, 2, 3, 4, 5, 6, 7};

/// Calls f(j) for the neighbours j of position (y, x) under 4- or 8-connectivity, in raster order.
template <typename F>
inline void for_neighbours(const Field& fd, std::int64_t y, std::int64_t x, int connectivity, F&& f) {
  const int* idx = connectivity == 8 ? kEight : kFour;
  const int m = connectivity == 8 ? 8 : 4;
  for (int k = 0; k < m; ++k) {
    const std::int64_t yy = y + kDy[idx[k]], xx = x + kDx[idx[k]];
    if (yy < 0 || yy >= fd.ny || xx < 0 || xx >= fd.nx) continue;
    f(yy * fd.nx + xx);
  }
}

/// Per-position maps, the domain table and the summary of a finished labelling (stats.cpp).
/// `dphase` is the phase of each domain.
void domain_statistics(const Field& fd, const SegmentParams& p, const std::vector<std::int32_t>& dphase,
                       Segmentation& out, int threads);

}  // namespace domainmap::seg
