// tests/test_virtual.cpp: the `virtual` stage (BF/ADF images, mean/max patterns, automatic
// centre, determinism, HDF5 output) and the PNG writer.
#include <doctest/doctest.h>

#include <oneapi/tbb/global_control.h>

#include <atomic>
#include <functional>
#include <memory>
#include <tuple>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/h5util.hpp"
#include "domainmap/dataset.hpp"
#include "domainmap/error.hpp"
#include "domainmap/png.hpp"
#include "domainmap/virtual.hpp"
#include "testing.hpp"

using namespace domainmap;

namespace {

// Frame k: a disk of value (1 + k % 3) and radius 5 around (cy, cx), plus a ring of value
// (2 + k % 2) between radii 12 (excluded) and 14 (included) around the same centre. With
// `antialias` every pixel holds the covered fraction (16 x 16 samples) instead, and the ring is
// dimmer (0.25), so the disk's centroid is its true centre.
class DiskSource : public FrameSource {
public:
  DiskSource(Shape4 s, double cy, double cx, bool antialias = false) : cy_(cy), cx_(cx), aa_(antialias) {
    info_.shape = s;
    info_.format = "test";
    info_.path = "disk-source";
    info_.frames_present = s.n_frames();
    disk_.resize(static_cast<std::size_t>(s.frame_pixels()));
    ring_.resize(disk_.size());
    for (std::int64_t i = 0; i < s.det_y; ++i)
      for (std::int64_t j = 0; j < s.det_x; ++j) {
        const auto k = static_cast<std::size_t>(i * s.det_x + j);
        if (!aa_) {
          const double d2 = (i - cy) * (i - cy) + (j - cx) * (j - cx);
          disk_[k] = d2 <= 25 ? 1.0f : 0.0f;
          ring_[k] = (d2 > 144 && d2 <= 196) ? 1.0f : 0.0f;
        } else {
          int in_disk = 0, in_ring = 0;
          for (int a = 0; a < 16; ++a)
            for (int b = 0; b < 16; ++b) {
              const double y = i - 0.5 + (a + 0.5) / 16, x = j - 0.5 + (b + 0.5) / 16;
              const double d2 = (y - cy) * (y - cy) + (x - cx) * (x - cx);
              in_disk += d2 <= 25;
              in_ring += d2 > 144 && d2 <= 196;
            }
          disk_[k] = static_cast<float>(in_disk) / 256.0f;
          ring_[k] = static_cast<float>(in_ring) / 256.0f * 0.25f;
        }
      }
  }
  float value(std::int64_t frame, std::size_t pixel) const {
    const float a = static_cast<float>(1 + frame % 3);
    const float r = aa_ ? 1.0f : static_cast<float>(2 + frame % 2);
    return a * disk_[pixel] + r * ring_[pixel];
  }
  void read_frames(std::int64_t first, std::int64_t count, float* out) override {
    const auto fp = static_cast<std::size_t>(shape().frame_pixels());
    for (std::int64_t k = 0; k < count; ++k)
      for (std::size_t j = 0; j < fp; ++j) out[static_cast<std::size_t>(k) * fp + j] = value(first + k, j);
  }
private:
  double cy_, cx_;
  bool aa_;
  std::vector<float> disk_, ring_;
};

// Values with full float mantissas, so that summation order would show in the results.
class NoisySource : public FrameSource {
public:
  explicit NoisySource(Shape4 s) {
    info_.shape = s;
    info_.format = "test";
    info_.frames_present = s.n_frames();
  }
  void read_frames(std::int64_t first, std::int64_t count, float* out) override {
    const std::int64_t fp = shape().frame_pixels();
    const std::int64_t w = shape().det_x;
    for (std::int64_t k = 0; k < count; ++k)
      for (std::int64_t j = 0; j < fp; ++j) {
        std::uint64_t h = static_cast<std::uint64_t>((first + k) * fp + j) * 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
        h *= 0xBF58476D1CE4E5B9ull;
        h ^= h >> 32;
        const double noise = static_cast<double>(h >> 40) / static_cast<double>(1u << 24);
        const double dy = static_cast<double>(j / w) - 20.3, dx = static_cast<double>(j % w) - 17.8;
        const double beam = 500.0 * std::exp(-(dy * dy + dx * dx) / 18.0);
        out[k * fp + j] = static_cast<float>(beam + 3.7 * noise + 1e-3 * static_cast<double>(first + k));
      }
  }
};

std::int64_t count_in(const Shape4& s, double cy, double cx, double r_in, double r_out) {
  std::int64_t n = 0;
  for (std::int64_t i = 0; i < s.det_y; ++i)
    for (std::int64_t j = 0; j < s.det_x; ++j) {
      const double d2 = (i - cy) * (i - cy) + (j - cx) * (j - cx);
      n += d2 <= r_out * r_out && !(r_in > 0 && d2 <= r_in * r_in);
    }
  return n;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

std::uint32_t be32(const std::string& s, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at])) << 24) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 2])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 3]));
}

