// bench/bench_peaks.cpp: throughput of the peaks stage (patterns/s) on 128 x 128 and 256 x 256
// simulated patterns, data in memory and streamed from an EMD file, in pixel, poly, multicorr
// and fit mode, against the compute floor measured in the same run: a bare loop of the same
// FFTW float r2c + c2r pair per pattern (FFTW_ESTIMATE, new-array execute, per-thread buffers).
// Setup (prescan, template) is excluded from the timings.
//
// Two kinds of figures, each the median over `rounds` rounds (one round times everything once,
// interleaved, so that the ratios compare timings taken at about the same moment on a shared
// machine):
//  - wall clock of find_peaks() with `threads` workers (in memory and from the EMD file), and
//    of the bare FFT loop with as many workers: patterns/s and the ratio to the floor's time;
//  - CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID) of PeakFinder::find() in a plain
//    loop on one thread, against the bare FFT pair timed the same way: us/pattern and ratios;
//    in each round the minimum over 12 chunks of 256 patterns, the four loops interleaved. This
//    one depends much less on what else runs on the machine.
// Also checks that find_peaks() gives exactly the single-thread loop's peaks, and with a
// reference prefix REF writes REF_<det>_<mode>.bin on the first run and compares later runs
// against it (counts per pattern, largest position and relative intensity differences).
// Usage: bench_peaks [threads=2] [scan128=64] [scan256=32] [rounds=3] [REF]
//        (scan 0 skips that detector size)
#include <fftw3.h>
#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "domainmap/peaks.hpp"
#include "domainmap/simulate.hpp"
#include "domainmap/write.hpp"

using namespace domainmap;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double thread_cpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n == 0 ? 0.0 : (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
}

// Frames held in memory.
class MemorySource : public FrameSource {
public:
  explicit MemorySource(FrameSource& src) {
    info_ = src.info();
    info_.path = "memory";
    data_.resize(static_cast<std::size_t>(shape().n_frames() * shape().frame_pixels()));
    src.read_frames(0, shape().n_frames(), data_.data());
  }
  void read_frames(std::int64_t first, std::int64_t count, float* out) override {
    const std::size_t fp = static_cast<std::size_t>(shape().frame_pixels());
    std::memcpy(out, data_.data() + static_cast<std::size_t>(first) * fp, static_cast<std::size_t>(count) * fp * sizeof(float));
  }
  const float* frame(std::int64_t k) const { return data_.data() + static_cast<std::size_t>(k * shape().frame_pixels()); }
private:
  std::vector<float> data_;
};

// The floor: r2c + c2r per pattern, nothing else; plans and buffers as PeakFinder makes them.
class FftFloor {
public:
  FftFloor(const MemorySource& src, unsigned flags) : src_(src) {
    const Shape4 s = src.shape();
    ny_ = static_cast<int>(s.det_y);
    nx_ = static_cast<int>(s.det_x);
    nr_ = static_cast<std::size_t>(ny_) * nx_;
    nc_ = static_cast<std::size_t>(ny_) * (nx_ / 2 + 1);
    float* r = fftwf_alloc_real(nr_);
    fftwf_complex* c = fftwf_alloc_complex(nc_);
    f_ = fftwf_plan_dft_r2c_2d(ny_, nx_, r, c, flags);
    b_ = fftwf_plan_dft_c2r_2d(ny_, nx_, c, r, flags);
    // measured plans leave wisdom that FFTW_ESTIMATE planning would use: forget it, so that
    // PeakFinder's plans are the ones it makes in any other process
    if (flags != FFTW_ESTIMATE) fftwf_forget_wisdom();
    fftwf_free(r);
    fftwf_free(c);
  }
  ~FftFloor() {
    for (Buf& bf : bufs_) {
      fftwf_free(bf.r);
      fftwf_free(bf.c);
    }
    fftwf_destroy_plan(f_);
    fftwf_destroy_plan(b_);
  }
  // patterns/s, wall clock, `threads` workers
  double rate(int threads) {
    const std::int64_t n = src_.shape().n_frames();
    tbb::task_arena arena(threads);
    const double t0 = now();
    arena.execute([&] {
      tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, 4), [&](const tbb::blocked_range<std::int64_t>& rr) {
        Buf& bf = bufs_.local();
        for (std::int64_t k = rr.begin(); k != rr.end(); ++k) pair(bf, k);
      });
    });
    return static_cast<double>(n) / (now() - t0);
  }
  // CPU s/pattern on this thread over patterns [first, first + n)
  double cpu(std::int64_t first, std::int64_t n) {
    Buf& bf = bufs_.local();
    pair(bf, first);
    const double t0 = thread_cpu();
    for (std::int64_t k = first; k < first + n; ++k) pair(bf, k);
    return (thread_cpu() - t0) / static_cast<double>(n);
  }
