// cli/percolate.cpp: `domainmap percolate R.h5 [--percolate.KEY V ...]`: the percolate stage on
// a results file (docs/stages/percolate.md). Reads /orientation, /domains and, when present,
// /network; computes the connectivity of every phase, of the orientation classes of the domains
// (2D maps), of every boundary type's sub-network and the bond sweep over neighbour
// disorientations (2D maps) (percolation.hpp); rewrites /percolation through ResultsWriter with
// the percolate.* parameters under /config and writes beside it R_percolation.csv (the tables),
// R_sweep.csv and R_sweep.png (the sweep), R_class<c>_sweep.csv/.png (per class direction: a site
// sweep over the domains' disorientation from it, i.e. the class as its tolerance is raised) and R_percolation.png (the largest cluster highlighted
// over the dimmed domain map, with a scale bar). Nothing it reads is changed, so running it twice
// equals running it once.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>

#include "common.hpp"
#include "domainmap/error.hpp"
#include "domainmap/network.hpp"
#include "domainmap/percolation.hpp"
#include "domainmap/picture.hpp"
#include "domainmap/png.hpp"
#include "domainmap/results.hpp"
#include "domainmap/symmetry.hpp"
#include "domainmap/write.hpp"
#include "stages.hpp"
#include "verbs.hpp"

