// lib/network/export.cpp: the boundary network as GraphML, JSON node-link and CSV tables
// (network.hpp). Every file is built in memory, written to a temporary name beside the target
// and renamed when complete.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>

#include "domainmap/error.hpp"
#include "domainmap/network.hpp"
#include "domainmap/write.hpp"

namespace domainmap {

namespace {

// Shortest text that reads back as the same double; `nan` for NaN (and +-inf).
void put_number(std::string& s, double v, const char* nan) {
  if (!std::isfinite(v)) {
    s += std::isnan(v) ? nan : v > 0 ? "inf" : "-inf";
    return;
  }
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  s.append(buf, r.ptr);
}
void put_int(std::string& s, std::int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  s.append(buf, r.ptr);
}

// Writes `text` to a temporary name beside `path` and returns that name (not yet renamed).
std::string write_temporary(const std::string& path, const std::string& text) {
  const std::string tmp = temporary_name_for(path);
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) fail(ErrorKind::io, path, "cannot create the file (is the folder writable?)");
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (std::fclose(f) != 0 || !ok) {
    discard_temporary(tmp);
    fail(ErrorKind::io, path, "cannot write the file (disk full?)");
  }
  return tmp;
}

void write_file(const std::string& path, const std::string& text) { commit_temporary(write_temporary(path, text), path); }

// Polyline of edge e as "y,x y,x ..." (GraphML) or [[y,x],...] (JSON).
void put_points(std::string& s, const BoundaryNetwork& net, std::size_t e, bool json) {
  if (e + 1 >= net.point_offsets.size()) {
    s += json ? "[]" : "";
    return;
  }
  const std::uint64_t b = net.point_offsets[e], end = net.point_offsets[e + 1];
  if (json) s += '[';
  for (std::uint64_t j = b; j < end; ++j) {
    if (j > b) s += json ? "," : " ";
    if (json) s += '[';
    put_number(s, net.point_y[j], "null");
    s += ',';
    put_number(s, net.point_x[j], "null");
    if (json) s += ']';
  }
  if (json) s += ']';
}

struct KindCounts {
  std::int64_t junction = 0, field_edge = 0, loop = 0;
};
KindCounts kind_counts(const BoundaryNetwork& net) {
  return {net.count_nodes(NodeKind::junction), net.count_nodes(NodeKind::field_edge), net.count_nodes(NodeKind::loop)};
}

} // namespace

