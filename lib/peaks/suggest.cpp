// lib/peaks/suggest.cpp: peaks parameters estimated from the data (see domainmap/suggest.hpp).
#include "domainmap/suggest.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "domainmap/error.hpp"
#include "domainmap/png.hpp"

namespace domainmap {

namespace {

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

// Grid positions at the centres of g x g equal scan cells, first n in raster order, unique.
std::vector<std::pair<std::int64_t, std::int64_t>> sample_positions(Shape2 scan, int n) {
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  if (n <= 0 || scan.y <= 0 || scan.x <= 0) return out;
  const int g = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(n))));
  std::set<std::pair<std::int64_t, std::int64_t>> seen;
  for (int i = 0; i < g && static_cast<int>(out.size()) < n; ++i)
    for (int j = 0; j < g && static_cast<int>(out.size()) < n; ++j) {
      const auto ry = std::min<std::int64_t>(scan.y - 1, static_cast<std::int64_t>((i + 0.5) * scan.y / g));
      const auto rx = std::min<std::int64_t>(scan.x - 1, static_cast<std::int64_t>((j + 0.5) * scan.x / g));
      if (seen.insert({ry, rx}).second) out.emplace_back(ry, rx);
    }
  return out;
}

// Runs detection with p on the sampled patterns.
void detect(std::vector<SamplePeaks>& s, const PeaksParams& p, PeakSetup setup) {
  finish_setup(setup, p);
  PeakFinder finder(p, setup);
  auto ws = finder.make_workspace();
  std::vector<Peak> buf(static_cast<std::size_t>(std::max(1, finder.max_peaks())));
  for (SamplePeaks& sp : s) {
    const int n = finder.find(sp.pattern.data(), buf.data(), *ws);
    sp.peaks.assign(buf.begin(), buf.begin() + std::max(0, n));
  }
}

} // namespace

std::vector<std::pair<std::string, std::string>> PeaksSuggestion::as_params() const {
  return {{"peaks.probe_radius", num(probe_radius_px)},
          {"peaks.sigma_cc", num(sigma_cc)},
          {"peaks.min_peak_spacing", num(min_peak_spacing_px)},
          {"peaks.edge_boundary", std::to_string(edge_boundary_px)},
          {"peaks.min_relative_intensity", num(min_relative_intensity)},
          {"peaks.min_absolute_intensity", num(min_absolute_intensity)}};
}

