// cli/virtual.cpp: `domainmap virtual` (being written).
#include "common.hpp"
#include "domainmap/error.hpp"
#include "verbs.hpp"

namespace domainmap::cli {
int verb_virtual(const std::vector<std::string>&) {
  return run_guarded("virtual", []() -> int { fail(ErrorKind::internal, "", "not built yet"); });
}
} // namespace domainmap::cli
