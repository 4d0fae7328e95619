// lib/io/raw.cpp: the raw reader (being written).
#include "domainmap/error.hpp"
#include "readers.hpp"

namespace domainmap::io {

std::unique_ptr<FrameSource> open_raw(const std::string& path, const ReadParams&) {
  fail(ErrorKind::bad_input, path, "the raw reader is not built yet");
}

} // namespace domainmap::io
