// cli/map.cpp: `domainmap map [DATA] -o OUTDIR`: runs every stage built so far on a dataset,
// or, without DATA, on the built-in default: a simulated two-phase polycrystal.
//
// Stages so far: (simulate, written as Merlin .mib with its truth) -> convert to EMD 1.0 ->
// info (streamed statistics) -> virtual images (bright field, annular dark field, mean and
// maximum patterns) with the probe centre and radius measured from the mean pattern unless
// --virtual.* gives them -> peaks -> origin, into OUTDIR/results.h5 with a picture of the
// Bragg vector map.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "common.hpp"
#include "domainmap/dataset.hpp"
#include "domainmap/error.hpp"
#include "domainmap/png.hpp"
#include "domainmap/results.hpp"
#include "domainmap/simulate.hpp"
#include "domainmap/virtual.hpp"
#include "domainmap/write.hpp"
#include "stages.hpp"
#include "verbs.hpp"

namespace domainmap::cli {

namespace {

// Mean pattern of a dataset, streamed (double accumulation per pixel, frames in raster order).
std::vector<float> mean_pattern(FrameSource& src, RunContext& ctx) {
  const Shape4& s = src.shape();
  std::vector<double> acc(static_cast<std::size_t>(s.frame_pixels()), 0.0);
  BlockStream stream(src, ctx.memory_budget);
  for (FrameBlock b; stream.next(b);) {
    check_cancel(ctx);
    for (std::int64_t i = 0; i < b.n_frames; ++i) {
      const float* f = b.frame(i);
      for (std::int64_t j = 0; j < b.frame_pixels; ++j) acc[static_cast<std::size_t>(j)] += f[j];
    }
    ctx.report("mean", b.first_frame + b.n_frames, s.n_frames());
  }
  std::vector<float> out(acc.size());
  for (std::size_t j = 0; j < acc.size(); ++j) out[j] = static_cast<float>(acc[j] / static_cast<double>(s.n_frames()));
  return out;
}

// Radius of the central beam: where the azimuthal mean of the mean pattern around (cy, cx)
// first falls below half-way between its value at the centre and the background (the median
// of the pattern).
double probe_radius(const std::vector<float>& mean, std::int64_t ny, std::int64_t nx, double cy, double cx) {
  std::vector<float> sorted(mean);
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(sorted.size() / 2), sorted.end());
  const double background = sorted[sorted.size() / 2];
  const int nbins = static_cast<int>(std::ceil(std::hypot(double(ny), double(nx)))) + 1;
  std::vector<double> sum(static_cast<std::size_t>(nbins), 0.0), count(static_cast<std::size_t>(nbins), 0.0);
  for (std::int64_t i = 0; i < ny; ++i)
    for (std::int64_t j = 0; j < nx; ++j) {
      const int r = static_cast<int>(std::lround(std::hypot(double(i) - cy, double(j) - cx)));
      sum[static_cast<std::size_t>(r)] += mean[static_cast<std::size_t>(i * nx + j)];
      count[static_cast<std::size_t>(r)] += 1;
    }
  const double centre = count[0] > 0 ? sum[0] / count[0] : mean[static_cast<std::size_t>(std::lround(cy) * nx + std::lround(cx))];
  const double half = 0.5 * (centre + background);
  for (int r = 1; r < nbins; ++r) {
    if (count[static_cast<std::size_t>(r)] == 0) continue;
    const double v = sum[static_cast<std::size_t>(r)] / count[static_cast<std::size_t>(r)];
    if (v < half) return std::max(1.0, r - 0.5);
  }
  return 1.0;
}

std::string join(const std::filesystem::path& dir, const char* name) { return (dir / name).string(); }

} // namespace

