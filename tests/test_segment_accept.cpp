// tests/test_segment_accept.cpp: acceptance of the segment stage on simulated polycrystal
// orientation maps (simulate_orientation_map: wavy boundaries, twins, bent grains, 0.5 deg
// noise, not-indexed positions concentrated on the boundaries), 1024 x 1024, 2D (C6) and 3D
// (m-3m), segmented with the DEFAULT SegmentParams and scored against the true grains:
//   adjusted Rand index >= 0.97 (adjusted_rand_index(): positions labelled -1 on either side
//   are left out), boundary F1 >= 0.95 (defined at boundary_score() below) with -1 as a region
//   of its own and with edges at -1 left out, and a domain count within 5 % of the true grain
//   count. A 100 x 100 not-indexed square cut into the map stays -1 apart from a rim of at most
//   segment.fill_max_px.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "domainmap/segment.hpp"
#include "domainmap/simulate.hpp"

using namespace domainmap;

namespace {

// Boundary precision, recall and F1 of a labelling against the truth.
//
// Boundary edges. A boundary edge of a labelling is a pixel edge between two 4-neighbours
// (y, x)-(y, x+1) or (y, x)-(y+1, x) with different labels; it sits at its midpoint,
// (y, x + 1/2) or (y + 1/2, x). In the found labelling -1 (not labelled) is a region of its own
// (unlabelled_is_region = true: a hole left by a not-indexed position is bounded by boundary
// edges, as the network stage sees it) or edges touching a -1 position are not counted
// (false). The true labelling has no -1.
// Matching, with a tolerance of 1 px: a found boundary edge is correct if a true boundary edge
// has its midpoint within Chebyshev distance 1 px of the found one's (|dy| <= 1 and |dx| <= 1:
// the same edge, the parallel edges one pixel to either side, and the perpendicular edges at
// its ends); precision = correct found edges / found edges. Likewise a true edge is recalled if
// a found edge lies within 1 px; recall = recalled true edges / true edges. F1 = 2 P R / (P + R).
// Computed on the doubled grid (2 Ry - 1) x (2 Rx - 1) where pixel (y, x) is at (2y, 2x) and an
// edge midpoint at an odd coordinate: "within 1 px" is a 5 x 5 window there.
struct BoundaryScore {
  double precision = 0, recall = 0, f1 = 0;
  std::int64_t found = 0, truth = 0;
};

std::vector<std::uint8_t> edge_grid(const std::vector<std::int32_t>& lab, std::int64_t ny, std::int64_t nx,
                                    bool unlabelled_is_region, std::int64_t& count) {
  const std::int64_t gy = 2 * ny - 1, gx = 2 * nx - 1;
  std::vector<std::uint8_t> g(static_cast<std::size_t>(gy * gx), 0);
  count = 0;
  auto edge = [&](std::int32_t a, std::int32_t b) {
    return a != b && (unlabelled_is_region || (a >= 0 && b >= 0));
  };
  for (std::int64_t y = 0; y < ny; ++y)
    for (std::int64_t x = 0; x < nx; ++x) {
      const std::int64_t i = y * nx + x;
      if (x + 1 < nx && edge(lab[i], lab[i + 1])) {
        g[2 * y * gx + 2 * x + 1] = 1;
        ++count;
      }
      if (y + 1 < ny && edge(lab[i], lab[i + nx])) {
        g[(2 * y + 1) * gx + 2 * x] = 1;
        ++count;
      }
    }
  return g;
}

// Max filter over a (2r + 1) x (2r + 1) window, separable.
std::vector<std::uint8_t> dilate(const std::vector<std::uint8_t>& g, std::int64_t gy, std::int64_t gx, int r) {
  std::vector<std::uint8_t> h(g.size(), 0), out(g.size(), 0);
  for (std::int64_t y = 0; y < gy; ++y)
    for (std::int64_t x = 0; x < gx; ++x)
      if (g[y * gx + x])
        for (std::int64_t k = std::max<std::int64_t>(0, x - r); k <= std::min(gx - 1, x + r); ++k) h[y * gx + k] = 1;
  for (std::int64_t y = 0; y < gy; ++y)
    for (std::int64_t x = 0; x < gx; ++x)
      if (h[y * gx + x])
        for (std::int64_t k = std::max<std::int64_t>(0, y - r); k <= std::min(gy - 1, y + r); ++k) out[k * gx + x] = 1;
  return out;
}

BoundaryScore boundary_score(const std::vector<std::int32_t>& found, const std::vector<std::int32_t>& truth,
                             Shape2 scan, bool unlabelled_is_region) {
  const std::int64_t ny = scan.y, nx = scan.x, gy = 2 * ny - 1, gx = 2 * nx - 1;
  BoundaryScore s;
  const std::vector<std::uint8_t> f = edge_grid(found, ny, nx, unlabelled_is_region, s.found);
  const std::vector<std::uint8_t> t = edge_grid(truth, ny, nx, true, s.truth);
  const std::vector<std::uint8_t> fd = dilate(f, gy, gx, 2), td = dilate(t, gy, gx, 2);
  std::int64_t correct = 0, recalled = 0;
  for (std::size_t i = 0; i < f.size(); ++i) {
    correct += f[i] && td[i];
    recalled += t[i] && fd[i];
  }
  s.precision = s.found ? double(correct) / double(s.found) : 1.0;
  s.recall = s.truth ? double(recalled) / double(s.truth) : 1.0;
  s.f1 = s.precision + s.recall > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0.0;
  return s;
}

// The acceptance maps: 1024 x 1024, 400 Voronoi grains (about 51 px apart) behind a 4 px,
// 60 px-wavelength displacement field, 20 % of them with a twin lamella, half of them bent by
// 2 deg per 100 px, 0.5 deg noise, 2 % not indexed (90 % of those within 1.5 px of a
// boundary), neighbours at least 10 deg apart.
OrientationMapParams accept_params(const char* symmetry, std::uint64_t seed) {
  OrientationMapParams p;
  p.scan = {1024, 1024};
  p.n_grains = 400;
  p.symmetry = symmetry;
  p.waviness_px = 4;
  p.waviness_wavelength_px = 60;
  p.twin_fraction = 0.2;
  p.bent_fraction = 0.5;
  p.bending_deg_per_100px = 2;
  p.angle_noise_deg = 0.5;
  p.unindexed_fraction = 0.02;
  p.unindexed_on_boundary = 0.9;
  p.unindexed_band_px = 2;
  p.min_disorientation_deg = 10;
  p.seed = seed;
  return p;
}

struct Scores {
  double ari = 0;
  BoundaryScore strict, labelled_only;
  std::int32_t domains = 0;
  std::int32_t tiny = 0;  // domains of fewer than 16 positions (no true grain is that small)
  double ms = 0;
};

Scores score(const SimulatedOrientationMap& s, const SegmentParams& sp) {
  RunContext ctx;
  ctx.threads = 2;
  const auto t0 = std::chrono::steady_clock::now();
  const Segmentation seg = segment(s.map, sp, ctx);
  Scores r;
  r.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  r.domains = seg.n_domains();
  for (const DomainRecord& d : seg.table) r.tiny += d.area_px < 16;
  r.ari = adjusted_rand_index(seg.labels, s.true_grain);
  r.strict = boundary_score(seg.labels, s.true_grain, s.map.scan, true);
  r.labelled_only = boundary_score(seg.labels, s.true_grain, s.map.scan, false);
  return r;
}

std::string describe(const Scores& r) {
  return "ARI " + std::to_string(r.ari) + ", boundary F1 " + std::to_string(r.strict.f1) + " (P " +
         std::to_string(r.strict.precision) + ", R " + std::to_string(r.strict.recall) + "; edges at -1 left out: F1 " +
         std::to_string(r.labelled_only.f1) + "), " + std::to_string(r.domains) + " domains (" + std::to_string(r.tiny) + " of < 16 px), " +
         std::to_string(static_cast<int>(r.ms)) + " ms";
}

void accept(const char* symmetry, std::uint64_t seed) {
  SimulatedOrientationMap s = simulate_orientation_map(accept_params(symmetry, seed), 2);
  std::int64_t lost = 0;
  for (auto ph : s.map.phase) lost += ph < 0;
  const auto n_true = static_cast<double>(s.grains.size());
  MESSAGE(std::string(symmetry) << " 1024x1024: " << s.grains.size() << " true grains (" << s.n_parents << " Voronoi, "
                                << s.n_twinned << " twinned), " << 100.0 * lost / double(s.map.phase.size())
                                << " % not indexed");
  const SegmentParams defaults;
  const Scores d = score(s, defaults);
  MESSAGE("default SegmentParams: " << describe(d));
  CHECK(d.ari >= 0.97);
  CHECK(d.strict.f1 >= 0.95);
  CHECK(d.labelled_only.f1 >= 0.95);
  // one domain per true grain: within 5 % of the count (single positions cut off by a not-indexed
  // band join their grain)
  CHECK(std::abs(d.domains - n_true) <= 0.05 * n_true);

  // A 100 x 100 amorphous (not-indexed) square: it stays -1 apart from a rim of at most
  // fill_max_px px (city-block distance from the data around it) that the grains fill.
  const std::int64_t nx = s.map.scan.x, y0 = 400, x0 = 500, side = 100;
  for (std::int64_t y = y0; y < y0 + side; ++y)
    for (std::int64_t x = x0; x < x0 + side; ++x) s.map.phase[y * nx + x] = -1;
  RunContext ctx;
  ctx.threads = 2;
  const Segmentation g = segment(s.map, defaults, ctx);
  const std::int64_t r = defaults.fill_max_px;
  std::int64_t inner_labelled = 0, rim = 0, rim_labelled = 0;
  for (std::int64_t y = y0; y < y0 + side; ++y)
    for (std::int64_t x = x0; x < x0 + side; ++x) {
      const std::int64_t depth = std::min({y - y0, x - x0, y0 + side - 1 - y, x0 + side - 1 - x});  // 0 at the edge
      const bool labelled = g.labels[y * nx + x] >= 0;
      if (depth >= r) inner_labelled += labelled;
      else {
        ++rim;
        rim_labelled += labelled;
      }
    }
  MESSAGE("100 x 100 not-indexed square: " << inner_labelled << " labelled beyond " << r << " px, " << rim_labelled
                                           << " of the " << rim << " rim positions labelled");
  CHECK(r == 2);
  CHECK(inner_labelled == 0);
  // the rim is filled, apart from where not-indexed boundary positions of the map lie beside it
  CHECK(rim_labelled >= 0.9 * static_cast<double>(rim));
  CHECK(g.summary.fraction_unlabelled >= double((side - 2 * r) * (side - 2 * r)) / double(s.map.phase.size()));
}
} // namespace

