// lib/io/hdf5_stack.cpp: frames of 3D/4D HDF5 datasets as float32 (see hdf5_stack.hpp).
#include "hdf5_stack.hpp"

#include <algorithm>
#include <limits>
#include <type_traits>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "domainmap/error.hpp"

namespace domainmap::io {

namespace {

// A read through the scratch buffer holds at most this many stored bytes, so that the buffer
// stays in the L2 cache between HDF5 writing it and the conversion reading it (measured with
// bench_read_emd: 256 KiB..1 MiB equally fast, 4 MiB 1.5x and 16 MiB 2x slower).
constexpr std::size_t kScratchBytes = std::size_t(512) << 10;
// Reads of at least this many output bytes convert with non-temporal stores: the block will
// not stay in cache anyway, and streaming stores save the read-for-ownership of every line
// (measured: 1.5x faster for 128 MiB blocks). Smaller blocks keep normal stores so that the
// consumer may find them in cache.
constexpr std::size_t kStreamingStoreBytes = std::size_t(16) << 20;
// Largest chunk cache set for datasets whose chunks span several frames (it comes on top of
// the memory budget, which the reader does not know).
constexpr std::size_t kMaxChunkCache = std::size_t(128) << 20;

std::vector<std::string> split_tokens(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text) {
    if (c == ',' || c == ' ' || c == '\t') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::uint64_t next_prime(std::uint64_t n) {
  auto is_prime = [](std::uint64_t v) {
    if (v < 2) return false;
    for (std::uint64_t d = 2; d * d <= v; ++d)
      if (v % d == 0) return false;
    return true;
  };
  while (!is_prime(n)) ++n;
  return n;
}

hid_t native_type(PixelType t) {
  switch (t) {
  case PixelType::u8: return H5T_NATIVE_UINT8;
  case PixelType::u16: return H5T_NATIVE_UINT16;
  case PixelType::u32: return H5T_NATIVE_UINT32;
  case PixelType::u64: return H5T_NATIVE_UINT64;
  case PixelType::i8: return H5T_NATIVE_INT8;
  case PixelType::i16: return H5T_NATIVE_INT16;
  case PixelType::i32: return H5T_NATIVE_INT32;
  case PixelType::i64: return H5T_NATIVE_INT64;
  case PixelType::f32: return H5T_NATIVE_FLOAT;
  case PixelType::f64: return H5T_NATIVE_DOUBLE;
  }
  return H5T_NATIVE_FLOAT;
}

// The short name and the package providing a filter, for messages.
std::pair<std::string, std::string> filter_name(H5Z_filter_t id, const char* stored_name) {
  switch (id) {
  case H5Z_FILTER_DEFLATE: return {"gzip", "built into HDF5"};
  case H5Z_FILTER_SZIP: return {"szip", "libhdf5 built with szip"};
  case 32008: return {"bitshuffle", "Debian package bitshuffle"};
  case 32004: return {"lz4", "Debian package hdf5-filter-plugin"};
  case 32000: return {"lzf", "Debian package hdf5-filter-plugin"};
  case 307: return {"bzip2", "Debian package hdf5-filter-plugin"};
  case 32001: return {"blosc", "the hdf5-blosc plugin"};
  case 32015: return {"zstd", "the HDF5 zstd plugin"};
  default: break;
  }
  std::string n = stored_name ? stored_name : "";
  n = n.substr(0, n.find(';'));
  return {n.empty() ? "unknown" : n, "its HDF5 plugin"};
}

// Stored layout -> the frames of a part as rows x cols, and the chunk extents along them.
struct Extents {
  std::int64_t rows = 0, cols = 1, det_y = 0, det_x = 0;
  std::int64_t chunk_rows = 1, chunk_cols = 1; // chunk extents along ry (or n) and rx
};
Extents extents_of(const StackPart& p) {
  Extents e;
  e.rows = p.dims[p.axes.ry];
  if (p.axes.rank == 4) e.cols = p.dims[p.axes.rx];
  e.det_y = p.dims[p.axes.qy];
  e.det_x = p.dims[p.axes.qx];
  if (!p.chunks.empty()) {
    e.chunk_rows = p.chunks[p.axes.ry];
    if (p.axes.rank == 4) e.chunk_cols = p.chunks[p.axes.rx];
  }
  return e;
}

template <typename T>
void convert_block(const T* src, std::size_t n, float* dst) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
}

// convert_block with streaming (non-temporal) stores; the caller ends with a store fence.
template <typename T>
void convert_block_nt(const T* src, std::size_t n, float* dst) {
#if defined(__SSE2__)
  std::size_t i = 0;
  for (; i < n && (reinterpret_cast<std::uintptr_t>(dst + i) & 15) != 0; ++i) dst[i] = static_cast<float>(src[i]);
  if constexpr (std::is_same_v<T, std::uint16_t> || std::is_same_v<T, std::uint8_t>) {
    const __m128i zero = _mm_setzero_si128();
    for (; i + 16 <= n; i += 16) {
      __m128i a, b;  // 16 values widened to 16 bits
      if constexpr (std::is_same_v<T, std::uint8_t>) {
        __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
        a = _mm_unpacklo_epi8(v, zero);
        b = _mm_unpackhi_epi8(v, zero);
      } else {
        a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
        b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 8));
      }
      _mm_stream_ps(dst + i, _mm_cvtepi32_ps(_mm_unpacklo_epi16(a, zero)));
      _mm_stream_ps(dst + i + 4, _mm_cvtepi32_ps(_mm_unpackhi_epi16(a, zero)));
      _mm_stream_ps(dst + i + 8, _mm_cvtepi32_ps(_mm_unpacklo_epi16(b, zero)));
      _mm_stream_ps(dst + i + 12, _mm_cvtepi32_ps(_mm_unpackhi_epi16(b, zero)));
    }
  } else {
    alignas(16) float tmp[16];
    for (; i + 16 <= n; i += 16) {
      for (int j = 0; j < 16; ++j) tmp[j] = static_cast<float>(src[i + j]);
      for (int j = 0; j < 16; j += 4) _mm_stream_ps(dst + i + j, _mm_load_ps(tmp + j));
    }
  }
  for (; i < n; ++i) dst[i] = static_cast<float>(src[i]);
#else
  convert_block(src, n, dst);
#endif
}

