// cli/main.cpp: `domainmap <verb> ...`: the verb table and dispatch (after gemmi's prog/main.cpp).
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common.hpp"
#include "domainmap/version.hpp"
#include "verbs.hpp"

namespace domainmap::cli {

const std::vector<Verb>& verbs() {
  static const std::vector<Verb> table = {
      {"map", "run every stage built so far on DATA, or on the built-in simulated default", verb_map},
      {"info", "describe a dataset: format, shape, dtype, chunks, calibration, value statistics", verb_info},
      {"convert", "convert any readable dataset to EMD 1.0 (py4DSTEM) HDF5, streamed", verb_convert},
      {"virtual", "virtual bright-field / annular dark-field images, mean and max pattern", verb_virtual},
      {"peaks", "find the Bragg disks of every pattern and fit the origin: results file for indexing", verb_peaks},
      {"origin", "re-fit the origin, ellipse, calibration and Bragg vector map of a results file", verb_origin},
      {"segment", "domains of the orientation map of a results file: labels, table, KAM, GOS", verb_segment},
      {"network", "boundary network of the domains of a results file: junctions, boundaries, types; GraphML, JSON, CSV", verb_network},
      {"percolate", "percolation of phases, orientation classes and boundary classes of a results file", verb_percolate},
      {"export", "tables, graphs and pictures of every stage in a results file", verb_export},
      {"simulate", "simulate a polycrystal 4D-STEM dataset with its ground truth", verb_simulate},
      {"params", "print every stage parameter as an INI file or a Markdown table", verb_params},
  };
  return table;
}

static void print_usage(std::FILE* out) {
  std::fprintf(out,
               "domainmap %s: 4D-STEM domain mapping\n\n"
               "usage: domainmap <verb> [options]   (domainmap <verb> --help for its options)\n\n"
               "verbs:\n",
               DOMAINMAP_VERSION);
  for (const auto& v : verbs()) std::fprintf(out, "  %-10s %s\n", v.name, v.summary);
  std::fprintf(out, "\nExit codes: 0 ok, 1 internal error, 2 bad input or parameters, 130 interrupted.\n");
}

} // namespace domainmap::cli

int main(int argc, char** argv) {
  using namespace domainmap::cli;
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  std::string first = argv[1];
  if (first == "--help" || first == "-h" || first == "help") {
    print_usage(stdout);
    return 0;
  }
  if (first == "--version" || first == "-V") {
    std::printf("domainmap %s\n", DOMAINMAP_VERSION);
    return 0;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  for (const auto& v : verbs())
    if (first == v.name) return v.run(args);
  std::fprintf(stderr, "domainmap: error: unknown verb '%s'; see 'domainmap --help'\n", first.c_str());
  return 2;
}
