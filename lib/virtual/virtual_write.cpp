// lib/virtual/virtual_write.cpp: virtual images to an HDF5 file (/virtual group), written to a
// temporary name and renamed when complete.
#include <ctime>
#include <filesystem>

#include "../core/h5util.hpp"
#include "../core/clock.hpp"
#include "domainmap/error.hpp"
#include "domainmap/version.hpp"
#include "domainmap/virtual.hpp"
#include "domainmap/write.hpp"

namespace domainmap {

namespace {


void write_contents(hid_t file, const VirtualImages& v, const std::string& input,
                    const std::vector<std::pair<std::string, std::string>>& config) {
  h5::write_string_attr(file, "domainmap_version", DOMAINMAP_VERSION);
  h5::write_int_attr(file, "format_version", 1);
  h5::write_string_attr(file, "created", core::iso8601_now());
  h5::write_string_attr(file, "input", input);

  h5::Handle scan = h5::require_group(file, "/scan", "");
  h5::write_ints_attr(scan, "scan_shape", {v.scan.y, v.scan.x});
  h5::write_ints_attr(scan, "detector_shape", {v.detector.y, v.detector.x});

  if (!config.empty()) {
    h5::Handle cfg = h5::require_group(file, "/config", "");
    for (const auto& [key, value] : config) h5::write_string_attr(cfg, key.c_str(), value);
  }

  h5::Handle g = h5::require_group(file, "/virtual", "");
  h5::write_double_attr(g, "center_y", v.center_y);
  h5::write_double_attr(g, "center_x", v.center_x);
  h5::write_string_attr(g, "center_source", v.center_auto ? "auto (central beam of the mean pattern)" : "given");
  h5::write_double_attr(g, "bf_radius", v.bf_radius);
  h5::write_double_attr(g, "adf_inner", v.adf_inner);
  h5::write_double_attr(g, "adf_outer", v.adf_outer);
  h5::write_string_attr(g, "units", "detector pixels; pixel (i, j) has its centre at (i, j)");

  const std::vector<std::int64_t> scan_dims{v.scan.y, v.scan.x};
  const std::vector<std::int64_t> det_dims{v.detector.y, v.detector.x};
  auto dataset = [&](const char* name) { return h5::open_dataset(g, name, ""); };
  if (!v.bf.empty()) {
    h5::write_floats(g, "bf", scan_dims, v.bf.data());
    h5::Handle d = dataset("bf");
    h5::write_double_attr(d, "radius", v.bf_radius);
    h5::write_doubles_attr(d, "center", {v.center_y, v.center_x});
    h5::write_int_attr(d, "mask_pixels", v.bf_pixels);
  }
  if (!v.adf.empty()) {
    h5::write_floats(g, "adf", scan_dims, v.adf.data());
    h5::Handle d = dataset("adf");
    h5::write_double_attr(d, "inner_radius", v.adf_inner);
    h5::write_double_attr(d, "outer_radius", v.adf_outer);
    h5::write_doubles_attr(d, "center", {v.center_y, v.center_x});
    h5::write_int_attr(d, "mask_pixels", v.adf_pixels);
  }
  if (!v.mean_dp.empty()) {
    h5::write_floats(g, "mean_dp", det_dims, v.mean_dp.data());
    h5::Handle d = dataset("mean_dp");
    h5::write_int_attr(d, "n_frames", v.scan.y * v.scan.x);
  }
  if (!v.max_dp.empty()) {
    h5::write_floats(g, "max_dp", det_dims, v.max_dp.data());
    h5::Handle d = dataset("max_dp");
    h5::write_int_attr(d, "n_frames", v.scan.y * v.scan.x);
  }
}

} // namespace

void write_virtual_h5(const VirtualImages& v, const std::string& path, const std::string& input,
                      const std::vector<std::pair<std::string, std::string>>& config) {
  const auto expect = [&](std::size_t got, std::int64_t a, std::int64_t b, const char* what) {
    if (got != 0 && got != static_cast<std::size_t>(a * b))
      fail(ErrorKind::internal, path, what, " has ", got, " values for ", a, "x", b);
  };
  expect(v.bf.size(), v.scan.y, v.scan.x, "bf");
  expect(v.adf.size(), v.scan.y, v.scan.x, "adf");
  expect(v.mean_dp.size(), v.detector.y, v.detector.x, "mean_dp");
  expect(v.max_dp.size(), v.detector.y, v.detector.x, "max_dp");

  std::error_code ec;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec))
    fail(ErrorKind::io, path, "cannot create the file: folder ", parent.string(), " does not exist");

  const std::string tmp = temporary_name_for(path);
  try {
    h5::Handle file;
    try {
      file = h5::create_file(tmp);
    } catch (const Error&) {
      fail(ErrorKind::io, path, "cannot create the file (is the folder writable?)");
    }
    try {
      write_contents(file, v, input, config);
    } catch (const Error& e) {
      fail(e.kind(), path, e.what());
    }
    if (H5Fclose(file.release()) < 0) fail(ErrorKind::io, path, "cannot finish writing the file (disk full?)");
    commit_temporary(tmp, path);
  } catch (...) {
    discard_temporary(tmp);
    throw;
  }
}

} // namespace domainmap
