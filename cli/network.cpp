// cli/network.cpp: `domainmap network R.h5`. (Being written.)
#include "common.hpp"
#include "domainmap/error.hpp"
#include "verbs.hpp"

namespace domainmap::cli {

int verb_network(const std::vector<std::string>& args) {
  return run_guarded("network", [&] {
    (void)args;
    fail(ErrorKind::internal, "network", "this verb is not built yet");
    return 0;
  });
}

} // namespace domainmap::cli
