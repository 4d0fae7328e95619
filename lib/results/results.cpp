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
#include "results_io.hpp"
#include "network_io.hpp"
#include "percolation_io.hpp"
#include "../core/clock.hpp"
#include "domainmap/error.hpp"
#include "domainmap/version.hpp"
#include "domainmap/write.hpp"

namespace domainmap {

namespace detail {

void require_results_file(hid_t f, const std::string& path) {
  if (!h5::has_attr(f, "format_version"))
    fail(ErrorKind::bad_input, path, "not a domainmap results file (no format_version attribute)");
  const auto v = h5::read_number_attr(f, "format_version");
  if (!v || *v != kResultsFormatVersion)
    fail(ErrorKind::bad_input, path, "results format_version ", v ? *v : -1, " is not supported (this build reads ",
         kResultsFormatVersion, ")");
}

h5::Handle open_results_file(const std::string& path) {
  h5::Handle f = h5::open_file_read(path);
  require_results_file(f, path);
  return f;
}

Shape2 read_shape_attr(hid_t obj, const char* name, const std::string& where) {
  const std::vector<double> v = h5::read_numbers_attr(obj, name);
  if (v.size() != 2) fail(ErrorKind::bad_input, where, "missing attribute ", name);
  return {static_cast<std::int64_t>(v[0]), static_cast<std::int64_t>(v[1])};
}

} // namespace detail

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

// ---- 1-D datasets written and read in pieces ----

// An empty 1-D dataset that grows without limit, chunked by `chunk` elements.
h5::Handle create_extendible(hid_t loc, const char* name, hid_t type, std::int64_t chunk, const std::string& where) {
  hsize_t dims = 0, maxd = H5S_UNLIMITED, ch = static_cast<hsize_t>(std::max<std::int64_t>(1, chunk));
  h5::Handle space = h5::check(H5Screate_simple(1, &dims, &maxd), where, "cannot create a dataspace");
  h5::Handle dcpl = h5::check(H5Pcreate(H5P_DATASET_CREATE), where, "cannot create a property list");
  h5::check(H5Pset_chunk(dcpl, 1, &ch), where, "cannot set the chunk size");
  h5::unlink_if_exists(loc, name);
  return h5::check(H5Dcreate2(loc, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), where,
                   std::string("cannot create ") + name);
}

// Appends n elements at index `at` (the dataset's current size).
void append_1d(hid_t ds, hid_t memtype, std::uint64_t at, std::size_t n, const void* data, const std::string& where) {
  if (n == 0) return;
  const hsize_t size = at + n, start = at, count = n;
  h5::check(H5Dset_extent(ds, &size), where, "cannot extend the dataset (disk full?)");
  h5::Handle fs = h5::check(H5Dget_space(ds), where, "cannot get the dataspace");
  h5::check(H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, nullptr, &count, nullptr), where, "cannot select");
  h5::Handle ms = h5::check(H5Screate_simple(1, &count, nullptr), where, "cannot create a dataspace");
  h5::check(H5Dwrite(ds, memtype, ms, fs, H5P_DEFAULT, data), where, "cannot write (disk full?)");
}

// Reads elements [at, at + n).
void read_1d(hid_t ds, hid_t memtype, std::uint64_t at, std::size_t n, void* out, const std::string& where) {
  if (n == 0) return;
  const hsize_t start = at, count = n;
  h5::Handle fs = h5::check(H5Dget_space(ds), where, "cannot get the dataspace");
  h5::check(H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, nullptr, &count, nullptr), where, "cannot select");
  h5::Handle ms = h5::check(H5Screate_simple(1, &count, nullptr), where, "cannot create a dataspace");
  h5::check(H5Dread(ds, memtype, ms, fs, H5P_DEFAULT, out), where, "cannot read (file truncated or corrupt?)", ErrorKind::bad_input);
}

std::int64_t length_of(hid_t loc, const char* name, const std::string& where) {
  h5::Handle d = h5::open_dataset(loc, name, where);
  const auto dims = h5::dataset_dims(d);
  if (dims.size() != 1) fail(ErrorKind::bad_input, where + "/" + name, "expected a 1-D array");
  return dims[0];
}

Shape2 shape_attr(hid_t obj, const char* name, const std::string& where) { return detail::read_shape_attr(obj, name, where); }

