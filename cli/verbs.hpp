// cli/verbs.hpp: one function per verb, each in cli/<verb>.cpp.
#pragma once
#include <string>
#include <vector>

#include "stages.hpp"

namespace domainmap::cli {
int verb_info(const std::vector<std::string>& args);
int verb_convert(const std::vector<std::string>& args);
int verb_virtual(const std::vector<std::string>& args);
int verb_peaks(const std::vector<std::string>& args);
int verb_origin(const std::vector<std::string>& args);
int verb_segment(const std::vector<std::string>& args);
int verb_network(const std::vector<std::string>& args);
int verb_percolate(const std::vector<std::string>& args);
int verb_export(const std::vector<std::string>& args);
int verb_simulate(const std::vector<std::string>& args);
int verb_map(const std::vector<std::string>& args);
int verb_params(const std::vector<std::string>& args);

/// The peaks stage and (if with_origin) the origin stage on `src`, written as a new results
/// file `out` with the /config values of `params`; returns the one-line summary. Used by the
/// peaks and map verbs.
std::string run_peaks_stage(FrameSource& src, StageParams& sp, const ParamList& params, const std::string& out,
                            bool with_origin, RunContext& ctx);
} // namespace domainmap::cli
