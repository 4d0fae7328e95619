// bench/bench_memory.cpp: peak resident memory while streaming a dataset much larger than the
// memory budget.
//
//   bench_memory [BUDGET [SIZE [COMPRESS]]]   BUDGET 64M (default); SIZE of the uint16 data,
//                                             512M (default, 8x the budget); COMPRESS none
//                                             (default), gzip or lz4
//
// In a temporary folder (TMPDIR or /tmp): write_emd of a synthetic 128 x 128 uint16 dataset of
// SIZE bytes under the budget, then open_dataset + compute_stats of that file under the budget.
// The peak RSS of each phase (VmHWM of /proc/self/status, reset between phases through
// /proc/self/clear_refs; getrusage's ru_maxrss if that is not possible) is printed against
// budget + 64 MiB, with a PASS or FAIL line. The exit code is 0 either way (2 on errors).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "domainmap/dataset.hpp"
#include "domainmap/error.hpp"
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

} // namespace

int main(int argc, char** argv) {
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