int files_in(const std::string& dir) {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

const char kPngSignature[] = "\x89PNG\r\n\x1a\n";

} // namespace

TEST_CASE("virtual: parameters, defaults and validation") {
  VirtualParams p;
  ParamList list;
  list.stage("virtual", [&](ParamSink& s) { describe(p, s); });
  REQUIRE(list.find("virtual.bf_radius") != nullptr);
  CHECK(list.find("virtual.bf_radius")->get() == "0");
  CHECK(list.find("virtual.center_y")->get() == "-1");
  list.set("virtual.bf_radius", "4.5");
  list.set("virtual.adf_inner", "10");
  list.set("virtual.adf_outer", "20");
  CHECK(p.bf_radius == 4.5);
  CHECK(p.adf_outer == 20);
  CHECK_THROWS_AS(list.set("virtual.bf_radius", "-1"), Error);
  CHECK_NOTHROW(validate(p, 64, 64));

  const double diag = std::hypot(64.0, 48.0);  // 80
  auto check = [](VirtualParams q, const std::string& expect) {
    std::string m = error_of([&] { validate(q, 64, 48); });
    CHECK(m == expect);
  };
  VirtualParams q;
  q.bf_radius = -2;
  check(q, "virtual.bf_radius = -2: must be >= 0");
  q = {};
  q.bf_radius = diag + 1;
  check(q, "virtual.bf_radius = 81: larger than the detector diagonal (80 px)");
  q = {};
  q.adf_inner = 20;
  q.adf_outer = 20;
  check(q, "virtual.adf_inner = 20: must be smaller than virtual.adf_outer = 20");
  q.adf_outer = 10;
  check(q, "virtual.adf_inner = 20: must be smaller than virtual.adf_outer = 10");
  q.adf_inner = 5;
  q.adf_outer = 200;
  check(q, "virtual.adf_outer = 200: larger than the detector diagonal (80 px)");
  q = {};
  q.center_y = 10;
  check(q, "virtual.center_y = 10, virtual.center_x = -1: give both coordinates of the centre, or neither "
           "(negative = automatic)");
  q.center_x = 48;
  check(q, "virtual.center_x = 48: outside the detector (columns 0..47)");
  q.center_x = 47;
  CHECK_NOTHROW(validate(q, 64, 48));
  try {
    q.bf_radius = -1;
    validate(q, 64, 48);
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::bad_parameter);
  }
}

