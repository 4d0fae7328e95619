// lib/network/network.cpp: tracing the boundary network of a domain map (network.hpp).
//
// One pass marks, per pixel corner, which of its four pixel edges (up, down, left, right) are
// boundaries (the labels on their two sides differ). Corners with 1, 3 or 4 such edges are nodes
// (field_edge on the border, junction inside); corners with 2 are passed through. A walk from
// every node along each of its not yet visited pixel edges follows the single way on through
// corners of degree 2 until it reaches a node: one edge. What is left unvisited afterwards are
// closed cycles of degree-2 corners (islands); each gets a loop node at its first corner in raster
// order and is walked from there. Every pixel edge is visited once: O(Ry * Rx).
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>

#include "domainmap/error.hpp"
#include "network_impl.hpp"

namespace domainmap {

namespace {

// Direction bits of the pixel edges at a corner, and the order edges leave a node in.
constexpr std::uint8_t kUp = 1, kLeft = 2, kRight = 4, kDown = 8;
constexpr std::uint8_t kDirs[4] = {kUp, kLeft, kRight, kDown};

constexpr std::uint8_t opposite(std::uint8_t d) {
  return d == kUp ? kDown : d == kDown ? kUp : d == kLeft ? kRight : kLeft;
}
constexpr int dir_index(std::uint8_t d) { return d == kUp ? 0 : d == kLeft ? 1 : d == kRight ? 2 : 3; }

// One traced edge before numbering: its end corners, how it left the first, its regions and its
// corners in temporary storage.
struct RawEdge {
  std::int64_t from = 0, to = 0;  // corner indices
  int dir = 0;                    // dir_index of the first step
  std::int32_t region_a = -1, region_b = -1;
  std::int64_t first_point = 0, n_points = 0;
};

bool nan_equal(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

} // namespace

bool NetworkEdge::operator==(const NetworkEdge& o) const {
  return id == o.id && node_a == o.node_a && node_b == o.node_b && domain_a == o.domain_a && domain_b == o.domain_b &&
         phase_a == o.phase_a && phase_b == o.phase_b && length_px == o.length_px && length_nm == o.length_nm &&
         nan_equal(disorientation_deg, o.disorientation_deg) && axis == o.axis && type == o.type &&
         csl_sigma == o.csl_sigma;
}

std::int64_t BoundaryNetwork::count_nodes(NodeKind k) const {
  std::int64_t n = 0;
  for (const NetworkNode& v : nodes) n += v.kind == k;
  return n;
}

BoundaryNetwork build_network(const std::vector<std::int32_t>& labels, Shape2 scan,
                              const std::vector<DomainRecord>& domains, const std::vector<PhaseInfo>& phases,
                              double scan_step_nm, const NetworkParams& p) {
  validate(p);
  if (scan.y < 0 || scan.x < 0) fail(ErrorKind::bad_input, "/domains/labels", "scan shape ", to_string(scan), " is negative");
  const std::int64_t ny = scan.y, nx = scan.x, n = ny * nx;
  if (static_cast<std::int64_t>(labels.size()) != n)
    fail(ErrorKind::bad_input, "/domains/labels", labels.size(), " labels for a ", to_string(scan), " scan (", n,
         " positions)");
  if (!(scan_step_nm >= 0) || !std::isfinite(scan_step_nm))
    fail(ErrorKind::bad_input, "/scan", "scan step ", scan_step_nm, " nm must be >= 0");
  const std::int32_t n_domains = static_cast<std::int32_t>(domains.size());
  for (std::int64_t i = 0; i < n; ++i)
    if (labels[i] < -1 || labels[i] >= n_domains)
      fail(ErrorKind::bad_input, "/domains/labels", "value ", labels[i], " at (", i / std::max<std::int64_t>(nx, 1),
           ", ", i % std::max<std::int64_t>(nx, 1), ") is not -1 or a row of /domains/table (", n_domains, " rows)");
  const network_detail::Classifier classifier(domains, phases, p);

  BoundaryNetwork net;
  net.scan = scan;
  net.scan_step_nm = scan_step_nm;
  net.point_offsets.assign(1, 0);
  if (n == 0) return net;

  // Corner (r, c), r in 0..ny, c in 0..nx, is index r * w + c.
  const std::int64_t w = nx + 1, h = ny + 1;
  std::vector<std::uint8_t> mask(static_cast<std::size_t>(w * h), 0);
  for (std::int64_t r = 0; r < ny; ++r) {
    const std::int32_t* row = labels.data() + r * nx;
    std::uint8_t* m0 = mask.data() + r * w;
    std::uint8_t* m1 = m0 + w;
    for (std::int64_t c = 1; c < nx; ++c)
      if (row[c - 1] != row[c]) {  // vertical pixel edge from corner (r, c) down to (r + 1, c)
        m0[c] |= kDown;
        m1[c] |= kUp;
      }
    if (r == 0) continue;
    const std::int32_t* above = row - nx;
    for (std::int64_t c = 0; c < nx; ++c)
      if (above[c] != row[c]) {  // horizontal pixel edge from corner (r, c) right to (r, c + 1)
        m0[c] |= kRight;
        m0[c + 1] |= kLeft;
      }
  }
  std::vector<std::uint8_t> rem = mask;  // pixel edges not yet walked
  std::vector<std::uint8_t> is_node(mask.size(), 0);
  for (std::size_t k = 0; k < mask.size(); ++k) {
    const int deg = std::popcount(mask[k]);
    is_node[k] = deg != 0 && deg != 2;
  }

  const auto pixel_label = [&](std::int64_t r, std::int64_t c) { return labels[static_cast<std::size_t>(r * nx + c)]; };
  std::vector<RawEdge> raw;
  std::vector<std::int64_t> corners;  // the corners of every raw edge, in walking order

  // Walks from corner `start` along direction `d` to the next node.
  const auto walk = [&](std::int64_t start, std::uint8_t d) {
    RawEdge e;
    e.from = start;
    e.dir = dir_index(d);
    const std::int64_t r = start / w, c = start % w;
    std::int32_t la, lb;  // the pixels on the two sides of the first pixel edge
    switch (d) {
      case kRight: la = pixel_label(r - 1, c); lb = pixel_label(r, c); break;
      case kLeft: la = pixel_label(r - 1, c - 1); lb = pixel_label(r, c - 1); break;
      case kDown: la = pixel_label(r, c - 1); lb = pixel_label(r, c); break;
      default: la = pixel_label(r - 1, c - 1); lb = pixel_label(r - 1, c); break;
    }
    e.region_a = std::min(la, lb);
    e.region_b = std::max(la, lb);
    e.first_point = static_cast<std::int64_t>(corners.size());
    corners.push_back(start);
    std::int64_t k = start;
    for (;;) {
      rem[static_cast<std::size_t>(k)] &= static_cast<std::uint8_t>(~d);
      k += d == kUp ? -w : d == kDown ? w : d == kLeft ? -1 : 1;
      rem[static_cast<std::size_t>(k)] &= static_cast<std::uint8_t>(~opposite(d));
      corners.push_back(k);
      if (is_node[static_cast<std::size_t>(k)]) break;
      d = rem[static_cast<std::size_t>(k)];  // the one pixel edge left at a corner of degree 2
    }
    e.to = k;
    e.n_points = static_cast<std::int64_t>(corners.size()) - e.first_point;
    raw.push_back(e);
  };

  for (std::int64_t k = 0; k < w * h; ++k) {
    if (!is_node[static_cast<std::size_t>(k)]) continue;
    for (std::uint8_t d : kDirs)
      if (rem[static_cast<std::size_t>(k)] & d) walk(k, d);
  }
  // Closed cycles: their first corner in raster order has its pixel edges to the right and down.
  std::vector<std::uint8_t> is_loop(mask.size(), 0);
  for (std::int64_t k = 0; k < w * h; ++k) {
    if (!rem[static_cast<std::size_t>(k)]) continue;
    is_node[static_cast<std::size_t>(k)] = 1;
    is_loop[static_cast<std::size_t>(k)] = 1;
    walk(k, kRight);
  }

  // Nodes in corner raster order.
  std::vector<std::int32_t> node_id(mask.size(), -1);
  for (std::int64_t k = 0; k < w * h; ++k) {
    if (!is_node[static_cast<std::size_t>(k)]) continue;
    const std::int64_t r = k / w, c = k % w;
    NetworkNode v;
    v.id = static_cast<std::int64_t>(net.nodes.size());
    v.y = static_cast<double>(r) - 0.5;
    v.x = static_cast<double>(c) - 0.5;
    const bool border = r == 0 || r == ny || c == 0 || c == nx;
    v.kind = is_loop[static_cast<std::size_t>(k)] ? NodeKind::loop : border ? NodeKind::field_edge : NodeKind::junction;
    v.degree = is_loop[static_cast<std::size_t>(k)] ? 2 : std::popcount(mask[static_cast<std::size_t>(k)]);
    v.field_edges = static_cast<std::uint8_t>((r == 0 ? edge_top : 0) | (r == ny ? edge_bottom : 0) |
                                              (c == 0 ? edge_left : 0) | (c == nx ? edge_right : 0));
    node_id[static_cast<std::size_t>(k)] = static_cast<std::int32_t>(v.id);
    net.nodes.push_back(v);
  }

  // Edges by (first node, leaving direction).
  std::vector<std::size_t> order(raw.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const std::int32_t na = node_id[static_cast<std::size_t>(raw[a].from)];
    const std::int32_t nb = node_id[static_cast<std::size_t>(raw[b].from)];
    return na != nb ? na < nb : raw[a].dir < raw[b].dir;
  });
  net.edges.reserve(raw.size());
  net.point_offsets.reserve(raw.size() + 1);
  net.point_y.reserve(corners.size());
  net.point_x.reserve(corners.size());
  // Incident edge types per node, for the junction compositions.
  std::vector<std::array<std::int8_t, 4>> ends(net.nodes.size());
  std::vector<std::uint8_t> n_ends(net.nodes.size(), 0);
  const auto add_end = [&](std::int64_t node, BoundaryType t) {
    const std::size_t v = static_cast<std::size_t>(node);
    if (n_ends[v] < 4) ends[v][n_ends[v]++] = static_cast<std::int8_t>(t);
  };
  for (std::size_t i : order) {
    const RawEdge& r = raw[i];
    NetworkEdge e;
    e.id = static_cast<std::int64_t>(net.edges.size());
    e.node_a = node_id[static_cast<std::size_t>(r.from)];
    e.node_b = node_id[static_cast<std::size_t>(r.to)];
    e.domain_a = r.region_a;
    e.domain_b = r.region_b;
    e.phase_a = classifier.phase_of(r.region_a);
    e.phase_b = classifier.phase_of(r.region_b);
    e.length_px = r.n_points - 1;
    e.length_nm = scan_step_nm > 0 ? static_cast<double>(e.length_px) * scan_step_nm : 0.0;
    const network_detail::EdgeClass c = classifier.classify(r.region_a, r.region_b);
    e.disorientation_deg = c.angle_deg;
    e.axis = c.axis;
    e.type = c.type;
    e.csl_sigma = c.sigma;
    for (std::int64_t j = r.first_point; j < r.first_point + r.n_points; ++j) {
      const std::int64_t k = corners[static_cast<std::size_t>(j)];
      net.point_y.push_back(static_cast<float>(k / w) - 0.5f);
      net.point_x.push_back(static_cast<float>(k % w) - 0.5f);
    }
    net.point_offsets.push_back(net.point_y.size());
    const int t = static_cast<int>(e.type);
    ++net.n_edges_by_type[t];
    net.length_px_by_type[t] += static_cast<double>(e.length_px);
    add_end(e.node_a, e.type);
    add_end(e.node_b, e.type);
    net.edges.push_back(e);
  }

