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

// Index of the brightest peak of position i within sqrt(r2) of (cy, cx), -1 if none; ties go
// to the first peak.
std::int64_t brightest_near(const PeakList& p, std::size_t i, double cy, double cx, double r2) {
  std::int64_t best = -1;
  float best_i = -std::numeric_limits<float>::infinity();
  for (std::size_t j = p.begin_of(i); j < p.end_of(i); ++j) {
    const double dy = p.qy_raw[j] - cy, dx = p.qx_raw[j] - cx;
    const float I = p.intensity[j];
    if (!(dy * dy + dx * dx <= r2) || !std::isfinite(I)) continue;
    if (best < 0 || I > best_i) {
      best = static_cast<std::int64_t>(j);
      best_i = I;
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

// Scan geometry: normalised coordinates of every position.
struct ScanCoords {
  std::vector<double> v, u;
  ScanCoords(Shape2 scan) {
    const std::size_t n = static_cast<std::size_t>(scan.y * scan.x);
    v.resize(n);
    u.resize(n);
    for (std::int64_t ry = 0; ry < scan.y; ++ry)
      for (std::int64_t rx = 0; rx < scan.x; ++rx) {
        const std::size_t i = static_cast<std::size_t>(ry * scan.x + rx);
        v[i] = scan.y > 1 ? double(ry) / double(scan.y - 1) - 0.5 : 0.0;
        u[i] = scan.x > 1 ? double(rx) / double(scan.x - 1) - 0.5 : 0.0;
      }
  }
};

void evaluate(const Model& m, const Basis& b, const ScanCoords& sc, std::size_t i, double& qy, double& qx) {
  double t[6];
  b.terms(m.kind, sc.v[i], sc.u[i], t);
  qy = 0;
  qx = 0;
  for (Eigen::Index k = 0; k < m.cy.size(); ++k) {
    qy += m.cy(k) * t[k];
    qx += m.cx(k) * t[k];
  }
}

// Least squares of `kind` on the positions with use[i]; false if too few or degenerate.
bool solve(Kind kind, const Basis& b, const ScanCoords& sc, const std::vector<char>& use,
           const std::vector<double>& my, const std::vector<double>& mx, Model& out) {
  const int k = b.n_terms(kind);
  std::size_t n = 0;
  for (char c : use) n += c != 0;
  if (n < static_cast<std::size_t>(k)) return false;
  Eigen::MatrixXd X(static_cast<Eigen::Index>(n), k);
  Eigen::MatrixXd Y(static_cast<Eigen::Index>(n), 2);
  Eigen::Index r = 0;
  for (std::size_t i = 0; i < use.size(); ++i) {
    if (!use[i]) continue;
    double t[6];
    b.terms(kind, sc.v[i], sc.u[i], t);
    for (int c = 0; c < k; ++c) X(r, c) = t[c];
    Y(r, 0) = my[i];
    Y(r, 1) = mx[i];
    ++r;
  }
  Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(X);
  qr.setThreshold(1e-9);
  if (qr.rank() < k) return false;
  const Eigen::MatrixXd C = qr.solve(Y);
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

// Radius of the strongest ring of the radial histogram of the non-central peaks (bins of
// 0.25 px smoothed by [1, 2, 1] / 4: a shell spread by the ellipse over a width proportional to
// its radius, the narrow inner rings are favoured); false if there is none.
bool strongest_ring(const std::vector<double>& radii, double& r_peak) {
  constexpr double h = 0.25;
  double rmax = 0;
  for (double r : radii) rmax = std::max(rmax, r);
  if (radii.empty() || !(rmax > 0)) return false;
  const std::size_t nb = static_cast<std::size_t>(rmax / h) + 2;
  std::vector<double> hist(nb, 0.0), sm(nb, 0.0);
  for (double r : radii) hist[static_cast<std::size_t>(r / h)] += 1;
  for (std::size_t i = 0; i < nb; ++i)
    sm[i] = 0.5 * hist[i] + 0.25 * ((i > 0 ? hist[i - 1] : 0) + (i + 1 < nb ? hist[i + 1] : 0));
  const std::size_t k = static_cast<std::size_t>(std::max_element(sm.begin(), sm.end()) - sm.begin());
  if (!(sm[k] > 0)) return false;
  r_peak = (double(k) + 0.5) * h;
  return true;
}

} // namespace

OriginResult fit_origin(const PeakList& peaks, const OriginParams& p, RunContext& ctx) {
  check_peaks(peaks);
  validate(p, peaks.detector);
  check_cancel(ctx);
  OriginResult res;
  Notes notes{ctx, res.notes};
  const std::size_t n_pos = peaks.n_positions();
  const std::int64_t Rx = peaks.scan.x;
  const double r2 = p.center_max_dist_px * p.center_max_dist_px;
  const std::string dist_key = "origin.center_max_dist_px = " + num(p.center_max_dist_px);
  if (peaks.size() == 0) fail(ErrorKind::bad_input, "", "origin: the peak list has no peaks");
  ctx.report("origin", 0, 4);

  // 1. Expected centre.
  double cy = p.center_qy, cx = p.center_qx;
  const bool auto_centre = cy < 0;
  if (auto_centre) {
    // Bragg peaks come in Friedel pairs +-g around the origin, so the centroid of a pattern's
    // peaks lies near its central beam whether or not that was found; the median over the
    // patterns shrugs off the ones whose peaks are cut by the detector edge or spurious.
    std::vector<double> my0, mx0;
    for (std::size_t i = 0; i < n_pos; ++i) {
      double sy = 0, sx = 0;
      std::size_t n = 0;
      for (std::size_t j = peaks.begin_of(i); j < peaks.end_of(i); ++j) {
        if (!std::isfinite(peaks.qy_raw[j]) || !std::isfinite(peaks.qx_raw[j])) continue;
        sy += peaks.qy_raw[j];
        sx += peaks.qx_raw[j];
        ++n;
      }
      if (n == 0) continue;
      my0.push_back(sy / double(n));
      mx0.push_back(sx / double(n));
    }
    if (my0.empty()) fail(ErrorKind::bad_input, "", "origin: no peak has a finite position");
    cy = median_of(my0);
    cx = median_of(mx0);
  }
  const std::string centre_text = "(" + num(cy) + ", " + num(cx) + ")" + (auto_centre ? " (automatic)" : "");

  // 2. Central beams and the descan model.
  const ScanCoords sc(peaks.scan);
  Basis basis;
  basis.use_v = peaks.scan.y > 1;
  basis.use_u = peaks.scan.x > 1;
  const Kind wanted = !basis.use_v && !basis.use_u ? Kind::constant
                     : p.model == "plane"           ? Kind::plane
                                                    : Kind::quadratic;
  std::vector<double> pred_y(n_pos, cy), pred_x(n_pos, cx);
  std::vector<std::int64_t> sel(n_pos, -1), prev_sel;
  std::vector<double> my(n_pos, kNaN), mx(n_pos, kNaN);
  std::vector<char> measured(n_pos, 0), inlier;
  Model model;
  const int rounds = p.model == "none" || !p.robust ? 1 : p.robust_iterations;
  for (int round = 0; round < rounds; ++round) {
    std::vector<std::int64_t> s(n_pos, -1);
    std::size_t n_found = 0;
    for (std::size_t i = 0; i < n_pos; ++i) {
      s[i] = brightest_near(peaks, i, pred_y[i], pred_x[i], r2);
      n_found += s[i] >= 0;
    }
    if (n_found == 0) {
      if (round == 0)
        fail(ErrorKind::bad_input, "", "origin: no scan position has a peak within ", dist_key, " px of the expected centre ",
             centre_text, "; set origin.center_qy/center_qx or raise origin.center_max_dist_px");
      break;  // the model moved away from every peak: keep the previous round
    }
    if (round > 0 && s == prev_sel) break;
    sel = s;
    for (std::size_t i = 0; i < n_pos; ++i) {
      measured[i] = sel[i] >= 0;
      my[i] = measured[i] ? peaks.qy_raw[static_cast<std::size_t>(sel[i])] : kNaN;
      mx[i] = measured[i] ? peaks.qx_raw[static_cast<std::size_t>(sel[i])] : kNaN;
    }
    if (p.model == "none") break;
    Kind k = wanted;
    while (!robust_fit(k, basis, sc, measured, my, mx, p, model, inlier)) {
      if (k == Kind::constant)
        fail(ErrorKind::internal, "", "origin: constant descan model failed with ", n_found, " measured positions");
      k = static_cast<Kind>(static_cast<int>(k) - 1);
    }
    for (std::size_t i = 0; i < n_pos; ++i) evaluate(model, basis, sc, i, pred_y[i], pred_x[i]);
    prev_sel = sel;
  }
  check_cancel(ctx);
  ctx.report("origin", 1, 4);

  OriginMap& o = res.origin;
  o.scan = peaks.scan;
  o.qy0.resize(n_pos);
  o.qx0.resize(n_pos);
  o.qy0_measured.resize(n_pos);
  o.qx0_measured.resize(n_pos);
  res.central_peak = sel;
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
  std::vector<std::size_t> ring_idx;  // peak indices of the ring
  if (need_ring) {
    // candidates: every peak but the central beams, |q| >= 1 px
    std::vector<double> vy, vx, radii;
    std::vector<std::size_t> idx;
    for (std::size_t i = 0; i < n_pos; ++i)
      for (std::size_t j = peaks.begin_of(i); j < peaks.end_of(i); ++j) {
        if (static_cast<std::int64_t>(j) == sel[i]) continue;
        const double dy = peaks.qy_raw[j] - double(o.qy0[i]), dx = peaks.qx_raw[j] - double(o.qx0[i]);
        const double r = std::hypot(dy, dx);
        if (!std::isfinite(r) || r < 1) continue;
        vy.push_back(dy);
        vx.push_back(dx);
        radii.push_back(r);
        idx.push_back(j);
      }
    std::vector<std::size_t> ring;  // indices into the candidates
    auto points = [&](const std::vector<std::size_t>& set, std::vector<double>& x, std::vector<double>& y) {
      x.clear();
      y.clear();
      for (std::size_t k : set) x.push_back(vx[k]), y.push_back(vy[k]);
    };
    std::vector<double> px, py;
    double r_peak = 0;
    if (ring_given) {
      for (std::size_t k = 0; k < radii.size(); ++k)
        if (radii[k] >= p.ring_q_min_px && radii[k] <= p.ring_q_max_px) ring.push_back(k);
      if (p.fit_ellipse) {
        points(ring, px, py);
        res.ellipse = origin_detail::fit_ellipse_points(
            px, py, "ellipse ring " + num(p.ring_q_min_px) + ".." + num(p.ring_q_max_px) + " px");
      }
    } else if (strongest_ring(radii, r_peak)) {
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
    for (std::size_t k : ring) ring_idx.push_back(idx[k]);
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
    if (p.lattice_spacing_A > 0 && ring_idx.empty())
      fail(ErrorKind::bad_input, "", "origin.lattice_spacing_A = ", num(p.lattice_spacing_A),
           ": no peaks in the ring to calibrate from; give the ring with origin.ring_q_min_px/ring_q_max_px");
  }
  check_cancel(ctx);
  ctx.report("origin", 3, 4);

  // 4. Corrected vectors, ring radius, calibration, Bragg vector map.
  res.scan_rotation_deg = p.scan_rotation_deg;
  res.corrected = peaks;
  correct_peaks(res.corrected, o, res.ellipse, p.scan_rotation_deg);
  if (!ring_idx.empty()) {
    std::vector<double> rr;
    rr.reserve(ring_idx.size());
    for (std::size_t j : ring_idx) rr.push_back(std::hypot(double(res.corrected.qy[j]), double(res.corrected.qx[j])));
    res.ring_radius_px = median_of(rr);
  }
  if (p.q_pixel_inv_A > 0) {
    res.q_pixel_inv_A = p.q_pixel_inv_A;
    notes.info("detector pixel " + num(res.q_pixel_inv_A, 6) + " 1/A (given)");
  } else if (p.lattice_spacing_A > 0) {
    if (!(res.ring_radius_px > 0))
      fail(ErrorKind::bad_input, "", "origin.lattice_spacing_A = ", num(p.lattice_spacing_A),
           ": the ring has no radius to calibrate from");
    res.q_pixel_inv_A = 1 / (p.lattice_spacing_A * res.ring_radius_px);
    notes.info("detector pixel " + num(res.q_pixel_inv_A, 6) + " 1/A (ring radius " + num(res.ring_radius_px, 6) +
               " px = 1 / " + num(p.lattice_spacing_A, 6) + " A)");
  }
  std::int64_t outside = 0;
  res.bvm = make_bragg_vector_map(res.corrected, p.bvm_size, p.bvm_pixel, &outside);
  if (outside > 0)
    notes.warn(std::to_string(outside) + " of " + std::to_string(peaks.size()) + " peaks fall outside the " +
               std::to_string(res.bvm.size) + " x " + std::to_string(res.bvm.size) +
               " Bragg vector map and are not in it");
  ctx.report("origin", 4, 4);
  return res;
}

} // namespace domainmap
