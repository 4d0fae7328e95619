// tests/test_simulate.cpp: the simulator: parameters, determinism (seed, blocks, threads),
// agreement of rendered patterns with the ground truth (disk centroids, origin, descan,
// lattice geometry, symmetry), the Voronoi tiling, Poisson statistics, hot pixels, amorphous
// and vacuum grains, and the truth file.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <numbers>
#include <set>

#include "core/h5util.hpp"
#include "domainmap/dataset.hpp"
#include "domainmap/error.hpp"
#include "domainmap/simulate.hpp"
#include "domainmap/write.hpp"
#include "testing.hpp"

using namespace domainmap;

namespace {

std::vector<float> render_all(const SimParams& p, int threads = 0, std::int64_t block = 0) {
  auto src = make_simulated_source(p, threads);
  const std::int64_t n = src->shape().n_frames(), fp = src->shape().frame_pixels();
  std::vector<float> out(static_cast<std::size_t>(n * fp));
  if (block <= 0) block = n;
  for (std::int64_t f = 0; f < n; f += block) src->read_frames(f, std::min(block, n - f), out.data() + f * fp);
  return out;
}

// A small noise-free simulation with no diffuse background, for geometry checks.
SimParams clean_params() {
  SimParams p;
  p.scan = {6, 7};
  p.detector = {96, 96};
  p.n_grains = 5;
  p.max_g_px = 40;
  p.background_level = 0;
  p.dose = 0;
  return p;
}

struct CentroidStats {
  int n_checked = 0;
  double max_err = 0;
  double max_origin_err = 0;
};

// For every isolated disk of the truth, the intensity centroid of the rendered frame within
// the disk's support (+1 px) against the true centre.
CentroidStats check_centroids(const SimParams& p) {
  const SimTruth t = simulate_truth(p);
  const std::vector<float> frames = render_all(p);
  const double rs = sim_disk_support_px(p);
  const std::int64_t Qy = p.detector.y, Qx = p.detector.x, fp = Qy * Qx;
  CentroidStats st;
  for (std::int64_t pos = 0; pos < p.scan.y * p.scan.x; ++pos) {
    const float* f = frames.data() + pos * fp;
    std::vector<std::pair<double, double>> all;
    for (std::uint64_t i = t.disks.offsets[pos]; i < t.disks.offsets[pos + 1]; ++i) all.emplace_back(t.disks.qy[i], t.disks.qx[i]);
    for (std::uint64_t i = t.edge_disks.offsets[pos]; i < t.edge_disks.offsets[pos + 1]; ++i)
      all.emplace_back(t.edge_disks.qy[i], t.edge_disks.qx[i]);
    for (std::uint64_t i = t.disks.offsets[pos]; i < t.disks.offsets[pos + 1]; ++i) {
      const double cy = t.disks.qy[i], cx = t.disks.qx[i];
      bool isolated = true;
      for (const auto& [oy, ox] : all)
        if ((oy != cy || ox != cx) && std::hypot(oy - cy, ox - cx) < 2 * rs + 1) isolated = false;
      if (!isolated || t.disks.intensity[i] <= 0) continue;
      double s = 0, sy = 0, sx = 0;
      for (std::int64_t y = std::max<std::int64_t>(0, std::int64_t(std::floor(cy - rs - 1)));
           y <= std::min<std::int64_t>(Qy - 1, std::int64_t(std::ceil(cy + rs + 1))); ++y)
        for (std::int64_t x = std::max<std::int64_t>(0, std::int64_t(std::floor(cx - rs - 1)));
             x <= std::min<std::int64_t>(Qx - 1, std::int64_t(std::ceil(cx + rs + 1))); ++x) {
          if (std::hypot(y - cy, x - cx) > rs + 1) continue;
          const double v = f[y * Qx + x];
          s += v;
          sy += v * y;
          sx += v * x;
        }
      const double err = std::hypot(sy / s - cy, sx / s - cx);
      st.max_err = std::max(st.max_err, err);
      if (t.disks.h[i] == 0 && t.disks.k[i] == 0) {
        // the central beam is listed first and sits on the origin
        CHECK(i == t.disks.offsets[pos]);
        CHECK(cy == t.origin_qy[pos]);
        CHECK(cx == t.origin_qx[pos]);
        st.max_origin_err = std::max(st.max_origin_err, err);
      }
      ++st.n_checked;
    }
  }
  return st;
}

} // namespace