TEST_CASE("virtual: exact BF/ADF sums and mean/max patterns with a given centre") {
  const Shape4 s{5, 6, 40, 48};
  const double cy = 19, cx = 23.5;
  DiskSource src(s, cy, cx);
  VirtualParams p;
  p.bf_radius = 5;
  p.adf_inner = 11;
  p.adf_outer = 15;
  p.center_y = cy;
  p.center_x = cx;
  RunContext ctx;
  ctx.memory_budget = 2 * 7 * 40 * 48 * 4;  // 7 frames per block: blocks cross scan rows
  std::int64_t last_done = -1, last_total = -1;
  ctx.progress = [&](const char* stage, std::int64_t done, std::int64_t total) {
    CHECK(std::string(stage) == "virtual");
    last_done = done;
    last_total = total;
  };
  VirtualImages v = compute_virtual(src, p, ctx);
  CHECK(last_done == 30);
  CHECK(last_total == 30);
  CHECK(v.scan == Shape2{5, 6});
  CHECK(v.detector == Shape2{40, 48});
  CHECK_FALSE(v.center_auto);
  CHECK(v.center_y == cy);
  CHECK(v.center_x == cx);
  const std::int64_t n_disk = count_in(s, cy, cx, 0, 5);
  const std::int64_t n_ring = count_in(s, cy, cx, 12, 14);
  CHECK(n_disk == 78);  // a radius-5 disk centred half-way between two columns
  CHECK(v.bf_pixels == n_disk);
  CHECK(v.adf_pixels == count_in(s, cy, cx, 11, 15));
  REQUIRE(v.bf.size() == 30);
  REQUIRE(v.adf.size() == 30);
  for (std::int64_t k = 0; k < 30; ++k) {
    CHECK(v.bf[static_cast<std::size_t>(k)] == static_cast<float>((1 + k % 3) * n_disk));
    CHECK(v.adf[static_cast<std::size_t>(k)] == static_cast<float>((2 + k % 2) * n_ring));
  }
  // mean pattern: disk (1+2+3)*10/30 = 2, ring (2*15 + 3*15)/30 = 2.5; max: 3 and 3
  REQUIRE(v.mean_dp.size() == 40 * 48);
  REQUIRE(v.max_dp.size() == 40 * 48);
  for (std::size_t j = 0; j < v.mean_dp.size(); ++j) {
    const float expect_mean = static_cast<float>(
        [&] { double a = 0; for (std::int64_t k = 0; k < 30; ++k) a += src.value(k, j); return a / 30; }());
    float expect_max = -1;
    for (std::int64_t k = 0; k < 30; ++k) expect_max = std::max(expect_max, src.value(k, j));
    REQUIRE(v.mean_dp[j] == expect_mean);
    REQUIRE(v.max_dp[j] == expect_max);
  }
  CHECK(v.mean_dp[static_cast<std::size_t>(19 * 48 + 23)] == 2.0f);
  CHECK(v.max_dp[static_cast<std::size_t>(19 * 48 + 23)] == 3.0f);

  // only BF: no ADF image; only ADF: no BF image
  VirtualParams only_bf = p;
  only_bf.adf_inner = only_bf.adf_outer = 0;
  VirtualImages b = compute_virtual(src, only_bf, ctx);
  CHECK(b.adf.empty());
  CHECK(same_bits(b.bf, v.bf));
  VirtualParams only_adf = p;
  only_adf.bf_radius = 0;
  VirtualImages a = compute_virtual(src, only_adf, ctx);
  CHECK(a.bf.empty());
  CHECK(same_bits(a.adf, v.adf));

  // adf_inner = 0 is a full disk
  VirtualParams full = p;
  full.adf_inner = 0;
  full.adf_outer = 5;
  VirtualImages f = compute_virtual(src, full, ctx);
  CHECK(same_bits(f.adf, v.bf));
}