void write_graphml(const std::string& path, const BoundaryNetwork& net) {
  std::string s;
  s.reserve(512 * net.edges.size() + 160 * net.nodes.size() + 4096);
  s += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
       "<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\" "
       "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
       "xsi:schemaLocation=\"http://graphml.graphdrawing.org/xmlns "
       "http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd\">\n";
  struct Key {
    const char* id;
    const char* for_;
    const char* name;
    const char* type;
  };
  static const Key keys[] = {
      {"g_scan_y", "graph", "scan_y", "long"},          {"g_scan_x", "graph", "scan_x", "long"},
      {"g_step", "graph", "scan_step_nm", "double"},     {"g_nodes", "graph", "n_nodes", "long"},
      {"g_edges", "graph", "n_edges", "long"},           {"g_junctions", "graph", "n_junctions", "long"},
      {"g_field_edge", "graph", "n_field_edge", "long"}, {"g_loops", "graph", "n_loops", "long"},
      {"v_y", "node", "y", "double"},                    {"v_x", "node", "x", "double"},
      {"v_kind", "node", "kind", "string"},              {"v_degree", "node", "degree", "int"},
      {"v_field_edges", "node", "field_edges", "int"},   {"e_domain_a", "edge", "domain_a", "int"},
      {"e_domain_b", "edge", "domain_b", "int"},         {"e_phase_a", "edge", "phase_a", "int"},
      {"e_phase_b", "edge", "phase_b", "int"},           {"e_length_px", "edge", "length_px", "long"},
      {"e_length_nm", "edge", "length_nm", "double"},    {"e_dis", "edge", "disorientation_deg", "double"},
      {"e_axis_x", "edge", "axis_x", "double"},          {"e_axis_y", "edge", "axis_y", "double"},
      {"e_axis_z", "edge", "axis_z", "double"},          {"e_type", "edge", "type", "string"},
      {"e_sigma", "edge", "csl_sigma", "int"},           {"e_points", "edge", "points", "string"},
  };
  for (const Key& k : keys) {
    s += "  <key id=\"";
    s += k.id;
    s += "\" for=\"";
    s += k.for_;
    s += "\" attr.name=\"";
    s += k.name;
    s += "\" attr.type=\"";
    s += k.type;
    s += "\"/>\n";
  }
  const auto data = [&](const char* key) {
    s += "<data key=\"";
    s += key;
    s += "\">";
  };
  const auto data_int = [&](const char* key, std::int64_t v) {
    data(key);
    put_int(s, v);
    s += "</data>";
  };
  const auto data_num = [&](const char* key, double v) {
    data(key);
    put_number(s, v, "NaN");
    s += "</data>";
  };
  const auto data_str = [&](const char* key, const char* v) {  // names only: nothing to escape
    data(key);
    s += v;
    s += "</data>";
  };
  s += "  <graph id=\"boundary_network\" edgedefault=\"undirected\">\n    ";
  const KindCounts kc = kind_counts(net);
  data_int("g_scan_y", net.scan.y);
  data_int("g_scan_x", net.scan.x);
  data_num("g_step", net.scan_step_nm);
  data_int("g_nodes", static_cast<std::int64_t>(net.nodes.size()));
  data_int("g_edges", static_cast<std::int64_t>(net.edges.size()));
  data_int("g_junctions", kc.junction);
  data_int("g_field_edge", kc.field_edge);
  data_int("g_loops", kc.loop);
  s += '\n';
  for (const NetworkNode& v : net.nodes) {
    s += "    <node id=\"";
    put_int(s, v.id);
    s += "\">";
    data_num("v_y", v.y);
    data_num("v_x", v.x);
    data_str("v_kind", node_kind_name(v.kind));
    data_int("v_degree", v.degree);
    data_int("v_field_edges", v.field_edges);
    s += "</node>\n";
  }
  for (std::size_t i = 0; i < net.edges.size(); ++i) {
    const NetworkEdge& e = net.edges[i];
    s += "    <edge id=\"";
    put_int(s, e.id);
    s += "\" source=\"";
    put_int(s, e.node_a);
    s += "\" target=\"";
    put_int(s, e.node_b);
    s += "\">";
    data_int("e_domain_a", e.domain_a);
    data_int("e_domain_b", e.domain_b);
    data_int("e_phase_a", e.phase_a);
    data_int("e_phase_b", e.phase_b);
    data_int("e_length_px", e.length_px);
    data_num("e_length_nm", e.length_nm);
    data_num("e_dis", e.disorientation_deg);
    data_num("e_axis_x", e.axis[0]);
    data_num("e_axis_y", e.axis[1]);
    data_num("e_axis_z", e.axis[2]);
    data_str("e_type", boundary_type_name(e.type));
    data_int("e_sigma", e.csl_sigma);
    data("e_points");
    put_points(s, net, i, false);
    s += "</data></edge>\n";
  }
  s += "  </graph>\n</graphml>\n";
  write_file(path, s);
}