TEST_CASE("segment acceptance: 2D C6 polycrystal map, 1024 x 1024, default parameters") { accept("C6", 11); }

TEST_CASE("segment acceptance: 3D cubic (m-3m) polycrystal map, 1024 x 1024, default parameters") { accept("m-3m", 12); }

TEST_CASE("segment acceptance: boundary F1 of hand-made labellings") {
  // 4 x 6: truth split between columns 2 and 3
  const Shape2 scan{4, 6};
  std::vector<std::int32_t> truth(24), same(24), shifted(24), extra(24);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 6; ++x) {
      truth[y * 6 + x] = x < 3 ? 0 : 1;
      same[y * 6 + x] = x < 3 ? 5 : 7;
      shifted[y * 6 + x] = x < 4 ? 0 : 1;      // one pixel off: still within 1 px
      extra[y * 6 + x] = x < 3 ? 0 : x < 5 ? 1 : 2; // a second boundary two pixels away
    }
  BoundaryScore a = boundary_score(same, truth, scan, true);
  CHECK(a.truth == 4);
  CHECK(a.f1 == 1);
  a = boundary_score(shifted, truth, scan, true);
  CHECK(a.f1 == 1);
  a = boundary_score(extra, truth, scan, true);
  CHECK(a.found == 8);
  CHECK(a.precision == doctest::Approx(0.5));
  CHECK(a.recall == 1);
  CHECK(a.f1 == doctest::Approx(2.0 / 3.0));
  // a -1 hole far from the boundary: 4 false edges as a region, none when left out
  std::vector<std::int32_t> big_truth(8 * 8, 0), big_hole(8 * 8, 0);
  for (int i = 0; i < 64; ++i) big_truth[i] = big_hole[i] = (i % 8) < 2 ? 0 : 1;
  big_hole[4 * 8 + 6] = -1;
  a = boundary_score(big_hole, big_truth, {8, 8}, true);
  CHECK(a.found == 8 + 4);
  CHECK(a.precision == doctest::Approx(8.0 / 12.0));
  a = boundary_score(big_hole, big_truth, {8, 8}, false);
  CHECK(a.found == 8);
  CHECK(a.f1 == 1);
}
