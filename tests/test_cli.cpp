// tests/test_cli.cpp: the domainmap command line: verb table, help, usage errors and exit codes,
// `info` (text and JSON), `convert` and `virtual` on real files, --config INI files.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "domainmap/version.hpp"
#include "testing.hpp"

using testing::run_cli;
using testing::shared;

namespace {

const std::string kMerlin = "data/real/merlin/001_4x2_6bit.mib";

// The verbs listed by `domainmap --help` (lines "  name   summary" after "verbs:").
std::vector<std::string> listed_verbs(const std::string& help) {
  std::vector<std::string> out;
  std::istringstream is(help);
  std::string line;
  bool in_list = false;
  while (std::getline(is, line)) {
    if (line == "verbs:") { in_list = true; continue; }
    if (in_list) {
      if (line.rfind("  ", 0) != 0) break;
      std::istringstream ls(line);
      std::string name;
      ls >> name;
      out.push_back(name);
    }
  }
  return out;
}

// Text after `"key": ` up to the next ',' or '}' (a JSON number, list or literal).
std::string json_value(const std::string& json, const std::string& key) {
  const std::string k = "\"" + key + "\": ";
  std::size_t p = json.find(k);
  if (p == std::string::npos) return "(missing " + key + ")";
  p += k.size();
  if (json[p] == '[') return json.substr(p, json.find(']', p) - p + 1);
  std::size_t e = json.find_first_of(",}", p);
  return json.substr(p, e - p);
}

// Parses the JSON text with Python (when available) and evaluates `check`, an expression over
// `d`; returns "ok", "skip" (no Python) or what Python printed.
std::string python_check(const std::string& json, const std::string& check) {
  if (::access("/usr/bin/python3", X_OK) != 0) return "skip";
  std::string dir = testing::scratch("cli_json");
  {
    std::ofstream f(dir + "/in.json", std::ios::binary);
    f << json;
  }
  {
    std::ofstream f(dir + "/check.py");
    f << "import json, sys\n"
         "d = json.load(open(sys.argv[1], encoding='utf-8'))\n"
         "ok = " << check << "\n"
         "print('ok' if ok else 'failed: ' + repr(d)[:400])\n";
  }
  std::string cmd = "/usr/bin/python3 " + dir + "/check.py " + dir + "/in.json > " + dir + "/out.txt 2>&1";
  std::system(cmd.c_str());
  std::ifstream r(dir + "/out.txt");
  std::string s((std::istreambuf_iterator<char>(r)), std::istreambuf_iterator<char>());
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

bool one_error_line(const testing::CliResult& r, const std::string& verb) {
  const std::string prefix = verb.empty() ? "domainmap: error: " : "domainmap " + verb + ": error: ";
  return testing::count_lines(r.err) == 1 && r.err.rfind(prefix, 0) == 0;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
}

} // namespace

TEST_CASE("cli: --version and --help list the verbs") {
  auto v = run_cli("--version");
  CHECK(v.exit_code == 0);
  CHECK(v.out == std::string("domainmap ") + DOMAINMAP_VERSION + "\n");
  auto h = run_cli("--help");
  CHECK(h.exit_code == 0);
  CHECK(h.err.empty());
  std::vector<std::string> verbs = listed_verbs(h.out);
  for (const char* name : {"info", "convert", "virtual", "params"})
    CHECK(std::find(verbs.begin(), verbs.end(), name) != verbs.end());
  CHECK(h.out.find("Exit codes") != std::string::npos);
  auto none = run_cli("");
  CHECK(none.exit_code == 2);
  CHECK(none.err.find("usage: domainmap <verb>") != std::string::npos);
}

TEST_CASE("cli: every verb's --help exits 0 and shows its usage") {
  std::vector<std::string> verbs = listed_verbs(run_cli("--help").out);
  REQUIRE(verbs.size() >= 4);
  for (const auto& verb : verbs) {
    CAPTURE(verb);
    auto r = run_cli(verb + " --help");
    CHECK(r.exit_code == 0);
    CHECK(r.out.rfind("usage: domainmap " + verb, 0) == 0);
    CHECK(r.err.empty());
  }
  auto info = run_cli("info --help");
  CHECK(info.out.find("--read.scan_shape") != std::string::npos);
  CHECK(info.out.find("--json") != std::string::npos);
  auto conv = run_cli("convert -h");
  CHECK(conv.out.find("--write.compress") != std::string::npos);
  CHECK(conv.out.find("--scan-shape") != std::string::npos);
  auto virt = run_cli("virtual --help");
  CHECK(virt.out.find("--virtual.bf_radius") != std::string::npos);
  CHECK(virt.out.find("--adf") != std::string::npos);
}

TEST_CASE("cli: usage errors exit 2 with one line on stderr") {
  const std::string f = shared(kMerlin);
  auto r = run_cli("frobnicate");
  CHECK(r.exit_code == 2);
  CHECK(one_error_line(r, ""));
  CHECK(r.err.find("unknown verb 'frobnicate'") != std::string::npos);

  r = run_cli("info " + f + " --bogus");
  CHECK(r.exit_code == 2);
  CHECK(one_error_line(r, "info"));
  CHECK(r.err.find("--bogus") != std::string::npos);
  CHECK(r.out.empty());

  r = run_cli("info " + f + " --read.scan_shape 4x");
  CHECK(r.exit_code == 2);
  CHECK(one_error_line(r, "info"));
  CHECK(r.err.find("read.scan_shape = 4x") != std::string::npos);

  r = run_cli("info " + f + " --read.format tiff");
  CHECK(r.exit_code == 2);
  CHECK(one_error_line(r, "info"));

  r = run_cli("info " + f + " --threads -3");
  CHECK(r.exit_code == 2);
  CHECK(one_error_line(r, "info"));

  r = run_cli("info " + f + " --memory-budget lots");
  CHECK(r.exit_code == 2);
  CHECK(one_error_line(r, "info"));
  CHECK(r.err.find("--memory-budget") != std::string::npos);

  r = run_cli("info");
  CHECK(r.exit_code == 2);
  CHECK(one_error_line(r, "info"));

  r = run_cli("info a b");
  CHECK(r.exit_code == 2);
  CHECK(one_error_line(r, "info"));

  r = run_cli("convert " + f);
  CHECK(r.exit_code == 2);
  CHECK(one_error_line(r, "convert"));

  r = run_cli("convert " + f + " x.h5 --compress zstd");
  CHECK(r.exit_code == 2);
  CHECK(one_error_line(r, "convert"));
  CHECK(r.err.find("write.compress = zstd") != std::string::npos);

  std::string dir = testing::scratch("cli_usage");
  r = run_cli("virtual " + f + " -o " + dir + "/v");
  CHECK(r.exit_code == 2);
  CHECK(one_error_line(r, "virtual"));
  CHECK(r.err.find("--bf") != std::string::npos);

  r = run_cli("virtual " + f + " --adf 10 -o " + dir + "/v");
  CHECK(r.exit_code == 2);
  CHECK(one_error_line(r, "virtual"));
  CHECK(r.err.find("--adf needs 2 numbers") != std::string::npos);

  r = run_cli("virtual " + f + " --adf 30 10 -o " + dir + "/v");
  CHECK(r.exit_code == 2);
  CHECK(one_error_line(r, "virtual"));
  CHECK(r.err.find("virtual.adf_inner = 30: must be smaller than virtual.adf_outer = 10") != std::string::npos);

  r = run_cli("virtual " + f + " --bf 5000 -o " + dir + "/v");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("larger than the detector diagonal") != std::string::npos);

