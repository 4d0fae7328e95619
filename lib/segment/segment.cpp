// lib/segment/segment.cpp: the `segment` stage: input checks, growing the domains (union-find
// over close neighbour pairs, or seeded region growing), small domains, filling not-indexed
// positions, raster-order renumbering, and the nested sub-domain pass. See domainmap/segment.hpp.
#include "domainmap/segment.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <queue>
#include <string>
#include <utility>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include "domainmap/error.hpp"
#include "segment_impl.hpp"

namespace domainmap {

namespace seg {
namespace {

std::string at(const char* object, std::int64_t i, std::int64_t nx) {
  return std::string(object) + " at (" + std::to_string(i / nx) + "," + std::to_string(i % nx) + ")";
}

Field prepare(const OrientationMap& m, const SegmentParams& p) {
  Field f;
  if (m.scan.y <= 0 || m.scan.x <= 0)
    fail(ErrorKind::bad_input, "/orientation", "scan shape ", to_string(m.scan), " is empty");
  f.ny = m.scan.y;
  f.nx = m.scan.x;
  f.n = f.ny * f.nx;
  if (f.n >= std::numeric_limits<std::int32_t>::max())
    fail(ErrorKind::bad_input, "/orientation", "scan of ", f.n, " positions is too large (labels are int32)");
  const std::string scan_text = to_string(m.scan) + " scan (" + std::to_string(f.n) + " positions)";
  auto check_size = [&](const char* object, std::size_t size) {
    if (static_cast<std::int64_t>(size) != f.n)
      fail(ErrorKind::bad_input, object, size, " values for a ", scan_text);
  };
  f.three_d = m.three_d();
  check_size("/orientation/phase", m.phase.size());
  if (f.three_d) {
    check_size("/orientation/quaternion", m.quaternion.size());
    if (!m.angle_deg.empty()) check_size("/orientation/angle", m.angle_deg.size());
  } else {
    check_size("/orientation/angle", m.angle_deg.size());
  }
  if (!m.score.empty()) check_size("/orientation/score", m.score.size());
  if (!(m.scan_step_nm >= 0) || !std::isfinite(m.scan_step_nm))
    fail(ErrorKind::bad_input, "/orientation", "scan step ", m.scan_step_nm, " nm must be >= 0");
  f.step_nm = m.scan_step_nm;

  const std::int64_t n_phases = static_cast<std::int64_t>(m.phases.size());
  for (std::int64_t k = 0; k < n_phases; ++k) {
    const RotationGroup* g = find_rotation_group(m.phases[k].symmetry);
    if (!g)
      fail(ErrorKind::bad_input, "/phases/" + std::to_string(k), "symmetry '", m.phases[k].symmetry,
           "' is unknown; expected e.g. C6 (in-plane), 6/mmm or m-3m");
    f.group.push_back(g);
    f.nfold.push_back(std::max(1, g->z_order));
    f.period.push_back(360.0 / f.nfold.back());
  }

  f.phase.resize(f.n);
  if (f.three_d) f.quat.resize(f.n, Eigen::Quaterniond::Identity());
  else f.angle.resize(f.n, 0.0);
  for (std::int64_t i = 0; i < f.n; ++i) {
    const std::int32_t ph = m.phase[i];
    if (ph < -1 || ph >= n_phases)
      fail(ErrorKind::bad_input, at("/orientation/phase", i, f.nx), "phase ", ph, " is not -1 or a phase index (",
           n_phases, " phases)");
    f.phase[i] = ph;
    if (ph < 0) continue;
    if (f.three_d) {
      const auto& q = m.quaternion[i];
      const Eigen::Quaterniond d(q[0], q[1], q[2], q[3]);
      const double norm = d.norm();
      if (!std::isfinite(norm) || norm < 1e-6)
        fail(ErrorKind::bad_input, at("/orientation/quaternion", i, f.nx), "(", q[0], ", ", q[1], ", ", q[2], ", ",
             q[3], ") is not a rotation where phase = ", ph);
      f.quat[i] = d.normalized();
    } else {
      const float a = m.angle_deg[i];
      if (!std::isfinite(a))
        fail(ErrorKind::bad_input, at("/orientation/angle", i, f.nx), std::isnan(a) ? "NaN" : "infinite",
             " where phase = ", ph, "; indexed positions need a finite angle");
      // already in [0, period): reduce_angle_2d would return it unchanged (fmod is exact)
      f.angle[i] = a >= 0 && a < f.period[ph] ? static_cast<double>(a) : reduce_angle_2d(a, f.nfold[ph]);
    }
    // A NaN score is below every threshold.
    if (p.min_score > 0 && !m.score.empty() && !(m.score[i] >= p.min_score)) f.phase[i] = -1;
  }
  for (std::int64_t i = 0; i < f.n; ++i) f.n_unindexed += f.phase[i] < 0;
  return f;
}

// A labelling pass: compact labels 0..K-1 and each label's phase.
struct Labels {
  std::vector<std::int32_t> label;
  std::vector<std::int32_t> dphase;
  std::int64_t merged = 0, dropped = 0, filled = 0;
};

// True if positions i and j may belong to one region of this pass (sub-domains stay inside
// their domain).
inline bool same_parent(const std::int32_t* constraint, std::int64_t i, std::int64_t j) {
  return !constraint || constraint[i] == constraint[j];
}
inline bool allowed(const std::int32_t* constraint, std::int64_t i) { return !constraint || constraint[i] >= 0; }

std::int32_t find(std::vector<std::int32_t>& parent, std::int32_t a) {
  while (parent[a] != a) {
    parent[a] = parent[parent[a]];  // path halving
    a = parent[a];
  }
  return a;
}

// Neighbour rule (MTEX calcGrains, DREAM.3D): the connected components of the graph whose
// edges join adjacent positions closer than the threshold. Edges are tested in parallel (one
// bit per forward neighbour), then united serially with the smaller index as the root, so every
// root is the first position of its component in raster order. Returns the root per position.
std::vector<std::int32_t> grow_neighbour(const Field& fd, const Threshold& t, int connectivity,
                                         const std::int32_t* constraint, tbb::task_arena& arena) {
  // Forward neighbours: right, down, and for 8-connectivity down-right and down-left.
  std::vector<std::uint8_t> bits(fd.n, 0);
  arena.execute([&] {
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, fd.ny, 8), [&](const tbb::blocked_range<std::int64_t>& r) {
      for (std::int64_t y = r.begin(); y < r.end(); ++y)
        for (std::int64_t x = 0; x < fd.nx; ++x) {
          const std::int64_t i = y * fd.nx + x;
          if (!fd.oriented(i) || !allowed(constraint, i)) continue;
          std::uint8_t b = 0;
          auto test = [&](std::int64_t j, int bit) {
            if (same_parent(constraint, i, j) && fd.close(i, j, t)) b |= static_cast<std::uint8_t>(1u << bit);
          };
          if (x + 1 < fd.nx) test(i + 1, 0);
          if (y + 1 < fd.ny) {
            test(i + fd.nx, 1);
            if (connectivity == 8) {
              if (x + 1 < fd.nx) test(i + fd.nx + 1, 2);
              if (x > 0) test(i + fd.nx - 1, 3);
            }
          }
          bits[i] = b;
        }
    });
  });
  std::vector<std::int32_t> parent(fd.n);
  for (std::int64_t i = 0; i < fd.n; ++i) parent[i] = static_cast<std::int32_t>(i);
  auto unite = [&](std::int64_t a, std::int64_t b) {
    std::int32_t ra = find(parent, static_cast<std::int32_t>(a)), rb = find(parent, static_cast<std::int32_t>(b));
    if (ra == rb) return;
    if (ra < rb) parent[rb] = ra;
    else parent[ra] = rb;
  };
  const std::int64_t off[4] = {1, fd.nx, fd.nx + 1, fd.nx - 1};
  for (std::int64_t i = 0; i < fd.n; ++i) {
    const std::uint8_t b = bits[i];
    if (!b) continue;
    for (int k = 0; k < 4; ++k)
      if (b & (1u << k)) unite(i, i + off[k]);
  }
  std::vector<std::int32_t> root(fd.n, -1);
  for (std::int64_t i = 0; i < fd.n; ++i)
    if (fd.oriented(i) && allowed(constraint, i)) root[i] = find(parent, static_cast<std::int32_t>(i));
  return root;
}

// Seed and mean rules (py4DSTEM cluster_grains): breadth-first region growing from seeds in
// raster order. A candidate (an unlabelled neighbour of a region position, same phase) joins if
// its disorientation to the reference is below the threshold: the seed's orientation (seed), or
// the running mean of the region (mean). The 2D running mean is the axial circular mean
// (Mardia and Jupp 2000, 9.4: the mean of exp(i n theta)); the 3D one the normalised sum of the
// members' equivalents nearest the current mean (the chordal L2 mean, which the Markley
// eigenvector mean of average_orientations() refines for large spreads). A rejected candidate
// is tested again when reached from another region position. Each seed is the first position of
// its region in raster order (every earlier position is already labelled), so it is the root.
std::vector<std::int32_t> grow_regions(const Field& fd, const Threshold& t, int connectivity, bool running_mean,
                                       const std::int32_t* constraint) {
  constexpr double kDeg = 3.14159265358979323846 / 180.0;
  std::vector<std::int32_t> root(fd.n, -1);
  std::vector<std::int32_t> queue;
  queue.reserve(1024);
  for (std::int64_t s = 0; s < fd.n; ++s) {
    if (root[s] >= 0 || !fd.oriented(s) || !allowed(constraint, s)) continue;
    const std::int32_t ph = fd.phase[s];
    const int n = fd.nfold[ph];
    const RotationGroup& g = *fd.group[ph];
    // reference orientation and the running sums
    double ref_angle = 0, sc = 0, ss = 0;
    Eigen::Quaterniond ref_q = Eigen::Quaterniond::Identity();
    Eigen::Vector4d qsum = Eigen::Vector4d::Zero();
    auto add = [&](std::int64_t i) {
      root[i] = static_cast<std::int32_t>(s);
      queue.push_back(static_cast<std::int32_t>(i));
      if (fd.three_d) {
        if (i == s) {
          ref_q = fd.quat[i];
          qsum = ref_q.coeffs();
        } else if (running_mean) {
          qsum += nearest_equivalent(fd.quat[i], ref_q, g).coeffs();
          ref_q.coeffs() = qsum.normalized();
        }
      } else {
        if (i == s) ref_angle = fd.angle[i];
        if (i == s || running_mean) {
          sc += std::cos(n * fd.angle[i] * kDeg);
          ss += std::sin(n * fd.angle[i] * kDeg);
          if (i != s) ref_angle = reduce_angle_2d(std::atan2(ss, sc) / kDeg / n, n);
        }
      }
    };
    auto accept = [&](std::int64_t j) {
      if (fd.three_d) return disorientation_cos_half(ref_q, fd.quat[j], g) > t.cos_half;
      return Field::dis_reduced(ref_angle, fd.angle[j], fd.period[ph]) < t.deg;
    };
    queue.clear();
    add(s);
    for (std::size_t head = 0; head < queue.size(); ++head) {
      const std::int64_t i = queue[head];
      for_neighbours(fd, i / fd.nx, i % fd.nx, connectivity, [&](std::int64_t j) {
        if (root[j] >= 0 || fd.phase[j] != ph || !same_parent(constraint, i, j)) return;
        if (accept(j)) add(j);
      });
    }
  }
  return root;
}

// Roots (first positions) to compact labels 0..K-1 in raster order of first position.
void compact(std::vector<std::int32_t>& label, std::vector<std::int32_t>& remap, std::int32_t& k) {
  std::fill(remap.begin(), remap.end(), -1);
  k = 0;
  for (auto& l : label) {
    if (l < 0) continue;
    if (remap[l] < 0) remap[l] = k++;
    l = remap[l];
  }
}

// Mean orientation of one domain as first segmented (for merge tie-breaks): 2D angle in
// `angle`, 3D quaternion in `q`.
struct DomainMean {
  bool done = false;
  bool empty = true;  ///< no measured position of the domain's phase (only filled ones)
  double angle = 0;
  Eigen::Quaterniond q = Eigen::Quaterniond::Identity();
};

// Small domains (OIM minimum grain size, DREAM.3D Minimum Size filter). merge: each small
// domain, smallest first (ties: lower label), joins the adjacent domain with which it shares the
// most neighbour pairs (4- or 8-adjacency as the segmentation), ties broken by the smaller
// disorientation between the two domains' mean orientations as first segmented (a different
// phase counts as farther than any), then by the lower label; a merged group that is still
// small is considered again. A small domain with no neighbour is kept. drop: small domains
// become -1.
void small_domains(const Field& fd, const SegmentParams& p, const std::int32_t* constraint, Labels& L,
                   std::int32_t k_count) {
  if (p.small_domains == "keep" || p.min_size <= 1 || k_count == 0) return;
  std::vector<std::int64_t> area(k_count, 0);
  for (auto l : L.label)
    if (l >= 0) ++area[l];
  auto is_small = [&](std::int32_t k) { return area[k] < p.min_size; };
  if (p.small_domains == "drop") {
    for (std::int32_t k = 0; k < k_count; ++k) L.dropped += is_small(k);
    for (auto& l : L.label)
      if (l >= 0 && is_small(l)) l = -1;
    return;
  }
  std::vector<std::int32_t> small_list;
  for (std::int32_t k = 0; k < k_count; ++k)
    if (is_small(k)) small_list.push_back(k);
  if (small_list.empty()) return;

  // Adjacency of the small domains: (small domain, neighbour) per adjacent pair, counted.
  std::vector<std::pair<std::int32_t, std::int32_t>> pairs;
  for (std::int64_t y = 0; y < fd.ny; ++y)
    for (std::int64_t x = 0; x < fd.nx; ++x) {
      const std::int64_t i = y * fd.nx + x;
      const std::int32_t a = L.label[i];
      if (a < 0) continue;
      auto visit = [&](std::int64_t j) {
        const std::int32_t b = L.label[j];
        if (b < 0 || b == a || !same_parent(constraint, i, j)) return;
        if (is_small(a)) pairs.emplace_back(a, b);
        if (is_small(b)) pairs.emplace_back(b, a);
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
  // CSR: adjacency of domain k is adj[adj_off[k] .. adj_off[k+1]) as (neighbour, shared pairs).
  std::vector<std::int64_t> adj_off(k_count + 1, 0);
  std::vector<std::pair<std::int32_t, std::int64_t>> adj;
  for (std::size_t a = 0; a < pairs.size();) {
    std::size_t b = a;
    while (b < pairs.size() && pairs[b] == pairs[a]) ++b;
    adj.emplace_back(pairs[a].second, static_cast<std::int64_t>(b - a));
    ++adj_off[pairs[a].first + 1];
    a = b;
  }
  for (std::int32_t k = 0; k < k_count; ++k) adj_off[k + 1] += adj_off[k];
  pairs.clear();
  pairs.shrink_to_fit();

  // Positions of each domain (counting sort), for the means on tie-breaks.
  std::vector<std::int64_t> pos_off(k_count + 1, 0);
  for (auto l : L.label)
    if (l >= 0) ++pos_off[l + 1];
  for (std::int32_t k = 0; k < k_count; ++k) pos_off[k + 1] += pos_off[k];
  std::vector<std::int32_t> pos(pos_off[k_count]);
  {
    std::vector<std::int64_t> fill(pos_off.begin(), pos_off.end() - 1);
    for (std::int64_t i = 0; i < fd.n; ++i)
      if (L.label[i] >= 0) pos[fill[L.label[i]]++] = static_cast<std::int32_t>(i);
  }
  std::vector<DomainMean> means(k_count);
  std::vector<double> angles;
  std::vector<Eigen::Quaterniond> quats;
  auto mean_of = [&](std::int32_t k) -> const DomainMean& {
    DomainMean& m = means[k];
    if (m.done) return m;
    const std::int32_t ph = L.dphase[k];
    angles.clear();
    quats.clear();
    for (std::int64_t a = pos_off[k]; a < pos_off[k + 1]; ++a) {
      const std::int64_t i = pos[a];
      if (fd.phase[i] != ph) continue;
      if (fd.three_d) quats.push_back(fd.quat[i]);
      else angles.push_back(fd.angle[i]);
    }
    m.empty = fd.three_d ? quats.empty() : angles.empty();
    if (!m.empty) {
      if (fd.three_d) m.q = average_orientations(quats, *fd.group[ph]).mean;
      else m.angle = average_angles_2d(angles, fd.nfold[ph]).mean;
    }
    m.done = true;
    return m;
  };
  auto mean_dis = [&](std::int32_t a, std::int32_t b) {
    if (L.dphase[a] != L.dphase[b]) return std::numeric_limits<double>::infinity();
    const std::int32_t ph = L.dphase[a];
    const DomainMean& ma = mean_of(a);
    const DomainMean& mb = mean_of(b);
    if (ma.empty || mb.empty) return std::numeric_limits<double>::infinity();
    if (fd.three_d) return disorientation_angle(ma.q, mb.q, *fd.group[ph]);
    return disorientation_2d(ma.angle, mb.angle, fd.nfold[ph]);
  };

  // Domain union-find (root = the absorbing domain) and member lists as linked lists.
  std::vector<std::int32_t> parent(k_count), next(k_count, -1), last(k_count);
  for (std::int32_t k = 0; k < k_count; ++k) parent[k] = last[k] = k;
  std::vector<std::int64_t> acc(k_count, 0);
  std::vector<std::int32_t> touched;
  using Item = std::pair<std::int64_t, std::int32_t>;  // (area, domain): smallest first
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> heap;
  for (std::int32_t k : small_list) heap.emplace(area[k], k);
  while (!heap.empty()) {
    const auto [ar, r] = heap.top();
    heap.pop();
    if (parent[r] != r || area[r] != ar || ar >= p.min_size) continue;
    touched.clear();
    for (std::int32_t m = r; m >= 0; m = next[m])
      for (std::int64_t e = adj_off[m]; e < adj_off[m + 1]; ++e) {
        const std::int32_t t = find(parent, adj[e].first);
        if (t == r) continue;
        if (acc[t] == 0) touched.push_back(t);
        acc[t] += adj[e].second;
      }
    if (touched.empty()) continue;  // isolated: kept
    std::sort(touched.begin(), touched.end());
    std::int32_t best = touched[0];
    double best_dis = -1;
    for (std::size_t c = 1; c < touched.size(); ++c) {
      const std::int32_t t = touched[c];
      if (acc[t] < acc[best]) continue;
      if (acc[t] > acc[best]) {
        best = t;
        best_dis = -1;
        continue;
      }
      if (best_dis < 0) best_dis = mean_dis(r, best);
      const double d = mean_dis(r, t);
      if (d < best_dis) {
        best = t;
        best_dis = d;
      }
    }
    for (std::int32_t t : touched) acc[t] = 0;
    parent[r] = best;
    area[best] += area[r];
    next[last[best]] = r;
    last[best] = last[r];
    ++L.merged;
    if (area[best] < p.min_size) heap.emplace(area[best], best);
  }
  for (auto& l : L.label)
    if (l >= 0) l = find(parent, l);
}

// Bridging not-indexed positions before growing (MTEX calcGrains on the indexed points only,
// whose Voronoi cells make indexed points across a gap neighbours; DREAM.3D Fill Bad Data).
// Multi-source breadth-first search from every oriented position over the scan graph of
// `connectivity` (4: city-block distance, 8: chessboard distance), at most max_px steps: a
// not-indexed position at distance d <= max_px takes the phase and orientation of its nearest
// oriented position; among equally near ones, the one with the lowest position index. This is
// exact in rounds: the nearest sources of a position at distance d are the union of those of
// its neighbours at distance d - 1, so the lowest of the neighbours' (lowest) sources is the
// lowest of all. Each round reads only the rounds before it, so the result does not depend on
// the visiting order. Positions farther than max_px from any data (amorphous, vacuum) stay
// without orientation. Returns the filled field; `reached` counts the filled positions.
Field fill_field(const Field& fd, int connectivity, int max_px, std::int64_t& reached) {
  Field g = fd;
  reached = 0;
  std::vector<std::int32_t> src(fd.n, -1), frontier, next, decided;
  for (std::int64_t i = 0; i < fd.n; ++i)
    if (fd.oriented(i)) src[i] = static_cast<std::int32_t>(i);
  std::vector<std::uint8_t> queued(fd.n, 0);
  for (std::int64_t y = 0; y < fd.ny; ++y)
    for (std::int64_t x = 0; x < fd.nx; ++x) {
      const std::int64_t i = y * fd.nx + x;
      if (src[i] >= 0) continue;
      bool any = false;
      for_neighbours(fd, y, x, connectivity, [&](std::int64_t j) { any |= src[j] >= 0; });
      if (any) {
        frontier.push_back(static_cast<std::int32_t>(i));
        queued[i] = 1;
      }
    }
  for (int d = 1; d <= max_px && !frontier.empty(); ++d) {
    decided.resize(frontier.size());
    for (std::size_t c = 0; c < frontier.size(); ++c) {
      const std::int64_t i = frontier[c];
      std::int32_t best = -1;
      for_neighbours(fd, i / fd.nx, i % fd.nx, connectivity, [&](std::int64_t j) {
        const std::int32_t s = src[j];
        if (s >= 0 && (best < 0 || s < best)) best = s;
      });
      decided[c] = best;
    }
    for (std::size_t c = 0; c < frontier.size(); ++c) src[frontier[c]] = decided[c];
    reached += static_cast<std::int64_t>(frontier.size());
    if (d == max_px) break;
    next.clear();
    for (std::int32_t i : frontier)
      for_neighbours(fd, i / fd.nx, i % fd.nx, connectivity, [&](std::int64_t j) {
        if (queued[j] || src[j] >= 0) return;
        queued[j] = 1;
        next.push_back(static_cast<std::int32_t>(j));
      });
    frontier.swap(next);
  }
  for (std::int64_t i = 0; i < fd.n; ++i) {
    const std::int32_t s = src[i];
    if (s < 0 || s == i) continue;
    g.phase[i] = fd.phase[s];
    if (fd.three_d) g.quat[i] = fd.quat[s];
    else g.angle[i] = fd.angle[s];
  }
  g.n_unindexed = fd.n_unindexed - reached;
  return g;
}

// One full labelling: grow, small domains, fill, renumber by first position.
// `gf` is the field the domains grow on (fd with its not-indexed positions near data filled, or
// fd itself); `fd` the measured field, whose orientations alone enter the domains' means.
Labels label_pass(const Field& gf, const Field& fd, const SegmentParams& p, double threshold_deg,
                  const std::int32_t* constraint, tbb::task_arena& arena, RunContext& ctx) {
  const Threshold t(threshold_deg);
  Labels L;
  if (p.rule == "neighbour") L.label = grow_neighbour(gf, t, p.connectivity, constraint, arena);
  else L.label = grow_regions(gf, t, p.connectivity, p.rule == "mean", constraint);
  check_cancel(ctx);
  std::vector<std::int32_t> remap(fd.n);
  std::int32_t k = 0;
  // The roots are the first positions of their regions, so these labels follow raster order.
  {
    std::vector<std::int32_t> root_phase(fd.n, -1);
    for (std::int64_t i = 0; i < fd.n; ++i)
      if (L.label[i] == i) root_phase[i] = gf.phase[i];
    compact(L.label, remap, k);
    L.dphase.assign(k, -1);
    for (std::int64_t i = 0; i < fd.n; ++i)
      if (remap[i] >= 0) L.dphase[remap[i]] = root_phase[i];
  }
  small_domains(fd, p, constraint, L, k);
  // Renumber by first position in raster order (merges move first positions).
  remap.assign(k, -1);
  std::int32_t k2 = 0;
  std::vector<std::int32_t> dphase;
  for (auto& l : L.label) {
    if (l < 0) continue;
    if (remap[l] < 0) {
      remap[l] = k2++;
      dphase.push_back(L.dphase[l]);
    }
    l = remap[l];
  }
  L.dphase = std::move(dphase);
  for (std::int64_t i = 0; i < fd.n; ++i) L.filled += L.label[i] >= 0 && !fd.oriented(i);
  check_cancel(ctx);
  return L;
}

}  // namespace
}  // namespace seg

Segmentation segment(const OrientationMap& map, const SegmentParams& p, RunContext& ctx) {
  validate(p);
  const seg::Field fd = seg::prepare(map, p);
  // Not-indexed positions near data take their nearest measured orientation for the growing.
  seg::Field filled;
  std::int64_t reached = 0;
  const bool fill = p.fill_unindexed && p.fill_max_px > 0 && fd.n_unindexed > 0;
  if (fill) filled = seg::fill_field(fd, p.connectivity, p.fill_max_px, reached);
  const seg::Field& gf = fill ? filled : fd;
  tbb::task_arena arena(ctx.threads > 0 ? ctx.threads : tbb::task_arena::automatic);
  const bool sub = p.subdomain_threshold_deg > 0;
  const std::int64_t steps = sub ? 3 : 2;
  ctx.report("segment", 0, steps);

  seg::Labels dom = seg::label_pass(gf, fd, p, p.threshold_deg, nullptr, arena, ctx);
  Segmentation out;
  out.scan = map.scan;
  out.labels = std::move(dom.label);
  ctx.report("segment", 1, steps);

  if (sub) {
    seg::Labels s = seg::label_pass(gf, fd, p, p.subdomain_threshold_deg, out.labels.data(), arena, ctx);
    out.subdomains = std::move(s.label);
    out.subdomain_parent.assign(s.dphase.size(), -1);
    for (std::int64_t i = 0; i < fd.n; ++i) {
      const std::int32_t l = out.subdomains[i];
      if (l >= 0 && out.subdomain_parent[l] < 0) out.subdomain_parent[l] = out.labels[i];
    }
    ctx.report("segment", 2, steps);
  }

  seg::domain_statistics(fd, p, dom.dphase, out, ctx.threads);
  out.summary.n_filled = dom.filled;
  out.summary.n_merged = dom.merged;
  out.summary.n_dropped = dom.dropped;
  ctx.report("segment", steps, steps);
  return out;
}

}  // namespace domainmap