// One frame from a stored slab with element strides sy, sx into a contiguous det_y x det_x frame.
template <typename T>
void convert_frame(const T* src, std::int64_t sy, std::int64_t sx, std::int64_t det_y, std::int64_t det_x,
                   float* dst) {
  if (sx == 1 && sy == det_x) {
    convert_block(src, static_cast<std::size_t>(det_y * det_x), dst);
    return;
  }
  for (std::int64_t y = 0; y < det_y; ++y)
    for (std::int64_t x = 0; x < det_x; ++x) dst[y * det_x + x] = static_cast<float>(src[y * sy + x * sx]);
}

template <typename T>
void scatter_slab(const unsigned char* scratch, bool contiguous, bool streaming, std::int64_t nr, std::int64_t nc,
                  std::int64_t st_r, std::int64_t st_c, std::int64_t st_y, std::int64_t st_x, std::int64_t det_y,
                  std::int64_t det_x, float* out) {
  const T* s = reinterpret_cast<const T*>(scratch);
  const std::int64_t fp = det_y * det_x;
  if (contiguous) {
    if (streaming) convert_block_nt(s, static_cast<std::size_t>(nr * nc * fp), out);
    else convert_block(s, static_cast<std::size_t>(nr * nc * fp), out);
    return;
  }
  for (std::int64_t i = 0; i < nr; ++i)
    for (std::int64_t j = 0; j < nc; ++j)
      convert_frame(s + i * st_r + j * st_c, st_y, st_x, det_y, det_x, out + (i * nc + j) * fp);
}

} // namespace

