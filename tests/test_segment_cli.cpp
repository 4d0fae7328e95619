// tests/test_segment_cli.cpp: /orientation, /phases and /domains of the results file (round
// trips, readers' errors) and the `segment` verb on a results file: exact labels and table,
// idempotence, downstream deletion, one-line errors that leave the file untouched.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>

#include "core/h5util.hpp"
#include "domainmap/error.hpp"
#include "domainmap/results.hpp"
#include "domainmap/segment.hpp"
#include "testing.hpp"

using namespace domainmap;

namespace {

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

// 6 x 8: left half phase 0 (C6) at 0 deg, right top phase 0 at 30 deg, right bottom phase 1 (C4)
// at 10 deg; (5, 0) and (2, 6) not indexed.
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

// Its domains: left, right top, right bottom; the not-indexed positions -1 or, filled (the
// default segment.fill_unindexed), (5, 0) in the left domain and (2, 6) in the right top one
// (its nearest measured positions are (1, 6), (2, 5), (2, 7) and (3, 6); the lowest index wins).
std::vector<std::int32_t> known_labels(bool filled = false) {
  std::vector<std::int32_t> l;
  for (std::int64_t y = 0; y < 6; ++y)
    for (std::int64_t x = 0; x < 8; ++x) {
      const bool none = (y == 5 && x == 0) || (y == 2 && x == 6);
      l.push_back(none && !filled ? -1 : x < 4 ? 0 : y < 3 ? 1 : 2);
    }
  return l;
}

} // namespace

TEST_CASE("results: orientation and domains round trip, and the readers' errors") {
  const std::string dir = testing::scratch("results_orientation");
  const std::string path = dir + "/r.h5";
  OrientationMap m = known_map();
  m.quaternion.resize(static_cast<std::size_t>(m.size()));
  for (std::size_t i = 0; i < m.quaternion.size(); ++i) m.quaternion[i] = {1, 0, 0, static_cast<float>(i) * 1e-3f};
  testing::write_orientation_results(path, &m);
  const OrientationMap r = read_orientation(path);
  CHECK(r.scan == m.scan);
  CHECK(r.phase == m.phase);
  CHECK(r.quaternion == m.quaternion);
  CHECK(r.score == m.score);
  REQUIRE(r.angle_deg.size() == m.angle_deg.size());
  for (std::size_t i = 0; i < r.angle_deg.size(); ++i)
    CHECK((std::isnan(m.angle_deg[i]) ? std::isnan(r.angle_deg[i]) : r.angle_deg[i] == m.angle_deg[i]));
  REQUIRE(r.phases.size() == 2);
  CHECK(r.phases[1].name == "square");
  CHECK(r.phases[1].symmetry == "C4");
  CHECK(r.scan_step_nm == 2);

  // /domains round trip
  RunContext ctx;
  OrientationMap m2 = known_map();
  m2.scan_step_nm = 2;
  const Segmentation seg = segment(m2, SegmentParams{}, ctx);
  {
    ResultsWriter w(path, false);
    w.write_domains(seg);
    w.commit();
  }
  const DomainLabels dl = read_domain_labels(path);
  CHECK(dl.labels == seg.labels);
  CHECK(dl.n_domains == seg.n_domains());
  const std::vector<DomainRecord> t = read_domain_table(path);
  REQUIRE(t.size() == seg.table.size());
  for (std::size_t k = 0; k < t.size(); ++k) {
    CHECK(t[k].area_px == seg.table[k].area_px);
    CHECK(t[k].area_nm2 == seg.table[k].area_nm2);
    CHECK(t[k].bbox_x1 == seg.table[k].bbox_x1);
    CHECK(t[k].touches_edge == seg.table[k].touches_edge);
    CHECK(t[k].n_neighbours == seg.table[k].n_neighbours);
  }
  // rewriting /orientation deletes /domains
  {
    ResultsWriter w(path, false);
    w.write_orientation(known_map());
    w.commit();
  }
  CHECK_FALSE(results_has(path, "domains"));
  CHECK(error_of([&] { read_domain_labels(path); }) == path + ": no /domains; run 'domainmap segment " + path + "' first");

  // errors
  const std::string empty = dir + "/empty.h5";
  testing::write_orientation_results(empty, nullptr);
  CHECK(error_of([&] { read_orientation(empty); }) == empty + ": no /orientation; run 'domainmap index " + empty + "' first");
  {
    ResultsWriter w(empty, false);
    CHECK(error_of([&] { w.write_domains(seg); }).find("no /orientation") != std::string::npos);
  }
  OrientationMap bad = known_map();
  bad.phases[1].symmetry = "Q7";
  testing::write_orientation_results(empty, &bad);
  CHECK(error_of([&] { read_orientation(empty); }) == empty + ":/phases/1: unknown symmetry 'Q7'");
  testing::write_orientation_results(empty, &m);
  {
    h5::Handle f = h5::open_file_rw(empty);
    h5::Handle g = h5::open_group(f, "/orientation", empty);
    h5::unlink_if_exists(g, "score");
    const std::vector<float> s(8, 0.5f);
    h5::write_floats(g, "score", {2, 4}, s.data());
  }
  const std::string e = error_of([&] { read_orientation(empty); });
  CHECK(e.find(empty + ":/orientation/score: shape does not match") == 0);
  CHECK(e.find('\n') == std::string::npos);
}

