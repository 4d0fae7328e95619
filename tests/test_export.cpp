// tests/test_export.cpp: the `export` verb: every file the stages in a results file support,
// with exact contents where they are tables (the same bytes as the stage verbs' own CSVs, the
// peaks line by line), picture sizes, skipped stages as notes, and one-line errors.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

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

// Width and height from a PNG's IHDR chunk.
std::pair<int, int> png_size(const std::string& path) {
  const std::string s = slurp(path);
  if (s.size() < 24 || s.compare(1, 3, "PNG") != 0) return {-1, -1};
  auto be = [&](std::size_t at) {
    return (static_cast<unsigned char>(s[at]) << 24) | (static_cast<unsigned char>(s[at + 1]) << 16) |
           (static_cast<unsigned char>(s[at + 2]) << 8) | static_cast<unsigned char>(s[at + 3]);
  };
  return {static_cast<int>(be(16)), static_cast<int>(be(20))};
}

// 4 x 5 scan, 16 x 16 detector: position i has i % 3 peaks at (i, j + 0.5) with intensity 10 i + j.
PeakList small_peaks() {
  PeakList p;
  p.scan = {4, 5};
  p.detector = {16, 16};
  p.offsets = {0};
  for (int i = 0; i < 20; ++i) {
    for (int j = 0; j < i % 3; ++j) {
      p.qy_raw.push_back(static_cast<float>(i));
      p.qx_raw.push_back(static_cast<float>(j) + 0.5f);
      p.intensity.push_back(static_cast<float>(10 * i + j));
    }
    p.offsets.push_back(p.qy_raw.size());
  }
  return p;
}

OrientationMap small_map() {
  OrientationMap m;
  m.scan = {4, 5};
  m.phases = {PhaseInfo{"graphene", "C6"}};
  for (int i = 0; i < 20; ++i) {
    m.phase.push_back(i == 7 ? -1 : 0);
    m.angle_deg.push_back(i == 7 ? std::numeric_limits<float>::quiet_NaN() : (i % 5 < 2 ? 0.0f : 20.0f));
  }
  return m;
}

void write_file(const std::string& path, bool stages) {
  ResultsWriter w(path, true);
  ResultsHeader h;
  h.input = "test";
  h.scan = {4, 5};
  h.detector = {16, 16};
  h.scan_step_nm = 2;
  w.write_header(h);
  if (stages) {
    const PeakList raw = small_peaks();
    w.write_peaks(raw);
    PeakList corrected = raw;
    corrected.qy.resize(raw.size());
    corrected.qx.resize(raw.size());
    for (std::size_t j = 0; j < raw.size(); ++j) {
      corrected.qy[j] = raw.qy_raw[j] - 8;
      corrected.qx[j] = raw.qx_raw[j] - 8;
    }
    OriginMap origin;
    origin.scan = {4, 5};
    origin.qy0.assign(20, 8);
    origin.qx0.assign(20, 8);
    for (int i = 0; i < 20; ++i) origin.qy0[static_cast<std::size_t>(i)] += 0.01f * i;
    origin.qy0_measured = origin.qy0;
    origin.qx0_measured = origin.qx0;
    BraggVectorMap bvm;
    bvm.size = 8;
    bvm.counts.assign(64, 0);
    bvm.counts[36] = 5;
    w.write_origin(origin, corrected, EllipseDistortion{}, bvm);
    w.write_orientation(small_map());
  }
  w.commit();
}

} // namespace