  r = run_cli("virtual " + f + " --bf 5");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("-o OUT") != std::string::npos);

  r = run_cli("virtual " + f + " --bf 5 --virtual.bf_radius 6 -o " + dir + "/v");
  CHECK(r.exit_code == 2);
  CHECK(one_error_line(r, "virtual"));
  CHECK(files_in(dir).empty());
}

TEST_CASE("cli: info on a missing or unreadable file exits 2 naming the file") {
  auto r = run_cli("info /nonexistent/dir/scan.mib");
  CHECK(r.exit_code == 2);
  CHECK(one_error_line(r, "info"));
  CHECK(r.err == "domainmap info: error: /nonexistent/dir/scan.mib: no such file\n");
  std::string dir = testing::scratch("cli_info_junk");
  write_text(dir + "/junk.bin", "not a dataset at all");
  r = run_cli("info " + dir + "/junk.bin");
  CHECK(r.exit_code == 2);
  CHECK(one_error_line(r, "info"));
  CHECK(r.err.find(dir + "/junk.bin") != std::string::npos);
}

TEST_CASE("cli: info --json on real files") {
  // Merlin, scan shape from the frame times (2 x 4), an opt-in hint
  auto r = run_cli("info --json " + shared(kMerlin) + " --read.merlin_scan_from_timestamps true");
  REQUIRE(r.exit_code == 0);
  CHECK(testing::count_lines(r.out) == 1);
  CHECK(r.out.front() == '{');
  CHECK(r.out.substr(r.out.size() - 2) == "}\n");
  CHECK(json_value(r.out, "format") == "\"merlin\"");
  CHECK(json_value(r.out, "shape") == "[2, 4, 256, 256]");
  CHECK(json_value(r.out, "sum") == "3623664");
  CHECK(json_value(r.out, "min") == "0");
  CHECK(json_value(r.out, "max") == "63");
  CHECK(json_value(r.out, "first_frame_sum") == "448386");
  CHECK(json_value(r.out, "last_frame_sum") == "457927");
  CHECK(json_value(r.out, "dtype") == "\">u1\"");
  std::string py = python_check(r.out, "d['shape'] == [2, 4, 256, 256] and d['stats']['sum'] == 3623664 and "
                                       "d['format'] == 'merlin' and d['stats']['n_nan'] == 0 and "
                                       "isinstance(d['metadata'], dict) and isinstance(d['notes'], list)");
  CHECK((py == "ok" || py == "skip"));

  // the reader's default (no ScanX/ScanY in the .hdr): one row of 8 frames
  r = run_cli("info --json " + shared(kMerlin));
  REQUIRE(r.exit_code == 0);
  CHECK(json_value(r.out, "shape") == "[1, 8, 256, 256]");
  CHECK(json_value(r.out, "sum") == "3623664");

  // generic HDF5, gzip chunks
  r = run_cli("info --json " + shared("data/real/dectris/generic_gzip_4d.h5"));
  REQUIRE(r.exit_code == 0);
  CHECK(json_value(r.out, "shape") == "[6, 7, 64, 64]");
  CHECK(json_value(r.out, "chunks") == "[1, 1, 64, 64]");
  CHECK(json_value(r.out, "compression") == "\"gzip\"");
  CHECK(json_value(r.out, "sum") == "957870");
  CHECK(json_value(r.out, "max") == "327");
  CHECK(json_value(r.out, "first_frame_sum") == "19937");
  CHECK(json_value(r.out, "last_frame_sum") == "25875");
  py = python_check(r.out, "d['object'] == '/data/frames' and d['dtype'] == '<u2' and d['frames_present'] == 42");
  CHECK((py == "ok" || py == "skip"));

  // Dectris master with a pixel mask: rejected pixels read as 0
  r = run_cli("info --json " + shared("data/real/dectris/nonzero_master.h5"));
  REQUIRE(r.exit_code == 0);
  CHECK(json_value(r.out, "shape") == "[4, 5, 96, 96]");
  CHECK(json_value(r.out, "bad_pixels") == "5");
  CHECK(json_value(r.out, "sum") == "936045");
  CHECK(json_value(r.out, "max") == "303");
  py = python_check(r.out, "d['format'] == 'dectris' and d['bad_pixels'] == 5 and d['stats']['max'] == 303");
  CHECK((py == "ok" || py == "skip"));

  // 3D float stack with a scan shape, and --no-stats
  r = run_cli("info --json " + shared("data/real/dectris/generic_3d_stack.h5") + " --read.scan_shape 5x6");
  REQUIRE(r.exit_code == 0);
  CHECK(json_value(r.out, "shape") == "[5, 6, 48, 40]");
  CHECK(json_value(r.out, "sum") == "1332204.265625");
  CHECK(json_value(r.out, "min") == "-1.05078125");
  r = run_cli("info --json --no-stats " + shared(kMerlin));
  REQUIRE(r.exit_code == 0);
  CHECK(json_value(r.out, "stats") == "null");
  py = python_check(r.out, "d['stats'] is None and d['n_frames'] == 8");
  CHECK((py == "ok" || py == "skip"));
}

