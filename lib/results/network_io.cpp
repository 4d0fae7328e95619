// lib/results/network_io.cpp: /network in the results file. (Being written.)
#include "network_io.hpp"

#include "domainmap/error.hpp"
#include "domainmap/results.hpp"

namespace domainmap {

namespace detail {
void write_network_group(hid_t, const BoundaryNetwork&, const std::string& path) {
  fail(ErrorKind::internal, path, "/network writing is not built yet");
}
} // namespace detail

BoundaryNetwork read_network(const std::string& path) { fail(ErrorKind::internal, path, "/network reading is not built yet"); }

} // namespace domainmap
