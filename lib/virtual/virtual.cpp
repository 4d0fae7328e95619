// lib/virtual/virtual.cpp: the `virtual` stage: BF/ADF images and mean/max patterns, streamed
// (see domainmap/virtual.hpp for the masks, the automatic centre and the determinism rules).
#include "domainmap/virtual.hpp"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <tuple>

#include "domainmap/error.hpp"

namespace domainmap {

void describe(VirtualParams& p, ParamSink& s) {
  param(s, "bf_radius", p.bf_radius, "bright-field disk radius; 0 = no BF image", 0, kNoLimit, "px");
  param(s, "adf_inner", p.adf_inner, "annular dark-field inner radius (excluded up to this distance)", 0, kNoLimit,
        "px");
  param(s, "adf_outer", p.adf_outer, "annular dark-field outer radius; 0 = no ADF image", 0, kNoLimit, "px");
  param(s, "center_y", p.center_y,
        "mask centre, detector row; negative = the central beam of the mean pattern", -kNoLimit, kNoLimit, "px");
  param(s, "center_x", p.center_x,
        "mask centre, detector column; negative = the central beam of the mean pattern", -kNoLimit, kNoLimit, "px");
}

namespace {

std::string num(double v) { return param_number_text(v); }

[[noreturn]] void bad(const char* key, double value, const std::string& why) {
  fail(ErrorKind::bad_parameter, "", "virtual.", key, " = ", num(value), ": ", why);
}

// A run of consecutive detector pixels [offset, offset + length) of one mask.
struct Span {
  std::int64_t offset = 0, length = 0;
};

// Spans of the pixels (i, j) with r_in^2 < d^2 <= r_out^2 (r_in < 0: no inner exclusion).
std::vector<Span> make_mask(std::int64_t det_y, std::int64_t det_x, double cy, double cx, double r_in,
                            double r_out) {
  std::vector<Span> spans;
  const double in2 = r_in * r_in, out2 = r_out * r_out;
  for (std::int64_t i = 0; i < det_y; ++i) {
    const double dy = static_cast<double>(i) - cy;
    std::int64_t start = -1;
    for (std::int64_t j = 0; j <= det_x; ++j) {
      bool inside = false;
      if (j < det_x) {
        const double dx = static_cast<double>(j) - cx;
        const double d2 = dy * dy + dx * dx;
        inside = d2 <= out2 && !(r_in >= 0 && d2 <= in2);
      }
      if (inside && start < 0) start = j;
      if (!inside && start >= 0) {
        spans.push_back({i * det_x + start, j - start});
        start = -1;
      }
    }
  }
  return spans;
}

std::int64_t mask_pixels(const std::vector<Span>& spans) {
  std::int64_t n = 0;
  for (const Span& s : spans) n += s.length;
  return n;
}

float mask_sum(const float* frame, const std::vector<Span>& spans) {
  double acc = 0;
  for (const Span& s : spans) {
    const float* p = frame + s.offset;
    for (std::int64_t j = 0; j < s.length; ++j) acc += p[j];
  }
  return static_cast<float>(acc);
}

struct Masks {
  std::vector<Span> bf, adf;
};

Masks build_masks(const VirtualParams& p, std::int64_t det_y, std::int64_t det_x, double cy, double cx,
                  VirtualImages& v, RunContext& ctx) {
  Masks m;
  if (p.bf_radius > 0) {
    m.bf = make_mask(det_y, det_x, cy, cx, -1, p.bf_radius);
    v.bf_pixels = mask_pixels(m.bf);
    if (v.bf_pixels == 0)
      ctx.warn("virtual: the BF disk of radius " + num(p.bf_radius) + " px at (" + num(cy) + ", " + num(cx) +
               ") holds no detector pixel; the BF image is 0");
  }
  if (p.adf_outer > 0) {
    m.adf = make_mask(det_y, det_x, cy, cx, p.adf_inner > 0 ? p.adf_inner : -1, p.adf_outer);
    v.adf_pixels = mask_pixels(m.adf);
    if (v.adf_pixels == 0)
      ctx.warn("virtual: the ADF ring " + num(p.adf_inner) + ".." + num(p.adf_outer) + " px at (" + num(cy) +
               ", " + num(cx) + ") holds no detector pixel; the ADF image is 0");
  }
  return m;
}

// Pattern reductions: each detector pixel accumulates the frames in raster order, whatever
// the block size or thread count.
struct PatternSums {
  std::vector<double> sum;
  std::vector<float> max;
  explicit PatternSums(std::int64_t n)
      : sum(static_cast<std::size_t>(n), 0.0),
        max(static_cast<std::size_t>(n), -std::numeric_limits<float>::infinity()) {}

  void add_block(const FrameBlock& b, std::int64_t det_y, std::int64_t det_x) {
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, det_y), [&](const tbb::blocked_range<std::int64_t>& r) {
      for (std::int64_t i = r.begin(); i != r.end(); ++i) {
        double* s = sum.data() + i * det_x;
        float* m = max.data() + i * det_x;
        for (std::int64_t k = 0; k < b.n_frames; ++k) {
          const float* f = b.frame(k) + i * det_x;
          for (std::int64_t j = 0; j < det_x; ++j) {
            s[j] += f[j];
            if (f[j] > m[j]) m[j] = f[j];
          }
        }
      }
    });
  }
};

