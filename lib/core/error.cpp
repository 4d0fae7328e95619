// lib/core/error.cpp: exit codes for error kinds, cancellation check.
#include "domainmap/context.hpp"
#include "domainmap/error.hpp"

namespace domainmap {

int exit_code(ErrorKind kind) noexcept {
  switch (kind) {
  case ErrorKind::bad_input:
  case ErrorKind::bad_parameter:
  case ErrorKind::io: return 2;
  case ErrorKind::interrupted: return 130;
  case ErrorKind::internal: return 1;
  }
  return 1;
}

void check_cancel(const RunContext& ctx) {
  if (ctx.cancelled()) fail(ErrorKind::interrupted, "", "interrupted");
}

} // namespace domainmap