  // Junction compositions.
  std::map<std::string, std::int64_t> comp;
  for (const NetworkNode& v : net.nodes) {
    if (v.kind != NodeKind::junction) continue;
    const std::size_t k = static_cast<std::size_t>(v.id);
    std::array<std::int8_t, 4> t = ends[k];
    for (int a = 1; a < n_ends[k]; ++a)  // insertion sort of at most four types
      for (int b = a; b > 0 && t[b - 1] > t[b]; --b) std::swap(t[b - 1], t[b]);
    std::string name;
    for (int j = 0; j < n_ends[k]; ++j) {
      if (j) name += '+';
      name += boundary_type_name(static_cast<BoundaryType>(t[j]));
    }
    ++comp[name];
  }
  for (const auto& [name, count] : comp) net.junctions.push_back(JunctionCount{name, count});
  return net;
}

BoundaryGraph to_boundary_graph(const BoundaryNetwork& net) {
  BoundaryGraph g;
  g.nodes.reserve(net.nodes.size());
  for (const NetworkNode& v : net.nodes) g.nodes.push_back(BoundaryNode{v.id, v.y, v.x, v.field_edges});
  g.edges.reserve(net.edges.size());
  for (const NetworkEdge& e : net.edges)
    g.edges.push_back(BoundaryEdge{e.node_a, e.node_b, static_cast<double>(e.length_px), static_cast<std::int32_t>(e.type)});
  return g;
}

} // namespace domainmap
