// lib/percolate/params.cpp: the parameters of the `percolate` stage: declaration, the checks
// that the per-field ranges cannot make, and the sweep rows they ask for.
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "domainmap/error.hpp"
#include "domainmap/percolation.hpp"

namespace domainmap {

namespace {

std::string num(double v) { return param_number_text(v); }

std::string full_key(const ParamSink& s, const char* key) {
  return s.stage().empty() ? std::string(key) : s.stage() + "." + key;
}

// 4 or 8, declared as a choice so that help and INI output list the two values.
void connectivity_param(ParamSink& s, const char* key, int& v, const char* help) {
  ParamRef r;
  r.key = full_key(s, key);
  r.help = help;
  r.type = "choice";
  r.choices = {"4", "8"};
  int* p = &v;
  r.get = [p] { return std::to_string(*p); };
  const std::string k = r.key;
  r.set = [p, k](const std::string& text) {
    std::string t = text;
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.pop_back();
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.erase(t.begin());
    if (t == "4") *p = 4;
    else if (t == "8") *p = 8;
    else fail(ErrorKind::bad_parameter, "", k, " = ", text.empty() ? "''" : text, ": must be one of 4, 8");
  };
  s.add(std::move(r));
}

} // namespace

void describe(PercolateParams& p, ParamSink& s) {
  connectivity_param(s, "connectivity", p.connectivity,
                     "neighbours of a position: 4 (shared edge) or 8 (shared edge or corner); as the segmentation");
  param(s, "class_directions_deg", p.class_directions_deg,
        "orientation classes: comma-separated in-plane directions in deg (e.g. 0,15); empty = none");
  param(s, "class_tolerance_deg", p.class_tolerance_deg,
        "a domain joins the class of the nearest direction within this in-plane disorientation", 0, 180, "deg");
  param(s, "sweep_points", p.sweep_points,
        "rows of a threshold sweep: evenly spaced thresholds from the smallest to the largest value", 2, 1e7);
  param(s, "sweep_every", p.sweep_every,
        "instead of sweep_points, a row after every k-th addition (and the last); 0 = use sweep_points", 0, 1e15);
  param(s, "plot_width", p.plot_width, "sweep plot width", 64, 8192, "px");
  param(s, "plot_height", p.plot_height, "sweep plot height", 48, 8192, "px");
}

std::vector<double> parse_class_directions(const PercolateParams& p) {
  std::vector<double> out;
  const std::string& t = p.class_directions_deg;
  std::size_t pos = 0;
  while (pos <= t.size()) {
    std::size_t end = t.find(',', pos);
    if (end == std::string::npos) end = t.size();
    std::string item = t.substr(pos, end - pos);
    std::size_t a = item.find_first_not_of(" \t");
    std::size_t b = item.find_last_not_of(" \t");
    item = a == std::string::npos ? "" : item.substr(a, b - a + 1);
    if (item.empty()) {
      if (t.find_first_not_of(" \t") == std::string::npos) return {};  // empty list = no classes
      fail(ErrorKind::bad_parameter, "", "percolate.class_directions_deg = ", t,
           ": empty item; give comma-separated angles in deg, e.g. 0,15");
    }
    char* stop = nullptr;
    const double v = std::strtod(item.c_str(), &stop);
    if (stop == item.c_str() || *stop != '\0' || !std::isfinite(v))
      fail(ErrorKind::bad_parameter, "", "percolate.class_directions_deg = ", t, ": '", item,
           "' is not a number; give comma-separated angles in deg, e.g. 0,15");
    out.push_back(v);
    pos = end + 1;
  }
  return out;
}

void validate(const PercolateParams& p) {
  if (p.connectivity != 4 && p.connectivity != 8)
    fail(ErrorKind::bad_parameter, "", "percolate.connectivity = ", p.connectivity, ": must be 4 or 8");
  if (!std::isfinite(p.class_tolerance_deg) || p.class_tolerance_deg < 0)
    fail(ErrorKind::bad_parameter, "", "percolate.class_tolerance_deg = ", num(p.class_tolerance_deg),
         ": must be finite and >= 0");
  parse_class_directions(p);
  if (p.sweep_points < 2)
    fail(ErrorKind::bad_parameter, "", "percolate.sweep_points = ", p.sweep_points, ": must be >= 2");
  if (p.sweep_every < 0)
    fail(ErrorKind::bad_parameter, "", "percolate.sweep_every = ", p.sweep_every, ": must be >= 0");
  if (p.plot_width < 64 || p.plot_height < 48)
    fail(ErrorKind::bad_parameter, "", "percolate.plot_width x plot_height = ", p.plot_width, "x", p.plot_height,
         ": must be at least 64x48");
}

SweepRequest sweep_request(const PercolateParams& p, double lo, double hi) {
  validate(p);
  SweepRequest r;
  if (p.sweep_every > 0) {
    r.every = p.sweep_every;
    return r;
  }
  if (!std::isfinite(lo) || !std::isfinite(hi) || hi < lo)
    fail(ErrorKind::bad_input, "percolate", "sweep range [", num(lo), ", ", num(hi),
         "] is not a finite interval (no finite values to sweep?)");
  const std::int64_t n = p.sweep_points;
  r.thresholds.resize(static_cast<std::size_t>(n));
  for (std::int64_t k = 0; k < n; ++k) {
    // the end points exactly, so the last row always has every finite item added
    const double f = static_cast<double>(k) / static_cast<double>(n - 1);
    r.thresholds[static_cast<std::size_t>(k)] = k == n - 1 ? hi : lo + f * (hi - lo);
  }
  return r;
}

} // namespace domainmap
