// lib/peaks/peaks.cpp: the `peaks` stage over a dataset: the prescan (mean and max patterns,
// hot and dead pixels, gain, probe radius, template) and the streamed, parallel detection.
//
// Determinism: the prescan accumulates every detector pixel over the frames in raster order
// (one TBB task per detector row); detection computes each pattern alone into the slot of its
// position and the slots are concatenated in position order; so the results do not depend on
// the thread count or the memory budget. Each block's peaks go to a PeakSink as soon as the
// block is done, so memory holds one block of frames and one block of peaks, whatever the scan.
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <numeric>
#include <sstream>

#include "../core/h5util.hpp"
#include "domainmap/error.hpp"
#include "domainmap/peaks.hpp"
#include "refine.hpp"

namespace domainmap {

namespace {

std::string num(double v) {
  std::ostringstream os;
  os.precision(6);
  os << v;
  return os.str();
}

bool is_builtin(const std::string& t) { return t == "auto" || t == "mean" || t == "vacuum" || t == "disk"; }

// Mean and max patterns, streamed; each detector row is one task looping the frames in order.
struct Prescan {
  std::vector<float> mean, max;
};

Prescan prescan(FrameSource& src, RunContext& ctx, std::int64_t& done, std::int64_t total) {
  const Shape4 s = src.shape();
  const std::int64_t fp = s.frame_pixels();
  std::vector<double> sum(static_cast<std::size_t>(fp), 0.0);
  Prescan out;
  out.max.assign(static_cast<std::size_t>(fp), -std::numeric_limits<float>::infinity());
  BlockStream stream(src, ctx.memory_budget);
  for (FrameBlock b; stream.next(b);) {
    check_cancel(ctx);
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, s.det_y), [&](const tbb::blocked_range<std::int64_t>& r) {
      for (std::int64_t i = r.begin(); i != r.end(); ++i) {
        double* sm = sum.data() + i * s.det_x;
        float* mx = out.max.data() + i * s.det_x;
        for (std::int64_t k = 0; k < b.n_frames; ++k) {
          const float* f = b.frame(k) + i * s.det_x;
          for (std::int64_t j = 0; j < s.det_x; ++j) {
            sm[j] += f[j];
            if (f[j] > mx[j]) mx[j] = f[j];
          }
        }
      }
    });
    done += b.n_frames;
    ctx.report("peaks-prescan", done, total);
  }
  out.mean.resize(sum.size());
  const double inv = 1.0 / static_cast<double>(s.n_frames());
  for (std::size_t k = 0; k < sum.size(); ++k) {
    out.mean[k] = static_cast<float>(sum[k] * inv);
    if (!std::isfinite(out.mean[k]) || !std::isfinite(out.max[k]))
      fail(ErrorKind::bad_input, src.info().path, "detector pixel (", k / static_cast<std::size_t>(s.det_x), ",",
           k % static_cast<std::size_t>(s.det_x), ") has NaN or infinite values; use --read.nan_to_zero");
  }
  return out;
}

// Order statistics of the 8 neighbours inside the detector (3x3 without the centre):
// k = 1 the second smallest, k = -2 the second largest, 0 the median.
void sort_small(float* v, int n) {
  for (int a = 1; a < n; ++a)
    for (int b = a; b > 0 && v[b - 1] > v[b]; --b) std::swap(v[b - 1], v[b]);
}

std::vector<float> neighbour_rank(const std::vector<float>& img, std::int64_t ny, std::int64_t nx, int k) {
  std::vector<float> out(img.size());
  float buf[8];
  for (std::int64_t i = 0; i < ny; ++i)
    for (std::int64_t j = 0; j < nx; ++j) {
      int n = 0;
      for (std::int64_t a = std::max<std::int64_t>(0, i - 1); a <= std::min(ny - 1, i + 1); ++a)
        for (std::int64_t b = std::max<std::int64_t>(0, j - 1); b <= std::min(nx - 1, j + 1); ++b)
          if ((a != i || b != j) && n < 8) buf[n++] = img[static_cast<std::size_t>(a * nx + b)];
      sort_small(buf, n);
      float v;
      if (k == 0) v = n % 2 ? buf[n / 2] : 0.5f * (buf[n / 2 - 1] + buf[n / 2]);
      else if (k > 0) v = buf[std::min(k, n - 1)];
      else v = buf[std::max(0, n + k)];
      out[static_cast<std::size_t>(i * nx + j)] = v;
    }
  return out;
}

