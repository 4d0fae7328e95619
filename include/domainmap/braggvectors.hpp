// domainmap/braggvectors.hpp: Bragg disks found in every pattern of a scan (py4DSTEM's
// BraggVectors), the fitted origin per position, and the Bragg vector map.
//
// Peaks are a ragged array in CSR form: the peaks of scan position i = ry * Rx + rx are
// [offsets[i], offsets[i+1]). Raw positions are detector pixels from the detector's first
// pixel (pixel (i, j) has its centre at (qy, qx) = (i, j)); corrected positions are relative to
// the fitted origin of their position, after the elliptical-distortion correction.
//
// Streaming: a whole scan's peak list can be far larger than memory (1024 x 1024 positions x
// 50 peaks = 0.8 GB of raw positions), so the stages also pass peaks as PeakChunks, the CSR
// slices of consecutive positions: find_peaks() hands them to a PeakSink as its blocks finish,
// the origin stage reads them from a PeakChunkSource (a results file, or a PeakList).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "domainmap/params.hpp"

namespace domainmap {

struct PeakList {
  Shape2 scan;                          ///< [Ry, Rx]
  Shape2 detector;                      ///< [Qy, Qx]
  std::vector<std::uint64_t> offsets;   ///< [Ry * Rx + 1]
  std::vector<float> qy_raw, qx_raw;    ///< as found, detector px
  std::vector<float> intensity;         ///< correlation intensity
  std::vector<float> qy, qx;            ///< origin-corrected and distortion-corrected; empty until the origin stage ran
  std::size_t size() const { return qy_raw.size(); }
  std::size_t n_positions() const { return offsets.empty() ? 0 : offsets.size() - 1; }
  std::size_t begin_of(std::size_t i) const { return static_cast<std::size_t>(offsets[i]); }
  std::size_t end_of(std::size_t i) const { return static_cast<std::size_t>(offsets[i + 1]); }
};

/// The peaks of the consecutive scan positions [first_position, first_position + n_positions)
/// of a PeakList, without copying: offsets are the list's own (global) peak indices, and the
/// peak arrays start at the chunk's first peak, so peak j (global) is qy_raw[j - offsets[0]].
struct PeakChunk {
  std::int64_t first_position = 0;
  std::int64_t n_positions = 0;
  const std::uint64_t* offsets = nullptr;  ///< [n_positions + 1]
  const float* qy_raw = nullptr;           ///< [n_peaks()]
  const float* qx_raw = nullptr;
  const float* intensity = nullptr;
  std::uint64_t first_peak() const { return offsets[0]; }
  std::size_t n_peaks() const { return static_cast<std::size_t>(offsets[n_positions] - offsets[0]); }
  /// Local index range [begin, end) into the arrays of position first_position + k.
  std::size_t begin_of(std::int64_t k) const { return static_cast<std::size_t>(offsets[k] - offsets[0]); }
  std::size_t end_of(std::int64_t k) const { return static_cast<std::size_t>(offsets[k + 1] - offsets[0]); }
};

/// Receives a scan's peaks chunk by chunk, in position order: begin(), consume() for chunks that
/// together cover every position once, end(). A chunk's pointers are valid during consume() only.
class PeakSink {
public:
  virtual ~PeakSink() = default;
  virtual void begin(Shape2 scan, Shape2 detector) { (void)scan, (void)detector; }
  virtual void consume(const PeakChunk& chunk) = 0;
  virtual void end() {}
};

/// Collects the chunks into a PeakList (the in-memory path).
class PeakListSink : public PeakSink {
public:
  PeakList list;
  void begin(Shape2 scan, Shape2 detector) override {
    list = PeakList{};
    list.scan = scan;
    list.detector = detector;
    list.offsets.assign(1, 0);
    list.offsets.reserve(static_cast<std::size_t>(scan.y * scan.x + 1));
  }
  void consume(const PeakChunk& c) override {
    const std::size_t n = c.n_peaks();
    list.qy_raw.insert(list.qy_raw.end(), c.qy_raw, c.qy_raw + n);
    list.qx_raw.insert(list.qx_raw.end(), c.qx_raw, c.qx_raw + n);
    list.intensity.insert(list.intensity.end(), c.intensity, c.intensity + n);
    for (std::int64_t k = 1; k <= c.n_positions; ++k) list.offsets.push_back(c.offsets[k]);
  }
};

/// A stored peak list read in chunks of positions, as many passes as the reader wants (the
/// origin stage makes several). Errors name the file.
class PeakChunkSource {
public:
  virtual ~PeakChunkSource() = default;
  virtual Shape2 scan() const = 0;
  virtual Shape2 detector() const = 0;
  virtual std::uint64_t n_peaks() const = 0;
  /// Calls fn on consecutive chunks covering every position once, in position order.
  virtual void for_each(const std::function<void(const PeakChunk&)>& fn) = 0;
};

/// A PeakChunkSource over an in-memory PeakList (no copy): chunks of positions_per_chunk
/// positions (0 = the whole scan in one chunk). The list must stay alive and unchanged.
class PeakListChunks : public PeakChunkSource {
public:
  explicit PeakListChunks(const PeakList& list, std::int64_t positions_per_chunk = 0)
      : list_(list), per_(positions_per_chunk) {}
  Shape2 scan() const override { return list_.scan; }
  Shape2 detector() const override { return list_.detector; }
  std::uint64_t n_peaks() const override { return list_.size(); }
  void for_each(const std::function<void(const PeakChunk&)>& fn) override {
    const auto n = static_cast<std::int64_t>(list_.n_positions());
    const std::int64_t per = per_ > 0 ? per_ : std::max<std::int64_t>(1, n);
    for (std::int64_t first = 0; first < n; first += per) {
      PeakChunk c;
      c.first_position = first;
      c.n_positions = std::min(per, n - first);
      c.offsets = list_.offsets.data() + first;
      const std::size_t b = static_cast<std::size_t>(c.offsets[0]);
      c.qy_raw = list_.qy_raw.data() + b;
      c.qx_raw = list_.qx_raw.data() + b;
      c.intensity = list_.intensity.data() + b;
      fn(c);
    }
  }
private:
  const PeakList& list_;
  std::int64_t per_;
};

/// Fitted origin (central beam) per scan position, detector px, and the calibration the origin
/// stage settled (stored as /origin attributes).
struct OriginMap {
  Shape2 scan;
  std::vector<float> qy0, qx0;          ///< [Ry, Rx] fitted (smooth descan model)
  std::vector<float> qy0_measured, qx0_measured;  ///< [Ry, Rx] measured per position, NaN where none was found
  double scan_rotation_deg = 0;         ///< rotation of the scan axes relative to the detector axes applied to the corrected vectors, deg
  double q_pixel_inv_A = 0;             ///< detector pixel in 1/Angstrom, 0 = unknown
  std::string calibration_source = "none"; ///< where q_pixel_inv_A comes from: "given" (origin.q_pixel_inv_A), "ring" (origin.lattice_spacing_A and the ring radius), "dataset" (the data file's metadata) or "none"
};

/// Elliptical distortion of the diffraction plane: a point at distance r along direction theta
/// from the origin is seen at a * r along the a axis (angle theta_deg from +qx towards +qy) and
/// b * r across it. Correction maps measured vectors back to a circle of radius a.
struct EllipseDistortion {
  double a = 1, b = 1;                  ///< semi-axes (relative; b / a is what matters)
  double theta_deg = 0;                 ///< direction of the a axis, from +qx towards +qy
  bool fitted = false;
};

/// 2D histogram of all corrected peaks (bilinear splatting), M x M, centred on q = 0.
struct BraggVectorMap {
  std::int64_t size = 0;                ///< M
  double pixel = 1;                     ///< histogram bin size in detector px
  std::vector<float> counts;            ///< [M, M], bin (M/2, M/2) holds q = 0
};

} // namespace domainmap
