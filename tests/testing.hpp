// tests/testing.hpp: helpers shared by the test files: paths of the shared data, a scratch
// folder per test, running the CLI and capturing its output.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <unistd.h>

#include "domainmap/results.hpp"

namespace testing {

/// ../shared beside the project (DOMAINMAP_SHARED_DIR), e.g. shared("data/real/merlin/x.mib").
inline std::string shared(const std::string& rel) { return std::string(DOMAINMAP_SHARED_DIR) + "/" + rel; }

/// A fresh empty folder under the build tree for one test.
inline std::string scratch(const std::string& name) {
  std::filesystem::path p = std::filesystem::path(DOMAINMAP_TEST_TMP) / name;
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

struct CliResult {
  int exit_code = -1;
  std::string out;  ///< stdout
  std::string err;  ///< stderr
};

/// Runs the domainmap CLI with `args` (a shell-quoted string), capturing stdout and stderr.
inline CliResult run_cli(const std::string& args) {
  static int counter = 0;
  std::filesystem::path dir = std::filesystem::path(DOMAINMAP_TEST_TMP) / "cli";
  std::filesystem::create_directories(dir);
  // ctest runs test cases as parallel processes: the pid keeps their capture files apart
  std::string base = (dir / ("run" + std::to_string(::getpid()) + "-" + std::to_string(++counter))).string();
  std::string cmd = std::string(DOMAINMAP_CLI) + " " + args + " >" + base + ".out 2>" + base + ".err </dev/null";
  int status = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  auto slurp = [](const std::string& path) {
    std::string s;
    if (FILE* f = std::fopen(path.c_str(), "rb")) {
      char buf[4096];
      std::size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
      std::fclose(f);
    }
    return s;
  };
  r.out = slurp(base + ".out");
  r.err = slurp(base + ".err");
  return r;
}

/// Number of lines in a string (a trailing newline does not start a new line).
inline int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  if (!s.empty() && s.back() != '\n') ++n;
  return n;
}

/// A new results file for the 6 x 8 maps of the domain-stage tests: header (input "sim",
/// detector 16 x 16, step 2 nm) and, if m is given, its /orientation.
inline void write_orientation_results(const std::string& path, const domainmap::OrientationMap* m) {
  domainmap::ResultsWriter w(path, true);
  domainmap::ResultsHeader h;
  h.input = "sim";
  h.scan = {6, 8};
  h.detector = {16, 16};
  h.scan_step_nm = 2;
  w.write_header(h);
  if (m) w.write_orientation(*m);
  w.commit();
}

} // namespace testing
