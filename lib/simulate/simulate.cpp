// lib/simulate/simulate.cpp: the polycrystal model (grains, lattices, disk lists), its ground
// truth and the on-demand renderer (FrameSource).
//
// Randomness is counter based: every random number is a hash of (seed, purpose, index...)
// (splitmix64's finaliser, Steele, Lea & Flood, OOPSLA 2014), and the noise of frame k is one
// splitmix64 stream seeded by hash(seed, noise, k). Nothing depends on the order in which
// frames are rendered.
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>
#include <numeric>

#include "point_grid.hpp"
#include "domainmap/error.hpp"
#include "domainmap/simulate.hpp"

namespace domainmap {

namespace {

constexpr double kPi = std::numbers::pi;

// ---- counter-based random numbers ----

constexpr std::uint64_t kGolden = 0x9e3779b97f4a7c15ULL;

inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Purposes of random numbers, so that different uses never share a stream.
enum Tag : std::uint64_t {
  tag_seed_pos = 1, tag_material, tag_phase, tag_angle, tag_shell, tag_warp, tag_hot, tag_noise
};

inline std::uint64_t hash(std::uint64_t seed, std::uint64_t tag, std::uint64_t a, std::uint64_t b = 0) {
  std::uint64_t h = mix64(seed + kGolden * (tag + 1));
  h = mix64(h ^ (a + 0x632be59bd9b4e019ULL));
  h = mix64(h ^ (b + 0x8cb92ba72f3d8dd7ULL));
  return h;
}

inline double to_unit(std::uint64_t x) { return static_cast<double>(x >> 11) * 0x1.0p-53; } // [0, 1)

inline double uniform(std::uint64_t seed, std::uint64_t tag, std::uint64_t a, std::uint64_t b = 0) {
  return to_unit(hash(seed, tag, a, b));
}

// A splitmix64 stream (sequential; one per frame).
struct Stream {
  std::uint64_t s;
  std::uint64_t next() { return mix64(s += kGolden); }
  double uniform() { return to_unit(next()); }
};

// ---- Poisson deviates ----

// Below this mean, tabulated inversion; from it on, PTRS.
constexpr double kPtrsFrom = 10;

// Tables for the Poisson samplers, built once (function-local static):
//  * ln k! for k < 256, Stirling's series beyond (Abramowitz & Stegun 6.1.41; error < 1e-14
//    for k >= 256);
//  * the CDFs of Poisson(j / kPerUnit) for j < kBins (means 0 .. 10 in steps of 1/32), each
//    with a guide table (Chen & Asau 1974): guide[i] = smallest k with F(k) >= i / kGuide,
//    so that inversion starts next to its answer.
struct PoissonTables {
  static constexpr int kPerUnit = 32, kBins = 10 * kPerUnit, kLen = 48, kGuide = 16;
  double log_fact[256];
  double inv[256];
  double cdf[kBins][kLen];
  std::uint8_t guide[kBins][kGuide];
  PoissonTables() {
    log_fact[0] = 0;
    inv[0] = 0;
    for (int k = 1; k < 256; ++k) {
      log_fact[k] = log_fact[k - 1] + std::log(static_cast<double>(k));
      inv[k] = 1.0 / k;
    }
    for (int j = 0; j < kBins; ++j) {
      const double lam = static_cast<double>(j) / kPerUnit;
      double p = std::exp(-lam), F = p;
      cdf[j][0] = F;
      for (int k = 1; k < kLen; ++k) {
        p *= lam / k;
        F += p;
        cdf[j][k] = std::min(F, 1.0);
      }
      cdf[j][kLen - 1] = 1.0; // P(K >= 47) < 1e-20 for means < 10: the search always stops
      int k = 0;
      for (int i = 0; i < kGuide; ++i) {
        while (cdf[j][k] < static_cast<double>(i) / kGuide) ++k;
        guide[j][i] = static_cast<std::uint8_t>(k);
      }
    }
  }
  double log_factorial(double k) const {
    if (k < 256) return log_fact[static_cast<int>(k)];
    const double x = k + 1, ix = 1 / x, ix2 = ix * ix;
    return (x - 0.5) * std::log(x) - x + 0.5 * std::log(2 * kPi) +
           ix * (1.0 / 12 - ix2 * (1.0 / 360 - ix2 * (1.0 / 1260)));
  }
};
const PoissonTables& poisson_tables() {
  static const PoissonTables t;
  return t;
}

// Poisson(lam) by inversion for small lam: one uniform, sequential search of the CDF (Devroye,
// "Non-Uniform Random Variate Generation", 1986, X.3.3); the squeeze e^-lam >= 1 - lam
// settles most k = 0 cases without an exp. The search stops at k = 100 (P < 1e-50 beyond).
inline double poisson_inversion(double lam, Stream& rng, const PoissonTables& t) {
  const double u = rng.uniform();
  if (u < 1 - lam) return 0;
  double p = std::exp(-lam), F = p;
  int k = 0;
  while (u > F && k < 100) {
    ++k;
    p *= lam * t.inv[k];
    F += p;
  }
  return k;
}

// Poisson(lam) for lam < 10, exactly, as Poisson(lam0) + Poisson(lam - lam0) with lam0 = lam
// rounded down to 1/32: the first by guided inversion of the tabulated CDF, the second (mean
// < 1/32, almost always 0) by inversion with the squeeze.
inline double poisson_small(double lam, Stream& rng, const PoissonTables& t) {
  const int j = static_cast<int>(lam * PoissonTables::kPerUnit);
  const double rest = lam - static_cast<double>(j) / PoissonTables::kPerUnit;
  const double u = rng.uniform();
  const double* F = t.cdf[j];
  int k = t.guide[j][static_cast<int>(u * PoissonTables::kGuide)];
  while (u > F[k]) ++k;
  return rest > 0 ? k + poisson_inversion(rest, rng, t) : k;
}

// Poisson(lam) for lam >= 10: PTRS, transformed rejection with squeeze (W. Hormann, "The
// transformed rejection method for generating Poisson random variables", Insurance:
// Mathematics and Economics 12, 39-45, 1993), as numpy's random_poisson_ptrs; the logarithms
// are only taken when the quick acceptance (about 90 % of the draws) fails.
inline double poisson_ptrs(double lam, Stream& rng, const PoissonTables& t) {
  const double slam = std::sqrt(lam);
  const double b = 0.931 + 2.53 * slam;
  const double a = -0.059 + 0.02483 * b;
  const double vr = 0.9277 - 3.6224 / (b - 2);
  double log_ratio = 0; // log(invalpha) + lam - lam log(lam), once needed
  bool have_logs = false;
  for (;;) {
    const double U = rng.uniform() - 0.5;
    const double V = rng.uniform();
    const double us = 0.5 - std::abs(U);
    const double k = std::floor((2 * a / us + b) * U + lam + 0.43);
    if (us >= 0.07 && V <= vr) return k;
    if (k < 0 || (us < 0.013 && V > us)) continue;
    if (!have_logs) {
      const double invalpha = 1.1239 + 1.1328 / (b - 3.4);
      log_ratio = std::log(invalpha) + lam;
      have_logs = true;
    }
    // log(V) + log(invalpha) - log(a / us^2 + b) <= -lam + k log(lam) - log(k!)
    if (std::log(V) + log_ratio - std::log(a / (us * us) + b) <= k * std::log(lam) - t.log_factorial(k)) return k;
  }
}

// ---- the model ----

// One reflection of a grain, relative to the origin, distorted: E R(angle) (h g1 + k g2).
struct DiskTemplate {
  double dy, dx;
  float intensity;
  std::int32_t h, k;
};

struct Model {
  SimParams p;
  std::vector<SimLattice> lattices;             // per phase in use
  std::vector<SimGrain> grains;
  std::vector<std::vector<DiskTemplate>> disks; // per grain, without the central beam
  std::vector<std::int32_t> labels;             // [Ry * Rx]
  std::vector<std::int32_t> hot;                // detector pixel indices
  double support = 0;                           // disk support radius, px
};

// Distinct random indices in [0, n), in draw order (rejection; fine for count <= n).
std::vector<std::int64_t> distinct_indices(std::uint64_t seed, std::uint64_t tag, std::int64_t count,
                                           std::int64_t n) {
  std::vector<std::int64_t> out;
  out.reserve(static_cast<std::size_t>(count));
  std::vector<std::uint8_t> used(static_cast<std::size_t>(n), 0);
  std::uint64_t draw = 0;
  while (static_cast<std::int64_t>(out.size()) < count) {
    const std::int64_t j = static_cast<std::int64_t>(hash(seed, tag, draw++) % static_cast<std::uint64_t>(n));
    if (used[static_cast<std::size_t>(j)]) continue;
    used[static_cast<std::size_t>(j)] = 1;
    out.push_back(j);
  }
  return out;
}

// A smooth warp of the scan plane: `steps` Euler steps of the flow of the steady field
// v(p) = sum_m a_m cos(k_m . p + phi_m) e_m. Each step p -> p + v(p) has the Lipschitz constant
// of v, sum_m a_m |k_m| = 0.95 roughness < 1, so it is one-to-one, and so is their composition,
// however far it moves points: a Voronoi tiling in the warped plane pulls back to connected
// grains (up to the sampling of the scan grid) with wavy, non-convex boundaries.
struct Warp {
  struct Mode { double ky, kx, phi, ay, ax; };
  std::vector<Mode> modes;
  int steps = 0;
  void operator()(double y, double x, double& wy, double& wx) const {
    for (int s = 0; s < steps; ++s) {
      double vy = 0, vx = 0;
      for (const Mode& m : modes) {
        const double c = std::cos(m.ky * y + m.kx * x + m.phi);
        vy += m.ay * c;
        vx += m.ax * c;
      }
      y += vy;
      x += vx;
    }
    wy = y;
    wx = x;
  }
  /// Largest displacement of any point.
  double reach() const {
    double a = 0;
    for (const Mode& m : modes) a += std::hypot(m.ay, m.ax);
    return steps * a;
  }
};

Warp make_warp(const SimParams& p) {
  Warp w;
  if (!p.irregular_boundaries || p.boundary_roughness <= 0) return w;
  // Mean grain spacing L; two modes at wavelength 1.5 L carry 70 % of the Lipschitz budget, two
  // at L / 2 the rest. With 5 steps, boundaries move by up to about L / 2 at roughness 1.
  const double L = std::sqrt(static_cast<double>(p.scan.y * p.scan.x) / p.n_grains);
  const double lip = 0.95 * p.boundary_roughness;
  w.steps = 5;
  for (int m = 0; m < 4; ++m) {
    const double lambda = std::max(m < 2 ? 1.5 * L : 0.5 * L, 2.0);
    const double kmag = 2 * kPi / lambda;
    const double share = (m < 2 ? 0.35 : 0.15) * lip; // a_m |k_m|
    const double th = 2 * kPi * uniform(p.seed, tag_warp, m, 0);
    const double dir = 2 * kPi * uniform(p.seed, tag_warp, m, 1);
    const double phi = 2 * kPi * uniform(p.seed, tag_warp, m, 2);
    const double amp = share / kmag;
    w.modes.push_back({kmag * std::sin(th), kmag * std::cos(th), phi, amp * std::sin(dir), amp * std::cos(dir)});
  }
  return w;
}

// The warped seeds bucketed into square cells of about one grain spacing, for nearest-seed
// queries in O(1) expected time (instead of O(n_grains)), exact, ties to the lower index
// (point_grid.hpp). Every warped point (seed or query) lies within the scan box grown by the
// warp amplitude.
sim_detail::PointGrid seed_grid(const SimParams& p, const Warp& w, const std::vector<double>& sy,
                                const std::vector<double>& sx) {
  const double amp = w.reach();
  const double c = std::max(1.0, std::sqrt(static_cast<double>(p.scan.y * p.scan.x) / p.n_grains));
  sim_detail::PointGrid g(-amp - 1, -amp - 1, static_cast<double>(p.scan.y) + 2 * amp + 2 + c,
                          static_cast<double>(p.scan.x) + 2 * amp + 2 + c, c);
  g.build(sy, sx);
  return g;
}

std::vector<DiskTemplate> grain_disks(const SimParams& p, const SimLattice& L, double angle_deg,
                                      std::int64_t grain) {
  std::vector<DiskTemplate> out;
  const double t = angle_deg * kPi / 180;
  const double c = std::cos(t), s = std::sin(t);
  const std::array<double, 4> E = sim_distortion(p);
  const double n1 = std::hypot(L.g1.qy, L.g1.qx), n2 = std::hypot(L.g2.qy, L.g2.qx);
  const double cross = std::abs(L.g1.qx * L.g2.qy - L.g1.qy * L.g2.qx);
  // |h| <= |g| |g2| / |g1 x g2| and |k| <= |g| |g1| / |g1 x g2|
  const int hmax = static_cast<int>(std::floor(p.max_g_px * n2 / cross + 1e-9));
  const int kmax = static_cast<int>(std::floor(p.max_g_px * n1 / cross + 1e-9));
  const double gmax2 = p.max_g_px * p.max_g_px * (1 + 1e-12);
  for (int h = -hmax; h <= hmax; ++h)
    for (int k = -kmax; k <= kmax; ++k) {
      if (h == 0 && k == 0) continue;
      const double gy = h * L.g1.qy + k * L.g2.qy, gx = h * L.g1.qx + k * L.g2.qx;
      const double g2 = gy * gy + gx * gx;
      if (g2 > gmax2) continue;
      // rotate by t (from +qx towards +qy), then distort
      const double ry = gy * c + gx * s, rx = gx * c - gy * s;
      DiskTemplate d;
      d.dy = E[0] * ry + E[1] * rx;
      d.dx = E[2] * ry + E[3] * rx;
      // Shells of equal |g| share one random factor, so the pattern keeps the lattice's symmetry.
      const std::uint64_t shell = static_cast<std::uint64_t>(std::llround(g2 / (n1 * n1) * 1e6));
      const double rnd = 2 * uniform(p.seed, tag_shell, static_cast<std::uint64_t>(grain), shell) - 1;
      const double I = p.bragg_intensity * std::exp(-g2 / (p.intensity_falloff_px * p.intensity_falloff_px)) *
                       (1 + p.grain_intensity_randomness * rnd);
      d.intensity = static_cast<float>(std::max(I, 0.0));
      d.h = h;
      d.k = k;
      out.push_back(d);
    }
  std::stable_sort(out.begin(), out.end(), [](const DiskTemplate& a, const DiskTemplate& b) {
    return a.dy * a.dy + a.dx * a.dx < b.dy * b.dy + b.dx * b.dx;
  });
  return out;
}

Model build_model(const SimParams& p) {
  validate(p);
  Model m;
  m.p = p;
  m.support = sim_disk_support_px(p);
  for (int i = 0; i < p.n_phases; ++i) m.lattices.push_back(sim_lattice(p.phases[static_cast<std::size_t>(i)]));

  const std::int64_t Ry = p.scan.y, Rx = p.scan.x, N = Ry * Rx;
  const std::int64_t G = p.n_grains;

  // Seeds at distinct scan positions.
  const std::vector<std::int64_t> seeds = distinct_indices(p.seed, tag_seed_pos, G, N);
  m.grains.resize(static_cast<std::size_t>(G));
  for (std::int64_t g = 0; g < G; ++g) {
    m.grains[static_cast<std::size_t>(g)].seed_ry = seeds[static_cast<std::size_t>(g)] / Rx;
    m.grains[static_cast<std::size_t>(g)].seed_rx = seeds[static_cast<std::size_t>(g)] % Rx;
  }

  // Materials: a seeded shuffle of the grains; the first n_vacuum are vacuum, the next
  // n_amorphous amorphous, the rest crystalline.
  std::vector<std::int64_t> order(static_cast<std::size_t>(G));
  std::iota(order.begin(), order.end(), 0);
  for (std::int64_t i = G - 1; i > 0; --i) {
    const auto j = static_cast<std::int64_t>(hash(p.seed, tag_material, static_cast<std::uint64_t>(i)) %
                                             static_cast<std::uint64_t>(i + 1));
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
  }
  const auto n_vac = static_cast<std::int64_t>(std::llround(p.vacuum_fraction * static_cast<double>(G)));
  const auto n_am = std::min(G - n_vac, static_cast<std::int64_t>(std::llround(p.amorphous_fraction * static_cast<double>(G))));
  for (std::int64_t i = 0; i < G; ++i) {
    SimGrain& gr = m.grains[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])];
    gr.material = i < n_vac ? SimMaterial::vacuum : i < n_vac + n_am ? SimMaterial::amorphous : SimMaterial::crystal;
  }

