// lib/core/clock.hpp (internal): wall-clock time stamps for the files domainmap writes.
#pragma once
#include <string>

namespace domainmap::core {
/// The current UTC time as ISO 8601, e.g. "2026-12-01T18:24:40Z" (the `created` attribute).
std::string iso8601_now();
} // namespace domainmap::core
