// tests/test_simulate_map.cpp: the orientation-map generator (simulate_orientation_map): the
// same map for a seed on any number of threads, the grains it promises (every Voronoi grain,
// connected true grains, twins as grains of their own, a minimum disorientation between
// neighbours, two phases), the noise and bending it adds, Sigma3 twins in cubic maps, where the
// not-indexed positions go, parameter checks and the time for 1024 x 1024.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>
#include <set>
#include <vector>

#include "domainmap/error.hpp"
#include "domainmap/orientation.hpp"
#include "domainmap/simulate.hpp"
#include "domainmap/symmetry.hpp"

using namespace domainmap;
using Eigen::Quaterniond;
using Eigen::Vector3d;

namespace {

Quaterniond quat(const std::array<float, 4>& q) { return Quaterniond(q[0], q[1], q[2], q[3]); }
Quaterniond quat(const std::array<double, 4>& q) { return Quaterniond(q[0], q[1], q[2], q[3]); }

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}
bool same_bits(const std::vector<std::array<float, 4>>& a, const std::vector<std::array<float, 4>>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(a[0])) == 0);
}

// 4-connected components of a label map by breadth-first search (independent of the
// generator's union-find).
int count_components(const std::vector<std::int32_t>& lab, std::int64_t ny, std::int64_t nx) {
  std::vector<std::uint8_t> seen(lab.size(), 0);
  std::vector<std::int64_t> queue;
  int n = 0;
  for (std::int64_t s = 0; s < ny * nx; ++s) {
    if (seen[s]) continue;
    ++n;
    queue.assign(1, s);
    seen[s] = 1;
    for (std::size_t h = 0; h < queue.size(); ++h) {
      const std::int64_t i = queue[h], y = i / nx, x = i % nx;
      const std::int64_t nb[4] = {x > 0 ? i - 1 : -1, x + 1 < nx ? i + 1 : -1, y > 0 ? i - nx : -1, y + 1 < ny ? i + nx : -1};
      for (std::int64_t j : nb)
        if (j >= 0 && !seen[j] && lab[j] == lab[i]) {
          seen[j] = 1;
          queue.push_back(j);
        }
    }
  }
  return n;
}

// City-block distance (in 4-steps, capped at 10) of each position to the nearest position that
// has a 4-neighbour with another label.
std::vector<int> boundary_distance(const std::vector<std::int32_t>& lab, std::int64_t ny, std::int64_t nx) {
  std::vector<int> d(lab.size(), 10);
  std::vector<std::int64_t> queue;
  for (std::int64_t y = 0; y < ny; ++y)
    for (std::int64_t x = 0; x < nx; ++x) {
      const std::int64_t i = y * nx + x;
      if ((x > 0 && lab[i - 1] != lab[i]) || (x + 1 < nx && lab[i + 1] != lab[i]) || (y > 0 && lab[i - nx] != lab[i]) ||
          (y + 1 < ny && lab[i + nx] != lab[i])) {
        d[i] = 0;
        queue.push_back(i);
      }
    }
  for (std::size_t h = 0; h < queue.size(); ++h) {
    const std::int64_t i = queue[h], y = i / nx, x = i % nx;
    if (d[i] >= 9) continue;
    const std::int64_t nb[4] = {x > 0 ? i - 1 : -1, x + 1 < nx ? i + 1 : -1, y > 0 ? i - nx : -1, y + 1 < ny ? i + nx : -1};
    for (std::int64_t j : nb)
      if (j >= 0 && d[j] > d[i] + 1) {
        d[j] = d[i] + 1;
        queue.push_back(j);
      }
  }
  return d;
}

// Signed in-plane difference a - b wrapped into [-P/2, P/2), P = 360 / n.
double wrapped(double a, double b, int n) {
  const double P = 360.0 / n;
  double d = std::fmod(a - b, P);
  if (d < -P / 2) d += P;
  if (d >= P / 2) d -= P;
  return d;
}

} // namespace

