// domainmap/network.hpp: the `network` stage: the boundary network of a domain map, as a graph
// whose nodes are junctions and whose edges are boundaries (docs/stages/network.md).
//
// Geometry. Scan pixel (ry, rx) has its centre at (y, x) = (ry, rx); its corners are at
// half-integers: corner (cy, cx), cy in 0..Ry, cx in 0..Rx, lies at (y, x) = (cy - 0.5, cx - 0.5).
// Boundaries run along pixel edges between positions with different domain labels
// (/domains/labels; -1 = no domain counts as a region of its own, the "unlabelled" region, so
// boundaries to unindexed patches are kept and typed as such). Pixel edges on the field's outer
// border are not boundaries.
//
// Nodes sit on pixel corners:
//   junction    a corner where three or more boundary pixel-edges meet: three or more regions,
//               or four boundary pixel-edges between two regions (a checkerboard corner);
//   field_edge  a corner on the field border where a boundary ends (always degree 1);
//   loop        a boundary that closes on itself without meeting another (an island inside one
//               other region) gets one node at its first corner in raster order, and one edge
//               from it to itself that leaves it rightwards (clockwise on the picture).
// An edge is a maximal chain of boundary pixel-edges between two nodes; every corner inside it
// has exactly two boundary pixel-edges, so it separates one pair of regions all along. Two
// regions that touch along several separate stretches have several edges. An edge can also run
// from a junction back to the same junction (node_a == node_b, kind junction).
//
// Order (deterministic, one thread): node ids follow their corners in raster order (cy, then cx).
// Every edge is traced from its node with the lower id (node_a <= node_b) and numbered by
// (node_a, the direction it leaves node_a in: up, left, right, down); its polyline runs from
// node_a to node_b. Cost O(Ry * Rx) plus O(|G|^2) per CSL candidate.
//
// Per edge: its regions (domain_a < domain_b, -1 first), their phases (-1 for the unlabelled
// region), the length (number of pixel edges; x scan step in nm when calibrated), the
// disorientation between the two domains' mean orientations (DomainRecord::mean_angle_deg /
// mean_quaternion) and, in 3D, its axis, and the type.
//
// Orientation of a domain: 2D when mean_angle_deg is finite (in-plane angle; 2D pairs use
// disorientation_2d() with n = the z_order of the phase's group, and n = lcm(n_a, n_b) for two
// phases), else 3D from mean_quaternion when n_oriented > 0, else unknown. A 3D pair (or a
// mixed one) uses disorientation() (orientation.hpp) with the phase's rotation group, or with
// both groups for two different phases (no switching symmetry). Axis: 3D the reduced
// disorientation axis in crystal 1's frame (unit); 2D (0, 0, 1); (0, 0, 0) and a NaN angle when
// a side is unlabelled or has no orientation.
//
// Type, the first rule that applies:
//   unlabelled  one side is the unlabelled region (-1)
//   phase       the two domains have different phases
//   csl         csl = true, the phase is cubic (Laue m-3 or m-3m), both orientations are 3D, and
//               the misorientation lies within the Brandon criterion dtheta <= brandon_deg /
//               sqrt(Sigma) (Brandon, Acta Metall. 14, 1479 (1966); brandon_deg = 15) of a
//               coincidence-site-lattice misorientation of csl_misorientations() with Sigma <=
//               max_sigma, the lowest such Sigma; dtheta is the smallest rotation angle between
//               the two misorientations over all their symmetric equivalents S1 dg S2 under the
//               cubic lattice's group 432 (CSL is a lattice coincidence, so m-3 phases are
//               matched with 432 too); csl_sigma holds Sigma
//   low_angle   disorientation < low_angle_deg (default 15, the Read-Shockley limit)
//   high_angle  everything else, also a same-phase boundary whose orientations are unknown
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "domainmap/params.hpp"
#include "domainmap/percolation.hpp"
#include "domainmap/segment.hpp"