TEST_CASE("cli: info text output") {
  auto r = run_cli("info " + shared("data/real/dectris/generic_gzip_4d.h5"));
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("format        hdf5\n") != std::string::npos);
  CHECK(r.out.find("shape         [6, 7, 64, 64]") != std::string::npos);
  CHECK(r.out.find("compression   gzip\n") != std::string::npos);
  CHECK(r.out.find("  sum              957870\n") != std::string::npos);
  CHECK(r.out.find("  min / max        0 / 327\n") != std::string::npos);
  r = run_cli("info --no-stats " + shared(kMerlin));
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("statistics") == std::string::npos);
  CHECK(r.out.find("frames        8 of 8\n") != std::string::npos);
}

TEST_CASE("cli: --config INI values are applied and overridden by flags") {
  std::string dir = testing::scratch("cli_config");
  std::string ini = dir + "/run.ini";
  write_text(ini, "; test config\n[read]\nscan_shape = 4x2\n");
  auto r = run_cli("info --json --no-stats --config " + ini + " " + shared(kMerlin));
  REQUIRE(r.exit_code == 0);
  CHECK(json_value(r.out, "shape") == "[4, 2, 256, 256]");
  r = run_cli("info --json --no-stats --config " + ini + " --read.scan_shape 2x4 " + shared(kMerlin));
  REQUIRE(r.exit_code == 0);
  CHECK(json_value(r.out, "shape") == "[2, 4, 256, 256]");
  // a malformed value in the INI
  write_text(ini, "[read]\nscan_shape = 3\n");
  r = run_cli("info --no-stats --config " + ini + " " + shared(kMerlin));
  CHECK(r.exit_code == 2);
  CHECK(one_error_line(r, "info"));
  CHECK(r.err.find("read.scan_shape = 3") != std::string::npos);
  // unknown keys in the INI name the file and line
  write_text(ini, "[read]\nscan_shape = 2x4\nbogus = 1\n");
  r = run_cli("info --config " + ini + " " + shared(kMerlin));
  CHECK(r.exit_code == 2);
  CHECK(one_error_line(r, "info"));
  CHECK(r.err.find(ini + ":3") != std::string::npos);
  // a missing config file
  r = run_cli("info --config " + dir + "/none.ini " + shared(kMerlin));
  CHECK(r.exit_code == 2);
  CHECK(r.err.find(dir + "/none.ini") != std::string::npos);
  // [virtual] section for the virtual verb: no --bf needed; the flag overrides it
  write_text(ini, "[virtual]\nbf_radius = 12\n");
  r = run_cli("virtual -q --config " + ini + " " + shared(kMerlin) + " -o " + dir + "/cfg");
  CHECK(r.exit_code == 0);
  CHECK(std::filesystem::exists(dir + "/cfg_bf.png"));
  CHECK_FALSE(std::filesystem::exists(dir + "/cfg_adf.png"));
}

