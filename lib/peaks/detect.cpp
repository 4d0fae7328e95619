// lib/peaks/detect.cpp: per-pattern Bragg disk detection (PeakFinder): bad-pixel repair, FFT
// correlation with the template, py4DSTEM's maxima and filters, domainmap's significance and
// prominence tests, and the sub-pixel refinements (see domainmap/peaks.hpp for the algorithm).
//
// Everything that does not depend on the pattern is computed once in the constructor: the FFTW
// plans (FFTW_ESTIMATE, created serially under a mutex and run with the new-array execute
// functions on each thread's own buffers), the template spectrum with the sigma_cc transfer
// function and the 1/(N M) normalisation folded in, the neighbour lists of the bad pixels, the
// support of the smoothed template for the significance test and the twiddles of the local
// upsampled DFT. find() allocates nothing.
//
// The 2-D real transforms are done as 1-D complex transforms (FFTW's SIMD codelets, which its
// FFTW_ESTIMATE plans of the 2-D real transforms do not use for the rows): two real rows are
// the real and imaginary parts of one complex row; after the transforms along the rows the two
// half spectra are separated by Hermitian symmetry, and the columns are transformed in place.
// The inverse runs the same steps backwards (the imaginary parts of each row's DC and Nyquist
// terms are dropped, as a c2r transform does). The plans do not depend on timing, so neither
// do the results.
//
// The hot loops exist twice, for the x86-64 baseline (SSE2) and for AVX2, chosen once at run
// time; both do the same float operations in the same order (no FMA contraction), so the results
// do not depend on the choice.
#include <fftw3.h>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define DOMAINMAP_X86 1
#endif

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <numbers>

#include "domainmap/error.hpp"
#include "domainmap/peaks.hpp"
#include "fftw_lock.hpp"
#include "refine.hpp"

// Vector helpers are static and always inlined: the ABI note about 32-byte vectors does not apply.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