TEST_CASE("virtual: automatic centre of the central beam within 0.05 px") {
  const Shape4 s{3, 4, 48, 56};
  for (auto [cy, cx] : {std::pair{19.3, 23.6}, std::pair{24.0, 27.5}, std::pair{30.71, 20.18}}) {
    CAPTURE(cy);
    CAPTURE(cx);
    DiskSource src(s, cy, cx, true);
    VirtualParams p;
    p.bf_radius = 5;
    RunContext ctx;
    std::int64_t last_done = -1, last_total = -1;
    ctx.progress = [&](const char*, std::int64_t done, std::int64_t total) {
      last_done = done;
      last_total = total;
    };
    std::vector<std::string> messages;
    ctx.log_threshold = LogLevel::debug;
    ctx.log = [&](LogLevel, const std::string& m) { messages.push_back(m); };
    VirtualImages v = compute_virtual(src, p, ctx);
    CHECK(v.center_auto);
    CHECK(std::abs(v.center_y - cy) < 0.05);
    CHECK(std::abs(v.center_x - cx) < 0.05);
    CHECK(last_done == 24);  // two passes over 12 frames
    CHECK(last_total == 24);
    REQUIRE(messages.size() == 1);
    CHECK(messages[0].find("central beam of the mean pattern at (") != std::string::npos);
    // the images equal those with the found centre given explicitly
    VirtualParams given = p;
    given.center_y = v.center_y;
    given.center_x = v.center_x;
    VirtualImages w = compute_virtual(src, given, ctx);
    CHECK(same_bits(v.bf, w.bf));
    CHECK(same_bits(v.mean_dp, w.mean_dp));
    CHECK(v.bf_pixels == count_in(s, v.center_y, v.center_x, 0, 5));
  }
  // find_central_beam on a flat pattern: a clear error
  std::vector<float> flat(100, 3.0f);
  std::string m = error_of([&] { find_central_beam(flat, 10, 10); });
  CHECK(m.find("no central beam found") == 0);
  // one hot pixel does not beat a disk
  DiskSource disk(Shape4{1, 1, 48, 56}, 30.5, 12.5, true);
  std::vector<float> pattern = read_pattern(disk, 0, 0);
  pattern[5 * 56 + 50] = 5.0f;
  auto [y, x] = find_central_beam(pattern, 48, 56);
  CHECK(std::abs(y - 30.5) < 0.05);
  CHECK(std::abs(x - 12.5) < 0.05);
}

TEST_CASE("virtual: results bit-identical for 1 and 2 threads and any memory budget") {
  const Shape4 s{6, 5, 40, 36};
  const std::size_t frame_bytes = 40 * 36 * 4;
  VirtualParams p;
  p.bf_radius = 6.5;
  p.adf_inner = 9;
  p.adf_outer = 16;
  auto run = [&](int threads, std::size_t budget) {
    NoisySource src(s);
    RunContext ctx;
    ctx.memory_budget = budget;
    std::unique_ptr<tbb::global_control> limit;
    if (threads == 1) limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, 1);
    else ctx.threads = threads;
    return compute_virtual(src, p, ctx);
  };
  VirtualImages ref = run(1, std::size_t(1) << 30);
  CHECK(std::abs(ref.center_y - 20.3) < 0.2);
  CHECK(std::abs(ref.center_x - 17.8) < 0.2);
  for (int threads : {1, 2}) {
    for (std::size_t budget : {2 * frame_bytes, 2 * 3 * frame_bytes, 2 * 7 * frame_bytes, std::size_t(1) << 30}) {
      CAPTURE(threads);
      CAPTURE(budget);
      VirtualImages v = run(threads, budget);
      CHECK(v.center_y == ref.center_y);
      CHECK(v.center_x == ref.center_x);
      CHECK(same_bits(v.bf, ref.bf));
      CHECK(same_bits(v.adf, ref.adf));
      CHECK(same_bits(v.mean_dp, ref.mean_dp));
      CHECK(same_bits(v.max_dp, ref.max_dp));
    }
  }
}

TEST_CASE("virtual: cancellation and bad parameters stop the stage") {
  DiskSource src(Shape4{2, 2, 32, 32}, 15, 15);
  VirtualParams p;
  p.bf_radius = 4;
  RunContext ctx;
  std::atomic<bool> cancel{true};
  ctx.cancel = &cancel;
  try {
    compute_virtual(src, p, ctx);
    FAIL("no throw");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::interrupted);
  }
  ctx.cancel = nullptr;
  p.bf_radius = 100;
  try {
    compute_virtual(src, p, ctx);
    FAIL("no throw");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::bad_parameter);
    CHECK(std::string(e.what()).find("virtual.bf_radius = 100: larger than the detector diagonal") == 0);
  }
  // a mask without pixels is a warning, not an error
  p.bf_radius = 0.3;
  p.center_y = 10.5;
  p.center_x = 10.5;
  std::vector<std::string> warnings;
  ctx.log = [&](LogLevel level, const std::string& m) {
    if (level == LogLevel::warning) warnings.push_back(m);
  };
  VirtualImages v = compute_virtual(src, p, ctx);
  CHECK(v.bf_pixels == 0);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("holds no detector pixel") != std::string::npos);
}

