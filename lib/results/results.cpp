// lib/results/results.cpp: the results file (docs/results-layout.md of the project): the
// transaction that writes it (ResultsWriter) and the readers. The only place that knows its
// HDF5 paths.
//
// A transaction writes a new temporary file beside the target. Groups written in the
// transaction go there directly; at commit() every other top-level object of the existing file
// (minus the groups cleared) is copied over with H5Ocopy, the root attributes and /config are
// written, and the temporary file is renamed over the target. Copying instead of editing in
// place keeps the file compact (HDF5 does not reclaim the space of deleted objects) and leaves
// the original untouched until the rename.
#include "domainmap/results.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>

#include "../core/h5util.hpp"
#include "domains_io.hpp"
#include "network_io.hpp"
#include "percolation_io.hpp"
#include "../core/clock.hpp"
#include "domainmap/error.hpp"
#include "domainmap/version.hpp"
#include "domainmap/write.hpp"

namespace domainmap {

const std::vector<std::string>& results_groups() {
  static const std::vector<std::string> g = {"peaks", "origin", "orientation", "phases", "domains", "network", "percolation"};
  return g;
}

namespace {


// Which stage first writes a group: the command that recreates it.
std::string run_hint(const std::string& path, const std::string& group) {
  if (group == "peaks" || group == "origin") return "run 'domainmap peaks DATA -o " + path + "' first";
  if (group == "orientation" || group == "phases") return "run 'domainmap index " + path + "' first";
  if (group == "domains") return "run 'domainmap segment " + path + "' first";
  return "run 'domainmap " + group + " " + path + "' first";
}

void require_results_file(hid_t f, const std::string& path) {
  if (!h5::has_attr(f, "format_version"))
    fail(ErrorKind::bad_input, path, "not a domainmap results file (no format_version attribute)");
  const auto v = h5::read_number_attr(f, "format_version");
  if (!v || *v != kResultsFormatVersion)
    fail(ErrorKind::bad_input, path, "results format_version ", v ? *v : -1, " is not supported (this build reads ",
         kResultsFormatVersion, ")");
}

// Stage of a "stage.key" config entry.
std::string stage_of(const std::string& key) {
  const std::size_t dot = key.find('.');
  return dot == std::string::npos ? key : key.substr(0, dot);
}

std::vector<std::string> attribute_names(hid_t obj) {
  std::vector<std::string> names;
  H5O_info_t info;
  if (H5Oget_info2(obj, &info, H5O_INFO_NUM_ATTRS) < 0) return names;
  for (hsize_t i = 0; i < info.num_attrs; ++i) {
    const ssize_t len = H5Aget_name_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (len < 0) continue;
    std::string name(static_cast<std::size_t>(len) + 1, '\0');
    H5Aget_name_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
    name.resize(static_cast<std::size_t>(len));
    names.push_back(name);
  }
  return names;
}

// Copies one attribute of any type between objects of (possibly) different files.
void copy_attribute(hid_t from, hid_t to, const std::string& name, const std::string& where) {
  h5::Handle a(H5Aopen(from, name.c_str(), H5P_DEFAULT));
  if (!a.valid()) fail(ErrorKind::io, where, "cannot read attribute ", name);
  h5::Handle ft(H5Aget_type(a));
  h5::Handle mt(H5Tget_native_type(ft, H5T_DIR_DEFAULT));
  h5::Handle space(H5Aget_space(a));
  const hssize_t n = std::max<hssize_t>(1, H5Sget_simple_extent_npoints(space));
  std::vector<unsigned char> buf(static_cast<std::size_t>(n) * H5Tget_size(mt) + 16);
  if (H5Aread(a, mt, buf.data()) < 0) fail(ErrorKind::io, where, "cannot read attribute ", name);
  if (H5Aexists(to, name.c_str()) > 0) H5Adelete(to, name.c_str());
  h5::Handle b(H5Acreate2(to, name.c_str(), ft, space, H5P_DEFAULT, H5P_DEFAULT));
  const herr_t st = b.valid() ? H5Awrite(b, mt, buf.data()) : -1;
  if (H5Tdetect_class(mt, H5T_VLEN) > 0 || (H5Tget_class(mt) == H5T_STRING && H5Tis_variable_str(mt) > 0))
    H5Dvlen_reclaim(mt, space, H5P_DEFAULT, buf.data());
  if (st < 0) fail(ErrorKind::io, where, "cannot write attribute ", name);
}

std::vector<std::string> top_level_names(hid_t f) {
  std::vector<std::string> names;
  H5G_info_t info;
  if (H5Gget_info(f, &info) < 0) return names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t len = H5Lget_name_by_idx(f, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (len < 0) continue;
    std::string name(static_cast<std::size_t>(len) + 1, '\0');
    H5Lget_name_by_idx(f, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
    name.resize(static_cast<std::size_t>(len));
    names.push_back(name);
  }
  return names;
}

std::vector<float> floats_of(hid_t loc, const std::string& name, const std::string& where) {
  h5::Handle d = h5::open_dataset(loc, name, where);
  return h5::read_floats(d, where + ":" + name);
}

} // namespace

struct ResultsWriter::Impl {
  h5::Handle tmp;                 // the new file
  h5::Handle orig;                // the existing file (read-only), or invalid
  std::set<std::string> cleared;  // groups not to copy from orig
  std::set<std::string> written;  // top-level objects already in tmp
  std::map<std::string, std::string> config;  // merged /config
  std::set<std::string> config_stages;        // stages whose /config entries this transaction set
  bool header_written = false;