namespace domainmap {

namespace {

using v4sf = float __attribute__((vector_size(16)));
using v4si = std::int32_t __attribute__((vector_size(16)));
using v8sf = float __attribute__((vector_size(32)));
using v8si = std::int32_t __attribute__((vector_size(32)));
using v2sf = float __attribute__((vector_size(8)));
using v2df = double __attribute__((vector_size(16)));
using v4df = double __attribute__((vector_size(32)));

template <class V>
[[gnu::always_inline]] inline V vload(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class V>
[[gnu::always_inline]] inline void vstore(float* p, V v) {
  std::memcpy(p, &v, sizeof v);
}

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

// Bilinear interpolation of the clipped map max(a, 0), coordinates clamped to the map. After the
// clamp y, x >= 0, so floor and ceil are a truncation and a comparison.
[[gnu::always_inline]] inline float bilinear(const float* a, int ny, int nx, double y, double x) {
  y = std::clamp(y, 0.0, static_cast<double>(ny - 1));
  x = std::clamp(x, 0.0, static_cast<double>(nx - 1));
  const int y0 = static_cast<int>(y), x0 = static_cast<int>(x);
  const int y1 = y0 + (y > y0 ? 1 : 0), x1 = x0 + (x > x0 ? 1 : 0);
  const double dy = y - y0, dx = x - x0;
  auto at = [&](int y, int x) { return static_cast<double>(std::max(0.0f, a[y * nx + x])); };  // clipped map
  return static_cast<float>((1 - dy) * (1 - dx) * at(y0, x0) + (1 - dy) * dx * at(y0, x1) + dy * (1 - dx) * at(y1, x0) +
                            dy * dx * at(y1, x1));
}

// ---- kernels, compiled for the baseline and for AVX2 ----

// Rows 2i and 2i + 1 of `src` as the real and imaginary parts of row i of z (a zero row pairs
// with the last one if ny is odd). Returns nonzero if a pixel is NaN or infinite.
[[gnu::always_inline]] inline std::uint32_t pack_rows_impl(const float* src, float* z, int ny, int nx) {
  const int nyp = (ny + 1) / 2;
  v4si bad = {};
  const v4si expo = {0x7f800000, 0x7f800000, 0x7f800000, 0x7f800000};
  std::uint32_t bad1 = 0;
  const int n4 = nx / 4 * 4;
  for (int p = 0; p < nyp; ++p) {
    const float* a = src + static_cast<std::size_t>(2 * p) * nx;
    const bool has_b = 2 * p + 1 < ny;
    const float* b = a + nx;
    float* zr = z + static_cast<std::size_t>(2 * p) * nx;  // nx complex = 2 nx floats
    if (has_b) {
      for (int j = 0; j < n4; j += 4) {
        const v4sf va = vload<v4sf>(a + j), vb = vload<v4sf>(b + j);
        v4si ia, ib;
        std::memcpy(&ia, &va, sizeof ia);
        std::memcpy(&ib, &vb, sizeof ib);
        bad |= ((ia & expo) == expo) | ((ib & expo) == expo);
        vstore(zr + 2 * j, __builtin_shufflevector(va, vb, 0, 4, 1, 5));
        vstore(zr + 2 * j + 4, __builtin_shufflevector(va, vb, 2, 6, 3, 7));
      }
      for (int j = n4; j < nx; ++j) {
        bad1 |= static_cast<std::uint32_t>((std::bit_cast<std::uint32_t>(a[j]) & 0x7f800000u) == 0x7f800000u);
        bad1 |= static_cast<std::uint32_t>((std::bit_cast<std::uint32_t>(b[j]) & 0x7f800000u) == 0x7f800000u);
        zr[2 * j] = a[j];
        zr[2 * j + 1] = b[j];
      }
    } else {
      for (int j = 0; j < nx; ++j) {
        bad1 |= static_cast<std::uint32_t>((std::bit_cast<std::uint32_t>(a[j]) & 0x7f800000u) == 0x7f800000u);
        zr[2 * j] = a[j];
        zr[2 * j + 1] = 0.0f;
      }
    }
  }
  for (int e = 0; e < 4; ++e) bad1 |= static_cast<std::uint32_t>(bad[e] != 0);
  return bad1;
}

// After the row transforms: z row p = R_a + i R_b with R_a, R_b the spectra of rows 2p, 2p + 1;
// 2 R_a(l) = Z(l) + conj Z(-l), 2 R_b(l) = -i (Z(l) - conj Z(-l)), for l < nxc, into spec rows of
// stride `st` complex (the factor 2 is taken out of the template spectrum).
[[gnu::always_inline]] inline void split_rows_impl(const float* z, float* spec, int ny, int nx, int st) {
  const int nyp = (ny + 1) / 2, nxc = nx / 2 + 1;
  const v4sf pm = {1, -1, 1, -1};
  for (int p = 0; p < nyp; ++p) {
    const float* zr = z + static_cast<std::size_t>(2 * p) * nx;
    float* sa = spec + static_cast<std::size_t>(2 * p) * 2 * st;
    float* sb = sa + 2 * st;
    const bool has_b = 2 * p + 1 < ny;
    auto one = [&](int l) {
      const int m = l == 0 ? 0 : nx - l;
      const float zp = zr[2 * l], zq = zr[2 * l + 1], zs_r = zr[2 * m], zs_i = zr[2 * m + 1];
      sa[2 * l] = zp + zs_r;
      sa[2 * l + 1] = zq - zs_i;
      if (has_b) {
        sb[2 * l] = zq + zs_i;
        sb[2 * l + 1] = zs_r - zp;
      }
    };
    one(0);
    int l = 1;
    // two terms per step: l, l + 1 and their mirrors nx - l, nx - l - 1 (loaded reversed)
    for (; l + 1 < nxc; l += 2) {
      const v4sf zl = vload<v4sf>(zr + 2 * l);
      const v4sf zm0 = vload<v4sf>(zr + 2 * (nx - l - 1));
      const v4sf zm = __builtin_shufflevector(zm0, zm0, 2, 3, 0, 1);
      vstore(sa + 2 * l, zl + zm * pm);
      if (has_b) {
        const v4sf zls = __builtin_shufflevector(zl, zl, 1, 0, 3, 2);
        const v4sf zms = __builtin_shufflevector(zm, zm, 1, 0, 3, 2);
        vstore(sb + 2 * l, zls * pm + zms);
      }
    }
    for (; l < nxc; ++l) one(l);
  }
}

// Before the inverse row transforms: z row p = C_a + i C_b over all nx terms, C the inverse
// column transforms of spec rows 2p, 2p + 1, extended by Hermitian symmetry; the imaginary
// parts of the DC and Nyquist terms are dropped.
[[gnu::always_inline]] inline void join_rows_impl(const float* spec, float* z, int ny, int nx, int st) {
  const int nyp = (ny + 1) / 2, nxc = nx / 2 + 1;
  const v4sf mp = {-1, 1, -1, 1};
  const v4sf pm = {1, -1, 1, -1};
  for (int p = 0; p < nyp; ++p) {
    float* zr = z + static_cast<std::size_t>(2 * p) * nx;
    const float* sa = spec + static_cast<std::size_t>(2 * p) * 2 * st;
    const bool has_b = 2 * p + 1 < ny;
    const float* sb = sa + 2 * st;
    if (has_b) {
      // direct half: Z = A + i B = (Ar - Bi, Ai + Br)
      int l = 0;
      for (; l + 1 < nxc; l += 2) {
        const v4sf a = vload<v4sf>(sa + 2 * l), b = vload<v4sf>(sb + 2 * l);
        vstore(zr + 2 * l, a + __builtin_shufflevector(b, b, 1, 0, 3, 2) * mp);
      }
      for (; l < nxc; ++l) {
        zr[2 * l] = sa[2 * l] - sb[2 * l + 1];
        zr[2 * l + 1] = sa[2 * l + 1] + sb[2 * l];
      }
      // mirrored half, l = nxc .. nx - 1 from m = nx - l: Z = conj A + i conj B = (Ar + Bi, Br - Ai)
      l = nxc;
      for (; l + 1 < nx; l += 2) {
        // m = nx - l and nx - l - 1, loaded from nx - l - 1 and reversed
        const v4sf a0 = vload<v4sf>(sa + 2 * (nx - l - 1)), b0 = vload<v4sf>(sb + 2 * (nx - l - 1));
        const v4sf a = __builtin_shufflevector(a0, a0, 2, 3, 0, 1), b = __builtin_shufflevector(b0, b0, 2, 3, 0, 1);
        vstore(zr + 2 * l, a * pm + __builtin_shufflevector(b, b, 1, 0, 3, 2));
      }
      for (; l < nx; ++l) {
        const int m = nx - l;
        zr[2 * l] = sa[2 * m] + sb[2 * m + 1];
        zr[2 * l + 1] = sb[2 * m] - sa[2 * m + 1];
      }
      // DC and Nyquist: real parts only
      zr[0] = sa[0];
      zr[1] = sb[0];
      if (nx % 2 == 0) {
        zr[nx] = sa[nx];
        zr[nx + 1] = sb[nx];
      }
    } else {
      for (int l = 0; l < nx; ++l) {
        const bool direct = l < nxc;
        const int m = direct ? l : nx - l;
        zr[2 * l] = sa[2 * m];
        zr[2 * l + 1] = direct ? sa[2 * m + 1] : -sa[2 * m + 1];
      }
      zr[1] = 0.0f;
      if (nx % 2 == 0) zr[nx + 1] = 0.0f;
    }
  }
}

// After the inverse row transforms: rows 2p and 2p + 1 of the map are the real and imaginary
// parts of z row p.
[[gnu::always_inline]] inline void unpack_rows_impl(const float* z, float* map, int ny, int nx) {
  const int nyp = (ny + 1) / 2;
  const int n4 = nx / 4 * 4;
  for (int p = 0; p < nyp; ++p) {
    const float* zr = z + static_cast<std::size_t>(2 * p) * nx;
    float* a = map + static_cast<std::size_t>(2 * p) * nx;
    const bool has_b = 2 * p + 1 < ny;
    float* b = a + nx;
    if (has_b) {
      for (int j = 0; j < n4; j += 4) {
        const v4sf u = vload<v4sf>(zr + 2 * j), w = vload<v4sf>(zr + 2 * j + 4);
        vstore(a + j, __builtin_shufflevector(u, w, 0, 2, 4, 6));
        vstore(b + j, __builtin_shufflevector(u, w, 1, 3, 5, 7));
      }
      for (int j = n4; j < nx; ++j) {
        a[j] = zr[2 * j];
        b[j] = zr[2 * j + 1];
      }
    } else {
      for (int j = 0; j < nx; ++j) a[j] = zr[2 * j];
    }
  }
}

// s[k] *= t[k] for n complex numbers, interleaved (4 per step).
[[gnu::always_inline]] inline void multiply_impl(float* s, const float* t, std::size_t n) {
  const std::size_t n4 = n / 4 * 4;
  const v8sf sign = {-1, 1, -1, 1, -1, 1, -1, 1};
  for (std::size_t k = 0; k < n4; k += 4) {
    const v8sf x = vload<v8sf>(s + 2 * k), y = vload<v8sf>(t + 2 * k);
    const v8sf xs = __builtin_shufflevector(x, x, 1, 0, 3, 2, 5, 4, 7, 6);   // b a ...
    const v8sf yr = __builtin_shufflevector(y, y, 0, 0, 2, 2, 4, 4, 6, 6);   // c c ...
    const v8sf yi = __builtin_shufflevector(y, y, 1, 1, 3, 3, 5, 5, 7, 7);   // e e ...
    vstore(s + 2 * k, x * yr + sign * (xs * yi));                             // ac - be, bc + ae
  }
  for (std::size_t k = n4; k < n; ++k) {
    const float a = s[2 * k], b = s[2 * k + 1], c = t[2 * k], e = t[2 * k + 1];
    s[2 * k] = a * c - b * e;
    s[2 * k + 1] = a * e + b * c;
  }
}

// Local upsampled DFT, the column sums: for the kept rows r (lanes) and the columns x - h, x,
// x + h (b = 0, 1, 2): A_b[r] = sum_l S[l][r] P[l] e^{i (b - 1) beta_l}, P[l] = w_l exp(2 pi i l x
// / M). With T = S P: A_1 = sum T, A_{0,2} = sum T cos beta -/+ i sum T sin beta.
template <class V>
[[gnu::always_inline]] inline void mc_columns_impl(const float* sr, const float* si, int nl, int kp, const float* pr,
                                                   const float* pi, const float* cb, const float* sb, float* ar,
                                                   float* ai) {
  constexpr int W = sizeof(V) / sizeof(float);
  for (int c = 0; c < kp; c += W) {
    V a0r = {}, a0i = {}, acr = {}, aci = {}, asr = {}, asi = {};
    for (int l = 0; l < nl; ++l) {
      const V xr = vload<V>(sr + static_cast<std::size_t>(l) * kp + c);
      const V xi = vload<V>(si + static_cast<std::size_t>(l) * kp + c);
      const float p_r = pr[l], p_i = pi[l], c_l = cb[l], s_l = sb[l];
      const V tr = xr * p_r - xi * p_i;
      const V ti = xr * p_i + xi * p_r;
      a0r += tr;
      a0i += ti;
      acr += tr * c_l;
      aci += ti * c_l;
      asr += tr * s_l;
      asi += ti * s_l;
    }
    vstore(ar + c, acr + asi);
    vstore(ai + c, aci - asr);
    vstore(ar + kp + c, a0r);
    vstore(ai + kp + c, a0i);
    vstore(ar + 2 * kp + c, acr - asi);
    vstore(ai + 2 * kp + c, aci + asr);
  }
}

// f[a * 3 + b] = Re sum_r E_a[r] A_b[r], in double precision (D: a vector of doubles, half as
// many lanes as floats in the same width).
template <class F, class D>
[[gnu::always_inline]] inline void mc_points_impl(const double* er, const double* ei, const float* ar, const float* ai,
                                                  int kp, double* f) {
  constexpr int W = sizeof(D) / sizeof(double);
  static_assert(sizeof(F) == W * sizeof(float));
  for (int a = 0; a < 3; ++a) {
    D acc[3] = {};
    const double* era = er + static_cast<std::size_t>(a) * kp;
    const double* eia = ei + static_cast<std::size_t>(a) * kp;
    for (int c = 0; c < kp; c += W) {
      D xr, xi;
      std::memcpy(&xr, era + c, sizeof xr);
      std::memcpy(&xi, eia + c, sizeof xi);
      for (int b = 0; b < 3; ++b) {
        F yr, yi;
        std::memcpy(&yr, ar + static_cast<std::size_t>(b) * kp + c, sizeof yr);
        std::memcpy(&yi, ai + static_cast<std::size_t>(b) * kp + c, sizeof yi);
        acc[b] += xr * __builtin_convertvector(yr, D) - xi * __builtin_convertvector(yi, D);
      }
    }
    for (int b = 0; b < 3; ++b) {
      double s = 0;
      for (int e = 0; e < W; ++e) s += acc[b][e];
      f[a * 3 + b] = s;
    }
  }
}

// The significance sum sum_j w_j max(0, x_j) over the runs r (weights w + run_w[r], run_len[r]
// of them, a multiple of 8; pixels x + run_off[r]), stopped as soon as it exceeds `limit`.
// Returns whether it stayed <= limit.
template <class V>
[[gnu::always_inline]] inline bool weighted_sum_impl(const float* w, const float* x, const int* run_off,
                                                     const int* run_w, const int* run_len, int n_runs, double limit) {
  constexpr int W = sizeof(V) / sizeof(float);
  const V zero = {};
  double var = 0;
  for (int r = 0; r < n_runs; ++r) {
    const float* wr = w + run_w[r];
    const float* xr = x + run_off[r];
    V acc = {};
    for (int k = 0; k < run_len[r]; k += W) {
      const V v = vload<V>(xr + k);
      acc += vload<V>(wr + k) * (v > zero ? v : zero);
    }
    float sum = 0;
    for (int e = 0; e < W; ++e) sum += acc[e];
    var += sum;
    if (var > limit) return false;
  }
  return true;
}

// Strict local maxima (py4DSTEM's np.roll tests: >= towards +row/+column, > towards the
// others) of the map, positive, rows and columns [eb, n - eb); appended in raster order.
[[gnu::always_inline]] inline void maxima_scalar(const float* c, int nx, int j0, int j1, int i, Cand* out, int& n) {
  const float* up = c + (i - 1) * nx;
  const float* cu = c + i * nx;
  const float* dn = c + (i + 1) * nx;
  for (int j = j0; j < j1; ++j) {
    const float v = cu[j];
    if (!(v > 0)) continue;
    if (!(v > cu[j - 1]) || !(v >= cu[j + 1])) continue;
    if (!(v >= dn[j]) || !(v > up[j])) continue;
    if (!(v >= dn[j + 1]) || !(v > dn[j - 1]) || !(v >= up[j + 1]) || !(v > up[j - 1])) continue;
    out[n++] = {v, i, j};
  }
}

#ifdef DOMAINMAP_X86
// The same tests as maxima_scalar() 4 or 8 pixels at a time: v > max(0, the neighbours it must
// exceed) and v >= max(the neighbours it must equal or exceed) (the map has no NaN).
[[gnu::always_inline]] inline int maxima_sse2(const float* c, int ny, int nx, int eb, Cand* out) {
  int n = 0;
  const int j1 = nx - eb;
  const __m128 zero = _mm_setzero_ps();
  for (int i = eb; i < ny - eb; ++i) {
    const float* up = c + (i - 1) * nx;
    const float* cu = c + i * nx;
    const float* dn = c + (i + 1) * nx;
    int j = eb;
    for (; j + 4 <= j1; j += 4) {
      const __m128 v = _mm_loadu_ps(cu + j);
      const __m128 gt = _mm_max_ps(_mm_max_ps(_mm_max_ps(zero, _mm_loadu_ps(cu + j - 1)), _mm_loadu_ps(up + j)),
                                   _mm_max_ps(_mm_loadu_ps(dn + j - 1), _mm_loadu_ps(up + j - 1)));
      const __m128 ge = _mm_max_ps(_mm_max_ps(_mm_loadu_ps(cu + j + 1), _mm_loadu_ps(dn + j)),
                                   _mm_max_ps(_mm_loadu_ps(dn + j + 1), _mm_loadu_ps(up + j + 1)));
      const __m128 m = _mm_and_ps(_mm_cmpgt_ps(v, gt), _mm_cmpge_ps(v, ge));
      for (unsigned bits = static_cast<unsigned>(_mm_movemask_ps(m)); bits; bits &= bits - 1) {
        const int e = std::countr_zero(bits);
        out[n++] = {cu[j + e], i, j + e};
      }
    }
    maxima_scalar(c, nx, j, j1, i, out, n);
  }
  return n;
}

__attribute__((target("avx2"))) inline int maxima_avx2(const float* c, int ny, int nx, int eb, Cand* out) {
  int n = 0;
  const int j1 = nx - eb;
  const __m256 zero = _mm256_setzero_ps();
  for (int i = eb; i < ny - eb; ++i) {
    const float* up = c + (i - 1) * nx;
    const float* cu = c + i * nx;
    const float* dn = c + (i + 1) * nx;
    int j = eb;
    for (; j + 8 <= j1; j += 8) {
      const __m256 v = _mm256_loadu_ps(cu + j);
      const __m256 gt =
          _mm256_max_ps(_mm256_max_ps(_mm256_max_ps(zero, _mm256_loadu_ps(cu + j - 1)), _mm256_loadu_ps(up + j)),
                        _mm256_max_ps(_mm256_loadu_ps(dn + j - 1), _mm256_loadu_ps(up + j - 1)));
      const __m256 ge = _mm256_max_ps(_mm256_max_ps(_mm256_loadu_ps(cu + j + 1), _mm256_loadu_ps(dn + j)),
                                      _mm256_max_ps(_mm256_loadu_ps(dn + j + 1), _mm256_loadu_ps(up + j + 1)));
      const __m256 m = _mm256_and_ps(_mm256_cmp_ps(v, gt, _CMP_GT_OQ), _mm256_cmp_ps(v, ge, _CMP_GE_OQ));
      if (_mm256_testz_ps(m, m)) continue;
      for (unsigned bits = static_cast<unsigned>(_mm256_movemask_ps(m)); bits; bits &= bits - 1) {
        const int e = std::countr_zero(bits);
        out[n++] = {cu[j + e], i, j + e};
      }
    }
    maxima_scalar(c, nx, j, j1, i, out, n);
  }
  return n;
}
#endif

// One set of entry points per instruction set.
struct Kernels {
  std::uint32_t (*pack_rows)(const float*, float*, int, int);
  void (*split_rows)(const float*, float*, int, int, int);
  void (*join_rows)(const float*, float*, int, int, int);
  void (*unpack_rows)(const float*, float*, int, int);
  void (*multiply)(float*, const float*, std::size_t);
  void (*mc_columns)(const float*, const float*, int, int, const float*, const float*, const float*, const float*,
                     float*, float*);
  void (*mc_points)(const double*, const double*, const float*, const float*, int, double*);
  bool (*weighted_sum)(const float*, const float*, const int*, const int*, const int*, int, double);
  int (*maxima)(const float*, int, int, int, Cand*);
};

#define DOMAINMAP_KERNEL_SET(NAME, ATTR, V, F, D, MAXIMA)                                                                 \
  ATTR std::uint32_t NAME##_pack_rows(const float* s, float* z, int ny, int nx) { return pack_rows_impl(s, z, ny, nx); } \
  ATTR void NAME##_split_rows(const float* z, float* s, int ny, int nx, int st) { split_rows_impl(z, s, ny, nx, st); } \
  ATTR void NAME##_join_rows(const float* s, float* z, int ny, int nx, int st) { join_rows_impl(s, z, ny, nx, st); }  \
  ATTR void NAME##_unpack_rows(const float* z, float* m, int ny, int nx) { unpack_rows_impl(z, m, ny, nx); }          \
  ATTR void NAME##_multiply(float* s, const float* t, std::size_t n) { multiply_impl(s, t, n); }                     \
  ATTR void NAME##_mc_columns(const float* sr, const float* si, int nl, int kp, const float* pr, const float* pi,   \
                              const float* cb, const float* sb, float* ar, float* ai) {                             \
    mc_columns_impl<V>(sr, si, nl, kp, pr, pi, cb, sb, ar, ai);                                                     \
  }                                                                                                                 \
  ATTR void NAME##_mc_points(const double* er, const double* ei, const float* ar, const float* ai, int kp, double* f) { \
    mc_points_impl<F, D>(er, ei, ar, ai, kp, f);                                                                       \
  }                                                                                                                 \
  ATTR bool NAME##_weighted_sum(const float* w, const float* x, const int* ro, const int* rw, const int* rl, int nr, \
                                double lim) {                                                                       \
    return weighted_sum_impl<V>(w, x, ro, rw, rl, nr, lim);                                                         \
  }                                                                                                                 \
  const Kernels NAME##_kernels = {NAME##_pack_rows, NAME##_split_rows,   NAME##_join_rows,    NAME##_unpack_rows,   \
                                  NAME##_multiply,  NAME##_mc_columns,   NAME##_mc_points,    NAME##_weighted_sum,  \
                                  MAXIMA};

