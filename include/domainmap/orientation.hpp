// domainmap/orientation.hpp: crystal orientations as unit quaternions: conversions (axis-angle,
// Bunge Euler angles, rotation about the beam), misorientation and disorientation under crystal
// symmetry, reduction into the fundamental zone, symmetry-aware averaging and orientation spread,
// and the same for the in-plane angles of the 2D modes.
//
// Conventions. An orientation g is the active rotation taking crystal coordinates to sample
// coordinates, v_sample = g v_crystal (MTEX's convention; /orientation/quaternion in
// results-layout.md stores it as (w, x, y, z)). All angles are in degrees. A quaternion and its
// negative are the same rotation; functions returning quaternions fix the sign to w >= 0.
// Crystal symmetry acts on the right: g and g S (S in the group) are the same orientation.
//
// Misorientation of g2 relative to g1: dg = g1^-1 g2 (crystal 2 to crystal 1 coordinates; its
// axis is the same in both crystal frames). With symmetry the equivalent misorientations are
// S1 dg S2 (S1 in G1, S2 in G2) and, when both crystals share one group, also their inverses
// ("switching symmetry": the boundary between 1 and 2 is that between 2 and 1). The
// disorientation is the equivalent with the smallest angle (Morawiec, "Orientations and
// Rotations" (2004), ch. 8; Grimmer, Acta Cryst. A30 (1974) 685). dg^-1 has the angle of dg, so
// switching symmetry only widens the choice of axis, never the angle.
//
// Fast path. For one group G the angle of S1 dg S2 is that of its conjugate S2 S1 dg, so only
// the |G| products S dg are needed, and w(S dg) = <conj(S), dg> is a 4D dot product; G is closed
// under conj, so the disorientation is 2 acos(max_S |<S, dg>|). For 432 the 24 dot products take
// the values |a_i|, (|a_i| +- |a_j|)/sqrt 2 and (+-a_0 +- a_1 +- a_2 +- a_3)/2, so with the
// sorted magnitudes b1 >= b2 >= b3 >= b4 of dg the maximum is
//   max(b1, (b1 + b2)/sqrt 2, (b1 + b2 + b3 + b4)/2)
// (Sutton and Balluffi, "Interfaces in Crystalline Materials" (1995) 1.4; Morawiec 2004 8.3).
// Angles come from 2 atan2(|v|, w) with |v| computed from the components, so small angles keep
// full relative precision.
#pragma once
#include <span>
#include <utility>
#include <vector>

#include <Eigen/Geometry>

#include "domainmap/symmetry.hpp"

