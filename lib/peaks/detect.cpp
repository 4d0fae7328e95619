// lib/peaks/detect.cpp: per-pattern Bragg disk detection (PeakFinder): bad-pixel repair, FFT
// correlation with the template, py4DSTEM's maxima and filters, domainmap's significance and
// prominence tests, and the sub-pixel refinements (see domainmap/peaks.hpp for the algorithm).
//
// Everything that does not depend on the pattern is computed once in the constructor: the FFTW
// plans (FFTW_ESTIMATE, created serially under a mutex and run with the new-array execute
// functions on each thread's own buffers), the template spectrum with the sigma_cc transfer
// function and the 1/(N M) normalisation folded in, the neighbour lists of the bad pixels and
// the support of the smoothed template for the significance test. find() allocates nothing.
#include <fftw3.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <numbers>

#include "domainmap/error.hpp"
#include "domainmap/peaks.hpp"
#include "fftw_lock.hpp"

namespace domainmap {

namespace {

using v8sf = float __attribute__((vector_size(32)));

struct Cand {
  float v;
  int i, j;
};

// py4DSTEM's order: np.sort(order='intensity')[::-1] sorts ascending by (intensity, x, y) and
// reverses, so ties go to the larger row, then the larger column.
bool brighter(const Cand& a, const Cand& b) {
  if (a.v != b.v) return a.v > b.v;
  if (a.i != b.i) return a.i > b.i;
  return a.j > b.j;
}

// scipy.ndimage gaussian_filter1d weights: radius int(4 sigma + 0.5), normalised.
std::vector<double> gaussian_weights(double sigma) {
  const int r = static_cast<int>(4.0 * sigma + 0.5);
  std::vector<double> w(static_cast<std::size_t>(2 * r + 1));
  double s = 0;
  for (int x = -r; x <= r; ++x) {
    w[static_cast<std::size_t>(x + r)] = std::exp(-0.5 * x * x / (sigma * sigma));
    s += w[static_cast<std::size_t>(x + r)];
  }
  for (double& v : w) v /= s;
  return w;
}

// DFT of the sampled kernel on a periodic axis of n points, at frequency indices 0..count-1.
std::vector<double> gaussian_transfer(double sigma, int n, int count) {
  std::vector<double> g(static_cast<std::size_t>(count), 1.0);
  if (!(sigma > 0)) return g;
  const std::vector<double> w = gaussian_weights(sigma);
  const int r = static_cast<int>(w.size() / 2);
  for (int k = 0; k < count; ++k) {
    double acc = 0;
    for (int x = -r; x <= r; ++x)
      acc += w[static_cast<std::size_t>(x + r)] * std::cos(2 * std::numbers::pi * k * static_cast<double>(x) / n);
    g[static_cast<std::size_t>(k)] = acc;
  }
  return g;
}

// scipy "reflect" (half-sample symmetric) index into [0, n).
int reflect(int i, int n) {
  const int p = 2 * n;
  i %= p;
  if (i < 0) i += p;
  return i < n ? i : p - 1 - i;
}

float bilinear(const float* a, int ny, int nx, double y, double x) {
  y = std::clamp(y, 0.0, static_cast<double>(ny - 1));
  x = std::clamp(x, 0.0, static_cast<double>(nx - 1));
  const int y0 = static_cast<int>(std::floor(y)), x0 = static_cast<int>(std::floor(x));
  const int y1 = static_cast<int>(std::ceil(y)), x1 = static_cast<int>(std::ceil(x));
  const double dy = y - y0, dx = x - x0;
  auto at = [&](int y, int x) { return static_cast<double>(std::max(0.0f, a[y * nx + x])); };  // clipped map
  return static_cast<float>((1 - dy) * (1 - dx) * at(y0, x0) + (1 - dy) * dx * at(y0, x1) + dy * (1 - dx) * at(y1, x0) +
                            dy * dx * at(y1, x1));
}

} // namespace

struct PeakFinder::Impl {
  PeaksParams p;
  int ny = 0, nx = 0, nxc = 0;
  std::size_t n_real = 0, n_spec = 0;
  fftwf_plan fwd = nullptr, inv = nullptr;
  // template spectrum: conj(F(t)) G / (N M) when corr_power = 1; conj(F(t)) otherwise
  std::vector<float> tspec;        // interleaved re, im
  std::vector<float> gnorm;        // G(k) G(l) / (N M), for corr_power != 1
  // bad pixels: index and its good neighbours [nb_begin[b], nb_begin[b+1])
  std::vector<int> bad, nb_begin, nb;
  // significance: wrapped offsets and weights t'^2 of the smoothed template
  std::vector<int> span_dy, span_dx, span_begin;  // runs of the support: row, first column, weights [begin, next begin)
  std::vector<float> sup_w;
  int sup_reach = 0;
  double gain = 0;
  double radius = 0, spacing2 = 0;
  int edge = 1;
  bool use_significance = false, use_isotropy = false;
  // sigma_dp
  std::vector<float> dp_w;
  // multicorr: spectrum rows (k) and columns l < mc_cols kept
  std::vector<int> mc_rows;
  int mc_cols = 0, mc_lp = 0;  // mc_lp: columns padded to a multiple of 8
};

struct PeakFinder::Workspace {
  float* in = nullptr;
  fftwf_complex* spec = nullptr;
  float* corr = nullptr;
  float* tmp = nullptr;
  std::vector<Cand> cand;
  std::vector<float> vals;
  // multicorr
  std::vector<v8sf> sre, sim;   // [rows][mc_lp / 8]
  std::vector<v8sf> pre, pim;   // [3][mc_lp / 8]
  std::vector<double> arow;     // [3 columns][rows][re, im]
  std::vector<double> rowphase; // [N/2 + 1][re, im]
  Workspace() = default;
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  ~Workspace() {
    fftwf_free(in);
    fftwf_free(spec);
    fftwf_free(corr);
    fftwf_free(tmp);
  }
};

PeakFinder::PeakFinder(const PeaksParams& p, const PeakSetup& setup) : impl_(std::make_unique<Impl>()) {
  Impl& d = *impl_;
  d.p = p;
  const Shape2 det = setup.detector;
  if (det.y < 4 || det.x < 4 || det.y > (1 << 15) || det.x > (1 << 15))
    fail(ErrorKind::bad_input, "", "peaks: detector of ", det.y, "x", det.x, " px is not supported (4..32768 per axis)");
  if (setup.probe.shape != det || static_cast<std::int64_t>(setup.probe.kernel.size()) != det.y * det.x)
    fail(ErrorKind::bad_parameter, "", "peaks: the template is ", setup.probe.shape.y, "x", setup.probe.shape.x,
         " but the patterns are ", det.y, "x", det.x);
  d.ny = static_cast<int>(det.y);
  d.nx = static_cast<int>(det.x);
  d.nxc = d.nx / 2 + 1;
  d.n_real = static_cast<std::size_t>(d.ny) * d.nx;
  d.n_spec = static_cast<std::size_t>(d.ny) * d.nxc;
  d.radius = setup.probe_radius;
  d.spacing2 = setup.min_peak_spacing > 0 ? setup.min_peak_spacing * setup.min_peak_spacing : 0;
  d.edge = std::max(1, setup.edge_boundary);
  if (2 * d.edge >= std::min(d.ny, d.nx) - 1)
    fail(ErrorKind::bad_parameter, "", "peaks.edge_boundary = ", setup.edge_boundary, ": leaves no pixel of the ",
         d.ny, "x", d.nx, " detector");
  d.gain = setup.gain;
  d.use_significance = p.min_significance > 0 && p.corr_power == 1 && setup.gain > 0;
  d.use_isotropy = p.min_isotropy > 0 && d.radius > 0;
  max_peaks_ = p.max_num_peaks;

  float* real = fftwf_alloc_real(d.n_real);
  fftwf_complex* spec = fftwf_alloc_complex(d.n_spec);
  {
    std::lock_guard<std::mutex> lk(peaks_detail::fftw_planner_mutex());
    d.fwd = fftwf_plan_dft_r2c_2d(d.ny, d.nx, real, spec, FFTW_ESTIMATE);
    d.inv = fftwf_plan_dft_c2r_2d(d.ny, d.nx, spec, real, FFTW_ESTIMATE);
  }
  if (!d.fwd || !d.inv) fail(ErrorKind::internal, "", "peaks: FFTW could not plan a ", d.ny, "x", d.nx, " transform");

  // template spectrum
  std::copy(setup.probe.kernel.begin(), setup.probe.kernel.end(), real);
  fftwf_execute(d.fwd);
  const std::vector<double> gy = gaussian_transfer(p.sigma_cc, d.ny, d.ny);
  const std::vector<double> gx = gaussian_transfer(p.sigma_cc, d.nx, d.nxc);
  const double norm = 1.0 / static_cast<double>(d.n_real);
  d.tspec.resize(2 * d.n_spec);
  if (p.corr_power != 1) d.gnorm.resize(d.n_spec);
  for (int k = 0; k < d.ny; ++k)
    for (int l = 0; l < d.nxc; ++l) {
      const std::size_t s = static_cast<std::size_t>(k) * d.nxc + l;
      const double g = gy[static_cast<std::size_t>(k)] * gx[static_cast<std::size_t>(l)] * norm;
      const double f = p.corr_power == 1 ? g : 1.0;
      d.tspec[2 * s] = static_cast<float>(spec[s][0] * f);
      d.tspec[2 * s + 1] = static_cast<float>(-spec[s][1] * f);
      if (p.corr_power != 1) d.gnorm[s] = static_cast<float>(g);
    }

  // smoothed template t' = t * G for the significance test (its support: |t'| >= 1% of max;
  // the rest adds < 1e-3 of the variance for the kernels used here)
  if (d.use_significance) {
    for (int k = 0; k < d.ny; ++k)
      for (int l = 0; l < d.nxc; ++l) {
        const std::size_t s = static_cast<std::size_t>(k) * d.nxc + l;
        const double g = gy[static_cast<std::size_t>(k)] * gx[static_cast<std::size_t>(l)] * norm;
        spec[s][0] = static_cast<float>(spec[s][0] * g);
        spec[s][1] = static_cast<float>(spec[s][1] * g);
      }
    fftwf_execute(d.inv);
    double wmax = 0;
    for (std::size_t i = 0; i < d.n_real; ++i) wmax = std::max(wmax, static_cast<double>(real[i]) * real[i]);
    // runs of consecutive columns per row, in signed offsets from the peak
    for (int si = -d.ny / 2; si < (d.ny + 1) / 2; ++si) {
      const int i = (si + d.ny) % d.ny;
      int run = -1;
      for (int sj = -d.nx / 2; sj <= (d.nx + 1) / 2; ++sj) {
        bool in = false;
        double v = 0;
        if (sj < (d.nx + 1) / 2) {
          v = real[static_cast<std::size_t>(i) * d.nx + (sj + d.nx) % d.nx];
          in = v * v >= 1e-4 * wmax;
        }
        if (in) {
          if (run < 0) {
            run = static_cast<int>(d.sup_w.size());
            d.span_dy.push_back(si);
            d.span_dx.push_back(sj);
            d.span_begin.push_back(run);
          }
          d.sup_w.push_back(static_cast<float>(v * v));
          d.sup_reach = std::max({d.sup_reach, std::abs(si), std::abs(sj)});
        } else {
          run = -1;
        }
      }
    }
    d.span_begin.push_back(static_cast<int>(d.sup_w.size()));
    // heaviest runs first, so that a candidate below the threshold is rejected early
    std::vector<int> order(d.span_dy.size());
    std::vector<double> weight(order.size(), 0.0);
    for (std::size_t r = 0; r < order.size(); ++r) {
      order[r] = static_cast<int>(r);
      for (int k = d.span_begin[r]; k < d.span_begin[r + 1]; ++k) weight[r] += d.sup_w[static_cast<std::size_t>(k)];
    }
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return weight[static_cast<std::size_t>(a)] > weight[static_cast<std::size_t>(b)]; });
    std::vector<int> dy2, dx2, begin2;
    std::vector<float> w2;
    for (int r : order) {
      dy2.push_back(d.span_dy[static_cast<std::size_t>(r)]);
      dx2.push_back(d.span_dx[static_cast<std::size_t>(r)]);
      begin2.push_back(static_cast<int>(w2.size()));
      w2.insert(w2.end(), d.sup_w.begin() + d.span_begin[static_cast<std::size_t>(r)],
                d.sup_w.begin() + d.span_begin[static_cast<std::size_t>(r) + 1]);
    }
    begin2.push_back(static_cast<int>(w2.size()));
    d.span_dy = std::move(dy2);
    d.span_dx = std::move(dx2);
    d.span_begin = std::move(begin2);
    d.sup_w = std::move(w2);
  }

  // multicorr: spectrum terms where the sigma_cc transfer function is >= 1e-4
  if (p.subpixel == "multicorr") {
    const double eps = p.sigma_cc > 0 ? 1e-4 : -1;
    for (int k = 0; k < d.ny; ++k)
      if (std::abs(gy[static_cast<std::size_t>(k)]) >= eps) d.mc_rows.push_back(k);
    d.mc_cols = 0;
    for (int l = 0; l < d.nxc; ++l)
      if (std::abs(gx[static_cast<std::size_t>(l)]) >= eps) d.mc_cols = l + 1;
    d.mc_lp = (d.mc_cols + 7) / 8 * 8;
  }

  // sigma_dp weights
  if (p.sigma_dp > 0) {
    const std::vector<double> w = gaussian_weights(p.sigma_dp);
    d.dp_w.assign(w.begin(), w.end());
  }

  // bad pixels and their good neighbours (8, else 24, else none -> 0)
  if (!setup.bad_pixels.empty()) {
    if (static_cast<std::int64_t>(setup.bad_pixels.size()) != det.y * det.x)
      fail(ErrorKind::internal, "", "peaks: bad-pixel list of ", setup.bad_pixels.size(), " for ", det.y, "x", det.x);
    for (int i = 0; i < d.ny; ++i)
      for (int j = 0; j < d.nx; ++j) {
        if (!setup.bad_pixels[static_cast<std::size_t>(i) * d.nx + j]) continue;
        d.bad.push_back(i * d.nx + j);
        d.nb_begin.push_back(static_cast<int>(d.nb.size()));
        for (int reach = 1; reach <= 2; ++reach) {
          for (int a = i - reach; a <= i + reach; ++a)
            for (int b = j - reach; b <= j + reach; ++b) {
              if (a < 0 || b < 0 || a >= d.ny || b >= d.nx || (a == i && b == j)) continue;
              if (setup.bad_pixels[static_cast<std::size_t>(a) * d.nx + b]) continue;
              d.nb.push_back(a * d.nx + b);
            }
          if (static_cast<int>(d.nb.size()) > d.nb_begin.back()) break;
        }
      }
    d.nb_begin.push_back(static_cast<int>(d.nb.size()));
  }
  fftwf_free(real);
  fftwf_free(spec);
}

