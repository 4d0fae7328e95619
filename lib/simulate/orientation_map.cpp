// lib/simulate/orientation_map.cpp: the orientation-map generator: hard-core Voronoi grains
// behind a smooth displacement field, twin lamellae, clean-up into true grains, orientations
// with a minimum disorientation between neighbours, bending, noise and not-indexed positions
// concentrated on the boundaries. The model is described in domainmap/simulate.hpp.
//
// Randomness is counter based (a hash of seed, purpose and index; splitmix64's finaliser,
// Steele, Lea & Flood, OOPSLA 2014), the per-position passes run in parallel over rows and the
// passes that join regions run serially, so the map is the same for any number of threads.
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <numeric>
#include <utility>

#include "domainmap/error.hpp"
#include "domainmap/orientation.hpp"
#include "domainmap/simulate.hpp"
#include "point_grid.hpp"
#include "domainmap/symmetry.hpp"

namespace domainmap {

namespace {

using sim_detail::PointGrid;

constexpr double kPi = std::numbers::pi;
constexpr double kDeg = kPi / 180.0;
constexpr int kDraws = 64;       // orientation draws per unit and sweep
constexpr int kRepairSweeps = 8; // sweeps redrawing units that still have a too-close neighbour

// ---- counter-based random numbers ----

constexpr std::uint64_t kGolden = 0x9e3779b97f4a7c15ULL;

inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Purposes, so that different uses never share numbers (distinct from simulate.cpp's tags).
enum Tag : std::uint64_t {
  tag_seed = 101, tag_warp, tag_phase, tag_twin, tag_bent, tag_orient, tag_noise, tag_band, tag_any,
  tag_twin_geom, tag_bend_geom
};

inline std::uint64_t hash(std::uint64_t seed, std::uint64_t tag, std::uint64_t a, std::uint64_t b = 0) {
  std::uint64_t h = mix64(seed + kGolden * (tag + 1));
  h = mix64(h ^ (a + 0x632be59bd9b4e019ULL));
  h = mix64(h ^ (b + 0x8cb92ba72f3d8dd7ULL));
  return h;
}
inline double uniform(std::uint64_t seed, std::uint64_t tag, std::uint64_t a, std::uint64_t b = 0) {
  return static_cast<double>(hash(seed, tag, a, b) >> 11) * 0x1.0p-53;  // [0, 1)
}
// Standard normal numbers 2k and 2k + 1 of item a (both outputs of Box-Muller on two
// counter-based uniforms).
inline void normal_pair(std::uint64_t seed, std::uint64_t tag, std::uint64_t a, std::uint64_t k, double& n0,
                        double& n1) {
  const double u1 = uniform(seed, tag, a, 2 * k), u2 = uniform(seed, tag, a, 2 * k + 1);
  const double r = std::sqrt(-2 * std::log(1 - u1));
  n0 = r * std::cos(2 * kPi * u2);
  n1 = r * std::sin(2 * kPi * u2);
}

// Flags for exactly round(fraction * n) of n items, chosen by a seeded shuffle.
std::vector<std::uint8_t> choose(std::uint64_t seed, std::uint64_t tag, double fraction, std::int64_t n) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  for (std::int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<std::int64_t>(hash(seed, tag, static_cast<std::uint64_t>(i)) %
                                             static_cast<std::uint64_t>(i + 1));
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
  }
  const auto count = std::min<std::int64_t>(n, std::llround(fraction * static_cast<double>(n)));
  std::vector<std::uint8_t> flag(static_cast<std::size_t>(n), 0);
  for (std::int64_t i = 0; i < count; ++i) flag[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])] = 1;
  return flag;
}

// ---- geometry ----

// d(p) = A sum_m 1/4 cos(k_m . p + phi_m) e_m: |d| <= A, Lipschitz constant <= A |k|. On the
// scan grid each mode is cos(a_m(y) + b_m(x)) = cos a cos b - sin a sin b, with a_m(y) =
// ky y + phi and b_m(x) = kx x tabulated per row and column (no cosine per position).
struct Displacement {
  struct Mode { double ky, kx, phi, ey, ex; };
  Mode modes[4]{};
  double amp = 0;
  std::vector<double> row_cos, row_sin, col_cos, col_sin;  // [4 * ny], [4 * nx]
  void tabulate(std::int64_t ny, std::int64_t nx) {
    row_cos.resize(static_cast<std::size_t>(4 * ny));
    row_sin.resize(row_cos.size());
    col_cos.resize(static_cast<std::size_t>(4 * nx));
    col_sin.resize(col_cos.size());
    for (int m = 0; m < 4; ++m) {
      for (std::int64_t y = 0; y < ny; ++y) {
        const double a = modes[m].ky * static_cast<double>(y) + modes[m].phi;
        row_cos[static_cast<std::size_t>(4 * y + m)] = std::cos(a);
        row_sin[static_cast<std::size_t>(4 * y + m)] = std::sin(a);
      }
      for (std::int64_t x = 0; x < nx; ++x) {
        const double b = modes[m].kx * static_cast<double>(x);
        col_cos[static_cast<std::size_t>(4 * x + m)] = std::cos(b);
        col_sin[static_cast<std::size_t>(4 * x + m)] = std::sin(b);
      }
    }
  }
  // The displaced position of scan position (y, x).
  void apply(std::int64_t y, std::int64_t x, double& wy, double& wx) const {
    wy = static_cast<double>(y);
    wx = static_cast<double>(x);
    if (amp == 0) return;
    const double* rc = &row_cos[static_cast<std::size_t>(4 * y)];
    const double* rs = &row_sin[static_cast<std::size_t>(4 * y)];
    const double* cc = &col_cos[static_cast<std::size_t>(4 * x)];
    const double* cs = &col_sin[static_cast<std::size_t>(4 * x)];
    for (int m = 0; m < 4; ++m) {
      const double c = 0.25 * amp * (rc[m] * cc[m] - rs[m] * cs[m]);
      wy += c * modes[m].ey;
      wx += c * modes[m].ex;
    }
  }
};