  // Phase and angle of each crystalline grain; the angle is drawn in [0, 360 / n) directly
  // (the lattice looks the same at t and t + 360 / n), and kept exactly as a float.
  m.disks.resize(static_cast<std::size_t>(G));
  for (std::int64_t g = 0; g < G; ++g) {
    SimGrain& gr = m.grains[static_cast<std::size_t>(g)];
    if (gr.material != SimMaterial::crystal) {
      gr.phase = -1;
      gr.angle_deg = std::numeric_limits<double>::quiet_NaN();
      continue;
    }
    gr.phase = static_cast<std::int32_t>(
        std::min<double>(p.n_phases - 1, std::floor(uniform(p.seed, tag_phase, static_cast<std::uint64_t>(g)) * p.n_phases)));
    const SimLattice& L = m.lattices[static_cast<std::size_t>(gr.phase)];
    const float period = static_cast<float>(360.0 / L.symmetry_n);
    float a = static_cast<float>(uniform(p.seed, tag_angle, static_cast<std::uint64_t>(g)) * (360.0 / L.symmetry_n));
    if (a >= period) a = std::nextafter(period, 0.0f);
    gr.angle_deg = a;
    m.disks[static_cast<std::size_t>(g)] = grain_disks(p, L, gr.angle_deg, g);
  }

