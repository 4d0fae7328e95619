// lib/io/dectris.cpp: the dectris reader (being written).
#include "domainmap/error.hpp"
#include "readers.hpp"

namespace domainmap::io {

std::unique_ptr<FrameSource> open_dectris(const std::string& path, const ReadParams&) {
  fail(ErrorKind::bad_input, path, "the dectris reader is not built yet");
}

} // namespace domainmap::io
