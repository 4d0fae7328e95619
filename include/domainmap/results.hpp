// domainmap/results.hpp: the results file (HDF5) that carries every stage's output, so each
// stage can be re-run alone on it. The layout is the project's results-file contract
// (docs/results-layout.md); only lib/results/ knows the HDF5 paths.
//
// Rules: a stage that rewrites its group deletes every group downstream of it; every stage is
// idempotent; files are written to a temporary name and renamed when complete (ResultsWriter).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "domainmap/braggvectors.hpp"
#include "domainmap/network.hpp"
#include "domainmap/params.hpp"
#include "domainmap/percolation.hpp"
#include "domainmap/segment.hpp"

namespace domainmap {

inline constexpr int kResultsFormatVersion = 1;
/// Elements per HDF5 chunk of the per-peak datasets of /peaks (and of /peaks/offsets).
inline constexpr std::int64_t kPeakChunkElements = 65536;

/// The groups of a results file in pipeline order; writing one deletes those after it.
const std::vector<std::string>& results_groups();  // peaks, origin, orientation, phases, domains, network, percolation

/// Root and /scan attributes.
struct ResultsHeader {
  std::string domainmap_version;        ///< filled in by ResultsWriter
  std::string created;                  ///< ISO 8601 UTC; filled in by ResultsWriter when empty
  std::string input;                    ///< path of the dataset
  Shape2 scan;                          ///< [Ry, Rx]
  Shape2 detector;                      ///< [Qy, Qx]
  double scan_step_nm = 0;              ///< 0 = unknown
  double q_pixel_inv_A = 0;             ///< detector pixel, 1/A, the one the stages use (the origin stage's calibration when it made one); 0 = unknown
  double input_q_pixel_inv_A = 0;       ///< the dataset's own detector calibration, 1/A (kept when the origin stage replaces q_pixel_inv_A); 0 = unknown
};

/// Edits a results file as one transaction: works on a temporary copy (or a new file) and
/// renames it over `path` in commit(); destroyed without commit(), it leaves `path` untouched.
class ResultsWriter {
public:
  /// create_new: start an empty file (replacing any at `path` on commit); otherwise `path`
  /// must be an existing results file.
  ResultsWriter(const std::string& path, bool create_new);
  ~ResultsWriter();
  ResultsWriter(const ResultsWriter&) = delete;
  ResultsWriter& operator=(const ResultsWriter&) = delete;