  // Makes group `g` of tmp hold what orig had (if it was not cleared), so that it can be
  // extended; returns it open.
  h5::Handle adopt(const std::string& g, const std::string& where) {
    if (!written.count(g) && orig.valid() && !cleared.count(g) && H5Lexists(orig, g.c_str(), H5P_DEFAULT) > 0) {
      if (H5Ocopy(orig, g.c_str(), tmp, g.c_str(), H5P_DEFAULT, H5P_DEFAULT) < 0)
        fail(ErrorKind::io, where, "cannot copy /", g);
    }
    written.insert(g);
    return h5::require_group(tmp, "/" + g, where);
  }
};

ResultsWriter::ResultsWriter(const std::string& path, bool create_new) : path_(path), impl_(std::make_unique<Impl>()) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::is_directory(parent, ec))
    fail(ErrorKind::io, path, "cannot create the file: folder ", parent.string(), " does not exist");
  if (!create_new) {
    if (!fs::exists(path, ec)) fail(ErrorKind::bad_input, path, "no such results file; run 'domainmap peaks DATA -o ", path, "' first");
    impl_->orig = h5::open_file_read(path);
    require_results_file(impl_->orig, path);
    if (H5Lexists(impl_->orig, "config", H5P_DEFAULT) > 0) {
      h5::Handle cfg = h5::open_group(impl_->orig, "/config", path);
      for (const std::string& k : attribute_names(cfg))
        if (auto v = h5::read_string_attr(cfg, k.c_str())) impl_->config[k] = *v;
    }
  }
  tmp_ = temporary_name_for(path);
  try {
    impl_->tmp = h5::create_file(tmp_);
  } catch (const Error&) {
    fail(ErrorKind::io, path, "cannot create the file (is the folder writable?)");
  }
}

ResultsWriter::~ResultsWriter() {
  if (!committed_) {
    impl_.reset();
    discard_temporary(tmp_);
  }
}

void ResultsWriter::write_header(const ResultsHeader& h) {
  Impl& d = *impl_;
  hid_t f = d.tmp;
  h5::write_string_attr(f, "domainmap_version", h.domainmap_version.empty() ? DOMAINMAP_VERSION : h.domainmap_version);
  h5::write_int_attr(f, "format_version", kResultsFormatVersion);
  h5::write_string_attr(f, "created", h.created.empty() ? core::iso8601_now() : h.created);
  h5::write_string_attr(f, "input", h.input);
  h5::unlink_if_exists(f, "scan");
  d.cleared.insert("scan");
  h5::Handle scan = h5::require_group(f, "/scan", path_);
  d.written.insert("scan");
  h5::write_ints_attr(scan, "scan_shape", {h.scan.y, h.scan.x});
  h5::write_ints_attr(scan, "detector_shape", {h.detector.y, h.detector.x});
  if (h.scan_step_nm > 0) h5::write_double_attr(scan, "scan_step_nm", h.scan_step_nm);
  if (h.q_pixel_inv_A > 0) h5::write_double_attr(scan, "q_pixel_inv_A", h.q_pixel_inv_A);
  d.header_written = true;
}