#ifdef DOMAINMAP_X86
int base_maxima(const float* c, int ny, int nx, int eb, Cand* out) { return maxima_sse2(c, ny, nx, eb, out); }
int avx2_maxima(const float* c, int ny, int nx, int eb, Cand* out) { return maxima_avx2(c, ny, nx, eb, out); }
DOMAINMAP_KERNEL_SET(base, , v4sf, v2sf, v2df, base_maxima)
DOMAINMAP_KERNEL_SET(avx2, __attribute__((target("avx2"))), v8sf, v4sf, v4df, avx2_maxima)
#else
int base_maxima(const float* c, int ny, int nx, int eb, Cand* out) {
  int n = 0;
  for (int i = eb; i < ny - eb; ++i) maxima_scalar(c, nx, eb, nx - eb, i, out, n);
  return n;
}
DOMAINMAP_KERNEL_SET(base, , v4sf, v2sf, v2df, base_maxima)
#endif
#undef DOMAINMAP_KERNEL_SET

const Kernels& pick_kernels() {
#ifdef DOMAINMAP_X86
  if (__builtin_cpu_supports("avx2")) return avx2_kernels;
#endif
  return base_kernels;
}

} // namespace

struct PeakFinder::Impl {
  PeaksParams p;
  const Kernels* k = nullptr;
  int ny = 0, nx = 0, nxc = 0, nyp = 0;
  std::size_t n_real = 0, n_spec = 0;
  // rows: nyp complex transforms of length nx (in place on z); columns: nxc transforms of
  // length ny, stride nxc (in place on spec)
  fftwf_plan rows_fwd = nullptr, rows_inv = nullptr, cols_fwd = nullptr, cols_inv = nullptr;
  // template spectrum: conj(F(t)) G / (2 N M) when corr_power = 1; conj(F(t)) / 2 otherwise
  std::vector<float> tspec;        // interleaved re, im
  std::vector<float> gnorm;        // G(k) G(l) / (N M), for corr_power != 1
  bool mode_pixel = false, mode_multicorr = false, mode_fit = false;
  peaks_detail::DiskProfile fit_profile;  // "fit": the disk model
  // bad pixels: index and its good neighbours [nb_begin[b], nb_begin[b+1])
  std::vector<int> bad, nb_begin, nb;
  // significance: runs of consecutive columns of the smoothed template's support, heaviest
  // first: row and first column offsets from the peak, weights t'^2 at sup_w[run_w[r]], padded
  // with zeros to run_len[r] (a multiple of 8); the fast path needs rows [-sup_top, sup_top]
  // and columns [-sup_left, sup_right] in the pattern
  std::vector<int> run_dy, run_dx, run_off, run_w, run_len;
  std::vector<float> sup_w;
  int sup_top = 0, sup_left = 0, sup_right = 0;
  double gain = 0;
  double radius = 0, spacing2 = 0;
  int edge = 1;
  bool use_significance = false, use_isotropy = false;
  // sigma_dp
  std::vector<float> dp_w;
  // multicorr: spectrum rows mc_rows[r] (r < mc_k, padded to mc_kp lanes) and columns l < mc_cols
  std::vector<int> mc_rows;
  int mc_k = 0, mc_kp = 0, mc_cols = 0;
  std::vector<float> mc_cb, mc_sb;    // cos, sin (2 pi l h / M)
  std::vector<double> mc_str, mc_sti;  // cos, sin (2 pi k_s h / N) of the kept rows
  // exp(2 pi i n / (M u)) (float) and exp(2 pi i n / (N u)) (double), n < M u, N u: the phases
  // on the grid of spacing h = 1/u; empty if too large (then recurrences)
  std::vector<float> mc_tx;     // [n][re, im]
  std::vector<double> mc_ty;    // [n][re, im]