AxisMap parse_axis_order(const std::string& text, int rank, const std::string& where) {
  AxisMap a;
  a.rank = rank;
  if (rank == 3) {
    a.ry = 0;
    a.rx = -1;
    a.qy = 1;
    a.qx = 2;
  }
  if (text.empty()) return a;
  std::vector<std::string> t = split_tokens(text);
  const char* expect = rank == 4 ? "a permutation of ry,rx,qy,qx (e.g. rx,ry,qy,qx)"
                                 : "a permutation of n,qy,qx (e.g. n,qx,qy)";
  if (static_cast<int>(t.size()) != rank)
    fail(ErrorKind::bad_parameter, where, "read.axis_order = ", text, ": the dataset is ", rank, "-D; give ", expect);
  int ry = -1, rx = -1, qy = -1, qx = -1;
  for (int i = 0; i < rank; ++i) {
    int* slot = nullptr;
    if (t[i] == "qy") slot = &qy;
    else if (t[i] == "qx") slot = &qx;
    else if (rank == 4 && t[i] == "ry") slot = &ry;
    else if (rank == 4 && t[i] == "rx") slot = &rx;
    else if (rank == 3 && t[i] == "n") slot = &ry;
    if (!slot || *slot >= 0)
      fail(ErrorKind::bad_parameter, where, "read.axis_order = ", text, ": expected ", expect);
    *slot = i;
  }
  a.ry = ry;
  a.rx = rank == 4 ? rx : -1;
  a.qy = qy;
  a.qx = qx;
  return a;
}

std::string to_string(const AxisMap& a) {
  std::vector<std::string> names(static_cast<std::size_t>(a.rank));
  names[a.ry] = a.rank == 4 ? "ry" : "n";
  if (a.rank == 4) names[a.rx] = "rx";
  names[a.qy] = "qy";
  names[a.qx] = "qx";
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ",") + n;
  return s;
}

PixelType pixel_type_of(hid_t type, const std::string& where) {
  const H5T_class_t c = H5Tget_class(type);
  const std::size_t size = H5Tget_size(type);
  if (c == H5T_INTEGER) {
    const bool is_signed = H5Tget_sign(type) != H5T_SGN_NONE;
    switch (size) {
    case 1: return is_signed ? PixelType::i8 : PixelType::u8;
    case 2: return is_signed ? PixelType::i16 : PixelType::u16;
    case 4: return is_signed ? PixelType::i32 : PixelType::u32;
    case 8: return is_signed ? PixelType::i64 : PixelType::u64;
    default: break;
    }
  } else if (c == H5T_FLOAT) {
    if (size == 4) return PixelType::f32;
    if (size == 8) return PixelType::f64;
  }
  fail(ErrorKind::bad_input, where, "pixel type ", h5::dtype_string(type),
       " is not supported (integers of 1 to 8 bytes, float32 or float64)");
}

void check_filters_available(hid_t dset, const std::string& where) {
  h5::Handle dcpl(H5Dget_create_plist(dset));
  if (!dcpl.valid()) return;
  const int n = H5Pget_nfilters(dcpl);
  for (int i = 0; i < n; ++i) {
    unsigned flags = 0, cd[16];
    std::size_t ncd = 16;
    char name[256] = {};
    H5Z_filter_t id = H5Pget_filter2(dcpl, static_cast<unsigned>(i), &flags, &ncd, cd, sizeof name, name, nullptr);
    if (id < 0) continue;
    if (H5Zfilter_avail(id) > 0) continue;
    H5Eclear2(H5E_DEFAULT);
    auto [fname, package] = filter_name(id, name);
    fail(ErrorKind::bad_input, where, "compression filter ", id, " (", fname,
         ") is not available; install its HDF5 plugin (", package, ") or set HDF5_PLUGIN_PATH to its folder");
  }
}