PeakFinder::~PeakFinder() {
  if (!impl_) return;
  std::lock_guard<std::mutex> lk(peaks_detail::fftw_planner_mutex());
  if (impl_->fwd) fftwf_destroy_plan(impl_->fwd);
  if (impl_->inv) fftwf_destroy_plan(impl_->inv);
}

void PeakFinder::WorkspaceDeleter::operator()(Workspace* w) const { delete w; }

PeakFinder::WorkspacePtr PeakFinder::make_workspace() const {
  const Impl& d = *impl_;
  WorkspacePtr ws(new Workspace());
  ws->in = fftwf_alloc_real(d.n_real);
  ws->spec = fftwf_alloc_complex(d.n_spec);
  ws->corr = fftwf_alloc_real(d.n_real);
  if (!d.dp_w.empty()) ws->tmp = fftwf_alloc_real(d.n_real);
  if (!ws->in || !ws->spec || !ws->corr || (!d.dp_w.empty() && !ws->tmp)) throw std::bad_alloc();
  ws->cand.reserve(static_cast<std::size_t>(d.ny / 2 + 1) * (d.nx / 2 + 1));
  ws->vals.reserve(ws->cand.capacity());
  if (!d.mc_rows.empty()) {
    ws->sre.resize(d.mc_rows.size() * static_cast<std::size_t>(d.mc_lp / 8));
    ws->sim.resize(ws->sre.size());
    ws->pre.resize(3 * static_cast<std::size_t>(d.mc_lp / 8));
    ws->pim.resize(ws->pre.size());
    ws->arow.resize(3 * d.mc_rows.size() * 2);
    ws->rowphase.resize(2 * static_cast<std::size_t>(d.ny / 2 + 1));
  }
  return ws;
}

