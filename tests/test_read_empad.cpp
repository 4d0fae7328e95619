// tests/test_read_empad.cpp: the EMPAD reader on the real XML headers with their raw files
// (numbers from shared/data/real/empad/README.md), on hand-written headers, and on broken
// copies.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <vector>

#include "domainmap/dataset.hpp"
#include "domainmap/error.hpp"
#include "testing.hpp"

using namespace domainmap;
namespace fs = std::filesystem;

namespace {

std::string empad(const std::string& name) { return testing::shared("data/real/empad/" + name); }

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

std::string meta(const FrameSource& src, const std::string& key) {
  for (const auto& [k, v] : src.info().metadata)
    if (k == key) return v;
  return "(missing)";
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
}

void copy(const std::string& from, const std::string& to) {
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
  fs::permissions(to, fs::perms::owner_read | fs::perms::owner_write);
}

// Overwrites the float32 at (frame, row, col) of an EMPAD raw (130 x 128 rows per frame).
void poke_f32(const std::string& raw, std::int64_t frame, std::int64_t row, std::int64_t col, float v) {
  std::fstream f(raw, std::ios::binary | std::ios::in | std::ios::out);
  f.seekp((frame * 130 * 128 + row * 128 + col) * 4);
  f.write(reinterpret_cast<const char*>(&v), 4);
}

std::int64_t count_negative(FrameSource& src) {
  std::vector<float> f(128 * 128);
  std::int64_t n = 0;
  for (std::int64_t k = 0; k < src.shape().n_frames(); ++k) {
    src.read_frames(k, 1, f.data());
    for (float v : f) n += v < 0;
  }
  return n;
}

} // namespace

TEST_CASE("empad: map4x4.xml with scan_x4_y4.raw") {
  CHECK(detect_format(empad("map4x4.xml")) == "empad");
  auto src = open_dataset(empad("map4x4.xml"));
  const DatasetInfo& info = src->info();
  CHECK(info.format == "empad");
  CHECK(info.shape == Shape4{4, 4, 128, 128});
  CHECK(info.dtype == "<f4");
  CHECK(info.frames_present == 16);
  CHECK(info.notes.empty());  // pix_x/pix_y, the first candidate, fits
  CHECK(meta(*src, "scan_shape_source") == "pix_x/pix_y");
  CHECK(meta(*src, "raw_file") == empad("scan_x4_y4.raw"));
  CHECK(meta(*src, "timestamp") == "2019-06-06T13:30:00.164675");
  CHECK(meta(*src, "software_version") == "0.51 211118");
  CHECK(meta(*src, "beam_energy_V") == "300000.0");
  CHECK(meta(*src, "camera_length") == "0.7225");

  // values are multiples of 1/64: the float64 sums are exact
  for (std::size_t budget : {std::size_t(1) << 30, std::size_t(3 * 128 * 128 * 4 * 2)}) {
    RunContext ctx;
    ctx.memory_budget = budget;
    DatasetStats st = compute_stats(*src, ctx);
    CHECK(st.sum == 822741.625);  // 827261.625 if the footer rows were kept
    CHECK(st.min == -1.5625);
    CHECK(st.max == 161.84375);
    CHECK(st.first_frame_sum == 51537.6875);
    CHECK(st.last_frame_sum == 51224.078125);
    CHECK(st.n_nan == 0);
  }
  CHECK(read_pattern(*src, 0, 0)[63 * 128 + 64] == 110.109375f);
  CHECK(read_pattern(*src, 1, 2)[70 * 128 + 94] == 9.46875f);
  CHECK(read_pattern(*src, 3, 3)[127 * 128 + 0] == -0.609375f);
  CHECK(count_negative(*src) == 69785);

  // calibration as rosettasciio reads it: 0.18265 1/nm per detector pixel, field of view / 4
  const Calibration& c = info.calibration;
  CHECK(c.known);
  CHECK(c.q_units == "A^-1");
  CHECK(c.q_pixel_size == doctest::Approx(0.01826537060227288).epsilon(1e-12));
  CHECK(c.r_units == "nm");
  CHECK(c.r_pixel_size == doctest::Approx(4.5663426505682195e-06 / 4 * 1e9).epsilon(1e-12));
}

