// lib/origin/ellipse_fit.hpp: internals of the origin stage shared by its .cpp files.
#pragma once
#include <array>
#include <string>
#include <vector>

#include "domainmap/braggvectors.hpp"

namespace domainmap::origin_detail {

/// Robust centred-conic fit of points (x = qx, y = qy), as fit_ellipse_ring() describes;
/// `what` names the points in error messages ("ellipse ring 17..19 px").
EllipseDistortion fit_ellipse_points(const std::vector<double>& x, const std::vector<double>& y,
                                     const std::string& what);

/// The 2x2 matrix over (qy, qx) that correct_peaks() applies: R(rotation_deg) C(e).
std::array<double, 4> correction_matrix(const EllipseDistortion& e, double rotation_deg);

} // namespace domainmap::origin_detail