TEST_CASE("sim: parameters: defaults, validation, INI round trip") {
  SimParams p;
  ParamList list;
  list.stage("simulate", [&](ParamSink& s) { describe(p, s); });
  REQUIRE(list.find("simulate.scan") != nullptr);
  CHECK(list.find("simulate.scan")->get() == "32x32");
  CHECK(list.find("simulate.detector")->get() == "128x128");
  CHECK(list.find("simulate.seed")->get() == "1");
  CHECK(list.find("simulate.n_phases")->get() == "2");
  CHECK(list.find("simulate.phase0_lattice")->get() == "hexagonal");
  CHECK(list.find("simulate.phase1_lattice")->get() == "square");
  CHECK(list.find("simulate.dose")->get() == "0");
  // every field has help
  for (const ParamRef& r : list.refs()) CHECK_FALSE(r.help.empty());

  CHECK_THROWS_AS(list.set("simulate.disk_radius_px", "-2"), Error);
  CHECK_THROWS_AS(list.set("simulate.edge_width_px", "-0.5"), Error);
  CHECK_THROWS_AS(list.set("simulate.amorphous_fraction", "1.5"), Error);
  CHECK_THROWS_AS(list.set("simulate.phase0_lattice", "triclinic"), Error);
  CHECK_THROWS_AS(list.set("simulate.seed", "-1"), Error);
  CHECK_THROWS_AS(list.set("simulate.seed", "1.5"), Error);
  try {
    list.set("simulate.disk_radius_px", "-1");
    FAIL("no throw");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::bad_parameter);
    CHECK(std::string(e.what()).rfind("simulate.disk_radius_px = -1: must be in", 0) == 0);
  }
  list.set("simulate.seed", "18446744073709551615");
  CHECK(p.seed == 18446744073709551615ULL);
  list.set("simulate.scan", "9x11");
  list.set("simulate.phase1_lattice", "oblique");
  list.set("simulate.dose", "1234.5");
  list.set("simulate.irregular_boundaries", "false");

  // cross-field checks
  {
    SimParams q;
    q.amorphous_fraction = 0.6;
    q.vacuum_fraction = 0.6;
    CHECK_THROWS_AS(validate(q), Error);
    q = SimParams{};
    q.scan = {2, 2};
    q.n_grains = 5;
    CHECK_THROWS_AS(validate(q), Error);
    q = SimParams{};
    q.phases[0].lattice = "custom";
    q.phases[0].g2y_px = 0;
    q.phases[0].g2x_px = 36;  // parallel to g1
    CHECK_THROWS_AS(simulate_truth(q), Error);
    q = SimParams{};
    q.disk_radius_px = -1;
    CHECK_THROWS_AS(make_simulated_source(q), Error);
    CHECK_NOTHROW(validate(SimParams{}));
  }

  // INI round trip
  std::string dir = testing::scratch("sim_params");
  std::string ini = dir + "/sim.ini";
  {
    FILE* f = std::fopen(ini.c_str(), "w");
    std::fputs(list.to_ini().c_str(), f);
    std::fclose(f);
  }
  SimParams q;
  CHECK_FALSE(q == p);
  ParamList list2;
  list2.stage("simulate", [&](ParamSink& s) { describe(q, s); });
  read_ini_file(ini, list2);
  CHECK(q == p);
}

TEST_CASE("sim: lattice presets, origin formula and distortion matrix") {
  SimPhase h;
  SimLattice L = sim_lattice(h);
  CHECK(L.symmetry_n == 6);
  CHECK(L.g1.qy == 0);
  CHECK(L.g1.qx == 18);
  CHECK(L.g2.qy == doctest::Approx(18 * std::sqrt(3.0) / 2));
  CHECK(L.g2.qx == doctest::Approx(9));
  h.lattice = "square";
  CHECK(sim_lattice(h).symmetry_n == 4);
  h.lattice = "rectangular";
  L = sim_lattice(h);
  CHECK(L.symmetry_n == 2);
  CHECK(L.g2.qy == doctest::Approx(18 * 1.4));
  h.lattice = "custom";
  h.symmetry_n = 5;
  CHECK_THROWS_AS(sim_lattice(h), Error);

  SimParams p;
  p.ellipse_ratio = 1.25;
  p.ellipse_angle_deg = 30;
  auto E = sim_distortion(p);
  // the a axis (30 deg from +qx) keeps its length, the b axis is scaled by 1.25
  const double t = 30 * std::numbers::pi / 180;
  const double ay = std::sin(t), ax = std::cos(t), by = std::cos(t), bx = -std::sin(t);
  CHECK(E[0] * ay + E[1] * ax == doctest::Approx(ay));
  CHECK(E[2] * ay + E[3] * ax == doctest::Approx(ax));
  CHECK(E[0] * by + E[1] * bx == doctest::Approx(1.25 * by));
  CHECK(E[2] * by + E[3] * bx == doctest::Approx(1.25 * bx));
  CHECK(sim_disk_support_px(p) == doctest::Approx(4 + 4 * 0.5));
}

