// lib/percolate/clusters.cpp: site clusters of occupied sets, phase maps and class maps, their
// statistics (Stauffer & Aharony, "Introduction to Percolation Theory", 2nd ed., ch. 2), and
// orientation classes from a domain map.
#include <algorithm>
#include <cmath>
#include <map>

#include "domainmap/error.hpp"
#include "domainmap/percolation.hpp"

namespace domainmap {

namespace {

void check_map_size(std::size_t n, Shape2 shape, const char* what) {
  if (shape.y < 0 || shape.x < 0 || n != static_cast<std::size_t>(shape.y * shape.x))
    fail(ErrorKind::bad_input, "percolate", what, " has ", n, " values; a ", to_string(shape), " map needs ",
         shape.y * shape.x);
}

// Clusters of equal non-negative class ids (ClusterLabels) plus each cluster's class.
struct ClassClusters {
  ClusterLabels clusters;
  std::vector<std::int32_t> cluster_class;  // [K]
};

// One union-find pass for all classes: neighbours join when they have the same class id >= 0.
// Joining each position to its earlier neighbours (left, up and, for 8-connectivity, up-left
// and up-right) visits every lattice bond once (Hoshen & Kopelman, Phys. Rev. B 14, 3438
// (1976), in union-find form).
ClassClusters label_classes(const std::vector<std::int32_t>& class_map, Shape2 shape, int connectivity) {
  check_map_size(class_map.size(), shape, "class map");
  ClusterTracker t(shape, connectivity);
  const std::int64_t Y = shape.y, X = shape.x, n = Y * X;
  std::vector<std::uint8_t> present(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < present.size(); ++i) present[i] = class_map[i] >= 0;
  t.fill(present);
  for (std::int64_t y = 0; y < Y; ++y)
    for (std::int64_t x = 0; x < X; ++x) {
      const std::int64_t i = y * X + x;
      const std::int32_t c = class_map[static_cast<std::size_t>(i)];
      if (c < 0) continue;
      auto link = [&](std::int64_t yy, std::int64_t xx) {
        if (yy < 0 || xx < 0 || xx >= X) return;
        const std::int64_t j = yy * X + xx;
        if (class_map[static_cast<std::size_t>(j)] == c) t.join(i, j);
      };
      link(y, x - 1);
      link(y - 1, x);
      if (connectivity == 8) {
        link(y - 1, x - 1);
        link(y - 1, x + 1);
      }
    }
  // number the clusters by their first position in raster order
  ClassClusters out;
  ClusterLabels& cl = out.clusters;
  cl.shape = shape;
  cl.labels.assign(static_cast<std::size_t>(n), -1);
  std::vector<std::int32_t> label_of_root(static_cast<std::size_t>(n), -1);
  for (std::int64_t i = 0; i < n; ++i) {
    if (!t.occupied(i)) continue;
    const auto r = static_cast<std::size_t>(t.root(i));
    if (label_of_root[r] < 0) {
      label_of_root[r] = static_cast<std::int32_t>(cl.sizes.size());
      cl.sizes.push_back(0);
      cl.edges.push_back(0);
      out.cluster_class.push_back(class_map[static_cast<std::size_t>(i)]);
    }
    const std::int32_t k = label_of_root[r];
    cl.labels[static_cast<std::size_t>(i)] = k;
    ++cl.sizes[static_cast<std::size_t>(k)];
    cl.edges[static_cast<std::size_t>(k)] |= field_edges_of(i / X, i % X, shape);
  }
  return out;
}

// Statistics of the clusters whose index is in `members` (all of one class).
SiteStats stats_of(const ClusterLabels& cl, const std::vector<std::int32_t>* members) {
  SiteStats s;
  s.n_positions = cl.shape.y * cl.shape.x;
  std::map<std::int64_t, std::int64_t> hist;
  auto visit = [&](std::size_t k) {
    const std::int64_t size = cl.sizes[k];
    const std::uint8_t e = cl.edges[k];
    s.n_occupied += size;
    ++s.n_clusters;
    s.largest_cluster = std::max(s.largest_cluster, size);
    if ((e & (edge_top | edge_bottom)) == (edge_top | edge_bottom)) s.spans_y = true;
    if ((e & (edge_left | edge_right)) == (edge_left | edge_right)) s.spans_x = true;
    ++hist[size];
  };
  if (members)
    for (std::int32_t k : *members) visit(static_cast<std::size_t>(k));
  else
    for (std::size_t k = 0; k < cl.sizes.size(); ++k) visit(k);
  for (const auto& [size, count] : hist) s.size_counts.push_back({size, count});
  if (s.n_positions > 0) {
    s.area_fraction = static_cast<double>(s.n_occupied) / static_cast<double>(s.n_positions);
    s.largest_cluster_fraction = static_cast<double>(s.largest_cluster) / static_cast<double>(s.n_positions);
  }
  if (s.n_occupied > 0)
    s.largest_cluster_fraction_occupied = static_cast<double>(s.largest_cluster) / static_cast<double>(s.n_occupied);
  // S = sum' s^2 n_s / sum' s n_s, the largest cluster (one of them, if several tie) left out:
  // below p_c the mean size of the cluster an occupied site belongs to, which diverges at p_c
  // in an infinite system (Stauffer & Aharony eq. 2.12 and ch. 2.5).
  double s1 = 0, s2 = 0;
  for (const auto& [size, count] : hist) {
    const double c = static_cast<double>(size == s.largest_cluster ? count - 1 : count);
    s1 += c * static_cast<double>(size);
    s2 += c * static_cast<double>(size) * static_cast<double>(size);
  }
  s.mean_cluster_size = s1 > 0 ? s2 / s1 : 0;
  return s;
}

// Per class id, ascending: the indices of its clusters.
std::map<std::int32_t, std::vector<std::int32_t>> clusters_by_class(const ClassClusters& cc) {
  std::map<std::int32_t, std::vector<std::int32_t>> by;
  for (std::size_t k = 0; k < cc.cluster_class.size(); ++k)
    by[cc.cluster_class[k]].push_back(static_cast<std::int32_t>(k));
  return by;
}

} // namespace

ClusterLabels label_site_clusters(const std::vector<std::uint8_t>& occupied, Shape2 shape, int connectivity) {
  check_map_size(occupied.size(), shape, "occupied map");
  std::vector<std::int32_t> cls(occupied.size());
  for (std::size_t i = 0; i < occupied.size(); ++i) cls[i] = occupied[i] ? 0 : -1;
  return label_classes(cls, shape, connectivity).clusters;
}

SiteStats site_stats(const ClusterLabels& clusters) {
  if (clusters.edges.size() != clusters.sizes.size())
    fail(ErrorKind::bad_input, "percolate", "cluster labels have ", clusters.sizes.size(), " sizes but ",
         clusters.edges.size(), " edge flags");
  return stats_of(clusters, nullptr);
}

SiteStats site_percolation(const std::vector<std::uint8_t>& occupied, Shape2 shape, int connectivity) {
  return site_stats(label_site_clusters(occupied, shape, connectivity));
}

std::vector<ClassStats> class_percolation(const std::vector<std::int32_t>& class_map, Shape2 shape, int connectivity) {
  const ClassClusters cc = label_classes(class_map, shape, connectivity);
  std::vector<ClassStats> out;
  for (const auto& [id, members] : clusters_by_class(cc)) out.push_back({id, stats_of(cc.clusters, &members)});
  return out;
}

std::vector<PhaseStats> phase_percolation(const std::vector<std::int32_t>& phase, Shape2 shape, int connectivity) {
  std::vector<PhaseStats> out;
  for (ClassStats& c : class_percolation(phase, shape, connectivity)) out.push_back({c.class_id, std::move(c.site)});
  return out;
}

std::vector<std::int32_t> orientation_classes(const std::vector<std::int32_t>& labels,
                                              const std::vector<double>& domain_angle_deg,
                                              const std::vector<double>& directions_deg, double tolerance_deg,
                                              double period_deg, const std::vector<double>& domain_period_deg) {
  if (!domain_period_deg.empty() && domain_period_deg.size() != domain_angle_deg.size())
    fail(ErrorKind::bad_input, "percolate", "orientation classes: ", domain_angle_deg.size(), " domain angles but ",
         domain_period_deg.size(), " domain periods");
  if (!std::isfinite(tolerance_deg) || tolerance_deg < 0)
    fail(ErrorKind::bad_parameter, "", "percolate.class_tolerance_deg = ", tolerance_deg, ": must be finite and >= 0");
  // class of each domain, computed once
  std::vector<std::int32_t> domain_class(domain_angle_deg.size(), -1);
  for (std::size_t d = 0; d < domain_angle_deg.size(); ++d) {
    const double a = domain_angle_deg[d];
    const double period = domain_period_deg.empty() ? period_deg : domain_period_deg[d];
    if (!std::isfinite(a)) continue;
    if (!(period > 0) || !std::isfinite(period))
      fail(ErrorKind::bad_input, "percolate", "orientation classes: domain ", d, " has symmetry period ", period,
           " deg; it must be > 0 (360 / n for an n-fold axis)");
    double best = tolerance_deg;
    for (std::size_t c = 0; c < directions_deg.size(); ++c) {
      // in-plane disorientation under an n-fold axis: distance to the nearest equivalent
      double d_ang = std::fmod(std::fabs(a - directions_deg[c]), period);
      d_ang = std::min(d_ang, period - d_ang);
      if (d_ang < best || (d_ang == best && domain_class[d] < 0)) {
        best = d_ang;
        domain_class[d] = static_cast<std::int32_t>(c);
      }
    }
  }
  std::vector<std::int32_t> out(labels.size(), -1);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const std::int32_t d = labels[i];
    if (d < 0) continue;
    if (static_cast<std::size_t>(d) >= domain_class.size())
      fail(ErrorKind::bad_input, "percolate", "orientation classes: position ", i, " has domain ", d, " but only ",
           domain_class.size(), " domain angles are given");
    out[i] = domain_class[static_cast<std::size_t>(d)];
  }
  return out;
}

