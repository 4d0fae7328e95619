// lib/io/emd.cpp: EMD 1.0 files as py4DSTEM / emdfile write them (docs/formats/emd.md).
//
// / carries emd_group_type = "file", version_major = 1, version_minor = 0. Roots are the direct
// children of / with emd_group_type = "root" (found by attribute, not name). A DataCube is a
// group with python_class = "DataCube" (emd_group_type "array") holding `data` [Rx, Ry, Qx, Qy],
// which is domainmap's [scan_y, scan_x, det_y, det_x] index for index: no transpose.
// Calibration: <root>/metadatabundle/calibration, one dataset per key with a `type` attribute.
// Berkeley EMD 0.x files (Prismatic, py4DSTEM <= 0.13) are recognised and refused.
#include <algorithm>
#include <optional>

#include "../core/h5util.hpp"
#include "domainmap/error.hpp"
#include "hdf5_stack.hpp"
#include "readers.hpp"

namespace domainmap::io {

namespace {

struct Node {
  std::string path;   // absolute group path
  std::string root;   // absolute path of its root
  bool datacube = false;
};

std::optional<double> number_dataset(hid_t group, const char* name) {
  if (H5Lexists(group, name, H5P_DEFAULT) <= 0) return std::nullopt;
  h5::Handle d(H5Dopen2(group, name, H5P_DEFAULT));
  if (!d.valid()) return std::nullopt;
  h5::Handle t(H5Dget_type(d));
  H5T_class_t c = H5Tget_class(t);
  if (c != H5T_INTEGER && c != H5T_FLOAT) return std::nullopt;
  try {
    auto v = h5::read_doubles(d, name);
    if (v.empty()) return std::nullopt;
    return v[0];
  } catch (const Error&) {
    return std::nullopt;
  }
}

std::optional<std::string> string_dataset(hid_t group, const char* name) {
  if (H5Lexists(group, name, H5P_DEFAULT) <= 0) return std::nullopt;
  h5::Handle d(H5Dopen2(group, name, H5P_DEFAULT));
  if (!d.valid()) return std::nullopt;
  try {
    return h5::read_string_dataset(d, name);
  } catch (const Error&) {
    return std::nullopt;
  }
}

std::string attr_text(hid_t obj, const char* name) { return h5::read_string_attr(obj, name).value_or(""); }

bool is_group(hid_t file, const std::string& path) {
  H5O_info_t oi;
  bool g = H5Oget_info_by_name2(file, path.c_str(), &oi, H5O_INFO_BASIC, H5P_DEFAULT) >= 0 && oi.type == H5O_TYPE_GROUP;
  H5Eclear2(H5E_DEFAULT);
  return g;
}

std::string parent_of(const std::string& path) {
  std::size_t pos = path.rfind('/');
  if (pos == std::string::npos || pos == 0) return "/";
  return path.substr(0, pos);
}

// True if the group holds a 4-D numeric dataset `data`.
bool has_4d_data(hid_t file, const std::string& group) {
  std::string d = group + "/data";
  if (!h5::exists(file, d)) return false;
  h5::Handle ds(H5Dopen2(file, d.c_str(), H5P_DEFAULT));
  if (!ds.valid()) {
    H5Eclear2(H5E_DEFAULT);
    return false;
  }
  h5::Handle t(H5Dget_type(ds));
  H5T_class_t c = H5Tget_class(t);
  return (c == H5T_INTEGER || c == H5T_FLOAT) && h5::dataset_dims(ds).size() == 4;
}

// A DataCube (python_class DataCube), or another EMD array with 4-D data; nullopt otherwise.
std::optional<Node> as_node(hid_t file, hid_t group, const std::string& path, const std::string& root) {
  const bool cube = attr_text(group, "python_class") == "DataCube";
  if ((cube || attr_text(group, "emd_group_type") == "array") && has_4d_data(file, path))
    return Node{path, root, cube};
  return std::nullopt;
}

struct FindState {
  hid_t file;
  std::string base;  // absolute path of the group visited
  std::string root;
  std::vector<Node>* out;
};

herr_t visit_node(hid_t obj, const char* name, const H5O_info_t* info, void* data) {
  auto* st = static_cast<FindState*>(data);
  if (info->type != H5O_TYPE_GROUP || std::string(name) == ".") return 0;
  h5::Handle g(H5Gopen2(obj, name, H5P_DEFAULT));
  if (!g.valid()) {
    H5Eclear2(H5E_DEFAULT);
    return 0;
  }
  const std::string path = (st->base == "/" ? "" : st->base) + "/" + name;
  if (auto n = as_node(st->file, g, path, st->root)) st->out->push_back(*n);
  return 0;
}

// DataCubes, then other 4-D EMD arrays, at or below `group`, each in name order.
std::vector<Node> find_nodes(hid_t file, const std::string& group, const std::string& root) {
  std::vector<Node> nodes;
  if (!is_group(file, group)) return nodes;
  h5::Handle g(H5Gopen2(file, group.c_str(), H5P_DEFAULT));
  if (auto n = as_node(file, g, group, root)) nodes.push_back(*n);
  FindState st{file, group, root, &nodes};
  H5Ovisit2(g, H5_INDEX_NAME, H5_ITER_INC, visit_node, &st, H5O_INFO_BASIC);
  H5Eclear2(H5E_DEFAULT);
  std::stable_partition(nodes.begin(), nodes.end(), [](const Node& n) { return n.datacube; });
  return nodes;
}

std::vector<std::string> find_roots(hid_t file) {
  std::vector<std::string> roots;
  h5::Handle root(H5Gopen2(file, "/", H5P_DEFAULT));
  hsize_t idx = 0;
  auto cb = [](hid_t g, const char* name, const H5L_info_t* li, void* data) -> herr_t {
    if (li->type != H5L_TYPE_HARD) return 0;
    h5::Handle child(H5Gopen2(g, name, H5P_DEFAULT));
    if (!child.valid()) {
      H5Eclear2(H5E_DEFAULT);
      return 0;
    }
    if (h5::read_string_attr(child, "emd_group_type").value_or("") == "root")
      static_cast<std::vector<std::string>*>(data)->push_back(std::string("/") + name);
    return 0;
  };
  H5Literate(root, H5_INDEX_NAME, H5_ITER_INC, &idx, cb, &roots);
  H5Eclear2(H5E_DEFAULT);
  return roots;
}

std::string root_of(const std::string& path) {
  std::size_t pos = path.find('/', 1);
  return pos == std::string::npos ? path : path.substr(0, pos);
}

// Calibration from the nearest metadatabundle/calibration on the way from the node to its root.
Calibration read_calibration(hid_t file, const std::string& node, std::vector<std::pair<std::string, std::string>>& meta) {
  Calibration cal;
  for (std::string g = node;; g = parent_of(g)) {
    const std::string cpath = (g == "/" ? "" : g) + "/metadatabundle/calibration";
    if (h5::exists(file, cpath)) {
      h5::Handle c(H5Gopen2(file, cpath.c_str(), H5P_DEFAULT));
      if (c.valid()) {
        if (auto v = number_dataset(c, "Q_pixel_size")) cal.q_pixel_size = *v;
        if (auto v = string_dataset(c, "Q_pixel_units")) cal.q_units = *v;
        if (auto v = number_dataset(c, "R_pixel_size")) cal.r_pixel_size = *v;
        if (auto v = string_dataset(c, "R_pixel_units")) cal.r_units = *v;
        cal.known = true;
        meta.emplace_back("calibration", cpath);
        for (const char* k : {"qx0_mean", "qy0_mean", "QR_rotation_degrees", "convergence_semiangle_mrad"})
          if (auto v = number_dataset(c, k)) meta.emplace_back(std::string("calibration.") + k, detail::cat(*v));
        return cal;
      }
    }
    if (g == "/" || g.size() <= 1) break;
    if (g == root_of(node)) break;
  }
  // No Calibration: a linear dim vector with units other than pixels still gives the step.
  auto dim_step = [&](const char* name, double& size, std::string& units) {
    const std::string d = node + "/" + name;
    if (!h5::exists(file, d)) return;
    h5::Handle ds(H5Dopen2(file, d.c_str(), H5P_DEFAULT));
    if (!ds.valid()) return;
    std::string u = attr_text(ds, "units");
    std::vector<double> v;
    try {
      v = h5::read_doubles(ds, d);
    } catch (const Error&) {
      return;
    }
    if (v.size() >= 2 && !u.empty() && u != "pixels" && v[1] != v[0]) {
      size = v[1] - v[0];
      units = u;
      cal.known = true;
    }
  };
  dim_step("dim0", cal.r_pixel_size, cal.r_units);
  dim_step("dim2", cal.q_pixel_size, cal.q_units);
  return cal;
}

[[noreturn]] void refuse_emd0(hid_t file, const std::string& path) {
  h5::Handle root(H5Gopen2(file, "/", H5P_DEFAULT));
  const double vmaj = h5::read_number_attr(root, "version_major").value_or(0);
  const double vmin = h5::read_number_attr(root, "version_minor").value_or(0);
  auto c = find_stack_candidates(file, "/");
  std::string hint = c.empty() ? std::string()
                               : detail::cat("; to read one of its arrays as plain HDF5 use --read.format hdf5 ",
                                             path, ":", c[0].first, " (and --read.axis_order if its axes differ)");
  fail(ErrorKind::bad_input, path, "Berkeley EMD ", vmaj, ".", vmin,
       " file (e.g. Prismatic or py4DSTEM <= 0.13 output), not EMD 1.0; this version is not supported", hint);
}

} // namespace

std::unique_ptr<FrameSource> open_emd(const std::string& path, const std::string& object_in, const ReadParams& p) {
  h5::Handle f = h5::open_file_read(path);
  {
    h5::Handle root(H5Gopen2(f, "/", H5P_DEFAULT));
    if (!root.valid()) fail(ErrorKind::bad_input, path, "HDF5 file has no readable root group (corrupt?)");
    auto type = h5::read_string_attr(root, "emd_group_type");
    if (!type) {
      if (h5::has_attr(root, "emd_group_type") || h5::has_attr(root, "version_major")) refuse_emd0(f, path);
      fail(ErrorKind::bad_input, path, "not an EMD file (no emd_group_type attribute on /); try --read.format hdf5");
    }
    if (*type != "file")
      fail(ErrorKind::bad_input, path, "not an EMD 1.0 file (emd_group_type of / is '", *type, "', expected 'file')");
    auto vmaj = h5::read_number_attr(root, "version_major");
    auto vmin = h5::read_number_attr(root, "version_minor");
    if (!vmaj || !vmin || *vmaj != 1 || *vmin != 0)
      fail(ErrorKind::bad_input, path, "EMD version ", vmaj ? detail::cat(*vmaj) : "?", ".", vmin ? detail::cat(*vmin) : "?",
           " is not supported (EMD 1.0 only)");
  }
  const std::vector<std::string> roots = find_roots(f);
  if (roots.empty())
    fail(ErrorKind::bad_input, path, "EMD file without a root group (a child of / with emd_group_type = 'root')");

  std::string object = absolute_h5_path(object_in);
  std::vector<Node> nodes;
  std::string data_path;
  if (object.empty() || object == "/") {
    for (const std::string& r : roots) {
      auto n = find_nodes(f, r, r);
      nodes.insert(nodes.end(), n.begin(), n.end());
    }
    std::stable_partition(nodes.begin(), nodes.end(), [](const Node& n) { return n.datacube; });
    if (nodes.empty())
      fail(ErrorKind::bad_input, path, "EMD file holds no DataCube (nor any 4-D array); name a dataset as FILE.h5:/path");
  } else {
    if (!h5::exists(f, object)) {
      std::vector<std::string> cubes;
      for (const std::string& r : roots)
        for (const Node& n : find_nodes(f, r, r)) cubes.push_back(n.path);
      std::string list;
      for (const auto& c : cubes) list += (list.empty() ? "" : ", ") + c;
      fail(ErrorKind::bad_input, path + ":" + object, "no such group or dataset",
           list.empty() ? std::string() : "; DataCubes in the file: " + list);
    }
    if (is_group(f, object)) {
      nodes = find_nodes(f, object, root_of(object));
      if (nodes.empty())
        fail(ErrorKind::bad_input, path + ":" + object, "group holds no DataCube (nor any 4-D array); name a dataset");
    } else {
      data_path = object;  // a dataset named directly
    }
  }

  std::unique_ptr<H5StackSource> src;
  std::string node_path;
  if (data_path.empty()) {
    const Node& node = nodes[0];
    node_path = node.path;
    data_path = node.path + "/data";
    // The DataCube's axis order is fixed by EMD: [Rx, Ry, Qx, Qy] = ry,rx,qy,qx.
    if (!p.axis_order.empty() && parse_axis_order(p.axis_order, 4, path + ":" + data_path).standard() == false)
      fail(ErrorKind::bad_parameter, path + ":" + data_path, "read.axis_order = ", p.axis_order,
           ": the axes of an EMD DataCube are fixed ([Rx, Ry, Qx, Qy] = ry,rx,qy,qx); use --read.format hdf5 to read it another way");
    src = open_stack_dataset(std::move(f), path, data_path, p, "emd");
    if (nodes.size() > 1) {
      std::string others;
      for (std::size_t i = 1; i < nodes.size(); ++i) others += (i > 1 ? ", " : "") + nodes[i].path;
      src->mutable_info().notes.push_back(detail::cat(path, ": ", nodes.size(), " data cubes in the file; reading ",
                                                       node.path, " (others: ", others, "; choose with FILE.h5:/path)"));
    }
  } else {
    node_path = parent_of(data_path);
    src = open_stack_dataset(std::move(f), path, data_path, p, "emd");
  }

  // Calibration (reopen: the source owns the first handle).
  DatasetInfo& info = src->mutable_info();
  h5::Handle f2 = h5::open_file_read(path);
  info.calibration = read_calibration(f2, node_path, info.metadata);
  info.metadata.emplace_back("emd_root", root_of(node_path));
  {
    h5::Handle g(H5Gopen2(f2, node_path.c_str(), H5P_DEFAULT));
    if (g.valid()) {
      const std::string cls = attr_text(g, "python_class");
      if (!cls.empty()) info.metadata.emplace_back("python_class", cls);
    }
    H5Eclear2(H5E_DEFAULT);
  }
  return src;
}

} // namespace domainmap::io