TEST_CASE("cli: convert round trip Merlin -> EMD keeps shape and sum") {
  std::string dir = testing::scratch("cli_convert");
  const std::string out = dir + "/a.h5";
  auto r = run_cli("convert " + shared(kMerlin) + " " + out + " --scan-shape 2x4");
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.rfind("wrote " + out + ": EMD 1.0 DataCube [2, 4, 256, 256]", 0) == 0);
  CHECK(testing::count_lines(r.out) == 1);
  CHECK(files_in(dir) == std::vector<std::string>{"a.h5"});
  r = run_cli("info --json " + out);
  REQUIRE(r.exit_code == 0);
  CHECK(json_value(r.out, "format") == "\"emd\"");
  CHECK(json_value(r.out, "shape") == "[2, 4, 256, 256]");
  CHECK(json_value(r.out, "sum") == "3623664");
  CHECK(json_value(r.out, "first_frame_sum") == "448386");
  CHECK(json_value(r.out, "last_frame_sum") == "457927");

  // short flags: --scan-shape and --compress
  const std::string gz = dir + "/b.h5";
  r = run_cli("convert " + shared(kMerlin) + " " + gz + " --scan-shape 1x8 --compress gzip");
  REQUIRE(r.exit_code == 0);
  r = run_cli("info --json " + gz);
  REQUIRE(r.exit_code == 0);
  CHECK(json_value(r.out, "shape") == "[1, 8, 256, 256]");
  CHECK(json_value(r.out, "compression") == "\"gzip\"");
  CHECK(json_value(r.out, "sum") == "3623664");
  // the long forms work too; short and long disagreeing is an error
  r = run_cli("convert " + shared(kMerlin) + " " + dir + "/c.h5 --read.scan_shape 4x2 --write.compress lz4 -q");
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.empty());
  r = run_cli("info --json --no-stats " + dir + "/c.h5");
  CHECK(json_value(r.out, "shape") == "[4, 2, 256, 256]");
  r = run_cli("convert " + shared(kMerlin) + " " + dir + "/d.h5 --scan-shape 1x8 --read.scan_shape 2x4");
  CHECK(r.exit_code == 2);
  CHECK(one_error_line(r, "convert"));
  // an HDF5 source with gzip chunks, converted under a small memory budget
  r = run_cli("convert " + shared("data/real/dectris/generic_gzip_4d.h5") + " " + dir + "/e.h5 --memory-budget 1M");
  REQUIRE(r.exit_code == 0);
  r = run_cli("info --json " + dir + "/e.h5");
  CHECK(json_value(r.out, "shape") == "[6, 7, 64, 64]");
  CHECK(json_value(r.out, "sum") == "957870");
  CHECK(files_in(dir) == std::vector<std::string>{"a.h5", "b.h5", "c.h5", "e.h5"});
}

