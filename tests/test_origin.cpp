// tests/test_origin.cpp: the origin stage: parameters, exact hand-built descan fits, the
// central beam choice and the robust fit against the simulator's truth (missing and spurious
// central beams, noise), plane vs quadratic models, the ellipse and the circular ring after
// correction, the Bragg vector map, calibration, scan rotation, determinism and bad input.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <random>
#include <set>

#include "domainmap/error.hpp"
#include "core/h5util.hpp"
#include "domainmap/origin.hpp"
#include "domainmap/results.hpp"
#include "domainmap/simulate.hpp"
#include "testing.hpp"

using namespace domainmap;

namespace {

// Simulated geometry with descan, an elliptical distortion of ratio 1.03 at 25 deg.
SimParams sim_params() {
  SimParams p;
  p.scan = {24, 24};
  p.detector = {128, 128};
  p.n_grains = 14;
  p.ellipse_ratio = 1.03;
  p.ellipse_angle_deg = 25;
  return p;
}

struct Damage {
  std::set<std::size_t> missing;      // positions whose central beam is not in the list
  std::set<std::size_t> spurious_far; // positions with a bright extra peak 40 px from the origin
  std::set<std::size_t> spurious_near;// positions with a bright extra peak 4 px from the origin
};

// The truth's disks as a peak list, Gaussian position noise `noise` px per axis.
PeakList peaks_from_truth(const SimTruth& t, double noise, std::uint64_t seed, const Damage& d = {}) {
  PeakList pk;
  pk.scan = t.scan;
  pk.detector = t.detector;
  pk.offsets.push_back(0);
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, 1.0);
  const std::size_t n_pos = static_cast<std::size_t>(t.scan.y * t.scan.x);
  for (std::size_t i = 0; i < n_pos; ++i) {
    for (std::uint64_t j = t.disks.offsets[i]; j < t.disks.offsets[i + 1]; ++j) {
      const bool central = t.disks.h[j] == 0 && t.disks.k[j] == 0;
      if (central && d.missing.count(i)) continue;
      pk.qy_raw.push_back(static_cast<float>(t.disks.qy[j] + noise * g(rng)));
      pk.qx_raw.push_back(static_cast<float>(t.disks.qx[j] + noise * g(rng)));
      pk.intensity.push_back(t.disks.intensity[j]);
    }
    if (d.spurious_far.count(i)) {
      pk.qy_raw.push_back(t.origin_qy[i] + 40.0f);
      pk.qx_raw.push_back(t.origin_qx[i] - 3.0f);
      pk.intensity.push_back(5);
    }
    if (d.spurious_near.count(i)) {
      pk.qy_raw.push_back(t.origin_qy[i] + 2.4f);
      pk.qx_raw.push_back(t.origin_qx[i] - 3.2f);
      pk.intensity.push_back(5);
    }
    pk.offsets.push_back(pk.qy_raw.size());
  }
  return pk;
}

double origin_rms(const OriginMap& o, const SimTruth& t) {
  double ss = 0;
  for (std::size_t i = 0; i < o.qy0.size(); ++i) {
    const double dy = o.qy0[i] - t.origin_qy[i], dx = o.qx0[i] - t.origin_qx[i];
    ss += dy * dy + dx * dx;
  }
  return std::sqrt(ss / double(o.qy0.size()));
}

RunContext quiet_ctx() { return RunContext{}; }

// Radii of the corrected peaks whose true |g| (before distortion) is g_px.
std::vector<double> ring_radii(const PeakList& corrected, const SimTruth& t, const Damage& d, double g_px) {
  // Peaks were copied from the truth in order, skipping missing central beams and appending
  // spurious peaks; walk both lists together.
  std::vector<double> r;
  const std::size_t n_pos = static_cast<std::size_t>(t.scan.y * t.scan.x);
  for (std::size_t i = 0; i < n_pos; ++i) {
    std::size_t k = corrected.begin_of(i);
    for (std::uint64_t j = t.disks.offsets[i]; j < t.disks.offsets[i + 1]; ++j) {
      const bool central = t.disks.h[j] == 0 && t.disks.k[j] == 0;
      if (central && d.missing.count(i)) continue;
      const SimLattice& L = t.lattices[static_cast<std::size_t>(t.phase[i])];
      const double gy = t.disks.h[j] * L.g1.qy + t.disks.k[j] * L.g2.qy;
      const double gx = t.disks.h[j] * L.g1.qx + t.disks.k[j] * L.g2.qx;
      if (std::abs(std::hypot(gy, gx) - g_px) < 1e-3) r.push_back(std::hypot(double(corrected.qy[k]), double(corrected.qx[k])));
      ++k;
    }
  }
  return r;
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}
double std_of(const std::vector<double>& v) {
  const double m = mean_of(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / double(v.size()));
}

// Angle difference modulo 180 deg, in [0, 90].
double axis_diff_deg(double a, double b) {
  double d = std::fmod(std::abs(a - b), 180.0);
  return std::min(d, 180 - d);
}

bool one_line(const std::string& s) { return !s.empty() && s.find('\n') == std::string::npos; }

template <typename F> std::string error_of(F&& f, ErrorKind* kind = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (kind) *kind = e.kind();
    return e.what();
  }
  return "";
}

} // namespace

