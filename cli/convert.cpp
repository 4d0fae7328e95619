// cli/convert.cpp: `domainmap convert` (being written).
#include "common.hpp"
#include "domainmap/error.hpp"
#include "verbs.hpp"

namespace domainmap::cli {
int verb_convert(const std::vector<std::string>&) {
  return run_guarded("convert", []() -> int { fail(ErrorKind::internal, "", "not built yet"); });
}
} // namespace domainmap::cli