private:
  struct Buf {
    float* r = nullptr;
    fftwf_complex* c = nullptr;
  };
  void pair(Buf& bf, std::int64_t k) {
    if (!bf.r) {
      bf.r = fftwf_alloc_real(nr_);
      bf.c = fftwf_alloc_complex(nc_);
    }
    std::memcpy(bf.r, src_.frame(k), nr_ * sizeof(float));
    fftwf_execute_dft_r2c(f_, bf.r, bf.c);
    fftwf_execute_dft_c2r(b_, bf.c, bf.r);
  }
  const MemorySource& src_;
  int ny_ = 0, nx_ = 0;
  std::size_t nr_ = 0, nc_ = 0;
  fftwf_plan f_ = nullptr, b_ = nullptr;
  tbb::enumerable_thread_specific<Buf> bufs_;
};

double peaks_rate(FrameSource& src, const PeaksParams& p, const PeakSetup& setup, int threads, PeakList* out) {
  RunContext ctx;
  ctx.threads = threads;
  const double t0 = now();
  PeakList l = find_peaks(src, p, setup, ctx);
  const double t = now() - t0;
  if (out) *out = std::move(l);
  return static_cast<double>(src.shape().n_frames()) / t;
}

// The peaks of every pattern by a plain single-thread loop.
struct Loop {
  std::vector<int> counts;
  std::vector<Peak> peaks;
};

// The peaks of every pattern by PeakFinder::find in a loop on this thread.
Loop find_all(const PeakFinder& pf, const MemorySource& src) {
  auto ws = pf.make_workspace();
  std::vector<Peak> out(static_cast<std::size_t>(pf.max_peaks()));
  Loop loop;
  for (std::int64_t k = 0; k < src.shape().n_frames(); ++k) {
    const int c = pf.find(src.frame(k), out.data(), *ws);
    loop.counts.push_back(c);
    loop.peaks.insert(loop.peaks.end(), out.begin(), out.begin() + std::max(0, c));
  }
  return loop;
}

// CPU s/pattern of PeakFinder::find on this thread over patterns [first, first + n).
double find_cpu(const PeakFinder& pf, PeakFinder::Workspace& ws, std::vector<Peak>& out, const MemorySource& src,
                std::int64_t first, std::int64_t n) {
  pf.find(src.frame(first), out.data(), ws);
  const double t0 = thread_cpu();
  for (std::int64_t k = first; k < first + n; ++k) pf.find(src.frame(k), out.data(), ws);
  return (thread_cpu() - t0) / static_cast<double>(n);
}

bool same(const Loop& a, const PeakList& b) {
  if (b.offsets.size() != a.counts.size() + 1 || b.qy_raw.size() != a.peaks.size()) return false;
  for (std::size_t k = 0; k < a.counts.size(); ++k)
    if (static_cast<std::int64_t>(b.offsets[k + 1] - b.offsets[k]) != a.counts[k]) return false;
  for (std::size_t m = 0; m < a.peaks.size(); ++m)
    if (a.peaks[m].qy != b.qy_raw[m] || a.peaks[m].qx != b.qx_raw[m] || a.peaks[m].intensity != b.intensity[m]) return false;
  return true;
}