void add_images(const FrameBlock& b, const Masks& m, VirtualImages& v) {
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, b.n_frames), [&](const tbb::blocked_range<std::int64_t>& r) {
    for (std::int64_t k = r.begin(); k != r.end(); ++k) {
      const float* f = b.frame(k);
      const auto slot = static_cast<std::size_t>(b.first_frame + k);
      if (!v.bf.empty()) v.bf[slot] = mask_sum(f, m.bf);
      if (!v.adf.empty()) v.adf[slot] = mask_sum(f, m.adf);
    }
  });
}

} // namespace

void validate(const VirtualParams& p, std::int64_t det_y, std::int64_t det_x) {
  const double diag = std::hypot(static_cast<double>(det_y), static_cast<double>(det_x));
  const std::string diag_text = "larger than the detector diagonal (" + num(diag) + " px)";
  auto radius = [&](const char* key, double r) {
    if (!std::isfinite(r)) bad(key, r, "must be finite");
    if (r < 0) bad(key, r, "must be >= 0");
    if (r > diag) bad(key, r, diag_text);
  };
  radius("bf_radius", p.bf_radius);
  radius("adf_inner", p.adf_inner);
  radius("adf_outer", p.adf_outer);
  if ((p.adf_inner > 0 || p.adf_outer > 0) && p.adf_inner >= p.adf_outer)
    bad("adf_inner", p.adf_inner, "must be smaller than virtual.adf_outer = " + num(p.adf_outer));
  if (!std::isfinite(p.center_y)) bad("center_y", p.center_y, "must be finite");
  if (!std::isfinite(p.center_x)) bad("center_x", p.center_x, "must be finite");
  if ((p.center_y < 0) != (p.center_x < 0))
    fail(ErrorKind::bad_parameter, "", "virtual.center_y = ", num(p.center_y), ", virtual.center_x = ",
         num(p.center_x), ": give both coordinates of the centre, or neither (negative = automatic)");
  if (p.center_y >= 0 && p.center_y > static_cast<double>(det_y - 1))
    bad("center_y", p.center_y, "outside the detector (rows 0.." + std::to_string(det_y - 1) + ")");
  if (p.center_x >= 0 && p.center_x > static_cast<double>(det_x - 1))
    bad("center_x", p.center_x, "outside the detector (columns 0.." + std::to_string(det_x - 1) + ")");
}

std::pair<double, double> find_central_beam(const std::vector<float>& pattern, std::int64_t det_y,
                                            std::int64_t det_x) {
  const std::int64_t n = det_y * det_x;
  if (det_y <= 0 || det_x <= 0 || static_cast<std::int64_t>(pattern.size()) != n)
    fail(ErrorKind::internal, "", "find_central_beam: pattern of ", pattern.size(), " values for ", det_y, "x",
         det_x);
  auto at = [&](std::int64_t i, std::int64_t j) { return static_cast<double>(pattern[static_cast<std::size_t>(i * det_x + j)]); };
  // 3x3 box smoothing (over the neighbours inside the detector), so one hot pixel does not win.
  std::vector<double> smooth(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < det_y; ++i)
    for (std::int64_t j = 0; j < det_x; ++j) {
      double s = 0;
      int c = 0;
      for (std::int64_t a = std::max<std::int64_t>(0, i - 1); a <= std::min(det_y - 1, i + 1); ++a)
        for (std::int64_t b = std::max<std::int64_t>(0, j - 1); b <= std::min(det_x - 1, j + 1); ++b) {
          s += at(a, b);
          ++c;
        }
      smooth[static_cast<std::size_t>(i * det_x + j)] = s / c;
    }
  std::int64_t seed = 0;
  for (std::int64_t k = 1; k < n; ++k)
    if (smooth[static_cast<std::size_t>(k)] > smooth[static_cast<std::size_t>(seed)]) seed = k;
  std::vector<double> sorted(pattern.begin(), pattern.end());
  std::nth_element(sorted.begin(), sorted.begin() + n / 2, sorted.end());
  const double background = sorted[static_cast<std::size_t>(n / 2)];
  const double peak = smooth[static_cast<std::size_t>(seed)];
  if (!(peak > background) || !std::isfinite(peak))
    fail(ErrorKind::bad_input, "", "no central beam found: the mean pattern is flat; give the centre "
         "(--virtual.center_y, --virtual.center_x)");
  const double threshold = background + 0.5 * (peak - background);

  // Flood fill (4-connected) of the smoothed pattern above the threshold from the seed.
  std::vector<std::uint8_t> region(static_cast<std::size_t>(n), 0);
  std::vector<std::int64_t> stack{seed};
  region[static_cast<std::size_t>(seed)] = 1;
  while (!stack.empty()) {
    const std::int64_t k = stack.back();
    stack.pop_back();
    const std::int64_t i = k / det_x, j = k % det_x;
    const std::int64_t nb[4][2] = {{i - 1, j}, {i + 1, j}, {i, j - 1}, {i, j + 1}};
    for (const auto& q : nb) {
      if (q[0] < 0 || q[0] >= det_y || q[1] < 0 || q[1] >= det_x) continue;
      const auto kk = static_cast<std::size_t>(q[0] * det_x + q[1]);
      if (!region[kk] && smooth[kk] >= threshold) {
        region[kk] = 1;
        stack.push_back(static_cast<std::int64_t>(kk));
      }
    }
  }
  // Grow by 2 px (5x5 square) to take in the disk's soft edge, then weight by the intensity
  // above the background.
  constexpr std::int64_t grow = 2;
  double sw = 0, sy = 0, sx = 0;
  for (std::int64_t i = 0; i < det_y; ++i)
    for (std::int64_t j = 0; j < det_x; ++j) {
      bool near = false;
      for (std::int64_t a = std::max<std::int64_t>(0, i - grow); a <= std::min(det_y - 1, i + grow) && !near; ++a)
        for (std::int64_t b = std::max<std::int64_t>(0, j - grow); b <= std::min(det_x - 1, j + grow); ++b)
          if (region[static_cast<std::size_t>(a * det_x + b)]) {
            near = true;
            break;
          }
      if (!near) continue;
      const double w = at(i, j) - background;
      if (!(w > 0)) continue;
      sw += w;
      sy += w * static_cast<double>(i);
      sx += w * static_cast<double>(j);
    }
  if (!(sw > 0))
    fail(ErrorKind::bad_input, "", "no central beam found in the mean pattern; give the centre "
         "(--virtual.center_y, --virtual.center_x)");
  return {sy / sw, sx / sw};
}

