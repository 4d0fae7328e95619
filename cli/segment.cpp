// cli/segment.cpp: `domainmap segment R.h5 [--segment.KEY V ...]`: the segment stage on a results
// file. Reads /orientation and /phases, segments them into domains (segment.hpp) and rewrites
// /domains (deleting /network and /percolation) through ResultsWriter, with the segment.*
// parameters under /config; writes R_domains.png (one colour per domain, enlarged to at least
// 512 px, with a scale bar) and R_domains.csv (the domain table) beside it. The orientation map is never changed, so running it twice equals
// running it once.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "common.hpp"
#include "domainmap/error.hpp"
#include "domainmap/picture.hpp"
#include "domainmap/png.hpp"
#include "domainmap/results.hpp"
#include "domainmap/segment.hpp"
#include "domainmap/write.hpp"
#include "stages.hpp"
#include "verbs.hpp"

namespace domainmap::cli {

namespace {


} // namespace

// The domain table as CSV, one row per domain (shared with cli/export.cpp, which declares it).
void write_domain_table_csv(const std::string& path, const std::vector<DomainRecord>& table) {
  std::ofstream out(path, std::ios::binary);
  if (!out) fail(ErrorKind::io, path, "cannot create the file");
  out << "id,phase,area_px,area_nm2,equivalent_diameter_px,equivalent_diameter_nm,perimeter_px,perimeter_nm,"
         "centroid_y,centroid_x,bbox_y0,bbox_x0,bbox_y1,bbox_x1,mean_angle_deg,mean_q_w,mean_q_x,mean_q_y,mean_q_z,"
         "spread_deg,max_dev_deg,n_oriented,touches_edge,n_neighbours\n";
  char line[1024];
  for (const DomainRecord& r : table) {
    std::snprintf(line, sizeof line,
                  "%d,%d,%lld,%.6g,%.6g,%.6g,%lld,%.6g,%.6g,%.6g,%lld,%lld,%lld,%lld,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,"
                  "%lld,%d,%d\n",
                  r.id, r.phase, static_cast<long long>(r.area_px), r.area_nm2, r.eq_diameter_px, r.eq_diameter_nm,
                  static_cast<long long>(r.perimeter_px), r.perimeter_nm, r.centroid_y, r.centroid_x,
                  static_cast<long long>(r.bbox_y0), static_cast<long long>(r.bbox_x0),
                  static_cast<long long>(r.bbox_y1), static_cast<long long>(r.bbox_x1), r.mean_angle_deg,
                  r.mean_quaternion[0], r.mean_quaternion[1], r.mean_quaternion[2], r.mean_quaternion[3],
                  r.spread_deg, r.max_dev_deg, static_cast<long long>(r.n_oriented), r.touches_edge ? 1 : 0,
                  r.n_neighbours);
    out << line;
  }
  out.flush();
  if (!out) fail(ErrorKind::io, path, "cannot write the file (disk full?)");
}

int verb_segment(const std::vector<std::string>& args) {
  return run_guarded("segment", [&]() -> int {
    VerbOptions o("segment", "R.h5 [--segment.KEY VALUE ...]",
                  "Segments the orientation map of a results file into domains: connected regions of one\n"
                  "phase whose orientations change little between neighbours (segment.threshold_deg,\n"
                  "segment.rule, segment.preset ...). Rewrites /domains (labels, sub-domains, KAM, GOS, the\n"
                  "domain table and its summary), deletes the groups downstream (/network, /percolation),\n"
                  "stores the segment.* parameters under /config and writes R_domains.png (one colour per\n"
                  "domain, not labelled black, enlarged to >= 512 px with a scale bar) and R_domains.csv\n"
                  "(the domain table) beside R.h5.\n"
                  "/orientation is kept: running it twice equals running it once.");
    o.positional("results", 1);
    StageParams sp;
    add_stage(o.params(), sp, "segment");
    if (!o.parse(args)) return 0;
    const std::vector<std::string> inputs = o.positionals("results");
    if (inputs.empty()) fail(ErrorKind::bad_parameter, "", "missing R.h5; see 'domainmap segment --help'");
    const std::string path = inputs[0];
    const std::string png = beside(path, "_domains.png");
    const std::string csv = beside(path, "_domains.csv");
    {
      std::error_code ec;
      if (!std::filesystem::exists(path, ec))
        fail(ErrorKind::bad_input, path, "no such file; run 'domainmap peaks DATA -o ", path, "' first");
      for (const std::string& out : {png, csv})
        if (std::filesystem::is_directory(out, ec)) fail(ErrorKind::bad_parameter, out, "is a folder; cannot write there");
    }

    RunContext& ctx = o.context();
    install_interrupt_handler(ctx);
    validate(sp.segment);
    const OrientationMap map = read_orientation(path);
    Segmentation seg;
    try {
      seg = segment(map, sp.segment, ctx);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::bad_input) throw;  // parameter errors name the key, not the file
      fail(e.kind(), path, e.what());
    }
    finish_progress(ctx);

    const std::string png_tmp = temporary_name_for(png);
    const std::string csv_tmp = temporary_name_for(csv);
    try {
      const int factor = enlargement_for(seg.scan);
      RgbImage picture = enlarge(label_picture(seg.labels, seg.scan), factor);
      draw_scale_bar(picture, factor, map.scan_step_nm);
      write_png_rgb(png_tmp, picture.rgb.data(), picture.height, picture.width);
      write_domain_table_csv(csv_tmp, seg.table);
      ResultsWriter w(path, false);
      w.write_config("segment", o.params().values());
      w.write_domains(seg);
      w.commit();
    } catch (...) {
      discard_temporary(png_tmp);
      discard_temporary(csv_tmp);
      throw;
    }
    commit_temporary(png_tmp, png);
    commit_temporary(csv_tmp, csv);

    if (!o.quiet()) {
      char line[256];
      std::snprintf(line, sizeof line,
                    "segment: %lld domains, mean area %.1f px, median %.1f px, %.1f%% not indexed, %.1f%% not labelled\n",
                    static_cast<long long>(seg.summary.count), seg.summary.mean_area_px, seg.summary.median_area_px,
                    100 * seg.summary.fraction_unindexed, 100 * seg.summary.fraction_unlabelled);
      std::cout << line;
      std::cout << "wrote " << path << " (/domains), " << png << ", " << csv << "\n";
    }
    return 0;
  });
}

} // namespace domainmap::cli
