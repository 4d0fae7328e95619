// cli/info.cpp: `domainmap info` (being written).
#include "common.hpp"
#include "domainmap/error.hpp"
#include "verbs.hpp"

namespace domainmap::cli {
int verb_info(const std::vector<std::string>&) {
  return run_guarded("info", []() -> int { fail(ErrorKind::internal, "", "not built yet"); });
}
} // namespace domainmap::cli
