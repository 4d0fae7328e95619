// lib/results/domains_io.hpp: private to lib/results/: the HDF5 side of /orientation, /phases
// and /domains (docs/results-layout.md), used by ResultsWriter (results.cpp).
#pragma once
#include <string>

#include <hdf5.h>

#include "domainmap/segment.hpp"

namespace domainmap::detail {

/// Writes /orientation and /phases into `file` (which has neither); `path` names errors.
void write_orientation_groups(hid_t file, const OrientationMap& map, const std::string& path);
/// Writes /domains into `file` (which has none); `path` names errors.
void write_domains_group(hid_t file, const Segmentation& seg, const std::string& path);

} // namespace domainmap::detail
