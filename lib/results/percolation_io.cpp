// lib/results/percolation_io.cpp: /percolation in the results file. (Being written.)
#include "percolation_io.hpp"

#include "domainmap/error.hpp"
#include "domainmap/results.hpp"

namespace domainmap {

namespace detail {
void write_percolation_group(hid_t, const PercolationReport&, const std::string& path) {
  fail(ErrorKind::internal, path, "/percolation writing is not built yet");
}
} // namespace detail

PercolationReport read_percolation(const std::string& path) { fail(ErrorKind::internal, path, "/percolation reading is not built yet"); }

} // namespace domainmap
