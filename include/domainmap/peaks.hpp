// domainmap/peaks.hpp: the `peaks` stage: Bragg disk detection by template matching
// (py4DSTEM's find_Bragg_disks), streamed over a dataset.
//
// Per pattern, in this order:
//  1. Bad pixels (hot, dead, or flagged by --peaks.mask) are replaced by the median of their
//     good 8-neighbours in that pattern. Hot and dead pixels are found once, before detection,
//     as outliers of the mean and maximum patterns: more than twice the second brightest of
//     their 8 neighbours (dead: less than half the second darkest) and hot_threshold robust
//     standard deviations away.
//  2. Optional Gaussian smoothing of the pattern, sigma_dp (scipy "reflect" edges, radius
//     int(4 sigma + 0.5), as py4DSTEM's gaussian_filter).
//  3. Correlation with the template by FFT (FFTW float32; the real 2-D transforms done as 1-D
//     complex transforms with two real rows packed into one complex row, FFTW_ESTIMATE plans
//     made once): with m = F(pattern) conj(F(t)),
//     the correlation spectrum is |m|^p exp(i arg m) (p = corr_power: 1 cross-correlation,
//     0 phase correlation, in between hybrid; py4DSTEM's corrPower), multiplied by the transfer
//     function of the sigma_cc Gaussian (the DFT of the sampled, truncated kernel py4DSTEM uses,
//     so the smoothing equals py4DSTEM's except that it is periodic at the detector edges and is
//     applied before, not after, negative values are clipped to 0; on py4DSTEM's own sample this
//     moves peaks by < 0.003 px). The correlation map is the real inverse transform, clipped at 0.
//  4. Maxima with py4DSTEM's get_maxima_2D semantics: strict 8-neighbour maxima (>= towards
//     +row/+column neighbours, > towards the others, exactly as its np.roll tests), none within
//     edge_boundary px of the edge; sorted by intensity (ties: larger row, then larger column
//     first); then, in py4DSTEM's order: drop intensity < min_absolute_intensity (if > 0); drop
//     intensity / intensity[relative_to_peak] < min_relative_intensity (if > 0); greedy spacing
//     (a kept peak removes every dimmer one closer than min_peak_spacing); keep max_num_peaks.
//  5. domainmap's two extra tests (0 turns each off), so that noise and diffuse rings do not
//     become peaks: significance = correlation / its Poisson noise, sqrt(g sum_j t'_j^2 I_j) over
//     the smoothed template t' placed at the peak, with g the detector gain in counts per
//     electron estimated from differences of neighbouring frames (0 for noise-free data); and
//     isotropy = min / max over 8 directions e (every 22.5 deg) of the drop
//     C(p) - (C(p + r e) + C(p - r e)) / 2, r = 1.5 probe radii: > 0.9 for a disk, < 0.7 for
//     maxima on a ridge such as an amorphous ring (measured on simulated data).
//     Both are tested on the candidates in order of intensity as the spacing test reaches
//     them: a candidate that fails is dropped and removes no neighbour (with both off the
//     result is exactly py4DSTEM's). Only with corr_power = 1 (the correlation is then linear
//     in the pattern); the significance test also needs a gain > 0.
//  6. Sub-pixel position: "fit" (the default, below), "pixel" (none), "poly" (py4DSTEM's: a
//     parabola through 3 points along each axis, intensity bilinearly interpolated there) or
//     "multicorr" (after poly,
//     the local upsampled DFT of Guizar-Sicairos, Thurman & Fienup, Opt. Lett. 33, 156 (2008):
//     the correlation spectrum is evaluated by matrix-multiply DFT on a 3 x 3 grid of spacing
//     1/upsample_factor px around the peak, moved uphill until its centre is the maximum, then
//     a parabola through that grid; intensity = the interpolated correlation there; spectrum
//     terms where the sigma_cc transfer function is below 1e-4 are skipped).
//     "fit": after poly, each disk is fitted on the (repaired) pattern itself: the model
//     a D(|q - p|) + b0 + by (qy - py) + bx (qx - px), D(r) = erfc((r - R) / (sqrt 2 s)) / 2,
//     over the pixels within R + 3 s + 2 px of the peak that are nearer to it than to any
//     other peak, two Gauss-Newton steps with Poisson weights 1 / model (iteratively reweighted
//     least squares, the maximum-likelihood estimate for counts; McCullagh & Nelder,
//     "Generalized Linear Models", 2nd ed. 1989, ch. 2.5; uniform weights when no gain is
//     measured). R and s are fitted once per dataset on the brightest disks of 5 x 5 sample
//     patterns (PeakSetup::fit_radius, fit_edge). The correlation maximum spends positional
//     information on its smoothing and zero-mean kernel (1.4 - 1.9x the Cramer-Rao bound on
//     shot-noise-limited disks); the fit comes within a few % of the bound (tests/test_peaks.cpp).
//     Intensity stays the correlation value. A fit that fails or moves > 1 px keeps poly's answer.
//     With sigma_dp > 0 the fit sees the smoothed pattern (its weights are then approximate).
//
// Coordinates: detector px, pixel (i, j) has its centre at (qy, qx) = (i, j); qy is the first
// detector axis (py4DSTEM's qx). Results are independent of the thread count and of the block
// size: each pattern is computed alone with the same FFTW plans, into a slot of its position.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "domainmap/braggvectors.hpp"
#include "domainmap/context.hpp"
#include "domainmap/dataset.hpp"
#include "domainmap/params.hpp"