TEST_CASE("simmap: the same map for a seed on 1 and 2 threads, another for another seed") {
  for (const char* sym : {"C6", "m-3m"}) {
    const std::string symbol = sym;
    CAPTURE(symbol);
    OrientationMapParams p;
    p.scan = {150, 170};
    p.n_grains = 40;
    p.symmetry = sym;
    p.n_phases = 2;
    p.second_symmetry = std::string(sym) == "C6" ? "C4" : "6/mmm";
    const SimulatedOrientationMap a = simulate_orientation_map(p, 1);
    const SimulatedOrientationMap b = simulate_orientation_map(p, 2);
    const SimulatedOrientationMap c = simulate_orientation_map(p, 0);
    CHECK(a.true_grain == b.true_grain);
    CHECK(a.true_grain == c.true_grain);
    CHECK(a.map.phase == b.map.phase);
    CHECK(same_bits(a.map.angle_deg, b.map.angle_deg));
    CHECK(same_bits(a.map.angle_deg, c.map.angle_deg));
    CHECK(same_bits(a.map.quaternion, b.map.quaternion));
    CHECK(a.map.three_d() == (std::string(sym) == "m-3m"));
    p.seed = 2;
    const SimulatedOrientationMap d = simulate_orientation_map(p, 2);
    CHECK(d.true_grain != a.true_grain);
    CHECK(!same_bits(d.map.angle_deg, a.map.angle_deg));
  }
}

TEST_CASE("simmap: grains: every Voronoi grain, connected true grains, twins as grains of their own") {
  OrientationMapParams p;
  p.scan = {256, 240};
  p.n_grains = 60;
  p.twin_fraction = 0.25;
  const SimulatedOrientationMap s = simulate_orientation_map(p);
  const std::int64_t ny = p.scan.y, nx = p.scan.x, n = ny * nx;
  const auto K = static_cast<std::int32_t>(s.grains.size());
  MESSAGE(K << " true grains from " << s.n_parents << " Voronoi grains, " << s.n_twinned << " twinned");
  CHECK(s.n_parents == 60);
  CHECK(std::set<std::int32_t>(s.parent_grain.begin(), s.parent_grain.end()).size() == 60);
  // round(0.25 x 60) = 15 lamellae; the clean-up may absorb a lamella only when it is a sliver
  CHECK(s.n_twinned >= 13);
  CHECK(s.n_twinned <= 15);
  // labels 0..K-1 in raster order of first position, each one 4-connected region
  std::int32_t next = 0;
  bool raster = true;
  for (auto l : s.true_grain) {
    if (l == next) ++next;
    else if (l > next) raster = false;
  }
  CHECK(raster);
  CHECK(next == K);
  CHECK(count_components(s.true_grain, ny, nx) == K);
  // a grain has one parent and one twin state, areas add up, and no grain is a sliver
  std::vector<std::int64_t> area(K, 0);
  bool one_parent = true;
  for (std::int64_t i = 0; i < n; ++i) {
    ++area[s.true_grain[i]];
    one_parent &= s.parent_grain[i] == s.grains[s.true_grain[i]].parent;
  }
  CHECK(one_parent);
  std::int64_t twins = 0, smallest = n;
  for (std::int32_t k = 0; k < K; ++k) {
    CHECK(area[k] == s.grains[k].area_px);
    smallest = std::min(smallest, area[k]);
    twins += s.grains[k].twin;
  }
  CHECK(smallest >= p.min_grain_px);
  // every twinned Voronoi grain keeps at least one untwinned piece; a lamella through the
  // middle usually cuts it in two, so K > parents + twins
  CHECK(twins >= s.n_twinned);
  for (const SimulatedGrain& g : s.grains)
    if (g.twin) {
      bool parent_piece = false;
      for (const SimulatedGrain& h : s.grains) parent_piece |= h.parent == g.parent && !h.twin;
      CHECK(parent_piece);
    }
  CHECK(K > s.n_parents + twins);
  // wavy boundaries: the displacement field moves a few % of the positions to other grains
  OrientationMapParams q = p;
  q.waviness_px = 0;
  const SimulatedOrientationMap straight = simulate_orientation_map(q);
  std::int64_t moved = 0;
  for (std::int64_t i = 0; i < n; ++i) moved += straight.parent_grain[i] != s.parent_grain[i];
  MESSAGE("waviness 4 px moves " << 100.0 * moved / n << " % of the positions");
  CHECK(moved > n / 50);
  CHECK(moved < n / 5);
}

