// bench/bench_read_emd.cpp: streaming read speed of the EMD reader against one plain H5Dread of
// the whole dataset.
//
//   bench_read_emd [SIZE [BUDGET [COMPRESS]]]   SIZE of the uint16 data, e.g. 768M (default), 2G;
//                                               BUDGET of the per-block reads, 256M (default);
//                                               COMPRESS none (default), gzip, lz4
//
// Writes a SCAN_Y x 128 scan of 128 x 128 uint16 frames with write_emd into a temporary folder
// (TMPDIR or /tmp), then times, best of 3 with the file in the page cache:
//   plain      one H5Dread of the whole dataset as uint16 into a buffer touched beforehand;
//   plain f32  one H5Dread of the whole dataset with HDF5 converting to float32;
//   per block  H5Dread(H5T_NATIVE_FLOAT) block by block into one float buffer (the alternative
//              to the reader's typed read + conversion);
//   read_frames  the reader block by block into one buffer, no thread;
//   stream     open_dataset + BlockStream (double-buffered, prefetch thread), the consumer
//              touching one pixel per frame, at memory budgets of 64 MiB, 256 MiB and 1 GiB;
//   alloc      what BlockStream spends on its two zero-initialised block buffers alone;
// and prints GB/s of stored bytes and the stream/plain ratio (target >= 0.8), then checks the sum.
#include <hdf5.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/h5util.hpp"
#include "domainmap/dataset.hpp"
#include "domainmap/error.hpp"
#include "domainmap/write.hpp"

using namespace domainmap;

namespace {

// Pixel j of frame k: (k * 31 + j * 17) mod 4096.
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
  double expected_sum() const {
    double s = 0;
    const std::int64_t fp = shape().frame_pixels();
    for (std::int64_t k = 0; k < shape().n_frames(); ++k) {
      std::int64_t v = (k * 31) % 4096;
      for (std::int64_t j = 0; j < fp; ++j) {
        s += static_cast<double>(v);
        v += 17;
        if (v >= 4096) v -= 4096;
      }
    }
    return s;
  }
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

std::string make_temp_dir() {
  const char* env = std::getenv("TMPDIR");
  std::string t = std::string(env && *env ? env : "/tmp") + "/bench_emd_XXXXXX";
  std::vector<char> b(t.begin(), t.end());
  b.push_back('\0');
  if (!mkdtemp(b.data())) return "";
  return b.data();
}

const char* kData = "/datacube_root/datacube/data";

} // namespace