TEST_CASE("virtual: write_virtual_h5 round trip, temporary name, errors name the file") {
  namespace h5 = domainmap::h5;
  const Shape4 s{3, 4, 32, 30};
  DiskSource src(s, 15, 14);
  VirtualParams p;
  p.bf_radius = 5;
  p.adf_inner = 11;
  p.adf_outer = 15;
  RunContext ctx;
  VirtualImages v = compute_virtual(src, p, ctx);
  std::string dir = testing::scratch("virtual_h5");
  std::string out = dir + "/v.h5";
  write_virtual_h5(v, out, "input.mib", {{"virtual.bf_radius", "5"}, {"read.format", "auto"}});
  CHECK(files_in(dir) == 1);  // no temporary left behind

  h5::Handle f = h5::open_file_read(out);
  CHECK(h5::read_string_attr(f, "input").value_or("") == "input.mib");
  CHECK(h5::read_string_attr(f, "domainmap_version").has_value());
  CHECK(h5::read_number_attr(f, "format_version").value_or(0) == 1);
  std::string created = h5::read_string_attr(f, "created").value_or("");
  CHECK(created.size() == 20);
  CHECK(created[10] == 'T');
  CHECK(created.back() == 'Z');
  h5::Handle scan = h5::open_group(f, "/scan", out);
  CHECK(h5::read_numbers_attr(scan, "scan_shape") == std::vector<double>{3, 4});
  CHECK(h5::read_numbers_attr(scan, "detector_shape") == std::vector<double>{32, 30});
  h5::Handle cfg = h5::open_group(f, "/config", out);
  CHECK(h5::read_string_attr(cfg, "virtual.bf_radius").value_or("") == "5");
  h5::Handle g = h5::open_group(f, "/virtual", out);
  CHECK(h5::read_number_attr(g, "bf_radius").value_or(0) == 5);
  CHECK(h5::read_number_attr(g, "adf_inner").value_or(0) == 11);
  CHECK(h5::read_number_attr(g, "adf_outer").value_or(0) == 15);
  CHECK(h5::read_number_attr(g, "center_y").value_or(0) == v.center_y);
  CHECK(h5::read_number_attr(g, "center_x").value_or(0) == v.center_x);
  for (auto [name, data, dims] :
       {std::tuple{"bf", &v.bf, std::vector<std::int64_t>{3, 4}}, std::tuple{"adf", &v.adf, std::vector<std::int64_t>{3, 4}},
        std::tuple{"mean_dp", &v.mean_dp, std::vector<std::int64_t>{32, 30}},
        std::tuple{"max_dp", &v.max_dp, std::vector<std::int64_t>{32, 30}}}) {
    CAPTURE(name);
    h5::Handle d = h5::open_dataset(g, name, out);
    CHECK(h5::dataset_dims(d) == dims);
    CHECK(h5::dtype_string(h5::Handle(H5Dget_type(d))) == "<f4");
    CHECK(same_bits(h5::read_floats(d, out), *data));
  }
  h5::Handle bf = h5::open_dataset(g, "bf", out);
  CHECK(h5::read_number_attr(bf, "radius").value_or(0) == 5);
  CHECK(h5::read_number_attr(bf, "mask_pixels").value_or(0) == static_cast<double>(v.bf_pixels));
  CHECK(h5::read_numbers_attr(bf, "center") == std::vector<double>{v.center_y, v.center_x});

  // without ADF: no /virtual/adf
  VirtualImages no_adf = v;
  no_adf.adf.clear();
  write_virtual_h5(no_adf, dir + "/b.h5", "x");
  h5::Handle f2 = h5::open_file_read(dir + "/b.h5");
  CHECK(h5::exists(f2, "/virtual/bf"));
  CHECK_FALSE(h5::exists(f2, "/virtual/adf"));

  // missing folder
  std::string bad = dir + "/no/such/folder/v.h5";
  std::string m = error_of([&] { write_virtual_h5(v, bad, "x"); });
  CHECK(m.rfind(bad + ": ", 0) == 0);
  CHECK(files_in(dir) == 2);
}

