// cli/export.cpp: `domainmap export R.h5 [-o FOLDER] [--peaks]`: every table, graph and picture
// the stages in a results file support, written into one folder (default R_export/ beside R.h5)
// for people and programs that do not read HDF5. A stage missing from the file is skipped with a
// note. Reads only: running it twice writes the same files.
//
// Files (each written to a temporary name and renamed when complete):
//   peaks.csv                  with --peaks only: position, ry, rx, qy_raw, qx_raw, qy, qx, intensity
//                              (qy, qx relative to the origin after the origin stage, else empty)
//   bragg_vector_map.png       /peaks/bragg_vector_map, log scale (origin stage)
//   origin_qy0.png, origin_qx0.png, origin_qy0_measured.png, origin_qx0_measured.png
//                              the fitted and measured origin maps, auto-contrast gray, scale bar
//   orientation.png            orientation colours (picture.hpp: 2D hue, 3D inverse pole figure)
//   domains.png, domains.csv   one colour per domain with a scale bar; the domain table
//   network.graphml, network.json, nodes.csv, edges.csv   the boundary network (network.hpp)
//   boundaries.png                  the boundaries by type over the orientation map
//   class<c>_sweep.csv, .png        per orientation class: its clusters as the tolerance is raised
//   percolation.csv, percolation.png, sweep.csv, sweep.png   the percolate stage's tables and pictures
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "common.hpp"
#include "domainmap/error.hpp"
#include "domainmap/network.hpp"
#include "domainmap/percolation.hpp"
#include "domainmap/picture.hpp"
#include "domainmap/png.hpp"
#include "domainmap/results.hpp"
#include "domainmap/write.hpp"
#include "verbs.hpp"

