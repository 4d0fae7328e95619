// tests/test_percolate_cli.cpp: /percolation in the results file (round trip) and the
// `percolate` verb on a results file: every stored table equals an independent recomputation
// (a breadth-first flood fill written here, not the library's union-find), spanning on maps made
// to span or not, the bond sweep row by row, idempotence, and one-line errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "domainmap/error.hpp"
#include "domainmap/network.hpp"
#include "domainmap/percolation.hpp"
#include "domainmap/results.hpp"
#include "domainmap/segment.hpp"
#include "testing.hpp"

using namespace domainmap;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_results(const std::string& path, const OrientationMap& m) {
  ResultsWriter w(path, true);
  ResultsHeader h;
  h.input = "test";
  h.scan = m.scan;
  h.detector = {16, 16};
  h.scan_step_nm = 1.5;
  w.write_header(h);
  w.write_orientation(m);
  w.commit();
}

// ---- the independent recomputation: breadth-first flood fill

struct Fill {
  std::vector<std::int64_t> sizes;  // per cluster, in raster order of first position
  std::vector<bool> spans_x, spans_y;
};

// Clusters of positions i with key[i] == k (key != -1), joined when `joined(i, j)` too.
template <typename Joined>
Fill flood(const std::vector<std::int32_t>& key, std::int32_t k, Shape2 shape, int connectivity, Joined joined) {
  const int ry = static_cast<int>(shape.y), rx = static_cast<int>(shape.x);
  std::vector<char> seen(key.size(), 0);
  Fill f;
  for (int start = 0; start < ry * rx; ++start) {
    if (seen[start] || key[start] != k) continue;
    std::deque<int> queue{start};
    seen[start] = 1;
    std::int64_t size = 0;
    bool top = false, bottom = false, left = false, right = false;
    while (!queue.empty()) {
      const int i = queue.front();
      queue.pop_front();
      ++size;
      const int y = i / rx, x = i % rx;
      top |= y == 0;
      bottom |= y == ry - 1;
      left |= x == 0;
      right |= x == rx - 1;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          if ((dy == 0 && dx == 0) || (connectivity == 4 && dy != 0 && dx != 0)) continue;
          const int yy = y + dy, xx = x + dx;
          if (yy < 0 || xx < 0 || yy >= ry || xx >= rx) continue;
          const int j = yy * rx + xx;
          if (seen[j] || key[j] != k || !joined(i, j)) continue;
          seen[j] = 1;
          queue.push_back(j);
        }
    }
    f.sizes.push_back(size);
    f.spans_x.push_back(left && right);
    f.spans_y.push_back(top && bottom);
  }
  return f;
}

Fill flood(const std::vector<std::int32_t>& key, std::int32_t k, Shape2 shape, int connectivity) {
  return flood(key, k, shape, connectivity, [](int, int) { return true; });
}

// Compares library SiteStats with a flood fill of the same positions.
void check_site(const SiteStats& s, const Fill& f, std::int64_t n_positions) {
  std::int64_t occupied = 0, largest = 0;
  std::map<std::int64_t, std::int64_t> hist;
  bool sx = false, sy = false;
  for (std::size_t c = 0; c < f.sizes.size(); ++c) {
    occupied += f.sizes[c];
    largest = std::max(largest, f.sizes[c]);
    ++hist[f.sizes[c]];
    sx = sx || f.spans_x[c];
    sy = sy || f.spans_y[c];
  }
  std::int64_t s1 = 0, s2 = 0;
  bool skipped = false;
  for (std::int64_t size : f.sizes) {
    if (size == largest && !skipped) {
      skipped = true;
      continue;
    }
    s1 += size;
    s2 += size * size;
  }
  CHECK(s.n_positions == n_positions);
  CHECK(s.n_occupied == occupied);
  CHECK(s.n_clusters == static_cast<std::int64_t>(f.sizes.size()));
  CHECK(s.largest_cluster == largest);
  CHECK(s.area_fraction == static_cast<double>(occupied) / static_cast<double>(n_positions));
  CHECK(s.largest_cluster_fraction == static_cast<double>(largest) / static_cast<double>(n_positions));
  CHECK(s.largest_cluster_fraction_occupied ==
        (occupied ? static_cast<double>(largest) / static_cast<double>(occupied) : 0.0));
  CHECK(s.mean_cluster_size == (s1 ? static_cast<double>(s2) / static_cast<double>(s1) : 0.0));
  CHECK(s.spans_x == sx);
  CHECK(s.spans_y == sy);
  std::vector<ClusterSizeCount> counts;
  for (const auto& [size, count] : hist) counts.push_back({size, count});
  CHECK(s.size_counts == counts);
}

