// tests/test_symmetry.cpp: rotation groups and their symbols, in-plane angles, quaternion
// conversions, disorientation (fast, cubic closed form, two-group and brute-force paths),
// fundamental zone, symmetry-aware averaging and spread.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "domainmap/error.hpp"
#include "domainmap/orientation.hpp"
#include "domainmap/symmetry.hpp"

using namespace domainmap;
using Eigen::Quaterniond;
using Eigen::Vector3d;

namespace {

constexpr double kPi = std::numbers::pi;

// Deterministic uniform numbers in [0, 1) (std::uniform_real_distribution is not portable).
struct Uniform {
  std::mt19937_64 rng;
  explicit Uniform(std::uint64_t seed) : rng(seed) {}
  double operator()() { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }
  Quaterniond quat() {
    const double a = (*this)(), b = (*this)(), c = (*this)();
    return quat_from_uniform(a, b, c);
  }
  // A rotation by an angle uniform in [0, max_deg] about a uniformly random axis.
  Quaterniond small(double max_deg) {
    const double z = 2 * (*this)() - 1, phi = 2 * kPi * (*this)(), r = std::sqrt(1 - z * z);
    return quat_from_axis_angle(Vector3d(r * std::cos(phi), r * std::sin(phi), z), max_deg * (*this)());
  }
};

// Same rotation (q or -q).
bool same_rotation(const Quaterniond& a, const Quaterniond& b, double tol = 1e-12) {
  return std::abs(std::abs(a.coeffs().dot(b.coeffs())) - 1) < tol;
}

// x is S1 d S2 or S1 d^-1 S2 for some S1, S2 in g.
bool equivalent_misorientation(const Quaterniond& x, const Quaterniond& d, const RotationGroup& g) {
  for (const auto& s1 : g.ops)
    for (const auto& s2 : g.ops)
      if (same_rotation(x, s1 * d * s2, 1e-9) || same_rotation(x, s1 * d.conjugate() * s2, 1e-9)) return true;
  return false;
}

bool contains(const RotationGroup& g, const Quaterniond& q) {
  for (const auto& o : g.ops)
    if (same_rotation(o, q, 1e-12)) return true;
  return false;
}

}  // namespace

TEST_CASE("symmetry: the 11 Laue rotation groups and C1..C6 are closed groups of the right order") {
  const auto& groups = laue_rotation_groups();
  REQUIRE(groups.size() == 11);
  const char* names[] = {"1", "2", "222", "4", "422", "3", "32", "6", "622", "23", "432"};
  const int orders[] = {1, 2, 4, 4, 8, 3, 6, 6, 12, 12, 24};
  const int z_orders[] = {1, 2, 2, 4, 4, 3, 3, 6, 6, 2, 4};
  std::vector<const RotationGroup*> all(groups.begin(), groups.end());
  for (int n = 1; n <= 6; ++n) all.push_back(&rotation_group_2d(n));
  all.push_back(&rotation_group("2", UniqueAxis::y));
  all.push_back(&rotation_group("2", UniqueAxis::x));
  all.push_back(&rotation_group("312"));
  for (std::size_t i = 0; i < all.size(); ++i) {
    const RotationGroup& g = *all[i];
    CAPTURE(g.name);
    CAPTURE(g.setting);
    if (i < 11) {
      CHECK(g.name == names[i]);
      CHECK(g.order() == orders[i]);
      CHECK(g.z_order == z_orders[i]);
      CHECK(g.dimension == 3);
    } else if (i < 17) {
      CHECK(g.name == "C" + std::to_string(i - 10));
      CHECK(g.order() == int(i - 10));
      CHECK(g.z_order == int(i - 10));
      CHECK(g.dimension == 2);
    }
    REQUIRE(g.order() >= 1);
    CHECK(g.ops[0].w() == 1.0);
    for (const auto& a : g.ops) {
      CHECK(a.squaredNorm() == doctest::Approx(1).epsilon(1e-14));
      CHECK((a.w() > 0 || (a.w() == 0 && (a.x() > 0 || (a.x() == 0 && (a.y() > 0 || (a.y() == 0 && a.z() > 0)))))));
      CHECK(contains(g, a.conjugate()));
      for (const auto& b : g.ops) CHECK(contains(g, a * b));
    }
    // no operator twice
    for (int a = 0; a < g.order(); ++a)
      for (int b = a + 1; b < g.order(); ++b) CHECK_FALSE(same_rotation(g.ops[a], g.ops[b], 1e-9));
  }
  // axes of the conventions
  CHECK(contains(rotation_group("2"), quat_about_z(180)));
  CHECK(contains(rotation_group("2", UniqueAxis::y), quat_from_axis_angle(Vector3d::UnitY(), 180)));
  CHECK(contains(rotation_group("622"), quat_from_axis_angle(Vector3d::UnitX(), 180)));
  CHECK(contains(rotation_group("622"), quat_from_axis_angle(Vector3d(std::cos(kPi / 6), std::sin(kPi / 6), 0), 180)));
  CHECK(contains(rotation_group("32"), quat_from_axis_angle(Vector3d::UnitX(), 180)));
  CHECK_FALSE(contains(rotation_group("32"), quat_from_axis_angle(Vector3d::UnitY(), 180)));
  CHECK(contains(rotation_group("312"), quat_from_axis_angle(Vector3d::UnitY(), 180)));
  CHECK(contains(rotation_group("432"), quat_from_axis_angle(Vector3d(1, 1, 1), 120)));
  CHECK(contains(rotation_group("23"), quat_from_axis_angle(Vector3d(-1, 1, 1), 120)));
  CHECK_FALSE(contains(rotation_group("23"), quat_about_z(90)));
  CHECK(contains(rotation_group("C5"), quat_about_z(144)));
  // proper subgroups where they must be
  for (const auto& o : rotation_group("23").ops) CHECK(contains(rotation_group("432"), o));
  for (const auto& o : rotation_group("422").ops) CHECK(contains(rotation_group("432"), o));
  for (const auto& o : rotation_group("32").ops) CHECK(contains(rotation_group("622"), o));
  for (const auto& o : rotation_group("312").ops) CHECK(contains(rotation_group("622"), o));
  // Grimmer (1974) maxima
  CHECK(rotation_group("432").max_angle == doctest::Approx(62.7994).epsilon(1e-6));
  CHECK(rotation_group("622").max_angle == doctest::Approx(93.8410).epsilon(1e-6));
  CHECK(rotation_group("422").max_angle == doctest::Approx(98.4211).epsilon(1e-6));
  CHECK(rotation_group("32").max_angle == doctest::Approx(104.4775).epsilon(1e-6));
  CHECK(rotation_group("222").max_angle == 120);
  CHECK(rotation_group("23").max_angle == 90);
  CHECK(rotation_group("432").kernel == GroupKernel::cubic);
}

