// bench/bench_domains.cpp: time of the domain stages on a simulated 1024 x 1024 polycrystal
// orientation map (simulate_orientation_map: 400 wavy Voronoi grains, 20 % twinned, half bent,
// 0.5 deg noise, 2 % not indexed mostly on the boundaries): segment() with default parameters,
// build_network(), and the percolation computations (phase_percolation, orientation_classes +
// class_percolation, boundary_percolation of the network, angle_bonds + bond_sweep), on N
// threads. Each stage's median over R repeats (the machine is shared: medians, and CPU time
// beside wall time), the total (target < 1 s) and, as positions per second, the ratio to a
// baseline measured in the same run: one serial pass of a plain 4-neighbour union-find
// labelling of the map's phase array (the least any labelling of the map costs).
// A stage that is not built yet (it throws) is reported as such and left out of the total. In 3D
// maps (symmetry m-3m) the sweep runs on /orientation/angle, the rotation about the beam.
// Usage: bench_domains [threads=2] [size=1024] [repeats=5] [symmetry=C6]
#include <tbb/global_control.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "domainmap/error.hpp"
#include "domainmap/network.hpp"
#include "domainmap/percolation.hpp"
#include "domainmap/segment.hpp"
#include "domainmap/simulate.hpp"
#include "domainmap/symmetry.hpp"

using namespace domainmap;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
double cpu_now() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Timing {
  std::string name;
  std::vector<double> wall, cpu;
  bool available = true;
  std::string note;
};

// Runs f once, adding its wall and CPU time to t; a domainmap::Error marks the stage unavailable.
void timed(Timing& t, const std::function<void()>& f) {
  if (!t.available) return;
  const double w0 = now(), c0 = cpu_now();
  try {
    f();
  } catch (const Error& e) {
    t.available = false;
    t.note = e.what();
    return;
  }
  t.wall.push_back(now() - w0);
  t.cpu.push_back(cpu_now() - c0);
}

