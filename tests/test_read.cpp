// tests/test_read.cpp: the read stage's generic parts: parameters, reader selection, block
// streaming under a memory budget, random access, statistics.
#include <doctest/doctest.h>

#include <numeric>

#include "domainmap/dataset.hpp"
#include "domainmap/error.hpp"
#include "testing.hpp"

using namespace domainmap;

namespace {
// A dataset whose pixel (k, j) of frame k is k * 1000 + j: every value says where it came from.
class CountingSource : public FrameSource {
public:
  CountingSource(Shape4 s) {
    info_.shape = s;
    info_.format = "test";
    info_.frames_present = s.n_frames();
  }
  void read_frames(std::int64_t first, std::int64_t count, float* out) override {
    ++calls;
    for (std::int64_t k = 0; k < count; ++k)
      for (std::int64_t j = 0; j < shape().frame_pixels(); ++j)
        out[k * shape().frame_pixels() + j] = static_cast<float>((first + k) * 1000 + j);
  }
  int calls = 0;
};
} // namespace

TEST_CASE("read params: defaults, parsing, validation and INI round trip") {
  ReadParams p;
  ParamList list;
  list.stage("read", [&](ParamSink& s) { describe(p, s); });
  REQUIRE(list.find("read.scan_shape") != nullptr);
  CHECK(list.find("read.scan_shape")->get() == "0x0");
  list.set("read.scan_shape", "4x5");
  CHECK(p.scan_shape == Shape2{4, 5});
  list.set("read.scan_shape", "6,7");
  CHECK(p.scan_shape == Shape2{6, 7});
  CHECK_THROWS_AS(list.set("read.scan_shape", "4x"), Error);
  CHECK_THROWS_AS(list.set("read.scan_shape", "0x5"), Error);
  CHECK_THROWS_AS(list.set("read.format", "tiff"), Error);
  CHECK_THROWS_AS(list.set("read.raw_file_header", "-3"), Error);
  CHECK_THROWS_AS(list.set("read.raw_file_header", "1.5"), Error);
  CHECK_THROWS_AS(list.set("read.no_such_key", "1"), Error);
  try {
    list.set("read.raw_frame_footer", "abc");
    FAIL("no throw");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "read.raw_frame_footer = abc: not a number");
    CHECK(e.kind() == ErrorKind::bad_parameter);
  }
  list.set("read.raw_dtype", "float32");
  list.set("read.raw_endian", "big");
  list.set("read.nan_to_zero", "true");

  // INI round trip: write, read into fresh defaults, compare.
  std::string dir = testing::scratch("read_params");
  std::string ini = dir + "/run.ini";
  {
    FILE* f = std::fopen(ini.c_str(), "w");
    std::fputs(list.to_ini().c_str(), f);
    std::fclose(f);
  }
  ReadParams q;
  CHECK_FALSE(q == p);
  ParamList list2;
  list2.stage("read", [&](ParamSink& s) { describe(q, s); });
  read_ini_file(ini, list2);
  CHECK(q == p);
  CHECK(q.raw_dtype == "float32");

  // bad INI: unknown key names file and line
  {
    FILE* f = std::fopen(ini.c_str(), "w");
    std::fputs("[read]\nscan_shape = 2x2\nbogus = 1\n", f);
    std::fclose(f);
  }
  try {
    read_ini_file(ini, list2);
    FAIL("no throw");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find(ini + ":3: read.bogus: unknown parameter") == 0);
  }
}

TEST_CASE("block size follows the memory budget in whole scan rows") {
  Shape4 s{10, 8, 16, 16};                    // one frame = 1 KiB of float32
  CHECK(block_frames_for_budget(s, 1 << 20, 1) == 80);   // everything fits in half of 1 MiB
  CHECK(block_frames_for_budget(s, 40 * 1024, 1) == 16); // 20 frames fit -> 2 whole rows
  CHECK(block_frames_for_budget(s, 10 * 1024, 1) == 5);  // less than a row: frames
  CHECK(block_frames_for_budget(s, 40 * 1024, 3) == 15); // aligned to chunks of 3
  CHECK_THROWS_AS(block_frames_for_budget(s, 1024, 1), Error);
  // big budgets: blocks stop at 16 MiB (64 frames of 256 x 256 float32; a row of 64 such frames
  // is a whole row)
  CHECK(block_frames_for_budget(Shape4{256, 64, 256, 256}, std::size_t(1) << 30, 1) == 64);
  CHECK(block_frames_for_budget(Shape4{256, 32, 256, 256}, std::size_t(1) << 30, 1) == 64);   // two whole rows
  CHECK(block_frames_for_budget(Shape4{256, 256, 256, 256}, std::size_t(1) << 30, 1) == 64);  // row too big: frames
  // a frame bigger than 16 MiB still gets a block of one frame if the budget allows
  CHECK(block_frames_for_budget(Shape4{2, 2, 8192, 4096}, std::size_t(1) << 30, 1) == 1);
}

