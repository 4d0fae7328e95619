// cli/origin.cpp: `domainmap origin R.h5 [--origin.KEY V ...]`: re-fits the origin stage (central
// beam, descan model, ellipse, calibration, Bragg vector map) from the raw peaks stored in a
// results file, without the data. Rewrites /origin, /peaks/qy, /peaks/qx and
// /peaks/bragg_vector_map (deleting every group downstream) through ResultsWriter, and writes
// R_bvm.png beside it. The raw peaks are never changed, so running it twice equals running it once.
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "common.hpp"
#include "domainmap/error.hpp"
#include "domainmap/origin.hpp"
#include "domainmap/png.hpp"
#include "domainmap/results.hpp"
#include "domainmap/write.hpp"
#include "stages.hpp"
#include "verbs.hpp"

namespace domainmap::cli {

namespace {

// R.h5 -> R_bvm.png (any other name: NAME_bvm.png).
std::string bvm_png_path(const std::string& results) {
  std::string stem = results;
  if (stem.size() > 3 && stem.compare(stem.size() - 3, 3, ".h5") == 0) stem.resize(stem.size() - 3);
  return stem + "_bvm.png";
}

} // namespace

int verb_origin(const std::vector<std::string>& args) {
  return run_guarded("origin", [&]() -> int {
    VerbOptions o("origin", "R.h5 [--origin.KEY VALUE ...]",
                  "Re-fits the origin from the raw peaks of a results file (no data needed): the central beam\n"
                  "of every pattern, a robust plane or quadratic descan model over the scan, the elliptical\n"
                  "distortion from one ring, the detector calibration and the Bragg vector map. Rewrites\n"
                  "/origin, /peaks/qy, /peaks/qx and /peaks/bragg_vector_map, deletes the groups downstream\n"
                  "(/orientation ...), stores the origin.* parameters under /config and writes R_bvm.png\n"
                  "(log scale) beside R.h5. The raw peaks are kept: running it twice equals running it once.");
    o.positional("results", 1);
    StageParams sp;
    add_stage(o.params(), sp, "origin");
    if (!o.parse(args)) return 0;
    const std::vector<std::string> inputs = o.positionals("results");
    if (inputs.empty()) fail(ErrorKind::bad_parameter, "", "missing R.h5; see 'domainmap origin --help'");
    const std::string path = inputs[0];
    const std::string png = bvm_png_path(path);
    {
      std::error_code ec;
      if (!std::filesystem::exists(path, ec))
        fail(ErrorKind::bad_input, path, "no such file; run 'domainmap peaks DATA -o ", path, "' first");
      if (std::filesystem::is_directory(png, ec))
        fail(ErrorKind::bad_parameter, png, "is a folder; cannot write the Bragg vector map there");
    }

    RunContext& ctx = o.context();
    install_interrupt_handler(ctx);
    validate(sp.origin);
    const ResultsHeader header = read_results_header(path);
    // the dataset's own calibration: /scan input_q_pixel_inv_A, or, in files written before it
    // existed, /scan q_pixel_inv_A unless an earlier origin run set that one
    double input_q = header.input_q_pixel_inv_A;
    if (!(input_q > 0) && header.q_pixel_inv_A > 0) {
      const std::string before = results_has(path, "origin") ? read_origin(path).calibration_source : "none";
      if (before == "none" || before == "dataset") input_q = header.q_pixel_inv_A;
    }
    // the peaks are read from R.h5 chunk by chunk and the corrected vectors written into the
    // transaction as they come; the PNG is written beside it, both renamed when complete
    ResultsWriter w(path, false);
    OriginResult r;
    try {
      r = run_origin_streamed(w, sp.origin, input_q, ctx);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::bad_input) throw;  // parameter errors name the key, not the file
      const std::string msg = e.what();
      if (msg.rfind(path, 0) == 0) throw;
      fail(e.kind(), path, msg);
    }
    finish_progress(ctx);
    const std::int64_t n_positions = r.origin.scan.y * r.origin.scan.x;

    const std::string png_tmp = temporary_name_for(png);
    try {
      PngScaling log_scale;
      log_scale.scale = PngScale::log;
      const int m = static_cast<int>(r.bvm.size);
      write_png_gray(png_tmp, r.bvm.counts.data(), m, m, log_scale);
      w.write_config("origin", o.params().values());
      w.write_origin(r.origin, r.ellipse, r.bvm);
      w.commit();
    } catch (...) {
      discard_temporary(png_tmp);
      throw;
    }
    commit_temporary(png_tmp, png);

    if (!o.quiet()) {
      char line[256];
      std::snprintf(line, sizeof line, "origin: %s model, central beam at %lld of %lld positions, %lld outliers, "
                    "RMS residual %.4f px\n", r.model.c_str(), static_cast<long long>(r.n_measured),
                    static_cast<long long>(n_positions), static_cast<long long>(r.n_outliers),
                    r.residual_rms_px);
      std::cout << line;
      if (r.ellipse.fitted) {
        std::snprintf(line, sizeof line, "ellipse: b/a = %.6f, theta = %.3f deg (ring %.2f..%.2f px, %lld peaks)\n",
                      r.ellipse.b / r.ellipse.a, r.ellipse.theta_deg, r.ring_q_min_px, r.ring_q_max_px,
                      static_cast<long long>(r.ring_points));
        std::cout << line;
      } else {
        std::cout << "ellipse: not fitted\n";
      }
      if (r.origin.q_pixel_inv_A > 0) {
        std::snprintf(line, sizeof line, "detector pixel: %.6g 1/A (%s)\n", r.origin.q_pixel_inv_A,
                      r.origin.calibration_source.c_str());
        std::cout << line;
      }
      std::cout << "wrote " << path << " (/origin, /peaks/qy, /peaks/qx, /peaks/bragg_vector_map), " << png << "\n";
    }
    return 0;
  });
}

} // namespace domainmap::cli