int main(int argc, char** argv) {
  const std::uint64_t size = argc > 1 ? parse_size(argv[1]) : (std::uint64_t(768) << 20);
  const std::size_t budget = argc > 2 ? static_cast<std::size_t>(parse_size(argv[2])) : (std::size_t(256) << 20);
  const std::string compress = argc > 3 ? argv[3] : "none";
  const std::int64_t det = 128, scan_x = 128;
  const std::int64_t frame_bytes = det * det * 2;
  const std::int64_t scan_y = std::max<std::int64_t>(1, static_cast<std::int64_t>(size) / frame_bytes / scan_x);
  const Shape4 shape{scan_y, scan_x, det, det};
  const std::int64_t n_frames = shape.n_frames();
  const std::size_t n_pixels = static_cast<std::size_t>(n_frames * shape.frame_pixels());
  const double data_bytes = static_cast<double>(n_pixels) * 2;

  const std::string dir = make_temp_dir();
  if (dir.empty()) return std::perror("mkdtemp"), 1;
  const std::string path = dir + "/bench.emd";
  int rc = 0;
  try {
    CountsSource src(shape);
    RunContext ctx;
    ctx.memory_budget = budget;
    WriteParams wp;
    wp.compress = compress;
    auto t0 = std::chrono::steady_clock::now();
    write_emd(src, path, wp, ctx);
    const double t_write = seconds_since(t0);
    ::sync();  // no write-back of the new file during the timings
    std::printf("file: %s, %lld x %lld scan of %lld x %lld uint16 frames, %.3f GiB of data, %.3f GiB file, "
                "compress %s (write_emd %.2f s, %.2f GB/s)\n",
                path.c_str(), static_cast<long long>(scan_y), static_cast<long long>(scan_x),
                static_cast<long long>(det), static_cast<long long>(det), data_bytes / (1u << 30),
                static_cast<double>(std::filesystem::file_size(path)) / (1u << 30), compress.c_str(), t_write,
                data_bytes / t_write / 1e9);

    // plain: the whole dataset in one H5Dread, as stored (uint16), buffer touched beforehand
    double best_plain = 1e30;
    {
      std::vector<std::uint16_t> all(n_pixels);
      std::memset(all.data(), 1, all.size() * 2);
      for (int rep = 0; rep < 3; ++rep) {
        t0 = std::chrono::steady_clock::now();
        h5::Handle f = h5::open_file_read(path);
        h5::Handle d = h5::open_dataset(f, kData, path);
        if (H5Dread(d, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, all.data()) < 0)
          fail(ErrorKind::io, path, "plain H5Dread failed");
        best_plain = std::min(best_plain, seconds_since(t0));
      }
    }
    // plain f32: HDF5 converts the whole dataset to float32
    double best_plain_f32 = 1e30;
    {
      std::vector<float> all(n_pixels);
      std::memset(all.data(), 1, all.size() * 4);
      for (int rep = 0; rep < 2; ++rep) {
        t0 = std::chrono::steady_clock::now();
        h5::Handle f = h5::open_file_read(path);
        h5::Handle d = h5::open_dataset(f, kData, path);
        if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, all.data()) < 0)
          fail(ErrorKind::io, path, "plain H5Dread to float failed");
        best_plain_f32 = std::min(best_plain_f32, seconds_since(t0));
      }
    }

    auto probe = open_dataset(path);
    const std::int64_t per_block = block_frames_for_budget(shape, budget, probe->frame_alignment());
    std::vector<float> block(static_cast<std::size_t>(per_block * shape.frame_pixels()));
    std::memset(block.data(), 1, block.size() * 4);

    // per block, HDF5 converting to float32 (the alternative to the reader's own conversion)
    double best_block_f32 = 1e30;
    for (int rep = 0; rep < 3; ++rep) {
      t0 = std::chrono::steady_clock::now();
      h5::Handle f = h5::open_file_read(path);
      h5::Handle dapl(H5Pcreate(H5P_DATASET_ACCESS));
      H5Pset_chunk_cache(dapl, 521, 0, 1.0);
      h5::Handle d(H5Dopen2(f, kData, dapl));
      h5::Handle fs(H5Dget_space(d));
      const std::int64_t rows = std::max<std::int64_t>(1, per_block / scan_x);
      for (std::int64_t r = 0; r < scan_y; r += rows) {
        hsize_t start[4] = {static_cast<hsize_t>(r), 0, 0, 0};
        hsize_t cnt[4] = {static_cast<hsize_t>(std::min(rows, scan_y - r)), static_cast<hsize_t>(scan_x),
                          static_cast<hsize_t>(det), static_cast<hsize_t>(det)};
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, nullptr, cnt, nullptr);
        h5::Handle ms(H5Screate_simple(4, cnt, nullptr));
        if (H5Dread(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, block.data()) < 0)
          fail(ErrorKind::io, path, "block H5Dread failed");
      }
      best_block_f32 = std::min(best_block_f32, seconds_since(t0));
    }

    // read_frames alone, block by block, no thread
    double best_frames = 1e30;
    for (int rep = 0; rep < 3; ++rep) {
      t0 = std::chrono::steady_clock::now();
      auto s = open_dataset(path);
      for (std::int64_t k = 0; k < n_frames; k += per_block)
        s->read_frames(k, std::min(per_block, n_frames - k), block.data());
      best_frames = std::min(best_frames, seconds_since(t0));
    }

    // open_dataset + BlockStream at several budgets; and the cost of its two zeroed buffers
    struct StreamRun {
      std::size_t budget;
      std::int64_t per_block;
      double best, alloc;
    };
    std::vector<StreamRun> runs;
    std::int64_t frames = 0;
    for (std::size_t b_budget : {std::size_t(64) << 20, std::size_t(256) << 20, std::size_t(1) << 30}) {
      StreamRun r{b_budget, block_frames_for_budget(shape, b_budget, probe->frame_alignment()), 1e30, 1e30};
      for (int rep = 0; rep < 3; ++rep) {
        t0 = std::chrono::steady_clock::now();
        auto s = open_dataset(path);
        BlockStream stream(*s, b_budget);
        FrameBlock b;
        frames = 0;
        float touch = 0;
        while (stream.next(b)) {
          for (std::int64_t i = 0; i < b.n_frames; ++i) touch += b.frame(i)[i % b.frame_pixels];
          frames += b.n_frames;
        }
        r.best = std::min(r.best, seconds_since(t0));
        if (touch < 0) std::printf(" ");
        if (frames != n_frames) rc = 1;
      }
      for (int rep = 0; rep < 3; ++rep) {
        t0 = std::chrono::steady_clock::now();
        {
          const std::size_t n = static_cast<std::size_t>(std::min(r.per_block, n_frames) * shape.frame_pixels());
          std::vector<float> a(n), b(r.per_block < n_frames ? n : 0);
          if (a[n / 2] + (b.empty() ? 0.0f : b[n / 2]) != 0) std::printf(" ");
        }
        r.alloc = std::min(r.alloc, seconds_since(t0));
      }
      runs.push_back(r);
    }
    double sum = 0;
    {  // untimed check of every value
      auto s = open_dataset(path);
      BlockStream stream(*s, budget);
      FrameBlock b;
      while (stream.next(b)) {
        const std::int64_t n = b.n_frames * b.frame_pixels;
        double bs = 0;
        for (std::int64_t j = 0; j < n; ++j) bs += b.data[j];
        sum += bs;
      }
    }
    const double expect = src.expected_sum();
    std::printf("per-block reads below: budget %.0f MiB, %lld frames per block\n",
                static_cast<double>(budget) / (1u << 20), static_cast<long long>(per_block));
    std::printf("plain H5Dread u16:      %.3f s  %.2f GB/s\n", best_plain, data_bytes / best_plain / 1e9);
    std::printf("plain H5Dread -> f32:   %.3f s  %.2f GB/s\n", best_plain_f32, data_bytes / best_plain_f32 / 1e9);
    std::printf("per-block H5Dread f32:  %.3f s  %.2f GB/s\n", best_block_f32, data_bytes / best_block_f32 / 1e9);
    std::printf("read_frames only:       %.3f s  %.2f GB/s\n", best_frames, data_bytes / best_frames / 1e9);
    bool pass = true;
    for (const StreamRun& r : runs) {
      const double ratio = best_plain / r.best;
      std::printf("open + BlockStream, budget %4.0f MiB (%5lld frames/block): %.3f s  %.2f GB/s  %.0f patterns/s  "
                  "ratio %.2f %s  (of which buffer allocation %.3f s)\n",
                  static_cast<double>(r.budget) / (1u << 20), static_cast<long long>(r.per_block), r.best,
                  data_bytes / r.best / 1e9, static_cast<double>(n_frames) / r.best, ratio,
                  ratio >= 0.8 ? "PASS" : "FAIL", r.alloc);
      pass = pass && ratio >= 0.8;
    }
    std::printf("ratio stream/plain >= 0.8 at every budget: %s\n", pass ? "PASS" : "FAIL");
    std::printf("sum check: %s (%.0f vs %.0f)\n", sum == expect ? "ok" : "MISMATCH", sum, expect);
    if (sum != expect) rc = 1;
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_read_emd: error: %s\n", e.what());
    rc = 2;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return rc;
}