const float* PeakFinder::correlation(const Workspace& ws) const { return ws.corr; }

namespace {

// Correlation value of the (unclipped, smoothed) correlation at the 3 x 3 points
// (gy + (a - 1) h, gx + (b - 1) h), a, b = 0..2, from the split spectrum in ws (matrix-multiply
// DFT, Guizar-Sicairos et al. 2008): out[a * 3 + b].
void upsampled_3x3(const PeakFinder::Impl& d, PeakFinder::Workspace& ws, double gy, double gx, double h,
                   double out[9]) {
  const int nv = d.mc_lp / 8;
  const std::size_t nrows = d.mc_rows.size();
  // column phases w_l exp(2 pi i l x / M), w = 1 at l = 0 and the Nyquist column, else 2
  for (int b = 0; b < 3; ++b) {
    const double x = gx + (b - 1) * h;
    const double th = 2 * std::numbers::pi * x / d.nx;
    const double cr = std::cos(th), ci = std::sin(th);
    double zr = 1, zi = 0;
    float* pr = reinterpret_cast<float*>(&ws.pre[static_cast<std::size_t>(b) * nv]);
    float* pi = reinterpret_cast<float*>(&ws.pim[static_cast<std::size_t>(b) * nv]);
    for (int l = 0; l < d.mc_lp; ++l) {
      double w = (l == 0 || (d.nx % 2 == 0 && l == d.nx / 2)) ? 1.0 : 2.0;
      if (l >= d.mc_cols) w = 0;
      pr[l] = static_cast<float>(w * zr);
      pi[l] = static_cast<float>(w * zi);
      const double nr = zr * cr - zi * ci;
      zi = zr * ci + zi * cr;
      zr = nr;
    }
  }
  // A_b[k] = sum_l S[k, l] phase_b[l]
  for (std::size_t r = 0; r < nrows; ++r) {
    const v8sf* sr = &ws.sre[r * nv];
    const v8sf* si = &ws.sim[r * nv];
    v8sf ar[3] = {}, ai[3] = {};
    for (int v = 0; v < nv; ++v) {
      const v8sf a = sr[v], c = si[v];
      for (int b = 0; b < 3; ++b) {
        const v8sf pr = ws.pre[static_cast<std::size_t>(b) * nv + v], pi = ws.pim[static_cast<std::size_t>(b) * nv + v];
        ar[b] += a * pr - c * pi;
        ai[b] += a * pi + c * pr;
      }
    }
    for (int b = 0; b < 3; ++b) {
      double sr8 = 0, si8 = 0;
      for (int e = 0; e < 8; ++e) {
        sr8 += ar[b][e];
        si8 += ai[b][e];
      }
      ws.arow[(static_cast<std::size_t>(b) * nrows + r) * 2] = sr8;
      ws.arow[(static_cast<std::size_t>(b) * nrows + r) * 2 + 1] = si8;
    }
  }
  // f(a, b) = Re sum_k exp(2 pi i k_s y_a / N) A_b[k], k_s the signed frequency; the powers of
  // exp(2 pi i y / N) by recurrence (double precision)
  double* pw = ws.rowphase.data();
  for (int a = 0; a < 3; ++a) {
    const double y = gy + (a - 1) * h;
    const double th = 2 * std::numbers::pi * y / d.ny;
    const double cr = std::cos(th), ci = std::sin(th);
    double zr = 1, zi = 0;
    for (int m = 0; m <= d.ny / 2; ++m) {
      pw[2 * m] = zr;
      pw[2 * m + 1] = zi;
      const double nr = zr * cr - zi * ci;
      zi = zr * ci + zi * cr;
      zr = nr;
    }
    double acc[3] = {0, 0, 0};
    for (std::size_t r = 0; r < nrows; ++r) {
      const int k = d.mc_rows[r];
      const int ks = k <= d.ny / 2 ? k : k - d.ny;
      const double er = pw[2 * std::abs(ks)], ei = ks >= 0 ? pw[2 * ks + 1] : -pw[2 * -ks + 1];
      for (int b = 0; b < 3; ++b) {
        const double* A = &ws.arow[(static_cast<std::size_t>(b) * nrows + r) * 2];
        acc[b] += er * A[0] - ei * A[1];
      }
    }
    for (int b = 0; b < 3; ++b) out[a * 3 + b] = acc[b];
  }
}

} // namespace

