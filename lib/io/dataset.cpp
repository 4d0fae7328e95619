// lib/io/dataset.cpp: the `read` stage's parameters, reader selection, block streaming,
// random access and streamed statistics.
#include "domainmap/dataset.hpp"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <thread>

#include "../core/h5util.hpp"
#include "domainmap/error.hpp"
#include "readers.hpp"

namespace domainmap {

void describe(ReadParams& p, ParamSink& s) {
  param(s, "format", p.format, "reader: auto (from the file's content) or a format name",
        {"auto", "emd", "hdf5", "dectris", "merlin", "blockfile", "empad", "raw"});
  param(s, "dataset", p.dataset, "HDF5 dataset path for generic HDF5 files (or write FILE.h5:/path)");
  param(s, "scan_shape", p.scan_shape,
        "scan rows x columns (e.g. 256x256); 0x0 = from the file's metadata");
  param(s, "axis_order", p.axis_order,
        "stored axis order of a generic HDF5 dataset, e.g. ry,rx,qy,qx (4D default) or n,qy,qx (3D default)");
  param(s, "apply_mask", p.apply_mask, "set pixels the file flags bad (Dectris pixel_mask) to 0");
  param(s, "nan_to_zero", p.nan_to_zero, "replace NaN/Inf pixels by 0 and report the count (otherwise an error)");
  param(s, "raw_detector_shape", p.raw_detector_shape, "raw files: detector rows x columns of a stored frame");
  param(s, "raw_dtype", p.raw_dtype, "raw files: pixel type",
        {"uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "float32", "float64"});
  param(s, "raw_endian", p.raw_endian, "raw files: byte order", {"little", "big"});
  param(s, "raw_file_header", p.raw_file_header, "raw files: bytes skipped at the start of the file", 0, 1e15, "bytes");
  param(s, "raw_frame_header", p.raw_frame_header, "raw files: bytes before every frame", 0, 1e12, "bytes");
  param(s, "raw_frame_footer", p.raw_frame_footer, "raw files: bytes after every frame", 0, 1e12, "bytes");
  param(s, "raw_allow_trailing", p.raw_allow_trailing, "raw files: accept bytes after the last frame");
  param(s, "raw_frame_offset", p.raw_frame_offset, "raw files: frames to skip at the start", 0, 1e15, "frames");
  param(s, "merlin_scan_from_timestamps", p.merlin_scan_from_timestamps,
        "Merlin: infer the scan width from flyback gaps in the frame times if nothing else gives it");
  param(s, "pad_missing", p.pad_missing,
        "interrupted acquisitions: keep the scan shape and read missing frames as 0 (default: keep the complete rows)");
}

namespace {

bool starts_with_bytes(const std::string& path, const char* magic, std::size_t n) {
  std::ifstream f(path, std::ios::binary);
  std::string buf(n, '\0');
  if (!f.read(buf.data(), static_cast<std::streamsize>(n))) return false;
  return std::memcmp(buf.data(), magic, n) == 0;
}

std::string lower_ext(const std::string& path) {
  std::string e = std::filesystem::path(path).extension().string();
  for (char& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return e;
}

// Splits "file.h5:/entry/data" into file and object. A ':' counts only if the part before it
// names an existing file and the part after starts with '/'.
std::pair<std::string, std::string> split_spec(const std::string& spec) {
  std::error_code ec;
  if (std::filesystem::exists(spec, ec)) return {spec, ""};
  std::size_t pos = spec.rfind(":/");
  while (pos != std::string::npos && pos > 0) {
    std::string file = spec.substr(0, pos);
    if (std::filesystem::exists(file, ec)) return {file, spec.substr(pos + 1)};
    pos = spec.rfind(":/", pos - 1);
  }
  return {spec, ""};
}

// True if an .xml in the same folder names `path` as its EMPAD raw_file (looks at up to 200 .xml files).
bool empad_xml_beside(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path raw(path);
  const fs::path dir = raw.has_parent_path() ? raw.parent_path() : fs::path(".");
  const std::string name = raw.filename().string();
  int seen = 0;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end && seen < 200; it.increment(ec)) {
    if (lower_ext(it->path().string()) != ".xml") continue;
    ++seen;
    std::ifstream f(it->path());
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::size_t pos = text.find("raw_file");
    if (pos != std::string::npos && text.find(name, pos) != std::string::npos) return true;
  }
  return false;
}

} // namespace

std::string detect_format(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail(ErrorKind::bad_input, path, "no such file");
  if (std::filesystem::is_directory(path, ec)) fail(ErrorKind::bad_input, path, "is a directory, not a file");
  {
    std::ifstream f(path, std::ios::binary);
    if (!f) fail(ErrorKind::bad_input, path, "cannot open file for reading");
  }
  if (h5::is_hdf5_file(path)) return io::detect_hdf5_flavour(path);
  if (starts_with_bytes(path, "MQ1,", 4)) return "merlin";
  if (starts_with_bytes(path, "IMGBLO", 6)) return "blockfile";
  const std::string ext = lower_ext(path);
  if (ext == ".hdr") {
    std::ifstream f(path);
    std::string first;
    std::getline(f, first);
    if (first.rfind("HDR", 0) == 0) return "merlin";
  }
  if (ext == ".xml") {
    std::ifstream f(path);
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (text.find("raw_file") != std::string::npos) return "empad";
  }
  if (ext == ".raw" && empad_xml_beside(path)) return "empad";
  if (ext == ".mib") return "merlin";
  if (ext == ".blo") return "blockfile";
  return "raw";
}

std::unique_ptr<FrameSource> open_dataset(const std::string& spec, const ReadParams& p) {
  auto [path, object] = split_spec(spec);
  if (!p.dataset.empty()) object = p.dataset;
  std::string format = p.format;
  if (format == "auto") {
    format = detect_format(path);
    if (format == "raw" && p.raw_detector_shape.empty())
      fail(ErrorKind::bad_input, path,
           "format not recognised (not HDF5, Merlin, blockfile or EMPAD); for raw binary give "
           "--read.format raw --read.raw_detector_shape YxX --read.raw_dtype T --read.scan_shape YxX");
    // an explicit dataset path in a Dectris master is read as that (generic HDF5) dataset
    if (format == "dectris" && !object.empty()) format = "hdf5";
    if (format != "hdf5" && format != "emd" && !object.empty())
      fail(ErrorKind::bad_parameter, path, "a dataset path (", object, ") is only meaningful for HDF5 files");
  }
  std::unique_ptr<FrameSource> src;
  if (format == "emd") src = io::open_emd(path, object, p);
  else if (format == "hdf5") src = io::open_hdf5(path, object, p);
  else if (format == "dectris") src = io::open_dectris(path, p);
  else if (format == "merlin") src = io::open_merlin(path, p);
  else if (format == "blockfile") src = io::open_blockfile(path, p);
  else if (format == "empad") src = io::open_empad(path, p);
  else if (format == "raw") src = io::open_raw(path, p);
  else fail(ErrorKind::bad_parameter, "", "read.format = ", format, ": unknown reader");
  const Shape4& s = src->shape();
  if (s.scan_y <= 0 || s.scan_x <= 0 || s.det_y <= 0 || s.det_x <= 0)
    fail(ErrorKind::bad_input, path, "empty dataset (shape ", s.scan_y, "x", s.scan_x, "x", s.det_y, "x",
         s.det_x, ")");
  return src;
}

std::int64_t block_frames_for_budget(const Shape4& shape, std::size_t memory_budget, std::int64_t alignment) {
  const std::uint64_t frame_bytes = static_cast<std::uint64_t>(shape.frame_pixels()) * sizeof(float);
  // Two buffers of at most half the budget each, and no bigger than kMaxBlockBytes: larger
  // blocks gain nothing in read speed but cost their setup (page faults) on every stream.
  constexpr std::uint64_t kMaxBlockBytes = std::uint64_t(16) << 20;
  const std::uint64_t half = memory_budget / 2;
  if (frame_bytes == 0) return 1;
  if (frame_bytes > half)
    fail(ErrorKind::bad_parameter, "", "memory budget of ", memory_budget, " bytes is too small for one pattern of ",
         frame_bytes, " bytes (float32, two buffers)");
  std::int64_t frames = static_cast<std::int64_t>(std::min(half, std::max(kMaxBlockBytes, frame_bytes)) / frame_bytes);
  frames = std::min(frames, shape.n_frames());
  if (shape.scan_x > 0 && frames >= shape.scan_x) frames = (frames / shape.scan_x) * shape.scan_x; // whole rows
  if (alignment > 1 && frames >= alignment) frames = (frames / alignment) * alignment;
  return std::max<std::int64_t>(frames, 1);
}

struct BlockStream::Impl {
  FrameSource& src;
  std::int64_t per_block;
  std::int64_t total;
  std::int64_t frame_pixels;
  bool prefetch;
  std::unique_ptr<float[]> buf[2];  // not zero-initialised: every block is written by the reader first
  // Block k lives in buf[k % 2]. The reader thread fills block `filled` while the caller uses
  // `served - 1`.
  std::int64_t next_to_serve = 0;
  std::int64_t n_blocks = 0;
  std::mutex m;
  std::condition_variable cv;
  std::int64_t ready_block = -1;   // highest block index read
  std::int64_t released = -1;      // highest block index the caller is done with
  std::exception_ptr error;
  bool stop = false;
  std::thread worker;

  Impl(FrameSource& s, std::int64_t pb, bool pf)
      : src(s), per_block(pb), total(s.shape().n_frames()), frame_pixels(s.shape().frame_pixels()), prefetch(pf) {
    n_blocks = (total + per_block - 1) / per_block;
    std::size_t n = static_cast<std::size_t>(std::min(per_block, total) * frame_pixels);
    buf[0].reset(new float[n]);
    if (prefetch && n_blocks > 1) buf[1].reset(new float[n]);
    if (prefetch && n_blocks > 0) worker = std::thread([this] { run(); });
  }
  ~Impl() {
    {
      std::lock_guard<std::mutex> lk(m);
      stop = true;
    }
    cv.notify_all();
    if (worker.joinable()) worker.join();
  }
  std::int64_t count_of(std::int64_t k) const { return std::min(per_block, total - k * per_block); }
  float* buffer_of(std::int64_t k) { return buf[(prefetch && n_blocks > 1) ? k % 2 : 0].get(); }
  void read_block(std::int64_t k) { src.read_frames(k * per_block, count_of(k), buffer_of(k)); }
  void run() {
    for (std::int64_t k = 0; k < n_blocks; ++k) {
      {
        std::unique_lock<std::mutex> lk(m);
        // buffer k%2 is free once the caller has released block k-2
        cv.wait(lk, [&] { return stop || released >= k - 2; });
        if (stop) return;
      }
      try {
        read_block(k);
      } catch (...) {
        std::lock_guard<std::mutex> lk(m);
        error = std::current_exception();
        ready_block = k;
        cv.notify_all();
        return;
      }
      {
        std::lock_guard<std::mutex> lk(m);
        ready_block = k;
      }
      cv.notify_all();
    }
  }
};

BlockStream::BlockStream(FrameSource& src, std::size_t memory_budget, bool prefetch) {
  frames_per_block_ = block_frames_for_budget(src.shape(), memory_budget, src.frame_alignment());
  impl_ = std::make_unique<Impl>(src, frames_per_block_, prefetch);
}

BlockStream::~BlockStream() = default;

std::int64_t BlockStream::n_blocks() const { return impl_->n_blocks; }

bool BlockStream::next(FrameBlock& block) {
  Impl& d = *impl_;
  const std::int64_t k = d.next_to_serve;
  if (k >= d.n_blocks) {
    std::lock_guard<std::mutex> lk(d.m);
    d.released = k - 1;
    d.cv.notify_all();
    return false;
  }
  if (d.prefetch) {
    std::unique_lock<std::mutex> lk(d.m);
    d.released = k - 1; // the caller is done with the previous block
    d.cv.notify_all();
    d.cv.wait(lk, [&] { return d.ready_block >= k; });
    if (d.error) std::rethrow_exception(d.error);
  } else {
    d.read_block(k);
  }
  block.first_frame = k * d.per_block;
  block.n_frames = d.count_of(k);
  block.frame_pixels = d.frame_pixels;
  block.data = d.buffer_of(k);
  d.next_to_serve = k + 1;
  return true;
}

std::vector<float> read_pattern(FrameSource& src, std::int64_t ry, std::int64_t rx) {
  const Shape4& s = src.shape();
  if (ry < 0 || rx < 0 || ry >= s.scan_y || rx >= s.scan_x)
    fail(ErrorKind::bad_parameter, src.info().path, "scan position (", ry, ",", rx, ") outside the scan of ", s.scan_y,
         "x", s.scan_x);
  std::vector<float> out(static_cast<std::size_t>(s.frame_pixels()));
  src.read_frames(ry * s.scan_x + rx, 1, out.data());
  return out;
}

DatasetStats compute_stats(FrameSource& src, RunContext& ctx) {
  DatasetStats st;
  st.min = std::numeric_limits<double>::infinity();
  st.max = -std::numeric_limits<double>::infinity();
  BlockStream stream(src, ctx.memory_budget);
  FrameBlock b;
  const std::int64_t total = src.shape().n_frames();
  std::int64_t done = 0;
  while (stream.next(b)) {
    check_cancel(ctx);
    for (std::int64_t i = 0; i < b.n_frames; ++i) {
      const float* f = b.frame(i);
      double fs = 0;
      for (std::int64_t j = 0; j < b.frame_pixels; ++j) {
        const float v = f[j];
        if (std::isnan(v)) { ++st.n_nan; continue; }
        if (std::isinf(v)) { ++st.n_inf; continue; }
        fs += v;
        st.min = std::min<double>(st.min, v);
        st.max = std::max<double>(st.max, v);
      }
      st.sum += fs;
      if (fs == 0) ++st.n_zero_frames;
      const std::int64_t k = b.first_frame + i;
      if (k == 0) st.first_frame_sum = fs;
      if (k == total - 1) st.last_frame_sum = fs;
    }
    done += b.n_frames;
    ctx.report("stats", done, total);
  }
  const double n = static_cast<double>(total) * static_cast<double>(src.shape().frame_pixels());
  st.mean = n > 0 ? st.sum / n : 0;
  if (!std::isfinite(st.min)) st.min = st.max = 0;
  return st;
}

} // namespace domainmap
