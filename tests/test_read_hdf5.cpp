// tests/test_read_hdf5.cpp: the HDF5-based readers (EMD 1.0, generic 3D/4D datasets, Dectris
// ARINA/EIGER master files) and write_emd, against the statistics of
// shared/data/real/dectris/README.md and shared/data/py4dstem/README.md, on files made here
// with the HDF5 C API (axis orders, chunk layouts, EMD 0.x), on edited copies (missing data
// files, truncated files) and in round trips.
#include <doctest/doctest.h>

#include <hdf5.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "core/h5util.hpp"
#include "domainmap/dataset.hpp"
#include "domainmap/error.hpp"
#include "domainmap/write.hpp"
#include "testing.hpp"

using namespace domainmap;
namespace fs = std::filesystem;

namespace {

std::string dectris(const std::string& name) { return testing::shared("data/real/dectris/" + name); }
std::string py4dstem_sample() { return testing::shared("data/py4dstem/sample_with_braggvectors.h5"); }

// All frames of a source, read with BlockStream under `budget` (several blocks by default).
std::vector<float> read_all(FrameSource& src, std::size_t budget = 1 << 20) {
  const Shape4 s = src.shape();
  std::vector<float> all(static_cast<std::size_t>(s.n_frames() * s.frame_pixels()));
  BlockStream stream(src, std::max<std::size_t>(budget, 2 * 4 * static_cast<std::size_t>(s.frame_pixels())));
  FrameBlock b;
  while (stream.next(b))
    std::copy(b.data, b.data + b.n_frames * b.frame_pixels, all.begin() + b.first_frame * b.frame_pixels);
  return all;
}

DatasetStats stats(FrameSource& src, std::size_t budget = 1 << 20) {
  RunContext ctx;
  ctx.memory_budget = budget;
  return compute_stats(src, ctx);
}

float px(FrameSource& src, std::int64_t ry, std::int64_t rx, std::int64_t y, std::int64_t x) {
  return read_pattern(src, ry, rx)[static_cast<std::size_t>(y * src.shape().det_x + x)];
}

std::string meta(const DatasetInfo& info, const std::string& key) {
  for (const auto& [k, v] : info.metadata)
    if (k == key) return v;
  return "(missing)";
}

bool has_note_containing(const DatasetInfo& info, const std::string& text) {
  for (const auto& n : info.notes)
    if (n.find(text) != std::string::npos) return true;
  return false;
}

struct Caught {
  std::string what = "(no error)";
  ErrorKind kind = ErrorKind::internal;
  bool thrown = false;
};
Caught error_of(const std::function<void()>& fn) {
  Caught c;
  try {
    fn();
  } catch (const Error& e) {
    c.what = e.what();
    c.kind = e.kind();
    c.thrown = true;
  }
  return c;
}
bool one_line(const std::string& s) { return s.find('\n') == std::string::npos && !s.empty(); }

void copy_to(const std::string& from, const std::string& dir) {
  fs::copy_file(from, fs::path(dir) / fs::path(from).filename(), fs::copy_options::overwrite_existing);
  fs::permissions(fs::path(dir) / fs::path(from).filename(), fs::perms::owner_read | fs::perms::owner_write,
                  fs::perm_options::add);
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  return out;
}

// Writes `data` (C order over `dims`) as a dataset of `file_type` in a new file; chunks/gzip optional.
template <typename T>
void make_h5(const std::string& path, const std::string& name, const std::vector<hsize_t>& dims, hid_t file_type,
             hid_t mem_type, const std::vector<T>& data, const std::vector<hsize_t>& chunks = {}, int gzip = 0,
             bool append = false) {
  h5::silence_hdf5();
  hid_t f = append ? H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)
                   : H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(f >= 0);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (!chunks.empty()) H5Pset_chunk(dcpl, static_cast<int>(chunks.size()), chunks.data());
  if (gzip > 0) H5Pset_deflate(dcpl, static_cast<unsigned>(gzip));
  hid_t d = H5Dcreate2(f, name.c_str(), file_type, space, lcpl, dcpl, H5P_DEFAULT);
  REQUIRE(d >= 0);
  REQUIRE(H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()) >= 0);
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Pclose(lcpl);
  H5Fclose(f);
}

// The whole dataset as floats through plain HDF5 (the independent reference).
std::vector<float> h5_read_all(const std::string& path, const std::string& name) {
  h5::Handle f = h5::open_file_read(path);
  h5::Handle d = h5::open_dataset(f, name, path);
  return h5::read_floats(d, path);
}

// A synthetic source: pixel j of frame k is (k * 37 + j * 11) % modulo, optionally + 0.5.
class SyntheticSource : public FrameSource {
public:
  SyntheticSource(Shape4 s, std::string dtype, int modulo = 1000, bool half = false)
      : modulo_(modulo), half_(half) {
    info_.shape = s;
    info_.format = "test";
    info_.dtype = std::move(dtype);
    info_.frames_present = s.n_frames();
  }
  void read_frames(std::int64_t first, std::int64_t count, float* out) override {
    if (throw_at >= 0 && first + count > throw_at)
      fail(ErrorKind::bad_input, "synthetic", "frame ", throw_at, ": read error (test)");
    const std::int64_t fp = shape().frame_pixels();
    for (std::int64_t k = 0; k < count; ++k)
      for (std::int64_t j = 0; j < fp; ++j)
        out[k * fp + j] = static_cast<float>(((first + k) * 37 + j * 11) % modulo_) + (half_ ? 0.5f : 0.0f);
  }
  DatasetInfo& mutable_info() { return info_; }
  std::int64_t throw_at = -1;
private:
  int modulo_;
  bool half_;
};

std::string attr_string_class(hid_t obj, const char* name, bool& is_vlen) {
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  REQUIRE(a >= 0);
  hid_t t = H5Aget_type(a);
  is_vlen = H5Tis_variable_str(t) > 0;
  H5Tclose(t);
  H5Aclose(a);
  return h5::read_string_attr(obj, name).value_or("(not a string)");
}

} // namespace

// ---------------------------------------------------------------------------------------------
// detection
// ---------------------------------------------------------------------------------------------

TEST_CASE("hdf5: detect_format tells EMD, Dectris and plain HDF5 apart by content") {
  CHECK(detect_format(py4dstem_sample()) == "emd");
  CHECK(detect_format(dectris("test_00_master.h5")) == "dectris");
  CHECK(detect_format(dectris("nonzero_master.h5")) == "dectris");
  CHECK(detect_format(dectris("nonzero_data_000001.h5")) == "hdf5");  // a data file alone: /entry/data/data
  CHECK(detect_format(dectris("generic_gzip_4d.h5")) == "hdf5");
  CHECK(detect_format(dectris("generic_3d_stack.h5")) == "hdf5");
  CHECK(detect_format(dectris("nonzero.h5")) == "hdf5");
}

// ---------------------------------------------------------------------------------------------
// Dectris
// ---------------------------------------------------------------------------------------------

