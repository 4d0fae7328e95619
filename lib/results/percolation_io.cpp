// lib/results/percolation_io.cpp: /percolation in the results file (docs/results-layout.md,
// docs/stages/percolate.md): the writer ResultsWriter calls and read_percolation().
//
//   /percolation                      attrs scan_shape [Ry, Rx], connectivity, class_tolerance_deg,
//                                     class_directions_deg [C]
//   /percolation/phases               compound [P], one row per phase present (PhaseStats)
//   /percolation/phase_size_counts    compound [*] (phase, size, count): the cluster-size
//                                     histogram n_s of every phase, ascending phase then size
//   /percolation/classes              compound [C'], one row per orientation class present, with
//                                     its direction_deg
//   /percolation/class_size_counts    compound [*] (class_id, size, count)
//   /percolation/boundaries           compound [B], one row per boundary class with edges; name =
//                                     boundary_type_name() (network.hpp)
//   /percolation/sweep                compound [S], the disorientation bond sweep rows; attrs kind,
//                                     scan_shape, connectivity, n_sites, n_items, quantity
#include "percolation_io.hpp"
#include "results_io.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../core/h5util.hpp"
#include "domainmap/error.hpp"
#include "domainmap/network.hpp"
#include "domainmap/results.hpp"

namespace domainmap {

using detail::read_compound;
using detail::write_compound;

namespace {

// Rows as stored (native types; flags as uint8).
struct SiteRow {
  std::int32_t id;  // phase or class_id
  double direction_deg;  // classes only
  std::int64_t n_positions;
  std::int64_t n_occupied;
  double area_fraction;
  std::int64_t n_clusters;
  std::int64_t largest_cluster;
  double largest_cluster_fraction;
  double largest_cluster_fraction_occupied;
  double mean_cluster_size;
  std::uint8_t spans_x;
  std::uint8_t spans_y;
};

struct SizeRow {
  std::int32_t id;
  std::int64_t size;
  std::int64_t count;
};

constexpr std::size_t kNameSize = 24;

struct BoundaryRow {
  std::int32_t class_id;
  char name[kNameSize];
  std::int64_t n_edges;
  double total_length;
  std::int64_t n_components;
  std::int64_t largest_component_edges;
  double largest_component_length;
  double largest_component_length_fraction;
  std::uint8_t spans_x;
  std::uint8_t spans_y;
};

struct SweepRowStored {
  double threshold;
  std::int64_t n_added;
  double fraction_added;
  std::int64_t largest_cluster;
  double largest_cluster_fraction;
  std::int64_t n_clusters;
  std::uint8_t spans_x;
  std::uint8_t spans_y;
};

// id_name: "phase" or "class_id"; with_direction: the classes' direction_deg column.
h5::Handle site_type(const char* id_name, bool with_direction) {
  h5::Handle t(H5Tcreate(H5T_COMPOUND, sizeof(SiteRow)));
  H5Tinsert(t, id_name, HOFFSET(SiteRow, id), H5T_NATIVE_INT32);
  if (with_direction) H5Tinsert(t, "direction_deg", HOFFSET(SiteRow, direction_deg), H5T_NATIVE_DOUBLE);
#define DM_FIELD(name, type) H5Tinsert(t, #name, HOFFSET(SiteRow, name), type)
  DM_FIELD(n_positions, H5T_NATIVE_INT64);
  DM_FIELD(n_occupied, H5T_NATIVE_INT64);
  DM_FIELD(area_fraction, H5T_NATIVE_DOUBLE);
  DM_FIELD(n_clusters, H5T_NATIVE_INT64);
  DM_FIELD(largest_cluster, H5T_NATIVE_INT64);
  DM_FIELD(largest_cluster_fraction, H5T_NATIVE_DOUBLE);
  DM_FIELD(largest_cluster_fraction_occupied, H5T_NATIVE_DOUBLE);
  DM_FIELD(mean_cluster_size, H5T_NATIVE_DOUBLE);
  DM_FIELD(spans_x, H5T_NATIVE_UINT8);
  DM_FIELD(spans_y, H5T_NATIVE_UINT8);
#undef DM_FIELD
  return t;
}

h5::Handle size_type(const char* id_name) {
  h5::Handle t(H5Tcreate(H5T_COMPOUND, sizeof(SizeRow)));
  H5Tinsert(t, id_name, HOFFSET(SizeRow, id), H5T_NATIVE_INT32);
  H5Tinsert(t, "size", HOFFSET(SizeRow, size), H5T_NATIVE_INT64);
  H5Tinsert(t, "count", HOFFSET(SizeRow, count), H5T_NATIVE_INT64);
  return t;
}

h5::Handle boundary_type() {
  h5::Handle s(H5Tcopy(H5T_C_S1));
  H5Tset_size(s, kNameSize);
  H5Tset_strpad(s, H5T_STR_NULLTERM);
  h5::Handle t(H5Tcreate(H5T_COMPOUND, sizeof(BoundaryRow)));
#define DM_FIELD(name, type) H5Tinsert(t, #name, HOFFSET(BoundaryRow, name), type)
  DM_FIELD(class_id, H5T_NATIVE_INT32);
  DM_FIELD(name, s.get());
  DM_FIELD(n_edges, H5T_NATIVE_INT64);
  DM_FIELD(total_length, H5T_NATIVE_DOUBLE);
  DM_FIELD(n_components, H5T_NATIVE_INT64);
  DM_FIELD(largest_component_edges, H5T_NATIVE_INT64);
  DM_FIELD(largest_component_length, H5T_NATIVE_DOUBLE);
  DM_FIELD(largest_component_length_fraction, H5T_NATIVE_DOUBLE);
  DM_FIELD(spans_x, H5T_NATIVE_UINT8);
  DM_FIELD(spans_y, H5T_NATIVE_UINT8);
#undef DM_FIELD
  return t;
}

h5::Handle sweep_type() {
  h5::Handle t(H5Tcreate(H5T_COMPOUND, sizeof(SweepRowStored)));
#define DM_FIELD(name, type) H5Tinsert(t, #name, HOFFSET(SweepRowStored, name), type)
  DM_FIELD(threshold, H5T_NATIVE_DOUBLE);
  DM_FIELD(n_added, H5T_NATIVE_INT64);
  DM_FIELD(fraction_added, H5T_NATIVE_DOUBLE);
  DM_FIELD(largest_cluster, H5T_NATIVE_INT64);
  DM_FIELD(largest_cluster_fraction, H5T_NATIVE_DOUBLE);
  DM_FIELD(n_clusters, H5T_NATIVE_INT64);
  DM_FIELD(spans_x, H5T_NATIVE_UINT8);
  DM_FIELD(spans_y, H5T_NATIVE_UINT8);
#undef DM_FIELD
  return t;
}



SiteRow site_row(std::int32_t id, double direction, const SiteStats& s) {
  return SiteRow{id,
                 direction,
                 s.n_positions,
                 s.n_occupied,
                 s.area_fraction,
                 s.n_clusters,
                 s.largest_cluster,
                 s.largest_cluster_fraction,
                 s.largest_cluster_fraction_occupied,
                 s.mean_cluster_size,
                 static_cast<std::uint8_t>(s.spans_x ? 1 : 0),
                 static_cast<std::uint8_t>(s.spans_y ? 1 : 0)};
}

SiteStats site_of(const SiteRow& r) {
  SiteStats s;
  s.n_positions = r.n_positions;
  s.n_occupied = r.n_occupied;
  s.area_fraction = r.area_fraction;
  s.n_clusters = r.n_clusters;
  s.largest_cluster = r.largest_cluster;
  s.largest_cluster_fraction = r.largest_cluster_fraction;
  s.largest_cluster_fraction_occupied = r.largest_cluster_fraction_occupied;
  s.mean_cluster_size = r.mean_cluster_size;
  s.spans_x = r.spans_x != 0;
  s.spans_y = r.spans_y != 0;
  return s;
}

void append_sizes(std::vector<SizeRow>& out, std::int32_t id, const SiteStats& s) {
  for (const ClusterSizeCount& c : s.size_counts) out.push_back(SizeRow{id, c.size, c.count});
}

// Distributes histogram rows to the stats with the same id (rows grouped by id, as written).
template <typename Stats, typename IdOf>
void attach_sizes(std::vector<Stats>& stats, const std::vector<SizeRow>& rows, IdOf id_of, const std::string& where) {
  for (const SizeRow& r : rows) {
    Stats* target = nullptr;
    for (Stats& s : stats)
      if (id_of(s) == r.id) target = &s;
    if (!target) fail(ErrorKind::bad_input, where, "size counts for id ", r.id, " which has no row");
    target->site.size_counts.push_back(ClusterSizeCount{r.size, r.count});
  }
}



// One sweep table as a compound dataset `name` of g with its attributes.
void write_sweep_table(hid_t g, const std::string& name, const SweepTable& s, const std::string& quantity,
                       const std::string& path) {
  std::vector<SweepRowStored> rows;
  for (const SweepRow& w : s.rows)
    rows.push_back(SweepRowStored{w.threshold, w.n_added, w.fraction_added, w.largest_cluster, w.largest_cluster_fraction,
                                  w.n_clusters, static_cast<std::uint8_t>(w.spans_x ? 1 : 0),
                                  static_cast<std::uint8_t>(w.spans_y ? 1 : 0)});
  h5::Handle t = sweep_type();
  h5::Handle d = write_compound(g, name.c_str(), t, rows, path);
  h5::write_string_attr(d, "kind", s.kind == SweepKind::bond ? "bond" : "site");
  h5::write_ints_attr(d, "scan_shape", {s.shape.y, s.shape.x});
  h5::write_int_attr(d, "connectivity", s.connectivity);
  h5::write_int_attr(d, "n_sites", s.n_sites);
  h5::write_int_attr(d, "n_items", s.n_items);
  h5::write_string_attr(d, "quantity", quantity);
}

} // namespace

std::string boundary_class_name(std::int32_t class_id) {
  if (class_id >= 0 && class_id < kBoundaryTypeCount) return boundary_type_name(static_cast<BoundaryType>(class_id));
  return "class_" + std::to_string(class_id);
}

namespace detail {

void write_percolation_group(hid_t file, const PercolationReport& r, const std::string& path) {
  const std::size_t n_dir = r.class_directions_deg.size();
  for (const ClassStats& c : r.classes)
    if (c.class_id < 0 || static_cast<std::size_t>(c.class_id) >= n_dir)
      fail(ErrorKind::internal, path, "write_percolation: class ", c.class_id, " has no direction (", n_dir,
           " directions)");
  h5::Handle g = h5::require_group(file, "/percolation", path);
  h5::write_ints_attr(g, "scan_shape", {r.scan.y, r.scan.x});
  h5::write_int_attr(g, "connectivity", r.connectivity);
  h5::write_double_attr(g, "class_tolerance_deg", r.class_tolerance_deg);
  if (!r.class_directions_deg.empty())  // an empty attribute cannot be written: missing = none
    h5::write_doubles_attr(g, "class_directions_deg", r.class_directions_deg);

  {
    std::vector<SiteRow> rows;
    std::vector<SizeRow> sizes;
    for (const PhaseStats& p : r.phases) {
      rows.push_back(site_row(p.phase, 0, p.site));
      append_sizes(sizes, p.phase, p.site);
    }
    h5::Handle t = site_type("phase", false);
    h5::Handle d = write_compound(g, "phases", t, rows, path);
    h5::write_string_attr(d, "units", "fractions of all scan positions (largest_cluster_fraction_occupied: of the "
                                      "phase's positions); sizes in positions; spans 0/1");
    h5::Handle ts = size_type("phase");
    write_compound(g, "phase_size_counts", ts, sizes, path);
  }
  {
    std::vector<SiteRow> rows;
    std::vector<SizeRow> sizes;
    for (const ClassStats& c : r.classes) {
      rows.push_back(site_row(c.class_id, r.class_directions_deg[static_cast<std::size_t>(c.class_id)], c.site));
      append_sizes(sizes, c.class_id, c.site);
    }
    h5::Handle t = site_type("class_id", true);
    h5::Handle d = write_compound(g, "classes", t, rows, path);
    h5::write_string_attr(d, "units", "class_id indexes class_directions_deg; direction deg; as /percolation/phases");
    h5::Handle ts = size_type("class_id");
    write_compound(g, "class_size_counts", ts, sizes, path);
  }
  {
    std::vector<BoundaryRow> rows;
    for (const BoundaryClassStats& b : r.boundaries) {
      BoundaryRow row{};
      row.class_id = b.class_id;
      const std::string name = boundary_class_name(b.class_id);
      std::strncpy(row.name, name.c_str(), kNameSize - 1);
      row.n_edges = b.n_edges;
      row.total_length = b.total_length;
      row.n_components = b.n_components;
      row.largest_component_edges = b.largest_component_edges;
      row.largest_component_length = b.largest_component_length;
      row.largest_component_length_fraction = b.largest_component_length_fraction;
      row.spans_x = b.spans_x ? 1 : 0;
      row.spans_y = b.spans_y ? 1 : 0;
      rows.push_back(row);
    }
    h5::Handle t = boundary_type();
    h5::Handle d = write_compound(g, "boundaries", t, rows, path);
    h5::write_string_attr(d, "units", "class_id = BoundaryType (0 low_angle, 1 high_angle, 2 csl, 3 phase, 4 "
                                      "unlabelled); lengths in scan px (pixel edges); spans 0/1");
  }
  write_sweep_table(g, "sweep", r.disorientation_sweep,
                    "in-plane disorientation of neighbouring positions, deg (a bond joins them when it is <= "
                    "threshold); empty for 3D maps",
                    path);
  for (std::size_t c = 0; c < r.class_sweeps.size(); ++c)
    write_sweep_table(g, "class_sweep_" + std::to_string(c), r.class_sweeps[c],
                      "in-plane disorientation of each position's domain from class direction " + std::to_string(c) +
                          ", deg (a position is occupied when it is <= threshold)",
                      path);
}

} // namespace detail

namespace {

SweepTable read_sweep_table(hid_t g, const std::string& name, const std::string& where) {
  SweepTable s;
  h5::Handle t = sweep_type();
  for (const SweepRowStored& w : read_compound<SweepRowStored>(g, name.c_str(), t, where))
    s.rows.push_back(SweepRow{w.threshold, w.n_added, w.fraction_added, w.largest_cluster, w.largest_cluster_fraction,
                              w.n_clusters, w.spans_x != 0, w.spans_y != 0});
  h5::Handle d = h5::open_dataset(g, name, where);
  const std::string sw = where + "/" + name;
  const std::string kind = h5::read_string_attr(d, "kind").value_or("bond");
  if (kind != "bond" && kind != "site") fail(ErrorKind::bad_input, sw, "kind '", kind, "' is neither bond nor site");
  s.kind = kind == "bond" ? SweepKind::bond : SweepKind::site;
  s.shape = detail::read_shape_attr(d, "scan_shape", sw);
  s.connectivity = static_cast<int>(h5::read_number_attr(d, "connectivity").value_or(4));
  s.n_sites = static_cast<std::int64_t>(h5::read_number_attr(d, "n_sites").value_or(0));
  s.n_items = static_cast<std::int64_t>(h5::read_number_attr(d, "n_items").value_or(0));
  return s;
}

} // namespace

PercolationReport read_percolation(const std::string& path) {
  h5::Handle f = detail::open_results_file(path);
  if (H5Lexists(f, "percolation", H5P_DEFAULT) <= 0)
    fail(ErrorKind::bad_input, path, "no /percolation; run 'domainmap percolate ", path, "' first");
  h5::Handle g = h5::open_group(f, "/percolation", path);
  const std::string where = path + ":/percolation";
  PercolationReport r;
  r.scan = detail::read_shape_attr(g, "scan_shape", where);
  r.connectivity = static_cast<int>(h5::read_number_attr(g, "connectivity").value_or(4));
  r.class_tolerance_deg = h5::read_number_attr(g, "class_tolerance_deg").value_or(0);
  r.class_directions_deg = h5::read_numbers_attr(g, "class_directions_deg");

  {
    h5::Handle t = site_type("phase", false);
    for (const SiteRow& row : read_compound<SiteRow>(g, "phases", t, where))
      r.phases.push_back(PhaseStats{row.id, site_of(row)});
    h5::Handle ts = size_type("phase");
    attach_sizes(r.phases, read_compound<SizeRow>(g, "phase_size_counts", ts, where),
                 [](const PhaseStats& p) { return p.phase; }, where + "/phase_size_counts");
  }
  {
    h5::Handle t = site_type("class_id", true);
    for (const SiteRow& row : read_compound<SiteRow>(g, "classes", t, where)) {
      if (row.id < 0 || static_cast<std::size_t>(row.id) >= r.class_directions_deg.size())
        fail(ErrorKind::bad_input, where + "/classes", "class_id ", row.id, " is not an index of class_directions_deg (",
             r.class_directions_deg.size(), " directions)");
      r.classes.push_back(ClassStats{row.id, site_of(row)});
    }
    h5::Handle ts = size_type("class_id");
    attach_sizes(r.classes, read_compound<SizeRow>(g, "class_size_counts", ts, where),
                 [](const ClassStats& c) { return c.class_id; }, where + "/class_size_counts");
  }
  {
    h5::Handle t = boundary_type();
    for (const BoundaryRow& row : read_compound<BoundaryRow>(g, "boundaries", t, where)) {
      BoundaryClassStats b;
      b.class_id = row.class_id;
      b.n_edges = row.n_edges;
      b.total_length = row.total_length;
      b.n_components = row.n_components;
      b.largest_component_edges = row.largest_component_edges;
      b.largest_component_length = row.largest_component_length;
      b.largest_component_length_fraction = row.largest_component_length_fraction;
      b.spans_x = row.spans_x != 0;
      b.spans_y = row.spans_y != 0;
      r.boundaries.push_back(b);
    }
  }
  r.disorientation_sweep = read_sweep_table(g, "sweep", where);
  for (std::size_t c = 0;; ++c) {
    const std::string name = "class_sweep_" + std::to_string(c);
    if (H5Lexists(g, name.c_str(), H5P_DEFAULT) <= 0) break;
    r.class_sweeps.push_back(read_sweep_table(g, name, where));
  }
  return r;
}

} // namespace domainmap