std::vector<SizeBin> log_binned_sizes(const std::vector<ClusterSizeCount>& size_counts, std::int64_t n_positions,
                                      int bins_per_decade) {
  if (bins_per_decade < 1)
    fail(ErrorKind::bad_parameter, "percolate", "log_binned_sizes: bins_per_decade = ", bins_per_decade,
         ": must be >= 1");
  std::vector<SizeBin> out;
  if (size_counts.empty() || n_positions <= 0) return out;
  const std::int64_t s_top = size_counts.back().size;
  std::size_t j = 0;  // next entry of size_counts
  std::int64_t lo = 1;
  for (int k = 1; lo <= s_top; ++k) {
    // bin k-1 covers the integers in [10^((k-1)/b), 10^(k/b)); bins narrower than one integer merge
    const double upper = std::pow(10.0, static_cast<double>(k) / bins_per_decade);
    const auto edge = static_cast<std::int64_t>(std::ceil(upper - 1e-9));
    const std::int64_t hi = edge - 1;
    if (hi < lo) continue;
    SizeBin b;
    b.s_min = lo;
    b.s_max = hi;
    for (; j < size_counts.size() && size_counts[j].size <= hi; ++j) b.clusters += size_counts[j].count;
    if (b.clusters > 0) {
      // geometric mean of lo..hi: exp(mean of log s)
      double sum_log = 0;
      const std::int64_t width = hi - lo + 1;
      if (width <= 4096) {
        for (std::int64_t s = lo; s <= hi; ++s) sum_log += std::log(static_cast<double>(s));
        b.s_mean = std::exp(sum_log / static_cast<double>(width));
      } else {  // integral of log s over [lo - 1/2, hi + 1/2], plenty for wide bins
        auto F = [](double v) { return v * std::log(v) - v; };
        b.s_mean = std::exp((F(hi + 0.5) - F(lo - 0.5)) / static_cast<double>(width));
      }
      b.n_s = static_cast<double>(b.clusters) / static_cast<double>(width) / static_cast<double>(n_positions);
      out.push_back(b);
    }
    lo = hi + 1;
  }
  return out;
}

} // namespace domainmap
