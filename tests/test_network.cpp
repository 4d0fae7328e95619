// tests/test_network.cpp: the boundary network (network.hpp): exact answers on hand-made label
// maps (straight split, T junction, islands, checkerboard corner, unlabelled patches), invariants
// on random Voronoi maps against brute force, boundary types (2D C6, cubic CSL with the Brandon
// criterion, phase, unlabelled), the /network round trip and its readers' errors, the GraphML,
// JSON and CSV exports (parsed by python3 / networkx when present) and the `network` verb.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <set>
#include <sstream>

#include "core/h5util.hpp"
#include "domainmap/error.hpp"
#include "domainmap/network.hpp"
#include "domainmap/orientation.hpp"
#include "domainmap/results.hpp"
#include "domainmap/segment.hpp"
#include "testing.hpp"

using namespace domainmap;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// K domains of phase 0 with 2D angles (all 0 unless given).
std::vector<DomainRecord> table_2d(int k, std::vector<double> angles = {}) {
  std::vector<DomainRecord> t(static_cast<std::size_t>(k));
  for (int i = 0; i < k; ++i) {
    t[i].id = i;
    t[i].phase = 0;
    t[i].mean_angle_deg = i < static_cast<int>(angles.size()) ? angles[i] : 0.0;
    t[i].n_oriented = 1;
  }
  return t;
}

DomainRecord domain_3d(int id, int phase, const Eigen::Quaterniond& q) {
  DomainRecord d;
  d.id = id;
  d.phase = phase;
  d.mean_angle_deg = kNaN;
  d.mean_quaternion = {q.w(), q.x(), q.y(), q.z()};
  d.n_oriented = 10;
  return d;
}

const std::vector<PhaseInfo> kC6 = {PhaseInfo{"graphene", "C6"}};

// Labels from rows of characters: '.' = -1, '0'..'9' and 'a'.. = labels.
std::vector<std::int32_t> parse_map(const std::vector<std::string>& rows, Shape2& scan) {
  scan = {static_cast<std::int64_t>(rows.size()), static_cast<std::int64_t>(rows.at(0).size())};
  std::vector<std::int32_t> l;
  for (const std::string& r : rows)
    for (char c : r) l.push_back(c == '.' ? -1 : c <= '9' ? c - '0' : 10 + c - 'a');
  return l;
}

int max_label(const std::vector<std::int32_t>& l) { return *std::max_element(l.begin(), l.end()); }

BoundaryNetwork net_of(const std::vector<std::string>& rows, double step = 0) {
  Shape2 scan;
  const auto l = parse_map(rows, scan);
  return build_network(l, scan, table_2d(max_label(l) + 1), kC6, step, NetworkParams{});
}

// Every invariant the contract promises, checked against the labels by brute force.
void check_invariants(const BoundaryNetwork& net, const std::vector<std::int32_t>& labels, Shape2 scan) {
  const std::int64_t ny = scan.y, nx = scan.x;
  auto lab = [&](std::int64_t r, std::int64_t c) { return labels[static_cast<std::size_t>(r * nx + c)]; };
  std::int64_t differing = 0;
  for (std::int64_t r = 0; r < ny; ++r)
    for (std::int64_t c = 0; c < nx; ++c) {
      if (c + 1 < nx) differing += lab(r, c) != lab(r, c + 1);
      if (r + 1 < ny) differing += lab(r, c) != lab(r + 1, c);
    }
  std::int64_t total = 0;
  for (const NetworkEdge& e : net.edges) total += e.length_px;
  CHECK(total == differing);

  // nodes: ids in order, raster order of corners, kinds and field-edge bits
  for (std::size_t i = 0; i < net.nodes.size(); ++i) {
    const NetworkNode& v = net.nodes[i];
    REQUIRE(v.id == static_cast<std::int64_t>(i));
    const double cy = v.y + 0.5, cx = v.x + 0.5;
    REQUIRE(cy == std::floor(cy));
    REQUIRE(cx == std::floor(cx));
    if (i > 0) {
      const NetworkNode& u = net.nodes[i - 1];
      CHECK((u.y < v.y || (u.y == v.y && u.x < v.x)));
    }
    const bool border = cy == 0 || cy == ny || cx == 0 || cx == nx;
    const std::uint8_t bits = static_cast<std::uint8_t>((cy == 0 ? edge_top : 0) | (cy == ny ? edge_bottom : 0) |
                                                        (cx == 0 ? edge_left : 0) | (cx == nx ? edge_right : 0));
    CHECK(v.field_edges == bits);
    if (v.kind == NodeKind::field_edge) {
      CHECK(border);
      CHECK(v.degree == 1);
    } else {
      CHECK_FALSE(border);
      CHECK(v.degree == (v.kind == NodeKind::loop ? 2 : v.degree));
      if (v.kind == NodeKind::junction) CHECK(v.degree >= 3);
    }
  }
  // degrees = edge ends
  std::vector<std::int32_t> ends(net.nodes.size(), 0);
  for (const NetworkEdge& e : net.edges) {
    ++ends.at(static_cast<std::size_t>(e.node_a));
    ++ends.at(static_cast<std::size_t>(e.node_b));
  }
  for (std::size_t i = 0; i < net.nodes.size(); ++i) CHECK(net.nodes[i].degree == ends[i]);

  // polylines: contiguous pixel-edge steps from node_a to node_b, each pixel edge between the
  // edge's two regions, every boundary pixel edge in exactly one polyline
  REQUIRE(net.point_offsets.size() == net.edges.size() + 1);
  REQUIRE(net.point_offsets.back() == net.point_y.size());
  REQUIRE(net.point_x.size() == net.point_y.size());
  std::vector<std::uint8_t> hused(static_cast<std::size_t>((ny + 1) * (nx + 1)), 0), vused = hused;
  std::set<std::pair<float, float>> node_at;
  for (const NetworkNode& v : net.nodes) node_at.insert({static_cast<float>(v.y), static_cast<float>(v.x)});
  std::array<std::int64_t, kBoundaryTypeCount> counts{};
  std::array<double, kBoundaryTypeCount> lengths{};
  for (std::size_t k = 0; k < net.edges.size(); ++k) {
    const NetworkEdge& e = net.edges[k];
    CHECK(e.id == static_cast<std::int64_t>(k));
    CHECK(e.node_a <= e.node_b);
    CHECK(e.domain_a < e.domain_b);
    ++counts[static_cast<int>(e.type)];
    lengths[static_cast<int>(e.type)] += static_cast<double>(e.length_px);
    const std::uint64_t b = net.point_offsets[k], end = net.point_offsets[k + 1];
    REQUIRE(end > b + 1);
    CHECK(static_cast<std::int64_t>(end - b - 1) == e.length_px);
    const NetworkNode& na = net.nodes[static_cast<std::size_t>(e.node_a)];
    const NetworkNode& nb = net.nodes[static_cast<std::size_t>(e.node_b)];
    CHECK(net.point_y[b] == na.y);
    CHECK(net.point_x[b] == na.x);
    CHECK(net.point_y[end - 1] == nb.y);
    CHECK(net.point_x[end - 1] == nb.x);
    for (std::uint64_t j = b; j + 1 < end; ++j) {
      const int y0 = static_cast<int>(net.point_y[j] + 0.5f), x0 = static_cast<int>(net.point_x[j] + 0.5f);
      const int y1 = static_cast<int>(net.point_y[j + 1] + 0.5f), x1 = static_cast<int>(net.point_x[j + 1] + 0.5f);
      REQUIRE(std::abs(y1 - y0) + std::abs(x1 - x0) == 1);
      std::int32_t la, lb;
      if (y0 == y1) {  // horizontal pixel edge on corner row y0
        const int c = std::min(x0, x1);
        REQUIRE((y0 > 0 && y0 < ny));
        la = lab(y0 - 1, c);
        lb = lab(y0, c);
        CHECK(hused[static_cast<std::size_t>(y0 * (nx + 1) + c)]++ == 0);
      } else {  // vertical pixel edge on corner column x0
        const int r = std::min(y0, y1);
        REQUIRE((x0 > 0 && x0 < nx));
        la = lab(r, x0 - 1);
        lb = lab(r, x0);
        CHECK(vused[static_cast<std::size_t>(r * (nx + 1) + x0)]++ == 0);
      }
      CHECK(std::min(la, lb) == e.domain_a);
      CHECK(std::max(la, lb) == e.domain_b);
      // inner corners have degree 2: they are no nodes
      if (j > b) CHECK(node_at.count({net.point_y[j], net.point_x[j]}) == 0);
    }
  }
  CHECK(counts == net.n_edges_by_type);
  CHECK(lengths == net.length_px_by_type);
  std::int64_t in_junctions = 0;
  for (const JunctionCount& j : net.junctions) in_junctions += j.count;
  CHECK(in_junctions == net.count_nodes(NodeKind::junction));
  for (std::size_t j = 1; j < net.junctions.size(); ++j) CHECK(net.junctions[j - 1].composition < net.junctions[j].composition);
}