  // Labels: nearest seed in the warped plane (ties to the lower grain index).
  const Warp warp = make_warp(p);
  std::vector<double> wsy(static_cast<std::size_t>(G)), wsx(static_cast<std::size_t>(G));
  for (std::int64_t g = 0; g < G; ++g)
    warp(static_cast<double>(m.grains[static_cast<std::size_t>(g)].seed_ry),
         static_cast<double>(m.grains[static_cast<std::size_t>(g)].seed_rx), wsy[static_cast<std::size_t>(g)],
         wsx[static_cast<std::size_t>(g)]);
  const sim_detail::PointGrid grid = seed_grid(p, warp, wsy, wsx);
  m.labels.resize(static_cast<std::size_t>(N));
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, Ry), [&](const tbb::blocked_range<std::int64_t>& rows) {
    for (std::int64_t ry = rows.begin(); ry < rows.end(); ++ry)
      for (std::int64_t rx = 0; rx < Rx; ++rx) {
        double wy, wx;
        warp(static_cast<double>(ry), static_cast<double>(rx), wy, wx);
        m.labels[static_cast<std::size_t>(ry * Rx + rx)] = grid.nearest(wy, wx, wsy, wsx);
      }
  });

  // Hot pixels.
  for (std::int64_t j : distinct_indices(p.seed, tag_hot, p.n_hot_pixels, p.detector.y * p.detector.x))
    m.hot.push_back(static_cast<std::int32_t>(j));
  return m;
}

