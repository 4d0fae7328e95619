// domainmap/symmetry.hpp: crystal symmetry as sets of rotations: the 11 proper rotation groups
// of the Laue classes (1, 2, 222, 4, 422, 3, 32, 6, 622, 23, 432), the in-plane groups C1..C6
// about the beam, symbol lookup, and the in-plane (2D) angle arithmetic of the 2D modes.
//
// Why only proper rotations: an orientation measured by diffraction cannot tell a crystal from
// its inverted image (Friedel's law), so every point group acts on orientations through the
// rotations of its Laue class (MTEX does the same for EBSD data: "m-3m", "-43m" and "432" all
// give 432). Orientations and misorientations are in domainmap/orientation.hpp.
//
// Conventions (crystal Cartesian frame, right handed; the same as MTEX's defaults):
//   cubic          4-folds (432) or 2-folds (23) along x, y, z; 3-folds along <111>.
//   tetragonal     4-fold along z; 422 adds 2-folds along x, y and <110>.
//   orthorhombic   2-folds along x, y, z.
//   monoclinic     the 2-fold along z by default ("c unique", the same axis as the beam in the
//                  2D modes). MTEX's default for 2/m is b unique: ask for UniqueAxis::y (or x)
//                  explicitly; rotation_group_for_space_group() reads the unique axis from the
//                  Hermann-Mauguin symbol ("P 1 21/c 1" -> y, "P 1 1 21/b" -> z).
//   trigonal       3-fold along z; 32 in the 321 setting: a 2-fold along x (x || a). The 312
//                  setting (symbols "312", "31m", "-31m") has its 2-folds along y instead.
//   hexagonal      6-fold along z, 2-folds of 622 along x (x || a) and every 30 degrees.
//   2D groups C_n  the rotations by k * 360/n degrees about z (the beam).
//
// Every operator is a unit quaternion (w, x, y, z) with the sign fixed (w > 0, or for w = 0
// the first non-zero of x, y, z positive); q and -q are the same rotation. The identity is
// always ops[0].
//
// Maximum disorientation angles (the radius of the misorientation fundamental zone; Grimmer,
// Acta Cryst. A30 (1974) 685; Mackenzie, Biometrika 45 (1958) 229 for cubic; Morawiec,
// "Orientations and Rotations" (2004), table 8.1):
//   1, 2, 3, 4, 6: 180;  222: 120;  32: 2 acos(sqrt(6)/4) = 104.48;
//   422: 2 acos(cos(22.5)/sqrt(2)) = 98.42;  622: 2 acos((1 + sqrt(3))/4) = 93.84;
//   23: 90;  432: 2 acos((2 + sqrt(2))/4) = 62.80 (all in degrees).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include <Eigen/Geometry>

namespace domainmap {

/// How disorientation() finds the largest |w| over the group (see orientation.hpp).
enum class GroupKernel {
  generic,  ///< one 4D dot product per operator
  cubic,    ///< the closed form on sorted |components| (432 only)
};

/// Direction of the 2-fold axis of the monoclinic group 2.
enum class UniqueAxis { x, y, z };

/// A finite group of proper rotations acting on the crystal frame.
struct RotationGroup {
  std::string name;     ///< proper group "1", "2", "222", "4", "422", "3", "32", "312", "6", "622", "23",
                        ///< "432"; in-plane groups "C1" .. "C6"
  std::string laue;     ///< Laue class "-1", "2/m", "mmm", "4/m", "4/mmm", "-3", "-3m", "6/m", "6/mmm", "m-3",
                        ///< "m-3m"; "" for C5
  std::string setting;  ///< axes, e.g. "2 || z", "6 || z, 2 || x"
  int dimension = 3;    ///< 3, or 2 for the in-plane groups C_n (rotations about the beam only)
  int z_order = 1;      ///< n of the n-fold rotation about z in the group (2D modes reduce angles mod 360/n)
  std::vector<Eigen::Quaterniond> ops;  ///< the rotations, identity first (see the file comment for signs)
  double max_angle = 180;  ///< largest disorientation angle between two orientations, deg (Grimmer 1974);
                           ///< for C_n in-plane angles the largest is 180/n (disorientation_2d)
  GroupKernel kernel = GroupKernel::generic;

  int order() const { return static_cast<int>(ops.size()); }
};

/// True if both groups hold the same operators (in the same order, as every table built here does).
bool same_group(const RotationGroup& a, const RotationGroup& b);

/// The group for a symbol, or nullptr if the symbol is unknown. Accepted (spaces and case ignored):
/// the proper group names above; the 11 Laue class symbols ("-1" .. "m-3m", also "m3m", "m3");
/// all 32 crystallographic point groups, short or full ("-43m", "mm2", "4/m 2/m 2/m", "2/m -3"),
/// each giving the rotation group of its Laue class; "C1" .. "C6" for the in-plane groups.
/// `unique` places the 2-fold of the monoclinic symbols (2, m, 2/m); other groups ignore it.
const RotationGroup* find_rotation_group(std::string_view symbol, UniqueAxis unique = UniqueAxis::z);

/// As find_rotation_group(), but throws Error(bad_parameter) "symmetry 'X': unknown ..." for an
/// unknown symbol.
const RotationGroup& rotation_group(std::string_view symbol, UniqueAxis unique = UniqueAxis::z);

/// The rotation group of a Laue class exactly as gemmi's SpaceGroup::laue_str() spells it
/// ("-1", "2/m", "mmm", "4/m", "4/mmm", "-3", "-3m", "6/m", "6/mmm", "m-3", "m-3m"); throws
/// Error(bad_parameter) for anything else.
const RotationGroup& rotation_group_for_laue(std::string_view laue, UniqueAxis unique = UniqueAxis::z);

/// The rotation group of a space group given by its Hermann-Mauguin symbol or number, as gemmi
/// reads it ("F m -3 m", "Fm-3m", "P 63/m m c", "225", "P 1 21/c 1"): its Laue class, with the
/// monoclinic unique axis taken from the symbol and the trigonal 312 setting recognised. Throws
/// Error(bad_parameter) if gemmi does not know the symbol.
const RotationGroup& rotation_group_for_space_group(const std::string& hm);

/// The in-plane group C_n (n = 1..6) about z; throws Error(bad_parameter) for other n.
const RotationGroup& rotation_group_2d(int n);

/// The 11 groups of the Laue classes in the order 1, 2, 222, 4, 422, 3, 32, 6, 622, 23, 432.
const std::vector<const RotationGroup*>& laue_rotation_groups();

// ---- in-plane angles (2D modes, /orientation/angle) ----

/// An angle reduced by an n-fold rotation about the beam into [0, 360/n), deg.
double reduce_angle_2d(double angle_deg, int n);

/// In-plane disorientation of two angles under n-fold symmetry: min_k |a - b - k 360/n|, in
/// [0, 180/n], deg. Symmetric in a and b.
double disorientation_2d(double a_deg, double b_deg, int n);

}  // namespace domainmap