Displacement make_displacement(const OrientationMapParams& p) {
  Displacement d;
  d.amp = p.waviness_px;
  const double k = 2 * kPi / p.waviness_wavelength_px;
  for (int m = 0; m < 4; ++m) {
    const double th = 2 * kPi * uniform(p.seed, tag_warp, m, 0);
    const double dir = 2 * kPi * uniform(p.seed, tag_warp, m, 1);
    d.modes[m] = {k * std::sin(th), k * std::cos(th), 2 * kPi * uniform(p.seed, tag_warp, m, 2), std::sin(dir),
                  std::cos(dir)};
  }
  if (d.amp > 0) d.tabulate(p.scan.y, p.scan.x);
  return d;
}


// Seeds by dart throwing with a hard core of radius r (64 tries each; the last try is kept if
// all fail), continuous coordinates over the pixel area [-0.5, R - 0.5).
void place_seeds(const OrientationMapParams& p, std::vector<double>& sy, std::vector<double>& sx) {
  const double H = static_cast<double>(p.scan.y), W = static_cast<double>(p.scan.x);
  const double r = p.min_spacing_fraction * std::sqrt(H * W / p.n_grains);
  const double cell = std::max(r, 1.0);
  const auto gy = static_cast<std::int64_t>(std::ceil(H / cell)), gx = static_cast<std::int64_t>(std::ceil(W / cell));
  std::vector<std::int32_t> head(static_cast<std::size_t>(gy * gx), -1), next(static_cast<std::size_t>(p.n_grains), -1);
  sy.resize(static_cast<std::size_t>(p.n_grains));
  sx.resize(static_cast<std::size_t>(p.n_grains));
  auto cell_of = [&](double v, std::int64_t n) {
    return std::clamp<std::int64_t>(static_cast<std::int64_t>(std::floor((v + 0.5) / cell)), 0, n - 1);
  };
  for (std::int32_t g = 0; g < p.n_grains; ++g) {
    double y = 0, x = 0;
    for (int t = 0; t < 64; ++t) {
      y = uniform(p.seed, tag_seed, static_cast<std::uint64_t>(g), 2 * t) * H - 0.5;
      x = uniform(p.seed, tag_seed, static_cast<std::uint64_t>(g), 2 * t + 1) * W - 0.5;
      if (r <= 0) break;
      bool ok = true;
      const std::int64_t cy = cell_of(y, gy), cx = cell_of(x, gx);
      for (std::int64_t iy = std::max<std::int64_t>(0, cy - 1); ok && iy <= std::min(gy - 1, cy + 1); ++iy)
        for (std::int64_t ix = std::max<std::int64_t>(0, cx - 1); ok && ix <= std::min(gx - 1, cx + 1); ++ix)
          for (std::int32_t q = head[static_cast<std::size_t>(iy * gx + ix)]; q >= 0; q = next[static_cast<std::size_t>(q)]) {
            const double dy = y - sy[static_cast<std::size_t>(q)], dx = x - sx[static_cast<std::size_t>(q)];
            if (dy * dy + dx * dx < r * r) {
              ok = false;
              break;
            }
          }
      if (ok) break;
    }
    sy[static_cast<std::size_t>(g)] = y;
    sx[static_cast<std::size_t>(g)] = x;
    const std::size_t c = static_cast<std::size_t>(cell_of(y, gy) * gx + cell_of(x, gx));
    next[static_cast<std::size_t>(g)] = head[c];
    head[c] = g;
  }
}

// ---- regions ----

std::int32_t find(std::vector<std::int32_t>& parent, std::int32_t a) {
  while (parent[static_cast<std::size_t>(a)] != a) {
    parent[static_cast<std::size_t>(a)] = parent[static_cast<std::size_t>(parent[static_cast<std::size_t>(a)])];
    a = parent[static_cast<std::size_t>(a)];
  }
  return a;
}

// 4-connected components of equal key, numbered 0..C-1 by first position in raster order.
struct Components {
  std::vector<std::int32_t> comp;   // [N]
  std::vector<std::int64_t> size;   // [C]
  std::vector<std::int32_t> key;    // [C]
  std::vector<std::int32_t> parent; // scratch
};

