// lib/core/h5util.hpp (internal, not installed): thin RAII and error handling over the HDF5 C API.
//
// HDF5's automatic error stack printing is switched off once (silence_hdf5()); every failing
// call is turned into a domainmap::Error that names the file and object.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "domainmap/error.hpp"

namespace domainmap::h5 {

/// Turns off HDF5's error stack printing for the calling thread (cheap after the first call;
/// call it in every thread that calls HDF5).
void silence_hdf5();

/// Owns one HDF5 identifier of any kind; closes it with the matching H5?close.
class Handle {
public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : id_(o.id_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) { reset(); id_ = o.id_; o.id_ = -1; }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }
  bool valid() const { return id_ >= 0; }
  hid_t release() { hid_t i = id_; id_ = -1; return i; }
  void reset();
private:
  hid_t id_ = -1;
};

/// Throws Error(kind) "<where>: <what>" if id < 0; returns a Handle otherwise.
Handle check(hid_t id, const std::string& where, const std::string& what,
             ErrorKind kind = ErrorKind::io);
/// Throws if status < 0.
void check(herr_t status, const std::string& where, const std::string& what,
           ErrorKind kind = ErrorKind::io);

/// True if the file starts with the HDF5 signature (at offset 0; userblocks not supported).
bool is_hdf5_file(const std::string& path);

/// Opens read-only; clear errors for a missing file or a file that is not HDF5.
Handle open_file_read(const std::string& path);
/// Creates (truncates) a file for writing.
Handle create_file(const std::string& path);
/// Opens for read-write.
Handle open_file_rw(const std::string& path);

/// True if `path` (absolute inside the file, e.g. "/entry/data") names an existing object,
/// checking each component so that a missing middle group does not raise.
bool exists(hid_t loc, const std::string& path);

/// Opens a group/dataset, error "<file>:<path>: no such dataset" if missing.
Handle open_group(hid_t loc, const std::string& path, const std::string& file);
Handle open_dataset(hid_t loc, const std::string& path, const std::string& file);
/// Creates every missing group on the way to `path` and returns the last.
Handle require_group(hid_t loc, const std::string& path, const std::string& file);

// ---- attributes (on any object) ----
bool has_attr(hid_t obj, const char* name);
/// Reads a string attribute, fixed or variable length; nullopt if missing or not a string.
std::optional<std::string> read_string_attr(hid_t obj, const char* name);
/// Reads a numeric attribute (any integer or float type, first element); nullopt if missing.
std::optional<double> read_number_attr(hid_t obj, const char* name);
/// Reads a numeric 1-D attribute as doubles; empty if missing.
std::vector<double> read_numbers_attr(hid_t obj, const char* name);
/// Writes (replaces) a variable-length UTF-8 string attribute (as h5py/emdfile write them).
void write_string_attr(hid_t obj, const char* name, const std::string& value);
/// Writes (replaces) a fixed-length string attribute.
void write_fixed_string_attr(hid_t obj, const char* name, const std::string& value);
void write_int_attr(hid_t obj, const char* name, std::int64_t value);
void write_double_attr(hid_t obj, const char* name, double value);
void write_ints_attr(hid_t obj, const char* name, const std::vector<std::int64_t>& values);
void write_doubles_attr(hid_t obj, const char* name, const std::vector<double>& values);

// ---- small whole datasets ----
/// Dataset shape.
std::vector<std::int64_t> dataset_dims(hid_t dset);
/// Reads a whole (small) numeric dataset as doubles / floats / int64.
std::vector<double> read_doubles(hid_t dset, const std::string& where);
std::vector<float> read_floats(hid_t dset, const std::string& where);
std::vector<std::int64_t> read_ints(hid_t dset, const std::string& where);
/// Reads a scalar string dataset (fixed or variable length).
std::string read_string_dataset(hid_t dset, const std::string& where);

/// Writes a whole dataset (C order) with the given dims, replacing any existing one.
/// `gzip_level` > 0 writes chunked + deflate.
void write_floats(hid_t loc, const std::string& name, const std::vector<std::int64_t>& dims,
                  const float* data, int gzip_level = 0);
void write_doubles(hid_t loc, const std::string& name, const std::vector<std::int64_t>& dims,
                   const double* data);
void write_int32s(hid_t loc, const std::string& name, const std::vector<std::int64_t>& dims,
                  const std::int32_t* data, int gzip_level = 0);
void write_int64s(hid_t loc, const std::string& name, const std::vector<std::int64_t>& dims,
                  const std::int64_t* data);
void write_uint64s(hid_t loc, const std::string& name, const std::vector<std::int64_t>& dims,
                   const std::uint64_t* data);
void write_uint8s(hid_t loc, const std::string& name, const std::vector<std::int64_t>& dims,
                  const std::uint8_t* data);
/// Scalar vlen string dataset.
void write_string_dataset(hid_t loc, const std::string& name, const std::string& value);

/// Deletes a link if it exists.
void unlink_if_exists(hid_t loc, const std::string& name);

/// numpy-style dtype text for an HDF5 datatype: "<u2", ">i4", "<f4", ...
std::string dtype_string(hid_t type);
/// Compression filters of a dataset's creation property list: "none", "gzip", "lz4", "bitshuffle-lz4", "filter 307" ...
std::string compression_string(hid_t dcpl);
/// Chunk dims, empty if not chunked.
std::vector<std::int64_t> chunk_dims(hid_t dcpl);

} // namespace domainmap::h5