TEST_CASE("dectris: real ARINA master test_00 (uint32, bitshuffle-LZ4, scan from test_00.h5)") {
  auto src = open_dataset(dectris("test_00_master.h5"));
  const DatasetInfo& info = src->info();
  CHECK(info.format == "dectris");
  CHECK(src->shape() == Shape4{4, 4, 192, 192});
  CHECK(info.dtype == "<u4");
  CHECK(info.compression == "bitshuffle-lz4");
  CHECK(info.chunks == std::vector<std::int64_t>{1, 192, 192});
  CHECK(info.frames_present == 16);
  CHECK(info.bad_pixels.empty());  // pixel_mask all 0
  CHECK(meta(info, "masked_pixels") == "0");
  CHECK(meta(info, "saturation_value") == "8352");
  CHECK(meta(info, "count_time") == "9.95e-05 s");
  CHECK(meta(info, "x_pixel_size") == "0.0001 m");
  CHECK(meta(info, "description") == "Dectris ARINA CZT");
  CHECK(meta(info, "bit_depth_image") == "32");
  CHECK(meta(info, "nimages") == "1");
  CHECK(meta(info, "ntrigger") == "16");
  CHECK(meta(info, "stem.NumPixelsX") == "4");
  CHECK(meta(info, "stem.Pixel Size") == "0.13915206");
  CHECK(meta(info, "flatfield").rfind("192x192 min 1 max 1", 0) == 0);
  CHECK(src->frame_alignment() == 1);
  DatasetStats st = stats(*src);
  CHECK(st.sum == 0);
  CHECK(st.min == 0);
  CHECK(st.max == 0);
  CHECK(st.first_frame_sum == 0);
  CHECK(st.last_frame_sum == 0);
  CHECK(px(*src, 0, 0, 96, 96) == 0);
  CHECK(px(*src, 2, 1, 10, 150) == 0);
  CHECK(px(*src, 3, 3, 191, 191) == 0);
}

TEST_CASE("dectris: nonzero master over two data files, pixel_mask applied") {
  auto src = open_dataset(dectris("nonzero_master.h5"));
  const DatasetInfo& info = src->info();
  CHECK(src->shape() == Shape4{4, 5, 96, 96});
  CHECK(info.dtype == "<u2");
  CHECK(meta(info, "data_files") == "2");
  CHECK(meta(info, "beam_center_x") == "48.5 pixel");
  CHECK(meta(info, "beam_center_y") == "46.5 pixel");
  CHECK(meta(info, "number_of_excluded_pixels") == "5");
  CHECK(meta(info, "masked_pixels") == "5");
  CHECK(meta(info, "scan_shape_from") == dectris("nonzero.h5"));
  REQUIRE(info.bad_pixels.size() == 96u * 96u);
  CHECK(std::accumulate(info.bad_pixels.begin(), info.bad_pixels.end(), 0) == 5);
  for (auto [y, x] : {std::pair{0, 95}, {10, 20}, {33, 61}, {50, 7}, {80, 88}}) CHECK(info.bad_pixels[y * 96 + x] == 1);
  CHECK(info.bad_pixels[70 * 96 + 30] == 0);  // bit 31 only: a valid virtual pixel
  DatasetStats st = stats(*src, 3 * 96 * 96 * 4 * 2);  // blocks of 3 frames: one straddles the two files
  CHECK(st.sum == 936045);
  CHECK(st.min == 0);
  CHECK(st.max == 303);
  CHECK(st.first_frame_sum == 45833);
  CHECK(st.last_frame_sum == 48064);
  CHECK(px(*src, 0, 0, 46, 48) == 255);
  CHECK(px(*src, 2, 2, 50, 68) == 52);
  CHECK(px(*src, 3, 4, 5, 5) == 1);
  CHECK(px(*src, 1, 2, 0, 95) == 0);

  // frames 10..14 in one call (12 and 13 on either side of the file boundary) = one by one
  std::vector<float> five(5 * 96 * 96);
  src->read_frames(10, 5, five.data());
  for (int k = 0; k < 5; ++k) {
    auto one = read_pattern(*src, (10 + k) / 5, (10 + k) % 5);
    CHECK(std::equal(one.begin(), one.end(), five.begin() + k * 96 * 96));
  }
}

TEST_CASE("dectris: nonzero master as stored (apply_mask = false)") {
  ReadParams p;
  p.apply_mask = false;
  auto src = open_dataset(dectris("nonzero_master.h5"), p);
  CHECK(src->info().bad_pixels.empty());
  CHECK(has_note_containing(src->info(), "pixel_mask rejects 5 pixels; not applied"));
  DatasetStats st = stats(*src);
  CHECK(st.sum == 7489545);
  CHECK(st.min == 0);
  CHECK(st.max == 65535);
  CHECK(st.first_frame_sum == 373508);
  CHECK(st.last_frame_sum == 375739);
  CHECK(px(*src, 1, 2, 0, 95) == 65535);
  CHECK(px(*src, 0, 0, 46, 48) == 255);
  // per data file: frames 0..11 sum 4485448, frames 12..19 sum 3004097; frame 12 = [2,2] sums 374890
  auto all = read_all(*src);
  const std::size_t fp = 96 * 96;
  double s1 = std::accumulate(all.begin(), all.begin() + 12 * fp, 0.0);
  double s2 = std::accumulate(all.begin() + 12 * fp, all.end(), 0.0);
  CHECK(s1 == 4485448);
  CHECK(s2 == 3004097);
  CHECK(std::accumulate(all.begin() + 11 * fp, all.begin() + 12 * fp, 0.0) == 374793);
  CHECK(std::accumulate(all.begin() + 12 * fp, all.begin() + 13 * fp, 0.0) == 374890);
}

TEST_CASE("dectris: scan shape from the user, refused when the product differs or is unknown") {
  ReadParams p;
  p.scan_shape = {5, 4};
  auto src = open_dataset(dectris("nonzero_master.h5"), p);
  CHECK(src->shape() == Shape4{5, 4, 96, 96});
  CHECK(meta(src->info(), "scan_shape_from") == "read.scan_shape");
  CHECK(stats(*src).sum == 936045);

  p.scan_shape = {3, 5};
  Caught e = error_of([&] { open_dataset(dectris("nonzero_master.h5"), p); });
  CHECK(e.kind == ErrorKind::bad_parameter);
  CHECK(e.what == dectris("nonzero_master.h5") + ": scan shape 3x5 (from read.scan_shape) is 15 frames but the data files hold 20");

  // no companion <base>.h5: ask for --read.scan_shape
  std::string dir = testing::scratch("dectris_no_companion");
  for (auto n : {"nonzero_master.h5", "nonzero_data_000001.h5", "nonzero_data_000002.h5"}) copy_to(dectris(n), dir);
  const std::string master = dir + "/nonzero_master.h5";
  e = error_of([&] { open_dataset(master); });
  CHECK(e.kind == ErrorKind::bad_input);
  CHECK(e.what.rfind(master + ": ", 0) == 0);
  CHECK(e.what.find("nonzero.h5") != std::string::npos);
  CHECK(e.what.find("--read.scan_shape") != std::string::npos);
  CHECK(e.what.find("20 frames") != std::string::npos);
  CHECK(one_line(e.what));
  p.scan_shape = {4, 5};
  CHECK(stats(*open_dataset(master, p)).sum == 936045);
}

