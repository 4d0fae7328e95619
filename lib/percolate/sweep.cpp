// lib/percolate/sweep.cpp: threshold sweeps in one pass (Newman & Ziff, Phys. Rev. Lett. 85,
// 4104 (2000); Phys. Rev. E 64, 016706 (2001)). Items (sites or bonds) are sorted once by their
// value and added in that order to a ClusterTracker; a row of the table is the tracker's state
// after all items up to a threshold. Sorting is a radix sort, O(n) (rows at given thresholds
// need only a counting sort into the threshold intervals, see Bucketed); the additions cost
// ~O(n) in total (union-find with path halving and union by size).
// A random order (values uniform in [0, 1)) gives the microcanonical curves of Newman & Ziff
// for n = 0..N occupied items in one realisation; a physical value (the disorientation across
// a pair of neighbours) gives the connectivity as a segmentation threshold varies.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include "domainmap/error.hpp"
#include "domainmap/percolation.hpp"

namespace domainmap {

namespace {

SweepRow row_of(const ClusterTracker& t, double threshold, std::int64_t n_added, std::int64_t n_items,
                std::int64_t n_sites) {
  SweepRow r;
  r.threshold = threshold;
  r.n_added = n_added;
  r.fraction_added = n_items > 0 ? static_cast<double>(n_added) / static_cast<double>(n_items) : 0;
  r.largest_cluster = t.largest();
  r.largest_cluster_fraction = n_sites > 0 ? static_cast<double>(t.largest()) / static_cast<double>(n_sites) : 0;
  r.n_clusters = t.n_clusters();
  r.spans_x = t.spans_x();
  r.spans_y = t.spans_y();
  return r;
}

void check_request(const SweepRequest& q) {
  if (q.every < 0) fail(ErrorKind::bad_parameter, "", "percolate.sweep_every = ", q.every, ": must be >= 0");
  if (q.every > 0) return;
  for (std::size_t k = 0; k < q.thresholds.size(); ++k) {
    if (std::isnan(q.thresholds[k]))
      fail(ErrorKind::bad_parameter, "percolate", "sweep threshold ", k, " is NaN");
    if (k > 0 && q.thresholds[k] < q.thresholds[k - 1])
      fail(ErrorKind::bad_parameter, "percolate", "sweep thresholds must not decrease (", q.thresholds[k - 1],
           " then ", q.thresholds[k], ")");
  }
}

// Adds the sorted items (value(k) ascending) with add(k) and records rows as `q` asks.
template <typename Value, typename Add>
void run_sweep(ClusterTracker& t, std::size_t n, Value value, Add add, const SweepRequest& q, SweepTable& table) {
  check_request(q);
  if (q.every > 0) {
    for (std::size_t k = 0; k < n; ++k) {
      add(k);
      const auto done = static_cast<std::int64_t>(k + 1);
      if (done % q.every == 0 || k + 1 == n)
        table.rows.push_back(row_of(t, value(k), done, table.n_items, table.n_sites));
    }
    return;
  }
  std::size_t k = 0;
  for (double th : q.thresholds) {
    for (; k < n && value(k) <= th; ++k) add(k);
    table.rows.push_back(row_of(t, th, static_cast<std::int64_t>(k), table.n_items, table.n_sites));
  }
}

// Order-preserving map of a non-NaN double to 64 bits: a < b  <=>  key(a) < key(b); -0 and +0
// map to the same key (they compare equal).
std::uint64_t order_key(double v) {
  if (v == 0) v = 0;  // -0 -> +0
  std::uint64_t u;
  std::memcpy(&u, &v, sizeof u);
  return (u >> 63) ? ~u : u | (std::uint64_t(1) << 63);
}

double from_order_key(std::uint64_t k) {
  const std::uint64_t u = (k >> 63) ? k & ~(std::uint64_t(1) << 63) : ~k;
  double v;
  std::memcpy(&v, &u, sizeof v);
  return v;
}

// An item to sort: its value's order key and the one or two positions it concerns.
struct Keyed {
  std::uint64_t key;
  std::uint32_t a, b;
};

// Sorts items stably by key: least-significant-digit radix sort with 11-bit digits, the
// payload moving with the key so that every pass reads and writes sequentially; passes whose
// digit is the same for every item are skipped. Stability keeps equal values in the order
// they are given in: position order for sites, (a, b) for bonds.
void stable_sort_by_key(std::vector<Keyed>& items) {
  constexpr int kBits = 11, kBuckets = 1 << kBits, kPasses = (64 + kBits - 1) / kBits;
  const std::size_t n = items.size();
  if (n < 2) return;
  std::vector<std::array<std::uint32_t, kBuckets>> hist(kPasses);
  for (auto& h : hist) h.fill(0);
  for (const Keyed& it : items)
    for (int p = 0; p < kPasses; ++p) ++hist[static_cast<std::size_t>(p)][(it.key >> (p * kBits)) & (kBuckets - 1)];
  std::vector<Keyed> tmp(n);
  for (int p = 0; p < kPasses; ++p) {
    auto& h = hist[static_cast<std::size_t>(p)];
    if (h[(items[0].key >> (p * kBits)) & (kBuckets - 1)] == n) continue;  // every item has this digit
    std::uint32_t sum = 0;
    for (auto& c : h) {
      const std::uint32_t c0 = c;
      c = sum;
      sum += c0;
    }
    for (const Keyed& it : items) tmp[h[(it.key >> (p * kBits)) & (kBuckets - 1)]++] = it;
    items.swap(tmp);
  }
}

// Rows at given thresholds need only the interval each item falls in, not the full order: the
// tracker's state after a set of items (clusters, the largest one, spanning; largest and
// spanning only ever grow) does not depend on the order in which they were added. So items
// are bucketed by the first threshold at or above their value (items above the last threshold
// are never added) with one stable counting sort, and each bucket is added in the order given
// (position order for sites, (a, b) for bonds: neighbouring positions, kind to the caches)
// before its row is written. The rows are the same as those of the sorted sweep.
struct Bucketed {
  std::vector<std::uint32_t> a, b;       ///< items by bucket
  std::vector<std::size_t> start;        ///< bucket r is [start[r], start[r + 1])
};

// The bucket of a value: the first threshold >= v (thresholds ascending), or the count if none.
// Thresholds are usually evenly spaced (sweep_request()), so the search starts at the evenly
// spaced guess and walks a few steps; a walk that grows long falls back to binary search. The
// answer is exact either way.
struct BucketFinder {
  const std::vector<double>& th;
  double lo = 0, scale = 0;
  explicit BucketFinder(const std::vector<double>& t) : th(t) {
    if (th.size() >= 2 && th.back() > th.front() && std::isfinite(th.back() - th.front())) {
      lo = th.front();
      scale = static_cast<double>(th.size() - 1) / (th.back() - th.front());
    }
  }
  std::uint32_t operator()(double v) const {
    const std::size_t n = th.size();
    const double g = (v - lo) * scale;
    if (!(scale > 0) || !(g >= 0) || g >= static_cast<double>(n))  // also NaN, inf
      return static_cast<std::uint32_t>(std::lower_bound(th.begin(), th.end(), v) - th.begin());
    std::size_t k = static_cast<std::size_t>(g);
    for (int step = 0; step < 8; ++step) {
      if (k > 0 && th[k - 1] >= v) --k;
      else if (k < n && th[k] < v) ++k;
      else return static_cast<std::uint32_t>(k);  // th[k - 1] < v <= th[k]
    }
    return static_cast<std::uint32_t>(std::lower_bound(th.begin(), th.end(), v) - th.begin());
  }
};

// Counting sort of items (bucket, a, b) given as a vector of buckets and ends; bucket ==
// thresholds.size() is dropped.
Bucketed bucket_items(const std::vector<std::uint32_t>& bucket, const std::vector<std::uint32_t>& a,
                      const std::vector<std::uint32_t>& b, std::size_t n_buckets) {
  Bucketed out;
  out.start.assign(n_buckets + 2, 0);
  for (std::uint32_t k : bucket) ++out.start[k + 1];
  for (std::size_t r = 0; r + 1 < out.start.size(); ++r) out.start[r + 1] += out.start[r];
  const std::size_t kept = out.start[n_buckets];
  out.a.resize(kept);
  if (!b.empty()) out.b.resize(kept);
  std::vector<std::size_t> fill(out.start.begin(), out.start.end() - 1);
  for (std::size_t k = 0; k < bucket.size(); ++k) {
    const std::uint32_t r = bucket[k];
    if (r >= n_buckets) continue;
    const std::size_t at = fill[r]++;
    out.a[at] = a[k];
    if (!b.empty()) out.b[at] = b[k];
  }
  return out;
}

// The threshold rows from bucketed items; add(k) adds item k of `items`.
template <typename Add>
void run_bucketed(ClusterTracker& t, const Bucketed& items, Add add, const SweepRequest& q, SweepTable& table) {
  for (std::size_t r = 0; r < q.thresholds.size(); ++r) {
    for (std::size_t k = items.start[r]; k < items.start[r + 1]; ++k) add(k);
    table.rows.push_back(row_of(t, q.thresholds[r], static_cast<std::int64_t>(items.start[r + 1]), table.n_items,
                                table.n_sites));
  }
}

void check_item_count(std::size_t n, const char* what) {
  if (n > std::numeric_limits<std::uint32_t>::max())
    fail(ErrorKind::bad_input, "percolate", "sweep over ", n, " ", what, ": at most 2^32 - 1 are supported");
}

// Calls f(a, b) for every lattice bond once, in (a, b) order: from each position in raster
// order to its right, down-left, down and down-right neighbours (the diagonals only for
// 8-connectivity).
template <typename F> void for_each_lattice_bond(Shape2 shape, int connectivity, F f) {
  if (connectivity != 4 && connectivity != 8)
    fail(ErrorKind::bad_parameter, "", "percolate.connectivity = ", connectivity, ": must be 4 or 8");
  const std::int64_t Y = shape.y, X = shape.x;
  if (Y <= 0 || X <= 0) return;
  for (std::int64_t y = 0; y < Y; ++y)
    for (std::int64_t x = 0; x < X; ++x) {
      const std::int64_t i = y * X + x;
      if (x + 1 < X) f(i, i + 1);
      if (y + 1 < Y) {
        if (connectivity == 8 && x > 0) f(i, i + X - 1);
        f(i, i + X);
        if (connectivity == 8 && x + 1 < X) f(i, i + X + 1);
      }
    }
}

std::size_t lattice_bond_count(Shape2 shape, int connectivity) {
  if (shape.y <= 0 || shape.x <= 0) return 0;
  const std::int64_t Y = shape.y, X = shape.x;
  std::int64_t n = Y * (X - 1) + (Y - 1) * X;
  if (connectivity == 8) n += 2 * (Y - 1) * (X - 1);
  return static_cast<std::size_t>(n);
}

} // namespace

std::vector<WeightedBond> lattice_bonds(Shape2 shape, int connectivity) {
  std::vector<WeightedBond> b;
  b.reserve(lattice_bond_count(shape, connectivity));
  for_each_lattice_bond(shape, connectivity, [&](std::int64_t i, std::int64_t j) { b.push_back({i, j, 0}); });
  return b;
}

std::vector<WeightedBond> angle_bonds(const std::vector<float>& angle_deg, const std::vector<std::int32_t>& phase,
                                      const std::vector<double>& period_deg, Shape2 shape, int connectivity) {
  const auto n = static_cast<std::size_t>(std::max<std::int64_t>(0, shape.y * shape.x));
  if (angle_deg.size() != n || phase.size() != n)
    fail(ErrorKind::bad_input, "percolate", "angle map has ", angle_deg.size(), " and phase map ", phase.size(),
         " values; a ", to_string(shape), " map needs ", n);
  for (std::size_t p = 0; p < period_deg.size(); ++p)
    if (!(period_deg[p] > 0) || !std::isfinite(period_deg[p]))
      fail(ErrorKind::bad_input, "percolate", "phase ", p, " has symmetry period ", period_deg[p],
           " deg; it must be > 0 (360 / n for an n-fold axis)");
  for (std::size_t i = 0; i < n; ++i)
    if (phase[i] >= 0 && static_cast<std::size_t>(phase[i]) >= period_deg.size())
      fail(ErrorKind::bad_input, "percolate", "position ", i, " has phase ", phase[i], " but only ",
           period_deg.size(), " symmetry periods are given");
  std::vector<WeightedBond> out;
  out.reserve(lattice_bond_count(shape, connectivity));
  for_each_lattice_bond(shape, connectivity, [&](std::int64_t i, std::int64_t j) {
    const auto ia = static_cast<std::size_t>(i), ib = static_cast<std::size_t>(j);
    const std::int32_t pa = phase[ia];
    if (pa < 0 || pa != phase[ib]) return;
    const double a = angle_deg[ia], c = angle_deg[ib];
    if (!std::isfinite(a) || !std::isfinite(c)) return;
    // in-plane disorientation under the phase's n-fold axis (period 360 / n)
    const double period = period_deg[static_cast<std::size_t>(pa)];
    double d = std::fabs(a - c);
    if (d >= period) d = std::fmod(d, period);
    out.push_back({i, j, std::min(d, period - d)});
  });
  return out;
}

SweepTable site_sweep(const std::vector<double>& value, Shape2 shape, int connectivity, const SweepRequest& request) {
  ClusterTracker t(shape, connectivity);
  if (value.size() != static_cast<std::size_t>(t.n_positions()))
    fail(ErrorKind::bad_input, "percolate", "site values have ", value.size(), " entries; a ", to_string(shape),
         " map needs ", t.n_positions());
  SweepTable table;
  table.kind = SweepKind::site;
  table.shape = shape;
  table.connectivity = connectivity;
  table.n_sites = t.n_positions();
  table.n_items = t.n_positions();
  t.clear();
  if (request.every == 0) {
    check_request(request);
    const BucketFinder bucket_of(request.thresholds);
    std::vector<std::uint32_t> bucket, pos;  // positions with a value, in position order
    bucket.reserve(value.size());
    pos.reserve(value.size());
    for (std::size_t i = 0; i < value.size(); ++i)
      if (!std::isnan(value[i])) {
        bucket.push_back(bucket_of(value[i]));
        pos.push_back(static_cast<std::uint32_t>(i));
      }
    const Bucketed items = bucket_items(bucket, pos, {}, request.thresholds.size());
    run_bucketed(t, items, [&](std::size_t k) { t.occupy(items.a[k]); }, request, table);
    return table;
  }
  std::vector<Keyed> items;  // positions with a value, in position order
  items.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i)
    if (!std::isnan(value[i])) items.push_back({order_key(value[i]), static_cast<std::uint32_t>(i), 0});
  stable_sort_by_key(items);
  run_sweep(
      t, items.size(), [&](std::size_t k) { return from_order_key(items[k].key); },
      [&](std::size_t k) { t.occupy(items[k].a); },
      request, table);
  return table;
}