PeaksSuggestion suggest_peaks_params(FrameSource& src, const PeaksParams& base, RunContext& ctx, int n_samples,
                                     std::vector<SamplePeaks>* samples_out) {
  if (n_samples < 1) fail(ErrorKind::bad_parameter, "", "suggest: n_samples = ", n_samples, ": must be >= 1");
  validate(base);
  const Shape4& s4 = src.shape();
  const Shape2 det{s4.det_y, s4.det_x};
  PeakSetup setup = prepare_peaks(src, base, ctx);
  PeaksSuggestion r;
  const double radius = setup.probe_radius > 0 ? setup.probe_radius : setup.probe.radius;
  if (!(radius > 0)) fail(ErrorKind::bad_input, src.info().path, "suggest: no probe radius could be measured");
  r.probe_radius_px = radius;
  const std::string rad = num(radius);

  // reasons parallel to as_params()
  r.reasons.push_back(base.probe_radius > 0 ? "given" : "half-maximum radius of the mean pattern's central disk");
  r.sigma_cc = std::min(base.sigma_cc, std::max(1.0, std::round(radius) / 2));
  r.reasons.push_back(r.sigma_cc == base.sigma_cc ? "default " + num(base.sigma_cc) + " px (<= probe radius / 2)"
                                                  : "round(probe radius " + rad + " px) / 2 (no wider than half a disk)");
  r.edge_boundary_px = static_cast<int>(std::ceil(radius + 1));
  const int max_edge = static_cast<int>((std::min(det.y, det.x) - 2) / 2);
  if (r.edge_boundary_px > max_edge) r.edge_boundary_px = std::max(1, max_edge);

  // the sample
  std::vector<SamplePeaks> samples;
  for (const auto& [ry, rx] : sample_positions({s4.scan_y, s4.scan_x}, n_samples)) {
    SamplePeaks sp;
    sp.ry = ry;
    sp.rx = rx;
    sp.detector = det;
    sp.pattern = read_pattern(src, ry, rx);
    samples.push_back(std::move(sp));
  }

  // first pass: spacing 2 x radius, no relative threshold
  PeaksParams p = base;
  p.probe_radius = radius;
  p.sigma_cc = r.sigma_cc;
  p.edge_boundary = r.edge_boundary_px;
  p.min_peak_spacing = 2 * radius;
  p.min_relative_intensity = 0;
  p.min_absolute_intensity = 0;
  detect(samples, p, setup);

  std::vector<double> nn, rel;
  for (const SamplePeaks& sp : samples) {
    const std::size_t n = sp.peaks.size();
    r.sample_peaks += static_cast<std::int64_t>(n);
    for (std::size_t a = 0; a < n; ++a) {
      double best = INFINITY;
      for (std::size_t b = 0; b < n; ++b)
        if (a != b)
          best = std::min(best, std::hypot(double(sp.peaks[a].qy) - sp.peaks[b].qy, double(sp.peaks[a].qx) - sp.peaks[b].qx));
      if (std::isfinite(best)) nn.push_back(best);
    }
    if (n > 0) {
      const std::size_t ref = std::min<std::size_t>(static_cast<std::size_t>(std::max(0, base.relative_to_peak)), n - 1);
      const double iref = sp.peaks[ref].intensity;
      if (iref > 0)
        for (std::size_t a = 0; a < n; ++a)
          if (a != ref && sp.peaks[a].intensity > 0) rel.push_back(sp.peaks[a].intensity / iref);
    }
  }
  std::sort(nn.begin(), nn.end());
  std::sort(rel.begin(), rel.end());

  // spacing
  r.min_peak_spacing_px = 2 * radius;
  if (!nn.empty()) {
    r.nn_distance_p10_px = nn[static_cast<std::size_t>(0.1 * static_cast<double>(nn.size() - 1))];
    if (0.7 * r.nn_distance_p10_px > r.min_peak_spacing_px) {
      r.min_peak_spacing_px = 0.7 * r.nn_distance_p10_px;
      r.reasons.push_back("0.7 x " + num(r.nn_distance_p10_px) +
                          " px, the 10th percentile of the sample's nearest-peak distances (> 2 x probe radius " + rad +
                          " px)");
    } else {
      r.reasons.push_back("2 x probe radius " + rad + " px (0.7 x the sample's 10th-percentile nearest-peak distance, " +
                          num(0.7 * r.nn_distance_p10_px) + " px, is smaller)");
    }
  } else {
    r.reasons.push_back("2 x probe radius " + rad + " px (too few peaks in the sample to measure distances)");
  }
  r.reasons.push_back("ceil(probe radius " + rad + " + 1) px: no disk cut by the detector edge");

  // relative threshold
  double best_ratio = 0, gap_lo = 0, gap_hi = 0;
  for (std::size_t i = 0; i + 1 < rel.size(); ++i) {
    const double lo = rel[i], hi = rel[i + 1];
    if (hi > 0.2) break;
    if (lo > 0 && hi / lo >= 5 && hi / lo > best_ratio) {
      best_ratio = hi / lo;
      gap_lo = lo;
      gap_hi = hi;
    }
  }
  const double base_rel = base.min_relative_intensity > 0 ? base.min_relative_intensity : 0.005;
  if (best_ratio > 0) {
    r.min_relative_intensity = std::sqrt(gap_lo * gap_hi);
    r.reasons.push_back("the sample's relative intensities have a gap from " + num(gap_lo) + " to " + num(gap_hi) +
                        ": noise below it; threshold at its geometric mean");
  } else if (!rel.empty() && rel.front() / 2 < base_rel) {
    r.min_relative_intensity = std::max(1e-4, rel.front() / 2);
    r.reasons.push_back("half the dimmest relative intensity in the sample, " + num(rel.front()) +
                        " (no gap between disks and noise)");
  } else {
    r.min_relative_intensity = base_rel;
    r.reasons.push_back(rel.empty() ? "default (no secondary peaks in the sample)"
                                    : "default: every sample peak is brighter than twice it");
  }
  r.min_absolute_intensity = 0;
  r.reasons.push_back("off: the relative threshold and the significance test separate the noise");

  // general notes
  r.reasons.push_back("sample: " + std::to_string(samples.size()) + " positions, " + std::to_string(r.sample_peaks) +
                      " candidate peaks with spacing 2 x radius and no intensity threshold");
  if (setup.gain <= 0 && base.min_significance > 0)
    r.reasons.push_back("no detector gain measured (noise-free data?): the significance test is off");

  // final pass with the suggestion
  if (samples_out) {
    p.min_peak_spacing = r.min_peak_spacing_px;
    p.min_relative_intensity = r.min_relative_intensity;
    p.min_absolute_intensity = r.min_absolute_intensity;
    detect(samples, p, setup);
    *samples_out = std::move(samples);
  }
  return r;
}