TEST_CASE("virtual: PNG gray levels: percentile clip, log scale, NaN black, constant gray") {
  std::vector<float> ramp(256);
  for (int i = 0; i < 256; ++i) ramp[static_cast<std::size_t>(i)] = static_cast<float>(i) * 0.5f - 7;
  PngScaling full;
  full.low_percentile = 0;
  full.high_percentile = 100;
  std::vector<std::uint8_t> g = gray_levels(ramp.data(), ramp.size(), full);
  for (int i = 0; i < 256; ++i) CHECK(g[static_cast<std::size_t>(i)] == i);
  // default 0.5 / 99.5 % clip: the extreme values saturate
  std::vector<float> spiky(1000, 1.0f);
  for (int i = 0; i < 1000; ++i) spiky[static_cast<std::size_t>(i)] = static_cast<float>(i % 100);
  spiky[17] = 1e6f;
  spiky[18] = std::nanf("");
  spiky[19] = -INFINITY;
  g = gray_levels(spiky.data(), spiky.size());
  CHECK(g[17] == 255);
  CHECK(g[18] == 0);
  CHECK(g[19] == 0);
  CHECK(g[50] > 120);  // the hot pixel does not darken the rest
  CHECK(g[50] < 135);
  // constant image: mid gray; all NaN: black
  std::vector<float> constant(10, 4.0f);
  g = gray_levels(constant.data(), constant.size());
  CHECK(g == std::vector<std::uint8_t>(10, 128));
  std::vector<float> nan(4, std::nanf(""));
  CHECK(gray_levels(nan.data(), nan.size()) == std::vector<std::uint8_t>(4, 0));
  // few distinct values: the clip range widens to [min, max]
  std::vector<float> sparse(1000, 0.0f);
  sparse[3] = 9;
  g = gray_levels(sparse.data(), sparse.size());
  CHECK(g[3] == 255);
  CHECK(g[4] == 0);
  // log scale: log(1 + v - min), so 0 -> 0, e-1 -> half of log(1 + (e^2 - 1))
  std::vector<float> lg{0.0f, static_cast<float>(std::exp(1.0) - 1), static_cast<float>(std::exp(2.0) - 1)};
  PngScaling log_full = full;
  log_full.scale = PngScale::log;
  g = gray_levels(lg.data(), lg.size(), log_full);
  CHECK(g == std::vector<std::uint8_t>{0, 128, 255});
  PngScaling sqrt_full = full;
  sqrt_full.scale = PngScale::sqrt;
  std::vector<float> sq{0, 1, 4};
  g = gray_levels(sq.data(), sq.size(), sqrt_full);
  CHECK(g == std::vector<std::uint8_t>{0, 128, 255});
}