  const float* prepare(const float* pattern, Workspace& ws) const;
  void correlate(Workspace& ws) const;
  void find_maxima(Workspace& ws) const;
  int select(const float* img, Workspace& ws, Peak* out) const;
  bool significant(const float* img, const Cand& q) const;
  bool isotropic(const float* c, const Cand& q) const;
  void refine(Workspace& ws, Peak* out, int n) const;
  void refine_multicorr(Workspace& ws, Peak& pk) const;
  void mc_columns(Workspace& ws, double gx, long ix) const;
  void mc_rows_phase(Workspace& ws, double gy, long iy) const;
};

struct PeakFinder::Workspace {
  float* in = nullptr;     // repaired (and smoothed) pattern, when there are bad pixels or sigma_dp
  float* tmp = nullptr;    // sigma_dp
  float* z = nullptr;      // paired rows, nyp x nx complex
  float* spec = nullptr;   // ny x nxc complex
  float* corr = nullptr;   // ny x nx
  int n_cand = 0;
  std::vector<Cand> cand;
  std::vector<float> vals;
  // multicorr: the spectrum's kept terms, [mc_cols][mc_kp] (w_l in the column phases), the
  // column sums [3][mc_kp], the row phases [3][mc_kp], the column phases [mc_cols]
  std::vector<float> sr, si, ar, ai, pr, pi;
  std::vector<double> er, ei;
  std::vector<double> rowphase;  // [N/2 + 1][re, im]
  std::vector<float> fit_scratch;    // "fit"
  std::vector<long> seen_y, seen_x;  // grid points whose values are known, for one peak
  std::vector<double> seen_f;
  Workspace() = default;
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  ~Workspace() {
    fftwf_free(in);
    fftwf_free(tmp);
    fftwf_free(z);
    fftwf_free(spec);
    fftwf_free(corr);
  }
};