TEST_CASE("sim: determinism over seeds, block sizes and thread counts") {
  SimParams p = clean_params();
  p.dose = 3000;
  p.n_hot_pixels = 3;
  p.amorphous_fraction = 0.2;
  const std::vector<float> a = render_all(p, 0, 0);
  const std::vector<float> b = render_all(p, 1, 1);
  const std::vector<float> c = render_all(p, 2, 5);
  const std::vector<float> d = render_all(p, 2, 0);
  REQUIRE(a.size() == b.size());
  CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(a.data(), c.data(), a.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(a.data(), d.data(), a.size() * sizeof(float)) == 0);
  // random access equals the streamed frame
  auto src = make_simulated_source(p);
  const std::vector<float> one = read_pattern(*src, 4, 3);
  CHECK(std::memcmp(one.data(), a.data() + (4 * 7 + 3) * 96 * 96, one.size() * sizeof(float)) == 0);
  CHECK(src->info().format == "simulated");
  CHECK(src->info().dtype == "<u2");
  CHECK(src->shape() == Shape4{6, 7, 96, 96});
  // counts are whole numbers
  CHECK(std::all_of(a.begin(), a.end(), [](float v) { return v >= 0 && v == std::floor(v); }));

  SimParams q = p;
  q.seed = 2;
  const std::vector<float> e = render_all(q);
  CHECK(std::memcmp(a.data(), e.data(), a.size() * sizeof(float)) != 0);
  const SimTruth ta = simulate_truth(p), te = simulate_truth(q);
  CHECK(ta.labels == simulate_truth(p).labels);
  CHECK((ta.labels != te.labels || ta.angle_deg != te.angle_deg));

  // noise-free frames: same again, float32
  SimParams r = clean_params();
  CHECK(make_simulated_source(r)->info().dtype == "<f4");
  const std::vector<float> f1 = render_all(r, 1, 0), f2 = render_all(r, 2, 3);
  CHECK(std::memcmp(f1.data(), f2.data(), f1.size() * sizeof(float)) == 0);
}

TEST_CASE("sim: isolated disk centroids match the truth within 0.05 px") {
  SUBCASE("default edge, descan, no distortion") {
    SimParams p = clean_params();
    CentroidStats st = check_centroids(p);
    CHECK(st.n_checked > 200);
    CHECK(st.max_err < 0.05);
    CHECK(st.max_origin_err < 0.05);
    MESSAGE("default edge: " << st.n_checked << " disks, max centroid error " << st.max_err << " px");
  }
  SUBCASE("sharp edge (supersampled), elliptical distortion, strong descan, rectangular phase") {
    SimParams p = clean_params();
    p.edge_width_px = 0.12;
    p.disk_radius_px = 3.3;
    p.ellipse_ratio = 1.15;
    p.ellipse_angle_deg = 25;
    p.descan_qx_rx_px = 7.3;
    p.descan_qy_ry_px = -4.1;
    p.descan_qy_quad_px = 1.7;
    p.n_phases = 3;
    CentroidStats st = check_centroids(p);
    CHECK(st.n_checked > 200);
    CHECK(st.max_err < 0.05);
    MESSAGE("sharp edge: " << st.n_checked << " disks, max centroid error " << st.max_err << " px");
  }
  SUBCASE("wide edge, large disks") {
    SimParams p = clean_params();
    p.edge_width_px = 1.5;
    p.disk_radius_px = 2.5;
    p.phases[0].a_px = 26;
    p.phases[1].a_px = 26;
    CentroidStats st = check_centroids(p);
    CHECK(st.n_checked > 100);
    CHECK(st.max_err < 0.05);
  }
}

