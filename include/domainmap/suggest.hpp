// domainmap/suggest.hpp: `domainmap peaks --suggest`: peaks parameters estimated from the data
// itself, and a picture of sample patterns with the peaks those parameters find.
//
// suggest_peaks_params() runs prepare_peaks() (mean pattern, probe radius, bad pixels, gain)
// and then detection on a deterministic sample of positions: a g x g grid, g = ceil(sqrt n),
// at the centres of equal scan cells (first n in raster order, duplicates removed on small
// scans). The rules, each recorded as a reason:
//  * probe_radius: as given, else the half-maximum radius of the mean pattern's central disk.
//  * sigma_cc: min(base sigma_cc, max(1, round(probe radius) / 2)): no wider than half a disk.
//  * edge_boundary: ceil(probe radius + 1): a disk cut by the detector edge is not a peak.
//  * min_peak_spacing: a first pass with spacing 2 x radius and no relative threshold gives
//    the nearest-neighbour distances d of the sample's peaks; spacing =
//    max(2 x radius, 0.7 x d10), d10 the 10th percentile of d (0.7 keeps a margin below the
//    smallest reciprocal lattice spacing, the 10th percentile ignores a few close pairs).
//  * min_relative_intensity: the first pass's intensities relative to each pattern's
//    brightest peak, sorted; if two consecutive values below 0.2 differ by a factor >= 5, the
//    dim ones are noise and the threshold is the geometric mean of that gap; otherwise
//    min(base value, half the dimmest relative intensity), at least 1e-4.
//  * min_absolute_intensity: 0 (the relative threshold and the significance test already
//    separate noise; an absolute one would drop the disks of dim, thick regions).
// The final parameters are then run on the sample (the SamplePeaks).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "domainmap/context.hpp"
#include "domainmap/dataset.hpp"
#include "domainmap/peaks.hpp"

namespace domainmap {

struct PeaksSuggestion {
  double probe_radius_px = 0;
  double min_peak_spacing_px = 0;
  int edge_boundary_px = 1;
  double min_relative_intensity = 0.005;
  double min_absolute_intensity = 0;
  double sigma_cc = 2;
  /// ("peaks.KEY", "value") in the order probe_radius, sigma_cc, min_peak_spacing,
  /// edge_boundary, min_relative_intensity, min_absolute_intensity.
  std::vector<std::pair<std::string, std::string>> as_params() const;
  /// reasons[i] explains as_params()[i]; further entries are general notes.
  std::vector<std::string> reasons;
  /// Sample statistics (first pass): peaks seen, 10th percentile nearest-neighbour distance (0 if < 2 peaks).
  std::int64_t sample_peaks = 0;
  double nn_distance_p10_px = 0;
};

/// One sampled pattern and the peaks the suggested parameters find in it.
struct SamplePeaks {
  std::int64_t ry = 0, rx = 0;
  Shape2 detector;
  std::vector<float> pattern;  ///< det_y * det_x, as read
  std::vector<Peak> peaks;
};

/// See the file comment. Deterministic (independent of threads and memory budget). Errors as
/// prepare_peaks().
PeaksSuggestion suggest_peaks_params(FrameSource& src, const PeaksParams& base, RunContext& ctx, int n_samples = 9,
                                     std::vector<SamplePeaks>* samples = nullptr);

/// RGB PNG: the sample patterns in a grid (ceil(sqrt n) columns, 2 px gaps), log-scaled gray,
/// each peak marked by a red circle of radius max(3, marker_radius) px and a red centre pixel.
void write_suggest_png(const std::string& path, const std::vector<SamplePeaks>& samples, double marker_radius);

} // namespace domainmap