std::vector<float> local_median(const std::vector<float>& img, std::int64_t ny, std::int64_t nx) {
  return neighbour_rank(img, ny, nx, 0);
}

// Robust sigma (1.4826 MAD) of the residuals img - med.
double robust_sigma(const std::vector<float>& img, const std::vector<float>& med) {
  std::vector<float> r(img.size());
  for (std::size_t k = 0; k < img.size(); ++k) r[k] = img[k] - med[k];
  auto mid = r.begin() + static_cast<std::ptrdiff_t>(r.size() / 2);
  std::nth_element(r.begin(), mid, r.end());
  const float centre = *mid;
  for (float& v : r) v = std::abs(v - centre);
  std::nth_element(r.begin(), mid, r.end());
  return 1.4826 * static_cast<double>(*mid);
}

// Hot: far above the second brightest of its 8 neighbours in the mean or the max pattern;
// dead: far below the second darkest in the mean. Comparing with the second brightest
// (darkest) neighbour rather than the median keeps pixels at disk edges, which always have
// neighbours on their own side of the edge; a pair of adjacent hot pixels is still found.
void find_hot_pixels(const Prescan& pre, Shape2 d, double k_sigma, std::vector<std::uint8_t>& bad,
                     std::int64_t& n_hot, std::int64_t& n_dead) {
  const std::vector<float> mmed = local_median(pre.mean, d.y, d.x);
  const std::vector<float> xmed = local_median(pre.max, d.y, d.x);
  const std::vector<float> mhi = neighbour_rank(pre.mean, d.y, d.x, -2);
  const std::vector<float> mlo = neighbour_rank(pre.mean, d.y, d.x, 1);
  const std::vector<float> xhi = neighbour_rank(pre.max, d.y, d.x, -2);
  double ms = robust_sigma(pre.mean, mmed), xs = robust_sigma(pre.max, xmed);
  // a floor for flat images (sparse or noise-free data): a tiny fraction of the signal range
  double mrange = 0, xrange = 0;
  for (std::size_t k = 0; k < pre.mean.size(); ++k) {
    mrange = std::max(mrange, std::abs(static_cast<double>(pre.mean[k])));
    xrange = std::max(xrange, std::abs(static_cast<double>(pre.max[k])));
  }
  ms = std::max(ms, 1e-6 * mrange);
  xs = std::max(xs, 1e-6 * xrange);
  for (std::size_t k = 0; k < pre.mean.size(); ++k) {
    if (bad[k]) continue;
    const double m = pre.mean[k], x = pre.max[k];
    const double hi = std::max(0.0, static_cast<double>(mhi[k])), xh = std::max(0.0, static_cast<double>(xhi[k]));
    const bool hot_mean = m > 2 * hi + k_sigma * ms;
    const bool hot_max = x > 2 * xh + k_sigma * xs && m > hi + k_sigma * ms;
    const bool dead = mlo[k] - m > k_sigma * ms && m < 0.5 * mlo[k];
    if (hot_mean || hot_max) {
      bad[k] = 1;
      ++n_hot;
    } else if (dead) {
      bad[k] = 1;
      ++n_dead;
    }
  }
}

