// tests/test_segment.cpp: the `segment` stage: parameters and presets, exact labels on tiny
// hand-built maps (symmetry, phases, gradients and the growing rules, connectivity, small
// domains, filling), 3D quaternion maps, KAM and GOS, the domain table and size summary,
// sub-domains, a simulated Voronoi polycrystal against its truth (adjusted Rand index),
// determinism across threads, bad input, and the time for a 1024 x 1024 map.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <numbers>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "domainmap/error.hpp"
#include "domainmap/orientation.hpp"
#include "domainmap/params.hpp"
#include "domainmap/segment.hpp"
#include "domainmap/simulate.hpp"
#include "domainmap/symmetry.hpp"

using namespace domainmap;
using Eigen::Quaterniond;
using Eigen::Vector3d;

namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

// A 2D map with one phase of symmetry `sym`, angle(y, x) per position; NaN angle = not indexed.
OrientationMap map2d(std::int64_t ny, std::int64_t nx, const std::function<float(std::int64_t, std::int64_t)>& angle,
                     const std::string& sym = "C6") {
  OrientationMap m;
  m.scan = {ny, nx};
  m.phases = {PhaseInfo{"test", sym}};
  for (std::int64_t y = 0; y < ny; ++y)
    for (std::int64_t x = 0; x < nx; ++x) {
      const float a = angle(y, x);
      m.phase.push_back(std::isnan(a) ? -1 : 0);
      m.angle_deg.push_back(a);
    }
  return m;
}

// A 3D map, one phase; q(y, x) per position.
OrientationMap map3d(std::int64_t ny, std::int64_t nx, const std::function<Quaterniond(std::int64_t, std::int64_t)>& q,
                     const std::string& sym) {
  OrientationMap m;
  m.scan = {ny, nx};
  m.phases = {PhaseInfo{"test", sym}};
  for (std::int64_t y = 0; y < ny; ++y)
    for (std::int64_t x = 0; x < nx; ++x) {
      const Quaterniond r = q(y, x);
      m.phase.push_back(0);
      m.quaternion.push_back({float(r.w()), float(r.x()), float(r.y()), float(r.z())});
      m.angle_deg.push_back(0);
    }
  return m;
}

Segmentation run(const OrientationMap& m, const SegmentParams& p = {}, int threads = 0) {
  RunContext ctx;
  ctx.threads = threads;
  return segment(m, p, ctx);
}

std::vector<std::int32_t> labels_of(std::initializer_list<std::int32_t> v) { return v; }

// Deterministic normal numbers (Box-Muller on mt19937_64).
struct Normal {
  std::mt19937_64 rng;
  explicit Normal(std::uint64_t seed) : rng(seed) {}
  double uniform() { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }
  double operator()() {
    const double u = 1 - uniform(), v = uniform();
    return std::sqrt(-2 * std::log(u)) * std::cos(2 * std::numbers::pi * v);
  }
};

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Labels 0..K-1 appear for the first time in raster order.
bool raster_numbered(const std::vector<std::int32_t>& labels) {
  std::int32_t next = 0;
  for (auto l : labels) {
    if (l < 0 || l < next) continue;
    if (l != next) return false;
    ++next;
  }
  return true;
}

// Simulated truth (Voronoi grains, two phases: hexagonal C6 and square C4) with the angles
// replaced so that adjacent grains of one phase differ by at least 12 (C6) or 15 (C4) degrees,
// 0.5 deg Gaussian angle noise and 3 % not-indexed positions.
struct Voronoi {
  OrientationMap map;
  std::vector<std::int32_t> truth;
  int n_grains = 0;
  int truth_components = 0;
};

Voronoi make_voronoi() {
  SimParams sp;
  sp.scan = {96, 96};
  sp.n_grains = 20;
  sp.seed = 7;
  const SimTruth t = simulate_truth(sp);
  Voronoi v;
  v.truth = t.labels;
  v.n_grains = sp.n_grains;
  const std::int64_t ny = t.scan.y, nx = t.scan.x, n = ny * nx;
  // grain adjacency (8-neighbours)
  std::vector<std::set<int>> adj(sp.n_grains);
  for (std::int64_t y = 0; y < ny; ++y)
    for (std::int64_t x = 0; x < nx; ++x)
      for (int dy = 0; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          if (dy == 0 && dx <= 0) continue;
          const std::int64_t yy = y + dy, xx = x + dx;
          if (yy >= ny || xx < 0 || xx >= nx) continue;
          const int a = t.labels[y * nx + x], b = t.labels[yy * nx + xx];
          if (a != b) {
            adj[a].insert(b);
            adj[b].insert(a);
          }
        }
  // greedy colouring from a palette per symmetry
  std::vector<double> angle(sp.n_grains, -1);
  for (int g = 0; g < sp.n_grains; ++g) {
    const int ph = t.grains[g].phase;
    const int nf = t.lattices[ph].symmetry_n;
    const double spacing = nf == 6 ? 12 : 15;
    for (double c = 3; c < 360.0 / nf && angle[g] < 0; c += spacing) {
      bool ok = true;
      for (int b : adj[g])
        if (angle[b] >= 0 && t.grains[b].phase == ph && disorientation_2d(c, angle[b], nf) < spacing - 1e-9) ok = false;
      if (ok) angle[g] = c;
    }
    REQUIRE(angle[g] >= 0);
  }
  // 4-connected components of the truth (the grains should each be one)
  {
    std::vector<int> seen(n, 0);
    std::vector<std::int64_t> stack;
    for (std::int64_t s = 0; s < n; ++s) {
      if (seen[s]) continue;
      ++v.truth_components;
      seen[s] = 1;
      stack = {s};
      while (!stack.empty()) {
        const std::int64_t i = stack.back();
        stack.pop_back();
        const std::int64_t y = i / nx, x = i % nx;
        const std::int64_t nb[4] = {y > 0 ? i - nx : -1, x > 0 ? i - 1 : -1, x + 1 < nx ? i + 1 : -1,
                                    y + 1 < ny ? i + nx : -1};
        for (std::int64_t j : nb)
          if (j >= 0 && !seen[j] && t.labels[j] == t.labels[i]) {
            seen[j] = 1;
            stack.push_back(j);
          }
      }
    }
  }
  OrientationMap& m = v.map;
  m.scan = t.scan;
  for (std::size_t k = 0; k < t.lattices.size(); ++k)
    m.phases.push_back(PhaseInfo{t.phase_names[k], "C" + std::to_string(t.lattices[k].symmetry_n)});
  Normal noise(11);
  for (std::int64_t i = 0; i < n; ++i) {
    const int g = t.labels[i];
    const int ph = t.grains[g].phase;
    const double a = reduce_angle_2d(angle[g] + 0.5 * noise(), t.lattices[ph].symmetry_n);
    const bool unindexed = noise.uniform() < 0.03;
    m.phase.push_back(unindexed ? -1 : ph);
    m.angle_deg.push_back(unindexed ? kNaN : static_cast<float>(a));
    m.score.push_back(unindexed ? 0.0f : 0.9f);
  }
  return v;
}

}  // namespace

