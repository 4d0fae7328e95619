// lib/network/network.cpp: tracing the boundary network. (Being written.)
#include "domainmap/error.hpp"
#include "domainmap/network.hpp"

namespace domainmap {

BoundaryNetwork build_network(const std::vector<std::int32_t>&, Shape2, const std::vector<DomainRecord>&,
                              const std::vector<PhaseInfo>&, double, const NetworkParams&) {
  fail(ErrorKind::internal, "network", "not built yet");
}
BoundaryGraph to_boundary_graph(const BoundaryNetwork&) { fail(ErrorKind::internal, "network", "not built yet"); }
void write_graphml(const std::string& path, const BoundaryNetwork&) { fail(ErrorKind::internal, path, "not built yet"); }
void write_network_json(const std::string& path, const BoundaryNetwork&) { fail(ErrorKind::internal, path, "not built yet"); }
void write_network_csv(const std::string& path, const std::string&, const BoundaryNetwork&) {
  fail(ErrorKind::internal, path, "not built yet");
}

} // namespace domainmap