namespace domainmap::cli {

namespace {


std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

// n of the n-fold axis about the beam of a phase (1 if the symbol is unknown).
int z_order_of(const OrientationMap& map, std::int32_t phase) {
  if (phase < 0 || phase >= static_cast<std::int32_t>(map.phases.size())) return 1;
  const RotationGroup* g = find_rotation_group(map.phases[static_cast<std::size_t>(phase)].symmetry);
  return g ? std::max(1, g->z_order) : 1;
}


// What R_percolation.png highlights.
struct Highlight {
  std::string caption;                 // e.g. "PHASE 0 GRAPHENE: LARGEST 41.2% SPANS Y"
  std::vector<std::uint8_t> in_cluster;  // [Ry * Rx] 1 = in the largest cluster
};

// The largest cluster of the orientation class (if there are classes) or else the phase whose
// largest cluster is the largest (the first on a tie).
Highlight choose_highlight(const PercolationReport& r, const OrientationMap& map,
                           const std::vector<std::int32_t>& class_map) {
  Highlight h;
  const std::size_t n = static_cast<std::size_t>(map.size());
  h.in_cluster.assign(n, 0);
  std::vector<std::uint8_t> occupied(n, 0);
  const SiteStats* best = nullptr;
  std::string what;
  if (!r.classes.empty() && class_map.size() == n) {
    const ClassStats* c = &r.classes.front();
    for (const ClassStats& k : r.classes)
      if (k.site.largest_cluster > c->site.largest_cluster) c = &k;
    for (std::size_t i = 0; i < n; ++i) occupied[i] = class_map[i] == c->class_id;
    best = &c->site;
    what = "CLASS " + std::to_string(c->class_id) + " (" +
           num(r.class_directions_deg[static_cast<std::size_t>(c->class_id)]) + " DEG)";
  } else if (!r.phases.empty()) {
    const PhaseStats* p = &r.phases.front();
    for (const PhaseStats& k : r.phases)
      if (k.site.largest_cluster > p->site.largest_cluster) p = &k;
    for (std::size_t i = 0; i < n; ++i) occupied[i] = map.phase[i] == p->phase;
    best = &p->site;
    what = "PHASE " + std::to_string(p->phase);
    if (p->phase < static_cast<std::int32_t>(map.phases.size())) what += " " + map.phases[p->phase].name;
  }
  if (!best || best->largest_cluster == 0) {
    h.caption = "NO CLUSTERS";
    return h;
  }
  const ClusterLabels cl = label_site_clusters(occupied, map.scan, r.connectivity);
  std::int32_t largest = 0;
  for (std::size_t k = 1; k < cl.sizes.size(); ++k)
    if (cl.sizes[k] > cl.sizes[static_cast<std::size_t>(largest)]) largest = static_cast<std::int32_t>(k);
  for (std::size_t i = 0; i < n; ++i) h.in_cluster[i] = cl.labels[i] == largest;
  char pct[64];
  std::snprintf(pct, sizeof pct, ": LARGEST %.1f%%", 100 * best->largest_cluster_fraction);
  h.caption = what + pct;
  if (best->spans_x || best->spans_y)
    h.caption += std::string(" SPANS") + (best->spans_x ? " X" : "") + (best->spans_y ? " Y" : "");
  return h;
}

// The domain map dimmed to 30 %, the highlighted cluster at full colour with a white outline
// along its pixel edges, a caption and a scale bar.
RgbImage highlight_picture(const std::vector<std::int32_t>& labels, const OrientationMap& map, const Highlight& h) {
  RgbImage base = label_picture(labels, map.scan);
  for (std::size_t i = 0; i < h.in_cluster.size(); ++i)
    if (!h.in_cluster[i])
      for (int c = 0; c < 3; ++c) base.rgb[3 * i + c] = static_cast<std::uint8_t>(base.rgb[3 * i + c] * 3 / 10);
  int f = enlargement_for(map.scan, 512);
  const std::int64_t side = std::max(map.scan.y, map.scan.x);
  if (f < 2 && side <= 2048) f = 2;
  RgbImage img = enlarge(base, f);
  const int t = std::max(1, (f + 4) / 8);
  const int ry = static_cast<int>(map.scan.y), rx = static_cast<int>(map.scan.x);
  auto in = [&](int y, int x) {
    return y >= 0 && x >= 0 && y < ry && x < rx && h.in_cluster[static_cast<std::size_t>(y) * rx + x] != 0;
  };
  const Rgb white{255, 255, 255};
  for (int y = 0; y < ry; ++y)
    for (int x = 0; x < rx; ++x) {
      if (!in(y, x)) continue;
      // bands inside the cluster's pixels along the edges where it ends
      if (!in(y - 1, x)) fill_box(img, y * f, x * f, y * f + t, (x + 1) * f, white);
      if (!in(y + 1, x)) fill_box(img, (y + 1) * f - t, x * f, (y + 1) * f, (x + 1) * f, white);
      if (!in(y, x - 1)) fill_box(img, y * f, x * f, (y + 1) * f, x * f + t, white);
      if (!in(y, x + 1)) fill_box(img, y * f, (x + 1) * f - t, (y + 1) * f, (x + 1) * f, white);
    }
  const int scale = img.width >= 256 ? 2 : 1;
  const int w = text_width(h.caption, scale);
  if (img.width > w + 6 * scale && img.height > 16 * scale) {
    fill_box(img, 0, 0, 9 * scale, w + 4 * scale, {40, 40, 40});
    draw_text(img, 2 * scale, 2 * scale, h.caption, white, scale);
  }
  draw_scale_bar(img, f, map.scan_step_nm);
  return img;
}

std::string stats_line(const SiteStats& s) {
  char line[256];
  std::snprintf(line, sizeof line, "area %.1f%%, %lld clusters, largest %.1f%% of the map, spans %s", 100 * s.area_fraction,
                static_cast<long long>(s.n_clusters), 100 * s.largest_cluster_fraction,
                s.spans_x && s.spans_y ? "x and y" : s.spans_x ? "x" : s.spans_y ? "y" : "neither");
  return line;
}

// The first sweep threshold at which a flag is set ("never" if none).
std::string first_spanning(const SweepTable& t, bool SweepRow::*flag) {
  for (const SweepRow& r : t.rows)
    if (r.*flag) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.3g deg", r.threshold);
      return buf;
    }
  return "never";
}

} // namespace

// ---- shared with cli/export.cpp (which declares them)

