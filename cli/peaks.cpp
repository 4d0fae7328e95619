// cli/peaks.cpp: `domainmap peaks DATA -o R.h5`: finds the Bragg disks of every pattern
// (stage peaks) and fits the origin (stage origin), so that R.h5 is ready for indexing.
// R.h5 is written to a temporary name and renamed when complete.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>

#include "common.hpp"
#include "domainmap/dataset.hpp"
#include "domainmap/error.hpp"
#include "domainmap/peaks.hpp"
#include "domainmap/results.hpp"
#include "domainmap/suggest.hpp"
#include "stages.hpp"
#include "verbs.hpp"
#include "domainmap/origin.hpp"

namespace domainmap::cli {

namespace fs = std::filesystem;

namespace {

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  if (!fs::exists(a, ec) || !fs::exists(b, ec)) return false;
  return fs::equivalent(a, b, ec);
}

// "peaks.sigma_cc" -> "sigma_cc"
std::string short_name(const std::string& key) { return key.substr(key.find('.') + 1); }

// Counts what passes through to the results file, for the summary line.
class CountingSink : public PeakSink {
public:
  explicit CountingSink(PeakSink& inner) : inner_(inner) {}
  void begin(Shape2 scan, Shape2 detector) override { inner_.begin(scan, detector); }
  void consume(const PeakChunk& c) override {
    n_peaks += c.n_peaks();
    for (std::int64_t k = 0; k < c.n_positions; ++k) n_empty += c.offsets[k + 1] == c.offsets[k];
    inner_.consume(c);
  }
  void end() override { inner_.end(); }
  std::uint64_t n_peaks = 0;
  std::int64_t n_empty = 0;
private:
  PeakSink& inner_;
};

} // namespace

std::size_t peak_chunk_bytes(const RunContext& ctx) {
  return std::clamp<std::size_t>(ctx.memory_budget / 4, std::size_t(1) << 16, std::size_t(16) << 20);
}

OriginResult run_origin_streamed(ResultsWriter& w, const OriginParams& op, double input_q_pixel_inv_A, RunContext& ctx) {
  std::unique_ptr<PeakChunkSource> src = w.peaks_source(peak_chunk_bytes(ctx));
  bool started = false;
  OriginResult r = fit_origin(*src, op, ctx, [&](const PeakChunk& c, const float* qy, const float* qx) {
    if (!started) w.begin_corrected();
    started = true;
    w.append_corrected(c.first_peak(), c.n_peaks(), qy, qx);
  });
  src.reset();
  if (!(r.q_pixel_inv_A > 0) && input_q_pixel_inv_A > 0) {
    r.origin.q_pixel_inv_A = input_q_pixel_inv_A;
    r.origin.calibration_source = "dataset";
  }
  return r;
}

