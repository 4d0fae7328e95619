// cli/percolate.cpp: `domainmap percolate R.h5`. (Being written.)
#include "common.hpp"
#include "domainmap/error.hpp"
#include "verbs.hpp"

namespace domainmap::cli {

int verb_percolate(const std::vector<std::string>& args) {
  return run_guarded("percolate", [&] {
    (void)args;
    fail(ErrorKind::internal, "percolate", "this verb is not built yet");
    return 0;
  });
}

} // namespace domainmap::cli