double dis2d(double a, double b, double period) {
  double d = std::fmod(std::abs(a - b), period);
  return std::min(d, period - d);
}

double period_of(const std::string& symmetry) {
  if (symmetry == "C6") return 60;
  if (symmetry == "C4") return 90;
  if (symmetry == "C2") return 180;
  return 360;
}

// Everything the percolate verb stores, recomputed from the file's own /orientation, /domains
// and /network with flood fills, and compared exactly.
void check_against_flood(const std::string& path, int connectivity, const std::vector<double>& directions,
                         double tolerance) {
  const OrientationMap map = read_orientation(path);
  const DomainLabels dl = read_domain_labels(path);
  const std::vector<DomainRecord> table = read_domain_table(path);
  const PercolationReport r = read_percolation(path);
  const std::int64_t n = map.size();
  CHECK(r.scan == map.scan);
  CHECK(r.connectivity == connectivity);
  CHECK(r.class_directions_deg == directions);
  CHECK(r.class_tolerance_deg == tolerance);

  // phases
  std::vector<std::int32_t> present_phases;
  for (std::int32_t ph : map.phase)
    if (ph >= 0 && std::find(present_phases.begin(), present_phases.end(), ph) == present_phases.end())
      present_phases.push_back(ph);
  std::sort(present_phases.begin(), present_phases.end());
  REQUIRE(r.phases.size() == present_phases.size());
  for (std::size_t k = 0; k < present_phases.size(); ++k) {
    CAPTURE(k);
    CHECK(r.phases[k].phase == present_phases[k]);
    check_site(r.phases[k].site, flood(map.phase, present_phases[k], map.scan, connectivity), n);
  }

  // orientation classes: nearest direction within the tolerance, per domain
  if (!directions.empty()) {
    std::vector<std::int32_t> domain_class(table.size(), -1);
    for (std::size_t d = 0; d < table.size(); ++d) {
      const double a = table[d].mean_angle_deg;
      if (!std::isfinite(a)) continue;
      const double period = period_of(map.phases[static_cast<std::size_t>(table[d].phase)].symmetry);
      double best = std::numeric_limits<double>::infinity();
      for (std::size_t c = 0; c < directions.size(); ++c) {
        const double dd = dis2d(a, directions[c], period);
        if (dd <= tolerance && dd < best) {
          best = dd;
          domain_class[d] = static_cast<std::int32_t>(c);
        }
      }
    }
    std::vector<std::int32_t> cls(static_cast<std::size_t>(n), -1);
    for (std::size_t i = 0; i < cls.size(); ++i)
      if (dl.labels[i] >= 0) cls[i] = domain_class[static_cast<std::size_t>(dl.labels[i])];
    std::vector<std::int32_t> present;
    for (std::int32_t c = 0; c < static_cast<std::int32_t>(directions.size()); ++c)
      if (std::find(cls.begin(), cls.end(), c) != cls.end()) present.push_back(c);
    REQUIRE(r.classes.size() == present.size());
    for (std::size_t k = 0; k < present.size(); ++k) {
      CAPTURE(k);
      CHECK(r.classes[k].class_id == present[k]);
      check_site(r.classes[k].site, flood(cls, present[k], map.scan, connectivity), n);
    }
    // class sweeps: the row at threshold t is the flood fill of the positions whose domain lies
    // within t of the direction
    REQUIRE(r.class_sweeps.size() == directions.size());
    for (std::size_t c = 0; c < directions.size(); ++c) {
      CAPTURE(c);
      std::vector<double> ddev(table.size(), std::numeric_limits<double>::quiet_NaN());
      for (std::size_t d = 0; d < table.size(); ++d)
        if (std::isfinite(table[d].mean_angle_deg))
          ddev[d] = dis2d(table[d].mean_angle_deg, directions[c],
                          period_of(map.phases[static_cast<std::size_t>(table[d].phase)].symmetry));
      const SweepTable& cs = r.class_sweeps[c];
      CHECK(cs.kind == SweepKind::site);
      REQUIRE(cs.rows.size() == 101);
      for (std::size_t k = 0; k < cs.rows.size(); k += 10) {
        const SweepRow& row = cs.rows[k];
        CAPTURE(row.threshold);
        std::vector<std::int32_t> occ(static_cast<std::size_t>(n), -1);
        std::int64_t added = 0;
        for (std::size_t i = 0; i < occ.size(); ++i) {
          const std::int32_t l = dl.labels[i];
          if (l >= 0 && ddev[static_cast<std::size_t>(l)] <= row.threshold) {
            occ[i] = 0;
            ++added;
          }
        }
        const Fill f = flood(occ, 0, map.scan, connectivity);
        std::int64_t largest = 0;
        bool sx = false, sy = false;
        for (std::size_t q = 0; q < f.sizes.size(); ++q) {
          largest = std::max(largest, f.sizes[q]);
          sx = sx || f.spans_x[q];
          sy = sy || f.spans_y[q];
        }
        CHECK(row.n_added == added);
        CHECK(row.n_clusters == static_cast<std::int64_t>(f.sizes.size()));
        CHECK(row.largest_cluster == largest);
        CHECK(row.spans_x == sx);
        CHECK(row.spans_y == sy);
      }
    }
  } else {
    CHECK(r.classes.empty());
    CHECK(r.class_sweeps.empty());
  }

  // the disorientation bond sweep: each row is the flood fill over bonds <= its threshold
  std::vector<std::int32_t> valid(static_cast<std::size_t>(n), -1);  // phase of indexed positions with an angle
  for (std::size_t i = 0; i < valid.size(); ++i)
    if (map.phase[i] >= 0 && std::isfinite(map.angle_deg[i])) valid[i] = map.phase[i];
  auto weight = [&](int i, int j) {
    return dis2d(map.angle_deg[static_cast<std::size_t>(i)], map.angle_deg[static_cast<std::size_t>(j)],
                 period_of(map.phases[static_cast<std::size_t>(map.phase[static_cast<std::size_t>(i)])].symmetry));
  };
  std::vector<double> bond_weights;
  const int ry = static_cast<int>(map.scan.y), rx = static_cast<int>(map.scan.x);
  for (int y = 0; y < ry; ++y)
    for (int x = 0; x < rx; ++x)
      for (const auto& [dy, dx] : std::vector<std::pair<int, int>>{{0, 1}, {1, -1}, {1, 0}, {1, 1}}) {
        if (connectivity == 4 && dy && dx) continue;
        const int yy = y + dy, xx = x + dx;
        if (yy >= ry || xx < 0 || xx >= rx) continue;
        const int i = y * rx + x, j = yy * rx + xx;
        if (valid[i] < 0 || valid[i] != valid[j]) continue;
        bond_weights.push_back(weight(i, j));
      }
  std::int64_t n_sites = 0;
  for (std::int32_t v : valid) n_sites += v >= 0;
  const SweepTable& t = r.disorientation_sweep;
  CHECK(t.kind == SweepKind::bond);
  CHECK(t.n_items == static_cast<std::int64_t>(bond_weights.size()));
  CHECK(t.n_sites == n_sites);
  REQUIRE(t.rows.size() == 101);
  CHECK(t.rows.front().threshold == *std::min_element(bond_weights.begin(), bond_weights.end()));
  CHECK(t.rows.back().threshold == *std::max_element(bond_weights.begin(), bond_weights.end()));
  for (std::size_t k = 0; k < t.rows.size(); k += 5) {
    const SweepRow& row = t.rows[k];
    CAPTURE(row.threshold);
    std::int64_t added = 0;
    for (double w : bond_weights) added += w <= row.threshold;
    CHECK(row.n_added == added);
    CHECK(row.fraction_added == static_cast<double>(added) / static_cast<double>(bond_weights.size()));
    std::int64_t clusters = 0, largest = 0;
    bool sx = false, sy = false;
    for (std::int32_t ph : present_phases) {
      const Fill f = flood(valid, ph, map.scan, connectivity, [&](int i, int j) { return weight(i, j) <= row.threshold; });
      clusters += static_cast<std::int64_t>(f.sizes.size());
      for (std::size_t c = 0; c < f.sizes.size(); ++c) {
        largest = std::max(largest, f.sizes[c]);
        sx = sx || f.spans_x[c];
        sy = sy || f.spans_y[c];
      }
    }
    CHECK(row.n_clusters == clusters);
    CHECK(row.largest_cluster == largest);
    CHECK(row.largest_cluster_fraction == static_cast<double>(largest) / static_cast<double>(n_sites));
    CHECK(row.spans_x == sx);
    CHECK(row.spans_y == sy);
  }

  // boundaries: components of each type's edges, by breadth-first search over the nodes
  if (results_has(path, "network")) {
    const BoundaryNetwork net = read_network(path);
    std::map<std::int64_t, std::size_t> node_index;
    for (std::size_t k = 0; k < net.nodes.size(); ++k) node_index[net.nodes[k].id] = k;
    std::vector<BoundaryClassStats> expect;
    for (int type = 0; type < kBoundaryTypeCount; ++type) {
      std::vector<std::vector<std::size_t>> adj(net.nodes.size());  // edge numbers at each node
      std::vector<std::size_t> edges;
      for (std::size_t e = 0; e < net.edges.size(); ++e)
        if (static_cast<int>(net.edges[e].type) == type) {
          edges.push_back(e);
          adj[node_index[net.edges[e].node_a]].push_back(e);
          adj[node_index[net.edges[e].node_b]].push_back(e);
        }
      if (edges.empty()) continue;
      BoundaryClassStats s;
      s.class_id = type;
      std::vector<char> edge_done(net.edges.size(), 0);
      for (std::size_t first : edges) {  // components in order of their first edge
        if (edge_done[first]) continue;
        double length = 0;
        std::int64_t count = 0;
        std::uint8_t touches = 0;
        std::deque<std::size_t> queue{first};
        edge_done[first] = 1;
        while (!queue.empty()) {
          const std::size_t e = queue.front();
          queue.pop_front();
          length += static_cast<double>(net.edges[e].length_px);
          ++count;
          for (std::int64_t id : {net.edges[e].node_a, net.edges[e].node_b}) {
            const std::size_t v = node_index[id];
            touches |= net.nodes[v].field_edges;
            for (std::size_t e2 : adj[v])
              if (!edge_done[e2]) {
                edge_done[e2] = 1;
                queue.push_back(e2);
              }
          }
        }
        ++s.n_components;
        s.n_edges += count;
        s.total_length += length;
        if (length > s.largest_component_length) {
          s.largest_component_length = length;
          s.largest_component_edges = count;
        }
        s.spans_y = s.spans_y || (touches & (edge_top | edge_bottom)) == (edge_top | edge_bottom);
        s.spans_x = s.spans_x || (touches & (edge_left | edge_right)) == (edge_left | edge_right);
      }
      s.largest_component_length_fraction = s.total_length > 0 ? s.largest_component_length / s.total_length : 0;
      expect.push_back(s);
    }
    CHECK(r.boundaries == expect);
    CHECK_FALSE(expect.empty());
  } else {
    CHECK(r.boundaries.empty());
  }
}

