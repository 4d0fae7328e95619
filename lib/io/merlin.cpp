// lib/io/merlin.cpp: the merlin reader (being written).
#include "domainmap/error.hpp"
#include "readers.hpp"

namespace domainmap::io {

std::unique_ptr<FrameSource> open_merlin(const std::string& path, const ReadParams&) {
  fail(ErrorKind::bad_input, path, "the merlin reader is not built yet");
}

} // namespace domainmap::io
