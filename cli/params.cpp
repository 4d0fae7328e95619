// cli/params.cpp: `domainmap params [STAGE] [--format ini|md]`: every stage parameter with its
// default, as a config file to edit or as the Markdown tables of docs/.
#include <iostream>

#include "common.hpp"
#include "domainmap/error.hpp"
#include "stages.hpp"
#include "verbs.hpp"

namespace domainmap::cli {

int verb_params(const std::vector<std::string>& args) {
  return run_guarded("params", [&]() -> int {
    VerbOptions o("params", "[STAGE...] [--format ini|md]",
                  "Prints the parameters of the named stages (all if none) with their defaults.");
    o.options().add_options()("format", po::value<std::string>()->default_value("ini"), "ini or md");
    o.positional("stage", -1);
    if (!o.parse(args)) return 0;
    std::string format = o.get<std::string>("format");
    if (format != "ini" && format != "md")
      fail(ErrorKind::bad_parameter, "", "--format = ", format, ": must be ini or md");
    std::vector<std::string> names = o.positionals("stage");
    if (names.empty()) names = stage_names();
    StageParams all;
    ParamList list;
    for (const auto& n : names) add_stage(list, all, n);
    std::cout << (format == "ini" ? list.to_ini() : list.to_markdown());
    return 0;
  });
}

} // namespace domainmap::cli
