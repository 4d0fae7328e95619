// lib/io/emd_write.cpp: write_emd, an EMD 1.0 DataCube that py4DSTEM 0.14 opens unchanged as
// a calibrated DataCube (docs/formats/emd.md section 7):
//
//   /                          emd_group_type="file", version_major=1, version_minor=0 (int64),
//                              UUID, authoring_program, authoring_user
//   /datacube_root             emd_group_type="root", python_class="Root"
//     metadatabundle/calibration   emd_group_type="metadata", python_class="Calibration":
//        Q_pixel_size, R_pixel_size (f8, type=number), Q_pixel_units, R_pixel_units (type=string),
//        QR_flip (bool enum, type=bool), _root_treepath "" (type=string),
//        _target_paths/ (type=list_of_strings, length=1) with "0" = "/datacube"
//     datacube                 emd_group_type="array", python_class="DataCube"
//        data [Rx, Ry, Qx, Qy] = [scan_y, scan_x, det_y, det_x], units="pixel intensity"
//        dim0..dim3 with name Rx, Ry, Qx, Qy and units
//
// Every string attribute is variable-length (emdfile compares them as Python str; a fixed-length
// string reads as bytes and breaks it). `data` is chunked one frame per chunk, optionally
// gzip or LZ4 (filter 32004), and written block by block under the memory budget.
#include <algorithm>
#include <cstdio>
#include <limits>
#include <random>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "../core/h5util.hpp"
#include "domainmap/error.hpp"
#include "domainmap/version.hpp"
#include "domainmap/write.hpp"

namespace domainmap {

namespace {

using h5::Handle;

// Converted values go through a buffer of at most this many bytes.
constexpr std::size_t kPieceBytes = std::size_t(4) << 20;

enum class OutType { u8, u16, u32, f32 };

std::size_t out_bytes(OutType t) {
  switch (t) {
  case OutType::u8: return 1;
  case OutType::u16: return 2;
  case OutType::u32: return 4;
  case OutType::f32: return 4;
  }
  return 4;
}

// auto: unsigned integer sources up to 32 bits keep their type (1-bit data become uint8),
// everything else is written as float32.
OutType choose_type(const std::string& want, const std::string& source_dtype, const std::string& path) {
  if (want == "uint8") return OutType::u8;
  if (want == "uint16") return OutType::u16;
  if (want == "uint32") return OutType::u32;
  if (want == "float32") return OutType::f32;
  if (want != "auto")
    fail(ErrorKind::bad_parameter, path, "write.dtype = ", want, ": expected auto, uint8, uint16, uint32 or float32");
  if (source_dtype == "1-bit") return OutType::u8;
  std::string d = source_dtype;
  if (!d.empty() && (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=')) d.erase(0, 1);
  if (d == "u1" || d == "uint8") return OutType::u8;
  if (d == "u2" || d == "uint16") return OutType::u16;
  if (d == "u4" || d == "uint32") return OutType::u32;
  return OutType::f32;
}

std::string random_uuid() {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<std::uint64_t>(rd()) << 32) ^ rd());
  std::uint64_t a = gen(), b = gen();
  a = (a & ~0xF000ull) | 0x4000ull;                       // version 4
  b = (b & ~(0xC000000000000000ull)) | 0x8000000000000000ull; // variant 10
  char s[40];
  std::snprintf(s, sizeof s, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xFFFF), static_cast<unsigned>(a & 0xFFFF),
                static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFull));
  return s;
}

Handle make_group(hid_t loc, const char* name, const std::string& path) {
  hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0) fail(ErrorKind::io, path, "cannot create group ", name);
  return Handle(g);
}

Handle open_ds(hid_t loc, const char* name, const std::string& path) {
  hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
  if (d < 0) fail(ErrorKind::io, path, "cannot reopen dataset ", name);
  return Handle(d);
}

// Metadata items: one dataset per key with a `type` attribute (emdfile's Metadata encoding).
void meta_number(hid_t g, const char* name, double v, const std::string& path) {
  h5::write_doubles(g, name, {}, &v);
  h5::write_string_attr(open_ds(g, name, path), "type", "number");
}
void meta_string(hid_t g, const char* name, const std::string& v, const std::string& path) {
  h5::write_string_dataset(g, name, v);
  h5::write_string_attr(open_ds(g, name, path), "type", "string");
}
// numpy bool: HDF5 enum {FALSE = 0, TRUE = 1} over int8, as h5py writes it.
void meta_bool(hid_t g, const char* name, bool v, const std::string& path) {
  Handle t(H5Tenum_create(H5T_NATIVE_INT8));
  std::int8_t f = 0, tr = 1;
  H5Tenum_insert(t, "FALSE", &f);
  H5Tenum_insert(t, "TRUE", &tr);
  Handle space(H5Screate(H5S_SCALAR));
  Handle d(H5Dcreate2(g, name, t, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!d.valid()) fail(ErrorKind::io, path, "cannot create dataset ", name);
  std::int8_t val = v ? 1 : 0;
  if (H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &val) < 0) fail(ErrorKind::io, path, "cannot write ", name);
  h5::write_string_attr(d, "type", "bool");
}

