// lib/network/network_impl.hpp: private to lib/network/: the boundary classifier that
// build_network() (network.cpp) calls once per edge (classify.cpp).
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include <Eigen/Geometry>

#include "domainmap/network.hpp"
#include "domainmap/symmetry.hpp"

namespace domainmap::network_detail {

/// What classify() finds for one pair of regions.
struct EdgeClass {
  double angle_deg = 0;
  std::array<double, 3> axis{0, 0, 0};
  BoundaryType type = BoundaryType::high_angle;
  std::int32_t sigma = 0;
};

/// Classifies the boundaries between pairs of regions of one domain table. Construction checks
/// the table against the phases (Error(bad_input) naming /domains/table or /phases/<i>).
class Classifier {
public:
  Classifier(const std::vector<DomainRecord>& domains, const std::vector<PhaseInfo>& phases, const NetworkParams& p);
  /// Regions a < b (a may be -1, the unlabelled region).
  EdgeClass classify(std::int32_t a, std::int32_t b) const;
  /// Phase of a region (-1 for the unlabelled region).
  std::int32_t phase_of(std::int32_t region) const {
    return region < 0 ? -1 : domains_[static_cast<std::size_t>(region)].phase;
  }

private:
  // Per domain: how its orientation is known.
  enum class Mode : std::uint8_t { none, angle_2d, quat_3d };
  struct Orient {
    Mode mode = Mode::none;
    double angle = 0;
    Eigen::Quaterniond q = Eigen::Quaterniond::Identity();
  };
  // Per phase.
  struct Phase {
    const RotationGroup* group = nullptr;
    int nfold = 1;       // z_order, >= 1
    bool cubic = false;  // Laue m-3 or m-3m
  };
  const std::vector<DomainRecord>& domains_;
  NetworkParams p_;
  std::vector<Orient> orient_;
  std::vector<Phase> phases_;
  // CSL match of a same-phase cubic misorientation dg (q1^-1 q2); 0 = none.
  std::int32_t csl_sigma(const Eigen::Quaterniond& q1, const Eigen::Quaterniond& q2) const;
};

} // namespace domainmap::network_detail
