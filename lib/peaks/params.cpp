// lib/peaks/params.cpp: the `peaks` stage's parameters: declarations and cross-field checks.
#include <cmath>
#include <sstream>

#include "domainmap/error.hpp"
#include "domainmap/peaks.hpp"

namespace domainmap {

void describe(PeaksParams& p, ParamSink& s) {
  param(s, "template", p.template_source,
        "probe template: auto (soft disk, radius of the mean pattern's central disk), mean, vacuum, disk, or FILE.h5:/path (centre at pixel (0,0), wrapped)");
  param(s, "vacuum_region", p.vacuum_region,
        "vacuum template: scan rectangle ry0,rx0,ry1,rx1 (end exclusive); empty = positions with the lowest dark-field signal");
  param(s, "vacuum_fraction", p.vacuum_fraction,
        "automatic vacuum region: fraction of the positions with the lowest dark-field signal", 0, 1);
  param(s, "probe_radius", p.probe_radius, "probe disk radius; 0 = measured on the mean pattern (half maximum)", 0,
        kNoLimit, "px");
  param(s, "probe_edge", p.probe_edge, "synthetic disk template: Gaussian sigma of its edge", 0, kNoLimit, "px");
  param(s, "kernel", p.kernel,
        "zero-mean edge of the template (py4DSTEM get_kernel mode): auto = sigmoid for built templates, none for a file",
        {"auto", "none", "gaussian", "sigmoid"});
  param(s, "kernel_sigma", p.kernel_sigma, "gaussian kernel: sigma relative to the probe's rms radius (py4DSTEM sigma)",
        0, kNoLimit);
  param(s, "kernel_inner", p.kernel_inner, "sigmoid kernel: inner trench radius; 0 = probe radius (py4DSTEM radii[0])",
        0, kNoLimit, "px");
  param(s, "kernel_outer", p.kernel_outer,
        "sigmoid kernel: outer trench radius; 0 = 2 x probe radius (py4DSTEM radii[1])", 0, kNoLimit, "px");
  param(s, "corr_power", p.corr_power, "1 cross-, 0 phase, between hybrid correlation (py4DSTEM corrPower)", 0, 1);
  param(s, "sigma_cc", p.sigma_cc, "Gaussian sigma on the correlation (py4DSTEM sigma_cc)", 0, 100, "px");
  param(s, "sigma_dp", p.sigma_dp, "Gaussian sigma on the pattern before correlation (py4DSTEM sigma_dp)", 0, 100, "px");
  param(s, "subpixel", p.subpixel,
        "sub-pixel refinement: fit (the disk model fitted to the pattern, Poisson weights), or py4DSTEM's pixel, poly, multicorr",
        {"fit", "pixel", "poly", "multicorr"});
  param(s, "upsample_factor", p.upsample_factor, "multicorr: DFT upsampling factor (py4DSTEM upsample_factor)", 1,
        1024);
  param(s, "min_absolute_intensity", p.min_absolute_intensity,
        "drop peaks with a correlation below this (py4DSTEM minAbsoluteIntensity)", 0, kNoLimit);
  param(s, "min_relative_intensity", p.min_relative_intensity,
        "drop peaks below this fraction of the relative_to_peak-th brightest (py4DSTEM minRelativeIntensity)", 0, 1);
  param(s, "relative_to_peak", p.relative_to_peak, "reference peak of min_relative_intensity, 0 = brightest (py4DSTEM relativeToPeak)", 0,
        1e6);
  param(s, "min_peak_spacing", p.min_peak_spacing,
        "a brighter peak removes dimmer ones closer than this; negative = 2 x probe radius (py4DSTEM minPeakSpacing)",
        -kNoLimit, kNoLimit, "px");
  param(s, "edge_boundary", p.edge_boundary,
        "no peaks this close to the detector edge; negative = ceil(probe radius) (py4DSTEM edgeBoundary)", -1e6, 1e6,
        "px");
  param(s, "max_num_peaks", p.max_num_peaks, "keep at most this many peaks per pattern (py4DSTEM maxNumPeaks)", 1, 1e6);
  param(s, "min_significance", p.min_significance,
        "drop peaks below this many Poisson standard deviations of their correlation; 0 = off", 0, kNoLimit);
  param(s, "min_isotropy", p.min_isotropy,
        "drop peaks whose correlation falls off less than this fraction as much along one direction as along another (ridges, amorphous rings); 0 = off", 0, 1);
  param(s, "hot_pixels", p.hot_pixels, "find hot and dead pixels from the mean and max patterns and replace them");
  param(s, "hot_threshold", p.hot_threshold,
        "hot/dead pixel test: a pixel beyond twice (half) its 2nd brightest (darkest) neighbour by this many robust standard deviations", 1, kNoLimit);
  param(s, "mask", p.mask, "bad-pixel mask FILE.h5:/path, det_y x det_x, nonzero = bad (added to those found)");
}

namespace {
std::string num(double v) { return param_number_text(v); }
} // namespace

void validate(const PeaksParams& p) {
  const std::string& t = p.template_source;
  const bool builtin = t == "auto" || t == "mean" || t == "vacuum" || t == "disk";
  if (t.empty())
    fail(ErrorKind::bad_parameter, "", "peaks.template = '': give auto, mean, vacuum, disk or FILE.h5:/path");
  if (!builtin && t.find(":/") == std::string::npos)
    fail(ErrorKind::bad_parameter, "", "peaks.template = ", t,
         ": expected auto, mean, vacuum, disk or FILE.h5:/path (an HDF5 dataset)");
  if (!p.vacuum_region.empty() && t != "vacuum")
    fail(ErrorKind::bad_parameter, "", "peaks.vacuum_region = ", p.vacuum_region,
         ": only used with peaks.template = vacuum");
  if (p.kernel == "sigmoid" || (p.kernel == "auto" && builtin)) {
    if (p.kernel_inner > 0 && p.kernel_outer > 0 && !(p.kernel_inner < p.kernel_outer))
      fail(ErrorKind::bad_parameter, "", "peaks.kernel_inner = ", num(p.kernel_inner),
           ": must be smaller than peaks.kernel_outer = ", num(p.kernel_outer));
  }
  if (p.kernel == "gaussian" && !(p.kernel_sigma > 0))
    fail(ErrorKind::bad_parameter, "", "peaks.kernel_sigma = ", num(p.kernel_sigma), ": must be > 0 for kernel gaussian");
  if (p.subpixel == "multicorr" && p.upsample_factor < 2)
    fail(ErrorKind::bad_parameter, "", "peaks.upsample_factor = ", p.upsample_factor, ": must be >= 2 for multicorr");
}

} // namespace domainmap
