// lib/io/hdf5.cpp: which kind of HDF5 file this is, and the generic reader of any 3D or 4D
// numeric dataset.
//
// Generic datasets: 4D stored as a permutation of [ry, rx, qy, qx] (default ry,rx,qy,qx, i.e.
// domainmap's and py4DSTEM's order) or 3D [n, qy, qx] with the scan shape given by the user
// (frame k = scan position (k / scan_x, k % scan_x)). The reader transposes; chunked and
// compressed datasets are read on chunk boundaries (see hdf5_stack.hpp).
#include <algorithm>

#include "../core/h5util.hpp"
#include "domainmap/error.hpp"
#include "hdf5_stack.hpp"
#include "readers.hpp"

namespace domainmap::io {

namespace {

std::string dims_text(const std::vector<std::int64_t>& d) {
  std::string s;
  for (std::size_t i = 0; i < d.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(d[i]);
  }
  return s;
}

bool is_numeric(hid_t type) {
  H5T_class_t c = H5Tget_class(type);
  return c == H5T_INTEGER || c == H5T_FLOAT;
}

struct VisitState {
  hid_t group;
  std::string prefix;
  std::vector<std::pair<std::string, std::string>> found;
};

herr_t visit_candidate(hid_t obj, const char* name, const H5O_info_t* info, void* data) {
  auto* st = static_cast<VisitState*>(data);
  if (info->type != H5O_TYPE_DATASET) return 0;
  hid_t d = H5Dopen2(obj, name, H5P_DEFAULT);
  if (d < 0) {
    H5Eclear2(H5E_DEFAULT);
    return 0;
  }
  h5::Handle ds(d);
  h5::Handle type(H5Dget_type(ds));
  std::vector<std::int64_t> dims = h5::dataset_dims(ds);
  if ((dims.size() == 3 || dims.size() == 4) && is_numeric(type))
    st->found.emplace_back(st->prefix + name, "[" + dims_text(dims) + "] " + h5::dtype_string(type));
  return 0;
}

// Prismatic / py4DSTEM <= 0.13 (Berkeley EMD 0.x): integer emd_group_type on groups below /,
// version_major 0 on /.
bool looks_like_emd0(hid_t file) {
  h5::Handle root(H5Gopen2(file, "/", H5P_DEFAULT));
  if (!root.valid()) return false;
  auto vmaj = h5::read_number_attr(root, "version_major");
  if (!vmaj || *vmaj >= 1) return false;
  bool found = false;
  hsize_t idx = 0;
  auto cb = [](hid_t g, const char* name, const H5L_info_t*, void* data) -> herr_t {
    H5O_info_t oi;
    if (H5Oget_info_by_name2(g, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0 || oi.type != H5O_TYPE_GROUP) {
      H5Eclear2(H5E_DEFAULT);
      return 0;
    }
    h5::Handle child(H5Gopen2(g, name, H5P_DEFAULT));
    if (child.valid() && h5::has_attr(child, "emd_group_type")) {
      *static_cast<bool*>(data) = true;
      return 1;
    }
    return 0;
  };
  H5Literate(root, H5_INDEX_NAME, H5_ITER_INC, &idx, cb, &found);
  H5Eclear2(H5E_DEFAULT);
  return found;
}

} // namespace

std::string absolute_h5_path(const std::string& object) {
  if (object.empty() || object[0] == '/') return object;
  return "/" + object;
}

std::vector<std::pair<std::string, std::string>> find_stack_candidates(hid_t file, const std::string& group_path) {
  VisitState st;
  std::string g = group_path.empty() ? "/" : group_path;
  h5::Handle grp(H5Gopen2(file, g.c_str(), H5P_DEFAULT));
  if (!grp.valid()) {
    H5Eclear2(H5E_DEFAULT);
    return {};
  }
  st.group = grp;
  st.prefix = g.back() == '/' ? g : g + "/";
  H5Ovisit2(grp, H5_INDEX_NAME, H5_ITER_INC, visit_candidate, &st, H5O_INFO_BASIC);
  H5Eclear2(H5E_DEFAULT);
  return st.found;
}

std::string list_candidates(const std::vector<std::pair<std::string, std::string>>& c) {
  std::string s;
  const std::size_t shown = std::min<std::size_t>(c.size(), 6);
  for (std::size_t i = 0; i < shown; ++i) s += (i ? ", " : "") + c[i].first + " " + c[i].second;
  if (c.size() > shown) s += detail::cat(" and ", c.size() - shown, " more");
  return s;
}

std::string detect_hdf5_flavour(const std::string& path) {
  h5::Handle f = h5::open_file_read(path);
  h5::Handle root(H5Gopen2(f, "/", H5P_DEFAULT));
  if (!root.valid()) fail(ErrorKind::bad_input, path, "HDF5 file has no readable root group (corrupt?)");
  // EMD 1.0: emd_group_type = "file" on / (open_emd checks the version and refuses others).
  if (h5::has_attr(root, "emd_group_type")) return "emd";
  if (looks_like_emd0(f)) return "emd";
  // Dectris: /entry is an NXentry and /entry/data holds data_NNNNNN links.
  if (h5::exists(f, "/entry")) {
    h5::Handle entry(H5Gopen2(f, "/entry", H5P_DEFAULT));
    H5Eclear2(H5E_DEFAULT);
    if (entry.valid() && h5::read_string_attr(entry, "NX_class").value_or("") == "NXentry" &&
        H5Lexists(entry, "data", H5P_DEFAULT) > 0) {
      h5::Handle data(H5Gopen2(entry, "data", H5P_DEFAULT));
      H5Eclear2(H5E_DEFAULT);
      bool has_links = false;
      if (data.valid()) {
        hsize_t idx = 0;
        auto cb = [](hid_t, const char* name, const H5L_info_t*, void* d) -> herr_t {
          std::string n = name;
          if (n.size() == 11 && n.rfind("data_", 0) == 0 &&
              std::all_of(n.begin() + 5, n.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            *static_cast<bool*>(d) = true;
            return 1;
          }
          return 0;
        };
        H5Literate(data, H5_INDEX_NAME, H5_ITER_INC, &idx, cb, &has_links);
        H5Eclear2(H5E_DEFAULT);
      }
      if (has_links) return "dectris";
    }
  }
  return "hdf5";
}

std::unique_ptr<H5StackSource> open_stack_dataset(h5::Handle file, const std::string& path, const std::string& object_in,
                                                  const ReadParams& p, const std::string& format) {
  const std::string object = absolute_h5_path(object_in);
  const std::string where = path + ":" + object;
  std::vector<std::int64_t> dims;
  {
    h5::Handle d = h5::open_dataset(file, object, path);
    dims = h5::dataset_dims(d);
    h5::Handle type(H5Dget_type(d));
    if (!is_numeric(type))
      fail(ErrorKind::bad_input, where, "dataset of type ", h5::dtype_string(type), " holds no pixel data");
    if (dims.size() != 3 && dims.size() != 4)
      fail(ErrorKind::bad_input, where, dims.size(), "-D dataset [", dims_text(dims),
           "] is not 4D-STEM data; need 4-D [scan_y, scan_x, det_y, det_x] or 3-D [frames, det_y, det_x]");
  }
  const int rank = static_cast<int>(dims.size());
  const AxisMap axes = parse_axis_order(p.axis_order, rank, where);
  StackPart part = open_stack_part(file, path, object, axes);

  DatasetInfo info;
  info.path = path;
  info.format = format;
  info.object = object;
  describe_storage(part.dset, info);
  info.shape.det_y = dims[axes.qy];
  info.shape.det_x = dims[axes.qx];
  if (rank == 4) {
    info.shape.scan_y = dims[axes.ry];
    info.shape.scan_x = dims[axes.rx];
    if (!p.scan_shape.empty() && !(p.scan_shape == Shape2{info.shape.scan_y, info.shape.scan_x}))
      fail(ErrorKind::bad_parameter, where, "read.scan_shape = ", to_string(p.scan_shape),
           " does not match the scan of the 4-D dataset (", info.shape.scan_y, "x", info.shape.scan_x, ")");
  } else {
    const std::int64_t n = dims[axes.ry];
    if (p.scan_shape.empty())
      fail(ErrorKind::bad_input, where, "3-D stack of ", n, " frames does not store its scan shape; give --read.scan_shape ROWSxCOLS (rows x columns = ",
           n, ")");
    if (p.scan_shape.y * p.scan_shape.x != n)
      fail(ErrorKind::bad_parameter, where, "read.scan_shape = ", to_string(p.scan_shape), " is ",
           p.scan_shape.y * p.scan_shape.x, " frames but the stack holds ", n);
    info.shape.scan_y = p.scan_shape.y;
    info.shape.scan_x = p.scan_shape.x;
  }
  info.frames_present = info.shape.n_frames();
  info.metadata.emplace_back("stored_shape", dims_text(dims));
  info.metadata.emplace_back("axis_order", to_string(axes));
  std::vector<StackPart> parts;
  parts.push_back(std::move(part));
  parts[0].file = std::move(file);
  return std::make_unique<H5StackSource>(std::move(info), std::move(parts), p.nan_to_zero);
}

std::unique_ptr<FrameSource> open_hdf5(const std::string& path, const std::string& object_in, const ReadParams& p) {
  h5::Handle f = h5::open_file_read(path);
  std::string object = absolute_h5_path(object_in);
  if (object.empty() || object == "/") {
    auto c = find_stack_candidates(f, "/");
    if (c.empty())
      fail(ErrorKind::bad_input, path, "no 3-D or 4-D numeric dataset in this HDF5 file");
    if (c.size() > 1)
      fail(ErrorKind::bad_input, path, c.size(), " datasets could be the data (", list_candidates(c),
           "); name one as FILE.h5:/path or with --read.dataset");
    object = c[0].first;
  } else if (!h5::exists(f, object)) {
    auto c = find_stack_candidates(f, "/");
    fail(ErrorKind::bad_input, path + ":" + object, "no such dataset",
         c.empty() ? std::string("; the file has no 3-D or 4-D dataset") : "; 3-D/4-D datasets in the file: " + list_candidates(c));
  } else {
    H5O_info_t oi;
    if (H5Oget_info_by_name2(f, object.c_str(), &oi, H5O_INFO_BASIC, H5P_DEFAULT) >= 0 && oi.type == H5O_TYPE_GROUP) {
      auto c = find_stack_candidates(f, object);
      if (c.size() != 1)
        fail(ErrorKind::bad_input, path + ":" + object, "is a group with ",
             c.empty() ? std::string("no 3-D or 4-D dataset") : detail::cat(c.size(), " 3-D/4-D datasets (", list_candidates(c), ")"),
             "; name the dataset");
      object = c[0].first;
    }
    H5Eclear2(H5E_DEFAULT);
  }
  return open_stack_dataset(std::move(f), path, object, p, "hdf5");
}

} // namespace domainmap::io
