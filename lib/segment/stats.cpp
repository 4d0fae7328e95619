// lib/segment/stats.cpp: what the `segment` stage measures on a finished labelling: kernel
// average misorientation and grain orientation spread per position, the domain table (area,
// equivalent diameter, perimeter, centroid, bounding box, mean orientation, spread, edge contact,
// neighbours), the size distribution with its log-normal fit, and the adjusted Rand index.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include "domainmap/error.hpp"
#include "segment_impl.hpp"

namespace domainmap {

namespace seg {

void domain_statistics(const Field& fd, const SegmentParams& p, const std::vector<std::int32_t>& dphase,
                       Segmentation& out, int threads) {
  const std::vector<std::int32_t>& label = out.labels;
  const std::int32_t K = static_cast<std::int32_t>(dphase.size());
  const float nan = std::numeric_limits<float>::quiet_NaN();
  tbb::task_arena arena(threads > 0 ? threads : tbb::task_arena::automatic);

  // Kernel average misorientation (MTEX KAM; OIM "kernel average misorientation"): the mean
  // disorientation to the neighbours in the same domain and phase, ignoring those above
  // kam_max_deg. Each neighbour pair's disorientation is computed once, by the first of the two
  // in raster order (forward neighbours: right, down, and for 8 neighbours down-right and
  // down-left; NaN = not a pair of one domain and phase), then each position sums its
  // neighbours' pairs in raster order of the neighbours. Rows run in parallel in both passes.
  out.kam_deg.assign(fd.n, nan);
  {
    const bool eight = p.kam_connectivity == 8;
    const std::int64_t nf = eight ? 4 : 2, nx = fd.nx, ny = fd.ny;
    const double none = std::numeric_limits<double>::quiet_NaN();
    std::vector<double> fw(static_cast<std::size_t>(fd.n * nf), none);
    auto counts = [&](std::int64_t i) { return label[i] >= 0 && fd.oriented(i); };
    arena.execute([&] {
      tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, ny, 4), [&](const tbb::blocked_range<std::int64_t>& r) {
        for (std::int64_t y = r.begin(); y < r.end(); ++y)
          for (std::int64_t x = 0; x < nx; ++x) {
            const std::int64_t i = y * nx + x;
            if (!counts(i)) continue;
            double* f = fw.data() + i * nf;
            auto pair = [&](std::int64_t j) {
              return label[j] == label[i] && fd.phase[j] == fd.phase[i] ? fd.dis(i, j) : none;
            };
            if (x + 1 < nx) f[0] = pair(i + 1);
            if (y + 1 < ny) {
              f[1] = pair(i + nx);
              if (eight) {
                if (x + 1 < nx) f[2] = pair(i + nx + 1);
                if (x > 0) f[3] = pair(i + nx - 1);
              }
            }
          }
      });
    });
    arena.execute([&] {
      tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, ny, 4), [&](const tbb::blocked_range<std::int64_t>& r) {
        for (std::int64_t y = r.begin(); y < r.end(); ++y)
          for (std::int64_t x = 0; x < nx; ++x) {
            const std::int64_t i = y * nx + x;
            if (!counts(i)) continue;
            double sum = 0;
            int cnt = 0;
            auto take = [&](double d) {
              if (!(d <= p.kam_max_deg)) return;  // NaN: no pair
              sum += d;
              ++cnt;
            };
            const bool up = y > 0, down = y + 1 < ny, left = x > 0, right = x + 1 < nx;
            // neighbours in raster order: up-left, up, up-right, left, right, down-left, down, down-right
            if (eight && up && left) take(fw[(i - nx - 1) * nf + 2]);
            if (up) take(fw[(i - nx) * nf + 1]);
            if (eight && up && right) take(fw[(i - nx + 1) * nf + 3]);
            if (left) take(fw[(i - 1) * nf + 0]);
            if (right) take(fw[i * nf + 0]);
            if (eight && down && left) take(fw[i * nf + 3]);
            if (down) take(fw[i * nf + 1]);
            if (eight && down && right) take(fw[i * nf + 2]);
            if (cnt > 0) out.kam_deg[i] = static_cast<float>(sum / cnt);
          }
      });
    });
  }

  // Geometry, one raster pass.
  std::vector<DomainRecord>& table = out.table;
  table.assign(K, DomainRecord{});
  std::vector<double> sy(K, 0), sx(K, 0);
  for (std::int32_t k = 0; k < K; ++k) {
    table[k].id = k;
    table[k].phase = dphase[k];
    table[k].bbox_y0 = fd.ny;
    table[k].bbox_x0 = fd.nx;
  }
  std::vector<std::pair<std::int32_t, std::int32_t>> pairs;  // adjacent domains (a < b)
  for (std::int64_t y = 0; y < fd.ny; ++y)
    for (std::int64_t x = 0; x < fd.nx; ++x) {
      const std::int64_t i = y * fd.nx + x;
      const std::int32_t a = label[i];
      if (a < 0) continue;
      DomainRecord& d = table[a];
      ++d.area_px;
      sy[a] += static_cast<double>(y);
      sx[a] += static_cast<double>(x);
      d.bbox_y0 = std::min(d.bbox_y0, y);
      d.bbox_x0 = std::min(d.bbox_x0, x);
      d.bbox_y1 = std::max(d.bbox_y1, y + 1);
      d.bbox_x1 = std::max(d.bbox_x1, x + 1);
      if (y == 0 || x == 0 || y == fd.ny - 1 || x == fd.nx - 1) d.touches_edge = true;
      // pixel edges: up, left, right, down (outside the scan counts as "other")
      d.perimeter_px += (y == 0 || label[i - fd.nx] != a) + (x == 0 || label[i - 1] != a) +
                        (x == fd.nx - 1 || label[i + 1] != a) + (y == fd.ny - 1 || label[i + fd.nx] != a);
      auto visit = [&](std::int64_t j) {
        const std::int32_t b = label[j];
        if (b >= 0 && b != a) pairs.emplace_back(std::min(a, b), std::max(a, b));
      };
      if (x + 1 < fd.nx) visit(i + 1);
      if (y + 1 < fd.ny) {
        visit(i + fd.nx);
        if (p.connectivity == 8) {
          if (x + 1 < fd.nx) visit(i + fd.nx + 1);
          if (x > 0) visit(i + fd.nx - 1);
        }
      }
    }
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  for (const auto& [a, b] : pairs) {
    ++table[a].n_neighbours;
    ++table[b].n_neighbours;
  }
  const double step = fd.step_nm;
  for (std::int32_t k = 0; k < K; ++k) {
    DomainRecord& d = table[k];
    const double area = static_cast<double>(d.area_px);
    d.centroid_y = sy[k] / area;
    d.centroid_x = sx[k] / area;
    d.eq_diameter_px = 2 * std::sqrt(area / std::numbers::pi);
    if (step > 0) {
      d.area_nm2 = area * step * step;
      d.eq_diameter_nm = d.eq_diameter_px * step;
      d.perimeter_nm = static_cast<double>(d.perimeter_px) * step;
    }
  }

  // Mean orientation and spread per domain from its oriented positions of its phase (2D:
  // average_angles_2d, the axial mean; 3D: average_orientations, the Markley mean). Positions
  // in raster order per domain (counting sort), domains in parallel.
  std::vector<std::int64_t> off(K + 1, 0);
  for (std::int64_t i = 0; i < fd.n; ++i)
    if (label[i] >= 0 && fd.phase[i] == dphase[label[i]]) ++off[label[i] + 1];
  for (std::int32_t k = 0; k < K; ++k) off[k + 1] += off[k];
  std::vector<std::int32_t> pos(off[K]);
  {
    std::vector<std::int64_t> fill(off.begin(), off.end() - 1);
    for (std::int64_t i = 0; i < fd.n; ++i)
      if (label[i] >= 0 && fd.phase[i] == dphase[label[i]]) pos[fill[label[i]]++] = static_cast<std::int32_t>(i);
  }
  arena.execute([&] {
    tbb::parallel_for(tbb::blocked_range<std::int32_t>(0, K, 1), [&](const tbb::blocked_range<std::int32_t>& r) {
      std::vector<double> angles;
      std::vector<Eigen::Quaterniond> quats;
      for (std::int32_t k = r.begin(); k < r.end(); ++k) {
        DomainRecord& d = table[k];
        d.n_oriented = off[k + 1] - off[k];
        d.mean_angle_deg = std::numeric_limits<double>::quiet_NaN();
        if (d.n_oriented == 0) continue;
        const std::int32_t ph = d.phase;
        if (fd.three_d) {
          quats.clear();
          for (std::int64_t a = off[k]; a < off[k + 1]; ++a) quats.push_back(fd.quat[pos[a]]);
          const OrientationAverage m = average_orientations(quats, *fd.group[ph]);
          d.mean_quaternion = {m.mean.w(), m.mean.x(), m.mean.y(), m.mean.z()};
          d.spread_deg = m.spread;
          d.max_dev_deg = m.max_dev;
        } else {
          angles.clear();
          for (std::int64_t a = off[k]; a < off[k + 1]; ++a) angles.push_back(fd.angle[pos[a]]);
          const AngleAverage m = average_angles_2d(angles, fd.nfold[ph]);
          d.mean_angle_deg = m.mean;
          const Eigen::Quaterniond q = quat_about_z(m.mean);
          d.mean_quaternion = {q.w(), q.x(), q.y(), q.z()};
          d.spread_deg = m.spread;
          d.max_dev_deg = m.max_dev;
        }
      }
    });
  });

  // Grain orientation spread painted per position.
  out.gos_deg.assign(fd.n, nan);
  for (std::int64_t i = 0; i < fd.n; ++i)
    if (label[i] >= 0) out.gos_deg[i] = static_cast<float>(table[label[i]].spread_deg);

  // Size distribution. The log-normal maximum-likelihood fit is the mean and the (1/K) standard
  // deviation of ln(area).
  DomainSummary& s = out.summary;
  s = DomainSummary{};
  s.count = K;
  std::int64_t unlabelled = 0;
  for (auto l : label) unlabelled += l < 0;
  s.fraction_unindexed = static_cast<double>(fd.n_unindexed) / static_cast<double>(fd.n);
  s.fraction_unlabelled = static_cast<double>(unlabelled) / static_cast<double>(fd.n);
  if (K == 0) return;
  std::vector<double> areas(K);
  double sum = 0, sum_ln = 0;
  for (std::int32_t k = 0; k < K; ++k) {
    areas[k] = static_cast<double>(table[k].area_px);
    sum += areas[k];
    sum_ln += std::log(areas[k]);
  }
  s.mean_area_px = sum / K;
  s.lognormal_mu = sum_ln / K;
  double var = 0;
  for (double a : areas) var += (std::log(a) - s.lognormal_mu) * (std::log(a) - s.lognormal_mu);
  s.lognormal_sigma = std::sqrt(var / K);
  std::sort(areas.begin(), areas.end());
  s.median_area_px = K % 2 ? areas[K / 2] : 0.5 * (areas[K / 2 - 1] + areas[K / 2]);
  if (step > 0) s.mean_area_nm2 = s.mean_area_px * step * step;
}

}  // namespace seg

