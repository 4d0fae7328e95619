// lib/results/results_io.hpp: private to lib/results/: the HDF5 helpers every group's I/O file
// shares (results.cpp, domains_io.cpp, network_io.cpp, percolation_io.cpp).
#pragma once
#include <string>
#include <vector>

#include <hdf5.h>

#include "../core/h5util.hpp"
#include "domainmap/error.hpp"
#include "domainmap/params.hpp"

namespace domainmap::detail {

/// Throws bad_input naming `path` unless the open file `f` is a results file of this format version.
void require_results_file(hid_t f, const std::string& path);
/// Opens a results file read-only; throws bad_input naming it if it is not one (no
/// format_version) or of another format version.
h5::Handle open_results_file(const std::string& path);

/// A two-number attribute as a shape; throws bad_input naming `where` if it is missing.
Shape2 read_shape_attr(hid_t obj, const char* name, const std::string& where);

/// A 1-D compound dataset `name` of g with `rows` (may be empty); errors name `where`/name.
template <typename Row>
h5::Handle write_compound(hid_t g, const char* name, hid_t type, const std::vector<Row>& rows, const std::string& where) {
  const hsize_t dim = rows.size();
  h5::Handle space(H5Screate_simple(1, &dim, nullptr));
  h5::Handle d(H5Dcreate2(g, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!d.valid() || (!rows.empty() && H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()) < 0))
    fail(ErrorKind::io, where, "cannot write ", name);
  return d;
}

/// The rows of the 1-D compound dataset `name` of g read as `type`; bad_input naming
/// `where`/name if it is missing, not 1-D or has other fields.
template <typename Row>
std::vector<Row> read_compound(hid_t g, const char* name, hid_t type, const std::string& where) {
  if (H5Lexists(g, name, H5P_DEFAULT) <= 0) fail(ErrorKind::bad_input, where, "missing dataset ", name);
  h5::Handle d = h5::open_dataset(g, name, where);
  const auto dims = h5::dataset_dims(d);
  if (dims.size() != 1) fail(ErrorKind::bad_input, where + "/" + name, "expected a 1-D compound array");
  std::vector<Row> rows(static_cast<std::size_t>(dims[0]));
  if (!rows.empty() && H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()) < 0)
    fail(ErrorKind::bad_input, where + "/" + name, "cannot read the table (unexpected fields?)");
  return rows;
}

} // namespace domainmap::detail
