// tests/test_results.cpp: the results file: header, /config, /peaks and /origin round trips,
// downstream deletion, transactions (nothing changes without commit, no temporary files left),
// idempotence and the readers' one-line errors.
#include <doctest/doctest.h>

#include <filesystem>
#include <functional>

#include "core/h5util.hpp"
#include "domainmap/error.hpp"
#include "domainmap/results.hpp"
#include "testing.hpp"

using namespace domainmap;

namespace {

PeakList sample_peaks() {
  PeakList p;
  p.scan = {2, 3};
  p.detector = {16, 20};
  p.offsets = {0, 2, 2, 3, 5, 5, 6};
  p.qy_raw = {1.5f, 2, 3, 4, 5, 6};
  p.qx_raw = {7, 8, 9, 10.25f, 11, 12};
  p.intensity = {10, 9, 8, 7, 6, 5};
  return p;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

int files_in(const std::string& dir) {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

void write_origin_into(const std::string& path, float shift) {
  PeakList c = read_peaks(path);
  OriginMap o;
  o.scan = c.scan;
  o.qy0.assign(6, 8.0f + shift);
  o.qx0.assign(6, 10.0f);
  o.qy0_measured = o.qy0;
  o.qx0_measured = o.qx0;
  c.qy.resize(c.size());
  c.qx.resize(c.size());
  for (std::size_t i = 0; i < c.size(); ++i) {
    c.qy[i] = c.qy_raw[i] - o.qy0[0];
    c.qx[i] = c.qx_raw[i] - o.qx0[0];
  }
  EllipseDistortion e;
  e.a = 1.02;
  e.b = 0.98;
  e.theta_deg = 30;
  e.fitted = true;
  BraggVectorMap m;
  m.size = 8;
  m.pixel = 2;
  m.counts.assign(64, 0.0f);
  m.counts[4 * 8 + 4] = 3;
  ResultsWriter w(path, false);
  w.write_origin(o, c, e, m);
  w.write_config("origin", {{"origin.model", "plane"}});
  w.commit();
}

} // namespace

TEST_CASE("results: header, config and peaks round trip, origin, downstream deletion") {
  const std::string dir = testing::scratch("results_rt");
  const std::string path = dir + "/r.h5";
  {
    ResultsWriter w(path, true);
    ResultsHeader h;
    h.input = "/data/x.h5";
    h.scan = {2, 3};
    h.detector = {16, 20};
    h.scan_step_nm = 2.5;
    w.write_header(h);
    w.write_config("read", {{"read.format", "auto"}});
    w.write_peaks(sample_peaks());
    w.write_config("peaks", {{"peaks.sigma_cc", "2"}, {"peaks.subpixel", "poly"}});
    w.commit();
  }
  CHECK(files_in(dir) == 1);
  const ResultsHeader h = read_results_header(path);
  CHECK(h.input == "/data/x.h5");
  CHECK(h.scan == Shape2{2, 3});
  CHECK(h.detector == Shape2{16, 20});
  CHECK(h.scan_step_nm == 2.5);
  CHECK(h.domainmap_version.size() > 0);
  CHECK(h.created.size() == 20);
  const PeakList p = read_peaks(path);
  const PeakList s = sample_peaks();
  CHECK(p.offsets == s.offsets);
  CHECK(p.qy_raw == s.qy_raw);
  CHECK(p.qx_raw == s.qx_raw);
  CHECK(p.intensity == s.intensity);
  CHECK(p.qy.empty());
  auto cfg = read_config(path);
  REQUIRE(cfg.size() == 3);
  CHECK(cfg[0] == std::pair<std::string, std::string>{"peaks.sigma_cc", "2"});
  CHECK(cfg[2] == std::pair<std::string, std::string>{"read.format", "auto"});
  CHECK(results_has(path, "peaks"));
  CHECK_FALSE(results_has(path, "origin"));
  CHECK(error_of([&] { read_origin(path); }) == path + ": no /origin; run 'domainmap peaks DATA -o " + path + "' first");

  // origin on the existing file: /peaks is kept, corrected vectors added
  write_origin_into(path, 0);
  CHECK(files_in(dir) == 1);
  const PeakList c = read_peaks(path);
  CHECK(c.qy_raw == s.qy_raw);
  REQUIRE(c.qy.size() == 6);
  CHECK(c.qy[0] == doctest::Approx(1.5 - 8));
  const OriginMap o = read_origin(path);
  CHECK(o.scan == Shape2{2, 3});
  CHECK(o.qy0[5] == 8.0f);
  CHECK(o.qx0_measured.size() == 6);
  const EllipseDistortion e = read_ellipse(path);
  CHECK(e.fitted);
  CHECK(e.a == doctest::Approx(1.02));
  CHECK(e.theta_deg == doctest::Approx(30));
  const BraggVectorMap m = read_bragg_vector_map(path);
  CHECK(m.size == 8);
  CHECK(m.pixel == 2);
  CHECK(m.counts[36] == 3);
  CHECK(read_results_header(path).input == "/data/x.h5");
  CHECK(read_config(path).size() == 4);
  // idempotent: running origin again gives the same file contents
  write_origin_into(path, 0);
  CHECK(read_origin(path).qy0 == o.qy0);
  CHECK(read_peaks(path).qy == c.qy);
  CHECK(read_config(path).size() == 4);

  // downstream groups: a later stage's group is deleted when peaks are rewritten
  {
    h5::Handle f = h5::open_file_rw(path);
    h5::Handle g = h5::require_group(f, "/orientation", path);
    h5::require_group(f, "/domains", path);
    h5::Handle cfgg = h5::open_group(f, "/config", path);
    h5::write_string_attr(cfgg, "orientation.mode", "2d");
  }
  CHECK(results_has(path, "orientation"));
  write_origin_into(path, 1);  // rewriting /origin deletes /orientation and /domains, keeps /peaks
  CHECK_FALSE(results_has(path, "orientation"));
  CHECK_FALSE(results_has(path, "domains"));
  CHECK(results_has(path, "peaks"));
  CHECK(read_origin(path).qy0[0] == 9.0f);
  for (const auto& kv : read_config(path)) CHECK(kv.first.rfind("orientation.", 0) != 0);
  {
    ResultsWriter w(path, false);
    w.write_peaks(sample_peaks());
    w.commit();
  }
  CHECK_FALSE(results_has(path, "origin"));
  CHECK(read_peaks(path).qy.empty());
  bool origin_cfg = false;
  for (const auto& kv : read_config(path)) origin_cfg |= kv.first.rfind("origin.", 0) == 0;
  CHECK_FALSE(origin_cfg);
  CHECK(files_in(dir) == 1);
}

TEST_CASE("results: transactions and errors") {
  const std::string dir = testing::scratch("results_tx");
  const std::string path = dir + "/r.h5";
  // destroyed without commit: no file, no temporary
  {
    ResultsWriter w(path, true);
    w.write_peaks(sample_peaks());
  }
  CHECK(files_in(dir) == 0);
  {
    ResultsWriter w(path, true);
    w.write_peaks(sample_peaks());
    w.commit();
  }
  // an abandoned edit leaves the file as it was
  {
    ResultsWriter w(path, false);
    PeakList q = sample_peaks();
    q.qy_raw[0] = 99;
    w.write_peaks(q);
  }
  CHECK(read_peaks(path).qy_raw[0] == 1.5f);
  CHECK(files_in(dir) == 1);
  // readers name the file and the command to run
  const std::string empty = dir + "/empty.h5";
  {
    ResultsWriter w(empty, true);
    w.commit();
  }
  CHECK(error_of([&] { read_peaks(empty); }) == empty + ": no /peaks; run 'domainmap peaks DATA -o " + empty + "' first");
  CHECK(error_of([&] { read_bragg_vector_map(path); }).find(path + ": no /peaks/bragg_vector_map; run") == 0);
  CHECK(error_of([&] { ResultsWriter w(dir + "/missing.h5", false); }) ==
        dir + "/missing.h5: no such results file; run 'domainmap peaks DATA -o " + dir + "/missing.h5' first");
  CHECK(error_of([&] { read_peaks(testing::shared("data/py4dstem/sample_with_braggvectors.h5")); })
            .find("not a domainmap results file") != std::string::npos);
  CHECK(error_of([&] { ResultsWriter w(dir + "/no/such/dir/r.h5", true); }).find("does not exist") != std::string::npos);
  // write_origin needs /peaks
  {
    ResultsWriter w(empty, false);
    OriginMap o;
    PeakList c;
    c.offsets = {0};
    BraggVectorMap m;
    CHECK(error_of([&] { w.write_origin(o, c, EllipseDistortion{}, m); }) ==
          empty + ": no /peaks; run 'domainmap peaks DATA -o " + empty + "' first");
  }
  CHECK(files_in(dir) == 2);
  CHECK(results_groups().front() == "peaks");
  CHECK(results_groups().size() == 7);
}

TEST_CASE("results: streamed /peaks and corrected vectors, calibration attributes") {
  const std::string dir = testing::scratch("results_stream");
  const std::string path = dir + "/r.h5";
  const PeakList s = sample_peaks();
  {
    ResultsWriter w(path, true);
    ResultsHeader h;
    h.scan = s.scan;
    h.detector = s.detector;
    h.q_pixel_inv_A = h.input_q_pixel_inv_A = 0.015;
    w.write_header(h);
    std::unique_ptr<PeakSink> sink = w.peaks_sink();
    sink->begin(s.scan, s.detector);
    PeakListChunks chunks(s, 2);  // positions 0-1, 2-3, 4-5
    int n = 0;
    chunks.for_each([&](const PeakChunk& c) {
      sink->consume(c);
      ++n;
    });
    CHECK(n == 3);
    // a chunk out of order is refused
    PeakChunk again;
    again.first_position = 1;
    again.n_positions = 1;
    again.offsets = s.offsets.data() + 1;
    again.qy_raw = s.qy_raw.data() + 2;
    again.qx_raw = s.qx_raw.data() + 2;
    again.intensity = s.intensity.data() + 2;
    CHECK(error_of([&] { sink->consume(again); }).find("append_peaks: chunk of positions 1+1") != std::string::npos);
    sink->end();
    // read back in chunks of one peak (at least one position each) from the transaction
    std::unique_ptr<PeakChunkSource> back = w.peaks_source(12);
    CHECK(back->n_peaks() == 6);
    std::vector<std::int64_t> firsts;
    std::vector<float> qy;
    back->for_each([&](const PeakChunk& c) {
      firsts.push_back(c.first_position);
      for (std::size_t j = 0; j < c.n_peaks(); ++j) qy.push_back(c.qy_raw[j]);
    });
    CHECK(firsts == std::vector<std::int64_t>{0, 1, 3, 4});  // position 1 has no peak: joins the next chunk
    CHECK(qy == s.qy_raw);
    w.commit();
  }
  const PeakList p = read_peaks(path);
  CHECK(p.offsets == s.offsets);
  CHECK(p.qy_raw == s.qy_raw);
  CHECK(p.intensity == s.intensity);
  {
    h5::Handle f = h5::open_file_read(path);
    h5::Handle d = h5::open_dataset(f, "/peaks/qy_raw", path);
    h5::Handle dcpl(H5Dget_create_plist(d));
    CHECK(h5::chunk_dims(dcpl) == std::vector<std::int64_t>{kPeakChunkElements});
  }
  CHECK(read_results_header(path).input_q_pixel_inv_A == 0.015);

  // the origin streamed in two pieces, with a calibration from the ring and a rotation
  OriginMap o;
  o.scan = s.scan;
  o.qy0.assign(6, 8.0f);
  o.qx0.assign(6, 10.0f);
  o.scan_rotation_deg = 7.5;
  o.q_pixel_inv_A = 0.0123;
  o.calibration_source = "ring";
  BraggVectorMap m;
  m.size = 8;
  m.counts.assign(64, 1.0f);
  const std::vector<float> cy = {1, 2, 3, 4, 5, 6}, cx = {6, 5, 4, 3, 2, 1};
  {
    ResultsWriter w(path, false);
    w.begin_corrected();
    w.append_corrected(0, 4, cy.data(), cx.data());
    CHECK(error_of([&] { w.append_corrected(5, 1, cy.data() + 5, cx.data() + 5); }).find("append_corrected") !=
          std::string::npos);
    CHECK(error_of([&] { w.write_origin(o, EllipseDistortion{}, m); }).find("4 of 6 corrected peaks written") !=
          std::string::npos);
    w.append_corrected(4, 2, cy.data() + 4, cx.data() + 4);
    w.write_origin(o, EllipseDistortion{}, m);
    w.commit();
  }
  const PeakList c = read_peaks(path);
  CHECK(c.qy == cy);
  CHECK(c.qx == cx);
  CHECK(c.qy_raw == s.qy_raw);
  const OriginMap r = read_origin(path);
  CHECK(r.scan_rotation_deg == 7.5);
  CHECK(r.q_pixel_inv_A == 0.0123);
  CHECK(r.calibration_source == "ring");
  CHECK(read_results_header(path).q_pixel_inv_A == 0.0123);
  CHECK(read_results_header(path).input_q_pixel_inv_A == 0.015);
  // uncalibrated: /scan q_pixel_inv_A goes, the dataset's own stays
  o.q_pixel_inv_A = 0;
  o.calibration_source = "none";
  {
    ResultsWriter w(path, false);
    PeakList cc = c;
    w.write_origin(o, cc, EllipseDistortion{}, m);
    w.commit();
  }
  CHECK(read_origin(path).calibration_source == "none");
  CHECK(read_origin(path).q_pixel_inv_A == 0);
  CHECK(read_results_header(path).q_pixel_inv_A == 0);
  CHECK(read_results_header(path).input_q_pixel_inv_A == 0.015);
  CHECK(read_peaks(path).qy == cy);
  CHECK(files_in(dir) == 1);
}