TEST_CASE("cli: convert refuses OUT == IN and leaves nothing in a folder it cannot write") {
  std::string dir = testing::scratch("cli_convert_bad");
  const std::string in = dir + "/in.mib";
  std::filesystem::copy_file(shared(kMerlin), in);
  std::filesystem::copy_file(shared("data/real/merlin/001_4x2_6bit.hdr"), dir + "/in.hdr");
  const std::string before = read_file(in);
  auto r = run_cli("convert " + in + " " + in);
  CHECK(r.exit_code == 2);
  CHECK(one_error_line(r, "convert"));
  CHECK(r.err.find("is the input file") != std::string::npos);
  r = run_cli("convert " + in + " " + dir + "/../cli_convert_bad/in.mib");
  CHECK(r.exit_code == 2);
  CHECK(read_file(in) == before);

  // a folder that cannot be written: read-only for a normal user; for root (who may write
  // anywhere) a path below a regular file
  std::string ro = dir + "/readonly";
  std::filesystem::create_directory(ro);
  std::string target = ro + "/out.h5";
  if (::geteuid() == 0) {
    write_text(ro + "/file", "x");
    target = ro + "/file/out.h5";
  } else {
    ::chmod(ro.c_str(), 0555);
  }
  r = run_cli("convert " + in + " " + target);
  CHECK(r.exit_code == 2);
  CHECK(one_error_line(r, "convert"));
  CHECK(r.err.find(target) != std::string::npos);
  ::chmod(ro.c_str(), 0755);
  CHECK(files_in(ro) == (::geteuid() == 0 ? std::vector<std::string>{"file"} : std::vector<std::string>{}));
  // a missing folder
  r = run_cli("convert " + in + " " + dir + "/missing/out.h5");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find(dir + "/missing/out.h5") != std::string::npos);
  CHECK(files_in(dir) == std::vector<std::string>{"in.hdr", "in.mib", "readonly"});
}