std::string hdf5_error_detail() {
  std::string innermost;
  auto cb = [](unsigned n, const H5E_error2_t* e, void* data) -> herr_t {
    if (n == 0 && e && e->desc) *static_cast<std::string*>(data) = e->desc;
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, cb, &innermost);
  H5Eclear2(H5E_DEFAULT);
  for (char& c : innermost)
    if (c == '\n' || c == '\r') c = ' ';
  return innermost;
}

void describe_storage(hid_t dset, DatasetInfo& info) {
  h5::Handle type(H5Dget_type(dset));
  h5::Handle dcpl(H5Dget_create_plist(dset));
  info.dtype = h5::dtype_string(type);
  info.chunks = h5::chunk_dims(dcpl);
  info.compression = h5::compression_string(dcpl);
}

StackPart open_stack_part(hid_t file_handle, const std::string& where_file, const std::string& object,
                          const AxisMap& axes) {
  StackPart part;
  part.where = where_file + ":" + object;
  part.axes = axes;
  std::size_t elem = 0;
  {
    h5::Handle d0 = h5::open_dataset(file_handle, object, where_file);
    part.dims = h5::dataset_dims(d0);
    if (static_cast<int>(part.dims.size()) != axes.rank)
      fail(ErrorKind::bad_input, part.where, "expected a ", axes.rank, "-D dataset, found ", part.dims.size(), "-D");
    h5::Handle type(H5Dget_type(d0));
    pixel_type_of(type, part.where);
    elem = H5Tget_size(type);
    h5::Handle dcpl(H5Dget_create_plist(d0));
    part.chunks = h5::chunk_dims(dcpl);
    check_filters_available(d0, part.where);
  }
  Extents e = extents_of(part);
  part.rows = e.rows;
  part.cols = e.cols;

  // Chunk cache. Chunks holding one frame along the scan axes are each read once by a
  // frame-aligned hyperslab: no cache (unfiltered chunks then go straight into our buffer).
  // Chunks spanning several frames are touched by several reads: keep one band of them (the
  // chunks crossed by chunk_rows scan rows) so that each is read and decoded once.
  std::size_t cache_bytes = 0, cache_chunks = 0;
  if (!part.chunks.empty() && (e.chunk_rows > 1 || e.chunk_cols > 1)) {
    std::size_t chunk_bytes = elem;
    std::size_t per_band = 1;
    for (int s = 0; s < axes.rank; ++s) {
      chunk_bytes *= static_cast<std::size_t>(part.chunks[s]);
      if (s != axes.ry) per_band *= static_cast<std::size_t>((part.dims[s] + part.chunks[s] - 1) / part.chunks[s]);
    }
    cache_chunks = per_band + 1;
    cache_bytes = cache_chunks * chunk_bytes;
    if (cache_bytes > kMaxChunkCache) {
      part.note = detail::cat(part.where, ": chunks ", chunk_bytes, " bytes each span several frames and one band of them (",
                              cache_bytes >> 20, " MiB) exceeds the chunk cache of ", kMaxChunkCache >> 20,
                              " MiB, so chunks are decoded more than once; rechunk with one frame per chunk for speed");
      cache_bytes = kMaxChunkCache;
      cache_chunks = std::max<std::size_t>(1, kMaxChunkCache / std::max<std::size_t>(chunk_bytes, 1));
    }
  }
  h5::Handle dapl(H5Pcreate(H5P_DATASET_ACCESS));
  H5Pset_chunk_cache(dapl, next_prime(std::max<std::size_t>(521, cache_chunks * 20)), cache_bytes, 1.0);
  hid_t d = H5Dopen2(file_handle, object.c_str(), dapl);
  if (d < 0) fail(ErrorKind::bad_input, part.where, "cannot open dataset: ", hdf5_error_detail());
  part.dset = h5::Handle(d);
  part.space = h5::Handle(H5Dget_space(part.dset));
  return part;
}

