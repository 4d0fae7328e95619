// domainmap/error.hpp: the one exception type of domainmap and the fail() helper.
//
// Every message is one line: "<file>[:<hdf5 path>][ at (ry,rx)]: <problem>[; <what to do>]".
// The CLI catches Error once and maps kind to the exit code (bad_input/bad_parameter -> 2,
// io -> 2, internal -> 1, interrupted -> 130).
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace domainmap {

enum class ErrorKind { bad_input, bad_parameter, io, interrupted, internal };

class Error : public std::runtime_error {
public:
  Error(ErrorKind kind, const std::string& message)
      : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }
private:
  ErrorKind kind_;
};

/// Exit code the CLI uses for an error of this kind.
int exit_code(ErrorKind kind) noexcept;

namespace detail {
template <typename... Parts> std::string cat(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}
} // namespace detail

/// Throw Error(kind, "<where>: <parts...>"); `where` is usually the file name (may be empty).
template <typename... Parts>
[[noreturn]] [[gnu::cold]] void fail(ErrorKind kind, const std::string& where, const Parts&... parts) {
  std::string msg;
  if (!where.empty()) msg.append(where).append(": ");
  msg.append(detail::cat(parts...));
  throw Error(kind, msg);
}

} // namespace domainmap
