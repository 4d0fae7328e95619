// tests/test_read_blockfile.cpp: the NanoMegas blockfile reader on the real test1.blo (numbers
// from shared/data/real/blockfile/README.md) and on edited copies of it.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <vector>

#include "domainmap/blockfile.hpp"
#include "domainmap/dataset.hpp"
#include "domainmap/error.hpp"
#include "testing.hpp"

using namespace domainmap;

namespace {

std::string test1() { return testing::shared("data/real/blockfile/test1.blo"); }

std::vector<unsigned char> slurp_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<unsigned char>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::vector<unsigned char>& b) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

void put_u32(std::vector<unsigned char>& b, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<unsigned char>(v >> (8 * i));
}

// An edited copy of test1.blo in a scratch folder.
std::string edited_copy(const std::string& dir, const std::string& name,
                        const std::function<void(std::vector<unsigned char>&)>& edit) {
  std::vector<unsigned char> b = slurp_bytes(test1());
  REQUIRE(b.size() == 128564);
  edit(b);
  std::string path = dir + "/" + name;
  write_bytes(path, b);
  return path;
}

template <typename F> std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

bool one_line(const std::string& s) { return s.find('\n') == std::string::npos && s.find('\r') == std::string::npos; }

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

std::vector<double> frame_sums(FrameSource& src) {
  std::vector<double> sums;
  const Shape4& s = src.shape();
  std::vector<float> all(static_cast<std::size_t>(s.n_frames() * s.frame_pixels()));
  src.read_frames(0, s.n_frames(), all.data());
  for (std::int64_t k = 0; k < s.n_frames(); ++k) {
    double t = 0;
    for (std::int64_t j = 0; j < s.frame_pixels(); ++j) t += all[std::size_t(k * s.frame_pixels() + j)];
    sums.push_back(t);
  }
  return sums;
}

} // namespace

TEST_CASE("blockfile: test1.blo shape, statistics, frame sums and pixels") {
  CHECK(detect_format(test1()) == "blockfile");
  auto src = open_dataset(test1());
  CHECK(src->info().format == "blockfile");
  CHECK(src->shape() == Shape4{3, 2, 144, 144});
  CHECK(src->info().dtype == "|u1");
  CHECK(src->info().frames_present == 6);
  CHECK(src->info().notes.empty());

  // whole blocks and one frame per block give the same numbers
  for (std::size_t budget : {std::size_t(1) << 30, std::size_t(2 * 144 * 144 * 4)}) {
    RunContext ctx;
    ctx.memory_budget = budget;
    DatasetStats st = compute_stats(*src, ctx);
    CHECK(st.sum == 5164570);
    CHECK(st.min == 0);
    CHECK(st.max == 255);
    CHECK(st.first_frame_sum == 845297);
    CHECK(st.last_frame_sum == 870149);
    CHECK(st.n_nan == 0);
    CHECK(st.n_zero_frames == 0);
  }
  CHECK(frame_sums(*src) == std::vector<double>{845297, 867000, 861801, 872369, 847954, 870149});

  auto p00 = read_pattern(*src, 0, 0);
  double my = 0, mx = 0;
  for (int y = 0; y < 144; ++y)
    for (int x = 0; x < 144; ++x) {
      my += p00[std::size_t(y * 144 + x)] * y;
      mx += p00[std::size_t(y * 144 + x)] * x;
    }
  CHECK(my == 63398490);
  CHECK(mx == 61223724);
  CHECK(p00[69 * 144 + 72] == 255);
  CHECK(p00[0] == 17);
  auto p21 = read_pattern(*src, 2, 1);
  CHECK(p21[143 * 144 + 143] == 34);
  // the central beam saturates within det_y 69-75, det_x 70-77 in every pattern
  for (std::int64_t ry = 0; ry < 3; ++ry)
    for (std::int64_t rx = 0; rx < 2; ++rx) {
      auto p = read_pattern(*src, ry, rx);
      CHECK(p[72 * 144 + 74] == 255);
    }
}

