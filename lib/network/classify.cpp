// lib/network/classify.cpp: the type of a boundary from the two domains' mean orientations
// (network.hpp): disorientation under the phase's symmetry, phase and unlabelled boundaries, and
// the coincidence-site-lattice match with the Brandon criterion for cubic phases.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "domainmap/error.hpp"
#include "domainmap/orientation.hpp"
#include "network_impl.hpp"

namespace domainmap {

const std::vector<CslMisorientation>& csl_misorientations() {
  // tan(theta / 2) = (y / x) sqrt(N), N = h^2 + k^2 + l^2, Sigma = x^2 + N y^2 divided by 2
  // until odd (Ranganathan, Acta Cryst. 21 (1966) 197; Grimmer, Bollmann and Warrington,
  // Acta Cryst. A30 (1974) 197, table 1): Sigma 3 (x = 3, y = 1, [111]), 5 (3, 1, [100]),
  // 7 (5, 1, [111]), 9 (4, 1, [110]), 11 (3, 1, [110]).
  static const std::vector<CslMisorientation> table = [] {
    auto angle = [](double x, double y, double n) { return 2 * std::atan(y / x * std::sqrt(n)) * 180 / M_PI; };
    return std::vector<CslMisorientation>{
        {3, angle(3, 1, 3), {1, 1, 1}},   // 60
        {5, angle(3, 1, 1), {1, 0, 0}},   // 36.87
        {7, angle(5, 1, 3), {1, 1, 1}},   // 38.21
        {9, angle(4, 1, 2), {1, 1, 0}},   // 38.94
        {11, angle(3, 1, 2), {1, 1, 0}},  // 50.48
    };
  }();
  return table;
}

namespace network_detail {

namespace {

constexpr double kDeg = 180.0 / M_PI;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The symmetric equivalents S1 R S2 and S1 R^-1 S2 (S1, S2 in 432) of every CSL
// misorientation R, sign fixed and duplicates removed, with R's angle.
struct CslSet {
  std::int32_t sigma = 0;
  double angle_deg = 0;
  std::vector<Eigen::Quaterniond> equivalents;
};

const std::vector<CslSet>& csl_sets() {
  static const std::vector<CslSet> sets = [] {
    const RotationGroup& g = rotation_group("432");
    std::vector<CslSet> out;
    for (const CslMisorientation& c : csl_misorientations()) {
      CslSet s;
      s.sigma = c.sigma;
      s.angle_deg = c.angle_deg;
      const Eigen::Quaterniond r =
          quat_from_axis_angle(Eigen::Vector3d(c.axis[0], c.axis[1], c.axis[2]), c.angle_deg);
      std::vector<std::array<long long, 4>> keys;
      for (const Eigen::Quaterniond& base : {r, r.conjugate()})
        for (const Eigen::Quaterniond& a : g.ops)
          for (const Eigen::Quaterniond& b : g.ops) {
            const Eigen::Quaterniond e = canonical(a * base * b);
            const std::array<long long, 4> k{std::llround(e.w() * 1e9), std::llround(e.x() * 1e9),
                                             std::llround(e.y() * 1e9), std::llround(e.z() * 1e9)};
            if (std::find(keys.begin(), keys.end(), k) != keys.end()) continue;
            keys.push_back(k);
            s.equivalents.push_back(e);
          }
      out.push_back(std::move(s));
    }
    return out;
  }();
  return sets;
}

int lcm_of(int a, int b) { return a / std::gcd(a, b) * b; }

} // namespace

Classifier::Classifier(const std::vector<DomainRecord>& domains, const std::vector<PhaseInfo>& phases,
                       const NetworkParams& p)
    : domains_(domains), p_(p) {
  phases_.resize(phases.size());
  std::vector<std::uint8_t> used(phases.size(), 0);
  for (std::size_t k = 0; k < domains.size(); ++k) {
    const std::int32_t ph = domains[k].phase;
    if (ph < -1 || ph >= static_cast<std::int32_t>(phases.size()))
      fail(ErrorKind::bad_input, "/domains/table", "domain ", k, " has phase ", ph, ", not -1 or one of the ",
           phases.size(), " phases of /phases");
    if (ph >= 0) used[static_cast<std::size_t>(ph)] = 1;
  }
  for (std::size_t i = 0; i < phases.size(); ++i) {
    if (!used[i]) continue;
    const RotationGroup* g = find_rotation_group(phases[i].symmetry);
    if (!g)
      fail(ErrorKind::bad_input, "/phases/" + std::to_string(i), "symmetry '", phases[i].symmetry,
           "' is unknown; expected e.g. C6 (in-plane), 6/mmm or m-3m");
    phases_[i].group = g;
    phases_[i].nfold = std::max(1, g->z_order);
    phases_[i].cubic = g->laue == "m-3" || g->laue == "m-3m";
  }
  orient_.resize(domains.size());
  for (std::size_t k = 0; k < domains.size(); ++k) {
    const DomainRecord& d = domains[k];
    Orient& o = orient_[k];
    if (d.phase < 0) continue;
    if (std::isfinite(d.mean_angle_deg)) {
      o.mode = Mode::angle_2d;
      o.angle = d.mean_angle_deg;
      const double half = d.mean_angle_deg * 0.5 / kDeg;
      o.q = Eigen::Quaterniond(std::cos(half), 0, 0, std::sin(half));
    } else if (d.n_oriented > 0) {
      const auto& m = d.mean_quaternion;
      const Eigen::Quaterniond q(m[0], m[1], m[2], m[3]);
      const double n = q.norm();
      if (!std::isfinite(n) || n < 1e-6) continue;
      o.mode = Mode::quat_3d;
      o.q = q.normalized();
    }
  }
}

std::int32_t Classifier::csl_sigma(const Eigen::Quaterniond& q1, const Eigen::Quaterniond& q2) const {
  static const RotationGroup& cubic = rotation_group("432");
  const double theta = disorientation_angle(q1, q2, cubic);
  const Eigen::Quaterniond dg = misorientation(q1, q2);
  for (const CslSet& s : csl_sets()) {
    if (s.sigma > p_.max_sigma) break;
    const double tol = p_.brandon_deg / std::sqrt(static_cast<double>(s.sigma));
    // The rotation angle is a bi-invariant distance, so the deviation is at least the
    // difference of the two disorientation angles.
    if (std::abs(theta - s.angle_deg) > tol) continue;
    double best = 0;
    for (const Eigen::Quaterniond& e : s.equivalents)
      best = std::max(best, std::abs(e.w() * dg.w() + e.x() * dg.x() + e.y() * dg.y() + e.z() * dg.z()));
    const double deviation = 2 * std::acos(std::min(1.0, best)) * kDeg;
    if (deviation <= tol) return s.sigma;
  }
  return 0;
}

EdgeClass Classifier::classify(std::int32_t a, std::int32_t b) const {
  EdgeClass c;
  c.angle_deg = kNaN;
  if (a < 0 || b < 0) {
    c.type = BoundaryType::unlabelled;
    return c;
  }
  const std::int32_t pa = domains_[static_cast<std::size_t>(a)].phase;
  const std::int32_t pb = domains_[static_cast<std::size_t>(b)].phase;
  const Orient& oa = orient_[static_cast<std::size_t>(a)];
  const Orient& ob = orient_[static_cast<std::size_t>(b)];
  const bool same = pa == pb;
  const bool known = oa.mode != Mode::none && ob.mode != Mode::none;
  if (known) {
    const Phase& ga = phases_[static_cast<std::size_t>(pa)];
    const Phase& gb = phases_[static_cast<std::size_t>(pb)];
    if (oa.mode == Mode::angle_2d && ob.mode == Mode::angle_2d) {
      const int n = same ? ga.nfold : lcm_of(ga.nfold, gb.nfold);
      c.angle_deg = disorientation_2d(oa.angle, ob.angle, n);
      c.axis = {0, 0, 1};
    } else {
      const Disorientation d = same ? disorientation(oa.q, ob.q, *ga.group)
                                    : disorientation(oa.q, ob.q, *ga.group, *gb.group);
      c.angle_deg = d.angle;
      c.axis = {d.axis.x(), d.axis.y(), d.axis.z()};
    }
  }
  if (!same) {
    c.type = BoundaryType::phase;
    return c;
  }
  if (!known) {
    c.type = BoundaryType::high_angle;
    return c;
  }
  const Phase& g = phases_[static_cast<std::size_t>(pa)];
  if (p_.csl && g.cubic && oa.mode == Mode::quat_3d && ob.mode == Mode::quat_3d) {
    c.sigma = csl_sigma(oa.q, ob.q);
    if (c.sigma > 0) {
      c.type = BoundaryType::csl;
      return c;
    }
  }
  c.type = c.angle_deg < p_.low_angle_deg ? BoundaryType::low_angle : BoundaryType::high_angle;
  return c;
}

} // namespace network_detail
} // namespace domainmap