TEST_CASE("sim: descan field, disk positions and in-plane angles follow the stated formulas") {
  SimParams p = clean_params();
  p.scan = {5, 9};
  p.detector = {160, 150};
  p.origin_qy_px = 1.25;
  p.origin_qx_px = -2.5;
  p.descan_qy_ry_px = 3;
  p.descan_qy_rx_px = -1;
  p.descan_qx_ry_px = 0.75;
  p.descan_qx_rx_px = 5;
  p.descan_qy_quad_px = 0.8;
  p.descan_qx_quad_px = -0.6;
  p.ellipse_ratio = 0.9;
  p.ellipse_angle_deg = -40;
  p.n_phases = 3;
  p.n_grains = 9;
  const SimTruth t = simulate_truth(p);
  const double phi = -40 * std::numbers::pi / 180;
  for (std::int64_t ry = 0; ry < 5; ++ry)
    for (std::int64_t rx = 0; rx < 9; ++rx) {
      const std::size_t i = static_cast<std::size_t>(ry * 9 + rx);
      const double v = ry / 4.0 - 0.5, u = rx / 8.0 - 0.5, s = 2 * (u * u + v * v);
      const double oy = 79.5 + 1.25 + 3 * v - 1 * u + 0.8 * s;
      const double ox = 74.5 - 2.5 + 0.75 * v + 5 * u - 0.6 * s;
      REQUIRE(t.origin_qy[i] == doctest::Approx(oy).epsilon(1e-6));
      REQUIRE(t.origin_qx[i] == doctest::Approx(ox).epsilon(1e-6));
      const int ph = t.phase[i];
      REQUIRE(ph >= 0);
      const SimLattice& L = t.lattices[static_cast<std::size_t>(ph)];
      const double a = t.angle_deg[i];
      CHECK(a >= 0);
      CHECK(a < 360.0 / L.symmetry_n);
      const double th = a * std::numbers::pi / 180;
      for (const SimDisks* D : {&t.disks, &t.edge_disks})
        for (std::uint64_t j = D->offsets[i]; j < D->offsets[i + 1]; ++j) {
          const double gy = D->h[j] * L.g1.qy + D->k[j] * L.g2.qy, gx = D->h[j] * L.g1.qx + D->k[j] * L.g2.qx;
          CHECK(std::hypot(gy, gx) <= p.max_g_px + 1e-9);
          // rotate from +qx towards +qy, then scale by 0.9 along the b axis
          const double ry_ = gy * std::cos(th) + gx * std::sin(th), rx_ = gx * std::cos(th) - gy * std::sin(th);
          const double ea_y = std::sin(phi), ea_x = std::cos(phi), eb_y = std::cos(phi), eb_x = -std::sin(phi);
          const double ca = ry_ * ea_y + rx_ * ea_x, cb = ry_ * eb_y + rx_ * eb_x;
          const double dy = ca * ea_y + 0.9 * cb * eb_y, dx = ca * ea_x + 0.9 * cb * eb_x;
          CHECK(D->qy[j] == doctest::Approx(oy + dy).epsilon(1e-5));
          CHECK(D->qx[j] == doctest::Approx(ox + dx).epsilon(1e-5));
        }
    }
  // fully inside vs cut by the edge
  const double rs = sim_disk_support_px(p);
  for (std::size_t j = 0; j < t.disks.size(); ++j) {
    CHECK(t.disks.qy[j] - rs >= -0.5);
    CHECK(t.disks.qx[j] + rs <= 150 - 0.5 + 1e-4);
  }
}