TEST_CASE("segment: parameters, validation and presets") {
  const SegmentParams d;
  CHECK(d.preset == "none");
  CHECK(d.threshold_deg == 5);
  CHECK(d.rule == "neighbour");
  CHECK(d.connectivity == 4);
  CHECK(d.min_size == 1);
  CHECK(d.small_domains == "merge");
  CHECK(d.fill_unindexed);
  CHECK(d.fill_max_px == 2);
  CHECK(d.subdomain_threshold_deg == 0);
  CHECK_NOTHROW(validate(d));

  struct Expect {
    const char* name;
    double threshold;
    const char* rule;
    int connectivity, min_size;
    const char* small;
  };
  const Expect presets[] = {{"none", 5, "neighbour", 4, 1, "merge"},
                            {"mtex", 10, "neighbour", 4, 1, "merge"},
                            {"dream3d", 5, "neighbour", 4, 1, "merge"},
                            {"oim", 5, "neighbour", 4, 2, "drop"},
                            {"py4dstem", 5, "mean", 8, 1, "merge"}};
  CHECK(segment_presets().size() == 5);
  for (const Expect& e : presets) {
    CAPTURE(e.name);
    SegmentParams p;
    p.fill_unindexed = false;  // not preset-controlled: kept
    p.fill_max_px = 5;
    apply_preset(p, e.name);
    CHECK(p.preset == e.name);
    CHECK(p.threshold_deg == e.threshold);
    CHECK(p.rule == e.rule);
    CHECK(p.connectivity == e.connectivity);
    CHECK(p.min_size == e.min_size);
    CHECK(p.small_domains == e.small);
    CHECK_FALSE(p.fill_unindexed);
    CHECK(p.fill_max_px == 5);
    CHECK_NOTHROW(validate(p));
  }
  SegmentParams p;
  CHECK_THROWS_AS(apply_preset(p, "edax"), Error);

  // Through the parameter list: the preset first, then explicit options override it.
  ParamList list;
  list.stage("segment", [&](ParamSink& s) { describe(p, s); });
  REQUIRE(!list.refs().empty());
  CHECK(list.refs()[0].key == "segment.preset");
  list.set("segment.preset", "mtex");
  CHECK(p.threshold_deg == 10);
  list.set("segment.threshold_deg", "7");
  list.set("segment.connectivity", "8");
  CHECK(p.threshold_deg == 7);
  CHECK(p.connectivity == 8);
  CHECK(p.preset == "mtex");
  CHECK(list.find("segment.preset")->get() == "mtex");
  CHECK_THROWS_AS(list.set("segment.preset", "nope"), Error);
  CHECK_THROWS_AS(list.set("segment.rule", "bfs"), Error);
  // /config round trip: values in declaration order restore the same struct
  SegmentParams q;
  ParamList list2;
  list2.stage("segment", [&](ParamSink& s) { describe(q, s); });
  for (const auto& [k, v] : list.values()) list2.set(k, v);
  CHECK(q == p);

  auto bad = [](const std::function<void(SegmentParams&)>& edit, const char* key) {
    SegmentParams b;
    edit(b);
    try {
      validate(b);
      FAIL("no error for " << key);
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::bad_parameter);
      CHECK(std::string(e.what()).find(key) != std::string::npos);
      CHECK(std::string(e.what()).find('\n') == std::string::npos);
    }
  };
  bad([](SegmentParams& b) { b.threshold_deg = 0; }, "segment.threshold_deg = 0");
  bad([](SegmentParams& b) { b.threshold_deg = -3; }, "segment.threshold_deg");
  bad([](SegmentParams& b) { b.threshold_deg = 181; }, "segment.threshold_deg = 181");
  bad([](SegmentParams& b) { b.min_size = 0; }, "segment.min_size = 0");
  bad([](SegmentParams& b) { b.connectivity = 6; }, "segment.connectivity = 6");
  bad([](SegmentParams& b) { b.subdomain_threshold_deg = 5; }, "segment.subdomain_threshold_deg = 5");
  bad([](SegmentParams& b) { b.kam_max_deg = 0; }, "segment.kam_max_deg");
  bad([](SegmentParams& b) { b.small_domains = "absorb"; }, "segment.small_domains");
  bad([](SegmentParams& b) { b.preset = "x"; }, "segment.preset");
  bad([](SegmentParams& b) { b.min_score = 1.5; }, "segment.min_score");
  // segment() validates too
  const OrientationMap m = map2d(2, 2, [](auto, auto) { return 0.0f; });
  SegmentParams b;
  b.threshold_deg = 0;
  CHECK_THROWS_AS(run(m, b), Error);
}

