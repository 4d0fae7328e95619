// lib/origin/params.cpp: the parameters of the `origin` stage: declaration and the checks that
// involve several fields or the detector.
#include <cmath>
#include <sstream>

#include "domainmap/error.hpp"
#include "domainmap/origin.hpp"

namespace domainmap {

void describe(OriginParams& p, ParamSink& s) {
  param(s, "center_qy", p.center_qy,
        "expected central beam, detector row; negative = median of the patterns' peak centroids", -kNoLimit,
        kNoLimit, "px");
  param(s, "center_qx", p.center_qx, "expected central beam, detector column; negative = automatic", -kNoLimit,
        kNoLimit, "px");
  param(s, "center_max_dist_px", p.center_max_dist_px,
        "central beam = brightest peak within this distance of the expected centre (then of the model)", 0.01, 1e5,
        "px");
  param(s, "model", p.model, "descan model of the origin over the scan (none = measured origins only)",
        {"plane", "quadratic", "none"});
  param(s, "robust", p.robust, "exclude outlier positions from the descan fit iteratively");
  param(s, "outlier_px", p.outlier_px,
        "a position further than max(outlier_px, outlier_sigma * noise) from the model is an outlier", 1e-3, 1e5,
        "px");
  param(s, "outlier_sigma", p.outlier_sigma,
        "outlier threshold in units of the robust noise estimate; 0 = outlier_px alone", 0, 1e3);
  param(s, "robust_iterations", p.robust_iterations, "at most this many robust refits and re-selections", 1, 1000);
  param(s, "fit_ellipse", p.fit_ellipse, "fit and correct the elliptical distortion from one ring");
  param(s, "ring_q_min_px", p.ring_q_min_px,
        "inner radius of the ring for the ellipse and the calibration; 0 and 0 = strongest ring", 0, 1e5, "px");
  param(s, "ring_q_max_px", p.ring_q_max_px, "outer radius of that ring", 0, 1e5, "px");
  param(s, "ring_rel_width", p.ring_rel_width,
        "automatic ring: first selection within this fraction of its radius (must exceed a/b - 1)", 0.001, 0.5);
  param(s, "q_pixel_inv_A", p.q_pixel_inv_A,
        "detector pixel in 1/Angstrom if known; 0 = from lattice_spacing_A, or unknown", 0, 1e3, "1/A");
  param(s, "lattice_spacing_A", p.lattice_spacing_A,
        "plane spacing d of the ring used (q = 1/d gives the pixel size); 0 = none", 0, 1e4, "A");
  param(s, "scan_rotation_deg", p.scan_rotation_deg,
        "rotation of the scan axes relative to the detector axes, applied to the corrected vectors", -360, 360,
        "deg");
  param(s, "bvm_size", p.bvm_size, "bins per side of the Bragg vector map; 0 = large enough for every peak", 0,
        16384);
  param(s, "bvm_pixel", p.bvm_pixel, "bin size of the Bragg vector map", 0.01, 1e3, "px");
}

namespace {

std::string num(double v) { return param_number_text(v); }

[[noreturn]] void bad(const char* key, double value, const std::string& why) {
  fail(ErrorKind::bad_parameter, "", "origin.", key, " = ", num(value), ": ", why);
}

} // namespace

void validate(const OriginParams& p, Shape2 detector) {
  auto finite = [](const char* key, double v) {
    if (!std::isfinite(v)) bad(key, v, "must be finite");
  };
  finite("center_qy", p.center_qy);
  finite("center_qx", p.center_qx);
  finite("center_max_dist_px", p.center_max_dist_px);
  finite("outlier_px", p.outlier_px);
  finite("outlier_sigma", p.outlier_sigma);
  finite("ring_q_min_px", p.ring_q_min_px);
  finite("ring_q_max_px", p.ring_q_max_px);
  finite("ring_rel_width", p.ring_rel_width);
  if (!(p.ring_rel_width > 0) || p.ring_rel_width > 0.5) bad("ring_rel_width", p.ring_rel_width, "must be in (0, 0.5]");
  finite("q_pixel_inv_A", p.q_pixel_inv_A);
  finite("lattice_spacing_A", p.lattice_spacing_A);
  finite("scan_rotation_deg", p.scan_rotation_deg);
  finite("bvm_pixel", p.bvm_pixel);
  if (p.model != "plane" && p.model != "quadratic" && p.model != "none")
    fail(ErrorKind::bad_parameter, "", "origin.model = ", p.model, ": must be plane, quadratic or none");
  if (!(p.center_max_dist_px > 0)) bad("center_max_dist_px", p.center_max_dist_px, "must be > 0");
  if (!(p.outlier_px > 0)) bad("outlier_px", p.outlier_px, "must be > 0");
  if (p.outlier_sigma < 0) bad("outlier_sigma", p.outlier_sigma, "must be >= 0");
  if (p.robust_iterations < 1) bad("robust_iterations", p.robust_iterations, "must be >= 1");
  if ((p.center_qy < 0) != (p.center_qx < 0))
    fail(ErrorKind::bad_parameter, "", "origin.center_qy = ", num(p.center_qy), ", origin.center_qx = ",
         num(p.center_qx), ": give both coordinates of the expected centre, or neither (negative = automatic)");
  if (!detector.empty()) {
    if (p.center_qy >= 0 && p.center_qy > static_cast<double>(detector.y - 1))
      bad("center_qy", p.center_qy, "outside the detector (rows 0.." + std::to_string(detector.y - 1) + ")");
    if (p.center_qx >= 0 && p.center_qx > static_cast<double>(detector.x - 1))
      bad("center_qx", p.center_qx, "outside the detector (columns 0.." + std::to_string(detector.x - 1) + ")");
  }
  if (p.ring_q_min_px < 0) bad("ring_q_min_px", p.ring_q_min_px, "must be >= 0");
  if (p.ring_q_max_px < 0) bad("ring_q_max_px", p.ring_q_max_px, "must be >= 0");
  const bool ring_given = p.ring_q_min_px > 0 || p.ring_q_max_px > 0;
  if (ring_given && !(p.ring_q_max_px > p.ring_q_min_px))
    fail(ErrorKind::bad_parameter, "", "origin.ring_q_min_px = ", num(p.ring_q_min_px), ", origin.ring_q_max_px = ",
         num(p.ring_q_max_px), ": the ring needs ring_q_min_px < ring_q_max_px (both 0 = automatic)");
  if (p.q_pixel_inv_A < 0) bad("q_pixel_inv_A", p.q_pixel_inv_A, "must be >= 0");
  if (p.lattice_spacing_A < 0) bad("lattice_spacing_A", p.lattice_spacing_A, "must be >= 0");
  if (p.q_pixel_inv_A > 0 && p.lattice_spacing_A > 0)
    fail(ErrorKind::bad_parameter, "", "origin.q_pixel_inv_A = ", num(p.q_pixel_inv_A),
         ", origin.lattice_spacing_A = ", num(p.lattice_spacing_A),
         ": give the pixel size or a lattice spacing to calibrate it from, not both");
  if (p.bvm_size < 0 || p.bvm_size == 1 || p.bvm_size > 16384)
    bad("bvm_size", static_cast<double>(p.bvm_size), "must be 0 (automatic) or in [2, 16384]");
  if (!(p.bvm_pixel > 0)) bad("bvm_pixel", p.bvm_pixel, "must be > 0");
}

} // namespace domainmap