// The raw peaks of a results file's /peaks, read in chunks of positions. The datasets are
// opened for each pass and closed after it, so nothing stays open between passes.
class H5PeakChunks : public PeakChunkSource {
public:
  H5PeakChunks(hid_t file, h5::Handle owned, const std::string& path, std::size_t chunk_bytes)
      : file_(file), owned_(std::move(owned)), where_(path + ":/peaks") {
    max_peaks_ = std::max<std::size_t>(1, chunk_bytes / (3 * sizeof(float)));
    h5::Handle g = h5::open_group(file_, "/peaks", path);
    scan_ = shape_attr(g, "scan_shape", where_);
    detector_ = shape_attr(g, "detector_shape", where_);
    {
      h5::Handle d = h5::open_dataset(g, "offsets", where_);
      const std::vector<std::int64_t> v = h5::read_ints(d, where_ + "/offsets");
      offsets_.assign(v.begin(), v.end());
    }
    n_ = static_cast<std::uint64_t>(length_of(g, "qy_raw", where_));
    bool ok = scan_.y > 0 && scan_.x > 0 && offsets_.size() == static_cast<std::size_t>(scan_.y * scan_.x + 1) &&
              length_of(g, "qx_raw", where_) == static_cast<std::int64_t>(n_) &&
              length_of(g, "intensity", where_) == static_cast<std::int64_t>(n_) && offsets_.front() == 0 &&
              offsets_.back() == n_;
    for (std::size_t i = 1; ok && i < offsets_.size(); ++i) ok = offsets_[i] >= offsets_[i - 1];
    if (!ok) fail(ErrorKind::bad_input, where_, "inconsistent peak arrays (offsets do not match the peaks)");
  }
  Shape2 scan() const override { return scan_; }
  Shape2 detector() const override { return detector_; }
  std::uint64_t n_peaks() const override { return n_; }
  void for_each(const std::function<void(const PeakChunk&)>& fn) override {
    h5::Handle g = h5::open_group(file_, "/peaks", where_);
    h5::Handle dy = h5::open_dataset(g, "qy_raw", where_), dx = h5::open_dataset(g, "qx_raw", where_),
               di = h5::open_dataset(g, "intensity", where_);
    const auto n_pos = static_cast<std::int64_t>(offsets_.size() - 1);
    for (std::int64_t first = 0; first < n_pos;) {
      std::int64_t end = first + 1;
      while (end < n_pos && offsets_[static_cast<std::size_t>(end + 1)] - offsets_[static_cast<std::size_t>(first)] <= max_peaks_)
        ++end;
      const std::uint64_t p0 = offsets_[static_cast<std::size_t>(first)];
      const auto n = static_cast<std::size_t>(offsets_[static_cast<std::size_t>(end)] - p0);
      qy_.resize(n);
      qx_.resize(n);
      in_.resize(n);
      read_1d(dy, H5T_NATIVE_FLOAT, p0, n, qy_.data(), where_ + "/qy_raw");
      read_1d(dx, H5T_NATIVE_FLOAT, p0, n, qx_.data(), where_ + "/qx_raw");
      read_1d(di, H5T_NATIVE_FLOAT, p0, n, in_.data(), where_ + "/intensity");
      PeakChunk c;
      c.first_position = first;
      c.n_positions = end - first;
      c.offsets = offsets_.data() + first;
      c.qy_raw = qy_.data();
      c.qx_raw = qx_.data();
      c.intensity = in_.data();
      fn(c);
      first = end;
    }
  }

private:
  hid_t file_;
  h5::Handle owned_;
  std::string where_;
  std::size_t max_peaks_ = 1;
  Shape2 scan_, detector_;
  std::vector<std::uint64_t> offsets_;
  std::uint64_t n_ = 0;
  std::vector<float> qy_, qx_, in_;
};

} // namespace

struct ResultsWriter::Impl {
  h5::Handle tmp;                 // the new file
  h5::Handle orig;                // the existing file (read-only), or invalid
  std::set<std::string> cleared;  // groups not to copy from orig
  std::set<std::string> written;  // top-level objects already in tmp
  std::map<std::string, std::string> config;  // merged /config
  std::set<std::string> config_stages;        // stages whose /config entries this transaction set
  bool header_written = false;
  // streamed /peaks (begin_peaks .. end_peaks)
  struct PeakAppend {
    bool open = false;
    h5::Handle off, qy, qx, in;
    Shape2 scan;
    std::int64_t positions_done = 0;
    std::uint64_t n_peaks = 0;
  } pa;
  // streamed /peaks/qy, /peaks/qx (begin_corrected .. write_origin)
  struct CorrectedAppend {
    bool open = false;
    h5::Handle qy, qx;
    std::uint64_t next = 0, n = 0;
  } ca;

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
    detail::require_results_file(impl_->orig, path);
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
  if (h.input_q_pixel_inv_A > 0) h5::write_double_attr(scan, "input_q_pixel_inv_A", h.input_q_pixel_inv_A);
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
  begin_peaks(peaks.scan, peaks.detector, n);
  PeakListChunks chunks(peaks);
  chunks.for_each([&](const PeakChunk& c) { append_peaks(c); });
  end_peaks();
  if (!peaks.qy.empty()) {
    Impl& d = *impl_;
    h5::Handle g = h5::open_group(d.tmp, "/peaks", path_);
    const auto chunk = std::clamp<std::int64_t>(static_cast<std::int64_t>(n), 1, kPeakChunkElements);
    h5::Handle qy = create_extendible(g, "qy", H5T_NATIVE_FLOAT, chunk, path_ + ":/peaks/qy");
    h5::Handle qx = create_extendible(g, "qx", H5T_NATIVE_FLOAT, chunk, path_ + ":/peaks/qx");
    append_1d(qy, H5T_NATIVE_FLOAT, 0, n, peaks.qy.data(), path_ + ":/peaks/qy");
    append_1d(qx, H5T_NATIVE_FLOAT, 0, n, peaks.qx.data(), path_ + ":/peaks/qx");
  }
}