TEST_CASE("blockfile: header, calibration, metadata and the stored VBF") {
  BlockfileHeader h = read_blockfile_header(test1());
  CHECK(h.version == 0x0102);
  CHECK(h.vbf_offset == 4096);
  CHECK(h.data_offset == 4112);
  CHECK(h.unknown == 131135);
  CHECK(h.dp_size == 144);
  CHECK(h.dp_rotation == 0);
  CHECK(h.nx == 2);
  CHECK(h.ny == 3);
  CHECK(h.scan_rotation == 2500);
  CHECK(h.scan_rotation_deg() == 25.0);
  CHECK(h.sx == 12.8);
  CHECK(h.sy == 12.8);
  CHECK(h.beam_energy == 200000);
  CHECK(h.sdp == 6226);
  CHECK(h.pattern_pixel_cm() == 0.016061676839061997);
  CHECK(h.camera_length == 2000);
  CHECK(h.acquisition_time == 42339.653470046294);
  for (double c : h.centering) CHECK(c == 0.0);
  CHECK(h.distortion[1] == 0.98);
  CHECK(h.distortion[9] == 0.945);
  CHECK(h.distortion[0] == 0.0);
  CHECK(h.distortion[13] == 0.0);
  CHECK(h.note == "Precession angle : | Precession Frequency : | Camera gamma : on");
  CHECK(h.record_bytes() == 20742);

  CHECK(read_blockfile_vbf(test1()) == std::vector<float>{169, 173, 173, 174, 170, 173});

  auto src = open_dataset(test1());
  const Calibration& c = src->info().calibration;
  CHECK(c.known);
  CHECK(c.r_pixel_size == 12.8);
  CHECK(c.r_units == "nm");
  CHECK(c.q_units == "pixels");
  CHECK(meta(*src, "acquisition_time") == "2015-12-01T15:40:59.812");
  CHECK(meta(*src, "beam_energy_V") == "200000");
  CHECK(meta(*src, "scan_rotation_deg") == "25");
  CHECK(meta(*src, "scan_step_x_nm") == "12.8");
  CHECK(meta(*src, "camera_length_raw") == "2000");
  CHECK(meta(*src, "camera_length_mm") == "200");
  CHECK(meta(*src, "pattern_pixel_size_cm") == "0.016061676839061997");
  CHECK(meta(*src, "version") == "0x0102");
  CHECK(meta(*src, "vbf") == "3x2 uint8 at byte 4096: min 169, max 174, mean 172.00");
  CHECK(meta(*src, "note") == "Precession angle : | Precession Frequency : | Camera gamma : on");

  CHECK(serial_date_to_iso(42339.653470046294) == "2015-12-01T15:40:59.812");
  CHECK(serial_date_to_iso(0) == "1899-12-30T00:00:00.000");
  CHECK(serial_date_to_iso(25569.5) == "1970-01-01T12:00:00.000");
  CHECK(serial_date_to_iso(60.0) == "1900-02-28T00:00:00.000");
  CHECK(serial_date_to_iso(-1) == "");
}

TEST_CASE("blockfile: truncated files keep the complete scan rows") {
  std::string dir = testing::scratch("blockfile_truncated");
  // 3 complete records + 1000 bytes of the 4th: one complete row
  std::string cut3 = edited_copy(dir, "cut3.blo", [](auto& b) { b.resize(67338); });
  auto src = open_dataset(cut3);
  CHECK(src->shape() == Shape4{1, 2, 144, 144});
  CHECK(src->info().frames_present == 2);
  CHECK(has_note(*src, "3 of 6 pattern records complete plus 1000 bytes of a partial record"));
  RunContext ctx;
  DatasetStats st = compute_stats(*src, ctx);
  CHECK(st.sum == 1712297);
  CHECK(st.last_frame_sum == 867000);
  CHECK(meta(*src, "records") == "3 of 6, 20742 bytes each");
  CHECK(read_blockfile_vbf(cut3).size() == 6);  // the VBF is complete

  // asked to keep the scan shape: the missing records read as 0
  ReadParams pad;
  pad.pad_missing = true;
  src = open_dataset(cut3, pad);
  CHECK(src->shape() == Shape4{3, 2, 144, 144});
  CHECK(src->info().frames_present == 3);
  CHECK(has_note(*src, "the missing 3 read as 0 (read.pad_missing)"));
  st = compute_stats(*src, ctx);
  CHECK(st.sum == 1712297 + 861801);
  CHECK(st.last_frame_sum == 0);
  CHECK(st.n_zero_frames == 3);

  // one record: not a full row, the records as one row
  std::string cut1 = edited_copy(dir, "cut1.blo", [](auto& b) { b.resize(24854); });
  src = open_dataset(cut1);
  CHECK(src->shape() == Shape4{1, 1, 144, 144});
  CHECK(compute_stats(*src, ctx).sum == 845297);

  // no complete record
  std::string cut0 = edited_copy(dir, "cut0.blo", [](auto& b) { b.resize(4112 + 20000); });
  std::string m = error_of([&] { open_dataset(cut0); });
  CHECK(m == cut0 + ": truncated: no complete pattern record (20000 bytes after the data offset 4112, one record is 20742)");

  // shorter than the header
  std::string cut200 = edited_copy(dir, "cut200.blo", [](auto& b) { b.resize(200); });
  m = error_of([&] { open_dataset(cut200); });
  CHECK(m == cut200 + ": shorter than the 240-byte blockfile header (200 bytes)");

  // extra bytes after the records are reported, not read
  std::string longer = edited_copy(dir, "longer.blo", [](auto& b) { b.resize(b.size() + 20742 + 5, 0); });
  src = open_dataset(longer);
  CHECK(src->shape() == Shape4{3, 2, 144, 144});
  CHECK(has_note(*src, "20747 bytes after the last of the 6 pattern records (1 further whole records) were ignored"));
  CHECK(compute_stats(*src, ctx).sum == 5164570);
}

