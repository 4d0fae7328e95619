// lib/results/network_io.hpp: private to lib/results/: the HDF5 side of /network
// (docs/results-layout.md), used by ResultsWriter (results.cpp); read_network() is in
// network_io.cpp.
#pragma once
#include <string>

#include <hdf5.h>

#include "domainmap/network.hpp"

namespace domainmap::detail {

/// Writes /network into `file` (which has none); `path` names errors.
void write_network_group(hid_t file, const BoundaryNetwork& net, const std::string& path);

} // namespace domainmap::detail