void label_components(const std::vector<std::int32_t>& key, std::int64_t ny, std::int64_t nx, Components& c) {
  const std::int64_t n = ny * nx;
  auto& par = c.parent;
  par.resize(static_cast<std::size_t>(n));
  std::iota(par.begin(), par.end(), 0);
  auto unite = [&](std::int64_t a, std::int64_t b) {
    const std::int32_t ra = find(par, static_cast<std::int32_t>(a)), rb = find(par, static_cast<std::int32_t>(b));
    if (ra < rb) par[static_cast<std::size_t>(rb)] = ra;
    else if (rb < ra) par[static_cast<std::size_t>(ra)] = rb;
  };
  for (std::int64_t y = 0; y < ny; ++y)
    for (std::int64_t x = 0; x < nx; ++x) {
      const std::int64_t i = y * nx + x;
      if (x > 0 && key[static_cast<std::size_t>(i - 1)] == key[static_cast<std::size_t>(i)]) unite(i - 1, i);
      if (y > 0 && key[static_cast<std::size_t>(i - nx)] == key[static_cast<std::size_t>(i)]) unite(i - nx, i);
    }
  // Roots are the smallest index of their component, so a root is met before its members.
  c.comp.resize(static_cast<std::size_t>(n));
  c.size.clear();
  c.key.clear();
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int32_t r = find(par, static_cast<std::int32_t>(i));
    if (r == i) {
      c.comp[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(c.size.size());
      c.size.push_back(0);
      c.key.push_back(key[static_cast<std::size_t>(i)]);
    } else {
      c.comp[static_cast<std::size_t>(i)] = c.comp[static_cast<std::size_t>(r)];
    }
    ++c.size[static_cast<std::size_t>(c.comp[static_cast<std::size_t>(i)])];
  }
}

// Sorted, distinct (a, b) pairs of components adjacent across a 4-edge, a != b, packed a << 32 | b;
// with `only` non-empty, only pairs whose first member is flagged (both orders are listed).
std::vector<std::uint64_t> adjacent_pairs(const Components& c, std::int64_t ny, std::int64_t nx, bool counted,
                                          const std::vector<std::uint8_t>& only) {
  std::vector<std::uint64_t> pairs;
  auto add = [&](std::int32_t a, std::int32_t b) {
    if (a == b) return;
    if (only.empty() || only[static_cast<std::size_t>(a)])
      pairs.push_back(static_cast<std::uint64_t>(a) << 32 | static_cast<std::uint32_t>(b));
    if (only.empty() || only[static_cast<std::size_t>(b)])
      pairs.push_back(static_cast<std::uint64_t>(b) << 32 | static_cast<std::uint32_t>(a));
  };
  for (std::int64_t y = 0; y < ny; ++y)
    for (std::int64_t x = 0; x < nx; ++x) {
      const std::int64_t i = y * nx + x;
      if (x + 1 < nx) add(c.comp[static_cast<std::size_t>(i)], c.comp[static_cast<std::size_t>(i + 1)]);
      if (y + 1 < ny) add(c.comp[static_cast<std::size_t>(i)], c.comp[static_cast<std::size_t>(i + nx)]);
    }
  std::sort(pairs.begin(), pairs.end());
  if (!counted) pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  return pairs;
}

// Regions smaller than min_px take the key of the neighbouring region with the longest shared
// boundary (ties: the lower component), smallest first; repeated until none is left (a region
// with no neighbour is kept).
void absorb_slivers(std::vector<std::int32_t>& key, std::int64_t ny, std::int64_t nx, int min_px, Components& c) {
  for (int round = 0; round < 8; ++round) {
    label_components(key, ny, nx, c);
    const std::size_t nc = c.size.size();
    std::vector<std::uint8_t> small(nc, 0);
    bool any = false;
    for (std::size_t k = 0; k < nc; ++k) any |= (small[k] = c.size[k] < min_px) != 0;
    if (!any || nc < 2) return;
    const std::vector<std::uint64_t> pairs = adjacent_pairs(c, ny, nx, true, small);
    std::vector<std::int32_t> best(nc, -1);
    std::vector<std::int64_t> best_count(nc, 0);
    for (std::size_t a = 0; a < pairs.size();) {
      std::size_t b = a;
      while (b < pairs.size() && pairs[b] == pairs[a]) ++b;
      const auto s = static_cast<std::size_t>(pairs[a] >> 32);
      const auto t = static_cast<std::int32_t>(pairs[a] & 0xffffffffu);
      if (static_cast<std::int64_t>(b - a) > best_count[s]) {  // ascending t: ties keep the lower
        best_count[s] = static_cast<std::int64_t>(b - a);
        best[s] = t;
      }
      a = b;
    }
    std::vector<std::int32_t> order;
    for (std::size_t k = 0; k < nc; ++k)
      if (small[k] && best[k] >= 0) order.push_back(static_cast<std::int32_t>(k));
    if (order.empty()) return;
    std::stable_sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) {
      return c.size[static_cast<std::size_t>(a)] < c.size[static_cast<std::size_t>(b)];
    });
    std::vector<std::int32_t> new_key(c.key);
    for (std::int32_t k : order) new_key[static_cast<std::size_t>(k)] = new_key[static_cast<std::size_t>(best[static_cast<std::size_t>(k)])];
    for (std::size_t i = 0; i < key.size(); ++i) key[i] = new_key[static_cast<std::size_t>(c.comp[i])];
  }
  label_components(key, ny, nx, c);
}

// ---- orientations ----

// One phase: its group, and the twin operator (quaternion for 3D, angle for 2D).
struct PhaseModel {
  const RotationGroup* group = nullptr;
  int n = 1;                  // 2D: n-fold axis
  Eigen::Quaterniond twin = Eigen::Quaterniond::Identity();
  double twin_deg = 0;        // 2D
};

inline Eigen::Quaterniond rotvec_quat(double vx, double vy, double vz) {
  const double a = std::sqrt(vx * vx + vy * vy + vz * vz);
  if (a < 1e-300) return Eigen::Quaterniond::Identity();
  const double s = std::sin(0.5 * a) / a;
  return Eigen::Quaterniond(std::cos(0.5 * a), vx * s, vy * s, vz * s);
}

