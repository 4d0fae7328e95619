// cli/stages.cpp: stage name -> describe() of its parameter struct.
#include "stages.hpp"

#include "domainmap/error.hpp"

namespace domainmap::cli {

std::vector<std::string> stage_names() { return {"read", "write", "simulate", "virtual", "peaks", "origin", "segment", "network", "percolate"}; }

void add_stage(ParamList& list, StageParams& p, const std::string& name) {
  if (name == "read") list.stage(name, [&](ParamSink& s) { describe(p.read, s); });
  else if (name == "write") list.stage(name, [&](ParamSink& s) { describe(p.write, s); });
  else if (name == "simulate") list.stage(name, [&](ParamSink& s) { describe(p.simulate, s); });
  else if (name == "virtual") list.stage(name, [&](ParamSink& s) { describe(p.virtual_images, s); });
  else if (name == "peaks") list.stage(name, [&](ParamSink& s) { describe(p.peaks, s); });
  else if (name == "origin") list.stage(name, [&](ParamSink& s) { describe(p.origin, s); });
  else if (name == "segment") list.stage(name, [&](ParamSink& s) { describe(p.segment, s); });
  else if (name == "network") list.stage(name, [&](ParamSink& s) { describe(p.network, s); });
  else if (name == "percolate") list.stage(name, [&](ParamSink& s) { describe(p.percolate, s); });
  else {
    std::string known;
    for (const auto& n : stage_names()) known += (known.empty() ? "" : ", ") + n;
    fail(ErrorKind::bad_parameter, "", "unknown stage '", name, "' (stages: ", known, ")");
  }
}

} // namespace domainmap::cli
