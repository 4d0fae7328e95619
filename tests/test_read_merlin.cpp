// tests/test_read_merlin.cpp: the Merlin .mib reader and write_mib, against the statistics of
// shared/data/real/merlin/README.md, on edited copies (interrupted, truncated, corrupt) and in
// round trips.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "domainmap/dataset.hpp"
#include "domainmap/error.hpp"
#include "domainmap/write.hpp"
#include "testing.hpp"

using namespace domainmap;
namespace fs = std::filesystem;

namespace {

std::string merlin(const std::string& name) { return testing::shared("data/real/merlin/" + name); }

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
void spit(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// All frames of a source, read with BlockStream under a small budget (several blocks).
std::vector<float> read_all(FrameSource& src, std::size_t budget = 1 << 20) {
  const Shape4 s = src.shape();
  std::vector<float> all(static_cast<std::size_t>(s.n_frames() * s.frame_pixels()));
  BlockStream stream(src, std::max<std::size_t>(budget, 2 * 4 * s.frame_pixels()));
  FrameBlock b;
  while (stream.next(b))
    std::copy(b.data, b.data + b.n_frames * b.frame_pixels, all.begin() + b.first_frame * b.frame_pixels);
  return all;
}

std::string meta(const DatasetInfo& info, const std::string& key) {
  for (const auto& [k, v] : info.metadata)
    if (k == key) return v;
  return "(missing)";
}

bool has_note(const DatasetInfo& info, const std::string& text) {
  for (const auto& n : info.notes)
    if (n == text) return true;
  return false;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

struct Px {
  std::int64_t sy, sx, y, x;
  double v;
};
struct Expect {
  const char* name;
  Shape4 shape;
  const char* dtype;
  double sum, min, max, first, last, my, mx;
  Px p1, p2, p3;
  std::vector<double> frame_sums;
};

// shared/data/real/merlin/README.md, sections 3 (reader default: no scan-shape hint).
const std::vector<Expect>& readme() {
  static const std::vector<Expect> t = {
      {"001_4x2_6bit", {1, 8, 256, 256}, ">u1", 3623664, 0, 63, 448386, 457927, 56583977, 18765269,
       {0, 0, 73, 19, 63}, {0, 0, 0, 0, 2}, {0, 7, 255, 255, 1},
       {448386, 449671, 452147, 455427, 450760, 453755, 455591, 457927}},
      {"002_4x2_6bit_roi128", {1, 8, 128, 256}, ">u1", 3263829, 0, 63, 364514, 419507, 23817632, 14443321,
       {0, 0, 17, 1, 63}, {0, 0, 0, 0, 22}, {0, 7, 127, 255, 5},
       {364514, 409459, 412262, 414540, 414287, 413422, 415838, 419507}},
      {"002_merlin_test_roi_sig256x128_nav4x2_hot_pixel_52x_39y", {2, 4, 128, 256}, ">u2", 79, 0, 10, 10, 8, 524, 638,
       {1, 1, 39, 52, 10}, {0, 0, 39, 52, 8}, {1, 3, 106, 111, 2}, {10, 7, 10, 8, 12, 12, 12, 8}},
      {"Single_9_Frame_CounterDepth_1_Rows_256", {1, 9, 256, 256}, ">u1", 21614, 0, 1, 2389, 2404, 230686, 212688,
       {0, 0, 0, 0, 1}, {0, 0, 0, 2, 1}, {0, 8, 255, 0, 1}, {2389, 2405, 2402, 2407, 2402, 2399, 2402, 2404, 2404}},
      {"Single_9_Frame_CounterDepth_6_Rows_256", {1, 9, 256, 256}, ">u1", 217684, 0, 63, 24125, 24193, 2328165,
       2164669, {0, 0, 1, 134, 63}, {0, 0, 0, 2, 10}, {0, 8, 255, 254, 2},
       {24125, 24181, 24247, 24195, 24191, 24183, 24184, 24185, 24193}},
      {"Single_9_Frame_CounterDepth_12_Rows_256", {1, 9, 256, 256}, ">u2", 260753, 0, 2216, 29032, 29026, 3063243,
       3194625, {0, 7, 210, 213, 2216}, {0, 0, 0, 2, 10}, {0, 8, 255, 254, 2},
       {29032, 29076, 28899, 28730, 28893, 28878, 29164, 29055, 29026}},
      {"Single_9_Frame_CounterDepth_24_Rows_256", {1, 9, 256, 256}, ">u4", 258156, 0, 2074, 28662, 28551, 3051270,
       3128333, {0, 0, 210, 213, 2074}, {0, 0, 0, 2, 10}, {0, 8, 255, 254, 3},
       {28662, 28637, 28828, 28346, 29094, 28746, 28626, 28666, 28551}},
      {"Single_9_Frame_CounterDepth_1_Rows_256RAW", {1, 9, 256, 256}, "1-bit", 21605, 0, 1, 2390, 2409, 230679,
       212758, {0, 0, 0, 0, 1}, {0, 0, 0, 2, 1}, {0, 8, 255, 0, 1},
       {2390, 2404, 2400, 2400, 2398, 2408, 2401, 2395, 2409}},
      {"Quad_1_Frame_CounterDepth_6_Rows_256", {1, 1, 512, 512}, ">u1", 115263, 0, 63, 115263, 115263, 28740271,
       30284281, {0, 0, 2, 287, 63}, {0, 0, 0, 10, 11}, {0, 0, 511, 495, 11}, {115263}},
      {"Quad_1_Frame_CounterDepth_12_Rows_256", {1, 1, 512, 512}, ">u2", 845907, 0, 4093, 845907, 845907, 119325235,
       273245505, {0, 0, 12, 286, 4093}, {0, 0, 0, 10, 11}, {0, 0, 511, 495, 12}, {845907}},
      {"Quad_1_Frame_CounterDepth_1_Rows_256RAW", {1, 1, 512, 512}, "1-bit", 10348, 0, 1, 10348, 10348, 2697316,
       2643955, {0, 0, 0, 0, 1}, {0, 0, 2, 287, 1}, {0, 0, 509, 300, 1}, {10348}},
  };
  return t;
}

ReadParams no_hint() {
  ReadParams p;
  p.merlin_scan_from_timestamps = false;
  return p;
}

double at(const std::vector<float>& a, const Shape4& s, const Px& p) {
  return a[static_cast<std::size_t>(((p.sy * s.scan_x + p.sx) * s.det_y + p.y) * s.det_x + p.x)];
}

void check_against_readme(const Expect& e, FrameSource& src) {
  INFO(e.name);
  const Shape4 s = src.shape();
  CHECK(s == e.shape);
  CHECK(src.info().format == "merlin");
  CHECK(src.info().dtype == e.dtype);
  CHECK(src.info().frames_present == e.shape.n_frames());
  std::vector<float> a = read_all(src);
  const std::int64_t fp = s.frame_pixels();
  double sum = 0, mn = 1e30, mx = -1e30;
  std::vector<double> fs(static_cast<std::size_t>(s.n_frames()), 0.0);
  for (std::int64_t k = 0; k < s.n_frames(); ++k)
    for (std::int64_t j = 0; j < fp; ++j) {
      const double v = a[static_cast<std::size_t>(k * fp + j)];
      fs[static_cast<std::size_t>(k)] += v;
      mn = std::min(mn, v);
      mx = std::max(mx, v);
    }
  for (double f : fs) sum += f;
  CHECK(sum == e.sum);
  CHECK(mn == e.min);
  CHECK(mx == e.max);
  CHECK(fs.front() == e.first);
  CHECK(fs.back() == e.last);
  CHECK(fs == e.frame_sums);
  double my = 0, mxm = 0;
  for (std::int64_t y = 0; y < s.det_y; ++y)
    for (std::int64_t x = 0; x < s.det_x; ++x) {
      my += a[static_cast<std::size_t>(y * s.det_x + x)] * static_cast<double>(y);
      mxm += a[static_cast<std::size_t>(y * s.det_x + x)] * static_cast<double>(x);
    }
  CHECK(my == e.my);
  CHECK(mxm == e.mx);
  CHECK(at(a, s, e.p1) == e.p1.v);
  CHECK(at(a, s, e.p2) == e.p2.v);
  CHECK(at(a, s, e.p3) == e.p3.v);
  // p1 is the first position of the global maximum
  CHECK(static_cast<std::int64_t>(std::max_element(a.begin(), a.end()) - a.begin()) ==
        ((e.p1.sy * s.scan_x + e.p1.sx) * s.det_y + e.p1.y) * s.det_x + e.p1.x);
  // compute_stats (the library's own streamed statistics) agrees
  RunContext ctx;
  ctx.memory_budget = 3 * 4 * fp * 2;
  DatasetStats st = compute_stats(src, ctx);
  CHECK(st.sum == e.sum);
  CHECK(st.max == e.max);
  CHECK(st.first_frame_sum == e.first);
  CHECK(st.last_frame_sum == e.last);
}

// A scan whose pixel j of frame k is (k * 7 + j * 3) % modulo, stored as `dtype`.
class SyntheticSource : public FrameSource {
public:
  SyntheticSource(Shape4 s, std::string dtype, int modulo) : modulo_(modulo) {
    info_.shape = s;
    info_.format = "test";
    info_.dtype = std::move(dtype);
    info_.frames_present = s.n_frames();
  }
  static float value(std::int64_t k, std::int64_t j, int modulo) { return static_cast<float>((k * 7 + j * 3) % modulo); }
  void read_frames(std::int64_t first, std::int64_t count, float* out) override {
    const std::int64_t fp = shape().frame_pixels();
    for (std::int64_t k = 0; k < count; ++k)
      for (std::int64_t j = 0; j < fp; ++j) out[k * fp + j] = value(first + k, j, modulo_);
    if (poke_frame >= first && poke_frame < first + count) out[(poke_frame - first) * fp + 5] = poke_value;
  }
  DatasetInfo& mutable_info() { return info_; }
  std::int64_t poke_frame = -1;  // frame whose pixel 5 gets poke_value
  float poke_value = 0;
private:
  int modulo_;
};

bool only_these_files(const std::string& dir, std::vector<std::string> names) {
  std::vector<std::string> have;
  for (const auto& e : fs::directory_iterator(dir)) have.push_back(e.path().filename().string());
  std::sort(have.begin(), have.end());
  std::sort(names.begin(), names.end());
  return have == names;
}

} // namespace

TEST_CASE("merlin: every sample .mib matches the README statistics") {
  for (const Expect& e : readme()) {
    auto src = open_dataset(merlin(std::string(e.name) + ".mib"), no_hint());
    check_against_readme(e, *src);
  }
}

TEST_CASE("merlin: opening the .hdr reads the .mib beside it, identically") {
  for (const Expect& e : readme()) {
    INFO(e.name);
    CHECK(detect_format(merlin(std::string(e.name) + ".hdr")) == "merlin");
    auto a = open_dataset(merlin(std::string(e.name) + ".mib"), no_hint());
    auto b = open_dataset(merlin(std::string(e.name) + ".hdr"), no_hint());
    CHECK(b->info().path == merlin(std::string(e.name) + ".hdr"));
    CHECK(meta(b->info(), "mib_file") == merlin(std::string(e.name) + ".mib"));
    CHECK(a->shape() == b->shape());
    CHECK(read_all(*a) == read_all(*b));
  }
}

TEST_CASE("merlin: quad chips are placed as the README says (quadrant sums and pixels)") {
  struct Q {
    const char* name;
    double tl, tr, bl, br;
    Px p[4];
  };
  const Q qs[] = {
      {"Quad_1_Frame_CounterDepth_6_Rows_256", 24392, 34994, 26178, 29699,
       {{0, 0, 0, 0, 10}, {0, 0, 0, 258, 10}, {0, 0, 257, 1, 12}, {0, 0, 256, 368, 8}}},
      {"Quad_1_Frame_CounterDepth_12_Rows_256", 29231, 735973, 28806, 51897,
       {{0, 0, 0, 0, 10}, {0, 0, 0, 258, 10}, {0, 0, 257, 1, 11}, {0, 0, 256, 368, 9}}},
      {"Quad_1_Frame_CounterDepth_1_Rows_256RAW", 2399, 2531, 2584, 2834,
       {{0, 0, 0, 0, 1}, {0, 0, 0, 258, 1}, {0, 0, 258, 0, 1}, {0, 0, 258, 476, 1}}},
  };
  for (const Q& q : qs) {
    INFO(q.name);
    auto src = open_dataset(merlin(std::string(q.name) + ".mib"), no_hint());
    std::vector<float> a = read_all(*src);
    double sums[4] = {0, 0, 0, 0};
    for (int y = 0; y < 512; ++y)
      for (int x = 0; x < 512; ++x) sums[(y >= 256) * 2 + (x >= 256)] += a[static_cast<std::size_t>(y * 512 + x)];
    CHECK(sums[0] == q.tl);
    CHECK(sums[1] == q.tr);
    CHECK(sums[2] == q.bl);
    CHECK(sums[3] == q.br);
    for (const Px& p : q.p) CHECK(at(a, src->shape(), p) == p.v);
    CHECK(meta(src->info(), "chips") == "4");
    CHECK(meta(src->info(), "chip_layout") == "2x2");
  }
}

TEST_CASE("merlin: RAW 1-bit decode agrees with the processed files of the same chips") {
  // 9-frame sum images of the RAW and the processed 1-bit single-chip files differ at 39 pixels.
  auto raw = open_dataset(merlin("Single_9_Frame_CounterDepth_1_Rows_256RAW.mib"), no_hint());
  auto proc = open_dataset(merlin("Single_9_Frame_CounterDepth_1_Rows_256.mib"), no_hint());
  std::vector<float> r = read_all(*raw), q = read_all(*proc);
  std::vector<float> rs(65536, 0), qs(65536, 0);
  for (std::size_t k = 0; k < 9; ++k)
    for (std::size_t j = 0; j < 65536; ++j) {
      rs[j] += r[k * 65536 + j];
      qs[j] += q[k * 65536 + j];
    }
  int differ = 0;
  for (std::size_t j = 0; j < 65536; ++j) differ += rs[j] != qs[j];
  CHECK(differ == 39);
  // row 0 of frame 0 has one 0, at column 122 (bit 58 of the second big-endian word)
  std::vector<int> zeros;
  for (int x = 0; x < 256; ++x)
    if (r[static_cast<std::size_t>(x)] == 0) zeros.push_back(x);
  CHECK(zeros == std::vector<int>{122});
  CHECK(meta(raw->info(), "raw_mode") == "yes (R64, decoded)");
  CHECK(meta(raw->info(), "counter_depth") == "1");

  // the assembled RAW quad vs the non-zero mask of the 6-bit quad: 174 pixels differ
  auto rq = open_dataset(merlin("Quad_1_Frame_CounterDepth_1_Rows_256RAW.mib"), no_hint());
  auto pq = open_dataset(merlin("Quad_1_Frame_CounterDepth_6_Rows_256.mib"), no_hint());
  CHECK(rq->shape() == Shape4{1, 1, 512, 512});
  CHECK(meta(rq->info(), "stored_frame") == "1024 x 256 (width x height), assembled to 512 x 512");
  std::vector<float> a = read_all(*rq), m = read_all(*pq);
  differ = 0;
  for (std::size_t j = 0; j < a.size(); ++j) differ += a[j] != (m[j] > 0 ? 1.0f : 0.0f);
  CHECK(differ == 174);
}

TEST_CASE("merlin: metadata from the frame headers and the .hdr") {
  auto src = open_dataset(merlin("002_merlin_test_roi_sig256x128_nav4x2_hot_pixel_52x_39y.mib"), no_hint());
  const DatasetInfo& i = src->info();
  CHECK(meta(i, "counter_depth") == "12");
  CHECK(meta(i, "pixel_type") == "U16");
  CHECK(meta(i, "chips") == "1");
  CHECK(meta(i, "chip_layout") == "1x1");
  CHECK(meta(i, "chip_types") == "3RX");
  CHECK(meta(i, "header_bytes") == "384");
  CHECK(meta(i, "frame_bytes") == "65920");
  CHECK(meta(i, "exposure_s") == "0.001000");
  CHECK(meta(i, "exposure_ns") == "1000000ns");
  CHECK(meta(i, "thresholds_keV") ==
        "1.200000E+1,5.110000E+2,0.000000E+0,0.000000E+0,0.000000E+0,0.000000E+0,0.000000E+0,0.000000E+0");
  CHECK(meta(i, "start_time_utc") == "2024-07-02T11:46:44.035393175Z");
  CHECK(meta(i, "scan_shape_source") == ".hdr ScanY x ScanX");
  CHECK(meta(i, "hdr.ScanX") == "4");
  CHECK(meta(i, "hdr.ScanY") == "2");
  CHECK(meta(i, "hdr.Frames in Acquisition") == "8");
  CHECK(meta(i, "hdr.Software Version") == "1.5.0.197");
  CHECK(meta(i, "hdr.Chip Mode") == "SPM");
  CHECK(meta(i, "hdr.bpc File") == "c:\\MERLIN_Quad_Config\\W559_G11\\W559_G11_SPM.bpc,,,");
  CHECK(i.notes.empty());
  CHECK_FALSE(i.calibration.known);
  // the hot pixel (x 52, y 39 in stored order) is the unique maximum of every frame
  std::vector<float> a = read_all(*src);
  const std::vector<float> hot = {8, 4, 8, 7, 9, 10, 10, 6};
  for (std::size_t k = 0; k < 8; ++k) {
    const float* f = a.data() + k * 128 * 256;
    CHECK(f[39 * 256 + 52] == hot[k]);
    CHECK(std::count(f, f + 128 * 256, hot[k]) == 1);
    CHECK(*std::max_element(f, f + 128 * 256) == hot[k]);
  }
  auto q = open_dataset(merlin("Quad_1_Frame_CounterDepth_12_Rows_256.mib"), no_hint());
  CHECK(meta(q->info(), "chip_types") == "3RX,3RX,3RX,3RX");
  CHECK(meta(q->info(), "chip_select") == "0F");
  CHECK(meta(q->info(), "header_bytes") == "768");
  CHECK(q->info().notes.empty());  // a 1-frame file needs no scan shape
}

TEST_CASE("merlin: scan shape from the user, the .hdr, line flybacks in the frame times, or one row") {
  ReadParams hint;
  hint.merlin_scan_from_timestamps = true;
  // 001 and 002_roi128: a 20.8 us longer gap after every 4 frames -> 2 x 4
  for (const char* name : {"001_4x2_6bit", "002_4x2_6bit_roi128"}) {
    INFO(name);
    auto s = open_dataset(merlin(std::string(name) + ".mib"), hint);
    CHECK(s->shape().scan_y == 2);
    CHECK(s->shape().scan_x == 4);
    CHECK(meta(s->info(), "scan_shape_source") == "frame times (line flyback)");
    CHECK(has_note(s->info(), merlin(std::string(name) + ".mib") +
                                  ": scan shape 2x4 inferred from the frame times (a longer gap after every 4 "
                                  "frames: line flyback); give --read.scan_shape to override"));
  }
  // equal gaps (10 ns jitter) give no hint
  for (const char* name : {"Single_9_Frame_CounterDepth_1_Rows_256", "Single_9_Frame_CounterDepth_6_Rows_256",
                           "Single_9_Frame_CounterDepth_12_Rows_256", "Single_9_Frame_CounterDepth_24_Rows_256",
                           "Single_9_Frame_CounterDepth_1_Rows_256RAW"}) {
    INFO(name);
    auto s = open_dataset(merlin(std::string(name) + ".mib"), hint);
    CHECK(s->shape() == Shape4{1, 9, 256, 256});
    CHECK(meta(s->info(), "scan_shape_source") == "none (one row)");
  }
  // without the hint: one row, and a note saying so
  auto one = open_dataset(merlin("001_4x2_6bit.mib"), no_hint());
  CHECK(one->shape() == Shape4{1, 8, 256, 256});
  CHECK(has_note(one->info(), merlin("001_4x2_6bit.mib") +
                                  ": no scan shape in the .hdr (ScanX/ScanY); read as one row of 8 frames; give "
                                  "--read.scan_shape ROWSxCOLS"));
  // the user's scan shape wins: README section 5 pixels for (2, 4)
  ReadParams user = no_hint();
  user.scan_shape = {2, 4};
  auto s = open_dataset(merlin("001_4x2_6bit.mib"), user);
  CHECK(s->shape() == Shape4{2, 4, 256, 256});
  CHECK(meta(s->info(), "scan_shape_source") == "read.scan_shape");
  std::vector<float> a = read_all(*s);
  CHECK(at(a, s->shape(), {0, 0, 73, 19, 0}) == 63);
  CHECK(at(a, s->shape(), {1, 3, 255, 255, 0}) == 1);
  CHECK(read_pattern(*s, 1, 3) == std::vector<float>(a.end() - 65536, a.end()));
  auto r = open_dataset(merlin("002_4x2_6bit_roi128.mib"), user);
  CHECK(at(read_all(*r), r->shape(), {1, 3, 127, 255, 0}) == 5);
  // more frames than the scan: the first ones, said so
  user.scan_shape = {1, 5};
  auto five = open_dataset(merlin("001_4x2_6bit.mib"), user);
  CHECK(five->shape().n_frames() == 5);
  CHECK(five->info().frames_present == 5);
  CHECK(has_note(five->info(), merlin("001_4x2_6bit.mib") + ": 8 frames in the file; the 1x5 scan uses the first 5"));
  // the .hdr's ScanY x ScanX wins over the frame times
  auto h = open_dataset(merlin("002_merlin_test_roi_sig256x128_nav4x2_hot_pixel_52x_39y.mib"), hint);
  CHECK(h->shape() == Shape4{2, 4, 128, 256});
}

TEST_CASE("merlin: an interrupted acquisition keeps the complete rows, or the scan shape with read.pad_missing") {
  const std::string dir = testing::scratch("merlin_interrupted");
  const std::string name = "002_merlin_test_roi_sig256x128_nav4x2_hot_pixel_52x_39y";
  const std::string full = slurp(merlin(name + ".mib"));
  const std::size_t stride = 65920;
  REQUIRE(full.size() == 8 * stride);
  const std::string cut = dir + "/" + name + ".mib";
  spit(cut, full.substr(0, 6 * stride));
  fs::copy_file(merlin(name + ".hdr"), dir + "/" + name + ".hdr");
  // default: the complete scan rows (format notes section 7)
  auto rows = open_dataset(cut, no_hint());
  CHECK(rows->shape() == Shape4{1, 4, 128, 256});
  CHECK(rows->info().frames_present == 4);
  CHECK(has_note(rows->info(), cut + ": 6 of 8 frames of the 2x4 scan present (interrupted acquisition); reading the "
                                     "complete 1x4, dropping the last 2; --read.pad_missing true keeps the scan shape "
                                     "with missing frames as 0"));
  // asked for: the planned scan, missing frames as 0
  ReadParams pad = no_hint();
  pad.pad_missing = true;
  auto src = open_dataset(cut, pad);
  CHECK(src->shape() == Shape4{2, 4, 128, 256});
  CHECK(src->info().frames_present == 6);
  CHECK(has_note(src->info(),
                 cut + ": 6 of 8 frames present (interrupted acquisition); missing frames read as 0 (read.pad_missing)"));
  std::vector<float> a = read_all(*src, 3 * 128 * 256 * 4 * 2);  // 3 frames per block: one block straddles the end
  const std::vector<double> sums = {10, 7, 10, 8, 12, 12, 0, 0};
  for (std::size_t k = 0; k < 8; ++k) {
    double s = 0;
    for (std::size_t j = 0; j < 128 * 256; ++j) s += a[k * 128 * 256 + j];
    CHECK(s == sums[k]);
  }
  CHECK(a[5 * 128 * 256 + 39 * 256 + 52] == 10);
  CHECK(read_pattern(*src, 1, 3) == std::vector<float>(128 * 256, 0.0f));

  // 001 cut to 6 frames; its .hdr announces 8: one row of 8 planned, 6 present
  const std::string c1 = dir + "/001_4x2_6bit.mib";
  spit(c1, slurp(merlin("001_4x2_6bit.mib")).substr(0, 6 * stride));
  fs::copy_file(merlin("001_4x2_6bit.hdr"), dir + "/001_4x2_6bit.hdr");
  RunContext ctx;
  auto one_rows = open_dataset(c1, no_hint());
  CHECK(one_rows->shape() == Shape4{1, 6, 256, 256});  // not one row complete: the frames as one row
  CHECK(compute_stats(*one_rows, ctx).sum == 2710146);  // README section 5: the 6 complete frames
  auto one = open_dataset(c1, pad);
  CHECK(one->shape() == Shape4{1, 8, 256, 256});
  CHECK(one->info().frames_present == 6);
  DatasetStats st = compute_stats(*one, ctx);
  CHECK(st.sum == 2710146);
  CHECK(st.n_zero_frames == 2);
  ReadParams hint;
  hint.merlin_scan_from_timestamps = true;  // flyback after 4 frames, 8 planned -> 2 x 4
  auto two = open_dataset(c1, hint);
  CHECK(two->shape() == Shape4{1, 4, 256, 256});
  CHECK(compute_stats(*two, ctx).sum == 1805631);  // README section 5: the first complete row
  hint.pad_missing = true;
  auto two_pad = open_dataset(c1, hint);
  CHECK(two_pad->shape() == Shape4{2, 4, 256, 256});
  CHECK(two_pad->info().frames_present == 6);
  // without the .hdr nothing announces more: 6 frames in one row
  fs::remove(dir + "/001_4x2_6bit.hdr");
  auto six = open_dataset(c1, hint);
  CHECK(six->shape() == Shape4{1, 6, 256, 256});
  CHECK(six->info().frames_present == 6);
  CHECK(compute_stats(*six, ctx).sum == 2710146);
  ReadParams user;
  user.scan_shape = {2, 4};
  auto u = open_dataset(c1, user);
  CHECK(u->shape() == Shape4{1, 4, 256, 256});
  CHECK(compute_stats(*u, ctx).sum == 1805631);
  user.pad_missing = true;
  auto up = open_dataset(c1, user);
  CHECK(up->shape() == Shape4{2, 4, 256, 256});
  CHECK(up->info().frames_present == 6);
  CHECK(compute_stats(*up, ctx).sum == 2710146);
}

TEST_CASE("merlin: a frame cut short is dropped and reported, bytes after the last frame are an error") {
  const std::string dir = testing::scratch("merlin_truncated");
  const std::string full = slurp(merlin("001_4x2_6bit.mib"));
  const std::string f = dir + "/cut.mib";
  RunContext ctx;
  // 400 000 bytes: 6 frames and 4 480 bytes of the 7th (format notes section 8)
  spit(f, full.substr(0, 400000));
  auto cut6 = open_dataset(f);
  CHECK(cut6->shape() == Shape4{1, 6, 256, 256});
  CHECK(has_note(cut6->info(), f + ": frame 6 at byte 395520 is cut short (4480 of 65920 bytes) and was dropped"));
  CHECK(compute_stats(*cut6, ctx).sum == 2710146);
  ReadParams rows;
  rows.scan_shape = {2, 4};
  auto cut_rows = open_dataset(f, rows);
  CHECK(cut_rows->shape() == Shape4{1, 4, 256, 256});
  CHECK(compute_stats(*cut_rows, ctx).sum == 1805631);
  // header cut short: 7 frames and 10 bytes
  spit(f, full.substr(0, 7 * 65920 + 10));
  auto cut7 = open_dataset(f);
  CHECK(cut7->shape() == Shape4{1, 7, 256, 256});
  CHECK(has_note(cut7->info(), f + ": frame 7 at byte 461440 is cut short (10 of 65920 bytes) and was dropped"));
  std::string m;
  // 100 zero bytes appended
  spit(f, full + std::string(100, '\0'));
  m = error_of([&] { open_dataset(f); });
  CHECK(m == f + ": 100 bytes after the last complete frame (at byte 527360) are not a Merlin frame (no MQ1,); the "
                 "file is corrupt or not one acquisition");
  CHECK(m.find('\n') == std::string::npos);
  // shorter than one header
  spit(f, full.substr(0, 200));
  m = error_of([&] { open_dataset(f); });
  CHECK(m == f + ": frame 0 at byte 0: the file (200 bytes) ends inside the 384-byte header: truncated, or a corrupt "
                 "header size");
  spit(f, full.substr(0, 1000));
  m = error_of([&] { open_dataset(f); });
  CHECK(m == f + ": truncated: frame 0 at byte 0 has 1000 of 65920 bytes (0 complete frames); the acquisition or the "
                 "copy was cut short");
  // file shrinks after opening: reading names the file
  spit(f, full);
  auto src = open_dataset(f, no_hint());
  spit(f, full.substr(0, 3 * 65920));
  m = error_of([&] { read_all(*src); });
  CHECK(m.rfind(f + ": truncated", 0) == 0);
  // empty and missing files
  spit(f, "");
  CHECK(error_of([&] { open_dataset(f); }) == f + ": empty file (no Merlin frame)");
  CHECK(error_of([&] { open_dataset(dir + "/none.mib"); }) == dir + "/none.mib: no such file");
  spit(dir + "/lonely.hdr", slurp(merlin("001_4x2_6bit.hdr")));
  CHECK(error_of([&] { open_dataset(dir + "/lonely.hdr"); }) ==
        dir + "/lonely.hdr: no lonely.mib beside this .hdr (the frames are in the .mib)");
}

TEST_CASE("merlin: corrupt frame headers are errors naming the file and the frame") {
  const std::string dir = testing::scratch("merlin_corrupt");
  const std::string full = slurp(merlin("001_4x2_6bit.mib"));
  const std::string f = dir + "/bad.mib";
  auto edited = [&](std::size_t at, const std::string& with) {
    std::string b = full;
    b.replace(at, with.size(), with);
    spit(f, b);
  };
  // magic of frame 2 overwritten: found when frame 2 is read
  edited(2 * 65920, "XXX");
  auto src = open_dataset(f, no_hint());
  std::string m = error_of([&] { read_all(*src); });
  CHECK(m == f + ": frame 2 at byte 131840: does not start with MQ1, (found 'XXX,'); not a Merlin frame or a corrupt "
                 "file");
  CHECK(error_of([&] { read_pattern(*src, 0, 2); }) == m);
  CHECK_NOTHROW(read_pattern(*src, 0, 1));
  RunContext ctx;
  CHECK(error_of([&] { compute_stats(*src, ctx); }) == m);
  // frame 3 says 128 rows
  edited(3 * 65920 + 25, "0128");
  src = open_dataset(f, no_hint());
  m = error_of([&] { read_all(*src); });
  CHECK(m == f + ": frame 3 at byte 197760: height 128 differs from frame 0 (256); all frames of a Merlin file must "
                 "agree");
  // frame 5 says U16
  edited(5 * 65920 + 30, "U16");
  src = open_dataset(f, no_hint());
  CHECK(error_of([&] { read_all(*src); }) ==
        f + ": frame 5 at byte 329600: pixel type U16 differs from frame 0 (U08); all frames of a Merlin file must agree");
  // the last frame is checked when the file is opened
  edited(7 * 65920 + 20, "0512");
  CHECK(error_of([&] { open_dataset(f); }) ==
        f + ": frame 7 at byte 461440: width 512 differs from frame 0 (256); all frames of a Merlin file must agree");
  // sequence numbers that skip: a note (frames dropped?), not an error
  edited(7 * 65920 + 4, "000010");
  src = open_dataset(f, no_hint());
  CHECK(has_note(src->info(), f + ": frame sequence numbers run 1..10 over 8 frames (frames dropped by the "
                                  "acquisition?)"));
  CHECK(meta(src->info(), "hdr_file") == "none");
  CHECK(compute_stats(*src, ctx).sum == 3623664);
  // ... and so is every frame when the frame times are read
  edited(4 * 65920, "MQ2");
  ReadParams hint;
  hint.merlin_scan_from_timestamps = true;
  CHECK(error_of([&] { open_dataset(f, hint); }) ==
        f + ": frame 4 at byte 263680: does not start with MQ1, (found 'MQ2,'); not a Merlin frame or a corrupt file");
  // frame 0 not Merlin at all, read as merlin because of the extension
  edited(0, "ABCD");
  CHECK(error_of([&] { open_dataset(f); }) ==
        f + ": frame 0 at byte 0: does not start with MQ1, (not a Merlin .mib file)");
}

TEST_CASE("merlin: absurd header size, unknown type or depth, unsupported RAW are refused") {
  const std::string dir = testing::scratch("merlin_refused");
  const std::string full = slurp(merlin("001_4x2_6bit.mib"));
  const std::string f = dir + "/x.mib";
  auto edited = [&](const std::string& src, std::size_t at, const std::string& with) {
    std::string b = src;
    b.replace(at, with.size(), with);
    spit(f, b);
    return error_of([&] { open_dataset(f); });
  };
  CHECK(edited(full, 11, "99999") == f + ": frame 0 at byte 0: header size 99999 does not match the header: the text "
                                         "ends at byte 344 but byte 384 is not NUL padding");
  CHECK(edited(full.substr(0, 50000), 11, "99999") == f + ": frame 0 at byte 0: the file (50000 bytes) ends inside "
                                                          "the 99999-byte header: truncated, or a corrupt header size");
  CHECK(edited(full, 11, "00010") == f + ": frame 0 at byte 0: header size 10 is too small for a Merlin header");
  CHECK(edited(full, 11, "0x384") == f + ": frame 0 at byte 0: no header size in field 2 (corrupt header)");
  CHECK(edited(full, 11, "00128") ==
        f + ": frame 0 at byte 0: header size 128 does not match the header: its text runs to the end (no NUL padding)");
  CHECK(edited(full, 11, "00072") ==
        f + ": frame 0 at byte 0: header size 72 does not match the header: its text runs to the end (no NUL padding)");
  CHECK(edited(full, 30, "U64") ==
        f + ": frame 0 at byte 0: unsupported pixel type 'U64' (Merlin types are U08, U16, U32 and R64)");
  CHECK(edited(full, 20, "02x6") == f + ": frame 0 at byte 0: width (header field 4) is '02x6', not a number");
  CHECK(edited(full, 40, std::string(304, '\0')) ==
        f + ": frame 0 at byte 0: header has 8 comma-separated fields; a Merlin header has at least 15");
  // counter depth 7 (the last field: ...,100000000ns,6,)
  const std::size_t d = full.find("ns,6,") + 3;
  CHECK(edited(full, d, "7") ==
        f + ": frame 0 at byte 0: unsupported counter depth 7 (Merlin counter depths are 1, 6, 12 and 24)");
  // 24-bit counts cannot be U08
  CHECK(edited(full, d, "24,") == f + ": frame 0: counter depth 24 does not fit pixel type U08");
  // RAW with another depth than 1
  const std::string raw = slurp(merlin("Single_9_Frame_CounterDepth_1_Rows_256RAW.mib"));
  const std::size_t rd = raw.find("ns,1,") + 3;
  CHECK(edited(raw, rd, "6") == f + ": frame 0: RAW (R64) counter depth 6 is not supported (only 1-bit RAW is "
                                    "verified); record processed frames (U08/U16/U32) instead");
  CHECK(edited(raw, 34, "   2x1") ==
        f + ": frame 0: RAW (R64) with 1 chips in layout 2x1 is not supported (only 1x1 and 2x2)");
  // a .hdr that is not one, named by the user
  const std::string h = dir + "/y.hdr";
  spit(h, "nonsense");
  spit(dir + "/y.mib", full);
  ReadParams p;
  p.format = "merlin";
  CHECK(error_of([&] { open_dataset(h, p); }) == h + ": does not start with HDR, (not a Merlin acquisition header)");
  // ... beside the .mib: ignored with a note
  auto src = open_dataset(dir + "/y.mib", no_hint());
  CHECK(has_note(src->info(), h + ": does not start with HDR, (not a Merlin acquisition header); ignored"));
  CHECK(src->shape() == Shape4{1, 8, 256, 256});
}

TEST_CASE("merlin: read -> write_mib -> read is identical for real files") {
  const std::string dir = testing::scratch("merlin_roundtrip");
  struct Case {
    const char* name;
    Shape2 scan;
    const char* dtype;
    const char* depth;
  };
  const Case cases[] = {
      {"001_4x2_6bit", {2, 4}, ">u1", "6"},
      {"002_merlin_test_roi_sig256x128_nav4x2_hot_pixel_52x_39y", {}, ">u2", "12"},
      {"Single_9_Frame_CounterDepth_24_Rows_256", {3, 3}, ">u4", "24"},
      {"Single_9_Frame_CounterDepth_1_Rows_256", {}, ">u1", "1"},
      {"Single_9_Frame_CounterDepth_1_Rows_256RAW", {}, ">u1", "1"},
      {"Quad_1_Frame_CounterDepth_12_Rows_256", {}, ">u2", "12"},
      {"Quad_1_Frame_CounterDepth_1_Rows_256RAW", {}, ">u1", "1"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    ReadParams p = no_hint();
    p.scan_shape = c.scan;
    auto a = open_dataset(merlin(std::string(c.name) + ".mib"), p);
    const std::string out = dir + "/" + c.name + ".mib";
    RunContext ctx;
    ctx.memory_budget = 4 << 20;
    std::int64_t last_done = -1, last_total = -1;
    ctx.progress = [&](const char* stage, std::int64_t done, std::int64_t total) {
      CHECK(std::string(stage) == "convert");
      last_done = done;
      last_total = total;
    };
    write_mib(*a, out, WriteParams{}, ctx);
    CHECK(last_done == a->shape().n_frames());
    CHECK(last_total == a->shape().n_frames());
    auto b = open_dataset(out, no_hint());  // scan shape from the written .hdr
    CHECK(b->shape() == a->shape());
    CHECK(b->info().dtype == c.dtype);
    CHECK(meta(b->info(), "counter_depth") == c.depth);
    CHECK(meta(b->info(), "header_bytes") == "384");
    CHECK(meta(b->info(), "scan_shape_source") == ".hdr ScanY x ScanX");
    CHECK(meta(b->info(), "thresholds_keV") == meta(a->info(), "thresholds_keV"));
    CHECK(meta(b->info(), "exposure_s") == meta(a->info(), "exposure_s"));
    CHECK(b->info().notes.empty());
    CHECK(read_all(*a) == read_all(*b));
    CHECK(fs::file_size(out) == static_cast<std::uintmax_t>(a->shape().n_frames()) *
                                    (384 + a->shape().frame_pixels() * std::stoi(std::string(c.dtype).substr(2))));
    CHECK(fs::file_size(dir + "/" + c.name + ".hdr") == 2048);
  }
  // write_mib's .hdr reads as a real one does
  auto b = open_dataset(dir + "/001_4x2_6bit.hdr", no_hint());
  CHECK(meta(b->info(), "hdr.Frames in Acquisition") == "8");
  CHECK(meta(b->info(), "hdr.Counter Depth") == "6");
  CHECK(meta(b->info(), "hdr.ScanX") == "4");
  CHECK(meta(b->info(), "hdr.ScanY") == "2");
  CHECK(only_these_files(dir, {"001_4x2_6bit.mib", "001_4x2_6bit.hdr",
                               "002_merlin_test_roi_sig256x128_nav4x2_hot_pixel_52x_39y.mib",
                               "002_merlin_test_roi_sig256x128_nav4x2_hot_pixel_52x_39y.hdr",
                               "Single_9_Frame_CounterDepth_24_Rows_256.mib", "Single_9_Frame_CounterDepth_24_Rows_256.hdr",
                               "Single_9_Frame_CounterDepth_1_Rows_256.mib", "Single_9_Frame_CounterDepth_1_Rows_256.hdr",
                               "Single_9_Frame_CounterDepth_1_Rows_256RAW.mib",
                               "Single_9_Frame_CounterDepth_1_Rows_256RAW.hdr",
                               "Quad_1_Frame_CounterDepth_12_Rows_256.mib", "Quad_1_Frame_CounterDepth_12_Rows_256.hdr",
                               "Quad_1_Frame_CounterDepth_1_Rows_256RAW.mib",
                               "Quad_1_Frame_CounterDepth_1_Rows_256RAW.hdr"}));
}

TEST_CASE("merlin: write_mib of a synthetic 3x4 scan of 64x48 frames") {
  const std::string dir = testing::scratch("merlin_synthetic");
  const Shape4 shape{3, 4, 64, 48};
  RunContext ctx;
  ctx.memory_budget = 2 * 2 * 64 * 48 * 4;  // 2 frames per block
  // float source of integer counts -> U16, depth 12
  SyntheticSource src(shape, "<f4", 4000);
  const std::string out = dir + "/syn.mib";
  write_mib(src, out, WriteParams{}, ctx);
  CHECK(fs::file_size(out) == 12u * (384 + 64 * 48 * 2));
  const std::string bytes = slurp(out);
  CHECK(bytes.substr(0, 44) == "MQ1,000001,00384,01,0048,0064,U16,   1x1,01,");
  CHECK(bytes.substr(11 * (384 + 6144), 11) == "MQ1,000012,");
  CHECK(bytes[383] == '\0');
  CHECK(bytes.substr(0, 384).find(",MQ1A,") != std::string::npos);
  CHECK(bytes.substr(0, 384).find("ns,12,") != std::string::npos);
  // pixel 1 of frame 0 = 3, big-endian
  CHECK(static_cast<unsigned char>(bytes[384 + 2]) == 0);
  CHECK(static_cast<unsigned char>(bytes[384 + 3]) == 3);
  auto back = open_dataset(out);
  CHECK(back->shape() == shape);
  CHECK(back->info().dtype == ">u2");
  std::vector<float> a = read_all(*back, ctx.memory_budget);
  bool same = true;
  for (std::int64_t k = 0; k < 12; ++k)
    for (std::int64_t j = 0; j < 64 * 48; ++j) same &= a[static_cast<std::size_t>(k * 3072 + j)] == SyntheticSource::value(k, j, 4000);
  CHECK(same);
  CHECK(a[static_cast<std::size_t>(11 * 3072 + 3071)] == static_cast<float>((11 * 7 + 3071 * 3) % 4000));

  // u1 -> U08 depth 6, u4 -> U32 depth 24, and an explicit dtype
  for (auto [dtype, want, depth, size] : {std::tuple{"|u1", ">u1", "6", 1}, std::tuple{"<u4", ">u4", "24", 4},
                                         std::tuple{"1-bit", ">u1", "1", 1}}) {
    INFO(dtype);
    SyntheticSource s(shape, dtype, std::string(dtype) == "1-bit" ? 2 : 250);
    write_mib(s, dir + "/t.mib", WriteParams{}, ctx);
    auto r = open_dataset(dir + "/t.mib");
    CHECK(r->info().dtype == want);
    CHECK(meta(r->info(), "counter_depth") == depth);
    CHECK(fs::file_size(dir + "/t.mib") == 12u * (384 + 3072 * static_cast<unsigned>(size)));
    std::vector<float> v = read_all(*r);
    CHECK(v[3072 * 5 + 100] == SyntheticSource::value(5, 100, std::string(dtype) == "1-bit" ? 2 : 250));
  }
  WriteParams w32;
  w32.dtype = "uint32";
  SyntheticSource big(shape, "<f4", 4000);
  big.poke_frame = 7;
  big.poke_value = 100000;
  write_mib(big, dir + "/t.mib", w32, ctx);
  auto r32 = open_dataset(dir + "/t.mib");
  CHECK(r32->info().dtype == ">u4");
  CHECK(read_pattern(*r32, 1, 3)[5] == 100000);

  // values that do not fit: an error naming the file, nothing left behind
  const std::string bad = dir + "/bad.mib";
  auto refused = [&](float v, const WriteParams& wp) {
    SyntheticSource s(shape, "<f4", 250);
    s.poke_frame = 6;
    s.poke_value = v;
    std::string m = error_of([&] { write_mib(s, bad, wp, ctx); });
    CHECK_FALSE(fs::exists(bad));
    CHECK_FALSE(fs::exists(dir + "/bad.hdr"));
    CHECK(m.find('\n') == std::string::npos);
    return m;
  };
  CHECK(refused(70000, WriteParams{}) ==
        bad + ": frame 6 at (1,2) pixel (0,5): value 70000 does not fit U16 (0..65535); use --write.dtype uint32");
  CHECK(refused(1.5f, WriteParams{}) ==
        bad + ": frame 6 at (1,2) pixel (0,5): value 1.5 is not a non-negative integer; a Merlin .mib holds counts "
              "(convert to EMD or raw instead)");
  CHECK(refused(-1, WriteParams{}).rfind(bad + ": frame 6 at (1,2) pixel (0,5): value -1 is not a non-negative", 0) == 0);
  CHECK(refused(NAN, WriteParams{}).rfind(bad + ": frame 6 at (1,2) pixel (0,5): value nan is not", 0) == 0);
  WriteParams w8;
  w8.dtype = "uint8";
  CHECK(refused(300, w8) ==
        bad + ": frame 6 at (1,2) pixel (0,5): value 300 does not fit U08 (0..255); use --write.dtype uint32");
  WriteParams wf;
  wf.dtype = "float32";
  CHECK(refused(1, wf) == bad + ": write.dtype = float32: Merlin .mib holds integer counts; use auto, uint8, uint16 "
                                "or uint32");
  CHECK(only_these_files(dir, {"syn.mib", "syn.hdr", "t.mib", "t.hdr"}));

  // cancelled: interrupted, nothing left behind
  std::atomic<bool> cancel{true};
  RunContext cctx = ctx;
  cctx.cancel = &cancel;
  SyntheticSource c(shape, "<f4", 4000);
  bool interrupted = false;
  try {
    write_mib(c, dir + "/cancel.mib", WriteParams{}, cctx);
  } catch (const Error& e) {
    interrupted = e.kind() == ErrorKind::interrupted;
  }
  CHECK(interrupted);
  CHECK(only_these_files(dir, {"syn.mib", "syn.hdr", "t.mib", "t.hdr"}));

  // an interrupted source keeps its missing frames missing
  SyntheticSource part(shape, "<u2", 4000);
  part.mutable_info().frames_present = 10;
  write_mib(part, dir + "/part.mib", WriteParams{}, ctx);
  CHECK(fs::file_size(dir + "/part.mib") == 10u * (384 + 6144));
  auto pr_rows = open_dataset(dir + "/part.mib");
  CHECK(pr_rows->shape() == Shape4{2, 4, 64, 48});  // the complete rows of the 3x4 scan its .hdr announces
  ReadParams pad;
  pad.pad_missing = true;
  auto pr = open_dataset(dir + "/part.mib", pad);
  CHECK(pr->shape() == shape);
  CHECK(pr->info().frames_present == 10);
  CHECK(has_note(pr->info(), dir + "/part.mib: 10 of 12 frames present (interrupted acquisition); missing frames read as 0 (read.pad_missing)"));
}