TEST_CASE("sim: angles are reduced and patterns keep the lattice's n-fold symmetry") {
  SimParams p = clean_params();
  p.detector = {256, 256};
  p.scan = {8, 8};
  p.n_grains = 12;
  p.n_phases = 3;
  p.max_g_px = 60;
  p.grain_intensity_randomness = 0.5;
  const SimTruth t = simulate_truth(p);
  std::set<int> phases_seen;
  int n_checked = 0;
  for (std::size_t g = 0; g < t.grains.size(); ++g) {
    const SimGrain& gr = t.grains[g];
    REQUIRE(gr.phase >= 0);
    phases_seen.insert(gr.phase);
    const int n = t.lattices[static_cast<std::size_t>(gr.phase)].symmetry_n;
    CHECK(gr.angle_deg >= 0);
    CHECK(gr.angle_deg < 360.0 / n);
    // rotate every disk of the seed position by 360/n about the origin: it lands on a disk of
    // the same intensity
    const std::size_t i = static_cast<std::size_t>(gr.seed_ry * p.scan.x + gr.seed_rx);
    REQUIRE(t.labels[i] == static_cast<int>(g));
    REQUIRE(t.edge_disks.offsets[i + 1] == t.edge_disks.offsets[i]);
    const double oy = t.origin_qy[i], ox = t.origin_qx[i];
    const double c = std::cos(2 * std::numbers::pi / n), s = std::sin(2 * std::numbers::pi / n);
    for (std::uint64_t j = t.disks.offsets[i]; j < t.disks.offsets[i + 1]; ++j) {
      const double dy = t.disks.qy[j] - oy, dx = t.disks.qx[j] - ox;
      const double y2 = oy + dy * c + dx * s, x2 = ox + dx * c - dy * s;
      bool found = false;
      for (std::uint64_t m = t.disks.offsets[i]; m < t.disks.offsets[i + 1]; ++m)
        if (std::hypot(t.disks.qy[m] - y2, t.disks.qx[m] - x2) < 1e-3) {
          found = true;
          CHECK(t.disks.intensity[m] == doctest::Approx(t.disks.intensity[j]).epsilon(1e-6));
        }
      CHECK(found);
      ++n_checked;
    }
  }
  CHECK(phases_seen.size() == 3);
  CHECK(n_checked > 300);
}

TEST_CASE("sim: grain labels form the requested Voronoi grains") {
  for (auto [irregular, G] : {std::pair{false, 23}, std::pair{true, 23}, std::pair{false, 400}, std::pair{true, 400}}) {
    CAPTURE(irregular);
    CAPTURE(G);
    SimParams p;
    p.scan = {40, 50};
    p.n_grains = G;
    p.irregular_boundaries = irregular;
    p.boundary_roughness = 1;
    const SimTruth t = simulate_truth(p);
    REQUIRE(t.grains.size() == static_cast<std::size_t>(G));
    std::vector<int> count(static_cast<std::size_t>(G), 0);
    for (int l : t.labels) {
      REQUIRE(l >= 0);
      REQUIRE(l < G);
      ++count[static_cast<std::size_t>(l)];
    }
    for (int c : count) CHECK(c > 0);
    std::set<std::pair<std::int64_t, std::int64_t>> seeds;
    for (std::size_t g = 0; g < static_cast<std::size_t>(G); ++g) {
      seeds.insert({t.grains[g].seed_ry, t.grains[g].seed_rx});
      CHECK(t.labels[static_cast<std::size_t>(t.grains[g].seed_ry * 50 + t.grains[g].seed_rx)] == static_cast<int>(g));
    }
    CHECK(seeds.size() == static_cast<std::size_t>(G));
    int differs = 0;
    for (std::int64_t ry = 0; ry < 40; ++ry)
      for (std::int64_t rx = 0; rx < 50; ++rx) {
        int best = 0;
        double bd = 1e300;
        for (std::size_t g = 0; g < static_cast<std::size_t>(G); ++g) {
          const double d = std::pow(double(ry - t.grains[g].seed_ry), 2) + std::pow(double(rx - t.grains[g].seed_rx), 2);
          if (d < bd) {
            bd = d;
            best = static_cast<int>(g);
          }
        }
        const int l = t.labels[static_cast<std::size_t>(ry * 50 + rx)];
        if (!irregular) REQUIRE(l == best);
        differs += l != best;
      }
    // the warp moves boundaries by a few positions: a visible fraction differs from plain Voronoi
    if (irregular) CHECK(differs > 40);
    if (irregular) CHECK(differs < 2000 / 2);
    // every grain is one 8-connected region (the warp is one-to-one)
    if (irregular) {
      int fragments = 0;
      std::vector<int> seen(t.labels.size(), 0);
      for (std::size_t s0 = 0; s0 < t.labels.size(); ++s0) {
        if (seen[s0]) continue;
        ++fragments;
        std::vector<std::size_t> stack{s0};
        seen[s0] = 1;
        while (!stack.empty()) {
          const std::size_t c = stack.back();
          stack.pop_back();
          const std::int64_t y = std::int64_t(c) / 50, x = std::int64_t(c) % 50;
          for (int dy = -1; dy <= 1; ++dy)
            for (int dx = -1; dx <= 1; ++dx) {
              const std::int64_t yy = y + dy, xx = x + dx;
              if (yy < 0 || xx < 0 || yy >= 40 || xx >= 50) continue;
              const std::size_t nb = static_cast<std::size_t>(yy * 50 + xx);
              if (!seen[nb] && t.labels[nb] == t.labels[c]) {
                seen[nb] = 1;
                stack.push_back(nb);
              }
            }
        }
      }
      CHECK(fragments <= G + G / 10 + 2);
    }
  }
}

