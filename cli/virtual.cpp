// cli/virtual.cpp: `domainmap virtual FILE --bf R | --adf R1 R2 -o OUT`: virtual bright-field
// and annular dark-field images with the mean and max patterns, as OUT.h5 plus quick-look PNGs.
// Every output goes to a temporary name first; all are renamed only when all were written.
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "common.hpp"
#include "domainmap/dataset.hpp"
#include "domainmap/error.hpp"
#include "domainmap/png.hpp"
#include "domainmap/virtual.hpp"
#include "domainmap/write.hpp"
#include "stages.hpp"
#include "verbs.hpp"

namespace domainmap::cli {

namespace fs = std::filesystem;

namespace {

std::string number_text(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// Sets stage parameter `key` from a short flag's value; the short and the long form together
// are an error.
void set_alias(VerbOptions& o, const char* flag, const char* key, double value) {
  if (o.has(key)) fail(ErrorKind::bad_parameter, "", "give either --", flag, " or --", key, ", not both");
  o.params().set(key, number_text(value));
}

std::vector<double> values_of(VerbOptions& o, const char* flag, std::size_t count, const char* what) {
  std::vector<double> v = o.get<std::vector<double>>(flag);
  if (v.size() != count)
    fail(ErrorKind::bad_parameter, "", "--", flag, " needs ", count, " numbers (", what, "), got ", v.size(),
         "; see 'domainmap virtual --help'");
  return v;
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  if (!fs::exists(a, ec) || !fs::exists(b, ec)) return false;
  return fs::equivalent(a, b, ec);
}

// One output: its final name and the temporary name it is written to.
struct Output {
  std::string path, tmp;
};

int clamp_int(std::int64_t v) { return static_cast<int>(std::min<std::int64_t>(v, INT_MAX)); }

} // namespace

int verb_virtual(const std::vector<std::string>& args) {
  return run_guarded("virtual", [&]() -> int {
    VerbOptions o("virtual", "FILE (--bf R | --adf R1 R2) -o OUT [--center Y X]",
                  "Virtual detector images: the sum of each pattern over a bright-field disk (--bf) and/or an\n"
                  "annular dark-field ring (--adf), plus the mean and max patterns. Radii and the centre are in\n"
                  "detector pixels; without --center the masks are centred on the central beam of the mean\n"
                  "pattern (the data are then read twice). Writes OUT.h5 (/virtual/bf, adf, mean_dp, max_dp)\n"
                  "and OUT_bf.png, OUT_adf.png, OUT_mean_dp.png, OUT_max_dp.png (patterns log-scaled).\n"
                  "OUT may be given with or without .h5.");
    o.options().add_options()
        ("bf", po::value<double>()->value_name("R"), "bright-field disk radius, px (= --virtual.bf_radius)")
        ("adf", po::value<std::vector<double>>()->multitoken()->value_name("R1 R2"),
         "annular dark-field inner and outer radius, px (= --virtual.adf_inner/adf_outer)")
        ("center", po::value<std::vector<double>>()->multitoken()->value_name("Y X"),
         "mask centre (detector row, column), px; default: the central beam (= --virtual.center_y/center_x)")
        ("output,o", po::value<std::string>()->value_name("OUT"), "output prefix or OUT.h5");
    o.positional("input", 1);
    StageParams sp;
    VirtualParams& vp = sp.virtual_images;
    add_stage(o.params(), sp, "read");
    add_stage(o.params(), sp, "virtual");
    if (!o.parse(args)) return 0;

    if (o.has("bf")) set_alias(o, "bf", "virtual.bf_radius", o.get<double>("bf"));
    if (o.has("adf")) {
      std::vector<double> r = values_of(o, "adf", 2, "inner and outer radius");
      set_alias(o, "adf", "virtual.adf_inner", r[0]);
      set_alias(o, "adf", "virtual.adf_outer", r[1]);
    }
    if (o.has("center")) {
      std::vector<double> c = values_of(o, "center", 2, "detector row and column");
      set_alias(o, "center", "virtual.center_y", c[0]);
      set_alias(o, "center", "virtual.center_x", c[1]);
    }
    const std::vector<std::string> inputs = o.positionals("input");
    if (inputs.empty()) fail(ErrorKind::bad_parameter, "", "missing FILE; see 'domainmap virtual --help'");
    if (!(vp.bf_radius > 0) && !(vp.adf_outer > 0) && !(vp.adf_inner > 0))
      fail(ErrorKind::bad_parameter, "", "give --bf R and/or --adf R1 R2; see 'domainmap virtual --help'");
    if (!o.has("output")) fail(ErrorKind::bad_parameter, "", "missing -o OUT; see 'domainmap virtual --help'");
    std::string prefix = o.get<std::string>("output");
    if (prefix.size() > 3 && prefix.compare(prefix.size() - 3, 3, ".h5") == 0) prefix.resize(prefix.size() - 3);
    if (prefix.empty()) fail(ErrorKind::bad_parameter, "", "-o: empty output name");
    const std::string h5_path = prefix + ".h5";

    RunContext& ctx = o.context();
    install_interrupt_handler(ctx);
    auto src = open_dataset(inputs[0], sp.read);
    validate(vp, src->shape().det_y, src->shape().det_x);
    const bool want_bf = vp.bf_radius > 0, want_adf = vp.adf_outer > 0;
    std::vector<Output> outputs;
    for (const std::string& suffix : {std::string(".h5"), std::string("_bf.png"), std::string("_adf.png"),
                                      std::string("_mean_dp.png"), std::string("_max_dp.png")}) {
      if ((suffix == "_bf.png" && !want_bf) || (suffix == "_adf.png" && !want_adf)) continue;
      const std::string path = prefix + suffix;
      std::error_code ec;
      if (same_file(path, inputs[0]) || same_file(path, src->info().path))
        fail(ErrorKind::bad_parameter, path, "is the input file; choose another output name");
      if (fs::is_directory(path, ec)) fail(ErrorKind::bad_parameter, path, "is a folder; choose another output name");
      outputs.push_back({path, temporary_name_for(path)});
    }
    {
      std::error_code ec;
      fs::path parent = fs::path(h5_path).parent_path();
      if (parent.empty()) parent = ".";
      if (!fs::is_directory(parent, ec)) fail(ErrorKind::io, h5_path, "folder ", parent.string(), " does not exist");
      if (::access(parent.c_str(), W_OK) != 0)
        fail(ErrorKind::io, h5_path, "folder ", parent.string(), " is not writable");
    }

    VirtualImages v = compute_virtual(*src, vp, ctx);
    finish_progress(ctx);

    try {
      std::error_code ec;
      const fs::path input = fs::absolute(src->info().path, ec);
      write_virtual_h5(v, outputs[0].tmp, ec ? src->info().path : input.string(), o.params().values());
      const int ry = clamp_int(v.scan.y), rx = clamp_int(v.scan.x);
      const int qy = clamp_int(v.detector.y), qx = clamp_int(v.detector.x);
      std::size_t next = 1;
      if (want_bf) write_png_gray(outputs[next++].tmp, v.bf.data(), ry, rx);
      if (want_adf) write_png_gray(outputs[next++].tmp, v.adf.data(), ry, rx);
      PngScaling log_scale;
      log_scale.scale = PngScale::log;
      write_png_gray(outputs[next++].tmp, v.mean_dp.data(), qy, qx, log_scale);
      write_png_gray(outputs[next++].tmp, v.max_dp.data(), qy, qx, log_scale);
    } catch (...) {
      for (const Output& out : outputs) discard_temporary(out.tmp);
      throw;
    }
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      try {
        commit_temporary(outputs[i].tmp, outputs[i].path);
      } catch (...) {
        for (std::size_t k = i + 1; k < outputs.size(); ++k) discard_temporary(outputs[k].tmp);
        throw;
      }
    }

    if (!o.quiet()) {
      char centre[96];
      std::snprintf(centre, sizeof centre, "centre (%.3f, %.3f) px", v.center_y, v.center_x);
      std::cout << centre
                << (v.center_auto ? " (central beam of the mean pattern)" : " (given)") << "\n";
      if (!v.bf.empty())
        std::cout << "BF disk radius " << number_text(v.bf_radius) << " px, " << v.bf_pixels << " detector pixels\n";
      if (!v.adf.empty())
        std::cout << "ADF ring " << number_text(v.adf_inner) << ".." << number_text(v.adf_outer) << " px, "
                  << v.adf_pixels << " detector pixels\n";
      std::cout << "wrote";
      for (std::size_t i = 0; i < outputs.size(); ++i) std::cout << (i ? ", " : " ") << outputs[i].path;
      std::cout << "\n";
    }
    return 0;
  });
}

} // namespace domainmap::cli
