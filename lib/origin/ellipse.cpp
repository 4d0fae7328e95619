// lib/origin/ellipse.cpp: the elliptical distortion (a centred conic fitted to one ring of
// origin-corrected peaks), the correction of peak positions, and the Bragg vector map.
#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <sstream>

#include "domainmap/error.hpp"
#include "domainmap/origin.hpp"
#include "ellipse_fit.hpp"

namespace domainmap {

namespace {

std::string num(double v) {
  std::ostringstream os;
  os.precision(6);
  os << v;
  return os.str();
}

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  const std::size_t h = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(h), v.end());
  double m = v[h];
  if (v.size() % 2 == 0) m = 0.5 * (m + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(h)));
  return m;
}

// Conic A x^2 + B x y + C y^2 = 1 in coordinates scaled by 1 / scale (x = qx, y = qy).
struct Conic {
  Eigen::Matrix2d M;  // [[A, B/2], [B/2, C]]
  double scale = 1;
};

// Least squares on the points with use[i]; false if the points do not constrain the conic.
bool fit_conic(const std::vector<double>& x, const std::vector<double>& y, const std::vector<char>& use,
               double scale, Conic& out) {
  Eigen::Matrix3d AtA = Eigen::Matrix3d::Zero();
  Eigen::Vector3d Atb = Eigen::Vector3d::Zero();
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!use[i]) continue;
    const double xs = x[i] / scale, ys = y[i] / scale;
    const Eigen::Vector3d row(xs * xs, xs * ys, ys * ys);
    AtA += row * row.transpose();
    Atb += row;
  }
  // The normal equations are 3x3 and well scaled (coordinates ~ 1); an SVD tells a degenerate
  // set of directions (e.g. all points on one or two lines through the origin) apart.
  Eigen::JacobiSVD<Eigen::Matrix3d> svd(AtA, Eigen::ComputeFullU | Eigen::ComputeFullV);
  const Eigen::Vector3d sv = svd.singularValues();
  if (!(sv(0) > 0) || sv(2) < 1e-10 * sv(0)) return false;
  const Eigen::Vector3d c = svd.solve(Atb);
  out.M << c(0), 0.5 * c(1), 0.5 * c(1), c(2);
  out.scale = scale;
  return true;
}

// Radial distance of (x, y) from the conic along the ray from the origin, px (NaN if the ray
// does not meet it).
double radial_residual(const Conic& c, double x, double y) {
  const double r = std::hypot(x, y);
  if (r == 0) return std::numeric_limits<double>::quiet_NaN();
  const Eigen::Vector2d u(x / r, y / r);
  const double q = u.dot(c.M * u);
  if (!(q > 0)) return std::numeric_limits<double>::quiet_NaN();
  return r - c.scale / std::sqrt(q);
}

} // namespace

