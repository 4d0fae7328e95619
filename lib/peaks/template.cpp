// lib/peaks/template.cpp: correlation templates for the `peaks` stage: synthetic soft disks,
// templates cut from probe images (vacuum or mean patterns), arrays read from HDF5 files, and
// py4DSTEM's zero-mean kernel edges (gaussian, sigmoid).
#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <filesystem>
#include <mutex>
#include <numbers>

#include "../core/h5util.hpp"
#include "domainmap/error.hpp"
#include "domainmap/peaks.hpp"
#include "domainmap/virtual.hpp"
#include "fftw_lock.hpp"

namespace domainmap {

namespace {

// Signed wrapped coordinate of index i on an axis of n pixels: py4DSTEM's
// mod(i + n//2, n) - n//2, so that the template centre is pixel 0.
double wrapped(std::int64_t i, std::int64_t n) { return static_cast<double>((i + n / 2) % n - n / 2); }

double sum_of(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += x;
  return s;
}

void normalise(std::vector<float>& v, const std::string& what) {
  const double s = sum_of(v);
  if (!(std::abs(s) > 0) || !std::isfinite(s))
    fail(ErrorKind::bad_input, "", "peaks: ", what, " sums to ", s, "; cannot normalise the template");
  for (float& x : v) x = static_cast<float>(x / s);
}

double median_of(std::vector<float> v) {
  if (v.empty()) return 0;
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

void check_radius(Shape2 d, double radius, const char* what) {
  const double limit = 0.5 * static_cast<double>(std::min(d.y, d.x)) - 1;
  if (!(radius > 0) || !std::isfinite(radius))
    fail(ErrorKind::bad_parameter, "", "peaks: ", what, " radius ", radius, " px: must be > 0");
  if (radius > limit)
    fail(ErrorKind::bad_parameter, "", "peaks: ", what, " of radius ", radius, " px is larger than the pattern (",
         d.y, "x", d.x, " px allows at most ", limit, ")");
}

// Shifts a real image by (-sy, -sx) with the Fourier shift theorem (periodic).
std::vector<float> fourier_shift(const std::vector<float>& img, Shape2 d, double sy, double sx) {
  const int ny = static_cast<int>(d.y), nx = static_cast<int>(d.x);
  const int nxc = nx / 2 + 1;
  float* real = fftwf_alloc_real(static_cast<std::size_t>(ny) * nx);
  fftwf_complex* spec = fftwf_alloc_complex(static_cast<std::size_t>(ny) * nxc);
  fftwf_plan fwd, inv;
  {
    std::lock_guard<std::mutex> lk(peaks_detail::fftw_planner_mutex());
    fwd = fftwf_plan_dft_r2c_2d(ny, nx, real, spec, FFTW_ESTIMATE);
    inv = fftwf_plan_dft_c2r_2d(ny, nx, spec, real, FFTW_ESTIMATE);
  }
  std::copy(img.begin(), img.end(), real);
  fftwf_execute(fwd);
  const double two_pi = 2 * std::numbers::pi;
  for (int k = 0; k < ny; ++k) {
    const double fk = static_cast<double>(k < (ny + 1) / 2 ? k : k - ny) / ny;
    for (int l = 0; l < nxc; ++l) {
      const double fl = static_cast<double>(l) / nx;
      const double ph = two_pi * (fk * sy + fl * sx);
      const std::complex<double> w(std::cos(ph), std::sin(ph));
      fftwf_complex& c = spec[static_cast<std::size_t>(k) * nxc + l];
      const std::complex<double> v = std::complex<double>(c[0], c[1]) * w;
      c[0] = static_cast<float>(v.real());
      c[1] = static_cast<float>(v.imag());
    }
  }
  fftwf_execute(inv);
  std::vector<float> out(img.size());
  const double norm = 1.0 / (static_cast<double>(ny) * nx);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(real[i] * norm);
  {
    std::lock_guard<std::mutex> lk(peaks_detail::fftw_planner_mutex());
    fftwf_destroy_plan(fwd);
    fftwf_destroy_plan(inv);
  }
  fftwf_free(real);
  fftwf_free(spec);
  return out;
}

} // namespace

namespace peaks_detail {
std::mutex& fftw_planner_mutex() {
  static std::mutex m;
  return m;
}
} // namespace peaks_detail

DiskMeasure measure_central_disk(const std::vector<float>& pattern, Shape2 d) {
  auto [cy, cx] = find_central_beam(pattern, d.y, d.x);
  const double background = median_of(pattern);
  const int nbins = static_cast<int>(std::ceil(std::hypot(double(d.y), double(d.x)))) + 2;
  std::vector<double> sum(static_cast<std::size_t>(nbins), 0.0), cnt(static_cast<std::size_t>(nbins), 0.0);
  for (std::int64_t i = 0; i < d.y; ++i)
    for (std::int64_t j = 0; j < d.x; ++j) {
      const auto r = static_cast<std::size_t>(std::lround(std::hypot(double(i) - cy, double(j) - cx)));
      sum[r] += pattern[static_cast<std::size_t>(i * d.x + j)];
      cnt[r] += 1;
    }
  // the plateau: the mean over the innermost bins (r <= 1)
  double top = 0, topn = 0;
  for (std::size_t r = 0; r <= 1; ++r) {
    top += sum[r];
    topn += cnt[r];
  }
  top /= std::max(topn, 1.0);
  const double half = 0.5 * (top + background);
  double prev_r = 0, prev_v = top;
  for (int r = 1; r < nbins; ++r) {
    if (cnt[static_cast<std::size_t>(r)] == 0) continue;
    const double v = sum[static_cast<std::size_t>(r)] / cnt[static_cast<std::size_t>(r)];
    if (v < half) {
      const double f = prev_v > v ? (prev_v - half) / (prev_v - v) : 0.5;
      const double radius = prev_r + f * (r - prev_r);
      return {cy, cx, std::max(radius, 1.0)};
    }
    prev_r = r;
    prev_v = v;
  }
  fail(ErrorKind::bad_input, "", "peaks: the central disk of the mean pattern has no edge; give --peaks.probe_radius");
}

ProbeTemplate make_disk_template(Shape2 d, double radius, double edge) {
  check_radius(d, radius, "disk template");
  if (!(edge >= 0)) fail(ErrorKind::bad_parameter, "", "peaks.probe_edge = ", edge, ": must be >= 0");
  ProbeTemplate t;
  t.shape = d;
  t.radius = radius;
  t.kernel.assign(static_cast<std::size_t>(d.y * d.x), 0.0f);
  constexpr int S = 4;
  const double reach = radius + 5 * edge + 1.5;
  for (std::int64_t i = 0; i < d.y; ++i) {
    const double y = wrapped(i, d.y);
    if (std::abs(y) > reach) continue;
    for (std::int64_t j = 0; j < d.x; ++j) {
      const double x = wrapped(j, d.x);
      if (std::abs(x) > reach) continue;
      double acc = 0;
      for (int a = 0; a < S; ++a)
        for (int b = 0; b < S; ++b) {
          const double yy = y - 0.5 + (a + 0.5) / S, xx = x - 0.5 + (b + 0.5) / S;
          const double r = std::hypot(yy, xx);
          acc += edge > 0 ? 0.5 * std::erfc((r - radius) / (std::numbers::sqrt2 * edge)) : (r <= radius ? 1.0 : 0.0);
        }
      t.kernel[static_cast<std::size_t>(i * d.x + j)] = static_cast<float>(acc / (S * S));
    }
  }
  normalise(t.kernel, "the disk template");
  t.source = "disk";
  return t;
}

ProbeTemplate template_from_probe_image(const std::vector<float>& image, Shape2 d, double radius) {
  if (static_cast<std::int64_t>(image.size()) != d.y * d.x)
    fail(ErrorKind::internal, "", "template_from_probe_image: ", image.size(), " values for ", d.y, "x", d.x);
  const DiskMeasure m = measure_central_disk(image, d);
  const double r = radius > 0 ? radius : m.radius;
  check_radius(d, r, "probe template");
  const double background = median_of(image);
  // keep the disk and 3 px around it, cosine taper over 3 px more
  const double r_keep = r + 3, r_zero = r + 6;
  std::vector<float> cut(image.size(), 0.0f);
  double sw = 0, sy = 0, sx = 0;
  for (std::int64_t i = 0; i < d.y; ++i)
    for (std::int64_t j = 0; j < d.x; ++j) {
      const double dist = std::hypot(double(i) - m.cy, double(j) - m.cx);
      if (dist >= r_zero) continue;
      double w = 1;
      if (dist > r_keep) {
        const double c = std::cos(0.5 * std::numbers::pi * (dist - r_keep) / (r_zero - r_keep));
        w = c * c;
      }
      const auto k = static_cast<std::size_t>(i * d.x + j);
      const double v = std::max(0.0, static_cast<double>(image[k]) - background) * w;
      cut[k] = static_cast<float>(v);
      sw += v;
      sy += v * static_cast<double>(i);
      sx += v * static_cast<double>(j);
    }
  if (!(sw > 0)) fail(ErrorKind::bad_input, "", "peaks: the probe image has no disk above its background");
  ProbeTemplate t;
  t.shape = d;
  t.radius = r;
  t.kernel = fourier_shift(cut, d, sy / sw, sx / sw);
  normalise(t.kernel, "the probe template");
  return t;
}

ProbeTemplate load_template(const std::string& spec, Shape2 d) {
  std::error_code ec;
  std::string file = spec, object;
  for (std::size_t pos = spec.rfind(":/"); pos != std::string::npos && pos > 0; pos = spec.rfind(":/", pos - 1)) {
    if (std::filesystem::exists(spec.substr(0, pos), ec)) {
      file = spec.substr(0, pos);
      object = spec.substr(pos + 1);
      break;
    }
  }
  if (object.empty()) {
    if (!std::filesystem::exists(spec.substr(0, spec.rfind(":/")), ec))
      fail(ErrorKind::bad_input, spec.substr(0, spec.rfind(":/")), "no such file (peaks.template)");
    fail(ErrorKind::bad_parameter, "", "peaks.template = ", spec, ": expected FILE.h5:/path/to/dataset");
  }
  h5::Handle f = h5::open_file_read(file);
  if (!h5::exists(f, object)) fail(ErrorKind::bad_input, file + ":" + object, "no such dataset (peaks.template)");
  h5::Handle ds = h5::open_dataset(f, object, file);
  const std::vector<std::int64_t> dims = h5::dataset_dims(ds);
  if (dims.size() != 2)
    fail(ErrorKind::bad_input, file + ":" + object, "template must be a 2-D array, not ", dims.size(), "-D");
  if (dims[0] != d.y || dims[1] != d.x)
    fail(ErrorKind::bad_input, file + ":" + object, "template is ", dims[0], "x", dims[1], " but the patterns are ", d.y,
         "x", d.x, (dims[0] > d.y || dims[1] > d.x) ? " (template larger than the pattern)" : "");
  ProbeTemplate t;
  t.shape = d;
  t.kernel = h5::read_floats(ds, file + ":" + object);
  for (float v : t.kernel)
    if (!std::isfinite(v)) fail(ErrorKind::bad_input, file + ":" + object, "template has NaN or infinite values");
  // radius of the positive core around (0, 0): from its area
  double area = 0, peak = 0;
  for (float v : t.kernel) peak = std::max(peak, static_cast<double>(v));
  for (float v : t.kernel) area += v > 0.5 * peak ? 1 : 0;
  t.radius = std::max(1.0, std::sqrt(area / std::numbers::pi));
  t.source = spec;
  return t;
}

void apply_kernel(ProbeTemplate& t, const std::string& kernel, double sigma, double inner, double outer) {
  const Shape2 d = t.shape;
  if (kernel == "none") return;
  if (kernel != "gaussian" && kernel != "sigmoid")
    fail(ErrorKind::bad_parameter, "", "peaks.kernel = ", kernel, ": expected none, gaussian or sigmoid");
  std::vector<float> sub(t.kernel.size());
  normalise(t.kernel, "the template");
  if (kernel == "gaussian") {
    double m2 = 0, s = 0;
    for (std::int64_t i = 0; i < d.y; ++i)
      for (std::int64_t j = 0; j < d.x; ++j) {
        const double y = wrapped(i, d.y), x = wrapped(j, d.x);
        const double v = t.kernel[static_cast<std::size_t>(i * d.x + j)];
        m2 += (y * y + x * x) * v;
        s += v;
      }
    const double q2 = m2 / s;
    if (!(q2 > 0)) fail(ErrorKind::bad_input, "", "peaks: the template has no extent; cannot build a gaussian kernel");
    for (std::int64_t i = 0; i < d.y; ++i)
      for (std::int64_t j = 0; j < d.x; ++j) {
        const double y = wrapped(i, d.y), x = wrapped(j, d.x);
        sub[static_cast<std::size_t>(i * d.x + j)] = static_cast<float>(std::exp(-(y * y + x * x) / (2 * q2 * sigma * sigma)));
      }
  } else {
    if (!(outer > inner) || !(inner >= 0))
      fail(ErrorKind::bad_parameter, "", "peaks.kernel_inner = ", inner, ", peaks.kernel_outer = ", outer,
           ": need 0 <= inner < outer");
    const double limit = 0.5 * static_cast<double>(std::min(d.y, d.x));
    if (outer > limit)
      fail(ErrorKind::bad_parameter, "", "peaks.kernel_outer = ", outer, ": the kernel is larger than the pattern (",
           d.y, "x", d.x, ")");
    for (std::int64_t i = 0; i < d.y; ++i)
      for (std::int64_t j = 0; j < d.x; ++j) {
        const double r = std::hypot(wrapped(i, d.y), wrapped(j, d.x));
        const double f = std::clamp((r - inner) / (outer - inner), 0.0, 1.0);
        const double c = std::cos(0.5 * std::numbers::pi * f);
        sub[static_cast<std::size_t>(i * d.x + j)] = static_cast<float>(c * c);
      }
  }
  const double ss = sum_of(sub);
  for (std::size_t k = 0; k < sub.size(); ++k) t.kernel[k] = static_cast<float>(t.kernel[k] - sub[k] / ss);
}

} // namespace domainmap
