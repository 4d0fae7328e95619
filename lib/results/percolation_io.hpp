// lib/results/percolation_io.hpp: private to lib/results/: the HDF5 side of /percolation
// (docs/results-layout.md), used by ResultsWriter (results.cpp); read_percolation() is in
// percolation_io.cpp.
#pragma once
#include <string>

#include <hdf5.h>

#include "domainmap/percolation.hpp"

namespace domainmap::detail {

/// Writes /percolation into `file` (which has none); `path` names errors.
void write_percolation_group(hid_t file, const PercolationReport& report, const std::string& path);

} // namespace domainmap::detail