// An angle in [0, 360/n) as a float still below 360/n (rounding can reach it).
inline float period_float(double a, int n) {
  const float f = static_cast<float>(a);
  return f >= static_cast<float>(360.0 / n) ? 0.0f : f;
}

[[noreturn]] void bad(const char* key, double v, const std::string& why) {
  fail(ErrorKind::bad_parameter, "", "orientation_map.", key, " = ", param_number_text(v), ": ", why);
}

} // namespace

void validate(const OrientationMapParams& p) {
  if (p.scan.y < 1 || p.scan.x < 1)
    fail(ErrorKind::bad_parameter, "", "orientation_map.scan = ", to_string(p.scan), ": must be at least 1x1");
  if (p.scan.y * p.scan.x >= std::numeric_limits<std::int32_t>::max())
    fail(ErrorKind::bad_parameter, "", "orientation_map.scan = ", to_string(p.scan), ": too many positions (int32 labels)");
  if (p.n_grains < 1 || p.n_grains > p.scan.y * p.scan.x) bad("n_grains", p.n_grains, "must be in [1, positions]");
  if (p.n_phases < 1 || p.n_phases > 2) bad("n_phases", p.n_phases, "must be 1 or 2");
  const RotationGroup& g0 = rotation_group(p.symmetry);
  if (p.n_phases == 2 && !p.second_symmetry.empty() && rotation_group(p.second_symmetry).dimension != g0.dimension)
    fail(ErrorKind::bad_parameter, "", "orientation_map.second_symmetry = ", p.second_symmetry,
         ": must be in-plane (C1..C6) exactly when symmetry '", p.symmetry, "' is");
  auto unit = [](const char* key, double v) {
    if (!(v >= 0 && v <= 1)) bad(key, v, "must be in [0, 1]");
  };
  unit("second_phase_fraction", p.second_phase_fraction);
  unit("twin_fraction", p.twin_fraction);
  unit("bent_fraction", p.bent_fraction);
  unit("unindexed_fraction", p.unindexed_fraction);
  unit("unindexed_on_boundary", p.unindexed_on_boundary);
  if (!(p.min_spacing_fraction >= 0 && p.min_spacing_fraction <= 0.8)) bad("min_spacing_fraction", p.min_spacing_fraction, "must be in [0, 0.8]");
  if (!(p.waviness_px >= 0) || !std::isfinite(p.waviness_px)) bad("waviness_px", p.waviness_px, "must be >= 0");
  if (!(p.waviness_wavelength_px > 0) || !std::isfinite(p.waviness_wavelength_px))
    bad("waviness_wavelength_px", p.waviness_wavelength_px, "must be > 0");
  if (!(p.twin_width_fraction > 0 && p.twin_width_fraction <= 1)) bad("twin_width_fraction", p.twin_width_fraction, "must be in (0, 1]");
  if (!std::isfinite(p.twin_angle_deg)) bad("twin_angle_deg", p.twin_angle_deg, "must be finite");
  if (!(p.bending_deg_per_100px >= 0) || !std::isfinite(p.bending_deg_per_100px))
    bad("bending_deg_per_100px", p.bending_deg_per_100px, "must be >= 0");
  if (!(p.angle_noise_deg >= 0) || !std::isfinite(p.angle_noise_deg)) bad("angle_noise_deg", p.angle_noise_deg, "must be >= 0");
  if (p.unindexed_band_px < 1 || p.unindexed_band_px > 8) bad("unindexed_band_px", p.unindexed_band_px, "must be in [1, 8]");
  if (!(p.min_disorientation_deg >= 0 && p.min_disorientation_deg <= 180))
    bad("min_disorientation_deg", p.min_disorientation_deg, "must be in [0, 180]");
  if (p.min_grain_px < 1) bad("min_grain_px", p.min_grain_px, "must be >= 1");
  if (!(p.scan_step_nm >= 0) || !std::isfinite(p.scan_step_nm)) bad("scan_step_nm", p.scan_step_nm, "must be >= 0");
}