void write_network_json(const std::string& path, const BoundaryNetwork& net) {
  std::string s;
  s.reserve(400 * net.edges.size() + 120 * net.nodes.size() + 1024);
  const KindCounts kc = kind_counts(net);
  s += "{\"directed\": false, \"multigraph\": true, \"graph\": {\"scan_y\": ";
  put_int(s, net.scan.y);
  s += ", \"scan_x\": ";
  put_int(s, net.scan.x);
  s += ", \"scan_step_nm\": ";
  put_number(s, net.scan_step_nm, "null");
  s += ", \"n_nodes\": ";
  put_int(s, static_cast<std::int64_t>(net.nodes.size()));
  s += ", \"n_edges\": ";
  put_int(s, static_cast<std::int64_t>(net.edges.size()));
  s += ", \"n_junctions\": ";
  put_int(s, kc.junction);
  s += ", \"n_field_edge\": ";
  put_int(s, kc.field_edge);
  s += ", \"n_loops\": ";
  put_int(s, kc.loop);
  s += ", \"junctions\": {";
  for (std::size_t j = 0; j < net.junctions.size(); ++j) {
    if (j) s += ", ";
    s += '"' + net.junctions[j].composition + "\": ";  // type names and '+': nothing to escape
    put_int(s, net.junctions[j].count);
  }
  s += "}},\n\"nodes\": [";
  for (std::size_t i = 0; i < net.nodes.size(); ++i) {
    const NetworkNode& v = net.nodes[i];
    s += i ? ",\n  {\"id\": " : "\n  {\"id\": ";
    put_int(s, v.id);
    s += ", \"y\": ";
    put_number(s, v.y, "null");
    s += ", \"x\": ";
    put_number(s, v.x, "null");
    s += ", \"kind\": \"";
    s += node_kind_name(v.kind);
    s += "\", \"degree\": ";
    put_int(s, v.degree);
    s += ", \"field_edges\": ";
    put_int(s, v.field_edges);
    s += '}';
  }
  s += "],\n";
  std::string links = "[";
  links.reserve(360 * net.edges.size() + 16);
  for (std::size_t i = 0; i < net.edges.size(); ++i) {
    const NetworkEdge& e = net.edges[i];
    links += i ? ",\n  {\"source\": " : "\n  {\"source\": ";
    put_int(links, e.node_a);
    links += ", \"target\": ";
    put_int(links, e.node_b);
    links += ", \"key\": ";
    put_int(links, e.id);
    links += ", \"id\": ";
    put_int(links, e.id);
    links += ", \"domain_a\": ";
    put_int(links, e.domain_a);
    links += ", \"domain_b\": ";
    put_int(links, e.domain_b);
    links += ", \"phase_a\": ";
    put_int(links, e.phase_a);
    links += ", \"phase_b\": ";
    put_int(links, e.phase_b);
    links += ", \"length_px\": ";
    put_int(links, e.length_px);
    links += ", \"length_nm\": ";
    put_number(links, e.length_nm, "null");
    links += ", \"disorientation_deg\": ";
    put_number(links, e.disorientation_deg, "null");
    links += ", \"axis_x\": ";
    put_number(links, e.axis[0], "null");
    links += ", \"axis_y\": ";
    put_number(links, e.axis[1], "null");
    links += ", \"axis_z\": ";
    put_number(links, e.axis[2], "null");
    links += ", \"type\": \"";
    links += boundary_type_name(e.type);
    links += "\", \"csl_sigma\": ";
    put_int(links, e.csl_sigma);
    links += ", \"points\": ";
    put_points(links, net, i, true);
    links += '}';
  }
  links += "]";
  s += "\"links\": " + links + ",\n\"edges\": " + links + "}\n";
  write_file(path, s);
}

void write_network_csv(const std::string& nodes_path, const std::string& edges_path, const BoundaryNetwork& net) {
  std::string n = "id,y,x,kind,degree,field_edges\n";
  for (const NetworkNode& v : net.nodes) {
    put_int(n, v.id);
    n += ',';
    put_number(n, v.y, "nan");
    n += ',';
    put_number(n, v.x, "nan");
    n += ',';
    n += node_kind_name(v.kind);
    n += ',';
    put_int(n, v.degree);
    n += ',';
    put_int(n, v.field_edges);
    n += '\n';
  }
  std::string e =
      "id,node_a,node_b,domain_a,domain_b,phase_a,phase_b,length_px,length_nm,disorientation_deg,axis_x,axis_y,"
      "axis_z,type,csl_sigma\n";
  for (const NetworkEdge& r : net.edges) {
    for (std::int64_t v : {r.id, r.node_a, r.node_b, static_cast<std::int64_t>(r.domain_a),
                           static_cast<std::int64_t>(r.domain_b), static_cast<std::int64_t>(r.phase_a),
                           static_cast<std::int64_t>(r.phase_b), r.length_px}) {
      put_int(e, v);
      e += ',';
    }
    for (double v : {r.length_nm, r.disorientation_deg, r.axis[0], r.axis[1], r.axis[2]}) {
      put_number(e, v, "nan");
      e += ',';
    }
    e += boundary_type_name(r.type);
    e += ',';
    put_int(e, r.csl_sigma);
    e += '\n';
  }
  // Both tables are complete before either is renamed into place.
  const std::string nodes_tmp = write_temporary(nodes_path, n);
  std::string edges_tmp;
  try {
    edges_tmp = write_temporary(edges_path, e);
  } catch (...) {
    discard_temporary(nodes_tmp);
    throw;
  }
  commit_temporary(nodes_tmp, nodes_path);
  commit_temporary(edges_tmp, edges_path);
}

} // namespace domainmap