TEST_CASE("symmetry: lookup by proper group, Laue class, point group, space group") {
  struct Case {
    const char* symbol;
    const char* group;
  };
  const Case cases[] = {
      {"m-3m", "432"},  {"m-3", "23"},      {"6/mmm", "622"},   {"6/m", "6"},         {"-3m", "32"},
      {"-3", "3"},      {"4/mmm", "422"},   {"4/m", "4"},       {"mmm", "222"},       {"2/m", "2"},
      {"-1", "1"},      {"-43m", "432"},    {"432", "432"},     {"m3m", "432"},       {"m -3 m", "432"},
      {"4/m -3 2/m", "432"}, {"2/m -3", "23"}, {"23", "23"},    {"6mm", "622"},       {"-6m2", "622"},
      {"-62m", "622"},  {"-6", "6"},        {"6", "6"},         {"622", "622"},       {"6/m 2/m 2/m", "622"},
      {"4mm", "422"},   {"-42m", "422"},    {"-4m2", "422"},    {"-4", "4"},          {"422", "422"},
      {"mm2", "222"},   {"222", "222"},     {"2/m 2/m 2/m", "222"}, {"m", "2"},       {"2", "2"},
      {"1", "1"},       {"3", "3"},         {"3m", "32"},       {"32", "32"},         {"321", "32"},
      {"-3m1", "32"},   {"-31m", "312"},    {"31m", "312"},     {"312", "312"},       {"M-3M", "432"},
      {"C1", "C1"},     {"C2", "C2"},       {"c6", "C6"},       {"C5", "C5"},
  };
  for (const Case& c : cases) {
    const std::string symbol = c.symbol;
    CAPTURE(symbol);
    const RotationGroup* g = find_rotation_group(c.symbol);
    REQUIRE(g != nullptr);
    CHECK(g->name == c.group);
  }
  CHECK(rotation_group("m-3m").laue == "m-3m");
  CHECK(rotation_group("-6m2").laue == "6/mmm");
  CHECK(rotation_group("2/m").setting == "2 || z");
  CHECK(rotation_group("2/m", UniqueAxis::y).setting == "2 || y");
  CHECK(&rotation_group("m", UniqueAxis::y) == &rotation_group("2", UniqueAxis::y));
  CHECK(&rotation_group("432") == &rotation_group("m-3m"));
  CHECK(find_rotation_group("m-3n") == nullptr);
  CHECK(find_rotation_group("") == nullptr);
  CHECK(find_rotation_group("C7") == nullptr);
  try {
    rotation_group("4/mm");
    FAIL("no throw");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::bad_parameter);
    CHECK(std::string(e.what()).find("symmetry '4/mm': unknown point group") == 0);
  }

  // the Laue strings gemmi's laue_str() returns
  const Case laue[] = {{"-1", "1"},   {"2/m", "2"},   {"mmm", "222"},  {"4/m", "4"},   {"4/mmm", "422"}, {"-3", "3"},
                       {"-3m", "32"}, {"6/m", "6"},   {"6/mmm", "622"}, {"m-3", "23"}, {"m-3m", "432"}};
  for (const Case& c : laue) CHECK(rotation_group_for_laue(c.symbol).name == c.group);
  CHECK_THROWS_AS(rotation_group_for_laue("432"), Error);
  CHECK_THROWS_AS(rotation_group_for_laue("m3m"), Error);

  // space groups through gemmi
  const Case sgs[] = {{"F m -3 m", "432"}, {"Fm-3m", "432"},   {"225", "432"},     {"F -4 3 m", "432"},
                      {"P a -3", "23"},    {"P 63/m m c", "622"}, {"P63/mmc", "622"}, {"P 6 3", "6"},
                      {"I 4/m m m", "422"}, {"I 41/a", "4"},    {"P b c a", "222"},  {"P m n 21", "222"},
                      {"R -3 m", "32"},    {"P -3 m 1", "32"},  {"P 3 2 1", "32"},   {"P 3 1 2", "312"},
                      {"P -3 1 m", "312"}, {"P -3", "3"},       {"P 1", "1"},        {"P -1", "1"}};
  for (const Case& c : sgs) {
    const std::string symbol = c.symbol;
    CAPTURE(symbol);
    CHECK(rotation_group_for_space_group(c.symbol).name == c.group);
  }
  CHECK(rotation_group_for_space_group("P 1 21/c 1").setting == "2 || y");
  CHECK(rotation_group_for_space_group("P21/c").setting == "2 || y");
  CHECK(rotation_group_for_space_group("C 1 2/c 1").setting == "2 || y");
  CHECK(rotation_group_for_space_group("P 1 1 21/b").setting == "2 || z");
  CHECK(rotation_group_for_space_group("P 2/m 1 1").setting == "2 || x");
  CHECK_THROWS_AS(rotation_group_for_space_group("X 9 9"), Error);
  CHECK_THROWS_AS(rotation_group_2d(0), Error);
  CHECK_THROWS_AS(rotation_group_2d(7), Error);
}