namespace domainmap::cli {

namespace {

// R.h5 -> R_export (any other name: NAME_export).
std::string default_folder(const std::string& results) {
  std::string stem = results;
  if (stem.size() > 3 && stem.compare(stem.size() - 3, 3, ".h5") == 0) stem.resize(stem.size() - 3);
  return stem + "_export";
}

// Writes `path` through a temporary name: fn(tmp) writes it, then it is renamed.
template <typename Fn>
void write_via_temporary(const std::string& path, Fn fn) {
  const std::string tmp = temporary_name_for(path);
  try {
    fn(tmp);
  } catch (...) {
    discard_temporary(tmp);
    throw;
  }
  commit_temporary(tmp, path);
}

void write_png(const std::string& path, const RgbImage& img) { write_png_rgb(path, img.rgb.data(), img.height, img.width); }

// A scan map as auto-contrast gray (png.hpp gray_levels), enlarged, with a scale bar.
RgbImage gray_picture(const std::vector<float>& v, Shape2 scan, double step_nm) {
  const std::vector<std::uint8_t> g = gray_levels(v.data(), v.size());
  RgbImage img(static_cast<int>(scan.y), static_cast<int>(scan.x));
  for (std::size_t i = 0; i < g.size(); ++i) img.rgb[3 * i] = img.rgb[3 * i + 1] = img.rgb[3 * i + 2] = g[i];
  const int f = enlargement_for(scan);
  img = enlarge(img, f);
  draw_scale_bar(img, f, step_nm);
  return img;
}

RgbImage map_picture(RgbImage img, Shape2 scan, double step_nm) {
  const int f = enlargement_for(scan);
  img = enlarge(img, f);
  draw_scale_bar(img, f, step_nm);
  return img;
}

class File {
public:
  explicit File(const std::string& path) : path_(path), f_(std::fopen(path.c_str(), "wb")) {
    if (!f_) fail(ErrorKind::io, path, "cannot create the file: ", std::strerror(errno));
  }
  ~File() {
    if (f_) std::fclose(f_);
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  std::FILE* get() { return f_; }
  void close() {
    const bool ok = std::fflush(f_) == 0 && !std::ferror(f_);
    const int saved = errno;
    const bool closed = std::fclose(f_) == 0;
    f_ = nullptr;
    if (!ok || !closed) fail(ErrorKind::io, path_, "cannot write the file: ", std::strerror(saved));
  }
private:
  std::string path_;
  std::FILE* f_;
};

// peaks.csv: streamed in chunks when the peaks are not origin-corrected (no full copy in memory).
void write_peaks_csv(const std::string& path, const std::string& results, bool corrected) {
  File f(path);
  std::fputs("position,ry,rx,qy_raw,qx_raw,qy,qx,intensity\n", f.get());
  if (corrected) {
    const PeakList peaks = read_peaks(results);
    const std::int64_t rx = peaks.scan.x;
    const bool have = peaks.qy.size() == peaks.size() && peaks.qx.size() == peaks.size();
    for (std::size_t i = 0; i < peaks.n_positions(); ++i)
      for (std::size_t j = peaks.begin_of(i); j < peaks.end_of(i); ++j) {
        if (have)
          std::fprintf(f.get(), "%zu,%lld,%lld,%.9g,%.9g,%.9g,%.9g,%.9g\n", i, static_cast<long long>(i / rx),
                       static_cast<long long>(i % rx), peaks.qy_raw[j], peaks.qx_raw[j], peaks.qy[j], peaks.qx[j],
                       peaks.intensity[j]);
        else
          std::fprintf(f.get(), "%zu,%lld,%lld,%.9g,%.9g,,,%.9g\n", i, static_cast<long long>(i / rx),
                       static_cast<long long>(i % rx), peaks.qy_raw[j], peaks.qx_raw[j], peaks.intensity[j]);
      }
  } else {
    auto src = read_peaks_chunked(results, std::size_t{64} << 20);
    const std::int64_t rx = src->scan().x;
    src->for_each([&](const PeakChunk& c) {
      for (std::int64_t k = 0; k < c.n_positions; ++k) {
        const std::int64_t i = c.first_position + k;
        for (std::size_t j = c.begin_of(k); j < c.end_of(k); ++j)
          std::fprintf(f.get(), "%lld,%lld,%lld,%.9g,%.9g,,,%.9g\n", static_cast<long long>(i),
                       static_cast<long long>(i / rx), static_cast<long long>(i % rx), c.qy_raw[j], c.qx_raw[j],
                       c.intensity[j]);
      }
    });
  }
  f.close();
}

// The sweep plot size stored under /config by the percolate run (defaults otherwise).
PercolateParams stored_plot_params(const std::string& results) {
  PercolateParams p;
  for (const auto& [k, v] : read_config(results)) {
    try {
      if (k == "percolate.plot_width") p.plot_width = std::stoi(v);
      if (k == "percolate.plot_height") p.plot_height = std::stoi(v);
    } catch (const std::exception&) {  // a hand-edited /config: keep the default
    }
  }
  if (p.plot_width < 64 || p.plot_width > 8192) p.plot_width = PercolateParams{}.plot_width;
  if (p.plot_height < 48 || p.plot_height > 8192) p.plot_height = PercolateParams{}.plot_height;
  return p;
}

} // namespace

int verb_export(const std::vector<std::string>& args) {
  return run_guarded("export", [&]() -> int {
    VerbOptions o("export", "R.h5 [-o FOLDER] [--peaks]",
                  "Writes every table, graph and picture the stages in a results file support into FOLDER\n"
                  "(default R_export/ beside R.h5): bragg_vector_map.png and origin_*.png (origin stage),\n"
                  "orientation.png, domains.png and domains.csv (segment), network.graphml, network.json,\n"
                  "nodes.csv and edges.csv (network), percolation.csv, percolation.png, sweep.csv and\n"
                  "sweep.png (percolate); with --peaks also peaks.csv (every peak: position, ry, rx, qy_raw,\n"
                  "qx_raw, qy, qx, intensity; can be large). A stage missing from the file is skipped with a\n"
                  "note. Prints the files written. R.h5 is only read.");
    o.options().add_options()("output,o", po::value<std::string>()->value_name("FOLDER"),
                              "folder to write into (created if missing; default R_export beside R.h5)")(
        "peaks", "also write peaks.csv with every peak (one line per peak)");
    o.positional("results", 1);
    if (!o.parse(args)) return 0;
    const std::vector<std::string> inputs = o.positionals("results");
    if (inputs.empty()) fail(ErrorKind::bad_parameter, "", "missing R.h5; see 'domainmap export --help'");
    const std::string path = inputs[0];
    const std::string folder = o.has("output") ? o.get<std::string>("output") : default_folder(path);
    {
      std::error_code ec;
      if (!std::filesystem::exists(path, ec))
        fail(ErrorKind::bad_input, path, "no such file; run 'domainmap peaks DATA -o ", path, "' first");
      if (std::filesystem::exists(folder, ec) && !std::filesystem::is_directory(folder, ec))
        fail(ErrorKind::bad_parameter, folder, "exists and is not a folder");
    }
    const ResultsHeader header = read_results_header(path);  // also checks that it is a results file
    {
      std::error_code ec;
      std::filesystem::create_directories(folder, ec);
      if (ec) fail(ErrorKind::io, folder, "cannot create the folder: ", ec.message());
    }
    auto out = [&](const std::string& name) { return (std::filesystem::path(folder) / name).string(); };
    std::vector<std::string> written, notes;
    const double step = header.scan_step_nm;

    const bool has_peaks = results_has(path, "peaks"), has_origin = results_has(path, "origin");
    if (o.has("peaks")) {
      if (has_peaks) {
        write_via_temporary(out("peaks.csv"), [&](const std::string& t) { write_peaks_csv(t, path, has_origin); });
        written.push_back(out("peaks.csv"));
      } else {
        notes.push_back("no /peaks: peaks.csv skipped (run 'domainmap peaks DATA -o " + path + "')");
      }
    }
    if (has_origin) {
      const BraggVectorMap bvm = read_bragg_vector_map(path);
      if (bvm.size > 0) {
        PngScaling s;
        s.scale = PngScale::log;
        write_png_gray(out("bragg_vector_map.png"), bvm.counts.data(), static_cast<int>(bvm.size),
                       static_cast<int>(bvm.size), s);
        written.push_back(out("bragg_vector_map.png"));
      }
      const OriginMap origin = read_origin(path);
      const std::pair<const char*, const std::vector<float>*> maps[] = {{"origin_qy0.png", &origin.qy0},
                                                                        {"origin_qx0.png", &origin.qx0},
                                                                        {"origin_qy0_measured.png", &origin.qy0_measured},
                                                                        {"origin_qx0_measured.png", &origin.qx0_measured}};
      for (const auto& [name, v] : maps) {
        if (v->empty() || static_cast<std::int64_t>(v->size()) != origin.scan.y * origin.scan.x) continue;
        write_png(out(name), gray_picture(*v, origin.scan, step));
        written.push_back(out(name));
      }
    } else {
      notes.push_back("no /origin: Bragg vector map and origin maps skipped (run 'domainmap origin " + path + "')");
    }

    const bool has_orientation = results_has(path, "orientation"), has_domains = results_has(path, "domains");
    OrientationMap map;
    if (has_orientation) {
      map = read_orientation(path);
      write_png(out("orientation.png"), map_picture(orientation_picture(map), map.scan, map.scan_step_nm));
      written.push_back(out("orientation.png"));
    } else {
      notes.push_back("no /orientation: orientation.png skipped (run 'domainmap index " + path + "')");
    }

    DomainLabels labels;
    std::vector<DomainRecord> table;
    if (has_domains) {
      labels = read_domain_labels(path);
      table = read_domain_table(path);
      write_png(out("domains.png"), map_picture(label_picture(labels.labels, labels.scan), labels.scan, step));
      written.push_back(out("domains.png"));
      write_via_temporary(out("domains.csv"), [&](const std::string& t) { write_domain_table_csv(t, table); });
      written.push_back(out("domains.csv"));
    } else {
      notes.push_back("no /domains: domains.png, domains.csv skipped (run 'domainmap segment " + path + "')");
    }

    if (results_has(path, "network")) {
      const BoundaryNetwork net = read_network(path);
      write_graphml(out("network.graphml"), net);
      write_network_json(out("network.json"), net);
      write_network_csv(out("nodes.csv"), out("edges.csv"), net);
      for (const char* name : {"network.graphml", "network.json", "nodes.csv", "edges.csv"}) written.push_back(out(name));
      if (has_orientation) {
        write_png(out("boundaries.png"), boundary_picture(map, net));
        written.push_back(out("boundaries.png"));
      }
    } else {
      notes.push_back("no /network: network files skipped (run 'domainmap network " + path + "')");
    }

    if (results_has(path, "percolation") && has_orientation && has_domains) {
      const PercolationReport report = read_percolation(path);
      write_via_temporary(out("percolation.csv"), [&](const std::string& t) { write_percolation_csv(t, report, map); });
      written.push_back(out("percolation.csv"));
      if (report.scan == map.scan && labels.scan == map.scan) {
        const std::vector<std::int32_t> class_map = orientation_class_map(
            map, labels.labels, table, report.class_directions_deg, report.class_tolerance_deg);
        write_png(out("percolation.png"), percolation_picture(report, map, labels.labels, class_map));
        written.push_back(out("percolation.png"));
      }
      if (!report.disorientation_sweep.rows.empty()) {
        write_sweep_csv(out("sweep.csv"), report.disorientation_sweep);
        write_sweep_png(out("sweep.png"), report.disorientation_sweep, stored_plot_params(path));
        written.push_back(out("sweep.csv"));
        written.push_back(out("sweep.png"));
      }
      for (std::size_t c = 0; c < report.class_sweeps.size(); ++c) {
        const std::string stem = "class" + std::to_string(c) + "_sweep";
        write_sweep_csv(out(stem + ".csv"), report.class_sweeps[c]);
        write_sweep_png(out(stem + ".png"), report.class_sweeps[c], stored_plot_params(path));
        written.push_back(out(stem + ".csv"));
        written.push_back(out(stem + ".png"));
      }
    } else {
      notes.push_back("no /percolation: percolation files skipped (run 'domainmap percolate " + path + "')");
    }

    if (!o.quiet()) {
      for (const std::string& n : notes) std::cout << "export: note: " << n << "\n";
      std::cout << "export: wrote " << written.size() << " files into " << folder << "\n";
      for (const std::string& w : written) std::cout << w << "\n";
    }
    return 0;
  });
}

} // namespace domainmap::cli
