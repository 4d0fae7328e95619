// tests/test_read_raw.cpp: the generic raw reader (real files described by hand, synthetic
// files of every dtype and layout made here) and write_raw round trips.
#include <doctest/doctest.h>

#include <atomic>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <vector>

#include "domainmap/dataset.hpp"
#include "domainmap/error.hpp"
#include "domainmap/write.hpp"
#include "testing.hpp"

using namespace domainmap;
namespace fs = std::filesystem;

namespace {

template <typename F> std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

bool has_note(const FrameSource& src, const std::string& part) {
  for (const std::string& n : src.info().notes)
    if (n.find(part) != std::string::npos) return true;
  return false;
}

std::vector<float> read_all(FrameSource& src) {
  const Shape4& s = src.shape();
  std::vector<float> all(static_cast<std::size_t>(s.n_frames() * s.frame_pixels()));
  src.read_frames(0, s.n_frames(), all.data());
  return all;
}

ReadParams raw_params(const std::string& dtype, Shape2 det, Shape2 scan) {
  ReadParams p;
  p.format = "raw";
  p.raw_dtype = dtype;
  p.raw_detector_shape = det;
  p.scan_shape = scan;
  return p;
}

ReadParams empad_as_raw() {
  ReadParams p = raw_params("float32", {128, 128}, {4, 4});
  p.raw_frame_footer = 1024;
  return p;
}

std::string empad_raw() { return testing::shared("data/real/empad/scan_x4_y4.raw"); }

void write_bytes(const std::string& path, const std::vector<unsigned char>& b) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// Appends v as `bytes` bytes in the given byte order.
template <typename T> void put(std::vector<unsigned char>& out, T v, bool big) {
  unsigned char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  if ((std::endian::native == std::endian::big) != big) std::reverse(b, b + sizeof(T));
  out.insert(out.end(), b, b + sizeof(T));
}

// Value of pixel j of frame k in the synthetic files, exact in float32 and in range of T.
template <typename T> T synthetic_value(std::int64_t k, std::int64_t j) {
  if constexpr (std::is_floating_point_v<T>) return static_cast<T>((k * 20 + j) * 0.25 - 3.0);
  else if constexpr (std::is_signed_v<T>) return static_cast<T>(k * 20 + j - 50);
  else return static_cast<T>(k * 20 + j + (sizeof(T) > 1 ? 1200 : 0));
}

// A file with a file header, `skip` junk frames, then scan frames, each with a frame header
// and footer of junk bytes; returns the expected float values of the scan frames.
template <typename T>
std::vector<float> make_synthetic(const std::string& path, bool big, std::int64_t n_frames, std::int64_t fp,
                                  std::size_t file_header, std::size_t frame_header, std::size_t frame_footer,
                                  std::int64_t skip) {
  std::vector<unsigned char> b(file_header, 0xAB);
  std::vector<float> expect;
  for (std::int64_t k = -skip; k < n_frames; ++k) {
    b.insert(b.end(), frame_header, 0xCD);
    for (std::int64_t j = 0; j < fp; ++j) {
      T v = k < 0 ? T(99) : synthetic_value<T>(k, j);
      put(b, v, big);
      if (k >= 0) expect.push_back(static_cast<float>(v));
    }
    b.insert(b.end(), frame_footer, 0xEF);
  }
  write_bytes(path, b);
  return expect;
}

template <typename T> void check_dtype(const std::string& dir, const std::string& name, const std::string& numpy) {
  for (bool big : {false, true}) {
    CAPTURE(name);
    CAPTURE(big);
    const std::string path = dir + "/" + name + (big ? "_be" : "_le") + ".bin";
    // scan 2 x 3, detector 4 x 5, file header 7, frame header 3, footer 5, 1 frame skipped
    std::vector<float> expect = make_synthetic<T>(path, big, 6, 20, 7, 3, 5, 1);
    ReadParams p = raw_params(name, {4, 5}, {2, 3});
    p.raw_endian = big ? "big" : "little";
    p.raw_file_header = 7;
    p.raw_frame_header = 3;
    p.raw_frame_footer = 5;
    p.raw_frame_offset = 1;
    auto src = open_dataset(path, p);
    CHECK(src->shape() == Shape4{2, 3, 4, 5});
    CHECK(src->info().dtype == (sizeof(T) == 1 ? "|" + numpy : std::string(big ? ">" : "<") + numpy));
    CHECK(read_all(*src) == expect);
    // frame by frame (one pread each) gives the same
    std::vector<float> one(20);
    src->read_frames(4, 1, one.data());
    CHECK(std::vector<float>(expect.begin() + 80, expect.begin() + 100) == one);

    // the same values packed: no headers at all
    const std::string packed = dir + "/" + name + (big ? "_be" : "_le") + "_packed.bin";
    expect = make_synthetic<T>(packed, big, 6, 20, 0, 0, 0, 0);
    ReadParams q = raw_params(name, {4, 5}, {3, 2});
    q.raw_endian = p.raw_endian;
    src = open_dataset(packed, q);
    CHECK(read_all(*src) == expect);
    RunContext ctx;
    ctx.memory_budget = 2 * 2 * 20 * 4;  // blocks of 2 frames
    DatasetStats st = compute_stats(*src, ctx);
    double sum = 0;
    for (float v : expect) sum += v;
    CHECK(st.sum == sum);
    CHECK(st.first_frame_sum == doctest::Approx(std::accumulate(expect.begin(), expect.begin() + 20, 0.0)));
  }
}

} // namespace