// Where a disk centred at (cy, cx) falls: 0 = not on the detector, 1 = cut by the edge,
// 2 = its whole support lies inside the detector area [-0.5, Q - 0.5].
int disk_placement(double cy, double cx, double rs, std::int64_t Qy, std::int64_t Qx) {
  const double ymax = static_cast<double>(Qy) - 0.5, xmax = static_cast<double>(Qx) - 0.5;
  if (cy - rs >= -0.5 && cy + rs <= ymax && cx - rs >= -0.5 && cx + rs <= xmax) return 2;
  if (cy + rs < -0.5 || cy - rs > ymax || cx + rs < -0.5 || cx - rs > xmax) return 0;
  return 1;
}

// Calls fn(cy, cx, intensity, h, k) for every disk of position (ry, rx): the central beam
// first, then the grain's reflections. The renderer and the truth both go through here.
template <typename Fn> void for_each_disk(const Model& m, std::int64_t ry, std::int64_t rx, Fn&& fn) {
  const SimVec2 o = sim_origin(m.p, ry, rx);
  fn(o.qy, o.qx, static_cast<float>(m.p.central_intensity), 0, 0);
  const std::int32_t g = m.labels[static_cast<std::size_t>(ry * m.p.scan.x + rx)];
  for (const DiskTemplate& d : m.disks[static_cast<std::size_t>(g)]) fn(o.qy + d.dy, o.qx + d.dx, d.intensity, d.h, d.k);
}

