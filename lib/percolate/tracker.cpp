// lib/percolate/tracker.cpp: ClusterTracker, the incremental union-find of Newman & Ziff
// (Phys. Rev. E 64, 016706 (2001), sec. II): each root holds its cluster's size and the field
// edges the cluster touches, so adding a site or a bond updates the largest cluster, the
// cluster count and spanning in amortised near-constant time (path halving + union by size,
// Tarjan's inverse-Ackermann bound).
#include <algorithm>
#include <limits>

#include "domainmap/error.hpp"
#include "domainmap/percolation.hpp"

namespace domainmap {

namespace {

// The root of i with path halving (every other node on the path points to its grandparent).
// A file-local inline copy of ClusterTracker::find for the hot paths here: a call to the
// public member from inside the shared library goes through the PLT.
inline std::int32_t root_of(std::int32_t* parent, std::int32_t i) {
  while (parent[i] != i) {
    const std::int32_t g = parent[parent[i]];
    parent[i] = g;
    i = g;
  }
  return i;
}

} // namespace

std::uint8_t field_edges_of(std::int64_t ry, std::int64_t rx, Shape2 shape) {
  std::uint8_t e = 0;
  if (ry == 0) e |= edge_top;
  if (ry == shape.y - 1) e |= edge_bottom;
  if (rx == 0) e |= edge_left;
  if (rx == shape.x - 1) e |= edge_right;
  return e;
}

ClusterTracker::ClusterTracker(Shape2 shape, int connectivity) : shape_(shape), connectivity_(connectivity) {
  if (connectivity != 4 && connectivity != 8)
    fail(ErrorKind::bad_parameter, "", "percolate.connectivity = ", connectivity, ": must be 4 or 8");
  if (shape.y < 0 || shape.x < 0)
    fail(ErrorKind::bad_input, "percolate", "map shape ", to_string(shape), " is negative");
  if (shape.y * shape.x > std::numeric_limits<std::int32_t>::max())
    fail(ErrorKind::bad_input, "percolate", "map of ", to_string(shape), " positions is too large (at most 2^31 - 1)");
  const auto n = static_cast<std::size_t>(shape.y * shape.x);
  parent_.assign(n, -1);
  size_.assign(n, 0);
  edges_.assign(n, 0);
}

void ClusterTracker::clear() {
  std::fill(parent_.begin(), parent_.end(), -1);
  n_occupied_ = n_clusters_ = largest_ = 0;
  spans_y_ = spans_x_ = false;
}

void ClusterTracker::start_cluster(std::int32_t i) {
  const auto u = static_cast<std::size_t>(i);
  parent_[u] = i;
  size_[u] = 1;
  edges_[u] = field_edges_of(i / shape_.x, i % shape_.x, shape_);
  ++n_occupied_;
  ++n_clusters_;
  largest_ = std::max<std::int64_t>(largest_, 1);
  // a one-row (one-column) field is spanned by any occupied site of it
  if ((edges_[u] & (edge_top | edge_bottom)) == (edge_top | edge_bottom)) spans_y_ = true;
  if ((edges_[u] & (edge_left | edge_right)) == (edge_left | edge_right)) spans_x_ = true;
}

void ClusterTracker::fill(const std::vector<std::uint8_t>& present) {
  if (!present.empty() && present.size() != parent_.size())
    fail(ErrorKind::bad_input, "percolate", "presence mask has ", present.size(), " values; map ",
         to_string(shape_), " needs ", parent_.size());
  clear();
  // start_cluster() for every present position, row by row (no division per position)
  const std::int64_t Y = shape_.y, X = shape_.x;
  std::int64_t occupied = 0;
  for (std::int64_t y = 0; y < Y; ++y) {
    const std::uint8_t row_edges = static_cast<std::uint8_t>((y == 0 ? edge_top : 0) | (y == Y - 1 ? edge_bottom : 0));
    for (std::int64_t x = 0; x < X; ++x) {
      const auto u = static_cast<std::size_t>(y * X + x);
      if (!present.empty() && !present[u]) continue;
      parent_[u] = static_cast<std::int32_t>(u);
      size_[u] = 1;
      const std::uint8_t e =
          static_cast<std::uint8_t>(row_edges | (x == 0 ? edge_left : 0) | (x == X - 1 ? edge_right : 0));
      edges_[u] = e;
      ++occupied;
      if ((e & (edge_top | edge_bottom)) == (edge_top | edge_bottom)) spans_y_ = true;
      if ((e & (edge_left | edge_right)) == (edge_left | edge_right)) spans_x_ = true;
    }
  }
  n_occupied_ = n_clusters_ = occupied;
  if (occupied > 0) largest_ = 1;
}

std::int32_t ClusterTracker::find(std::int32_t i) { return root_of(parent_.data(), i); }

void ClusterTracker::unite(std::int32_t a, std::int32_t b) {
  std::int32_t ra = root_of(parent_.data(), a), rb = root_of(parent_.data(), b);
  if (ra == rb) return;
  if (size_[static_cast<std::size_t>(ra)] < size_[static_cast<std::size_t>(rb)]) std::swap(ra, rb);
  const auto ua = static_cast<std::size_t>(ra), ub = static_cast<std::size_t>(rb);
  parent_[ub] = ra;
  size_[ua] += size_[ub];
  edges_[ua] |= edges_[ub];
  --n_clusters_;
  largest_ = std::max<std::int64_t>(largest_, size_[ua]);
  if ((edges_[ua] & (edge_top | edge_bottom)) == (edge_top | edge_bottom)) spans_y_ = true;
  if ((edges_[ua] & (edge_left | edge_right)) == (edge_left | edge_right)) spans_x_ = true;
}

void ClusterTracker::occupy(std::int64_t i) {
  if (i < 0 || i >= n_positions())
    fail(ErrorKind::internal, "percolate", "position ", i, " outside the ", to_string(shape_), " map");
  const auto s = static_cast<std::int32_t>(i);
  if (parent_[static_cast<std::size_t>(s)] >= 0) return;
  start_cluster(s);
  const std::int64_t y = i / shape_.x, x = i % shape_.x;
  const std::int64_t X = shape_.x;
  auto link = [&](std::int64_t yy, std::int64_t xx) {
    if (yy < 0 || yy >= shape_.y || xx < 0 || xx >= X) return;
    const auto j = static_cast<std::int32_t>(yy * X + xx);
    if (parent_[static_cast<std::size_t>(j)] >= 0) unite(s, j);
  };
  link(y, x - 1);
  link(y, x + 1);
  link(y - 1, x);
  link(y + 1, x);
  if (connectivity_ == 8) {
    link(y - 1, x - 1);
    link(y - 1, x + 1);
    link(y + 1, x - 1);
    link(y + 1, x + 1);
  }
}

bool ClusterTracker::join(std::int64_t a, std::int64_t b) {
  if (a < 0 || a >= n_positions() || b < 0 || b >= n_positions())
    fail(ErrorKind::internal, "percolate", "bond (", a, ", ", b, ") outside the ", to_string(shape_), " map");
  const auto sa = static_cast<std::int32_t>(a), sb = static_cast<std::int32_t>(b);
  if (parent_[static_cast<std::size_t>(sa)] < 0 || parent_[static_cast<std::size_t>(sb)] < 0) return false;
  const std::int32_t ra = root_of(parent_.data(), sa), rb = root_of(parent_.data(), sb);
  if (ra == rb) return false;
  unite(ra, rb);  // roots: its finds return at once
  return true;
}

std::int64_t ClusterTracker::root(std::int64_t i) {
  if (i < 0 || i >= n_positions() || parent_[static_cast<std::size_t>(i)] < 0)
    fail(ErrorKind::internal, "percolate", "root() of empty or outside position ", i);
  return find(static_cast<std::int32_t>(i));
}

std::int64_t ClusterTracker::cluster_size(std::int64_t i) {
  if (i < 0 || i >= n_positions() || parent_[static_cast<std::size_t>(i)] < 0) return 0;
  return size_[static_cast<std::size_t>(find(static_cast<std::int32_t>(i)))];
}

} // namespace domainmap
