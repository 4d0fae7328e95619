// cli/common.cpp: option parsing, progress line, error reporting shared by all verbs.
#include "common.hpp"

#include <oneapi/tbb/global_control.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "domainmap/error.hpp"

namespace domainmap::cli {

namespace {

// One stderr line, redrawn at most 5 times a second: "peaks  45%  12,345 patterns/s  ETA 0:12".
struct ProgressLine {
  using clock = std::chrono::steady_clock;
  clock::time_point start = clock::now();
  clock::time_point last_draw{};
  std::string stage;
  bool drawn = false;

  void update(const char* st, std::int64_t done, std::int64_t total) {
    if (!st) { finish(); return; }
    auto now = clock::now();
    if (stage != st) {
      finish();
      stage = st;
      start = now;
    }
    if (done < total && now - last_draw < std::chrono::milliseconds(200)) return;
    last_draw = now;
    double secs = std::chrono::duration<double>(now - start).count();
    double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
    double pct = total > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 0;
    long eta = rate > 0 ? static_cast<long>(static_cast<double>(total - done) / rate + 0.5) : 0;
    std::fprintf(stderr, "\r%-10s %5.1f%%  %10.0f patterns/s  ETA %ld:%02ld   ", stage.c_str(), pct, rate,
                 eta / 60, eta % 60);
    std::fflush(stderr);
    drawn = true;
  }
  void finish() {
    if (drawn) {
      std::fputc('\n', stderr);
      drawn = false;
    }
  }
};

std::atomic<bool> g_cancel{false};

extern "C" void on_sigint(int) { g_cancel.store(true); }

} // namespace

std::size_t parse_bytes(const std::string& text, const std::string& key) {
  std::string t = text;
  double mult = 1;
  while (!t.empty() && (t.back() == 'B' || t.back() == 'b' || t.back() == 'i')) t.pop_back();
  if (!t.empty()) {
    char u = static_cast<char>(std::toupper(static_cast<unsigned char>(t.back())));
    if (u == 'K') mult = 1024.0;
    else if (u == 'M') mult = 1024.0 * 1024;
    else if (u == 'G') mult = 1024.0 * 1024 * 1024;
    else if (u == 'T') mult = 1024.0 * 1024 * 1024 * 1024;
    if (mult > 1) t.pop_back();
  }
  char* end = nullptr;
  double v = std::strtod(t.c_str(), &end);
  if (t.empty() || end != t.c_str() + t.size() || !(v > 0))
    fail(ErrorKind::bad_parameter, "", key, " = ", text, ": expected a size such as 1G, 512M or 1048576");
  double bytes = v * mult;
  if (bytes < 1024 * 1024)
    fail(ErrorKind::bad_parameter, "", key, " = ", text, ": must be at least 1M");
  return static_cast<std::size_t>(bytes);
}

VerbOptions::VerbOptions(std::string verb, std::string usage, std::string description)
    : verb_(std::move(verb)), usage_(std::move(usage)), description_(std::move(description)) {}

void VerbOptions::positional(const char* name, int max_count) {
  pos_.add(name, max_count);
  pos_names_.push_back(name);
}

std::vector<std::string> VerbOptions::positionals(const char* name) const {
  if (!vm_.count(name)) return {};
  return vm_[name].as<std::vector<std::string>>();
}

static po::options_description global_options() {
  po::options_description g("Common options");
  g.add_options()
      ("help,h", "print this help and exit")
      ("config", po::value<std::string>()->value_name("FILE"),
       "read parameters from an INI file ([stage] key = value); flags override it")
      ("threads", po::value<int>()->value_name("N")->default_value(0), "worker threads (0 = all cores)")
      ("memory-budget", po::value<std::string>()->value_name("SIZE")->default_value("1G"),
       "memory for streamed data blocks (e.g. 512M, 4G)")
      ("quiet,q", po::bool_switch(), "no progress line, warnings only")
      ("verbose,v", po::bool_switch(), "more messages");
  return g;
}

std::string VerbOptions::help_text() const {
  std::ostringstream os;
  os << "usage: domainmap " << verb_ << " " << usage_ << "\n";
  if (!description_.empty()) os << "\n" << description_ << "\n";
  os << "\n" << verb_opts_ << "\n" << global_options();
  if (!params_.refs().empty()) {
    os << "\nStage parameters (flags --stage.key VALUE, or [stage] key = VALUE in --config):\n";
    for (const auto& r : params_.refs()) {
      std::string left = "  --" + r.key + " " + (r.type == "bool" ? "true|false" : r.type == "shape" ? "YxX" : "ARG");
      os << left;
      if (left.size() < 44) os << std::string(44 - left.size(), ' ');
      else os << "\n" << std::string(44, ' ');
      os << r.help;
      if (!r.unit.empty()) os << " [" << r.unit << "]";
      if (!r.choices.empty()) {
        os << " {";
        for (std::size_t i = 0; i < r.choices.size(); ++i) os << (i ? "|" : "") << r.choices[i];
        os << "}";
      }
      os << " (default: " << (r.get().empty() ? "''" : r.get()) << ")\n";
    }
  }
  return os.str();
}

bool VerbOptions::parse(const std::vector<std::string>& args) {
  po::options_description all;
  all.add(verb_opts_).add(global_options());
  po::options_description stage_opts;
  for (const auto& r : params_.refs())
    stage_opts.add_options()(r.key.c_str(), po::value<std::string>(), r.help.c_str());
  all.add(stage_opts);
  po::options_description hidden;
  for (const auto& n : pos_names_) hidden.add_options()(n.c_str(), po::value<std::vector<std::string>>(), "");
  all.add(hidden);
  try {
    po::store(po::command_line_parser(args).options(all).positional(pos_).run(), vm_);
    po::notify(vm_);
  } catch (const po::error& e) {
    fail(ErrorKind::bad_parameter, "", e.what(), "; see 'domainmap ", verb_, " --help'");
  }
  if (vm_.count("help")) {
    std::cout << help_text();
    return false;
  }
  if (vm_.count("config")) read_ini_file(vm_["config"].as<std::string>(), params_);
  for (const auto& r : params_.refs())
    if (vm_.count(r.key)) params_.set(r.key, vm_[r.key].as<std::string>());

  quiet_ = vm_["quiet"].as<bool>();
  const bool verbose = vm_["verbose"].as<bool>();
  const int threads = vm_["threads"].as<int>();
  if (threads < 0 || threads > 4096) fail(ErrorKind::bad_parameter, "", "--threads = ", threads, ": must be 0..4096");
  ctx_.threads = threads;
  if (threads > 0)
    thread_limit_ = std::make_shared<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                          static_cast<std::size_t>(threads));
  ctx_.memory_budget = parse_bytes(vm_["memory-budget"].as<std::string>(), "--memory-budget");
  ctx_.log_threshold = quiet_ ? LogLevel::warning : verbose ? LogLevel::debug : LogLevel::info;
  std::string verb = verb_;
  auto progress = std::make_shared<ProgressLine>();
  progress_state_ = progress;
  ctx_.log = [verb, progress](LogLevel level, const std::string& msg) {
    progress->finish();
    const char* tag = level == LogLevel::warning ? "warning: " : level == LogLevel::error ? "error: " : "";
    std::fprintf(stderr, "domainmap %s: %s%s\n", verb.c_str(), tag, msg.c_str());
  };
  if (!quiet_ && isatty(STDERR_FILENO))
    ctx_.progress = [progress](const char* st, std::int64_t done, std::int64_t total) {
      progress->update(st, done, total);
    };
  return true;
}

void finish_progress(RunContext& ctx) {
  if (ctx.progress) ctx.progress(nullptr, -1, -1);
}

void install_interrupt_handler(RunContext& ctx) {
  ctx.cancel = &g_cancel;
  std::signal(SIGINT, on_sigint);
}

int run_guarded(const std::string& verb, const std::function<int()>& body) {
  try {
    return body();
  } catch (const Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "domainmap %s: error: %s\n", verb.c_str(), e.what());
    return exit_code(e.kind());
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "domainmap %s: error: out of memory; lower --memory-budget or the data size\n", verb.c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "domainmap %s: error: internal: %s\n", verb.c_str(), e.what());
    return 1;
  }
}

std::string beside(const std::string& results, const std::string& suffix) {
  std::string stem = results;
  if (stem.size() > 3 && stem.compare(stem.size() - 3, 3, ".h5") == 0) stem.resize(stem.size() - 3);
  return stem + suffix;
}

} // namespace domainmap::cli