// A 24 x 30 2D map of blobs: phase per 3 x 3 block (0 C6 60 %, 1 C4 30 %, -1 10 %), angle per
// 2 x 2 block from a few exact values, with 8 % single-position noise; deterministic.
OrientationMap blob_map() {
  OrientationMap m;
  m.scan = {24, 30};
  m.phases = {PhaseInfo{"graphene", "C6"}, PhaseInfo{"square", "C4"}};
  std::uint64_t state = 12345;
  auto next = [&]() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<std::uint32_t>(state >> 33);
  };
  const float angles[] = {0, 2.5f, 5, 7.5f, 30, 32.5f, 57.5f};
  std::vector<int> block_phase(8 * 10), block_angle(12 * 15);
  for (int& b : block_phase) {
    const std::uint32_t v = next() % 10;
    b = v < 6 ? 0 : v < 9 ? 1 : -1;
  }
  for (int& b : block_angle) b = static_cast<int>(next() % 7);
  for (int y = 0; y < 24; ++y)
    for (int x = 0; x < 30; ++x) {
      int ph = block_phase[(y / 3) * 10 + x / 3];
      int a = block_angle[(y / 2) * 15 + x / 2];
      if (next() % 100 < 8) ph = static_cast<int>(next() % 3) - 1;
      if (next() % 100 < 8) a = static_cast<int>(next() % 7);
      m.phase.push_back(ph);
      m.angle_deg.push_back(ph < 0 ? std::numeric_limits<float>::quiet_NaN() : angles[a]);
    }
  return m;
}