namespace origin_detail {

EllipseDistortion fit_ellipse_points(const std::vector<double>& x, const std::vector<double>& y,
                                     const std::string& what) {
  if (x.size() < 5)
    fail(ErrorKind::bad_input, "", what, ": ", x.size(),
         " peaks, at least 5 are needed; choose a ring with peaks (origin.ring_q_min_px, ring_q_max_px)");
  double scale = 0;
  for (std::size_t i = 0; i < x.size(); ++i) scale += std::hypot(x[i], y[i]);
  scale /= static_cast<double>(x.size());
  std::vector<char> use(x.size(), 1);
  Conic c;
  if (!(scale > 0) || !fit_conic(x, y, use, scale, c))
    fail(ErrorKind::bad_input, "", what, ": the ", x.size(),
         " peaks lie in too few directions from the origin to fit an ellipse");
  // Two refits on the points close to the ellipse (radially), to shed peaks of a nearby ring.
  for (int pass = 0; pass < 2; ++pass) {
    std::vector<double> res(x.size()), absres;
    absres.reserve(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      res[i] = radial_residual(c, x[i], y[i]);
      if (std::isfinite(res[i])) absres.push_back(std::abs(res[i]));
    }
    const double thr = std::max(4 * 1.4826 * median_of(absres), 1e-3 * scale);
    std::vector<char> next(x.size(), 0);
    std::size_t n = 0;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (std::isfinite(res[i]) && std::abs(res[i]) <= thr) next[i] = 1, ++n;
    if (n < 5 || next == use) break;
    Conic c2;
    if (!fit_conic(x, y, next, scale, c2)) break;
    c = c2;
    use = std::move(next);
  }
  const double A = c.M(0, 0), C = c.M(1, 1), B = 2 * c.M(0, 1);
  if (!(A > 0) || !(C > 0) || !(4 * A * C - B * B > 0))
    fail(ErrorKind::bad_input, "", what, ": the fitted conic is not an ellipse (A = ", num(A), ", B = ", num(B),
         ", C = ", num(C), "); choose a ring with peaks all around the origin");
  Eigen::SelfAdjointEigenSolver<Eigen::Matrix2d> es(c.M);
  const double l1 = es.eigenvalues()(0), l2 = es.eigenvalues()(1);  // ascending: l1 <-> major axis
  const Eigen::Vector2d major = es.eigenvectors().col(0);           // (x, y) = (qx, qy)
  EllipseDistortion e;
  e.a = scale / std::sqrt(l1);
  e.b = scale / std::sqrt(l2);
  double t = std::atan2(major(1), major(0)) * 180 / std::numbers::pi;
  t = std::fmod(t, 180.0);
  if (t < 0) t += 180;
  if (t >= 180) t -= 180;
  e.theta_deg = t;
  e.fitted = true;
  return e;
}

std::array<double, 4> correction_matrix(const EllipseDistortion& e, double rotation_deg) {
  // T = R(rotation) C over (qy, qx), row-major.
  double T[2][2] = {{1, 0}, {0, 1}};
  if (e.fitted && e.a > 0 && e.b > 0) {
    const double th = e.theta_deg * std::numbers::pi / 180;
    const double ay = std::sin(th), ax = std::cos(th);  // a axis, (qy, qx)
    const double by = ax, bx = -ay;                     // b axis
    const double k = e.a / e.b;
    T[0][0] = ay * ay + k * by * by;
    T[0][1] = ay * ax + k * by * bx;
    T[1][0] = T[0][1];
    T[1][1] = ax * ax + k * bx * bx;
  }
  if (rotation_deg != 0) {
    const double t = rotation_deg * std::numbers::pi / 180, c = std::cos(t), s = std::sin(t);
    // R(t)(qy, qx) = (qy c + qx s, qx c - qy s)
    const double R[2][2] = {{c, s}, {-s, c}};
    double P[2][2];
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) P[i][j] = R[i][0] * T[0][j] + R[i][1] * T[1][j];
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) T[i][j] = P[i][j];
  }
  return {T[0][0], T[0][1], T[1][0], T[1][1]};
}

} // namespace origin_detail

EllipseDistortion fit_ellipse_ring(const std::vector<float>& qy, const std::vector<float>& qx, double r_min,
                                   double r_max) {
  if (qy.size() != qx.size())
    fail(ErrorKind::internal, "", "fit_ellipse_ring: ", qy.size(), " qy but ", qx.size(), " qx values");
  if (!(r_min >= 0) || !(r_max > r_min) || !std::isfinite(r_max))
    fail(ErrorKind::bad_parameter, "", "ellipse ring ", num(r_min), "..", num(r_max),
         " px: needs 0 <= inner radius < outer radius");
  std::vector<double> x, y;
  for (std::size_t i = 0; i < qy.size(); ++i) {
    const double r = std::hypot(double(qy[i]), double(qx[i]));
    if (std::isfinite(r) && r >= r_min && r <= r_max && r > 0) {
      x.push_back(qx[i]);
      y.push_back(qy[i]);
    }
  }
  return origin_detail::fit_ellipse_points(x, y, "ellipse ring " + num(r_min) + ".." + num(r_max) + " px");
}

void correct_peaks(PeakList& peaks, const OriginMap& o, const EllipseDistortion& e, double rotation_deg) {
  const std::size_t n_pos = peaks.n_positions();
  if (o.qy0.size() != n_pos || o.qx0.size() != n_pos)
    fail(ErrorKind::internal, "", "correct_peaks: origin map of ", o.qy0.size(), " positions for ", n_pos,
         " scan positions");
  if (peaks.qx_raw.size() != peaks.size() || (n_pos > 0 && peaks.offsets.back() != peaks.size()))
    fail(ErrorKind::internal, "", "correct_peaks: malformed peak list");
  const std::array<double, 4> T = origin_detail::correction_matrix(e, rotation_deg);
  peaks.qy.resize(peaks.size());
  peaks.qx.resize(peaks.size());
  for (std::size_t i = 0; i < n_pos; ++i) {
    const double oy = o.qy0[i], ox = o.qx0[i];
    for (std::size_t j = peaks.begin_of(i); j < peaks.end_of(i); ++j) {
      const double dy = peaks.qy_raw[j] - oy, dx = peaks.qx_raw[j] - ox;
      peaks.qy[j] = static_cast<float>(T[0] * dy + T[1] * dx);
      peaks.qx[j] = static_cast<float>(T[2] * dy + T[3] * dx);
    }
  }
}