TEST_CASE("symmetry: in-plane angles under C_n") {
  CHECK(disorientation_2d(0, 59, 6) == doctest::Approx(1));
  CHECK(disorientation_2d(59, 0, 6) == doctest::Approx(1));
  CHECK(disorientation_2d(10, 100, 4) < 1e-12);
  CHECK(disorientation_2d(10, 145, 4) == doctest::Approx(45));  // the C4 maximum, 180/4
  CHECK(disorientation_2d(10, 130, 4) == doctest::Approx(30));
  CHECK(disorientation_2d(10, 200, 2) == doctest::Approx(10));
  CHECK(disorientation_2d(350, 10, 3) == doctest::Approx(20));
  CHECK(disorientation_2d(350, 10, 1) == doctest::Approx(20));
  CHECK(disorientation_2d(0, 180, 1) == doctest::Approx(180));
  CHECK(disorientation_2d(-725, 3, 6) == doctest::Approx(8));  // -725 = -720 - 5
  CHECK(reduce_angle_2d(-1, 6) == doctest::Approx(59));
  CHECK(reduce_angle_2d(360, 6) == 0);
  CHECK(reduce_angle_2d(125, 4) == doctest::Approx(35));
  CHECK(reduce_angle_2d(-1e-17, 6) < 60);
  CHECK(reduce_angle_2d(-1e-17, 6) >= 0);
  Uniform u(7);
  for (int n = 1; n <= 6; ++n)
    for (int i = 0; i < 200; ++i) {
      const double a = 720 * u() - 360, b = 720 * u() - 360;
      const double d = disorientation_2d(a, b, n);
      CHECK(d >= 0);
      CHECK(d <= 180.0 / n + 1e-12);
      CHECK(d == doctest::Approx(disorientation_2d(b, a, n)).epsilon(1e-12));
      // the same as the quaternion path with the group C_n
      CHECK(d == doctest::Approx(disorientation_angle(quat_about_z(a), quat_about_z(b), rotation_group_2d(n)))
                     .epsilon(1e-9));
    }
}

