// cli/export.cpp: `domainmap export R.h5`. (Being written.)
#include "common.hpp"
#include "domainmap/error.hpp"
#include "verbs.hpp"

namespace domainmap::cli {

int verb_export(const std::vector<std::string>& args) {
  return run_guarded("export", [&] {
    (void)args;
    fail(ErrorKind::internal, "export", "this verb is not built yet");
    return 0;
  });
}

} // namespace domainmap::cli