VirtualImages compute_virtual(FrameSource& src, const VirtualParams& p, RunContext& ctx) {
  const Shape4 s = src.shape();
  validate(p, s.det_y, s.det_x);
  VirtualImages v;
  v.scan = {s.scan_y, s.scan_x};
  v.detector = {s.det_y, s.det_x};
  v.bf_radius = p.bf_radius;
  v.adf_inner = p.adf_inner;
  v.adf_outer = p.adf_outer;
  const std::int64_t n = s.n_frames();
  if (p.bf_radius > 0) v.bf.assign(static_cast<std::size_t>(n), 0.0f);
  if (p.adf_outer > 0) v.adf.assign(static_cast<std::size_t>(n), 0.0f);
  v.center_auto = p.center_y < 0;
  const bool want_images = !v.bf.empty() || !v.adf.empty();
  // Automatic centre: first pass for the patterns, second for the images.
  const bool two_passes = v.center_auto && want_images;
  const std::int64_t total = two_passes ? 2 * n : n;
  std::int64_t done = 0;

  tbb::task_arena arena(ctx.threads > 0 ? ctx.threads : tbb::task_arena::automatic);
  arena.execute([&] {
    PatternSums sums(s.frame_pixels());
    Masks masks;
    if (!v.center_auto) {
      v.center_y = p.center_y;
      v.center_x = p.center_x;
      masks = build_masks(p, s.det_y, s.det_x, v.center_y, v.center_x, v, ctx);
    }
    {
      BlockStream stream(src, ctx.memory_budget);
      FrameBlock b;
      ctx.report("virtual", 0, total);
      while (stream.next(b)) {
        check_cancel(ctx);
        sums.add_block(b, s.det_y, s.det_x);
        if (!v.center_auto) add_images(b, masks, v);
        done += b.n_frames;
        ctx.report("virtual", done, total);
      }
    }
    v.mean_dp.resize(sums.sum.size());
    const double inv_n = 1.0 / static_cast<double>(n);
    for (std::size_t k = 0; k < sums.sum.size(); ++k) v.mean_dp[k] = static_cast<float>(sums.sum[k] * inv_n);
    v.max_dp = std::move(sums.max);
    if (v.center_auto && !want_images) {
      // Only the patterns were asked for: the centre is informative, not needed.
      try {
        std::tie(v.center_y, v.center_x) = find_central_beam(v.mean_dp, s.det_y, s.det_x);
      } catch (const Error&) {
        v.center_y = v.center_x = -1;
      }
    } else if (v.center_auto) {
      auto [cy, cx] = find_central_beam(v.mean_dp, s.det_y, s.det_x);
      v.center_y = cy;
      v.center_x = cx;
      ctx.message(LogLevel::debug, "virtual: central beam of the mean pattern at (" + num(cy) + ", " + num(cx) + ") px");
      {
        masks = build_masks(p, s.det_y, s.det_x, cy, cx, v, ctx);
        BlockStream stream(src, ctx.memory_budget);
        FrameBlock b;
        while (stream.next(b)) {
          check_cancel(ctx);
          add_images(b, masks, v);
          done += b.n_frames;
          ctx.report("virtual", done, total);
        }
      }
    }
  });
  return v;
}

} // namespace domainmap