// A Voronoi-like map: one seed per cell of a jittered grid (`cell` px), labels renumbered by first
// position in raster order; seeds with probability p_unlabelled give -1.
std::vector<std::int32_t> voronoi(std::int64_t ny, std::int64_t nx, int cell, unsigned seed, double p_unlabelled,
                                  int* n_domains) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  const int gy = static_cast<int>((ny + cell - 1) / cell), gx = static_cast<int>((nx + cell - 1) / cell);
  std::vector<double> sy(static_cast<std::size_t>(gy * gx)), sx(sy.size());
  std::vector<int> unl(sy.size());
  for (int i = 0; i < gy * gx; ++i) {
    sy[i] = (i / gx + u(rng)) * cell;
    sx[i] = (i % gx + u(rng)) * cell;
    unl[i] = u(rng) < p_unlabelled;
  }
  std::vector<std::int32_t> raw(static_cast<std::size_t>(ny * nx));
  for (std::int64_t r = 0; r < ny; ++r)
    for (std::int64_t c = 0; c < nx; ++c) {
      const int cy = static_cast<int>(r / cell), cx = static_cast<int>(c / cell);
      double best = 1e300;
      int arg = 0;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          const int y = cy + dy, x = cx + dx;
          if (y < 0 || x < 0 || y >= gy || x >= gx) continue;
          const int i = y * gx + x;
          const double d = (sy[i] - r) * (sy[i] - r) + (sx[i] - c) * (sx[i] - c);
          if (d < best) {
            best = d;
            arg = i;
          }
        }
      raw[static_cast<std::size_t>(r * nx + c)] = unl[arg] ? -1 : arg;
    }
  std::vector<std::int32_t> remap(sy.size(), -1);
  int k = 0;
  for (auto& v : raw) {
    if (v < 0) continue;
    if (remap[v] < 0) remap[v] = k++;
    v = remap[v];
  }
  *n_domains = k;
  return raw;
}

// python3 with a module, or empty.
bool python_has(const std::string& module) {
  return std::system(("python3 -c 'import " + module + "' >/dev/null 2>&1").c_str()) == 0;
}

std::string run_python(const std::string& dir, const std::string& script) {
  const std::string path = dir + "/check.py";
  std::ofstream(path) << script;
  std::string out;
  if (FILE* p = popen(("python3 " + path + " 2>&1").c_str(), "r")) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
  }
  return out;
}

// 6 x 8: left half phase 0 (C6) at 0 deg, right top phase 0 at 30 deg, right bottom phase 1 (C4)
// at 10 deg; (5, 0) and (2, 6) not indexed (as tests/test_segment_cli.cpp).
OrientationMap known_map() {
  OrientationMap m;
  m.scan = {6, 8};
  m.phases = {PhaseInfo{"graphene", "C6"}, PhaseInfo{"square", "C4"}};
  for (std::int64_t y = 0; y < 6; ++y)
    for (std::int64_t x = 0; x < 8; ++x) {
      const bool none = (y == 5 && x == 0) || (y == 2 && x == 6);
      const int ph = none ? -1 : x < 4 ? 0 : y < 3 ? 0 : 1;
      const float a = none ? std::numeric_limits<float>::quiet_NaN() : x < 4 ? 0.0f : y < 3 ? 30.0f : 10.0f;
      m.phase.push_back(ph);
      m.angle_deg.push_back(a);
      m.score.push_back(none ? 0.0f : 0.9f);
    }
  return m;
}

} // namespace