  void write_header(const ResultsHeader& h);
  /// Replaces the /config attributes of one stage ("stage.key" = value); others are kept.
  void write_config(const std::string& stage, const std::vector<std::pair<std::string, std::string>>& values);
  /// Deletes `group` and every group after it in results_groups().
  void clear_from(const std::string& group);
  /// /peaks (offsets, raw positions, intensity; corrected ones if present). Clears from "peaks".
  /// The same datasets as the streamed path below.
  void write_peaks(const PeakList& peaks);
  /// Streamed /peaks: begin_peaks() clears from "peaks" and creates the datasets extendible and
  /// chunked (kPeakChunkElements per chunk); append_peaks() adds the chunks in position order
  /// (their offsets too), so that only one chunk needs to be in memory; end_peaks() checks that
  /// every position came and closes them. Errors: Error(internal) for chunks out of order.
  /// expected_peaks > 0 (the total, when known) makes the chunks no larger than the data.
  void begin_peaks(Shape2 scan, Shape2 detector, std::uint64_t expected_peaks = 0);
  void append_peaks(const PeakChunk& chunk);
  void end_peaks();
  /// A PeakSink that writes through begin_peaks / append_peaks / end_peaks (for find_peaks()).
  std::unique_ptr<PeakSink> peaks_sink();
  /// The raw peaks of this transaction (written in it, or else the file's), read back in
  /// chunks of positions of at most about chunk_bytes (at least one position per chunk).
  /// Valid until commit() or the writer's end.
  std::unique_ptr<PeakChunkSource> peaks_source(std::size_t chunk_bytes);
  /// /origin and the corrected /peaks/qy, /peaks/qx and /peaks/bragg_vector_map; clears from
  /// "orientation". Also sets /scan q_pixel_inv_A to origin.q_pixel_inv_A (removes it when 0).
  void write_origin(const OriginMap& origin, const PeakList& corrected, const EllipseDistortion& ellipse,
                    const BraggVectorMap& bvm);
  /// The same streamed: begin_corrected() keeps the raw /peaks (written in this transaction or
  /// copied from the file without the old corrected vectors), clears from "origin" and creates
  /// /peaks/qy, /peaks/qx (chunked); append_corrected() fills them in peak order, chunk by
  /// chunk; write_origin(origin, ellipse, bvm) checks that every peak came and writes the rest.
  void begin_corrected();
  void append_corrected(std::uint64_t first_peak, std::size_t n, const float* qy, const float* qx);
  void write_origin(const OriginMap& origin, const EllipseDistortion& ellipse, const BraggVectorMap& bvm);
  /// /orientation (phase, angle, quaternion and score when present) and /phases/<i> (attrs
  /// name, symmetry). Clears from "orientation".
  void write_orientation(const OrientationMap& map);
  /// /domains: labels, subdomains (+ subdomain_parent) if any, kam_deg, gos_deg, the compound
  /// table [K] and the summary as attributes. /orientation must be in the file or this
  /// transaction. Clears from "domains" (so /network and /percolation go).
  void write_domains(const Segmentation& seg);
  /// /network (nodes, edges, polylines, junction counts). /domains must be in the file or this
  /// transaction. Clears from "network" (so /percolation goes).
  void write_network(const BoundaryNetwork& net);
  /// /percolation (phases, classes, boundaries, the disorientation sweep). /domains must be in
  /// the file or this transaction. Clears from "percolation".
  void write_percolation(const PercolationReport& report);
  void commit();
  const std::string& path() const { return path_; }

  struct Impl;
private:
  std::string path_, tmp_;
  std::unique_ptr<Impl> impl_;
  bool committed_ = false;
};

ResultsHeader read_results_header(const std::string& path);
/// Errors name the file and say which stage to run: "R.h5: no /peaks; run 'domainmap peaks DATA -o R.h5' first".
PeakList read_peaks(const std::string& path);
/// The raw peaks of a results file read in chunks of positions of at most about chunk_bytes,
/// without loading them all (the offsets, 8 bytes per position, are read once).
std::unique_ptr<PeakChunkSource> read_peaks_chunked(const std::string& path, std::size_t chunk_bytes);
/// /origin: origin maps and the calibration attributes (scan_rotation_deg, q_pixel_inv_A,
/// calibration_source; files written before they existed read as 0, 0, "none").
OriginMap read_origin(const std::string& path);
EllipseDistortion read_ellipse(const std::string& path);
BraggVectorMap read_bragg_vector_map(const std::string& path);
/// /orientation and /phases (scan_step_nm from /scan). Errors: "R.h5: no /orientation; run
/// 'domainmap index R.h5' first", mismatched shapes, unknown symmetry (naming the object).
OrientationMap read_orientation(const std::string& path);
/// /domains/labels (and /domains/subdomains when present).
struct DomainLabels {
  Shape2 scan;                            ///< [Ry, Rx]
  std::vector<std::int32_t> labels;       ///< [Ry * Rx], -1 = none
  std::vector<std::int32_t> subdomains;   ///< [Ry * Rx] or empty
  std::int32_t n_domains = 0;             ///< rows of /domains/table
};
DomainLabels read_domain_labels(const std::string& path);
/// The rows of /domains/table.
std::vector<DomainRecord> read_domain_table(const std::string& path);
/// /network as write_network() stored it. Error: "R.h5: no /network; run 'domainmap network R.h5' first".
BoundaryNetwork read_network(const std::string& path);
/// /percolation as write_percolation() stored it.
PercolationReport read_percolation(const std::string& path);
/// "stage.key" = value pairs stored under /config.
std::vector<std::pair<std::string, std::string>> read_config(const std::string& path);
/// True if the file has `group` (e.g. "peaks").
bool results_has(const std::string& path, const std::string& group);

} // namespace domainmap