void ResultsWriter::begin_peaks(Shape2 scan, Shape2 detector, std::uint64_t expected_peaks) {
  Impl& d = *impl_;
  if (d.pa.open || d.ca.open) fail(ErrorKind::internal, path_, "begin_peaks: peaks or corrected vectors already being written");
  if (scan.y < 0 || scan.x < 0) fail(ErrorKind::internal, path_, "begin_peaks: scan ", to_string(scan));
  clear_from("peaks");
  h5::Handle g = h5::require_group(d.tmp, "/peaks", path_);
  d.written.insert("peaks");
  const std::string where = path_ + ":/peaks";
  const std::int64_t positions = scan.y * scan.x;
  d.pa = Impl::PeakAppend{};
  d.pa.off = create_extendible(g, "offsets", H5T_NATIVE_UINT64, std::clamp<std::int64_t>(positions + 1, 1, kPeakChunkElements),
                               where + "/offsets");
  const std::int64_t chunk =
      expected_peaks > 0 ? std::clamp<std::int64_t>(static_cast<std::int64_t>(expected_peaks), 1, kPeakChunkElements)
                         : kPeakChunkElements;
  d.pa.qy = create_extendible(g, "qy_raw", H5T_NATIVE_FLOAT, chunk, where + "/qy_raw");
  d.pa.qx = create_extendible(g, "qx_raw", H5T_NATIVE_FLOAT, chunk, where + "/qx_raw");
  d.pa.in = create_extendible(g, "intensity", H5T_NATIVE_FLOAT, chunk, where + "/intensity");
  const std::uint64_t zero = 0;
  append_1d(d.pa.off, H5T_NATIVE_UINT64, 0, 1, &zero, where + "/offsets");
  h5::write_ints_attr(g, "scan_shape", {scan.y, scan.x});
  h5::write_ints_attr(g, "detector_shape", {detector.y, detector.x});
  h5::write_string_attr(g, "units", "detector pixels; pixel (i, j) has its centre at (qy, qx) = (i, j); qy = first detector axis");
  d.pa.scan = scan;
  d.pa.open = true;
}

void ResultsWriter::append_peaks(const PeakChunk& c) {
  Impl& d = *impl_;
  Impl::PeakAppend& a = d.pa;
  if (!a.open) fail(ErrorKind::internal, path_, "append_peaks without begin_peaks");
  if (c.n_positions <= 0) return;
  if (c.first_position != a.positions_done || c.first_position + c.n_positions > a.scan.y * a.scan.x ||
      c.offsets[0] != a.n_peaks)
    fail(ErrorKind::internal, path_, "append_peaks: chunk of positions ", c.first_position, "+", c.n_positions,
         " starting at peak ", c.offsets[0], " after ", a.positions_done, " positions and ", a.n_peaks, " peaks");
  for (std::int64_t k = 0; k < c.n_positions; ++k)
    if (c.offsets[k + 1] < c.offsets[k]) fail(ErrorKind::internal, path_, "append_peaks: offsets decrease");
  const std::string where = path_ + ":/peaks";
  const std::size_t n = c.n_peaks();
  append_1d(a.off, H5T_NATIVE_UINT64, static_cast<std::uint64_t>(a.positions_done) + 1,
            static_cast<std::size_t>(c.n_positions), c.offsets + 1, where + "/offsets");
  append_1d(a.qy, H5T_NATIVE_FLOAT, a.n_peaks, n, c.qy_raw, where + "/qy_raw");
  append_1d(a.qx, H5T_NATIVE_FLOAT, a.n_peaks, n, c.qx_raw, where + "/qx_raw");
  append_1d(a.in, H5T_NATIVE_FLOAT, a.n_peaks, n, c.intensity, where + "/intensity");
  a.positions_done += c.n_positions;
  a.n_peaks += n;
}

