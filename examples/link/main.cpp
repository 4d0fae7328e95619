// examples/link/main.cpp: open any dataset domainmap reads, stream it, print shape and sum.
//   link_example FILE
#include <cstdio>

#include <domainmap/domainmap.hpp>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: link_example FILE\n");
    return 2;
  }
  try {
    auto src = domainmap::open_dataset(argv[1]);
    const domainmap::Shape4& s = src->shape();
    domainmap::RunContext ctx;
    ctx.memory_budget = 64 << 20;
    domainmap::BlockStream blocks(*src, ctx.memory_budget);
    double sum = 0;
    for (domainmap::FrameBlock b; blocks.next(b);)
      for (long long i = 0; i < b.n_frames * b.frame_pixels; ++i) sum += b.data[i];
    std::printf("%s: %s, shape %lld %lld %lld %lld sum %.0f\n", argv[1], src->info().format.c_str(),
                static_cast<long long>(s.scan_y), static_cast<long long>(s.scan_x), static_cast<long long>(s.det_y),
                static_cast<long long>(s.det_x), sum);
    return 0;
  } catch (const domainmap::Error& e) {
    std::fprintf(stderr, "link_example: error: %s\n", e.what());
    return domainmap::exit_code(e.kind());
  }
}