namespace domainmap {

/// Parameters of the `peaks` stage (INI section [peaks], flags --peaks.KEY).
/// Defaults are chosen to work without tuning on typical data: the template is a soft disk of
/// the radius measured from the mean pattern, with a sigmoid trench (zero-mean kernel); the
/// spacing and edge limits follow from the probe radius; thresholds are relative.
struct PeaksParams {
  // --- template
  std::string template_source = "auto"; ///< key "template": auto (synthetic disk of the radius measured on the mean pattern's central disk), mean (that central disk itself), vacuum (mean of vacuum patterns), disk (synthetic, radius probe_radius), or FILE.h5:/path (array, centre at pixel (0,0) wrapped, as py4DSTEM stores it)
  std::string vacuum_region;          ///< vacuum template: "ry0,rx0,ry1,rx1" scan rectangle (end exclusive); empty = the positions with the lowest dark-field signal
  double vacuum_fraction = 0.02;      ///< automatic vacuum region: this fraction of the positions (at least 1) with the lowest dark-field signal
  double probe_radius = 0;            ///< probe (disk) radius, px; 0 = measured on the central disk of the mean pattern (half maximum)
  double probe_edge = 0.5;            ///< synthetic disk: Gaussian sigma of the edge, px
  std::string kernel = "auto";        ///< zero-mean edge (py4DSTEM get_kernel mode): auto (sigmoid for built templates, none for a file), none (py4DSTEM flat), gaussian, sigmoid
  double kernel_sigma = 2;            ///< gaussian kernel: sigma of the subtracted Gaussian relative to the probe's rms radius (py4DSTEM sigma)
  double kernel_inner = 0;            ///< sigmoid kernel: inner radius ri of the trench, px; 0 = probe radius (py4DSTEM radii[0])
  double kernel_outer = 0;            ///< sigmoid kernel: outer radius ro, px; 0 = 2 x probe radius (py4DSTEM radii[1])
  // --- correlation
  double corr_power = 1;              ///< 1 cross-correlation, 0 phase correlation, between: hybrid (py4DSTEM corrPower)
  double sigma_cc = 2;                ///< Gaussian sigma on the correlation map, px; 0 = none (py4DSTEM sigma_cc)
  double sigma_dp = 0;                ///< Gaussian sigma on the pattern before correlation, px (py4DSTEM sigma_dp)
  // --- maxima
  std::string subpixel = "fit";       ///< fit (disk model fitted to the pattern, near the Cramer-Rao bound), pixel, poly or multicorr (py4DSTEM subpixel)
  int upsample_factor = 16;           ///< multicorr: DFT upsampling factor (py4DSTEM upsample_factor)
  double min_absolute_intensity = 0;  ///< drop peaks with correlation below this (py4DSTEM minAbsoluteIntensity)
  double min_relative_intensity = 0.005; ///< drop peaks below this fraction of the relative_to_peak-th brightest (py4DSTEM minRelativeIntensity)
  int relative_to_peak = 0;           ///< 0 = brightest (py4DSTEM relativeToPeak)
  double min_peak_spacing = -1;       ///< px; a brighter peak removes dimmer ones closer than this; negative = 2 x probe radius (py4DSTEM minPeakSpacing)
  int edge_boundary = -1;             ///< px from the detector edge with no peaks; negative = ceil(probe radius) (py4DSTEM edgeBoundary)
  int max_num_peaks = 100;            ///< keep at most this many per pattern (py4DSTEM maxNumPeaks)
  double min_significance = 5;        ///< drop peaks whose correlation is below this many Poisson standard deviations; 0 = off (domainmap)
  double min_isotropy = 0.75;         ///< drop peaks whose correlation falls off this much less along one direction than along another (ridges, amorphous rings), 0..1; 0 = off (domainmap)
  // --- bad pixels
  bool hot_pixels = true;             ///< find hot and dead pixels from the mean and max patterns and replace them
  double hot_threshold = 8;           ///< hot/dead pixel test: beyond twice (half) the 2nd brightest (darkest) of the 8 neighbours, by this many robust standard deviations
  std::string mask;                   ///< FILE.h5:/path of a det_y x det_x array, nonzero = bad pixel (added to those found)
  bool operator==(const PeaksParams&) const = default;
};
void describe(PeaksParams& p, ParamSink& s);
/// Checks what the per-field ranges cannot (e.g. kernel_inner < kernel_outer); throws
/// Error(bad_parameter) "peaks.KEY = V: problem".
void validate(const PeaksParams& p);

/// One peak of one pattern, detector px.
struct Peak {
  float qy = 0, qx = 0;     ///< position (qy = detector row)
  float intensity = 0;      ///< correlation value
};

/// A correlation template, det_y x det_x, its centre at pixel (0, 0), wrapped (the FFT
/// convention, as py4DSTEM stores its kernels).
struct ProbeTemplate {
  Shape2 shape;
  std::vector<float> kernel;    ///< [det_y, det_x] row-major
  double radius = 0;            ///< probe radius used for the defaults, px
  std::string source;           ///< how it was made, for the log and the results file
};

/// Soft disk of radius `radius` and edge sigma `edge` px at (0, 0), summing to 1
/// (f(r) = erfc((r - R) / (sqrt 2 edge)) / 2, 4 x 4 samples per pixel).
ProbeTemplate make_disk_template(Shape2 detector, double radius, double edge);
/// Template from a probe image (vacuum or mean pattern): background (median) removed, cut to
/// the disk around its brightest region (+ 3 px, cosine taper), centre of mass shifted to
/// (0, 0) by the Fourier shift theorem, normalised to sum 1. Measures the radius if radius <= 0.
ProbeTemplate template_from_probe_image(const std::vector<float>& image, Shape2 detector, double radius);
/// Reads "FILE.h5:/path": a 2-D numeric dataset of the detector's shape. Errors name the file.
ProbeTemplate load_template(const std::string& spec, Shape2 detector);
/// Applies the zero-mean edge (py4DSTEM get_kernel): none leaves the template as it is;
/// gaussian: t / sum t - g / sum g; sigmoid: t / sum t - s / sum s with the cos^2 trench
/// s(r) = cos^2(pi/2 clamp((r - ri) / (ro - ri), 0, 1)). `kernel` must not be "auto".
void apply_kernel(ProbeTemplate& t, const std::string& kernel, double sigma, double inner, double outer);

/// Centre and half-maximum radius of the central disk of a pattern (px); throws bad_input if
/// there is none.
struct DiskMeasure {
  double cy = 0, cx = 0, radius = 0;
};
DiskMeasure measure_central_disk(const std::vector<float>& pattern, Shape2 detector);

/// Everything detection needs besides the parameters, built by prepare_peaks() or by hand.
struct PeakSetup {
  Shape2 detector;
  ProbeTemplate probe;                  ///< the kernel, after apply_kernel()
  std::vector<std::uint8_t> bad_pixels; ///< [det_y * det_x], 1 = replaced; empty = none
  double gain = 0;                      ///< counts per electron for the significance test (0 = noise-free: test passes)
  double probe_radius = 0;              ///< px, for the defaults
  double min_peak_spacing = 0;          ///< effective value, px
  int edge_boundary = 1;                ///< effective value, px
  double fit_radius = 0;                ///< "fit" refinement: disk radius of its model, px (fitted on sample patterns; 0 = probe_radius)
  double fit_edge = 0;                  ///< "fit" refinement: edge sigma of its model, px (fitted; 0 = probe_edge)
  std::int64_t n_hot = 0, n_dead = 0, n_masked = 0;  ///< bad pixels by origin
  std::vector<std::string> notes;       ///< what was measured, for the log
};

/// Resolves the parameters on `src`: streams it once for the mean and max patterns and the
/// gain (when the template, the radius or the hot pixels need them), once more for an automatic
/// vacuum region, and builds the template and the bad-pixel list. Throws bad_parameter /
/// bad_input with one-line messages (template larger than the detector, vacuum region outside
/// the scan, ...).
PeakSetup prepare_peaks(FrameSource& src, const PeaksParams& p, RunContext& ctx);
/// Same on a setup whose template (and bad pixels, gain) the caller filled in: sets the
/// effective radius, spacing and edge and checks the template's shape.
void finish_setup(PeakSetup& setup, const PeaksParams& p);

/// Detection on single patterns with prebuilt FFT plans and template spectrum (for tests, the
/// benchmark and callers with their own loop). Thread-compatible: find() may run concurrently
/// on distinct Workspaces.
class PeakFinder {
public:
  PeakFinder(const PeaksParams& p, const PeakSetup& setup);
  ~PeakFinder();
  PeakFinder(const PeakFinder&) = delete;
  PeakFinder& operator=(const PeakFinder&) = delete;
  /// Per-thread buffers (fftwf_malloc), built once.
  struct Workspace;
  struct WorkspaceDeleter {
    void operator()(Workspace* w) const;
  };
  using WorkspacePtr = std::unique_ptr<Workspace, WorkspaceDeleter>;
  WorkspacePtr make_workspace() const;
  /// Finds the peaks of one pattern (det_y * det_x floats) into out[0 .. return value), at
  /// most max_num_peaks, in order of their correlation at the pixel maximum; out must hold
  /// max_peaks() entries. Returns -1 (and no peaks) if the pattern has NaN or infinite pixels.
  int find(const float* pattern, Peak* out, Workspace& ws) const;
  /// Convenience: allocates; throws Error(bad_input) for NaN/Inf pixels.
  std::vector<Peak> find(const float* pattern) const;
  /// The smoothed correlation map of the last find() on ws, [det_y, det_x], before the
  /// clipping at 0 (the maxima are those of max(map, 0)).
  const float* correlation(const Workspace& ws) const;
  int max_peaks() const { return max_peaks_; }
  struct Impl;
private:
  std::unique_ptr<Impl> impl_;
  int max_peaks_ = 0;
};

/// Streams `src` (BlockStream under ctx.memory_budget; positions of a block in parallel with
/// TBB, ctx.threads workers) and hands the peaks of each finished block of positions to `sink`
/// as one PeakChunk, in position order (sink.begin() first, sink.end() after the last block),
/// so that only one block's peaks (at most frames_per_block x max_num_peaks) are held here.
/// Progress: ctx.report("peaks", done, total). The chunks do not depend on the thread count;
/// their boundaries follow the blocks, their concatenation does not.
void find_peaks(FrameSource& src, const PeaksParams& p, const PeakSetup& setup, RunContext& ctx, PeakSink& sink);
/// Same into one in-memory PeakList (a PeakListSink). If setup_out is given it receives the
/// setup used.
PeakList find_peaks(FrameSource& src, const PeaksParams& p, RunContext& ctx, PeakSetup* setup_out = nullptr);
/// Same with a prepared setup (no prescan).
PeakList find_peaks(FrameSource& src, const PeaksParams& p, const PeakSetup& setup, RunContext& ctx);

} // namespace domainmap