TEST_CASE("orientation: axis-angle, Euler angles and rotations about z") {
  // Bunge (90, 0, 0) is 90 deg about z, (0, 90, 0) 90 deg about x; g = Rz(phi1) Rx(Phi) Rz(phi2).
  CHECK(same_rotation(quat_from_euler(90, 0, 0), quat_about_z(90)));
  CHECK(same_rotation(quat_from_euler(0, 90, 0), quat_from_axis_angle(Vector3d::UnitX(), 90)));
  CHECK(same_rotation(quat_from_euler(30, 40, 50),
                      quat_about_z(30) * quat_from_axis_angle(Vector3d::UnitX(), 40) * quat_about_z(50)));
  // crystal to sample: crystal [001] of (phi1, Phi, phi2) points along (sin Phi sin phi1, -sin Phi cos phi1, cos Phi)
  {
    const Vector3d c = quat_from_euler(30, 40, 50) * Vector3d::UnitZ();
    const double p1 = 30 * kPi / 180, P = 40 * kPi / 180;
    CHECK(c.x() == doctest::Approx(std::sin(P) * std::sin(p1)));
    CHECK(c.y() == doctest::Approx(-std::sin(P) * std::cos(p1)));
    CHECK(c.z() == doctest::Approx(std::cos(P)));
  }
  const auto r = Eigen::AngleAxisd(0.7, Vector3d(1, 2, 3).normalized());
  CHECK(same_rotation(quat_from_axis_angle(Vector3d(1, 2, 3), 0.7 * 180 / kPi), Quaterniond(r)));
  CHECK(rotation_angle(quat_from_axis_angle(Vector3d(1, 2, 3), 37)) == doctest::Approx(37));
  CHECK(rotation_angle(quat_from_axis_angle(Vector3d(1, 2, 3), 270)) == doctest::Approx(90));
  CHECK((rotation_axis(quat_from_axis_angle(Vector3d(0, 0, 2), 270)) - Vector3d(0, 0, -1)).norm() < 1e-12);
  CHECK(rotation_axis(Quaterniond::Identity()) == Vector3d(0, 0, 1));
  CHECK_THROWS_AS(quat_from_axis_angle(Vector3d::Zero(), 10), Error);
  // small angles keep their relative precision
  CHECK(rotation_angle(quat_from_axis_angle(Vector3d(1, 1, 0), 1e-7)) == doctest::Approx(1e-7).epsilon(1e-9));
  CHECK(angle_about_z(quat_about_z(250)) == doctest::Approx(250));
  CHECK(angle_about_z(quat_about_z(-10)) == doctest::Approx(350));
  CHECK(angle_about_z(quat_about_z(0)) == 0);
  CHECK(misorientation(quat_about_z(10), quat_about_z(50)).isApprox(quat_about_z(40)));

  // round trips on a grid of Euler angles (away from Phi = 0, 180)
  for (double p1 = 0; p1 < 360; p1 += 37)
    for (double P = 5; P < 180; P += 29)
      for (double p2 = 0; p2 < 360; p2 += 41) {
        const BungeEuler e = euler_from_quat(quat_from_euler(p1, P, p2));
        CAPTURE(p1);
        CAPTURE(P);
        CAPTURE(p2);
        CHECK(e.phi1 == doctest::Approx(p1).epsilon(1e-10).scale(360));
        CHECK(e.Phi == doctest::Approx(P).epsilon(1e-10).scale(180));
        CHECK(e.phi2 == doctest::Approx(p2).epsilon(1e-10).scale(360));
      }
  // and random quaternions -> Euler -> quaternion, including the negated sign
  Uniform u(11);
  for (int i = 0; i < 1000; ++i) {
    const Quaterniond q = u.quat();
    const BungeEuler e = euler_from_quat(q);
    CHECK(e.phi1 >= 0);
    CHECK(e.phi1 < 360);
    CHECK(e.Phi >= 0);
    CHECK(e.Phi <= 180);
    CHECK(e.phi2 >= 0);
    CHECK(e.phi2 < 360);
    CHECK(same_rotation(quat_from_euler(e), q, 1e-12));
    CHECK(same_rotation(quat_from_euler(euler_from_quat(Quaterniond(-q.coeffs()))), q, 1e-12));
  }
  // degenerate: Phi = 0 and Phi = 180 keep the rotation, with phi2 = 0
  for (const BungeEuler& e : {BungeEuler{30, 0, 50}, BungeEuler{300, 180, 10}, BungeEuler{0, 0, 0}}) {
    const Quaterniond q = quat_from_euler(e);
    const BungeEuler f = euler_from_quat(q);
    CHECK(f.phi2 == 0);
    CHECK(same_rotation(quat_from_euler(f), q, 1e-12));
  }
  CHECK(euler_from_quat(quat_from_euler(30, 0, 50)).phi1 == doctest::Approx(80));
  CHECK(euler_from_quat(quat_from_euler(30, 180, 50)).phi1 == doctest::Approx(340));  // phi1 - phi2 = -20
}