SimulatedOrientationMap simulate_orientation_map(const OrientationMapParams& p, int threads) {
  validate(p);
  const std::int64_t ny = p.scan.y, nx = p.scan.x, N = ny * nx;
  const std::int32_t G = p.n_grains;
  tbb::task_arena arena(threads > 0 ? threads : tbb::task_arena::automatic);
  auto rows = [&](auto&& body) {
    arena.execute([&] {
      tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, ny, 4), [&](const tbb::blocked_range<std::int64_t>& r) {
        for (std::int64_t y = r.begin(); y < r.end(); ++y) body(y);
      });
    });
  };

  // Phases and their twin operators.
  std::vector<PhaseModel> phases(static_cast<std::size_t>(p.n_phases));
  std::vector<std::string> symbols{p.symmetry};
  if (p.n_phases == 2) symbols.push_back(p.second_symmetry.empty() ? p.symmetry : p.second_symmetry);
  for (std::size_t k = 0; k < phases.size(); ++k) {
    PhaseModel& m = phases[k];
    m.group = &rotation_group(symbols[k]);
    m.n = std::max(1, m.group->z_order);
    if (m.group->name == "432" || m.group->name == "23") m.twin = quat_from_axis_angle({1, 1, 1}, 60);
    else m.twin = quat_about_z(p.twin_angle_deg);
    m.twin_deg = p.twin_angle_deg;
  }
  const bool three_d = phases[0].group->dimension == 3;

  // 1. Voronoi grains behind the displacement field.
  std::vector<double> sy, sx;
  place_seeds(p, sy, sx);
  const Displacement disp = make_displacement(p);
  const double spacing = std::sqrt(static_cast<double>(N) / G);
  PointGrid grid(-p.waviness_px - 1.5, -p.waviness_px - 1.5, static_cast<double>(ny) + 2 * p.waviness_px + 3,
                 static_cast<double>(nx) + 2 * p.waviness_px + 3, std::max(1.0, spacing));
  grid.build(sy, sx);
  std::vector<std::int32_t> voronoi(static_cast<std::size_t>(N));
  rows([&](std::int64_t y) {
    for (std::int64_t x = 0; x < nx; ++x) {
      double wy, wx;
      disp.apply(y, x, wy, wx);
      voronoi[static_cast<std::size_t>(y * nx + x)] = grid.nearest(wy, wx, sy, sx);
    }
  });

  // Per Voronoi grain: centroid, area, phase, twin and bending flags and geometry.
  std::vector<double> cy(static_cast<std::size_t>(G), 0), cx(static_cast<std::size_t>(G), 0);
  std::vector<std::int64_t> area(static_cast<std::size_t>(G), 0);
  for (std::int64_t i = 0; i < N; ++i) {
    const auto g = static_cast<std::size_t>(voronoi[static_cast<std::size_t>(i)]);
    cy[g] += static_cast<double>(i / nx);
    cx[g] += static_cast<double>(i % nx);
    ++area[g];
  }
  for (std::size_t g = 0; g < static_cast<std::size_t>(G); ++g)
    if (area[g] > 0) {
      cy[g] /= static_cast<double>(area[g]);
      cx[g] /= static_cast<double>(area[g]);
    } else {
      cy[g] = sy[g];
      cx[g] = sx[g];
    }
  const std::vector<std::uint8_t> phase1 =
      p.n_phases == 2 ? choose(p.seed, tag_phase, p.second_phase_fraction, G) : std::vector<std::uint8_t>(static_cast<std::size_t>(G), 0);
  const std::vector<std::uint8_t> twinned = choose(p.seed, tag_twin, p.twin_fraction, G);
  const std::vector<std::uint8_t> bent = choose(p.seed, tag_bent, p.bent_fraction, G);
  struct Lamella { double ny = 0, nx = 0, offset = 0, half_width = 0; };
  std::vector<Lamella> lamella(static_cast<std::size_t>(G));
  for (std::int32_t g = 0; g < G; ++g) {
    const auto u = static_cast<std::uint64_t>(g);
    const double th = kPi * uniform(p.seed, tag_twin_geom, u, 0);
    const double radius = std::sqrt(static_cast<double>(area[static_cast<std::size_t>(g)]) / kPi);
    Lamella& l = lamella[static_cast<std::size_t>(g)];
    l.ny = std::sin(th);
    l.nx = std::cos(th);
    l.offset = 0.2 * radius * (2 * uniform(p.seed, tag_twin_geom, u, 1) - 1);
    l.half_width = 0.5 * std::max(3.0, p.twin_width_fraction * 2 * radius);
  }

  // 2. Twins: key = 2 x Voronoi grain + twin.
  std::vector<std::int32_t> key(static_cast<std::size_t>(N));
  rows([&](std::int64_t y) {
    for (std::int64_t x = 0; x < nx; ++x) {
      const std::size_t i = static_cast<std::size_t>(y * nx + x);
      const std::int32_t g = voronoi[i];
      const auto gs = static_cast<std::size_t>(g);
      int t = 0;
      if (twinned[gs]) {
        const Lamella& l = lamella[gs];
        const double s = (static_cast<double>(y) - cy[gs]) * l.ny + (static_cast<double>(x) - cx[gs]) * l.nx;
        t = std::abs(s - l.offset) < l.half_width;
      }
      key[i] = 2 * g + t;
    }
  });

  // 3. Slivers absorbed; the true grains are the remaining regions.
  Components comps;
  absorb_slivers(key, ny, nx, p.min_grain_px, comps);
  SimulatedOrientationMap out;
  const auto K = static_cast<std::int32_t>(comps.size.size());
  out.true_grain = comps.comp;
  out.parent_grain.resize(static_cast<std::size_t>(N));
  for (std::size_t i = 0; i < static_cast<std::size_t>(N); ++i) out.parent_grain[i] = key[i] >> 1;
  out.grains.resize(static_cast<std::size_t>(K));
  {
    std::vector<std::uint8_t> present(static_cast<std::size_t>(G), 0), has_twin(static_cast<std::size_t>(G), 0);
    for (std::int32_t k = 0; k < K; ++k) {
      SimulatedGrain& gr = out.grains[static_cast<std::size_t>(k)];
      const std::int32_t kk = comps.key[static_cast<std::size_t>(k)];
      gr.parent = kk >> 1;
      gr.twin = (kk & 1) != 0;
      const auto u = static_cast<std::size_t>(gr.parent);
      gr.bent = bent[u] != 0 && p.bending_deg_per_100px > 0;
      gr.phase = phase1[u];
      gr.area_px = comps.size[static_cast<std::size_t>(k)];
      gr.ref_y = cy[u];
      gr.ref_x = cx[u];
      present[u] = 1;
      if (gr.twin) has_twin[u] = 1;
    }
    for (std::int32_t g = 0; g < G; ++g) {
      out.n_parents += present[static_cast<std::size_t>(g)];
      out.n_twinned += has_twin[static_cast<std::size_t>(g)];
    }
  }

  // 4. Orientations per Voronoi grain (unit), with the constraints between adjacent grains of
  // different units and one phase: unit u (twin state tu) against unit v (tv), CSR by u.
  struct Constraint { std::int32_t other; std::uint8_t t_self, t_other; };
  std::vector<std::int64_t> con_off(static_cast<std::size_t>(G) + 1, 0);
  std::vector<Constraint> con;
  std::vector<std::pair<std::int32_t, Constraint>> con_list;
  {
    const std::vector<std::uint64_t> pairs = adjacent_pairs(comps, ny, nx, false, {});
    for (std::uint64_t pr : pairs) {
      const SimulatedGrain& a = out.grains[static_cast<std::size_t>(pr >> 32)];
      const SimulatedGrain& b = out.grains[static_cast<std::size_t>(pr & 0xffffffffu)];
      if (a.parent == b.parent || a.phase != b.phase) continue;
      con_list.push_back({a.parent, Constraint{b.parent, static_cast<std::uint8_t>(a.twin), static_cast<std::uint8_t>(b.twin)}});
    }
    std::stable_sort(con_list.begin(), con_list.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& c : con_list) ++con_off[static_cast<std::size_t>(c.first) + 1];
    for (std::size_t g = 0; g < static_cast<std::size_t>(G); ++g) con_off[g + 1] += con_off[g];
    con.reserve(con_list.size());
    for (const auto& c : con_list) con.push_back(c.second);
  }
  std::vector<double> angle(static_cast<std::size_t>(G), 0);
  std::vector<Eigen::Quaterniond> orient(static_cast<std::size_t>(G), Eigen::Quaterniond::Identity());
  std::vector<std::uint8_t> assigned(static_cast<std::size_t>(G), 0);
  auto candidate = [&](std::int32_t u, std::uint64_t draw, double& a, Eigen::Quaterniond& q) {
    const PhaseModel& m = phases[phase1[static_cast<std::size_t>(u)]];
    const auto uu = static_cast<std::uint64_t>(u);
    if (three_d) {
      q = quat_from_uniform(uniform(p.seed, tag_orient, uu, 3 * draw), uniform(p.seed, tag_orient, uu, 3 * draw + 1),
                            uniform(p.seed, tag_orient, uu, 3 * draw + 2));
    } else {
      a = 360.0 / m.n * uniform(p.seed, tag_orient, uu, draw);
    }
  };
  // Smallest disorientation of unit u (at a / q) to its assigned constrained neighbours.
  auto closest = [&](std::int32_t u, double a, const Eigen::Quaterniond& q) {
    const PhaseModel& m = phases[phase1[static_cast<std::size_t>(u)]];
    double best = std::numeric_limits<double>::infinity();
    for (std::int64_t e = con_off[static_cast<std::size_t>(u)]; e < con_off[static_cast<std::size_t>(u) + 1]; ++e) {
      const Constraint& c = con[static_cast<std::size_t>(e)];
      const auto v = static_cast<std::size_t>(c.other);
      if (!assigned[v]) continue;
      double d;
      if (three_d) {
        const Eigen::Quaterniond qa = c.t_self ? q * m.twin : q;
        const Eigen::Quaterniond qb = c.t_other ? orient[v] * m.twin : orient[v];
        d = disorientation_angle(qa, qb, *m.group);
      } else {
        d = disorientation_2d(a + c.t_self * m.twin_deg, angle[v] + c.t_other * m.twin_deg, m.n);
      }
      best = std::min(best, d);
    }
    return best;
  };
  // 2D: exactly. The neighbours forbid the windows (c_j - m, c_j + m) around their angles
  // (shifted by the twin rotations); the angle is uniform over what is left, or, if nothing is,
  // the middle of the widest gap between window centres (the largest smallest distance).
  std::vector<double> centres;
  auto draw_unit_2d = [&](std::int32_t u, std::uint64_t draw) {
    const PhaseModel& m = phases[phase1[static_cast<std::size_t>(u)]];
    const double P = 360.0 / m.n, w = std::min(p.min_disorientation_deg, P / 2);
    centres.clear();
    for (std::int64_t e = con_off[static_cast<std::size_t>(u)]; e < con_off[static_cast<std::size_t>(u) + 1]; ++e) {
      const Constraint& c = con[static_cast<std::size_t>(e)];
      if (assigned[static_cast<std::size_t>(c.other)])
        centres.push_back(reduce_angle_2d(angle[static_cast<std::size_t>(c.other)] + (c.t_other - c.t_self) * m.twin_deg, m.n));
    }
    const double r = uniform(p.seed, tag_orient, static_cast<std::uint64_t>(u), draw);
    if (centres.empty()) {
      angle[static_cast<std::size_t>(u)] = r * P;
      return;
    }
    std::sort(centres.begin(), centres.end());
    const std::size_t k = centres.size();
    auto gap = [&](std::size_t j) { return j + 1 < k ? centres[j + 1] - centres[j] : centres[0] + P - centres[j]; };
    double free = 0;
    for (std::size_t j = 0; j < k; ++j) free += std::max(0.0, gap(j) - 2 * w);
    if (free > 1e-9) {
      double t = r * free;
      for (std::size_t j = 0; j < k; ++j) {
        const double len = std::max(0.0, gap(j) - 2 * w);
        if (t < len || j + 1 == k) {
          angle[static_cast<std::size_t>(u)] = reduce_angle_2d(centres[j] + w + std::min(t, len), m.n);
          return;
        }
        t -= len;
      }
    }
    std::size_t widest = 0;
    for (std::size_t j = 1; j < k; ++j)
      if (gap(j) > gap(widest)) widest = j;
    angle[static_cast<std::size_t>(u)] = reduce_angle_2d(centres[widest] + gap(widest) / 2, m.n);
  };
  auto draw_unit = [&](std::int32_t u, std::uint64_t first_draw, double current) {
    if (!three_d) {
      draw_unit_2d(u, first_draw);
      return;
    }
    double best_a = angle[static_cast<std::size_t>(u)], best_d = current;
    Eigen::Quaterniond best_q = orient[static_cast<std::size_t>(u)];
    for (int k = 0; k < kDraws; ++k) {
      double a = 0;
      Eigen::Quaterniond q = Eigen::Quaterniond::Identity();
      candidate(u, first_draw + static_cast<std::uint64_t>(k), a, q);
      const double d = closest(u, a, q);
      if (d > best_d) {
        best_d = d;
        best_a = a;
        best_q = q;
      }
      if (d >= p.min_disorientation_deg) break;
    }
    angle[static_cast<std::size_t>(u)] = best_a;
    orient[static_cast<std::size_t>(u)] = best_q;
  };
  for (std::int32_t u = 0; u < G; ++u) {
    draw_unit(u, 0, -1);
    assigned[static_cast<std::size_t>(u)] = 1;
  }
  for (int sweep = 1; sweep <= kRepairSweeps; ++sweep) {
    bool any = false;
    for (std::int32_t u = 0; u < G; ++u) {
      const double d = closest(u, angle[static_cast<std::size_t>(u)], orient[static_cast<std::size_t>(u)]);
      if (d >= p.min_disorientation_deg) continue;
      any = true;
      draw_unit(u, static_cast<std::uint64_t>(sweep) * kDraws, d);
    }
    if (!any) break;
  }
  for (std::int32_t u = 0; u < G; ++u)
    for (std::int64_t e = con_off[static_cast<std::size_t>(u)]; e < con_off[static_cast<std::size_t>(u) + 1]; ++e) {
      // each adjacent grain pair is listed from both sides: count it from the lower unit
      const Constraint& c = con[static_cast<std::size_t>(e)];
      if (c.other < u) continue;
      const PhaseModel& m = phases[phase1[static_cast<std::size_t>(u)]];
      double d;
      if (three_d)
        d = disorientation_angle(c.t_self ? orient[static_cast<std::size_t>(u)] * m.twin : orient[static_cast<std::size_t>(u)],
                                 c.t_other ? orient[static_cast<std::size_t>(c.other)] * m.twin : orient[static_cast<std::size_t>(c.other)],
                                 *m.group);
      else
        d = disorientation_2d(angle[static_cast<std::size_t>(u)] + c.t_self * m.twin_deg,
                              angle[static_cast<std::size_t>(c.other)] + c.t_other * m.twin_deg, m.n);
      out.n_close_pairs += d < p.min_disorientation_deg;
    }

  // Bending: an in-plane direction per unit and, in 3D, a crystal axis.
  std::vector<double> bend_y(static_cast<std::size_t>(G), 0), bend_x(static_cast<std::size_t>(G), 0);
  std::vector<Eigen::Vector3d> bend_axis(static_cast<std::size_t>(G), Eigen::Vector3d::UnitZ());
  for (std::int32_t g = 0; g < G; ++g) {
    const auto u = static_cast<std::uint64_t>(g);
    const double b = 2 * kPi * uniform(p.seed, tag_bend_geom, u, 0);
    bend_y[static_cast<std::size_t>(g)] = std::sin(b);
    bend_x[static_cast<std::size_t>(g)] = std::cos(b);
    const double z = 2 * uniform(p.seed, tag_bend_geom, u, 1) - 1, ph = 2 * kPi * uniform(p.seed, tag_bend_geom, u, 2);
    const double r = std::sqrt(std::max(0.0, 1 - z * z));
    bend_axis[static_cast<std::size_t>(g)] = {r * std::cos(ph), r * std::sin(ph), z};
  }
  for (SimulatedGrain& gr : out.grains) {
    const auto u = static_cast<std::size_t>(gr.parent);
    const PhaseModel& m = phases[static_cast<std::size_t>(gr.phase)];
    if (three_d) {
      const Eigen::Quaterniond q = reduce_to_fundamental_zone(gr.twin ? orient[u] * m.twin : orient[u], *m.group);
      gr.quaternion = {q.w(), q.x(), q.y(), q.z()};
      gr.angle_deg = std::numeric_limits<double>::quiet_NaN();
    } else {
      gr.angle_deg = reduce_angle_2d(angle[u] + (gr.twin ? m.twin_deg : 0.0), m.n);
      const Eigen::Quaterniond q = quat_about_z(gr.angle_deg);
      gr.quaternion = {q.w(), q.x(), q.y(), q.z()};
    }
  }

  // 6 (first half). The boundary band: 4-steps from a position with a 4-neighbour in another
  // true grain, up to band - 1.
  const int band = p.unindexed_band_px;
  std::vector<std::uint8_t> dist(static_cast<std::size_t>(N), 255);
  const auto& tg = out.true_grain;
  for (std::int64_t y = 0; y < ny; ++y)
    for (std::int64_t x = 0; x < nx; ++x) {
      const std::int64_t i = y * nx + x;
      const std::int32_t l = tg[static_cast<std::size_t>(i)];
      const bool edge = (x > 0 && tg[static_cast<std::size_t>(i - 1)] != l) || (x + 1 < nx && tg[static_cast<std::size_t>(i + 1)] != l) ||
                        (y > 0 && tg[static_cast<std::size_t>(i - nx)] != l) || (y + 1 < ny && tg[static_cast<std::size_t>(i + nx)] != l);
      if (edge) dist[static_cast<std::size_t>(i)] = 0;
    }
  for (int step = 1; step < band; ++step) {
    const auto prev = static_cast<std::uint8_t>(step - 1);
    for (std::int64_t y = 0; y < ny; ++y)
      for (std::int64_t x = 0; x < nx; ++x) {
        const std::int64_t i = y * nx + x;
        if (dist[static_cast<std::size_t>(i)] != 255) continue;
        if ((x > 0 && dist[static_cast<std::size_t>(i - 1)] == prev) || (x + 1 < nx && dist[static_cast<std::size_t>(i + 1)] == prev) ||
            (y > 0 && dist[static_cast<std::size_t>(i - nx)] == prev) || (y + 1 < ny && dist[static_cast<std::size_t>(i + nx)] == prev))
          dist[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(step);
      }
  }
  for (std::uint8_t d : dist) out.n_band += d < band;
  const double n_bad = p.unindexed_fraction * static_cast<double>(N);
  const double p_band = out.n_band > 0 ? std::min(1.0, n_bad * p.unindexed_on_boundary / static_cast<double>(out.n_band)) : 0.0;
  const double p_any = out.n_band > 0 ? p.unindexed_fraction * (1 - p.unindexed_on_boundary) : p.unindexed_fraction;

  // 4 (second half), 5, 6: orientation of every position, noise, not indexed.
  OrientationMap& map = out.map;
  map.scan = p.scan;
  map.scan_step_nm = p.scan_step_nm;
  for (std::size_t k = 0; k < phases.size(); ++k) map.phases.push_back(PhaseInfo{"phase" + std::to_string(k), symbols[k]});
  map.phase.resize(static_cast<std::size_t>(N));
  map.angle_deg.resize(static_cast<std::size_t>(N));
  if (three_d) map.quaternion.resize(static_cast<std::size_t>(N));
  const double rate = p.bending_deg_per_100px / 100.0;
  const double sigma = p.angle_noise_deg;
  const float fnan = std::numeric_limits<float>::quiet_NaN();
  rows([&](std::int64_t y) {
    for (std::int64_t x = 0; x < nx; ++x) {
      const std::size_t i = static_cast<std::size_t>(y * nx + x);
      const auto ii = static_cast<std::uint64_t>(i);
      const bool lost = (dist[i] < band && uniform(p.seed, tag_band, ii) < p_band) || uniform(p.seed, tag_any, ii) < p_any;
      if (lost) {
        map.phase[i] = -1;
        map.angle_deg[i] = fnan;
        if (three_d) map.quaternion[i] = {fnan, fnan, fnan, fnan};
        continue;
      }
      const SimulatedGrain& gr = out.grains[static_cast<std::size_t>(tg[i])];
      const auto u = static_cast<std::size_t>(gr.parent);
      const PhaseModel& m = phases[static_cast<std::size_t>(gr.phase)];
      map.phase[i] = gr.phase;
      const double s = gr.bent ? rate * ((static_cast<double>(y) - cy[u]) * bend_y[u] + (static_cast<double>(x) - cx[u]) * bend_x[u]) : 0.0;
      if (three_d) {
        Eigen::Quaterniond q = orient[u];
        if (s != 0) {
          const Eigen::Vector3d& a = bend_axis[u];
          q = q * rotvec_quat(a.x() * s * kDeg, a.y() * s * kDeg, a.z() * s * kDeg);
        }
        if (gr.twin) q = q * m.twin;
        if (sigma > 0) {
          double n0, n1, n2, n3;
          normal_pair(p.seed, tag_noise, ii, 0, n0, n1);
          normal_pair(p.seed, tag_noise, ii, 1, n2, n3);
          q = q * rotvec_quat(sigma * kDeg * n0, sigma * kDeg * n1, sigma * kDeg * n2);
        }
        q = reduce_to_fundamental_zone(q.normalized(), *m.group);
        map.quaternion[i] = {static_cast<float>(q.w()), static_cast<float>(q.x()), static_cast<float>(q.y()),
                             static_cast<float>(q.z())};
        map.angle_deg[i] = period_float(reduce_angle_2d(angle_about_z(q), m.n), m.n);
      } else {
        double a = angle[u] + (gr.twin ? m.twin_deg : 0.0) + s;
        if (sigma > 0) {
          double n0, n1;
          normal_pair(p.seed, tag_noise, ii, 0, n0, n1);
          a += sigma * n0;
        }
        map.angle_deg[i] = period_float(reduce_angle_2d(a, m.n), m.n);
      }
    }
  });
  return out;
}

} // namespace domainmap
