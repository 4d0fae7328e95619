// cli/convert.cpp: `domainmap convert IN OUT.h5`: any readable dataset to an EMD 1.0 DataCube
// (py4DSTEM), streamed under the memory budget, written to a temporary name and renamed.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "common.hpp"
#include "domainmap/dataset.hpp"
#include "domainmap/error.hpp"
#include "domainmap/write.hpp"
#include "stages.hpp"
#include "verbs.hpp"

namespace domainmap::cli {

namespace fs = std::filesystem;

namespace {

// A short flag (--scan-shape) that sets a stage parameter (read.scan_shape); giving both with
// different values is an error.
void apply_alias(VerbOptions& o, const char* flag, const char* key) {
  if (!o.has(flag)) return;
  const std::string value = o.get<std::string>(flag);
  if (o.has(key) && o.get<std::string>(key) != value)
    fail(ErrorKind::bad_parameter, "", "--", flag, " ", value, " and --", key, " ", o.get<std::string>(key),
         " disagree; give one of them");
  o.params().set(key, value);
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  if (!fs::exists(a, ec) || !fs::exists(b, ec)) return false;
  return fs::equivalent(a, b, ec);
}

// Refuses an output that would overwrite the input or cannot be created, before any reading.
void check_output(const std::string& out, const std::string& in_spec, const std::string& in_path) {
  std::error_code ec;
  if (same_file(out, in_spec) || same_file(out, in_path))
    fail(ErrorKind::bad_parameter, out, "is the input file; choose another output name");
  if (fs::is_directory(out, ec)) fail(ErrorKind::bad_parameter, out, "is a folder; give an output file name");
  fs::path parent = fs::path(out).parent_path();
  if (parent.empty()) parent = ".";
  if (!fs::is_directory(parent, ec)) fail(ErrorKind::io, out, "folder ", parent.string(), " does not exist");
  if (::access(parent.c_str(), W_OK) != 0)
    fail(ErrorKind::io, out, "folder ", parent.string(), " is not writable");
}

std::string size_text(std::uintmax_t bytes) {
  char buf[32];
  if (bytes >= (1u << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(bytes) / (1u << 30));
  else if (bytes >= (1u << 20)) std::snprintf(buf, sizeof buf, "%.2f MiB", static_cast<double>(bytes) / (1u << 20));
  else std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(bytes) / 1024);
  return buf;
}

} // namespace

int verb_convert(const std::vector<std::string>& args) {
  return run_guarded("convert", [&]() -> int {
    VerbOptions o("convert", "IN OUT.h5 [--scan-shape YxX] [--compress gzip|lz4|none]",
                  "Converts any readable dataset to an EMD 1.0 file (a py4DSTEM DataCube, opens in py4DSTEM\n"
                  "unchanged), streamed under --memory-budget. OUT is written to a temporary name and renamed\n"
                  "when complete.");
    o.options().add_options()
        ("scan-shape", po::value<std::string>()->value_name("YxX"), "scan rows x columns (same as --read.scan_shape)")
        ("compress", po::value<std::string>()->value_name("C"), "gzip, lz4 or none (same as --write.compress)");
    o.positional("files", 2);
    StageParams sp;
    add_stage(o.params(), sp, "read");
    add_stage(o.params(), sp, "write");
    if (!o.parse(args)) return 0;
    apply_alias(o, "scan-shape", "read.scan_shape");
    apply_alias(o, "compress", "write.compress");
    const std::vector<std::string> files = o.positionals("files");
    if (files.size() != 2) fail(ErrorKind::bad_parameter, "", "need IN and OUT; see 'domainmap convert --help'");
    const std::string& in = files[0];
    const std::string& out = files[1];
    RunContext& ctx = o.context();
    install_interrupt_handler(ctx);

    const auto start = std::chrono::steady_clock::now();
    auto src = open_dataset(in, sp.read);
    check_output(out, in, src->info().path);
    for (const auto& note : src->info().notes) ctx.info(note);
    write_emd(*src, out, sp.write, ctx);
    finish_progress(ctx);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    std::string dtype = sp.write.dtype;
    try {
      dtype = open_dataset(out)->info().dtype;
    } catch (const Error& e) {
      ctx.warn(std::string("cannot read the result back: ") + e.what());
    }
    std::error_code ec;
    const std::uintmax_t bytes = fs::file_size(out, ec);
    const Shape4& s = src->shape();
    if (!o.quiet()) {
      char secs_text[32];
      std::snprintf(secs_text, sizeof secs_text, "%.2f s", secs);
      std::cout << "wrote " << out << ": EMD 1.0 DataCube [" << s.scan_y << ", " << s.scan_x << ", " << s.det_y
                << ", " << s.det_x << "] " << dtype << ", compress " << sp.write.compress << ", "
                << (ec ? std::string("?") : size_text(bytes)) << ", from " << src->info().format << " in "
                << secs_text << "\n";
    }
    return 0;
  });
}

} // namespace domainmap::cli
