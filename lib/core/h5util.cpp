// lib/core/h5util.cpp: RAII and error handling over the HDF5 C API (see h5util.hpp).
#include "h5util.hpp"

#include <H5Zpublic.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>

namespace domainmap::h5 {

void silence_hdf5() {
  // Thread-safe HDF5 keeps one error stack per thread, and H5Eset_auto2(H5E_DEFAULT) sets the
  // printing of the calling thread's stack only: every thread that calls HDF5 (the main
  // thread, BlockStream's reader thread) must do it once.
  thread_local bool done = false;
  if (done) return;
  static std::once_flag once;
  std::call_once(once, [] { H5open(); });
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  done = true;
}

void Handle::reset() {
  if (id_ < 0) return;
  switch (H5Iget_type(id_)) {
  case H5I_FILE: H5Fclose(id_); break;
  case H5I_GROUP: H5Gclose(id_); break;
  case H5I_DATASET: H5Dclose(id_); break;
  case H5I_DATASPACE: H5Sclose(id_); break;
  case H5I_DATATYPE: H5Tclose(id_); break;
  case H5I_ATTR: H5Aclose(id_); break;
  case H5I_GENPROP_LST: H5Pclose(id_); break;
  default: H5Idec_ref(id_); break;
  }
  id_ = -1;
}

Handle check(hid_t id, const std::string& where, const std::string& what, ErrorKind kind) {
  if (id < 0) fail(kind, where, what);
  return Handle(id);
}

void check(herr_t status, const std::string& where, const std::string& what, ErrorKind kind) {
  if (status < 0) fail(kind, where, what);
}

bool is_hdf5_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char sig[8] = {};
  if (!f.read(sig, 8)) return false;
  return std::memcmp(sig, "\x89HDF\r\n\x1a\n", 8) == 0;
}

static void require_readable(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail(ErrorKind::bad_input, path, "no such file");
  if (std::filesystem::is_directory(path, ec)) fail(ErrorKind::bad_input, path, "is a directory, not a file");
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(ErrorKind::bad_input, path, "cannot open file for reading");
}

Handle open_file_read(const std::string& path) {
  silence_hdf5();
  require_readable(path);
  if (!is_hdf5_file(path)) fail(ErrorKind::bad_input, path, "not an HDF5 file");
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) fail(ErrorKind::bad_input, path, "HDF5 file cannot be opened (truncated or corrupt?)");
  return Handle(f);
}

Handle create_file(const std::string& path) {
  silence_hdf5();
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) fail(ErrorKind::io, path, "cannot create HDF5 file");
  return Handle(f);
}

Handle open_file_rw(const std::string& path) {
  silence_hdf5();
  require_readable(path);
  if (!is_hdf5_file(path)) fail(ErrorKind::bad_input, path, "not an HDF5 file");
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (f < 0) fail(ErrorKind::io, path, "cannot open HDF5 file for writing");
  return Handle(f);
}

// "/a/b/c" -> {"/a", "/a/b", "/a/b/c"}; "a/b" -> {"a", "a/b"}.
static std::vector<std::string> path_prefixes(const std::string& path) {
  std::vector<std::string> out;
  std::string cur = (!path.empty() && path[0] == '/') ? "/" : "";
  std::size_t pos = 0;
  while (pos <= path.size()) {
    std::size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    std::string comp = path.substr(pos, next - pos);
    if (!comp.empty()) {
      if (!cur.empty() && cur.back() != '/') cur += '/';
      cur += comp;
      out.push_back(cur);
    }
    pos = next + 1;
  }
  return out;
}

bool exists(hid_t loc, const std::string& path) {
  for (const std::string& p : path_prefixes(path)) {
    if (H5Lexists(loc, p.c_str(), H5P_DEFAULT) <= 0) return false;
    // the object must also resolve (an external link to a missing file does not)
    if (H5Oexists_by_name(loc, p.c_str(), H5P_DEFAULT) <= 0) return false;
  }
  return true;
}

static std::string loc_file_name(hid_t loc) {
  ssize_t n = H5Fget_name(loc, nullptr, 0);
  if (n <= 0) return "?";
  std::string s(static_cast<std::size_t>(n), '\0');
  H5Fget_name(loc, s.data(), static_cast<std::size_t>(n) + 1);
  return s;
}

Handle open_group(hid_t loc, const std::string& path, const std::string& file) {
  std::string f = file.empty() ? loc_file_name(loc) : file;
  if (!exists(loc, path)) fail(ErrorKind::bad_input, f + ":" + path, "no such group");
  hid_t g = H5Gopen2(loc, path.c_str(), H5P_DEFAULT);
  if (g < 0) fail(ErrorKind::bad_input, f + ":" + path, "not a group");
  return Handle(g);
}