double adjusted_rand_index(std::span<const std::int32_t> a, std::span<const std::int32_t> b) {
  if (a.size() != b.size())
    fail(ErrorKind::bad_parameter, "", "adjusted_rand_index: labellings of ", a.size(), " and ", b.size(),
         " positions");
  // Contingency table n_ij from the sorted (a, b) pairs; ARI = (sum C(n_ij,2) - E) / (M - E)
  // with E = sum C(a_i,2) sum C(b_j,2) / C(n,2) and M = (sum C(a_i,2) + sum C(b_j,2)) / 2.
  std::vector<std::pair<std::int32_t, std::int32_t>> ab;
  ab.reserve(a.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i] >= 0 && b[i] >= 0) ab.emplace_back(a[i], b[i]);
  const double n = static_cast<double>(ab.size());
  if (ab.size() < 2) return 1.0;
  auto c2 = [](double m) { return 0.5 * m * (m - 1); };
  std::sort(ab.begin(), ab.end());
  double index = 0, sum_a = 0;
  for (std::size_t i = 0; i < ab.size();) {
    std::size_t j = i, k = i;
    while (j < ab.size() && ab[j].first == ab[i].first) {
      k = j;
      while (k < ab.size() && ab[k] == ab[j]) ++k;
      index += c2(static_cast<double>(k - j));
      j = k;
    }
    sum_a += c2(static_cast<double>(j - i));
    i = j;
  }
  std::vector<std::int32_t> bs(ab.size());
  for (std::size_t i = 0; i < ab.size(); ++i) bs[i] = ab[i].second;
  std::sort(bs.begin(), bs.end());
  double sum_b = 0;
  for (std::size_t i = 0; i < bs.size();) {
    std::size_t j = i;
    while (j < bs.size() && bs[j] == bs[i]) ++j;
    sum_b += c2(static_cast<double>(j - i));
    i = j;
  }
  const double expected = sum_a * sum_b / c2(n);
  const double max_index = 0.5 * (sum_a + sum_b);
  if (max_index == expected) return 1.0;
  return (index - expected) / (max_index - expected);
}

}  // namespace domainmap