TEST_CASE("BlockStream delivers every frame once, in order, with and without prefetch") {
  Shape4 s{7, 5, 4, 3};
  for (bool prefetch : {false, true}) {
    for (std::size_t budget : {std::size_t(2 * 12 * 4), std::size_t(2 * 12 * 4 * 5), std::size_t(2 * 12 * 4 * 11),
                               std::size_t(1) << 20}) {
      CountingSource src(s);
      BlockStream stream(src, budget, prefetch);
      FrameBlock b;
      std::int64_t expect = 0;
      while (stream.next(b)) {
        CHECK(b.first_frame == expect);
        for (std::int64_t k = 0; k < b.n_frames; ++k)
          for (std::int64_t j = 0; j < 12; ++j)
            REQUIRE(b.frame(k)[j] == static_cast<float>((b.first_frame + k) * 1000 + j));
        expect += b.n_frames;
      }
      CHECK(expect == 35);
      CHECK(src.calls == stream.n_blocks());
      CHECK_FALSE(stream.next(b));
    }
  }
}

TEST_CASE("read_pattern and compute_stats") {
  CountingSource src(Shape4{3, 4, 2, 2});
  auto p = read_pattern(src, 2, 1);  // frame 9
  CHECK(p == std::vector<float>{9000, 9001, 9002, 9003});
  CHECK_THROWS_AS(read_pattern(src, 3, 0), Error);
  RunContext ctx;
  ctx.memory_budget = 2 * 4 * 4 * 3;  // 3 frames per block
  DatasetStats st = compute_stats(src, ctx);
  // sum over k of (4 * 1000 k + 6) for k = 0..11
  CHECK(st.sum == doctest::Approx(4000.0 * 66 + 6 * 12));
  CHECK(st.min == 0);
  CHECK(st.max == 11003);
  CHECK(st.first_frame_sum == 6);
  CHECK(st.last_frame_sum == 44006);
  CHECK(st.n_zero_frames == 0);
}

TEST_CASE("open_dataset: missing file and unknown content are one-line errors naming the file") {
  try {
    open_dataset("/nonexistent/scan.h5");
    FAIL("no throw");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "/nonexistent/scan.h5: no such file");
    CHECK(e.kind() == ErrorKind::bad_input);
  }
  std::string dir = testing::scratch("open_unknown");
  std::string f = dir + "/junk.bin";
  FILE* fp = std::fopen(f.c_str(), "wb");
  std::fputs("hello, not a dataset", fp);
  std::fclose(fp);
  try {
    open_dataset(f);
    FAIL("no throw");
  } catch (const Error& e) {
    std::string m = e.what();
    CHECK(m.rfind(f + ": format not recognised", 0) == 0);
    CHECK(m.find('\n') == std::string::npos);
  }
}

TEST_CASE("detect_format picks the reader from the content of every real file") {
  using testing::shared;
  CHECK(detect_format(shared("data/py4dstem/sample_with_braggvectors.h5")) == "emd");
  CHECK(detect_format(shared("data/real/dectris/test_00_master.h5")) == "dectris");
  CHECK(detect_format(shared("data/real/dectris/nonzero_master.h5")) == "dectris");
  CHECK(detect_format(shared("data/real/dectris/generic_gzip_4d.h5")) == "hdf5");
  CHECK(detect_format(shared("data/real/merlin/001_4x2_6bit.mib")) == "merlin");
  CHECK(detect_format(shared("data/real/merlin/001_4x2_6bit.hdr")) == "merlin");
  CHECK(detect_format(shared("data/real/blockfile/test1.blo")) == "blockfile");
  CHECK(detect_format(shared("data/real/empad/map4x4.xml")) == "empad");
  CHECK(detect_format(shared("data/real/empad/scan_x4_y4.raw")) == "empad");  // through the .xml beside it
}
