// cli/stages.cpp: stage name -> describe() of its parameter struct.
#include "stages.hpp"

#include "domainmap/error.hpp"

namespace domainmap::cli {

std::vector<std::string> stage_names() { return {"read", "write"}; }

void add_stage(ParamList& list, StageParams& p, const std::string& name) {
  if (name == "read") list.stage(name, [&](ParamSink& s) { describe(p.read, s); });
  else if (name == "write") list.stage(name, [&](ParamSink& s) { describe(p.write, s); });
  else {
    std::string known;
    for (const auto& n : stage_names()) known += (known.empty() ? "" : ", ") + n;
    fail(ErrorKind::bad_parameter, "", "unknown stage '", name, "' (stages: ", known, ")");
  }
}

} // namespace domainmap::cli