// 9 x 11: a cross of phase 1 (C4, 10 deg) along row 4 and column 5; phase 0 (C6) in the four
// quadrants, the top-left one at 30 deg, the others at 0. With `gap`, (8, 5) is phase 0 at 0
// deg: the cross no longer reaches the bottom row, and the two bottom quadrants join across the
// whole width.
OrientationMap cross_map(bool gap) {
  OrientationMap m;
  m.scan = {9, 11};
  m.phases = {PhaseInfo{"graphene", "C6"}, PhaseInfo{"square", "C4"}};
  for (int y = 0; y < 9; ++y)
    for (int x = 0; x < 11; ++x) {
      const bool cross = (y == 4 || x == 5) && !(gap && y == 8 && x == 5);
      m.phase.push_back(cross ? 1 : 0);
      m.angle_deg.push_back(cross ? 10.0f : (y < 4 && x < 5) ? 30.0f : 0.0f);
    }
  return m;
}

const SiteStats& phase_site(const PercolationReport& r, std::int32_t phase) {
  for (const PhaseStats& p : r.phases)
    if (p.phase == phase) return p.site;
  FAIL("phase ", phase, " missing");
  return r.phases.front().site;
}

} // namespace

TEST_CASE("percolate verb: stored tables equal a flood-fill recomputation (phases, classes, boundaries, sweep)") {
  const std::string dir = testing::scratch("percolate_verb");
  const std::string path = dir + "/r.h5";
  write_results(path, blob_map());
  REQUIRE(testing::run_cli("segment " + path + " --quiet").exit_code == 0);
  const testing::CliResult net = testing::run_cli("network " + path + " --quiet");
  INFO(net.err);
  REQUIRE(net.exit_code == 0);

  const testing::CliResult r = testing::run_cli("percolate " + path + " --percolate.class_directions_deg 0,30");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("percolate: phase 0 graphene: area ") == 0);
  CHECK(r.out.find("wrote " + path + " (/percolation)") != std::string::npos);
  check_against_flood(path, 4, {0, 30}, 5);
  const PercolationReport first = read_percolation(path);
  CHECK(first.classes.size() == 2);
  CHECK(first.phases.size() == 2);
  bool has_key = false;
  for (const auto& [k, v] : read_config(path)) has_key |= k == "percolate.class_directions_deg" && v == "0,30";
  CHECK(has_key);

  // the side files
  const std::string csv = slurp(dir + "/r_percolation.csv");
  CHECK(csv.rfind("table,id,name,direction_deg,n_positions,", 0) == 0);
  CHECK(testing::count_lines(csv) ==
        1 + static_cast<int>(first.phases.size() + first.classes.size() + first.boundaries.size()));
  CHECK(csv.find("\nphase,0,graphene,,720,") != std::string::npos);
  CHECK(csv.find("\nclass,1,class_1,30,720,") != std::string::npos);
  const std::string sweep = slurp(dir + "/r_sweep.csv");
  CHECK(testing::count_lines(sweep) == 102);
  CHECK(std::filesystem::file_size(dir + "/r_sweep.png") > 0);
  CHECK(std::filesystem::file_size(dir + "/r_percolation.png") > 0);

  // twice = once
  REQUIRE(testing::run_cli("percolate " + path + " --quiet --percolate.class_directions_deg 0,30").exit_code == 0);
  CHECK(read_percolation(path) == first);
  CHECK(slurp(dir + "/r_percolation.csv") == csv);
  CHECK(slurp(dir + "/r_sweep.csv") == sweep);

  // 8-connectivity, another tolerance, no classes
  REQUIRE(testing::run_cli("percolate " + path + " --quiet --percolate.connectivity 8").exit_code == 0);
  check_against_flood(path, 8, {}, 5);
  REQUIRE(testing::run_cli("percolate " + path +
                           " --quiet --percolate.class_directions_deg 2.5,57.5 --percolate.class_tolerance_deg 3")
              .exit_code == 0);
  check_against_flood(path, 4, {2.5, 57.5}, 3);

  int left = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) left += e.path().string().find(".tmp") != std::string::npos;
  CHECK(left == 0);
}