TEST_CASE("network: two domains split by a straight line") {
  const BoundaryNetwork net = net_of({"000000", "000000", "111111", "111111"}, 2.5);
  REQUIRE(net.nodes.size() == 2);
  REQUIRE(net.edges.size() == 1);
  CHECK(net.nodes[0].kind == NodeKind::field_edge);
  CHECK(net.nodes[0].y == 1.5);
  CHECK(net.nodes[0].x == -0.5);
  CHECK(net.nodes[0].field_edges == edge_left);
  CHECK(net.nodes[1].x == 5.5);
  CHECK(net.nodes[1].field_edges == edge_right);
  const NetworkEdge& e = net.edges[0];
  CHECK(e.node_a == 0);
  CHECK(e.node_b == 1);
  CHECK(e.length_px == 6);  // Rx
  CHECK(e.length_nm == 15);
  CHECK(e.domain_a == 0);
  CHECK(e.domain_b == 1);
  CHECK(e.disorientation_deg == 0);
  CHECK(e.type == BoundaryType::low_angle);
  CHECK(net.junctions.empty());
  CHECK(net.point_y == std::vector<float>(7, 1.5f));
  Shape2 scan;
  check_invariants(net, parse_map({"000000", "000000", "111111", "111111"}, scan), scan);

  // a vertical split in a one-row field joins the top and the bottom border
  const BoundaryNetwork one = net_of({"0011"});
  REQUIRE(one.edges.size() == 1);
  CHECK(one.edges[0].length_px == 1);
  CHECK(one.nodes[0].field_edges == edge_top);
  CHECK(one.nodes[1].field_edges == edge_bottom);
  // one region, or an empty field: nothing
  CHECK(net_of({"000", "000"}).edges.empty());
  CHECK(build_network({}, Shape2{0, 0}, {}, kC6, 0, NetworkParams{}).nodes.empty());
}

TEST_CASE("network: T junction") {
  const std::vector<std::string> rows = {"000000", "000000", "000000", "111222", "111222", "111222"};
  const BoundaryNetwork net = net_of(rows);
  REQUIRE(net.nodes.size() == 4);
  CHECK(net.nodes[0].kind == NodeKind::field_edge);  // (2.5, -0.5)
  CHECK(net.nodes[1].kind == NodeKind::junction);    // (2.5, 2.5)
  CHECK(net.nodes[1].y == 2.5);
  CHECK(net.nodes[1].x == 2.5);
  CHECK(net.nodes[1].degree == 3);
  CHECK(net.nodes[2].kind == NodeKind::field_edge);  // (2.5, 5.5)
  CHECK(net.nodes[3].kind == NodeKind::field_edge);  // (5.5, 2.5)
  CHECK(net.nodes[3].field_edges == edge_bottom);
  REQUIRE(net.edges.size() == 3);
  // by (node_a, direction): 0 -> 1 (0|1), then from the junction right (0|2), then down (1|2)
  CHECK(net.edges[0].node_a == 0);
  CHECK(net.edges[0].node_b == 1);
  CHECK(net.edges[0].domain_a == 0);
  CHECK(net.edges[0].domain_b == 1);
  CHECK(net.edges[1].node_a == 1);
  CHECK(net.edges[1].node_b == 2);
  CHECK(net.edges[1].domain_b == 2);
  CHECK(net.edges[2].node_b == 3);
  CHECK(net.edges[2].domain_a == 1);
  for (const NetworkEdge& e : net.edges) CHECK(e.length_px == 3);
  REQUIRE(net.junctions.size() == 1);
  CHECK(net.junctions[0].composition == "low_angle+low_angle+low_angle");
  CHECK(net.junctions[0].count == 1);
  Shape2 scan;
  check_invariants(net, parse_map(rows, scan), scan);
}

TEST_CASE("network: islands are loops, a checkerboard corner is a junction of degree 4") {
  const std::vector<std::string> island = {"00000", "00000", "00100", "00000"};
  const BoundaryNetwork a = net_of(island);
  REQUIRE(a.nodes.size() == 1);
  CHECK(a.nodes[0].kind == NodeKind::loop);
  CHECK(a.nodes[0].y == 1.5);
  CHECK(a.nodes[0].x == 1.5);
  CHECK(a.nodes[0].degree == 2);
  REQUIRE(a.edges.size() == 1);
  CHECK(a.edges[0].node_a == 0);
  CHECK(a.edges[0].node_b == 0);
  CHECK(a.edges[0].length_px == 4);
  // clockwise from the first corner: right first
  CHECK(a.point_x[1] == 2.5f);
  CHECK(a.point_y[1] == 1.5f);
  Shape2 scan;
  check_invariants(a, parse_map(island, scan), scan);

  // two islands (one with a hole: a loop inside a loop) and a domain along the border
  const std::vector<std::string> many = {"000000000", "011100220", "010100220", "011100000", "000000033"};
  const BoundaryNetwork b = net_of(many);
  CHECK(b.count_nodes(NodeKind::loop) == 3);
  CHECK(b.count_nodes(NodeKind::field_edge) == 2);
  CHECK(b.edges.size() == 4);
  check_invariants(b, parse_map(many, scan), scan);

  const std::vector<std::string> checker = {"0011", "0011", "1100", "1100"};
  const BoundaryNetwork c = net_of(checker);
  REQUIRE(c.count_nodes(NodeKind::junction) == 1);
  CHECK(c.nodes.size() == 5);
  const NetworkNode& j = c.nodes[2];  // (-0.5, 1.5), (1.5, -0.5), (1.5, 1.5), (1.5, 3.5), (3.5, 1.5)
  CHECK(j.kind == NodeKind::junction);
  CHECK(j.degree == 4);
  CHECK(j.y == 1.5);
  CHECK(j.x == 1.5);
  CHECK(c.edges.size() == 4);
  for (const NetworkEdge& e : c.edges) {
    CHECK(e.length_px == 2);
    CHECK(e.domain_a == 0);
    CHECK(e.domain_b == 1);
  }
  REQUIRE(c.junctions.size() == 1);
  CHECK(c.junctions[0].composition == "low_angle+low_angle+low_angle+low_angle");
  check_invariants(c, parse_map(checker, scan), scan);

  // an edge from a junction back to itself: an island of 2 touching 3 at one corner only
  const std::vector<std::string> bay = {"00000", "02200", "02200", "00031", "00011"};
  const BoundaryNetwork d = net_of(bay);
  check_invariants(d, parse_map(bay, scan), scan);
  int self = 0;
  for (const NetworkEdge& e : d.edges)
    if (e.node_a == e.node_b) {
      ++self;
      CHECK(d.nodes[static_cast<std::size_t>(e.node_a)].kind == NodeKind::junction);
      CHECK(e.domain_a == 0);
      CHECK(e.domain_b == 2);
      CHECK(e.length_px == 8);
    }
  CHECK(self == 1);
  CHECK(d.count_nodes(NodeKind::loop) == 0);
}

