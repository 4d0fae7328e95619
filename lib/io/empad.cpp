// lib/io/empad.cpp: the empad reader (being written).
#include "domainmap/error.hpp"
#include "readers.hpp"

namespace domainmap::io {

std::unique_ptr<FrameSource> open_empad(const std::string& path, const ReadParams&) {
  fail(ErrorKind::bad_input, path, "the empad reader is not built yet");
}

} // namespace domainmap::io
