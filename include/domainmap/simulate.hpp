// domainmap/simulate.hpp: the `simulate` stage: a kinematic thin-film polycrystal with ground truth.
//
// A thin film seen in scanning nanodiffraction: the scan is tiled into Voronoi grains (optionally
// with wavy, non-convex boundaries), each grain is crystalline (one of up to kMaxSimPhases 2D
// lattices, at an in-plane angle), amorphous (a diffuse ring) or vacuum (only the direct beam).
// Each pattern is the central disk plus one disk per reflection g = h g1 + k g2 with |g| <= max_g,
// all disks images of the same probe-forming aperture (same radius, same soft edge), intensities
// falling with |g| as a Debye-Waller factor exp(-(|g|/falloff)^2) with per-grain randomness (the
// kinematic, thin-specimen limit: no dynamical redistribution, no excitation error). Added on
// top: a diffuse background, descan (the origin moves smoothly across the scan), an elliptical
// distortion of the diffraction plane, Poisson noise at a dose, and hot pixels. Everything is
// deterministic from `seed`: a pattern depends only on (parameters, position), never on the
// block it is read in or the thread that renders it.
//
// Conventions
//  * Pixel (i, j) of a pattern (i = det_y row, j = det_x column) has its centre at
//    (qy, qx) = (i, j) in detector px and covers [i - 0.5, i + 0.5) x [j - 0.5, j + 0.5).
//  * 2D vectors are written (qy, qx). An in-plane angle t turns +qx towards +qy:
//    R(t) (qy, qx) = (qy cos t + qx sin t, qx cos t - qy sin t).
//  * Disk of reflection (h, k) at scan position (ry, rx) in a grain at angle t:
//        centre = o(ry, rx) + E R(t) (h g1 + k g2)
//    with o the descanned origin (sim_origin()), E the elliptical distortion (sim_distortion())
//    and g1, g2 the phase's reciprocal basis at angle 0 (sim_lattice()). (h, k) = (0, 0) is the
//    central beam, centred on o.
//  * A disk's profile is a hard disk of radius disk_radius_px blurred by a Gaussian of sigma
//    edge_width_px: f(r) = erfc((r - R) / (sqrt(2) sigma)) / 2, cut to 0 beyond the support radius
//    sim_disk_support_px() = R + 4 sigma. Pixels sample it at their centres, supersampled S x S
//    symmetrically about the centre where the profile varies (S = ceil(0.25 / sigma), <= 8), so
//    that the intensity centroid of an isolated disk is its true centre (measured: < 0.01 px).
//  * Noise-free frames (dose = 0, float32) are in units of the central-disk plateau
//    (central_intensity). With dose > 0 each frame is scaled so that its expected total is
//    `dose` electrons, then Poisson-sampled (uint16 counts, clipped at 65535).
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "domainmap/context.hpp"
#include "domainmap/dataset.hpp"
#include "domainmap/params.hpp"
#include "domainmap/write.hpp"