TEST_CASE("empad: stack_images.xml series with series_x10.raw") {
  auto src = open_dataset(empad("stack_images.xml"));
  CHECK(src->shape() == Shape4{1, 10, 128, 128});
  CHECK(meta(*src, "scan_shape_source") == "scan_parameters/series_count");
  CHECK(meta(*src, "type") == "series");
  RunContext ctx;
  DatasetStats st = compute_stats(*src, ctx);
  CHECK(st.sum == 514037.828125);  // 516787.828125 with the footer rows
  CHECK(st.min == -1.5);
  CHECK(st.max == 152.078125);
  CHECK(st.first_frame_sum == 51375.203125);
  CHECK(st.last_frame_sum == 51512.640625);
  CHECK(read_pattern(*src, 0, 0)[60 * 128 + 66] == 103.953125f);
  CHECK(read_pattern(*src, 0, 4)[64 * 128 + 95] == 21.328125f);
  CHECK(read_pattern(*src, 0, 9)[127 * 128 + 127] == -0.40625f);
  CHECK(count_negative(*src) == 43647);
  // a series has no scan step
  CHECK(src->info().calibration.r_units == "pixels");
}

TEST_CASE("empad: opening the .raw finds its .xml, read.scan_shape overrides") {
  ReadParams p;
  p.format = "empad";
  auto src = open_dataset(empad("scan_x4_y4.raw"), p);
  CHECK(src->shape() == Shape4{4, 4, 128, 128});
  CHECK(meta(*src, "xml_file") == empad("map4x4.xml"));
  CHECK(src->info().calibration.known);
  RunContext ctx;
  CHECK(compute_stats(*src, ctx).sum == 822741.625);

  p.scan_shape = {2, 8};
  src = open_dataset(empad("map4x4.xml"), p);
  CHECK(src->shape() == Shape4{2, 8, 128, 128});
  CHECK(meta(*src, "scan_shape_source") == "read.scan_shape");
  DatasetStats st = compute_stats(*src, ctx);
  CHECK(st.sum == 822741.625);
  CHECK(st.last_frame_sum == 51224.078125);

  p.scan_shape = {5, 4};
  std::string m = error_of([&] { open_dataset(empad("map4x4.xml"), p); });
  CHECK(m == empad("scan_x4_y4.raw") +
                 ": 1064960 bytes = 16 frames of 66560, but read.scan_shape 5 x 4 needs 20 frames (1331200 bytes)");

  // a raw without an XML beside it: only with a scan shape
  std::string dir = testing::scratch("empad_raw_alone");
  copy(empad("series_x10.raw"), dir + "/series_x10.raw");
  p.scan_shape = {};
  m = error_of([&] { open_dataset(dir + "/series_x10.raw", p); });
  CHECK(m == dir + "/series_x10.raw: no EMPAD .xml beside it names this raw file; open the .xml or give "
                   "--read.scan_shape (the file holds 665600 bytes = 10 frames of 66560)");
  p.scan_shape = {2, 5};
  src = open_dataset(dir + "/series_x10.raw", p);
  CHECK(src->shape() == Shape4{2, 5, 128, 128});
  CHECK(compute_stats(*src, ctx).sum == 514037.828125);
  CHECK(has_note(*src, "no EMPAD .xml found"));
}

