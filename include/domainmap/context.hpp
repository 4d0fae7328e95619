// domainmap/context.hpp: what every stage gets besides its data and parameters.
//
// The library never prints. Messages go through `log`, progress through `progress`; a stage
// checks `cancelled()` between blocks and stops with ErrorKind::interrupted.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace domainmap {

enum class LogLevel { debug = 0, info = 1, warning = 2, error = 3 };

struct RunContext {
  /// Receives messages at or above `log_threshold`. Empty: messages are dropped.
  std::function<void(LogLevel, const std::string&)> log;
  LogLevel log_threshold = LogLevel::info;
  /// Receives (stage name, items done, items total) a few times per block.
  std::function<void(const char* stage, std::int64_t done, std::int64_t total)> progress;
  /// Worker threads; 0 = all cores.
  int threads = 0;
  /// Bytes that streamed data (frame blocks) may hold at once.
  std::size_t memory_budget = std::size_t(1) << 30;
  /// Set from another thread (e.g. a SIGINT handler) to stop at the next block.
  std::atomic<bool>* cancel = nullptr;

  bool cancelled() const { return cancel && cancel->load(std::memory_order_relaxed); }
  void message(LogLevel level, const std::string& text) const {
    if (log && level >= log_threshold) log(level, text);
  }
  void warn(const std::string& text) const { message(LogLevel::warning, text); }
  void info(const std::string& text) const { message(LogLevel::info, text); }
  void report(const char* stage, std::int64_t done, std::int64_t total) const {
    if (progress) progress(stage, done, total);
  }
};

/// Throws Error(interrupted) if the context was cancelled.
void check_cancel(const RunContext& ctx);

} // namespace domainmap