void push_disk(SimDisks& D, double cy, double cx, float I, std::int32_t h, std::int32_t k) {
  D.qy.push_back(static_cast<float>(cy));
  D.qx.push_back(static_cast<float>(cx));
  D.intensity.push_back(I);
  D.h.push_back(h);
  D.k.push_back(k);
}

// ---- rendering ----

// Radial profiles tabulated once per source and linearly interpolated (in r^2, so that no
// square root is needed). Both are radially symmetric, so the tabulation moves no centroid.
struct Profiles {
  // Disk: f(r) = erfc((r - R) / (sqrt 2 sigma)) / 2, shifted and rescaled to reach 0 exactly at the
  // support radius Rs and cut there; tabulated on r^2 in [0, Rs^2].
  std::vector<float> disk;
  double disk_inv_step = 0;
  double rs2 = 0;
  int S = 1;                         // supersampling per axis in the edge band
  double inner2 = -1, outer2 = 0;    // edge band [inner, outer] on the pixel-centre radius, squared
  // Diffuse scattering on the distorted radius rho^2 = (p - o)^T M (p - o), M = E^-2.
  std::vector<float> amorphous_bg;  // background + ring (crystal background is computed directly)
  double bg_inv_step = 0;
  double My = 1, Mxy = 0, Mx = 1;
};