int verb_map(const std::vector<std::string>& args) {
  return run_guarded("map", [&]() -> int {
    VerbOptions o("map", "[DATA] -o OUTDIR [stage options]",
                  "Runs every stage built so far: info, virtual images, peaks and origin (and, without DATA,\n"
                  "first simulates the built-in default polycrystal as Merlin .mib and converts it to EMD 1.0).\n"
                  "Outputs in OUTDIR: simulated.mib, truth.h5, simulated.h5 (built-in default only),\n"
                  "virtual.h5, virtual_bf.png, virtual_adf.png, virtual_mean_dp.png, virtual_max_dp.png,\n"
                  "results.h5 (/peaks, /origin, /config), bragg_vector_map.png.");
    o.options().add_options()("output,o", po::value<std::string>(), "output folder (created if missing)");
    o.positional("input", 1);
    StageParams sp;
    sp.simulate.scan = {48, 48};  // the built-in default: big enough to see grains, quick to run
    sp.write.compress = "gzip";
    add_stage(o.params(), sp, "read");
    add_stage(o.params(), sp, "simulate");
    add_stage(o.params(), sp, "write");
    add_stage(o.params(), sp, "virtual");
    add_stage(o.params(), sp, "peaks");
    add_stage(o.params(), sp, "origin");
    if (!o.parse(args)) return 0;
    if (!o.has("output")) fail(ErrorKind::bad_parameter, "", "missing -o OUTDIR; see 'domainmap map --help'");
    const std::filesystem::path outdir = o.get<std::string>("output");
    std::error_code ec;
    std::filesystem::create_directories(outdir, ec);
    if (ec || !std::filesystem::is_directory(outdir))
      fail(ErrorKind::io, outdir.string(), "cannot create output folder", ec ? ": " + ec.message() : "");
    RunContext& ctx = o.context();
    install_interrupt_handler(ctx);

    std::string data;
    auto inputs = o.positionals("input");
    if (inputs.empty()) {
      const std::string mib = join(outdir, "simulated.mib");
      const std::string truth = join(outdir, "truth.h5");
      WriteParams raw_counts;  // counts as they come off a detector
      SimParams sim = sp.simulate;
      if (sim.dose == 0) sim.dose = 20000;  // a realistic dose unless one was asked for
      simulate_to_files(sim, mib, "mib", truth, raw_counts, ctx);
      finish_progress(ctx);
      std::printf("simulate: %s (%lld x %lld scan, %lld x %lld patterns, %d grains), truth %s\n", mib.c_str(),
                  static_cast<long long>(sim.scan.y), static_cast<long long>(sim.scan.x),
                  static_cast<long long>(sim.detector.y), static_cast<long long>(sim.detector.x), sim.n_grains,
                  truth.c_str());
      data = join(outdir, "simulated.h5");
      auto src = open_dataset(mib, sp.read);
      write_emd(*src, data, sp.write, ctx);
      finish_progress(ctx);
      std::printf("convert: %s -> %s (EMD 1.0, %s)\n", mib.c_str(), data.c_str(), sp.write.compress.c_str());
    } else {
      data = inputs[0];
    }

    auto src = open_dataset(data, sp.read);
    const DatasetInfo& info = src->info();
    const Shape4& s = src->shape();
    DatasetStats st = compute_stats(*src, ctx);
    finish_progress(ctx);
    std::printf("info: %s: %s, shape [%lld, %lld, %lld, %lld], %s, sum %.17g, min %g, max %g, mean %g\n", data.c_str(),
                info.format.c_str(), static_cast<long long>(s.scan_y), static_cast<long long>(s.scan_x),
                static_cast<long long>(s.det_y), static_cast<long long>(s.det_x), info.dtype.c_str(), st.sum, st.min,
                st.max, st.mean);
    for (const auto& n : info.notes) ctx.warn(n);

    VirtualParams vp = sp.virtual_images;
    if (vp.bf_radius == 0 && vp.adf_outer == 0) {
      // measure the probe from the mean pattern: BF = the central disk, ADF = outside it to the edge
      std::vector<float> mean = mean_pattern(*src, ctx);
      finish_progress(ctx);
      if (vp.center_y < 0 || vp.center_x < 0) {
        auto [cy, cx] = find_central_beam(mean, s.det_y, s.det_x);
        vp.center_y = cy;
        vp.center_x = cx;
      }
      const double r = probe_radius(mean, s.det_y, s.det_x, vp.center_y, vp.center_x);
      const double edge = std::min({vp.center_y, vp.center_x, double(s.det_y - 1) - vp.center_y,
                                    double(s.det_x - 1) - vp.center_x});
      vp.bf_radius = r;
      if (edge > r + 3) {
        vp.adf_inner = r + 2;
        vp.adf_outer = edge;
      }
    }
    VirtualImages v = compute_virtual(*src, vp, ctx);
    finish_progress(ctx);
    const std::string h5 = join(outdir, "virtual.h5");
    write_virtual_h5(v, h5, data, o.params().values());
    const int ry = static_cast<int>(v.scan.y), rx = static_cast<int>(v.scan.x);
    const int qy = static_cast<int>(v.detector.y), qx = static_cast<int>(v.detector.x);
    std::vector<std::string> pngs;
    if (!v.bf.empty()) {
      pngs.push_back(join(outdir, "virtual_bf.png"));
      write_png_gray(pngs.back(), v.bf.data(), ry, rx);
    }
    if (!v.adf.empty()) {
      pngs.push_back(join(outdir, "virtual_adf.png"));
      write_png_gray(pngs.back(), v.adf.data(), ry, rx);
    }
    PngScaling log_scale;
    log_scale.scale = PngScale::log;
    pngs.push_back(join(outdir, "virtual_mean_dp.png"));
    write_png_gray(pngs.back(), v.mean_dp.data(), qy, qx, log_scale);
    pngs.push_back(join(outdir, "virtual_max_dp.png"));
    write_png_gray(pngs.back(), v.max_dp.data(), qy, qx, log_scale);
    std::printf("virtual: centre (%.2f, %.2f) px, BF radius %.2f px, ADF %.2f..%.2f px -> %s", v.center_y, v.center_x,
                v.bf_radius, v.adf_inner, v.adf_outer, h5.c_str());
    for (const auto& p : pngs) std::printf(", %s", std::filesystem::path(p).filename().c_str());
    std::printf("\n");

    // peaks + origin -> the results file, and a picture of the Bragg vector map
    const std::string results = join(outdir, "results.h5");
    std::printf("%s", run_peaks_stage(*src, sp, o.params(), results, true, ctx).c_str());
    finish_progress(ctx);
    if (results_has(results, "origin")) {
      BraggVectorMap bvm = read_bragg_vector_map(results);
      const std::string png = join(outdir, "bragg_vector_map.png");
      write_png_gray(png, bvm.counts.data(), static_cast<int>(bvm.size), static_cast<int>(bvm.size), log_scale);
      std::printf("origin: Bragg vector map %lld x %lld (bin %.2f px) -> %s\n", static_cast<long long>(bvm.size),
                  static_cast<long long>(bvm.size), bvm.pixel, png.c_str());
    }
    return 0;
  });
}

} // namespace domainmap::cli