TEST_CASE("blockfile: corrupt records, signature, version and offsets") {
  std::string dir = testing::scratch("blockfile_corrupt");
  RunContext ctx;

  std::string magic = edited_copy(dir, "magic.blo", [](auto& b) { b[45596] = 0; });
  auto src = open_dataset(magic);  // records are checked as they are read
  std::string m = error_of([&] { compute_stats(*src, ctx); });
  CHECK(m == magic + ": record 2 has magic 0x5500 (expected 0x55AA); the file is corrupt");
  CHECK(one_line(m));

  std::string index = edited_copy(dir, "index.blo", [](auto& b) { b[45598] = 7; });
  src = open_dataset(index);
  m = error_of([&] { read_pattern(*src, 1, 0); });
  CHECK(m == index + ": record 2 carries index 7; the file is corrupt");
  CHECK(error_of([&] { read_pattern(*src, 0, 1); }) == "(no error)");

  // the first and the last record are checked at open
  std::string last = edited_copy(dir, "last.blo", [](auto& b) { b[4112 + 5 * 20742] = 0x12; });
  m = error_of([&] { open_dataset(last); });
  CHECK(m == last + ": record 5 has magic 0x5512 (expected 0x55AA); the file is corrupt");

  std::string sig = edited_copy(dir, "sig.blo", [](auto& b) { b[0] = 'X'; });
  m = error_of([&] { open_dataset(sig); });  // found by extension, refused by the reader
  CHECK(m == sig + ": not a blockfile (signature 'XMGBLO', expected 'IMGBLO')");
  CHECK(error_of([&] { read_blockfile_vbf(sig); }) == m);

  std::string ver = edited_copy(dir, "ver.blo", [](auto& b) { b[6] = 3; });
  src = open_dataset(ver);
  CHECK(has_note(*src, "blockfile version 0x0103 (only 0x0102 is known); read as 0x0102"));
  CHECK(compute_stats(*src, ctx).sum == 5164570);

  std::string beyond = edited_copy(dir, "beyond.blo", [](auto& b) { put_u32(b, 0x0C, 200000); });
  m = error_of([&] { open_dataset(beyond); });
  CHECK(m == beyond + ": offsets beyond the end of the file (VBF at 4096, data at 200000, file 128564 bytes); the file "
                      "is truncated or corrupt");

  std::string order = edited_copy(dir, "order.blo", [](auto& b) { put_u32(b, 0x0C, 3000); });
  m = error_of([&] { open_dataset(order); });
  CHECK(m == order + ": offsets in the wrong order (VBF at 4096, data at 3000); the file is corrupt");

  std::string overlap = edited_copy(dir, "overlap.blo", [](auto& b) { put_u32(b, 0x0C, 4100); });
  m = error_of([&] { open_dataset(overlap); });
  CHECK(m == overlap + ": the 6-byte VBF at 4096 runs past the data offset 4100; the header is inconsistent");

  std::string inside = edited_copy(dir, "inside.blo", [](auto& b) { put_u32(b, 0x08, 16); });
  m = error_of([&] { open_dataset(inside); });
  CHECK(m == inside + ": VBF offset 16 lies inside the 240-byte header; the file is corrupt");

  std::string zero = edited_copy(dir, "zero.blo", [](auto& b) { b[0x18] = 0; });
  m = error_of([&] { open_dataset(zero); });
  CHECK(m == zero + ": zero size in the blockfile header (scan 3 x 0, patterns 144 x 144)");

  // a wrong data offset that still fits is caught by the record check at open
  std::string shifted = edited_copy(dir, "shifted.blo", [](auto& b) { put_u32(b, 0x0C, 4108); });
  m = error_of([&] { open_dataset(shifted); });
  CHECK(m.rfind(shifted + ": record 0 has magic 0x", 0) == 0);

  // non-zero padding between VBF and data is reported
  std::string pad = edited_copy(dir, "pad.blo", [](auto& b) { b[4105] = 1; });
  src = open_dataset(pad);
  CHECK(has_note(*src, "1 non-zero bytes between the VBF image and the first pattern record"));
}