std::vector<std::uint8_t> load_mask(const std::string& spec, Shape2 d, std::int64_t& n) {
  std::error_code ec;
  std::string file = spec, object;
  for (std::size_t pos = spec.rfind(":/"); pos != std::string::npos && pos > 0; pos = spec.rfind(":/", pos - 1))
    if (std::filesystem::exists(spec.substr(0, pos), ec)) {
      file = spec.substr(0, pos);
      object = spec.substr(pos + 1);
      break;
    }
  if (object.empty()) {
    const std::string f = spec.substr(0, spec.rfind(":/"));
    if (!std::filesystem::exists(f, ec)) fail(ErrorKind::bad_input, f, "no such file (peaks.mask)");
    fail(ErrorKind::bad_parameter, "", "peaks.mask = ", spec, ": expected FILE.h5:/path/to/dataset");
  }
  h5::Handle f = h5::open_file_read(file);
  const std::string where = file + ":" + object;
  if (!h5::exists(f, object)) fail(ErrorKind::bad_input, where, "no such dataset (peaks.mask)");
  h5::Handle ds = h5::open_dataset(f, object, file);
  const std::vector<std::int64_t> dims = h5::dataset_dims(ds);
  if (dims.size() != 2 || dims[0] != d.y || dims[1] != d.x)
    fail(ErrorKind::bad_input, where, "mask must be ", d.y, "x", d.x, " (the detector)");
  const std::vector<double> v = h5::read_doubles(ds, where);
  std::vector<std::uint8_t> m(v.size());
  n = 0;
  for (std::size_t k = 0; k < v.size(); ++k) {
    m[k] = v[k] != 0;
    n += m[k];
  }
  return m;
}

// Gain (counts per electron) from up to 64 pairs of neighbouring frames spread over the scan:
// the median over pairs of sum (a - b)^2 / sum (a + b) over the good pixels (1 for Poisson
// counts, ~0 for noise-free data; grain boundaries only affect a minority of pairs).
double estimate_gain(FrameSource& src, const std::vector<std::uint8_t>& bad) {
  const Shape4 s = src.shape();
  const std::int64_t n = s.n_frames();
  if (n < 2) return 0;
  const std::int64_t fp = s.frame_pixels();
  std::vector<float> buf(static_cast<std::size_t>(2 * fp));
  std::vector<double> ratios;
  const std::int64_t pairs = std::min<std::int64_t>(64, n / 2);
  for (std::int64_t q = 0; q < pairs; ++q) {
    std::int64_t k = (q * (n - 1)) / pairs;
    if (k + 1 >= n) k = n - 2;
    src.read_frames(k, 2, buf.data());
    double num2 = 0, den = 0;
    for (std::int64_t j = 0; j < fp; ++j) {
      if (!bad.empty() && bad[static_cast<std::size_t>(j)]) continue;
      const double a = buf[static_cast<std::size_t>(j)], b = buf[static_cast<std::size_t>(fp + j)];
      if (!std::isfinite(a) || !std::isfinite(b)) continue;
      num2 += (a - b) * (a - b);
      den += std::max(0.0, a) + std::max(0.0, b);
    }
    if (den > 0) ratios.push_back(num2 / den);
  }
  if (ratios.empty()) return 0;
  std::sort(ratios.begin(), ratios.end());
  return ratios[ratios.size() / 2];
}

struct Rect {
  std::int64_t y0, x0, y1, x1;
};

Rect parse_region(const std::string& text, const Shape4& s) {
  std::string t = text;
  for (char& ch : t)
    if (ch == ',' || ch == ':' || ch == 'x') ch = ' ';
  std::istringstream is(t);
  long long a, b, c, e;
  std::string rest;
  if (!(is >> a >> b >> c >> e) || (is >> rest))
    fail(ErrorKind::bad_parameter, "", "peaks.vacuum_region = ", text, ": expected ry0,rx0,ry1,rx1 (end exclusive)");
  if (a < 0 || b < 0 || c <= a || e <= b || c > s.scan_y || e > s.scan_x)
    fail(ErrorKind::bad_parameter, "", "peaks.vacuum_region = ", text, ": outside the ", s.scan_y, "x", s.scan_x,
         " scan or empty (rows 0..", s.scan_y, ", columns 0..", s.scan_x, ", end exclusive)");
  return {a, b, c, e};
}

std::vector<float> average_frames(FrameSource& src, const std::vector<std::int64_t>& frames) {
  const std::int64_t fp = src.shape().frame_pixels();
  std::vector<double> acc(static_cast<std::size_t>(fp), 0.0);
  std::vector<float> buf(static_cast<std::size_t>(fp));
  for (std::int64_t k : frames) {
    src.read_frames(k, 1, buf.data());
    for (std::int64_t j = 0; j < fp; ++j) acc[static_cast<std::size_t>(j)] += buf[static_cast<std::size_t>(j)];
  }
  std::vector<float> out(acc.size());
  for (std::size_t j = 0; j < acc.size(); ++j) out[j] = static_cast<float>(acc[j] / static_cast<double>(frames.size()));
  return out;
}

