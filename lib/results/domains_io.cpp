// lib/results/domains_io.cpp: /orientation, /phases and /domains of the results file
// (docs/results-layout.md): the writers ResultsWriter calls and the readers.
#include "domains_io.hpp"
#include "results_io.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "../core/h5util.hpp"
#include "domainmap/error.hpp"
#include "domainmap/results.hpp"
#include "domainmap/symmetry.hpp"

namespace domainmap {

using detail::read_compound;
using detail::write_compound;

namespace {

// One row of /domains/table as stored (native types; touches_edge as uint8).
struct TableRow {
  std::int32_t id;
  std::int32_t phase;
  std::int64_t area_px;
  double area_nm2;
  double equivalent_diameter_px;
  double equivalent_diameter_nm;
  std::int64_t perimeter_px;
  double perimeter_nm;
  double centroid_y;
  double centroid_x;
  std::int64_t bbox_y0, bbox_x0, bbox_y1, bbox_x1;
  double mean_angle_deg;
  double mean_q_w, mean_q_x, mean_q_y, mean_q_z;
  double spread_deg;
  double max_dev_deg;
  std::int64_t n_oriented;
  std::uint8_t touches_edge;
  std::int32_t n_neighbours;
};

h5::Handle table_type() {
  h5::Handle t(H5Tcreate(H5T_COMPOUND, sizeof(TableRow)));
#define DM_FIELD(name, type) H5Tinsert(t, #name, HOFFSET(TableRow, name), type)
  DM_FIELD(id, H5T_NATIVE_INT32);
  DM_FIELD(phase, H5T_NATIVE_INT32);
  DM_FIELD(area_px, H5T_NATIVE_INT64);
  DM_FIELD(area_nm2, H5T_NATIVE_DOUBLE);
  DM_FIELD(equivalent_diameter_px, H5T_NATIVE_DOUBLE);
  DM_FIELD(equivalent_diameter_nm, H5T_NATIVE_DOUBLE);
  DM_FIELD(perimeter_px, H5T_NATIVE_INT64);
  DM_FIELD(perimeter_nm, H5T_NATIVE_DOUBLE);
  DM_FIELD(centroid_y, H5T_NATIVE_DOUBLE);
  DM_FIELD(centroid_x, H5T_NATIVE_DOUBLE);
  DM_FIELD(bbox_y0, H5T_NATIVE_INT64);
  DM_FIELD(bbox_x0, H5T_NATIVE_INT64);
  DM_FIELD(bbox_y1, H5T_NATIVE_INT64);
  DM_FIELD(bbox_x1, H5T_NATIVE_INT64);
  DM_FIELD(mean_angle_deg, H5T_NATIVE_DOUBLE);
  DM_FIELD(mean_q_w, H5T_NATIVE_DOUBLE);
  DM_FIELD(mean_q_x, H5T_NATIVE_DOUBLE);
  DM_FIELD(mean_q_y, H5T_NATIVE_DOUBLE);
  DM_FIELD(mean_q_z, H5T_NATIVE_DOUBLE);
  DM_FIELD(spread_deg, H5T_NATIVE_DOUBLE);
  DM_FIELD(max_dev_deg, H5T_NATIVE_DOUBLE);
  DM_FIELD(n_oriented, H5T_NATIVE_INT64);
  DM_FIELD(touches_edge, H5T_NATIVE_UINT8);
  DM_FIELD(n_neighbours, H5T_NATIVE_INT32);
#undef DM_FIELD
  return t;
}


std::vector<std::int32_t> int32s_of(hid_t loc, const std::string& name, const std::string& where) {
  h5::Handle d = h5::open_dataset(loc, name, where);
  const std::vector<std::int64_t> v = h5::read_ints(d, where + "/" + name);
  return std::vector<std::int32_t>(v.begin(), v.end());
}

std::vector<std::int64_t> dims_of(hid_t loc, const std::string& name, const std::string& where) {
  h5::Handle d = h5::open_dataset(loc, name, where);
  return h5::dataset_dims(d);
}

} // namespace

namespace detail {

void write_orientation_groups(hid_t file, const OrientationMap& m, const std::string& path) {
  const std::size_t n = static_cast<std::size_t>(m.size());
  if (m.phase.size() != n || (!m.angle_deg.empty() && m.angle_deg.size() != n) ||
      (!m.quaternion.empty() && m.quaternion.size() != n) || (!m.score.empty() && m.score.size() != n) ||
      (m.angle_deg.empty() && m.quaternion.empty()))
    fail(ErrorKind::internal, path, "write_orientation: inconsistent orientation map (", n, " positions, ",
         m.phase.size(), " phases, ", m.angle_deg.size(), " angles, ", m.quaternion.size(), " quaternions, ",
         m.score.size(), " scores)");
  h5::Handle g = h5::require_group(file, "/orientation", path);
  const std::vector<std::int64_t> ds{m.scan.y, m.scan.x};
  h5::write_int32s(g, "phase", ds, m.phase.data());
  if (!m.angle_deg.empty()) h5::write_floats(g, "angle", ds, m.angle_deg.data());
  if (!m.quaternion.empty()) h5::write_floats(g, "quaternion", {m.scan.y, m.scan.x, 4}, m.quaternion.front().data());
  if (!m.score.empty()) h5::write_floats(g, "score", ds, m.score.data());
  h5::write_string_attr(g, "units", "angle: degrees, reduced to [0, 360/n); quaternion: (w, x, y, z) crystal to sample; phase -1 = not indexed");
  h5::Handle ph = h5::require_group(file, "/phases", path);
  for (std::size_t i = 0; i < m.phases.size(); ++i) {
    h5::Handle p = h5::require_group(ph, std::to_string(i), path);
    h5::write_string_attr(p, "name", m.phases[i].name);
    h5::write_string_attr(p, "symmetry", m.phases[i].symmetry);
  }
}

void write_domains_group(hid_t file, const Segmentation& s, const std::string& path) {
  const std::size_t n = static_cast<std::size_t>(s.scan.y * s.scan.x);
  if (s.labels.size() != n || (!s.subdomains.empty() && s.subdomains.size() != n) ||
      (!s.kam_deg.empty() && s.kam_deg.size() != n) || (!s.gos_deg.empty() && s.gos_deg.size() != n))
    fail(ErrorKind::internal, path, "write_domains: inconsistent segmentation (", n, " positions, ", s.labels.size(),
         " labels)");
  h5::Handle g = h5::require_group(file, "/domains", path);
  const std::vector<std::int64_t> ds{s.scan.y, s.scan.x};
  h5::write_int32s(g, "labels", ds, s.labels.data());
  if (!s.subdomains.empty()) {
    h5::write_int32s(g, "subdomains", ds, s.subdomains.data());
    h5::write_int32s(g, "subdomain_parent", {static_cast<std::int64_t>(s.subdomain_parent.size())},
                     s.subdomain_parent.data());
  }
  if (!s.kam_deg.empty()) h5::write_floats(g, "kam_deg", ds, s.kam_deg.data());
  if (!s.gos_deg.empty()) h5::write_floats(g, "gos_deg", ds, s.gos_deg.data());

  std::vector<TableRow> rows(s.table.size());
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const DomainRecord& r = s.table[k];
    rows[k] = TableRow{r.id, r.phase, r.area_px, r.area_nm2, r.eq_diameter_px, r.eq_diameter_nm, r.perimeter_px,
                       r.perimeter_nm, r.centroid_y, r.centroid_x, r.bbox_y0, r.bbox_x0, r.bbox_y1, r.bbox_x1,
                       r.mean_angle_deg, r.mean_quaternion[0], r.mean_quaternion[1], r.mean_quaternion[2],
                       r.mean_quaternion[3], r.spread_deg, r.max_dev_deg, r.n_oriented,
                       static_cast<std::uint8_t>(r.touches_edge ? 1 : 0), r.n_neighbours};
  }
  {
    h5::Handle t = table_type();
    const hsize_t dim = rows.size();
    h5::Handle space(H5Screate_simple(1, &dim, nullptr));
    h5::Handle d(H5Dcreate2(g, "table", t, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    if (!d.valid() || (!rows.empty() && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()) < 0))
      fail(ErrorKind::io, path, "cannot write /domains/table");
    h5::write_string_attr(d, "units", "areas px or nm^2, lengths px or nm (0 = scan step unknown), angles deg; "
                                      "bbox: [y0, y1) x [x0, x1); mean_q: (w, x, y, z)");
  }
  const DomainSummary& m = s.summary;
  h5::write_int_attr(g, "count", m.count);
  h5::write_double_attr(g, "mean_area_px", m.mean_area_px);
  h5::write_double_attr(g, "median_area_px", m.median_area_px);
  h5::write_double_attr(g, "lognormal_mu", m.lognormal_mu);
  h5::write_double_attr(g, "lognormal_sigma", m.lognormal_sigma);
  h5::write_double_attr(g, "mean_area_nm2", m.mean_area_nm2);
  h5::write_double_attr(g, "fraction_unindexed", m.fraction_unindexed);
  h5::write_double_attr(g, "fraction_unlabelled", m.fraction_unlabelled);
  h5::write_int_attr(g, "n_filled", m.n_filled);
  h5::write_int_attr(g, "n_merged", m.n_merged);
  h5::write_int_attr(g, "n_dropped", m.n_dropped);
}

} // namespace detail

OrientationMap read_orientation(const std::string& path) {
  h5::Handle f = detail::open_results_file(path);
  if (H5Lexists(f, "orientation", H5P_DEFAULT) <= 0)
    fail(ErrorKind::bad_input, path, "no /orientation; run 'domainmap index ", path, "' first");
  h5::Handle g = h5::open_group(f, "/orientation", path);
  const std::string where = path + ":/orientation";
  OrientationMap m;
  const auto dims = dims_of(g, "phase", where);
  if (dims.size() != 2) fail(ErrorKind::bad_input, where + "/phase", "expected a 2-D [Ry, Rx] array");
  m.scan = {dims[0], dims[1]};
  m.phase = int32s_of(g, "phase", where);
  auto same_shape = [&](const std::string& name, std::vector<std::int64_t> want) {
    const auto d = dims_of(g, name, where);
    if (d != want)
      fail(ErrorKind::bad_input, where + "/" + name, "shape does not match /orientation/phase [", m.scan.y, ", ",
           m.scan.x, "]");
  };
  if (H5Lexists(g, "angle", H5P_DEFAULT) > 0) {
    same_shape("angle", dims);
    h5::Handle d = h5::open_dataset(g, "angle", where);
    m.angle_deg = h5::read_floats(d, where + "/angle");
  }
  if (H5Lexists(g, "quaternion", H5P_DEFAULT) > 0) {
    same_shape("quaternion", {dims[0], dims[1], 4});
    h5::Handle d = h5::open_dataset(g, "quaternion", where);
    const std::vector<float> q = h5::read_floats(d, where + "/quaternion");
    m.quaternion.resize(q.size() / 4);
    for (std::size_t i = 0; i < m.quaternion.size(); ++i)
      m.quaternion[i] = {q[4 * i], q[4 * i + 1], q[4 * i + 2], q[4 * i + 3]};
  }
  if (m.angle_deg.empty() && m.quaternion.empty())
    fail(ErrorKind::bad_input, where, "has neither angle nor quaternion");
  if (H5Lexists(g, "score", H5P_DEFAULT) > 0) {
    same_shape("score", dims);
    h5::Handle d = h5::open_dataset(g, "score", where);
    m.score = h5::read_floats(d, where + "/score");
  }
  if (H5Lexists(f, "phases", H5P_DEFAULT) <= 0)
    fail(ErrorKind::bad_input, path, "no /phases; run 'domainmap index ", path, "' first");
  h5::Handle ph = h5::open_group(f, "/phases", path);
  for (int i = 0;; ++i) {
    const std::string name = std::to_string(i);
    if (H5Lexists(ph, name.c_str(), H5P_DEFAULT) <= 0) break;
    h5::Handle p = h5::open_group(ph, name, path);
    const std::string pw = path + ":/phases/" + name;
    PhaseInfo info;
    info.name = h5::read_string_attr(p, "name").value_or("");
    const auto sym = h5::read_string_attr(p, "symmetry");
    if (!sym) fail(ErrorKind::bad_input, pw, "missing attribute symmetry");
    if (!find_rotation_group(*sym)) fail(ErrorKind::bad_input, pw, "unknown symmetry '", *sym, "'");
    info.symmetry = *sym;
    m.phases.push_back(info);
  }
  for (std::size_t i = 0; i < m.phase.size(); ++i)
    if (m.phase[i] < -1 || m.phase[i] >= static_cast<std::int32_t>(m.phases.size()))
      fail(ErrorKind::bad_input, where + "/phase", "value ", m.phase[i], " at position ", i, " is not a phase of /phases (",
           m.phases.size(), " phases)");
  if (H5Lexists(f, "scan", H5P_DEFAULT) > 0) {
    h5::Handle s = h5::open_group(f, "/scan", path);
    m.scan_step_nm = h5::read_number_attr(s, "scan_step_nm").value_or(0);
  }
  return m;
}

DomainLabels read_domain_labels(const std::string& path) {
  h5::Handle f = detail::open_results_file(path);
  if (H5Lexists(f, "domains", H5P_DEFAULT) <= 0)
    fail(ErrorKind::bad_input, path, "no /domains; run 'domainmap segment ", path, "' first");
  h5::Handle g = h5::open_group(f, "/domains", path);
  const std::string where = path + ":/domains";
  DomainLabels out;
  const auto dims = dims_of(g, "labels", where);
  if (dims.size() != 2) fail(ErrorKind::bad_input, where + "/labels", "expected a 2-D [Ry, Rx] array");
  out.scan = {dims[0], dims[1]};
  out.labels = int32s_of(g, "labels", where);
  if (H5Lexists(g, "subdomains", H5P_DEFAULT) > 0) {
    if (dims_of(g, "subdomains", where) != dims)
      fail(ErrorKind::bad_input, where + "/subdomains", "shape does not match /domains/labels");
    out.subdomains = int32s_of(g, "subdomains", where);
  }
  if (H5Lexists(g, "table", H5P_DEFAULT) > 0) {
    const auto td = dims_of(g, "table", where);
    out.n_domains = td.size() == 1 ? static_cast<std::int32_t>(td[0]) : 0;
  }
  for (std::size_t i = 0; i < out.labels.size(); ++i)
    if (out.labels[i] < -1 || out.labels[i] >= out.n_domains)
      fail(ErrorKind::bad_input, where + "/labels", "value ", out.labels[i], " at position ", i, " is not a row of /domains/table (",
           out.n_domains, " rows)");
  return out;
}

std::vector<DomainRecord> read_domain_table(const std::string& path) {
  h5::Handle f = detail::open_results_file(path);
  if (H5Lexists(f, "domains", H5P_DEFAULT) <= 0)
    fail(ErrorKind::bad_input, path, "no /domains; run 'domainmap segment ", path, "' first");
  const std::string where = path + ":/domains/table";
  h5::Handle d = h5::open_dataset(f, "/domains/table", path);
  const auto dims = h5::dataset_dims(d);
  if (dims.size() != 1) fail(ErrorKind::bad_input, where, "expected a 1-D compound array");
  std::vector<TableRow> rows(static_cast<std::size_t>(dims[0]));
  h5::Handle t = table_type();
  if (!rows.empty() && H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()) < 0)
    fail(ErrorKind::bad_input, where, "cannot read the table (unexpected fields?)");
  std::vector<DomainRecord> out(rows.size());
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const TableRow& r = rows[k];
    DomainRecord& o = out[k];
    o.id = r.id;
    o.phase = r.phase;
    o.area_px = r.area_px;
    o.area_nm2 = r.area_nm2;
    o.eq_diameter_px = r.equivalent_diameter_px;
    o.eq_diameter_nm = r.equivalent_diameter_nm;
    o.perimeter_px = r.perimeter_px;
    o.perimeter_nm = r.perimeter_nm;
    o.centroid_y = r.centroid_y;
    o.centroid_x = r.centroid_x;
    o.bbox_y0 = r.bbox_y0;
    o.bbox_x0 = r.bbox_x0;
    o.bbox_y1 = r.bbox_y1;
    o.bbox_x1 = r.bbox_x1;
    o.mean_angle_deg = r.mean_angle_deg;
    o.mean_quaternion = {r.mean_q_w, r.mean_q_x, r.mean_q_y, r.mean_q_z};
    o.spread_deg = r.spread_deg;
    o.max_dev_deg = r.max_dev_deg;
    o.n_oriented = r.n_oriented;
    o.touches_edge = r.touches_edge != 0;
    o.n_neighbours = r.n_neighbours;
  }
  return out;
}

} // namespace domainmap