TEST_CASE("dectris: a missing data file is a one-line error naming it") {
  std::string dir = testing::scratch("dectris_missing");
  for (auto n : {"nonzero_master.h5", "nonzero.h5", "nonzero_data_000001.h5"}) copy_to(dectris(n), dir);
  const std::string master = dir + "/nonzero_master.h5";
  Caught e = error_of([&] { open_dataset(master); });
  CHECK(e.kind == ErrorKind::bad_input);
  CHECK(e.what.rfind(master + ":/entry/data/data_000002: data file nonzero_data_000002.h5 not found", 0) == 0);
  CHECK(one_line(e.what));

  // the master alone: the first link already fails
  std::string dir2 = testing::scratch("dectris_master_alone");
  copy_to(dectris("nonzero_master.h5"), dir2);
  e = error_of([&] { open_dataset(dir2 + "/nonzero_master.h5"); });
  CHECK(e.what.find("nonzero_data_000001.h5 not found") != std::string::npos);
  CHECK(one_line(e.what));

  // a truncated data file names that file
  std::string dir3 = testing::scratch("dectris_truncated_data");
  for (auto n : {"nonzero_master.h5", "nonzero.h5", "nonzero_data_000001.h5", "nonzero_data_000002.h5"})
    copy_to(dectris(n), dir3);
  fs::resize_file(dir3 + "/nonzero_data_000002.h5", 20000);
  e = error_of([&] { stats(*open_dataset(dir3 + "/nonzero_master.h5")); });
  CHECK(e.thrown);
  CHECK(e.what.find("nonzero_data_000002.h5") != std::string::npos);
  CHECK(one_line(e.what));
}

TEST_CASE("dectris: data files alone read as generic 3D stacks, and a link named through the master") {
  ReadParams p;
  p.scan_shape = {3, 4};
  auto d1 = open_dataset(dectris("nonzero_data_000001.h5"), p);
  CHECK(d1->info().format == "hdf5");
  CHECK(d1->info().object == "/entry/data/data");
  CHECK(d1->shape() == Shape4{3, 4, 96, 96});
  DatasetStats st = stats(*d1);
  CHECK(st.sum == 4485448);
  CHECK(st.first_frame_sum == 373508);
  CHECK(st.last_frame_sum == 374793);
  p.scan_shape = {2, 4};
  st = stats(*open_dataset(dectris("nonzero_data_000002.h5"), p));
  CHECK(st.sum == 3004097);
  CHECK(st.first_frame_sum == 374890);
  CHECK(st.last_frame_sum == 375739);
  p.scan_shape = {4, 4};
  st = stats(*open_dataset(dectris("test_00_data_000001.h5"), p));
  CHECK(st.sum == 0);
  CHECK(st.n_zero_frames == 16);
  // the external link itself, as a generic dataset (no mask applied)
  p.scan_shape = {2, 4};
  p.format = "hdf5";
  auto via = open_dataset(dectris("nonzero_master.h5") + ":/entry/data/data_000002", p);
  CHECK(via->info().format == "hdf5");
  CHECK(stats(*via).sum == 3004097);
  p.format = "auto";
  // the companions hold no frames
  for (const char* n : {"nonzero.h5", "test_00.h5"}) {
    Caught e = error_of([&] { open_dataset(dectris(n)); });
    CHECK(e.what == dectris(n) + ": no 3-D or 4-D numeric dataset in this HDF5 file");
  }
}

TEST_CASE("dectris: image_nr continuity and an interrupted acquisition") {
  // data_000001 linked to the second data file: image_nr_low = 13 where 1 is due
  std::string dir = testing::scratch("dectris_gap");
  for (auto n : {"nonzero_master.h5", "nonzero.h5", "nonzero_data_000001.h5", "nonzero_data_000002.h5"})
    copy_to(dectris(n), dir);
  const std::string master = dir + "/nonzero_master.h5";
  {
    h5::Handle f = h5::open_file_rw(master);
    REQUIRE(H5Ldelete(f, "/entry/data/data_000001", H5P_DEFAULT) >= 0);
    REQUIRE(H5Lcreate_external("nonzero_data_000002.h5", "/entry/data/data", f, "/entry/data/data_000001", H5P_DEFAULT,
                               H5P_DEFAULT) >= 0);
  }
  Caught e = error_of([&] { open_dataset(master); });
  CHECK(e.what == dir + "/nonzero_data_000002.h5:/entry/data/data: image_nr_low = 13 but frame 1 comes next; a data "
                        "file is missing or out of order");

  // only the first data file linked: 12 of nimages x ntrigger = 20 frames; the rest read as 0
  std::string dir2 = testing::scratch("dectris_interrupted");
  for (auto n : {"nonzero_master.h5", "nonzero.h5", "nonzero_data_000001.h5"}) copy_to(dectris(n), dir2);
  const std::string master2 = dir2 + "/nonzero_master.h5";
  {
    h5::Handle f = h5::open_file_rw(master2);
    REQUIRE(H5Ldelete(f, "/entry/data/data_000002", H5P_DEFAULT) >= 0);
  }
  ReadParams p;
  p.apply_mask = false;
  // default: the complete scan rows, 2 x 5 (sums from h5py over the stored frames)
  auto rows = open_dataset(master2, p);
  CHECK(rows->shape() == Shape4{2, 5, 96, 96});
  CHECK(rows->info().frames_present == 10);
  CHECK(has_note_containing(rows->info(), "interrupted acquisition: 12 of 20 frames of the 4x5 scan stored; reading "
                                          "the complete 2x5"));
  DatasetStats st_rows = stats(*rows);
  CHECK(st_rows.sum == 3735540);
  CHECK(st_rows.last_frame_sum == 373908);
  // read.pad_missing: the planned 4 x 5, missing frames as 0
  p.pad_missing = true;
  auto src = open_dataset(master2, p);
  CHECK(src->shape() == Shape4{4, 5, 96, 96});
  CHECK(src->info().frames_present == 12);
  CHECK(has_note_containing(src->info(), "interrupted acquisition: 12 of 20 frames stored"));
  DatasetStats st = stats(*src);
  CHECK(st.sum == 4485448);
  CHECK(st.first_frame_sum == 373508);
  CHECK(st.last_frame_sum == 0);
  CHECK(st.n_zero_frames == 8);
}

// ---------------------------------------------------------------------------------------------
// generic HDF5
// ---------------------------------------------------------------------------------------------