TEST_CASE("empad: hand-written headers: attribute order, whitespace, 1.2.x fields, shape fallbacks") {
  std::string dir = testing::scratch("empad_xml");
  copy(empad("scan_x4_y4.raw"), dir + "/a&b_scan_x4_y4.raw");
  // 1.2.x style: no pix_x/pix_y, no type; acquire block and the raw name give the shape
  write_text(dir + "/new.xml", R"(<?xml version="1.0" encoding="utf-8"?>
<!-- written by hand -->
<root name = 'acq'>
  <timestamp isoformat="2024-01-02T03:04:05" timestamp="1704164645.0"/>
  <software_version>1.2.2 (2023)</software_version>
  <raw_file
     id = "7"   filename = '/home/empad/data/a&amp;b_scan_x4_y4.raw' />
  <scan_parameters mode="search"><scan_resolution_x>64</scan_resolution_x><scan_resolution_y>64</scan_resolution_y></scan_parameters>
  <scan_parameters mode="acquire">
     <scan_resolution_y> 4 </scan_resolution_y>
     <scan_resolution_x>4</scan_resolution_x>
     <scan_size>0.5</scan_size>
  </scan_parameters>
  <iom_measurements>
    <full_scan_field_of_view><scale_factor>0.72</scale_factor><x>4e-06</x><y>4e-06</y></full_scan_field_of_view>
    <high_voltage>200000</high_voltage>
  </iom_measurements>
</root>
)");
  auto src = open_dataset(dir + "/new.xml");
  CHECK(src->shape() == Shape4{4, 4, 128, 128});
  CHECK(meta(*src, "scan_shape_source") == "raw file name");
  CHECK(meta(*src, "raw_file") == dir + "/a&b_scan_x4_y4.raw");
  CHECK(meta(*src, "beam_energy_V") == "200000");
  const Calibration& c = src->info().calibration;
  CHECK(c.q_units == "pixels");  // 1.2.x headers carry no diffraction calibration
  CHECK(c.r_units == "nm");
  CHECK(c.r_pixel_size == doctest::Approx(4e-6 / 0.72 / 4 * 1e9).epsilon(1e-12));
  RunContext ctx;
  CHECK(compute_stats(*src, ctx).sum == 822741.625);

  // pix_x/pix_y that do not fit: the next candidate that does is used, and said so
  write_text(dir + "/bad_pix.xml",
             "<root><pix_x>8</pix_x><pix_y>8</pix_y><raw_file filename=\"a&amp;b_scan_x4_y4.raw\"/></root>");
  src = open_dataset(dir + "/bad_pix.xml");
  CHECK(src->shape() == Shape4{4, 4, 128, 128});
  CHECK(has_note(*src, "scan shape 4 x 4 from raw file name; pix_x/pix_y 8 x 8 does not fit the file size"));

  // nothing fits
  write_text(dir + "/none.xml", "<root><pix_x>8</pix_x><pix_y>8</pix_y><raw_file filename=\"x.raw\"/>"
                                "<scan_parameters mode=\"acquire\"><scan_resolution_x>128</scan_resolution_x>"
                                "<scan_resolution_y>128</scan_resolution_y></scan_parameters></root>");
  copy(empad("scan_x4_y4.raw"), dir + "/x.raw");
  std::string m = error_of([&] { open_dataset(dir + "/none.xml"); });
  CHECK(m == dir + "/x.raw: 1064960 bytes = 16 frames of 66560, expected 4259840 bytes for pix_x/pix_y 8 x 8 (64 "
                   "frames); also tried scan_parameters acquire 128 x 128; the raw file is truncated or does not "
                   "belong to none.xml");

  // no scan shape at all, no raw_file, broken XML
  write_text(dir + "/noshape.xml", "<root><raw_file filename=\"x.raw\"/></root>");
  m = error_of([&] { open_dataset(dir + "/noshape.xml"); });
  CHECK(m.rfind(dir + "/noshape.xml: no scan shape in the EMPAD header", 0) == 0);
  CHECK(m.find("16 frames of 66560") != std::string::npos);
  write_text(dir + "/noraw.xml", "<root><pix_x>4</pix_x></root>");
  ReadParams p;
  p.format = "empad";
  m = error_of([&] { open_dataset(dir + "/noraw.xml", p); });
  CHECK(m == dir + "/noraw.xml: no raw_file element with a filename; not an EMPAD XML header");
  write_text(dir + "/broken.xml", "<root><pix_x>4</pix_y><raw_file filename=\"x.raw\"/></root>");
  m = error_of([&] { open_dataset(dir + "/broken.xml"); });
  CHECK(m == dir + "/broken.xml: not well-formed XML at byte 14: </pix_y> closes <pix_x>");
}