TEST_CASE("segment: symmetry and phases decide the boundaries (2D)") {
  // Two halves at 0 and 30 deg under C6: disorientation 30 -> 2 domains.
  auto halves = [](float left, float right, const std::string& sym) {
    return map2d(4, 6, [=](auto, std::int64_t x) { return x < 3 ? left : right; }, sym);
  };
  const std::vector<std::int32_t> two{0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1};
  {
    const Segmentation s = run(halves(0, 30, "C6"));
    CHECK(s.n_domains() == 2);
    CHECK(s.labels == two);
  }
  // 0 and 59 deg under C6 are 1 deg apart: one domain.
  {
    const Segmentation s = run(halves(0, 59, "C6"));
    CHECK(s.n_domains() == 1);
    CHECK(s.table[0].mean_angle_deg == doctest::Approx(59.5).epsilon(1e-9));
    CHECK(s.table[0].spread_deg == doctest::Approx(0.5).epsilon(1e-9));
  }
  // The same 59 deg under C2 (period 180) is a boundary; 178 and 1 deg under C2 are 3 apart.
  CHECK(run(halves(0, 59, "C2")).n_domains() == 2);
  CHECK(run(halves(178, 1, "C2")).n_domains() == 1);
  // 2D mode with a 3D symbol: the rotation about the beam of m-3m is 4-fold (period 90).
  CHECK(run(halves(1, 88, "m-3m")).n_domains() == 1);
  CHECK(run(halves(1, 44, "m-3m")).n_domains() == 2);
  // Threshold: 4.9 deg apart joins at 5, not at 4.
  {
    SegmentParams p;
    CHECK(run(halves(10, 14.9f, "C6"), p).n_domains() == 1);
    p.threshold_deg = 4;
    CHECK(run(halves(10, 14.9f, "C6"), p).n_domains() == 2);
  }
  // A phase change at an equal angle always separates.
  {
    OrientationMap m = halves(10, 10, "C6");
    m.phases.push_back(PhaseInfo{"other", "C6"});
    for (std::size_t i = 0; i < m.phase.size(); ++i)
      if (i % 6 >= 3) m.phase[i] = 1;
    const Segmentation s = run(m);
    CHECK(s.n_domains() == 2);
    CHECK(s.labels == two);
    CHECK(s.table[0].phase == 0);
    CHECK(s.table[1].phase == 1);
  }
}

TEST_CASE("segment: a gradient is one domain by the neighbour rule, several by seed and mean") {
  // 0.5 deg per position over 40 positions (0 .. 19.5 deg, C6).
  const OrientationMap row = map2d(1, 40, [](auto, std::int64_t x) { return 0.5f * static_cast<float>(x); });
  SegmentParams p;
  CHECK(run(row, p).n_domains() == 1);
  // Away from the knife edges at exactly 5 and 4.75 deg: threshold 4.6.
  p.threshold_deg = 4.6;
  CHECK(run(row, p).n_domains() == 1);
  // seed: |0.5 x - seed| < 4.6 -> 10 positions per domain.
  p.rule = "seed";
  {
    const Segmentation s = run(row, p);
    REQUIRE(s.n_domains() == 4);
    for (int x = 0; x < 40; ++x) CHECK(s.labels[x] == x / 10);
  }
  // mean: the candidate k is compared with the mean 0.25 (k - 1) of the k members before it:
  // 0.25 k + 0.25 < 4.6 -> k <= 17, so 18 positions, then 18, then the last 4.
  p.rule = "mean";
  {
    const Segmentation s = run(row, p);
    REQUIRE(s.n_domains() == 3);
    CHECK(s.table[0].area_px == 18);
    CHECK(s.table[1].area_px == 18);
    CHECK(s.table[2].area_px == 4);
    CHECK(s.table[0].mean_angle_deg == doctest::Approx(4.25).epsilon(1e-9));
  }
  // The same along x in a 2D map (8 rows).
  const OrientationMap grad = map2d(8, 40, [](auto, std::int64_t x) { return 0.5f * static_cast<float>(x); });
  p.rule = "neighbour";
  p.threshold_deg = 5;
  CHECK(run(grad, p).n_domains() == 1);
  p.rule = "mean";
  CHECK(run(grad, p).n_domains() >= 2);
  p.rule = "seed";
  CHECK(run(grad, p).n_domains() >= 4);
}

TEST_CASE("segment: 4- and 8-connectivity on a diagonal") {
  // A diagonal line at 20 deg through a 0 deg background.
  const OrientationMap m = map2d(4, 4, [](std::int64_t y, std::int64_t x) { return y == x ? 20.0f : 0.0f; });
  SegmentParams p;
  const Segmentation s4 = run(m, p);
  CHECK(s4.n_domains() == 6);
  CHECK(s4.labels == labels_of({0, 1, 1, 1, 2, 3, 1, 1, 2, 2, 4, 1, 2, 2, 2, 5}));
  p.connectivity = 8;
  const Segmentation s8 = run(m, p);
  CHECK(s8.n_domains() == 2);
  CHECK(s8.labels == labels_of({0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0}));
  CHECK(s8.table[0].n_neighbours == 1);
  CHECK(s4.table[0].n_neighbours == 2);  // 4-adjacent to both triangles
  // the mean rule with 8 neighbours as well
  p.rule = "mean";
  CHECK(run(m, p).labels == s8.labels);
}