TEST_CASE("hdf5: generic 4D gzip dataset, found alone or named") {
  const std::string file = dectris("generic_gzip_4d.h5");
  for (const std::string& spec : {file, file + ":/data/frames"}) {
    auto src = open_dataset(spec);
    const DatasetInfo& info = src->info();
    CHECK(info.format == "hdf5");
    CHECK(info.object == "/data/frames");
    CHECK(src->shape() == Shape4{6, 7, 64, 64});
    CHECK(info.dtype == "<u2");
    CHECK(info.compression == "gzip");
    CHECK(info.chunks == std::vector<std::int64_t>{1, 1, 64, 64});
    CHECK(info.calibration.known == false);
    DatasetStats st = stats(*src, 5 * 64 * 64 * 4 * 2);  // blocks of 5 frames: partial rows
    CHECK(st.sum == 957870);
    CHECK(st.min == 0);
    CHECK(st.max == 327);
    CHECK(st.first_frame_sum == 19937);
    CHECK(st.last_frame_sum == 25875);
    CHECK(px(*src, 0, 0, 30, 33) == 150);
    CHECK(px(*src, 3, 4, 37, 46) == 30);
    CHECK(px(*src, 5, 6, 60, 3) == 0);
  }
  ReadParams p;
  p.dataset = "data/frames";  // relative path also accepted
  CHECK(open_dataset(file, p)->shape() == Shape4{6, 7, 64, 64});
  // equal to a plain H5Dread of the whole dataset
  auto src = open_dataset(file);
  CHECK(read_all(*src) == h5_read_all(file, "/data/frames"));
}

TEST_CASE("hdf5: generic 3D float32 LZ4 stack with the scan shape given") {
  const std::string file = dectris("generic_3d_stack.h5");
  ReadParams p;
  p.scan_shape = {5, 6};
  auto src = open_dataset(file, p);
  CHECK(src->shape() == Shape4{5, 6, 48, 40});
  CHECK(src->info().dtype == "<f4");
  CHECK(src->info().compression == "lz4");
  DatasetStats st = stats(*src, 4 * 48 * 40 * 4 * 2);
  CHECK(st.sum == 1332204.265625);
  CHECK(st.min == -1.05078125);
  CHECK(st.max == 899.69140625);
  CHECK(st.first_frame_sum == 40218.5625);
  CHECK(st.last_frame_sum == 48579.234375);
  CHECK(px(*src, 0, 0, 23, 19) == 872.078125f);
  CHECK(px(*src, 2, 3, 10, 20) == 30.44921875f);
  CHECK(px(*src, 4, 5, 47, 39) == 1.18359375f);
  CHECK(read_all(*src) == h5_read_all(file, "/entry/stack"));

  // no scan shape: ask for it; a wrong product: refuse
  Caught e = error_of([&] { open_dataset(file); });
  CHECK(e.kind == ErrorKind::bad_input);
  CHECK(e.what == file + ":/entry/stack: 3-D stack of 30 frames does not store its scan shape; give --read.scan_shape "
                         "ROWSxCOLS (rows x columns = 30)");
  p.scan_shape = {4, 6};
  e = error_of([&] { open_dataset(file, p); });
  CHECK(e.kind == ErrorKind::bad_parameter);
  CHECK(e.what == file + ":/entry/stack: read.scan_shape = 4x6 is 24 frames but the stack holds 30");
}

TEST_CASE("hdf5: axis_order permutations of 4D and 3D datasets are transposed by the reader") {
  const std::string dir = testing::scratch("hdf5_axes");
  // logical [ry, rx, qy, qx] = [3, 4, 5, 6]; value = 1000 ry + 100 rx + 10 qy + qx
  const std::int64_t L[4] = {3, 4, 5, 6};
  auto value = [](std::int64_t ry, std::int64_t rx, std::int64_t qy, std::int64_t qx) {
    return static_cast<float>(1000 * ry + 100 * rx + 10 * qy + qx);
  };
  struct Case {
    const char* order;
    int perm[4];  // stored axis s holds logical axis perm[s] (0 ry, 1 rx, 2 qy, 3 qx)
  };
  for (const Case& c : {Case{"ry,rx,qy,qx", {0, 1, 2, 3}}, Case{"rx,ry,qy,qx", {1, 0, 2, 3}},
                        Case{"ry,rx,qx,qy", {0, 1, 3, 2}}, Case{"rx,ry,qx,qy", {1, 0, 3, 2}},
                        Case{"qy,qx,ry,rx", {2, 3, 0, 1}}}) {
    CAPTURE(c.order);
    std::vector<hsize_t> dims(4);
    for (int s = 0; s < 4; ++s) dims[s] = static_cast<hsize_t>(L[c.perm[s]]);
    std::vector<std::uint16_t> data(3 * 4 * 5 * 6);
    std::size_t i = 0;
    for (hsize_t a = 0; a < dims[0]; ++a)
      for (hsize_t b = 0; b < dims[1]; ++b)
        for (hsize_t cc = 0; cc < dims[2]; ++cc)
          for (hsize_t d = 0; d < dims[3]; ++d) {
            std::int64_t idx[4] = {static_cast<std::int64_t>(a), static_cast<std::int64_t>(b),
                                   static_cast<std::int64_t>(cc), static_cast<std::int64_t>(d)};
            std::int64_t l[4];
            for (int s = 0; s < 4; ++s) l[c.perm[s]] = idx[s];
            data[i++] = static_cast<std::uint16_t>(value(l[0], l[1], l[2], l[3]));
          }
    for (bool chunked : {false, true}) {
      CAPTURE(chunked);
      const std::string file = dir + "/perm.h5";
      // chunks of 2 along every axis: each chunk spans several frames
      make_h5(file, "/x/cube", dims, H5T_STD_U16BE, H5T_NATIVE_UINT16, data,
              chunked ? std::vector<hsize_t>{2, 2, 2, 2} : std::vector<hsize_t>{}, chunked ? 3 : 0);
      ReadParams p;
      p.axis_order = c.order;
      auto src = open_dataset(file, p);
      REQUIRE(src->shape() == Shape4{3, 4, 5, 6});
      CHECK(src->info().dtype == ">u2");
      for (std::size_t budget : {std::size_t(2 * 30 * 4), std::size_t(2 * 30 * 4 * 5), std::size_t(1) << 20}) {
        auto all = read_all(*src, budget);
        bool ok = true;
        for (std::int64_t ry = 0; ry < 3; ++ry)
          for (std::int64_t rx = 0; rx < 4; ++rx)
            for (std::int64_t qy = 0; qy < 5; ++qy)
              for (std::int64_t qx = 0; qx < 6; ++qx)
                ok = ok && all[static_cast<std::size_t>(((ry * 4 + rx) * 5 + qy) * 6 + qx)] == value(ry, rx, qy, qx);
        CHECK(ok);
      }
      CHECK(px(*src, 2, 3, 4, 5) == 2345);
    }
  }
  // 3D: n = 12 frames of [5, 6], stored n,qx,qy
  {
    std::vector<float> data(12 * 6 * 5);
    std::size_t i = 0;
    for (int n = 0; n < 12; ++n)
      for (int qx = 0; qx < 6; ++qx)
        for (int qy = 0; qy < 5; ++qy) data[i++] = static_cast<float>(n * 100 + qy * 10 + qx) + 0.25f;
    const std::string file = dir + "/stack.h5";
    make_h5(file, "/s", {12, 6, 5}, H5T_IEEE_F64LE, H5T_NATIVE_FLOAT, data, {5, 6, 5}, 1);
    ReadParams p;
    p.axis_order = "n,qx,qy";
    p.scan_shape = {3, 4};
    auto src = open_dataset(file, p);
    CHECK(src->shape() == Shape4{3, 4, 5, 6});
    CHECK(src->info().dtype == "<f8");
    CHECK(src->frame_alignment() == 5);
    CHECK(px(*src, 2, 3, 4, 5) == 1145.25f);
    CHECK(px(*src, 1, 0, 2, 1) == 421.25f);
    auto all = read_all(*src, 2 * 30 * 4 * 3);
    bool ok = true;
    for (int n = 0; n < 12; ++n)
      for (int qy = 0; qy < 5; ++qy)
        for (int qx = 0; qx < 6; ++qx) ok = ok && all[static_cast<std::size_t>((n * 5 + qy) * 6 + qx)] == n * 100 + qy * 10 + qx + 0.25f;
    CHECK(ok);
  }
  // bad orders
  const std::string file = dir + "/perm.h5";
  for (const char* bad : {"ry,rx,qy", "ry,ry,qy,qx", "Rx,Ry,Qx,Qy", "n,qy,qx"}) {
    ReadParams p;
    p.axis_order = bad;
    Caught e = error_of([&] { open_dataset(file, p); });
    CHECK(e.kind == ErrorKind::bad_parameter);
    CHECK(e.what.rfind(file + ":/x/cube: read.axis_order = " + bad, 0) == 0);
    CHECK(one_line(e.what));
  }
}