TEST_CASE("origin: parameters: defaults, validation, INI round trip") {
  OriginParams p;
  ParamList list;
  list.stage("origin", [&](ParamSink& s) { describe(p, s); });
  REQUIRE(list.find("origin.model") != nullptr);
  CHECK(list.find("origin.model")->get() == "quadratic");
  CHECK(list.find("origin.center_max_dist_px")->get() == "8");
  CHECK(list.find("origin.robust")->get() == "true");
  CHECK(list.find("origin.fit_ellipse")->get() == "true");
  CHECK(list.find("origin.bvm_size")->get() == "0");
  for (const ParamRef& r : list.refs()) CHECK_FALSE(r.help.empty());
  CHECK(list.refs().size() == 17);

  CHECK_THROWS_AS(list.set("origin.model", "cubic"), Error);
  CHECK_THROWS_AS(list.set("origin.center_max_dist_px", "-1"), Error);
  CHECK_THROWS_AS(list.set("origin.outlier_px", "0"), Error);
  CHECK_THROWS_AS(list.set("origin.robust_iterations", "0"), Error);
  CHECK_THROWS_AS(list.set("origin.bvm_size", "100000"), Error);
  CHECK_THROWS_AS(list.set("origin.bvm_pixel", "0"), Error);
  CHECK_THROWS_AS(list.set("origin.q_pixel_inv_A", "-0.1"), Error);
  const std::string msg = error_of([&] { list.set("origin.center_max_dist_px", "-1"); });
  CHECK(msg.rfind("origin.center_max_dist_px = -1: must be in", 0) == 0);

  // cross-field checks, one line each, naming the keys
  auto bad = [](OriginParams q, Shape2 det, const char* key) {
    ErrorKind kind{};
    const std::string m = error_of([&] { validate(q, det); }, &kind);
    CHECK(kind == ErrorKind::bad_parameter);
    CHECK(one_line(m));
    CHECK(m.find(key) != std::string::npos);
    MESSAGE(m);
  };
  OriginParams q;
  q.center_qy = 10;
  bad(q, {}, "origin.center_qx");
  q.center_qx = 300;
  bad(q, {128, 128}, "origin.center_qx = 300");
  q = OriginParams{};
  q.ring_q_min_px = 20;
  q.ring_q_max_px = 18;
  bad(q, {}, "origin.ring_q_min_px");
  q = OriginParams{};
  q.ring_q_max_px = 5;
  CHECK_NOTHROW(validate(q));
  q = OriginParams{};
  q.q_pixel_inv_A = 0.01;
  q.lattice_spacing_A = 2;
  bad(q, {}, "origin.lattice_spacing_A");
  q = OriginParams{};
  q.bvm_size = 1;
  bad(q, {}, "origin.bvm_size");
  q = OriginParams{};
  q.model = "cubic";
  bad(q, {}, "origin.model");
  CHECK_NOTHROW(validate(OriginParams{}, {128, 128}));

  // INI round trip of non-default values
  list.set("origin.model", "plane");
  list.set("origin.center_qy", "60.5");
  list.set("origin.center_qx", "61.25");
  list.set("origin.robust", "false");
  list.set("origin.ring_q_min_px", "17");
  list.set("origin.ring_q_max_px", "19.5");
  list.set("origin.lattice_spacing_A", "2.35");
  list.set("origin.scan_rotation_deg", "-12.5");
  list.set("origin.bvm_size", "300");
  list.set("origin.bvm_pixel", "0.5");
  const std::string dir = testing::scratch("origin_params");
  const std::string ini = dir + "/origin.ini";
  {
    FILE* f = std::fopen(ini.c_str(), "w");
    std::fputs(list.to_ini().c_str(), f);
    std::fclose(f);
  }
  OriginParams r;
  CHECK_FALSE(r == p);
  ParamList list2;
  list2.stage("origin", [&](ParamSink& s) { describe(r, s); });
  read_ini_file(ini, list2);
  CHECK(r == p);
}

TEST_CASE("origin: exact plane and quadratic descan from a hand-built peak list") {
  // 5 x 7 scan, one central beam (intensity 10) and four Bragg peaks per position, no noise.
  const std::int64_t Ry = 5, Rx = 7;
  auto origin_at = [&](std::int64_t ry, std::int64_t rx, bool quad) {
    const double v = double(ry) / (Ry - 1) - 0.5, u = double(rx) / (Rx - 1) - 0.5;
    double oy = 60 + 1.5 * v - 0.75 * u, ox = 66 + 0.5 * v + 2 * u;
    if (quad) oy += 0.8 * v * v - 0.4 * u * v + 0.3 * u * u, ox += -0.6 * v * v + 0.2 * u * v + 0.9 * u * u;
    return std::pair<double, double>(oy, ox);
  };
  for (bool quad : {false, true}) {
    PeakList pk;
    pk.scan = {Ry, Rx};
    pk.detector = {128, 128};
    pk.offsets = {0};
    for (std::int64_t ry = 0; ry < Ry; ++ry)
      for (std::int64_t rx = 0; rx < Rx; ++rx) {
        auto [oy, ox] = origin_at(ry, rx, quad);
        // a Bragg peak first, so that the central beam is not simply the first peak
        pk.qy_raw.push_back(float(oy + 20));
        pk.qx_raw.push_back(float(ox));
        pk.intensity.push_back(3);
        pk.qy_raw.push_back(float(oy));
        pk.qx_raw.push_back(float(ox));
        pk.intensity.push_back(10);
        pk.qy_raw.push_back(float(oy));
        pk.qx_raw.push_back(float(ox - 20));
        pk.intensity.push_back(3);
        pk.qy_raw.push_back(float(oy - 20));  // Friedel partners
        pk.qx_raw.push_back(float(ox));
        pk.intensity.push_back(3);
        pk.qy_raw.push_back(float(oy));
        pk.qx_raw.push_back(float(ox + 20));
        pk.intensity.push_back(3);
        pk.offsets.push_back(pk.qy_raw.size());
      }
    for (const char* model : {"plane", "quadratic", "none"}) {
      OriginParams p;
      p.model = model;
      p.fit_ellipse = false;
      RunContext ctx;
      const OriginResult r = fit_origin(pk, p, ctx);
      CHECK(r.n_measured == Ry * Rx);
      const bool exact = std::string(model) != "plane" || !quad;
      double max_err = 0;
      for (std::int64_t ry = 0; ry < Ry; ++ry)
        for (std::int64_t rx = 0; rx < Rx; ++rx) {
          const std::size_t i = static_cast<std::size_t>(ry * Rx + rx);
          auto [oy, ox] = origin_at(ry, rx, quad);
          CHECK(r.central_peak[i] == std::int64_t(5 * i + 1));
          CHECK(r.origin.qy0_measured[i] == float(oy));
          max_err = std::max({max_err, std::abs(r.origin.qy0[i] - oy), std::abs(r.origin.qx0[i] - ox)});
          // the central beam is at q = 0, the Bragg peaks at (20, 0) and (0, -20)
          if (exact) CHECK(std::abs(r.corrected.qy[5 * i + 1]) < 1e-4);
          if (exact) CHECK(r.corrected.qy[5 * i] == doctest::Approx(20).epsilon(1e-5));
          if (exact) CHECK(r.corrected.qx[5 * i + 2] == doctest::Approx(-20).epsilon(1e-5));
        }
      if (exact) CHECK(max_err < 2e-5);
      else CHECK(max_err > 0.05);
      CHECK(r.model == model);
      MESSAGE(std::string(quad ? "quadratic" : "plane") << " descan, model " << std::string(model) << ": max error "
                                                        << max_err << " px");
    }
  }
}