H5StackSource::H5StackSource(DatasetInfo info, std::vector<StackPart> parts, bool nan_to_zero)
    : parts_(std::move(parts)), nan_to_zero_(nan_to_zero) {
  info_ = std::move(info);
  if (parts_.empty()) fail(ErrorKind::internal, info_.path, "no datasets to read");
  const Shape4& s = info_.shape;
  {
    h5::Handle t(H5Dget_type(parts_[0].dset));
    type_ = pixel_type_of(t, parts_[0].where);
  }
  mem_type_ = native_type(type_);
  bool standard = true;
  std::int64_t next = 0;
  for (StackPart& p : parts_) {
    h5::Handle t(H5Dget_type(p.dset));
    if (pixel_type_of(t, p.where) != type_)
      fail(ErrorKind::bad_input, p.where, "pixel type ", h5::dtype_string(t), " differs from ", info_.dtype,
           " of the first data set");
    Extents e = extents_of(p);
    if (e.det_y != s.det_y || e.det_x != s.det_x)
      fail(ErrorKind::bad_input, p.where, "frames are ", e.det_y, "x", e.det_x, ", expected ", s.det_y, "x", s.det_x);
    if (p.first != next) fail(ErrorKind::internal, p.where, "parts out of order");
    next += p.rows * p.cols;
    standard = standard && p.axes.standard();
    if (!p.note.empty()) info_.notes.push_back(p.note);
  }
  stored_frames_ = next;
  if (info_.frames_present == 0) info_.frames_present = std::min(stored_frames_, s.n_frames());

  // float32 stored in domainmap's order needs no conversion: straight into the caller's buffer.
  direct_ = standard && type_ == PixelType::f32;
  const std::size_t frame_bytes = static_cast<std::size_t>(s.frame_pixels()) * pixel_bytes(type_);
  piece_frames_ = direct_ ? std::numeric_limits<std::int64_t>::max()
                          : std::max<std::int64_t>(1, static_cast<std::int64_t>(kScratchBytes / std::max<std::size_t>(frame_bytes, 1)));
  if (!direct_) {
    std::int64_t max_piece = std::min(piece_frames_, stored_frames_);
    // a frame axis chunked coarser than the piece: still read at least one frame per piece
    scratch_.resize(static_cast<std::size_t>(std::max<std::int64_t>(max_piece, 1)) * frame_bytes);
  }

  // Alignment: blocks of whole chunk bands along the scan (4D), or of whole chunks along n (3D).
  Extents e = extents_of(parts_[0]);
  if (e.chunk_rows > 1 && parts_[0].axes.rank == 4) alignment_ = e.chunk_rows * e.cols;
  else if (e.chunk_rows > 1) alignment_ = e.chunk_rows;
  else if (e.chunk_cols > 1) alignment_ = (e.cols % e.chunk_cols == 0) ? e.chunk_cols : e.cols;
  else alignment_ = 1;
  mem_space_ = h5::Handle(H5Screate(H5S_SIMPLE));
}

void H5StackSource::read_frames(std::int64_t first, std::int64_t count, float* out) {
  h5::silence_hdf5();  // this may run on BlockStream's reader thread
  const Shape4& s = info_.shape;
  if (first < 0 || count < 0 || first + count > s.n_frames())
    fail(ErrorKind::internal, info_.path, "frames ", first, "..", first + count - 1, " outside the ", s.n_frames(),
         " frames of the scan");
  const std::int64_t fp = s.frame_pixels();
  const std::int64_t end = first + count;
  std::int64_t k = first;
  std::size_t pi = 0;
  streaming_ = static_cast<std::size_t>(count * fp) * sizeof(float) >= kStreamingStoreBytes;
  while (k < end) {
    if (k >= stored_frames_) {
      std::fill(out + (k - first) * fp, out + count * fp, 0.0f);
      break;
    }
    while (parts_[pi].first + parts_[pi].rows * parts_[pi].cols <= k) ++pi;
    StackPart& part = parts_[pi];
    const std::int64_t part_end = std::min(end, part.first + part.rows * part.cols);
    read_part(part, k - part.first, part_end - k, out + (k - first) * fp);
    k = part_end;
  }
#if defined(__SSE2__)
  if (streaming_) _mm_sfence();  // streaming stores visible before the block is handed over
#endif
  if (type_ == PixelType::f32 || type_ == PixelType::f64)
    replaced_ += check_finite(out, static_cast<std::size_t>(count * fp), nan_to_zero_,
                              info_.object.empty() ? info_.path : info_.path + ":" + info_.object, first, fp);
  if (!zeroed_.empty())
    for (std::int64_t f = 0; f < count; ++f) {
      float* fr = out + f * fp;
      for (std::int64_t idx : zeroed_) fr[idx] = 0.0f;
    }
}

