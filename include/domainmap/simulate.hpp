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

// =============================================================================================
// Orientation-map generator (lib/simulate/orientation_map.cpp)
//
// A polycrystal orientation map with its ground truth, made directly (no diffraction patterns),
// for scoring the segment, network and percolate stages. The model, in the order it is built:
//  1. Grains. n_grains Voronoi seeds placed by dart throwing with a hard core (no two closer
//     than min_spacing_fraction x the mean spacing sqrt(Ry Rx / n_grains), as far as 64 tries
//     per seed allow: no vanishing cells, sizes more even than in a Poisson-Voronoi tiling). A
//     position p belongs to the seed nearest to p + d(p), with d a smooth displacement field
//     d(p) = A sum_m 1/4 cos(k_m . p + phi_m) e_m (four modes, |k_m| = 2 pi / wavelength,
//     random directions and phases): boundaries become wavy and non-convex. |d| <= A, and
//     p -> p + d(p) is one-to-one while A 2 pi / wavelength < 1, so grains stay connected.
//  2. Twins. twin_fraction of the Voronoi grains are crossed by a lamella: the positions with
//     |(p - c) . n - o| < w / 2 (c the grain's centroid, n a random unit normal, o a random
//     offset within +-0.2 of the equivalent radius, w = twin_width_fraction x the equivalent
//     diameter, >= 3 px) carry the twin orientation g T: for a cubic phase (432 or 23) the
//     Sigma3 twin, T = 60 deg about [111] (Randle, "The Measurement of Grain Boundary Geometry"
//     (1993); Brandon, Acta Metall. 14 (1966) 1479); otherwise twin_angle_deg about the crystal
//     z axis (2D: the in-plane angle + twin_angle_deg).
//  3. Clean-up and truth. Connected regions (4-connected, one Voronoi grain and twin state)
//     smaller than min_grain_px (slivers from the warp or the lamella) join the neighbouring
//     region with the longest shared boundary. The true grains are the remaining regions: a
//     lamella that crosses its grain makes three grains, the twin and the two parent pieces.
//     They are numbered 0..K-1 by their first position in raster order, as segment() numbers
//     domains.
//  4. Orientations. Each Voronoi grain in turn gets a random orientation such that every pair
//     of adjacent true grains of one phase is at least min_disorientation_deg apart (at the
//     grains' reference orientations): 2D uniform over the angles in [0, 360/n) that the
//     grains already oriented leave free (the middle of the widest gap if none is free); 3D
//     uniform on SO(3) (Shoemake 1992), up to 64 draws, the farthest kept. Then up to 8 sweeps
//     redraw the grains that still have a too-close neighbour (n_close_pairs counts what is
//     left). Neighbours closer than a segmentation threshold are, by definition, not two grains.
//     bent_fraction of the Voronoi grains (with their twins) are bent: the orientation turns by
//     bending_deg_per_100px per 100 px along a random in-plane direction b, g(p) = g0 R(a, s),
//     s = bending (p - c) . b / 100 (2D: the angle grows by s; 3D: about a random crystal axis
//     a), with c the Voronoi grain's centroid, so g0 is the orientation at the centroid.
//  5. Noise. Every position gets Gaussian orientation noise: 2D the angle + N(0, sigma^2); 3D
//     g(p) exp([n] sigma), n three independent N(0, 1) (each component of the rotation vector
//     has standard deviation sigma; the angle is Maxwell distributed with mean 1.596 sigma).
//     3D orientations are written reduced into the fundamental zone (as indexing software
//     does), 2D angles into [0, 360/n).
//  6. Not indexed. unindexed_fraction x (Ry Rx) positions on average are set to phase -1 (angle
//     NaN, quaternion NaN): unindexed_on_boundary of them in the boundary band (positions at
//     most unindexed_band_px - 1 4-steps from a position that has a 4-neighbour in another
//     true grain, i.e. centres within unindexed_band_px - 1/2 px of a boundary; each band
//     position independently with the same probability, at most 1), the rest anywhere
//     (overlapping the band a little).
// Every random number is a hash of (seed, purpose, index) (splitmix64's finaliser), so the map
// is the same for any number of threads.
// =============================================================================================

#include "domainmap/segment.hpp"