TEST_CASE("origin: robust descan fit vs the simulator's truth (missing and spurious central beams)") {
  const SimParams sp = sim_params();
  const SimTruth t = simulate_truth(sp);
  Damage d;
  d.missing = {3, 50, 51, 200, 377, 575};
  d.spurious_far = {10, 99, 300, 401};
  d.spurious_near = {5, 150, 151, 420, 560};
  const PeakList pk = peaks_from_truth(t, 0.07, 7, d);
  OriginParams p;
  RunContext ctx;
  std::vector<std::string> logged;
  ctx.log = [&](LogLevel, const std::string& m) { logged.push_back(m); };
  const OriginResult r = fit_origin(pk, p, ctx);
  const double rms = origin_rms(r.origin, t);
  MESSAGE("quadratic robust fit: origin RMS error " << rms << " px, RMS residual " << r.residual_rms_px << " px, "
                                                    << r.n_outliers << " outliers");
  CHECK(rms <= 0.1);
  CHECK(rms < 0.03);
  CHECK(r.model == "quadratic");
  CHECK(r.n_measured == 576 - 6);
  CHECK(r.n_outliers == 5);
  for (std::size_t i : d.missing) CHECK(std::isnan(r.origin.qy0_measured[i]));
  for (std::size_t i : d.missing) CHECK(r.central_peak[i] == -1);
  for (std::size_t i : d.spurious_near) CHECK(r.inlier[i] == 0);
  for (std::size_t i : d.spurious_far) CHECK(r.inlier[i] == 1);
  CHECK(r.residual_rms_px == doctest::Approx(0.07 * std::sqrt(2.0)).epsilon(0.15));
  // notes were logged, aggregated: one line about missing beams, one about outliers
  CHECK(logged.size() == r.notes.size());
  int missing_lines = 0, outlier_lines = 0;
  for (const auto& n : r.notes) {
    CHECK(one_line(n));
    missing_lines += n.find("6 of 576 positions have no central beam") != std::string::npos;
    outlier_lines += n.find("5 of 570 measured origins rejected") != std::string::npos;
  }
  CHECK(missing_lines == 1);
  CHECK(outlier_lines == 1);

  // without the robust fit, the near spurious peaks bias the model
  OriginParams plain = p;
  plain.robust = false;
  const OriginResult r2 = fit_origin(pk, plain, ctx);
  const double rms2 = origin_rms(r2.origin, t);
  MESSAGE("plain least squares: origin RMS error " << rms2 << " px");
  CHECK(rms2 > 2 * rms);
  CHECK(r2.n_outliers == 0);

  // a given expected centre gives the same answer as the automatic one
  OriginParams given = p;
  given.center_qy = 63.5;
  given.center_qx = 63.5;
  const OriginResult r3 = fit_origin(pk, given, ctx);
  CHECK(r3.origin.qy0 == r.origin.qy0);
  CHECK(r3.origin.qx0 == r.origin.qx0);
}

TEST_CASE("origin: plane vs quadratic models with and without quadratic descan") {
  for (bool quad_terms : {true, false}) {
    SimParams sp = sim_params();
    if (!quad_terms) sp.descan_qy_quad_px = sp.descan_qx_quad_px = 0;
    const SimTruth t = simulate_truth(sp);
    const PeakList pk = peaks_from_truth(t, 0.05, 11);
    OriginParams p;
    RunContext ctx;
    p.model = "plane";
    const double plane = origin_rms(fit_origin(pk, p, ctx).origin, t);
    p.model = "quadratic";
    const double quad = origin_rms(fit_origin(pk, p, ctx).origin, t);
    p.model = "none";
    const double none = origin_rms(fit_origin(pk, p, ctx).origin, t);
    MESSAGE(std::string(quad_terms ? "with" : "without") << " quadratic descan: RMS error plane " << plane << ", quadratic "
                                              << quad << ", none (measured) " << none << " px");
    CHECK(quad < 0.02);
    CHECK(none == doctest::Approx(0.05 * std::sqrt(2.0)).epsilon(0.15));
    if (quad_terms) CHECK(plane > 0.1);
    else CHECK(plane < 0.02);
  }
}

TEST_CASE("origin: ellipse recovered to 0.2 %, ring circular after correction") {
  const SimParams sp = sim_params();
  const SimTruth t = simulate_truth(sp);
  const double ratio = sp.ellipse_ratio;
  // the b axis of the simulator (stretched by 1.03) is the major axis: at 25 + 90 deg
  const double want_theta = sp.ellipse_angle_deg + 90;
  for (double noise : {0.0, 0.07}) {
    const Damage d;
    const PeakList pk = peaks_from_truth(t, noise, 3, d);
    OriginParams p;
    RunContext ctx;
    const OriginResult r = fit_origin(pk, p, ctx);
    REQUIRE(r.ellipse.fitted);
    const double ba = r.ellipse.b / r.ellipse.a;
    MESSAGE("noise " << noise << " px: ring " << r.ring_q_min_px << ".." << r.ring_q_max_px << " px, "
                     << r.ring_points << " peaks; b/a = " << ba << " (true " << 1 / ratio << "), theta = "
                     << r.ellipse.theta_deg << " deg (true " << want_theta << ")");
    CHECK(std::abs(ba * ratio - 1) < 0.002);
    CHECK(axis_diff_deg(r.ellipse.theta_deg, want_theta) < 1);
    CHECK(r.ellipse.theta_deg >= 0);
    CHECK(r.ellipse.theta_deg < 180);
    // the ring is one of the strong shells; its semi-major axis is its |g| stretched by 1.03
    CHECK(r.ring_points > 1000);
    CHECK(r.ring_radius_px == doctest::Approx(r.ellipse.a).epsilon(0.002));
    // after correction every shell is a circle of radius 1.03 |g|: the hexagonal phase's first one
    const std::vector<double> rad = ring_radii(r.corrected, t, d, 18);
    REQUIRE(rad.size() > 500);
    const double sd = std_of(rad);
    MESSAGE("  corrected |g| = 18 ring: mean radius " << mean_of(rad) << " px, std " << sd << " px");
    CHECK(mean_of(rad) == doctest::Approx(18 * ratio).epsilon(0.001));
    CHECK(sd < (noise > 0 ? 0.09 : 0.005));
    // uncorrected, the same ring is visibly elliptical
    OriginParams off = p;
    off.fit_ellipse = false;
    const OriginResult r0 = fit_origin(pk, off, ctx);
    CHECK_FALSE(r0.ellipse.fitted);
    const double sd0 = std_of(ring_radii(r0.corrected, t, d, 18));
    MESSAGE("  uncorrected ring: std " << sd0 << " px");
    CHECK(sd0 > 0.15);
  }
  // ratio < 1: the simulator's a axis is the major one
  SimParams sp2 = sim_params();
  sp2.ellipse_ratio = 0.96;
  sp2.ellipse_angle_deg = -40;
  const SimTruth t2 = simulate_truth(sp2);
  RunContext ctx;
  const OriginResult r2 = fit_origin(peaks_from_truth(t2, 0.05, 5), OriginParams{}, ctx);
  CHECK(std::abs(r2.ellipse.b / r2.ellipse.a / 0.96 - 1) < 0.002);
  CHECK(axis_diff_deg(r2.ellipse.theta_deg, 140) < 1);
}

