// domainmap/percolation.hpp: the `percolate` stage: connectivity statistics of phase and
// orientation maps and of boundary networks, and threshold sweeps that show how connectivity
// appears as a threshold is raised.
//
// Maps are scan-sized, C order, [Ry, Rx]; position i = ry * Rx + rx. Two positions are
// neighbours with 4-connectivity when they share an edge and, with 8-connectivity, also when
// they share a corner. Boundaries are open (no periodic wrap): the scan field has edges.
//
// Site clusters (site_percolation, phase_percolation, class_percolation): a cluster is a
// maximal connected set of occupied positions (of one class). Reported per map or class:
//   area fraction  p = occupied / all positions;
//   n_clusters, the largest cluster s_max as a fraction of all positions (the finite-size
//   estimate of the percolation strength P) and of the occupied ones (P / p);
//   spans_y: one cluster touches both the first and the last scan row; spans_x: the first
//   and the last column (results-layout.md, "Spanning");
//   the cluster-number distribution n_s = (clusters of s sites) / (positions)
//   (Stauffer & Aharony, "Introduction to Percolation Theory", 2nd ed. 1994, ch. 2), and the
//   mean cluster size S = sum' s^2 n_s / sum' s n_s with the largest cluster left out (ch. 2.5).
// At the threshold p_c, n_s ~ s^-tau with tau = 187/91 in 2D (Stauffer & Aharony tab. 2);
// p_c = 0.592746 for site percolation on the square lattice with 4-connectivity and, because
// the 8-connected square lattice is its matching lattice, 1 - 0.592746 = 0.407254 with
// 8-connectivity (Feng, Deng & Bloete, Phys. Rev. E 78, 031136 (2008): 0.59274605(3) and
// 0.40725395(3)); bond percolation on the square lattice has p_c = 1/2 exactly (self-dual).
//
// Boundary networks (boundary_percolation): the boundary graph of a domain map (nodes are
// junctions and points on the field edge, edges are boundary segments with a class such as a
// disorientation or coincidence type). Per class, the sub-network of that class's edges is
// split into connected components; the stage reports their number, the largest component's
// share of the class's total boundary length and whether a component connects the field's
// top and bottom edges (spans_y) or its left and right edges (spans_x).
//
// Threshold sweeps (site_sweep, bond_sweep, ClusterTracker): sites or bonds are added one at
// a time in ascending order of a value (for example the disorientation across each pair of
// neighbouring positions), and a union-find with per-root sizes and field-edge flags updates
// the largest cluster, the cluster count and spanning after every addition in amortised
// near-constant time, so one pass gives the whole curve (Newman & Ziff, Phys. Rev. Lett. 85,
// 4104 (2000); Phys. Rev. E 64, 016706 (2001)). Clusters only merge as items are added, so
// the largest cluster and spanning never decrease along a sweep.
//
// Every function is deterministic: equal values are taken in position (or bond) order, and
// nothing depends on the thread count.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "domainmap/params.hpp"