Handle open_dataset(hid_t loc, const std::string& path, const std::string& file) {
  std::string f = file.empty() ? loc_file_name(loc) : file;
  if (!exists(loc, path)) fail(ErrorKind::bad_input, f + ":" + path, "no such dataset");
  hid_t d = H5Dopen2(loc, path.c_str(), H5P_DEFAULT);
  if (d < 0) fail(ErrorKind::bad_input, f + ":" + path, "not a dataset");
  return Handle(d);
}

Handle require_group(hid_t loc, const std::string& path, const std::string& file) {
  std::string f = file.empty() ? loc_file_name(loc) : file;
  for (const std::string& p : path_prefixes(path)) {
    if (H5Lexists(loc, p.c_str(), H5P_DEFAULT) > 0) continue;
    hid_t g = H5Gcreate2(loc, p.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) fail(ErrorKind::io, f + ":" + p, "cannot create group");
    H5Gclose(g);
  }
  return open_group(loc, path.empty() ? "/" : path, f);
}

bool has_attr(hid_t obj, const char* name) { return H5Aexists(obj, name) > 0; }

std::optional<std::string> read_string_attr(hid_t obj, const char* name) {
  if (!has_attr(obj, name)) return std::nullopt;
  Handle a(H5Aopen(obj, name, H5P_DEFAULT));
  if (!a.valid()) return std::nullopt;
  Handle t(H5Aget_type(a));
  if (H5Tget_class(t) != H5T_STRING) return std::nullopt;
  Handle space(H5Aget_space(a));
  hssize_t npoints = H5Sget_simple_extent_npoints(space);
  if (npoints < 1) return std::string();
  if (H5Tis_variable_str(t) > 0) {
    std::vector<char*> ptrs(static_cast<std::size_t>(npoints), nullptr);
    Handle mt(H5Tcopy(H5T_C_S1));
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5Tget_cset(t));
    if (H5Aread(a, mt, ptrs.data()) < 0) return std::nullopt;
    std::string s = ptrs[0] ? ptrs[0] : "";
    H5Dvlen_reclaim(mt, space, H5P_DEFAULT, ptrs.data());
    return s;
  }
  std::size_t size = H5Tget_size(t);
  std::vector<char> buf(size * static_cast<std::size_t>(npoints) + 1, '\0');
  Handle mt(H5Tcopy(t));
  if (H5Aread(a, mt, buf.data()) < 0) return std::nullopt;
  std::string s(buf.data(), strnlen(buf.data(), size));
  return s;
}

std::optional<double> read_number_attr(hid_t obj, const char* name) {
  auto v = read_numbers_attr(obj, name);
  if (v.empty()) return std::nullopt;
  return v[0];
}

std::vector<double> read_numbers_attr(hid_t obj, const char* name) {
  if (!has_attr(obj, name)) return {};
  Handle a(H5Aopen(obj, name, H5P_DEFAULT));
  if (!a.valid()) return {};
  Handle t(H5Aget_type(a));
  H5T_class_t c = H5Tget_class(t);
  if (c != H5T_INTEGER && c != H5T_FLOAT && c != H5T_ENUM) return {};
  Handle space(H5Aget_space(a));
  hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n < 1) return {};
  std::vector<double> out(static_cast<std::size_t>(n));
  if (c == H5T_ENUM) {
    std::vector<long long> tmp(out.size());
    if (H5Aread(a, H5T_NATIVE_LLONG, tmp.data()) < 0) return {};
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<double>(tmp[i]);
    return out;
  }
  if (H5Aread(a, H5T_NATIVE_DOUBLE, out.data()) < 0) return {};
  return out;
}

static void delete_attr(hid_t obj, const char* name) {
  if (has_attr(obj, name)) H5Adelete(obj, name);
}

static void write_attr_raw(hid_t obj, const char* name, hid_t file_type, hid_t mem_type,
                           hid_t space, const void* data) {
  delete_attr(obj, name);
  Handle a(H5Acreate2(obj, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT));
  if (!a.valid()) fail(ErrorKind::io, std::string("attribute ") + name, "cannot create");
  if (H5Awrite(a, mem_type, data) < 0) fail(ErrorKind::io, std::string("attribute ") + name, "cannot write");
}

void write_string_attr(hid_t obj, const char* name, const std::string& value) {
  Handle t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  Handle space(H5Screate(H5S_SCALAR));
  const char* p = value.c_str();
  write_attr_raw(obj, name, t, t, space, &p);
}

