// lib/io/blockfile.cpp: the blockfile reader (being written).
#include "domainmap/error.hpp"
#include "readers.hpp"

namespace domainmap::io {

std::unique_ptr<FrameSource> open_blockfile(const std::string& path, const ReadParams&) {
  fail(ErrorKind::bad_input, path, "the blockfile reader is not built yet");
}

} // namespace domainmap::io