TEST_CASE("raw: the EMPAD raw read as generic raw equals the EMPAD reader") {
  auto raw = open_dataset(empad_raw(), empad_as_raw());
  CHECK(raw->info().format == "raw");
  CHECK(raw->shape() == Shape4{4, 4, 128, 128});
  CHECK(raw->info().dtype == "<f4");
  RunContext ctx;
  DatasetStats st = compute_stats(*raw, ctx);
  CHECK(st.sum == 822741.625);
  CHECK(st.min == -1.5625);
  CHECK(st.max == 161.84375);
  CHECK(st.first_frame_sum == 51537.6875);
  CHECK(st.last_frame_sum == 51224.078125);
  CHECK(read_pattern(*raw, 1, 2)[70 * 128 + 94] == 9.46875f);

  auto ref = open_dataset(testing::shared("data/real/empad/map4x4.xml"));
  CHECK(read_all(*raw) == read_all(*ref));

  // the same file described as 130 x 128 frames without footer: rows 0..127 are the same data
  auto tall = open_dataset(empad_raw(), raw_params("float32", {130, 128}, {4, 4}));
  st = compute_stats(*tall, ctx);
  CHECK(st.sum == 827261.625);  // pattern + footer values (README)
  std::vector<float> t = read_all(*tall), r = read_all(*raw);
  double pattern_sum = 0;
  for (std::int64_t k = 0; k < 16; ++k) {
    REQUIRE(std::equal(r.begin() + k * 16384, r.begin() + (k + 1) * 16384, t.begin() + k * 16640));
    for (std::int64_t j = 0; j < 16384; ++j) pattern_sum += t[std::size_t(k * 16640 + j)];
    // footer: row 128 col 0 = frame number, col 1 = 16; row 129 cols 12..15 = [ry, rx, 128, 128]
    CHECK(t[std::size_t(k * 16640 + 128 * 128 + 0)] == float(k));
    CHECK(t[std::size_t(k * 16640 + 128 * 128 + 1)] == 16.0f);
    CHECK(t[std::size_t(k * 16640 + 129 * 128 + 12)] == float(k / 4));
    CHECK(t[std::size_t(k * 16640 + 129 * 128 + 13)] == float(k % 4));
  }
  CHECK(pattern_sum == 822741.625);

  ReadParams s = raw_params("float32", {128, 128}, {1, 10});
  s.raw_frame_footer = 1024;
  auto series = open_dataset(testing::shared("data/real/empad/series_x10.raw"), s);
  CHECK(compute_stats(*series, ctx).sum == 514037.828125);
}