// Frames of the automatic vacuum region: the fraction with the lowest dark-field signal (the
// sum beyond radius + 3 px of the mean pattern's central disk); ties by position.
std::vector<std::int64_t> auto_vacuum(FrameSource& src, const DiskMeasure& m, double fraction, RunContext& ctx) {
  const Shape4 s = src.shape();
  std::vector<double> df(static_cast<std::size_t>(s.n_frames()), 0.0);
  std::vector<std::uint8_t> outside(static_cast<std::size_t>(s.frame_pixels()));
  const double r = m.radius + 3;
  for (std::int64_t i = 0; i < s.det_y; ++i)
    for (std::int64_t j = 0; j < s.det_x; ++j)
      outside[static_cast<std::size_t>(i * s.det_x + j)] = std::hypot(i - m.cy, j - m.cx) > r;
  BlockStream stream(src, ctx.memory_budget);
  for (FrameBlock b; stream.next(b);) {
    check_cancel(ctx);
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, b.n_frames), [&](const tbb::blocked_range<std::int64_t>& rr) {
      for (std::int64_t k = rr.begin(); k != rr.end(); ++k) {
        const float* f = b.frame(k);
        double acc = 0;
        for (std::int64_t j = 0; j < b.frame_pixels; ++j)
          if (outside[static_cast<std::size_t>(j)]) acc += f[j];
        df[static_cast<std::size_t>(b.first_frame + k)] = acc;
      }
    });
  }
  std::vector<std::int64_t> order(df.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int64_t a, std::int64_t b) { return df[static_cast<std::size_t>(a)] < df[static_cast<std::size_t>(b)]; });
  const auto count = static_cast<std::size_t>(std::max<double>(1.0, std::floor(fraction * static_cast<double>(df.size()))));
  order.resize(std::min(count, order.size()));
  std::sort(order.begin(), order.end());
  return order;
}

} // namespace

void finish_setup(PeakSetup& setup, const PeaksParams& p) {
  if (setup.probe.shape != setup.detector)
    fail(ErrorKind::bad_parameter, "", "peaks: the template is ", setup.probe.shape.y, "x", setup.probe.shape.x,
         " but the patterns are ", setup.detector.y, "x", setup.detector.x);
  if (setup.probe_radius <= 0) setup.probe_radius = p.probe_radius > 0 ? p.probe_radius : setup.probe.radius;
  setup.min_peak_spacing = p.min_peak_spacing >= 0 ? p.min_peak_spacing : 2 * setup.probe_radius;
  setup.edge_boundary = p.edge_boundary >= 0 ? p.edge_boundary : static_cast<int>(std::ceil(setup.probe_radius));
  setup.edge_boundary = std::max(1, setup.edge_boundary);
  if (!(setup.fit_radius > 0)) setup.fit_radius = setup.probe_radius;
  if (!(setup.fit_edge > 0)) setup.fit_edge = p.probe_edge;
  const std::int64_t smallest = std::min(setup.detector.y, setup.detector.x);
  if (2 * static_cast<std::int64_t>(setup.edge_boundary) >= smallest - 1)
    fail(ErrorKind::bad_parameter, "", "peaks.edge_boundary = ", setup.edge_boundary, ": leaves no pixel of the ",
         setup.detector.y, "x", setup.detector.x, " detector");
}

