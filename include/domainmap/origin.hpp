// domainmap/origin.hpp: the `origin` stage: the central beam of every pattern, a smooth descan
// model over the scan, the elliptical distortion of the diffraction plane, the detector pixel
// in 1/Angstrom and the Bragg vector map. It works on the raw peaks only (never on the frames),
// after py4DSTEM's calibration steps (process/calibration/origin.py, ellipse.py, qpixelsize.py).
//
// What fit_origin() does, in order:
//  1. Central beam per scan position: the brightest raw peak within center_max_dist_px of the
//     expected centre. The expected centre is (center_qy, center_qx), or, when those are
//     negative, the component-wise median over positions of the centroid of each pattern's
//     peaks (Bragg peaks come in Friedel pairs +-g, so the centroid lies near the central beam
//     even where that was not found, and never locks on to a Bragg peak).
//     Positions with no peak that close have no measurement (NaN in qy0_measured/qx0_measured).
//  2. Descan model: qy0 and qx0 are each a polynomial in the normalised scan coordinates
//     v = ry / (Ry - 1) - 1/2 and u = rx / (Rx - 1) - 1/2 (the simulator's, sim_origin()):
//       plane      c0 + c1 v + c2 u
//       quadratic  c0 + c1 v + c2 u + c3 v^2 + c4 u v + c5 u^2
//     (terms in an axis of length 1 are dropped). Least squares on the inlier positions; with
//     `robust`, a position is an outlier when its measured origin lies further from the model
//     than max(outlier_px, outlier_sigma * s), s = median distance / 1.1774 (the Rayleigh
//     median: s estimates the per-axis noise), and the fit is repeated on the inliers until the
//     inlier set no longer changes. The central beams are then chosen again around the model's
//     prediction (brightest peak within center_max_dist_px of it) and the model refitted, until
//     the choice no longer changes (at most robust_iterations rounds of each loop). If too few
//     inliers remain for the model (or they do not span the scan), the stage falls back to the
//     next simpler model (quadratic -> plane -> constant) and says so in the notes.
//     model = "none" keeps the measured origins, filling positions without one by the median.
//  3. Ellipse (fit_ellipse): the peaks of one ring of origin-corrected vectors (central beams
//     left out) are fitted by fit_ellipse_ring(). The ring is |q| in [ring_q_min_px,
//     ring_q_max_px] (before the ellipse correction) or, when both are 0, the strongest ring of
//     the Bragg vector map: the highest bin of the radial histogram of the peaks (0.25 px bins,
//     smoothed by [1, 2, 1] / 4; an ellipse spreads a shell over a width proportional to its
//     radius, so narrow inner shells win over crowded outer ones). Its peaks within
//     ring_rel_width of that radius are fitted; then the peaks whose corrected radius lies
//     within max(4 s, 1e-3 r) of the ring's median corrected radius r (s = 1.4826 median
//     absolute deviation) are refitted, until that set no longer changes (at most 10 times):
//     the corrected ring is sharp, so neighbouring shells fall away.
//  4. Corrected vectors (correct_peaks()): q = R(scan_rotation_deg) C (raw - origin), where C
//     stretches the component along the b axis by a / b (the ring becomes a circle of radius
//     a) and R(t) turns +qx towards +qy by t (simulate.hpp's convention), so that the corrected
//     axes are the scan's.
//  5. Calibration: q_pixel_inv_A as given, or (1 / lattice_spacing_A) / r with r the median
//     radius of the ring's corrected peaks (q = 1/d, py4DSTEM's convention, no 2 pi); 0 = unknown.
//     The automatic ring is the strongest, not necessarily the innermost: give the ring whose
//     spacing you know with ring_q_min_px / ring_q_max_px (read it off the Bragg vector map).
//  6. Bragg vector map of all corrected peaks (make_bragg_vector_map()).
//
// py4DSTEM names: its x is our first axis, so our qy0 / qx0 are py4DSTEM's qx0 / qy0; our
// ellipse a, b are its a, b (a >= b), and its theta (tilt of the a axis from its x axis, our
// qy, towards its y, our qx) is 90 deg - theta_deg; Q_pixel_size with Q_pixel_units "A^-1" is
// q_pixel_inv_A; QR_rotation_degrees is scan_rotation_deg (check the sign on a known sample).
//
// Results do not depend on the thread count: every step runs serially in position and peak
// order (the whole stage is a few passes over the peak list).
//
// Streaming: the stage never needs all peaks at once. It reads them chunk by chunk from a
// PeakChunkSource (a results file or a PeakList) in several passes: the peak centroids (1, with
// an automatic centre), one pass per round of central-beam choice (2, at most
// robust_iterations, usually 2 or 3), the radial histogram of the non-central peaks and the
// collection of the ring's peaks (3), the largest corrected |q| (for an automatic map size),
// and a last pass that corrects each chunk, accumulates the Bragg vector map and hands the
// chunk's corrected vectors on. It holds O(positions) values (about 100 bytes per position),
// at most kMaxRingPoints ring peaks and one chunk. The ring's peaks for the ellipse are those
// with |q| within 3 ring_rel_width of the strongest ring's radius (or in the given range);
// when there are more than kMaxRingPoints of them, every s-th in peak order is kept (s the
// smallest stride that keeps at most kMaxRingPoints by the histogram's count), and the fit and
// the ring's median radius use those. fit_origin() on a PeakList runs the same code on the
// list, so both give identical results, bit for bit.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "domainmap/braggvectors.hpp"
#include "domainmap/context.hpp"
#include "domainmap/params.hpp"