// The tables as one CSV: a row per phase, orientation class and boundary class; columns that do
// not apply to a row are empty.
void write_percolation_csv(const std::string& path, const PercolationReport& r, const OrientationMap& map) {
  std::ofstream out(path, std::ios::binary);
  if (!out) fail(ErrorKind::io, path, "cannot create the file");
  out << "table,id,name,direction_deg,n_positions,n_occupied,area_fraction,n_clusters,largest_cluster,"
         "largest_cluster_fraction,largest_cluster_fraction_occupied,mean_cluster_size,n_edges,total_length_px,"
         "n_components,largest_component_edges,largest_component_length_px,largest_component_length_fraction,"
         "spans_x,spans_y\n";
  auto site = [&](const char* table, std::int32_t id, const std::string& name, const std::string& direction,
                  const SiteStats& s) {
    out << table << ',' << id << ',' << name << ',' << direction << ',' << s.n_positions << ',' << s.n_occupied << ','
        << num(s.area_fraction) << ',' << s.n_clusters << ',' << s.largest_cluster << ','
        << num(s.largest_cluster_fraction) << ',' << num(s.largest_cluster_fraction_occupied) << ','
        << num(s.mean_cluster_size) << ",,,,,,," << (s.spans_x ? 1 : 0) << ',' << (s.spans_y ? 1 : 0) << '\n';
  };
  for (const PhaseStats& p : r.phases) {
    std::string name = p.phase >= 0 && p.phase < static_cast<std::int32_t>(map.phases.size())
                           ? map.phases[static_cast<std::size_t>(p.phase)].name
                           : "";
    for (char& c : name)
      if (c == ',' || c == '\n' || c == '"') c = ' ';
    site("phase", p.phase, name, "", p.site);
  }
  for (const ClassStats& c : r.classes)
    site("class", c.class_id, "class_" + std::to_string(c.class_id),
         num(r.class_directions_deg[static_cast<std::size_t>(c.class_id)]), c.site);
  for (const BoundaryClassStats& b : r.boundaries)
    out << "boundary," << b.class_id << ',' << boundary_class_name(b.class_id) << ",,,,,,,,,," << b.n_edges << ','
        << num(b.total_length) << ',' << b.n_components << ',' << b.largest_component_edges << ','
        << num(b.largest_component_length) << ',' << num(b.largest_component_length_fraction) << ','
        << (b.spans_x ? 1 : 0) << ',' << (b.spans_y ? 1 : 0) << '\n';
  out.flush();
  if (!out) fail(ErrorKind::io, path, "cannot write the file (disk full?)");
}

// Per-position orientation class (percolation.hpp orientation_classes) of a 2D map's domains;
// empty without directions or for a 3D map.
std::vector<std::int32_t> orientation_class_map(const OrientationMap& map, const std::vector<std::int32_t>& labels,
                                                const std::vector<DomainRecord>& table,
                                                const std::vector<double>& directions, double tolerance_deg) {
  if (directions.empty() || map.three_d()) return {};
  std::vector<double> angle(table.size()), period(table.size());
  for (std::size_t d = 0; d < table.size(); ++d) {
    angle[d] = table[d].mean_angle_deg;
    period[d] = 360.0 / z_order_of(map, table[d].phase);
  }
  return orientation_classes(labels, angle, directions, tolerance_deg, 360.0, period);
}

// R_percolation.png: the largest cluster of the orientation class (if any) or else of the phase
// with the largest one, at full colour with a white outline over the domain map dimmed to 30 %,
// with a caption and a scale bar.
RgbImage percolation_picture(const PercolationReport& report, const OrientationMap& map,
                             const std::vector<std::int32_t>& labels, const std::vector<std::int32_t>& class_map) {
  return highlight_picture(labels, map, choose_highlight(report, map, class_map));
}