namespace {

// The disk model of the "fit" refinement: radius and edge width fitted to the brightest disks
// of up to 5 x 5 patterns spread over the scan (peaks_detail::fit_disk_shapes), medians. The
// detector blur and the probe's own edge make the edge differ from dataset to dataset
// (0.5 to 2 px), and a model edge 3x too sharp costs more precision than it gains.
void fit_disk_model(FrameSource& src, const PeaksParams& p, PeakSetup& setup) {
  const Shape4 s = src.shape();
  const int ny = static_cast<int>(s.det_y), nx = static_cast<int>(s.det_x);
  PeaksParams pp = p;
  pp.subpixel = "poly";
  PeakFinder finder(pp, setup);
  auto ws = finder.make_workspace();
  std::vector<Peak> found(static_cast<std::size_t>(finder.max_peaks()));
  std::vector<float> frame(static_cast<std::size_t>(s.det_y * s.det_x));
  std::vector<double> radius, edge;
  const std::int64_t gy = std::min<std::int64_t>(5, s.scan_y), gx = std::min<std::int64_t>(5, s.scan_x);
  for (std::int64_t a = 0; a < gy; ++a)
    for (std::int64_t b = 0; b < gx; ++b) {
      const std::int64_t ry = (2 * a + 1) * s.scan_y / (2 * gy), rx = (2 * b + 1) * s.scan_x / (2 * gx);
      src.read_frames(ry * s.scan_x + rx, 1, frame.data());
      const int n = finder.find(frame.data(), found.data(), *ws);
      if (n <= 0) continue;
      if (!setup.bad_pixels.empty()) {
        const std::vector<float> med = local_median(frame, s.det_y, s.det_x);
        for (std::size_t k = 0; k < frame.size(); ++k)
          if (setup.bad_pixels[k]) frame[k] = med[k];
      }
      peaks_detail::fit_disk_shapes(frame.data(), ny, nx, found.data(), n, 8, setup.probe_radius, p.probe_edge, radius, edge);
    }
  if (radius.size() < 5) {
    setup.notes.push_back("fit: too few isolated disks to fit their shape (" + std::to_string(radius.size()) +
                          "); model radius " + num(setup.fit_radius) + " px, edge " + num(setup.fit_edge) + " px");
    return;
  }
  auto median = [](std::vector<double>& v) {
    std::sort(v.begin(), v.end());
    const std::size_t h = v.size() / 2;
    return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
  };
  const std::size_t n_fits = radius.size();
  setup.fit_radius = median(radius);
  setup.fit_edge = median(edge);
  setup.notes.push_back("fit: disk model radius " + num(setup.fit_radius) + " px, edge sigma " + num(setup.fit_edge) +
                        " px (medians over " + std::to_string(n_fits) + " disks of the sample patterns)");
}

} // namespace