SweepTable bond_sweep(const std::vector<WeightedBond>& bonds, Shape2 shape, const SweepRequest& request,
                      const std::vector<std::uint8_t>& present) {
  ClusterTracker t(shape, 4);  // connectivity plays no part: the bonds say who is joined
  t.fill(present);
  const std::int64_t n = t.n_positions();
  check_item_count(bonds.size(), "bonds");
  const bool by_threshold = request.every == 0;
  auto check_bond = [&](std::size_t k) {
    const WeightedBond& b = bonds[k];
    if (b.a < 0 || b.a >= n || b.b < 0 || b.b >= n)
      fail(ErrorKind::bad_input, "percolate", "bond ", k, " (", b.a, ", ", b.b, ") lies outside the ", to_string(shape),
           " map");
  };
  const BucketFinder bucket_of(request.thresholds);
  // the bonds that can be added: bucketed by threshold (rows at thresholds), or in (a, b) order
  // so that the stable sort by weight leaves equal weights in that order (rows every k items)
  std::vector<Keyed> items;
  std::vector<std::uint32_t> bucket, ea, eb;
  if (by_threshold) {
    bucket.reserve(bonds.size());
    ea.reserve(bonds.size());
    eb.reserve(bonds.size());
  } else {
    items.reserve(bonds.size());
  }
  for (std::size_t k = 0; k < bonds.size(); ++k) {
    const WeightedBond& b = bonds[k];
    check_bond(k);
    if (std::isnan(b.weight) || !t.occupied(b.a) || !t.occupied(b.b)) continue;
    if (by_threshold) {
      bucket.push_back(bucket_of(b.weight));
      ea.push_back(static_cast<std::uint32_t>(b.a));
      eb.push_back(static_cast<std::uint32_t>(b.b));
    } else {
      items.push_back({order_key(b.weight), static_cast<std::uint32_t>(b.a), static_cast<std::uint32_t>(b.b)});
    }
  }
  // the bond errors come before the request's (buckets from bad thresholds are never used)
  if (by_threshold) check_request(request);
  if (!by_threshold) {
    // into (a, b) order (lattice_bonds() and angle_bonds() already are)
    auto by_ends = [](const Keyed& p, const Keyed& q) { return p.a < q.a || (p.a == q.a && p.b < q.b); };
    if (!std::is_sorted(items.begin(), items.end(), by_ends)) std::sort(items.begin(), items.end(), by_ends);
    stable_sort_by_key(items);
  }
  SweepTable table;
  table.kind = SweepKind::bond;
  table.shape = shape;
  // the connectivity the bonds describe: 8 if any bond joins diagonal neighbours
  table.connectivity = 4;
  for (const WeightedBond& b : bonds) {
    const std::int64_t d = b.b > b.a ? b.b - b.a : b.a - b.b;
    if (d != shape.x - 1 && d != shape.x + 1) continue;  // only these can be diagonal neighbours
    if (b.a / shape.x != b.b / shape.x && b.a % shape.x != b.b % shape.x) {
      table.connectivity = 8;
      break;
    }
  }
  table.n_sites = t.n_occupied();
  table.n_items = static_cast<std::int64_t>(bonds.size());
  if (by_threshold) {
    const Bucketed sorted = bucket_items(bucket, ea, eb, request.thresholds.size());
    bucket = {};
    ea = {};
    eb = {};
    run_bucketed(t, sorted, [&](std::size_t k) { t.join(sorted.a[k], sorted.b[k]); }, request, table);
    return table;
  }
  run_sweep(
      t, items.size(), [&](std::size_t k) { return from_order_key(items[k].key); },
      [&](std::size_t k) { t.join(items[k].a, items[k].b); },
      request, table);
  return table;
}

} // namespace domainmap