TEST_CASE("orientation: cubic twins and special boundaries") {
  const RotationGroup& m3m = rotation_group("m-3m");
  const Quaterniond id = Quaterniond::Identity();
  // Sigma 3: 60 deg about <111>
  {
    const Disorientation d = disorientation(id, quat_from_axis_angle(Vector3d(1, 1, 1), 60), m3m);
    CHECK(d.angle == doctest::Approx(60).epsilon(1e-12));
    CHECK((d.axis - Vector3d(1, 1, 1).normalized()).norm() < 1e-9);
    CHECK(disorientation_angle(id, quat_from_axis_angle(Vector3d(1, 1, 1), 60), m3m) == doctest::Approx(60));
  }
  // any orientation and its twin, twinned about any <111>, in either order: 60 deg, axis [111]
  Uniform u(3);
  for (const Vector3d& ax : {Vector3d(1, 1, 1), Vector3d(-1, 1, 1), Vector3d(1, -1, -1), Vector3d(1, 1, -1)}) {
    const Quaterniond g = u.quat();
    const Quaterniond twin = g * quat_from_axis_angle(ax, 60);
    for (const Disorientation& d : {disorientation(g, twin, m3m), disorientation(twin, g, m3m)}) {
      CHECK(d.angle == doctest::Approx(60).epsilon(1e-10));
      CHECK((d.axis - Vector3d(1, 1, 1).normalized()).norm() < 1e-9);
      CHECK(std::abs(rotation_angle(d.rotation) - 60) < 1e-9);
    }
    // the 180 deg description of the same twin (the 2-fold about <111>) is also 60 deg
    CHECK(disorientation_angle(g, g * quat_from_axis_angle(ax, 180), m3m) == doctest::Approx(60).epsilon(1e-10));
  }
  // Sigma 5 (36.87 about <100>), Sigma 9 (38.94 about <110>), Sigma 7 (38.21 about <111>)
  {
    const Disorientation d5 = disorientation(id, quat_from_axis_angle(Vector3d(0, 1, 0), 36.87), m3m);
    CHECK(d5.angle == doctest::Approx(36.87));
    CHECK((d5.axis - Vector3d(0, 0, 1)).norm() < 1e-9);
    const Disorientation d9 = disorientation(id, quat_from_axis_angle(Vector3d(0, -1, 1), 38.94), m3m);
    CHECK(d9.angle == doctest::Approx(38.94));
    CHECK((d9.axis - Vector3d(1, 0, 1).normalized()).norm() < 1e-9);
    const Disorientation d7 = disorientation(id, quat_from_axis_angle(Vector3d(-1, -1, 1), 38.21), m3m);
    CHECK(d7.angle == doctest::Approx(38.21));
    CHECK((d7.axis - Vector3d(1, 1, 1).normalized()).norm() < 1e-9);
  }
  // symmetry operators themselves are no boundary; 45 deg about z is the most a <100> rotation can be
  CHECK(disorientation_angle(id, quat_about_z(90), m3m) < 1e-12);
  CHECK(disorientation_angle(id, quat_from_axis_angle(Vector3d(1, 1, 1), 120), m3m) < 1e-12);
  CHECK(disorientation_angle(id, quat_about_z(50), m3m) == doctest::Approx(40));
  // the reduced axis lies in the standard triangle z >= x >= y >= 0 for any misorientation
  for (int i = 0; i < 2000; ++i) {
    const Disorientation d = disorientation(u.quat(), u.quat(), m3m);
    CHECK(d.axis.z() >= d.axis.x() - 1e-9);
    CHECK(d.axis.x() >= d.axis.y() - 1e-9);
    CHECK(d.axis.y() >= -1e-9);
    CHECK(d.axis.norm() == doctest::Approx(1));
  }
}

TEST_CASE("orientation: disorientation is symmetric and invariant, and every path agrees") {
  Uniform u(5);
  std::vector<const RotationGroup*> groups(laue_rotation_groups().begin(), laue_rotation_groups().end());
  groups.push_back(&rotation_group("312"));
  groups.push_back(&rotation_group("2/m", UniqueAxis::y));
  for (const RotationGroup* gp : groups) {
    const RotationGroup& g = *gp;
    CAPTURE(g.name);
    // the same group with its operators reversed (identity last): forces the two-group path
    RotationGroup reversed = g;
    std::reverse(reversed.ops.begin(), reversed.ops.end());
    reversed.kernel = GroupKernel::generic;
    RotationGroup generic = g;
    generic.kernel = GroupKernel::generic;
    for (int i = 0; i < 300; ++i) {
      const Quaterniond q1 = u.quat(), q2 = u.quat();
      const double a = disorientation_angle(q1, q2, g);
      CHECK(a >= 0);
      CHECK(a <= g.max_angle + 1e-6);
      CHECK(a == doctest::Approx(disorientation_angle(q2, q1, g)).epsilon(1e-12));
      CHECK(a == doctest::Approx(disorientation_angle_all_ops(q1, q2, g, g)).epsilon(1e-12));
      CHECK(a == doctest::Approx(disorientation_angle(q1, q2, generic)).epsilon(1e-12));
      CHECK(a == doctest::Approx(disorientation_angle(q1, q2, g, reversed)).epsilon(1e-12));
      CHECK(a == doctest::Approx(disorientation(q1, q2, g).angle).epsilon(1e-12));
      CHECK(a == doctest::Approx(disorientation(q1, q2, g, reversed).angle).epsilon(1e-12));
      CHECK(std::cos(a * kPi / 360) == doctest::Approx(disorientation_cos_half(q1, q2, g)).epsilon(1e-12));
      // invariant under crystal symmetry on either side and under a common sample rotation
      const Quaterniond s1 = g.ops[i % g.order()], s2 = g.ops[(7 * i + 3) % g.order()], r = u.quat();
      CHECK(a == doctest::Approx(disorientation_angle(q1 * s1, q2 * s2, g)).epsilon(1e-12));
      CHECK(a == doctest::Approx(disorientation_angle(r * q1, r * q2, g)).epsilon(1e-12));
      // switching symmetry: the same axis for (q1, q2) and (q2, q1)
      const Disorientation d12 = disorientation(q1, q2, g), d21 = disorientation(q2, q1, g);
      CHECK((d12.axis - d21.axis).norm() < 1e-6);
      // the reported rotation is an equivalent misorientation: S1 (q1^-1 q2) S2 for some S1, S2
      CHECK(equivalent_misorientation(d12.rotation, misorientation(q1, q2), g));
    }
  }
  // small misorientations keep their precision on the fast paths
  for (const char* s : {"432", "622", "1"}) {
    const Quaterniond q = u.quat();
    CHECK(disorientation_angle(q, q * quat_from_axis_angle(Vector3d(1, 2, 3), 1e-6), rotation_group(s)) ==
          doctest::Approx(1e-6).epsilon(1e-6));
    CHECK(disorientation_angle(q, q, rotation_group(s)) < 1e-6);
  }
  // two different groups: against brute force
  const std::pair<const char*, const char*> pairs[] = {{"432", "622"}, {"422", "222"}, {"23", "6"}, {"1", "432"}};
  for (const auto& [s1, s2] : pairs) {
    const RotationGroup &g1 = rotation_group(s1), &g2 = rotation_group(s2);
    for (int i = 0; i < 200; ++i) {
      const Quaterniond q1 = u.quat(), q2 = u.quat();
      const double a = disorientation_angle(q1, q2, g1, g2);
      CHECK(a == doctest::Approx(disorientation_angle_all_ops(q1, q2, g1, g2)).epsilon(1e-12));
      CHECK(a == doctest::Approx(disorientation_angle(q2, q1, g2, g1)).epsilon(1e-12));
      CHECK(a == doctest::Approx(disorientation(q1, q2, g1, g2).angle).epsilon(1e-12));
    }
  }
  // with the trivial group on one side: the other crystal's symmetry alone
  const Quaterniond q = u.quat();
  CHECK(disorientation_angle(Quaterniond::Identity(), q, rotation_group("1"), rotation_group("432")) ==
        doctest::Approx(rotation_angle(reduce_to_fundamental_zone(q, rotation_group("432")))));
}