void ResultsWriter::write_config(const std::string& stage,
                                 const std::vector<std::pair<std::string, std::string>>& values) {
  Impl& d = *impl_;
  for (auto it = d.config.begin(); it != d.config.end();)
    it = stage_of(it->first) == stage ? d.config.erase(it) : std::next(it);
  d.config_stages.insert(stage);
  for (const auto& [k, v] : values) {
    const std::string key = k.find('.') == std::string::npos ? stage + "." + k : k;
    d.config[key] = v;
  }
}

void ResultsWriter::clear_from(const std::string& group) {
  Impl& d = *impl_;
  const auto& g = results_groups();
  auto it = std::find(g.begin(), g.end(), group);
  if (it == g.end()) fail(ErrorKind::internal, path_, "clear_from: unknown group '", group, "'");
  for (; it != g.end(); ++it) {
    d.cleared.insert(*it);
    d.written.erase(*it);
    h5::unlink_if_exists(d.tmp, *it);
  }
}

void ResultsWriter::write_peaks(const PeakList& peaks) {
  const std::size_t n = peaks.size();
  const std::size_t positions = static_cast<std::size_t>(peaks.scan.y * peaks.scan.x);
  if (peaks.offsets.size() != positions + 1 || peaks.offsets.back() != n || peaks.qx_raw.size() != n ||
      peaks.intensity.size() != n || (!peaks.qy.empty() && (peaks.qy.size() != n || peaks.qx.size() != n)))
    fail(ErrorKind::internal, path_, "write_peaks: inconsistent peak list (", positions, " positions, ",
         peaks.offsets.size(), " offsets, ", n, " peaks)");
  clear_from("peaks");
  Impl& d = *impl_;
  h5::Handle g = h5::require_group(d.tmp, "/peaks", path_);
  d.written.insert("peaks");
  const std::vector<std::int64_t> dn{static_cast<std::int64_t>(n)};
  h5::write_uint64s(g, "offsets", {static_cast<std::int64_t>(positions + 1)}, peaks.offsets.data());
  h5::write_floats(g, "qy_raw", dn, peaks.qy_raw.data());
  h5::write_floats(g, "qx_raw", dn, peaks.qx_raw.data());
  h5::write_floats(g, "intensity", dn, peaks.intensity.data());
  if (!peaks.qy.empty()) {
    h5::write_floats(g, "qy", dn, peaks.qy.data());
    h5::write_floats(g, "qx", dn, peaks.qx.data());
  }
  h5::write_ints_attr(g, "scan_shape", {peaks.scan.y, peaks.scan.x});
  h5::write_ints_attr(g, "detector_shape", {peaks.detector.y, peaks.detector.x});
  h5::write_string_attr(g, "units", "detector pixels; pixel (i, j) has its centre at (qy, qx) = (i, j); qy = first detector axis");
}

