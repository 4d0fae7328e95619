// cli/simulate.cpp: `domainmap simulate OUT [--format emd|mib|raw] [--truth TRUTH.h5]`:
// a kinematic polycrystal dataset and its ground truth (see include/domainmap/simulate.hpp).
#include <cstdio>
#include <filesystem>

#include "common.hpp"
#include "domainmap/error.hpp"
#include "domainmap/simulate.hpp"
#include "stages.hpp"
#include "verbs.hpp"

namespace domainmap::cli {

/// "emd" for .h5/.hdf5/.emd, "mib" for .mib, "raw" for .raw/.bin; "" if unknown.
static std::string format_from_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".h5" || ext == ".hdf5" || ext == ".emd") return "emd";
  if (ext == ".mib") return "mib";
  if (ext == ".raw" || ext == ".bin") return "raw";
  return "";
}

int verb_simulate(const std::vector<std::string>& args) {
  return run_guarded("simulate", [&]() -> int {
    VerbOptions o("simulate", "OUT [--format emd|mib|raw] [--truth TRUTH.h5 | --no-truth] [--simulate.KEY V ...]",
                  "Simulates a thin-film polycrystal (Voronoi grains of 2D lattices at random in-plane angles,\n"
                  "descan, distortion, noise) and writes the data and the ground truth (grain labels, phases,\n"
                  "angles, origins and every Bragg disk position). Default truth file: OUT's stem + _truth.h5.");
    o.options().add_options()
        ("format", po::value<std::string>(), "emd, mib or raw (default: from OUT's extension, else emd)")
        ("truth", po::value<std::string>(), "ground-truth HDF5 file")
        ("no-truth", po::bool_switch(), "do not write the ground truth");
    o.positional("output", 1);
    StageParams sp;
    add_stage(o.params(), sp, "simulate");
    add_stage(o.params(), sp, "write");
    if (!o.parse(args)) return 0;
    auto outs = o.positionals("output");
    if (outs.empty()) fail(ErrorKind::bad_parameter, "", "missing OUT; see 'domainmap simulate --help'");
    const std::string out = outs[0];
    std::string format = o.has("format") ? o.get<std::string>("format") : format_from_extension(out);
    if (format.empty()) format = "emd";
    if (format != "emd" && format != "mib" && format != "raw")
      fail(ErrorKind::bad_parameter, "", "--format = ", format, ": must be emd, mib or raw");
    std::string truth;
    if (!o.get<bool>("no-truth")) {
      if (o.has("truth")) truth = o.get<std::string>("truth");
      else {
        std::filesystem::path p(out);
        truth = (p.parent_path() / (p.stem().string() + "_truth.h5")).string();
      }
      if (truth == out) fail(ErrorKind::bad_parameter, "", "--truth ", truth, ": must differ from OUT");
    }
    RunContext& ctx = o.context();
    install_interrupt_handler(ctx);
    simulate_to_files(sp.simulate, out, format, truth, sp.write, ctx);
    finish_progress(ctx);
    const SimParams& s = sp.simulate;
    std::printf("%s: simulated %lld x %lld scan of %lld x %lld patterns, %d grains (%s)%s%s\n", out.c_str(),
                static_cast<long long>(s.scan.y), static_cast<long long>(s.scan.x),
                static_cast<long long>(s.detector.y), static_cast<long long>(s.detector.x), s.n_grains,
                format.c_str(), truth.empty() ? "" : "; truth in ", truth.c_str());
    return 0;
  });
}

} // namespace domainmap::cli
