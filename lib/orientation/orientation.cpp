// lib/orientation/orientation.cpp: quaternion conversions, misorientation, disorientation (the
// fast one-group path, the 432 closed form, the two-group path) and reduction into the
// fundamental zone. The conventions and formulas are in domainmap/orientation.hpp.
#include "domainmap/orientation.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "domainmap/error.hpp"

namespace domainmap {

namespace {

constexpr double kPi = std::numbers::pi;
constexpr double kDeg = kPi / 180.0;

// Rotation angle in degrees from the scalar part and the length of the vector part.
inline double angle_from(double w, double v_norm) { return 2 * std::atan2(v_norm, std::abs(w)) / kDeg; }

// 4D dot product of two quaternions.
inline double dot4(const Eigen::Quaterniond& a, const Eigen::Quaterniond& b) {
  return a.w() * b.w() + a.x() * b.x() + a.y() * b.y() + a.z() * b.z();
}

// Index of the operator T maximising |<T, d>|; the first one on exact ties. w(conj(T) d) and
// w(d conj(T)) both equal <T, d>.
inline int best_op(const Eigen::Quaterniond& d, const RotationGroup& g, double* best_w = nullptr) {
  int best = 0;
  double bw = -1;
  for (int k = 0, n = g.order(); k < n; ++k) {
    const double w = std::abs(dot4(g.ops[k], d));
    if (w > bw) {
      bw = w;
      best = k;
    }
  }
  if (best_w) *best_w = bw;
  return best;
}

// 432, closed form: the largest |w| among the 24 products S d and the length of the vector part
// of that product, from the sorted magnitudes b0 >= b1 >= b2 >= b3 of d's components. The
// candidate operators are (1,0,0,0), (1,1,0,0)/sqrt 2 and (1,1,1,1)/2 in the sorted, sign-folded
// coordinates; the vector part is the projection of b onto the complement of that operator,
// taken in an explicit orthonormal basis of it (so it is exact for small angles).
inline void cubic_best(const Eigen::Quaterniond& d, double& w, double& v2) {
  double b0 = std::abs(d.w()), b1 = std::abs(d.x()), b2 = std::abs(d.y()), b3 = std::abs(d.z());
  // sorting network for 4 values, descending
  if (b0 < b1) std::swap(b0, b1);
  if (b2 < b3) std::swap(b2, b3);
  if (b0 < b2) std::swap(b0, b2);
  if (b1 < b3) std::swap(b1, b3);
  if (b1 < b2) std::swap(b1, b2);
  constexpr double r2 = 0.70710678118654752440;
  const double s1 = b0, s2 = (b0 + b1) * r2, s3 = (b0 + b1 + b2 + b3) * 0.5;
  if (s1 >= s2 && s1 >= s3) {
    w = s1;
    v2 = b1 * b1 + b2 * b2 + b3 * b3;
  } else if (s2 >= s3) {
    w = s2;
    const double e = (b0 - b1) * r2;
    v2 = e * e + b2 * b2 + b3 * b3;
  } else {
    w = s3;
    const double e1 = b0 - b1 + b2 - b3, e2 = b0 + b1 - b2 - b3, e3 = b0 - b1 - b2 + b3;
    v2 = (e1 * e1 + e2 * e2 + e3 * e3) * 0.25;
  }
}

// a is a better representative axis (or vector part) than b: larger z, then x, then y.
bool axis_before(const Eigen::Vector3d& a, const Eigen::Vector3d& b) {
  constexpr double e = 1e-9;
  for (int c : {2, 0, 1}) {
    if (a[c] > b[c] + e) return true;
    if (a[c] < b[c] - e) return false;
  }
  return false;
}

// Misorientation quaternion (w >= 0) with the given angle (deg) about the unit axis n.
Eigen::Quaterniond from_angle_axis_unit(double angle, const Eigen::Vector3d& n) {
  const double h = 0.5 * angle * kDeg;
  const Eigen::Vector3d v = std::sin(h) * n;
  return Eigen::Quaterniond(std::cos(h), v.x(), v.y(), v.z());
}

// Angle and axis of p (any sign) with the axis reduced over the rotations `conj` (T n for T in
// conj, and -T n too if `switching`).
Disorientation finish(const Eigen::Quaterniond& p_in, const std::vector<Eigen::Quaterniond>& conj, bool switching) {
  const Eigen::Quaterniond p = canonical(p_in);
  Disorientation r;
  const double vn = p.vec().norm();
  r.angle = angle_from(p.w(), vn);
  if (!(vn > 0)) return r;  // identity: axis (0, 0, 1)
  const Eigen::Vector3d n = p.vec() / vn;
  Eigen::Vector3d best = n;
  bool first = true;
  for (const auto& t : conj) {
    const Eigen::Vector3d m = t * n;
    if (first || axis_before(m, best)) best = m;
    first = false;
    if (switching && axis_before(-m, best)) best = -m;
  }
  r.axis = best.normalized();
  r.rotation = from_angle_axis_unit(r.angle, r.axis);
  return r;
}

}  // namespace

// ---- conversions ----

Eigen::Quaterniond canonical(const Eigen::Quaterniond& q) {
  bool flip = q.w() < 0;
  if (q.w() == 0) {
    if (q.x() != 0) flip = q.x() < 0;
    else if (q.y() != 0) flip = q.y() < 0;
    else flip = q.z() < 0;
  }
  return flip ? Eigen::Quaterniond(-q.w(), -q.x(), -q.y(), -q.z()) : q;
}

Eigen::Quaterniond quat_from_axis_angle(const Eigen::Vector3d& axis, double angle_deg) {
  const double n = axis.norm();
  if (!(n > 0) || !std::isfinite(n))
    fail(ErrorKind::bad_parameter, "", "rotation axis (", axis.x(), ", ", axis.y(), ", ", axis.z(),
         "): must be finite and non-zero");
  return canonical(from_angle_axis_unit(angle_deg, axis / n));
}

Eigen::Quaterniond quat_from_euler(double phi1, double Phi, double phi2) {
  const double s = 0.5 * (phi1 + phi2) * kDeg, d = 0.5 * (phi1 - phi2) * kDeg, h = 0.5 * Phi * kDeg;
  const double ch = std::cos(h), sh = std::sin(h);
  return canonical(Eigen::Quaterniond(ch * std::cos(s), sh * std::cos(d), sh * std::sin(d), ch * std::sin(s)));
}

Eigen::Quaterniond quat_from_euler(const BungeEuler& e) { return quat_from_euler(e.phi1, e.Phi, e.phi2); }

BungeEuler euler_from_quat(const Eigen::Quaterniond& q_in) {
  const Eigen::Quaterniond q = q_in.normalized();
  const double rxy = std::hypot(q.x(), q.y()), rwz = std::hypot(q.w(), q.z());
  BungeEuler e;
  e.Phi = 2 * std::atan2(rxy, rwz) / kDeg;
  auto wrap = [](double deg) {
    double r = std::fmod(deg, 360.0);
    if (r < 0) r += 360.0;
    return r >= 360.0 ? 0.0 : r;
  };
  constexpr double tiny = 1e-12;
  if (rxy < tiny) {  // Phi = 0: a rotation by phi1 + phi2 about z
    e.phi1 = wrap(2 * std::atan2(q.z(), q.w()) / kDeg);
    e.phi2 = 0;
    e.Phi = 0;
  } else if (rwz < tiny) {  // Phi = 180: only phi1 - phi2 is defined
    e.phi1 = wrap(2 * std::atan2(q.y(), q.x()) / kDeg);
    e.phi2 = 0;
    e.Phi = 180;
  } else {
    const double s = std::atan2(q.z(), q.w()), d = std::atan2(q.y(), q.x());  // (phi1 +- phi2)/2
    e.phi1 = wrap((s + d) / kDeg);
    e.phi2 = wrap((s - d) / kDeg);
  }
  return e;
}

Eigen::Quaterniond quat_about_z(double angle_deg) {
  const double h = 0.5 * angle_deg * kDeg;
  return canonical(Eigen::Quaterniond(std::cos(h), 0, 0, std::sin(h)));
}

double angle_about_z(const Eigen::Quaterniond& q) {
  double a = 2 * std::atan2(q.z(), q.w()) / kDeg;
  a = std::fmod(a, 360.0);
  if (a < 0) a += 360.0;
  return a >= 360.0 ? 0.0 : a;
}

double rotation_angle(const Eigen::Quaterniond& q) { return angle_from(q.w(), q.vec().norm()); }

Eigen::Vector3d rotation_axis(const Eigen::Quaterniond& q) {
  const Eigen::Quaterniond c = canonical(q);
  const double n = c.vec().norm();
  return n > 0 ? Eigen::Vector3d(c.vec() / n) : Eigen::Vector3d(0, 0, 1);
}

Eigen::Quaterniond misorientation(const Eigen::Quaterniond& q1, const Eigen::Quaterniond& q2) {
  return q1.conjugate() * q2;
}

Eigen::Quaterniond quat_from_uniform(double u1, double u2, double u3) {
  const double a = std::sqrt(1 - u1), b = std::sqrt(u1);
  const double t2 = 2 * kPi * u2, t3 = 2 * kPi * u3;
  return canonical(Eigen::Quaterniond(b * std::cos(t3), a * std::sin(t2), a * std::cos(t2), b * std::sin(t3)));
}

// ---- disorientation ----

double disorientation_cos_half(const Eigen::Quaterniond& q1, const Eigen::Quaterniond& q2, const RotationGroup& g) {
  const Eigen::Quaterniond d = q1.conjugate() * q2;
  double w, v2;
  if (g.kernel == GroupKernel::cubic) {
    cubic_best(d, w, v2);
  } else {
    best_op(d, g, &w);
  }
  return std::min(1.0, w);
}

double disorientation_angle(const Eigen::Quaterniond& q1, const Eigen::Quaterniond& q2, const RotationGroup& g) {
  const Eigen::Quaterniond d = q1.conjugate() * q2;
  if (g.kernel == GroupKernel::cubic) {
    double w, v2;
    cubic_best(d, w, v2);
    return angle_from(w, std::sqrt(v2));
  }
  const int k = best_op(d, g);
  const Eigen::Quaterniond p = g.ops[k].conjugate() * d;
  return angle_from(p.w(), p.vec().norm());
}

// The equivalent S1 (q1^-1 q2) S2 with the smallest rotation angle, for two different groups:
// w(S1 d S2) = <S1 d, conj(S2)>, so |G1| products and |G1| |G2| dot products.
static Eigen::Quaterniond smallest_equivalent_two_groups(const Eigen::Quaterniond& q1, const Eigen::Quaterniond& q2,
                                                         const RotationGroup& g1, const RotationGroup& g2) {
  const Eigen::Quaterniond d = q1.conjugate() * q2;
  double bw = -1;
  Eigen::Quaterniond best = d;
  for (const auto& s1 : g1.ops) {
    const Eigen::Quaterniond a = s1 * d;
    for (const auto& s2 : g2.ops) {
      const double w = std::abs(a.w() * s2.w() - a.x() * s2.x() - a.y() * s2.y() - a.z() * s2.z());
      if (w > bw) {
        bw = w;
        best = a * s2;
      }
    }
  }
  return best;
}

double disorientation_angle(const Eigen::Quaterniond& q1, const Eigen::Quaterniond& q2, const RotationGroup& g1,
                            const RotationGroup& g2) {
  if (same_group(g1, g2)) return disorientation_angle(q1, q2, g1);
  const Eigen::Quaterniond best = smallest_equivalent_two_groups(q1, q2, g1, g2);
  return angle_from(best.w(), best.vec().norm());
}

double disorientation_angle_all_ops(const Eigen::Quaterniond& q1, const Eigen::Quaterniond& q2,
                                    const RotationGroup& g1, const RotationGroup& g2) {
  const Eigen::Quaterniond d = q1.conjugate() * q2;
  double best = 360;
  for (const auto& s1 : g1.ops)
    for (const auto& s2 : g2.ops) best = std::min(best, rotation_angle(s1 * d * s2));
  return best;
}

Disorientation disorientation(const Eigen::Quaterniond& q1, const Eigen::Quaterniond& q2, const RotationGroup& g) {
  const Eigen::Quaterniond d = q1.conjugate() * q2;
  const int k = best_op(d, g);
  return finish(g.ops[k].conjugate() * d, g.ops, true);
}

Disorientation disorientation(const Eigen::Quaterniond& q1, const Eigen::Quaterniond& q2, const RotationGroup& g1,
                              const RotationGroup& g2) {
  if (same_group(g1, g2)) return disorientation(q1, q2, g1);
  const Eigen::Quaterniond best = smallest_equivalent_two_groups(q1, q2, g1, g2);
  // T (S1 d S2) T^-1 = (T S1) d (S2 T^-1) is equivalent only for T in both groups.
  std::vector<Eigen::Quaterniond> common;
  for (const auto& t : g1.ops)
    for (const auto& u : g2.ops)
      if (std::abs(dot4(t, u)) > 1 - 1e-9) {
        common.push_back(t);
        break;
      }
  return finish(best, common, false);
}

// ---- fundamental zone ----

Eigen::Quaterniond reduce_to_fundamental_zone(const Eigen::Quaterniond& q, const RotationGroup& g) {
  // w(q S) = <q, conj(S)>; conj(S) runs over the group as S does.
  double bw;
  best_op(q, g, &bw);
  Eigen::Quaterniond best;
  bool have = false;
  for (const auto& t : g.ops) {
    if (std::abs(dot4(t, q)) < bw - 1e-12) continue;
    const Eigen::Quaterniond p = canonical(q * t.conjugate());
    if (!have || axis_before(p.vec(), best.vec())) best = p;
    have = true;
  }
  return best;
}

Eigen::Quaterniond nearest_equivalent(const Eigen::Quaterniond& q, const Eigen::Quaterniond& ref,
                                      const RotationGroup& g) {
  // |<ref, q S>| = |w(ref^-1 q S)| = |<d, conj(S)>| with d = ref^-1 q.
  const Eigen::Quaterniond d = ref.conjugate() * q;
  const int k = best_op(d, g);
  Eigen::Quaterniond e = q * g.ops[k].conjugate();
  if (dot4(e, ref) < 0) e.coeffs() = -e.coeffs();
  return e;
}

}  // namespace domainmap