TEST_CASE("network: unlabelled patches are regions of their own") {
  const std::vector<std::string> rows = {"000111", "00..11", "00..11", "000111"};
  Shape2 scan;
  const auto l = parse_map(rows, scan);
  std::vector<DomainRecord> t = table_2d(2, {0, 40});
  const BoundaryNetwork net = build_network(l, scan, t, kC6, 0, NetworkParams{});
  check_invariants(net, l, scan);
  int unlabelled = 0;
  for (const NetworkEdge& e : net.edges) {
    if (e.domain_a == -1) {
      ++unlabelled;
      CHECK(e.type == BoundaryType::unlabelled);
      CHECK(e.phase_a == -1);
      CHECK(e.phase_b == 0);
      CHECK(std::isnan(e.disorientation_deg));
      CHECK(e.axis == std::array<double, 3>{0, 0, 0});
    } else {
      CHECK(e.type == BoundaryType::high_angle);  // 0 vs 40 under C6: 20 deg
      CHECK(e.disorientation_deg == doctest::Approx(20));
    }
  }
  CHECK(unlabelled == 2);  // (0|-1) and (1|-1) between the two junctions
  CHECK(net.count_nodes(NodeKind::junction) == 2);
  REQUIRE(net.junctions.size() == 1);
  CHECK(net.junctions[0].composition == "high_angle+unlabelled+unlabelled");
  CHECK(net.junctions[0].count == 2);
}

TEST_CASE("network: random Voronoi maps against brute force, 1024 x 1024 timing") {
  for (unsigned seed = 1; seed <= 6; ++seed) {
    int k = 0;
    const std::int64_t ny = 40 + 7 * seed, nx = 70 - 5 * seed;
    const auto labels = voronoi(ny, nx, 3 + static_cast<int>(seed % 4), seed, seed % 2 ? 0.15 : 0.0, &k);
    std::vector<DomainRecord> t = table_2d(k);
    std::mt19937 rng(seed);
    for (auto& d : t) d.mean_angle_deg = std::uniform_real_distribution<double>(0, 60)(rng);
    const BoundaryNetwork net = build_network(labels, Shape2{ny, nx}, t, kC6, 0, NetworkParams{});
    INFO("seed " << seed);
    CHECK(net.edges.size() > 10);
    check_invariants(net, labels, Shape2{ny, nx});
    // deterministic
    CHECK(build_network(labels, Shape2{ny, nx}, t, kC6, 0, NetworkParams{}) == net);
  }
  // random noise (many junctions, checkerboards and single-pixel islands)
  std::mt19937 rng(7);
  std::vector<std::int32_t> noise(40 * 50);
  for (auto& v : noise) v = static_cast<std::int32_t>(rng() % 4) - 1;
  const BoundaryNetwork nn = build_network(noise, Shape2{40, 50}, table_2d(3), kC6, 0, NetworkParams{});
  check_invariants(nn, noise, Shape2{40, 50});

  int k = 0;
  const auto big = voronoi(1024, 1024, 23, 99, 0.0, &k);
  std::vector<DomainRecord> t = table_2d(k);
  for (auto& d : t) d.mean_angle_deg = std::uniform_real_distribution<double>(0, 60)(rng);
  const auto t0 = std::chrono::steady_clock::now();
  const BoundaryNetwork net = build_network(big, Shape2{1024, 1024}, t, kC6, 1.0, NetworkParams{});
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("build_network 1024 x 1024, " << k << " domains: " << net.nodes.size() << " nodes, " << net.edges.size()
                                        << " edges in " << secs * 1e3 << " ms");
  CHECK(k > 1900);
  std::int64_t total = 0;
  for (const NetworkEdge& e : net.edges) total += e.length_px;
  std::int64_t differing = 0;
  for (std::int64_t r = 0; r < 1024; ++r)
    for (std::int64_t c = 0; c < 1024; ++c) {
      if (c + 1 < 1024) differing += big[r * 1024 + c] != big[r * 1024 + c + 1];
      if (r + 1 < 1024) differing += big[r * 1024 + c] != big[(r + 1) * 1024 + c];
    }
  CHECK(total == differing);

  // the same map as 3D cubic grains with random orientations: classification with the CSL tests
  std::vector<DomainRecord> cubic(static_cast<std::size_t>(k));
  std::uniform_real_distribution<double> u(0, 1);
  for (int i = 0; i < k; ++i) cubic[i] = domain_3d(i, 0, quat_from_uniform(u(rng), u(rng), u(rng)));
  const auto t1 = std::chrono::steady_clock::now();
  const BoundaryNetwork net3 = build_network(big, Shape2{1024, 1024}, cubic, {PhaseInfo{"fcc", "m-3m"}}, 1.0, NetworkParams{});
  const double secs3 = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  MESSAGE("build_network 1024 x 1024, " << k << " m-3m grains: " << net3.edges.size() << " edges ("
                                        << net3.n_edges_by_type[static_cast<int>(BoundaryType::csl)] << " csl) in "
                                        << secs3 * 1e3 << " ms");
  CHECK(net3.edges.size() == net.edges.size());
  // random cubic misorientations fall within Brandon of Sigma 3..11 about 6 % of the time
  const double csl_fraction = static_cast<double>(net3.n_edges_by_type[static_cast<int>(BoundaryType::csl)]) /
                              static_cast<double>(net3.edges.size());
  CHECK(csl_fraction > 0.04);
  CHECK(csl_fraction < 0.08);
  CHECK(net3.n_edges_by_type[static_cast<int>(BoundaryType::high_angle)] > net3.n_edges_by_type[static_cast<int>(BoundaryType::csl)]);
}