namespace {
void check_bvm_params(std::int64_t size, double pixel) {
  if (!(pixel > 0) || !std::isfinite(pixel))
    fail(ErrorKind::bad_parameter, "", "origin.bvm_pixel = ", num(pixel), ": must be > 0");
  if (size < 0 || size == 1 || size > 16384)
    fail(ErrorKind::bad_parameter, "", "origin.bvm_size = ", size, ": must be 0 (automatic) or in [2, 16384]");
}
} // namespace

BraggVectorMapAccumulator::BraggVectorMapAccumulator(std::int64_t size, double pixel, double max_abs_q, Shape2 detector) {
  check_bvm_params(size, pixel);
  if (size == 0) {
    double want = 2 * (std::ceil(max_abs_q / pixel) + 2);
    const double det = static_cast<double>(std::max(detector.y, detector.x));
    if (det > 0) want = std::min(want, 2 * (std::ceil(det / pixel) + 2));
    size = static_cast<std::int64_t>(std::clamp(want, 8.0, 16384.0));
  }
  size_ = size;
  pixel_ = pixel;
  half_ = static_cast<double>(size / 2);
  acc_.assign(static_cast<std::size_t>(size * size), 0.0);
}

void BraggVectorMapAccumulator::add(const float* qy, const float* qx, std::size_t n) {
  const std::size_t M = static_cast<std::size_t>(size_);
  for (std::size_t i = 0; i < n; ++i) {
    const double fy = qy[i] / pixel_ + half_, fx = qx[i] / pixel_ + half_;
    if (!std::isfinite(fy) || !std::isfinite(fx) || fy < 0 || fx < 0 || fy >= double(size_ - 1) ||
        fx >= double(size_ - 1)) {
      ++outside_;
      continue;
    }
    const double y0 = std::floor(fy), x0 = std::floor(fx);
    const double wy = fy - y0, wx = fx - x0;
    const std::size_t iy = static_cast<std::size_t>(y0), ix = static_cast<std::size_t>(x0);
    acc_[iy * M + ix] += (1 - wy) * (1 - wx);
    acc_[iy * M + ix + 1] += (1 - wy) * wx;
    acc_[(iy + 1) * M + ix] += wy * (1 - wx);
    acc_[(iy + 1) * M + ix + 1] += wy * wx;
  }
}

BraggVectorMap BraggVectorMapAccumulator::take() {
  BraggVectorMap bvm;
  bvm.size = size_;
  bvm.pixel = pixel_;
  bvm.counts.resize(acc_.size());
  for (std::size_t k = 0; k < acc_.size(); ++k) bvm.counts[k] = static_cast<float>(acc_[k]);
  acc_.clear();
  acc_.shrink_to_fit();
  return bvm;
}

BraggVectorMap make_bragg_vector_map(const PeakList& corrected, std::int64_t size, double pixel,
                                     std::int64_t* n_outside) {
  check_bvm_params(size, pixel);
  if (corrected.qy.size() != corrected.size() || corrected.qx.size() != corrected.size())
    fail(ErrorKind::internal, "", "make_bragg_vector_map: the peaks are not origin-corrected (qy, qx empty)");
  double m = 0;
  if (size == 0)
    for (std::size_t i = 0; i < corrected.size(); ++i) {
      const double ay = std::abs(double(corrected.qy[i])), ax = std::abs(double(corrected.qx[i]));
      if (std::isfinite(ay) && std::isfinite(ax)) m = std::max({m, ay, ax});
    }
  BraggVectorMapAccumulator acc(size, pixel, m, corrected.detector);
  acc.add(corrected.qy.data(), corrected.qx.data(), corrected.size());
  if (n_outside) *n_outside = acc.n_outside();
  return acc.take();
}

} // namespace domainmap