namespace domainmap {

/// Parameters of the `network` stage (INI section [network], flags --network.KEY).
struct NetworkParams {
  double low_angle_deg = 15;    ///< boundaries below this disorientation are low-angle, deg, in (0, 180)
  bool csl = true;              ///< classify CSL boundaries (Sigma 3..max_sigma) in cubic phases
  double brandon_deg = 15;      ///< Brandon criterion: a CSL matches within brandon_deg / sqrt(Sigma), deg
  int max_sigma = 11;           ///< largest Sigma tested (3, 5, 7, 9, 11 are known)
  bool operator==(const NetworkParams&) const = default;
};
void describe(NetworkParams& p, ParamSink& s);
/// Throws Error(bad_parameter) "network.KEY = V: problem".
void validate(const NetworkParams& p);

enum class NodeKind : std::int8_t { junction = 0, field_edge = 1, loop = 2 };
enum class BoundaryType : std::int8_t { low_angle = 0, high_angle = 1, csl = 2, phase = 3, unlabelled = 4 };
inline constexpr int kBoundaryTypeCount = 5;
/// "junction", "field_edge", "loop".
const char* node_kind_name(NodeKind k);
/// "low_angle", "high_angle", "csl", "phase", "unlabelled".
const char* boundary_type_name(BoundaryType t);

/// A coincidence-site-lattice misorientation of the cubic lattice: `angle_deg` about `axis`
/// (crystal frame, integer Miller indices), tan(angle / 2) = (y / x) sqrt(h^2 + k^2 + l^2).
struct CslMisorientation {
  int sigma = 0;
  double angle_deg = 0;
  std::array<int, 3> axis{0, 0, 0};
};
/// Sigma 3 (60 deg <111>), 5 (36.87 <100>), 7 (38.21 <111>), 9 (38.94 <110>), 11 (50.48 <110>),
/// ascending Sigma.
const std::vector<CslMisorientation>& csl_misorientations();

struct NetworkNode {
  std::int64_t id = 0;          ///< 0 .. n-1, ordered by corner in raster order
  double y = 0, x = 0;          ///< scan pixels (corners are at half-integers)
  NodeKind kind = NodeKind::junction;
  std::int32_t degree = 0;      ///< edge ends at the node (a loop's self-edge counts 2): junction 3 or 4, field_edge 1, loop 2
  std::uint8_t field_edges = 0; ///< FieldEdge bits (percolation.hpp) of the border the node lies on (0 inside)
  bool operator==(const NetworkNode&) const = default;
};

struct NetworkEdge {
  std::int64_t id = 0;
  std::int64_t node_a = 0, node_b = 0;   ///< node ids, node_a <= node_b (equal for a loop or an edge back to its junction)
  std::int32_t domain_a = -1, domain_b = -1; ///< the two regions, domain_a < domain_b, -1 = unlabelled
  std::int32_t phase_a = -1, phase_b = -1; ///< phases of domain_a and domain_b (-1 for the unlabelled region)
  std::int64_t length_px = 0;            ///< pixel edges along the boundary
  double length_nm = 0;                  ///< length_px x scan step; 0 if the step is unknown
  double disorientation_deg = 0;         ///< NaN for unlabelled boundaries and unknown orientations
  std::array<double, 3> axis{0, 0, 0};   ///< 3D: disorientation axis, crystal frame, unit; 2D: (0, 0, 1); none: (0, 0, 0)
  BoundaryType type = BoundaryType::high_angle;
  std::int32_t csl_sigma = 0;            ///< Sigma of a csl boundary, else 0
  /// Field by field; NaN angles compare equal to NaN (for round-trip tests).
  bool operator==(const NetworkEdge& o) const;
};

/// Junction counts by composition: the sorted types of the boundaries meeting there.
struct JunctionCount {
  std::string composition;   ///< e.g. "high_angle+high_angle+csl" (types sorted by enum value; an
                             ///< edge from the junction back to itself counts twice)
  std::int64_t count = 0;
  bool operator==(const JunctionCount&) const = default;
};

struct BoundaryNetwork {
  Shape2 scan;
  double scan_step_nm = 0;
  std::vector<NetworkNode> nodes;
  std::vector<NetworkEdge> edges;
  /// Polylines: the corners edge e passes through, in order from node_a to node_b, are
  /// points [point_offsets[e], point_offsets[e + 1]) (CSR, size edges + 1).
  std::vector<std::uint64_t> point_offsets;
  std::vector<float> point_y, point_x;
  std::vector<JunctionCount> junctions;                 ///< nodes of kind junction by composition, ascending composition string
  std::array<std::int64_t, kBoundaryTypeCount> n_edges_by_type{};  ///< edges per BoundaryType value
  std::array<double, kBoundaryTypeCount> length_px_by_type{};     ///< sum of length_px per BoundaryType value

  /// Nodes of one kind.
  std::int64_t count_nodes(NodeKind k) const;
  bool operator==(const BoundaryNetwork&) const = default;
};

/// Builds the network of a domain map. labels: [Ry * Rx] (/domains/labels), domains: the domain
/// table (mean orientations, phases), phases: their symmetries; scan_step_nm 0 = unknown.
/// Validates p. Throws Error(bad_input) naming /domains/labels, /domains/table or /phases/<i> on
/// mismatched sizes, a label without a table row, a domain of an unknown phase or a phase of
/// unknown symmetry.
BoundaryNetwork build_network(const std::vector<std::int32_t>& labels, Shape2 scan,
                              const std::vector<DomainRecord>& domains, const std::vector<PhaseInfo>& phases,
                              double scan_step_nm, const NetworkParams& p);

/// The network as percolation.hpp sees it: the same node ids, positions and FieldEdge bits;
/// edges in order with length = length_px and class_id = the BoundaryType value.
BoundaryGraph to_boundary_graph(const BoundaryNetwork& net);

// Exports. Each is written to a temporary name beside the target and renamed when complete;
// errors are Error(io) naming the file. Column and attribute names are those of NetworkNode and
// NetworkEdge (kind and type as names; axis as axis_x, axis_y, axis_z); docs/stages/network.md
// lists them.

/// GraphML: an undirected graph, node and edge ids their numbers ("0", "1", ...), a <key> declaration for
/// every graph, node and edge attribute (the polyline as the string "points" = "y,x y,x ...");
/// NaN written as NaN. Loads unchanged in networkx.read_graphml (a MultiGraph when two edges
/// join the same nodes) and igraph.
void write_graphml(const std::string& path, const BoundaryNetwork& net);
/// JSON node-link ({"directed": false, "multigraph": true, "graph": {...}, "nodes": [{"id", ...}],
/// "links": [{"source", "target", "key", ..., "points": [[y, x], ...]}]}); NaN written as null.
/// The link list is stored under "links" (networkx < 3.6, d3) and again under "edges" (the
/// networkx >= 3.6 default), so json_graph.node_link_graph(data) loads it in any networkx.
void write_network_json(const std::string& path, const BoundaryNetwork& net);
/// CSV node and edge tables (header row, one row per node / edge; NaN written as nan).
void write_network_csv(const std::string& nodes_path, const std::string& edges_path, const BoundaryNetwork& net);

} // namespace domainmap
