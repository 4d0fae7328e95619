// lib/origin/origin.cpp: the `origin` stage: central beam per position, robust descan fit,
// ellipse from the strongest ring, calibration and the Bragg vector map (see origin.hpp).
#include <Eigen/Dense>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <sstream>

#include "domainmap/error.hpp"
#include "domainmap/origin.hpp"
#include "ellipse_fit.hpp"

namespace domainmap {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string num(double v, int precision = 6) {
  std::ostringstream os;
  os.precision(precision);
  os << v;
  return os.str();
}

double median_of(std::vector<double> v) {
  if (v.empty()) return kNaN;
  const std::size_t h = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(h), v.end());
  double m = v[h];
  if (v.size() % 2 == 0) m = 0.5 * (m + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(h)));
  return m;
}

// Collects the notes of one run and sends each to the log as it is made.
struct Notes {
  const RunContext& ctx;
  std::vector<std::string>& lines;
  void info(const std::string& s) {
    lines.push_back(s);
    ctx.info("origin: " + s);
  }
  void warn(const std::string& s) {
    lines.push_back(s);
    ctx.warn("origin: " + s);
  }
};

void check_peaks(const PeakList& p) {
  const std::size_t n_pos = p.n_positions();
  if (n_pos == 0) fail(ErrorKind::bad_input, "", "origin: empty peak list (no scan positions)");
  if (p.scan.y <= 0 || p.scan.x <= 0 || static_cast<std::size_t>(p.scan.y * p.scan.x) != n_pos)
    fail(ErrorKind::bad_input, "", "origin: peak list of ", n_pos, " positions for a ", to_string(p.scan), " scan");
  if (p.offsets.front() != 0 || p.offsets.back() != p.size())
    fail(ErrorKind::bad_input, "", "origin: peak list offsets run from ", p.offsets.front(), " to ", p.offsets.back(),
         " for ", p.size(), " peaks");
  for (std::size_t i = 0; i < n_pos; ++i)
    if (p.offsets[i + 1] < p.offsets[i])
      fail(ErrorKind::bad_input, "", "origin: peak list offsets decrease at position ", i);
  if (p.qx_raw.size() != p.size() || p.intensity.size() != p.size())
    fail(ErrorKind::bad_input, "", "origin: peak list has ", p.size(), " qy_raw but ", p.qx_raw.size(), " qx_raw and ",
         p.intensity.size(), " intensity values");
}

std::string position_text(std::size_t i, std::int64_t Rx) {
  const auto k = static_cast<std::int64_t>(i);
  return "(" + std::to_string(k / Rx) + "," + std::to_string(k % Rx) + ")";
}

// Global index of the brightest peak of the chunk's position k within sqrt(r2) of (cy, cx), -1
// if none (ties go to the first peak); its raw position in *qy, *qx.
std::int64_t brightest_near(const PeakChunk& c, std::int64_t k, double cy, double cx, double r2, double* qy,
                            double* qx) {
  std::int64_t best = -1;
  float best_i = -std::numeric_limits<float>::infinity();
  for (std::size_t j = c.begin_of(k); j < c.end_of(k); ++j) {
    const double dy = c.qy_raw[j] - cy, dx = c.qx_raw[j] - cx;
    const float I = c.intensity[j];
    if (!(dy * dy + dx * dx <= r2) || !std::isfinite(I)) continue;
    if (best < 0 || I > best_i) {
      best = static_cast<std::int64_t>(c.first_peak() + j);
      best_i = I;
      *qy = c.qy_raw[j];
      *qx = c.qx_raw[j];
    }
  }
  return best;
}

enum class Kind { constant = 0, plane = 1, quadratic = 2 };
const char* kind_name(Kind k) { return k == Kind::quadratic ? "quadratic" : k == Kind::plane ? "plane" : "constant"; }

// The polynomial terms of the descan model over the normalised scan coordinates.
struct Basis {
  bool use_v = true, use_u = true;
  int n_terms(Kind k) const {
    int n = 1;
    if (k == Kind::constant) return n;
    n += int(use_v) + int(use_u);
    if (k == Kind::quadratic) n += int(use_v) + int(use_v && use_u) + int(use_u);
    return n;
  }
  void terms(Kind k, double v, double u, double* out) const {
    int n = 0;
    out[n++] = 1;
    if (k == Kind::constant) return;
    if (use_v) out[n++] = v;
    if (use_u) out[n++] = u;
    if (k != Kind::quadratic) return;
    if (use_v) out[n++] = v * v;
    if (use_v && use_u) out[n++] = u * v;
    if (use_u) out[n++] = u * u;
  }
};

