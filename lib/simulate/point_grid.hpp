// lib/simulate/point_grid.hpp: private to lib/simulate/: exact nearest-point queries over points
// bucketed into square cells (the Voronoi grains of both simulators).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace domainmap::sim_detail {

// Points bucketed into square cells of side c over the box [y0, y0 + ny c) x [x0, x0 + nx c)
// (queries outside go to the border cells), CSR by cell.
struct PointGrid {
  double y0 = 0, x0 = 0, c = 1;
  std::int64_t ny = 1, nx = 1;
  std::vector<std::int32_t> start, ids;

  PointGrid(double y0_, double x0_, double height, double width, double cell) : y0(y0_), x0(x0_), c(cell) {
    ny = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(height / c)));
    nx = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(width / c)));
  }
  std::int64_t cy(double y) const { return std::clamp<std::int64_t>(static_cast<std::int64_t>(std::floor((y - y0) / c)), 0, ny - 1); }
  std::int64_t cx(double x) const { return std::clamp<std::int64_t>(static_cast<std::int64_t>(std::floor((x - x0) / c)), 0, nx - 1); }
  void build(const std::vector<double>& py, const std::vector<double>& px) {
    start.assign(static_cast<std::size_t>(ny * nx + 1), 0);
    for (std::size_t g = 0; g < py.size(); ++g) ++start[static_cast<std::size_t>(cy(py[g]) * nx + cx(px[g])) + 1];
    for (std::size_t i = 1; i < start.size(); ++i) start[i] += start[i - 1];
    ids.resize(py.size());
    std::vector<std::int32_t> fill(start.begin(), start.end() - 1);
    for (std::size_t g = 0; g < py.size(); ++g)
      ids[static_cast<std::size_t>(fill[static_cast<std::size_t>(cy(py[g]) * nx + cx(px[g]))]++)] =
          static_cast<std::int32_t>(g);
  }
  // Nearest point (lowest index on ties), exact: rings of cells until none unsearched can hold
  // a closer point (a cell r + 1 rings away is at least r c from the query).
  std::int32_t nearest(double y, double x, const std::vector<double>& py, const std::vector<double>& px) const {
    const std::int64_t qy = cy(y), qx = cx(x);
    std::int32_t best = -1;
    double bd = std::numeric_limits<double>::infinity();
    auto visit = [&](std::int64_t iy, std::int64_t ix) {
      if (iy < 0 || ix < 0 || iy >= ny || ix >= nx) return;
      const std::size_t cell = static_cast<std::size_t>(iy * nx + ix);
      for (std::int32_t q = start[cell]; q < start[cell + 1]; ++q) {
        const std::int32_t g = ids[static_cast<std::size_t>(q)];
        const double dy = y - py[static_cast<std::size_t>(g)], dx = x - px[static_cast<std::size_t>(g)];
        const double d = dy * dy + dx * dx;
        if (d < bd || (d == bd && g < best)) {
          bd = d;
          best = g;
        }
      }
    };
    const std::int64_t rmax = std::max(ny, nx);
    for (std::int64_t r = 0; r <= rmax; ++r) {
      if (r == 0) {
        visit(qy, qx);
      } else {
        for (std::int64_t ix = qx - r; ix <= qx + r; ++ix) {
          visit(qy - r, ix);
          visit(qy + r, ix);
        }
        for (std::int64_t iy = qy - r + 1; iy <= qy + r - 1; ++iy) {
          visit(iy, qx - r);
          visit(iy, qx + r);
        }
      }
      const double reach = static_cast<double>(r) * c;
      if (best >= 0 && bd < reach * reach) break;
    }
    return best;
  }
};

} // namespace domainmap::sim_detail