void ResultsWriter::write_origin(const OriginMap& origin, const PeakList& corrected, const EllipseDistortion& ellipse,
                                 const BraggVectorMap& bvm) {
  Impl& d = *impl_;
  const std::size_t positions = static_cast<std::size_t>(origin.scan.y * origin.scan.x);
  if (origin.qy0.size() != positions || origin.qx0.size() != positions)
    fail(ErrorKind::internal, path_, "write_origin: origin map of ", origin.qy0.size(), " values for ", positions, " positions");
  if (corrected.qy.size() != corrected.size() || corrected.qx.size() != corrected.size())
    fail(ErrorKind::internal, path_, "write_origin: the peaks are not corrected");
  if (bvm.counts.size() != static_cast<std::size_t>(bvm.size * bvm.size))
    fail(ErrorKind::internal, path_, "write_origin: Bragg vector map of ", bvm.counts.size(), " values for ", bvm.size, "^2");
  // /peaks must be there: written in this transaction or kept from the file
  if (!d.written.count("peaks")) {
    if (!d.orig.valid() || d.cleared.count("peaks") || H5Lexists(d.orig, "peaks", H5P_DEFAULT) <= 0)
      fail(ErrorKind::bad_input, path_, "no /peaks; ", run_hint(path_, "peaks"));
  }
  // keep /peaks (adopted from the file if needed), drop everything from /origin on
  h5::Handle pk = d.adopt("peaks", path_);
  {
    h5::Handle off = h5::open_dataset(pk, "qy_raw", path_);
    if (h5::dataset_dims(off).at(0) != static_cast<std::int64_t>(corrected.size()))
      fail(ErrorKind::internal, path_, "write_origin: ", corrected.size(), " corrected peaks for ",
           h5::dataset_dims(off).at(0), " in /peaks");
  }
  clear_from("origin");
  const std::vector<std::int64_t> dn{static_cast<std::int64_t>(corrected.size())};
  h5::write_floats(pk, "qy", dn, corrected.qy.data());
  h5::write_floats(pk, "qx", dn, corrected.qx.data());
  h5::write_floats(pk, "bragg_vector_map", {bvm.size, bvm.size}, bvm.counts.data());
  {
    h5::Handle m = h5::open_dataset(pk, "bragg_vector_map", path_);
    h5::write_double_attr(m, "pixel", bvm.pixel);
    h5::write_int_attr(m, "size", bvm.size);
    h5::write_ints_attr(m, "center_bin", {bvm.size / 2, bvm.size / 2});
    h5::write_string_attr(m, "units", "bin (i, j) is centred on (qy, qx) = ((i - size/2), (j - size/2)) * pixel, detector px");
  }
  h5::Handle g = h5::require_group(d.tmp, "/origin", path_);
  d.written.insert("origin");
  const std::vector<std::int64_t> ds{origin.scan.y, origin.scan.x};
  h5::write_floats(g, "qy0", ds, origin.qy0.data());
  h5::write_floats(g, "qx0", ds, origin.qx0.data());
  if (origin.qy0_measured.size() == positions && origin.qx0_measured.size() == positions) {
    h5::write_floats(g, "qy0_measured", ds, origin.qy0_measured.data());
    h5::write_floats(g, "qx0_measured", ds, origin.qx0_measured.data());
  }
  h5::write_int_attr(g, "ellipse_fitted", ellipse.fitted ? 1 : 0);
  h5::write_double_attr(g, "ellipse_a", ellipse.a);
  h5::write_double_attr(g, "ellipse_b", ellipse.b);
  h5::write_double_attr(g, "ellipse_theta_deg", ellipse.theta_deg);
  h5::write_string_attr(g, "units", "detector pixels; ellipse_theta_deg: a axis from +qx towards +qy");
}

void ResultsWriter::write_orientation(const OrientationMap& map) {
  Impl& d = *impl_;
  clear_from("orientation");
  detail::write_orientation_groups(d.tmp, map, path_);
  d.written.insert("orientation");
  d.written.insert("phases");
}

void ResultsWriter::write_domains(const Segmentation& seg) {
  Impl& d = *impl_;
  if (!d.written.count("orientation")) {
    if (!d.orig.valid() || d.cleared.count("orientation") || H5Lexists(d.orig, "orientation", H5P_DEFAULT) <= 0)
      fail(ErrorKind::bad_input, path_, "no /orientation; ", run_hint(path_, "orientation"));
  }
  clear_from("domains");
  detail::write_domains_group(d.tmp, seg, path_);
  d.written.insert("domains");
}

void ResultsWriter::write_network(const BoundaryNetwork& net) {
  Impl& d = *impl_;
  if (!d.written.count("domains")) {
    if (!d.orig.valid() || d.cleared.count("domains") || H5Lexists(d.orig, "domains", H5P_DEFAULT) <= 0)
      fail(ErrorKind::bad_input, path_, "no /domains; ", run_hint(path_, "domains"));
  }
  clear_from("network");
  detail::write_network_group(d.tmp, net, path_);
  d.written.insert("network");
}

void ResultsWriter::write_percolation(const PercolationReport& report) {
  Impl& d = *impl_;
  if (!d.written.count("domains")) {
    if (!d.orig.valid() || d.cleared.count("domains") || H5Lexists(d.orig, "domains", H5P_DEFAULT) <= 0)
      fail(ErrorKind::bad_input, path_, "no /domains; ", run_hint(path_, "domains"));
  }
  clear_from("percolation");
  detail::write_percolation_group(d.tmp, report, path_);
  d.written.insert("percolation");
}

