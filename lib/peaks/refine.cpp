// lib/peaks/refine.cpp: the "fit" sub-pixel refinement (see refine.hpp).
//
// Why: the correlation peak is smoothed by sigma_cc and by the template's zero-mean trench,
// which makes detection robust but spends positional information: on shot-noise-limited
// disks the correlation maximum scatters ~1.4x more than the best unbiased estimate. A
// Gauss-Newton fit of the disk model a D(|q - p|) + b0 + by (qy - py) + bx (qx - px) with
// Poisson weights 1/model is the maximum-likelihood estimate to first order (iteratively
// reweighted least squares for Poisson data: McCullagh & Nelder, "Generalized Linear Models",
// 2nd ed. 1989, ch. 2.5), and the linear background terms keep a disk sitting on the slope of
// the central beam or of diffuse scattering unbiased.
#include "refine.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <cstdint>
#include <cstring>
#include <cstdlib>

// The 8-lane vector helpers are inlined into each clone of refine_fit; the ABI note GCC gives for
// 32-byte vectors in the default (SSE2) clone does not apply to them.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace domainmap::peaks_detail {

DiskProfile disk_profile(double radius, double edge) {
  DiskProfile p;
  p.radius = radius;
  const double s = std::max(edge, 0.05);
  p.edge = s;
  p.reach = radius + 5 * s + 1;
  const std::size_t n = static_cast<std::size_t>(std::ceil(p.reach / p.step)) + 2;
  p.value.resize(n);
  p.slope.resize(n);
  for (std::size_t k = 0; k < n; ++k) {
    const double r = static_cast<double>(k) * p.step;
    const double z = (r - radius) / (std::numbers::sqrt2 * s);
    p.value[k] = static_cast<float>(0.5 * std::erfc(z));
    // d/dr erfc(z) / 2 = -exp(-z^2) / (sqrt(pi) sqrt(2) s)
    p.slope[k] = static_cast<float>(-std::exp(-z * z) / (std::sqrt(std::numbers::pi) * std::numbers::sqrt2 * s));
  }
  return p;
}

namespace {

// Solves the symmetric positive definite 6 x 6 system A x = b (upper triangle of A used) by
// Cholesky; false if A is not positive definite.
bool solve6(double A[6][6], double b[6], double x[6]) {
  double L[6][6] = {};
  for (int i = 0; i < 6; ++i) {
    for (int j = 0; j <= i; ++j) {
      double s = A[j][i];
      for (int k = 0; k < j; ++k) s -= L[i][k] * L[j][k];
      if (i == j) {
        if (!(s > 0)) return false;
        L[i][i] = std::sqrt(s);
      } else {
        L[i][j] = s / L[j][j];
      }
    }
  }
  double y[6];
  for (int i = 0; i < 6; ++i) {
    double s = b[i];
    for (int k = 0; k < i; ++k) s -= L[i][k] * y[k];
    y[i] = s / L[i][i];
  }
  for (int i = 5; i >= 0; --i) {
    double s = y[i];
    for (int k = i + 1; k < 6; ++k) s -= L[k][i] * x[k];
    x[i] = s / L[i][i];
  }
  return true;
}

} // namespace

