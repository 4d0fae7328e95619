// lib/io/emd_write.cpp: write_emd (being written).
#include "domainmap/error.hpp"
#include "domainmap/write.hpp"

namespace domainmap {

void write_emd(FrameSource&, const std::string& path, const WriteParams&, RunContext&) {
  fail(ErrorKind::internal, path, "write_emd is not built yet");
}

} // namespace domainmap