void write_suggest_png(const std::string& path, const std::vector<SamplePeaks>& samples, double marker_radius) {
  if (samples.empty()) fail(ErrorKind::bad_input, path, "no sample patterns to draw");
  const Shape2 det = samples.front().detector;
  const int n = static_cast<int>(samples.size());
  const int cols = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(n))));
  const int rows = (n + cols - 1) / cols;
  const int gap = 2;
  const auto ty = static_cast<int>(det.y), tx = static_cast<int>(det.x);
  const int h = rows * ty + (rows - 1) * gap, w = cols * tx + (cols - 1) * gap;
  std::vector<std::uint8_t> rgb(static_cast<std::size_t>(h) * w * 3, 40);
  PngScaling sc;
  sc.scale = PngScale::log;
  const double mr = std::max(3.0, marker_radius);
  for (int k = 0; k < n; ++k) {
    const SamplePeaks& s = samples[static_cast<std::size_t>(k)];
    if (!(s.detector == det) || s.pattern.size() != static_cast<std::size_t>(ty) * tx)
      fail(ErrorKind::bad_input, path, "sample patterns of different shapes");
    const int oy = (k / cols) * (ty + gap), ox = (k % cols) * (tx + gap);
    const std::vector<std::uint8_t> g = gray_levels(s.pattern.data(), s.pattern.size(), sc);
    for (int i = 0; i < ty; ++i)
      for (int j = 0; j < tx; ++j) {
        std::uint8_t* px = &rgb[(static_cast<std::size_t>(oy + i) * w + ox + j) * 3];
        px[0] = px[1] = px[2] = g[static_cast<std::size_t>(i) * tx + j];
      }
    auto put = [&](int i, int j) {
      if (i < 0 || j < 0 || i >= ty || j >= tx) return;
      std::uint8_t* px = &rgb[(static_cast<std::size_t>(oy + i) * w + ox + j) * 3];
      px[0] = 255;
      px[1] = 0;
      px[2] = 0;
    };
    const int steps = std::max(16, static_cast<int>(std::ceil(2 * M_PI * mr * 2)));
    for (const Peak& p : s.peaks) {
      for (int t = 0; t < steps; ++t) {
        const double a = 2 * M_PI * t / steps;
        put(static_cast<int>(std::lround(p.qy + mr * std::sin(a))), static_cast<int>(std::lround(p.qx + mr * std::cos(a))));
      }
      put(static_cast<int>(std::lround(p.qy)), static_cast<int>(std::lround(p.qx)));
    }
  }
  write_png_rgb(path, rgb.data(), h, w);
}

} // namespace domainmap