TEST_CASE("percolate verb: spanning on maps made to span or not") {
  const std::string dir = testing::scratch("percolate_span");
  for (bool gap : {false, true}) {
    CAPTURE(gap);
    const std::string path = dir + (gap ? "/gap.h5" : "/cross.h5");
    write_results(path, cross_map(gap));
    REQUIRE(testing::run_cli("segment " + path + " --quiet").exit_code == 0);
    const testing::CliResult r = testing::run_cli("percolate " + path + " --percolate.class_directions_deg 0,30");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("no /network: boundary classes skipped") != std::string::npos);
    const PercolationReport rep = read_percolation(path);
    const SiteStats& cross = phase_site(rep, 1);
    const SiteStats& quadrants = phase_site(rep, 0);
    CHECK(cross.n_clusters == 1);
    CHECK(cross.spans_x);
    CHECK(cross.spans_y == !gap);
    CHECK(cross.n_occupied == (gap ? 18 : 19));
    CHECK(quadrants.n_clusters == (gap ? 3 : 4));
    CHECK_FALSE(quadrants.spans_y);
    CHECK(quadrants.spans_x == gap);  // the bottom quadrants joined through (8, 5)
    CHECK(quadrants.largest_cluster == (gap ? 41 : 20));
    // classes: 0 deg = three (or, joined, two) quadrants, 30 deg = the top-left one; the C4 cross
    // at 10 deg is 10 and 20 deg from them: no class
    REQUIRE(rep.classes.size() == 2);
    CHECK(rep.classes[0].site.n_occupied == (gap ? 61 : 60));
    CHECK(rep.classes[1].site.n_occupied == 20);
    CHECK(rep.classes[1].site.n_clusters == 1);
    CHECK_FALSE(rep.classes[1].site.spans_x);
    check_against_flood(path, 4, {0, 30}, 5);
  }
}