TEST_CASE("cli: virtual writes OUT.h5 and the PNGs, all or nothing") {
  std::string dir = testing::scratch("cli_virtual");
  auto r = run_cli("virtual " + shared(kMerlin) + " --read.scan_shape 2x4 --bf 20 --adf 30 80 -o " + dir + "/v");
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("(central beam of the mean pattern)") != std::string::npos);
  CHECK(r.out.find("wrote " + dir + "/v.h5, " + dir + "/v_bf.png") != std::string::npos);
  CHECK(files_in(dir) ==
        std::vector<std::string>{"v.h5", "v_adf.png", "v_bf.png", "v_max_dp.png", "v_mean_dp.png"});
  for (const char* png : {"v_bf.png", "v_adf.png", "v_mean_dp.png", "v_max_dp.png"}) {
    CAPTURE(png);
    std::string bytes = read_file(dir + "/" + png);
    REQUIRE(bytes.size() > 24);
    CHECK(bytes.compare(0, 8, "\x89PNG\r\n\x1a\n", 8) == 0);
  }
  // the BF image is 2 x 4 (scan), the patterns 256 x 256
  std::string bf = read_file(dir + "/v_bf.png");
  CHECK(static_cast<unsigned char>(bf[19]) == 4);   // width
  CHECK(static_cast<unsigned char>(bf[23]) == 2);   // height
  std::string mean = read_file(dir + "/v_mean_dp.png");
  CHECK(static_cast<unsigned char>(mean[18]) == 1);  // 256 = 0x100
  CHECK(static_cast<unsigned char>(mean[19]) == 0);
  // the results file opens as HDF5 with the images
  CHECK(read_file(dir + "/v.h5").compare(0, 8, "\x89HDF\r\n\x1a\n", 8) == 0);

  // OUT given as .h5, a fixed centre, BF only
  std::string d2 = testing::scratch("cli_virtual2");
  r = run_cli("virtual " + shared("data/real/dectris/generic_gzip_4d.h5") + " --bf 6 --center 31 32.5 -o " + d2 +
              "/g.h5 -q");
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.empty());
  CHECK(files_in(d2) == std::vector<std::string>{"g.h5", "g_bf.png", "g_max_dp.png", "g_mean_dp.png"});

  // an output name that is a folder: refused before anything is written
  std::string d3 = testing::scratch("cli_virtual3");
  std::filesystem::create_directory(d3 + "/x_adf.png");
  r = run_cli("virtual " + shared(kMerlin) + " --bf 20 --adf 30 80 -o " + d3 + "/x");
  CHECK(r.exit_code == 2);
  CHECK(one_error_line(r, "virtual"));
  CHECK(r.err.find(d3 + "/x_adf.png") != std::string::npos);
  CHECK(files_in(d3) == std::vector<std::string>{"x_adf.png"});
  // a missing folder
  r = run_cli("virtual " + shared(kMerlin) + " --bf 20 -o " + d3 + "/none/x");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find(d3 + "/none/x.h5") != std::string::npos);
  CHECK(files_in(d3) == std::vector<std::string>{"x_adf.png"});
}

TEST_CASE("cli: params lists the stage parameters") {
  auto r = run_cli("params read --format ini");
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("[read]") != std::string::npos);
  CHECK(r.out.find("scan_shape") != std::string::npos);
  r = run_cli("params nosuchstage");
  CHECK(r.exit_code == 2);
  CHECK(one_error_line(r, "params"));
}

TEST_CASE("cli: map runs every stage on the built-in default and on a dataset") {
  std::string dir = testing::scratch("cli_map");
  auto r = run_cli("map -q -o " + dir + "/demo --simulate.scan 12x10 --simulate.n_grains 4");
  REQUIRE(r.exit_code == 0);
  CHECK(files_in(dir + "/demo") ==
        std::vector<std::string>{"bragg_vector_map.png", "results.h5", "simulated.h5", "simulated.hdr", "simulated.mib",
                                 "truth.h5", "virtual.h5", "virtual_adf.png", "virtual_bf.png", "virtual_max_dp.png",
                                 "virtual_mean_dp.png"});
  CHECK(r.out.find("info: " + dir + "/demo/simulated.h5: emd, shape [12, 10, 128, 128], <u2") != std::string::npos);
  CHECK(r.out.find("peaks: 120 positions") != std::string::npos);
  CHECK(r.out.find("origin: quadratic model, 120 of 120 positions measured") != std::string::npos);
  // the results file is ready for the next stage
  r = run_cli("origin " + dir + "/demo/results.h5 -q --origin.model plane");
  CHECK(r.exit_code == 0);
  // on a real dataset: info, virtual, peaks and origin (a single row of 8 patterns)
  r = run_cli("map -q " + shared("data/real/merlin/001_4x2_6bit.mib") + " -o " + dir + "/real");
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("shape [1, 8, 256, 256]") != std::string::npos);
  CHECK(std::filesystem::exists(dir + "/real/virtual_bf.png"));
  // bad input: no output folder left half-filled with a results file
  r = run_cli("map -q /nonexistent/data.h5 -o " + dir + "/bad");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("/nonexistent/data.h5: no such file") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir + "/bad/results.h5"));
}