TEST_CASE("segment: small domains merged, dropped or kept") {
  // A single position at 20 deg inside a 0 deg background.
  const OrientationMap m = map2d(5, 5, [](std::int64_t y, std::int64_t x) { return y == 2 && x == 2 ? 20.0f : 0.0f; });
  SegmentParams p;
  p.min_size = 2;
  {
    const Segmentation s = run(m, p);
    CHECK(s.n_domains() == 1);
    CHECK(s.labels == std::vector<std::int32_t>(25, 0));
    CHECK(s.summary.n_merged == 1);
    CHECK(s.table[0].area_px == 25);
    CHECK(s.table[0].n_oriented == 25);
  }
  p.small_domains = "drop";
  {
    const Segmentation s = run(m, p);
    CHECK(s.n_domains() == 1);
    CHECK(s.labels[12] == -1);
    CHECK(s.summary.n_dropped == 1);
    CHECK(s.table[0].area_px == 24);
    CHECK(s.table[0].perimeter_px == 20 + 4);
    CHECK(s.summary.fraction_unlabelled == doctest::Approx(1.0 / 25));
  }
  p.small_domains = "keep";
  CHECK(run(m, p).n_domains() == 2);
  p.small_domains = "merge";
  p.min_size = 1;
  CHECK(run(m, p).n_domains() == 2);

  // Tie-breaks on a row: 0 0 X 20 20 with X alone between two domains (one shared edge each).
  auto row = [](float mid) {
    return map2d(1, 5, [=](auto, std::int64_t x) { return x < 2 ? 0.0f : x == 2 ? mid : 20.0f; });
  };
  p.min_size = 2;
  CHECK(run(row(12), p).labels == labels_of({0, 0, 1, 1, 1}));  // 8 deg from the right domain
  CHECK(run(row(8), p).labels == labels_of({0, 0, 0, 1, 1}));   // 8 deg from the left one
  CHECK(run(row(10), p).labels == labels_of({0, 0, 0, 1, 1}));  // equal: the lower label
  // The longest shared boundary wins over the smaller disorientation: the centre of
  //   0 20 20 / 0 8 20 / 0 20 20 shares 3 edges with the 20 deg domain, 1 with the 0 deg one.
  const OrientationMap c = map2d(3, 3, [](std::int64_t y, std::int64_t x) {
    return x == 0 ? 0.0f : (y == 1 && x == 1) ? 8.0f : 20.0f;
  });
  CHECK(run(c, p).labels == labels_of({0, 1, 1, 0, 1, 1, 0, 1, 1}));
  // Under C4 (period 90): 0 0 0 20 40 40 40, min_size 3: 20 is 20 deg from both -> the lower label.
  const OrientationMap g = map2d(1, 7, [](auto, std::int64_t x) { return x < 3 ? 0.0f : x == 3 ? 20.0f : 40.0f; }, "C4");
  p.min_size = 3;
  CHECK(run(g, p).labels == labels_of({0, 0, 0, 0, 1, 1, 1}));
  // Two small neighbours: 0 0 0 0 | 20 | 42 | 64 64 64 64 (C4), min_size 3: 20 (1 px) goes left
  // (20 deg vs 22), then 42 shares one edge with the grown left domain and one with the right
  // one, and is 42 deg from the left's mean (as first segmented) but 22 from the right's: right.
  const OrientationMap h = map2d(1, 10, [](auto, std::int64_t x) {
    return x < 4 ? 0.0f : x == 4 ? 20.0f : x == 5 ? 42.0f : 64.0f;
  }, "C4");
  const Segmentation sh = run(h, p);
  CHECK(sh.labels == labels_of({0, 0, 0, 0, 0, 1, 1, 1, 1, 1}));
  CHECK(sh.summary.n_merged == 2);
}