PeakFinder::PeakFinder(const PeaksParams& p, const PeakSetup& setup) : impl_(std::make_unique<Impl>()) {
  Impl& d = *impl_;
  d.p = p;
  d.k = &pick_kernels();
  const Shape2 det = setup.detector;
  if (det.y < 4 || det.x < 4 || det.y > (1 << 15) || det.x > (1 << 15))
    fail(ErrorKind::bad_input, "", "peaks: detector of ", det.y, "x", det.x, " px is not supported (4..32768 per axis)");
  if (setup.probe.shape != det || static_cast<std::int64_t>(setup.probe.kernel.size()) != det.y * det.x)
    fail(ErrorKind::bad_parameter, "", "peaks: the template is ", setup.probe.shape.y, "x", setup.probe.shape.x,
         " but the patterns are ", det.y, "x", det.x);
  d.ny = static_cast<int>(det.y);
  d.nx = static_cast<int>(det.x);
  d.nxc = d.nx / 2 + 1;
  d.nyp = (d.ny + 1) / 2;
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
  d.mode_pixel = p.subpixel == "pixel";
  d.mode_multicorr = p.subpixel == "multicorr";
  d.mode_fit = p.subpixel == "fit";
  if (d.mode_fit)
    d.fit_profile = peaks_detail::disk_profile(setup.fit_radius > 0 ? setup.fit_radius : setup.probe_radius,
                                               setup.fit_edge > 0 ? setup.fit_edge : p.probe_edge);
  max_peaks_ = p.max_num_peaks;

  // the template's spectrum and the smoothed template are made once with 2-D real transforms
  float* real = fftwf_alloc_real(d.n_real);
  fftwf_complex* spec = fftwf_alloc_complex(d.n_spec);
  fftwf_complex* zbuf = fftwf_alloc_complex(static_cast<std::size_t>(d.nyp) * d.nx);
  if (!real || !spec || !zbuf) {
    fftwf_free(real);
    fftwf_free(spec);
    fftwf_free(zbuf);
    throw std::bad_alloc();
  }
  fftwf_plan fwd2 = nullptr, inv2 = nullptr;
  {
    std::lock_guard<std::mutex> lk(peaks_detail::fftw_planner_mutex());
    fwd2 = fftwf_plan_dft_r2c_2d(d.ny, d.nx, real, spec, FFTW_ESTIMATE);
    inv2 = fftwf_plan_dft_c2r_2d(d.ny, d.nx, spec, real, FFTW_ESTIMATE);
    const fftw_iodim row{d.nx, 1, 1}, rows{d.nyp, d.nx, d.nx};
    const fftw_iodim col{d.ny, d.nxc, d.nxc}, cols{d.nxc, 1, 1};
    d.rows_fwd = fftwf_plan_guru_dft(1, &row, 1, &rows, zbuf, zbuf, FFTW_FORWARD, FFTW_ESTIMATE);
    d.rows_inv = fftwf_plan_guru_dft(1, &row, 1, &rows, zbuf, zbuf, FFTW_BACKWARD, FFTW_ESTIMATE);
    d.cols_fwd = fftwf_plan_guru_dft(1, &col, 1, &cols, spec, spec, FFTW_FORWARD, FFTW_ESTIMATE);
    d.cols_inv = fftwf_plan_guru_dft(1, &col, 1, &cols, spec, spec, FFTW_BACKWARD, FFTW_ESTIMATE);
  }
  auto release = [&] {
    std::lock_guard<std::mutex> lk(peaks_detail::fftw_planner_mutex());
    if (fwd2) fftwf_destroy_plan(fwd2);
    if (inv2) fftwf_destroy_plan(inv2);
    fftwf_free(real);
    fftwf_free(spec);
    fftwf_free(zbuf);
  };
  if (!fwd2 || !inv2 || !d.rows_fwd || !d.rows_inv || !d.cols_fwd || !d.cols_inv) {
    release();
    fail(ErrorKind::internal, "", "peaks: FFTW could not plan a ", d.ny, "x", d.nx, " transform");
  }

  // template spectrum; the factor 1/2 undoes the 2 of split_rows()
  std::copy(setup.probe.kernel.begin(), setup.probe.kernel.end(), real);
  fftwf_execute(fwd2);
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
      d.tspec[2 * s] = 0.5f * static_cast<float>(spec[s][0] * f);
      d.tspec[2 * s + 1] = 0.5f * static_cast<float>(-spec[s][1] * f);
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
    fftwf_execute(inv2);
    double wmax = 0;
    for (std::size_t i = 0; i < d.n_real; ++i) wmax = std::max(wmax, static_cast<double>(real[i]) * real[i]);
    // runs of consecutive columns per row, in signed offsets from the peak
    std::vector<int> dy, dx, begin;
    std::vector<float> w;
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
            run = static_cast<int>(w.size());
            dy.push_back(si);
            dx.push_back(sj);
            begin.push_back(run);
          }
          w.push_back(static_cast<float>(v * v));
        } else {
          run = -1;
        }
      }
    }
    begin.push_back(static_cast<int>(w.size()));
    // heaviest runs first, so that a candidate below the threshold is rejected early
    std::vector<int> order(dy.size());
    std::vector<double> weight(order.size(), 0.0);
    for (std::size_t r = 0; r < order.size(); ++r) {
      order[r] = static_cast<int>(r);
      for (int k = begin[r]; k < begin[r + 1]; ++k) weight[r] += w[static_cast<std::size_t>(k)];
    }
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return weight[static_cast<std::size_t>(a)] > weight[static_cast<std::size_t>(b)]; });
    for (int r : order) {
      const std::size_t ru = static_cast<std::size_t>(r);
      const int len = begin[ru + 1] - begin[ru], padded = (len + 7) / 8 * 8;
      d.run_dy.push_back(dy[ru]);
      d.run_dx.push_back(dx[ru]);
      d.run_off.push_back(dy[ru] * d.nx + dx[ru]);
      d.run_w.push_back(static_cast<int>(d.sup_w.size()));
      d.run_len.push_back(padded);
      d.sup_w.insert(d.sup_w.end(), w.begin() + begin[ru], w.begin() + begin[ru + 1]);
      d.sup_w.resize(d.sup_w.size() + static_cast<std::size_t>(padded - len), 0.0f);
      d.sup_top = std::max(d.sup_top, std::abs(dy[ru]));
      d.sup_left = std::max(d.sup_left, -dx[ru]);
      d.sup_right = std::max(d.sup_right, dx[ru] + padded - 1);
    }
  }

  // multicorr: spectrum terms where the sigma_cc transfer function is >= 1e-4
  if (d.mode_multicorr) {
    const double eps = p.sigma_cc > 0 ? 1e-4 : -1;
    for (int k = 0; k < d.ny; ++k)
      if (std::abs(gy[static_cast<std::size_t>(k)]) >= eps) d.mc_rows.push_back(k);
    d.mc_cols = 0;
    for (int l = 0; l < d.nxc; ++l)
      if (std::abs(gx[static_cast<std::size_t>(l)]) >= eps) d.mc_cols = l + 1;
    d.mc_k = static_cast<int>(d.mc_rows.size());
    d.mc_kp = (d.mc_k + 7) / 8 * 8;
    const double h = 1.0 / p.upsample_factor;
    const long nxu = static_cast<long>(d.nx) * p.upsample_factor, nyu = static_cast<long>(d.ny) * p.upsample_factor;
    if (nxu <= (1 << 16) && nyu <= (1 << 16)) {
      for (long n = 0; n < nxu; ++n) {
        const double th = 2 * std::numbers::pi * static_cast<double>(n) / static_cast<double>(nxu);
        d.mc_tx.push_back(static_cast<float>(std::cos(th)));
        d.mc_tx.push_back(static_cast<float>(std::sin(th)));
      }
      for (long n = 0; n < nyu; ++n) {
        const double th = 2 * std::numbers::pi * static_cast<double>(n) / static_cast<double>(nyu);
        d.mc_ty.push_back(std::cos(th));
        d.mc_ty.push_back(std::sin(th));
      }
    }
    for (int r = 0; r < d.mc_k; ++r) {
      const int kk = d.mc_rows[static_cast<std::size_t>(r)];
      const int ks = kk <= d.ny / 2 ? kk : kk - d.ny;
      const double th = 2 * std::numbers::pi * ks * h / d.ny;
      d.mc_str.push_back(std::cos(th));
      d.mc_sti.push_back(std::sin(th));
    }
    for (int l = 0; l < d.mc_cols; ++l) {
      const double th = 2 * std::numbers::pi * l * h / d.nx;
      d.mc_cb.push_back(static_cast<float>(std::cos(th)));
      d.mc_sb.push_back(static_cast<float>(std::sin(th)));
    }
  }

  // sigma_dp weights
  if (p.sigma_dp > 0) {
    const std::vector<double> w = gaussian_weights(p.sigma_dp);
    d.dp_w.assign(w.begin(), w.end());
  }

  // bad pixels and their good neighbours (8, else 24, else none -> 0)
  if (!setup.bad_pixels.empty()) {
    if (static_cast<std::int64_t>(setup.bad_pixels.size()) != det.y * det.x) {
      release();
      fail(ErrorKind::internal, "", "peaks: bad-pixel list of ", setup.bad_pixels.size(), " for ", det.y, "x", det.x);
    }
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
  release();
}