TEST_CASE("origin: fit_ellipse_ring on exact points, and its errors") {
  // ellipse a = 20, b = 19 at 30 deg, 12 points all around
  const double a = 20, b = 19, th = 30 * std::numbers::pi / 180;
  std::vector<float> qy, qx;
  for (int k = 0; k < 12; ++k) {
    const double phi = 2 * std::numbers::pi * k / 12 + 0.1;
    const double ex = a * std::cos(phi), ey = b * std::sin(phi);  // in the ellipse's frame
    qx.push_back(float(ex * std::cos(th) - ey * std::sin(th)));
    qy.push_back(float(ex * std::sin(th) + ey * std::cos(th)));
  }
  qx.push_back(5);  // a point of another ring, outside the radius range
  qy.push_back(0);
  EllipseDistortion e = fit_ellipse_ring(qy, qx, 15, 25);
  CHECK(e.fitted);
  CHECK(e.a == doctest::Approx(20).epsilon(1e-5));
  CHECK(e.b == doctest::Approx(19).epsilon(1e-5));
  CHECK(e.theta_deg == doctest::Approx(30).epsilon(1e-4));
  // the same points rotated by 180 deg give the same axis
  for (auto& v : qy) v = -v;
  for (auto& v : qx) v = -v;
  CHECK(fit_ellipse_ring(qy, qx, 15, 25).theta_deg == doctest::Approx(30).epsilon(1e-4));

  // correct_peaks maps them onto a circle of radius a
  PeakList pk;
  pk.scan = {1, 1};
  pk.detector = {64, 64};
  pk.offsets = {0, qy.size()};
  for (std::size_t i = 0; i < qy.size(); ++i) {
    pk.qy_raw.push_back(qy[i] + 30);
    pk.qx_raw.push_back(qx[i] + 31);
    pk.intensity.push_back(1);
  }
  OriginMap o;
  o.scan = {1, 1};
  o.qy0 = {30};
  o.qx0 = {31};
  correct_peaks(pk, o, e);
  for (std::size_t i = 0; i + 1 < pk.size(); ++i)
    CHECK(std::hypot(pk.qy[i], pk.qx[i]) == doctest::Approx(20).epsilon(1e-5));

  ErrorKind kind{};
  std::string m = error_of([&] { fit_ellipse_ring(qy, qx, 30, 40); }, &kind);
  CHECK(kind == ErrorKind::bad_input);
  CHECK(one_line(m));
  CHECK(m.find("0 peaks") != std::string::npos);
  MESSAGE(m);
  // points on two lines through the origin do not constrain an ellipse
  std::vector<float> ly = {20, -20, 0, 0, 20.5f, -20.5f}, lx = {0, 0, 20, -20, 0, 0};
  m = error_of([&] { fit_ellipse_ring(ly, lx, 15, 25); }, &kind);
  CHECK(kind == ErrorKind::bad_input);
  CHECK(m.find("too few directions") != std::string::npos);
  MESSAGE(m);
  m = error_of([&] { fit_ellipse_ring(ly, lx, 25, 15); }, &kind);
  CHECK(kind == ErrorKind::bad_parameter);
}

TEST_CASE("origin: Bragg vector map conserves weight and peaks at q = 0") {
  const SimParams sp = sim_params();
  const SimTruth t = simulate_truth(sp);
  const PeakList pk = peaks_from_truth(t, 0.07, 13);
  RunContext ctx;
  const OriginResult r = fit_origin(pk, OriginParams{}, ctx);
  const BraggVectorMap& m = r.bvm;
  REQUIRE(m.size > 0);
  REQUIRE(m.counts.size() == std::size_t(m.size * m.size));
  double sum = 0;
  for (float c : m.counts) sum += c;
  MESSAGE("BVM " << m.size << " x " << m.size << " bins, sum " << sum << " for " << pk.size() << " peaks");
  CHECK(sum == doctest::Approx(double(pk.size())).epsilon(1e-6));
  const std::size_t imax = std::size_t(std::max_element(m.counts.begin(), m.counts.end()) - m.counts.begin());
  const std::int64_t h = m.size / 2;
  CHECK(std::llabs(std::int64_t(imax) / m.size - h) <= 1);
  CHECK(std::llabs(std::int64_t(imax) % m.size - h) <= 1);
  // the four bins around q = 0 hold (almost) one count per position
  const auto at = [&](std::int64_t y, std::int64_t x) { return double(m.counts[std::size_t(y * m.size + x)]); };
  double centre = 0;
  for (std::int64_t y = h - 1; y <= h + 1; ++y)
    for (std::int64_t x = h - 1; x <= h + 1; ++x) centre += at(y, x);
  CHECK(centre == doctest::Approx(576).epsilon(1e-3));

  // exact splatting of single peaks; peaks whose bins fall outside are counted, not added
  PeakList one;
  one.scan = {1, 1};
  one.detector = {16, 16};
  one.offsets = {0, 3};
  one.qy_raw = one.qx_raw = one.intensity = {0, 0, 0};
  one.qy = {0.25f, 0, 100};
  one.qx = {-0.5f, 0, 0};
  std::int64_t outside = -1;
  const BraggVectorMap b = make_bragg_vector_map(one, 8, 1, &outside);
  CHECK(outside == 1);
  CHECK(b.counts[4 * 8 + 4] == doctest::Approx(1 + 0.75 * 0.5));
  CHECK(b.counts[4 * 8 + 3] == doctest::Approx(0.75 * 0.5));
  CHECK(b.counts[5 * 8 + 3] == doctest::Approx(0.25 * 0.5));
  CHECK(b.counts[5 * 8 + 4] == doctest::Approx(0.25 * 0.5));
  double s = 0;
  for (float c : b.counts) s += c;
  CHECK(s == doctest::Approx(2));
  // half-size bins
  const BraggVectorMap b2 = make_bragg_vector_map(one, 16, 0.5, &outside);
  CHECK(b2.counts[8 * 16 + 8] == doctest::Approx(1));  // q = 0
  CHECK(b2.counts[8 * 16 + 7] == doctest::Approx(0.5)); // (0.25, -0.5) -> (8.5, 7)
  CHECK(b2.counts[9 * 16 + 7] == doctest::Approx(0.5));
  CHECK_THROWS_AS(make_bragg_vector_map(one, 1, 1), Error);
  CHECK_THROWS_AS(make_bragg_vector_map(one, 8, 0), Error);
  PeakList raw_only = one;
  raw_only.qy.clear();
  raw_only.qx.clear();
  CHECK_THROWS_AS(make_bragg_vector_map(raw_only, 8, 1), Error);
  // the automatic size holds every peak of the simulation
  std::int64_t out2 = -1;
  make_bragg_vector_map(r.corrected, 0, 1, &out2);
  CHECK(out2 == 0);
}

