// lib/core/clock.cpp: wall-clock time stamps.
#include "clock.hpp"

#include <ctime>

namespace domainmap::core {

std::string iso8601_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

} // namespace domainmap::core
