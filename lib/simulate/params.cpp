// lib/simulate/params.cpp: the `simulate` stage's parameters and the geometry they define
// (lattice presets, descan origin, elliptical distortion).
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <numbers>
#include <string>

#include "domainmap/error.hpp"
#include "domainmap/simulate.hpp"

namespace domainmap {

namespace {

// An unsigned 64-bit integer parameter (params.hpp has none): the seed.
void param_u64(ParamSink& s, const char* key, std::uint64_t& v, const char* help) {
  ParamRef r;
  r.key = s.stage().empty() ? std::string(key) : s.stage() + "." + key;
  r.help = help;
  r.type = "int";
  r.range = "[0, 18446744073709551615]";
  std::uint64_t* p = &v;
  r.get = [p] { return std::to_string(*p); };
  std::string k = r.key;
  r.set = [p, k](const std::string& text) {
    std::size_t a = text.find_first_not_of(" \t\r\n");
    std::size_t b = text.find_last_not_of(" \t\r\n");
    std::string t = a == std::string::npos ? "" : text.substr(a, b - a + 1);
    char* end = nullptr;
    errno = 0;
    unsigned long long x = t.empty() || t[0] == '-' ? 0 : std::strtoull(t.c_str(), &end, 10);
    if (t.empty() || t[0] == '-' || end == t.c_str() || *end != '\0' || errno == ERANGE)
      fail(ErrorKind::bad_parameter, "", k, " = ", t.empty() ? "''" : t,
           ": expected a whole number in [0, 18446744073709551615]");
    *p = static_cast<std::uint64_t>(x);
  };
  s.add(std::move(r));
}

[[noreturn]] void bad(const std::string& key, const std::string& why) {
  fail(ErrorKind::bad_parameter, "", "simulate.", key, ": ", why);
}

constexpr double kDeg = std::numbers::pi / 180.0;

} // namespace

void describe(SimParams& p, ParamSink& s) {
  param(s, "scan", p.scan, "scan rows x columns");
  param(s, "detector", p.detector, "detector rows x columns (px)");
  param_u64(s, "seed", p.seed, "seed of every random choice (grains, angles, intensities, noise)");
  param(s, "n_grains", p.n_grains, "number of Voronoi grains", 1, 1e7);
  param(s, "irregular_boundaries", p.irregular_boundaries,
        "wavy, non-convex grain boundaries (smooth warp of the scan plane before the Voronoi tiling)");
  param(s, "boundary_roughness", p.boundary_roughness,
        "warp strength; at 1 boundaries move by up to about half a grain spacing", 0, 1);
  param(s, "amorphous_fraction", p.amorphous_fraction, "fraction of the grains that are amorphous", 0, 1);
  param(s, "vacuum_fraction", p.vacuum_fraction, "fraction of the grains that are vacuum", 0, 1);
  param(s, "n_phases", p.n_phases, "crystalline phases in use (phase0 ...), drawn uniformly per grain", 1,
        kMaxSimPhases);
  for (int i = 0; i < kMaxSimPhases; ++i) {
    SimPhase& ph = p.phases[static_cast<std::size_t>(i)];
    const std::string pre = "phase" + std::to_string(i) + "_";
    const std::string who = "phase " + std::to_string(i) + ": ";
    auto key = [&](const char* k) { return pre + k; };
    auto help = [&](const char* h) { return who + h; };
    param(s, key("name").c_str(), ph.name, help("name written to the truth file").c_str());
    param(s, key("lattice").c_str(), ph.lattice,
          help("2D lattice (hexagonal 6-fold, square 4, rectangular 2, oblique 2, custom g1/g2)").c_str(),
          {"hexagonal", "square", "rectangular", "oblique", "custom"});
    param(s, key("a_px").c_str(), ph.a_px, help("|g1| of the preset lattices").c_str(), 1, 1e5, "px");
    param(s, key("b_ratio").c_str(), ph.b_ratio, help("|g2| / |g1| of rectangular and oblique lattices").c_str(),
          0.05, 20);
    param(s, key("gamma_deg").c_str(), ph.gamma_deg, help("angle from g1 to g2 of an oblique lattice").c_str(), 1,
          179, "deg");
    param(s, key("g1y_px").c_str(), ph.g1y_px, help("custom lattice: g1, qy component").c_str(), -1e5, 1e5, "px");
    param(s, key("g1x_px").c_str(), ph.g1x_px, help("custom lattice: g1, qx component").c_str(), -1e5, 1e5, "px");
    param(s, key("g2y_px").c_str(), ph.g2y_px, help("custom lattice: g2, qy component").c_str(), -1e5, 1e5, "px");
    param(s, key("g2x_px").c_str(), ph.g2x_px, help("custom lattice: g2, qx component").c_str(), -1e5, 1e5, "px");
    param(s, key("symmetry_n").c_str(), ph.symmetry_n,
          help("custom lattice: n-fold rotational symmetry (1, 2, 3, 4 or 6)").c_str(), 1, 6);
  }
  param(s, "disk_radius_px", p.disk_radius_px, "radius of every disk (probe-forming aperture)", 0.5, 1e4, "px");
  param(s, "edge_width_px", p.edge_width_px, "Gaussian sigma of the disk edge", 0.05, 1e3, "px");
  param(s, "max_g_px", p.max_g_px, "largest |g| simulated (before distortion)", 0, 1e5, "px");
  param(s, "central_intensity", p.central_intensity, "plateau of the central disk (unit of noise-free frames)", 0,
        1e9);
  param(s, "bragg_intensity", p.bragg_intensity, "plateau of a Bragg disk as |g| -> 0", 0, 1e9);
  param(s, "intensity_falloff_px", p.intensity_falloff_px,
        "Debye-Waller-like falloff, I = bragg_intensity exp(-(|g|/falloff)^2)", 1e-3, 1e6, "px");
  param(s, "grain_intensity_randomness", p.grain_intensity_randomness,
        "per grain and |g| shell, intensities are multiplied by 1 + this * U(-1, 1)", 0, 1);
  param(s, "background_level", p.background_level, "diffuse background at the origin (Lorentzian), relative", 0,
        1e9);
  param(s, "background_width_px", p.background_width_px, "half width at half maximum of the background", 1e-3, 1e6,
        "px");
  param(s, "amorphous_ring_px", p.amorphous_ring_px, "radius of the amorphous ring", 0, 1e5, "px");
  param(s, "amorphous_ring_width_px", p.amorphous_ring_width_px, "Gaussian sigma of the amorphous ring", 1e-3, 1e5,
        "px");
  param(s, "amorphous_ring_intensity", p.amorphous_ring_intensity, "peak of the amorphous ring, relative", 0, 1e9);
  param(s, "origin_qy_px", p.origin_qy_px, "origin at the scan centre, qy, relative to the detector centre", -1e5,
        1e5, "px");
  param(s, "origin_qx_px", p.origin_qx_px, "origin at the scan centre, qx, relative to the detector centre", -1e5,
        1e5, "px");
  param(s, "descan_qy_ry_px", p.descan_qy_ry_px, "descan: change of origin qy from the first to the last scan row",
        -1e5, 1e5, "px");
  param(s, "descan_qy_rx_px", p.descan_qy_rx_px,
        "descan: change of origin qy from the first to the last scan column", -1e5, 1e5, "px");
  param(s, "descan_qx_ry_px", p.descan_qx_ry_px, "descan: change of origin qx from the first to the last scan row",
        -1e5, 1e5, "px");
  param(s, "descan_qx_rx_px", p.descan_qx_rx_px,
        "descan: change of origin qx from the first to the last scan column", -1e5, 1e5, "px");
  param(s, "descan_qy_quad_px", p.descan_qy_quad_px,
        "descan: quadratic term of qy, shift at the scan corners relative to the centre", -1e5, 1e5, "px");
  param(s, "descan_qx_quad_px", p.descan_qx_quad_px,
        "descan: quadratic term of qx, shift at the scan corners relative to the centre", -1e5, 1e5, "px");
  param(s, "ellipse_ratio", p.ellipse_ratio, "elliptical distortion: scale along the b axis (a axis keeps 1)", 0.2,
        5);
  param(s, "ellipse_angle_deg", p.ellipse_angle_deg, "elliptical distortion: direction of the a axis from +qx",
        -360, 360, "deg");
  param(s, "dose", p.dose, "electrons per pattern; 0 = noise-free float32 frames, > 0 = Poisson counts (uint16)", 0,
        1e12, "e");
  param(s, "n_hot_pixels", p.n_hot_pixels, "hot pixels at fixed positions in every frame", 0, 1e6);
  param(s, "hot_value", p.hot_value, "value of a hot pixel", 0, 65535, "counts");
}

SimLattice sim_lattice(const SimPhase& ph) {
  SimLattice L;
  const double a = ph.a_px;
  if (ph.lattice == "hexagonal") {
    L.g1 = {0, a};
    L.g2 = {a * std::sin(60 * kDeg), a * std::cos(60 * kDeg)};
    L.symmetry_n = 6;
  } else if (ph.lattice == "square") {
    L.g1 = {0, a};
    L.g2 = {a, 0};
    L.symmetry_n = 4;
  } else if (ph.lattice == "rectangular") {
    L.g1 = {0, a};
    L.g2 = {ph.b_ratio * a, 0};
    L.symmetry_n = 2;
  } else if (ph.lattice == "oblique") {
    L.g1 = {0, a};
    L.g2 = {ph.b_ratio * a * std::sin(ph.gamma_deg * kDeg), ph.b_ratio * a * std::cos(ph.gamma_deg * kDeg)};
    L.symmetry_n = 2;
  } else if (ph.lattice == "custom") {
    L.g1 = {ph.g1y_px, ph.g1x_px};
    L.g2 = {ph.g2y_px, ph.g2x_px};
    L.symmetry_n = ph.symmetry_n;
  } else {
    fail(ErrorKind::bad_parameter, "", "phase '", ph.name, "': unknown lattice '", ph.lattice,
         "' (hexagonal, square, rectangular, oblique or custom)");
  }
  const double n1 = std::hypot(L.g1.qy, L.g1.qx), n2 = std::hypot(L.g2.qy, L.g2.qx);
  const double cross = L.g1.qx * L.g2.qy - L.g1.qy * L.g2.qx;
  if (!(n1 >= 1) || !(n2 >= 1) || !(std::abs(cross) >= 1e-3 * n1 * n2))
    fail(ErrorKind::bad_parameter, "", "phase '", ph.name,
         "': degenerate lattice (|g1|, |g2| must be >= 1 px and g1, g2 not parallel)");
  if (L.symmetry_n != 1 && L.symmetry_n != 2 && L.symmetry_n != 3 && L.symmetry_n != 4 && L.symmetry_n != 6)
    fail(ErrorKind::bad_parameter, "", "phase '", ph.name, "': symmetry_n = ", L.symmetry_n,
         ": a 2D lattice allows only 1, 2, 3, 4 or 6");
  return L;
}

void validate(const SimParams& p) {
  if (p.scan.y < 1 || p.scan.x < 1) bad("scan", "must be at least 1x1");
  if (p.detector.y < 1 || p.detector.x < 1) bad("detector", "must be at least 1x1");
  if (p.detector.y > 16384 || p.detector.x > 16384) bad("detector", "at most 16384 px per side");
  if (p.n_grains < 1) bad("n_grains", "must be >= 1");
  if (static_cast<std::int64_t>(p.n_grains) > p.scan.y * p.scan.x)
    bad("n_grains", "= " + std::to_string(p.n_grains) + ": more grains than the " +
                        std::to_string(p.scan.y * p.scan.x) + " scan positions");
  if (p.n_phases < 1 || p.n_phases > kMaxSimPhases)
    bad("n_phases", "must be in [1, " + std::to_string(kMaxSimPhases) + "]");
  if (!(p.amorphous_fraction >= 0 && p.vacuum_fraction >= 0 && p.amorphous_fraction + p.vacuum_fraction <= 1))
    bad("amorphous_fraction", "amorphous_fraction + vacuum_fraction must be in [0, 1]");
  if (!(p.disk_radius_px > 0)) bad("disk_radius_px", "must be > 0");
  if (!(p.edge_width_px > 0)) bad("edge_width_px", "must be > 0");
  if (!(p.max_g_px >= 0)) bad("max_g_px", "must be >= 0");
  if (!(p.ellipse_ratio > 0)) bad("ellipse_ratio", "must be > 0");
  if (!(p.dose >= 0) || !std::isfinite(p.dose)) bad("dose", "must be >= 0");
  if (p.n_hot_pixels < 0 || p.n_hot_pixels > p.detector.y * p.detector.x)
    bad("n_hot_pixels", "must be in [0, detector pixels]");
  if (!(p.hot_value >= 0)) bad("hot_value", "must be >= 0");
  for (int i = 0; i < p.n_phases; ++i) {
    const SimLattice L = sim_lattice(p.phases[static_cast<std::size_t>(i)]);
    // Guard against runaway reflection lists: at most ~1e5 reflections per grain.
    const double cell = std::abs(L.g1.qx * L.g2.qy - L.g1.qy * L.g2.qx);
    if (std::numbers::pi * p.max_g_px * p.max_g_px / cell > 1e5)
      bad("max_g_px", "more than 1e5 reflections within |g| <= max_g_px for phase " + std::to_string(i));
  }
}

SimVec2 sim_origin(const SimParams& p, std::int64_t ry, std::int64_t rx) {
  const double v = p.scan.y > 1 ? static_cast<double>(ry) / static_cast<double>(p.scan.y - 1) - 0.5 : 0.0;
  const double u = p.scan.x > 1 ? static_cast<double>(rx) / static_cast<double>(p.scan.x - 1) - 0.5 : 0.0;
  const double s = 2 * (u * u + v * v);
  SimVec2 o;
  o.qy = 0.5 * static_cast<double>(p.detector.y - 1) + p.origin_qy_px + p.descan_qy_ry_px * v +
         p.descan_qy_rx_px * u + p.descan_qy_quad_px * s;
  o.qx = 0.5 * static_cast<double>(p.detector.x - 1) + p.origin_qx_px + p.descan_qx_ry_px * v +
         p.descan_qx_rx_px * u + p.descan_qx_quad_px * s;
  return o;
}

std::array<double, 4> sim_distortion(const SimParams& p) {
  // Unit vector of the a axis in (qy, qx): (sin phi, cos phi); b axis (cos phi, -sin phi).
  // E = ea ea^T + ratio eb eb^T.
  const double phi = p.ellipse_angle_deg * kDeg;
  const double ay = std::sin(phi), ax = std::cos(phi);
  const double by = std::cos(phi), bx = -std::sin(phi);
  const double r = p.ellipse_ratio;
  return {ay * ay + r * by * by, ay * ax + r * by * bx, ax * ay + r * bx * by, ax * ax + r * bx * bx};
}

double sim_disk_support_px(const SimParams& p) { return p.disk_radius_px + 4 * p.edge_width_px; }

} // namespace domainmap
