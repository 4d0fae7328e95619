// lib/io/raw_write.cpp: write_raw (being written).
#include "domainmap/error.hpp"
#include "domainmap/write.hpp"

namespace domainmap {

void write_raw(FrameSource&, const std::string& path, const WriteParams&, RunContext&) {
  fail(ErrorKind::internal, path, "write_raw is not built yet");
}

} // namespace domainmap