Profiles make_profiles(const SimParams& p) {
  Profiles P;
  const double R = p.disk_radius_px, sg = p.edge_width_px, Rs = R + 4 * sg;
  auto f = [&](double r) { return 0.5 * std::erfc((r - R) / (std::numbers::sqrt2 * sg)); };
  const double f_rs = f(Rs), f_0 = f(0);
  const int n = 4096;
  P.rs2 = Rs * Rs;
  P.disk_inv_step = (n - 1) / P.rs2;
  P.disk.resize(n + 1);
  for (int i = 0; i < n; ++i) {
    const double r = std::sqrt(i / P.disk_inv_step);
    P.disk[static_cast<std::size_t>(i)] = static_cast<float>((f(r) - f_rs) / (f_0 - f_rs));
  }
  P.disk[n] = 0;
  // Supersample where the profile changes within a pixel: with S = ceil(0.25 / sigma) the first
  // alias (spatial frequency S per px) falls where the edge blur has damped it to < 30 %, and
  // an S x S mean approaches the pixel-area integral, whose centroid error is small anyway
  // (the box filter's transfer function vanishes at the alias frequencies).
  P.S = std::clamp(static_cast<int>(std::ceil(0.25 / sg - 1e-9)), 1, 8);
  const double half_diag = 0.7072;
  const double inner = R - 4 * sg - half_diag;
  P.inner2 = inner > 0 ? inner * inner : -1;
  P.outer2 = (Rs + half_diag) * (Rs + half_diag);

  // M = E^-2 = ea ea^T + eb eb^T / ratio^2 (E is symmetric, so rho is the radius before distortion).
  const double phi = p.ellipse_angle_deg * kPi / 180;
  const double ay = std::sin(phi), ax = std::cos(phi), by = std::cos(phi), bx = -std::sin(phi);
  const double ir2 = 1 / (p.ellipse_ratio * p.ellipse_ratio);
  P.My = ay * ay + ir2 * by * by;
  P.Mxy = ay * ax + ir2 * by * bx;
  P.Mx = ax * ax + ir2 * bx * bx;

  // Largest rho^2: detector diagonal plus the farthest the origin can go, over the smallest scale.
  const double oy = std::abs(p.origin_qy_px) + 0.5 * (std::abs(p.descan_qy_ry_px) + std::abs(p.descan_qy_rx_px)) +
                    std::abs(p.descan_qy_quad_px);
  const double ox = std::abs(p.origin_qx_px) + 0.5 * (std::abs(p.descan_qx_ry_px) + std::abs(p.descan_qx_rx_px)) +
                    std::abs(p.descan_qx_quad_px);
  const double reach = (std::hypot(static_cast<double>(p.detector.y), static_cast<double>(p.detector.x)) +
                        std::hypot(oy, ox) + 2) * std::max(1.0, 1 / p.ellipse_ratio);
  const double rho2max = reach * reach;
  const double s = p.amorphous_ring_width_px, r0 = p.amorphous_ring_px;
  double step = std::min(rho2max / 4096, 0.25 * s * std::max(r0, s)); // resolve the ring in rho^2
  step = std::max(step, rho2max / (1 << 20));
  const int nb = static_cast<int>(std::ceil(rho2max / step)) + 2;
  P.bg_inv_step = 1 / step;
  P.amorphous_bg.resize(static_cast<std::size_t>(nb) + 1);
  const double w2 = p.background_width_px * p.background_width_px;
  for (int i = 0; i <= nb; ++i) {
    const double rho2 = i * step, rho = std::sqrt(rho2);
    const double bg = p.background_level / (1 + rho2 / w2);
    const double ring = p.amorphous_ring_intensity * std::exp(-(rho - r0) * (rho - r0) / (2 * s * s));
    P.amorphous_bg[static_cast<std::size_t>(i)] = static_cast<float>(bg + ring);
  }
  return P;
}

inline float lut(const std::vector<float>& t, double x2, double inv_step) {
  const double x = x2 * inv_step;
  const auto n = static_cast<double>(t.size() - 1);
  if (x >= n) return t.back();
  const int i = static_cast<int>(x);
  const float w = static_cast<float>(x - i);
  return t[static_cast<std::size_t>(i)] + w * (t[static_cast<std::size_t>(i) + 1] - t[static_cast<std::size_t>(i)]);
}

// Adds one disk to the frame, only within its bounding box.
void draw_disk(const Profiles& P, float* frame, std::int64_t Qy, std::int64_t Qx, double cy, double cx, float I) {
  if (I == 0) return;
  const double rs = std::sqrt(P.rs2);
  const double m = P.S > 1 ? 0.5 : 0.0; // a supersampled pixel reaches half a pixel beyond its centre
  const auto i0 = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::ceil(cy - rs - m)));
  const auto i1 = std::min<std::int64_t>(Qy - 1, static_cast<std::int64_t>(std::floor(cy + rs + m)));
  const auto j0 = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::ceil(cx - rs - m)));
  const auto j1 = std::min<std::int64_t>(Qx - 1, static_cast<std::int64_t>(std::floor(cx + rs + m)));
  if (P.S == 1) {
    for (std::int64_t i = i0; i <= i1; ++i) {
      const double dy = static_cast<double>(i) - cy, dy2 = dy * dy;
      float* row = frame + i * Qx;
      for (std::int64_t j = j0; j <= j1; ++j) {
        const double dx = static_cast<double>(j) - cx;
        const double r2 = dy2 + dx * dx;
        if (r2 < P.rs2) row[j] += I * lut(P.disk, r2, P.disk_inv_step);
      }
    }
    return;
  }
  const int S = P.S;
  const double inv = 1.0 / (S * S);
  for (std::int64_t i = i0; i <= i1; ++i) {
    const double dy = static_cast<double>(i) - cy;
    float* row = frame + i * Qx;
    for (std::int64_t j = j0; j <= j1; ++j) {
      const double dx = static_cast<double>(j) - cx;
      const double r2 = dy * dy + dx * dx;
      if (r2 < P.inner2) {
        row[j] += I * lut(P.disk, r2, P.disk_inv_step);
      } else if (r2 < P.outer2) {
        // S x S samples at offsets (a + 1/2) / S - 1/2, symmetric about the pixel centre
        double acc = 0;
        for (int a = 0; a < S; ++a) {
          const double sy = dy + (a + 0.5) / S - 0.5, sy2 = sy * sy;
          for (int b = 0; b < S; ++b) {
            const double sx = dx + (b + 0.5) / S - 0.5;
            const double s2 = sy2 + sx * sx;
            if (s2 < P.rs2) acc += lut(P.disk, s2, P.disk_inv_step);
          }
        }
        row[j] += static_cast<float>(I * acc * inv);
      }
    }
  }
}