PeakSetup prepare_peaks(FrameSource& src, const PeaksParams& p, RunContext& ctx) {
  validate(p);
  const Shape4 s = src.shape();
  const Shape2 d{s.det_y, s.det_x};
  PeakSetup setup;
  setup.detector = d;
  const std::string& t = p.template_source;
  const bool file_template = !is_builtin(t);
  // a file template is checked before any pass over the data
  ProbeTemplate file_probe;
  if (file_template) file_probe = load_template(t, d);
  if (!p.mask.empty()) setup.bad_pixels = load_mask(p.mask, d, setup.n_masked);
  if (!p.vacuum_region.empty()) parse_region(p.vacuum_region, s);
  const bool need_mean = p.hot_pixels || t == "auto" || t == "mean" || t == "vacuum" ||
                         (t == "disk" && !(p.probe_radius > 0));
  std::int64_t done = 0;
  const std::int64_t total = s.n_frames() * (t == "vacuum" && p.vacuum_region.empty() ? 2 : 1);
  Prescan pre;
  DiskMeasure disk;
  tbb::task_arena arena(ctx.threads > 0 ? ctx.threads : tbb::task_arena::automatic);
  arena.execute([&] {
    if (need_mean) {
      pre = prescan(src, ctx, done, total);
      if (p.hot_pixels) {
        if (setup.bad_pixels.empty()) setup.bad_pixels.assign(static_cast<std::size_t>(d.y * d.x), 0);
        find_hot_pixels(pre, d, p.hot_threshold, setup.bad_pixels, setup.n_hot, setup.n_dead);
        // the mean pattern with its bad pixels replaced, for the template
        const std::vector<float> med = local_median(pre.mean, d.y, d.x);
        for (std::size_t k = 0; k < pre.mean.size(); ++k)
          if (setup.bad_pixels[k]) pre.mean[k] = med[k];
      }
      if (t != "disk" || !(p.probe_radius > 0)) {
        try {
          disk = measure_central_disk(pre.mean, d);
        } catch (const Error&) {
          if (!file_template)
            fail(ErrorKind::bad_input, src.info().path,
                 "no central disk in the mean pattern; give the template (--peaks.template FILE.h5:/path or disk "
                 "with --peaks.probe_radius)");
        }
      }
    }
    const double radius = p.probe_radius > 0 ? p.probe_radius : disk.radius;
    if (t == "auto" || t == "disk") {
      setup.probe = make_disk_template(d, radius, p.probe_edge);
      setup.probe.source = (t == "auto" ? "auto: disk of radius " : "disk of radius ") + num(radius) + " px" +
                           (p.probe_radius > 0 ? "" : " (measured on the mean pattern)");
    } else if (t == "mean") {
      setup.probe = template_from_probe_image(pre.mean, d, p.probe_radius);
      setup.probe.source = "central disk of the mean pattern";
    } else if (t == "vacuum") {
      std::vector<std::int64_t> frames;
      if (!p.vacuum_region.empty()) {
        const Rect r = parse_region(p.vacuum_region, s);
        for (std::int64_t y = r.y0; y < r.y1; ++y)
          for (std::int64_t x = r.x0; x < r.x1; ++x) frames.push_back(y * s.scan_x + x);
        setup.probe.source = "vacuum region " + p.vacuum_region;
      } else {
        frames = auto_vacuum(src, disk, p.vacuum_fraction, ctx);
        done += s.n_frames();
        ctx.report("peaks-prescan", done, total);
      }
      const std::string source = setup.probe.source.empty()
                                     ? "vacuum: " + std::to_string(frames.size()) + " positions with the lowest dark-field signal"
                                     : setup.probe.source;
      std::vector<float> vac = average_frames(src, frames);
      if (!setup.bad_pixels.empty()) {
        const std::vector<float> med = local_median(vac, d.y, d.x);
        for (std::size_t k = 0; k < vac.size(); ++k)
          if (setup.bad_pixels[k]) vac[k] = med[k];
      }
      setup.probe = template_from_probe_image(vac, d, p.probe_radius);
      setup.probe.source = source;
    } else {
      setup.probe = std::move(file_probe);
    }
  });
  std::string kernel = p.kernel;
  if (kernel == "auto") kernel = file_template ? "none" : "sigmoid";
  const double r = p.probe_radius > 0 ? p.probe_radius : setup.probe.radius;
  apply_kernel(setup.probe, kernel, p.kernel_sigma, p.kernel_inner > 0 ? p.kernel_inner : r,
               p.kernel_outer > 0 ? p.kernel_outer : 2 * r);
  if (kernel != "none") setup.probe.source += ", " + kernel + " kernel";
  setup.probe_radius = r;
  if (p.min_significance > 0 && p.corr_power == 1) setup.gain = estimate_gain(src, setup.bad_pixels);
  finish_setup(setup, p);
  if (p.subpixel == "fit") fit_disk_model(src, p, setup);
  setup.notes.push_back("template: " + setup.probe.source);
  setup.notes.push_back("probe radius " + num(setup.probe_radius) + " px, min peak spacing " +
                        num(setup.min_peak_spacing) + " px, edge boundary " + std::to_string(setup.edge_boundary) + " px");
  if (setup.n_hot + setup.n_dead + setup.n_masked > 0)
    setup.notes.push_back(std::to_string(setup.n_hot) + " hot, " + std::to_string(setup.n_dead) + " dead and " +
                          std::to_string(setup.n_masked) + " masked pixels replaced by their local median");
  if (p.min_significance > 0 && p.corr_power == 1)
    setup.notes.push_back("gain " + num(setup.gain) + " counts per electron (significance test " +
                          (setup.gain > 0 ? "on" : "off: noise-free data") + ")");
  bool any_bad = false;
  for (std::uint8_t b : setup.bad_pixels) any_bad |= b != 0;
  if (!any_bad) setup.bad_pixels.clear();
  return setup;
}