// The baseline: 4-neighbour union-find labelling of the phase array (equal phase joins), one
// serial pass with path halving, then the label compaction in raster order.
std::int64_t union_find_labels(const std::vector<std::int32_t>& phase, std::int64_t ny, std::int64_t nx,
                               std::vector<std::int32_t>& parent, std::vector<std::int32_t>& label) {
  const std::int64_t n = ny * nx;
  parent.resize(static_cast<std::size_t>(n));
  label.resize(static_cast<std::size_t>(n));
  std::iota(parent.begin(), parent.end(), 0);
  auto find = [&](std::int32_t a) {
    while (parent[a] != a) {
      parent[a] = parent[parent[a]];
      a = parent[a];
    }
    return a;
  };
  auto unite = [&](std::int32_t a, std::int32_t b) {
    const std::int32_t ra = find(a), rb = find(b);
    if (ra < rb) parent[rb] = ra;
    else if (rb < ra) parent[ra] = rb;
  };
  for (std::int64_t y = 0; y < ny; ++y)
    for (std::int64_t x = 0; x < nx; ++x) {
      const auto i = static_cast<std::int32_t>(y * nx + x);
      if (x > 0 && phase[i - 1] == phase[i]) unite(i - 1, i);
      if (y > 0 && phase[i - nx] == phase[i]) unite(static_cast<std::int32_t>(i - nx), i);
    }
  std::int64_t k = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int32_t r = find(static_cast<std::int32_t>(i));
    label[i] = r == i ? static_cast<std::int32_t>(k++) : label[r];
  }
  return k;
}

} // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const std::int64_t size = argc > 2 ? std::atoll(argv[2]) : 1024;
  const int repeats = argc > 3 ? std::max(1, std::atoi(argv[3])) : 5;
  const std::string symmetry = argc > 4 ? argv[4] : "C6";
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads));

  OrientationMapParams mp;
  mp.scan = {size, size};
  mp.n_grains = static_cast<int>(std::max<std::int64_t>(1, 400 * size * size / (1024 * 1024)));
  mp.symmetry = symmetry;
  mp.seed = 11;
  double t0 = now();
  const SimulatedOrientationMap sim = simulate_orientation_map(mp, threads);
  const double gen = now() - t0;
  const OrientationMap& map = sim.map;
  const Shape2 scan = map.scan;
  const double positions = static_cast<double>(map.size());
  std::printf("bench_domains: %lld x %lld %s orientation map, %zu true grains, %d threads, median of %d\n",
              static_cast<long long>(size), static_cast<long long>(size), symmetry.c_str(), sim.grains.size(), threads,
              repeats);
  std::printf("  (map generated in %.0f ms, not counted)\n", gen * 1e3);

  Timing base{"baseline: union-find labelling of phase"}, seg_t{"segment (default parameters)"},
      net_t{"build_network"}, phase_t{"phase_percolation"}, class_t{"orientation_classes + class_percolation"},
      bound_t{"boundary_percolation(to_boundary_graph)"}, sweep_t{"angle_bonds + bond_sweep (101 rows)"};
  std::vector<std::int32_t> uf_parent, uf_label;
  std::int64_t checksum = 0;
  const SegmentParams sp;
  const NetworkParams np;
  PercolateParams pp;
  pp.class_directions_deg = "0,15";
  const std::vector<double> directions = parse_class_directions(pp);
  std::vector<double> period;
  for (const PhaseInfo& ph : map.phases) {
    const RotationGroup* g = find_rotation_group(ph.symmetry);
    period.push_back(360.0 / std::max(1, g ? g->z_order : 1));
  }

  for (int r = 0; r < repeats; ++r) {
    timed(base, [&] { checksum += union_find_labels(map.phase, scan.y, scan.x, uf_parent, uf_label); });
    Segmentation seg;
    timed(seg_t, [&] {
      RunContext ctx;
      ctx.threads = threads;
      seg = segment(map, sp, ctx);
    });
    checksum += seg.n_domains();
    BoundaryNetwork net;
    bool have_net = false;
    timed(net_t, [&] {
      net = build_network(seg.labels, scan, seg.table, map.phases, map.scan_step_nm, np);
      have_net = true;
    });
    checksum += static_cast<std::int64_t>(net.edges.size());
    timed(phase_t, [&] { checksum += static_cast<std::int64_t>(phase_percolation(map.phase, scan, 4).size()); });
    timed(class_t, [&] {
      std::vector<double> angles(seg.table.size()), periods(seg.table.size());
      for (std::size_t k = 0; k < seg.table.size(); ++k) {
        angles[k] = seg.table[k].mean_angle_deg;
        periods[k] = seg.table[k].phase >= 0 ? period[static_cast<std::size_t>(seg.table[k].phase)] : period[0];
      }
      const std::vector<std::int32_t> classes =
          orientation_classes(seg.labels, angles, directions, pp.class_tolerance_deg, period[0], periods);
      checksum += static_cast<std::int64_t>(class_percolation(classes, scan, 4).size());
    });
    if (have_net)
      timed(bound_t, [&] { checksum += static_cast<std::int64_t>(boundary_percolation(to_boundary_graph(net)).size()); });
    else if (bound_t.available) {
      bound_t.available = false;
      bound_t.note = "needs the network";
    }
    timed(sweep_t, [&] {
      const std::vector<WeightedBond> bonds = angle_bonds(map.angle_deg, map.phase, period, scan, 4);
      double lo = 1e300, hi = -1e300;
      for (const WeightedBond& b : bonds)
        if (b.weight == b.weight) {
          lo = std::min(lo, b.weight);
          hi = std::max(hi, b.weight);
        }
      const SweepTable t = bond_sweep(bonds, scan, sweep_request(pp, lo, hi));
      checksum += static_cast<std::int64_t>(t.rows.size());
    });
  }

  const double base_wall = median(base.wall);
  const double base_rate = positions / base_wall;
  std::printf("  %-44s %8.1f ms wall  %8.1f ms cpu  %7.1f Mpos/s\n", base.name.c_str(), base_wall * 1e3,
              median(base.cpu) * 1e3, base_rate * 1e-6);
  double total = 0, total_cpu = 0;
  for (const Timing* t : {&seg_t, &net_t, &phase_t, &class_t, &bound_t, &sweep_t}) {
    if (!t->available || t->wall.empty()) {
      std::printf("  %-44s not timed: %s\n", t->name.c_str(), t->note.c_str());
      continue;
    }
    const double w = median(t->wall), c = median(t->cpu);
    total += w;
    total_cpu += c;
    std::printf("  %-44s %8.1f ms wall  %8.1f ms cpu  %7.1f Mpos/s  (%.3f x baseline)\n", t->name.c_str(), w * 1e3,
                c * 1e3, positions / w * 1e-6, positions / w / base_rate);
  }
  std::printf("  %-44s %8.1f ms wall  %8.1f ms cpu  %7.1f Mpos/s  (%.3f x baseline)  target < 1000 ms: %s\n",
              "total of the timed stages", total * 1e3, total_cpu * 1e3, positions / total * 1e-6,
              positions / total / base_rate, total < 1 ? "met" : "NOT met");
  // The baseline is serial: its wall / CPU ratio is how much the other jobs on the machine slow
  // a thread down; the total divided by it estimates the time with the cores to ourselves.
  const double load = std::max(1.0, base_wall / median(base.cpu));
  std::printf("  machine load: the serial baseline ran %.2f x slower than its CPU time; total / %.2f = %.1f ms "
              "(estimate with the cores to itself)\n", load, load, total / load * 1e3);
  std::printf("  (checksum %lld)\n", static_cast<long long>(checksum));
  return 0;
}
