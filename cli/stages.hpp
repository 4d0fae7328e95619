// cli/stages.hpp: the parameter structs of every stage, by stage name, for the verbs that
// run several stages and for `domainmap params`.
#pragma once
#include <string>
#include <vector>

#include "domainmap/dataset.hpp"
#include "domainmap/network.hpp"
#include "domainmap/origin.hpp"
#include "domainmap/params.hpp"
#include "domainmap/peaks.hpp"
#include "domainmap/percolation.hpp"
#include "domainmap/segment.hpp"
#include "domainmap/simulate.hpp"
#include "domainmap/virtual.hpp"
#include "domainmap/write.hpp"

namespace domainmap::cli {

struct StageParams {
  ReadParams read;
  WriteParams write;
  SimParams simulate;
  VirtualParams virtual_images;  ///< stage 'virtual'
  PeaksParams peaks;
  OriginParams origin;
  SegmentParams segment;
  NetworkParams network;
  PercolateParams percolate;
};

/// Stage names in pipeline order.
std::vector<std::string> stage_names();
/// Adds stage `name`'s parameters (bound to the matching member of `p`) to `list`;
/// throws bad_parameter for an unknown stage.
void add_stage(ParamList& list, StageParams& p, const std::string& name);

} // namespace domainmap::cli