TEST_CASE("percolate verb: a 3D map has phase statistics, no classes and no sweep") {
  const std::string dir = testing::scratch("percolate_3d");
  const std::string path = dir + "/r.h5";
  OrientationMap m;
  m.scan = {6, 7};
  m.phases = {PhaseInfo{"Al", "m-3m"}};
  for (int y = 0; y < 6; ++y)
    for (int x = 0; x < 7; ++x) {
      m.phase.push_back(x == 3 ? -1 : 0);  // a column of not indexed positions splits the map
      m.quaternion.push_back({1, 0, 0, 0});
    }
  write_results(path, m);
  REQUIRE(testing::run_cli("segment " + path + " --quiet").exit_code == 0);
  const testing::CliResult r = testing::run_cli("percolate " + path + " --percolate.class_directions_deg 0");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("orientation classes need in-plane angles") != std::string::npos);
  CHECK(r.out.find("the disorientation sweep needs in-plane angles") != std::string::npos);
  const PercolationReport rep = read_percolation(path);
  REQUIRE(rep.phases.size() == 1);
  CHECK(rep.phases[0].site.n_clusters == 2);
  CHECK(rep.phases[0].site.largest_cluster == 18);
  CHECK(rep.phases[0].site.spans_y);
  CHECK_FALSE(rep.phases[0].site.spans_x);
  CHECK(rep.classes.empty());
  CHECK(rep.disorientation_sweep.rows.empty());
  CHECK(std::filesystem::exists(dir + "/r_percolation.png"));
  CHECK_FALSE(std::filesystem::exists(dir + "/r_sweep.csv"));
}