void ResultsWriter::end_peaks() {
  Impl& d = *impl_;
  if (!d.pa.open) fail(ErrorKind::internal, path_, "end_peaks without begin_peaks");
  if (d.pa.positions_done != d.pa.scan.y * d.pa.scan.x)
    fail(ErrorKind::internal, path_, "end_peaks: ", d.pa.positions_done, " of ", d.pa.scan.y * d.pa.scan.x,
         " positions written");
  d.pa = Impl::PeakAppend{};
}

namespace {
class ResultsPeakSink : public PeakSink {
public:
  explicit ResultsPeakSink(ResultsWriter& w) : w_(w) {}
  void begin(Shape2 scan, Shape2 detector) override { w_.begin_peaks(scan, detector); }
  void consume(const PeakChunk& c) override { w_.append_peaks(c); }
  void end() override { w_.end_peaks(); }
private:
  ResultsWriter& w_;
};
} // namespace

std::unique_ptr<PeakSink> ResultsWriter::peaks_sink() { return std::make_unique<ResultsPeakSink>(*this); }

std::unique_ptr<PeakChunkSource> ResultsWriter::peaks_source(std::size_t chunk_bytes) {
  Impl& d = *impl_;
  if (d.pa.open) fail(ErrorKind::internal, path_, "peaks_source: /peaks is still being written");
  if (d.written.count("peaks")) return std::make_unique<H5PeakChunks>(d.tmp.get(), h5::Handle{}, path_, chunk_bytes);
  if (!d.orig.valid() || d.cleared.count("peaks") || H5Lexists(d.orig, "peaks", H5P_DEFAULT) <= 0)
    fail(ErrorKind::bad_input, path_, "no /peaks; ", run_hint(path_, "peaks"));
  return std::make_unique<H5PeakChunks>(d.orig.get(), h5::Handle{}, path_, chunk_bytes);
}

void ResultsWriter::begin_corrected() {
  Impl& d = *impl_;
  if (d.pa.open || d.ca.open) fail(ErrorKind::internal, path_, "begin_corrected: peaks or corrected vectors already being written");
  // /peaks must be there: written in this transaction or kept from the file
  if (!d.written.count("peaks")) {
    if (!d.orig.valid() || d.cleared.count("peaks") || H5Lexists(d.orig, "peaks", H5P_DEFAULT) <= 0)
      fail(ErrorKind::bad_input, path_, "no /peaks; ", run_hint(path_, "peaks"));
    // copy the raw peaks only: the old corrected vectors and map are replaced
    h5::Handle from = h5::open_group(d.orig, "/peaks", path_);
    h5::Handle to = h5::require_group(d.tmp, "/peaks", path_);
    for (const char* name : {"offsets", "qy_raw", "qx_raw", "intensity"})
      if (H5Ocopy(from, name, to, name, H5P_DEFAULT, H5P_DEFAULT) < 0)
        fail(ErrorKind::io, path_, "cannot copy /peaks/", name);
    for (const std::string& a : attribute_names(from)) copy_attribute(from, to, a, path_ + ":/peaks");
    d.written.insert("peaks");
  }
  clear_from("origin");
  h5::Handle pk = h5::open_group(d.tmp, "/peaks", path_);
  for (const char* name : {"qy", "qx", "bragg_vector_map"}) h5::unlink_if_exists(pk, name);
  const std::int64_t n = length_of(pk, "qy_raw", path_ + ":/peaks");
  const auto chunk = std::clamp<std::int64_t>(n, 1, kPeakChunkElements);
  d.ca = Impl::CorrectedAppend{};
  d.ca.qy = create_extendible(pk, "qy", H5T_NATIVE_FLOAT, chunk, path_ + ":/peaks/qy");
  d.ca.qx = create_extendible(pk, "qx", H5T_NATIVE_FLOAT, chunk, path_ + ":/peaks/qx");
  d.ca.n = static_cast<std::uint64_t>(n);
  d.ca.open = true;
}

