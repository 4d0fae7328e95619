// cli/verbs.hpp: one function per verb, each in cli/<verb>.cpp.
#pragma once
#include <string>
#include <vector>

namespace domainmap::cli {
int verb_info(const std::vector<std::string>& args);
int verb_convert(const std::vector<std::string>& args);
int verb_virtual(const std::vector<std::string>& args);
int verb_peaks(const std::vector<std::string>& args);
int verb_origin(const std::vector<std::string>& args);
int verb_simulate(const std::vector<std::string>& args);
int verb_map(const std::vector<std::string>& args);
int verb_params(const std::vector<std::string>& args);
} // namespace domainmap::cli
