// lib/core/params.cpp: typed parameter declarations, INI files and printed tables.
#include "domainmap/params.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "domainmap/error.hpp"

namespace domainmap {

namespace {

std::string full_key(const ParamSink& s, const char* key) {
  return s.stage().empty() ? std::string(key) : s.stage() + "." + key;
}

[[noreturn]] void bad(const std::string& key, const std::string& value, const std::string& why) {
  fail(ErrorKind::bad_parameter, "", key, " = ", value.empty() ? "''" : value, ": ", why);
}

std::string trim(const std::string& s) {
  std::size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  std::size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

std::string format_number(double v) {
  std::ostringstream os;
  os.precision(15);
  os << v;
  return os.str();
}

std::string range_text(double lo, double hi) {
  if (std::isinf(lo) && std::isinf(hi)) return "";
  std::string a = std::isinf(lo) ? "-inf" : format_number(lo);
  std::string b = std::isinf(hi) ? "inf" : format_number(hi);
  return "[" + a + ", " + b + "]";
}

double parse_number(const std::string& key, const std::string& text, double lo, double hi,
                    bool integer) {
  std::string t = trim(text);
  if (t.empty()) bad(key, text, "a number is needed");
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(t.c_str(), &end);
  if (end == t.c_str() || *end != '\0' || errno == ERANGE) bad(key, text, "not a number");
  if (!std::isfinite(v)) bad(key, text, "must be finite");
  if (integer && v != std::floor(v)) bad(key, text, "must be a whole number");
  if (v < lo || v > hi) bad(key, text, "must be in " + range_text(lo, hi));
  return v;
}

template <typename T>
void number_param(ParamSink& s, const char* key, T& v, const char* help, double lo, double hi,
                  const char* unit, const char* type, bool integer) {
  ParamRef r;
  r.key = full_key(s, key);
  r.help = help;
  r.unit = unit;
  r.type = type;
  r.range = range_text(lo, hi);
  T* p = &v;
  r.get = [p] { return format_number(static_cast<double>(*p)); };
  std::string k = r.key;
  r.set = [p, k, lo, hi, integer](const std::string& text) {
    *p = static_cast<T>(parse_number(k, text, lo, hi, integer));
  };
  s.add(std::move(r));
}

} // namespace

Shape2 parse_shape2(const std::string& text, const std::string& key) {
  std::string t = trim(text);
  for (char& c : t)
    if (c == 'x' || c == 'X' || c == ',' || c == '*') c = ' ';
  std::istringstream is(t);
  long long y = -1, x = -1;
  std::string rest;
  if (!(is >> y >> x) || (is >> rest))
    bad(key, text, "expected two whole numbers, rows x columns (e.g. 4x5)");
  if (y < 0 || x < 0) bad(key, text, "sizes must be >= 0");
  if ((y == 0) != (x == 0)) bad(key, text, "both sizes must be > 0 (or 0x0 for 'from the file')");
  return {y, x};
}

std::string param_number_text(double v) {
  std::ostringstream os;
  os.precision(10);
  os << v;
  return os.str();
}

std::string to_string(const Shape2& s) { return std::to_string(s.y) + "x" + std::to_string(s.x); }

void param(ParamSink& s, const char* key, bool& v, const char* help) {
  ParamRef r;
  r.key = full_key(s, key);
  r.help = help;
  r.type = "bool";
  bool* p = &v;
  r.get = [p] { return std::string(*p ? "true" : "false"); };
  std::string k = r.key;
  r.set = [p, k](const std::string& text) {
    std::string t = trim(text);
    if (t == "true" || t == "1" || t == "yes" || t == "on") *p = true;
    else if (t == "false" || t == "0" || t == "no" || t == "off") *p = false;
    else bad(k, text, "expected true or false");
  };
  s.add(std::move(r));
}

void param(ParamSink& s, const char* key, int& v, const char* help, double lo, double hi, const char* unit) {
  number_param(s, key, v, help, lo, hi, unit, "int", true);
}
void param(ParamSink& s, const char* key, std::int64_t& v, const char* help, double lo, double hi,
           const char* unit) {
  number_param(s, key, v, help, lo, hi, unit, "int", true);
}
void param(ParamSink& s, const char* key, double& v, const char* help, double lo, double hi,
           const char* unit) {
  number_param(s, key, v, help, lo, hi, unit, "float", false);
}
void param(ParamSink& s, const char* key, float& v, const char* help, double lo, double hi,
           const char* unit) {
  number_param(s, key, v, help, lo, hi, unit, "float", false);
}

void param(ParamSink& s, const char* key, std::string& v, const char* help) {
  ParamRef r;
  r.key = full_key(s, key);
  r.help = help;
  r.type = "string";
  std::string* p = &v;
  r.get = [p] { return *p; };
  r.set = [p](const std::string& text) { *p = trim(text); };
  s.add(std::move(r));
}

void param(ParamSink& s, const char* key, std::string& v, const char* help,
           std::vector<std::string> choices) {
  ParamRef r;
  r.key = full_key(s, key);
  r.help = help;
  r.type = "choice";
  r.choices = choices;
  std::string* p = &v;
  r.get = [p] { return *p; };
  std::string k = r.key;
  r.set = [p, k, choices](const std::string& text) {
    std::string t = trim(text);
    for (const auto& c : choices)
      if (c == t) { *p = t; return; }
    std::string list;
    for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
    bad(k, text, "must be one of " + list);
  };
  s.add(std::move(r));
}

void param(ParamSink& s, const char* key, Shape2& v, const char* help) {
  ParamRef r;
  r.key = full_key(s, key);
  r.help = help;
  r.type = "shape";
  Shape2* p = &v;
  r.get = [p] { return to_string(*p); };
  std::string k = r.key;
  r.set = [p, k](const std::string& text) { *p = parse_shape2(text, k); };
  s.add(std::move(r));
}

namespace {
// Forwards one stage's declarations into a ParamList with the stage name as prefix.
class PrefixSink : public ParamSink {
public:
  PrefixSink(const std::string& stage, ParamList& list) : ParamSink(stage), list_(list) {}
  void add(ParamRef ref) override { list_.add(std::move(ref)); }
private:
  ParamList& list_;
};
} // namespace

void ParamList::stage(const std::string& name, const std::function<void(ParamSink&)>& describe_fn) {
  PrefixSink sink(name, *this);
  describe_fn(sink);
}

const ParamRef* ParamList::find(const std::string& key) const {
  for (const auto& r : refs_)
    if (r.key == key) return &r;
  return nullptr;
}

void ParamList::set(const std::string& key, const std::string& value) const {
  const ParamRef* r = find(key);
  if (!r) fail(ErrorKind::bad_parameter, "", key, ": unknown parameter (see 'domainmap params')");
  r->set(value);
}

std::string ParamList::to_ini() const {
  std::ostringstream os;
  std::string section;
  for (const auto& r : refs_) {
    std::size_t dot = r.key.find('.');
    std::string st = dot == std::string::npos ? "" : r.key.substr(0, dot);
    std::string name = dot == std::string::npos ? r.key : r.key.substr(dot + 1);
    if (st != section) {
      os << (section.empty() ? "" : "\n") << "[" << st << "]\n";
      section = st;
    }
    os << "; " << r.help;
    if (!r.unit.empty()) os << " (" << r.unit << ")";
    if (!r.choices.empty()) {
      os << " {";
      for (std::size_t i = 0; i < r.choices.size(); ++i) os << (i ? "|" : "") << r.choices[i];
      os << "}";
    }
    if (!r.range.empty()) os << " " << r.range;
    os << "\n" << name << " = " << r.get() << "\n";
  }
  return os.str();
}

std::string ParamList::to_markdown() const {
  std::ostringstream os;
  os << "| key | default | unit | allowed | meaning |\n|---|---|---|---|---|\n";
  for (const auto& r : refs_) {
    std::string allowed = r.range;
    if (!r.choices.empty()) {
      allowed.clear();
      for (std::size_t i = 0; i < r.choices.size(); ++i) allowed += (i ? ", " : "") + r.choices[i];
    } else if (r.type == "bool") allowed = "true, false";
    else if (r.type == "shape") allowed = "rows x cols";
    std::string v = r.get();
    os << "| `" << r.key << "` | " << (v.empty() ? "" : "`" + v + "`") << " | " << r.unit << " | "
       << allowed << " | " << r.help << " |\n";
  }
  return os.str();
}

std::vector<std::pair<std::string, std::string>> ParamList::values() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : refs_) out.emplace_back(r.key, r.get());
  return out;
}