PeakFinder::~PeakFinder() {
  if (!impl_) return;
  std::lock_guard<std::mutex> lk(peaks_detail::fftw_planner_mutex());
  for (fftwf_plan pl : {impl_->rows_fwd, impl_->rows_inv, impl_->cols_fwd, impl_->cols_inv})
    if (pl) fftwf_destroy_plan(pl);
}

void PeakFinder::WorkspaceDeleter::operator()(Workspace* w) const { delete w; }

PeakFinder::WorkspacePtr PeakFinder::make_workspace() const {
  const Impl& d = *impl_;
  WorkspacePtr ws(new Workspace());
  const bool copy = !d.bad.empty() || !d.dp_w.empty();
  if (copy) ws->in = fftwf_alloc_real(d.n_real);
  if (!d.dp_w.empty()) ws->tmp = fftwf_alloc_real(d.n_real);
  ws->z = fftwf_alloc_real(2 * static_cast<std::size_t>(d.nyp) * d.nx);
  ws->spec = fftwf_alloc_real(2 * d.n_spec);
  ws->corr = fftwf_alloc_real(d.n_real);
  if (!ws->z || !ws->spec || !ws->corr || (copy && !ws->in) || (!d.dp_w.empty() && !ws->tmp)) throw std::bad_alloc();
  ws->cand.resize(static_cast<std::size_t>(d.ny / 2 + 1) * (d.nx / 2 + 1));
  ws->vals.reserve(ws->cand.size());
  if (d.mode_multicorr) {
    const std::size_t kp = static_cast<std::size_t>(d.mc_kp), nl = static_cast<std::size_t>(d.mc_cols);
    ws->sr.assign(nl * kp, 0.0f);
    ws->si.assign(nl * kp, 0.0f);
    ws->ar.assign(3 * kp, 0.0f);
    ws->ai.assign(3 * kp, 0.0f);
    ws->er.assign(3 * kp, 0.0);
    ws->ei.assign(3 * kp, 0.0);
    ws->pr.assign(nl, 0.0f);
    ws->pi.assign(nl, 0.0f);
    ws->rowphase.assign(2 * static_cast<std::size_t>(d.ny / 2 + 1), 0.0);
    ws->seen_y.assign(9 * 16, 0);
    ws->seen_x.assign(9 * 16, 0);
    ws->seen_f.assign(9 * 16, 0.0);
  }
  return ws;
}

const float* PeakFinder::correlation(const Workspace& ws) const { return ws.corr; }

// 1-2. The pattern the correlation sees: NaN/Inf check, bad pixels repaired, sigma_dp; packed
// into ws.z for the row transforms. Returns that pattern (the input itself if nothing is
// changed), or nullptr if it has NaN or infinite pixels.
const float* PeakFinder::Impl::prepare(const float* pattern, Workspace& ws) const {
  if (bad.empty() && dp_w.empty()) return k->pack_rows(pattern, ws.z, ny, nx) ? nullptr : pattern;
  // NaN or Inf (all exponent bits set): the bad pixels are checked here, the others by
  // pack_rows() below (a repaired value is a median of good pixels; smoothing keeps non-finite
  // values non-finite)
  std::uint32_t nonfinite = 0;
  for (int b : bad)
    nonfinite |= static_cast<std::uint32_t>((std::bit_cast<std::uint32_t>(pattern[b]) & 0x7f800000u) == 0x7f800000u);
  if (nonfinite) return nullptr;
  std::memcpy(ws.in, pattern, n_real * sizeof(float));
  for (std::size_t b = 0; b < bad.size(); ++b) {
    float vals[24];
    int n = 0;
    for (int q = nb_begin[b]; q < nb_begin[b + 1]; ++q) vals[n++] = pattern[nb[static_cast<std::size_t>(q)]];
    float v = 0;
    if (n > 0) {
      for (int a = 1; a < n; ++a)
        for (int c = a; c > 0 && vals[c - 1] > vals[c]; --c) std::swap(vals[c - 1], vals[c]);
      v = (n % 2) ? vals[n / 2] : 0.5f * (vals[n / 2 - 1] + vals[n / 2]);
    }
    ws.in[bad[b]] = v;
  }
  // sigma_dp (separable, scipy reflect)
  if (!dp_w.empty()) {
    const int r = static_cast<int>(dp_w.size() / 2);
    for (int i = 0; i < ny; ++i)
      for (int j = 0; j < nx; ++j) {
        double acc = 0;
        for (int t = -r; t <= r; ++t) acc += dp_w[static_cast<std::size_t>(t + r)] * ws.in[i * nx + reflect(j + t, nx)];
        ws.tmp[i * nx + j] = static_cast<float>(acc);
      }
    for (int i = 0; i < ny; ++i)
      for (int j = 0; j < nx; ++j) {
        double acc = 0;
        for (int t = -r; t <= r; ++t) acc += dp_w[static_cast<std::size_t>(t + r)] * ws.tmp[reflect(i + t, ny) * nx + j];
        ws.in[i * nx + j] = static_cast<float>(acc);
      }
  }
  return k->pack_rows(ws.in, ws.z, ny, nx) ? nullptr : ws.in;
}

