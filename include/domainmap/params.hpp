// domainmap/params.hpp: parameters declared once, used on every surface.
//
// Each stage has one plain struct of parameters; its member initialisers are the only home of
// the defaults. One function per stage, `describe(StageParams&, ParamSink&)`, names each field
// with its key, help, unit and range. The CLI flags (--read.scan_shape), INI files
// ([read] scan_shape = 4x5), the /config attributes of a results file and `domainmap params`
// are all built from that one list, so they cannot drift apart (PDAL's "one key on every
// surface").
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace domainmap {

/// A (rows, columns) pair such as a scan shape. {0, 0} means "not given".
struct Shape2 {
  std::int64_t y = 0, x = 0;
  bool empty() const { return y == 0 && x == 0; }
  bool operator==(const Shape2&) const = default;
};
/// Parses "4x5", "4,5" or "4 5" into {4, 5}; throws Error(bad_parameter) naming `key`.
Shape2 parse_shape2(const std::string& text, const std::string& key);
std::string to_string(const Shape2& s);
/// A number as parameter messages print it (10 significant digits): "origin.outlier_px = 0.25: ...".
std::string param_number_text(double v);

/// One parameter: full key "stage.name", text form of its value, and how to set it.
struct ParamRef {
  std::string key;                      ///< "stage.name"
  std::string help;                     ///< one line
  std::string unit;                     ///< "px", "deg", "" ...
  std::string type;                     ///< "bool", "int", "float", "string", "choice", "shape"
  std::vector<std::string> choices;     ///< for type "choice"
  std::string range;                    ///< e.g. "[0, 1]" for the docs, "" if unbounded
  std::function<std::string()> get;     ///< current value as text
  std::function<void(const std::string&)> set; ///< parse, validate, assign; throws bad_parameter
};

/// Receives the parameters of one stage.
class ParamSink {
public:
  explicit ParamSink(std::string stage) : stage_(std::move(stage)) {}
  virtual ~ParamSink() = default;
  const std::string& stage() const { return stage_; }
  virtual void add(ParamRef ref) = 0;
private:
  std::string stage_;
};

inline constexpr double kNoLimit = std::numeric_limits<double>::infinity();

void param(ParamSink& s, const char* key, bool& v, const char* help);
void param(ParamSink& s, const char* key, int& v, const char* help, double lo = -kNoLimit,
           double hi = kNoLimit, const char* unit = "");
void param(ParamSink& s, const char* key, std::int64_t& v, const char* help, double lo = -kNoLimit,
           double hi = kNoLimit, const char* unit = "");
void param(ParamSink& s, const char* key, double& v, const char* help, double lo = -kNoLimit,
           double hi = kNoLimit, const char* unit = "");
void param(ParamSink& s, const char* key, float& v, const char* help, double lo = -kNoLimit,
           double hi = kNoLimit, const char* unit = "");
void param(ParamSink& s, const char* key, std::string& v, const char* help);
/// A string restricted to `choices`.
void param(ParamSink& s, const char* key, std::string& v, const char* help,
           std::vector<std::string> choices);
void param(ParamSink& s, const char* key, Shape2& v, const char* help);

/// All parameters of several stages, in declaration order.
class ParamList : public ParamSink {
public:
  ParamList() : ParamSink("") {}
  /// Describe one stage's struct into this list: list.stage("read", [&](ParamSink& s){ describe(p, s); }).
  void stage(const std::string& name, const std::function<void(ParamSink&)>& describe_fn);
  void add(ParamRef ref) override { refs_.push_back(std::move(ref)); }
  const std::vector<ParamRef>& refs() const { return refs_; }
  /// nullptr if no such key.
  const ParamRef* find(const std::string& key) const;
  /// Sets "stage.key" from text; unknown keys are errors (bad_parameter).
  void set(const std::string& key, const std::string& value) const;
  /// INI text: "[stage]\nkey = value  ; help" for every parameter.
  std::string to_ini() const;
  /// Markdown table of key, default, unit, range, help.
  std::string to_markdown() const;
  /// "stage.key = value" pairs, for the /config attributes of a results file.
  std::vector<std::pair<std::string, std::string>> values() const;
private:
  std::vector<ParamRef> refs_;
};

/// Reads an INI file ("[stage]" sections, "key = value", ';' or '#' comments) into `list`.
/// Unknown keys and malformed lines are errors naming the file and line.
void read_ini_file(const std::string& path, const ParamList& list);

} // namespace domainmap