TEST_CASE("segment: not-indexed positions kept or filled") {
  // A A - - - B B: the gap is filled from both sides; the middle is 2 px from both and takes the
  // nearer source of lower position index (A).
  const OrientationMap m = map2d(1, 7, [](auto, std::int64_t x) { return x < 2 ? 0.0f : x > 4 ? 20.0f : kNaN; });
  SegmentParams p;
  p.fill_unindexed = false;
  {
    const Segmentation s = run(m, p);
    CHECK(s.labels == labels_of({0, 0, -1, -1, -1, 1, 1}));
    CHECK(s.summary.n_filled == 0);
    CHECK(s.summary.fraction_unindexed == doctest::Approx(3.0 / 7));
    CHECK(s.summary.fraction_unlabelled == doctest::Approx(3.0 / 7));
    CHECK(std::isnan(s.kam_deg[3]));
    CHECK(std::isnan(s.gos_deg[3]));
    CHECK(s.table[0].perimeter_px == 6);
  }
  p = SegmentParams{};  // the default fills
  {
    const Segmentation s = run(m, p);
    CHECK(s.labels == labels_of({0, 0, 0, 0, 1, 1, 1}));
    CHECK(s.summary.n_filled == 3);
    CHECK(s.summary.fraction_unindexed == doctest::Approx(3.0 / 7));
    CHECK(s.summary.fraction_unlabelled == 0);
    CHECK(s.table[0].area_px == 4);
    CHECK(s.table[0].n_oriented == 2);
    CHECK(std::isnan(s.kam_deg[3]));  // filled positions have no orientation
    CHECK(s.gos_deg[3] == 0);
  }
  // fill_max_px: A - - - - - - - B reaches 2 px from each side, the middle 3 stay -1; 0 = no fill.
  const OrientationMap gap = map2d(1, 9, [](auto, std::int64_t x) { return x == 0 ? 0.0f : x == 8 ? 20.0f : kNaN; });
  {
    const Segmentation s = run(gap, p);
    CHECK(s.labels == labels_of({0, 0, 0, -1, -1, -1, 1, 1, 1}));
    CHECK(s.summary.n_filled == 4);
    CHECK(s.summary.fraction_unlabelled == doctest::Approx(3.0 / 9));
    p.fill_max_px = 3;
    CHECK(run(gap, p).labels == labels_of({0, 0, 0, 0, -1, 1, 1, 1, 1}));
    p.fill_max_px = 4;  // the middle is 4 px from both: the lower source (A)
    CHECK(run(gap, p).labels == labels_of({0, 0, 0, 0, 0, 1, 1, 1, 1}));
    p.fill_max_px = 0;
    CHECK(run(gap, p).labels == labels_of({0, -1, -1, -1, -1, -1, -1, -1, 1}));
    p.fill_max_px = 2;
  }
  // A measured position cut off from its grain by a ring of not-indexed ones joins the grain
  // when filled (one domain), is a domain of its own when not. Means use measured positions only.
  const OrientationMap ring = map2d(5, 5, [](std::int64_t y, std::int64_t x) {
    if (y == 2 && x == 2) return 1.0f;
    if (y >= 1 && y <= 3 && x >= 1 && x <= 3) return kNaN;
    return 0.0f;
  });
  {
    const Segmentation s = run(ring, p);
    CHECK(s.n_domains() == 1);
    CHECK(s.table[0].area_px == 25);
    CHECK(s.table[0].n_oriented == 17);
    // axial mean of sixteen 0 deg and one 1 deg (C6): atan2(sin 6, 16 + cos 6) / 6; with the
    // filled positions' copies (two 1 deg, six 0 deg) it would be about twice that
    const double r = std::numbers::pi / 180;
    CHECK(s.table[0].mean_angle_deg == doctest::Approx(std::atan2(std::sin(6 * r), 16 + std::cos(6 * r)) / 6 / r).epsilon(1e-6));
    CHECK(s.summary.n_filled == 8);
    SegmentParams q;
    q.fill_unindexed = false;
    const Segmentation t = run(ring, q);
    CHECK(t.n_domains() == 2);
    CHECK(t.labels[12] == 1);
    CHECK(t.table[1].area_px == 1);
  }
  // 4 - 0 0: the filled position copies the 4 deg (the equally near source of lower index) but
  // the mean is over the measured positions 4, 0, 0 only.
  {
    const OrientationMap row = map2d(1, 4, [](auto, std::int64_t x) { return x == 0 ? 4.0f : x == 1 ? kNaN : 0.0f; });
    const Segmentation s = run(row, p);
    REQUIRE(s.n_domains() == 1);
    CHECK(s.table[0].area_px == 4);
    CHECK(s.table[0].n_oriented == 3);
    const double r = std::numbers::pi / 180;  // axial mean of 4, 0, 0 (C6); 4, 4, 0, 0 would give 2
    CHECK(s.table[0].mean_angle_deg == doctest::Approx(std::atan2(std::sin(24 * r), 2 + std::cos(24 * r)) / 6 / r).epsilon(1e-6));
    CHECK(s.table[0].mean_angle_deg < 1.5);
    CHECK(std::isnan(s.kam_deg[1]));
  }
  // A different phase is not bridged: the filled position takes one side's phase and orientation.
  {
    OrientationMap two = map2d(1, 5, [](auto, std::int64_t x) { return x == 2 ? kNaN : 0.0f; });
    two.phases.push_back(PhaseInfo{"other", "C6"});
    two.phase[3] = two.phase[4] = 1;
    const Segmentation s = run(two, p);
    CHECK(s.labels == labels_of({0, 0, 0, 1, 1}));
    CHECK(s.table[1].phase == 1);
  }
  // The hole at the centre of a 3 x 3 block of A with B on the right column: all four
  // neighbours are 1 px away; the up neighbour (lowest index) is A.
  const OrientationMap c = map2d(3, 3, [](std::int64_t y, std::int64_t x) {
    return (y == 1 && x == 1) ? kNaN : x == 2 ? 20.0f : 0.0f;
  });
  CHECK(run(c, p).labels == labels_of({0, 0, 1, 0, 0, 1, 0, 0, 1}));
  // 8-connectivity fills by chessboard distance: the corner of a 3 x 3 hole in a 5 x 5 block.
  {
    const OrientationMap h = map2d(5, 5, [](std::int64_t y, std::int64_t x) {
      return (y >= 1 && y <= 3 && x >= 1 && x <= 3) ? kNaN : 0.0f;
    });
    SegmentParams q;
    q.fill_max_px = 1;
    const Segmentation s4 = run(h, q);
    CHECK(s4.labels[12] == -1);  // 2 px from the data (city-block)
    CHECK(s4.summary.n_filled == 8);
    q.connectivity = 8;
    CHECK(run(h, q).labels[12] == -1);  // 2 px (chessboard) as well
    CHECK(run(h, q).summary.n_filled == 8);
    q.fill_max_px = 2;
    CHECK(run(h, q).summary.n_filled == 9);
  }
  // Nothing indexed: nothing to fill from.
  const OrientationMap none = map2d(3, 3, [](auto, auto) { return kNaN; });
  const Segmentation s = run(none, p);
  CHECK(s.n_domains() == 0);
  CHECK(s.labels == std::vector<std::int32_t>(9, -1));
  CHECK(s.summary.fraction_unindexed == 1);
  // min_score: positions scored below it count as not indexed; without filling they split the
  // row, filled they are bridged.
  OrientationMap sc = map2d(1, 4, [](auto, auto) { return 0.0f; });
  sc.score = {0.9f, 0.1f, 0.9f, 0.9f};
  SegmentParams q;
  q.min_score = 0.5;
  q.fill_unindexed = false;
  CHECK(run(sc, q).labels == labels_of({0, -1, 1, 1}));
  q.fill_unindexed = true;
  CHECK(run(sc, q).labels == labels_of({0, 0, 0, 0}));
  q.fill_max_px = -1;
  CHECK_THROWS_AS(validate(q), Error);
}

TEST_CASE("segment: 3D orientations under Laue groups") {
  const Quaterniond q0 = quat_from_euler(31, 47, 12);
  const Vector3d x(1, 0, 0), z(0, 0, 1), odd(0.3, -0.5, 0.8);
  auto halves = [&](const Quaterniond& right, const std::string& sym) {
    return map3d(4, 6, [&](auto, std::int64_t xx) { return xx < 3 ? q0 : right; }, sym);
  };
  // 90 deg about x is a symmetry of m-3m: one domain; 20 deg about z: two.
  CHECK(run(halves(q0 * quat_from_axis_angle(x, 90), "m-3m")).n_domains() == 1);
  CHECK(run(halves(q0 * quat_from_axis_angle(z, 20), "m-3m")).n_domains() == 2);
  CHECK(run(halves(q0 * quat_from_axis_angle(odd, 3), "m-3m")).n_domains() == 1);
  CHECK(run(halves(q0 * quat_from_axis_angle(z, 60), "6/mmm")).n_domains() == 1);
  CHECK(run(halves(q0 * quat_from_axis_angle(z, 60), "mmm")).n_domains() == 2);
  // the domain's mean is q0 (in the fundamental zone)
  const Segmentation s = run(halves(q0 * quat_from_axis_angle(x, 90), "m-3m"));
  const auto& mq = s.table[0].mean_quaternion;
  CHECK(disorientation_angle(Quaterniond(mq[0], mq[1], mq[2], mq[3]), q0, rotation_group("m-3m")) < 1e-4);
  CHECK(std::isnan(s.table[0].mean_angle_deg));
  // a 3D gradient of 0.5 deg per position about an odd axis: one domain by the neighbour rule,
  // KAM = 0.5, four domains by the seed rule at 4.6 deg
  const OrientationMap g = map3d(1, 40, [&](auto, std::int64_t xx) {
    return q0 * quat_from_axis_angle(odd, 0.5 * static_cast<double>(xx));
  }, "432");
  SegmentParams p;
  const Segmentation sg = run(g, p);
  CHECK(sg.n_domains() == 1);
  for (int i = 0; i < 40; ++i) CHECK(sg.kam_deg[i] == doctest::Approx(0.5).epsilon(1e-3));
  CHECK(sg.table[0].spread_deg == doctest::Approx(5.0).epsilon(2e-3));  // mean |0.5 x - 9.75|
  p.threshold_deg = 4.6;
  p.rule = "seed";
  CHECK(run(g, p).n_domains() == 4);
  p.rule = "mean";
  CHECK(run(g, p).n_domains() == 3);
}

