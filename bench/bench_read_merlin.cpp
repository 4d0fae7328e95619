// bench/bench_read_merlin.cpp: streaming read speed of the Merlin reader against a plain read
// of the same bytes.
//
//   bench_read_merlin [SIZE [TYPE [BUDGET]]]   SIZE e.g. 512M (default), 2G, 100000000;
//                                              TYPE u8, u16 (default), u32; BUDGET 1G (default)
//
// Writes a 256 x 256 Merlin file of about SIZE bytes with write_mib into a temporary folder,
// then times (best of 3, file in the page cache) a plain pread of the whole file in 64 MiB
// chunks, read_frames alone, and open_dataset + BlockStream over all frames, and checks the sum.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "domainmap/dataset.hpp"
#include "domainmap/error.hpp"
#include "domainmap/write.hpp"
#include "io/readers.hpp"

using namespace domainmap;

namespace {

// Counts k*31 + j*17 mod `modulo` (deterministic, no zeros-only pages).
class CountsSource : public FrameSource {
public:
  CountsSource(Shape4 s, const char* dtype, int modulo) : modulo_(modulo) {
    info_.shape = s;
    info_.format = "bench";
    info_.dtype = dtype;
    info_.frames_present = s.n_frames();
  }
  void read_frames(std::int64_t first, std::int64_t count, float* out) override {
    const std::int64_t fp = shape().frame_pixels();
    for (std::int64_t k = 0; k < count; ++k) {
      const std::int64_t base = ((first + k) * 31) % modulo_;
      float* o = out + k * fp;
      std::int64_t v = base;
      for (std::int64_t j = 0; j < fp; ++j) {
        o[j] = static_cast<float>(v);
        v += 17;
        if (v >= modulo_) v -= modulo_;
      }
    }
  }
  double expected_sum() const {
    double s = 0;
    const std::int64_t fp = shape().frame_pixels();
    for (std::int64_t k = 0; k < shape().n_frames(); ++k) {
      std::int64_t v = (k * 31) % modulo_;
      for (std::int64_t j = 0; j < fp; ++j) {
        s += static_cast<double>(v);
        v += 17;
        if (v >= modulo_) v -= modulo_;
      }
    }
    return s;
  }
private:
  std::int64_t modulo_;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::uint64_t parse_size(const char* s) {
  char* end = nullptr;
  double v = std::strtod(s, &end);
  double mul = 1;
  if (*end == 'k' || *end == 'K') mul = 1024.0;
  if (*end == 'm' || *end == 'M') mul = 1024.0 * 1024;
  if (*end == 'g' || *end == 'G') mul = 1024.0 * 1024 * 1024;
  return static_cast<std::uint64_t>(v * mul);
}

} // namespace

int main(int argc, char** argv) {
  const std::uint64_t size = argc > 1 ? parse_size(argv[1]) : (std::uint64_t(512) << 20);
  const std::string type = argc > 2 ? argv[2] : "u16";
  const std::size_t budget = argc > 3 ? static_cast<std::size_t>(parse_size(argv[3])) : (std::size_t(1) << 30);
  const int bytes = type == "u8" ? 1 : type == "u32" ? 4 : 2;
  const char* dtype = type == "u8" ? "|u1" : type == "u32" ? "<u4" : "<u2";
  const int modulo = type == "u8" ? 64 : 4096;
  const std::int64_t stride = 384 + 256 * 256 * bytes;
  const std::int64_t scan_x = 64;
  const std::int64_t scan_y = std::max<std::int64_t>(1, static_cast<std::int64_t>(size) / stride / scan_x);
  const Shape4 shape{scan_y, scan_x, 256, 256};

  char tmpl[] = "/tmp/bench_merlin_XXXXXX";
  const char* tmp_env = std::getenv("TMPDIR");
  std::string dir;
  if (tmp_env && *tmp_env) {
    std::string t = std::string(tmp_env) + "/bench_merlin_XXXXXX";
    std::vector<char> b(t.begin(), t.end());
    b.push_back('\0');
    if (!mkdtemp(b.data())) return std::perror("mkdtemp"), 1;
    dir = b.data();
  } else {
    if (!mkdtemp(tmpl)) return std::perror("mkdtemp"), 1;
    dir = tmpl;
  }
  const std::string path = dir + "/bench.mib";
  int rc = 0;
  try {
    CountsSource src(shape, dtype, modulo);
    RunContext ctx;
    auto t0 = std::chrono::steady_clock::now();
    write_mib(src, path, WriteParams{}, ctx);
    const double t_write = seconds_since(t0);
    const double file_bytes = static_cast<double>(std::filesystem::file_size(path));
    std::printf("file: %s, %lld x %lld scan of 256 x 256 %s frames, %.3f GiB (write_mib %.2f s, %.2f GB/s)\n",
                path.c_str(), static_cast<long long>(scan_y), static_cast<long long>(scan_x), type.c_str(),
                file_bytes / (1u << 30), t_write, file_bytes / t_write / 1e9);

    // plain read: pread in 64 MiB chunks
    double best_plain = 1e30;
    std::vector<unsigned char> chunk(std::size_t(64) << 20);
    for (int rep = 0; rep < 3; ++rep) {
      io::BinaryFile f(path);
      t0 = std::chrono::steady_clock::now();
      std::uint64_t off = 0, check = 0;
      while (off < f.size()) {
        std::size_t n = f.read_some(off, chunk.size(), chunk.data());
        check += chunk[n / 2];
        off += n;
      }
      best_plain = std::min(best_plain, seconds_since(t0));
      if (check == 0xFFFFFFFFFFFFull) std::printf(" ");
    }

    // decode only: read_frames into one reused buffer of 64 frames
    double best_decode = 1e30;
    {
      auto s = open_dataset(path);
      std::vector<float> buf(64 * 65536);
      for (int rep = 0; rep < 3; ++rep) {
        t0 = std::chrono::steady_clock::now();
        for (std::int64_t k = 0; k < s->shape().n_frames(); k += 64)
          s->read_frames(k, std::min<std::int64_t>(64, s->shape().n_frames() - k), buf.data());
        best_decode = std::min(best_decode, seconds_since(t0));
      }
    }

    // streaming read through the reader (the consumer only touches one pixel per frame)
    double best_stream = 1e30, sum = 0;
    std::int64_t frames = 0;
    for (int rep = 0; rep < 3; ++rep) {
      t0 = std::chrono::steady_clock::now();
      auto s = open_dataset(path);
      BlockStream stream(*s, budget);
      FrameBlock b;
      frames = 0;
      float touch = 0;
      while (stream.next(b)) {
        for (std::int64_t i = 0; i < b.n_frames; ++i) touch += b.frame(i)[i % 65536];
        frames += b.n_frames;
      }
      best_stream = std::min(best_stream, seconds_since(t0));
      if (touch < 0) std::printf(" ");
    }
    {  // untimed check of every value
      auto s = open_dataset(path);
      BlockStream stream(*s, budget);
      FrameBlock b;
      while (stream.next(b)) {
        const std::int64_t n = b.n_frames * b.frame_pixels;
        for (std::int64_t j = 0; j < n; ++j) sum += b.data[j];
      }
    }
    const double expect = src.expected_sum();
    std::printf("plain pread:      %.3f s  %.2f GB/s\n", best_plain, file_bytes / best_plain / 1e9);
    std::printf("open + stream:    %.3f s  %.2f GB/s  %.0f patterns/s  (float32 out %.2f GB/s)\n", best_stream,
                file_bytes / best_stream / 1e9, static_cast<double>(frames) / best_stream,
                static_cast<double>(frames) * 65536 * 4 / best_stream / 1e9);
    std::printf("decode only:      %.3f s  %.2f GB/s  (read_frames, 64-frame buffer)\n", best_decode,
                file_bytes / best_decode / 1e9);
    std::printf("ratio stream/plain: %.2f\n", best_plain / best_stream);
    std::printf("sum check: %s (%.0f vs %.0f)\n", sum == expect ? "ok" : "MISMATCH", sum, expect);
    if (sum != expect || frames != shape.n_frames()) rc = 1;
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_read_merlin: error: %s\n", e.what());
    rc = 2;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return rc;
}