TEST_CASE("origin: calibration from a lattice spacing or a given pixel size") {
  const SimParams sp = sim_params();
  const SimTruth t = simulate_truth(sp);
  const PeakList pk = peaks_from_truth(t, 0.05, 17);
  RunContext ctx;
  OriginParams p;
  p.lattice_spacing_A = 2.5;
  // the automatic ring is the strongest shell, whatever its |g|: q_pixel follows its radius
  OriginResult r = fit_origin(pk, p, ctx);
  CHECK(r.ring_radius_px > 0);
  CHECK(r.q_pixel_inv_A == doctest::Approx(1 / (2.5 * r.ring_radius_px)).epsilon(1e-12));
  // the ring |g| = 18 px (before distortion, 18 * 1.03 after correction), given by its range
  p.ring_q_min_px = 17;
  p.ring_q_max_px = 19.5;
  r = fit_origin(pk, p, ctx);
  const double want = 1 / (2.5 * 18 * sp.ellipse_ratio);
  MESSAGE("q pixel " << r.q_pixel_inv_A << " 1/A (expected " << want << "), ring radius " << r.ring_radius_px
                     << " px");
  CHECK(r.q_pixel_inv_A == doctest::Approx(want).epsilon(0.002));
  CHECK(r.ring_q_min_px == 17);
  CHECK(r.ring_q_max_px == 19.5);
  CHECK(std::abs(r.ellipse.b / r.ellipse.a * sp.ellipse_ratio - 1) < 0.002);
  // without the ellipse the ring's median radius lies between the two semi-axes
  p.fit_ellipse = false;
  r = fit_origin(pk, p, ctx);
  CHECK(r.q_pixel_inv_A > 1 / (2.5 * 18 * sp.ellipse_ratio) * 0.999);
  CHECK(r.q_pixel_inv_A < 1 / (2.5 * 18) * 1.001);
  // a user value is taken as it is
  OriginParams u;
  u.q_pixel_inv_A = 0.0123;
  CHECK(fit_origin(pk, u, ctx).q_pixel_inv_A == 0.0123);
  CHECK(fit_origin(pk, OriginParams{}, ctx).q_pixel_inv_A == 0);
  // a ring with no peaks
  OriginParams empty_ring;
  empty_ring.lattice_spacing_A = 2;
  empty_ring.ring_q_min_px = 90;
  empty_ring.ring_q_max_px = 95;
  empty_ring.fit_ellipse = false;
  ErrorKind kind{};
  const std::string m = error_of([&] { fit_origin(pk, empty_ring, ctx); }, &kind);
  CHECK(kind == ErrorKind::bad_input);
  CHECK(one_line(m));
  MESSAGE(m);
}

TEST_CASE("origin: scan rotation turns the corrected vectors") {
  const SimTruth t = simulate_truth(sim_params());
  const PeakList pk = peaks_from_truth(t, 0.05, 19);
  RunContext ctx;
  OriginParams p;
  const OriginResult r0 = fit_origin(pk, p, ctx);
  p.scan_rotation_deg = 30;
  const OriginResult r1 = fit_origin(pk, p, ctx);
  CHECK(r1.scan_rotation_deg == 30);
  // the ellipse is fitted in the detector frame, before the rotation
  CHECK(r1.ellipse.theta_deg == r0.ellipse.theta_deg);
  const double c = std::cos(std::numbers::pi / 6), s = std::sin(std::numbers::pi / 6);
  double max_err = 0;
  for (std::size_t i = 0; i < pk.size(); ++i) {
    const double y = r0.corrected.qy[i], x = r0.corrected.qx[i];
    max_err = std::max({max_err, std::abs(r1.corrected.qy[i] - (y * c + x * s)),
                        std::abs(r1.corrected.qx[i] - (x * c - y * s))});
  }
  CHECK(max_err < 1e-4);
  // a vector along +qx turns towards +qy
  PeakList one;
  one.scan = {1, 1};
  one.detector = {64, 64};
  one.offsets = {0, 1};
  one.qy_raw = {10};
  one.qx_raw = {20};
  one.intensity = {1};
  OriginMap o;
  o.scan = {1, 1};
  o.qy0 = {10};
  o.qx0 = {10};
  correct_peaks(one, o, EllipseDistortion{}, 90);
  CHECK(one.qy[0] == doctest::Approx(10));
  CHECK(std::abs(one.qx[0]) < 1e-5);
}

TEST_CASE("origin: deterministic, independent of the thread count") {
  const SimTruth t = simulate_truth(sim_params());
  Damage d;
  d.missing = {7, 8};
  d.spurious_near = {100};
  const PeakList pk = peaks_from_truth(t, 0.07, 23, d);
  auto run = [&](int threads) {
    RunContext ctx;
    ctx.threads = threads;
    return fit_origin(pk, OriginParams{}, ctx);
  };
  const OriginResult a = run(0), b = run(1), c = run(2);
  for (const OriginResult* x : {&b, &c}) {
    CHECK(x->origin.qy0 == a.origin.qy0);
    CHECK(x->origin.qx0 == a.origin.qx0);
    CHECK(std::memcmp(x->origin.qy0_measured.data(), a.origin.qy0_measured.data(),
                      a.origin.qy0_measured.size() * sizeof(float)) == 0);
    CHECK(x->corrected.qy == a.corrected.qy);
    CHECK(x->corrected.qx == a.corrected.qx);
    CHECK(x->bvm.counts == a.bvm.counts);
    CHECK(x->ellipse.a == a.ellipse.a);
    CHECK(x->ellipse.theta_deg == a.ellipse.theta_deg);
    CHECK(x->notes == a.notes);
  }
}