TEST_CASE("segment: kernel average misorientation and grain orientation spread") {
  SegmentParams p;
  // uniform domain: 0
  {
    const Segmentation s = run(map2d(5, 5, [](auto, auto) { return 17.0f; }), p);
    for (float k : s.kam_deg) CHECK(k == 0);
    for (float g : s.gos_deg) CHECK(g == 0);
  }
  // one row, 0.5 deg per position: KAM = the step everywhere
  {
    const Segmentation s = run(map2d(1, 40, [](auto, std::int64_t x) { return 0.5f * static_cast<float>(x); }), p);
    for (float k : s.kam_deg) CHECK(k == doctest::Approx(0.5).epsilon(1e-6));
    // GOS: mean |0.5 x - 9.75| over x = 0..39 = 5
    CHECK(s.table[0].spread_deg == doctest::Approx(5.0).epsilon(1e-6));
    CHECK(s.table[0].max_dev_deg == doctest::Approx(9.75).epsilon(1e-6));
    CHECK(s.gos_deg[7] == doctest::Approx(5.0).epsilon(1e-6));
  }
  // 2D gradient along x: interior KAM is 2/4 x step (4 neighbours) or 6/8 x step (8)
  {
    const OrientationMap g = map2d(6, 20, [](auto, std::int64_t x) { return 0.5f * static_cast<float>(x); });
    p.kam_connectivity = 4;
    CHECK(run(g, p).kam_deg[2 * 20 + 5] == doctest::Approx(0.25).epsilon(1e-6));
    p.kam_connectivity = 8;
    CHECK(run(g, p).kam_deg[2 * 20 + 5] == doctest::Approx(0.375).epsilon(1e-6));
  }
  // checkerboard of 1 and 3 deg: one domain, mean 2, GOS 1; KAM 2 (4 neighbours), 1 (8, interior)
  {
    const OrientationMap cb = map2d(4, 4, [](std::int64_t y, std::int64_t x) { return (y + x) % 2 ? 3.0f : 1.0f; });
    p.kam_connectivity = 4;
    const Segmentation s = run(cb, p);
    REQUIRE(s.n_domains() == 1);
    CHECK(s.table[0].mean_angle_deg == doctest::Approx(2.0).epsilon(1e-9));
    for (float g : s.gos_deg) CHECK(g == doctest::Approx(1.0).epsilon(1e-6));
    for (float k : s.kam_deg) CHECK(k == doctest::Approx(2.0).epsilon(1e-6));
    p.kam_connectivity = 8;
    CHECK(run(cb, p).kam_deg[5] == doctest::Approx(1.0).epsilon(1e-6));
    p.kam_max_deg = 1.5;  // the 2 deg neighbours are ignored: only the equal diagonals remain
    CHECK(run(cb, p).kam_deg[5] == 0);
    p.kam_connectivity = 4;
    CHECK(std::isnan(run(cb, p).kam_deg[5]));  // no neighbour left
  }
  // KAM stops at domain boundaries
  {
    SegmentParams q;
    const Segmentation s = run(map2d(1, 4, [](auto, std::int64_t x) { return x < 2 ? 0.0f : 30.0f; }), q);
    CHECK(s.kam_deg == std::vector<float>{0, 0, 0, 0});
  }
}

TEST_CASE("segment: domain table and size summary") {
  // A 3 x 3 square at 20 deg (rows 2..4, columns 3..5) in an 8 x 8 background at 0 deg.
  OrientationMap m = map2d(8, 8, [](std::int64_t y, std::int64_t x) {
    return (y >= 2 && y <= 4 && x >= 3 && x <= 5) ? 20.0f : 0.0f;
  });
  m.scan_step_nm = 2;
  const Segmentation s = run(m);
  REQUIRE(s.n_domains() == 2);
  const DomainRecord& bg = s.table[0];
  const DomainRecord& sq = s.table[1];
  CHECK(bg.id == 0);
  CHECK(sq.id == 1);
  CHECK(bg.area_px + sq.area_px == 64);
  CHECK(sq.area_px == 9);
  CHECK(sq.area_nm2 == 36);
  CHECK(sq.perimeter_px == 12);
  CHECK(sq.perimeter_nm == 24);
  CHECK(bg.perimeter_px == 32 + 12);
  CHECK(sq.eq_diameter_px == doctest::Approx(2 * std::sqrt(9 / std::numbers::pi)));
  CHECK(sq.eq_diameter_nm == doctest::Approx(4 * std::sqrt(9 / std::numbers::pi)));
  CHECK(sq.centroid_y == 3);
  CHECK(sq.centroid_x == 4);
  CHECK(sq.bbox_y0 == 2);
  CHECK(sq.bbox_x0 == 3);
  CHECK(sq.bbox_y1 == 5);
  CHECK(sq.bbox_x1 == 6);
  CHECK_FALSE(sq.touches_edge);
  CHECK(bg.touches_edge);
  CHECK(bg.bbox_y1 == 8);
  CHECK(sq.n_neighbours == 1);
  CHECK(bg.n_neighbours == 1);
  CHECK(sq.mean_angle_deg == doctest::Approx(20));
  CHECK(sq.mean_quaternion[3] == doctest::Approx(std::sin(10 * std::numbers::pi / 180)));
  CHECK(bg.centroid_y == doctest::Approx((8 * 3.5 * 8 - 9 * 3) / 55.0));
  CHECK(s.summary.count == 2);
  CHECK(s.summary.mean_area_px == 32);
  CHECK(s.summary.mean_area_nm2 == 128);

  // Stripes of 2, 4, 8 and 16 columns alternating 0 and 20 deg: areas 2^k, so ln(area) =
  // k ln 2: mu = 2.5 ln 2, sigma = sqrt(1.25) ln 2, median 6, mean 7.5.
  const OrientationMap st = map2d(1, 30, [](auto, std::int64_t x) {
    const int k = x < 2 ? 0 : x < 6 ? 1 : x < 14 ? 2 : 3;
    return k % 2 ? 20.0f : 0.0f;
  });
  const Segmentation t = run(st);
  REQUIRE(t.n_domains() == 4);
  CHECK(t.summary.mean_area_px == 7.5);
  CHECK(t.summary.median_area_px == 6);
  CHECK(t.summary.lognormal_mu == doctest::Approx(2.5 * std::log(2.0)));
  CHECK(t.summary.lognormal_sigma == doctest::Approx(std::sqrt(1.25) * std::log(2.0)));
  CHECK(t.summary.mean_area_nm2 == 0);
  CHECK(t.table[1].n_neighbours == 2);
  CHECK(t.table[3].n_neighbours == 1);
  CHECK(t.table[0].perimeter_px == 2 + 2 + 1 + 1);
  CHECK(t.table[0].area_nm2 == 0);
  // odd count: median is the middle one
  const OrientationMap st3 = map2d(1, 14, [](auto, std::int64_t x) { return x < 2 ? 0.0f : x < 6 ? 20.0f : 0.0f; });
  CHECK(run(st3).summary.median_area_px == 4);
}

