// bench/bench_simulate.cpp: rendering throughput of the simulator (patterns/s, 128 x 128
// patterns, on N threads) against two simple baselines measured in the same run:
//  * fill + sum: each frame filled with a constant and summed (memory traffic only);
//  * std::poisson_distribution: each frame filled with Poisson noise of the same mean dose
//    (std::mt19937_64 seeded per frame), i.e. "noise only, done plainly".
// Usage: bench_simulate [threads=2] [scan=64]
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "domainmap/simulate.hpp"

using namespace domainmap;

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU seconds used by the whole process (all threads): on a shared machine, patterns per
// CPU-second times the thread count is what the run would reach with the cores to itself.
double cpu_now() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

struct Rate {
  double wall = 0;  // patterns per wall-clock second
  double cpu = 0;   // patterns per CPU second
};

// Patterns per second of reading every frame of src in blocks of `block` frames.
Rate time_source(FrameSource& src, std::int64_t block, double& checksum) {
  const std::int64_t n = src.shape().n_frames(), fp = src.shape().frame_pixels();
  std::vector<float> buf(static_cast<std::size_t>(block * fp));
  checksum = 0;
  const double t0 = now(), c0 = cpu_now();
  for (std::int64_t f = 0; f < n; f += block) {
    const std::int64_t c = std::min(block, n - f);
    src.read_frames(f, c, buf.data());
    checksum += buf[static_cast<std::size_t>((c - 1) * fp + fp / 2)];
  }
  return {static_cast<double>(n) / (now() - t0), static_cast<double>(n) / (cpu_now() - c0)};
}

template <typename Fn> Rate time_baseline(tbb::task_arena& arena, std::int64_t n, std::int64_t fp, std::int64_t block,
                                            Fn&& per_frame) {
  std::vector<float> buf(static_cast<std::size_t>(block * fp));
  std::vector<double> sums(static_cast<std::size_t>(block));
  const double t0 = now(), c0 = cpu_now();
  for (std::int64_t f = 0; f < n; f += block) {
    const std::int64_t c = std::min(block, n - f);
    arena.execute([&] {
      tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, c), [&](const tbb::blocked_range<std::int64_t>& r) {
        for (std::int64_t i = r.begin(); i < r.end(); ++i)
          sums[static_cast<std::size_t>(i)] = per_frame(f + i, buf.data() + i * fp);
      });
    });
  }
  return {static_cast<double>(n) / (now() - t0), static_cast<double>(n) / (cpu_now() - c0)};
}

} // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const std::int64_t scan = argc > 2 ? std::atoll(argv[2]) : 64;
  const std::int64_t block = 256;
  tbb::task_arena arena(threads);
  const std::int64_t fp = 128 * 128, n = scan * scan;
  std::printf("bench_simulate: %lld x %lld scan of 128 x 128 patterns, %d threads, blocks of %lld frames\n",
              static_cast<long long>(scan), static_cast<long long>(scan), threads, static_cast<long long>(block));

  const double dose = 10000;
  const Rate fill = time_baseline(arena, n, fp, block, [&](std::int64_t k, float* fr) {
    std::fill(fr, fr + fp, static_cast<float>(k & 7));
    double s = 0;
    for (std::int64_t j = 0; j < fp; ++j) s += fr[j];
    return s;
  });
  const Rate plain_poisson = time_baseline(arena, n, fp, block, [&](std::int64_t k, float* fr) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(k) * 0x9e3779b97f4a7c15ULL + 1);
    std::poisson_distribution<int> pd(dose / static_cast<double>(fp));
    double s = 0;
    for (std::int64_t j = 0; j < fp; ++j) s += fr[j] = static_cast<float>(pd(rng));
    return s;
  });
  std::printf("  (wall: patterns/s of this run; cpu: patterns per CPU-second x %d threads, the rate with the cores to itself)\n",
              threads);
  std::printf("  %-44s wall %8.0f  cpu %8.0f patterns/s\n", "baseline fill + sum", fill.wall, fill.cpu * threads);
  std::printf("  %-44s wall %8.0f  cpu %8.0f patterns/s\n", "baseline std::poisson_distribution, 1e4 e", plain_poisson.wall,
              plain_poisson.cpu * threads);

  struct Case { const char* name; SimParams p; };
  std::vector<Case> cases;
  {
    SimParams p;
    p.scan = {scan, scan};
    cases.push_back({"noise-free, defaults (2 phases)", p});
    p.dose = dose;
    p.n_hot_pixels = 4;
    cases.push_back({"dose 1e4 e, 4 hot pixels", p});
    p.dose = 1e6;
    cases.push_back({"dose 1e6 e (PTRS branch)", p});
    p.dose = dose;
    p.amorphous_fraction = 0.3;
    p.vacuum_fraction = 0.1;
    p.edge_width_px = 0.15;  // 4 x 4 supersampled edges
    p.ellipse_ratio = 1.1;
    cases.push_back({"dose 1e4, amorphous/vacuum, sharp edges", p});
  }
  for (Case& c : cases) {
    const double t0 = now();
    auto src = make_simulated_source(c.p, threads);
    const double build = now() - t0;
    double checksum = 0;
    time_source(*src, block, checksum); // warm up
    const Rate r = time_source(*src, block, checksum);
    std::printf("  %-44s wall %8.0f  cpu %8.0f patterns/s  (cpu: %.2f x fill+sum, %.2f x std::poisson; model %.1f ms)\n",
                c.name, r.wall, r.cpu * threads, r.cpu / fill.cpu, r.cpu / plain_poisson.cpu, build * 1e3);
  }

  // Truth and model build for a large scan.
  {
    SimParams p;
    p.scan = {256, 256};
    p.n_grains = 200;
    double t0 = now();
    SimTruth t = simulate_truth(p);
    const double truth = now() - t0;
    std::printf("  simulate_truth 256 x 256, 200 grains: %.0f ms, %zu disks\n", truth * 1e3, t.disks.size());
  }
  return 0;
}