TEST_CASE("simmap: neighbours differ by at least min_disorientation_deg, two phases") {
  for (const char* sym : {"C6", "m-3m"}) {
    const std::string symbol = sym;
    CAPTURE(symbol);
    OrientationMapParams p;
    p.scan = {256, 256};
    p.n_grains = 80;
    p.symmetry = sym;
    p.n_phases = 2;
    p.second_symmetry = std::string(sym) == "C6" ? "C4" : "m-3m";
    p.min_disorientation_deg = 12;
    const SimulatedOrientationMap s = simulate_orientation_map(p);
    CHECK(s.n_close_pairs == 0);
    // independently: every pair of adjacent true grains of one phase, at the grains' reference
    // orientations (no bending at a pair of one Voronoi grain: parent and twin are T apart)
    const std::int64_t ny = p.scan.y, nx = p.scan.x;
    std::set<std::pair<std::int32_t, std::int32_t>> pairs;
    for (std::int64_t y = 0; y < ny; ++y)
      for (std::int64_t x = 0; x < nx; ++x) {
        const std::int64_t i = y * nx + x;
        if (x + 1 < nx && s.true_grain[i] != s.true_grain[i + 1])
          pairs.insert(std::minmax(s.true_grain[i], s.true_grain[i + 1]));
        if (y + 1 < ny && s.true_grain[i] != s.true_grain[i + nx])
          pairs.insert(std::minmax(s.true_grain[i], s.true_grain[i + nx]));
      }
    double smallest = 180;
    int same_phase = 0;
    for (auto [a, b] : pairs) {
      const SimulatedGrain &ga = s.grains[a], &gb = s.grains[b];
      if (ga.phase != gb.phase) continue;
      ++same_phase;
      const RotationGroup& g = rotation_group(s.map.phases[ga.phase].symmetry);
      const double d = s.map.three_d() ? disorientation_angle(quat(ga.quaternion), quat(gb.quaternion), g)
                                       : disorientation_2d(ga.angle_deg, gb.angle_deg, g.z_order);
      smallest = std::min(smallest, d);
    }
    MESSAGE(same_phase << " adjacent same-phase pairs, smallest disorientation " << smallest << " deg");
    CHECK(same_phase > 100);
    CHECK(smallest >= 12 - 1e-9);
    // round(0.3 x 80) = 24 Voronoi grains are phase 1
    std::set<std::int32_t> phase1;
    for (const SimulatedGrain& g : s.grains)
      if (g.phase == 1) phase1.insert(g.parent);
    CHECK(phase1.size() == 24);
    CHECK(s.map.phases.size() == 2);
    CHECK(s.map.phases[1].symmetry == p.second_symmetry);
  }
}