void write_dim(hid_t g, int i, const char* name, const Calibration& cal, bool scan, const std::string& path) {
  const std::string dn = "dim" + std::to_string(i);
  const double step = scan ? cal.r_pixel_size : cal.q_pixel_size;
  const std::string units = scan ? cal.r_units : cal.q_units;
  if (cal.known) {
    const double v[2] = {0.0, step};
    h5::write_doubles(g, dn, {2}, v);
  } else {
    const std::int64_t v[2] = {0, 1};
    h5::write_int64s(g, dn, {2}, v);
  }
  Handle d = open_ds(g, dn.c_str(), path);
  h5::write_string_attr(d, "name", name);
  h5::write_string_attr(d, "units", cal.known ? units : "pixels");
}

// Converts n floats to T, checking each is exact: an integer with 0 <= v < limit (= 2^bits).
// Throws naming the first value that is not. uint8/uint16 go 8 at a time with SSE2 (GCC's -O2
// does not vectorise the scalar loop).
template <typename T>
void to_integers(const float* src, std::size_t n, T* dst, double limit, std::int64_t first_frame, std::int64_t fp,
                 const std::string& path, const char* type_name) {
  const float lim = static_cast<float>(limit);
  auto exact = [lim](float v, std::int64_t& t) {
    const bool in_range = (v >= 0.0f) & (v < lim);
    t = static_cast<std::int64_t>(in_range ? v : 0.0f);
    return in_range & (static_cast<float>(t) == v);
  };
  bool ok = true;
  std::size_t i = 0;
#if defined(__SSE2__)
  if constexpr (sizeof(T) <= 2) {
    const __m128 zero = _mm_setzero_ps(), vlim = _mm_set1_ps(lim);
    const __m128i bias = _mm_set1_epi32(32768), flip = _mm_set1_epi16(static_cast<short>(0x8000));
    __m128 good = _mm_castsi128_ps(_mm_set1_epi32(-1));
    for (; i + 8 <= n; i += 8) {
      const __m128 a = _mm_loadu_ps(src + i), b = _mm_loadu_ps(src + i + 4);
      const __m128i ta = _mm_cvttps_epi32(a), tb = _mm_cvttps_epi32(b);
      good = _mm_and_ps(good, _mm_and_ps(_mm_cmpeq_ps(_mm_cvtepi32_ps(ta), a),
                                         _mm_and_ps(_mm_cmpge_ps(a, zero), _mm_cmplt_ps(a, vlim))));
      good = _mm_and_ps(good, _mm_and_ps(_mm_cmpeq_ps(_mm_cvtepi32_ps(tb), b),
                                         _mm_and_ps(_mm_cmpge_ps(b, zero), _mm_cmplt_ps(b, vlim))));
      if constexpr (sizeof(T) == 2) {
        // 0..65535 -> -32768..32767 so that the signed pack does not saturate, then back
        __m128i p = _mm_packs_epi32(_mm_sub_epi32(ta, bias), _mm_sub_epi32(tb, bias));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm_xor_si128(p, flip));
      } else {
        __m128i p = _mm_packus_epi16(_mm_packs_epi32(ta, tb), _mm_setzero_si128());
        _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + i), p);
      }
    }
    ok = _mm_movemask_ps(good) == 0xF;
  }
#endif
  for (; i < n; ++i) {
    std::int64_t t;
    ok &= exact(src[i], t);
    dst[i] = static_cast<T>(t);
  }
  if (ok) return;
  for (i = 0; i < n; ++i) {
    std::int64_t t;
    if (!exact(src[i], t))
      fail(ErrorKind::bad_input, path, "value ", src[i], " in frame ", first_frame + static_cast<std::int64_t>(i) / fp,
           " cannot be stored exactly as ", type_name, "; use --write.dtype float32");
  }
}

struct Writer {
  const std::string& path;  // the user's output name, for messages
  OutType type;
  hid_t dset;
  Handle file_space;
  Shape4 shape;
  std::vector<unsigned char> buf;

