// cli/verbs.hpp: one function per verb, each in cli/<verb>.cpp.
#pragma once
#include <string>
#include <vector>

#include "domainmap/origin.hpp"
#include "domainmap/percolation.hpp"
#include "domainmap/picture.hpp"
#include "domainmap/results.hpp"
#include "stages.hpp"

namespace domainmap::cli {
int verb_info(const std::vector<std::string>& args);
int verb_convert(const std::vector<std::string>& args);
int verb_virtual(const std::vector<std::string>& args);
int verb_peaks(const std::vector<std::string>& args);
int verb_origin(const std::vector<std::string>& args);
int verb_segment(const std::vector<std::string>& args);
int verb_network(const std::vector<std::string>& args);
int verb_percolate(const std::vector<std::string>& args);
int verb_export(const std::vector<std::string>& args);
int verb_simulate(const std::vector<std::string>& args);
int verb_map(const std::vector<std::string>& args);
int verb_params(const std::vector<std::string>& args);

/// The peaks stage and (if with_origin) the origin stage on `src`, written as a new results
/// file `out` with the /config values of `params`; returns the one-line summary. Used by the
/// peaks and map verbs.
std::string run_peaks_stage(FrameSource& src, StageParams& sp, const ParamList& params, const std::string& out,
                            bool with_origin, RunContext& ctx);

// ---- shared between verbs

/// cli/peaks.cpp: the chunk size for streaming /peaks (a quarter of the memory budget, 64 KiB
/// to 16 MiB), and the origin stage streamed over the transaction's /peaks, writing the
/// corrected vectors into it; the dataset's own calibration fills in when the fit has none.
/// Used by the peaks, origin and map verbs.
std::size_t peak_chunk_bytes(const RunContext& ctx);
OriginResult run_origin_streamed(ResultsWriter& w, const OriginParams& op, double input_q_pixel_inv_A, RunContext& ctx);
/// cli/network.cpp: the boundaries drawn along pixel edges over the orientation map, coloured by
/// type, with a legend and a scale bar (network and export verbs).
RgbImage boundary_picture(const OrientationMap& map, const BoundaryNetwork& net);
/// cli/segment.cpp: the domain table as CSV (segment and export verbs).
void write_domain_table_csv(const std::string& path, const std::vector<DomainRecord>& table);
/// cli/percolate.cpp: the percolation tables as one CSV, the orientation-class map of the
/// domains and the picture of the largest cluster (percolate and export verbs).
void write_percolation_csv(const std::string& path, const PercolationReport& r, const OrientationMap& map);
std::vector<std::int32_t> orientation_class_map(const OrientationMap& map, const std::vector<std::int32_t>& labels,
                                                const std::vector<DomainRecord>& table,
                                                const std::vector<double>& directions, double tolerance_deg);
RgbImage percolation_picture(const PercolationReport& report, const OrientationMap& map,
                             const std::vector<std::int32_t>& labels, const std::vector<std::int32_t>& class_map);
} // namespace domainmap::cli