void find_peaks(FrameSource& src, const PeaksParams& p, const PeakSetup& setup, RunContext& ctx, PeakSink& sink) {
  validate(p);
  const Shape4 s = src.shape();
  if (setup.detector != Shape2{s.det_y, s.det_x})
    fail(ErrorKind::internal, src.info().path, "peaks: setup for ", setup.detector.y, "x", setup.detector.x,
         " patterns used on ", s.det_y, "x", s.det_x);
  PeakFinder finder(p, setup);
  const int maxp = finder.max_peaks();
  sink.begin({s.scan_y, s.scan_x}, {s.det_y, s.det_x});
  const std::int64_t total = s.n_frames();
  std::uint64_t n_before = 0;  // peaks of the blocks already handed over
  tbb::task_arena arena(ctx.threads > 0 ? ctx.threads : tbb::task_arena::automatic);
  arena.execute([&] {
    tbb::enumerable_thread_specific<PeakFinder::WorkspacePtr> workspaces(
        [&] { return finder.make_workspace(); });
    BlockStream stream(src, ctx.memory_budget);
    const auto per_block = static_cast<std::size_t>(stream.frames_per_block());
    std::vector<Peak> slots(per_block * static_cast<std::size_t>(maxp));
    std::vector<int> counts(per_block);
    // the block's chunk: CSR offsets and packed arrays, reused from block to block
    std::vector<std::uint64_t> offsets(per_block + 1);
    std::vector<float> qy, qx, in;
    qy.reserve(slots.size());
    qx.reserve(slots.size());
    in.reserve(slots.size());
    ctx.report("peaks", 0, total);
    for (FrameBlock b; stream.next(b);) {
      check_cancel(ctx);
      tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, b.n_frames, 4), [&](const tbb::blocked_range<std::int64_t>& r) {
        auto& ws = workspaces.local();
        for (std::int64_t k = r.begin(); k != r.end(); ++k)
          counts[static_cast<std::size_t>(k)] = finder.find(b.frame(k), &slots[static_cast<std::size_t>(k) * maxp], *ws);
      });
      qy.clear();
      qx.clear();
      in.clear();
      offsets[0] = n_before;
      for (std::int64_t k = 0; k < b.n_frames; ++k) {
        const int n = counts[static_cast<std::size_t>(k)];
        if (n < 0) {
          const std::int64_t f = b.first_frame + k;
          fail(ErrorKind::bad_input, src.info().path + " at (" + std::to_string(f / s.scan_x) + "," +
                                         std::to_string(f % s.scan_x) + ")",
               "pattern has NaN or infinite pixels; use --read.nan_to_zero");
        }
        const Peak* q = &slots[static_cast<std::size_t>(k) * maxp];
        for (int m = 0; m < n; ++m) {
          qy.push_back(q[m].qy);
          qx.push_back(q[m].qx);
          in.push_back(q[m].intensity);
        }
        offsets[static_cast<std::size_t>(k) + 1] = n_before + qy.size();
      }
      PeakChunk c;
      c.first_position = b.first_frame;
      c.n_positions = b.n_frames;
      c.offsets = offsets.data();
      c.qy_raw = qy.data();
      c.qx_raw = qx.data();
      c.intensity = in.data();
      sink.consume(c);
      n_before += qy.size();
      ctx.report("peaks", b.first_frame + b.n_frames, total);
    }
  });
  sink.end();
}

PeakList find_peaks(FrameSource& src, const PeaksParams& p, const PeakSetup& setup, RunContext& ctx) {
  PeakListSink sink;
  find_peaks(src, p, setup, ctx, sink);
  return std::move(sink.list);
}

PeakList find_peaks(FrameSource& src, const PeaksParams& p, RunContext& ctx, PeakSetup* setup_out) {
  PeakSetup setup = prepare_peaks(src, p, ctx);
  for (const std::string& n : setup.notes) ctx.info("peaks: " + n);
  PeakList out = find_peaks(src, p, setup, ctx);
  if (setup_out) *setup_out = std::move(setup);
  return out;
}

} // namespace domainmap