namespace domainmap {

/// Parameters of the `origin` stage (INI section [origin], flags --origin.KEY).
struct OriginParams {
  // --- central beam
  double center_qy = -1;            ///< expected central beam, detector row, px; negative = automatic (median of the patterns' peak centroids)
  double center_qx = -1;            ///< expected central beam, detector column, px; negative = automatic
  double center_max_dist_px = 8;    ///< the central beam is the brightest peak within this distance of the expected centre (then of the model), px; keep it below the smallest |g|
  // --- descan model
  std::string model = "quadratic";  ///< plane, quadratic or none = measured origins only (py4DSTEM fit_origin fitfunction "plane" / "parabola")
  bool robust = true;               ///< exclude outlier positions iteratively (py4DSTEM fit_origin robust)
  double outlier_px = 1;            ///< a position further than max(outlier_px, outlier_sigma * s) from the model is an outlier, px
  double outlier_sigma = 4;         ///< outlier threshold in units of the robust noise estimate s (py4DSTEM robust_thresh); 0 = outlier_px alone
  int robust_iterations = 10;       ///< at most this many refits (and central-beam re-selections) (py4DSTEM robust_steps)
  // --- elliptical distortion
  bool fit_ellipse = true;          ///< fit and correct the elliptical distortion from one ring (py4DSTEM fit_ellipse_1D)
  double ring_q_min_px = 0;         ///< inner radius of the ring used for the ellipse and the calibration, px; 0 and 0 = automatic (strongest ring)
  double ring_q_max_px = 0;         ///< outer radius of that ring, px (py4DSTEM fitradii)
  double ring_rel_width = 0.05;     ///< automatic ring: first selection within this fraction of its radius; must exceed a/b - 1
  // --- calibration
  double q_pixel_inv_A = 0;         ///< detector pixel, 1/Angstrom, if known (py4DSTEM Q_pixel_size, units "A^-1"); 0 = from lattice_spacing_A or unknown
  double lattice_spacing_A = 0;     ///< spacing d of the planes of the ring used, Angstrom: q_pixel_inv_A = (1/d) / ring radius; 0 = none
  double scan_rotation_deg = 0;     ///< rotation of the scan axes relative to the detector axes, applied to the corrected vectors, deg (py4DSTEM QR_rotation_degrees)
  // --- Bragg vector map
  std::int64_t bvm_size = 0;        ///< bins per side of the Bragg vector map; 0 = just large enough for every peak
  double bvm_pixel = 1;             ///< bin size of the Bragg vector map, detector px
  bool operator==(const OriginParams&) const = default;
};
void describe(OriginParams& p, ParamSink& s);

/// Checks what the per-field ranges cannot (centre on the detector, both centre coordinates or
/// neither, ring range order, one calibration source only); throws Error(bad_parameter)
/// "origin.KEY = V: problem". `detector` may be empty (then centres are not checked).
void validate(const OriginParams& p, Shape2 detector = {});

/// Output of fit_origin().
struct OriginResult {
  OriginMap origin;                 ///< fitted and measured origin per position
  EllipseDistortion ellipse;        ///< fitted = false when not fitted (no correction)
  BraggVectorMap bvm;
  double q_pixel_inv_A = 0;         ///< detector pixel, 1/Angstrom; 0 = unknown
  double scan_rotation_deg = 0;     ///< rotation applied to the corrected vectors
  PeakList corrected;               ///< the input peaks with qy, qx filled
  std::string model;                ///< model actually fitted: quadratic, plane, constant or none
  std::vector<std::int64_t> central_peak; ///< [Ry*Rx] index of the central beam's peak, -1 where none
  std::vector<std::uint8_t> inlier;        ///< [Ry*Rx] 1 where the measured origin was used by the fit
  std::int64_t n_measured = 0;      ///< positions with a central beam
  std::int64_t n_outliers = 0;      ///< measured positions the robust fit rejected
  double residual_rms_px = 0;       ///< RMS distance of the inliers' measured origins from the model, px
  double ring_q_min_px = 0;         ///< ring used for the ellipse / calibration (0, 0 if none)
  double ring_q_max_px = 0;
  double ring_radius_px = 0;        ///< median radius of the ring's corrected peaks, px
  std::int64_t ring_points = 0;     ///< peaks of that ring used by the ellipse fit
  /// What happened, one line each; every line was also sent to ctx's log (problems as
  /// warnings, the rest as info), so callers need not print them again.
  std::vector<std::string> notes;
};

/// The whole stage (see the file comment). Throws Error(bad_input) for an empty or malformed
/// peak list or when no position has a central beam, Error(bad_parameter) for bad parameters
/// (validate()) or a ring with too few peaks for the ellipse or the calibration.
OriginResult fit_origin(const PeakList& peaks, const OriginParams& p, RunContext& ctx);

/// At most this many peaks of the ring are used for the ellipse and the ring radius.
inline constexpr std::size_t kMaxRingPoints = std::size_t(1) << 17;

/// Receives the corrected vectors of one chunk in the streamed fit's last pass: qy[k], qx[k]
/// (k < chunk.n_peaks()) belong to the chunk's k-th peak; chunks come in position order.
using CorrectedPeaksFn = std::function<void(const PeakChunk& chunk, const float* qy, const float* qx)>;

/// The stage streamed over `src` (see the file comment), identical in its results to
/// fit_origin(PeakList); the corrected vectors go to `corrected` (may be empty) and
/// OriginResult::corrected stays empty. Throws as fit_origin() does.
OriginResult fit_origin(PeakChunkSource& src, const OriginParams& p, RunContext& ctx, const CorrectedPeaksFn& corrected);

/// Least-squares ellipse through the points of one ring: the points (qy[i], qx[i]) (relative to
/// the origin, px) with r_min <= |q| <= r_max are fitted by the centred conic
/// A qx^2 + B qx qy + C qy^2 = 1, then twice more on the points whose radial distance from the
/// fitted ellipse is within max(4 s, 1e-3 r) (s = 1.4826 median absolute radial residual, r the
/// mean radius). Returns a >= b (semi-axes, px), theta_deg in [0, 180) (direction of the a
/// axis from +qx towards +qy) and fitted = true. Throws Error(bad_input) for fewer than 5
/// points, points that do not constrain an ellipse (too few directions) or a conic that is not
/// an ellipse.
EllipseDistortion fit_ellipse_ring(const std::vector<float>& qy, const std::vector<float>& qx, double r_min,
                                   double r_max);

/// Fills peaks.qy / peaks.qx from the raw positions: q = R(rotation_deg) C (raw - origin) with
/// C the ellipse correction (identity unless e.fitted; the b-axis component is scaled by a/b)
/// and R(t) turning +qx towards +qy by t. Uses o.qy0 / o.qx0 (the fitted origin).
/// Throws Error(internal) if o does not match the peak list's scan.
void correct_peaks(PeakList& peaks, const OriginMap& o, const EllipseDistortion& e, double rotation_deg = 0);

/// Histogram of the corrected peaks, size x size bins of `pixel` detector px, bin (size/2,
/// size/2) centred on q = 0 (bin (i, j) centred on (qy, qx) = ((i - size/2), (j - size/2)) *
/// pixel). Each peak adds weight 1, split bilinearly over the four bins around it, so the
/// counts sum to the number of peaks that fit; a peak whose four bins are not all inside (or
/// with a non-finite position) is left out and counted in *n_outside. size = 0: automatic,
/// 2 (ceil(m / pixel) + 2) with m the largest |qy| or |qx| of any peak, at most
/// 2 (ceil(max(Qy, Qx) / pixel) + 2) and at least 8, so that every peak fits. Accumulates in
/// double in peak order: deterministic. Throws Error(bad_parameter) for pixel <= 0, size 1 or
/// size > 16384, Error(internal) if the peaks are not corrected.
BraggVectorMap make_bragg_vector_map(const PeakList& corrected, std::int64_t size, double pixel,
                                     std::int64_t* n_outside = nullptr);

/// make_bragg_vector_map() chunk by chunk: add() the corrected peaks in peak order, then take();
/// the same map, bit for bit. max_abs_q (the largest finite |qy| or |qx| of any peak) is used for
/// size = 0 only. Throws Error(bad_parameter) as make_bragg_vector_map() does.
class BraggVectorMapAccumulator {
public:
  BraggVectorMapAccumulator(std::int64_t size, double pixel, double max_abs_q, Shape2 detector);
  void add(const float* qy, const float* qx, std::size_t n);
  std::int64_t size() const { return size_; }
  std::int64_t n_outside() const { return outside_; }
  /// The map (the accumulator is empty afterwards).
  BraggVectorMap take();
private:
  std::int64_t size_ = 0;
  double pixel_ = 1, half_ = 0;
  std::vector<double> acc_;
  std::int64_t outside_ = 0;
};

} // namespace domainmap
