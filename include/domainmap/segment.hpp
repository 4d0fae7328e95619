// domainmap/segment.hpp: the `segment` stage: domains (grains) from an orientation map, their
// per-position maps (KAM, GOS) and their table (/domains in results-layout.md).
//
// A domain is a connected region of one phase in which orientations change little from position
// to position. Two growing rules are offered:
//  * neighbour (MTEX calcGrains, DREAM.3D "Segment Features (Misorientation)"): two adjacent
//    positions of the same phase are joined when their disorientation is below threshold_deg;
//    domains are the connected components of that graph (union-find, near-linear). A slow
//    orientation gradient stays one domain however large its total range.
//  * seed and mean (py4DSTEM cluster_grains): regions grown breadth-first from seeds taken in
//    raster order (py4DSTEM takes the strongest signal first; raster order keeps the labels
//    independent of the scores), a position joining when its disorientation to the seed's
//    orientation (seed, py4DSTEM's own test) or to the running mean orientation of the region
//    (mean) is below threshold_deg. A gradient is cut into pieces about 2 x threshold wide.
// Disorientations are symmetry-aware: in the 2D mode (no quaternions) in-plane angles under the
// phase's n-fold rotation about the beam (disorientation_2d); in the 3D mode quaternions under
// the phase's rotation group (disorientation_angle). Different phases are never joined.
//
// Not-indexed positions (phase -1, or a score below min_score) are no data. With fill_unindexed
// (the default) they are bridged BEFORE the domains grow, as MTEX does when it computes grains
// from the indexed points only (calcGrains on ebsd('indexed'): the Voronoi cells of the indexed
// points fill the gaps, so indexed points across a gap become neighbours) and as DREAM.3D's
// Fill Bad Data does: a breadth-first search from all measured positions gives each not-indexed
// position within fill_max_px steps (city-block distance for 4-connectivity, chessboard for 8)
// the phase and orientation of its nearest measured position (ties: the lowest position index),
// and the domains grow on that filled field. A position cut off from its grain by a 1-2 px
// not-indexed band (typical at grain boundaries, where the patterns overlap) so joins its
// grain instead of becoming a one-pixel domain, and the band is split between the grains on
// either side along the middle line. The filled positions keep the label of the domain they
// joined (counted in area_px and summary.n_filled); their copied orientations never enter a
// mean, GOS or KAM (n_oriented counts the measured positions only). Positions farther than
// fill_max_px from any data (amorphous or vacuum regions) stay -1, apart from a rim of at most
// fill_max_px, so large holes are not swallowed by the grains around them. With
// fill_unindexed = false not-indexed positions stay -1 and take no part in the growing.
//
// After growing: domains smaller than min_size are merged into a neighbour, dropped or kept
// (small_domains); labels are renumbered 0..K-1 by their first position in raster order. With
// subdomain_threshold_deg > 0 the same procedure runs again inside each domain with the lower
// (low-angle) threshold, giving sub-domains nested in the domains (the high-angle / low-angle
// boundary split of EBSD practice, e.g. 15 and 2 degrees).
//
// Every result is deterministic and identical for any number of threads.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "domainmap/context.hpp"
#include "domainmap/params.hpp"

namespace domainmap {

/// One phase of an orientation map (/phases/<i>).
struct PhaseInfo {
  std::string name;      ///< e.g. "graphene"
  std::string symmetry;  ///< rotation group symbol: "C6" (2D), a Laue class or point group ("m-3m", "6/mmm", "432")
};

/// An orientation map: the /orientation group of a results file (results-layout.md). Arrays over
/// positions are [Ry * Rx] in C order (position i = ry * Rx + rx).
struct OrientationMap {
  Shape2 scan;                                  ///< [Ry, Rx]
  std::vector<std::int32_t> phase;              ///< index into `phases`, -1 = not indexed
  std::vector<float> angle_deg;                 ///< in-plane angle, deg, reduced to [0, 360/n) (2D mode; may be empty in 3D mode)
  std::vector<std::array<float, 4>> quaternion; ///< (w, x, y, z) crystal to sample; empty = 2D mode
  std::vector<float> score;                     ///< match quality in [0, 1]; may be empty
  std::vector<PhaseInfo> phases;
  double scan_step_nm = 0;                      ///< scan step; 0 = unknown (then no nm values)