TEST_CASE("segment: sub-domains nested inside domains") {
  // top rows: 0 | 3 deg halves (one domain at 5 deg, two sub-domains at 2 deg); bottom rows 20 deg.
  const OrientationMap m = map2d(10, 20, [](std::int64_t y, std::int64_t x) {
    return y >= 6 ? 20.0f : x < 10 ? 0.0f : 3.0f;
  });
  SegmentParams p;
  CHECK(run(m, p).subdomains.empty());
  p.subdomain_threshold_deg = 2;
  const Segmentation s = run(m, p);
  REQUIRE(s.n_domains() == 2);
  REQUIRE(s.subdomain_parent.size() == 3);
  CHECK(s.subdomains[0] == 0);
  CHECK(s.subdomains[10] == 1);
  CHECK(s.subdomains[6 * 20] == 2);
  CHECK(s.subdomain_parent == labels_of({0, 0, 1}));
  for (std::size_t i = 0; i < s.labels.size(); ++i) CHECK(s.labels[i] == s.subdomain_parent[s.subdomains[i]]);
  // Sub-domains never cross domain boundaries: the 0 deg bottom-left block is a separate domain
  // from the 0 deg top-left across a 30 deg row.
  const OrientationMap n = map2d(5, 4, [](std::int64_t y, auto) { return y == 2 ? 30.0f : 0.0f; });
  const Segmentation t = run(n, p);
  CHECK(t.n_domains() == 3);
  CHECK(t.subdomain_parent == labels_of({0, 1, 2}));
}

TEST_CASE("segment: simulated Voronoi polycrystal against its truth") {
  const Voronoi v = make_voronoi();
  REQUIRE(v.truth_components == v.n_grains);
  SegmentParams p;
  p.fill_unindexed = false;
  const auto t0 = std::chrono::steady_clock::now();
  const Segmentation s = run(v.map, p);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  CHECK(s.n_domains() == v.n_grains);
  const double ari = adjusted_rand_index(s.labels, v.truth);
  MESSAGE("Voronoi 96x96, 20 grains, 3 % not indexed: ARI " << ari << ", " << s.n_domains() << " domains, " << ms << " ms");
  CHECK(ari >= 0.97);
  std::int64_t area = 0, indexed = 0;
  for (const auto& d : s.table) area += d.area_px;
  for (auto ph : v.map.phase) indexed += ph >= 0;
  CHECK(area == indexed);
  CHECK(s.summary.fraction_unindexed == doctest::Approx(1.0 - double(indexed) / double(v.map.phase.size())));
  // KAM of noise 0.5 deg: mean |N(0, 0.5) - N(0, 0.5)| = 2 * 0.5 / sqrt(pi) = 0.564
  double kam = 0;
  int nk = 0;
  for (float k : s.kam_deg)
    if (!std::isnan(k)) kam += k, ++nk;
  kam /= nk;
  MESSAGE("mean KAM " << kam << " deg");
  CHECK(kam == doctest::Approx(1.0 / std::sqrt(std::numbers::pi)).epsilon(0.1));
  // filled (the default): every position labelled, still >= 0.97 over all positions
  p = SegmentParams{};
  const Segmentation f = run(v.map, p);
  CHECK(f.n_domains() == v.n_grains);
  CHECK(f.summary.fraction_unlabelled == 0);
  const double ari_f = adjusted_rand_index(f.labels, v.truth);
  MESSAGE("filled: ARI " << ari_f);
  CHECK(ari_f >= 0.97);
  // the other rules and 8-connectivity find the same grains
  for (const char* preset : {"dream3d", "py4dstem"}) {
    SegmentParams q;
    apply_preset(q, preset);
    const Segmentation r = run(v.map, q);
    CAPTURE(preset);
    CHECK(r.n_domains() == v.n_grains);
    CHECK(adjusted_rand_index(r.labels, v.truth) >= 0.97);
  }
}

