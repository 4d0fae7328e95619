// lib/orientation/average.cpp: symmetry-aware mean orientation (projection onto the equivalent
// nearest a reference, then the Markley eigenvector mean), orientation spread (GOS), and the
// axial mean of in-plane angles. See domainmap/orientation.hpp.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <limits>

#include "domainmap/error.hpp"
#include "domainmap/orientation.hpp"

namespace domainmap {

namespace {

constexpr double kPi = std::numbers::pi;
constexpr double kDeg = kPi / 180.0;

// Checks the weights and returns their sum.
double check_weights(std::size_t n, std::span<const double> weights, const char* what) {
  if (n == 0) fail(ErrorKind::bad_parameter, "", what, ": no members to average");
  if (weights.empty()) return static_cast<double>(n);
  if (weights.size() != n)
    fail(ErrorKind::bad_parameter, "", what, ": ", weights.size(), " weights for ", n, " members");
  double sum = 0;
  for (double w : weights) {
    if (!(w >= 0) || !std::isfinite(w)) fail(ErrorKind::bad_parameter, "", what, ": weight ", w, " is not >= 0");
    sum += w;
  }
  if (!(sum > 0)) fail(ErrorKind::bad_parameter, "", what, ": the weights sum to 0");
  return sum;
}

inline double weight(std::span<const double> weights, std::size_t i) { return weights.empty() ? 1.0 : weights[i]; }

// Index of the operator T with the largest |<T, d>| (the equivalent q conj(T) nearest ref for
// d = ref^-1 q).
int nearest_op(const Eigen::Quaterniond& d, const RotationGroup& g) {
  int best = 0;
  double bw = -1;
  for (int k = 0; k < g.order(); ++k) {
    const double w = std::abs(g.ops[k].coeffs().dot(d.coeffs()));
    if (w > bw) {
      bw = w;
      best = k;
    }
  }
  return best;
}

// Medoid of up to `sample` members taken at even stride: the one with the smallest summed
// disorientation to the others of the sample (the first on ties).
std::size_t medoid(std::span<const Eigen::Quaterniond> qs, const RotationGroup& g, int sample) {
  const std::size_t n = qs.size();
  const std::size_t m = std::min<std::size_t>(n, static_cast<std::size_t>(sample));
  if (m <= 2) return 0;
  std::vector<std::size_t> idx(m);
  for (std::size_t k = 0; k < m; ++k) idx[k] = k * n / m;
  std::vector<double> sum(m, 0.0);
  for (std::size_t a = 0; a < m; ++a)
    for (std::size_t b = a + 1; b < m; ++b) {
      const double d = disorientation_angle(qs[idx[a]], qs[idx[b]], g);
      sum[a] += d;
      sum[b] += d;
    }
  return idx[std::min_element(sum.begin(), sum.end()) - sum.begin()];
}

// Unit eigenvector of the largest eigenvalue of a symmetric 4x4 matrix, by cyclic Jacobi
// rotations (Golub and Van Loan, "Matrix Computations" (1996) 8.4; Numerical Recipes 11.1):
// A <- P^T A P with P the rotation in the (p, q) plane that zeroes a_pq, until the off-diagonal
// part vanishes; the columns of the accumulated P are the eigenvectors.
Eigen::Vector4d top_eigenvector(Eigen::Matrix4d a) {
  Eigen::Matrix4d v = Eigen::Matrix4d::Identity();
  for (int sweep = 0; sweep < 50; ++sweep) {
    double off = 0, diag = 0;
    for (int i = 0; i < 4; ++i) {
      diag += a(i, i) * a(i, i);
      for (int j = i + 1; j < 4; ++j) off += a(i, j) * a(i, j);
    }
    if (!(off > 1e-32 * diag)) break;
    for (int p = 0; p < 3; ++p)
      for (int q = p + 1; q < 4; ++q) {
        if (a(p, q) == 0) continue;
        const double theta = (a(q, q) - a(p, p)) / (2 * a(p, q));
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        Eigen::Matrix4d r = Eigen::Matrix4d::Identity();
        r(p, p) = c;
        r(q, q) = c;
        r(p, q) = s;
        r(q, p) = -s;
        a = (r.transpose() * a * r).eval();
        a(p, q) = a(q, p) = 0;
        v = (v * r).eval();
      }
  }
  int k = 0;
  for (int i = 1; i < 4; ++i)
    if (a(i, i) > a(k, k)) k = i;
  return v.col(k).normalized();
}

}  // namespace

std::pair<double, double> orientation_spread(std::span<const Eigen::Quaterniond> qs, const Eigen::Quaterniond& mean,
                                             const RotationGroup& g) {
  if (qs.empty()) return {0.0, 0.0};
  double sum = 0, mx = 0;
  for (const auto& q : qs) {
    const double d = disorientation_angle(mean, q, g);
    sum += d;
    mx = std::max(mx, d);
  }
  return {sum / static_cast<double>(qs.size()), mx};
}

OrientationAverage average_orientations(std::span<const Eigen::Quaterniond> qs, const RotationGroup& g,
                                        std::span<const double> weights, const AverageOptions& opt) {
  const double wsum = check_weights(qs.size(), weights, "orientation average");
  const std::size_t n = qs.size();
  Eigen::Quaterniond ref = qs[opt.medoid_sample > 0 ? medoid(qs, g, opt.medoid_sample) : 0].normalized();
  std::vector<int> choice(n, -1);
  OrientationAverage r;
  const int rounds = std::max(1, opt.max_iterations);
  for (int it = 1; it <= rounds; ++it) {
    bool changed = false;
    Eigen::Matrix4d m = Eigen::Matrix4d::Zero();
    for (std::size_t i = 0; i < n; ++i) {
      const Eigen::Quaterniond q = qs[i].normalized();
      const int k = nearest_op(ref.conjugate() * q, g);
      if (k != choice[i]) changed = true;
      choice[i] = k;
      const Eigen::Vector4d e = (q * g.ops[k].conjugate()).coeffs();
      m.noalias() += weight(weights, i) * (e * e.transpose());
    }
    // Markley et al. (2007): the mean maximises sum_i w_i <q, q_i>^2, the top eigenvector of m.
    ref.coeffs() = top_eigenvector(m);
    r.iterations = it;
    if (!changed) break;
  }
  r.mean = reduce_to_fundamental_zone(ref, g);
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double d = disorientation_angle(r.mean, qs[i], g);
    sum += weight(weights, i) * d;
    if (weight(weights, i) > 0) r.max_dev = std::max(r.max_dev, d);
  }
  r.spread = sum / wsum;
  return r;
}