TEST_CASE("raw: the py4DSTEM file's contiguous dataset read as raw with a file header") {
  const std::string h5 = testing::shared("data/py4dstem/sample_with_braggvectors.h5");
  ReadParams p = raw_params("uint16", {128, 128}, {4, 8});
  p.raw_file_header = 16416;
  std::string m = error_of([&] { open_dataset(h5, p); });
  CHECK(m == h5 + ": 1227288 bytes (1210872 after the 16416-byte file header) = 36 whole frames of 32768 + 31224 "
                  "bytes of a truncated frame, but scan 4 x 8 needs 32 frames (1064992 bytes); use "
                  "--read.raw_allow_trailing true to ignore the extra bytes");
  p.raw_allow_trailing = true;
  auto src = open_dataset(h5, p);
  CHECK(src->info().dtype == "<u2");
  CHECK(has_note(*src, "162296 bytes after the last frame ignored"));
  RunContext ctx;
  DatasetStats st = compute_stats(*src, ctx);
  CHECK(st.sum == 34142409);
  CHECK(st.min == 0);
  CHECK(st.max == 2171);
  CHECK(read_pattern(*src, 0, 0)[64 * 128 + 64] == 1995);
  CHECK(read_pattern(*src, 1, 2)[60 * 128 + 70] == 84);
  CHECK(read_pattern(*src, 3, 7)[10 * 128 + 20] == 9);
}

TEST_CASE("raw: synthetic files of every dtype, both byte orders, headers, footers and frame offset") {
  std::string dir = testing::scratch("raw_synthetic");
  check_dtype<std::uint8_t>(dir, "uint8", "u1");
  check_dtype<std::uint16_t>(dir, "uint16", "u2");
  check_dtype<std::uint32_t>(dir, "uint32", "u4");
  check_dtype<std::uint64_t>(dir, "uint64", "u8");
  check_dtype<std::int8_t>(dir, "int8", "i1");
  check_dtype<std::int16_t>(dir, "int16", "i2");
  check_dtype<std::int32_t>(dir, "int32", "i4");
  check_dtype<std::int64_t>(dir, "int64", "i8");
  check_dtype<float>(dir, "float32", "f4");
  check_dtype<double>(dir, "float64", "f8");
  // spot values: uint16 big-endian frame 0 pixel 0 = 1200 (bytes 04 b0)
  ReadParams p = raw_params("uint16", {4, 5}, {3, 2});
  p.raw_endian = "big";
  auto src = open_dataset(dir + "/uint16_be_packed.bin", p);
  CHECK(read_pattern(*src, 0, 0)[0] == 1200);
  CHECK(read_pattern(*src, 2, 1)[19] == 1200 + 5 * 20 + 19);
  // float32 frame 5 pixel 19 = (100 + 19) / 4 - 3
  src = open_dataset(dir + "/float32_le.bin", [] {
    ReadParams q = raw_params("float32", {4, 5}, {2, 3});
    q.raw_file_header = 7, q.raw_frame_header = 3, q.raw_frame_footer = 5, q.raw_frame_offset = 1;
    return q;
  }());
  CHECK(read_pattern(*src, 1, 2)[19] == 26.75f);
}