TEST_CASE("export verb: every stage's files, tables equal the stage verbs' own, skipped stages noted") {
  const std::string dir = testing::scratch("export_verb");
  const std::string path = dir + "/r.h5";
  write_file(path, true);
  REQUIRE(testing::run_cli("segment " + path + " --quiet").exit_code == 0);
  REQUIRE(testing::run_cli("percolate " + path + " --quiet --percolate.class_directions_deg 0,20").exit_code == 0);
  const std::string folder = dir + "/out";
  const testing::CliResult r = testing::run_cli("export " + path + " -o " + folder + " --peaks");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.empty());
  CHECK(r.out.find("export: note: no /network: network files skipped") != std::string::npos);
  const char* expected[] = {"peaks.csv",      "bragg_vector_map.png", "origin_qy0.png",  "origin_qx0.png",
                            "origin_qy0_measured.png", "origin_qx0_measured.png", "orientation.png", "domains.png",
                            "domains.csv",    "percolation.csv",      "percolation.png", "sweep.csv",
                            "sweep.png",      "class0_sweep.csv",     "class0_sweep.png", "class1_sweep.csv",
                            "class1_sweep.png"};
  CHECK(r.out.find("export: wrote 17 files into " + folder) != std::string::npos);
  for (const char* name : expected) {
    CAPTURE(name);
    CHECK(std::filesystem::exists(folder + "/" + name));
    CHECK(r.out.find(folder + "/" + name + "\n") != std::string::npos);
  }
  // peaks: one line per peak, corrected vectors beside the raw ones
  const std::string peaks = slurp(folder + "/peaks.csv");
  CHECK(testing::count_lines(peaks) == 1 + static_cast<int>(small_peaks().size()));
  CHECK(peaks.rfind("position,ry,rx,qy_raw,qx_raw,qy,qx,intensity\n", 0) == 0);
  CHECK(peaks.find("\n8,1,3,8,1.5,0,-6.5,81\n") != std::string::npos);  // position 8, second peak
  CHECK(peaks.find("\n0,") == std::string::npos);                      // position 0 has none
  // tables are byte-identical to the stage verbs' own
  CHECK(slurp(folder + "/domains.csv") == slurp(dir + "/r_domains.csv"));
  CHECK(slurp(folder + "/percolation.csv") == slurp(dir + "/r_percolation.csv"));
  CHECK(slurp(folder + "/sweep.csv") == slurp(dir + "/r_sweep.csv"));
  CHECK(slurp(folder + "/class1_sweep.csv") == slurp(dir + "/r_class1_sweep.csv"));
  CHECK(slurp(folder + "/percolation.png") == slurp(dir + "/r_percolation.png"));
  // pictures: a 4 x 5 scan is enlarged x 103 (the longer side to >= 512 px); the map is 8 x 8
  CHECK(png_size(folder + "/orientation.png") == std::pair<int, int>{5 * 103, 4 * 103});
  CHECK(png_size(folder + "/domains.png") == std::pair<int, int>{515, 412});
  CHECK(png_size(folder + "/origin_qy0.png") == std::pair<int, int>{515, 412});
  CHECK(png_size(folder + "/bragg_vector_map.png") == std::pair<int, int>{8, 8});
  CHECK(png_size(folder + "/sweep.png") == std::pair<int, int>{640, 400});

  // twice = once; without --peaks no peaks.csv; default folder beside R.h5
  const std::string orientation = slurp(folder + "/orientation.png");
  const testing::CliResult d = testing::run_cli("export " + path + " --quiet");
  REQUIRE(d.exit_code == 0);
  CHECK(d.out.empty());
  CHECK(slurp(dir + "/r_export/orientation.png") == orientation);
  CHECK(slurp(dir + "/r_export/domains.csv") == slurp(folder + "/domains.csv"));
  CHECK_FALSE(std::filesystem::exists(dir + "/r_export/peaks.csv"));
  int left = 0;
  for (const auto& e : std::filesystem::directory_iterator(folder)) left += e.path().string().find(".tmp") != std::string::npos;
  CHECK(left == 0);

  // with /network: its graph files and the boundary picture, the same as the network verb's
  REQUIRE(testing::run_cli("network " + path + " --quiet").exit_code == 0);
  const std::string folder2 = dir + "/out2";
  const testing::CliResult r2 = testing::run_cli("export " + path + " -o " + folder2);
  REQUIRE(r2.exit_code == 0);
  for (const char* name : {"network.graphml", "network.json", "nodes.csv", "edges.csv", "boundaries.png"}) {
    CAPTURE(name);
    CHECK(r2.out.find(folder2 + "/" + name + "\n") != std::string::npos);
  }
  CHECK(slurp(folder2 + "/boundaries.png") == slurp(dir + "/r_boundaries.png"));
  CHECK(slurp(folder2 + "/edges.csv") == slurp(dir + "/r_edges.csv"));
}

TEST_CASE("export verb: an empty results file, a missing file and a bad folder") {
  const std::string dir = testing::scratch("export_errors");
  const std::string path = dir + "/e.h5";
  write_file(path, false);
  const testing::CliResult r = testing::run_cli("export " + path + " --peaks");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("export: wrote 0 files into " + dir + "/e_export") != std::string::npos);
  for (const char* note : {"no /peaks", "no /origin", "no /orientation", "no /domains", "no /network", "no /percolation"})
    CHECK(r.out.find(std::string("export: note: ") + note) != std::string::npos);

  const testing::CliResult n = testing::run_cli("export " + dir + "/nope.h5");
  CHECK(n.exit_code == 2);
  CHECK(testing::count_lines(n.err) == 1);
  CHECK(n.err.find(dir + "/nope.h5: no such file") != std::string::npos);

  { std::ofstream(dir + "/plain") << "x"; }
  const testing::CliResult f = testing::run_cli("export " + path + " -o " + dir + "/plain");
  CHECK(f.exit_code == 2);
  CHECK(testing::count_lines(f.err) == 1);
  CHECK(f.err.find("not a folder") != std::string::npos);

  { std::ofstream(dir + "/text.h5") << "not hdf5"; }
  const testing::CliResult t = testing::run_cli("export " + dir + "/text.h5");
  CHECK(t.exit_code == 2);
  CHECK(testing::count_lines(t.err) == 1);

  const testing::CliResult h = testing::run_cli("export --help");
  CHECK(h.exit_code == 0);
  CHECK(h.out.find("usage: domainmap export") == 0);
}