namespace domainmap {

/// Phase slots of SimParams (phases[0 .. n_phases) are used).
inline constexpr int kMaxSimPhases = 3;

/// One crystalline phase: a 2D reciprocal lattice and its rotational symmetry.
/// Presets (g1 along +qx at angle 0, a = a_px):
///   hexagonal   g2 = a (sin 60, cos 60)            6-fold
///   square      g2 = a (1, 0)                      4-fold
///   rectangular g2 = b_ratio a (1, 0)              2-fold
///   oblique     g2 = b_ratio a (sin gamma, cos gamma) 2-fold
///   custom      g1 = (g1y_px, g1x_px), g2 = (g2y_px, g2x_px), symmetry_n as given
struct SimPhase {
  std::string name = "hexagonal";    ///< label written to the truth file
  std::string lattice = "hexagonal"; ///< hexagonal, square, rectangular, oblique or custom
  double a_px = 18;                  ///< |g1| of the presets, detector px
  double b_ratio = 1.4;              ///< |g2| / |g1| for rectangular and oblique
  double gamma_deg = 75;             ///< angle from g1 to g2 for oblique, deg
  double g1y_px = 0;                 ///< custom lattice: g1, qy component, px
  double g1x_px = 18;                ///< custom lattice: g1, qx component, px
  double g2y_px = 18;                ///< custom lattice: g2, qy component, px
  double g2x_px = 0;                 ///< custom lattice: g2, qx component, px
  int symmetry_n = 2;                ///< custom lattice: n of its n-fold rotation axis (presets imply theirs)
  bool operator==(const SimPhase&) const = default;
};

/// Parameters of the `simulate` stage (INI section [simulate], flags --simulate.KEY).
struct SimParams {
  // --- scan, detector, randomness
  Shape2 scan{32, 32};               ///< scan rows x columns, positions
  Shape2 detector{128, 128};         ///< detector rows x columns, px
  std::uint64_t seed = 1;            ///< everything random follows from this
  // --- grains
  int n_grains = 12;                 ///< Voronoi grains (each label is present in the scan)
  bool irregular_boundaries = true;  ///< warp the scan plane smoothly before the Voronoi tiling: wavy, non-convex, still connected grains
  double boundary_roughness = 0.6;   ///< warp strength in [0, 1]; at 1 boundaries move by up to about half a grain spacing (the warp stays one-to-one)
  double amorphous_fraction = 0;     ///< fraction of the grains that are amorphous (diffuse ring, no disks)
  double vacuum_fraction = 0;        ///< fraction of the grains that are vacuum (central beam only)
  int n_phases = 2;                  ///< crystalline phases in use, phases[0 .. n_phases), drawn uniformly per grain
  std::array<SimPhase, kMaxSimPhases> phases{
      SimPhase{.name = "hexagonal", .lattice = "hexagonal", .a_px = 18},
      SimPhase{.name = "square", .lattice = "square", .a_px = 22},
      SimPhase{.name = "rectangular", .lattice = "rectangular", .a_px = 16, .b_ratio = 1.4}};
  // --- disks
  double disk_radius_px = 4;         ///< radius R of every disk (the probe-forming aperture), px
  double edge_width_px = 0.5;        ///< Gaussian sigma of the disk edge blur, px (10-90 % rise = 2.56 sigma)
  double max_g_px = 56;              ///< reflections with |h g1 + k g2| <= this (before distortion), px
  double central_intensity = 1;      ///< plateau of the central disk (the unit of noise-free frames)
  double bragg_intensity = 0.4;      ///< plateau of a Bragg disk at |g| -> 0, relative to the unit
  double intensity_falloff_px = 50;  ///< Debye-Waller-like falloff: I(g) = bragg_intensity exp(-(|g| / falloff)^2), px
  double grain_intensity_randomness = 0.3; ///< per grain and |g| shell, I is multiplied by 1 + this * U(-1, 1)
  // --- diffuse scattering
  double background_level = 0.02;    ///< diffuse background at the origin (Lorentzian in |q|), relative; not in vacuum
  double background_width_px = 25;   ///< half width at half maximum of the background, px
  double amorphous_ring_px = 24;     ///< radius of the amorphous ring, px
  double amorphous_ring_width_px = 4; ///< Gaussian sigma of the amorphous ring, px
  double amorphous_ring_intensity = 0.05; ///< peak of the amorphous ring, relative
  // --- geometry: descan and distortion
  double origin_qy_px = 0;           ///< origin at the scan centre, qy, relative to the detector centre (Qy - 1) / 2, px
  double origin_qx_px = 0;           ///< origin at the scan centre, qx, relative to (Qx - 1) / 2, px
  double descan_qy_ry_px = 1.5;      ///< change of the origin's qy from the first to the last scan row, px
  double descan_qy_rx_px = 0.5;      ///< change of the origin's qy from the first to the last scan column, px
  double descan_qx_ry_px = -0.5;     ///< change of the origin's qx from the first to the last scan row, px
  double descan_qx_rx_px = 2;        ///< change of the origin's qx from the first to the last scan column, px
  double descan_qy_quad_px = 0.5;    ///< quadratic descan of qy: shift at the scan corners relative to the centre, px
  double descan_qx_quad_px = 0.3;    ///< quadratic descan of qx: shift at the scan corners relative to the centre, px
  double ellipse_ratio = 1;          ///< elliptical distortion: scale along the b axis (the a axis keeps scale 1)
  double ellipse_angle_deg = 0;      ///< direction of the a axis, from +qx towards +qy, deg
  // --- detector
  double dose = 0;                   ///< electrons per pattern; 0 = no noise (float32 frames), > 0 = Poisson counts (uint16)
  int n_hot_pixels = 0;              ///< hot pixels, at fixed random positions in every frame
  double hot_value = 30000;          ///< value of a hot pixel (counts; the same number in noise-free frames)
  bool operator==(const SimParams&) const = default;
};
/// Declares every field under keys "simulate.KEY" (phase slot i as "phase<i>_KEY").
void describe(SimParams& p, ParamSink& s);
/// Checks what the per-field ranges cannot (fraction sums, grains <= positions, lattices that
/// are not degenerate); throws Error(bad_parameter) naming the key.
void validate(const SimParams& p);

/// A 2D vector (qy, qx), detector px.
struct SimVec2 {
  double qy = 0, qx = 0;
  bool operator==(const SimVec2&) const = default;
};

/// A phase's reciprocal basis at angle 0 and its rotational symmetry.
struct SimLattice {
  SimVec2 g1, g2;
  int symmetry_n = 2;  ///< angles are reduced to [0, 360 / symmetry_n)
};
/// Basis of a phase (presets and custom, see SimPhase); throws bad_parameter for a degenerate one.
SimLattice sim_lattice(const SimPhase& phase);

/// Descanned origin at scan position (ry, rx), detector px. With v = ry / (Ry - 1) - 1/2 and
/// u = rx / (Rx - 1) - 1/2 (0 for a single row/column), s = 2 (u^2 + v^2) (1 at the corners):
///   qy0 = (Qy - 1)/2 + origin_qy_px + descan_qy_ry_px v + descan_qy_rx_px u + descan_qy_quad_px s
///   qx0 = (Qx - 1)/2 + origin_qx_px + descan_qx_ry_px v + descan_qx_rx_px u + descan_qx_quad_px s
SimVec2 sim_origin(const SimParams& p, std::int64_t ry, std::int64_t rx);

/// Elliptical distortion E = R(phi) diag(1, ratio) R(-phi), phi = ellipse_angle_deg: vectors
/// along the a axis keep their length, vectors along the b axis are scaled by ellipse_ratio.
/// Returned row-major over (qy, qx): {Eyy, Eyx, Exy, Exx}.
std::array<double, 4> sim_distortion(const SimParams& p);

/// Radius beyond which a disk is exactly 0: disk_radius_px + 4 edge_width_px.
double sim_disk_support_px(const SimParams& p);

/// What a scan position or a grain is made of.
enum class SimMaterial : std::int32_t { crystal = 0, amorphous = 1, vacuum = 2 };

/// Disks per scan position, CSR: disks of position i = ry * Rx + rx are [offsets[i], offsets[i+1]).
/// The central beam (h = k = 0) comes first when it is listed.
struct SimDisks {
  std::vector<std::uint64_t> offsets;  ///< [Ry * Rx + 1]
  std::vector<float> qy, qx;           ///< disk centres, detector px (pixel-centre convention)
  std::vector<float> intensity;        ///< plateau intensity, units of noise-free frames (before dose scaling)
  std::vector<std::int32_t> h, k;      ///< reflection indices on (g1, g2)
  std::size_t size() const { return qy.size(); }
};

/// One grain of the tiling.
struct SimGrain {
  SimMaterial material = SimMaterial::crystal;
  std::int32_t phase = -1;   ///< index into phases, -1 for amorphous and vacuum
  double angle_deg = 0;      ///< in-plane angle in [0, 360 / n), NaN unless crystalline
  std::int64_t seed_ry = 0;  ///< scan position of the Voronoi seed (always labelled with this grain)
  std::int64_t seed_rx = 0;
};

/// Ground truth of a simulation (arrays over positions are [Ry, Rx] in C order).
struct SimTruth {
  Shape2 scan, detector;
  std::vector<std::int32_t> labels;   ///< grain index 0 .. n_grains - 1
  std::vector<std::int32_t> phase;    ///< phase index, -1 amorphous or vacuum
  std::vector<float> angle_deg;       ///< in-plane angle reduced to [0, 360 / n), NaN unless crystalline
  std::vector<float> origin_qy;       ///< descanned origin (absolute, detector px)
  std::vector<float> origin_qx;
  SimDisks disks;                     ///< every rendered disk whose whole support lies on the detector
  SimDisks edge_disks;                ///< rendered disks whose support is cut by the detector edge
  std::vector<SimGrain> grains;       ///< grain table, indexed by label
  std::vector<SimLattice> lattices;   ///< basis of each phase in use, indexed by phase
  std::vector<std::string> phase_names;
  std::vector<std::int32_t> hot_pixels; ///< [n_hot_pixels, 2]: (row, column) of each hot pixel
};

/// The truth: geometry only, no pattern is rendered. Validates p.
SimTruth simulate_truth(const SimParams& p);

/// A FrameSource that renders patterns on demand, in parallel over the frames of a
/// read_frames() call (TBB, in an arena of `threads` workers, 0 = as many as TBB allows), with
/// no allocation per pattern. info().format = "simulated", dtype "<u2" if dose > 0 else "<f4".
/// Validates p.
std::unique_ptr<FrameSource> make_simulated_source(const SimParams& p, int threads = 0);

/// Writes the truth to an HDF5 file, under a temporary name renamed when complete:
/// /truth/{labels, phase} int32 [Ry,Rx], /truth/{angle_deg, origin_qy, origin_qx} float32 [Ry,Rx],
/// /truth/disks/{offsets uint64 [Ry*Rx+1], qy, qx, intensity float32 [N], h, k int32 [N]} and the
/// same for /truth/edge_disks, /truth/grains/{material, phase int32, angle_deg float32,
/// seed_ry, seed_rx int32} [n_grains], /truth/phases/<i> attrs (name, lattice, symmetry_n,
/// g1, g2), /truth/hot_pixels int32 [n, 2]; /truth attrs: every "simulate.KEY" = value and
/// scan_shape, detector_shape, disk_radius_px, disk_support_px, pixel_convention.
void write_truth(const SimTruth& t, const SimParams& p, const std::string& path);

/// Simulates into `data_path` in `format` ("emd", "mib" or "raw", through write_emd/write_mib/
/// write_raw) and, if `truth_path` is not empty, writes the truth there; the truth file appears
/// only if the data were written. Threads and memory come from ctx.
void simulate_to_files(const SimParams& p, const std::string& data_path, const std::string& format,
                       const std::string& truth_path, const WriteParams& w, RunContext& ctx);

} // namespace domainmap