// 3. The correlation map into ws.corr (unclipped); for multicorr the kept spectrum terms into
// ws.sr, ws.si.
void PeakFinder::Impl::correlate(Workspace& ws) const {
  fftwf_complex* z = reinterpret_cast<fftwf_complex*>(ws.z);
  fftwf_complex* sc = reinterpret_cast<fftwf_complex*>(ws.spec);
  fftwf_execute_dft(rows_fwd, z, z);
  k->split_rows(ws.z, ws.spec, ny, nx, nxc);
  fftwf_execute_dft(cols_fwd, sc, sc);
  float* s = ws.spec;
  const float* t = tspec.data();
  if (p.corr_power == 1) {
    k->multiply(s, t, n_spec);
  } else {
    const float pw = static_cast<float>(p.corr_power);
    for (std::size_t q = 0; q < n_spec; ++q) {
      const float a = s[2 * q], b = s[2 * q + 1], c = t[2 * q], e = t[2 * q + 1];
      const float mr = a * c - b * e, mi = a * e + b * c;
      const float m2 = mr * mr + mi * mi;
      float f = 0;
      if (m2 > 0) {
        if (pw == 0) f = 1.0f / std::sqrt(m2);
        else if (pw == 0.5f) f = 1.0f / std::sqrt(std::sqrt(m2));
        else f = std::pow(m2, 0.5f * (pw - 1.0f));
      }
      f *= gnorm[q];
      s[2 * q] = mr * f;
      s[2 * q + 1] = mi * f;
    }
  }
  if (mode_multicorr) {
    // the inverse transform destroys the spectrum: keep the terms the upsampled DFT uses,
    // column-major (rows in the vector lanes)
    const std::size_t kp = static_cast<std::size_t>(mc_kp);
    for (int r = 0; r < mc_k; ++r) {
      const float* row = s + 2 * static_cast<std::size_t>(mc_rows[static_cast<std::size_t>(r)]) * nxc;
      for (int l = 0; l < mc_cols; ++l) {
        ws.sr[static_cast<std::size_t>(l) * kp + static_cast<std::size_t>(r)] = row[2 * l];
        ws.si[static_cast<std::size_t>(l) * kp + static_cast<std::size_t>(r)] = row[2 * l + 1];
      }
    }
  }
  fftwf_execute_dft(cols_inv, sc, sc);
  k->join_rows(ws.spec, ws.z, ny, nx, nxc);
  fftwf_execute_dft(rows_inv, z, z);
  k->unpack_rows(ws.z, ws.corr, ny, nx);
}

// 4a. Strict local maxima of the map away from the edge (py4DSTEM's np.roll tests). The map is
// max(c, 0) (py4DSTEM clips before finding maxima); the clipping is done where values are read:
// a maximum is > 0, and for v > 0, v > max(n, 0) <=> v > n.
void PeakFinder::Impl::find_maxima(Workspace& ws) const {
  ws.n_cand = k->maxima(ws.corr, ny, nx, edge, ws.cand.data());
}

// 4b-5. Thresholds, order, greedy spacing with the isotropy and significance tests, up to
// max_num_peaks; peaks at their pixel positions into out. Returns their number.
int PeakFinder::Impl::select(const float* img, Workspace& ws, Peak* out) const {
  Cand* cand = ws.cand.data();
  std::size_t nc = static_cast<std::size_t>(ws.n_cand);
  const float min_abs = static_cast<float>(p.min_absolute_intensity);
  if (min_abs > 0) {
    std::size_t w = 0;
    for (std::size_t q = 0; q < nc; ++q)
      if (!(cand[q].v < min_abs)) cand[w++] = cand[q];
    nc = w;
  }
  if (nc == 0) return 0;
  // relative threshold against the relative_to_peak-th brightest
  const double min_rel = p.min_relative_intensity;
  const std::size_t rtp = static_cast<std::size_t>(p.relative_to_peak);
  if (min_rel > 0 && nc > rtp) {
    ws.vals.clear();
    for (std::size_t q = 0; q < nc; ++q) ws.vals.push_back(cand[q].v);
    std::nth_element(ws.vals.begin(), ws.vals.begin() + static_cast<std::ptrdiff_t>(rtp), ws.vals.end(),
                     std::greater<float>());
    const double ref = ws.vals[rtp];
    std::size_t w = 0;
    for (std::size_t q = 0; q < nc; ++q)
      if (!(static_cast<double>(cand[q].v) / ref < min_rel)) cand[w++] = cand[q];
    nc = w;
  }
  std::sort(cand, cand + nc, brighter);

  int n = 0;
  const int maxn = p.max_num_peaks;
  for (std::size_t qi = 0; qi < nc && n < maxn; ++qi) {
    const Cand& q = cand[qi];
    bool near = false;
    if (spacing2 > 0)
      for (int m = 0; m < n; ++m) {
        // kept peaks hold their pixel position until the sub-pixel step
        const double dy = out[m].qy - q.i, dx = out[m].qx - q.j;
        if (dy * dy + dx * dx < spacing2) {
          near = true;
          break;
        }
      }
    if (near) continue;
    // a candidate that fails a test is dropped and removes no neighbour
    if (use_isotropy && !isotropic(ws.corr, q)) continue;
    if (use_significance && !significant(img, q)) continue;
    out[n].qy = static_cast<float>(q.i);
    out[n].qx = static_cast<float>(q.j);
    out[n].intensity = q.v;
    ++n;
  }
  return n;
}

// Isotropy: min / max over 8 directions (every 22.5 deg) of the drop at 1.5 probe radii.
bool PeakFinder::Impl::isotropic(const float* c, const Cand& q) const {
  static const double dirs[8][2] = {{0, 1},
                                    {0.38268343236508977, 0.92387953251128674},
                                    {0.70710678118654752, 0.70710678118654752},
                                    {0.92387953251128674, 0.38268343236508977},
                                    {1, 0},
                                    {0.92387953251128674, -0.38268343236508977},
                                    {0.70710678118654752, -0.70710678118654752},
                                    {0.38268343236508977, -0.92387953251128674}};
  const double reach = 1.5 * radius;
  double lo = 1e300, hi = -1e300;
  for (const auto& e : dirs) {
    const float a = bilinear(c, ny, nx, q.i + reach * e[0], q.j + reach * e[1]);
    const float b = bilinear(c, ny, nx, q.i - reach * e[0], q.j - reach * e[1]);
    const double drop = q.v - 0.5 * (static_cast<double>(a) + b);
    lo = std::min(lo, drop);
    hi = std::max(hi, drop);
  }
  return hi > 0 && !(lo < p.min_isotropy * hi);
}

// Significance: correlation / sqrt(g sum t'^2 I) >= min_significance; the partial variance is
// a lower bound, so the sum stops as soon as it is too large. Near the edges the template wraps
// around (periodic, as the correlation).
bool PeakFinder::Impl::significant(const float* img, const Cand& q) const {
  const double limit = static_cast<double>(q.v) * q.v / (p.min_significance * p.min_significance * gain);
  const int nr = static_cast<int>(run_dy.size());
  if (q.i >= sup_top && q.i + sup_top < ny && q.j >= sup_left && q.j + sup_right < nx)
    return k->weighted_sum(sup_w.data(), img + q.i * nx + q.j, run_off.data(), run_w.data(), run_len.data(), nr, limit);
  double var = 0;
  for (int r = 0; r < nr; ++r) {
    const float* w = sup_w.data() + run_w[static_cast<std::size_t>(r)];
    const int len = run_len[static_cast<std::size_t>(r)];
    const float* row = img + static_cast<std::size_t>(((q.i + run_dy[static_cast<std::size_t>(r)]) % ny + ny) % ny) * nx;
    // the run's columns from x0, wrapping once at most
    int x = ((q.j + run_dx[static_cast<std::size_t>(r)]) % nx + nx) % nx;
    float acc = 0;
    for (int t = 0; t < len; ++t) {
      acc += w[t] * std::max(0.0f, row[x]);
      if (++x == nx) x = 0;
    }
    var += acc;
    if (var > limit) return false;
  }
  return true;
}

// 6. Sub-pixel positions of the n peaks in out (pixel positions on entry): poly, then for
// multicorr the local upsampled DFT from there. A further refinement step goes after this one.
void PeakFinder::Impl::refine(Workspace& ws, Peak* out, int n) const {
  if (mode_pixel) return;
  const float* c = ws.corr;
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
    if (mode_multicorr) refine_multicorr(ws, out[m]);
  }
}