int verb_percolate(const std::vector<std::string>& args) {
  return run_guarded("percolate", [&]() -> int {
    VerbOptions o("percolate", "R.h5 [--percolate.KEY VALUE ...]",
                  "Connectivity statistics of a results file (site percolation: Stauffer & Aharony 1994;\n"
                  "sweeps: Newman & Ziff 2000): for every phase of /orientation/phase and every orientation\n"
                  "class of the domains (2D maps; percolate.class_directions_deg, class_tolerance_deg) the\n"
                  "area fraction, clusters, largest cluster and whether one cluster spans the field in x or\n"
                  "y (percolate.connectivity); with /network, the components of each boundary type's\n"
                  "sub-network; for 2D maps the bond sweep over neighbour disorientations (percolate.\n"
                  "sweep_points, sweep_every). Rewrites /percolation, stores the percolate.* parameters under\n"
                  "/config and writes beside R.h5: R_percolation.csv (the tables), R_sweep.csv and R_sweep.png\n"
                  "(the sweep), R_class<c>_sweep.csv/.png (per class direction c, the class's clusters as\n"
                  "its tolerance is raised) and R_percolation.png (the largest cluster over the dimmed domain map).\n"
                  "Needs /domains ('domainmap segment R.h5'); running it twice equals running it once.");
    o.positional("results", 1);
    StageParams sp;
    add_stage(o.params(), sp, "percolate");
    if (!o.parse(args)) return 0;
    const std::vector<std::string> inputs = o.positionals("results");
    if (inputs.empty()) fail(ErrorKind::bad_parameter, "", "missing R.h5; see 'domainmap percolate --help'");
    const std::string path = inputs[0];
    const std::string csv = beside(path, "_percolation.csv"), png = beside(path, "_percolation.png");
    const std::string sweep_csv = beside(path, "_sweep.csv"), sweep_png = beside(path, "_sweep.png");
    {
      std::error_code ec;
      if (!std::filesystem::exists(path, ec))
        fail(ErrorKind::bad_input, path, "no such file; run 'domainmap peaks DATA -o ", path, "' first");
      for (const std::string& out : {csv, png, sweep_csv, sweep_png})
        if (std::filesystem::is_directory(out, ec)) fail(ErrorKind::bad_parameter, out, "is a folder; cannot write there");
    }

    RunContext& ctx = o.context();
    install_interrupt_handler(ctx);
    const PercolateParams& p = sp.percolate;
    validate(p);
    const std::vector<double> directions = parse_class_directions(p);
    const OrientationMap map = read_orientation(path);
    const DomainLabels labels = read_domain_labels(path);
    const std::vector<DomainRecord> table = read_domain_table(path);
    if (!(map.scan == labels.scan))
      fail(ErrorKind::bad_input, path, "/domains/labels is ", to_string(labels.scan), " but /orientation is ",
           to_string(map.scan), "; run 'domainmap segment ", path, "' again");
    const bool has_network = results_has(path, "network");
    std::vector<std::string> notes;

    PercolationReport report;
    std::vector<std::int32_t> class_map;
    try {
      report.scan = map.scan;
      report.connectivity = p.connectivity;
      report.class_directions_deg = directions;
      report.class_tolerance_deg = p.class_tolerance_deg;
      report.phases = phase_percolation(map.phase, map.scan, p.connectivity);

      if (!directions.empty()) {
        if (map.three_d()) {
          notes.push_back("orientation classes need in-plane angles (a 2D map); skipped");
        } else {
          class_map = orientation_class_map(map, labels.labels, table, directions, p.class_tolerance_deg);
          report.classes = class_percolation(class_map, map.scan, p.connectivity);
          // how each class grows as its tolerance is raised: one site sweep per direction
          for (double dir : directions) {
            std::vector<double> dev(static_cast<std::size_t>(map.size()), std::numeric_limits<double>::quiet_NaN());
            double hi = 0;
            for (std::size_t i = 0; i < dev.size(); ++i) {
              const std::int32_t l = labels.labels[i];
              if (l < 0 || static_cast<std::size_t>(l) >= table.size() || !std::isfinite(table[l].mean_angle_deg)) continue;
              const double per = 360.0 / z_order_of(map, table[l].phase);
              double d = std::fmod(std::abs(table[l].mean_angle_deg - dir), per);
              dev[i] = std::min(d, per - d);
              hi = std::max(hi, dev[i]);
            }
            report.class_sweeps.push_back(site_sweep(dev, map.scan, p.connectivity, sweep_request(p, 0, hi)));
          }
        }
      }

      if (has_network) {
        const BoundaryNetwork net = read_network(path);
        report.boundaries = boundary_percolation(to_boundary_graph(net));
      } else {
        notes.push_back("no /network: boundary classes skipped (run 'domainmap network " + path + "' first)");
      }

      if (map.three_d()) {
        notes.push_back("the disorientation sweep needs in-plane angles (a 2D map); skipped");
      } else {
        std::vector<double> period(map.phases.size());
        for (std::size_t k = 0; k < period.size(); ++k) period[k] = 360.0 / z_order_of(map, static_cast<std::int32_t>(k));
        const std::vector<WeightedBond> bonds = angle_bonds(map.angle_deg, map.phase, period, map.scan, p.connectivity);
        double lo = std::numeric_limits<double>::infinity(), hi = -lo;
        for (const WeightedBond& b : bonds)
          if (std::isfinite(b.weight)) {
            lo = std::min(lo, b.weight);
            hi = std::max(hi, b.weight);
          }
        if (lo <= hi) {
          std::vector<std::uint8_t> present(static_cast<std::size_t>(map.size()));
          for (std::size_t i = 0; i < present.size(); ++i)
            present[i] = map.phase[i] >= 0 && std::isfinite(map.angle_deg[i]);
          report.disorientation_sweep = bond_sweep(bonds, map.scan, sweep_request(p, lo, hi), present);
        } else {
          notes.push_back("no two neighbouring positions of one phase are indexed: no disorientation sweep");
        }
      }
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::bad_input) throw;  // parameter errors name the key, not the file
      fail(e.kind(), path, e.what());
    }
    finish_progress(ctx);

    const bool sweep = !report.disorientation_sweep.rows.empty();
    std::vector<std::string> class_files, class_tmps;  // R_class<c>_sweep.csv / .png
    for (std::size_t c = 0; c < report.class_sweeps.size(); ++c)
      for (const char* ext : {".csv", ".png"}) {
        class_files.push_back(beside(path, "_class" + std::to_string(c) + "_sweep" + ext));
        class_tmps.push_back(temporary_name_for(class_files.back()));
      }
    const std::string csv_tmp = temporary_name_for(csv), png_tmp = temporary_name_for(png);
    const std::string scsv_tmp = temporary_name_for(sweep_csv), spng_tmp = temporary_name_for(sweep_png);
    try {
      write_percolation_csv(csv_tmp, report, map);
      const RgbImage img = percolation_picture(report, map, labels.labels, class_map);
      write_png_rgb(png_tmp, img.rgb.data(), img.height, img.width);
      if (sweep) {
        write_sweep_csv(scsv_tmp, report.disorientation_sweep);
        write_sweep_png(spng_tmp, report.disorientation_sweep, p);
      }
      for (std::size_t c = 0; c < report.class_sweeps.size(); ++c) {
        write_sweep_csv(class_tmps[2 * c], report.class_sweeps[c]);
        write_sweep_png(class_tmps[2 * c + 1], report.class_sweeps[c], p);
      }
      ResultsWriter w(path, false);
      w.write_config("percolate", o.params().values());
      w.write_percolation(report);
      w.commit();
    } catch (...) {
      for (const std::string& t : {csv_tmp, png_tmp, scsv_tmp, spng_tmp}) discard_temporary(t);
      for (const std::string& t : class_tmps) discard_temporary(t);
      throw;
    }
    commit_temporary(csv_tmp, csv);
    commit_temporary(png_tmp, png);
    if (sweep) {
      commit_temporary(scsv_tmp, sweep_csv);
      commit_temporary(spng_tmp, sweep_png);
    }
    for (std::size_t k = 0; k < class_files.size(); ++k) commit_temporary(class_tmps[k], class_files[k]);

    if (!o.quiet()) {
      for (const PhaseStats& ph : report.phases) {
        std::string name = ph.phase < static_cast<std::int32_t>(map.phases.size()) ? map.phases[ph.phase].name : "";
        std::cout << "percolate: phase " << ph.phase << (name.empty() ? "" : " " + name) << ": " << stats_line(ph.site)
                  << "\n";
      }
      for (const ClassStats& c : report.classes)
        std::cout << "percolate: class " << c.class_id << " ("
                  << num(report.class_directions_deg[static_cast<std::size_t>(c.class_id)]) << " deg): "
                  << stats_line(c.site) << "\n";
      for (const BoundaryClassStats& b : report.boundaries) {
        char line[256];
        std::snprintf(line, sizeof line,
                      "percolate: boundaries %s: %lld edges, %lld components, largest %.1f%% of the length, spans %s\n",
                      boundary_class_name(b.class_id).c_str(), static_cast<long long>(b.n_edges),
                      static_cast<long long>(b.n_components), 100 * b.largest_component_length_fraction,
                      b.spans_x && b.spans_y ? "x and y" : b.spans_x ? "x" : b.spans_y ? "y" : "neither");
        std::cout << line;
      }
      if (sweep)
        std::cout << "percolate: disorientation sweep: spans x from "
                  << first_spanning(report.disorientation_sweep, &SweepRow::spans_x) << ", y from "
                  << first_spanning(report.disorientation_sweep, &SweepRow::spans_y) << "\n";
      for (const std::string& n : notes) std::cout << "percolate: note: " << n << "\n";
      std::cout << "wrote " << path << " (/percolation), " << csv << ", " << png;
      if (sweep) std::cout << ", " << sweep_csv << ", " << sweep_png;
      std::cout << "\n";
    }
    return 0;
  });
}

} // namespace domainmap::cli