TEST_CASE("sim: Poisson noise has mean = dose and variance = mean") {
  SimParams p = clean_params();
  p.background_level = 0.02;
  p.scan = {4, 6};
  const std::int64_t n = 24, fp = 96 * 96;
  const std::vector<float> clean = render_all(p);
  for (double dose : {2000.0, 2e6}) {
    CAPTURE(dose);
    SimParams q = p;
    q.dose = dose;
    const std::vector<float> noisy = render_all(q);
    double total = 0, chi_lo = 0, lam_lo = 0, chi_hi = 0, lam_hi = 0, dev_hi = 0;
    for (std::int64_t k = 0; k < n; ++k) {
      double s = 0, sum_clean = 0;
      for (std::int64_t j = 0; j < fp; ++j) sum_clean += clean[std::size_t(k * fp + j)];
      for (std::int64_t j = 0; j < fp; ++j) {
        const double c = noisy[std::size_t(k * fp + j)];
        const double lam = dose * clean[std::size_t(k * fp + j)] / sum_clean;
        s += c;
        if (lam < 10) {
          chi_lo += (c - lam) * (c - lam);
          lam_lo += lam;
        } else {
          chi_hi += (c - lam) * (c - lam);
          lam_hi += lam;
          dev_hi += c - lam;
        }
      }
      // one pattern: total counts ~ Poisson(dose)
      CHECK(std::abs(s - dose) < 5 * std::sqrt(dose));
      total += s;
    }
    CHECK(std::abs(total / n - dose) < 5 * std::sqrt(dose / n));
    if (lam_lo > 0) {
      CHECK(chi_lo / lam_lo == doctest::Approx(1).epsilon(0.05));
    }
    if (lam_hi > 0) {
      CHECK(chi_hi / lam_hi == doctest::Approx(1).epsilon(0.05));
      CHECK(std::abs(dev_hi) < 5 * std::sqrt(lam_hi));
    }
    if (dose > 1e5) CHECK(lam_hi > 0.9 * dose * n);  // the large-lambda branch was exercised
  }
}

TEST_CASE("sim: hot pixels sit at fixed positions in every frame") {
  for (double dose : {0.0, 500.0}) {
    SimParams p = clean_params();
    p.dose = dose;
    p.n_hot_pixels = 6;
    p.hot_value = 40000;
    const SimTruth t = simulate_truth(p);
    REQUIRE(t.hot_pixels.size() == 12);
    std::set<std::pair<int, int>> hp;
    for (std::size_t i = 0; i < 6; ++i) hp.insert({t.hot_pixels[2 * i], t.hot_pixels[2 * i + 1]});
    CHECK(hp.size() == 6);
    const std::vector<float> f = render_all(p);
    for (std::int64_t k = 0; k < 42; ++k)
      for (const auto& [y, x] : hp) CHECK(f[std::size_t(k * 96 * 96 + y * 96 + x)] == 40000.0f);
  }
}