// Sum of a frame in double, eight interleaved partial sums (fixed order: deterministic).
double frame_sum(const float* f, std::int64_t n) {
  double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int l = 0; l < 8; ++l) s[l] += f[j + l];
  for (; j < n; ++j) s[0] += f[j];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

// Renders frame k (expected intensities; then noise and hot pixels) into `frame`.
void render_frame(const Model& m, const Profiles& P, std::int64_t k, float* frame) {
  const SimParams& p = m.p;
  const std::int64_t Qy = p.detector.y, Qx = p.detector.x, n = Qy * Qx;
  const std::int64_t ry = k / p.scan.x, rx = k % p.scan.x;
  const SimGrain& gr = m.grains[static_cast<std::size_t>(m.labels[static_cast<std::size_t>(k)])];

  // Diffuse background (and the amorphous ring), on the distorted radius about the origin.
  const SimVec2 o = sim_origin(p, ry, rx);
  if (gr.material == SimMaterial::amorphous) {
    for (std::int64_t i = 0; i < Qy; ++i) {
      const double dy = static_cast<double>(i) - o.qy;
      const double a = P.My * dy * dy, b = 2 * P.Mxy * dy;
      float* row = frame + i * Qx;
      for (std::int64_t j = 0; j < Qx; ++j) {
        const double dx = static_cast<double>(j) - o.qx;
        row[j] = lut(P.amorphous_bg, a + dx * (b + P.Mx * dx), P.bg_inv_step);
      }
    }
  } else if (gr.material == SimMaterial::crystal && p.background_level > 0) {
    // background_level / (1 + rho^2 / w^2), in float, eight pixels at a time (vectorises)
    const double iw2 = 1 / (p.background_width_px * p.background_width_px);
    const float level = static_cast<float>(p.background_level), c = static_cast<float>(P.Mx * iw2);
    const float ox = static_cast<float>(o.qx);
    for (std::int64_t i = 0; i < Qy; ++i) {
      const double dy = static_cast<double>(i) - o.qy;
      const float a = static_cast<float>(1 + P.My * dy * dy * iw2), b = static_cast<float>(2 * P.Mxy * dy * iw2);
      float* row = frame + i * Qx;
      std::int64_t j = 0;
      for (; j + 8 <= Qx; j += 8)
        for (int l = 0; l < 8; ++l) {
          const float dx = static_cast<float>(j + l) - ox;
          row[j + l] = level / (a + dx * (b + c * dx));
        }
      for (; j < Qx; ++j) {
        const float dx = static_cast<float>(j) - ox;
        row[j] = level / (a + dx * (b + c * dx));
      }
    }
  } else {
    std::memset(frame, 0, static_cast<std::size_t>(n) * sizeof(float));
  }

  // Disks: the central beam, then the grain's reflections (none for amorphous and vacuum).
  for_each_disk(m, ry, rx, [&](double cy, double cx, float I, std::int32_t, std::int32_t) {
    if (disk_placement(cy, cx, m.support, Qy, Qx) != 0) draw_disk(P, frame, Qy, Qx, cy, cx, I);
  });

  // Poisson noise: scale to `dose` expected electrons, then sample every pixel in raster order
  // from the frame's own stream.
  if (p.dose > 0) {
    const double sum = frame_sum(frame, n);
    const double scale = sum > 0 ? p.dose / sum : 0;
    Stream rng{hash(p.seed, tag_noise, static_cast<std::uint64_t>(k))};
    const PoissonTables& pt = poisson_tables();
    for (std::int64_t j = 0; j < n; ++j) {
      const double lam = scale * frame[j];
      if (lam <= 0) frame[j] = 0;
      else if (lam < kPtrsFrom) frame[j] = static_cast<float>(poisson_small(lam, rng, pt));
      else frame[j] = static_cast<float>(std::min(poisson_ptrs(lam, rng, pt), 65535.0));
    }
  }
  const float hot = static_cast<float>(p.dose > 0 ? std::round(p.hot_value) : p.hot_value);
  for (std::int32_t j : m.hot) frame[j] = hot;
}

