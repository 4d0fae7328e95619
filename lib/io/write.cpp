// lib/io/write.cpp: the `write` parameters and the temporary-name-then-rename protocol.
#include "domainmap/write.hpp"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <system_error>

#include "domainmap/error.hpp"

namespace domainmap {

void describe(WriteParams& p, ParamSink& s) {
  param(s, "compress", p.compress, "compression of written EMD/HDF5 data", {"none", "gzip", "lz4"});
  param(s, "gzip_level", p.gzip_level, "deflate level for compress = gzip", 1, 9);
  param(s, "dtype", p.dtype, "stored pixel type (auto: integer data keep their type, else float32)",
        {"auto", "uint8", "uint16", "uint32", "float32"});
}

std::string temporary_name_for(const std::string& path) {
  static std::atomic<int> counter{0};
  return path + ".part-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

void commit_temporary(const std::string& tmp, const std::string& path) {
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    discard_temporary(tmp);
    fail(ErrorKind::io, path, "cannot rename the finished temporary file into place: ", ec.message());
  }
}

void discard_temporary(const std::string& tmp) noexcept {
  std::error_code ec;
  std::filesystem::remove(tmp, ec);
}

} // namespace domainmap