TEST_CASE("segment: deterministic, raster-order labels, same for 1 and 2 threads") {
  const Voronoi v = make_voronoi();
  for (const char* preset : {"none", "py4dstem", "oim"}) {
    CAPTURE(preset);
    SegmentParams p;
    apply_preset(p, preset);
    p.fill_unindexed = true;
    p.subdomain_threshold_deg = 1;
    const Segmentation a = run(v.map, p, 1);
    const Segmentation b = run(v.map, p, 2);
    const Segmentation c = run(v.map, p, 2);
    CHECK(raster_numbered(a.labels));
    CHECK(raster_numbered(a.subdomains));
    CHECK(a.labels == b.labels);
    CHECK(a.labels == c.labels);
    CHECK(a.subdomains == b.subdomains);
    CHECK(same_bits(a.kam_deg, b.kam_deg));
    CHECK(same_bits(a.gos_deg, b.gos_deg));
    REQUIRE(a.table.size() == b.table.size());
    for (std::size_t k = 0; k < a.table.size(); ++k) {
      CHECK(a.table[k].area_px == b.table[k].area_px);
      CHECK(a.table[k].spread_deg == b.table[k].spread_deg);
      CHECK(a.table[k].mean_angle_deg == b.table[k].mean_angle_deg);
      CHECK(a.table[k].n_neighbours == b.table[k].n_neighbours);
    }
  }
}

TEST_CASE("segment: bad input gives one-line errors") {
  auto expect = [](const OrientationMap& m, ErrorKind kind, const char* part) {
    try {
      run(m);
      FAIL("no error for " << part);
    } catch (const Error& e) {
      CAPTURE(e.what());
      CHECK(e.kind() == kind);
      CHECK(std::string(e.what()).find(part) != std::string::npos);
      CHECK(std::string(e.what()).find('\n') == std::string::npos);
    }
  };
  const OrientationMap good = map2d(3, 4, [](auto, auto) { return 1.0f; });
  CHECK_NOTHROW(run(good));
  {
    OrientationMap m = good;
    m.phase.pop_back();
    expect(m, ErrorKind::bad_input, "/orientation/phase: 11 values for a 3x4 scan (12 positions)");
  }
  {
    OrientationMap m = good;
    m.angle_deg.push_back(0);
    expect(m, ErrorKind::bad_input, "/orientation/angle: 13 values");
  }
  {
    OrientationMap m = good;
    m.score = {1, 2};
    expect(m, ErrorKind::bad_input, "/orientation/score");
  }
  {
    OrientationMap m = good;
    m.angle_deg[6] = kNaN;
    expect(m, ErrorKind::bad_input, "/orientation/angle at (1,2): NaN where phase = 0");
    m.phase[6] = -1;  // a NaN where not indexed is fine
    CHECK_NOTHROW(run(m));
  }
  {
    OrientationMap m = good;
    m.phases[0].symmetry = "C7";
    expect(m, ErrorKind::bad_input, "/phases/0: symmetry 'C7' is unknown");
    m.phases[0].symmetry = "banana";
    expect(m, ErrorKind::bad_input, "/phases/0: symmetry 'banana'");
  }
  {
    OrientationMap m = good;
    m.phase[2] = 1;
    expect(m, ErrorKind::bad_input, "/orientation/phase at (0,2): phase 1");
  }
  {
    OrientationMap m = good;
    m.scan = {0, 4};
    expect(m, ErrorKind::bad_input, "/orientation: scan shape");
  }
  {
    OrientationMap m = map3d(2, 2, [](auto, auto) { return Quaterniond::Identity(); }, "m-3m");
    CHECK_NOTHROW(run(m));
    m.quaternion[3] = {0, 0, 0, 0};
    expect(m, ErrorKind::bad_input, "/orientation/quaternion at (1,1)");
    m.quaternion.pop_back();
    expect(m, ErrorKind::bad_input, "/orientation/quaternion: 3 values");
  }
}

TEST_CASE("segment: adjusted Rand index") {
  const std::vector<std::int32_t> a{0, 0, 0, 1, 1, 1}, b{0, 0, 1, 1, 2, 2}, c{5, 5, 5, 2, 2, 2};
  CHECK(adjusted_rand_index(a, a) == 1);
  CHECK(adjusted_rand_index(a, c) == 1);  // names do not matter
  CHECK(adjusted_rand_index(a, b) == doctest::Approx(8.0 / 33.0));
  CHECK(adjusted_rand_index(b, a) == doctest::Approx(8.0 / 33.0));
  const std::vector<std::int32_t> d{0, 0, 0, 1, 1, -1};  // the -1 position is ignored
  CHECK(adjusted_rand_index(a, d) == 1);
  const std::vector<std::int32_t> one{0, 0, 0, 0}, alt{0, 1, 0, 1};
  CHECK(adjusted_rand_index(one, one) == 1);
  CHECK(adjusted_rand_index(one, alt) == 0);
  CHECK_THROWS_AS(adjusted_rand_index(a, one), Error);
}

TEST_CASE("segment: 1024 x 1024 map (time)") {
  // 32 x 32 blocks of 32 x 32 positions at angles 0, 12, 24, 36, 48 deg (C6) in a pattern that
  // never repeats next to itself, with 0.5 deg noise.
  const std::int64_t n = 1024;
  Normal noise(3);
  std::vector<float> ang(n * n);
  for (std::int64_t y = 0; y < n; ++y)
    for (std::int64_t x = 0; x < n; ++x)
      ang[y * n + x] = static_cast<float>(
          reduce_angle_2d(12.0 * static_cast<double>((y / 32 + 2 * (x / 32)) % 5) + 0.5 * noise(), 6));
  OrientationMap m;
  m.scan = {n, n};
  m.phases = {PhaseInfo{"hex", "C6"}};
  m.phase.assign(n * n, 0);
  m.angle_deg = std::move(ang);
  SegmentParams p;
  RunContext ctx;
  const auto t0 = std::chrono::steady_clock::now();
  const Segmentation s = segment(m, p, ctx);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("segment 1024x1024 (neighbour rule, 4-connected, KAM, table): " << ms << " ms, " << s.n_domains() << " domains");
  CHECK(s.n_domains() == 32 * 32);
  p.rule = "mean";
  const auto t1 = std::chrono::steady_clock::now();
  const Segmentation r = segment(m, p, ctx);
  const double ms2 = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
  MESSAGE("segment 1024x1024 (mean rule): " << ms2 << " ms, " << r.n_domains() << " domains");
  CHECK(r.n_domains() == 32 * 32);
}