// Writes the loop's peaks to `path` if it does not exist, else compares against it.
void reference(const Loop& l, const std::string& path) {
  if (!std::filesystem::exists(path)) {
    std::ofstream f(path, std::ios::binary);
    const std::uint64_t n = l.counts.size(), m = l.peaks.size();
    f.write(reinterpret_cast<const char*>(&n), sizeof n);
    f.write(reinterpret_cast<const char*>(&m), sizeof m);
    f.write(reinterpret_cast<const char*>(l.counts.data()), static_cast<std::streamsize>(n * sizeof(int)));
    f.write(reinterpret_cast<const char*>(l.peaks.data()), static_cast<std::streamsize>(m * sizeof(Peak)));
    std::printf("    reference written to %s\n", path.c_str());
    return;
  }
  std::ifstream f(path, std::ios::binary);
  std::uint64_t n = 0, m = 0;
  f.read(reinterpret_cast<char*>(&n), sizeof n);
  f.read(reinterpret_cast<char*>(&m), sizeof m);
  Loop r;
  r.counts.resize(n);
  r.peaks.resize(m);
  f.read(reinterpret_cast<char*>(r.counts.data()), static_cast<std::streamsize>(n * sizeof(int)));
  f.read(reinterpret_cast<char*>(r.peaks.data()), static_cast<std::streamsize>(m * sizeof(Peak)));
  if (n != l.counts.size()) {
    std::printf("    reference %s: %llu patterns, not %zu\n", path.c_str(), static_cast<unsigned long long>(n), l.counts.size());
    return;
  }
  // patterns whose peak count differs; over the others the largest differences, and how many
  // peaks differ at all
  std::size_t bad_count = 0, differ = 0, ia = 0, ib = 0, over[3] = {0, 0, 0};
  double dq = 0, di = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const int ca = std::max(0, l.counts[k]), cb = std::max(0, r.counts[k]);
    if (ca != cb) {
      ++bad_count;
    } else {
      for (int q = 0; q < ca; ++q) {
        const Peak& a = l.peaks[ia + static_cast<std::size_t>(q)];
        const Peak& b = r.peaks[ib + static_cast<std::size_t>(q)];
        const double d = std::max(std::abs(a.qy - b.qy), std::abs(a.qx - b.qx));
        const double e = std::abs(a.intensity - b.intensity) / std::max(1e-30f, std::abs(b.intensity));
        if (d != 0 || e != 0) ++differ;
        over[0] += d > 1e-4;
        over[1] += d > 1e-3;
        over[2] += d > 1e-2;
        dq = std::max(dq, d);
        di = std::max(di, e);
      }
    }
    ia += static_cast<std::size_t>(ca);
    ib += static_cast<std::size_t>(cb);
  }
  std::printf("    against %s: %zu patterns with another peak count; %zu of %zu peaks differ, by <= %.3g px "
              "(%zu by > 1e-4 px, %zu by > 1e-3, %zu by > 1e-2), intensity <= %.3g relative\n",
              path.c_str(), bad_count, differ, static_cast<std::size_t>(m), dq, over[0], over[1], over[2], di);
}