TEST_CASE("segment verb: exact labels and table, idempotent, stale /network deleted") {
  const std::string dir = testing::scratch("segment_verb");
  const std::string path = dir + "/r.h5";
  testing::write_orientation_results(path, nullptr);
  {
    // a stale /network beside an old orientation map: writing /orientation drops it, so add it after
    ResultsWriter w(path, false);
    w.write_orientation(known_map());
    w.commit();
    h5::Handle f = h5::open_file_rw(path);
    h5::Handle g = h5::require_group(f, "/network", path);
    h5::write_int_attr(g, "stale", 1);
  }
  REQUIRE(results_has(path, "network"));
  const testing::CliResult r = testing::run_cli("segment " + path);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("segment: 3 domains") == 0);
  CHECK(r.err.empty());
  CHECK_FALSE(results_has(path, "network"));
  CHECK(results_has(path, "orientation"));
  CHECK(results_has(path, "phases"));

  const DomainLabels dl = read_domain_labels(path);
  CHECK(dl.scan == Shape2{6, 8});
  CHECK(dl.labels == known_labels(true));
  const std::vector<DomainRecord> t = read_domain_table(path);
  REQUIRE(t.size() == 3);
  CHECK(t[0].area_px == 24);
  CHECK(t[1].area_px == 12);
  CHECK(t[2].area_px == 12);
  CHECK(t[0].n_oriented == 23);
  CHECK(t[1].n_oriented == 11);
  CHECK(t[0].phase == 0);
  CHECK(t[1].phase == 0);
  CHECK(t[2].phase == 1);
  CHECK(t[2].area_nm2 == doctest::Approx(48));
  CHECK(t[2].mean_angle_deg == doctest::Approx(10).epsilon(1e-6));
  CHECK(t[1].mean_angle_deg == doctest::Approx(30).epsilon(1e-6));
  bool has_threshold = false;
  for (const auto& [k, v] : read_config(path)) has_threshold |= k == "segment.threshold_deg";
  CHECK(has_threshold);
  CHECK(std::filesystem::file_size(dir + "/r_domains.png") > 0);
  const std::string csv = slurp(dir + "/r_domains.csv");
  CHECK(testing::count_lines(csv) == 4);
  CHECK(csv.rfind("id,phase,area_px,", 0) == 0);

  // twice = once
  const testing::CliResult r2 = testing::run_cli("segment " + path);
  REQUIRE(r2.exit_code == 0);
  CHECK(read_domain_labels(path).labels == dl.labels);
  const std::vector<DomainRecord> t2 = read_domain_table(path);
  REQUIRE(t2.size() == t.size());
  for (std::size_t k = 0; k < t.size(); ++k) {
    CHECK(t2[k].area_px == t[k].area_px);
    CHECK(t2[k].centroid_y == t[k].centroid_y);
    CHECK(t2[k].centroid_x == t[k].centroid_x);
    CHECK(t2[k].perimeter_px == t[k].perimeter_px);
    CHECK(t2[k].spread_deg == t[k].spread_deg);
  }
  CHECK(slurp(dir + "/r_domains.csv") == csv);

  // without filling the not-indexed positions stay -1
  const testing::CliResult rf = testing::run_cli("segment " + path + " --segment.fill_unindexed false");
  REQUIRE(rf.exit_code == 0);
  CHECK(read_domain_labels(path).labels == known_labels());
  CHECK(read_domain_table(path)[0].area_px == 23);

  // parameters change the result and land in /config
  const testing::CliResult r3 = testing::run_cli("segment " + path + " --segment.threshold_deg 40");
  REQUIRE(r3.exit_code == 0);
  CHECK(read_domain_table(path).size() == 2);  // 0 and 30 deg under C6 are 30 deg apart
  for (const auto& [k, v] : read_config(path))
    if (k == "segment.threshold_deg") CHECK(std::stod(v) == 40);
  int left = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) left += e.path().string().find(".tmp") != std::string::npos;
  CHECK(left == 0);
}

TEST_CASE("segment verb: missing /orientation and bad parameters are one-line errors, file untouched") {
  const std::string dir = testing::scratch("segment_verb_errors");
  const std::string path = dir + "/r.h5";
  testing::write_orientation_results(path, nullptr);
  const std::string before = slurp(path);
  const testing::CliResult r = testing::run_cli("segment " + path);
  CHECK(r.exit_code == 2);
  CHECK(testing::count_lines(r.err) == 1);
  CHECK(r.err.find(path + ": no /orientation; run 'domainmap index " + path + "' first") != std::string::npos);
  CHECK(slurp(path) == before);
  CHECK_FALSE(std::filesystem::exists(dir + "/r_domains.png"));
  CHECK_FALSE(std::filesystem::exists(dir + "/r_domains.csv"));

  const std::string good = dir + "/g.h5";
  const OrientationMap m = known_map();
  testing::write_orientation_results(good, &m);
  const std::string good_before = slurp(good);
  for (const std::string& v : {"-3", "abc", "200"}) {
    const testing::CliResult b = testing::run_cli("segment " + good + " --segment.threshold_deg " + v);
    CHECK(b.exit_code == 2);
    CHECK(testing::count_lines(b.err) == 1);
    CHECK(b.err.find("segment.threshold_deg") != std::string::npos);
  }
  CHECK(slurp(good) == good_before);
  CHECK_FALSE(std::filesystem::exists(dir + "/g_domains.png"));

  const testing::CliResult n = testing::run_cli("segment " + dir + "/nope.h5");
  CHECK(n.exit_code == 2);
  CHECK(testing::count_lines(n.err) == 1);
}
