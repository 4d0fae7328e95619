// lib/network/params.cpp: the `network` stage's parameters and the names of its enums.
#include "domainmap/error.hpp"
#include "domainmap/network.hpp"

namespace domainmap {

void describe(NetworkParams& p, ParamSink& s) {
  param(s, "low_angle_deg", p.low_angle_deg,
        "boundaries of one phase below this disorientation are low-angle (Read-Shockley limit 15)", 0, 180, "deg");
  param(s, "csl", p.csl, "classify coincidence-site-lattice boundaries (Sigma 3 .. max_sigma) in cubic phases");
  param(s, "brandon_deg", p.brandon_deg,
        "Brandon criterion: a CSL boundary lies within brandon_deg / sqrt(Sigma) of its misorientation", 0, 90, "deg");
  param(s, "max_sigma", p.max_sigma, "largest Sigma tested (3, 5, 7, 9, 11)", 3, 11);
}

void validate(const NetworkParams& p) {
  if (!(p.low_angle_deg > 0 && p.low_angle_deg < 180))
    fail(ErrorKind::bad_parameter, "", "network.low_angle_deg = ", param_number_text(p.low_angle_deg),
         ": must be in (0, 180)");
  if (!(p.brandon_deg > 0 && p.brandon_deg <= 90))
    fail(ErrorKind::bad_parameter, "", "network.brandon_deg = ", param_number_text(p.brandon_deg),
         ": must be in (0, 90]");
  if (p.max_sigma < 3 || p.max_sigma > 11)
    fail(ErrorKind::bad_parameter, "", "network.max_sigma = ", p.max_sigma, ": must be in [3, 11]");
}

const char* node_kind_name(NodeKind k) {
  switch (k) {
    case NodeKind::junction: return "junction";
    case NodeKind::field_edge: return "field_edge";
    case NodeKind::loop: return "loop";
  }
  return "?";
}

const char* boundary_type_name(BoundaryType t) {
  switch (t) {
    case BoundaryType::low_angle: return "low_angle";
    case BoundaryType::high_angle: return "high_angle";
    case BoundaryType::csl: return "csl";
    case BoundaryType::phase: return "phase";
    case BoundaryType::unlabelled: return "unlabelled";
  }
  return "?";
}

} // namespace domainmap