TEST_CASE("simmap: angle noise has the requested sigma, bent grains the requested gradient (2D)") {
  OrientationMapParams p;
  p.scan = {400, 400};
  p.n_grains = 50;
  p.twin_fraction = 0.2;
  p.bent_fraction = 0.5;
  p.bending_deg_per_100px = 20;
  p.angle_noise_deg = 0.5;
  p.unindexed_fraction = 0.02;
  const SimulatedOrientationMap s = simulate_orientation_map(p);
  const std::int64_t ny = p.scan.y, nx = p.scan.x;
  // unbent grains: the angle minus the grain's angle is N(0, sigma^2)
  double sum = 0, sum2 = 0;
  std::int64_t m = 0;
  for (std::int64_t i = 0; i < ny * nx; ++i) {
    const SimulatedGrain& g = s.grains[s.true_grain[i]];
    if (s.map.phase[i] < 0 || g.bent) continue;
    const double d = wrapped(s.map.angle_deg[i], g.angle_deg, 6);
    sum += d;
    sum2 += d * d;
    ++m;
  }
  const double mean = sum / m, sd = std::sqrt(sum2 / m - mean * mean);
  MESSAGE("unbent grains: " << m << " positions, mean deviation " << mean << " deg, sd " << sd << " deg");
  CHECK(m > 50000);
  CHECK(std::abs(mean) < 0.01);
  CHECK(sd == doctest::Approx(0.5).epsilon(0.02));
  // bent grains: the mean difference of right and lower neighbours is the gradient vector,
  // of length 20 / 100 = 0.2 deg/px; unbent grains have none
  for (bool bent : {true, false}) {
    std::vector<double> gy(s.grains.size(), 0), gx(s.grains.size(), 0);
    std::vector<std::int64_t> ny_count(s.grains.size(), 0), nx_count(s.grains.size(), 0);
    for (std::int64_t y = 0; y + 1 < ny; ++y)
      for (std::int64_t x = 0; x + 1 < nx; ++x) {
        const std::int64_t i = y * nx + x;
        const std::int32_t k = s.true_grain[i];
        if (s.map.phase[i] < 0 || s.grains[k].bent != bent) continue;
        if (s.true_grain[i + 1] == k && s.map.phase[i + 1] >= 0) {
          gx[k] += wrapped(s.map.angle_deg[i + 1], s.map.angle_deg[i], 6);
          ++nx_count[k];
        }
        if (s.true_grain[i + nx] == k && s.map.phase[i + nx] >= 0) {
          gy[k] += wrapped(s.map.angle_deg[i + nx], s.map.angle_deg[i], 6);
          ++ny_count[k];
        }
      }
    double total = 0;
    int grains = 0;
    for (std::size_t k = 0; k < s.grains.size(); ++k)
      if (ny_count[k] > 500 && nx_count[k] > 500) {
        total += std::hypot(gy[k] / ny_count[k], gx[k] / nx_count[k]);
        ++grains;
      }
    MESSAGE(std::string(bent ? "bent" : "unbent") << " grains: mean gradient " << total / grains << " deg/px over " << grains);
    CHECK(grains >= 15);
    if (bent) CHECK(total / grains == doctest::Approx(0.2).epsilon(0.05));
    else CHECK(total / grains < 0.02);
  }
}

TEST_CASE("simmap: 3D orientation noise: each rotation-vector component has sigma") {
  OrientationMapParams p;
  p.scan = {256, 256};
  p.n_grains = 30;
  p.symmetry = "m-3m";
  p.bent_fraction = 0;
  p.twin_fraction = 0;
  p.angle_noise_deg = 0.5;
  const SimulatedOrientationMap s = simulate_orientation_map(p);
  const RotationGroup& g = rotation_group("m-3m");
  double s2[3] = {0, 0, 0}, mean_angle = 0;
  std::int64_t m = 0;
  for (std::int64_t i = 0; i < p.scan.y * p.scan.x; ++i) {
    if (s.map.phase[i] < 0) continue;
    const Quaterniond ref = quat(s.grains[s.true_grain[i]].quaternion);
    const Quaterniond e = nearest_equivalent(quat(s.map.quaternion[i]).normalized(), ref, g);
    const Quaterniond d = canonical(ref.conjugate() * e);
    const double angle = 2 * std::atan2(d.vec().norm(), d.w()) * 180 / std::numbers::pi;
    const Vector3d v = d.vec().norm() > 0 ? Vector3d(d.vec().normalized() * angle) : Vector3d::Zero();
    for (int c = 0; c < 3; ++c) s2[c] += v[c] * v[c];
    mean_angle += angle;
    ++m;
  }
  for (int c = 0; c < 3; ++c) {
    CAPTURE(c);
    CHECK(std::sqrt(s2[c] / m) == doctest::Approx(0.5).epsilon(0.03));
  }
  // Maxwell distribution: mean angle 2 sqrt(2 / pi) sigma = 0.798 deg
  CHECK(mean_angle / m == doctest::Approx(2 * std::sqrt(2 / std::numbers::pi) * 0.5).epsilon(0.02));
}

