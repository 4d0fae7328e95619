// lib/peaks/fftw_lock.hpp (internal): FFTW's planner is not thread-safe; every plan creation
// and destruction in lib/peaks holds this mutex.
#pragma once
#include <mutex>

namespace domainmap::peaks_detail {
std::mutex& fftw_planner_mutex();
} // namespace domainmap::peaks_detail
