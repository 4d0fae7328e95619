// tests/test_peaks_stream.cpp: the streamed peaks -> results file -> origin path against the
// in-memory one (find_peaks into a PeakList, write_peaks, fit_origin, write_origin): the same
// file contents, bit for bit, with blocks much smaller than the scan, 1 and 2 threads, and the
// origin stage reading the peaks back in small chunks.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>

#include "domainmap/error.hpp"
#include "domainmap/origin.hpp"
#include "domainmap/peaks.hpp"
#include "domainmap/results.hpp"
#include "domainmap/simulate.hpp"
#include "testing.hpp"

using namespace domainmap;

namespace {

// A small scan with two phases, descan and an ellipse on a 64 x 64 detector.
SimParams stream_params() {
  SimParams p;
  p.scan = {10, 14};
  p.detector = {64, 64};
  p.n_grains = 5;
  p.disk_radius_px = 2.5;
  p.max_g_px = 27;
  p.phases[0].a_px = 11;
  p.phases[1].a_px = 13;
  p.ellipse_ratio = 1.02;
  p.ellipse_angle_deg = 20;
  p.dose = 20000;
  return p;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// Everything the two files hold, compared exactly.
void check_same_results(const std::string& a, const std::string& b) {
  const PeakList pa = read_peaks(a), pb = read_peaks(b);
  CHECK(pa.scan == pb.scan);
  CHECK(pa.detector == pb.detector);
  CHECK(pa.offsets == pb.offsets);
  CHECK(same_bits(pa.qy_raw, pb.qy_raw));
  CHECK(same_bits(pa.qx_raw, pb.qx_raw));
  CHECK(same_bits(pa.intensity, pb.intensity));
  CHECK(same_bits(pa.qy, pb.qy));
  CHECK(same_bits(pa.qx, pb.qx));
  const OriginMap oa = read_origin(a), ob = read_origin(b);
  CHECK(same_bits(oa.qy0, ob.qy0));
  CHECK(same_bits(oa.qx0, ob.qx0));
  CHECK(same_bits(oa.qy0_measured, ob.qy0_measured));
  CHECK(same_bits(oa.qx0_measured, ob.qx0_measured));
  CHECK(oa.q_pixel_inv_A == ob.q_pixel_inv_A);
  CHECK(oa.calibration_source == ob.calibration_source);
  const EllipseDistortion ea = read_ellipse(a), eb = read_ellipse(b);
  CHECK(ea.fitted == eb.fitted);
  CHECK(ea.a == eb.a);
  CHECK(ea.b == eb.b);
  CHECK(ea.theta_deg == eb.theta_deg);
  const BraggVectorMap ma = read_bragg_vector_map(a), mb = read_bragg_vector_map(b);
  CHECK(ma.size == mb.size);
  CHECK(same_bits(ma.counts, mb.counts));
  CHECK(read_results_header(a).q_pixel_inv_A == read_results_header(b).q_pixel_inv_A);
}

// The origin stage streamed from the transaction's /peaks into it, chunks of about chunk_bytes.
OriginResult origin_streamed(ResultsWriter& w, const OriginParams& op, std::size_t chunk_bytes, RunContext& ctx,
                             std::int64_t* n_chunks = nullptr) {
  std::unique_ptr<PeakChunkSource> src = w.peaks_source(chunk_bytes);
  bool started = false;
  std::int64_t chunks = 0;
  OriginResult r = fit_origin(*src, op, ctx, [&](const PeakChunk& c, const float* qy, const float* qx) {
    if (!started) w.begin_corrected();
    started = true;
    ++chunks;
    w.append_corrected(c.first_peak(), c.n_peaks(), qy, qx);
  });
  if (n_chunks) *n_chunks = chunks;
  return r;
}

} // namespace

TEST_CASE("peaks stream: the streamed results file equals the in-memory one, many blocks, 1 and 2 threads") {
  const SimParams sp = stream_params();
  auto src = make_simulated_source(sp, 1);
  const std::string dir = testing::scratch("peaks_stream");
  PeaksParams pp;
  OriginParams op;
  op.lattice_spacing_A = 2.5;  // the calibration from the ring goes through the same path
  RunContext ctx;
  const PeakSetup setup = prepare_peaks(*src, pp, ctx);

  // the in-memory reference
  const std::string ref = dir + "/memory.h5";
  const PeakList all = find_peaks(*src, pp, setup, ctx);
  REQUIRE(all.size() > 1000);
  const OriginResult fit = fit_origin(all, op, ctx);
  REQUIRE(fit.ellipse.fitted);
  REQUIRE(fit.q_pixel_inv_A > 0);
  {
    ResultsWriter w(ref, true);
    ResultsHeader h;
    h.scan = sp.scan;
    h.detector = sp.detector;
    w.write_header(h);
    w.write_peaks(all);
    w.write_origin(fit.origin, fit.corrected, fit.ellipse, fit.bvm);
    w.commit();
  }
  MESSAGE(all.size() << " peaks at " << all.n_positions() << " positions; ellipse b/a " << fit.ellipse.b / fit.ellipse.a
                     << ", " << fit.q_pixel_inv_A << " 1/A per px");

  for (int threads : {1, 2}) {
    RunContext small;
    small.threads = threads;
    // blocks of 3 frames (not whole rows): 47 blocks for 140 positions
    small.memory_budget = 2 * 3 * 64 * 64 * sizeof(float);
    const std::string out = dir + "/streamed" + std::to_string(threads) + ".h5";
    std::int64_t blocks = 0, chunks = 0;
    {
      ResultsWriter w(out, true);
      ResultsHeader h;
      h.scan = sp.scan;
      h.detector = sp.detector;
      w.write_header(h);
      std::unique_ptr<PeakSink> file = w.peaks_sink();
      struct Counting : PeakSink {
        PeakSink& inner;
        std::int64_t& n;
        Counting(PeakSink& i, std::int64_t& c) : inner(i), n(c) {}
        void begin(Shape2 s, Shape2 d) override { inner.begin(s, d); }
        void consume(const PeakChunk& c) override { ++n, inner.consume(c); }
        void end() override { inner.end(); }
      } counting(*file, blocks);
      find_peaks(*src, pp, setup, small, counting);
      // the origin reads the peaks back in chunks of about 40 peaks
      const OriginResult r = origin_streamed(w, op, 40 * 12, small, &chunks);
      CHECK(r.notes == fit.notes);
      CHECK(r.ring_points == fit.ring_points);
      CHECK(r.ring_radius_px == fit.ring_radius_px);
      w.write_origin(r.origin, r.ellipse, r.bvm);
      w.commit();
    }
    MESSAGE(threads << " threads: " << blocks << " peak blocks, origin in " << chunks << " chunks");
    CHECK(blocks == 47);
    CHECK(chunks > 50);
    check_same_results(ref, out);
  }
}

TEST_CASE("peaks stream: origin re-fit from a results file in chunks equals the in-memory fit") {
  const SimParams sp = stream_params();
  auto src = make_simulated_source(sp, 1);
  const std::string dir = testing::scratch("peaks_stream_origin");
  RunContext ctx;
  const PeakList all = find_peaks(*src, PeaksParams{}, ctx);
  const std::string path = dir + "/r.h5";
  {
    ResultsWriter w(path, true);
    w.write_peaks(all);
    w.commit();
  }
  // parameter sets that take the other branches: given ring, model none, rotation, fixed map
  std::vector<OriginParams> sets(4);
  sets[1].ring_q_min_px = 9;
  sets[1].ring_q_max_px = 13;
  sets[1].q_pixel_inv_A = 0.02;
  sets[2].model = "none";
  sets[2].scan_rotation_deg = 12;
  sets[3].bvm_size = 40;
  sets[3].bvm_pixel = 0.5;
  sets[3].fit_ellipse = false;
  for (const OriginParams& op : sets) {
    const OriginResult mem = fit_origin(all, op, ctx);
    std::vector<float> qy(all.size()), qx(all.size());
    std::unique_ptr<PeakChunkSource> chunks = read_peaks_chunked(path, 100 * 12);
    CHECK(chunks->n_peaks() == all.size());
    const OriginResult st = fit_origin(*chunks, op, ctx, [&](const PeakChunk& c, const float* y, const float* x) {
      std::memcpy(qy.data() + c.first_peak(), y, c.n_peaks() * sizeof(float));
      std::memcpy(qx.data() + c.first_peak(), x, c.n_peaks() * sizeof(float));
    });
    CHECK(st.corrected.qy.empty());
    CHECK(same_bits(qy, mem.corrected.qy));
    CHECK(same_bits(qx, mem.corrected.qx));
    CHECK(same_bits(st.origin.qy0, mem.origin.qy0));
    CHECK(same_bits(st.origin.qx0, mem.origin.qx0));
    CHECK(st.central_peak == mem.central_peak);
    CHECK(st.ellipse.a == mem.ellipse.a);
    CHECK(st.ellipse.theta_deg == mem.ellipse.theta_deg);
    CHECK(same_bits(st.bvm.counts, mem.bvm.counts));
    CHECK(st.q_pixel_inv_A == mem.q_pixel_inv_A);
    CHECK(st.origin.scan_rotation_deg == op.scan_rotation_deg);
    CHECK(st.notes == mem.notes);
  }
  // the chunked reader's errors name the file
  std::string msg;
  try {
    ResultsWriter w(dir + "/empty.h5", true);
    w.commit();
    read_peaks_chunked(dir + "/empty.h5", 1 << 20);
  } catch (const Error& e) {
    msg = e.what();
  }
  CHECK(msg == dir + "/empty.h5: no /peaks; run 'domainmap peaks DATA -o " + dir + "/empty.h5' first");
}