TEST_CASE("network: 2D types under C6 and between phases") {
  const std::vector<std::int32_t> split = {0, 1};
  const Shape2 s{1, 2};
  auto one = [&](const std::vector<DomainRecord>& t, const std::vector<PhaseInfo>& ph, NetworkParams p = {}) {
    const BoundaryNetwork net = build_network(split, s, t, ph, 0, p);
    REQUIRE(net.edges.size() == 1);
    return net.edges[0];
  };
  NetworkEdge e = one(table_2d(2, {0, 59}), kC6);
  CHECK(e.disorientation_deg == doctest::Approx(1));
  CHECK(e.type == BoundaryType::low_angle);
  CHECK(e.axis == std::array<double, 3>{0, 0, 1});
  e = one(table_2d(2, {0, 30}), kC6);
  CHECK(e.disorientation_deg == doctest::Approx(30));
  CHECK(e.type == BoundaryType::high_angle);
  NetworkParams wide;
  wide.low_angle_deg = 31;
  CHECK(one(table_2d(2, {0, 30}), kC6, wide).type == BoundaryType::low_angle);
  CHECK(one(table_2d(2, {10, 24.9}), kC6).type == BoundaryType::low_angle);
  CHECK(one(table_2d(2, {10, 25}), kC6).type == BoundaryType::high_angle);  // exactly 15: not below

  // two phases: C6 and C4 angles repeat every 30 deg together (lcm 12)
  std::vector<DomainRecord> t = table_2d(2, {0, 20});
  t[1].phase = 1;
  const std::vector<PhaseInfo> two = {PhaseInfo{"g", "C6"}, PhaseInfo{"s", "C4"}};
  e = one(t, two);
  CHECK(e.type == BoundaryType::phase);
  CHECK(e.phase_a == 0);
  CHECK(e.phase_b == 1);
  CHECK(e.disorientation_deg == doctest::Approx(10));

  // a domain without oriented positions: same phase -> high_angle with NaN angle
  t = table_2d(2, {0, kNaN});
  t[1].n_oriented = 0;
  e = one(t, kC6);
  CHECK(e.type == BoundaryType::high_angle);
  CHECK(std::isnan(e.disorientation_deg));

  // errors name the object
  CHECK(error_of([&] { build_network({0, 2}, s, table_2d(2), kC6, 0, {}); }).find("/domains/labels: value 2 at (0, 1)") == 0);
  CHECK(error_of([&] { build_network({0}, s, table_2d(2), kC6, 0, {}); }).find("/domains/labels: 1 labels") == 0);
  t = table_2d(2);
  t[1].phase = 3;
  CHECK(error_of([&] { build_network(split, s, t, kC6, 0, {}); }).find("/domains/table: domain 1 has phase 3") == 0);
  CHECK(error_of([&] { build_network(split, s, table_2d(2), {PhaseInfo{"x", "Q7"}}, 0, {}); })
            .find("/phases/0: symmetry 'Q7' is unknown") == 0);
  NetworkParams bad;
  bad.max_sigma = 13;
  CHECK(error_of([&] { build_network(split, s, table_2d(2), kC6, 0, bad); }).find("network.max_sigma = 13") == 0);
}