TEST_CASE("hdf5: chunks spanning several frames, frames larger than the read buffer") {
  // 4 MiB read buffer / 1 MiB frames: a block is read in pieces; chunks (2, 3, 256, 512) span
  // 6 frames and a quarter of the detector each, so pieces must not re-read them wrongly.
  const std::string dir = testing::scratch("hdf5_big_frames");
  const std::string file = dir + "/big.h5";
  const hsize_t sy = 3, sx = 5, dy = 512, dx = 1024;
  std::vector<std::uint16_t> data(sy * sx * dy * dx);
  for (std::size_t k = 0; k < sy * sx; ++k)
    for (std::size_t j = 0; j < dy * dx; ++j) data[k * dy * dx + j] = static_cast<std::uint16_t>((k * 131 + j) % 60000);
  make_h5(file, "/d", {sy, sx, dy, dx}, H5T_STD_U16LE, H5T_NATIVE_UINT16, data, {2, 3, 256, 512}, 1);
  auto src = open_dataset(file);
  CHECK(src->frame_alignment() == 10);  // two scan rows of 5
  for (std::size_t budget : {std::size_t(2) << 20 << 1, std::size_t(24) << 20, std::size_t(256) << 20}) {
    auto all = read_all(*src, budget);
    bool ok = all.size() == data.size();
    for (std::size_t i = 0; ok && i < data.size(); ++i) ok = all[i] == static_cast<float>(data[i]);
    CHECK(ok);
  }
}

TEST_CASE("hdf5: bad input is a one-line error naming the file") {
  const std::string dir = testing::scratch("hdf5_bad");
  // missing file
  Caught e = error_of([&] { open_dataset(dir + "/nope.h5"); });
  CHECK(e.what == dir + "/nope.h5: no such file");
  ReadParams hp;
  hp.format = "hdf5";
  e = error_of([&] { open_dataset(dir + "/nope.h5", hp); });
  CHECK(e.what == dir + "/nope.h5: no such file");
  // not HDF5 (forced reader)
  {
    FILE* f = std::fopen((dir + "/junk.h5").c_str(), "wb");
    std::fputs("this is not an HDF5 file at all, just text", f);
    std::fclose(f);
  }
  e = error_of([&] { open_dataset(dir + "/junk.h5", hp); });
  CHECK(e.what == dir + "/junk.h5: not an HDF5 file");
  ReadParams ep;
  ep.format = "emd";
  e = error_of([&] { open_dataset(dir + "/junk.h5", ep); });
  CHECK(e.what == dir + "/junk.h5: not an HDF5 file");
  // truncated HDF5
  copy_to(dectris("generic_gzip_4d.h5"), dir);
  const std::string cut = dir + "/generic_gzip_4d.h5";
  fs::resize_file(cut, 50000);
  e = error_of([&] { stats(*open_dataset(cut)); });
  CHECK(e.kind == ErrorKind::bad_input);
  CHECK(e.what == cut + ": HDF5 file cannot be opened (truncated or corrupt?)");
  // corrupt compressed chunks: the metadata open, the read fails naming file and dataset
  const std::string bad = dir + "/corrupt.h5";
  fs::copy_file(dectris("generic_gzip_4d.h5"), bad);
  fs::permissions(bad, fs::perms::owner_write, fs::perm_options::add);
  {
    FILE* f = std::fopen(bad.c_str(), "r+b");
    std::fseek(f, 60000, SEEK_SET);
    std::vector<unsigned char> junk(300, 0xFF);
    std::fwrite(junk.data(), 1, junk.size(), f);
    std::fclose(f);
  }
  auto corrupt = open_dataset(bad);
  e = error_of([&] { stats(*corrupt); });
  CHECK(e.kind == ErrorKind::bad_input);
  CHECK(e.what.rfind(bad + ":/data/frames: cannot read frame", 0) == 0);
  CHECK(e.what.find("(truncated or corrupt file?)") != std::string::npos);
  CHECK(one_line(e.what));
  // wrong dataset path: lists what there is
  e = error_of([&] { open_dataset(dectris("generic_gzip_4d.h5") + ":/data/frame"); });
  CHECK(e.what == dectris("generic_gzip_4d.h5") + ":/data/frame: no such dataset; 3-D/4-D datasets in the file: "
                                                  "/data/frames [6x7x64x64] <u2");
  ReadParams dp;
  dp.dataset = "/nothing/here";
  e = error_of([&] { open_dataset(dectris("generic_3d_stack.h5"), dp); });
  CHECK(e.what.rfind(dectris("generic_3d_stack.h5") + ":/nothing/here: no such dataset", 0) == 0);
  // 2D dataset, string dataset, a file with several candidates, a file with none
  const std::string f2 = dir + "/mixed.h5";
  make_h5(f2, "/img", {4, 5}, H5T_STD_U8LE, H5T_NATIVE_UINT8, std::vector<std::uint8_t>(20, 1));
  e = error_of([&] { open_dataset(f2 + ":/img"); });
  CHECK(e.what == f2 + ":/img: 2-D dataset [4x5] is not 4D-STEM data; need 4-D [scan_y, scan_x, det_y, det_x] or "
                       "3-D [frames, det_y, det_x]");
  e = error_of([&] { open_dataset(f2); });
  CHECK(e.what == f2 + ": no 3-D or 4-D numeric dataset in this HDF5 file");
  make_h5(f2, "/a/one", {2, 2, 3, 3}, H5T_STD_U8LE, H5T_NATIVE_UINT8, std::vector<std::uint8_t>(36, 1), {}, 0, true);
  make_h5(f2, "/b/two", {4, 3, 3}, H5T_STD_U8LE, H5T_NATIVE_UINT8, std::vector<std::uint8_t>(36, 2), {}, 0, true);
  e = error_of([&] { open_dataset(f2); });
  CHECK(e.what == f2 + ": 2 datasets could be the data (/a/one [2x2x3x3] |u1, /b/two [4x3x3] |u1); name one as "
                       "FILE.h5:/path or with --read.dataset");
  CHECK(stats(*open_dataset(f2 + ":/a/one")).sum == 36);
  CHECK(open_dataset(f2 + ":/a")->info().object == "/a/one");  // a group with one candidate
  // a 4D dataset with a scan shape that does not match
  ReadParams sp;
  sp.scan_shape = {4, 1};
  e = error_of([&] { open_dataset(f2 + ":/a/one", sp); });
  CHECK(e.kind == ErrorKind::bad_parameter);
  CHECK(e.what == f2 + ":/a/one: read.scan_shape = 4x1 does not match the scan of the 4-D dataset (2x2)");
}