namespace domainmap {

// ---- conversions ----

/// Bunge Euler angles (phi1, Phi, phi2), deg, ZXZ: g = Rz(phi1) Rx(Phi) Rz(phi2) (crystal to
/// sample, as MTEX's rotation.byEuler). Ranges after euler_from_quat(): phi1, phi2 in [0, 360),
/// Phi in [0, 180].
struct BungeEuler {
  double phi1 = 0, Phi = 0, phi2 = 0;
};

/// Rotation by angle_deg about `axis` (any length > 0; throws Error(bad_parameter) for a zero axis).
Eigen::Quaterniond quat_from_axis_angle(const Eigen::Vector3d& axis, double angle_deg);

/// From Bunge Euler angles, deg:
///   w = cos(Phi/2) cos((phi1 + phi2)/2),  x = sin(Phi/2) cos((phi1 - phi2)/2),
///   y = sin(Phi/2) sin((phi1 - phi2)/2),  z = cos(Phi/2) sin((phi1 + phi2)/2)
/// (Rowenhorst et al., Modelling Simul. Mater. Sci. Eng. 23 (2015) 083501, with the active
/// crystal-to-sample rotation, i.e. the inverse of Bunge's passive matrix g).
Eigen::Quaterniond quat_from_euler(const BungeEuler& e);
Eigen::Quaterniond quat_from_euler(double phi1, double Phi, double phi2);

/// Bunge Euler angles of q, deg. Where Phi = 0 (or 180) only phi1 + phi2 (or phi1 - phi2) is
/// defined: then phi2 = 0.
BungeEuler euler_from_quat(const Eigen::Quaterniond& q);

/// Rotation by angle_deg about z (the beam): the orientation of the 2D modes.
Eigen::Quaterniond quat_about_z(double angle_deg);

/// The rotation about z that q is, if it is one: 2 atan2(z, w) in [0, 360), deg (for any q, the
/// angle of its projection onto rotations about z).
double angle_about_z(const Eigen::Quaterniond& q);

/// Rotation angle of q in [0, 180], deg: 2 atan2(|v|, |w|).
double rotation_angle(const Eigen::Quaterniond& q);

/// Unit rotation axis of q with w >= 0 (the angle in [0, 180]); (0, 0, 1) for the identity.
Eigen::Vector3d rotation_axis(const Eigen::Quaterniond& q);

/// q with the sign fixed: w > 0, or for w = 0 the first non-zero of x, y, z positive.
Eigen::Quaterniond canonical(const Eigen::Quaterniond& q);

/// Misorientation of q2 relative to q1 without symmetry: q1^-1 q2.
Eigen::Quaterniond misorientation(const Eigen::Quaterniond& q1, const Eigen::Quaterniond& q2);

/// Uniformly distributed unit quaternion from three numbers uniform in [0, 1) (Shoemake,
/// "Uniform random rotations", Graphics Gems III (1992) 124).
Eigen::Quaterniond quat_from_uniform(double u1, double u2, double u3);

// ---- disorientation ----

struct Disorientation {
  double angle = 0;         ///< deg, in [0, max_angle of the group]
  Eigen::Vector3d axis{0, 0, 1};  ///< unit axis in the crystal frame (of crystal 1), reduced (see below)
  Eigen::Quaterniond rotation = Eigen::Quaterniond::Identity();  ///< the equivalent misorientation: angle about axis
};

/// Disorientation angle of q1 and q2, both with symmetry g (the hot path: |G| dot products, the
/// closed form for 432). Symmetric in q1 and q2. Deg.
double disorientation_angle(const Eigen::Quaterniond& q1, const Eigen::Quaterniond& q2, const RotationGroup& g);

/// cos(angle/2) of the disorientation, in [0, 1]: compare with cos(threshold/2) to skip the atan2.
double disorientation_cos_half(const Eigen::Quaterniond& q1, const Eigen::Quaterniond& q2, const RotationGroup& g);

/// Disorientation angle of two crystals with different symmetry: max over S1, S2 of |w(S1 dg S2)|
/// (|G1| products, |G1| |G2| dot products). Uses the fast path when the groups are the same.
double disorientation_angle(const Eigen::Quaterniond& q1, const Eigen::Quaterniond& q2, const RotationGroup& g1,
                            const RotationGroup& g2);

/// Reference implementation: every product S1 dg S2 formed explicitly. For tests.
double disorientation_angle_all_ops(const Eigen::Quaterniond& q1, const Eigen::Quaterniond& q2,
                                    const RotationGroup& g1, const RotationGroup& g2);

/// Angle and axis of the disorientation. Same group: the axis is reduced by the equivalences
/// T d T^-1 (T in G) and by switching symmetry (d^-1, axis -n) to the equivalent with the largest
/// z, then x, then y (ties within 1e-9): for 432 the standard stereographic triangle
/// [001]-[101]-[111] (z >= x >= y >= 0), for 622 0 <= azimuth <= 30 deg with z >= 0, for 422
/// 0 <= azimuth <= 45 deg, for 222 the positive octant. Different groups: no switching, the axis
/// reduced by the operators common to both groups only.
Disorientation disorientation(const Eigen::Quaterniond& q1, const Eigen::Quaterniond& q2, const RotationGroup& g);
Disorientation disorientation(const Eigen::Quaterniond& q1, const Eigen::Quaterniond& q2, const RotationGroup& g1,
                              const RotationGroup& g2);

// ---- fundamental zone ----

/// The symmetric equivalent q S (S in g) with the smallest rotation angle (inside the
/// Rodrigues-Frank fundamental zone), sign fixed to w >= 0. Ties (q on the zone's boundary,
/// within 1e-12 in w) go to the equivalent with the largest z, then x, then y, so the choice does
/// not depend on the order of the operators.
Eigen::Quaterniond reduce_to_fundamental_zone(const Eigen::Quaterniond& q, const RotationGroup& g);

/// The equivalent q S (S in g) closest to `ref`, sign-aligned with ref (<q S, ref> >= 0).
Eigen::Quaterniond nearest_equivalent(const Eigen::Quaterniond& q, const Eigen::Quaterniond& ref,
                                      const RotationGroup& g);

// ---- averaging ----

struct AverageOptions {
  int max_iterations = 3;  ///< projection + average rounds; stops early when no member changes equivalent
  int medoid_sample = 32;  ///< start from the medoid of up to this many members taken at even stride;
                           ///< 0 = start from the first member
};

struct OrientationAverage {
  Eigen::Quaterniond mean = Eigen::Quaterniond::Identity();  ///< in the fundamental zone, w >= 0
  double spread = 0;     ///< weighted mean disorientation of the members to the mean, deg (GOS, grain
                         ///< orientation spread, when unweighted)
  double max_dev = 0;    ///< largest disorientation of a member (of weight > 0) to the mean, deg
  int iterations = 0;    ///< rounds done
};

/// Symmetry-aware mean orientation. Each member is replaced by its equivalent nearest the current
/// reference (first the medoid, see AverageOptions), the equivalents are averaged as the
/// eigenvector of the largest eigenvalue of sum_i w_i q_i q_i^T (Markley et al., J. Guidance
/// Control Dyn. 30 (2007) 1193: sign-free, the maximum-likelihood mean for small spreads), and
/// the mean becomes the next reference. `weights` empty = all 1, else one per member (>= 0).
/// Throws Error(bad_parameter) for no members, mismatched weights or zero total weight.
OrientationAverage average_orientations(std::span<const Eigen::Quaterniond> qs, const RotationGroup& g,
                                        std::span<const double> weights = {}, const AverageOptions& opt = {});

/// Mean and largest disorientation of the members to `mean`, deg ({spread, max}).
std::pair<double, double> orientation_spread(std::span<const Eigen::Quaterniond> qs, const Eigen::Quaterniond& mean,
                                             const RotationGroup& g);

struct AngleAverage {
  double mean = 0;       ///< deg, in [0, 360/n)
  double spread = 0;     ///< weighted mean in-plane disorientation of the members to the mean, deg
  double max_dev = 0;    ///< largest (members of weight > 0), deg
  double resultant = 0;  ///< |mean of exp(i n theta)| in [0, 1]: 1 = all equal, ~0 = no preferred angle
};

/// Mean of in-plane angles under n-fold symmetry (axial data): the circular mean of n theta,
/// divided by n (Mardia and Jupp, "Directional Statistics" (2000) 9.4 for axial data), reduced to
/// [0, 360/n). `weights` as in average_orientations(). If the resultant is 0 the mean is 0.
AngleAverage average_angles_2d(std::span<const double> angles_deg, int n, std::span<const double> weights = {});

}  // namespace domainmap