namespace domainmap {

/// Parameters of the `percolate` stage (INI section [percolate], flags --percolate.KEY).
struct PercolateParams {
  int connectivity = 4;                ///< 4 (edge neighbours) or 8 (edge and corner neighbours); follow the segmentation's setting
  std::string class_directions_deg;    ///< orientation classes: comma-separated in-plane directions, deg, e.g. "0,15"; empty = no orientation classes
  double class_tolerance_deg = 5;      ///< a domain belongs to the class of the nearest direction within this in-plane disorientation, deg
  std::int64_t sweep_points = 101;     ///< rows of a sweep table: evenly spaced thresholds from the smallest to the largest value
  std::int64_t sweep_every = 0;        ///< instead of sweep_points: a row after every k-th addition (and after the last); 0 = use sweep_points
  int plot_width = 640;                ///< sweep plot PNG width, px
  int plot_height = 400;               ///< sweep plot PNG height, px
  bool operator==(const PercolateParams&) const = default;
};
void describe(PercolateParams& p, ParamSink& s);

/// Checks what the per-field ranges cannot (connectivity 4 or 8, the direction list parses);
/// throws Error(bad_parameter) "percolate.KEY = V: problem".
void validate(const PercolateParams& p);

/// The directions of p.class_directions_deg as numbers, deg; throws Error(bad_parameter).
std::vector<double> parse_class_directions(const PercolateParams& p);

// ---------------------------------------------------------------------------------------------
// Site clusters

/// Bits of the scan field's edges that a cluster, node or component touches.
enum FieldEdge : std::uint8_t {
  edge_top = 1,     ///< first scan row (ry = 0)
  edge_bottom = 2,  ///< last scan row (ry = Ry - 1)
  edge_left = 4,    ///< first scan column (rx = 0)
  edge_right = 8,   ///< last scan column (rx = Rx - 1)
};

/// The FieldEdge bits of position (ry, rx) in a field of `shape` (a 1-row field is both top and bottom).
std::uint8_t field_edges_of(std::int64_t ry, std::int64_t rx, Shape2 shape);

/// Clusters labelled 0..K-1, numbered by their first position in raster order (as /domains/labels).
struct ClusterLabels {
  Shape2 shape;
  std::vector<std::int32_t> labels;     ///< [Ry*Rx] cluster of each position, -1 = not occupied
  std::vector<std::int64_t> sizes;      ///< [K] positions in each cluster
  std::vector<std::uint8_t> edges;      ///< [K] FieldEdge bits each cluster touches
};

/// Labels the clusters of the occupied positions (occupied[i] != 0) with 4- or 8-connectivity.
ClusterLabels label_site_clusters(const std::vector<std::uint8_t>& occupied, Shape2 shape, int connectivity);

/// n_s histogram entry: `count` clusters of `size` positions each.
struct ClusterSizeCount {
  std::int64_t size = 0;
  std::int64_t count = 0;
  bool operator==(const ClusterSizeCount&) const = default;
};

/// Site-percolation statistics of one occupied set.
struct SiteStats {
  std::int64_t n_positions = 0;               ///< Ry * Rx
  std::int64_t n_occupied = 0;
  double area_fraction = 0;                   ///< n_occupied / n_positions (0 for an empty map)
  std::int64_t n_clusters = 0;
  std::int64_t largest_cluster = 0;           ///< positions in the largest cluster
  double largest_cluster_fraction = 0;        ///< largest_cluster / n_positions: the percolation strength P
  double largest_cluster_fraction_occupied = 0; ///< largest_cluster / n_occupied: P / p (0 if nothing is occupied)
  double mean_cluster_size = 0;               ///< S = sum s^2 n_s / sum s n_s without the largest cluster (0 if none other)
  bool spans_y = false;                       ///< one cluster touches the first and the last scan row
  bool spans_x = false;                       ///< one cluster touches the first and the last scan column
  std::vector<ClusterSizeCount> size_counts;  ///< cluster-size histogram, ascending size; sum size * count = n_occupied
  bool operator==(const SiteStats&) const = default;
};

/// Statistics of already labelled clusters.
SiteStats site_stats(const ClusterLabels& clusters);

/// Site clusters of occupied[i] != 0 on a [Ry, Rx] map, 4- or 8-connectivity.
SiteStats site_percolation(const std::vector<std::uint8_t>& occupied, Shape2 shape, int connectivity);

/// Statistics of the positions of one phase (or class).
struct PhaseStats {
  std::int32_t phase = -1;   ///< phase index (as /orientation/phase)
  SiteStats site;
  bool operator==(const PhaseStats&) const = default;
};

/// Statistics of every phase present in phase (int32 [Ry, Rx], -1 = none), ascending phase;
/// the positions of a phase are the occupied sites, the rest are empty. One labelling pass
/// for all phases: neighbours join only when they have the same phase.
std::vector<PhaseStats> phase_percolation(const std::vector<std::int32_t>& phase, Shape2 shape, int connectivity);

/// Statistics of one class of a per-position class map.
struct ClassStats {
  std::int32_t class_id = -1;
  SiteStats site;
  bool operator==(const ClassStats&) const = default;
};

/// The same as phase_percolation() for any per-position class map (int32 [Ry, Rx], -1 = no
/// class), e.g. orientation classes from orientation_classes(): every class id present,
/// ascending.
std::vector<ClassStats> class_percolation(const std::vector<std::int32_t>& class_map, Shape2 shape, int connectivity);

/// Per-position orientation classes from a domain map: position i with labels[i] = d >= 0
/// belongs to class c when the in-plane disorientation between domain_angle_deg[d] and
/// directions_deg[c], min over k of |a - b + k period|, is at most tolerance_deg (the nearest
/// direction if several, the first on a tie); otherwise, or with labels[i] = -1 or a NaN
/// angle, -1. period_deg = 360 / n for an n-fold axis (the period /orientation/angle is reduced
/// to); a per-domain period (e.g. by phase) is given by domain_period_deg, empty = period_deg
/// for all. Throws Error(bad_input) if a label has no angle.
std::vector<std::int32_t> orientation_classes(const std::vector<std::int32_t>& labels,
                                              const std::vector<double>& domain_angle_deg,
                                              const std::vector<double>& directions_deg, double tolerance_deg,
                                              double period_deg, const std::vector<double>& domain_period_deg = {});

/// One log-spaced bin of the cluster-number distribution.
struct SizeBin {
  std::int64_t s_min = 0;      ///< smallest cluster size in the bin
  std::int64_t s_max = 0;      ///< largest cluster size in the bin
  double s_mean = 0;           ///< geometric mean of the integer sizes s_min..s_max (the bin's abscissa)
  std::int64_t clusters = 0;   ///< clusters with s_min <= s <= s_max
  double n_s = 0;              ///< clusters / (s_max - s_min + 1) / n_positions: mean n_s over the bin
};

/// Log-binned n_s (bins_per_decade bins per factor 10 of s, from s = 1; only non-empty bins up
/// to the largest size are returned, so a fit over a range of s sees where the bins are).
std::vector<SizeBin> log_binned_sizes(const std::vector<ClusterSizeCount>& size_counts, std::int64_t n_positions,
                                      int bins_per_decade);

// ---------------------------------------------------------------------------------------------
// Boundary networks

/// A node of a boundary network: a triple junction, or where a boundary meets the field edge.
struct BoundaryNode {
  std::int64_t id = 0;        ///< unique; edges refer to nodes by id
  double y = 0, x = 0;        ///< position, scan pixels
  std::uint8_t edges = 0;     ///< FieldEdge bits of the field edges the node lies on (0 inside)
};

/// A boundary segment between two nodes.
struct BoundaryEdge {
  std::int64_t node_a = 0, node_b = 0;  ///< node ids
  double length = 0;                    ///< px, >= 0
  std::int32_t class_id = 0;            ///< boundary class (e.g. a disorientation bin); < 0 = unclassified, ignored
};

/// A boundary network as the network stage builds it (/network/nodes, /network/edges).
struct BoundaryGraph {
  std::vector<BoundaryNode> nodes;
  std::vector<BoundaryEdge> edges;
};

/// Connectivity of one class's sub-network (/percolation/boundaries).
struct BoundaryClassStats {
  std::int32_t class_id = 0;
  std::int64_t n_edges = 0;
  double total_length = 0;                      ///< px
  std::int64_t n_components = 0;                ///< connected components of the class's edges
  std::int64_t largest_component_edges = 0;     ///< edges of the longest component
  double largest_component_length = 0;          ///< px; the component with the largest total length (first on a tie)
  double largest_component_length_fraction = 0; ///< largest_component_length / total_length (0 if total is 0)
  bool spans_y = false;                         ///< a component joins a node on the top and one on the bottom field edge
  bool spans_x = false;                         ///< a component joins a node on the left and one on the right field edge
  bool operator==(const BoundaryClassStats&) const = default;
};

/// Per class (ascending class id, classes with edges only), the components of the sub-network
/// formed by that class's edges (union-find over their end nodes). Throws Error(bad_input) on a
/// duplicate node id, an edge naming an unknown node, or a negative or non-finite length.
std::vector<BoundaryClassStats> boundary_percolation(const BoundaryGraph& graph);

// ---------------------------------------------------------------------------------------------
// Threshold sweeps

/// Incremental site/bond percolation on a [Ry, Rx] lattice (Newman & Ziff 2001, sec. II):
/// a union-find whose roots carry the cluster size and the FieldEdge bits of the cluster.
/// Finding uses path halving and joining is by size, so a whole sweep costs ~O(N).
class ClusterTracker {
public:
  ClusterTracker(Shape2 shape, int connectivity);
  /// Site mode start: every position empty.
  void clear();
  /// Bond mode start: every position (or every one with present[i] != 0) occupied, each a
  /// cluster of its own.
  void fill(const std::vector<std::uint8_t>& present = {});
  /// Occupies position i and joins it to its occupied lattice neighbours (no-op if occupied).
  void occupy(std::int64_t i);
  /// Joins the clusters of occupied positions a and b (any pair, not only lattice
  /// neighbours); returns false if they were one cluster already (or one is empty: no-op).
  bool join(std::int64_t a, std::int64_t b);