TEST_CASE("results: /percolation round trip") {
  const std::string dir = testing::scratch("percolation_roundtrip");
  const std::string path = dir + "/r.h5";
  const OrientationMap m = cross_map(false);
  write_results(path, m);
  RunContext ctx;
  const Segmentation seg = segment(m, SegmentParams{}, ctx);
  PercolationReport r;
  r.scan = m.scan;
  r.connectivity = 8;
  r.class_directions_deg = {0, 15.5, 30};
  r.class_tolerance_deg = 2.5;
  PhaseStats p0;
  p0.phase = 0;
  p0.site = SiteStats{99, 80, 80.0 / 99, 4, 20, 20.0 / 99, 0.25, 20, false, false, {{20, 4}}};
  PhaseStats p1;
  p1.phase = 1;
  p1.site = SiteStats{99, 19, 19.0 / 99, 1, 19, 19.0 / 99, 1, 0, true, true, {{19, 1}}};
  r.phases = {p0, p1};
  ClassStats c2;
  c2.class_id = 2;
  c2.site = SiteStats{99, 25, 25.0 / 99, 3, 20, 20.0 / 99, 0.8, 3.4, false, true, {{1, 1}, {4, 1}, {20, 1}}};
  r.classes = {c2};
  r.boundaries = {BoundaryClassStats{1, 12, 40.0, 2, 9, 31.0, 31.0 / 40, true, false},
                  BoundaryClassStats{4, 3, 5.0, 3, 1, 2.0, 0.4, false, false}};
  r.disorientation_sweep.kind = SweepKind::bond;
  r.disorientation_sweep.shape = m.scan;
  r.disorientation_sweep.connectivity = 8;
  r.disorientation_sweep.n_sites = 99;
  r.disorientation_sweep.n_items = 300;
  r.disorientation_sweep.rows = {SweepRow{0, 10, 10.0 / 300, 5, 5.0 / 99, 89, false, false},
                                 SweepRow{1.25, 200, 200.0 / 300, 60, 60.0 / 99, 30, true, false},
                                 SweepRow{30, 300, 1, 99, 1, 1, true, true}};
  {
    ResultsWriter w(path, false);
    w.write_domains(seg);
    w.write_percolation(r);
    w.commit();
  }
  CHECK(read_percolation(path) == r);
  // a report without sweep, classes or boundaries
  PercolationReport e;
  e.scan = m.scan;
  e.phases = {p1};
  {
    ResultsWriter w(path, false);
    w.write_percolation(e);
    w.commit();
  }
  CHECK(read_percolation(path) == e);
  // the boundary names
  CHECK(boundary_class_name(0) == "low_angle");
  CHECK(boundary_class_name(2) == "csl");
  CHECK(boundary_class_name(4) == "unlabelled");
  CHECK(boundary_class_name(7) == "class_7");
  // a class without a direction is refused
  PercolationReport bad = r;
  bad.classes[0].class_id = 5;
  ResultsWriter w(path, false);
  CHECK_THROWS_AS(w.write_percolation(bad), Error);
}

TEST_CASE("percolate verb: missing /domains and absurd parameters are one-line errors, file untouched") {
  const std::string dir = testing::scratch("percolate_errors");
  const std::string path = dir + "/r.h5";
  write_results(path, cross_map(false));
  const std::string before = slurp(path);
  const testing::CliResult r = testing::run_cli("percolate " + path);
  CHECK(r.exit_code == 2);
  CHECK(testing::count_lines(r.err) == 1);
  CHECK(r.err.find(path + ": no /domains; run 'domainmap segment " + path + "' first") != std::string::npos);
  CHECK(slurp(path) == before);
  CHECK_FALSE(std::filesystem::exists(dir + "/r_percolation.csv"));
  CHECK_FALSE(std::filesystem::exists(dir + "/r_percolation.png"));

  REQUIRE(testing::run_cli("segment " + path + " --quiet").exit_code == 0);
  const std::string segmented = slurp(path);
  const std::vector<std::pair<std::string, std::string>> absurd = {
      {"--percolate.connectivity 5", "percolate.connectivity"},
      {"--percolate.class_directions_deg 0,abc", "percolate.class_directions_deg"},
      {"--percolate.class_tolerance_deg -1", "percolate.class_tolerance_deg"},
      {"--percolate.sweep_points 1", "percolate.sweep_points"},
      {"--percolate.plot_width 10", "percolate.plot_width"}};
  for (const auto& [flag, key] : absurd) {
    CAPTURE(flag);
    const testing::CliResult b = testing::run_cli("percolate " + path + " " + flag);
    CHECK(b.exit_code == 2);
    CHECK(testing::count_lines(b.err) == 1);
    CHECK(b.err.find(key) != std::string::npos);
  }
  CHECK(slurp(path) == segmented);
  CHECK_FALSE(results_has(path, "percolation"));

  const testing::CliResult n = testing::run_cli("percolate " + dir + "/nope.h5");
  CHECK(n.exit_code == 2);
  CHECK(testing::count_lines(n.err) == 1);
  CHECK(n.err.find(dir + "/nope.h5") != std::string::npos);

  const testing::CliResult h = testing::run_cli("percolate --help");
  CHECK(h.exit_code == 0);
  CHECK(h.out.find("usage: domainmap percolate") == 0);
  CHECK(h.out.find("--percolate.class_directions_deg") != std::string::npos);
}
