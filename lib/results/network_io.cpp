// lib/results/network_io.cpp: /network in the results file: the writer ResultsWriter calls and
// read_network().
//
// Layout:
//   /network                 attrs scan_shape [Ry, Rx], scan_step_nm, n_nodes, n_edges,
//                            n_junctions, n_field_edge, n_loops, n_edges_by_type [5],
//                            length_px_by_type [5], type_names, kind_names, units
//   /network/nodes           compound [N]: id i64, y f64, x f64, kind i8, degree i32, field_edges u8
//   /network/edges           compound [E]: id, node_a, node_b i64; domain_a, domain_b, phase_a,
//                            phase_b i32; length_px i64; length_nm, disorientation_deg, axis_x,
//                            axis_y, axis_z f64; type i8; csl_sigma i32 (attrs type_names)
//   /network/point_offsets   u64 [E + 1]: edge e's corners are points [off[e], off[e + 1])
//   /network/point_y, point_x  f32 [off[E]]
//   /network/junctions       compound [J]: composition (fixed string of 64), count i64
#include "network_io.hpp"
#include "results_io.hpp"

#include <cmath>
#include <cstring>

#include "../core/h5util.hpp"
#include "domainmap/error.hpp"
#include "domainmap/results.hpp"

namespace domainmap {

using detail::read_compound;
using detail::write_compound;

namespace {

struct NodeRow {
  std::int64_t id;
  double y, x;
  std::int8_t kind;
  std::int32_t degree;
  std::uint8_t field_edges;
};

struct EdgeRow {
  std::int64_t id, node_a, node_b;
  std::int32_t domain_a, domain_b, phase_a, phase_b;
  std::int64_t length_px;
  double length_nm, disorientation_deg, axis_x, axis_y, axis_z;
  std::int8_t type;
  std::int32_t csl_sigma;
};

constexpr std::size_t kCompositionSize = 64;
struct JunctionRow {
  char composition[kCompositionSize];
  std::int64_t count;
};

constexpr const char* kTypeNames = "low_angle,high_angle,csl,phase,unlabelled";
constexpr const char* kKindNames = "junction,field_edge,loop";

h5::Handle node_type() {
  h5::Handle t(H5Tcreate(H5T_COMPOUND, sizeof(NodeRow)));
#define DM_FIELD(name, type) H5Tinsert(t, #name, HOFFSET(NodeRow, name), type)
  DM_FIELD(id, H5T_NATIVE_INT64);
  DM_FIELD(y, H5T_NATIVE_DOUBLE);
  DM_FIELD(x, H5T_NATIVE_DOUBLE);
  DM_FIELD(kind, H5T_NATIVE_INT8);
  DM_FIELD(degree, H5T_NATIVE_INT32);
  DM_FIELD(field_edges, H5T_NATIVE_UINT8);
#undef DM_FIELD
  return t;
}

h5::Handle edge_type() {
  h5::Handle t(H5Tcreate(H5T_COMPOUND, sizeof(EdgeRow)));
#define DM_FIELD(name, type) H5Tinsert(t, #name, HOFFSET(EdgeRow, name), type)
  DM_FIELD(id, H5T_NATIVE_INT64);
  DM_FIELD(node_a, H5T_NATIVE_INT64);
  DM_FIELD(node_b, H5T_NATIVE_INT64);
  DM_FIELD(domain_a, H5T_NATIVE_INT32);
  DM_FIELD(domain_b, H5T_NATIVE_INT32);
  DM_FIELD(phase_a, H5T_NATIVE_INT32);
  DM_FIELD(phase_b, H5T_NATIVE_INT32);
  DM_FIELD(length_px, H5T_NATIVE_INT64);
  DM_FIELD(length_nm, H5T_NATIVE_DOUBLE);
  DM_FIELD(disorientation_deg, H5T_NATIVE_DOUBLE);
  DM_FIELD(axis_x, H5T_NATIVE_DOUBLE);
  DM_FIELD(axis_y, H5T_NATIVE_DOUBLE);
  DM_FIELD(axis_z, H5T_NATIVE_DOUBLE);
  DM_FIELD(type, H5T_NATIVE_INT8);
  DM_FIELD(csl_sigma, H5T_NATIVE_INT32);
#undef DM_FIELD
  return t;
}

h5::Handle junction_type() {
  h5::Handle str(H5Tcopy(H5T_C_S1));
  H5Tset_size(str, kCompositionSize);
  H5Tset_strpad(str, H5T_STR_NULLTERM);
  h5::Handle t(H5Tcreate(H5T_COMPOUND, sizeof(JunctionRow)));
  H5Tinsert(t, "composition", HOFFSET(JunctionRow, composition), str);
  H5Tinsert(t, "count", HOFFSET(JunctionRow, count), H5T_NATIVE_INT64);
  return t;
}




} // namespace

namespace detail {

void write_network_group(hid_t file, const BoundaryNetwork& net, const std::string& path) {
  const std::size_t ne = net.edges.size();
  if (net.point_offsets.size() != ne + 1 || net.point_y.size() != net.point_x.size() ||
      net.point_offsets.back() != net.point_y.size())
    fail(ErrorKind::internal, path, "write_network: inconsistent network (", ne, " edges, ", net.point_offsets.size(),
         " point offsets, ", net.point_y.size(), " points)");
  h5::Handle g = h5::require_group(file, "/network", path);

  std::vector<NodeRow> nodes(net.nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const NetworkNode& v = net.nodes[i];
    nodes[i] = NodeRow{v.id, v.y, v.x, static_cast<std::int8_t>(v.kind), v.degree, v.field_edges};
  }
  {
    h5::Handle t = node_type();
    write_compound(g, "nodes", t, nodes, path);
    h5::Handle d = h5::open_dataset(g, "nodes", path);
    h5::write_string_attr(d, "kind_names", kKindNames);
    h5::write_string_attr(d, "units", "y, x: scan pixels (pixel centres at integers, corners at half-integers); "
                                      "kind: index into kind_names; field_edges: bits top 1, bottom 2, left 4, right 8");
  }
  std::vector<EdgeRow> edges(ne);
  for (std::size_t i = 0; i < ne; ++i) {
    const NetworkEdge& e = net.edges[i];
    edges[i] = EdgeRow{e.id, e.node_a, e.node_b, e.domain_a, e.domain_b, e.phase_a, e.phase_b, e.length_px, e.length_nm,
                       e.disorientation_deg, e.axis[0], e.axis[1], e.axis[2], static_cast<std::int8_t>(e.type),
                       e.csl_sigma};
  }
  {
    h5::Handle t = edge_type();
    write_compound(g, "edges", t, edges, path);
    h5::Handle d = h5::open_dataset(g, "edges", path);
    h5::write_string_attr(d, "type_names", kTypeNames);
    h5::write_string_attr(d, "units", "length_px: pixel edges; length_nm: nm (0 = scan step unknown); "
                                      "disorientation_deg: deg (NaN = unlabelled or unknown); axis: crystal frame; "
                                      "type: index into type_names; domain -1 = unlabelled region");
  }
  const std::vector<std::int64_t> dp{static_cast<std::int64_t>(net.point_y.size())};
  h5::write_uint64s(g, "point_offsets", {static_cast<std::int64_t>(ne + 1)}, net.point_offsets.data());
  h5::write_floats(g, "point_y", dp, net.point_y.data());
  h5::write_floats(g, "point_x", dp, net.point_x.data());
  std::vector<JunctionRow> junctions(net.junctions.size());
  for (std::size_t i = 0; i < junctions.size(); ++i) {
    const JunctionCount& j = net.junctions[i];
    if (j.composition.size() >= kCompositionSize)
      fail(ErrorKind::internal, path, "write_network: junction composition '", j.composition, "' is too long");
    std::memset(junctions[i].composition, 0, kCompositionSize);
    std::memcpy(junctions[i].composition, j.composition.data(), j.composition.size());
    junctions[i].count = j.count;
  }
  {
    h5::Handle t = junction_type();
    write_compound(g, "junctions", t, junctions, path);
  }
  h5::write_ints_attr(g, "scan_shape", {net.scan.y, net.scan.x});
  h5::write_double_attr(g, "scan_step_nm", net.scan_step_nm);
  h5::write_int_attr(g, "n_nodes", static_cast<std::int64_t>(net.nodes.size()));
  h5::write_int_attr(g, "n_edges", static_cast<std::int64_t>(ne));
  h5::write_int_attr(g, "n_junctions", net.count_nodes(NodeKind::junction));
  h5::write_int_attr(g, "n_field_edge", net.count_nodes(NodeKind::field_edge));
  h5::write_int_attr(g, "n_loops", net.count_nodes(NodeKind::loop));
  h5::write_ints_attr(g, "n_edges_by_type", {net.n_edges_by_type.begin(), net.n_edges_by_type.end()});
  h5::write_doubles_attr(g, "length_px_by_type", {net.length_px_by_type.begin(), net.length_px_by_type.end()});
  h5::write_string_attr(g, "type_names", kTypeNames);
  h5::write_string_attr(g, "kind_names", kKindNames);
  h5::write_string_attr(g, "units", "lengths in pixel edges (px) or nm; positions in scan pixels; "
                                    "by_type arrays indexed by type_names");
}

} // namespace detail

BoundaryNetwork read_network(const std::string& path) {
  h5::Handle f = detail::open_results_file(path);
  if (H5Lexists(f, "network", H5P_DEFAULT) <= 0)
    fail(ErrorKind::bad_input, path, "no /network; run 'domainmap network ", path, "' first");
  h5::Handle g = h5::open_group(f, "/network", path);
  const std::string where = path + ":/network";
  BoundaryNetwork net;
  const std::vector<double> shape = h5::read_numbers_attr(g, "scan_shape");
  if (shape.size() != 2) fail(ErrorKind::bad_input, where, "missing attribute scan_shape");
  net.scan = {static_cast<std::int64_t>(shape[0]), static_cast<std::int64_t>(shape[1])};
  net.scan_step_nm = h5::read_number_attr(g, "scan_step_nm").value_or(0);

  h5::Handle nt = node_type(), et = edge_type(), jt = junction_type();
  const std::vector<NodeRow> nodes = read_compound<NodeRow>(g, "nodes", nt, where);
  const std::vector<EdgeRow> edges = read_compound<EdgeRow>(g, "edges", et, where);
  const std::vector<JunctionRow> junctions = read_compound<JunctionRow>(g, "junctions", jt, where);
  const std::int64_t nn = static_cast<std::int64_t>(nodes.size());
  net.nodes.resize(nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const NodeRow& r = nodes[i];
    if (r.id != static_cast<std::int64_t>(i))
      fail(ErrorKind::bad_input, where + "/nodes", "row ", i, " has id ", r.id, "; ids must be 0 .. n-1 in order");
    if (r.kind < 0 || r.kind > 2) fail(ErrorKind::bad_input, where + "/nodes", "row ", i, " has kind ", int(r.kind));
    net.nodes[i] = NetworkNode{r.id, r.y, r.x, static_cast<NodeKind>(r.kind), r.degree, r.field_edges};
  }
  net.edges.resize(edges.size());
  for (std::size_t i = 0; i < edges.size(); ++i) {
    const EdgeRow& r = edges[i];
    if (r.id != static_cast<std::int64_t>(i))
      fail(ErrorKind::bad_input, where + "/edges", "row ", i, " has id ", r.id, "; ids must be 0 .. n-1 in order");
    if (r.node_a < 0 || r.node_a >= nn || r.node_b < 0 || r.node_b >= nn)
      fail(ErrorKind::bad_input, where + "/edges", "row ", i, " joins nodes ", r.node_a, " and ", r.node_b, " of ", nn);
    if (r.type < 0 || r.type >= kBoundaryTypeCount)
      fail(ErrorKind::bad_input, where + "/edges", "row ", i, " has type ", int(r.type));
    NetworkEdge& e = net.edges[i];
    e.id = r.id;
    e.node_a = r.node_a;
    e.node_b = r.node_b;
    e.domain_a = r.domain_a;
    e.domain_b = r.domain_b;
    e.phase_a = r.phase_a;
    e.phase_b = r.phase_b;
    e.length_px = r.length_px;
    e.length_nm = r.length_nm;
    e.disorientation_deg = r.disorientation_deg;
    e.axis = {r.axis_x, r.axis_y, r.axis_z};
    e.type = static_cast<BoundaryType>(r.type);
    e.csl_sigma = r.csl_sigma;
  }
  for (const JunctionRow& r : junctions)
    net.junctions.push_back(JunctionCount{std::string(r.composition, strnlen(r.composition, kCompositionSize)), r.count});

  for (const char* name : {"point_offsets", "point_y", "point_x"})
    if (H5Lexists(g, name, H5P_DEFAULT) <= 0) fail(ErrorKind::bad_input, where, "missing dataset ", name);
  {
    h5::Handle d = h5::open_dataset(g, "point_offsets", where);
    const std::vector<std::int64_t> off = h5::read_ints(d, where + "/point_offsets");
    net.point_offsets.assign(off.begin(), off.end());
    h5::Handle py = h5::open_dataset(g, "point_y", where);
    net.point_y = h5::read_floats(py, where + "/point_y");
    h5::Handle px = h5::open_dataset(g, "point_x", where);
    net.point_x = h5::read_floats(px, where + "/point_x");
  }
  if (net.point_offsets.size() != net.edges.size() + 1)
    fail(ErrorKind::bad_input, where + "/point_offsets", net.point_offsets.size(), " values for ", net.edges.size(),
         " edges (expected edges + 1)");
  if (net.point_y.size() != net.point_x.size())
    fail(ErrorKind::bad_input, where + "/point_x", net.point_x.size(), " values but /network/point_y has ",
         net.point_y.size());
  for (std::size_t e = 0; e < net.edges.size(); ++e)
    if (net.point_offsets[e] > net.point_offsets[e + 1])
      fail(ErrorKind::bad_input, where + "/point_offsets", "decreases at edge ", e);
  if (net.point_offsets.front() != 0 || net.point_offsets.back() != net.point_y.size())
    fail(ErrorKind::bad_input, where + "/point_offsets", "runs from ", net.point_offsets.front(), " to ",
         net.point_offsets.back(), " but there are ", net.point_y.size(), " points");

  const std::vector<double> counts = h5::read_numbers_attr(g, "n_edges_by_type");
  const std::vector<double> lengths = h5::read_numbers_attr(g, "length_px_by_type");
  if (counts.size() == kBoundaryTypeCount && lengths.size() == kBoundaryTypeCount) {
    for (int t = 0; t < kBoundaryTypeCount; ++t) {
      net.n_edges_by_type[t] = static_cast<std::int64_t>(counts[t]);
      net.length_px_by_type[t] = lengths[t];
    }
  } else {
    for (const NetworkEdge& e : net.edges) {
      ++net.n_edges_by_type[static_cast<int>(e.type)];
      net.length_px_by_type[static_cast<int>(e.type)] += static_cast<double>(e.length_px);
    }
  }
  return net;
}

} // namespace domainmap