namespace {

constexpr int kLanes = 8;
using vf = float __attribute__((vector_size(4 * kLanes)));

[[gnu::always_inline]] inline vf splat(float v) {
  vf r;
  for (int l = 0; l < kLanes; ++l) r[l] = v;
  return r;
}
[[gnu::always_inline]] inline float hsum(vf v) {
  float s = 0;
  for (int l = 0; l < kLanes; ++l) s += v[l];
  return s;
}

} // namespace

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
// AVX2 + FMA where the processor has them (x86-64-v3), SSE2 otherwise
__attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
void refine_fit(const float* pattern, int ny, int nx, const DiskProfile& prof, double gain, Peak* peaks, int n,
                std::vector<float>& scratch) {
  // the window reaches 3 edge widths + 2 px beyond the rim, so that the background and its
  // gradient are measured on pixels the disk does not reach (a narrower window lets the
  // gradient terms absorb part of a shift: measured RMS 0.118 px at R + 2.5 vs 0.113 at
  // R + 3.5 for a 0.5 px edge, 0.37 vs 0.20 px at R + 2.5 vs R + 6 for a 1.5 px edge)
  const double W = prof.radius + 3 * prof.edge + 2;
  const int wi = static_cast<int>(std::ceil(W)) + 1;
  const std::size_t cap = (static_cast<std::size_t>(2 * wi + 1) * (2 * wi + 1) + kLanes - 1) / kLanes * kLanes;
  const std::size_t need = 4 * cap + static_cast<std::size_t>(n) + 8;
  if (scratch.size() < need) scratch.resize(need);
  float* PY = scratch.data();
  float* PX = PY + cap;
  float* PV = PX + cap;
  float* PM = PV + cap;  // 1 for a pixel, 0 for padding
  int* near = reinterpret_cast<int*>(PM + cap);  // float and int have the same size
  const float inv_step = static_cast<float>(1.0 / prof.step);
  const int last = static_cast<int>(prof.value.size()) - 2;
  const float* tv = prof.value.data();
  const float* ts = prof.slope.data();
  const bool poisson = gain > 0;
  for (int m = 0; m < n; ++m) {
    const double py0 = peaks[m].qy, px0 = peaks[m].qx;
    int nn = 0;
    for (int o = 0; o < n; ++o) {
      if (o == m) continue;
      const double fy = peaks[o].qy - py0, fx = peaks[o].qx - px0;
      if (fy * fy + fx * fx < 4 * W * W) near[nn++] = o;
    }
    // the pixels of the window nearer to this peak than to any other: per row, the interval
    // inside the circle and on this peak's side of the bisector with every near peak
    // ((q - p) . (p_o - p) <= |p_o - p|^2 / 2, linear in the column)
    int np = 0;
    double s_in = 0, s_out = 0;
    int n_in = 0, n_out = 0;
    const double r_in = std::max(0.0, prof.radius - 2 * prof.edge), r_out = prof.radius + 2 * prof.edge;
    const float r_in2 = static_cast<float>(r_in * r_in), r_out2 = static_cast<float>(r_out * r_out);
    const int y0 = std::max(0, static_cast<int>(std::ceil(py0 - W))), y1 = std::min(ny - 1, static_cast<int>(std::floor(py0 + W)));
    for (int y = y0; y <= y1; ++y) {
      const double ey = y - py0;
      const double half = std::sqrt(std::max(0.0, W * W - ey * ey));
      double lo = px0 - half, hi = px0 + half;
      for (int q = 0; q < nn; ++q) {
        const double dy = peaks[near[q]].qy - py0, dx = peaks[near[q]].qx - px0;
        const double c = 0.5 * (dy * dy + dx * dx) - ey * dy;  // ex dx <= c
        if (dx > 0) hi = std::min(hi, px0 + c / dx);
        else if (dx < 0) lo = std::max(lo, px0 + c / dx);
        else if (c < 0) hi = lo - 1;  // the whole row is the other peak's
      }
      const int xa = std::max(0, static_cast<int>(std::ceil(lo))), xb = std::min(nx - 1, static_cast<int>(std::floor(hi)));
      const float fey = static_cast<float>(ey);
      const float* row = pattern + static_cast<std::size_t>(y) * nx;
      for (int x = xa; x <= xb; ++x) {
        const float fex = static_cast<float>(x - px0);
        PY[np] = fey;
        PX[np] = fex;
        PV[np] = row[x];
        PM[np] = 1;
        const float d2 = fey * fey + fex * fex;
        if (d2 < r_in2) {
          s_in += row[x];
          ++n_in;
        } else if (d2 > r_out2) {
          s_out += row[x];
          ++n_out;
        }
        ++np;
      }
    }
    if (np < 12 || n_in == 0 || n_out < 4) continue;
    const int np4 = (np + kLanes - 1) / kLanes * kLanes;
    for (int k = np; k < np4; ++k) PY[k] = PX[k] = PV[k] = PM[k] = 0;
    // start: background from the pixels outside the rim, amplitude from those inside
    double b0 = s_out / n_out, a = s_in / n_in - b0, by = 0, bx = 0;
    if (!(a > 0)) continue;
    // two Gauss-Newton steps on (oy, ox, a, b0, by, bx) with Poisson weights 1 / model
    double oy = 0, ox = 0;
    bool ok = true;
    for (int it = 0; it < 2; ++it) {
      const vf va = splat(static_cast<float>(a)), vb0 = splat(static_cast<float>(b0)), vby = splat(static_cast<float>(by)),
                 vbx = splat(static_cast<float>(bx)), voy = splat(static_cast<float>(oy)), vox = splat(static_cast<float>(ox));
      const vf vfloor = splat(static_cast<float>(1e-3 * a + 1e-6)), vinv = splat(inv_step), vtiny = splat(1e-6f);
      const vf one = splat(1.0f);
      vf acc[27];
      for (vf& v : acc) v = splat(0.0f);
      for (int k = 0; k < np4; k += kLanes) {
        vf py, px, pv, pm;
        std::memcpy(&py, PY + k, sizeof py);
        std::memcpy(&px, PX + k, sizeof px);
        std::memcpy(&pv, PV + k, sizeof pv);
        std::memcpy(&pm, PM + k, sizeof pm);
        const vf ey = py - voy, ex = px - vox;
        const vf r2 = ey * ey + ex * ex;
        vf rr = r2;
        for (int l = 0; l < kLanes; ++l) rr[l] = __builtin_sqrtf(r2[l]);  // r2 >= 0: no errno
        const vf t = rr * vinv;
        vf D, S;
        for (int l = 0; l < kLanes; ++l) {
          const int i = std::min(static_cast<int>(t[l]), last);
          const float f = std::min(t[l] - static_cast<float>(i), 1.0f);
          D[l] = tv[i] + f * (tv[i + 1] - tv[i]);
          S[l] = ts[i] + f * (ts[i + 1] - ts[i]);
        }
        const vf rs = rr > vtiny ? rr : one;  // S is 0 at r = 0
        const vf g = va * S / rs;
        const vf model = va * D + vb0 + vby * ey + vbx * ex;
        vf w = pm;
        if (poisson) w = pm / (model > vfloor ? model : vfloor);
        const vf J[6] = {-(g * ey) - vby, -(g * ex) - vbx, D, one, ey, ex};
        const vf res = w * (pv - model);
#pragma GCC unroll 6
        for (int u = 0; u < 6; ++u) {
          const vf wj = w * J[u];
#pragma GCC unroll 6
          for (int v = u; v < 6; ++v) acc[u * 6 - u * (u - 1) / 2 + (v - u)] += wj * J[v];
          acc[21 + u] += J[u] * res;
        }
      }
      double A[6][6], r[6], x[6];
      int q = 0;
      for (int u = 0; u < 6; ++u) {
        for (int v = u; v < 6; ++v) A[u][v] = hsum(acc[q++]);
        r[u] = hsum(acc[21 + u]);
      }
      if (!solve6(A, r, x)) {
        ok = false;
        break;
      }
      const double step = std::hypot(x[0], x[1]);
      const double k = step > 0.5 ? 0.5 / step : 1.0;
      oy += k * x[0];
      ox += k * x[1];
      a += k * x[2];
      b0 += k * x[3];
      by += k * x[4];
      bx += k * x[5];
      if (!(a > 0) || !std::isfinite(oy) || !std::isfinite(ox) || std::hypot(oy, ox) > 1.0) {
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    peaks[m].qy = static_cast<float>(py0 + oy);
    peaks[m].qx = static_cast<float>(px0 + ox);
  }
}


void fit_disk_shapes(const float* pattern, int ny, int nx, const Peak* peaks, int n, int n_fit, double R0, double s0,
                     std::vector<double>& radius, std::vector<double>& edge) {
  const double W = R0 + 8;
  std::vector<double> py, px, pv;
  for (int m = 0; m < std::min(n, n_fit); ++m) {
    const double cy = peaks[m].qy, cx = peaks[m].qx;
    py.clear();
    px.clear();
    pv.clear();
    const int y0 = std::max(0, static_cast<int>(std::floor(cy - W))), y1 = std::min(ny - 1, static_cast<int>(std::ceil(cy + W)));
    const int x0 = std::max(0, static_cast<int>(std::floor(cx - W))), x1 = std::min(nx - 1, static_cast<int>(std::ceil(cx + W)));
    // a disk cut by the detector edge is not fitted
    if (cy - W < 0 || cx - W < 0 || cy + W > ny - 1 || cx + W > nx - 1) continue;
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) {
        const double ey = y - cy, ex = x - cx, d2 = ey * ey + ex * ex;
        if (d2 > W * W) continue;
        bool mine = true;
        for (int o = 0; o < n && mine; ++o)
          if (o != m) mine = std::pow(y - peaks[o].qy, 2) + std::pow(x - peaks[o].qx, 2) >= d2;
        if (!mine) continue;
        py.push_back(ey);
        px.push_back(ex);
        pv.push_back(pattern[static_cast<std::size_t>(y) * nx + x]);
      }
    if (py.size() < 40) continue;
    // parameters: oy, ox, R, s, a, b
    double th[6] = {0, 0, R0, s0, 0, 0};
    {
      double lo = 1e300, hi = -1e300;
      for (double v : pv) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
      th[4] = hi - lo;
      th[5] = lo;
    }
    auto cost_of = [&](const double* t) {
      double c = 0;
      for (std::size_t k = 0; k < py.size(); ++k) {
        const double r = std::hypot(py[k] - t[0], px[k] - t[1]);
        const double mdl = t[4] * 0.5 * std::erfc((r - t[2]) / (std::numbers::sqrt2 * t[3])) + t[5];
        c += (pv[k] - mdl) * (pv[k] - mdl);
      }
      return c;
    };
    double cost = cost_of(th), lambda = 1e-3;
    bool ok = false;
    for (int it = 0; it < 40; ++it) {
      double A[6][6] = {}, g[6] = {};
      for (std::size_t k = 0; k < py.size(); ++k) {
        const double ey = py[k] - th[0], ex = px[k] - th[1];
        const double r = std::hypot(ey, ex);
        const double z = (r - th[2]) / (std::numbers::sqrt2 * th[3]);
        const double e = std::exp(-z * z) / std::sqrt(std::numbers::pi);
        const double D = 0.5 * std::erfc(z);
        const double dr = -th[4] * e / (std::numbers::sqrt2 * th[3]);  // d model / d r
        const double J[6] = {r > 1e-9 ? -dr * ey / r : 0, r > 1e-9 ? -dr * ex / r : 0, -dr, th[4] * e * z / th[3], D, 1};
        const double res = pv[k] - (th[4] * D + th[5]);
        for (int u = 0; u < 6; ++u) {
          g[u] += J[u] * res;
          for (int v = u; v < 6; ++v) A[u][v] += J[u] * J[v];
        }
      }
      bool stepped = false;
      for (int tries = 0; tries < 8 && !stepped; ++tries) {
        double B[6][6], x[6], t2[6];
        for (int u = 0; u < 6; ++u)
          for (int v = u; v < 6; ++v) B[u][v] = A[u][v] * (u == v ? 1 + lambda : 1);
        if (!solve6(B, g, x)) {
          lambda *= 10;
          continue;
        }
        for (int u = 0; u < 6; ++u) t2[u] = th[u] + x[u];
        t2[3] = std::clamp(t2[3], 0.1, 5.0);
        const double c2 = cost_of(t2);
        if (c2 <= cost) {
          const double change = std::abs(x[2]) + std::abs(x[3]);
          std::copy(t2, t2 + 6, th);
          cost = c2;
          lambda = std::max(lambda / 10, 1e-9);
          stepped = true;
          if (change < 1e-5) ok = true;
        } else {
          lambda *= 10;
        }
      }
      if (!stepped || ok) {
        ok = true;
        break;
      }
    }
    if (ok && th[4] > 0 && th[2] > 0.5 && std::abs(th[2] - R0) < 3 && th[3] > 0.1 && th[3] < 5 && std::hypot(th[0], th[1]) < 1.5) {
      radius.push_back(th[2]);
      edge.push_back(th[3]);
    }
  }
}

} // namespace domainmap::peaks_detail
