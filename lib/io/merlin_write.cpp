// lib/io/merlin_write.cpp: write_mib (being written).
#include "domainmap/error.hpp"
#include "domainmap/write.hpp"

namespace domainmap {

void write_mib(FrameSource&, const std::string& path, const WriteParams&, RunContext&) {
  fail(ErrorKind::internal, path, "write_mib is not built yet");
}

} // namespace domainmap