TEST_CASE("network: cubic CSL boundaries with the Brandon criterion") {
  const std::vector<std::int32_t> split = {0, 1};
  const Shape2 s{1, 2};
  const std::vector<PhaseInfo> cubic = {PhaseInfo{"fcc", "m-3m"}, PhaseInfo{"pyrite", "m-3"}, PhaseInfo{"hcp", "6/mmm"}};
  const Eigen::Quaterniond g = quat_from_uniform(0.31, 0.62, 0.17);
  auto edge = [&](const Eigen::Quaterniond& dg, int phase = 0, NetworkParams p = {}) {
    const std::vector<DomainRecord> t = {domain_3d(0, phase, g), domain_3d(1, phase, g * dg)};
    const BoundaryNetwork net = build_network(split, s, t, cubic, 0, p);
    REQUIRE(net.edges.size() == 1);
    return net.edges[0];
  };
  const Eigen::Quaterniond s3 = quat_from_axis_angle(Eigen::Vector3d(1, 1, 1), 60);
  NetworkEdge e = edge(s3);
  CHECK(e.type == BoundaryType::csl);
  CHECK(e.csl_sigma == 3);
  CHECK(e.disorientation_deg == doctest::Approx(60));
  CHECK(e.axis[0] == doctest::Approx(1 / std::sqrt(3.0)));
  CHECK(e.axis[1] == doctest::Approx(1 / std::sqrt(3.0)));
  CHECK(e.axis[2] == doctest::Approx(1 / std::sqrt(3.0)));
  // deviations perpendicular to <111>: the Brandon limit for Sigma 3 is 15 / sqrt 3 = 8.66 deg
  const Eigen::Vector3d perp(1, -1, 0);
  for (double dev : {3.0, 8.0}) {
    e = edge(s3 * quat_from_axis_angle(perp, dev));
    CHECK(e.type == BoundaryType::csl);
    CHECK(e.csl_sigma == 3);
  }
  for (double dev : {9.5, 10.0}) {
    e = edge(s3 * quat_from_axis_angle(perp, dev));
    CHECK(e.type == BoundaryType::high_angle);
    CHECK(e.csl_sigma == 0);
  }
  // a tighter criterion
  NetworkParams tight;
  tight.brandon_deg = 4;  // 2.31 deg for Sigma 3
  CHECK(edge(s3 * quat_from_axis_angle(perp, 3), 0, tight).type == BoundaryType::high_angle);
  // each tabulated Sigma is found as itself, also from a symmetric equivalent, also in m-3
  const RotationGroup& o = rotation_group("432");
  for (const CslMisorientation& c : csl_misorientations()) {
    const Eigen::Quaterniond r = quat_from_axis_angle(Eigen::Vector3d(c.axis[0], c.axis[1], c.axis[2]), c.angle_deg);
    INFO("Sigma " << c.sigma);
    e = edge(o.ops[5] * r * o.ops[11]);
    CHECK(e.type == BoundaryType::csl);
    CHECK(e.csl_sigma == c.sigma);
    CHECK(e.disorientation_deg == doctest::Approx(c.angle_deg));
    CHECK(edge(r, 1).csl_sigma == c.sigma);
    NetworkParams lower;
    lower.max_sigma = c.sigma - 1 >= 3 ? c.sigma - 1 : 3;
    if (c.sigma > 3) CHECK(edge(r, 0, lower).csl_sigma == 0);
  }
  CHECK(csl_misorientations()[1].angle_deg == doctest::Approx(36.8699).epsilon(1e-5));
  CHECK(csl_misorientations()[2].angle_deg == doctest::Approx(38.2132).epsilon(1e-5));
  CHECK(csl_misorientations()[3].angle_deg == doctest::Approx(38.9424).epsilon(1e-5));
  CHECK(csl_misorientations()[4].angle_deg == doctest::Approx(50.4788).epsilon(1e-5));
  // switched off, non-cubic, small angles
  NetworkParams off;
  off.csl = false;
  CHECK(edge(s3, 0, off).type == BoundaryType::high_angle);
  CHECK(edge(s3, 2).type == BoundaryType::high_angle);  // 6/mmm: no CSL
  e = edge(quat_from_axis_angle(Eigen::Vector3d(0, 0, 1), 5));
  CHECK(e.type == BoundaryType::low_angle);
  CHECK(e.disorientation_deg == doctest::Approx(5));
  CHECK(e.axis[2] == doctest::Approx(1));
  // two phases: the two-group disorientation, type phase
  const std::vector<DomainRecord> t = {domain_3d(0, 0, g), domain_3d(1, 2, g * quat_from_axis_angle(Eigen::Vector3d(0, 0, 1), 10))};
  const BoundaryNetwork net = build_network(split, s, t, cubic, 0, NetworkParams{});
  CHECK(net.edges[0].type == BoundaryType::phase);
  CHECK(net.edges[0].disorientation_deg == doctest::Approx(10));
}

TEST_CASE("network: to_boundary_graph feeds boundary_percolation") {
  const std::vector<std::string> rows = {"000111", "000111", "222333", "222333"};
  Shape2 scan;
  const auto l = parse_map(rows, scan);
  const BoundaryNetwork net = build_network(l, scan, table_2d(4, {0, 30, 30, 0}), kC6, 0, NetworkParams{});
  const BoundaryGraph g = to_boundary_graph(net);
  REQUIRE(g.nodes.size() == net.nodes.size());
  REQUIRE(g.edges.size() == net.edges.size());
  CHECK(g.nodes[0].edges == net.nodes[0].field_edges);
  for (std::size_t i = 0; i < g.edges.size(); ++i) {
    CHECK(g.edges[i].class_id == static_cast<int>(net.edges[i].type));
    CHECK(g.edges[i].length == static_cast<double>(net.edges[i].length_px));
  }
  const auto stats = boundary_percolation(g);
  REQUIRE(stats.size() == 1);  // all high_angle (30 deg)
  CHECK(stats[0].class_id == static_cast<int>(BoundaryType::high_angle));
  CHECK(stats[0].n_edges == 4);
  CHECK(stats[0].total_length == 10);
  CHECK(stats[0].spans_x);
  CHECK(stats[0].spans_y);
}

TEST_CASE("network: /network round trip and readers' errors") {
  const std::string dir = testing::scratch("network_results");
  const std::string path = dir + "/r.h5";
  OrientationMap m = known_map();
  m.scan_step_nm = 2;
  testing::write_orientation_results(path, &m);
  RunContext ctx;
  SegmentParams keep_unindexed;  // the map's unindexed patch stays -1 (an unlabelled region)
  keep_unindexed.fill_unindexed = false;
  const Segmentation seg = segment(m, keep_unindexed, ctx);
  {
    ResultsWriter w(path, false);
    w.write_domains(seg);
    w.commit();
  }
  CHECK(error_of([&] { read_network(path); }) == path + ": no /network; run 'domainmap network " + path + "' first");
  const BoundaryNetwork net = build_network(seg.labels, seg.scan, seg.table, m.phases, 2, NetworkParams{});
  REQUIRE(net.edges.size() == 7);
  {
    ResultsWriter w(path, false);
    w.write_network(net);
    w.commit();
  }
  const BoundaryNetwork back = read_network(path);
  CHECK(back == net);
  CHECK(back.junctions == net.junctions);
  CHECK(back.point_y == net.point_y);

  // an empty network round-trips too
  const std::string e_path = dir + "/e.h5";
  testing::write_orientation_results(e_path, &m);
  {
    Segmentation one = seg;
    one.labels.assign(one.labels.size(), 0);
    one.table.resize(1);
    ResultsWriter w(e_path, false);
    w.write_domains(one);
    const BoundaryNetwork empty = build_network(one.labels, one.scan, one.table, m.phases, 2, NetworkParams{});
    CHECK(empty.edges.empty());
    w.write_network(empty);
    w.commit();
    CHECK(read_network(e_path) == empty);
  }

  // damaged files
  const std::string bad = dir + "/bad.h5";
  std::filesystem::copy_file(path, bad);
  {
    h5::Handle f = h5::open_file_rw(bad);
    h5::Handle g = h5::open_group(f, "/network", bad);
    h5::unlink_if_exists(g, "point_x");
  }
  CHECK(error_of([&] { read_network(bad); }) == bad + ":/network: missing dataset point_x");
  {
    h5::Handle f = h5::open_file_rw(bad);
    h5::Handle g = h5::open_group(f, "/network", bad);
    std::vector<float> px(net.point_x.begin(), net.point_x.end());
    h5::write_floats(g, "point_x", {static_cast<std::int64_t>(px.size())}, px.data());
    const std::vector<std::uint64_t> off(3, 0);
    h5::write_uint64s(g, "point_offsets", {3}, off.data());
  }
  const std::string e = error_of([&] { read_network(bad); });
  CHECK(e == bad + ":/network/point_offsets: 3 values for 7 edges (expected edges + 1)");
  {
    h5::Handle f = h5::open_file_rw(bad);
    h5::Handle g = h5::open_group(f, "/network", bad);
    h5::unlink_if_exists(g, "edges");
  }
  CHECK(error_of([&] { read_network(bad); }) == bad + ":/network: missing dataset edges");
}