// Frames [a, a + n) of a part (part-local raster order): a partial first row, whole rows, a
// partial last row.
void H5StackSource::read_part(StackPart& part, std::int64_t a, std::int64_t n, float* out) {
  const std::int64_t fp = info_.shape.frame_pixels();
  const std::int64_t cols = part.cols;
  std::int64_t k = a;
  const std::int64_t end = a + n;
  if (k % cols != 0) {
    const std::int64_t m = std::min(end - k, cols - k % cols);
    read_rect(part, k / cols, 1, k % cols, m, out);
    out += m * fp;
    k += m;
  }
  if (end - k >= cols) {
    const std::int64_t rows = (end - k) / cols;
    read_rect(part, k / cols, rows, 0, cols, out);
    out += rows * cols * fp;
    k += rows * cols;
  }
  if (k < end) read_rect(part, k / cols, 1, 0, end - k, out);
}

// Rows [r0, r0 + nr) x columns [c0, c0 + nc) (nr > 1 only with whole rows), split into pieces
// that fit the scratch buffer, cut on chunk boundaries where possible.
void H5StackSource::read_rect(StackPart& part, std::int64_t r0, std::int64_t nr, std::int64_t c0, std::int64_t nc,
                              float* out) {
  const std::int64_t fp = info_.shape.frame_pixels();
  const std::int64_t P = piece_frames_;
  if (nr * nc <= P) {
    read_slab(part, r0, nr, c0, nc, out);
    return;
  }
  Extents e = extents_of(part);
  if (nc <= P) {
    std::int64_t step = std::max<std::int64_t>(1, P / nc);
    if (e.chunk_rows > 1 && step >= e.chunk_rows) step = step / e.chunk_rows * e.chunk_rows;
    for (std::int64_t r = r0; r < r0 + nr; r += step) {
      const std::int64_t m = std::min(step, r0 + nr - r);
      read_slab(part, r, m, c0, nc, out + (r - r0) * nc * fp);
    }
    return;
  }
  std::int64_t step = P;
  if (e.chunk_cols > 1 && step >= e.chunk_cols) step = step / e.chunk_cols * e.chunk_cols;
  for (std::int64_t r = r0; r < r0 + nr; ++r)
    for (std::int64_t c = c0; c < c0 + nc; c += step) {
      const std::int64_t m = std::min(step, c0 + nc - c);
      read_slab(part, r, 1, c, m, out + ((r - r0) * nc + (c - c0)) * fp);
    }
}