// Column sums of the upsampled DFT for the columns gx - h, gx, gx + h into ws.ar, ws.ai.
void PeakFinder::Impl::mc_columns(Workspace& ws, double gx, long ix) const {
  // column phases w_l exp(2 pi i l x / M), w = 1 at l = 0 and the Nyquist column, else 2
  if (!mc_tx.empty()) {
    // x = ix h: exp(2 pi i l ix / (M u)) from the table
    const long nu = static_cast<long>(mc_tx.size() / 2);
    const long step = ((ix % nu) + nu) % nu;
    long idx = 0;
    for (int l = 0; l < mc_cols; ++l) {
      const float w = (l == 0 || (nx % 2 == 0 && l == nx / 2)) ? 1.0f : 2.0f;
      ws.pr[static_cast<std::size_t>(l)] = w * mc_tx[static_cast<std::size_t>(2 * idx)];
      ws.pi[static_cast<std::size_t>(l)] = w * mc_tx[static_cast<std::size_t>(2 * idx + 1)];
      idx += step;
      if (idx >= nu) idx -= nu;
    }
    k->mc_columns(ws.sr.data(), ws.si.data(), mc_cols, mc_kp, ws.pr.data(), ws.pi.data(), mc_cb.data(), mc_sb.data(),
                  ws.ar.data(), ws.ai.data());
    return;
  }
  const double th = 2 * std::numbers::pi * gx / nx;
  const double cr = std::cos(th), ci = std::sin(th);
  double zr = 1, zi = 0;
  for (int l = 0; l < mc_cols; ++l) {
    const double w = (l == 0 || (nx % 2 == 0 && l == nx / 2)) ? 1.0 : 2.0;
    ws.pr[static_cast<std::size_t>(l)] = static_cast<float>(w * zr);
    ws.pi[static_cast<std::size_t>(l)] = static_cast<float>(w * zi);
    const double nr = zr * cr - zi * ci;
    zi = zr * ci + zi * cr;
    zr = nr;
  }
  k->mc_columns(ws.sr.data(), ws.si.data(), mc_cols, mc_kp, ws.pr.data(), ws.pi.data(), mc_cb.data(), mc_sb.data(),
                ws.ar.data(), ws.ai.data());
}

// Row phases exp(2 pi i k_s y / N) for the rows gy - h, gy, gy + h into ws.er, ws.ei; k_s the
// signed frequency: the powers of exp(2 pi i gy / N) by recurrence (double precision), times
// exp(-/+ 2 pi i k_s h / N) for the rows gy -/+ h.
void PeakFinder::Impl::mc_rows_phase(Workspace& ws, double gy, long iy) const {
  const std::size_t kp = static_cast<std::size_t>(mc_kp);
  double* pw = ws.rowphase.data();
  if (!mc_ty.empty()) {
    // y = iy h: exp(2 pi i m iy / (N u)) from the table
    const long nu = static_cast<long>(mc_ty.size() / 2);
    const long step = ((iy % nu) + nu) % nu;
    long idx = 0;
    for (int m = 0; m <= ny / 2; ++m) {
      pw[2 * m] = mc_ty[static_cast<std::size_t>(2 * idx)];
      pw[2 * m + 1] = mc_ty[static_cast<std::size_t>(2 * idx + 1)];
      idx += step;
      if (idx >= nu) idx -= nu;
    }
  } else {
    const double th = 2 * std::numbers::pi * gy / ny;
    const double cr = std::cos(th), ci = std::sin(th);
    double zr = 1, zi = 0;
    for (int m = 0; m <= ny / 2; ++m) {
      pw[2 * m] = zr;
      pw[2 * m + 1] = zi;
      const double nr = zr * cr - zi * ci;
      zi = zr * ci + zi * cr;
      zr = nr;
    }
  }
  double* e0r = ws.er.data();
  double* e0i = ws.ei.data();
  double* e1r = e0r + kp;
  double* e1i = e0i + kp;
  double* e2r = e1r + kp;
  double* e2i = e1i + kp;
  for (int r = 0; r < mc_k; ++r) {
    const int kk = mc_rows[static_cast<std::size_t>(r)];
    const int ks = kk <= ny / 2 ? kk : kk - ny;
    const double a = pw[2 * std::abs(ks)], b = ks >= 0 ? pw[2 * ks + 1] : -pw[2 * -ks + 1];
    const double c = mc_str[static_cast<std::size_t>(r)], s = mc_sti[static_cast<std::size_t>(r)];
    e1r[r] = a;
    e1i[r] = b;
    e0r[r] = a * c + b * s;  // (a + ib)(c - is)
    e0i[r] = b * c - a * s;
    e2r[r] = a * c - b * s;  // (a + ib)(c + is)
    e2i[r] = b * c + a * s;
  }
}

// Local upsampled DFT (Guizar-Sicairos et al. 2008) on a 3 x 3 grid of spacing h = 1/u px around
// the peak, moved uphill until its centre is the maximum, then a parabola through that grid.
// The values of the grid points are kept as they are first computed: a point computed in
// another column of the 3 x 3 (the columns x -/+ h are summed differently from x) can differ in
// the last bits, and the walk must see one value per point (it then always ends).
void PeakFinder::Impl::refine_multicorr(Workspace& ws, Peak& pk) const {
  const double h = 1.0 / p.upsample_factor;
  double gy = std::round(pk.qy / h) * h, gx = std::round(pk.qx / h) * h;
  long iy = std::lround(pk.qy / h), ix = std::lround(pk.qx / h);  // grid indices of (gy, gx)
  double f[9], g[9];
  double col_x = 0, row_y = 0;
  bool have_cols = false, have_rows = false;
  std::size_t n_seen = 0;
  for (int step = 0; step < 16; ++step) {
    if (!have_cols || col_x != gx) {
      mc_columns(ws, gx, ix);
      col_x = gx;
      have_cols = true;
    }
    if (!have_rows || row_y != gy) {
      mc_rows_phase(ws, gy, iy);
      row_y = gy;
      have_rows = true;
    }
    k->mc_points(ws.er.data(), ws.ei.data(), ws.ar.data(), ws.ai.data(), mc_kp, g);
    for (int q = 0; q < 9; ++q) {
      const long py = iy + q / 3 - 1, px = ix + q % 3 - 1;
      std::size_t s = 0;
      while (s < n_seen && (ws.seen_y[s] != py || ws.seen_x[s] != px)) ++s;
      if (s == n_seen) {
        ws.seen_y[s] = py;
        ws.seen_x[s] = px;
        ws.seen_f[s] = g[q];
        ++n_seen;
      }
      f[q] = ws.seen_f[s];
    }
    int best = 4;
    for (int q = 0; q < 9; ++q)
      if (f[q] > f[best]) best = q;
    if (best == 4) break;
    gy += (best / 3 - 1) * h;
    gx += (best % 3 - 1) * h;
    iy += best / 3 - 1;
    ix += best % 3 - 1;
  }
  const double dyv = 4 * f[4] - 2 * f[7] - 2 * f[1], dxv = 4 * f[4] - 2 * f[5] - 2 * f[3];
  const double ddy = dyv > 0 ? (f[7] - f[1]) / dyv : 0, ddx = dxv > 0 ? (f[5] - f[3]) / dxv : 0;
  pk.qy = static_cast<float>(gy + ddy * h);
  pk.qx = static_cast<float>(gx + ddx * h);
  pk.intensity = static_cast<float>(std::max(0.0, f[4]));
}

int PeakFinder::find(const float* pattern, Peak* out, Workspace& ws) const {
  const Impl& d = *impl_;
  const float* img = d.prepare(pattern, ws);
  if (!img) return -1;
  d.correlate(ws);
  d.find_maxima(ws);
  const int n = d.select(img, ws, out);
  d.refine(ws, out, n);
  // 7. "fit": the disk model fitted to the (repaired) pattern around each peak, from poly's
  // positions
  if (d.mode_fit) peaks_detail::refine_fit(img, d.ny, d.nx, d.fit_profile, d.gain, out, n, ws.fit_scratch);
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

#pragma GCC diagnostic pop