TEST_CASE("network: GraphML, JSON and CSV exports") {
  const std::string dir = testing::scratch("network_export");
  int k = 0;
  const auto labels = voronoi(30, 40, 6, 3, 0.1, &k);
  std::vector<DomainRecord> t = table_2d(k);
  for (int i = 0; i < k; ++i) t[i].mean_angle_deg = (i * 7) % 60;
  BoundaryNetwork net = build_network(labels, Shape2{30, 40}, t, kC6, 1.5, NetworkParams{});
  REQUIRE(net.edges.size() > 10);
  const std::string gml = dir + "/n.graphml", js = dir + "/n.json", nc = dir + "/nodes.csv", ec = dir + "/edges.csv";
  write_graphml(gml, net);
  write_network_json(js, net);
  write_network_csv(nc, ec, net);
  const std::string g = slurp(gml);
  CHECK(g.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<graphml", 0) == 0);
  CHECK(g.find("</graphml>\n") == g.size() - 11);
  std::size_t n_nodes = 0, n_edges = 0;
  for (std::size_t p = g.find("<node "); p != std::string::npos; p = g.find("<node ", p + 1)) ++n_nodes;
  for (std::size_t p = g.find("<edge "); p != std::string::npos; p = g.find("<edge ", p + 1)) ++n_edges;
  CHECK(n_nodes == net.nodes.size());
  CHECK(n_edges == net.edges.size());
  // every data key is declared
  std::set<std::string> declared, used;
  for (std::size_t p = g.find("<key id=\""); p != std::string::npos; p = g.find("<key id=\"", p + 1))
    declared.insert(g.substr(p + 9, g.find('"', p + 9) - p - 9));
  for (std::size_t p = g.find("<data key=\""); p != std::string::npos; p = g.find("<data key=\"", p + 1))
    used.insert(g.substr(p + 11, g.find('"', p + 11) - p - 11));
  CHECK(declared == used);
  CHECK(testing::count_lines(slurp(nc)) == static_cast<int>(net.nodes.size()) + 1);
  CHECK(testing::count_lines(slurp(ec)) == static_cast<int>(net.edges.size()) + 1);
  CHECK(slurp(ec).rfind("id,node_a,node_b,domain_a,domain_b,phase_a,phase_b,length_px,length_nm,disorientation_deg,", 0) == 0);
  CHECK(slurp(nc).rfind("id,y,x,kind,degree,field_edges\n", 0) == 0);
  int left = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir)) left += f.path().string().find(".part") != std::string::npos;
  CHECK(left == 0);

  std::int64_t total = 0;
  for (const NetworkEdge& e : net.edges) total += e.length_px;
  const std::string expect = std::to_string(net.nodes.size()) + " " + std::to_string(net.edges.size()) + " " +
                             std::to_string(total);
  if (python_has("networkx")) {
    const std::string out = run_python(dir, R"(import json, networkx as nx
from networkx.readwrite import json_graph
G = nx.read_graphml(")" + gml + R"(")
J = json_graph.node_link_graph(json.load(open(")" + js + R"(")))
d = json.load(open(")" + js + R"("))
JL = nx.MultiGraph()
for l in d["links"]: JL.add_edge(l["source"], l["target"], key=l["key"])
assert G.is_multigraph() or G.number_of_edges() == len(d["links"])
assert d["links"] == d["edges"]
assert J.is_multigraph() and not J.is_directed()
assert JL.number_of_edges() == J.number_of_edges()
for (u, v, k, a) in J.edges(keys=True, data=True):
    assert len(a["points"]) == a["length_px"] + 1
    assert a["type"] in ("low_angle", "high_angle", "csl", "phase", "unlabelled")
for (u, v, a) in G.edges(data=True):
    assert isinstance(a["length_px"], int) and isinstance(a["disorientation_deg"], float)
    assert len(a["points"].split(" ")) == a["length_px"] + 1
n = G.nodes["0"]
assert isinstance(n["y"], float) and n["kind"] in ("junction", "field_edge", "loop")
assert J.graph["n_nodes"] == G.graph["n_nodes"] == J.number_of_nodes()
print(G.number_of_nodes(), G.number_of_edges(), sum(a["length_px"] for u, v, a in G.edges(data=True)))
print(J.number_of_nodes(), J.number_of_edges(), sum(a["length_px"] for u, v, a in J.edges(data=True)))
)");
    CHECK(out == expect + "\n" + expect + "\n");
  } else if (python_has("xml.etree.ElementTree")) {
    MESSAGE("networkx is not installed: GraphML and JSON checked with xml.etree and json");
    const std::string out = run_python(dir, R"(import json, xml.etree.ElementTree as ET
ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
r = ET.parse(")" + gml + R"(").getroot()
nodes = r.findall("g:graph/g:node", ns); edges = r.findall("g:graph/g:edge", ns)
d = json.load(open(")" + js + R"("))
assert len(d["nodes"]) == len(nodes) and len(d["links"]) == len(edges)
print(len(nodes), len(edges), sum(l["length_px"] for l in d["links"]))
print(len(nodes), len(edges), sum(l["length_px"] for l in d["links"]))
)");
    CHECK(out == expect + "\n" + expect + "\n");
  } else {
    MESSAGE("python3 is not available: GraphML and JSON checked by counting elements only");
  }
  // igraph, under whichever python has it
  bool igraph_checked = false;
  for (const std::string py : {"python3", "/usr/bin/python3"}) {
    if (std::system((py + " -c 'import igraph' >/dev/null 2>&1").c_str()) != 0) continue;
    const std::string script = dir + "/igraph_check.py";
    std::ofstream(script) << R"(import igraph
g = igraph.Graph.Read_GraphML(")" + gml + R"(")
assert not g.is_directed()
assert set(g.es[0].attributes()) >= {"type", "length_px", "disorientation_deg", "points", "csl_sigma"}
print(g.vcount(), g.ecount(), int(sum(e["length_px"] for e in g.es)))
)";
    std::string out;
    if (FILE* p = popen((py + " " + script + " 2>&1").c_str(), "r")) {
      char buf[4096];
      std::size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
      pclose(p);
    }
    CHECK(out == expect + "\n");
    igraph_checked = true;
    break;
  }
  if (!igraph_checked) MESSAGE("python igraph is not installed: GraphML not loaded in igraph");
}