std::string run_peaks_stage(FrameSource& src_ref, StageParams& sp, const ParamList& params, const std::string& out,
                            bool with_origin_flag, RunContext& ctx) {
  FrameSource* src = &src_ref;
  const OriginParams& op = sp.origin;
  std::error_code ec;
  const auto t0 = std::chrono::steady_clock::now();
  PeakSetup setup = prepare_peaks(*src, sp.peaks, ctx);
  finish_progress(ctx);
  for (const std::string& n : setup.notes) ctx.info(n);
  const auto t1 = std::chrono::steady_clock::now();

  const Shape4& s = src->shape();
  ResultsHeader h;
  h.input = fs::absolute(src->info().path, ec).string();
  if (ec) h.input = src->info().path;
  h.scan = {s.scan_y, s.scan_x};
  h.detector = {s.det_y, s.det_x};
  const Calibration& cal = src->info().calibration;
  if (cal.known && cal.r_units == "nm") h.scan_step_nm = cal.r_pixel_size;
  if (cal.known && cal.q_units == "A^-1") h.q_pixel_inv_A = h.input_q_pixel_inv_A = cal.q_pixel_size;

  // the peaks go to the results file block by block, never all in memory
  ResultsWriter w(out, true);
  w.write_header(h);
  // the effective parameters of every stage that ran, by stage
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> cfg;
  for (const auto& kv : params.values()) cfg[kv.first.substr(0, kv.first.find('.'))].push_back(kv);
  for (const auto& [stage, values] : cfg)
    if (stage != "peaks" && stage != "origin") w.write_config(stage, values);
  std::unique_ptr<PeakSink> file_sink = w.peaks_sink();
  CountingSink counted(*file_sink);
  find_peaks(*src, sp.peaks, setup, ctx, counted);
  finish_progress(ctx);
  const auto t2 = std::chrono::steady_clock::now();
  w.write_config("peaks", cfg["peaks"]);

  std::string origin_summary;
  if (with_origin_flag) {
    try {
      OriginResult res = run_origin_streamed(w, op, h.input_q_pixel_inv_A, ctx);
      w.write_origin(res.origin, res.ellipse, res.bvm);
      w.write_config("origin", cfg["origin"]);
      char buf[200];
      std::snprintf(buf, sizeof buf, "; origin: %s model, %lld of %lld positions measured, residual %.3f px%s",
                    res.model.c_str(), static_cast<long long>(res.n_measured), static_cast<long long>(s.n_frames()),
                    res.residual_rms_px, res.ellipse.fitted ? ", ellipse fitted" : "");
      origin_summary = buf;
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::bad_input) throw;
      ctx.warn(std::string("origin not fitted: ") + e.what() + "; /peaks is written without corrected vectors");
    }
  }
  w.commit();

  char line[1024];
  const double secs = std::chrono::duration<double>(t2 - t1).count();
  const double prep = std::chrono::duration<double>(t1 - t0).count();
  const auto positions = static_cast<long long>(s.n_frames());
  const auto n_peaks = static_cast<std::size_t>(counted.n_peaks);
  std::snprintf(line, sizeof line,
                "peaks: %lld positions, %zu peaks, %.2f per position (%lld with none), %.0f patterns/s "
                "(%.2f s, prescan %.2f s)%s -> %s\n",
                positions, n_peaks, positions ? static_cast<double>(n_peaks) / positions : 0.0,
                static_cast<long long>(counted.n_empty), secs > 0 ? positions / secs : 0.0, secs, prep,
                origin_summary.c_str(), out.c_str());
  return line;
}

namespace {

// `peaks DATA --suggest [-o PREFIX]`: prints the suggested [peaks] section, draws PREFIX.png.
int run_suggest(VerbOptions& o, StageParams& sp, const std::string& input) {
  std::string prefix = o.has("output") ? o.get<std::string>("output") : std::string("suggest");
  if (prefix.empty()) fail(ErrorKind::bad_parameter, "", "-o: empty prefix");
  std::string png = prefix;
  if (png.size() < 4 || png.compare(png.size() - 4, 4, ".png") != 0) png += ".png";
  std::error_code ec;
  if (fs::is_directory(png, ec)) fail(ErrorKind::bad_parameter, png, "is a folder; choose another prefix");
  {
    fs::path parent = fs::path(png).parent_path();
    if (parent.empty()) parent = ".";
    if (!fs::is_directory(parent, ec)) fail(ErrorKind::io, png, "folder ", parent.string(), " does not exist");
  }
  validate(sp.peaks);
  RunContext& ctx = o.context();
  install_interrupt_handler(ctx);
  auto src = open_dataset(input, sp.read);
  if (same_file(png, input) || same_file(png, src->info().path))
    fail(ErrorKind::bad_parameter, png, "is the input file; choose another prefix");
  for (const auto& n : src->info().notes) ctx.warn(n);
  std::vector<SamplePeaks> samples;
  const PeaksSuggestion sg = suggest_peaks_params(*src, sp.peaks, ctx, 9, &samples);
  finish_progress(ctx);
  write_suggest_png(png, samples, sg.probe_radius_px);
  const auto params = sg.as_params();
  std::string text = "[peaks]\n";
  for (std::size_t i = 0; i < params.size(); ++i) {
    text += short_name(params[i].first) + " = " + params[i].second;
    if (i < sg.reasons.size()) text += "  ; " + sg.reasons[i];
    text += "\n";
  }
  for (std::size_t i = params.size(); i < sg.reasons.size(); ++i) text += "; " + sg.reasons[i] + "\n";
  std::int64_t found = 0;
  for (const SamplePeaks& s : samples) found += static_cast<std::int64_t>(s.peaks.size());
  text += "; with these settings: " + std::to_string(found) + " peaks in " + std::to_string(samples.size()) +
          " sample patterns, drawn in " + png + "\n";
  std::printf("%s", text.c_str());
  return 0;
}

} // namespace

