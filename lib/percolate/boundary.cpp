// lib/percolate/boundary.cpp: connectivity of the sub-networks of a boundary network, one per
// boundary class. Whether boundaries of one kind (e.g. low-angle, or a coincidence type) form a
// connected path across the field is the boundary-percolation question of grain-boundary
// engineering (e.g. Schuh, Kumar & King, Acta Mater. 51, 687 (2003)): the components are found
// by union-find over the end nodes of the class's edges.
#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>

#include "domainmap/error.hpp"
#include "domainmap/percolation.hpp"

namespace domainmap {

namespace {

// Minimal union-find over node indices (path halving, union by size).
struct NodeSets {
  std::vector<std::int64_t> parent, size;
  explicit NodeSets(std::size_t n) : parent(n), size(n, 1) {
    for (std::size_t i = 0; i < n; ++i) parent[i] = static_cast<std::int64_t>(i);
  }
  std::int64_t find(std::int64_t i) {
    while (parent[static_cast<std::size_t>(i)] != i) {
      const std::int64_t g = parent[static_cast<std::size_t>(parent[static_cast<std::size_t>(i)])];
      parent[static_cast<std::size_t>(i)] = g;
      i = g;
    }
    return i;
  }
  void unite(std::int64_t a, std::int64_t b) {
    a = find(a);
    b = find(b);
    if (a == b) return;
    if (size[static_cast<std::size_t>(a)] < size[static_cast<std::size_t>(b)]) std::swap(a, b);
    parent[static_cast<std::size_t>(b)] = a;
    size[static_cast<std::size_t>(a)] += size[static_cast<std::size_t>(b)];
  }
};

} // namespace

std::vector<BoundaryClassStats> boundary_percolation(const BoundaryGraph& graph) {
  // node id -> index
  std::unordered_map<std::int64_t, std::int64_t> index;
  index.reserve(graph.nodes.size());
  for (std::size_t i = 0; i < graph.nodes.size(); ++i)
    if (!index.emplace(graph.nodes[i].id, static_cast<std::int64_t>(i)).second)
      fail(ErrorKind::bad_input, "percolate", "boundary network: node id ", graph.nodes[i].id, " appears twice");
  // edges of each class, as (index a, index b, edge number)
  struct E {
    std::int64_t a, b;
    std::size_t edge;
  };
  std::map<std::int32_t, std::vector<E>> by_class;
  for (std::size_t k = 0; k < graph.edges.size(); ++k) {
    const BoundaryEdge& e = graph.edges[k];
    auto ia = index.find(e.node_a), ib = index.find(e.node_b);
    if (ia == index.end() || ib == index.end())
      fail(ErrorKind::bad_input, "percolate", "boundary network: edge ", k, " joins node ",
           ia == index.end() ? e.node_a : e.node_b, ", which is not in the node list");
    if (!std::isfinite(e.length) || e.length < 0)
      fail(ErrorKind::bad_input, "percolate", "boundary network: edge ", k, " has length ", e.length,
           "; lengths must be finite and >= 0");
    if (e.class_id < 0) continue;
    by_class[e.class_id].push_back({ia->second, ib->second, k});
  }

  std::vector<BoundaryClassStats> out;
  NodeSets sets(graph.nodes.size());
  for (const auto& [cls, edges] : by_class) {
    // reset only the nodes this class touches
    for (const E& e : edges)
      for (std::int64_t v : {e.a, e.b}) {
        sets.parent[static_cast<std::size_t>(v)] = v;
        sets.size[static_cast<std::size_t>(v)] = 1;
      }
    for (const E& e : edges) sets.unite(e.a, e.b);
    // per component (keyed by root, numbered by first edge): length, edges, field edges touched
    struct Comp {
      double length = 0;
      std::int64_t n_edges = 0;
      std::uint8_t touches = 0;
    };
    std::unordered_map<std::int64_t, std::size_t> comp_of_root;
    std::vector<Comp> comps;
    BoundaryClassStats s;
    s.class_id = cls;
    for (const E& e : edges) {
      const std::int64_t r = sets.find(e.a);
      auto [it, added] = comp_of_root.emplace(r, comps.size());
      if (added) comps.emplace_back();
      Comp& c = comps[it->second];
      c.length += graph.edges[e.edge].length;
      ++c.n_edges;
      c.touches |= graph.nodes[static_cast<std::size_t>(e.a)].edges | graph.nodes[static_cast<std::size_t>(e.b)].edges;
      s.total_length += graph.edges[e.edge].length;
      ++s.n_edges;
    }
    s.n_components = static_cast<std::int64_t>(comps.size());
    const Comp* best = nullptr;
    for (const Comp& c : comps) {
      if (!best || c.length > best->length) best = &c;
      if ((c.touches & (edge_top | edge_bottom)) == (edge_top | edge_bottom)) s.spans_y = true;
      if ((c.touches & (edge_left | edge_right)) == (edge_left | edge_right)) s.spans_x = true;
    }
    if (best) {
      s.largest_component_length = best->length;
      s.largest_component_edges = best->n_edges;
    }
    s.largest_component_length_fraction = s.total_length > 0 ? s.largest_component_length / s.total_length : 0;
    out.push_back(s);
  }
  return out;
}

} // namespace domainmap