TEST_CASE("sim: amorphous and vacuum grains") {
  SimParams p = clean_params();
  p.scan = {10, 10};
  p.n_grains = 8;
  p.amorphous_fraction = 0.25;
  p.vacuum_fraction = 0.25;
  p.background_level = 0.02;
  p.amorphous_ring_px = 30;
  const SimTruth t = simulate_truth(p);
  int n_am = 0, n_vac = 0;
  for (const SimGrain& g : t.grains) {
    n_am += g.material == SimMaterial::amorphous;
    n_vac += g.material == SimMaterial::vacuum;
  }
  CHECK(n_am == 2);
  CHECK(n_vac == 2);
  const std::vector<float> f = render_all(p);
  const double rs = sim_disk_support_px(p);
  int am_pos = 0, vac_pos = 0;
  for (std::size_t i = 0; i < 100; ++i) {
    const SimMaterial mat = t.grains[static_cast<std::size_t>(t.labels[i])].material;
    if (mat == SimMaterial::crystal) {
      CHECK(t.phase[i] >= 0);
      CHECK(t.disks.offsets[i + 1] - t.disks.offsets[i] > 3);
      continue;
    }
    CHECK(t.phase[i] == -1);
    CHECK(std::isnan(t.angle_deg[i]));
    // only the central beam
    const std::uint64_t nd = t.disks.offsets[i + 1] - t.disks.offsets[i];
    CHECK(nd == 1);
    CHECK(t.edge_disks.offsets[i + 1] == t.edge_disks.offsets[i]);
    if (nd == 1) {
      CHECK(t.disks.h[t.disks.offsets[i]] == 0);
      CHECK(t.disks.k[t.disks.offsets[i]] == 0);
    }
    const float* fr = f.data() + i * 96 * 96;
    const double oy = t.origin_qy[i], ox = t.origin_qx[i];
    double outside = 0, ring = 0, inner = 0;
    for (int y = 0; y < 96; ++y)
      for (int x = 0; x < 96; ++x) {
        const double r = std::hypot(y - oy, x - ox);
        if (r > rs) outside += fr[y * 96 + x];
        if (std::abs(r - 30) < 1) ring = std::max<double>(ring, fr[y * 96 + x]);
        if (std::abs(r - 15) < 1) inner = std::max<double>(inner, fr[y * 96 + x]);
      }
    if (mat == SimMaterial::vacuum) {
      CHECK(outside == 0);  // no background, no ring
      ++vac_pos;
    } else {
      CHECK(ring > inner + 0.03);  // the diffuse ring stands out of the background
      ++am_pos;
    }
  }
  CHECK(am_pos > 0);
  CHECK(vac_pos > 0);
}

TEST_CASE("sim: truth file") {
  SimParams p = clean_params();
  p.n_hot_pixels = 2;
  p.amorphous_fraction = 0.2;
  const SimTruth t = simulate_truth(p);
  std::string dir = testing::scratch("sim_truth");
  std::string path = dir + "/truth.h5";
  write_truth(t, p, path);
  CHECK(std::filesystem::exists(path));
  for (const auto& e : std::filesystem::directory_iterator(dir))
    CHECK(e.path().filename().string().find(".part-") == std::string::npos);
  h5::Handle f = h5::open_file_read(path);
  {
    h5::Handle d = h5::open_dataset(f, "/truth/labels", path);
    CHECK(h5::dataset_dims(d) == std::vector<std::int64_t>{6, 7});
    auto v = h5::read_ints(d, path);
    CHECK(std::equal(v.begin(), v.end(), t.labels.begin()));
  }
  {
    h5::Handle d = h5::open_dataset(f, "/truth/disks/offsets", path);
    CHECK(h5::dataset_dims(d) == std::vector<std::int64_t>{43});
    CHECK(h5::dtype_string(h5::Handle(H5Dget_type(d))) == "<u8");
    auto v = h5::read_ints(d, path);
    CHECK(static_cast<std::uint64_t>(v.back()) == t.disks.size());
    h5::Handle q = h5::open_dataset(f, "/truth/disks/qx", path);
    auto qx = h5::read_floats(q, path);
    CHECK(qx == t.disks.qx);
  }
  for (const char* name : {"/truth/phase", "/truth/angle_deg", "/truth/origin_qy", "/truth/origin_qx",
                           "/truth/disks/qy", "/truth/disks/intensity", "/truth/disks/h", "/truth/disks/k",
                           "/truth/edge_disks/offsets", "/truth/grains/angle_deg", "/truth/grains/phase",
                           "/truth/grains/material", "/truth/hot_pixels", "/truth/phases/0", "/truth/phases/1"})
    CHECK_MESSAGE(h5::exists(f, name), name);
  h5::Handle g = h5::open_group(f, "/truth", path);
  CHECK(h5::read_string_attr(g, "simulate.seed") == std::string("1"));
  CHECK(h5::read_string_attr(g, "simulate.scan") == std::string("6x7"));
  CHECK(h5::read_number_attr(g, "disk_support_px").value_or(0) == doctest::Approx(6));
  h5::Handle ph = h5::open_group(f, "/truth/phases/1", path);
  CHECK(h5::read_string_attr(ph, "name") == std::string("square"));
  CHECK(h5::read_number_attr(ph, "symmetry_n").value_or(0) == 4);
  // unwritable place: one-line error naming the file, nothing left behind
  try {
    write_truth(t, p, dir + "/no/such/dir/truth.h5");
    FAIL("no throw");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find(dir + "/no/such/dir/truth.h5") == 0);
  }
}