void ResultsWriter::append_corrected(std::uint64_t first_peak, std::size_t n, const float* qy, const float* qx) {
  Impl& d = *impl_;
  if (!d.ca.open) fail(ErrorKind::internal, path_, "append_corrected without begin_corrected");
  if (first_peak != d.ca.next || first_peak + n > d.ca.n)
    fail(ErrorKind::internal, path_, "append_corrected: peaks ", first_peak, "+", n, " after ", d.ca.next, " of ", d.ca.n);
  append_1d(d.ca.qy, H5T_NATIVE_FLOAT, first_peak, n, qy, path_ + ":/peaks/qy");
  append_1d(d.ca.qx, H5T_NATIVE_FLOAT, first_peak, n, qx, path_ + ":/peaks/qx");
  d.ca.next += n;
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
  begin_corrected();
  if (d.ca.n != corrected.size())
    fail(ErrorKind::internal, path_, "write_origin: ", corrected.size(), " corrected peaks for ", d.ca.n, " in /peaks");
  append_corrected(0, corrected.size(), corrected.qy.data(), corrected.qx.data());
  write_origin(origin, ellipse, bvm);
}

void ResultsWriter::write_origin(const OriginMap& origin, const EllipseDistortion& ellipse, const BraggVectorMap& bvm) {
  Impl& d = *impl_;
  const std::size_t positions = static_cast<std::size_t>(origin.scan.y * origin.scan.x);
  if (!d.ca.open) fail(ErrorKind::internal, path_, "write_origin without begin_corrected");
  if (d.ca.next != d.ca.n)
    fail(ErrorKind::internal, path_, "write_origin: ", d.ca.next, " of ", d.ca.n, " corrected peaks written");
  if (origin.qy0.size() != positions || origin.qx0.size() != positions)
    fail(ErrorKind::internal, path_, "write_origin: origin map of ", origin.qy0.size(), " values for ", positions, " positions");
  if (bvm.counts.size() != static_cast<std::size_t>(bvm.size * bvm.size))
    fail(ErrorKind::internal, path_, "write_origin: Bragg vector map of ", bvm.counts.size(), " values for ", bvm.size, "^2");
  d.ca = Impl::CorrectedAppend{};
  h5::Handle pk = h5::open_group(d.tmp, "/peaks", path_);
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
  h5::write_double_attr(g, "scan_rotation_deg", origin.scan_rotation_deg);
  const bool calibrated = origin.q_pixel_inv_A > 0 && std::isfinite(origin.q_pixel_inv_A);
  h5::write_double_attr(g, "q_pixel_inv_A", calibrated ? origin.q_pixel_inv_A : 0.0);
  h5::write_string_attr(g, "calibration_source", calibrated ? origin.calibration_source : std::string("none"));
  h5::write_string_attr(g, "units", "detector pixels; ellipse_theta_deg: a axis from +qx towards +qy; scan_rotation_deg: "
                                    "turns +qx towards +qy; q_pixel_inv_A: 1/Angstrom per detector pixel, 0 = unknown");
  // /scan q_pixel_inv_A follows the origin stage's calibration
  h5::Handle scan = d.adopt("scan", path_);
  if (calibrated) h5::write_double_attr(scan, "q_pixel_inv_A", origin.q_pixel_inv_A);
  else if (H5Aexists(scan, "q_pixel_inv_A") > 0) H5Adelete(scan, "q_pixel_inv_A");
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
  if (d.pa.open) fail(ErrorKind::internal, path_, "commit: /peaks still being written (no end_peaks)");
  if (d.ca.open) fail(ErrorKind::internal, path_, "commit: corrected vectors still being written (no write_origin)");
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

h5::Handle open_results(const std::string& path) { return detail::open_results_file(path); }

h5::Handle open_stage_group(hid_t f, const std::string& path, const std::string& group) {
  if (H5Lexists(f, group.c_str(), H5P_DEFAULT) <= 0) fail(ErrorKind::bad_input, path, "no /", group, "; ", run_hint(path, group));
  return h5::open_group(f, "/" + group, path);
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
    h.input_q_pixel_inv_A = h5::read_number_attr(s, "input_q_pixel_inv_A").value_or(0);
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

std::unique_ptr<PeakChunkSource> read_peaks_chunked(const std::string& path, std::size_t chunk_bytes) {
  h5::Handle f = open_results(path);
  if (H5Lexists(f, "peaks", H5P_DEFAULT) <= 0) fail(ErrorKind::bad_input, path, "no /peaks; ", run_hint(path, "peaks"));
  const hid_t id = f.get();
  return std::make_unique<H5PeakChunks>(id, std::move(f), path, chunk_bytes);
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
  o.scan_rotation_deg = h5::read_number_attr(g, "scan_rotation_deg").value_or(0);
  o.q_pixel_inv_A = h5::read_number_attr(g, "q_pixel_inv_A").value_or(0);
  o.calibration_source = h5::read_string_attr(g, "calibration_source").value_or("none");
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