TEST_CASE("simmap: cubic twins are Sigma3 (60 deg about <111>) and 2D twins the fixed rotation") {
  OrientationMapParams p;
  p.scan = {256, 256};
  p.n_grains = 30;
  p.symmetry = "m-3m";
  p.twin_fraction = 0.5;
  p.bent_fraction = 0;
  p.angle_noise_deg = 0;
  p.unindexed_fraction = 0;
  const SimulatedOrientationMap s = simulate_orientation_map(p);
  const RotationGroup& g = rotation_group("m-3m");
  const Vector3d v111 = Vector3d(1, 1, 1).normalized();
  // the grain table, in double precision
  int pairs = 0;
  for (const SimulatedGrain& t : s.grains) {
    if (!t.twin) continue;
    for (const SimulatedGrain& h : s.grains) {
      if (h.parent != t.parent || h.twin) continue;
      const Disorientation d = disorientation(quat(h.quaternion), quat(t.quaternion), g);
      CHECK(d.angle == doctest::Approx(60).epsilon(1e-12));
      CHECK((d.axis - v111).norm() < 1e-9);
      ++pairs;
    }
  }
  CHECK(pairs >= 15);
  // the map, in float: every pixel pair across a twin boundary
  const std::int64_t ny = p.scan.y, nx = p.scan.x;
  int across = 0;
  double worst_angle = 0, worst_axis = 0;
  for (std::int64_t y = 0; y < ny; ++y)
    for (std::int64_t x = 0; x + 1 < nx; ++x) {
      const std::int64_t i = y * nx + x;
      const SimulatedGrain &a = s.grains[s.true_grain[i]], &b = s.grains[s.true_grain[i + 1]];
      if (a.parent != b.parent || a.twin == b.twin) continue;
      const Disorientation d = disorientation(quat(s.map.quaternion[i]), quat(s.map.quaternion[i + 1]), g);
      worst_angle = std::max(worst_angle, std::abs(d.angle - 60));
      worst_axis = std::max(worst_axis, (d.axis - v111).norm());
      ++across;
    }
  MESSAGE(across << " pixel pairs across twin boundaries: |angle - 60| <= " << worst_angle << " deg, axis within "
                 << worst_axis);
  CHECK(across > 500);
  CHECK(worst_angle < 1e-4);
  CHECK(worst_axis < 1e-5);
  // 2D: a twin is the parent's angle + twin_angle_deg (30 deg, the largest C6 disorientation)
  OrientationMapParams q = p;
  q.symmetry = "C6";
  const SimulatedOrientationMap t = simulate_orientation_map(q);
  int twins2d = 0;
  for (const SimulatedGrain& a : t.grains)
    for (const SimulatedGrain& b : t.grains)
      if (a.twin && !b.twin && a.parent == b.parent) {
        CHECK(disorientation_2d(a.angle_deg, b.angle_deg, 6) == doctest::Approx(30).epsilon(1e-12));
        CHECK(reduce_angle_2d(b.angle_deg + 30, 6) == doctest::Approx(a.angle_deg).epsilon(1e-12));
        ++twins2d;
      }
  CHECK(twins2d >= 15);
}