TEST_CASE("origin: bad input and fallbacks") {
  RunContext ctx;
  ErrorKind kind{};
  // empty peak list
  std::string m = error_of([&] { fit_origin(PeakList{}, OriginParams{}, ctx); }, &kind);
  CHECK(kind == ErrorKind::bad_input);
  CHECK(one_line(m));
  MESSAGE(m);

  const SimTruth t = simulate_truth(sim_params());
  // no peaks at all
  PeakList none;
  none.scan = t.scan;
  none.detector = t.detector;
  none.offsets.assign(577, 0);
  m = error_of([&] { fit_origin(none, OriginParams{}, ctx); }, &kind);
  CHECK(kind == ErrorKind::bad_input);
  CHECK(one_line(m));
  MESSAGE(m);

  // every central beam missing
  Damage all;
  for (std::size_t i = 0; i < 576; ++i) all.missing.insert(i);
  const PeakList nocb = peaks_from_truth(t, 0.05, 29, all);
  m = error_of([&] { fit_origin(nocb, OriginParams{}, ctx); }, &kind);
  CHECK(kind == ErrorKind::bad_input);
  CHECK(one_line(m));
  CHECK(m.find("no scan position has a peak within origin.center_max_dist_px = 8 px") != std::string::npos);
  MESSAGE(m);
  OriginParams given;
  given.center_qy = 63.5;
  given.center_qx = 63.5;
  m = error_of([&] { fit_origin(nocb, given, ctx); }, &kind);
  CHECK(kind == ErrorKind::bad_input);
  CHECK(m.find("no scan position has a peak within origin.center_max_dist_px = 8 px") != std::string::npos);
  MESSAGE(m);

  // malformed peak lists
  PeakList bad = peaks_from_truth(t, 0, 1);
  bad.offsets.pop_back();
  m = error_of([&] { fit_origin(bad, OriginParams{}, ctx); }, &kind);
  CHECK(kind == ErrorKind::bad_input);
  MESSAGE(m);
  bad = peaks_from_truth(t, 0, 1);
  bad.intensity.pop_back();
  CHECK_THROWS_AS(fit_origin(bad, OriginParams{}, ctx), Error);

  // absurd parameters reach validate()
  OriginParams off;
  off.center_qy = 500;
  off.center_qx = 10;
  m = error_of([&] { fit_origin(peaks_from_truth(t, 0, 1), off, ctx); }, &kind);
  CHECK(kind == ErrorKind::bad_parameter);
  CHECK(m.rfind("origin.center_qy = 500: outside the detector", 0) == 0);

  // too few positions for the quadratic model: 2 x 2 scan falls back to the plane, with a warning
  SimParams small = sim_params();
  small.scan = {2, 2};
  small.n_grains = 2;
  const SimTruth ts = simulate_truth(small);
  std::vector<std::string> warnings;
  RunContext wctx;
  wctx.log = [&](LogLevel l, const std::string& s) {
    if (l == LogLevel::warning) warnings.push_back(s);
  };
  OriginResult r = fit_origin(peaks_from_truth(ts, 0.02, 31), OriginParams{}, wctx);
  CHECK(r.model == "plane");
  REQUIRE(warnings.size() >= 1);
  CHECK(warnings[0].find("fitted plane instead") != std::string::npos);
  MESSAGE(warnings[0]);
  CHECK(origin_rms(r.origin, ts) < 0.05);
  // one position missing of 2 x 2: 3 positions still fit a plane exactly
  Damage one;
  one.missing = {2};
  r = fit_origin(peaks_from_truth(ts, 0, 31, one), OriginParams{}, wctx);
  CHECK(r.model == "plane");
  // 1 x 1 scan: constant
  small.scan = {1, 1};
  small.n_grains = 1;
  const SimTruth t1 = simulate_truth(small);
  r = fit_origin(peaks_from_truth(t1, 0, 31), OriginParams{}, wctx);
  CHECK(r.model == "constant");
  CHECK(r.origin.qy0[0] == t1.origin_qy[0]);
  // a single scan row: model in rx only
  small.scan = {1, 30};
  small.n_grains = 3;
  const SimTruth trow = simulate_truth(small);
  r = fit_origin(peaks_from_truth(trow, 0.02, 31), OriginParams{}, wctx);
  CHECK(r.model == "quadratic");
  CHECK(origin_rms(r.origin, trow) < 0.03);

  // cancellation
  std::atomic<bool> stop{true};
  RunContext cctx;
  cctx.cancel = &stop;
  m = error_of([&] { fit_origin(peaks_from_truth(t, 0, 1), OriginParams{}, cctx); }, &kind);
  CHECK(kind == ErrorKind::interrupted);
}