class SimulatedSource : public FrameSource {
public:
  SimulatedSource(const SimParams& p, int threads) : model_(build_model(p)), profiles_(make_profiles(p)) {
    poisson_tables();
    if (threads > 0) arena_ = std::make_unique<tbb::task_arena>(threads);
    info_.path = "simulated";
    info_.format = "simulated";
    info_.shape = Shape4{p.scan.y, p.scan.x, p.detector.y, p.detector.x};
    info_.dtype = p.dose > 0 ? "<u2" : "<f4";
    info_.frames_present = info_.shape.n_frames();
    info_.metadata = {{"seed", std::to_string(p.seed)},
                      {"n_grains", std::to_string(p.n_grains)},
                      {"n_phases", std::to_string(p.n_phases)},
                      {"dose", p.dose > 0 ? std::to_string(p.dose) : "noise-free"}};
  }
  void read_frames(std::int64_t first, std::int64_t count, float* out) override {
    const Shape4& s = shape();
    if (first < 0 || count < 0 || first + count > s.n_frames())
      fail(ErrorKind::bad_parameter, info_.path, "frames [", first, ", ", first + count, ") outside the scan of ",
           s.n_frames(), " frames");
    const std::int64_t fp = s.frame_pixels();
    auto body = [&] {
      tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, count), [&](const tbb::blocked_range<std::int64_t>& r) {
        for (std::int64_t i = r.begin(); i < r.end(); ++i) render_frame(model_, profiles_, first + i, out + i * fp);
      });
    };
    if (arena_) arena_->execute(body);
    else body();
  }
private:
  Model model_;
  Profiles profiles_;
  std::unique_ptr<tbb::task_arena> arena_;
};

} // namespace

SimTruth simulate_truth(const SimParams& p) {
  const Model m = build_model(p);
  SimTruth t;
  t.scan = p.scan;
  t.detector = p.detector;
  const std::int64_t N = p.scan.y * p.scan.x;
  t.labels = m.labels;
  t.phase.resize(static_cast<std::size_t>(N));
  t.angle_deg.resize(static_cast<std::size_t>(N));
  t.origin_qy.resize(static_cast<std::size_t>(N));
  t.origin_qx.resize(static_cast<std::size_t>(N));
  t.disks.offsets.reserve(static_cast<std::size_t>(N) + 1);
  t.edge_disks.offsets.reserve(static_cast<std::size_t>(N) + 1);
  t.disks.offsets.push_back(0);
  t.edge_disks.offsets.push_back(0);
  for (std::int64_t i = 0; i < N; ++i) {
    const std::int64_t ry = i / p.scan.x, rx = i % p.scan.x;
    const SimGrain& g = m.grains[static_cast<std::size_t>(m.labels[static_cast<std::size_t>(i)])];
    t.phase[static_cast<std::size_t>(i)] = g.phase;
    t.angle_deg[static_cast<std::size_t>(i)] = static_cast<float>(g.angle_deg);
    const SimVec2 o = sim_origin(p, ry, rx);
    t.origin_qy[static_cast<std::size_t>(i)] = static_cast<float>(o.qy);
    t.origin_qx[static_cast<std::size_t>(i)] = static_cast<float>(o.qx);
    for_each_disk(m, ry, rx, [&](double cy, double cx, float I, std::int32_t h, std::int32_t k) {
      const int where = disk_placement(cy, cx, m.support, p.detector.y, p.detector.x);
      if (where == 2) push_disk(t.disks, cy, cx, I, h, k);
      else if (where == 1) push_disk(t.edge_disks, cy, cx, I, h, k);
    });
    t.disks.offsets.push_back(t.disks.size());
    t.edge_disks.offsets.push_back(t.edge_disks.size());
  }
  t.grains = m.grains;
  t.lattices = m.lattices;
  for (int i = 0; i < p.n_phases; ++i) t.phase_names.push_back(p.phases[static_cast<std::size_t>(i)].name);
  for (std::int32_t j : m.hot) {
    t.hot_pixels.push_back(static_cast<std::int32_t>(j / p.detector.x));
    t.hot_pixels.push_back(static_cast<std::int32_t>(j % p.detector.x));
  }
  return t;
}

std::unique_ptr<FrameSource> make_simulated_source(const SimParams& p, int threads) {
  return std::make_unique<SimulatedSource>(p, threads);
}

} // namespace domainmap