TEST_CASE("raw: size checks and bad layouts are one-line errors naming the file") {
  const std::string f = empad_raw();
  ReadParams p = empad_as_raw();
  p.scan_shape = {5, 4};
  std::string m = error_of([&] { open_dataset(f, p); });
  CHECK(m == f + ": 1064960 bytes = 16 frames of 66560, but scan 5 x 4 needs 20 frames (1331200 bytes)");
  CHECK(m.find('\n') == std::string::npos);

  p.scan_shape = {3, 5};  // 15 frames: one too many in the file
  m = error_of([&] { open_dataset(f, p); });
  CHECK(m == f + ": 1064960 bytes = 16 frames of 66560, but scan 3 x 5 needs 15 frames (998400 bytes); use "
                 "--read.raw_allow_trailing true to ignore the extra bytes");
  p.raw_allow_trailing = true;
  auto src = open_dataset(f, p);
  CHECK(src->shape() == Shape4{3, 5, 128, 128});
  CHECK(has_note(*src, "66560 bytes after the last frame ignored"));

  // frame offset: skip 1 of the 16 frames -> 3 x 5 fits exactly; frame 0 is the file's frame 1
  p.raw_allow_trailing = false;
  p.raw_frame_offset = 1;
  src = open_dataset(f, p);
  auto ref = open_dataset(f, empad_as_raw());
  CHECK(read_pattern(*src, 0, 0) == read_pattern(*ref, 0, 1));
  CHECK(read_pattern(*src, 2, 4) == read_pattern(*ref, 3, 3));
  p.raw_frame_offset = 2;
  m = error_of([&] { open_dataset(f, p); });
  CHECK(m == f + ": 1064960 bytes = 16 frames of 66560, but scan 3 x 5 needs 15 frames after skipping 2 (1131520 bytes)");

  std::string dir = testing::scratch("raw_bad");
  const std::string cut = dir + "/cut.raw";
  fs::copy_file(f, cut);
  fs::permissions(cut, fs::perms::owner_read | fs::perms::owner_write);
  fs::resize_file(cut, 1064960 - 1);
  m = error_of([&] { open_dataset(cut, empad_as_raw()); });
  CHECK(m == cut + ": 1064959 bytes = 15 whole frames of 66560 + 66559 bytes of a truncated frame, but scan 4 x 4 "
                   "needs 16 frames (1064960 bytes)");
  p = empad_as_raw();
  p.raw_allow_trailing = true;  // trailing bytes allowed, but still too short
  CHECK(error_of([&] { open_dataset(cut, p); }) == m);

  p = empad_as_raw();
  p.raw_file_header = 2000000;
  m = error_of([&] { open_dataset(f, p); });
  CHECK(m == f + ": file header of 2000000 bytes is larger than the file (1064960 bytes)");

  p = empad_as_raw();
  p.raw_detector_shape = {0, 0};
  m = error_of([&] { open_dataset(f, p); });
  CHECK(m == f + ": read.raw_detector_shape = 0x0: a raw file needs a positive detector shape (e.g. "
                 "--read.raw_detector_shape 128x128)");
  p = empad_as_raw();
  p.scan_shape = {};
  m = error_of([&] { open_dataset(f, p); });
  CHECK(m == f + ": a raw file needs --read.scan_shape (rows x columns); the file holds 1064960 bytes = 16 frames of 66560");
  p.scan_shape = {0, 4};
  CHECK(error_of([&] { open_dataset(f, p); }) == f + ": read.scan_shape = 0x4: must be positive");
  p = empad_as_raw();
  p.raw_dtype = "complex64";
  m = error_of([&] { open_dataset(f, p); });
  CHECK(m.rfind(f + ": unsupported dtype 'complex64'", 0) == 0);
  p = empad_as_raw();
  p.raw_endian = "middle";
  CHECK(error_of([&] { open_dataset(f, p); }) == f + ": read.raw_endian = middle: must be little or big");
  p = empad_as_raw();
  p.raw_frame_header = -4;
  CHECK(error_of([&] { open_dataset(f, p); }) == f + ": read.raw_frame_header = -4: must be >= 0");
  // 64-bit overflow is caught, not wrapped
  p = empad_as_raw();
  p.scan_shape = {std::int64_t(1) << 31, std::int64_t(1) << 31};
  m = error_of([&] { open_dataset(f, p); });
  CHECK(m == f + ": scan 2147483648x2147483648 of 66560-byte frames overflows 64 bits");
  p = empad_as_raw();
  p.raw_detector_shape = {std::int64_t(1) << 32, std::int64_t(1) << 32};
  m = error_of([&] { open_dataset(f, p); });
  CHECK(m == f + ": frame layout overflows 64 bits (detector 4294967296x4294967296)");
}

TEST_CASE("raw: NaN and Inf in float data, with and without nan_to_zero") {
  std::string dir = testing::scratch("raw_nan");
  std::vector<unsigned char> b;
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  // 4 frames of 2 x 2 float64, big-endian: frame 2 has one NaN and one -Inf
  const double vals[16] = {1, 2, 3, 4, 5, 6, 7, 8, nan, 10, -inf, 12, 13, 14, 15, 16};
  for (double v : vals) put(b, v, true);
  write_bytes(dir + "/nan.f64", b);
  ReadParams p = raw_params("float64", {2, 2}, {2, 2});
  p.raw_endian = "big";
  auto src = open_dataset(dir + "/nan.f64", p);
  RunContext ctx;
  std::string m = error_of([&] { compute_stats(*src, ctx); });
  CHECK(m == dir + "/nan.f64: frame 2: 2 NaN/Inf pixel(s) in this block; use --read.nan_to_zero true to replace them by 0");
  CHECK(read_pattern(*src, 0, 1) == std::vector<float>{5, 6, 7, 8});
  p.nan_to_zero = true;
  src = open_dataset(dir + "/nan.f64", p);
  DatasetStats st = compute_stats(*src, ctx);
  CHECK(st.sum == 136 - 9 - 11);
  CHECK(st.n_nan == 0);
  CHECK(st.n_inf == 0);
  CHECK(has_note(*src, "2 NaN/Inf pixel(s) replaced by 0 (read.nan_to_zero)"));

  // float32 packed (read straight into the output buffer) is checked too
  b.clear();
  for (float v : {1.f, inf, 3.f, 4.f}) put(b, v, false);
  write_bytes(dir + "/inf.f32", b);
  src = open_dataset(dir + "/inf.f32", raw_params("float32", {2, 2}, {1, 1}));
  m = error_of([&] { compute_stats(*src, ctx); });
  CHECK(m.rfind(dir + "/inf.f32: frame 0: 1 NaN/Inf pixel(s)", 0) == 0);
}