namespace {

// A results file holding the raw peaks only (as `domainmap peaks --no-origin` leaves it), plus
// a stale /orientation group for the downstream-deletion check.
std::string results_with_peaks(const std::string& dir, const PeakList& pk, bool stale_orientation) {
  const std::string path = dir + "/results.h5";
  {
    ResultsWriter w(path, true);
    ResultsHeader h;
    h.input = "simulated";
    h.scan = pk.scan;
    h.detector = pk.detector;
    w.write_header(h);
    PeakList raw = pk;
    raw.qy.clear();
    raw.qx.clear();
    w.write_peaks(raw);
    w.write_config("peaks", {{"peaks.dummy", "1"}});
    w.commit();
  }
  if (stale_orientation) {
    h5::Handle f = h5::open_file_rw(path);
    h5::Handle g = h5::require_group(f, "/orientation", path);
    const std::vector<float> angle(static_cast<std::size_t>(pk.scan.y * pk.scan.x), 1.0f);
    h5::write_floats(g, "angle", {pk.scan.y, pk.scan.x}, angle.data());
  }
  return path;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

} // namespace

TEST_CASE("origin: results file round trip through write_origin / read_*") {
  const SimTruth t = simulate_truth(sim_params());
  const PeakList pk = peaks_from_truth(t, 0.07, 37, Damage{{4, 9}, {}, {}});
  const std::string dir = testing::scratch("origin_roundtrip");
  const std::string path = results_with_peaks(dir, pk, false);
  RunContext ctx;
  const OriginResult r = fit_origin(read_peaks(path), OriginParams{}, ctx);
  {
    ResultsWriter w(path, false);
    w.write_origin(r.origin, r.corrected, r.ellipse, r.bvm);
    w.commit();
  }
  const OriginMap o = read_origin(path);
  CHECK(o.scan == r.origin.scan);
  CHECK(same_bits(o.qy0, r.origin.qy0));
  CHECK(same_bits(o.qx0, r.origin.qx0));
  CHECK(same_bits(o.qy0_measured, r.origin.qy0_measured));  // NaN where no central beam
  CHECK(std::isnan(o.qy0_measured[4]));
  const EllipseDistortion e = read_ellipse(path);
  CHECK(e.fitted);
  CHECK(e.a == r.ellipse.a);
  CHECK(e.b == r.ellipse.b);
  CHECK(e.theta_deg == r.ellipse.theta_deg);
  const PeakList back = read_peaks(path);
  CHECK(same_bits(back.qy, r.corrected.qy));
  CHECK(same_bits(back.qx, r.corrected.qx));
  CHECK(same_bits(back.qy_raw, pk.qy_raw));
  const BraggVectorMap m = read_bragg_vector_map(path);
  CHECK(m.size == r.bvm.size);
  CHECK(m.pixel == r.bvm.pixel);
  CHECK(same_bits(m.counts, r.bvm.counts));
  // re-fitting from what was read back gives the same answer: the raw peaks are untouched
  const OriginResult r2 = fit_origin(back, OriginParams{}, ctx);
  CHECK(same_bits(r2.corrected.qy, r.corrected.qy));
}

TEST_CASE("origin: verb: idempotent, deletes downstream groups, writes the BVM PNG") {
  const SimTruth t = simulate_truth(sim_params());
  const PeakList pk = peaks_from_truth(t, 0.07, 41, Damage{{2}, {}, {6}});
  const std::string dir = testing::scratch("origin_verb");
  const std::string path = results_with_peaks(dir, pk, true);
  REQUIRE(results_has(path, "orientation"));
  const std::string q = "'" + path + "'";

  testing::CliResult c = testing::run_cli("origin " + q + " --origin.lattice_spacing_A 2.5 --origin.ring_q_min_px 17 "
                                          "--origin.ring_q_max_px 19.5");
  INFO(c.err);
  REQUIRE(c.exit_code == 0);
  MESSAGE(c.out);
  CHECK(c.out.find("origin: quadratic model, central beam at 575 of 576 positions, 1 outliers") != std::string::npos);
  CHECK_FALSE(results_has(path, "orientation"));
  CHECK(results_has(path, "origin"));
  const std::string png = dir + "/results_bvm.png";
  REQUIRE(std::filesystem::exists(png));
  CHECK(slurp(png).substr(1, 3) == "PNG");
  const OriginMap o1 = read_origin(path);
  const PeakList p1 = read_peaks(path);
  const BraggVectorMap m1 = read_bragg_vector_map(path);
  const auto cfg1 = read_config(path);
  const std::string png1 = slurp(png);
  const ResultsHeader h1 = read_results_header(path);
  CHECK(h1.q_pixel_inv_A == doctest::Approx(1 / (2.5 * 18 * 1.03)).epsilon(0.002));
  CHECK(o1.calibration_source == "ring");
  CHECK(o1.q_pixel_inv_A == h1.q_pixel_inv_A);
  CHECK(o1.scan_rotation_deg == 0);
  // the library gives the same numbers
  RunContext ctx;
  OriginParams op;
  op.lattice_spacing_A = 2.5;
  op.ring_q_min_px = 17;
  op.ring_q_max_px = 19.5;
  const OriginResult lib = fit_origin(pk, op, ctx);
  CHECK(same_bits(o1.qy0, lib.origin.qy0));
  CHECK(same_bits(p1.qx, lib.corrected.qx));
  bool has_key = false;
  for (const auto& [k, v] : cfg1) has_key |= k == "origin.lattice_spacing_A" && v == "2.5";
  CHECK(has_key);

  // twice = once
  c = testing::run_cli("origin " + q + " --origin.lattice_spacing_A 2.5 --origin.ring_q_min_px 17 "
                       "--origin.ring_q_max_px 19.5 -q");
  REQUIRE(c.exit_code == 0);
  CHECK(c.out.empty());
  const OriginMap o2 = read_origin(path);
  const PeakList p2 = read_peaks(path);
  CHECK(same_bits(o2.qy0, o1.qy0));
  CHECK(same_bits(o2.qx0, o1.qx0));
  CHECK(same_bits(o2.qy0_measured, o1.qy0_measured));
  CHECK(same_bits(p2.qy, p1.qy));
  CHECK(same_bits(p2.qx, p1.qx));
  CHECK(same_bits(p2.qy_raw, p1.qy_raw));
  CHECK(same_bits(read_bragg_vector_map(path).counts, m1.counts));
  CHECK(read_config(path) == cfg1);
  CHECK(slurp(png) == png1);
  CHECK(read_results_header(path).created == h1.created);

  // other parameters replace the stored ones; the raw peaks stay
  c = testing::run_cli("origin " + q + " --origin.model plane --origin.fit_ellipse false");
  REQUIRE(c.exit_code == 0);
  CHECK(c.out.find("ellipse: not fitted") != std::string::npos);
  CHECK_FALSE(read_ellipse(path).fitted);
  CHECK(same_bits(read_peaks(path).qy_raw, p1.qy_raw));
  // no calibration now: the earlier ring calibration is not kept as if it were the dataset's
  CHECK(read_origin(path).calibration_source == "none");
  CHECK(read_results_header(path).q_pixel_inv_A == 0);
  bool plane = false;
  for (const auto& [k, v] : read_config(path)) plane |= k == "origin.model" && v == "plane";
  CHECK(plane);
  // no temporary files are left behind
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    (void)entry;
    ++files;
  }
  CHECK(files == 2);
}