TEST_CASE("sim: simulate_to_files writes data and truth") {
  SimParams p = clean_params();
  p.scan = {3, 4};
  p.detector = {32, 40};
  p.max_g_px = 14;
  p.phases[0].a_px = 12;
  p.phases[1].a_px = 13;
  p.disk_radius_px = 2;
  p.dose = 800;
  std::string dir = testing::scratch("sim_files");
  RunContext ctx;
  WriteParams w;
  CHECK_THROWS_AS(simulate_to_files(p, dir + "/x.h5", "tiff", "", w, ctx), Error);
  CHECK_THROWS_AS(simulate_to_files(p, dir + "/x.h5", "emd", dir + "/x.h5", w, ctx), Error);
  const std::vector<float> expect = render_all(p);
  for (const char* fmt : {"emd", "mib", "raw"}) {
    CAPTURE(fmt);
    const std::string data = dir + "/sim_" + fmt + (std::string(fmt) == "emd" ? ".h5" : std::string(".") + fmt);
    const std::string truth = dir + "/truth_" + fmt + ".h5";
    try {
      simulate_to_files(p, data, fmt, truth, w, ctx);
    } catch (const Error& e) {
      if (std::string(e.what()).find("not built yet") != std::string::npos) {
        MESSAGE("writer for " << fmt << " not built yet; skipped");
        CHECK_FALSE(std::filesystem::exists(truth));  // no truth without data
        continue;
      }
      throw;
    }
    REQUIRE(std::filesystem::exists(data));
    REQUIRE(std::filesystem::exists(truth));
    ReadParams rp;
    if (std::string(fmt) == "raw") {
      rp.format = "raw";
      rp.raw_detector_shape = {32, 40};
      rp.raw_dtype = "uint16";
      rp.scan_shape = {3, 4};
    }
    auto src = open_dataset(data, rp);
    REQUIRE(src->shape() == Shape4{3, 4, 32, 40});
    std::vector<float> got(expect.size());
    src->read_frames(0, 12, got.data());
    CHECK(got == expect);
  }
}

TEST_CASE("sim: small and unusual set-ups") {
  // one scan row, one grain, a custom 3-fold lattice, only the central beam when max_g = 0
  SimParams p;
  p.scan = {1, 5};
  p.detector = {40, 64};
  p.n_grains = 1;
  p.n_phases = 1;
  p.phases[0].lattice = "custom";
  p.phases[0].g1y_px = 3;
  p.phases[0].g1x_px = 14;
  p.phases[0].g2y_px = 14;
  p.phases[0].g2x_px = -2;
  p.phases[0].symmetry_n = 3;
  p.max_g_px = 30;
  p.disk_radius_px = 2;
  SimTruth t = simulate_truth(p);
  REQUIRE(t.labels.size() == 5);
  CHECK(t.grains[0].angle_deg >= 0);
  CHECK(t.grains[0].angle_deg < 120);
  CHECK(t.lattices[0].symmetry_n == 3);
  // the descan along the single row: v = 0
  CHECK(t.origin_qy[0] == doctest::Approx(19.5 + 0.5 * -0.5 + 0.5 * 0.5).epsilon(1e-6));
  // detector 40 rows high: some reflections are cut by the edge, and they are rendered
  CHECK(t.edge_disks.size() > 0);
  std::vector<float> f = render_all(p);
  for (std::size_t j = 0; j < t.edge_disks.size(); ++j) {
    const int y = std::clamp(static_cast<int>(std::lround(t.edge_disks.qy[j])), 0, 39);
    const int x = std::clamp(static_cast<int>(std::lround(t.edge_disks.qx[j])), 0, 63);
    std::uint64_t pos = 0;
    while (t.edge_disks.offsets[pos + 1] <= j) ++pos;
    CHECK(f[pos * 40 * 64 + static_cast<std::size_t>(y * 64 + x)] > 0);
  }
  p.max_g_px = 0;
  t = simulate_truth(p);
  CHECK(t.disks.size() == 5);
  CHECK(std::all_of(t.disks.h.begin(), t.disks.h.end(), [](int h) { return h == 0; }));
  // a single scan position
  p.scan = {1, 1};
  CHECK(render_all(p).size() == 40 * 64);
  CHECK(simulate_truth(p).origin_qx[0] == doctest::Approx(31.5));
}