  // frames [k, k + n) from `src` (n * frame_pixels floats), rows r0.. of whole rows or part of one row
  void write_rect(std::int64_t r0, std::int64_t nr, std::int64_t c0, std::int64_t nc, const float* src) {
    const std::int64_t fp = shape.frame_pixels();
    const std::int64_t frames = nr * nc;
    hsize_t start[4] = {static_cast<hsize_t>(r0), static_cast<hsize_t>(c0), 0, 0};
    hsize_t cnt[4] = {static_cast<hsize_t>(nr), static_cast<hsize_t>(nc), static_cast<hsize_t>(shape.det_y),
                      static_cast<hsize_t>(shape.det_x)};
    const std::size_t n = static_cast<std::size_t>(frames * fp);
    // memory space shaped like the file selection (a 1-D one makes HDF5 map element by element)
    Handle mem(H5Screate_simple(4, cnt, nullptr));
    if (H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, nullptr, cnt, nullptr) < 0)
      fail(ErrorKind::internal, path, "cannot select frames for writing");
    const void* data = src;
    hid_t mem_type = H5T_NATIVE_FLOAT;
    const std::int64_t k = r0 * shape.scan_x + c0;
    switch (type) {
    case OutType::f32: break;
    case OutType::u8:
      to_integers(src, n, reinterpret_cast<std::uint8_t*>(buf.data()), 256.0, k, fp, path, "uint8");
      data = buf.data();
      mem_type = H5T_NATIVE_UINT8;
      break;
    case OutType::u16:
      to_integers(src, n, reinterpret_cast<std::uint16_t*>(buf.data()), 65536.0, k, fp, path, "uint16");
      data = buf.data();
      mem_type = H5T_NATIVE_UINT16;
      break;
    case OutType::u32:
      to_integers(src, n, reinterpret_cast<std::uint32_t*>(buf.data()), 4294967296.0, k, fp, path, "uint32");
      data = buf.data();
      mem_type = H5T_NATIVE_UINT32;
      break;
    }
    if (H5Dwrite(dset, mem_type, mem, file_space, H5P_DEFAULT, data) < 0)
      fail(ErrorKind::io, path, "cannot write frames ", k, "..", k + frames - 1, " (disk full?)");
  }

  // Frames [first, first + count) in raster order, in pieces of whole rows or parts of a row
  // that fit the conversion buffer.
  void write_frames(std::int64_t first, std::int64_t count, const float* data) {
    const std::int64_t fp = shape.frame_pixels();
    const std::int64_t cols = shape.scan_x;
    const std::int64_t P = type == OutType::f32 ? std::numeric_limits<std::int64_t>::max()
                                                : static_cast<std::int64_t>(buf.size() / (out_bytes(type) * fp));
    std::int64_t k = first;
    const std::int64_t end = first + count;
    while (k < end) {
      const std::int64_t r = k / cols, c = k % cols;
      std::int64_t nr = 1, nc;
      if (c == 0 && end - k >= cols && cols <= P) {
        nr = std::min((end - k) / cols, std::max<std::int64_t>(1, P / cols));
        nc = cols;
      } else {
        nc = std::min({end - k, cols - c, P});
      }
      write_rect(r, nr, c, nc, data + (k - first) * fp);
      k += nr * nc;
    }
  }
};