void read_ini_file(const std::string& path, const ParamList& list) {
  std::ifstream f(path);
  if (!f) fail(ErrorKind::bad_input, path, "cannot open config file");
  std::string line, section;
  int lineno = 0;
  while (std::getline(f, line)) {
    ++lineno;
    std::string t = trim(line);
    if (t.empty() || t[0] == ';' || t[0] == '#') continue;
    std::string where = path + ":" + std::to_string(lineno);
    if (t[0] == '[') {
      if (t.back() != ']') fail(ErrorKind::bad_parameter, where, "malformed section header '", t, "'");
      section = trim(t.substr(1, t.size() - 2));
      continue;
    }
    std::size_t eq = t.find('=');
    if (eq == std::string::npos) fail(ErrorKind::bad_parameter, where, "expected 'key = value', got '", t, "'");
    std::string key = trim(t.substr(0, eq));
    std::string value = trim(t.substr(eq + 1));
    // strip a trailing comment introduced by " ;" or " #"
    for (const char* c : {" ;", " #", "\t;", "\t#"}) {
      std::size_t p = value.find(c);
      if (p != std::string::npos) value = trim(value.substr(0, p));
    }
    std::string full = section.empty() ? key : section + "." + key;
    try {
      list.set(full, value);
    } catch (const Error& e) {
      fail(ErrorKind::bad_parameter, where, e.what());
    }
  }
}

} // namespace domainmap
