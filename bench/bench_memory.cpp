// bench/bench_memory.cpp: peak resident memory while streaming a dataset much larger than the
// memory budget, and while the peaks and origin stages stream a scan whose peak lists are much
// larger than the budget.
//
//   bench_memory [BUDGET [SIZE [COMPRESS]]]   BUDGET 64M (default); SIZE of the uint16 data,
//                                             512M (default, 8x the budget); COMPRESS none
//                                             (default), gzip or lz4
//   bench_memory peaks [BUDGET [FACTOR]]      BUDGET 16M (default); the scan is made large
//                                             enough that its in-memory peak lists would be
//                                             FACTOR (default 8) times the budget
//
// In a temporary folder (TMPDIR or /tmp): write_emd of a synthetic 128 x 128 uint16 dataset of
// SIZE bytes under the budget, then open_dataset + compute_stats of that file under the budget.
// The peak RSS of each phase (VmHWM of /proc/self/status, reset between phases through
// /proc/self/clear_refs; getrusage's ru_maxrss if that is not possible) is printed against
// budget + 64 MiB, with a PASS or FAIL line. The exit code is 0 either way (2 on errors).
//
// peaks: a simulated noise-free scan on a 64 x 64 detector with a dense hexagonal lattice
// (about 60 disks per pattern) is rendered on demand; the peaks stage streams its peaks into a
// results file (ResultsWriter's peaks_sink, as `domainmap peaks --no-origin` does), then the
// origin stage re-fits from that file chunk by chunk and writes the corrected vectors (as
// `domainmap origin` does). Each phase's peak RSS is printed next to the budget and the size
// the in-memory PeakList (raw and corrected vectors, offsets) would have had, against
// 2 x budget + 64 MiB.
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "domainmap/dataset.hpp"
#include "domainmap/error.hpp"
#include "domainmap/origin.hpp"
#include "domainmap/peaks.hpp"
#include "domainmap/results.hpp"
#include "domainmap/simulate.hpp"
#include "domainmap/write.hpp"

using namespace domainmap;