TEST_CASE("empad: missing or truncated raw files") {
  std::string dir = testing::scratch("empad_missing");
  copy(empad("map4x4.xml"), dir + "/map4x4.xml");
  std::string m = error_of([&] { open_dataset(dir + "/map4x4.xml"); });
  CHECK(m == dir + "/scan_x4_y4.raw: no such file (the raw file named by map4x4.xml; keep the .raw beside the .xml "
                   "under its original name)");
  CHECK(m.find('\n') == std::string::npos);

  // one byte short
  fs::copy_file(empad("scan_x4_y4.raw"), dir + "/scan_x4_y4.raw");
  fs::permissions(dir + "/scan_x4_y4.raw", fs::perms::owner_read | fs::perms::owner_write);
  fs::resize_file(dir + "/scan_x4_y4.raw", 1064959);
  m = error_of([&] { open_dataset(dir + "/map4x4.xml"); });
  CHECK(m == dir + "/scan_x4_y4.raw: 1064959 bytes, not a whole number of 66560-byte frames (15 frames + 66559 "
                   "bytes), expected 1064960 bytes for pix_x/pix_y 4 x 4 (16 frames); also tried raw file name 4 x 4, "
                   "scan_parameters acquire 128 x 128, scan_parameters search 64 x 64; the raw file is truncated or "
                   "does not belong to map4x4.xml");
  // one frame short
  fs::resize_file(dir + "/scan_x4_y4.raw", 1064960 - 66560);
  m = error_of([&] { open_dataset(dir + "/map4x4.xml"); });
  CHECK(m.rfind(dir + "/scan_x4_y4.raw: 998400 bytes = 15 frames of 66560, expected 1064960 bytes", 0) == 0);

  copy(empad("stack_images.xml"), dir + "/stack_images.xml");
  fs::copy_file(empad("series_x10.raw"), dir + "/series_x10.raw");
  fs::permissions(dir + "/series_x10.raw", fs::perms::owner_read | fs::perms::owner_write);
  fs::resize_file(dir + "/series_x10.raw", 665600 - 1);
  m = error_of([&] { open_dataset(dir + "/stack_images.xml"); });
  CHECK(m.rfind(dir + "/series_x10.raw: 665599 bytes", 0) == 0);
  CHECK(m.find("expected 665600 bytes") != std::string::npos);
}

TEST_CASE("empad: NaN pixels are an error unless nan_to_zero, footer values never count") {
  std::string dir = testing::scratch("empad_nan");
  copy(empad("map4x4.xml"), dir + "/map4x4.xml");
  copy(empad("scan_x4_y4.raw"), dir + "/scan_x4_y4.raw");
  const std::string raw = dir + "/scan_x4_y4.raw";
  // frame 9 = (2, 1), pixel (10, 20) holds -0.15625; a NaN and an Inf in footers are ignored
  poke_f32(raw, 9, 10, 20, std::numeric_limits<float>::quiet_NaN());
  poke_f32(raw, 3, 128, 5, std::numeric_limits<float>::quiet_NaN());
  poke_f32(raw, 15, 129, 127, std::numeric_limits<float>::infinity());
  RunContext ctx;
  {
    auto src = open_dataset(dir + "/map4x4.xml");
    std::string m = error_of([&] { compute_stats(*src, ctx); });
    CHECK(m == raw + ": frame 9: 1 NaN/Inf pixel(s) in this block; use --read.nan_to_zero true to replace them by 0");
    CHECK(error_of([&] { read_pattern(*src, 0, 3); }) == "(no error)");  // footer NaN of frame 3 is dropped
  }
  ReadParams p;
  p.nan_to_zero = true;
  auto src = open_dataset(dir + "/map4x4.xml", p);
  DatasetStats st = compute_stats(*src, ctx);
  CHECK(st.sum == 822741.625 + 0.15625);
  CHECK(st.n_nan == 0);
  CHECK(has_note(*src, "1 NaN/Inf pixel(s) replaced by 0 (read.nan_to_zero)"));
  CHECK(read_pattern(*src, 2, 1)[10 * 128 + 20] == 0.0f);
}