struct Model {
  Kind kind = Kind::constant;
  Eigen::VectorXd cy, cx;
};

// Scan geometry: normalised coordinates of position i, computed when needed (no per-position
// storage).
struct ScanCoords {
  Shape2 scan;
  explicit ScanCoords(Shape2 s) : scan(s) {}
  double v(std::size_t i) const {
    const auto ry = static_cast<std::int64_t>(i) / scan.x;
    return scan.y > 1 ? double(ry) / double(scan.y - 1) - 0.5 : 0.0;
  }
  double u(std::size_t i) const {
    const auto rx = static_cast<std::int64_t>(i) % scan.x;
    return scan.x > 1 ? double(rx) / double(scan.x - 1) - 0.5 : 0.0;
  }
};

void evaluate(const Model& m, const Basis& b, const ScanCoords& sc, std::size_t i, double& qy, double& qx) {
  double t[6];
  b.terms(m.kind, sc.v(i), sc.u(i), t);
  qy = 0;
  qx = 0;
  for (Eigen::Index k = 0; k < m.cy.size(); ++k) {
    qy += m.cy(k) * t[k];
    qx += m.cx(k) * t[k];
  }
}

// Least squares of `kind` on the positions with use[i]; false if too few or degenerate.
// Tall-skinny QR, so that memory does not grow with the scan: the rows are taken in blocks of
// kSolveBlock positions, each block X_b = Q_b R_b is reduced to R_b and the first rows of
// Q_b^T Y_b, and the stacked reductions (the same normal matrix X^T X and X^T Y) are solved by
// a column-pivoting QR whose rank decides whether the model is determined.
constexpr Eigen::Index kSolveBlock = 4096;
bool solve(Kind kind, const Basis& b, const ScanCoords& sc, const std::vector<char>& use,
           const std::vector<double>& my, const std::vector<double>& mx, Model& out) {
  const int k = b.n_terms(kind);
  std::size_t n = 0;
  for (char c : use) n += c != 0;
  if (n < static_cast<std::size_t>(k)) return false;
  Eigen::MatrixXd X(std::min<Eigen::Index>(kSolveBlock, static_cast<Eigen::Index>(n)), k);
  Eigen::MatrixXd Y(X.rows(), 2);
  Eigen::MatrixXd S(0, k), T(0, 2);  // stacked reductions
  Eigen::Index r = 0;
  auto reduce = [&] {
    if (r == 0) return;
    Eigen::HouseholderQR<Eigen::MatrixXd> qr(X.topRows(r));
    const Eigen::Index m = std::min<Eigen::Index>(r, k);
    Eigen::MatrixXd R = qr.matrixQR().topRows(m);
    for (Eigen::Index a = 0; a < m; ++a)
      for (Eigen::Index c = 0; c < std::min<Eigen::Index>(a, k); ++c) R(a, c) = 0;
    const Eigen::MatrixXd QtY = (qr.householderQ().transpose() * Y.topRows(r)).topRows(m);
    S.conservativeResize(S.rows() + m, Eigen::NoChange);
    T.conservativeResize(T.rows() + m, Eigen::NoChange);
    S.bottomRows(m) = R;
    T.bottomRows(m) = QtY;
    r = 0;
  };
  for (std::size_t i = 0; i < use.size(); ++i) {
    if (!use[i]) continue;
    double t[6];
    b.terms(kind, sc.v(i), sc.u(i), t);
    for (int c = 0; c < k; ++c) X(r, c) = t[c];
    Y(r, 0) = my[i];
    Y(r, 1) = mx[i];
    if (++r == X.rows()) reduce();
  }
  reduce();
  Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(S);
  qr.setThreshold(1e-9);
  if (qr.rank() < k) return false;
  const Eigen::MatrixXd C = qr.solve(T);
  out.kind = kind;
  out.cy = C.col(0);
  out.cx = C.col(1);
  return true;
}