namespace {

class CountsSource : public FrameSource {
public:
  explicit CountsSource(Shape4 s) {
    info_.shape = s;
    info_.format = "bench";
    info_.dtype = "<u2";
    info_.frames_present = s.n_frames();
  }
  void read_frames(std::int64_t first, std::int64_t count, float* out) override {
    const std::int64_t fp = shape().frame_pixels();
    for (std::int64_t k = 0; k < count; ++k) {
      std::int64_t v = ((first + k) * 31) % 4096;
      float* o = out + k * fp;
      for (std::int64_t j = 0; j < fp; ++j) {
        o[j] = static_cast<float>(v);
        v += 17;
        if (v >= 4096) v -= 4096;
      }
    }
  }
};

std::uint64_t parse_size(const char* s) {
  char* end = nullptr;
  double v = std::strtod(s, &end);
  double mul = 1;
  if (*end == 'k' || *end == 'K') mul = 1024.0;
  if (*end == 'm' || *end == 'M') mul = 1024.0 * 1024;
  if (*end == 'g' || *end == 'G') mul = 1024.0 * 1024 * 1024;
  return static_cast<std::uint64_t>(v * mul);
}

// A "VmXXX:  1234 kB" line of /proc/self/status in bytes; -1 if absent.
long long status_bytes(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const std::string k = std::string(key) + ":";
  while (std::getline(f, line))
    if (line.rfind(k, 0) == 0) return std::atoll(line.c_str() + k.size()) * 1024;
  return -1;
}

// Resets VmHWM to the current RSS (Linux >= 4.0); false if not possible.
bool reset_peak() {
  std::ofstream f("/proc/self/clear_refs");
  if (!f) return false;
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

long long peak_bytes(bool resettable) {
  if (resettable) {
    long long v = status_bytes("VmHWM");
    if (v >= 0) return v;
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<long long>(ru.ru_maxrss) * 1024;
}

double mib(double b) { return b / (1 << 20); }

std::string make_temp_dir() {
  const char* env = std::getenv("TMPDIR");
  std::string t = std::string(env && *env ? env : "/tmp") + "/bench_memory_XXXXXX";
  std::vector<char> tb(t.begin(), t.end());
  tb.push_back('\0');
  if (!mkdtemp(tb.data())) return "";
  return tb.data();
}

// Counts what goes to the file.
struct CountingSink : PeakSink {
  PeakSink& inner;
  std::uint64_t n_peaks = 0;
  explicit CountingSink(PeakSink& i) : inner(i) {}
  void begin(Shape2 s, Shape2 d) override { inner.begin(s, d); }
  void consume(const PeakChunk& c) override {
    n_peaks += c.n_peaks();
    inner.consume(c);
  }
  void end() override { inner.end(); }
};

int bench_peaks(std::size_t budget, double factor) {
  // the dense pattern: a hexagonal lattice of 7 px out to 28 px, disks of radius 1.5 px
  SimParams sp;
  sp.detector = {64, 64};
  sp.n_grains = 8;
  sp.n_phases = 1;
  sp.phases[0].a_px = 7;
  sp.max_g_px = 28;
  sp.disk_radius_px = 1.5;
  sp.ellipse_ratio = 1.01;
  sp.ellipse_angle_deg = 30;
  sp.background_level = 0;
  PeaksParams pp;
  pp.template_source = "disk";
  pp.probe_radius = 1.5;
  pp.hot_pixels = false;
  pp.min_relative_intensity = 0.02;
  // positions from a guess of 50 peaks per pattern, 28 bytes per peak in memory; refined below
  const double per_peak = 5 * sizeof(float), per_position = sizeof(std::uint64_t);
  auto positions_for = [&](double peaks_per_pattern) {
    return static_cast<std::int64_t>(std::ceil(factor * double(budget) / (peaks_per_pattern * per_peak + per_position)));
  };
  std::int64_t n = positions_for(50);
  {
    // measure the peaks per pattern on a small scan with the same lattice
    SimParams probe = sp;
    probe.scan = {8, 8};
    auto src = make_simulated_source(probe);
    RunContext ctx;
    const PeakList l = find_peaks(*src, pp, ctx);
    const double per = double(l.size()) / double(l.n_positions());
    std::printf("dense pattern: %.1f peaks per 64 x 64 pattern\n", per);
    if (per > 1) n = positions_for(per);
  }
  const auto side = static_cast<std::int64_t>(std::ceil(std::sqrt(double(n))));
  sp.scan = {side, side};
  const std::string dir = make_temp_dir();
  if (dir.empty()) return std::perror("mkdtemp"), 2;
  const std::string path = dir + "/peaks.h5";
  int rc = 0;
  try {
    RunContext ctx;
    ctx.memory_budget = budget;
    auto src = make_simulated_source(sp);
    std::printf("scan %lld x %lld on a 64 x 64 detector, budget %.0f MiB, RSS at start %.1f MiB\n",
                static_cast<long long>(side), static_cast<long long>(side), mib(double(budget)),
                mib(static_cast<double>(status_bytes("VmRSS"))));
    bool resettable = reset_peak();
    auto t0 = std::chrono::steady_clock::now();
    PeakSetup setup = prepare_peaks(*src, pp, ctx);
    std::uint64_t n_peaks = 0;
    {
      ResultsWriter w(path, true);
      ResultsHeader h;
      h.scan = sp.scan;
      h.detector = sp.detector;
      w.write_header(h);
      std::unique_ptr<PeakSink> file = w.peaks_sink();
      CountingSink counted(*file);
      find_peaks(*src, pp, setup, ctx, counted);
      n_peaks = counted.n_peaks;
      w.commit();
    }
    const double t_peaks = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double peak_peaks = static_cast<double>(peak_bytes(resettable));
    const double lists = double(n_peaks) * per_peak + double(sp.scan.y * sp.scan.x + 1) * per_position;
    std::printf("peaks (streamed to the file):   %.1f s, %llu peaks (%.1f per pattern), peak RSS %.1f MiB\n", t_peaks,
                static_cast<unsigned long long>(n_peaks), double(n_peaks) / double(sp.scan.y * sp.scan.x),
                mib(peak_peaks));

    resettable = resettable && reset_peak();
    t0 = std::chrono::steady_clock::now();
    OriginResult r;
    {
      ResultsWriter w(path, false);
      std::unique_ptr<PeakChunkSource> peaks = w.peaks_source(std::min<std::size_t>(budget / 4, std::size_t(16) << 20));
      bool started = false;
      r = fit_origin(*peaks, OriginParams{}, ctx, [&](const PeakChunk& c, const float* qy, const float* qx) {
        if (!started) w.begin_corrected();
        started = true;
        w.append_corrected(c.first_peak(), c.n_peaks(), qy, qx);
      });
      peaks.reset();
      w.write_origin(r.origin, r.ellipse, r.bvm);
      w.commit();
    }
    const double t_origin = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double peak_origin = static_cast<double>(peak_bytes(resettable));
    std::printf("origin (re-fit from the file):  %.1f s, %s model, ellipse b/a %.5f from %lld ring peaks, peak RSS %.1f MiB\n",
                t_origin, r.model.c_str(), r.ellipse.fitted ? r.ellipse.b / r.ellipse.a : 1.0,
                static_cast<long long>(r.ring_points), mib(peak_origin));
    const double peak = std::max(peak_peaks, peak_origin);
    const double limit = 2.0 * double(budget) + (64 << 20);
    std::printf("peak RSS %.1f MiB vs 2 x budget + 64 MiB = %.1f MiB; the in-memory peak lists would be %.1f MiB "
                "(%.1fx the budget), the file %.1f MiB: %s\n",
                mib(peak), mib(limit), mib(lists), lists / double(budget),
                mib(static_cast<double>(std::filesystem::file_size(path))), peak <= limit ? "PASS" : "FAIL");
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_memory: error: %s\n", e.what());
    rc = 2;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return rc;
}

} // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "peaks") {
    const std::size_t budget = argc > 2 ? static_cast<std::size_t>(parse_size(argv[2])) : (std::size_t(16) << 20);
    const double factor = argc > 3 ? std::atof(argv[3]) : 8.0;
    return bench_peaks(budget, factor > 0 ? factor : 8.0);
  }
  const std::size_t budget = argc > 1 ? static_cast<std::size_t>(parse_size(argv[1])) : (std::size_t(64) << 20);
  const std::uint64_t size = argc > 2 ? parse_size(argv[2]) : (std::uint64_t(512) << 20);
  const std::string compress = argc > 3 ? argv[3] : "none";
  const std::int64_t det = 128, scan_x = 128;
  const std::int64_t scan_y = std::max<std::int64_t>(1, static_cast<std::int64_t>(size) / (det * det * 2) / scan_x);
  const Shape4 shape{scan_y, scan_x, det, det};
  const double data_bytes = static_cast<double>(shape.n_frames() * shape.frame_pixels()) * 2;
  const double limit = static_cast<double>(budget) + (64 << 20);

  const char* env = std::getenv("TMPDIR");
  std::string t = std::string(env && *env ? env : "/tmp") + "/bench_memory_XXXXXX";
  std::vector<char> tb(t.begin(), t.end());
  tb.push_back('\0');
  if (!mkdtemp(tb.data())) return std::perror("mkdtemp"), 2;
  const std::string dir = tb.data();
  const std::string path = dir + "/memory.emd";
  int rc = 0;
  try {
    std::printf("data: %lld x %lld scan of %lld x %lld uint16 = %.0f MiB (%.0f MiB as float32), budget %.0f MiB, "
                "compress %s\n",
                static_cast<long long>(scan_y), static_cast<long long>(scan_x), static_cast<long long>(det),
                static_cast<long long>(det), mib(data_bytes), mib(2 * data_bytes), mib(static_cast<double>(budget)),
                compress.c_str());
    std::printf("RSS at start: %.1f MiB\n", mib(static_cast<double>(status_bytes("VmRSS"))));
    bool resettable = reset_peak();
    if (!resettable) std::printf("(cannot reset VmHWM; peaks are process-wide ru_maxrss)\n");

    RunContext ctx;
    ctx.memory_budget = budget;
    CountsSource src(shape);
    WriteParams wp;
    wp.compress = compress;
    auto t0 = std::chrono::steady_clock::now();
    write_emd(src, path, wp, ctx);
    const double t_write = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double peak_write = static_cast<double>(peak_bytes(resettable));
    std::printf("write_emd:              %.2f s, peak RSS %.1f MiB\n", t_write, mib(peak_write));

    resettable = resettable && reset_peak();
    t0 = std::chrono::steady_clock::now();
    DatasetStats st;
    {
      auto s = open_dataset(path);
      st = compute_stats(*s, ctx);
    }
    const double t_read = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double peak_read = static_cast<double>(peak_bytes(resettable));
    std::printf("open + compute_stats:   %.2f s (%.2f GB/s), peak RSS %.1f MiB, sum %.0f\n", t_read,
                data_bytes / t_read / 1e9, mib(peak_read), st.sum);
    const double peak = std::max(peak_write, peak_read);
    std::printf("peak RSS %.1f MiB vs budget + 64 MiB = %.1f MiB (data %.0fx the budget): %s\n", mib(peak), mib(limit),
                data_bytes / static_cast<double>(budget), peak <= limit ? "PASS" : "FAIL");
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_memory: error: %s\n", e.what());
    rc = 2;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return rc;
}