void ResultsWriter::commit() {
  Impl& d = *impl_;
  if (committed_) fail(ErrorKind::internal, path_, "commit() called twice");
  try {
    if (d.orig.valid()) {
      for (const std::string& name : top_level_names(d.orig)) {
        if (name == "config" || d.cleared.count(name) || d.written.count(name)) continue;
        if (H5Ocopy(d.orig, name.c_str(), d.tmp, name.c_str(), H5P_DEFAULT, H5P_DEFAULT) < 0)
          fail(ErrorKind::io, path_, "cannot copy /", name);
      }
      if (!d.header_written)
        for (const std::string& a : attribute_names(d.orig)) copy_attribute(d.orig, d.tmp, a, path_);
    } else if (!d.header_written) {
      ResultsHeader h;
      write_header(h);
    }
    // the parameters of a stage whose group was deleted and not rewritten are stale
    for (auto c = d.config.begin(); c != d.config.end();) {
      const std::string st = stage_of(c->first);
      const bool stale = d.cleared.count(st) && !d.written.count(st) && !d.config_stages.count(st);
      c = stale ? d.config.erase(c) : std::next(c);
    }
    h5::unlink_if_exists(d.tmp, "config");
    h5::Handle cfg = h5::require_group(d.tmp, "/config", path_);
    for (const auto& [k, v] : d.config) h5::write_string_attr(cfg, k.c_str(), v);
    cfg.reset();
    d.orig.reset();
    if (H5Fclose(d.tmp.release()) < 0) fail(ErrorKind::io, path_, "cannot finish writing the file (disk full?)");
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.rfind(path_, 0) == 0) throw;
    fail(e.kind(), path_, msg);
  }
  commit_temporary(tmp_, path_);
  committed_ = true;
}

// ---- readers ----

namespace {

h5::Handle open_results(const std::string& path) {
  h5::Handle f = h5::open_file_read(path);
  require_results_file(f, path);
  return f;
}

h5::Handle open_stage_group(hid_t f, const std::string& path, const std::string& group) {
  if (H5Lexists(f, group.c_str(), H5P_DEFAULT) <= 0) fail(ErrorKind::bad_input, path, "no /", group, "; ", run_hint(path, group));
  return h5::open_group(f, "/" + group, path);
}

Shape2 shape_attr(hid_t obj, const char* name, const std::string& where) {
  const std::vector<double> v = h5::read_numbers_attr(obj, name);
  if (v.size() != 2) fail(ErrorKind::bad_input, where, "missing attribute ", name);
  return {static_cast<std::int64_t>(v[0]), static_cast<std::int64_t>(v[1])};
}

} // namespace

ResultsHeader read_results_header(const std::string& path) {
  h5::Handle f = open_results(path);
  ResultsHeader h;
  h.domainmap_version = h5::read_string_attr(f, "domainmap_version").value_or("");
  h.created = h5::read_string_attr(f, "created").value_or("");
  h.input = h5::read_string_attr(f, "input").value_or("");
  if (H5Lexists(f, "scan", H5P_DEFAULT) > 0) {
    h5::Handle s = h5::open_group(f, "/scan", path);
    h.scan = shape_attr(s, "scan_shape", path + ":/scan");
    h.detector = shape_attr(s, "detector_shape", path + ":/scan");
    h.scan_step_nm = h5::read_number_attr(s, "scan_step_nm").value_or(0);
    h.q_pixel_inv_A = h5::read_number_attr(s, "q_pixel_inv_A").value_or(0);
  }
  return h;
}

