// cli/common.hpp: what every verb of the domainmap CLI shares: option parsing (stage
// parameters as --stage.key flags and [stage] key = value INI files), global flags, the
// progress line and the one place where errors become messages and exit codes.
#pragma once
#include <boost/program_options.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "domainmap/context.hpp"
#include "domainmap/params.hpp"

namespace domainmap::cli {

namespace po = boost::program_options;

/// One verb of the CLI: `domainmap <name> ...`.
struct Verb {
  const char* name;
  const char* summary;   ///< one line for `domainmap --help`
  int (*run)(const std::vector<std::string>& args);
};
/// The verb table (cli/main.cpp).
const std::vector<Verb>& verbs();

/// Parses one verb's command line. Usage:
///   VerbOptions o("virtual", "FILE --bf R | --adf R1 R2 -o OUT");
///   o.options().add_options()("bf", po::value<double>(), "...");
///   o.positional("input", 1);
///   o.params().stage("read", [&](ParamSink& s) { describe(read_params, s); });
///   if (!o.parse(args)) return 0;   // --help was printed
class VerbOptions {
public:
  VerbOptions(std::string verb, std::string usage, std::string description = "");
  po::options_description& options() { return verb_opts_; }
  /// Positional arguments, in order; max_count -1 = any number.
  void positional(const char* name, int max_count);
  ParamList& params() { return params_; }
  /// Parses; applies --config then --stage.key flags to params(). Returns false after --help.
  /// Throws Error(bad_parameter) for unknown options or bad values.
  bool parse(const std::vector<std::string>& args);
  const po::variables_map& vm() const { return vm_; }
  bool has(const char* name) const { return vm_.count(name) > 0; }
  template <typename T> T get(const char* name) const { return vm_[name].as<T>(); }
  std::vector<std::string> positionals(const char* name) const;
  /// The run context configured from --threads, --memory-budget, --quiet, --verbose.
  RunContext& context() { return ctx_; }
  bool quiet() const { return quiet_; }
  const std::string& verb() const { return verb_; }
  /// Text of `domainmap <verb> --help`.
  std::string help_text() const;
private:
  std::string verb_, usage_, description_;
  po::options_description verb_opts_{"Options"};
  po::positional_options_description pos_;
  std::vector<std::string> pos_names_;
  ParamList params_;
  po::variables_map vm_;
  RunContext ctx_;
  bool quiet_ = false;
  std::shared_ptr<void> progress_state_;
  std::shared_ptr<void> thread_limit_;
};

/// Runs a verb body: catches domainmap::Error and other exceptions once, prints
/// "domainmap <verb>: error: <message>" on stderr and returns the exit code
/// (0 ok, 2 bad input/parameter/usage, 1 internal, 130 interrupted).
int run_guarded(const std::string& verb, const std::function<int()>& body);

/// "1G", "512M", "64k", "1048576" -> bytes; throws bad_parameter naming `key`.
std::size_t parse_bytes(const std::string& text, const std::string& key);

/// Ends the progress line if one is drawn (call before printing results).
void finish_progress(RunContext& ctx);

/// Installs a SIGINT handler that sets the context's cancel flag.
void install_interrupt_handler(RunContext& ctx);

/// R.h5 -> R<suffix> (any other name: NAME<suffix>): the files a verb writes beside a results file.
std::string beside(const std::string& results, const std::string& suffix);

} // namespace domainmap::cli