TEST_CASE("orientation: sampled maximum disorientation approaches Grimmer's values") {
  // The corners of the fundamental zones (Rodrigues vectors r, q = (1, r)/|(1, r)|) are at the
  // exact maximum ...
  auto rodrigues = [](double x, double y, double z) { return Quaterniond(1, x, y, z).normalized(); };
  const double s2 = std::sqrt(2.0), s3 = std::sqrt(3.0);
  const Quaterniond id = Quaterniond::Identity();
  const auto& g432 = rotation_group("432");
  CHECK(disorientation_angle(id, rodrigues(s2 - 1, s2 - 1, 3 - 2 * s2), g432) == doctest::Approx(g432.max_angle));
  CHECK(disorientation_angle(id, rodrigues(1, 1, 1), rotation_group("222")) == doctest::Approx(120));
  CHECK(disorientation_angle(id, rodrigues(1, std::tan(kPi / 12), 2 - s3), rotation_group("622")) ==
        doctest::Approx(rotation_group("622").max_angle));
  CHECK(disorientation_angle(id, rodrigues(1, std::tan(kPi / 8), s2 - 1), rotation_group("422")) ==
        doctest::Approx(rotation_group("422").max_angle));
  CHECK(disorientation_angle(id, rodrigues(1, 1 / s3, 1 / s3), rotation_group("32")) ==
        doctest::Approx(rotation_group("32").max_angle));
  CHECK(disorientation_angle(id, rodrigues(1, 0, 0), rotation_group("23")) == doctest::Approx(90));

  // ... and uniform samples never exceed it. Seeded samples against the identity; the sample
  // sizes and bounds follow the spread of the sampled maximum over 20 seeds (worst deficit at
  // 200k: 432 0.40, 622 0.43; at 1M: 422 0.44, 222 0.69 deg: the 120 deg corners of the 222
  // zone are sharp, so few samples land near them).
  struct Case {
    const char* group;
    double exact;
    int samples;
    double below;
  };
  const Case cases[] = {{"432", 62.7994, 200000, 0.5},  {"622", 93.8410, 200000, 0.5},
                        {"422", 98.4211, 1000000, 0.5}, {"222", 120.0, 1000000, 1.0},
                        {"32", 104.4775, 200000, 1.5},  {"23", 90.0, 200000, 1.5}};
  for (const Case& c : cases) {
    const std::string group = c.group;
    CAPTURE(group);
    const RotationGroup& g = rotation_group(c.group);
    CHECK(g.max_angle == doctest::Approx(c.exact).epsilon(1e-6));
    Uniform u(2024);
    double mx = 0, mx_fz = 0;
    for (int i = 0; i < c.samples; ++i) {
      const Quaterniond q = u.quat();
      mx = std::max(mx, disorientation_angle(id, q, g));
      if (i % 20 == 0) mx_fz = std::max(mx_fz, rotation_angle(reduce_to_fundamental_zone(q, g)));
    }
    INFO("sampled maximum ", mx, " of ", g.max_angle);
    CHECK(mx <= g.max_angle + 1e-6);
    CHECK(mx >= c.exact - c.below);
    CHECK(mx_fz <= g.max_angle + 1e-6);
  }
}