  std::int64_t size() const { return scan.y * scan.x; }
  bool three_d() const { return !quaternion.empty(); }
};

/// Parameters of the `segment` stage (INI section [segment], flags --segment.KEY).
///
/// Presets. `preset` names a published set of defaults; apply_preset() writes them into the
/// struct. Setting segment.preset through describe()'s ParamRef calls apply_preset(), so a preset
/// must be set before the options it should not override: the CLI and INI reader apply
/// segment.preset first, then the user's other segment.* options (explicit options win). The
/// preset-controlled fields are threshold_deg, rule, connectivity, min_size and small_domains:
///   none      5 deg, neighbour, 4-connected, min_size 1, merge (the defaults below)
///   mtex      10 deg, neighbour, 4-connected, min_size 1, merge (MTEX calcGrains 'angle' default)
///   dream3d   5 deg, neighbour, 4-connected = face neighbours, min_size 1, merge (DREAM.3D
///             Segment Features (Misorientation) tolerance default)
///   oim       5 deg, neighbour, 4-connected, min_size 2, drop (OIM Analysis grain tolerance
///             angle 5, minimum grain size 2: smaller grains are not grains)
///   py4dstem  5 deg, mean (seeded running mean), 8-connected (3 x 3 window), min_size 1, merge
///             (py4DSTEM cluster_grains angle_tolerance_deg)
struct SegmentParams {
  std::string preset = "none";        ///< none, mtex, dream3d, oim or py4dstem; setting it applies apply_preset() (see above)
  double threshold_deg = 5;           ///< domain boundary: disorientation >= this separates, deg, in (0, 180] (MTEX calcGrains 'angle', DREAM.3D MisorientationTolerance, py4DSTEM angle_tolerance_deg)
  std::string rule = "neighbour";     ///< neighbour (MTEX/DREAM.3D: adjacent pairs), seed (py4DSTEM: against the region's seed), mean (against the region's running mean)
  int connectivity = 4;               ///< 4 (edge neighbours, DREAM.3D face neighbours) or 8 (also diagonal)
  int min_size = 1;                   ///< domains with fewer positions are small, px (OIM minimum grain size, DREAM.3D MinAllowedFeatureSize)
  std::string small_domains = "merge"; ///< merge (into the neighbour with the longest shared boundary), drop (to -1) or keep
  bool fill_unindexed = true;         ///< not-indexed positions within fill_max_px of data take their nearest measured orientation before growing and keep the label of the domain they join (MTEX calcGrains on indexed points, DREAM.3D Fill Bad Data); false: they stay -1 and play no part
  int fill_max_px = 2;                ///< fill_unindexed reaches at most this many steps (4: city-block, 8: chessboard distance) from measured positions, px, >= 0; farther positions (amorphous, vacuum) stay -1
  double min_score = 0;               ///< positions with score below this count as not indexed, in [0, 1]; 0 = use all
  double subdomain_threshold_deg = 0; ///< low-angle threshold for sub-domains inside the domains, deg, in (0, threshold_deg); 0 = no sub-domains
  int kam_connectivity = 8;           ///< neighbours of the kernel average misorientation: 4 or 8 (the 3 x 3 kernel of MTEX KAM order 1)
  double kam_max_deg = 180;           ///< KAM ignores neighbour disorientations above this, deg, in (0, 180] (MTEX KAM 'threshold')
  bool operator==(const SegmentParams&) const = default;
};
/// Declares every field under keys "segment.KEY"; "preset" comes first and applies apply_preset().
void describe(SegmentParams& p, ParamSink& s);
/// Checks values and combinations (thresholds in (0, 180], subdomain below threshold, min_size
/// >= 1, known choices); throws Error(bad_parameter) "segment.KEY = V: problem".
void validate(const SegmentParams& p);
/// Sets preset = name and the preset-controlled fields (see SegmentParams); other fields are
/// untouched. Throws Error(bad_parameter) for an unknown name.
void apply_preset(SegmentParams& p, const std::string& name);
/// The preset names: none, mtex, dream3d, oim, py4dstem.
const std::vector<std::string>& segment_presets();

/// One row of the domain table (/domains/table).
struct DomainRecord {
  std::int32_t id = 0;             ///< label, 0 .. K-1 (first position in raster order)
  std::int32_t phase = -1;         ///< phase of the region the domain grew from (small domains merged into it, even of another phase, take it)
  std::int64_t area_px = 0;        ///< positions, filled ones included
  double area_nm2 = 0;             ///< area_px x step^2; 0 if the step is unknown
  double eq_diameter_px = 0;       ///< diameter of the circle of the same area, 2 sqrt(area / pi) (MTEX equivalentDiameter)
  double eq_diameter_nm = 0;       ///< 0 if the step is unknown
  std::int64_t perimeter_px = 0;   ///< pixel edges between the domain and anything else (other domains, -1, outside the scan)
  double perimeter_nm = 0;         ///< perimeter_px x step; 0 if the step is unknown
  double centroid_y = 0;           ///< mean row of its positions
  double centroid_x = 0;           ///< mean column
  std::int64_t bbox_y0 = 0, bbox_x0 = 0;  ///< first row and column (inclusive)
  std::int64_t bbox_y1 = 0, bbox_x1 = 0;  ///< end row and column (exclusive)
  double mean_angle_deg = 0;       ///< 2D mode: axial mean angle in [0, 360/n) (average_angles_2d); NaN in 3D mode
  std::array<double, 4> mean_quaternion{1, 0, 0, 0}; ///< (w, x, y, z): 3D mean in the fundamental zone (average_orientations); 2D: rotation about z
  double spread_deg = 0;           ///< mean disorientation of its positions to the mean (grain orientation spread, GOS)
  double max_dev_deg = 0;          ///< largest disorientation of a position to the mean
  std::int64_t n_oriented = 0;     ///< positions whose orientation entered the mean (measured, of the domain's phase)
  bool touches_edge = false;       ///< has a position in the first or last row or column
  std::int32_t n_neighbours = 0;   ///< distinct adjacent domains (adjacency under `connectivity`)
};

/// Size distribution of the domains (areas in px).
struct DomainSummary {
  std::int64_t count = 0;          ///< domains
  double mean_area_px = 0;
  double median_area_px = 0;       ///< middle value, mean of the two middle ones for an even count
  double lognormal_mu = 0;         ///< maximum-likelihood log-normal fit: mean of ln(area_px)
  double lognormal_sigma = 0;      ///< ... and sqrt(mean((ln(area_px) - mu)^2)) (1/K, the ML estimate)
  double mean_area_nm2 = 0;        ///< 0 if the step is unknown
  double fraction_unindexed = 0;   ///< positions not indexed in the input (or below min_score) / all positions
  double fraction_unlabelled = 0;  ///< positions with label -1 after segmentation / all positions
  std::int64_t n_filled = 0;       ///< not-indexed positions that fill_unindexed labelled (within fill_max_px of data)
  std::int64_t n_merged = 0;       ///< small domains merged into a neighbour
  std::int64_t n_dropped = 0;      ///< small domains dropped to -1
};

/// Output of segment(); arrays over positions are [Ry * Rx].
struct Segmentation {
  Shape2 scan;
  std::vector<std::int32_t> labels;         ///< domain 0 .. K-1 (raster order of first position), -1 = none
  std::vector<std::int32_t> subdomains;     ///< sub-domain 0 .. S-1, -1 = none; empty unless subdomain_threshold_deg > 0
  std::vector<std::int32_t> subdomain_parent; ///< domain of each sub-domain [S]
  std::vector<float> kam_deg;               ///< kernel average misorientation: mean disorientation to the kam_connectivity neighbours of the same domain (<= kam_max_deg), deg; NaN where not oriented or no such neighbour
  std::vector<float> gos_deg;               ///< grain orientation spread of the position's domain (spread_deg), deg; NaN where label -1
  std::vector<DomainRecord> table;          ///< one row per domain, by id
  DomainSummary summary;
  std::int32_t n_domains() const { return static_cast<std::int32_t>(table.size()); }
};

/// Segments an orientation map. Validates p and the map: shapes must agree, phases must be in
/// [-1, phases.size()), indexed positions need finite angles (2D) or non-zero finite quaternions
/// (3D), every phase's symmetry must be known; errors are Error(bad_input) naming the
/// /orientation or /phases object and the position. Threads come from ctx.threads.
Segmentation segment(const OrientationMap& map, const SegmentParams& p, RunContext& ctx);

/// Adjusted Rand index of two labellings of the same positions (Hubert and Arabie, J.
/// Classification 2 (1985) 193): 1 for identical partitions, about 0 for random ones. Positions
/// where either label is negative are ignored; 1 if fewer than two positions remain or both
/// partitions are a single cluster. Throws Error(bad_parameter) if the sizes differ.
double adjusted_rand_index(std::span<const std::int32_t> a, std::span<const std::int32_t> b);

} // namespace domainmap