int verb_peaks(const std::vector<std::string>& args) {
  return run_guarded("peaks", [&]() -> int {
    VerbOptions o("peaks", "DATA -o R.h5 [--peaks.KEY V ...] [--origin.KEY V ...]  |  DATA --suggest [-o PREFIX]",
                  "Finds the Bragg disks in every pattern of DATA by template matching (py4DSTEM's\n"
                  "find_Bragg_disks; flags named after its parameters), then fits the origin (central beam,\n"
                  "descan, ellipse) so that R.h5 is ready for indexing. The defaults need no tuning: the\n"
                  "template is a soft disk of the radius measured on the mean pattern with a zero-mean\n"
                  "sigmoid trench; hot and dead pixels are found and replaced. Every peaks.KEY flag also\n"
                  "works without the 'peaks.' prefix (--sigma_cc 2). Writes R.h5: /peaks (offsets, qy_raw,\n"
                  "qx_raw, intensity, corrected qy, qx, bragg_vector_map), /origin, /scan, /config.\n"
                  "With --suggest nothing is written but a picture: the probe radius, spacing, edge margin and\n"
                  "thresholds are estimated from the data (mean pattern, a 3x3 grid of sample patterns) and\n"
                  "printed as an INI [peaks] section with the reasons; PREFIX.png (default ./suggest.png)\n"
                  "shows the sample patterns with the peaks those settings find (red circles).");
    o.options().add_options()("output,o", po::value<std::string>()->value_name("R.h5"), "results file to write")(
        "no-origin", po::bool_switch(), "find the peaks only (no origin fit, no corrected vectors)")(
        "suggest", po::bool_switch(), "estimate the peaks parameters from DATA, print them, draw PREFIX.png");
    o.positional("input", 1);
    StageParams sp;
    add_stage(o.params(), sp, "read");
    add_stage(o.params(), sp, "peaks");
    add_stage(o.params(), sp, "origin");
    OriginParams& op = sp.origin;
    // short aliases of the peaks parameters
    std::vector<std::string> aliases;
    for (const ParamRef& r : o.params().refs())
      if (r.key.rfind("peaks.", 0) == 0) aliases.push_back(short_name(r.key));
    po::options_description alias_opts;
    for (const std::string& a : aliases) alias_opts.add_options()(a.c_str(), po::value<std::string>(), "");
    // parse with the aliases as hidden verb options
    o.options().add(alias_opts);
    if (!o.parse(args)) return 0;
    for (const std::string& a : aliases)
      if (o.has(a.c_str())) {
        if (o.has(("peaks." + a).c_str()))
          fail(ErrorKind::bad_parameter, "", "give either --", a, " or --peaks.", a, ", not both");
        o.params().set("peaks." + a, o.get<std::string>(a.c_str()));
      }

    const std::vector<std::string> inputs = o.positionals("input");
    if (inputs.empty()) fail(ErrorKind::bad_parameter, "", "missing DATA; see 'domainmap peaks --help'");
    if (o.vm()["suggest"].as<bool>()) return run_suggest(o, sp, inputs[0]);
    if (!o.has("output")) fail(ErrorKind::bad_parameter, "", "missing -o R.h5; see 'domainmap peaks --help'");
    const std::string out = o.get<std::string>("output");
    if (out.empty()) fail(ErrorKind::bad_parameter, "", "-o: empty output name");
    std::error_code ec;
    if (fs::is_directory(out, ec)) fail(ErrorKind::bad_parameter, out, "is a folder; choose another output name");
    validate(sp.peaks);
    validate(op);

    RunContext& ctx = o.context();
    install_interrupt_handler(ctx);
    auto src = open_dataset(inputs[0], sp.read);
    if (same_file(out, inputs[0]) || same_file(out, src->info().path))
      fail(ErrorKind::bad_parameter, out, "is the input file; choose another output name");
    {
      fs::path parent = fs::path(out).parent_path();
      if (parent.empty()) parent = ".";
      if (!fs::is_directory(parent, ec)) fail(ErrorKind::io, out, "folder ", parent.string(), " does not exist");
    }
    for (const auto& n : src->info().notes) ctx.warn(n);

    const std::string summary = run_peaks_stage(*src, sp, o.params(), out, !o.vm()["no-origin"].as<bool>(), ctx);
    if (!o.quiet()) std::printf("%s", summary.c_str());

    return 0;
  });
}

} // namespace domainmap::cli