PeakList read_peaks(const std::string& path) {
  h5::Handle f = open_results(path);
  h5::Handle g = open_stage_group(f, path, "peaks");
  const std::string where = path + ":/peaks";
  PeakList p;
  p.scan = shape_attr(g, "scan_shape", where);
  p.detector = shape_attr(g, "detector_shape", where);
  {
    h5::Handle d = h5::open_dataset(g, "offsets", where);
    const std::vector<std::int64_t> v = h5::read_ints(d, where + "/offsets");
    p.offsets.assign(v.begin(), v.end());
  }
  p.qy_raw = floats_of(g, "qy_raw", where);
  p.qx_raw = floats_of(g, "qx_raw", where);
  p.intensity = floats_of(g, "intensity", where);
  if (H5Lexists(g, "qy", H5P_DEFAULT) > 0) {
    p.qy = floats_of(g, "qy", where);
    p.qx = floats_of(g, "qx", where);
  }
  const std::size_t n = p.qy_raw.size();
  bool ok = p.offsets.size() == static_cast<std::size_t>(p.scan.y * p.scan.x + 1) && p.qx_raw.size() == n &&
            p.intensity.size() == n && (p.qy.empty() || (p.qy.size() == n && p.qx.size() == n)) &&
            !p.offsets.empty() && p.offsets.front() == 0 && p.offsets.back() == n;
  for (std::size_t i = 1; ok && i < p.offsets.size(); ++i) ok = p.offsets[i] >= p.offsets[i - 1];
  if (!ok) fail(ErrorKind::bad_input, where, "inconsistent peak arrays (offsets do not match the peaks)");
  return p;
}

OriginMap read_origin(const std::string& path) {
  h5::Handle f = open_results(path);
  h5::Handle g = open_stage_group(f, path, "origin");
  const std::string where = path + ":/origin";
  OriginMap o;
  h5::Handle d = h5::open_dataset(g, "qy0", where);
  const auto dims = h5::dataset_dims(d);
  if (dims.size() != 2) fail(ErrorKind::bad_input, where + "/qy0", "expected a 2-D [Ry, Rx] array");
  o.scan = {dims[0], dims[1]};
  o.qy0 = h5::read_floats(d, where + "/qy0");
  o.qx0 = floats_of(g, "qx0", where);
  if (H5Lexists(g, "qy0_measured", H5P_DEFAULT) > 0) {
    o.qy0_measured = floats_of(g, "qy0_measured", where);
    o.qx0_measured = floats_of(g, "qx0_measured", where);
  }
  if (o.qx0.size() != o.qy0.size()) fail(ErrorKind::bad_input, where, "qy0 and qx0 differ in size");
  return o;
}

EllipseDistortion read_ellipse(const std::string& path) {
  h5::Handle f = open_results(path);
  h5::Handle g = open_stage_group(f, path, "origin");
  EllipseDistortion e;
  e.fitted = h5::read_number_attr(g, "ellipse_fitted").value_or(0) != 0;
  e.a = h5::read_number_attr(g, "ellipse_a").value_or(1);
  e.b = h5::read_number_attr(g, "ellipse_b").value_or(1);
  e.theta_deg = h5::read_number_attr(g, "ellipse_theta_deg").value_or(0);
  return e;
}

BraggVectorMap read_bragg_vector_map(const std::string& path) {
  h5::Handle f = open_results(path);
  h5::Handle g = open_stage_group(f, path, "peaks");
  if (H5Lexists(g, "bragg_vector_map", H5P_DEFAULT) <= 0)
    fail(ErrorKind::bad_input, path, "no /peaks/bragg_vector_map; ", run_hint(path, "origin"));
  const std::string where = path + ":/peaks/bragg_vector_map";
  h5::Handle d = h5::open_dataset(g, "bragg_vector_map", path);
  const auto dims = h5::dataset_dims(d);
  if (dims.size() != 2 || dims[0] != dims[1]) fail(ErrorKind::bad_input, where, "expected a square 2-D array");
  BraggVectorMap m;
  m.size = dims[0];
  m.pixel = h5::read_number_attr(d, "pixel").value_or(1);
  m.counts = h5::read_floats(d, where);
  return m;
}

std::vector<std::pair<std::string, std::string>> read_config(const std::string& path) {
  h5::Handle f = open_results(path);
  std::vector<std::pair<std::string, std::string>> out;
  if (H5Lexists(f, "config", H5P_DEFAULT) <= 0) return out;
  h5::Handle cfg = h5::open_group(f, "/config", path);
  for (const std::string& k : attribute_names(cfg))
    if (auto v = h5::read_string_attr(cfg, k.c_str())) out.emplace_back(k, *v);
  std::sort(out.begin(), out.end());
  return out;
}

bool results_has(const std::string& path, const std::string& group) {
  h5::Handle f = open_results(path);
  return h5::exists(f, "/" + group);
}

} // namespace domainmap
