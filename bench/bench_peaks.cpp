// bench/bench_peaks.cpp: throughput of the peaks stage (patterns/s) on 128 x 128 and 256 x 256
// simulated patterns, data in memory and streamed from an EMD file, in poly and multicorr
// mode, against the compute floor measured in the same run: a bare loop of the same FFTW
// float r2c + c2r pair per pattern (FFTW_ESTIMATE, new-array execute, per-thread buffers).
// Setup (prescan, template) is excluded from the timings; each timing is the best of 3.
// Usage: bench_peaks [threads=2] [scan128=64] [scan256=32]
#include <fftw3.h>
#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "domainmap/peaks.hpp"
#include "domainmap/simulate.hpp"
#include "domainmap/write.hpp"

using namespace domainmap;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

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

// The floor: r2c + c2r per pattern, in parallel, nothing else.
double fft_floor(const MemorySource& src, int threads, int reps) {
  const Shape4 s = src.shape();
  const int ny = static_cast<int>(s.det_y), nx = static_cast<int>(s.det_x);
  const std::size_t nr = static_cast<std::size_t>(ny) * nx, nc = static_cast<std::size_t>(ny) * (nx / 2 + 1);
  float* r = fftwf_alloc_real(nr);
  fftwf_complex* c = fftwf_alloc_complex(nc);
  fftwf_plan f = fftwf_plan_dft_r2c_2d(ny, nx, r, c, FFTW_ESTIMATE);
  fftwf_plan b = fftwf_plan_dft_c2r_2d(ny, nx, c, r, FFTW_ESTIMATE);
  struct Buf {
    float* r;
    fftwf_complex* c;
  };
  tbb::enumerable_thread_specific<Buf> bufs([&] { return Buf{fftwf_alloc_real(nr), fftwf_alloc_complex(nc)}; });
  tbb::task_arena arena(threads);
  double best = 1e300;
  for (int rep = 0; rep < reps; ++rep) {
    const double t0 = now();
    arena.execute([&] {
      tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, s.n_frames(), 4), [&](const tbb::blocked_range<std::int64_t>& rr) {
        Buf& bf = bufs.local();
        for (std::int64_t k = rr.begin(); k != rr.end(); ++k) {
          std::memcpy(bf.r, src.frame(k), nr * sizeof(float));
          fftwf_execute_dft_r2c(f, bf.r, bf.c);
          fftwf_execute_dft_c2r(b, bf.c, bf.r);
        }
      });
    });
    best = std::min(best, now() - t0);
  }
  for (Buf& bf : bufs) {
    fftwf_free(bf.r);
    fftwf_free(bf.c);
  }
  fftwf_destroy_plan(f);
  fftwf_destroy_plan(b);
  fftwf_free(r);
  fftwf_free(c);
  return static_cast<double>(s.n_frames()) / best;
}

double peaks_rate(FrameSource& src, const PeaksParams& p, const PeakSetup& setup, int threads, int reps,
                  std::size_t* n_peaks) {
  RunContext ctx;
  ctx.threads = threads;
  double best = 1e300;
  for (int rep = 0; rep < reps; ++rep) {
    const double t0 = now();
    PeakList l = find_peaks(src, p, setup, ctx);
    best = std::min(best, now() - t0);
    *n_peaks = l.size();
  }
  return static_cast<double>(src.shape().n_frames()) / best;
}

void run(std::int64_t det, std::int64_t scan, int threads) {
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
  const std::string emd = (std::filesystem::temp_directory_path() / ("bench_peaks_" + std::to_string(det) + ".h5")).string();
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
  const double floor = fft_floor(mem, threads, 3);
  std::printf("%lldx%lld detector, %lld patterns, %d threads: FFT floor (r2c + c2r) %.0f patterns/s; setup (prescan) %.2f s\n",
              static_cast<long long>(det), static_cast<long long>(det), static_cast<long long>(scan * scan), threads, floor,
              t_setup);
  for (const char* mode : {"pixel", "poly", "multicorr"}) {
    PeaksParams q = p;
    q.subpixel = mode;
    std::size_t n = 0;
    const double rm = peaks_rate(mem, q, setup, threads, 3, &n);
    const double rf = peaks_rate(*file, q, setup, threads, 2, &n);
    std::printf("  %-9s in memory %8.0f patterns/s (%.2fx the floor's time), from EMD %8.0f patterns/s; %.1f peaks/pattern\n",
                mode, rm, floor / rm, rf, static_cast<double>(n) / static_cast<double>(scan * scan));
  }
  std::filesystem::remove(emd);
}

} // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const std::int64_t s128 = argc > 2 ? std::atoll(argv[2]) : 64;
  const std::int64_t s256 = argc > 3 ? std::atoll(argv[3]) : 32;
  run(128, s128, threads);
  run(256, s256, threads);
  return 0;
}