void H5StackSource::read_slab(StackPart& part, std::int64_t r0, std::int64_t nr, std::int64_t c0, std::int64_t nc,
                              float* out) {
  const int rank = part.axes.rank;
  hsize_t start[4] = {0, 0, 0, 0}, cnt[4] = {0, 0, 0, 0};
  for (int s = 0; s < rank; ++s) cnt[s] = static_cast<hsize_t>(part.dims[s]);
  start[part.axes.ry] = static_cast<hsize_t>(r0);
  cnt[part.axes.ry] = static_cast<hsize_t>(nr);
  if (rank == 4) {
    start[part.axes.rx] = static_cast<hsize_t>(c0);
    cnt[part.axes.rx] = static_cast<hsize_t>(nc);
  }
  const std::int64_t det_y = info_.shape.det_y, det_x = info_.shape.det_x;
  // The memory space has the shape of the file selection: HDF5 then maps whole chunks at once
  // (a 1-D memory space makes it walk the selection element by element, ~50x slower).
  if (H5Sselect_hyperslab(part.space, H5S_SELECT_SET, start, nullptr, cnt, nullptr) < 0 ||
      H5Sset_extent_simple(mem_space_, rank, cnt, nullptr) < 0)
    fail(ErrorKind::internal, part.where, "cannot select frames: ", hdf5_error_detail());
  const bool direct = direct_ && part.axes.standard();
  void* dst = direct ? static_cast<void*>(out) : static_cast<void*>(scratch_.data());
  if (H5Dread(part.dset, direct ? H5T_NATIVE_FLOAT : mem_type_, mem_space_, part.space, H5P_DEFAULT, dst) < 0) {
    const std::int64_t f0 = part.first + r0 * part.cols + c0;
    std::string why = hdf5_error_detail();
    fail(ErrorKind::bad_input, part.where, "cannot read frame", nr * nc > 1 ? "s " : " ", f0,
         nr * nc > 1 ? detail::cat("..", f0 + (nr - 1) * part.cols + nc - 1) : std::string(),
         " (truncated or corrupt file?)", why.empty() ? "" : ": " + why);
  }
  if (direct) return;

  // element strides of the slab as stored (C order over cnt[])
  std::int64_t stride[4] = {1, 1, 1, 1};
  for (int s = rank - 2; s >= 0; --s) stride[s] = stride[s + 1] * static_cast<std::int64_t>(cnt[s + 1]);
  const std::int64_t st_r = stride[part.axes.ry];
  const std::int64_t st_c = rank == 4 ? stride[part.axes.rx] : 0;
  const std::int64_t st_y = stride[part.axes.qy], st_x = stride[part.axes.qx];
  const bool contiguous = part.axes.standard();
  const unsigned char* sc = scratch_.data();
  switch (type_) {
  case PixelType::u8: scatter_slab<std::uint8_t>(sc, contiguous, streaming_, nr, nc, st_r, st_c, st_y, st_x, det_y, det_x, out); break;
  case PixelType::u16: scatter_slab<std::uint16_t>(sc, contiguous, streaming_, nr, nc, st_r, st_c, st_y, st_x, det_y, det_x, out); break;
  case PixelType::u32: scatter_slab<std::uint32_t>(sc, contiguous, streaming_, nr, nc, st_r, st_c, st_y, st_x, det_y, det_x, out); break;
  case PixelType::u64: scatter_slab<std::uint64_t>(sc, contiguous, streaming_, nr, nc, st_r, st_c, st_y, st_x, det_y, det_x, out); break;
  case PixelType::i8: scatter_slab<std::int8_t>(sc, contiguous, streaming_, nr, nc, st_r, st_c, st_y, st_x, det_y, det_x, out); break;
  case PixelType::i16: scatter_slab<std::int16_t>(sc, contiguous, streaming_, nr, nc, st_r, st_c, st_y, st_x, det_y, det_x, out); break;
  case PixelType::i32: scatter_slab<std::int32_t>(sc, contiguous, streaming_, nr, nc, st_r, st_c, st_y, st_x, det_y, det_x, out); break;
  case PixelType::i64: scatter_slab<std::int64_t>(sc, contiguous, streaming_, nr, nc, st_r, st_c, st_y, st_x, det_y, det_x, out); break;
  case PixelType::f32: scatter_slab<float>(sc, contiguous, streaming_, nr, nc, st_r, st_c, st_y, st_x, det_y, det_x, out); break;
  case PixelType::f64: scatter_slab<double>(sc, contiguous, streaming_, nr, nc, st_r, st_c, st_y, st_x, det_y, det_x, out); break;
  }
}

} // namespace domainmap::io