void write_fixed_string_attr(hid_t obj, const char* name, const std::string& value) {
  Handle t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t, value.size() + 1);
  H5Tset_strpad(t, H5T_STR_NULLTERM);
  Handle space(H5Screate(H5S_SCALAR));
  write_attr_raw(obj, name, t, t, space, value.c_str());
}

void write_int_attr(hid_t obj, const char* name, std::int64_t value) {
  Handle space(H5Screate(H5S_SCALAR));
  write_attr_raw(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, space, &value);
}

void write_double_attr(hid_t obj, const char* name, double value) {
  Handle space(H5Screate(H5S_SCALAR));
  write_attr_raw(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, space, &value);
}

void write_ints_attr(hid_t obj, const char* name, const std::vector<std::int64_t>& values) {
  hsize_t n = values.size();
  Handle space(H5Screate_simple(1, &n, nullptr));
  write_attr_raw(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, space, values.data());
}

void write_doubles_attr(hid_t obj, const char* name, const std::vector<double>& values) {
  hsize_t n = values.size();
  Handle space(H5Screate_simple(1, &n, nullptr));
  write_attr_raw(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, space, values.data());
}

std::vector<std::int64_t> dataset_dims(hid_t dset) {
  Handle space(H5Dget_space(dset));
  int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) return {};
  std::vector<hsize_t> d(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space, d.data(), nullptr);
  return {d.begin(), d.end()};
}

template <typename T>
static std::vector<T> read_all(hid_t dset, hid_t mem_type, const std::string& where) {
  Handle space(H5Dget_space(dset));
  hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n < 0) fail(ErrorKind::bad_input, where, "cannot read dataset shape");
  std::vector<T> out(static_cast<std::size_t>(n));
  if (n > 0 && H5Dread(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0)
    fail(ErrorKind::bad_input, where, "cannot read dataset (corrupt, or a compression filter is missing)");
  return out;
}

std::vector<double> read_doubles(hid_t dset, const std::string& where) {
  return read_all<double>(dset, H5T_NATIVE_DOUBLE, where);
}
std::vector<float> read_floats(hid_t dset, const std::string& where) {
  return read_all<float>(dset, H5T_NATIVE_FLOAT, where);
}
std::vector<std::int64_t> read_ints(hid_t dset, const std::string& where) {
  return read_all<std::int64_t>(dset, H5T_NATIVE_INT64, where);
}