void write_file(FrameSource& src, const std::string& tmp, const std::string& path, OutType type, const WriteParams& p,
                RunContext& ctx) {
  const Shape4 s = src.shape();
  const DatasetInfo& info = src.info();
  h5::silence_hdf5();
  hid_t fid = H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (fid < 0) fail(ErrorKind::io, path, "cannot create the output file (folder missing or not writable?)");
  Handle file(fid);
  {
    Handle root(H5Gopen2(file, "/", H5P_DEFAULT));
    h5::write_string_attr(root, "emd_group_type", "file");
    h5::write_int_attr(root, "version_major", 1);
    h5::write_int_attr(root, "version_minor", 0);
    h5::write_string_attr(root, "UUID", random_uuid());
    h5::write_string_attr(root, "authoring_program", std::string("domainmap ") + DOMAINMAP_VERSION);
    h5::write_string_attr(root, "authoring_user", "");
  }
  Handle root = make_group(file, "datacube_root", path);
  h5::write_string_attr(root, "emd_group_type", "root");
  h5::write_string_attr(root, "python_class", "Root");
  {
    Handle bundle = make_group(root, "metadatabundle", path);
    h5::write_string_attr(bundle, "emd_group_type", "metadatabundle");
    Handle cal = make_group(bundle, "calibration", path);
    h5::write_string_attr(cal, "emd_group_type", "metadata");
    h5::write_string_attr(cal, "python_class", "Calibration");
    const Calibration& c = info.calibration;
    meta_number(cal, "Q_pixel_size", c.known ? c.q_pixel_size : 1.0, path);
    meta_string(cal, "Q_pixel_units", c.known ? c.q_units : "pixels", path);
    meta_number(cal, "R_pixel_size", c.known ? c.r_pixel_size : 1.0, path);
    meta_string(cal, "R_pixel_units", c.known ? c.r_units : "pixels", path);
    meta_bool(cal, "QR_flip", false, path);
    meta_string(cal, "_root_treepath", "", path);
    Handle targets = make_group(cal, "_target_paths", path);
    h5::write_string_attr(targets, "type", "list_of_strings");
    h5::write_int_attr(targets, "length", 1);
    h5::write_string_dataset(targets, "0", "/datacube");
  }
  Handle cube = make_group(root, "datacube", path);
  h5::write_string_attr(cube, "emd_group_type", "array");
  h5::write_string_attr(cube, "python_class", "DataCube");

  // data: one frame per chunk
  hsize_t dims[4] = {static_cast<hsize_t>(s.scan_y), static_cast<hsize_t>(s.scan_x), static_cast<hsize_t>(s.det_y),
                     static_cast<hsize_t>(s.det_x)};
  hsize_t chunk[4] = {1, 1, dims[2], dims[3]};
  Handle space(H5Screate_simple(4, dims, nullptr));
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE));
  H5Pset_chunk(dcpl, 4, chunk);
  H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
  if (p.compress == "gzip") {
    H5Pset_deflate(dcpl, static_cast<unsigned>(std::clamp(p.gzip_level, 1, 9)));
  } else if (p.compress == "lz4") {
    const unsigned cd[1] = {0};  // block size: 0 = the plugin's default (one block per chunk up to 1 GiB)
    H5Pset_filter(dcpl, 32004, H5Z_FLAG_MANDATORY, 1, cd);
  }
  hid_t file_type = H5T_IEEE_F32LE;
  switch (type) {
  case OutType::u8: file_type = H5T_STD_U8LE; break;
  case OutType::u16: file_type = H5T_STD_U16LE; break;
  case OutType::u32: file_type = H5T_STD_U32LE; break;
  case OutType::f32: file_type = H5T_IEEE_F32LE; break;
  }
  // the chunks are written whole and once: no chunk cache
  Handle dapl(H5Pcreate(H5P_DATASET_ACCESS));
  H5Pset_chunk_cache(dapl, 521, 0, 1.0);
  hid_t d = H5Dcreate2(cube, "data", file_type, space, H5P_DEFAULT, dcpl, dapl);
  if (d < 0) fail(ErrorKind::io, path, "cannot create /datacube_root/datacube/data");
  Handle data(d);
  h5::write_string_attr(data, "units", "pixel intensity");
  const char* names[4] = {"Rx", "Ry", "Qx", "Qy"};
  for (int i = 0; i < 4; ++i) write_dim(cube, i, names[i], info.calibration, i < 2, path);

  Writer w{path, type, data, Handle(H5Dget_space(data)), s, {}};
  if (type != OutType::f32) {
    const std::size_t frame_bytes = static_cast<std::size_t>(s.frame_pixels()) * out_bytes(type);
    const std::size_t frames = std::max<std::size_t>(1, kPieceBytes / std::max<std::size_t>(frame_bytes, 1));
    w.buf.resize(std::min<std::size_t>(frames, static_cast<std::size_t>(s.n_frames())) * frame_bytes);
  }
  BlockStream stream(src, ctx.memory_budget);
  FrameBlock b;
  const std::int64_t total = s.n_frames();
  std::int64_t done = 0;
  ctx.report("convert", 0, total);
  while (stream.next(b)) {
    check_cancel(ctx);
    w.write_frames(b.first_frame, b.n_frames, b.data);
    done += b.n_frames;
    ctx.report("convert", done, total);
  }
  if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0) fail(ErrorKind::io, path, "cannot flush the output file (disk full?)");
}

} // namespace

void write_emd(FrameSource& src, const std::string& path, const WriteParams& p, RunContext& ctx) {
  if (p.compress != "none" && p.compress != "gzip" && p.compress != "lz4")
    fail(ErrorKind::bad_parameter, path, "write.compress = ", p.compress, ": expected none, gzip or lz4");
  if (p.compress == "lz4") {
    h5::silence_hdf5();
    if (H5Zfilter_avail(32004) <= 0)
      fail(ErrorKind::bad_parameter, path,
           "write.compress = lz4 needs the HDF5 LZ4 filter (32004), which is not available; install the Debian "
           "package hdf5-filter-plugin or use --write.compress gzip");
  }
  const OutType type = choose_type(p.dtype, src.info().dtype, path);
  const std::string tmp = temporary_name_for(path);
  try {
    write_file(src, tmp, path, type, p, ctx);
    commit_temporary(tmp, path);
  } catch (...) {
    discard_temporary(tmp);
    throw;
  }
}

} // namespace domainmap
