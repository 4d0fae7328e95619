// cli/simulate.cpp: `domainmap simulate` (waits for the simulator library).
#include "common.hpp"
#include "domainmap/error.hpp"
#include "verbs.hpp"

namespace domainmap::cli {
int verb_simulate(const std::vector<std::string>&) {
  return run_guarded("simulate", []() -> int { fail(ErrorKind::internal, "", "not built yet"); });
}
} // namespace domainmap::cli