TEST_CASE("hdf5: NaN pixels are an error unless nan_to_zero") {
  const std::string dir = testing::scratch("hdf5_nan");
  const std::string file = dir + "/nan.h5";
  std::vector<float> data(2 * 3 * 4 * 4, 1.0f);
  data[5 * 16 + 7] = std::nanf("");
  make_h5(file, "/d", {2, 3, 4, 4}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, data);
  auto src = open_dataset(file);
  Caught e = error_of([&] { stats(*src); });
  CHECK(e.kind == ErrorKind::bad_input);
  CHECK(e.what.rfind(file + ":/d: frame 5: 1 NaN/Inf pixel(s)", 0) == 0);
  ReadParams p;
  p.nan_to_zero = true;
  auto src2 = open_dataset(file, p);
  CHECK(stats(*src2).sum == 95);
}

TEST_CASE("hdf5: a missing filter plugin is a one-line error naming file, dataset and filter") {
  // Switch off plugin loading and unload the bitshuffle and LZ4 filters for this test.
  h5::silence_hdf5();
  unsigned state = 0;
  H5PLget_loading_state(&state);
  H5PLset_loading_state(0);
  H5Zunregister(32008);
  H5Zunregister(32004);
  H5Eclear2(H5E_DEFAULT);
  Caught e = error_of([&] { open_dataset(dectris("nonzero_master.h5")); });
  Caught e2 = error_of([&] {
    ReadParams p;
    p.scan_shape = {5, 6};
    open_dataset(dectris("generic_3d_stack.h5"), p);
  });
  H5PLset_loading_state(state);
  CHECK(e.kind == ErrorKind::bad_input);
  CHECK(e.what == dectris("nonzero_data_000001.h5") + ":/entry/data/data: compression filter 32008 (bitshuffle) is "
                                                      "not available; install its HDF5 plugin (Debian package "
                                                      "bitshuffle) or set HDF5_PLUGIN_PATH to its folder");
  CHECK(e2.what == dectris("generic_3d_stack.h5") + ":/entry/stack: compression filter 32004 (lz4) is not available; "
                                                    "install its HDF5 plugin (Debian package hdf5-filter-plugin) or "
                                                    "set HDF5_PLUGIN_PATH to its folder");
  // loading again works
  CHECK(stats(*open_dataset(dectris("nonzero_master.h5"))).sum == 936045);
}

// ---------------------------------------------------------------------------------------------
// EMD
// ---------------------------------------------------------------------------------------------

TEST_CASE("emd: py4DSTEM sample, root found by attribute, calibration read") {
  const std::string file = py4dstem_sample();
  auto src = open_dataset(file);
  const DatasetInfo& info = src->info();
  CHECK(info.format == "emd");
  CHECK(info.object == "/datacube_root/datacube/data");
  CHECK(src->shape() == Shape4{4, 8, 128, 128});
  CHECK(info.dtype == "<u2");
  CHECK(info.compression == "none");
  CHECK(info.chunks.empty());
  CHECK(info.calibration.known);
  CHECK(info.calibration.q_pixel_size == 1);
  CHECK(info.calibration.q_units == "pixels");
  CHECK(info.calibration.r_pixel_size == 1);
  CHECK(info.calibration.r_units == "pixels");
  CHECK(meta(info, "python_class") == "DataCube");
  CHECK(meta(info, "emd_root") == "/datacube_root");
  DatasetStats st = stats(*src, 3 * 128 * 128 * 4 * 2);
  CHECK(st.sum == 34142409);
  CHECK(st.min == 0);
  CHECK(st.max == 2171);
  CHECK(px(*src, 0, 0, 64, 64) == 1995);
  CHECK(px(*src, 1, 2, 60, 70) == 84);
  CHECK(px(*src, 3, 7, 10, 20) == 9);
  auto ref = h5_read_all(file, "/datacube_root/datacube/data");
  CHECK(read_all(*src) == ref);
  const std::size_t fp = 128 * 128;
  CHECK(st.first_frame_sum == std::accumulate(ref.begin(), ref.begin() + fp, 0.0));
  CHECK(st.last_frame_sum == std::accumulate(ref.end() - fp, ref.end(), 0.0));

  // `object` may name the root, the DataCube group or its data set
  for (const char* obj : {":datacube_root", ":/datacube_root", ":/datacube_root/datacube", ":/datacube_root/datacube/data"}) {
    CAPTURE(obj);
    ReadParams p;
    p.dataset = std::string(obj).substr(1);
    auto s2 = open_dataset(file, p);
    CHECK(s2->info().object == "/datacube_root/datacube/data");
    CHECK(s2->info().calibration.known);
    CHECK(px(*s2, 0, 0, 64, 64) == 1995);
  }
  ReadParams p;
  p.dataset = "/datacube_root/nothing";
  Caught e = error_of([&] { open_dataset(file, p); });
  CHECK(e.what == file + ":/datacube_root/nothing: no such group or dataset; DataCubes in the file: /datacube_root/datacube");
  p.dataset = "";
  p.axis_order = "rx,ry,qy,qx";
  e = error_of([&] { open_dataset(file, p); });
  CHECK(e.kind == ErrorKind::bad_parameter);
  CHECK(e.what.find("the axes of an EMD DataCube are fixed") != std::string::npos);
}