// The robust fit of one model kind (see origin.hpp): false if it cannot be fitted.
bool robust_fit(Kind kind, const Basis& b, const ScanCoords& sc, const std::vector<char>& measured,
                const std::vector<double>& my, const std::vector<double>& mx, const OriginParams& p, Model& model,
                std::vector<char>& inlier) {
  inlier = measured;
  const int k = b.n_terms(kind);
  for (int it = 0;; ++it) {
    if (!solve(kind, b, sc, inlier, my, mx, model)) return false;
    if (!p.robust || it + 1 >= p.robust_iterations) return true;
    std::vector<double> d(measured.size(), kNaN), dm;
    for (std::size_t i = 0; i < measured.size(); ++i) {
      if (!measured[i]) continue;
      double fy, fx;
      evaluate(model, b, sc, i, fy, fx);
      d[i] = std::hypot(my[i] - fy, mx[i] - fx);
      dm.push_back(d[i]);
    }
    // s: per-axis noise from the median distance (Rayleigh median = 1.1774 sigma).
    const double s = median_of(dm) / 1.1774;
    const double thr = std::max(p.outlier_px, p.outlier_sigma * s);
    std::vector<char> next(measured.size(), 0);
    std::size_t n = 0;
    for (std::size_t i = 0; i < measured.size(); ++i)
      if (measured[i] && d[i] <= thr) next[i] = 1, ++n;
    if (next == inlier || n < static_cast<std::size_t>(k)) return true;
    inlier = std::move(next);
  }
}

// Radial histogram of the non-central peaks, bins of kRingBin px, accumulated chunk by chunk.
constexpr double kRingBin = 0.25;
struct RadialHistogram {
  std::vector<double> hist;
  double rmax = 0;
  std::size_t n = 0;
  void add(double r) {
    const auto b = static_cast<std::size_t>(r / kRingBin);
    if (b >= hist.size()) hist.resize(std::max(b + 1, 2 * hist.size()), 0.0);
    hist[b] += 1;
    rmax = std::max(rmax, r);
    ++n;
  }
  // Candidates with radius in [lo, hi], counted by whole bins (never fewer than there are).
  double count_between(double lo, double hi) const {
    if (hist.empty() || hi < lo) return 0;
    const auto b0 = static_cast<std::size_t>(std::max(0.0, lo) / kRingBin);
    const std::size_t b1 = std::min(hist.size() - 1, static_cast<std::size_t>(std::max(0.0, std::min(hi, rmax)) / kRingBin));
    double c = 0;
    for (std::size_t b = b0; b <= b1 && b < hist.size(); ++b) c += hist[b];
    return c;
  }
};

// Radius of the strongest ring of the radial histogram of the non-central peaks (bins of
// 0.25 px smoothed by [1, 2, 1] / 4: a shell spread by the ellipse over a width proportional to
// its radius, the narrow inner rings are favoured); false if there is none.
bool strongest_ring(const RadialHistogram& h, double& r_peak) {
  if (h.n == 0 || !(h.rmax > 0)) return false;
  const std::size_t nb = static_cast<std::size_t>(h.rmax / kRingBin) + 2;
  std::vector<double> hist(nb, 0.0), sm(nb, 0.0);
  std::copy_n(h.hist.begin(), std::min(nb, h.hist.size()), hist.begin());
  for (std::size_t i = 0; i < nb; ++i)
    sm[i] = 0.5 * hist[i] + 0.25 * ((i > 0 ? hist[i - 1] : 0) + (i + 1 < nb ? hist[i + 1] : 0));
  const std::size_t k = static_cast<std::size_t>(std::max_element(sm.begin(), sm.end()) - sm.begin());
  if (!(sm[k] > 0)) return false;
  r_peak = (double(k) + 0.5) * kRingBin;
  return true;
}

} // namespace