void run(std::int64_t det, std::int64_t scan, int threads, int rounds, const std::string& ref) {
  SimParams sp;
  sp.scan = {scan, scan};
  sp.detector = {det, det};
  sp.dose = 20000;
  sp.n_hot_pixels = 5;
  sp.amorphous_fraction = 0.15;
  const double scale = static_cast<double>(det) / 128.0;
  sp.disk_radius_px = 4 * scale;
  sp.max_g_px = 56 * scale;
  for (auto& ph : sp.phases) ph.a_px *= scale;
  sp.amorphous_ring_px *= scale;
  auto sim = make_simulated_source(sp, threads);
  MemorySource mem(*sim);
  const std::string emd = (std::filesystem::temp_directory_path() / ("bench_peaks_" + std::to_string(det) + "_" +
                                                                     std::to_string(::getpid()) + ".h5")).string();
  {
    RunContext ctx;
    ctx.threads = threads;
    write_emd(mem, emd, WriteParams{}, ctx);
  }
  auto file = open_dataset(emd);
  RunContext ctx;
  ctx.threads = threads;
  PeaksParams p;
  const double t0 = now();
  const PeakSetup setup = prepare_peaks(mem, p, ctx);
  const double t_setup = now() - t0;
  const std::int64_t n = mem.shape().n_frames();
  constexpr int NM = 4;
  const char* modes[NM] = {"pixel", "poly", "multicorr", "fit"};
  std::vector<PeaksParams> q(NM, p);
  for (int m = 0; m < NM; ++m) q[static_cast<std::size_t>(m)].subpixel = modes[m];

  FftFloor floor(mem, FFTW_ESTIMATE), floor_m(mem, FFTW_MEASURE);
  std::vector<std::unique_ptr<PeakFinder>> finders;
  std::vector<PeakFinder::WorkspacePtr> wss;
  for (int m = 0; m < NM; ++m) {
    finders.push_back(std::make_unique<PeakFinder>(q[static_cast<std::size_t>(m)], setup));
    wss.push_back(finders.back()->make_workspace());
  }
  std::vector<Peak> out(static_cast<std::size_t>(finders[0]->max_peaks()));
  // the CPU times: the minimum over chunks of patterns, the four loops interleaved
  const std::int64_t chunk = std::min<std::int64_t>(n, 256), n_chunks = 12;
  std::vector<double> floor_rate, floor_cpu, floor_m_rate, floor_m_cpu, ratio_m_cpu[NM];
  std::vector<double> rate_mem[NM], rate_emd[NM], cpu[NM], ratio_wall[NM], ratio_cpu[NM], mc_wall, mc_cpu;
  double peaks_per_pattern = 0;
  for (int r = 0; r < rounds; ++r) {
    floor_rate.push_back(floor.rate(threads));
    floor_m_rate.push_back(floor_m.rate(threads));
    for (int m = 0; m < NM; ++m) {
      PeakList l;
      const double rm = peaks_rate(mem, q[static_cast<std::size_t>(m)], setup, threads, &l);
      const double rf = peaks_rate(*file, q[static_cast<std::size_t>(m)], setup, threads, nullptr);
      rate_mem[m].push_back(rm);
      rate_emd[m].push_back(rf);
      ratio_wall[m].push_back(floor_rate.back() / rm);
      if (r == 0) {
        const Loop loop = find_all(*finders[static_cast<std::size_t>(m)], mem);
        if (m == 1) peaks_per_pattern = static_cast<double>(l.size()) / static_cast<double>(n);
        if (!same(loop, l)) std::printf("  WARNING: %s: find_peaks with %d threads differs from the 1-thread loop\n", modes[m], threads);
        if (!ref.empty()) reference(loop, ref + "_" + std::to_string(det) + "_" + modes[m] + ".bin");
      }
    }
    double tf = 1e300, tfm = 1e300, tm[NM] = {1e300, 1e300, 1e300, 1e300};
    for (std::int64_t c = 0; c < n_chunks; ++c) {
      const std::int64_t first = (c * chunk) % (n - chunk + 1);
      tf = std::min(tf, floor.cpu(first, chunk));
      tfm = std::min(tfm, floor_m.cpu(first, chunk));
      for (int m = 0; m < NM; ++m)
        tm[m] = std::min(tm[m], find_cpu(*finders[static_cast<std::size_t>(m)], *wss[static_cast<std::size_t>(m)], out, mem,
                                         first, chunk));
    }
    floor_cpu.push_back(tf);
    floor_m_cpu.push_back(tfm);
    for (int m = 0; m < NM; ++m) {
      cpu[m].push_back(tm[m]);
      ratio_cpu[m].push_back(tm[m] / tf);
      ratio_m_cpu[m].push_back(tm[m] / tfm);
    }
    mc_wall.push_back(rate_mem[1].back() / rate_mem[2].back());
    mc_cpu.push_back(cpu[2].back() / cpu[1].back());
  }
  std::printf("%lldx%lld detector, %lld patterns, %d threads, medians of %d rounds; setup (prescan) %.2f s; %.1f "
              "peaks/pattern\n",
              static_cast<long long>(det), static_cast<long long>(det), static_cast<long long>(n), threads, rounds, t_setup,
              peaks_per_pattern);
  std::printf("  FFT floor (FFTW r2c + c2r per pattern): FFTW_ESTIMATE %.0f patterns/s, %.1f us CPU per pattern on one "
              "thread; FFTW_MEASURE %.0f patterns/s, %.1f us\n",
              median(floor_rate), 1e6 * median(floor_cpu), median(floor_m_rate), 1e6 * median(floor_m_cpu));
  for (int m = 0; m < NM; ++m)
    std::printf("  %-9s in memory %7.0f patterns/s (%.2fx the ESTIMATE floor's time), from EMD %7.0f patterns/s; "
                "1 thread: %6.1f us CPU per pattern (%.2fx the ESTIMATE floor's, %.2fx the MEASURE floor's)\n",
                modes[m], median(rate_mem[m]), median(ratio_wall[m]), median(rate_emd[m]), 1e6 * median(cpu[m]),
                median(ratio_cpu[m]), median(ratio_m_cpu[m]));
  std::printf("  multicorr / poly time: %.2fx (wall clock, in memory), %.2fx (CPU, 1 thread)\n", median(mc_wall), median(mc_cpu));
  std::filesystem::remove(emd);
}

} // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const std::int64_t s128 = argc > 2 ? std::atoll(argv[2]) : 64;
  const std::int64_t s256 = argc > 3 ? std::atoll(argv[3]) : 32;
  const int rounds = argc > 4 ? std::max(1, std::atoi(argv[4])) : 3;
  const std::string ref = argc > 5 ? argv[5] : "";
  if (s128 > 0) run(128, s128, threads, rounds, ref);
  if (s256 > 0) run(256, s256, threads, rounds, ref);
  return 0;
}