TEST_CASE("virtual: PNG files: signature, size, temporary name, errors name the file") {
  std::string dir = testing::scratch("virtual_png");
  std::vector<float> img(7 * 5);
  for (std::size_t i = 0; i < img.size(); ++i) img[i] = static_cast<float>(i);
  write_png_gray(dir + "/g.png", img.data(), 7, 5);
  std::string g = slurp(dir + "/g.png");
  REQUIRE(g.size() > 33);
  CHECK(g.compare(0, 8, kPngSignature, 8) == 0);
  CHECK(g.compare(12, 4, "IHDR") == 0);
  CHECK(be32(g, 16) == 5);  // width
  CHECK(be32(g, 20) == 7);  // height
  CHECK(g[24] == 8);        // bit depth
  CHECK(g[25] == 0);        // gray
  CHECK(g.compare(g.size() - 8, 4, "IEND") == 0);

  std::vector<std::uint8_t> rgb(3 * 4 * 3, 200);
  write_png_rgb(dir + "/c.png", rgb.data(), 3, 4);
  std::string c = slurp(dir + "/c.png");
  CHECK(c.compare(0, 8, kPngSignature, 8) == 0);
  CHECK(be32(c, 16) == 4);
  CHECK(be32(c, 20) == 3);
  CHECK(c[25] == 2);  // RGB
  CHECK(files_in(dir) == 2);

  std::string bad = dir + "/missing/g.png";
  std::string m = error_of([&] { write_png_gray(bad, img.data(), 7, 5); });
  CHECK(m.rfind(bad + ": ", 0) == 0);
  m = error_of([&] { write_png_gray(dir + "/z.png", img.data(), 0, 5); });
  CHECK(m.rfind(dir + "/z.png: ", 0) == 0);
  CHECK(files_in(dir) == 2);
}

TEST_CASE("virtual: real HDF5 file generic_gzip_4d.h5: mean pattern sum = README sum / frames") {
  auto src = open_dataset(testing::shared("data/real/dectris/generic_gzip_4d.h5"));
  REQUIRE(src->shape() == Shape4{6, 7, 64, 64});
  VirtualParams p;
  p.bf_radius = 6;
  p.adf_inner = 10;
  p.adf_outer = 30;
  RunContext ctx;
  ctx.memory_budget = 2 * 5 * 64 * 64 * 4;
  VirtualImages v = compute_virtual(*src, p, ctx);
  double mean_sum = 0;
  for (float x : v.mean_dp) mean_sum += x;
  CHECK(mean_sum == doctest::Approx(957870.0 / 42).epsilon(1e-6));
  float mx = 0;
  for (float x : v.max_dp) mx = std::max(mx, x);
  CHECK(mx == 327.0f);
  // the central disk is near the detector centre; BF + ADF never exceed the frame sums
  CHECK(std::abs(v.center_y - 32) < 2);
  CHECK(std::abs(v.center_x - 32) < 2);
  double bf_sum = 0;
  for (float x : v.bf) bf_sum += x;
  CHECK(bf_sum > 0);
  CHECK(bf_sum < 957870);
  // the first frame: BF + ADF + rest = 19937
  std::vector<float> f0 = read_pattern(*src, 0, 0);
  double bf0 = 0, adf0 = 0;
  for (std::int64_t i = 0; i < 64; ++i)
    for (std::int64_t j = 0; j < 64; ++j) {
      const double d2 = (i - v.center_y) * (i - v.center_y) + (j - v.center_x) * (j - v.center_x);
      if (d2 <= 36) bf0 += f0[static_cast<std::size_t>(i * 64 + j)];
      if (d2 > 100 && d2 <= 900) adf0 += f0[static_cast<std::size_t>(i * 64 + j)];
    }
  CHECK(v.bf[0] == static_cast<float>(bf0));
  CHECK(v.adf[0] == static_cast<float>(adf0));
}

TEST_CASE("virtual: real Dectris file nonzero_master.h5: central beam near the documented centre") {
  auto src = open_dataset(testing::shared("data/real/dectris/nonzero_master.h5"));
  REQUIRE(src->shape() == Shape4{4, 5, 96, 96});
  VirtualParams p;
  p.bf_radius = 4.5;
  RunContext ctx;
  VirtualImages v = compute_virtual(*src, p, ctx);
  // centre at (46.5 + 0.25 ry, 48.5 - 0.2 rx): mean over the scan (46.875, 48.1)
  CHECK(std::abs(v.center_y - 46.875) < 0.3);
  CHECK(std::abs(v.center_x - 48.1) < 0.3);
  double mean_sum = 0;
  for (float x : v.mean_dp) mean_sum += x;
  CHECK(mean_sum == doctest::Approx(936045.0 / 20).epsilon(1e-6));  // rejected pixels read as 0
}