TEST_CASE("orientation: reduction into the fundamental zone") {
  Uniform u(9);
  for (const RotationGroup* gp : laue_rotation_groups()) {
    const RotationGroup& g = *gp;
    CAPTURE(g.name);
    for (int i = 0; i < 300; ++i) {
      const Quaterniond q = u.quat();
      const Quaterniond f = reduce_to_fundamental_zone(q, g);
      CHECK(f.w() >= 0);
      // an equivalent of q ...
      CHECK(disorientation_angle(q, f, g) < 1e-6);
      // ... with the smallest angle, the disorientation to the identity
      CHECK(rotation_angle(f) == doctest::Approx(disorientation_angle(Quaterniond::Identity(), q, g)).epsilon(1e-12));
      CHECK(rotation_angle(f) <= g.max_angle + 1e-6);
      // the same for every equivalent input, and idempotent
      const Quaterniond f2 = reduce_to_fundamental_zone(q * g.ops[i % g.order()], g);
      CHECK(f2.coeffs().isApprox(f.coeffs(), 1e-12));
      CHECK(reduce_to_fundamental_zone(f, g).coeffs().isApprox(f.coeffs(), 1e-12));
      // nearest_equivalent: the equivalent of q nearest a reference
      const Quaterniond ref = u.quat();
      const Quaterniond e = nearest_equivalent(q, ref, g);
      CHECK(rotation_angle(misorientation(ref, e)) == doctest::Approx(disorientation_angle(ref, q, g)).epsilon(1e-12));
      CHECK(e.coeffs().dot(ref.coeffs()) >= 0);
    }
  }
  // ties on the zone boundary go to the larger z: 45 deg about z and about -z are equivalent in 432
  const RotationGroup& m3m = rotation_group("432");
  for (double a : {45.0, -45.0, 135.0}) {
    const Quaterniond f = reduce_to_fundamental_zone(quat_about_z(a), m3m);
    CHECK(f.coeffs().isApprox(quat_about_z(45).coeffs(), 1e-12));
  }
  CHECK(reduce_to_fundamental_zone(quat_about_z(200), rotation_group("6")).coeffs().isApprox(
      quat_about_z(20).coeffs(), 1e-12));
}

TEST_CASE("orientation: symmetry-aware average in 432 and 622") {
  Uniform u(17);
  for (const char* name : {"432", "622"}) {
    const RotationGroup& g = rotation_group(name);
    const std::string group = name;
    CAPTURE(group);
    // references: random ones and ones on the fundamental zone's boundary, where the members'
    // reduced equivalents fall on both sides
    const Quaterniond refs[] = {u.quat(), u.quat(), quat_about_z(g.name == "432" ? 45 : 30),
                                quat_from_axis_angle(Vector3d(1, 1, 1), 60)};
    for (const Quaterniond& ref : refs) {
      // 10 pairs r, r^-1 with r up to 3 deg: the exact mean is the reference
      std::vector<Quaterniond> qs;
      for (int i = 0; i < 10; ++i) {
        const Quaterniond r = u.small(3);
        qs.push_back(ref * r * g.ops[u.rng() % g.order()]);
        qs.push_back(ref * r.conjugate() * g.ops[u.rng() % g.order()]);
      }
      for (int medoid : {32, 0}) {
        AverageOptions opt;
        opt.medoid_sample = medoid;
        const OrientationAverage a = average_orientations(qs, g, {}, opt);
        CHECK(disorientation_angle(a.mean, ref, g) < 1e-6);
        CHECK(rotation_angle(a.mean) <= g.max_angle + 1e-9);
        CHECK(a.spread > 0.5);
        CHECK(a.spread < 3);
        CHECK(a.max_dev <= 3 + 1e-9);
        CHECK(a.iterations >= 2);
        const auto [spread, mx] = orientation_spread(qs, a.mean, g);
        CHECK(spread == doctest::Approx(a.spread));
        CHECK(mx == doctest::Approx(a.max_dev));
      }
      // 20 scatters of up to 3 deg (rotation vectors with their mean removed): within 0.5 deg of
      // the reference, and equal to the plain average of the unsymmetrised set
      std::vector<Vector3d> rv;
      Vector3d centre = Vector3d::Zero();
      for (int i = 0; i < 20; ++i) {
        const Quaterniond r = u.small(2.5);
        rv.push_back(rotation_axis(r) * rotation_angle(r));
        centre += rv.back() / 20;
      }
      std::vector<Quaterniond> plain, sym;
      Eigen::Vector4d sum = Eigen::Vector4d::Zero();
      for (int i = 0; i < 20; ++i) {
        const Vector3d v = rv[i] - centre;
        plain.push_back(ref * (v.norm() > 0 ? quat_from_axis_angle(v, v.norm()) : Quaterniond::Identity()));
        sym.push_back(plain.back() * g.ops[u.rng() % g.order()]);
        sum += plain.back().coeffs() * (plain.back().coeffs().dot(ref.coeffs()) < 0 ? -1 : 1);
      }
      Quaterniond naive;
      naive.coeffs() = sum.normalized();
      const OrientationAverage a = average_orientations(sym, g);
      CHECK(disorientation_angle(a.mean, ref, g) < 0.5);
      CHECK(disorientation_angle(a.mean, naive, g) < 0.01);  // Markley vs normalised sum, tiny spreads
      CHECK(disorientation_angle(a.mean, average_orientations(plain, rotation_group("1")).mean, g) < 1e-6);
    }
  }
  // weights: a zero weight removes a member
  const RotationGroup& g = rotation_group("432");
  std::vector<Quaterniond> qs{quat_about_z(10), quat_about_z(20), quat_from_axis_angle(Vector3d(1, 2, 3), 20)};
  const std::vector<double> w{1, 1, 0};
  const OrientationAverage a = average_orientations(qs, g, w);
  CHECK(disorientation_angle(a.mean, quat_about_z(15), g) < 1e-9);
  CHECK(a.spread == doctest::Approx(5));
  CHECK(a.max_dev == doctest::Approx(5));
  const std::vector<Quaterniond> one{quat_about_z(100)};
  CHECK(average_orientations(one, g).mean.coeffs().isApprox(quat_about_z(10).coeffs(), 1e-12));
  CHECK(average_orientations(one, g).spread < 1e-9);
  CHECK_THROWS_AS(average_orientations(std::vector<Quaterniond>{}, g), Error);
  CHECK_THROWS_AS(average_orientations(qs, g, std::vector<double>{1, 1}), Error);
  CHECK_THROWS_AS(average_orientations(qs, g, std::vector<double>{0, 0, 0}), Error);
  CHECK_THROWS_AS(average_orientations(qs, g, std::vector<double>{1, -1, 1}), Error);
}