TEST_CASE("network verb: segment then network, outputs, idempotent, /percolation deleted") {
  const std::string dir = testing::scratch("network_verb");
  const std::string path = dir + "/r.h5";
  const OrientationMap m = known_map();
  testing::write_orientation_results(path, &m);
  const testing::CliResult s = testing::run_cli("segment " + path + " --segment.fill_unindexed false");
  REQUIRE(s.exit_code == 0);
  {
    h5::Handle f = h5::open_file_rw(path);
    h5::Handle g = h5::require_group(f, "/percolation", path);
    h5::write_int_attr(g, "stale", 1);
  }
  const testing::CliResult r = testing::run_cli("network " + path);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.empty());
  CHECK(r.out.rfind("network: 8 nodes (3 junctions, 5 field_edge, 0 loops), 7 edges: low_angle 0, high_angle 1, csl 0, "
                    "phase 3, unlabelled 3\n",
                    0) == 0);
  CHECK_FALSE(results_has(path, "percolation"));
  CHECK(results_has(path, "domains"));
  const BoundaryNetwork net = read_network(path);
  CHECK(net.edges.size() == 7);
  CHECK(net.scan_step_nm == 2);
  std::int64_t total = 0;
  for (const NetworkEdge& e : net.edges) {
    total += e.length_px;
    CHECK(e.length_nm == 2.0 * static_cast<double>(e.length_px));
  }
  CHECK(total == 15);
  bool has_key = false;
  for (const auto& [k, v] : read_config(path)) has_key |= k == "network.low_angle_deg";
  CHECK(has_key);
  for (const char* f : {"/r_network.graphml", "/r_network.json", "/r_nodes.csv", "/r_edges.csv", "/r_boundaries.png"})
    CHECK(std::filesystem::file_size(dir + f) > 0);
  CHECK(testing::count_lines(slurp(dir + "/r_edges.csv")) == 8);
  const std::string png = slurp(dir + "/r_boundaries.png");
  REQUIRE(png.size() > 24);
  auto be32 = [&](std::size_t at) {
    return (static_cast<unsigned char>(png[at]) << 24) | (static_cast<unsigned char>(png[at + 1]) << 16) |
           (static_cast<unsigned char>(png[at + 2]) << 8) | static_cast<unsigned char>(png[at + 3]);
  };
  CHECK(be32(16) == 512);  // width: 8 px enlarged 64 times
  CHECK(be32(20) == 384);
  const std::string json = slurp(dir + "/r_network.json");

  // twice = once
  const testing::CliResult r2 = testing::run_cli("network " + path);
  REQUIRE(r2.exit_code == 0);
  CHECK(read_network(path) == net);
  CHECK(slurp(dir + "/r_network.json") == json);
  // parameters change the result and land in /config
  const testing::CliResult r3 = testing::run_cli("network " + path + " --network.low_angle_deg 40 --quiet");
  REQUIRE(r3.exit_code == 0);
  CHECK(read_network(path).n_edges_by_type[static_cast<int>(BoundaryType::low_angle)] == 1);
  for (const auto& [k, v] : read_config(path))
    if (k == "network.low_angle_deg") CHECK(std::stod(v) == 40);
  int left = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir)) left += f.path().string().find(".part") != std::string::npos;
  CHECK(left == 0);

  const testing::CliResult h = testing::run_cli("network --help");
  CHECK(h.exit_code == 0);
  CHECK(h.out.find("usage: domainmap network") != std::string::npos);
  CHECK(h.out.find("network.brandon_deg") != std::string::npos);
}

TEST_CASE("network verb: no /domains and bad parameters are one-line errors, file untouched") {
  const std::string dir = testing::scratch("network_verb_errors");
  const std::string path = dir + "/r.h5";
  const OrientationMap m = known_map();
  testing::write_orientation_results(path, &m);
  const std::string before = slurp(path);
  const testing::CliResult r = testing::run_cli("network " + path);
  CHECK(r.exit_code == 2);
  CHECK(testing::count_lines(r.err) == 1);
  CHECK(r.err.find(path + ": no /domains; run 'domainmap segment " + path + "' first") != std::string::npos);
  CHECK(slurp(path) == before);
  CHECK_FALSE(std::filesystem::exists(dir + "/r_network.graphml"));
  CHECK_FALSE(std::filesystem::exists(dir + "/r_boundaries.png"));

  REQUIRE(testing::run_cli("segment " + path).exit_code == 0);
  const std::string seg_before = slurp(path);
  for (const std::string& v : {"-3", "abc", "200"}) {
    const testing::CliResult b = testing::run_cli("network " + path + " --network.low_angle_deg " + v);
    CHECK(b.exit_code == 2);
    CHECK(testing::count_lines(b.err) == 1);
    CHECK(b.err.find("network.low_angle_deg") != std::string::npos);
  }
  CHECK(slurp(path) == seg_before);
  const testing::CliResult n = testing::run_cli("network " + dir + "/nope.h5");
  CHECK(n.exit_code == 2);
  CHECK(testing::count_lines(n.err) == 1);
}