AngleAverage average_angles_2d(std::span<const double> angles_deg, int n, std::span<const double> weights) {
  if (n < 1) fail(ErrorKind::bad_parameter, "", "in-plane symmetry C", n, ": n must be >= 1");
  const double wsum = check_weights(angles_deg.size(), weights, "angle average");
  // Axial data: n theta is a plain circular variable (reduce first so n theta stays in [0, 360)).
  double c = 0, s = 0;
  for (std::size_t i = 0; i < angles_deg.size(); ++i) {
    const double t = n * reduce_angle_2d(angles_deg[i], n) * kDeg;
    c += weight(weights, i) * std::cos(t);
    s += weight(weights, i) * std::sin(t);
  }
  AngleAverage r;
  r.resultant = std::hypot(c, s) / wsum;
  r.mean = r.resultant > 1e-12 ? reduce_angle_2d(std::atan2(s, c) / kDeg / n, n) : 0.0;
  double sum = 0;
  for (std::size_t i = 0; i < angles_deg.size(); ++i) {
    const double d = disorientation_2d(angles_deg[i], r.mean, n);
    sum += weight(weights, i) * d;
    if (weight(weights, i) > 0) r.max_dev = std::max(r.max_dev, d);
  }
  r.spread = sum / wsum;
  return r;
}

}  // namespace domainmap