TEST_CASE("orientation: axial mean of in-plane angles") {
  {
    const std::vector<double> a{358, 2, 59.5, 0.5};  // around 0 = 60 in C6
    const AngleAverage m = average_angles_2d(a, 6);
    CHECK(disorientation_2d(m.mean, 0, 6) < 1e-9);
    CHECK(m.mean >= 0);
    CHECK(m.mean < 60);
    CHECK(m.spread == doctest::Approx(1.25));
    CHECK(m.max_dev == doctest::Approx(2));
    CHECK(m.resultant == doctest::Approx((2 * std::cos(12 * kPi / 180) + 2 * std::cos(3 * kPi / 180)) / 4));
  }
  {
    // deviations -2, 4, -1, 1: atan2(sin 24 - sin 12, cos 12 + cos 24 + 2 cos 6) / 6
    const std::vector<double> a{358, 4, 59, 1};
    CHECK(average_angles_2d(a, 6).mean == doctest::Approx(0.488818).epsilon(1e-5));
  }
  {
    const std::vector<double> a{10, 100, 190, 280, 370};  // all the same in C4
    const AngleAverage m = average_angles_2d(a, 4);
    CHECK(m.mean == doctest::Approx(10));
    CHECK(m.spread < 1e-9);
    CHECK(m.resultant == doctest::Approx(1));
  }
  {
    const std::vector<double> a{179, 1};  // C2: 179 = -1, so the mean is 0
    CHECK(disorientation_2d(average_angles_2d(a, 2).mean, 0, 2) < 1e-9);
    CHECK(average_angles_2d(a, 1).mean == doctest::Approx(90));  // C1: plain circular mean
  }
  {
    const std::vector<double> a{50, 59, 1, 10}, w{1, 3, 3, 1};  // weighted, C6: -> 0
    const AngleAverage m = average_angles_2d(a, 6, w);
    CHECK(disorientation_2d(m.mean, 0, 6) < 1e-9);
    CHECK(m.spread == doctest::Approx((10 + 3 + 3 + 10) / 8.0));
  }
  {
    const std::vector<double> a{0, 30};  // opposite in C6: no preferred angle
    const AngleAverage m = average_angles_2d(a, 6);
    CHECK(m.resultant < 1e-12);
    CHECK(m.mean == 0);
  }
  // against the quaternion average of rotations about z with the group C_n
  Uniform u(23);
  for (int n = 1; n <= 6; ++n) {
    std::vector<double> a;
    std::vector<Quaterniond> q;
    const double centre = 360 * u();
    for (int i = 0; i < 15; ++i) {
      a.push_back(centre + 4 * (u() - 0.5) + 360.0 / n * (u.rng() % 7));
      q.push_back(quat_about_z(a.back()));
    }
    const AngleAverage m = average_angles_2d(a, n);
    CHECK(disorientation_2d(m.mean, centre, n) < 2);
    const OrientationAverage qa = average_orientations(q, rotation_group_2d(n));
    CHECK(disorientation_2d(angle_about_z(qa.mean), m.mean, n) < 0.01);
  }
  CHECK_THROWS_AS(average_angles_2d(std::vector<double>{}, 6), Error);
  CHECK_THROWS_AS(average_angles_2d(std::vector<double>{1.0}, 0), Error);
}

TEST_CASE("orientation: disorientation throughput and the Mackenzie mean") {
  // Not a benchmark (timings are only reported): a million cubic disorientations of random pairs
  // average to the Mackenzie (1958) mean of 40.74 deg.
  Uniform u(31);
  std::vector<Quaterniond> qs(1024);
  for (auto& q : qs) q = u.quat();
  const RotationGroup& g = rotation_group("432");
  const auto t0 = std::chrono::steady_clock::now();
  double sum = 0;
  for (int i = 0; i < 1000000; ++i) sum += disorientation_angle(qs[i & 1023], qs[(i * 7 + 1) & 1023], g);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO("1e6 cubic disorientations: ", secs, " s");
  CHECK(sum / 1e6 == doctest::Approx(40.74).epsilon(0.005));
}