TEST_CASE("simmap: not-indexed positions: the requested fraction, concentrated on the boundaries") {
  OrientationMapParams p;
  p.scan = {512, 512};
  p.n_grains = 120;
  p.unindexed_fraction = 0.03;
  p.unindexed_on_boundary = 0.9;
  p.unindexed_band_px = 2;
  const SimulatedOrientationMap s = simulate_orientation_map(p);
  const std::int64_t ny = p.scan.y, nx = p.scan.x, n = ny * nx;
  const std::vector<int> d = boundary_distance(s.true_grain, ny, nx);
  std::int64_t band = 0, lost = 0, lost_band = 0, lost_far = 0;
  bool nan_where_lost = true;
  for (std::int64_t i = 0; i < n; ++i) {
    band += d[i] <= 1;
    if (s.map.phase[i] >= 0) continue;
    ++lost;
    lost_band += d[i] <= 1;
    lost_far += d[i] >= 3;
    nan_where_lost &= std::isnan(s.map.angle_deg[i]);
  }
  CHECK(band == s.n_band);
  const double f = double(lost) / n, f_band = double(band) / n;
  // expected: band positions lost with p_b = 0.9 x 0.03 / f_band, and every position with
  // p_a = 0.1 x 0.03 (independently)
  const double pb = 0.9 * 0.03 / f_band, pa = 0.1 * 0.03;
  const double e_band = f_band * (pb + pa - pb * pa), e_rest = (1 - f_band) * pa;
  const double share = double(lost_band) / lost, expect_share = e_band / (e_band + e_rest);
  MESSAGE("not indexed " << 100 * f << " % (expected " << 100 * (e_band + e_rest) << " %; band " << 100 * f_band
                         << " % of the positions); " << 100 * share << " % of them within 1.5 px of a boundary, expected "
                         << 100 * expect_share << " %; " << lost_far << " at >= 3.5 px");
  CHECK(nan_where_lost);
  CHECK(f == doctest::Approx(e_band + e_rest).epsilon(0.03));
  CHECK(share == doctest::Approx(expect_share).epsilon(0.02));
  CHECK(share > 0.9);
  CHECK(lost_far > 0);  // a few random ones inside grains
  CHECK(double(lost_far) / n == doctest::Approx(0.003 * std::count_if(d.begin(), d.end(), [](int v) { return v >= 3; }) / double(n)).epsilon(0.15));
}

TEST_CASE("simmap: parameter checks") {
  auto expect = [](OrientationMapParams p, const char* part) {
    try {
      simulate_orientation_map(p);
      FAIL("no error for " << part);
    } catch (const Error& e) {
      CAPTURE(e.what());
      CHECK(e.kind() == ErrorKind::bad_parameter);
      CHECK(std::string(e.what()).find(part) != std::string::npos);
    }
  };
  OrientationMapParams p;
  p.scan = {16, 16};
  p.n_grains = 4;
  CHECK_NOTHROW(simulate_orientation_map(p));
  OrientationMapParams q = p;
  q.n_grains = 300;
  expect(q, "orientation_map.n_grains = 300");
  q = p;
  q.symmetry = "C7";
  expect(q, "symmetry 'C7'");
  q = p;
  q.n_phases = 2;
  q.second_symmetry = "m-3m";
  expect(q, "orientation_map.second_symmetry = m-3m");
  q = p;
  q.twin_fraction = 1.5;
  expect(q, "orientation_map.twin_fraction = 1.5");
  q = p;
  q.unindexed_band_px = 0;
  expect(q, "orientation_map.unindexed_band_px = 0");
  q = p;
  q.angle_noise_deg = -1;
  expect(q, "orientation_map.angle_noise_deg = -1");
  // a single grain: no boundaries, the not-indexed positions go anywhere
  q = p;
  q.n_grains = 1;
  q.twin_fraction = 0;
  q.unindexed_fraction = 0.5;
  const SimulatedOrientationMap one = simulate_orientation_map(q);
  CHECK(one.grains.size() == 1);
  CHECK(one.n_band == 0);
  std::int64_t lost = 0;
  for (auto ph : one.map.phase) lost += ph < 0;
  CHECK(lost > 90);
  CHECK(lost < 166);
}

TEST_CASE("simmap: 1024 x 1024 on 2 threads (time)") {
  for (const char* sym : {"C6", "m-3m"}) {
    OrientationMapParams p;
    p.scan = {1024, 1024};
    p.n_grains = 400;
    p.symmetry = sym;
    const auto t0 = std::chrono::steady_clock::now();
    const SimulatedOrientationMap s = simulate_orientation_map(p, 2);
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    MESSAGE(std::string(sym) << " 1024x1024, " << s.grains.size() << " grains: " << sec << " s on 2 threads");
    CHECK(s.grains.size() > 400);
    CHECK(sec < 2.0);
  }
}