TEST_CASE("origin: verb: bad input and parameters give one-line errors, exit 2, files untouched") {
  const SimTruth t = simulate_truth(sim_params());
  const std::string dir = testing::scratch("origin_verb_bad");
  const std::string path = results_with_peaks(dir, peaks_from_truth(t, 0.05, 43), false);
  const std::string before = slurp(path);
  const std::string q = "'" + path + "'";
  auto bad = [&](const std::string& args, const std::string& needle) {
    testing::CliResult c = testing::run_cli(args);
    CHECK(c.exit_code == 2);
    CHECK(testing::count_lines(c.err) == 1);
    CHECK(c.err.rfind("domainmap origin: error: ", 0) == 0);
    CHECK(c.err.find(needle) != std::string::npos);
    MESSAGE(c.err);
  };
  bad("origin", "missing R.h5");
  bad("origin '" + dir + "/none.h5'", "none.h5: no such file");
  bad("origin " + q + " --origin.model cubic", "origin.model");
  bad("origin " + q + " --origin.center_qy 10", "origin.center_qx");
  bad("origin " + q + " --origin.center_qy 500 --origin.center_qx 10", "outside the detector");
  bad("origin " + q + " --origin.q_pixel_inv_A 0.01 --origin.lattice_spacing_A 2", "not both");
  bad("origin " + q + " --origin.center_qy 5 --origin.center_qx 5", "no scan position has a peak within");
  bad("origin " + q + " --origin.nonsense 1", "nonsense");
  CHECK(slurp(path) == before);
  CHECK_FALSE(std::filesystem::exists(dir + "/results_bvm.png"));
  // a results file without /peaks
  const std::string empty = dir + "/empty.h5";
  {
    ResultsWriter w(empty, true);
    w.commit();
  }
  bad("origin '" + empty + "'", "no /peaks");
  // help
  testing::CliResult h = testing::run_cli("origin --help");
  CHECK(h.exit_code == 0);
  CHECK(h.out.find("--origin.model") != std::string::npos);
  CHECK(h.out.find("--origin.center_max_dist_px") != std::string::npos);
}

TEST_CASE("origin: streamed over chunks of positions equals the in-memory fit, bit for bit") {
  const SimTruth t = simulate_truth(sim_params());
  Damage d;
  d.missing = {3, 50, 51};
  d.spurious_far = {10, 99};
  d.spurious_near = {5, 150};
  const PeakList pk = peaks_from_truth(t, 0.07, 13, d);
  std::vector<OriginParams> sets(5);
  sets[1].model = "plane";
  sets[1].robust = false;
  sets[2].ring_q_min_px = 17;
  sets[2].ring_q_max_px = 19.5;
  sets[2].lattice_spacing_A = 2.5;
  sets[2].scan_rotation_deg = -20;
  sets[3].center_qy = 63.5;
  sets[3].center_qx = 63.5;
  sets[3].bvm_size = 64;
  sets[4].model = "none";
  sets[4].fit_ellipse = false;
  sets[4].q_pixel_inv_A = 0.01;
  for (std::size_t k = 0; k < sets.size(); ++k) {
    RunContext ctx;
    const OriginResult mem = fit_origin(pk, sets[k], ctx);
    for (std::int64_t per : {1, 7, 100}) {
      PeakListChunks chunks(pk, per);
      std::vector<float> qy(pk.size(), -1), qx(pk.size(), -1);
      std::int64_t next = 0;
      const OriginResult st = fit_origin(chunks, sets[k], ctx, [&](const PeakChunk& c, const float* y, const float* x) {
        CHECK(c.first_position == next);
        next = c.first_position + c.n_positions;
        std::copy_n(y, c.n_peaks(), qy.begin() + static_cast<std::ptrdiff_t>(c.first_peak()));
        std::copy_n(x, c.n_peaks(), qx.begin() + static_cast<std::ptrdiff_t>(c.first_peak()));
      });
      INFO("parameter set " << k << ", " << per << " positions per chunk");
      CHECK(next == 576);
      CHECK(same_bits(qy, mem.corrected.qy));
      CHECK(same_bits(qx, mem.corrected.qx));
      CHECK(same_bits(st.origin.qy0, mem.origin.qy0));
      CHECK(same_bits(st.origin.qx0_measured, mem.origin.qx0_measured));
      CHECK(st.central_peak == mem.central_peak);
      CHECK(st.inlier == mem.inlier);
      CHECK(st.ellipse.fitted == mem.ellipse.fitted);
      CHECK(st.ellipse.b == mem.ellipse.b);
      CHECK(st.ellipse.theta_deg == mem.ellipse.theta_deg);
      CHECK(st.ring_radius_px == mem.ring_radius_px);
      CHECK(st.q_pixel_inv_A == mem.q_pixel_inv_A);
      CHECK(st.origin.calibration_source == mem.origin.calibration_source);
      CHECK(same_bits(st.bvm.counts, mem.bvm.counts));
      CHECK(st.notes == mem.notes);
    }
    CHECK(mem.origin.scan_rotation_deg == sets[k].scan_rotation_deg);
    CHECK(mem.origin.calibration_source == (k == 2 ? "ring" : k == 4 ? "given" : "none"));
  }
}

TEST_CASE("origin: a ring with more than kMaxRingPoints peaks is subsampled, the ellipse still to 0.2 %") {
  // 92 x the positions of sim_params(): about 3 peaks per position in the strongest ring (the
  // hexagonal phase's first shell), 1.6e5 in all
  SimParams sp = sim_params();
  sp.scan = {230, 230};
  sp.n_grains = 60;
  const SimTruth t = simulate_truth(sp);
  const PeakList pk = peaks_from_truth(t, 0.05, 17);
  RunContext ctx;
  std::vector<std::string> logged;
  ctx.log = [&](LogLevel, const std::string& m) { logged.push_back(m); };
  const OriginResult r = fit_origin(pk, OriginParams{}, ctx);
  REQUIRE(r.ellipse.fitted);
  const double ba = r.ellipse.b / r.ellipse.a;
  MESSAGE(pk.size() << " peaks; ring " << r.ring_q_min_px << ".." << r.ring_q_max_px << " px, " << r.ring_points
                    << " peaks used; b/a = " << ba << " (true " << 1 / sp.ellipse_ratio << ")");
  bool subsampled = false;
  for (const auto& m : logged) subsampled |= m.find("is used for the ellipse and the ring radius") != std::string::npos;
  CHECK(subsampled);
  CHECK(r.ring_points <= static_cast<std::int64_t>(kMaxRingPoints));
  CHECK(r.ring_points > static_cast<std::int64_t>(kMaxRingPoints) / 4);
  CHECK(std::abs(ba * sp.ellipse_ratio - 1) < 0.002);
  CHECK(axis_diff_deg(r.ellipse.theta_deg, sp.ellipse_angle_deg + 90) < 1);
  CHECK(r.ring_radius_px == doctest::Approx(r.ellipse.a).epsilon(0.002));
}