namespace domainmap {

/// Parameters of simulate_orientation_map(). A 2D map (in-plane angles, /orientation/angle)
/// when the phases' groups are in-plane (C1..C6), a 3D map (quaternions) otherwise.
struct OrientationMapParams {
  Shape2 scan{256, 256};               ///< scan rows x columns, positions
  int n_grains = 60;                   ///< Voronoi grains (before twins split some)
  std::string symmetry = "C6";         ///< rotation group of phase 0: "C1".."C6" (2D) or a 3D symbol ("m-3m", "432", "6/mmm")
  int n_phases = 1;                    ///< 1 or 2 phases
  std::string second_symmetry;         ///< group of phase 1 (n_phases = 2); "" = the same as phase 0; same dimension as phase 0
  double second_phase_fraction = 0.3;  ///< fraction of the Voronoi grains that are phase 1 (n_phases = 2), in [0, 1]
  double min_spacing_fraction = 0.5;   ///< hard core of the seeds, x the mean spacing, in [0, 0.8]
  double waviness_px = 4;              ///< amplitude A of the boundary displacement field, px (0 = straight Voronoi boundaries)
  double waviness_wavelength_px = 60;  ///< its wavelength, px; keep A 2 pi / wavelength < 1
  double twin_fraction = 0.2;          ///< fraction of the Voronoi grains crossed by a twin lamella, in [0, 1]
  double twin_width_fraction = 0.25;   ///< lamella width / the grain's equivalent diameter, in (0, 1]
  double twin_angle_deg = 30;          ///< non-cubic phases: twin rotation about crystal z (2D: in-plane), deg
  double bent_fraction = 0.5;          ///< fraction of the Voronoi grains that are bent, in [0, 1]
  double bending_deg_per_100px = 2;    ///< orientation gradient inside bent grains, deg per 100 px, >= 0
  double angle_noise_deg = 0.5;        ///< orientation noise sigma per position, deg, >= 0
  double unindexed_fraction = 0.02;    ///< mean fraction of positions not indexed, in [0, 1]
  double unindexed_on_boundary = 0.9;  ///< share of the not-indexed positions put in the boundary band, in [0, 1]
  int unindexed_band_px = 2;           ///< boundary band: up to this - 1 steps from a position touching another grain, 1..8
  double min_disorientation_deg = 10;  ///< adjacent true grains of one phase differ by at least this, deg (0 = fully random)
  int min_grain_px = 16;               ///< smaller regions (slivers) join a neighbour, positions, >= 1
  double scan_step_nm = 0;             ///< written to the map; 0 = unknown
  std::uint64_t seed = 1;              ///< everything random follows from this
};

/// One true grain of a simulated orientation map.
struct SimulatedGrain {
  std::int32_t parent = -1;            ///< Voronoi grain 0..n_grains-1 it is (a piece of)
  bool twin = false;                   ///< carries the parent's orientation times the twin operator
  bool bent = false;                   ///< has an orientation gradient
  std::int32_t phase = 0;
  std::int64_t area_px = 0;            ///< positions (not-indexed ones included)
  double ref_y = 0, ref_x = 0;         ///< reference point of the bending: the Voronoi grain's centroid
  double angle_deg = 0;                ///< 2D: noise-free angle at the reference point, in [0, 360/n); 3D: NaN
  std::array<double, 4> quaternion{1, 0, 0, 0}; ///< noise-free orientation at the reference point (w, x, y, z), w >= 0 (2D: about z)
};

/// Output of simulate_orientation_map(); arrays over positions are [Ry * Rx], C order.
struct SimulatedOrientationMap {
  OrientationMap map;                       ///< phases "phase0" (and "phase1"), score empty
  std::vector<std::int32_t> true_grain;     ///< true grain of every position (not-indexed ones too), 0..K-1, raster order of first position
  std::vector<std::int32_t> parent_grain;   ///< Voronoi grain of every position, 0..n_grains-1
  std::vector<SimulatedGrain> grains;       ///< [K] by true grain
  std::int32_t n_parents = 0;               ///< Voronoi grains present
  std::int32_t n_twinned = 0;               ///< Voronoi grains with a lamella that survived the clean-up
  std::int64_t n_band = 0;                  ///< positions in the boundary band
  std::int64_t n_close_pairs = 0;           ///< adjacent grain pairs left below min_disorientation_deg (0 unless the draws failed)
};

/// Throws Error(bad_parameter) "orientation_map.KEY = V: problem" for values out of range.
void validate(const OrientationMapParams& p);

/// Generates the map (see the section comment above), in parallel over rows on `threads` TBB
/// workers (0 = as many as TBB allows); the result does not depend on `threads`. Validates p.
SimulatedOrientationMap simulate_orientation_map(const OrientationMapParams& p, int threads = 0);

} // namespace domainmap