std::string read_string_dataset(hid_t dset, const std::string& where) {
  Handle t(H5Dget_type(dset));
  if (H5Tget_class(t) != H5T_STRING) fail(ErrorKind::bad_input, where, "not a string dataset");
  Handle space(H5Dget_space(dset));
  if (H5Tis_variable_str(t) > 0) {
    char* p = nullptr;
    Handle mt(H5Tcopy(H5T_C_S1));
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5Tget_cset(t));
    Handle one(H5Screate(H5S_SCALAR));
    if (H5Dread(dset, mt, one, H5S_ALL, H5P_DEFAULT, &p) < 0)
      fail(ErrorKind::bad_input, where, "cannot read string");
    std::string s = p ? p : "";
    H5Dvlen_reclaim(mt, one, H5P_DEFAULT, &p);
    return s;
  }
  std::size_t size = H5Tget_size(t);
  std::vector<char> buf(size + 1, '\0');
  Handle mt(H5Tcopy(t));
  Handle one(H5Screate(H5S_SCALAR));
  if (H5Dread(dset, mt, one, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
    fail(ErrorKind::bad_input, where, "cannot read string");
  return std::string(buf.data(), strnlen(buf.data(), size));
}

void unlink_if_exists(hid_t loc, const std::string& name) {
  if (H5Lexists(loc, name.c_str(), H5P_DEFAULT) > 0) H5Ldelete(loc, name.c_str(), H5P_DEFAULT);
}

static void write_array(hid_t loc, const std::string& name, const std::vector<std::int64_t>& dims,
                        hid_t file_type, hid_t mem_type, const void* data, int gzip_level) {
  unlink_if_exists(loc, name);
  std::vector<hsize_t> d(dims.begin(), dims.end());
  Handle space(d.empty() ? H5Screate(H5S_SCALAR)
                         : H5Screate_simple(static_cast<int>(d.size()), d.data(), nullptr));
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE));
  std::size_t total = 1;
  for (auto v : d) total *= v;
  if (gzip_level > 0 && !d.empty() && total > 0) {
    std::vector<hsize_t> chunk = d;
    // chunks of about 1 MiB along the first axis
    std::size_t row = total / std::max<hsize_t>(d[0], 1);
    hsize_t rows = std::max<hsize_t>(1, std::min<hsize_t>(d[0], (1u << 18) / std::max<std::size_t>(row, 1)));
    chunk[0] = rows;
    H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
    H5Pset_deflate(dcpl, static_cast<unsigned>(gzip_level));
  }
  Handle ds(H5Dcreate2(loc, name.c_str(), file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
  if (!ds.valid()) fail(ErrorKind::io, name, "cannot create dataset");
  if (total > 0 && H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    fail(ErrorKind::io, name, "cannot write dataset");
}

void write_floats(hid_t loc, const std::string& name, const std::vector<std::int64_t>& dims,
                  const float* data, int gzip_level) {
  write_array(loc, name, dims, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, data, gzip_level);
}
void write_doubles(hid_t loc, const std::string& name, const std::vector<std::int64_t>& dims,
                   const double* data) {
  write_array(loc, name, dims, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, data, 0);
}
void write_int32s(hid_t loc, const std::string& name, const std::vector<std::int64_t>& dims,
                  const std::int32_t* data, int gzip_level) {
  write_array(loc, name, dims, H5T_STD_I32LE, H5T_NATIVE_INT32, data, gzip_level);
}
void write_int64s(hid_t loc, const std::string& name, const std::vector<std::int64_t>& dims,
                  const std::int64_t* data) {
  write_array(loc, name, dims, H5T_STD_I64LE, H5T_NATIVE_INT64, data, 0);
}
void write_uint64s(hid_t loc, const std::string& name, const std::vector<std::int64_t>& dims,
                   const std::uint64_t* data) {
  write_array(loc, name, dims, H5T_STD_U64LE, H5T_NATIVE_UINT64, data, 0);
}
void write_uint8s(hid_t loc, const std::string& name, const std::vector<std::int64_t>& dims,
                  const std::uint8_t* data) {
  write_array(loc, name, dims, H5T_STD_U8LE, H5T_NATIVE_UINT8, data, 0);
}

void write_string_dataset(hid_t loc, const std::string& name, const std::string& value) {
  unlink_if_exists(loc, name);
  Handle t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  Handle space(H5Screate(H5S_SCALAR));
  Handle ds(H5Dcreate2(loc, name.c_str(), t, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!ds.valid()) fail(ErrorKind::io, name, "cannot create dataset");
  const char* p = value.c_str();
  if (H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &p) < 0) fail(ErrorKind::io, name, "cannot write");
}

std::string dtype_string(hid_t type) {
  H5T_class_t c = H5Tget_class(type);
  std::size_t size = H5Tget_size(type);
  char order = H5Tget_order(type) == H5T_ORDER_BE ? '>' : '<';
  if (size == 1) order = '|';
  if (c == H5T_INTEGER) {
    char kind = H5Tget_sign(type) == H5T_SGN_NONE ? 'u' : 'i';
    return std::string(1, order) + kind + std::to_string(size);
  }
  if (c == H5T_FLOAT) return std::string(1, order) + "f" + std::to_string(size);
  if (c == H5T_STRING) return "string";
  if (c == H5T_COMPOUND) return "compound";
  if (c == H5T_ENUM) return "enum";
  if (c == H5T_VLEN) return "vlen";
  return "other";
}

std::string compression_string(hid_t dcpl) {
  int n = H5Pget_nfilters(dcpl);
  if (n <= 0) return "none";
  std::string out;
  for (int i = 0; i < n; ++i) {
    unsigned flags = 0, cd[16];
    std::size_t ncd = 16;
    char name[128] = {};
    H5Z_filter_t id = H5Pget_filter2(dcpl, static_cast<unsigned>(i), &flags, &ncd, cd, sizeof name, name, nullptr);
    std::string s;
    if (id == H5Z_FILTER_DEFLATE) s = "gzip";
    else if (id == H5Z_FILTER_SHUFFLE) s = "shuffle";
    else if (id == H5Z_FILTER_FLETCHER32) s = "fletcher32";
    else if (id == 32004) s = "lz4";
    else if (id == 32008) s = (ncd >= 5 && cd[4] == 3) ? "bitshuffle-zstd" : "bitshuffle-lz4";
    else if (id == 32001) s = "blosc";
    else s = "filter " + std::to_string(id);
    if (!out.empty()) out += "+";
    out += s;
  }
  return out;
}

std::vector<std::int64_t> chunk_dims(hid_t dcpl) {
  if (H5Pget_layout(dcpl) != H5D_CHUNKED) return {};
  hsize_t d[32];
  int rank = H5Pget_chunk(dcpl, 32, d);
  if (rank <= 0) return {};
  return {d, d + rank};
}

} // namespace domainmap::h5