OriginResult fit_origin(PeakChunkSource& src, const OriginParams& p, RunContext& ctx, const CorrectedPeaksFn& out) {
  const Shape2 scan = src.scan();
  if (scan.y <= 0 || scan.x <= 0) fail(ErrorKind::bad_input, "", "origin: empty peak list (no scan positions)");
  validate(p, src.detector());
  check_cancel(ctx);
  OriginResult res;
  Notes notes{ctx, res.notes};
  const std::size_t n_pos = static_cast<std::size_t>(scan.y * scan.x);
  const std::int64_t Rx = scan.x;
  const double r2 = p.center_max_dist_px * p.center_max_dist_px;
  const std::string dist_key = "origin.center_max_dist_px = " + num(p.center_max_dist_px);
  if (src.n_peaks() == 0) fail(ErrorKind::bad_input, "", "origin: the peak list has no peaks");
  ctx.report("origin", 0, 4);
  // one pass over the peaks, chunk by chunk; fn(chunk, k, i) for each position i = first + k
  auto each_position = [&](const std::function<void(const PeakChunk&, std::int64_t, std::size_t)>& fn) {
    src.for_each([&](const PeakChunk& c) {
      check_cancel(ctx);
      for (std::int64_t k = 0; k < c.n_positions; ++k) fn(c, k, static_cast<std::size_t>(c.first_position + k));
    });
  };

  // 1. Expected centre.
  double cy = p.center_qy, cx = p.center_qx;
  const bool auto_centre = cy < 0;
  if (auto_centre) {
    // Bragg peaks come in Friedel pairs +-g around the origin, so the centroid of a pattern's
    // peaks lies near its central beam whether or not that was found; the median over the
    // patterns shrugs off the ones whose peaks are cut by the detector edge or spurious.
    std::vector<double> my0, mx0;
    each_position([&](const PeakChunk& c, std::int64_t k, std::size_t) {
      double sy = 0, sx = 0;
      std::size_t n = 0;
      for (std::size_t j = c.begin_of(k); j < c.end_of(k); ++j) {
        if (!std::isfinite(c.qy_raw[j]) || !std::isfinite(c.qx_raw[j])) continue;
        sy += c.qy_raw[j];
        sx += c.qx_raw[j];
        ++n;
      }
      if (n == 0) return;
      my0.push_back(sy / double(n));
      mx0.push_back(sx / double(n));
    });
    if (my0.empty()) fail(ErrorKind::bad_input, "", "origin: no peak has a finite position");
    cy = median_of(my0);
    cx = median_of(mx0);
  }
  const std::string centre_text = "(" + num(cy) + ", " + num(cx) + ")" + (auto_centre ? " (automatic)" : "");

  // 2. Central beams and the descan model.
  const ScanCoords sc(scan);
  Basis basis;
  basis.use_v = scan.y > 1;
  basis.use_u = scan.x > 1;
  const Kind wanted = !basis.use_v && !basis.use_u ? Kind::constant
                     : p.model == "plane"           ? Kind::plane
                                                    : Kind::quadratic;
  std::vector<double> pred_y(n_pos, cy), pred_x(n_pos, cx);
  // sel: the central beams of the last round fitted; s, sy, sx: this round's choice (raw
  // positions are floats, so float storage is exact)
  std::vector<std::int64_t> sel(n_pos, -1), s(n_pos, -1);
  std::vector<double> my(n_pos, kNaN), mx(n_pos, kNaN);
  std::vector<float> sy(n_pos, std::numeric_limits<float>::quiet_NaN()), sx(sy);
  std::vector<char> measured(n_pos, 0), inlier;
  Model model;
  const int rounds = p.model == "none" || !p.robust ? 1 : p.robust_iterations;
  for (int round = 0; round < rounds; ++round) {
    std::size_t n_found = 0;
    each_position([&](const PeakChunk& c, std::int64_t k, std::size_t i) {
      double y = kNaN, x = kNaN;
      s[i] = brightest_near(c, k, pred_y[i], pred_x[i], r2, &y, &x);
      sy[i] = static_cast<float>(y);
      sx[i] = static_cast<float>(x);
      n_found += s[i] >= 0;
    });
    if (n_found == 0) {
      if (round == 0)
        fail(ErrorKind::bad_input, "", "origin: no scan position has a peak within ", dist_key, " px of the expected centre ",
             centre_text, "; set origin.center_qy/center_qx or raise origin.center_max_dist_px");
      break;  // the model moved away from every peak: keep the previous round
    }
    if (round > 0 && s == sel) break;  // the same choice as the round fitted last
    sel = s;
    for (std::size_t i = 0; i < n_pos; ++i) {
      measured[i] = sel[i] >= 0;
      my[i] = measured[i] ? sy[i] : kNaN;
      mx[i] = measured[i] ? sx[i] : kNaN;
    }
    if (p.model == "none") break;
    Kind k = wanted;
    while (!robust_fit(k, basis, sc, measured, my, mx, p, model, inlier)) {
      if (k == Kind::constant)
        fail(ErrorKind::internal, "", "origin: constant descan model failed with ", n_found, " measured positions");
      k = static_cast<Kind>(static_cast<int>(k) - 1);
    }
    for (std::size_t i = 0; i < n_pos; ++i) evaluate(model, basis, sc, i, pred_y[i], pred_x[i]);
  }
  std::vector<std::int64_t>().swap(s);
  std::vector<float>().swap(sy);
  std::vector<float>().swap(sx);
  std::vector<double>().swap(pred_y);
  std::vector<double>().swap(pred_x);
  check_cancel(ctx);
  ctx.report("origin", 1, 4);

  OriginMap& o = res.origin;
  o.scan = scan;
  o.qy0.resize(n_pos);
  o.qx0.resize(n_pos);
  o.qy0_measured.resize(n_pos);
  o.qx0_measured.resize(n_pos);
  res.central_peak = std::move(sel);
  const std::vector<std::int64_t>& central = res.central_peak;
  std::int64_t n_measured = 0;
  std::size_t first_missing = n_pos;
  for (std::size_t i = 0; i < n_pos; ++i) {
    o.qy0_measured[i] = static_cast<float>(my[i]);
    o.qx0_measured[i] = static_cast<float>(mx[i]);
    if (measured[i]) ++n_measured;
    else if (first_missing == n_pos) first_missing = i;
  }
  res.n_measured = n_measured;
  const std::int64_t n_total = static_cast<std::int64_t>(n_pos);
  notes.info("central beam found at " + std::to_string(n_measured) + " of " + std::to_string(n_total) +
             " positions (brightest peak within " + num(p.center_max_dist_px) + " px of " +
             (p.model == "none" ? "the expected centre " + centre_text : "the descan model; first guess " + centre_text) +
             ")");
  if (n_measured < n_total)
    notes.warn(std::to_string(n_total - n_measured) + " of " + std::to_string(n_total) +
               " positions have no central beam within " + num(p.center_max_dist_px) + " px; first at " +
               position_text(first_missing, Rx));

  if (p.model == "none") {
    std::vector<double> vy, vx;
    for (std::size_t i = 0; i < n_pos; ++i)
      if (measured[i]) vy.push_back(my[i]), vx.push_back(mx[i]);
    const double fy = median_of(vy), fx = median_of(vx);
    for (std::size_t i = 0; i < n_pos; ++i) {
      o.qy0[i] = static_cast<float>(measured[i] ? my[i] : fy);
      o.qx0[i] = static_cast<float>(measured[i] ? mx[i] : fx);
    }
    res.model = "none";
    res.inlier.assign(measured.begin(), measured.end());
    if (n_measured < n_total)
      notes.info("model none: positions without a central beam take the median origin (" + num(fy) + ", " + num(fx) +
                 ")");
  } else {
    res.model = kind_name(model.kind);
    if (model.kind != wanted)
      notes.warn("too few inlier positions, or not spread over the scan, for the " + std::string(kind_name(wanted)) +
                 " descan model (" + std::to_string(basis.n_terms(wanted)) + " terms); fitted " + res.model +
                 " instead");
    res.inlier.assign(inlier.begin(), inlier.end());
    double ss = 0;
    std::int64_t n_in = 0;
    std::size_t first_out = n_pos;
    double ymin = kNaN, ymax = kNaN, xmin = kNaN, xmax = kNaN;
    for (std::size_t i = 0; i < n_pos; ++i) {
      double fy, fx;
      evaluate(model, basis, sc, i, fy, fx);
      o.qy0[i] = static_cast<float>(fy);
      o.qx0[i] = static_cast<float>(fx);
      ymin = i == 0 ? fy : std::min(ymin, fy);
      ymax = i == 0 ? fy : std::max(ymax, fy);
      xmin = i == 0 ? fx : std::min(xmin, fx);
      xmax = i == 0 ? fx : std::max(xmax, fx);
      if (inlier[i]) {
        ss += (my[i] - fy) * (my[i] - fy) + (mx[i] - fx) * (mx[i] - fx);
        ++n_in;
      } else if (measured[i] && first_out == n_pos) {
        first_out = i;
      }
    }
    res.n_outliers = n_measured - n_in;
    res.residual_rms_px = n_in > 0 ? std::sqrt(ss / double(n_in)) : 0;
    if (!basis.use_v && !basis.use_u)
      notes.info("the scan has a single position: constant origin");
    else if (!basis.use_v || !basis.use_u)
      notes.info(std::string("the scan has a single ") + (!basis.use_v ? "row" : "column") +
                 ": the descan model varies along the other axis only");
    notes.info("descan model " + res.model + " fitted on " + std::to_string(n_in) + " positions, RMS residual " +
               num(res.residual_rms_px, 4) + " px; origin qy " + num(ymin, 5) + ".." + num(ymax, 5) + ", qx " +
               num(xmin, 5) + ".." + num(xmax, 5) + " px");
    if (res.n_outliers > 0)
      notes.warn(std::to_string(res.n_outliers) + " of " + std::to_string(n_measured) +
                 " measured origins rejected as outliers of the descan fit; first at " + position_text(first_out, Rx));
  }
  check_cancel(ctx);
  ctx.report("origin", 2, 4);

  // 3. Ellipse and calibration from one ring of origin-corrected, non-central peaks.
  const bool ring_given = p.ring_q_min_px > 0 || p.ring_q_max_px > 0;
  const bool need_ring = p.fit_ellipse || p.lattice_spacing_A > 0;
  // the ring's peaks relative to the origin (a subsample of at most kMaxRingPoints in a band)
  std::vector<double> vy, vx, radii;
  std::vector<std::size_t> ring;  // indices into vy, vx, radii
  // every peak but the central beams, |q| >= 1 px: fn(dy, dx, r)
  auto each_candidate = [&](const std::function<void(double, double, double)>& fn) {
    each_position([&](const PeakChunk& c, std::int64_t k, std::size_t i) {
      const double oy = o.qy0[i], ox = o.qx0[i];
      for (std::size_t j = c.begin_of(k); j < c.end_of(k); ++j) {
        if (static_cast<std::int64_t>(c.first_peak() + j) == central[i]) continue;
        const double dy = c.qy_raw[j] - oy, dx = c.qx_raw[j] - ox;
        const double r = std::hypot(dy, dx);
        if (!std::isfinite(r) || r < 1) continue;
        fn(dy, dx, r);
      }
    });
  };
  if (need_ring) {
    RadialHistogram hist;
    each_candidate([&](double, double, double r) { hist.add(r); });
    double r_peak = 0;
    const bool have_ring = ring_given || strongest_ring(hist, r_peak);
    if (have_ring) {
      // the band of radii whose peaks are kept: the given ring, or 3 ring_rel_width around the
      // strongest (the refits below choose by corrected radius, within a/b - 1 < ring_rel_width)
      const double lo = ring_given ? p.ring_q_min_px : r_peak * (1 - 3 * p.ring_rel_width);
      const double hi = ring_given ? p.ring_q_max_px : r_peak * (1 + 3 * p.ring_rel_width);
      const double est = hist.count_between(lo, hi);
      const auto stride = static_cast<std::uint64_t>(std::max(1.0, std::ceil(est / double(kMaxRingPoints))));
      std::uint64_t seen = 0;
      each_candidate([&](double dy, double dx, double r) {
        if (!(r >= lo && r <= hi)) return;
        if (seen++ % stride != 0) return;
        vy.push_back(dy);
        vx.push_back(dx);
        radii.push_back(r);
      });
      if (stride > 1)
        notes.info("the ring band " + num(lo, 5) + ".." + num(hi, 5) + " px has " + std::to_string(seen) +
                   " peaks: every " + std::to_string(stride) + "th is used for the ellipse and the ring radius");
    }
    auto points = [&](const std::vector<std::size_t>& set, std::vector<double>& x, std::vector<double>& y) {
      x.clear();
      y.clear();
      for (std::size_t k : set) x.push_back(vx[k]), y.push_back(vy[k]);
    };
    std::vector<double> px, py;
    if (ring_given) {
      for (std::size_t k = 0; k < radii.size(); ++k)
        if (radii[k] >= p.ring_q_min_px && radii[k] <= p.ring_q_max_px) ring.push_back(k);
      if (p.fit_ellipse) {
        points(ring, px, py);
        res.ellipse = origin_detail::fit_ellipse_points(
            px, py, "ellipse ring " + num(p.ring_q_min_px) + ".." + num(p.ring_q_max_px) + " px");
      }
    } else if (have_ring) {
      for (std::size_t k = 0; k < radii.size(); ++k)
        if (std::abs(radii[k] - r_peak) <= p.ring_rel_width * r_peak) ring.push_back(k);
      // Fit, correct, keep the peaks close to the corrected ring's radius, refit: the corrected
      // ring is sharp, so neighbouring shells fall away.
      if (p.fit_ellipse) {
        try {
          for (int it = 0; it < 10; ++it) {
            points(ring, px, py);
            res.ellipse = origin_detail::fit_ellipse_points(
                px, py, "ellipse ring " + num(r_peak * (1 - p.ring_rel_width), 5) + ".." +
                            num(r_peak * (1 + p.ring_rel_width), 5) + " px (strongest ring)");
            const std::array<double, 4> T = origin_detail::correction_matrix(res.ellipse, 0);
            std::vector<double> rho(radii.size()), rr, dev;
            for (std::size_t k = 0; k < radii.size(); ++k)
              rho[k] = std::hypot(T[0] * vy[k] + T[1] * vx[k], T[2] * vy[k] + T[3] * vx[k]);
            for (std::size_t k : ring) rr.push_back(rho[k]);
            const double rc = median_of(rr);
            for (std::size_t k : ring) dev.push_back(std::abs(rho[k] - rc));
            const double w = std::max(4 * 1.4826 * median_of(dev), 1e-3 * rc);
            std::vector<std::size_t> next;
            for (std::size_t k = 0; k < radii.size(); ++k)
              if (std::abs(rho[k] - rc) <= w) next.push_back(k);
            if (next == ring || next.size() < 5) break;
            ring = std::move(next);
          }
        } catch (const Error& e) {
          if (e.kind() != ErrorKind::bad_input) throw;
          notes.warn(std::string("no elliptical correction: ") + e.what());
          res.ellipse = EllipseDistortion{};
        }
      }
    } else if (p.fit_ellipse) {
      notes.warn("no ring of Bragg peaks besides the central beams: no elliptical correction");
    }
    if (!ring.empty()) {
      double lo = radii[ring[0]], hi = lo;
      for (std::size_t k : ring) lo = std::min(lo, radii[k]), hi = std::max(hi, radii[k]);
      res.ring_q_min_px = ring_given ? p.ring_q_min_px : lo;
      res.ring_q_max_px = ring_given ? p.ring_q_max_px : hi;
    }
    res.ring_points = static_cast<std::int64_t>(ring.size());
    if (res.ellipse.fitted) {
      const EllipseDistortion& e = res.ellipse;
      notes.info("ellipse from the ring " + num(res.ring_q_min_px, 5) + ".." + num(res.ring_q_max_px, 5) + " px (" +
                 std::to_string(ring.size()) + " peaks" + (ring_given ? "" : ", strongest ring") +
                 "): a = " + num(e.a, 6) + " px, b = " + num(e.b, 6) + " px, b/a = " + num(e.b / e.a, 6) +
                 ", theta = " + num(e.theta_deg, 5) + " deg");
    }
    if (p.lattice_spacing_A > 0 && ring.empty())
      fail(ErrorKind::bad_input, "", "origin.lattice_spacing_A = ", num(p.lattice_spacing_A),
           ": no peaks in the ring to calibrate from; give the ring with origin.ring_q_min_px/ring_q_max_px");
  }
  check_cancel(ctx);
  ctx.report("origin", 3, 4);

  // 4. Corrected vectors (as correct_peaks()), ring radius, calibration, Bragg vector map.
  res.scan_rotation_deg = p.scan_rotation_deg;
  o.scan_rotation_deg = p.scan_rotation_deg;
  const std::array<double, 4> T = origin_detail::correction_matrix(res.ellipse, p.scan_rotation_deg);
  if (!ring.empty()) {
    std::vector<double> rr;
    rr.reserve(ring.size());
    for (std::size_t k : ring) {
      const float qy = static_cast<float>(T[0] * vy[k] + T[1] * vx[k]);
      const float qx = static_cast<float>(T[2] * vy[k] + T[3] * vx[k]);
      rr.push_back(std::hypot(double(qy), double(qx)));
    }
    res.ring_radius_px = median_of(rr);
  }
  std::vector<double>().swap(vy);
  std::vector<double>().swap(vx);
  std::vector<double>().swap(radii);
  if (p.q_pixel_inv_A > 0) {
    res.q_pixel_inv_A = p.q_pixel_inv_A;
    o.calibration_source = "given";
    notes.info("detector pixel " + num(res.q_pixel_inv_A, 6) + " 1/A (given)");
  } else if (p.lattice_spacing_A > 0) {
    if (!(res.ring_radius_px > 0))
      fail(ErrorKind::bad_input, "", "origin.lattice_spacing_A = ", num(p.lattice_spacing_A),
           ": the ring has no radius to calibrate from");
    res.q_pixel_inv_A = 1 / (p.lattice_spacing_A * res.ring_radius_px);
    o.calibration_source = "ring";
    notes.info("detector pixel " + num(res.q_pixel_inv_A, 6) + " 1/A (ring radius " + num(res.ring_radius_px, 6) +
               " px = 1 / " + num(p.lattice_spacing_A, 6) + " A)");
  }
  o.q_pixel_inv_A = res.q_pixel_inv_A;
  // the corrected vectors of one chunk into cqy, cqx
  std::vector<float> cqy, cqx;
  auto correct_chunk = [&](const PeakChunk& c) {
    cqy.resize(c.n_peaks());
    cqx.resize(c.n_peaks());
    for (std::int64_t k = 0; k < c.n_positions; ++k) {
      const std::size_t i = static_cast<std::size_t>(c.first_position + k);
      const double oy = o.qy0[i], ox = o.qx0[i];
      for (std::size_t j = c.begin_of(k); j < c.end_of(k); ++j) {
        const double dy = c.qy_raw[j] - oy, dx = c.qx_raw[j] - ox;
        cqy[j] = static_cast<float>(T[0] * dy + T[1] * dx);
        cqx[j] = static_cast<float>(T[2] * dy + T[3] * dx);
      }
    }
  };
  double max_abs_q = 0;
  if (p.bvm_size == 0 && p.bvm_pixel > 0 && std::isfinite(p.bvm_pixel))
    src.for_each([&](const PeakChunk& c) {
      check_cancel(ctx);
      correct_chunk(c);
      for (std::size_t j = 0; j < cqy.size(); ++j) {
        const double ay = std::abs(double(cqy[j])), ax = std::abs(double(cqx[j]));
        if (std::isfinite(ay) && std::isfinite(ax)) max_abs_q = std::max({max_abs_q, ay, ax});
      }
    });
  BraggVectorMapAccumulator bvm(p.bvm_size, p.bvm_pixel, max_abs_q, src.detector());
  src.for_each([&](const PeakChunk& c) {
    check_cancel(ctx);
    correct_chunk(c);
    bvm.add(cqy.data(), cqx.data(), cqy.size());
    if (out) out(c, cqy.data(), cqx.data());
  });
  const std::int64_t outside = bvm.n_outside();
  res.bvm = bvm.take();
  if (outside > 0)
    notes.warn(std::to_string(outside) + " of " + std::to_string(src.n_peaks()) + " peaks fall outside the " +
               std::to_string(res.bvm.size) + " x " + std::to_string(res.bvm.size) +
               " Bragg vector map and are not in it");
  ctx.report("origin", 4, 4);
  return res;
}

OriginResult fit_origin(const PeakList& peaks, const OriginParams& p, RunContext& ctx) {
  check_peaks(peaks);
  PeakListChunks src(peaks);
  std::vector<float> qy, qx;
  OriginResult res = fit_origin(src, p, ctx, [&](const PeakChunk& c, const float* cy, const float* cx) {
    if (qy.empty()) {
      qy.resize(peaks.size());
      qx.resize(peaks.size());
    }
    std::copy_n(cy, c.n_peaks(), qy.begin() + static_cast<std::ptrdiff_t>(c.first_peak()));
    std::copy_n(cx, c.n_peaks(), qx.begin() + static_cast<std::ptrdiff_t>(c.first_peak()));
  });
  res.corrected = peaks;
  qy.resize(peaks.size());
  qx.resize(peaks.size());
  res.corrected.qy = std::move(qy);
  res.corrected.qx = std::move(qx);
  return res;
}

} // namespace domainmap
