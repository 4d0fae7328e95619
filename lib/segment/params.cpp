// lib/segment/params.cpp: the `segment` stage's parameters: declarations, presets and
// cross-field checks.
#include <cmath>
#include <sstream>

#include "domainmap/error.hpp"
#include "domainmap/segment.hpp"

namespace domainmap {

namespace {

std::string num(double v) { return param_number_text(v); }

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

} // namespace

const std::vector<std::string>& segment_presets() {
  static const std::vector<std::string> names{"none", "mtex", "dream3d", "oim", "py4dstem"};
  return names;
}

void apply_preset(SegmentParams& p, const std::string& name) {
  // Published defaults. MTEX calcGrains: 'angle' 10 degrees, neighbours of the Voronoi cells
  // (edge neighbours on a square grid). DREAM.3D Segment Features (Misorientation): tolerance 5
  // degrees over face neighbours. OIM Analysis: grain tolerance angle 5 degrees, minimum grain
  // size 2 points, smaller grains are not counted. py4DSTEM cluster_grains: angle_tolerance_deg
  // 5 over the 3 x 3 neighbourhood, region growing (here against the running mean).
  struct Preset {
    const char* name;
    double threshold;
    const char* rule;
    int connectivity;
    int min_size;
    const char* small;
  };
  static const Preset presets[] = {
      {"none", 5, "neighbour", 4, 1, "merge"},   {"mtex", 10, "neighbour", 4, 1, "merge"},
      {"dream3d", 5, "neighbour", 4, 1, "merge"}, {"oim", 5, "neighbour", 4, 2, "drop"},
      {"py4dstem", 5, "mean", 8, 1, "merge"},
  };
  for (const Preset& q : presets) {
    if (name != q.name) continue;
    p.preset = name;
    p.threshold_deg = q.threshold;
    p.rule = q.rule;
    p.connectivity = q.connectivity;
    p.min_size = q.min_size;
    p.small_domains = q.small;
    return;
  }
  fail(ErrorKind::bad_parameter, "", "segment.preset = ", name.empty() ? "''" : name,
       ": must be one of ", join(segment_presets()));
}

void describe(SegmentParams& p, ParamSink& s) {
  // The preset first: setting it rewrites the preset-controlled fields, so it must be applied
  // before the user's other options.
  {
    ParamRef r;
    r.key = s.stage().empty() ? std::string("preset") : s.stage() + ".preset";
    r.help = "published defaults (threshold_deg, rule, connectivity, min_size, small_domains); set it before the options it should not override";
    r.type = "choice";
    r.choices = segment_presets();
    SegmentParams* pp = &p;
    r.get = [pp] { return pp->preset; };
    r.set = [pp](const std::string& text) {
      std::string t = text;
      const std::size_t a = t.find_first_not_of(" \t\r\n");
      const std::size_t b = t.find_last_not_of(" \t\r\n");
      t = a == std::string::npos ? std::string() : t.substr(a, b - a + 1);
      apply_preset(*pp, t);
    };
    s.add(std::move(r));
  }
  param(s, "threshold_deg", p.threshold_deg,
        "domain boundary: a disorientation >= this separates (MTEX calcGrains angle, DREAM.3D MisorientationTolerance, py4DSTEM angle_tolerance_deg)",
        0, 180, "deg");
  param(s, "rule", p.rule,
        "growing rule: neighbour (adjacent pairs, MTEX/DREAM.3D), seed (against the region's seed, py4DSTEM), mean (against the region's running mean)",
        {"neighbour", "seed", "mean"});
  param(s, "connectivity", p.connectivity, "neighbours: 4 (edges, DREAM.3D face neighbours) or 8 (also diagonals)", 4, 8);
  param(s, "min_size", p.min_size, "domains with fewer positions are small (OIM minimum grain size)", 1, 1e9, "px");
  param(s, "small_domains", p.small_domains,
        "small domains: merge (into the neighbour with the longest shared boundary), drop (to -1) or keep",
        {"merge", "drop", "keep"});
  param(s, "fill_unindexed", p.fill_unindexed,
        "not-indexed positions within fill_max_px of data take their nearest measured orientation before growing and keep the label of the domain they join (MTEX calcGrains on indexed points, DREAM.3D Fill Bad Data); false: they stay -1");
  param(s, "fill_max_px", p.fill_max_px,
        "fill_unindexed reaches at most this many steps from measured positions (city-block for 4-, chessboard for 8-connectivity); farther positions stay -1",
        0, 1e9, "px");
  param(s, "min_score", p.min_score, "positions with a score below this count as not indexed; 0 = use all", 0, 1);
  param(s, "subdomain_threshold_deg", p.subdomain_threshold_deg,
        "low-angle threshold for sub-domains nested in the domains, below threshold_deg; 0 = none", 0, 180, "deg");
  param(s, "kam_connectivity", p.kam_connectivity,
        "kernel average misorientation over 4 or 8 neighbours (8 = MTEX KAM order 1)", 4, 8);
  param(s, "kam_max_deg", p.kam_max_deg, "KAM ignores neighbour disorientations above this (MTEX KAM threshold)", 0, 180,
        "deg");
}

void validate(const SegmentParams& p) {
  bool known = false;
  for (const auto& n : segment_presets()) known |= n == p.preset;
  if (!known)
    fail(ErrorKind::bad_parameter, "", "segment.preset = ", p.preset.empty() ? "''" : p.preset, ": must be one of ",
         join(segment_presets()));
  if (!(p.threshold_deg > 0 && p.threshold_deg <= 180))
    fail(ErrorKind::bad_parameter, "", "segment.threshold_deg = ", num(p.threshold_deg), ": must be in (0, 180]");
  if (p.rule != "neighbour" && p.rule != "seed" && p.rule != "mean")
    fail(ErrorKind::bad_parameter, "", "segment.rule = ", p.rule, ": must be one of neighbour, seed, mean");
  if (p.connectivity != 4 && p.connectivity != 8)
    fail(ErrorKind::bad_parameter, "", "segment.connectivity = ", p.connectivity, ": must be 4 or 8");
  if (p.min_size < 1) fail(ErrorKind::bad_parameter, "", "segment.min_size = ", p.min_size, ": must be >= 1");
  if (p.small_domains != "merge" && p.small_domains != "drop" && p.small_domains != "keep")
    fail(ErrorKind::bad_parameter, "", "segment.small_domains = ", p.small_domains,
         ": must be one of merge, drop, keep");
  if (p.fill_max_px < 0)
    fail(ErrorKind::bad_parameter, "", "segment.fill_max_px = ", p.fill_max_px, ": must be >= 0");
  if (!(p.min_score >= 0 && p.min_score <= 1))
    fail(ErrorKind::bad_parameter, "", "segment.min_score = ", num(p.min_score), ": must be in [0, 1]");
  if (!(p.subdomain_threshold_deg >= 0 && p.subdomain_threshold_deg < p.threshold_deg))
    fail(ErrorKind::bad_parameter, "", "segment.subdomain_threshold_deg = ", num(p.subdomain_threshold_deg),
         ": must be 0 (off) or in (0, segment.threshold_deg = ", num(p.threshold_deg), ")");
  if (p.kam_connectivity != 4 && p.kam_connectivity != 8)
    fail(ErrorKind::bad_parameter, "", "segment.kam_connectivity = ", p.kam_connectivity, ": must be 4 or 8");
  if (!(p.kam_max_deg > 0 && p.kam_max_deg <= 180))
    fail(ErrorKind::bad_parameter, "", "segment.kam_max_deg = ", num(p.kam_max_deg), ": must be in (0, 180]");
}

} // namespace domainmap
