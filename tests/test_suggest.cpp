// tests/test_suggest.cpp: `peaks --suggest`: parameters estimated from simulated data with a
// known disk radius and lattices, the picture, determinism, the CLI and bad input.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "domainmap/error.hpp"
#include "domainmap/peaks.hpp"
#include "domainmap/simulate.hpp"
#include "domainmap/suggest.hpp"
#include "domainmap/write.hpp"
#include "testing.hpp"

using namespace domainmap;

namespace {

SimParams suggest_sim() {
  SimParams p;
  p.scan = {12, 12};
  p.detector = {96, 96};
  p.n_grains = 4;
  p.max_g_px = 40;
  p.disk_radius_px = 4;
  p.dose = 20000;
  return p;
}

// smallest |g| of the phases in use (presets hexagonal 18 px, square 22 px)
double smallest_g(const SimParams& p) {
  double g = INFINITY;
  for (int i = 0; i < p.n_phases; ++i) g = std::min(g, p.phases[static_cast<std::size_t>(i)].a_px);
  return g;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

} // namespace

TEST_CASE("suggest: probe radius, spacing, edge and thresholds from simulated data") {
  const SimParams sp = suggest_sim();
  auto src = make_simulated_source(sp, 1);
  RunContext ctx;
  ctx.threads = 1;
  std::vector<SamplePeaks> samples;
  const PeaksSuggestion s = suggest_peaks_params(*src, PeaksParams{}, ctx, 9, &samples);
  MESSAGE("radius ", s.probe_radius_px, " spacing ", s.min_peak_spacing_px, " edge ", s.edge_boundary_px, " rel ",
          s.min_relative_intensity, " sigma_cc ", s.sigma_cc, " nn p10 ", s.nn_distance_p10_px, " sample peaks ",
          s.sample_peaks);
  CHECK(std::abs(s.probe_radius_px - sp.disk_radius_px) < 0.5);
  CHECK(s.min_peak_spacing_px >= 2 * s.probe_radius_px - 1e-9);
  CHECK(s.min_peak_spacing_px < smallest_g(sp));
  CHECK(s.edge_boundary_px >= s.probe_radius_px);
  CHECK(s.min_relative_intensity > 0);
  CHECK(s.min_relative_intensity < 0.1);
  CHECK(s.min_absolute_intensity == 0);
  CHECK(s.sigma_cc > 0);
  const auto params = s.as_params();
  REQUIRE(params.size() == 6);
  CHECK(s.reasons.size() >= params.size());
  CHECK(params[0].first == "peaks.probe_radius");
  CHECK(params[2].first == "peaks.min_peak_spacing");
  // 3 x 3 grid of distinct positions, each with the central beam and some Bragg disks
  REQUIRE(samples.size() == 9);
  for (const SamplePeaks& smp : samples) {
    CHECK(smp.pattern.size() == 96u * 96u);
    CHECK(smp.peaks.size() >= 3);
  }
  CHECK(samples[0].ry == 2);
  CHECK(samples[0].rx == 2);
  CHECK(samples[8].ry == 10);
  CHECK(samples[8].rx == 10);

  // the picture
  const std::string dir = testing::scratch("suggest_lib");
  write_suggest_png(dir + "/s.png", samples, s.probe_radius_px);
  const std::string png = slurp(dir + "/s.png");
  REQUIRE(png.size() > 8);
  CHECK(png.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);

  // deterministic, also with another thread count
  auto src2 = make_simulated_source(sp, 2);
  RunContext ctx2;
  ctx2.threads = 2;
  std::vector<SamplePeaks> samples2;
  const PeaksSuggestion s2 = suggest_peaks_params(*src2, PeaksParams{}, ctx2, 9, &samples2);
  CHECK(s2.as_params() == params);
  CHECK(s2.reasons == s.reasons);
  REQUIRE(samples2.size() == samples.size());
  for (std::size_t i = 0; i < samples.size(); ++i) CHECK(samples2[i].peaks.size() == samples[i].peaks.size());

  // a given radius is kept
  PeaksParams given;
  given.probe_radius = 4.5;
  const PeaksSuggestion s3 = suggest_peaks_params(*src, given, ctx);
  CHECK(s3.probe_radius_px == 4.5);
  CHECK(s3.min_peak_spacing_px >= 9);
  CHECK(s3.reasons[0] == "given");
  CHECK_THROWS_AS(suggest_peaks_params(*src, PeaksParams{}, ctx, 0), Error);
}

TEST_CASE("suggest: with the significance and isotropy tests off, the relative threshold falls in the noise gap") {
  // Noise maxima of the correlation are far dimmer than the weakest disk: the suggested
  // min_relative_intensity must sit in that gap, so that the suggested settings alone (no
  // significance or isotropy test) find only disks, where no threshold lets noise flood in.
  const SimParams sp = suggest_sim();
  auto src = make_simulated_source(sp, 1);
  RunContext ctx;
  PeaksParams base;
  base.min_significance = 0;
  base.min_isotropy = 0;
  const PeaksSuggestion s = suggest_peaks_params(*src, base, ctx, 9);
  bool gap_reason = false;
  for (const std::string& r : s.reasons) gap_reason |= r.rfind("the sample's relative intensities have a gap", 0) == 0;
  CHECK(gap_reason);
  MESSAGE("suggested min_relative_intensity ", s.min_relative_intensity);
  const SimTruth t = simulate_truth(sp);
  auto precision = [&](double min_rel) {
    PeaksParams p = base;
    p.min_relative_intensity = min_rel;
    p.min_peak_spacing = s.min_peak_spacing_px;
    const PeakList got = find_peaks(*src, p, ctx);
    std::int64_t correct = 0;
    for (std::size_t pos = 0; pos < got.n_positions(); ++pos)
      for (std::size_t k = got.begin_of(pos); k < got.end_of(pos); ++k) {
        bool hit = false;
        for (const SimDisks* d : {&t.disks, &t.edge_disks})
          for (std::uint64_t i = d->offsets[pos]; i < d->offsets[pos + 1] && !hit; ++i)
            hit = std::hypot(got.qy_raw[k] - d->qy[i], got.qx_raw[k] - d->qx[i]) < 2;
        correct += hit;
      }
    return std::pair<double, std::size_t>(double(correct) / std::max<std::size_t>(1, got.size()), got.size());
  };
  const auto [with, n_with] = precision(s.min_relative_intensity);
  const auto [without, n_without] = precision(1e-9);
  MESSAGE("precision with the suggested threshold ", with, " (", n_with, " peaks), with none ", without, " (", n_without, " peaks)");
  CHECK(with >= 0.99);
  CHECK(without < 0.8);
  CHECK(n_with > sp.scan.y * sp.scan.x * 3);
}

TEST_CASE("suggest: CLI prints an INI section and writes the picture, deterministically") {
  const std::string dir = testing::scratch("suggest_cli");
  const std::string data = dir + "/sim.h5";
  RunContext ctx;
  simulate_to_files(suggest_sim(), data, "emd", "", WriteParams{}, ctx);
  testing::CliResult r = testing::run_cli("peaks " + data + " --suggest -o " + dir + "/a -q");
  CHECK(r.exit_code == 0);
  CHECK(r.err == "");
  MESSAGE(r.out);
  CHECK(r.out.rfind("[peaks]\n", 0) == 0);
  CHECK(r.out.find("\nmin_peak_spacing = ") != std::string::npos);
  CHECK(r.out.find("\nprobe_radius = ") != std::string::npos);
  CHECK(r.out.find(dir + "/a.png") != std::string::npos);
  const std::string png = slurp(dir + "/a.png");
  REQUIRE(png.size() > 8);
  CHECK(png.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  CHECK_FALSE(std::filesystem::exists(dir + "/a"));
  // same output twice (apart from the picture's name)
  testing::CliResult r2 = testing::run_cli("peaks " + data + " --suggest -o " + dir + "/b.png -q");
  CHECK(r2.exit_code == 0);
  std::string o1 = r.out, o2 = r2.out;
  o1.replace(o1.find(dir + "/a.png"), (dir + "/a.png").size(), "X");
  o2.replace(o2.find(dir + "/b.png"), (dir + "/b.png").size(), "X");
  CHECK(o1 == o2);
  CHECK(slurp(dir + "/b.png") == png);
  // the suggestion is accepted back as flags
  r = testing::run_cli("peaks " + data + " --suggest -o " + dir + "/c --min_peak_spacing 10 -q");
  CHECK(r.exit_code == 0);
}

TEST_CASE("suggest: bad input exits 2 with one line") {
  const std::string dir = testing::scratch("suggest_bad");
  testing::CliResult r = testing::run_cli("peaks " + dir + "/missing.h5 --suggest -o " + dir + "/a");
  CHECK(r.exit_code == 2);
  CHECK(testing::count_lines(r.err) == 1);
  CHECK_FALSE(std::filesystem::exists(dir + "/a.png"));
  r = testing::run_cli("peaks " + dir + "/missing.h5 --suggest -o " + dir + "/nofolder/a");
  CHECK(r.exit_code == 2);
  CHECK(testing::count_lines(r.err) == 1);
}