TEST_CASE("raw: write_raw round trips through open_raw") {
  std::string dir = testing::scratch("raw_write");
  RunContext ctx;
  std::vector<std::int64_t> progress;
  ctx.progress = [&](const char* stage, std::int64_t done, std::int64_t total) {
    CHECK(std::string(stage) == "convert");
    CHECK(total == 6);
    progress.push_back(done);
  };
  std::vector<std::string> log;
  ctx.log = [&](LogLevel, const std::string& s) { log.push_back(s); };
  ctx.memory_budget = 2 * 2 * 144 * 144 * 4;  // 2 frames per block: 3 blocks

  // blockfile (uint8) -> auto keeps uint8
  auto blo = open_dataset(testing::shared("data/real/blockfile/test1.blo"));
  const std::string out8 = dir + "/test1_u8.raw";
  write_raw(*blo, out8, WriteParams{}, ctx);
  CHECK(fs::file_size(out8) == 6 * 144 * 144);
  CHECK(progress.back() == 6);
  CHECK(progress.size() == 4);  // 0, then once per block
  REQUIRE(!log.empty());
  CHECK(log.back() == out8 + ": wrote 6 frames; read back with --read.format raw --read.raw_dtype uint8 "
                             "--read.raw_detector_shape 144x144 --read.scan_shape 3x2");
  auto back = open_dataset(out8, raw_params("uint8", {144, 144}, {3, 2}));
  CHECK(read_all(*back) == read_all(*blo));

  // explicit uint16
  WriteParams w;
  w.dtype = "uint16";
  const std::string out16 = dir + "/test1_u16.raw";
  write_raw(*blo, out16, w, ctx);
  CHECK(fs::file_size(out16) == 6 * 144 * 144 * 2);
  back = open_dataset(out16, raw_params("uint16", {144, 144}, {3, 2}));
  CHECK(read_all(*back) == read_all(*blo));

  // EMPAD (float32) -> auto writes float32, exact
  RunContext quiet;
  auto emp = open_dataset(testing::shared("data/real/empad/map4x4.xml"));
  const std::string outf = dir + "/map.raw";
  write_raw(*emp, outf, WriteParams{}, quiet);
  CHECK(fs::file_size(outf) == 16 * 128 * 128 * 4);
  back = open_dataset(outf, raw_params("float32", {128, 128}, {4, 4}));
  CHECK(read_all(*back) == read_all(*emp));
  CHECK(compute_stats(*back, quiet).sum == 822741.625);

  // negative values do not fit uint8: error, and nothing left behind
  w.dtype = "uint8";
  const std::string bad = dir + "/bad.raw";
  std::string m = error_of([&] { write_raw(*emp, bad, w, quiet); });
  CHECK(m == bad + ": frame 0 has value -1.15625, which does not fit uint8; use --write.dtype float32 or a wider type");
  // cancelled: interrupted, nothing left behind
  std::atomic<bool> stop{true};
  quiet.cancel = &stop;
  Error caught(ErrorKind::internal, "");
  try {
    write_raw(*blo, dir + "/cancelled.raw", WriteParams{}, quiet);
  } catch (const Error& e) {
    caught = e;
  }
  CHECK(caught.kind() == ErrorKind::interrupted);
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    ++files;
    CHECK(e.path().string().find(".part-") == std::string::npos);
  }
  CHECK(files == 3);
  CHECK_FALSE(fs::exists(bad));

  // unknown dtype, unwritable folder
  w.dtype = "int7";
  m = error_of([&] { write_raw(*blo, dir + "/x.raw", w, ctx); });
  CHECK(m == dir + "/x.raw: write.dtype = int7: must be auto, uint8, uint16, uint32 or float32");
  m = error_of([&] { write_raw(*blo, dir + "/no/such/dir/x.raw", WriteParams{}, ctx); });
  CHECK(m == dir + "/no/such/dir/x.raw: cannot create: No such file or directory");
}
