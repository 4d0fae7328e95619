// cli/network.cpp: `domainmap network R.h5 [--network.KEY V ...]`: the network stage on a results
// file. Reads /domains (labels and table), /orientation and /phases (phase symmetries, scan step,
// and the map for the picture), builds the boundary network (network.hpp) and rewrites /network
// (deleting /percolation) through ResultsWriter with the network.* parameters under /config;
// writes R_network.graphml, R_network.json, R_nodes.csv, R_edges.csv and R_boundaries.png (the
// boundaries on pixel edges over the orientation map, coloured by type, with a scale bar) beside
// it. /domains is never changed, so running it twice equals running it once.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "common.hpp"
#include "domainmap/error.hpp"
#include "domainmap/network.hpp"
#include "domainmap/picture.hpp"
#include "domainmap/png.hpp"
#include "domainmap/results.hpp"
#include "domainmap/write.hpp"
#include "stages.hpp"
#include "verbs.hpp"

namespace domainmap::cli {

namespace {


// Boundary colours by BoundaryType value; drawn in this order, so the rarer special types lie on top.
constexpr Rgb kTypeColour[kBoundaryTypeCount] = {
    {200, 200, 200},  // low_angle: light grey
    {0, 0, 0},        // high_angle: black
    {230, 30, 30},    // csl: red
    {40, 100, 255},   // phase: blue
    {255, 215, 0},    // unlabelled: yellow
};
constexpr BoundaryType kDrawOrder[kBoundaryTypeCount] = {BoundaryType::low_angle, BoundaryType::high_angle,
                                                         BoundaryType::unlabelled, BoundaryType::phase,
                                                         BoundaryType::csl};


} // namespace

// The orientation map enlarged so that pixel edges have room, the boundaries drawn along them
// (a band `t` px wide centred on each pixel edge), a legend of the types present and a scale bar.
RgbImage boundary_picture(const OrientationMap& map, const BoundaryNetwork& net) {
  const std::int64_t side = std::max(net.scan.y, net.scan.x);
  int f = enlargement_for(net.scan, 512);
  if (f < 2 && side <= 2048) f = 2;  // at f = 1 a line must cover a row of pixels
  RgbImage img = enlarge(orientation_picture(map), f);
  const int t = std::clamp(f / 4, 1, 8);
  const int lead = (t + 1) / 2;  // band rows [c f - lead, c f - lead + t)
  for (BoundaryType type : kDrawOrder) {
    const Rgb colour = kTypeColour[static_cast<int>(type)];
    for (std::size_t e = 0; e < net.edges.size(); ++e) {
      if (net.edges[e].type != type) continue;
      for (std::uint64_t j = net.point_offsets[e]; j + 1 < net.point_offsets[e + 1]; ++j) {
        // corners (y + 0.5, x + 0.5) of the two ends of one pixel edge
        const int cy0 = static_cast<int>(net.point_y[j] + 0.5f), cx0 = static_cast<int>(net.point_x[j] + 0.5f);
        const int cy1 = static_cast<int>(net.point_y[j + 1] + 0.5f), cx1 = static_cast<int>(net.point_x[j + 1] + 0.5f);
        const int ya = std::min(cy0, cy1) * f - lead, yb = std::max(cy0, cy1) * f - lead + t;
        const int xa = std::min(cx0, cx1) * f - lead, xb = std::max(cx0, cx1) * f - lead + t;
        fill_box(img, ya, xa, yb, xb, colour);
      }
    }
  }
  // legend: one swatch and name per type present, top left, on a dark box
  const int scale = img.width >= 256 ? 2 : 1;
  const int row = 7 * scale, sw = 5 * scale;
  int n_rows = 0, width = 0;
  for (int k = 0; k < kBoundaryTypeCount; ++k)
    if (net.n_edges_by_type[k] > 0) {
      ++n_rows;
      width = std::max(width, text_width(boundary_type_name(static_cast<BoundaryType>(k)), scale));
    }
  if (n_rows > 0 && img.width > sw + width + 8 * scale && img.height > n_rows * row + 8 * scale) {
    const int x0 = 2 * scale, y0 = 2 * scale;
    fill_box(img, y0, x0, y0 + n_rows * row + 2 * scale, x0 + sw + width + 5 * scale, {60, 60, 60});
    int y = y0 + 2 * scale;
    for (int k = 0; k < kBoundaryTypeCount; ++k) {
      if (net.n_edges_by_type[k] == 0) continue;
      fill_box(img, y, x0 + 2 * scale, y + sw, x0 + 2 * scale + sw, kTypeColour[k]);
      draw_text(img, x0 + 3 * scale + sw + scale, y, boundary_type_name(static_cast<BoundaryType>(k)),
                {255, 255, 255}, scale);
      y += row;
    }
  }
  draw_scale_bar(img, f, net.scan_step_nm);
  return img;
}


int verb_network(const std::vector<std::string>& args) {
  return run_guarded("network", [&]() -> int {
    VerbOptions o("network", "R.h5 [--network.KEY VALUE ...]",
                  "Builds the boundary network of the domains of a results file: nodes are junctions (three or\n"
                  "more boundary pixel-edges meeting at a pixel corner), ends of boundaries on the field edge\n"
                  "and islands' loops; edges are boundaries along pixel edges between two nodes, typed from\n"
                  "the two domains' mean orientations: low_angle (network.low_angle_deg), high_angle, csl\n"
                  "(cubic phases, Brandon criterion network.brandon_deg, Sigma <= network.max_sigma), phase\n"
                  "and unlabelled. Rewrites /network (nodes, edges, polylines, junction counts), deletes\n"
                  "/percolation, stores the network.* parameters under /config and writes beside R.h5:\n"
                  "R_network.graphml and R_network.json (networkx, igraph), R_nodes.csv, R_edges.csv and\n"
                  "R_boundaries.png (boundaries over the orientation map: low_angle grey, high_angle black,\n"
                  "csl red, phase blue, unlabelled yellow). /domains is kept: running it twice equals running\n"
                  "it once.");
    o.positional("results", 1);
    StageParams sp;
    add_stage(o.params(), sp, "network");
    if (!o.parse(args)) return 0;
    const std::vector<std::string> inputs = o.positionals("results");
    if (inputs.empty()) fail(ErrorKind::bad_parameter, "", "missing R.h5; see 'domainmap network --help'");
    const std::string path = inputs[0];
    const std::vector<std::string> outputs = {beside(path, "_network.graphml"), beside(path, "_network.json"),
                                              beside(path, "_nodes.csv"), beside(path, "_edges.csv"),
                                              beside(path, "_boundaries.png")};
    {
      std::error_code ec;
      if (!std::filesystem::exists(path, ec))
        fail(ErrorKind::bad_input, path, "no such file; run 'domainmap peaks DATA -o ", path, "' first");
      for (const std::string& out : outputs)
        if (std::filesystem::is_directory(out, ec)) fail(ErrorKind::bad_parameter, out, "is a folder; cannot write there");
    }

    RunContext& ctx = o.context();
    install_interrupt_handler(ctx);
    validate(sp.network);
    const DomainLabels labels = read_domain_labels(path);
    const std::vector<DomainRecord> table = read_domain_table(path);
    const OrientationMap map = read_orientation(path);
    if (!(map.scan == labels.scan))
      fail(ErrorKind::bad_input, path, "/domains/labels is ", to_string(labels.scan), " but /orientation is ",
           to_string(map.scan), "; run 'domainmap segment ", path, "' again");
    BoundaryNetwork net;
    try {
      net = build_network(labels.labels, labels.scan, table, map.phases, map.scan_step_nm, sp.network);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::bad_input) throw;  // parameter errors name the key, not the file
      fail(e.kind(), path, e.what());
    }
    finish_progress(ctx);

    std::vector<std::string> tmps;
    for (const std::string& out : outputs) tmps.push_back(temporary_name_for(out));
    try {
      write_graphml(tmps[0], net);
      write_network_json(tmps[1], net);
      write_network_csv(tmps[2], tmps[3], net);
      const RgbImage img = boundary_picture(map, net);
      write_png_rgb(tmps[4], img.rgb.data(), img.height, img.width);
      ResultsWriter w(path, false);
      w.write_config("network", o.params().values());
      w.write_network(net);
      w.commit();
    } catch (...) {
      for (const std::string& t : tmps) discard_temporary(t);
      throw;
    }
    for (std::size_t i = 0; i < outputs.size(); ++i) commit_temporary(tmps[i], outputs[i]);

    if (!o.quiet()) {
      const std::int64_t junctions = net.count_nodes(NodeKind::junction);
      const std::int64_t ends = net.count_nodes(NodeKind::field_edge);
      const std::int64_t loops = net.count_nodes(NodeKind::loop);
      char line[512];
      std::snprintf(line, sizeof line,
                    "network: %lld nodes (%lld junctions, %lld field_edge, %lld loops), %lld edges: low_angle %lld, "
                    "high_angle %lld, csl %lld, phase %lld, unlabelled %lld\n",
                    static_cast<long long>(net.nodes.size()), static_cast<long long>(junctions),
                    static_cast<long long>(ends), static_cast<long long>(loops),
                    static_cast<long long>(net.edges.size()), static_cast<long long>(net.n_edges_by_type[0]),
                    static_cast<long long>(net.n_edges_by_type[1]), static_cast<long long>(net.n_edges_by_type[2]),
                    static_cast<long long>(net.n_edges_by_type[3]), static_cast<long long>(net.n_edges_by_type[4]));
      std::cout << line;
      std::cout << "wrote " << path << " (/network), " << outputs[0] << ", " << outputs[1] << ", " << outputs[2]
                << ", " << outputs[3] << ", " << outputs[4] << "\n";
    }
    return 0;
  });
}

} // namespace domainmap::cli