  /// True if position i (0 <= i < n_positions()) is occupied.
  bool occupied(std::int64_t i) const { return parent_[static_cast<std::size_t>(i)] >= 0; }
  /// Root position of i's cluster; i must be occupied.
  std::int64_t root(std::int64_t i);
  /// Positions in i's cluster (0 if i is empty).
  std::int64_t cluster_size(std::int64_t i);

  Shape2 shape() const { return shape_; }
  int connectivity() const { return connectivity_; }
  std::int64_t n_positions() const { return shape_.y * shape_.x; }
  std::int64_t n_occupied() const { return n_occupied_; }
  std::int64_t n_clusters() const { return n_clusters_; }
  std::int64_t largest() const { return largest_; }
  bool spans_y() const { return spans_y_; }
  bool spans_x() const { return spans_x_; }

private:
  std::int32_t find(std::int32_t i);
  void unite(std::int32_t a, std::int32_t b);
  void start_cluster(std::int32_t i);
  Shape2 shape_;
  int connectivity_;
  std::vector<std::int32_t> parent_;  ///< -1 = empty; parent_[r] == r for a root
  std::vector<std::int32_t> size_;    ///< cluster size, valid at roots
  std::vector<std::uint8_t> edges_;   ///< FieldEdge bits, valid at roots
  std::int64_t n_occupied_ = 0, n_clusters_ = 0, largest_ = 0;
  bool spans_y_ = false, spans_x_ = false;
};

/// A bond between two positions with a weight (e.g. the disorientation across it, deg).
struct WeightedBond {
  std::int64_t a = 0, b = 0;   ///< positions ry * Rx + rx
  double weight = 0;           ///< NaN = never added
  bool operator==(const WeightedBond&) const = default;
};

/// Every lattice bond of a [Ry, Rx] field once, weight 0, in (a, b) order: from each position
/// (y, x) in raster order to (y, x+1), (y+1, x-1), (y+1, x), (y+1, x+1) (the diagonals only
/// for 8-connectivity).
std::vector<WeightedBond> lattice_bonds(Shape2 shape, int connectivity);

/// Lattice bonds weighted by the in-plane disorientation of neighbouring positions,
/// min over k of |angle_a - angle_b + k period|, deg, period = period_deg[phase] (360 / n for
/// the phase's n-fold axis). Bonds between different phases, or touching a position with
/// phase -1 or a NaN angle, are left out.
std::vector<WeightedBond> angle_bonds(const std::vector<float>& angle_deg, const std::vector<std::int32_t>& phase,
                                      const std::vector<double>& period_deg, Shape2 shape, int connectivity);

/// Where a sweep records rows: at each threshold of `thresholds` (non-decreasing; the state
/// with every item of value <= t added), or, if `every` > 0, after every `every`-th addition
/// and after the last (then `thresholds` is ignored).
struct SweepRequest {
  std::vector<double> thresholds;
  std::int64_t every = 0;
};

/// The request p.sweep_points / p.sweep_every describe for values in [lo, hi] (the smallest
/// and largest finite value of the items swept).
SweepRequest sweep_request(const PercolateParams& p, double lo, double hi);

enum class SweepKind { site, bond };

/// The state of a sweep after some additions.
struct SweepRow {
  double threshold = 0;                 ///< requested threshold, or value of the last item added (every-k rows)
  std::int64_t n_added = 0;             ///< sites occupied or bonds added so far
  double fraction_added = 0;            ///< n_added / n_items: the occupation probability p of a random sweep
  std::int64_t largest_cluster = 0;     ///< positions
  double largest_cluster_fraction = 0;  ///< largest_cluster / n_sites
  std::int64_t n_clusters = 0;          ///< site sweep: clusters of occupied positions; bond sweep: of all present
                                        ///< positions (isolated ones count)
  bool spans_x = false;
  bool spans_y = false;
  bool operator==(const SweepRow&) const = default;
};

struct SweepTable {
  SweepKind kind = SweepKind::site;
  Shape2 shape;
  int connectivity = 4;
  std::int64_t n_sites = 0;    ///< positions that take part (all for a site sweep, the present ones for a bond sweep)
  std::int64_t n_items = 0;    ///< sites or bonds given (NaN-valued ones included: they are never added)
  std::vector<SweepRow> rows;
  bool operator==(const SweepTable&) const = default;
};

/// Site sweep: positions are occupied in ascending value[i] (equal values in position order;
/// NaN never); rows as `request` says.
SweepTable site_sweep(const std::vector<double>& value, Shape2 shape, int connectivity, const SweepRequest& request);

/// Bond sweep: every present position (present[i] != 0; empty = all) starts as a cluster of
/// its own and bonds are added in ascending weight (equal weights in order of (a, b); NaN
/// never; bonds touching an absent position are skipped); rows as `request` says. For a
/// domain map: bonds from angle_bonds(), so the row at threshold t shows the regions in
/// which neighbours differ by at most t, the threshold of a disorientation segmentation.
SweepTable bond_sweep(const std::vector<WeightedBond>& bonds, Shape2 shape, const SweepRequest& request,
                      const std::vector<std::uint8_t>& present = {});

/// CSV with a header row: threshold,n_added,fraction_added,largest_cluster,
/// largest_cluster_fraction,n_clusters,spans_x,spans_y (spans as 0/1, numbers with 10
/// significant digits). Written to a temporary name and renamed; throws Error(io) naming path.
void write_sweep_csv(const std::string& path, const SweepTable& table);

/// Quick-look PNG of p.plot_width x p.plot_height: the largest cluster fraction (blue) and
/// spans_y (red) and spans_x (green, drawn just inside) against the threshold, axes from the
/// first to the last threshold and from 0 to 1, labelled at both ends.
void write_sweep_png(const std::string& path, const SweepTable& table, const PercolateParams& p);


// ---------------------------------------------------------------------------------------------
// The stage's output (/percolation)

/// Everything the `percolate` stage computes on a results file (/percolation).
struct PercolationReport {
  Shape2 scan;
  int connectivity = 4;
  std::vector<PhaseStats> phases;              ///< per phase of /orientation/phase
  std::vector<double> class_directions_deg;    ///< orientation classes (empty = none)
  double class_tolerance_deg = 0;
  std::vector<ClassStats> classes;             ///< per orientation class present
  std::vector<BoundaryClassStats> boundaries;  ///< per boundary type (class_id = BoundaryType, network.hpp); empty without /network
  SweepTable disorientation_sweep;             ///< bond sweep over neighbour disorientations (2D maps); rows empty if not run
  /// Per class direction, in order (2D maps with classes): a site sweep over each position's
  /// value = the in-plane disorientation of its domain's mean angle from the direction, deg, so
  /// the row at threshold t is the class as a tolerance of t would define it (one direction).
  std::vector<SweepTable> class_sweeps;
  bool operator==(const PercolationReport&) const = default;
};

/// The name /percolation/boundaries stores for a boundary class: boundary_type_name() of the
/// BoundaryType value (network.hpp) for 0..4, else "class_<id>".
std::string boundary_class_name(std::int32_t class_id);

} // namespace domainmap