int PeakFinder::find(const float* pattern, Peak* out, Workspace& ws) const {
  const Impl& d = *impl_;
  const int ny = d.ny, nx = d.nx;
  // 1. copy, check for NaN/Inf, repair bad pixels
  std::memcpy(ws.in, pattern, d.n_real * sizeof(float));
  {
    // NaN or Inf: all exponent bits set (8 lanes at a time, whatever the compiler flags)
    using v8u = std::uint32_t __attribute__((vector_size(32)));
    const std::size_t n8 = d.n_real / 8 * 8;
    v8u acc = {};
    const v8u mask = {0x7f800000u, 0x7f800000u, 0x7f800000u, 0x7f800000u, 0x7f800000u, 0x7f800000u, 0x7f800000u, 0x7f800000u};
    for (std::size_t k = 0; k < n8; k += 8) {
      v8u v;
      std::memcpy(&v, ws.in + k, sizeof v);
      acc |= (v & mask) == mask;
    }
    std::uint32_t nonfinite = 0;
    for (int e = 0; e < 8; ++e) nonfinite |= acc[e];
    for (std::size_t k = n8; k < d.n_real; ++k)
      nonfinite |= static_cast<std::uint32_t>((std::bit_cast<std::uint32_t>(ws.in[k]) & 0x7f800000u) == 0x7f800000u);
    if (nonfinite) return -1;
  }
  for (std::size_t b = 0; b < d.bad.size(); ++b) {
    float vals[24];
    int n = 0;
    for (int q = d.nb_begin[b]; q < d.nb_begin[b + 1]; ++q) vals[n++] = pattern[d.nb[static_cast<std::size_t>(q)]];
    float v = 0;
    if (n > 0) {
      for (int a = 1; a < n; ++a)
        for (int c = a; c > 0 && vals[c - 1] > vals[c]; --c) std::swap(vals[c - 1], vals[c]);
      v = (n % 2) ? vals[n / 2] : 0.5f * (vals[n / 2 - 1] + vals[n / 2]);
    }
    ws.in[d.bad[b]] = v;
  }
  // 2. sigma_dp (separable, scipy reflect)
  if (!d.dp_w.empty()) {
    const int r = static_cast<int>(d.dp_w.size() / 2);
    for (int i = 0; i < ny; ++i)
      for (int j = 0; j < nx; ++j) {
        double acc = 0;
        for (int t = -r; t <= r; ++t) acc += d.dp_w[static_cast<std::size_t>(t + r)] * ws.in[i * nx + reflect(j + t, nx)];
        ws.tmp[i * nx + j] = static_cast<float>(acc);
      }
    for (int i = 0; i < ny; ++i)
      for (int j = 0; j < nx; ++j) {
        double acc = 0;
        for (int t = -r; t <= r; ++t) acc += d.dp_w[static_cast<std::size_t>(t + r)] * ws.tmp[reflect(i + t, ny) * nx + j];
        ws.in[i * nx + j] = static_cast<float>(acc);
      }
  }
  // 3. correlation
  fftwf_execute_dft_r2c(d.fwd, ws.in, ws.spec);
  float* s = reinterpret_cast<float*>(ws.spec);
  const float* t = d.tspec.data();
  if (d.p.corr_power == 1) {
    // 4 complex numbers per step: (a + ib)(c + ie), interleaved
    const std::size_t n4 = d.n_spec / 4 * 4;
    for (std::size_t k = 0; k < n4; k += 4) {
      v8sf x, y;
      std::memcpy(&x, s + 2 * k, sizeof x);
      std::memcpy(&y, t + 2 * k, sizeof y);
      const v8sf xs = __builtin_shufflevector(x, x, 1, 0, 3, 2, 5, 4, 7, 6);   // b a ...
      const v8sf yr = __builtin_shufflevector(y, y, 0, 0, 2, 2, 4, 4, 6, 6);   // c c ...
      const v8sf yi = __builtin_shufflevector(y, y, 1, 1, 3, 3, 5, 5, 7, 7);   // e e ...
      const v8sf sign = {-1, 1, -1, 1, -1, 1, -1, 1};
      const v8sf r = x * yr + sign * (xs * yi);                                // ac - be, bc + ae
      std::memcpy(s + 2 * k, &r, sizeof r);
    }
    for (std::size_t k = n4; k < d.n_spec; ++k) {
      const float a = s[2 * k], b = s[2 * k + 1], c = t[2 * k], e = t[2 * k + 1];
      s[2 * k] = a * c - b * e;
      s[2 * k + 1] = a * e + b * c;
    }
  } else {
    const float pw = static_cast<float>(d.p.corr_power);
    for (std::size_t k = 0; k < d.n_spec; ++k) {
      const float a = s[2 * k], b = s[2 * k + 1], c = t[2 * k], e = t[2 * k + 1];
      const float mr = a * c - b * e, mi = a * e + b * c;
      const float m2 = mr * mr + mi * mi;
      float f = 0;
      if (m2 > 0) {
        if (pw == 0) f = 1.0f / std::sqrt(m2);
        else if (pw == 0.5f) f = 1.0f / std::sqrt(std::sqrt(m2));
        else f = std::pow(m2, 0.5f * (pw - 1.0f));
      }
      f *= d.gnorm[k];
      s[2 * k] = mr * f;
      s[2 * k + 1] = mi * f;
    }
  }
  const bool mc = !d.mc_rows.empty();
  if (mc) {
    // keep the spectrum (c2r destroys it), split into re/im rows for the upsampled DFT
    const int nv = d.mc_lp / 8;
    for (std::size_t r = 0; r < d.mc_rows.size(); ++r) {
      float* pr = reinterpret_cast<float*>(&ws.sre[r * nv]);
      float* pi = reinterpret_cast<float*>(&ws.sim[r * nv]);
      const float* row = s + 2 * static_cast<std::size_t>(d.mc_rows[r]) * d.nxc;
      for (int l = 0; l < d.mc_lp; ++l) {
        pr[l] = l < d.mc_cols ? row[2 * l] : 0.0f;
        pi[l] = l < d.mc_cols ? row[2 * l + 1] : 0.0f;
      }
    }
  }
  fftwf_execute_dft_c2r(d.inv, ws.spec, ws.corr);
  float* c = ws.corr;
  // The correlation map is max(c, 0) (py4DSTEM clips before finding maxima); the clipping is
  // done where values are read: a maximum is > 0, and for v > 0, v > max(n, 0) <=> v > n.
  // 4. strict local maxima away from the edge (py4DSTEM's np.roll tests)
  ws.cand.clear();
  const int eb = d.edge;
  const float min_abs = static_cast<float>(d.p.min_absolute_intensity);
  for (int i = eb; i < ny - eb; ++i) {
    const float* up = c + (i - 1) * nx;
    const float* cu = c + i * nx;
    const float* dn = c + (i + 1) * nx;
    for (int j = eb; j < nx - eb; ++j) {
      const float v = cu[j];
      if (!(v > 0)) continue;
      if (!(v > cu[j - 1]) || !(v >= cu[j + 1])) continue;
      if (!(v >= dn[j]) || !(v > up[j])) continue;
      if (!(v >= dn[j + 1]) || !(v > dn[j - 1]) || !(v >= up[j + 1]) || !(v > up[j - 1])) continue;
      if (min_abs > 0 && v < min_abs) continue;
      ws.cand.push_back({v, i, j});
    }
  }
  if (ws.cand.empty()) return 0;
  // relative threshold against the relative_to_peak-th brightest
  const double min_rel = d.p.min_relative_intensity;
  const std::size_t rtp = static_cast<std::size_t>(d.p.relative_to_peak);
  if (min_rel > 0 && ws.cand.size() > rtp) {
    ws.vals.clear();
    for (const Cand& q : ws.cand) ws.vals.push_back(q.v);
    std::nth_element(ws.vals.begin(), ws.vals.begin() + static_cast<std::ptrdiff_t>(rtp), ws.vals.end(),
                     std::greater<float>());
    const double ref = ws.vals[rtp];
    std::size_t w = 0;
    for (const Cand& q : ws.cand)
      if (!(static_cast<double>(q.v) / ref < min_rel)) ws.cand[w++] = q;
    ws.cand.resize(w);
  }
  std::sort(ws.cand.begin(), ws.cand.end(), brighter);

  // 5. greedy spacing with the significance and prominence tests, up to max_num_peaks
  int n = 0;
  const int maxn = d.p.max_num_peaks;
  for (const Cand& q : ws.cand) {
    if (n >= maxn) break;
    bool near = false;
    if (d.spacing2 > 0)
      for (int m = 0; m < n; ++m) {
        // kept peaks hold their pixel position until the sub-pixel step below
        const double dy = out[m].qy - q.i, dx = out[m].qx - q.j;
        if (dy * dy + dx * dx < d.spacing2) {
          near = true;
          break;
        }
      }
    if (near) continue;
    if (d.use_isotropy) {
      // 8 directions (every 22.5 deg) at 1.5 probe radii
      static const double dirs[8][2] = {{0, 1},
                                        {0.38268343236508977, 0.92387953251128674},
                                        {0.70710678118654752, 0.70710678118654752},
                                        {0.92387953251128674, 0.38268343236508977},
                                        {1, 0},
                                        {0.92387953251128674, -0.38268343236508977},
                                        {0.70710678118654752, -0.70710678118654752},
                                        {0.38268343236508977, -0.92387953251128674}};
      const double reach = 1.5 * d.radius;
      double lo = 1e300, hi = -1e300;
      for (const auto& e : dirs) {
        const float a = bilinear(c, ny, nx, q.i + reach * e[0], q.j + reach * e[1]);
        const float b = bilinear(c, ny, nx, q.i - reach * e[0], q.j - reach * e[1]);
        const double drop = q.v - 0.5 * (static_cast<double>(a) + b);
        lo = std::min(lo, drop);
        hi = std::max(hi, drop);
      }
      if (!(hi > 0) || lo < d.p.min_isotropy * hi) continue;
    }
    if (d.use_significance) {
      // reject as soon as the partial variance (a lower bound) is too large
      const double limit = static_cast<double>(q.v) * q.v / (d.p.min_significance * d.p.min_significance * d.gain);
      double var = 0;
      bool weak = false;
      const bool inside = q.i >= d.sup_reach && q.j >= d.sup_reach && q.i + d.sup_reach < ny && q.j + d.sup_reach < nx;
      for (std::size_t r = 0; r + 1 < d.span_begin.size(); ++r) {
        const float* w = d.sup_w.data() + d.span_begin[r];
        const int len = d.span_begin[r + 1] - d.span_begin[r];
        float acc = 0;
        if (inside) {
          const float* row = ws.in + (q.i + d.span_dy[r]) * nx + q.j + d.span_dx[r];
          for (int k = 0; k < len; ++k) acc += w[k] * std::max(0.0f, row[k]);
        } else {
          const int y = ((q.i + d.span_dy[r]) % ny + ny) % ny;
          for (int k = 0; k < len; ++k) {
            const int x = ((q.j + d.span_dx[r] + k) % nx + nx) % nx;
            acc += w[k] * std::max(0.0f, ws.in[y * nx + x]);
          }
        }
        var += acc;
        if (var > limit) {
          weak = true;
          break;
        }
      }
      if (weak) continue;
    }
    out[n].qy = static_cast<float>(q.i);
    out[n].qx = static_cast<float>(q.j);
    out[n].intensity = q.v;
    ++n;
  }

  // 6. sub-pixel
  if (d.p.subpixel == "pixel") return n;
  for (int m = 0; m < n; ++m) {
    const int i = static_cast<int>(out[m].qy), j = static_cast<int>(out[m].qx);
    auto cv = [&](int y, int x) { return static_cast<double>(std::max(0.0f, c[y * nx + x])); };  // clipped map
    const double y0 = cv(i - 1, j), y1 = cv(i, j), y2 = cv(i + 1, j);
    const double x0 = cv(i, j - 1), x2 = cv(i, j + 1);
    const double qy = i + (y2 - y0) / (4 * y1 - 2 * y2 - 2 * y0);
    const double qx = j + (x2 - x0) / (4 * y1 - 2 * x2 - 2 * x0);
    out[m].qy = static_cast<float>(qy);
    out[m].qx = static_cast<float>(qx);
    out[m].intensity = bilinear(c, ny, nx, qy, qx);
    if (!mc) continue;
    // local upsampled DFT on a 3 x 3 grid of spacing 1/u, moved uphill, then a parabola
    const double h = 1.0 / d.p.upsample_factor;
    double gy = std::round(qy / h) * h, gx = std::round(qx / h) * h;
    double f[9];
    for (int step = 0; step < 16; ++step) {
      upsampled_3x3(d, ws, gy, gx, h, f);
      int best = 4;
      for (int k = 0; k < 9; ++k)
        if (f[k] > f[best]) best = k;
      if (best == 4) break;
      gy += (best / 3 - 1) * h;
      gx += (best % 3 - 1) * h;
    }
    const double dyv = 4 * f[4] - 2 * f[7] - 2 * f[1], dxv = 4 * f[4] - 2 * f[5] - 2 * f[3];
    const double ddy = dyv > 0 ? (f[7] - f[1]) / dyv : 0, ddx = dxv > 0 ? (f[5] - f[3]) / dxv : 0;
    out[m].qy = static_cast<float>(gy + ddy * h);
    out[m].qx = static_cast<float>(gx + ddx * h);
    out[m].intensity = static_cast<float>(std::max(0.0, f[4]));
  }
  return n;
}

std::vector<Peak> PeakFinder::find(const float* pattern) const {
  auto ws = make_workspace();
  std::vector<Peak> out(static_cast<std::size_t>(max_peaks_));
  const int n = find(pattern, out.data(), *ws);
  if (n < 0) fail(ErrorKind::bad_input, "", "pattern has NaN or infinite pixels; use --read.nan_to_zero");
  out.resize(static_cast<std::size_t>(n));
  return out;
}

} // namespace domainmap