TEST_CASE("emd: EMD 0.x (Prismatic layout) and other versions are refused clearly") {
  const std::string dir = testing::scratch("emd_old");
  const std::string file = dir + "/Si100_4D.emd";
  make_h5(file, "/4DSTEM_simulation/data/datacubes/CBED_array_depth0000/datacube", {2, 3, 4, 4}, H5T_IEEE_F32LE,
          H5T_NATIVE_FLOAT, std::vector<float>(96, 1.0f));
  {
    h5::Handle f = h5::open_file_rw(file);
    h5::Handle root(H5Gopen2(f, "/", H5P_DEFAULT));
    h5::write_int_attr(root, "version_major", 0);
    h5::write_int_attr(root, "version_minor", 5);
    h5::Handle g(H5Gopen2(f, "/4DSTEM_simulation", H5P_DEFAULT));
    h5::write_int_attr(g, "emd_group_type", 2);
  }
  CHECK(detect_format(file) == "emd");
  Caught e = error_of([&] { open_dataset(file); });
  CHECK(e.kind == ErrorKind::bad_input);
  CHECK(e.what.rfind(file + ": Berkeley EMD 0.5 file (e.g. Prismatic or py4DSTEM <= 0.13 output), not EMD 1.0", 0) == 0);
  CHECK(e.what.find("--read.format hdf5 " + file + ":/4DSTEM_simulation/data/datacubes/CBED_array_depth0000/datacube") !=
        std::string::npos);
  CHECK(one_line(e.what));
  ReadParams hp;
  hp.format = "hdf5";
  CHECK(stats(*open_dataset(file + ":/4DSTEM_simulation/data/datacubes/CBED_array_depth0000/datacube", hp)).sum == 96);

  // EMD 1.1: refused
  const std::string f11 = dir + "/v11.h5";
  make_h5(f11, "/r/cube/data", {2, 2, 3, 3}, H5T_STD_U8LE, H5T_NATIVE_UINT8, std::vector<std::uint8_t>(36, 1));
  {
    h5::Handle f = h5::open_file_rw(f11);
    h5::Handle root(H5Gopen2(f, "/", H5P_DEFAULT));
    h5::write_string_attr(root, "emd_group_type", "file");
    h5::write_int_attr(root, "version_major", 1);
    h5::write_int_attr(root, "version_minor", 1);
  }
  e = error_of([&] { open_dataset(f11); });
  CHECK(e.what == f11 + ": EMD version 1.1 is not supported (EMD 1.0 only)");
}

// ---------------------------------------------------------------------------------------------
// write_emd
// ---------------------------------------------------------------------------------------------

TEST_CASE("emd: write_emd round trips every sample file bit for bit (none, gzip, lz4)") {
  struct Src {
    std::string spec;
    Shape2 scan;
    const char* dtype_out;
  };
  const std::string dir = testing::scratch("emd_roundtrip");
  for (const Src& s : {Src{dectris("test_00_master.h5"), {}, "<u4"}, Src{dectris("nonzero_master.h5"), {}, "<u2"},
                       Src{dectris("generic_gzip_4d.h5"), {}, "<u2"}, Src{dectris("generic_3d_stack.h5"), {5, 6}, "<f4"},
                       Src{py4dstem_sample(), {}, "<u2"}}) {
    CAPTURE(s.spec);
    ReadParams rp;
    rp.scan_shape = s.scan;
    auto src = open_dataset(s.spec, rp);
    const std::vector<float> ref = read_all(*src);
    for (const char* comp : {"none", "gzip", "lz4"}) {
      CAPTURE(comp);
      const std::string out = dir + "/out_" + comp + ".emd";
      WriteParams wp;
      wp.compress = comp;
      RunContext ctx;
      ctx.memory_budget = 4 * src->shape().frame_pixels() * 4 * 2;  // 4 frames per block
      std::int64_t last_done = -1, calls = 0;
      ctx.progress = [&](const char* stage, std::int64_t done, std::int64_t total) {
        CHECK(std::string(stage) == "convert");
        CHECK(total == src->shape().n_frames());
        last_done = done;
        ++calls;
      };
      write_emd(*src, out, wp, ctx);
      CHECK(last_done == src->shape().n_frames());
      CHECK(calls > 1);
      auto back = open_dataset(out);
      CHECK(back->info().format == "emd");
      CHECK(back->shape() == src->shape());
      CHECK(back->info().dtype == s.dtype_out);
      CHECK(back->info().compression == (std::string(comp) == "none" ? "none" : comp));
      CHECK(back->info().chunks ==
            std::vector<std::int64_t>{1, 1, src->shape().det_y, src->shape().det_x});
      CHECK(back->info().calibration.known);
      CHECK(read_all(*back) == ref);
    }
  }
  // the masked Dectris data written as stored: 65535 survives in uint16
  ReadParams rp;
  rp.apply_mask = false;
  auto raw = open_dataset(dectris("nonzero_master.h5"), rp);
  RunContext ctx;
  write_emd(*raw, dir + "/raw.emd", WriteParams{}, ctx);
  DatasetStats st = stats(*open_dataset(dir + "/raw.emd"));
  CHECK(st.sum == 7489545);
  CHECK(st.max == 65535);
  CHECK(files_in(dir).size() == 4);  // out_none, out_gzip, out_lz4, raw: no temporaries left
}

