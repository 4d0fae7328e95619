// lib/io/emd.cpp: the emd reader (being written).
#include "domainmap/error.hpp"
#include "readers.hpp"

namespace domainmap::io {

std::unique_ptr<FrameSource> open_emd(const std::string& path, const std::string&, const ReadParams&) {
  fail(ErrorKind::bad_input, path, "the emd reader is not built yet");
}

} // namespace domainmap::io
