// domainmap/network.hpp: the `network` stage: the boundary network of a domain map, as a graph
// whose nodes are junctions and whose edges are boundaries.
//
// Geometry. Scan pixel (ry, rx) has its centre at (y, x) = (ry, rx); its corners are at
// half-integers. Boundaries run along pixel edges between positions with different domain
// labels (/domains/labels; -1 = no domain counts as a region of its own, the "unlabelled"
// region, so boundaries to unindexed patches are kept and typed as such). Pixel edges on the
// field's outer border are not boundaries.
//
// Nodes sit on pixel corners:
//   junction    a corner where three or more regions meet, or where four boundary pixel-edges
//               meet (a checkerboard corner between two regions);
//   field_edge  a corner on the field border where a boundary ends;
//   loop        a boundary that closes on itself (an island inside one other region) gets one
//               node at its first corner in raster order, and one edge from it to itself.
// An edge is a maximal chain of boundary pixel-edges between two nodes that separates one
// pair of regions; two regions that touch along several separate stretches have several edges.
//
// Per edge: its regions (domain_a < domain_b, -1 first), their phases, the length (number of
// pixel edges; x scan step in nm when calibrated), the disorientation between the two domains'
// mean orientations (symmetry.hpp; for two different phases the plain misorientation angle),
// in 3D the axis, and the type:
//   low_angle   same phase, disorientation < low_angle_deg (default 15, the Read-Shockley limit)
//   high_angle  same phase, disorientation >= low_angle_deg, not CSL
//   csl         cubic phase (Laue m-3 or m-3m), disorientation within the Brandon criterion
//               dtheta <= brandon_deg / sqrt(Sigma) (Brandon, Acta Metall. 14, 1479 (1966);
//               brandon_deg = 15) of a coincidence-site-lattice misorientation, Sigma 3, 5, 7,
//               9 or 11 (the lowest Sigma that matches); csl_sigma holds Sigma
//   phase       the two domains have different phases
//   unlabelled  one side is the unlabelled region (-1)
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

struct NetworkNode {
  std::int64_t id = 0;          ///< 0 .. n-1, ordered by corner in raster order
  double y = 0, x = 0;          ///< scan pixels (corners are at half-integers)
  NodeKind kind = NodeKind::junction;
  std::int32_t degree = 0;      ///< edge ends at the node (a loop's self-edge counts 2)
  std::uint8_t field_edges = 0; ///< FieldEdge bits (percolation.hpp) of the border the node lies on
};

struct NetworkEdge {
  std::int64_t id = 0;
  std::int64_t node_a = 0, node_b = 0;   ///< node ids (equal for a loop)
  std::int32_t domain_a = -1, domain_b = -1; ///< the two regions, domain_a < domain_b, -1 = unlabelled
  std::int32_t phase_a = -1, phase_b = -1;
  std::int64_t length_px = 0;            ///< pixel edges along the boundary
  double length_nm = 0;                  ///< length_px x scan step; 0 if the step is unknown
  double disorientation_deg = 0;         ///< NaN for unlabelled boundaries
  std::array<double, 3> axis{0, 0, 0};   ///< 3D: disorientation axis, crystal frame, unit; 2D: (0, 0, 1)
  BoundaryType type = BoundaryType::high_angle;
  std::int32_t csl_sigma = 0;            ///< Sigma of a csl boundary, else 0
};

/// Junction counts by composition: the sorted types of the boundaries meeting there.
struct JunctionCount {
  std::string composition;   ///< e.g. "high_angle+high_angle+csl" (types sorted by enum value)
  std::int64_t count = 0;
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
  std::vector<JunctionCount> junctions;                 ///< ascending composition string
  std::array<std::int64_t, kBoundaryTypeCount> n_edges_by_type{};
  std::array<double, kBoundaryTypeCount> length_px_by_type{};
};

/// Builds the network of a domain map. labels: [Ry * Rx] (/domains/labels), domains: the domain
/// table (mean orientations, phases), phases: their symmetries. Throws Error(bad_input) on
/// mismatched sizes or a label without a table row.
BoundaryNetwork build_network(const std::vector<std::int32_t>& labels, Shape2 scan,
                              const std::vector<DomainRecord>& domains, const std::vector<PhaseInfo>& phases,
                              double scan_step_nm, const NetworkParams& p);

/// The network as percolation.hpp sees it: class_id = the BoundaryType value.
BoundaryGraph to_boundary_graph(const BoundaryNetwork& net);

/// GraphML (nodes and edges with every attribute above; loads unchanged in networkx and igraph).
void write_graphml(const std::string& path, const BoundaryNetwork& net);
/// JSON node-link ({"directed": false, "multigraph": true, "graph": {...}, "nodes": [...],
/// "links": [...]}, networkx.node_link_graph compatible).
void write_network_json(const std::string& path, const BoundaryNetwork& net);
/// CSV node and edge tables (header row, one row per node / edge).
void write_network_csv(const std::string& nodes_path, const std::string& edges_path, const BoundaryNetwork& net);

} // namespace domainmap