TEST_CASE("emd: write_emd layout is what py4DSTEM reads (vlen strings, metadata types, calibration)") {
  const std::string dir = testing::scratch("emd_layout");
  SyntheticSource src(Shape4{3, 4, 6, 5}, "<u2");
  src.mutable_info().calibration = Calibration{0.0125, "A^-1", 2.5, "nm", true};
  const std::string out = dir + "/cal.emd";
  RunContext ctx;
  write_emd(src, out, WriteParams{}, ctx);

  h5::Handle f = h5::open_file_read(out);
  h5::Handle root(H5Gopen2(f, "/", H5P_DEFAULT));
  bool vlen = false;
  CHECK(attr_string_class(root, "emd_group_type", vlen) == "file");
  CHECK(vlen);
  CHECK(h5::read_number_attr(root, "version_major") == 1.0);
  CHECK(h5::read_number_attr(root, "version_minor") == 0.0);
  CHECK(h5::read_string_attr(root, "UUID").value_or("").size() == 36);
  h5::Handle r(H5Gopen2(f, "/datacube_root", H5P_DEFAULT));
  CHECK(attr_string_class(r, "emd_group_type", vlen) == "root");
  CHECK(vlen);
  CHECK(attr_string_class(r, "python_class", vlen) == "Root");
  h5::Handle cal(H5Gopen2(f, "/datacube_root/metadatabundle/calibration", H5P_DEFAULT));
  REQUIRE(cal.valid());
  CHECK(attr_string_class(cal, "python_class", vlen) == "Calibration");
  CHECK(vlen);
  for (auto [name, type] : {std::pair{"Q_pixel_size", "number"}, {"R_pixel_size", "number"}, {"Q_pixel_units", "string"},
                            {"R_pixel_units", "string"}, {"QR_flip", "bool"}, {"_root_treepath", "string"}}) {
    CAPTURE(name);
    h5::Handle d(H5Dopen2(cal, name, H5P_DEFAULT));
    REQUIRE(d.valid());
    CHECK(attr_string_class(d, "type", vlen) == type);
    CHECK(vlen);
  }
  {
    h5::Handle d(H5Dopen2(cal, "QR_flip", H5P_DEFAULT));
    h5::Handle t(H5Dget_type(d));
    CHECK(H5Tget_class(t) == H5T_ENUM);
    CHECK(H5Tget_size(t) == 1);
  }
  CHECK(h5::read_doubles(h5::open_dataset(cal, "Q_pixel_size", out), out) == std::vector<double>{0.0125});
  CHECK(h5::read_string_dataset(h5::open_dataset(cal, "R_pixel_units", out), out) == "nm");
  h5::Handle tp(H5Gopen2(cal, "_target_paths", H5P_DEFAULT));
  CHECK(attr_string_class(tp, "type", vlen) == "list_of_strings");
  CHECK(h5::read_number_attr(tp, "length") == 1.0);
  CHECK(h5::read_string_dataset(h5::open_dataset(tp, "0", out), out) == "/datacube");
  h5::Handle cube(H5Gopen2(f, "/datacube_root/datacube", H5P_DEFAULT));
  CHECK(attr_string_class(cube, "emd_group_type", vlen) == "array");
  CHECK(attr_string_class(cube, "python_class", vlen) == "DataCube");
  h5::Handle data(H5Dopen2(cube, "data", H5P_DEFAULT));
  CHECK(attr_string_class(data, "units", vlen) == "pixel intensity");
  CHECK(h5::dataset_dims(data) == std::vector<std::int64_t>{3, 4, 6, 5});
  const char* names[4] = {"Rx", "Ry", "Qx", "Qy"};
  for (int i = 0; i < 4; ++i) {
    h5::Handle d(H5Dopen2(cube, ("dim" + std::to_string(i)).c_str(), H5P_DEFAULT));
    REQUIRE(d.valid());
    CHECK(attr_string_class(d, "name", vlen) == names[i]);
    CHECK(attr_string_class(d, "units", vlen) == (i < 2 ? "nm" : "A^-1"));
    CHECK(h5::read_doubles(d, out) == std::vector<double>{0.0, i < 2 ? 2.5 : 0.0125});
  }

  // read back: calibration and values
  auto back = open_dataset(out);
  CHECK(back->info().calibration.known);
  CHECK(back->info().calibration.q_pixel_size == 0.0125);
  CHECK(back->info().calibration.q_units == "A^-1");
  CHECK(back->info().calibration.r_pixel_size == 2.5);
  CHECK(back->info().calibration.r_units == "nm");
  CHECK(read_all(*back) == read_all(src));
}

TEST_CASE("emd: write_emd dtype choice and exactness") {
  const std::string dir = testing::scratch("emd_dtype");
  RunContext ctx;
  struct C {
    const char* src_dtype;
    const char* want;
    const char* stored;
  };
  for (const C& c : {C{"|u1", "auto", "|u1"}, C{">u2", "auto", "<u2"}, C{"<u4", "auto", "<u4"}, C{"<i2", "auto", "<f4"},
                     C{"1-bit", "auto", "|u1"}, C{"<f4", "auto", "<f4"}, C{"<f4", "uint16", "<u2"},
                     C{"<u2", "float32", "<f4"}, C{"<u2", "uint32", "<u4"}}) {
    CAPTURE(c.src_dtype);
    CAPTURE(c.want);
    SyntheticSource src(Shape4{2, 3, 5, 3}, c.src_dtype, 200);  // 15-pixel frames: vector tails
    WriteParams wp;
    wp.dtype = c.want;
    write_emd(src, dir + "/t.emd", wp, ctx);
    auto back = open_dataset(dir + "/t.emd");
    CHECK(back->info().dtype == c.stored);
    CHECK(read_all(*back) == read_all(src));
  }
  // 256 in uint8 and 0.5 in uint16 are refused, and nothing is left behind
  const std::string d2 = testing::scratch("emd_dtype_bad");
  SyntheticSource big(Shape4{2, 3, 4, 4}, "<u2", 1000);
  WriteParams wp;
  wp.dtype = "uint8";
  Caught e = error_of([&] { write_emd(big, d2 + "/x.emd", wp, ctx); });
  CHECK(e.kind == ErrorKind::bad_input);
  CHECK(e.what.rfind(d2 + "/x.emd: value ", 0) == 0);
  CHECK(e.what.find("cannot be stored exactly as uint8; use --write.dtype float32") != std::string::npos);
  SyntheticSource half(Shape4{2, 3, 4, 4}, "<u2", 1000, true);
  wp.dtype = "uint16";
  e = error_of([&] { write_emd(half, d2 + "/x.emd", wp, ctx); });
  CHECK(e.what == d2 + "/x.emd: value 0.5 in frame 0 cannot be stored exactly as uint16; use --write.dtype float32");
  wp.dtype = "int7";
  e = error_of([&] { write_emd(half, d2 + "/x.emd", wp, ctx); });
  CHECK(e.kind == ErrorKind::bad_parameter);
  CHECK(files_in(d2).empty());
}

TEST_CASE("emd: write_emd leaves no file behind when the source fails or the run is cancelled") {
  const std::string dir = testing::scratch("emd_fail");
  SyntheticSource src(Shape4{8, 8, 16, 16}, "<u2");
  src.throw_at = 40;
  RunContext ctx;
  ctx.memory_budget = 2 * 8 * 16 * 16 * 4;  // one row per block
  Caught e = error_of([&] { write_emd(src, dir + "/out.emd", WriteParams{}, ctx); });
  CHECK(e.what == "synthetic: frame 40: read error (test)");
  CHECK(files_in(dir).empty());

  // an existing output is left untouched by a failed write
  src.throw_at = -1;
  write_emd(src, dir + "/out.emd", WriteParams{}, ctx);
  const auto size = fs::file_size(dir + "/out.emd");
  src.throw_at = 10;
  CHECK(error_of([&] { write_emd(src, dir + "/out.emd", WriteParams{}, ctx); }).thrown);
  CHECK(files_in(dir) == std::vector<std::string>{"out.emd"});
  CHECK(fs::file_size(dir + "/out.emd") == size);

  // cancelled after the second block
  src.throw_at = -1;
  std::atomic<bool> cancel{false};
  ctx.cancel = &cancel;
  ctx.progress = [&](const char*, std::int64_t done, std::int64_t) {
    if (done >= 16) cancel = true;
  };
  e = error_of([&] { write_emd(src, dir + "/cancelled.emd", WriteParams{}, ctx); });
  CHECK(e.kind == ErrorKind::interrupted);
  CHECK(files_in(dir) == std::vector<std::string>{"out.emd"});

  // an output folder that does not exist
  ctx.cancel = nullptr;
  ctx.progress = nullptr;
  e = error_of([&] { write_emd(src, dir + "/no/such/dir/x.emd", WriteParams{}, ctx); });
  CHECK(e.kind == ErrorKind::io);
  CHECK(e.what.rfind(dir + "/no/such/dir/x.emd: cannot create the output file", 0) == 0);
}
