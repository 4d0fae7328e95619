// lib/io/empad.cpp: EMPAD reader (XML header + raw float32 frames).
//
// Format (docs/formats/empad.md): the raw file has no header; each frame is 130 rows x 128
// columns of little-endian float32 (66560 bytes). Rows 0..127 are the pattern, rows 128-129 a
// per-frame footer (not pixel data, content undocumented) that is dropped. Frames in scan
// order, x fastest. The XML names the raw file (raw_file/@filename, looked up by base name in
// the XML's folder) and, in fields that disagree in real files, the scan shape: the first
// candidate whose frame count fits the file size is used (see scan_candidates()).
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "domainmap/error.hpp"
#include "readers.hpp"

namespace domainmap::io {

namespace {

constexpr std::int64_t kDet = 128;                         // detector rows and columns
constexpr std::int64_t kRawRows = 130;                     // 2 footer rows
constexpr std::int64_t kFrameBytes = kRawRows * kDet * 4;  // 66560
constexpr std::size_t kMaxXmlBytes = 16 << 20;

// ---- a small XML reader: elements, attributes, text; enough for EMPAD headers ----

struct XmlNode {
  std::string name;
  std::vector<std::pair<std::string, std::string>> attrs;
  std::string text;  // character data directly inside, entities decoded, trimmed
  std::vector<XmlNode> children;

  const std::string* attr(const std::string& key) const {
    for (const auto& [k, v] : attrs)
      if (k == key) return &v;
    return nullptr;
  }
  const XmlNode* child(const std::string& n) const {
    for (const XmlNode& c : children)
      if (c.name == n) return &c;
    return nullptr;
  }
  /// First child named n whose attribute key equals value.
  const XmlNode* child_with(const std::string& n, const std::string& key, const std::string& value) const {
    for (const XmlNode& c : children)
      if (c.name == n && c.attr(key) && *c.attr(key) == value) return &c;
    return nullptr;
  }
  /// Depth-first search for the first element named n (this node excluded).
  const XmlNode* find(const std::string& n) const {
    for (const XmlNode& c : children) {
      if (c.name == n) return &c;
      if (const XmlNode* r = c.find(n)) return r;
    }
    return nullptr;
  }
  /// Text of child n, or of attribute n if there is no such child; nullptr if neither.
  const std::string* value(const std::string& n) const {
    if (const XmlNode* c = child(n)) return &c->text;
    return attr(n);
  }
};

class XmlParser {
public:
  XmlParser(const std::string& text, const std::string& where) : s_(text), where_(where) {}

  XmlNode parse_document() {
    skip_misc();
    if (pos_ >= s_.size() || s_[pos_] != '<') error("no root element");
    XmlNode root = parse_element(0);
    skip_misc();
    if (pos_ < s_.size()) error("content after the root element");
    return root;
  }

private:
  [[noreturn]] void error(const std::string& what) const {
    fail(ErrorKind::bad_input, where_, "not well-formed XML at byte ", pos_, ": ", what);
  }
  bool starts(const char* lit) const { return s_.compare(pos_, std::strlen(lit), lit) == 0; }
  void skip_ws() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  void skip_past(const char* lit) {
    std::size_t e = s_.find(lit, pos_);
    if (e == std::string::npos) error(std::string("unterminated construct, no '") + lit + "'");
    pos_ = e + std::strlen(lit);
  }
  // whitespace, comments, processing instructions, DOCTYPE
  void skip_misc() {
    for (;;) {
      skip_ws();
      if (starts("<?")) skip_past("?>");
      else if (starts("<!--")) skip_past("-->");
      else if (starts("<!DOCTYPE")) {
        int depth = 0;
        for (; pos_ < s_.size(); ++pos_) {
          if (s_[pos_] == '[') ++depth;
          else if (s_[pos_] == ']') --depth;
          else if (s_[pos_] == '>' && depth <= 0) break;
        }
        if (pos_ >= s_.size()) error("unterminated DOCTYPE");
        ++pos_;
      } else return;
    }
  }
  static bool name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == ':' ||
           static_cast<unsigned char>(c) >= 0x80;
  }
  std::string parse_name() {
    std::size_t b = pos_;
    while (pos_ < s_.size() && name_char(s_[pos_])) ++pos_;
    if (b == pos_) error("expected a name");
    return s_.substr(b, pos_ - b);
  }
  void append_utf8(std::string& out, unsigned long cp) {
    if (cp < 0x80) out += static_cast<char>(cp);
    else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  // decodes the entity at pos_ ('&') into out
  void parse_entity(std::string& out) {
    std::size_t e = s_.find(';', pos_);
    if (e == std::string::npos || e - pos_ > 12) error("bad entity reference");
    std::string ent = s_.substr(pos_ + 1, e - pos_ - 1);
    pos_ = e + 1;
    if (ent == "amp") out += '&';
    else if (ent == "lt") out += '<';
    else if (ent == "gt") out += '>';
    else if (ent == "quot") out += '"';
    else if (ent == "apos") out += '\'';
    else if (ent.size() > 1 && ent[0] == '#') {
      unsigned long cp = 0;
      const bool hex = ent[1] == 'x' || ent[1] == 'X';
      const char* b = ent.data() + (hex ? 2 : 1);
      auto r = std::from_chars(b, ent.data() + ent.size(), cp, hex ? 16 : 10);
      if (r.ec != std::errc() || r.ptr != ent.data() + ent.size() || cp > 0x10FFFF) error("bad character reference");
      append_utf8(out, cp);
    } else {
      error("unknown entity &" + ent + ";");
    }
  }
  XmlNode parse_element(int depth) {
    if (depth > 200) error("elements nested too deeply");
    ++pos_;  // '<'
    XmlNode node;
    node.name = parse_name();
    for (;;) {
      skip_ws();
      if (pos_ >= s_.size()) error("unterminated start tag <" + node.name + ">");
      if (starts("/>")) {
        pos_ += 2;
        return node;
      }
      if (s_[pos_] == '>') {
        ++pos_;
        break;
      }
      std::string key = parse_name();
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != '=') error("attribute " + key + " without a value");
      ++pos_;
      skip_ws();
      if (pos_ >= s_.size() || (s_[pos_] != '"' && s_[pos_] != '\'')) error("attribute " + key + " value not quoted");
      const char q = s_[pos_++];
      std::string v;
      while (pos_ < s_.size() && s_[pos_] != q) {
        if (s_[pos_] == '&') parse_entity(v);
        else v += s_[pos_++];
      }
      if (pos_ >= s_.size()) error("unterminated attribute value");
      ++pos_;
      node.attrs.emplace_back(std::move(key), std::move(v));
    }
    // content
    for (;;) {
      if (pos_ >= s_.size()) error("element <" + node.name + "> not closed");
      const char c = s_[pos_];
      if (c == '<') {
        if (starts("</")) {
          const std::size_t tag = pos_;
          pos_ += 2;
          std::string end = parse_name();
          if (end != node.name) {
            pos_ = tag;
            error("</" + end + "> closes <" + node.name + ">");
          }
          skip_ws();
          if (pos_ >= s_.size() || s_[pos_] != '>') error("bad end tag");
          ++pos_;
          break;
        }
        if (starts("<!--")) skip_past("-->");
        else if (starts("<![CDATA[")) {
          std::size_t b = pos_ + 9, e = s_.find("]]>", b);
          if (e == std::string::npos) error("unterminated CDATA");
          node.text.append(s_, b, e - b);
          pos_ = e + 3;
        } else if (starts("<?")) skip_past("?>");
        else node.children.push_back(parse_element(depth + 1));
      } else if (c == '&') {
        parse_entity(node.text);
      } else {
        node.text += c;
        ++pos_;
      }
    }
    // trim
    std::size_t b = 0, e = node.text.size();
    while (b < e && std::isspace(static_cast<unsigned char>(node.text[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(node.text[e - 1]))) --e;
    node.text = node.text.substr(b, e - b);
    return node;
  }

  const std::string& s_;
  std::string where_;
  std::size_t pos_ = 0;
};

std::string slurp(const std::string& path, std::size_t limit) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(ErrorKind::bad_input, path, "cannot open for reading");
  std::string text;
  char buf[65536];
  while (f.read(buf, sizeof buf) || f.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(f.gcount()));
    if (text.size() > limit) fail(ErrorKind::bad_input, path, "larger than ", limit, " bytes; not an EMPAD XML header");
  }
  return text;
}

XmlNode parse_xml_file(const std::string& path) {
  std::string text = slurp(path, kMaxXmlBytes);
  return XmlParser(text, path).parse_document();
}

// "128" -> 128; false on anything but a whole positive number (a trailing ".0" is accepted)
bool parse_count(const std::string* s, std::int64_t& out) {
  if (!s) return false;
  std::string t = *s;
  if (t.size() > 2 && t.compare(t.size() - 2, 2, ".0") == 0) t.resize(t.size() - 2);
  std::int64_t v = 0;
  auto r = std::from_chars(t.data(), t.data() + t.size(), v);
  if (r.ec != std::errc() || r.ptr != t.data() + t.size() || v <= 0) return false;
  out = v;
  return true;
}

bool parse_number(const std::string* s, double& out) {
  if (!s) return false;
  std::string t = *s;
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
  std::size_t b = 0;
  while (b < t.size() && std::isspace(static_cast<unsigned char>(t[b]))) ++b;
  double v = 0;
  auto r = std::from_chars(t.data() + b, t.data() + t.size(), v);
  if (r.ec != std::errc() || r.ptr != t.data() + t.size() || !std::isfinite(v)) return false;
  out = v;
  return true;
}

// "[4.5e-06, 4.5e-06]" -> {4.5e-06, 4.5e-06}
std::vector<double> parse_list(const std::string& s) {
  std::vector<double> out;
  std::string t;
  for (char c : s) t += (c == '[' || c == ']' || c == ',' || c == '(' || c == ')') ? ' ' : c;
  std::istringstream is(t);
  std::string item;
  while (is >> item) {
    double v;
    if (!parse_number(&item, v)) return {};
    out.push_back(v);
  }
  return out;
}

std::string num(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

struct Candidate {
  std::string source;  // where the shape came from, for notes and errors
  Shape2 shape;
};

// Scan shapes in the order of trust of docs/formats/empad.md: series count, pix_x/pix_y, the
// raw file name, scan_parameters acquire, then search. The user's read.scan_shape is handled
// before these.
std::vector<Candidate> scan_candidates(const XmlNode& root, const std::string& raw_name) {
  std::vector<Candidate> c;
  std::int64_t n = 0, x = 0, y = 0;
  const XmlNode* type = root.child("type");
  const bool series = type && type->text == "series";
  const XmlNode* plain_params = nullptr;  // scan_parameters without mode
  for (const XmlNode& ch : root.children)
    if (ch.name == "scan_parameters" && !ch.attr("mode")) plain_params = &ch;
  if (plain_params && parse_count(plain_params->value("series_count"), n))
    c.push_back({"scan_parameters/series_count", {1, n}});
  if (series && parse_count(root.value("count"), n)) c.push_back({"count (series)", {1, n}});
  if (parse_count(root.value("pix_x"), x) && parse_count(root.value("pix_y"), y)) c.push_back({"pix_x/pix_y", {y, x}});
  {
    std::smatch m;
    static const std::regex scan_re(R"(_x(\d+)_y(\d+))"), series_re(R"(series_x(\d+))");
    std::string mx, my;
    if (std::regex_search(raw_name, m, scan_re)) {
      mx = m[1].str(), my = m[2].str();
      if (parse_count(&mx, x) && parse_count(&my, y)) c.push_back({"raw file name", {y, x}});
    } else if (std::regex_search(raw_name, m, series_re)) {
      mx = m[1].str();
      if (parse_count(&mx, n)) c.push_back({"raw file name (series)", {1, n}});
    }
  }
  for (const char* mode : {"acquire", "search"}) {
    if (const XmlNode* sp = root.child_with("scan_parameters", "mode", mode))
      if (parse_count(sp->value("scan_resolution_x"), x) && parse_count(sp->value("scan_resolution_y"), y))
        c.push_back({std::string("scan_parameters ") + mode, {y, x}});
  }
  return c;
}

std::string shape_text(const Shape2& s) { return detail::cat(s.y, " x ", s.x); }

class EmpadSource : public FrameSource {
public:
  /// path: what the user named; xml_path "" if there is no XML (then root is null).
  EmpadSource(const std::string& path, const std::string& xml_path, const std::string& raw_path, const XmlNode* root,
              const ReadParams& p);
  void read_frames(std::int64_t first, std::int64_t count, float* out) override;
private:
  BinaryFile file_;
  bool nan_to_zero_ = false;
  std::int64_t nan_replaced_ = 0;
  std::ptrdiff_t nan_note_ = -1;
  std::vector<unsigned char> scratch_;  // one block of raw frames, reused
};

EmpadSource::EmpadSource(const std::string& path, const std::string& xml_path, const std::string& raw_path,
                         const XmlNode* root, const ReadParams& p)
    : file_(raw_path), nan_to_zero_(p.nan_to_zero) {
  const std::uint64_t size = file_.size();
  const std::int64_t whole = static_cast<std::int64_t>(size / kFrameBytes);
  const bool fits_frames = size % kFrameBytes == 0;
  auto holds = [&] {
    return fits_frames ? detail::cat(size, " bytes = ", whole, " frames of ", kFrameBytes)
                       : detail::cat(size, " bytes, not a whole number of ", kFrameBytes, "-byte frames (", whole,
                                     " frames + ", size % kFrameBytes, " bytes)");
  };
  auto needs = [](const Shape2& s) { return std::uint64_t(s.y) * std::uint64_t(s.x) * kFrameBytes; };

  Candidate chosen;
  if (!p.scan_shape.empty()) {
    if (p.scan_shape.y <= 0 || p.scan_shape.x <= 0)
      fail(ErrorKind::bad_parameter, raw_path, "read.scan_shape ", to_string(p.scan_shape), " must be positive");
    if (needs(p.scan_shape) != size)
      fail(ErrorKind::bad_input, raw_path, holds(), ", but read.scan_shape ", shape_text(p.scan_shape), " needs ",
           p.scan_shape.y * p.scan_shape.x, " frames (", needs(p.scan_shape), " bytes)");
    chosen = {"read.scan_shape", p.scan_shape};
  } else {
    if (!root)
      fail(ErrorKind::bad_input, raw_path, "no EMPAD .xml beside it names this raw file; open the .xml or give "
                                           "--read.scan_shape (the file holds ", holds(), ")");
    std::vector<Candidate> cands = scan_candidates(*root, std::filesystem::path(raw_path).filename().string());
    if (cands.empty())
      fail(ErrorKind::bad_input, xml_path, "no scan shape in the EMPAD header (no series count, pix_x/pix_y, raw file name "
                                       "pattern or scan_parameters); give --read.scan_shape (", raw_path, " holds ",
           holds(), ")");
    const Candidate* ok = nullptr;
    for (const Candidate& c : cands)
      if (needs(c.shape) == size) {
        ok = &c;
        break;
      }
    if (!ok) {
      std::string tried;
      for (std::size_t i = 1; i < cands.size(); ++i)
        tried += (i == 1 ? "; also tried " : ", ") + cands[i].source + " " + shape_text(cands[i].shape);
      fail(ErrorKind::bad_input, raw_path, holds(), ", expected ", needs(cands[0].shape), " bytes for ",
           cands[0].source, " ", shape_text(cands[0].shape), " (", cands[0].shape.y * cands[0].shape.x, " frames)",
           tried, "; the raw file is truncated or does not belong to ", std::filesystem::path(xml_path).filename().string());
    }
    chosen = *ok;
    if (ok != &cands[0])
      info_.notes.push_back(detail::cat("scan shape ", shape_text(chosen.shape), " from ", chosen.source, "; ",
                                        cands[0].source, " ", shape_text(cands[0].shape), " does not fit the file size"));
  }

  info_.path = path;
  info_.format = "empad";
  info_.dtype = "<f4";
  info_.shape = Shape4{chosen.shape.y, chosen.shape.x, kDet, kDet};
  info_.frames_present = info_.shape.n_frames();
  auto& md = info_.metadata;
  if (!xml_path.empty()) md.emplace_back("xml_file", xml_path);
  md.emplace_back("raw_file", raw_path);
  md.emplace_back("scan_shape_source", chosen.source);
  md.emplace_back("frame_footer", "rows 128-129 (1024 bytes) of every 130 x 128 frame, dropped");
  if (!root) {
    info_.notes.push_back("no EMPAD .xml found beside the raw file; no calibration");
    return;
  }

  auto text = [&](const XmlNode* n) -> const std::string* { return n ? &n->text : nullptr; };
  if (const XmlNode* ts = root->child("timestamp"))
    if (const std::string* iso = ts->attr("isoformat")) md.emplace_back("timestamp", *iso);
  if (const std::string* v = text(root->child("software_version"))) md.emplace_back("software_version", *v);
  if (const std::string* v = text(root->child("type"))) md.emplace_back("type", *v);
  if (const std::string* v = text(root->child("exposure_time"))) md.emplace_back("exposure_time", *v);

  const XmlNode* iom = root->child("iom_measurements");
  auto iom_text = [&](std::initializer_list<const char*> names) -> const std::string* {
    if (!iom) return nullptr;
    for (const char* n : names)
      if (const XmlNode* c = iom->child(n)) return &c->text;
    return nullptr;
  };
  if (const std::string* v = iom_text({"source.get_voltage", "high_voltage"})) md.emplace_back("beam_energy_V", *v);
  if (const std::string* v = iom_text({"optics.get_cameralength", "nominal_camera_length"}))
    md.emplace_back("camera_length", *v);
  if (const std::string* v = iom_text({"column.get_scanrotation", "scan_rotation"})) md.emplace_back("scan_rotation", *v);
  if (const std::string* v = iom_text({"calibrated_diffraction_angle"}))
    md.emplace_back("calibrated_diffraction_angle_rad", *v);

  // Calibration as rosettasciio reads it. Detector (old headers only): calibrated_pixelsize x
  // 1e9 in 1/nm, i.e. x 1e8 in 1/A. Scan step: old headers, field of view [x, y] in m / pixels
  // along x; 1.2.x, full_scan_field_of_view/x / scale_factor / max(nx, ny) (the stored value is
  // the internal field of view times scale_factor).
  Calibration& cal = info_.calibration;
  double v = 0;
  if (parse_number(iom_text({"calibrated_pixelsize"}), v) && v > 0) {
    cal.q_pixel_size = v * 1e8;
    cal.q_units = "A^-1";
    cal.known = true;
  }
  const XmlNode* type = root->child("type");
  const bool is_series = chosen.source.find("series") != std::string::npos || (type && type->text == "series");
  if (iom && !is_series) {
    const std::int64_t nx = chosen.shape.x, ny = chosen.shape.y;
    double step_m = 0;
    if (const XmlNode* fov = iom->child("optics.get_full_scan_field_of_view")) {
      std::vector<double> f = parse_list(fov->text);
      if (!f.empty() && f[0] > 0) {
        step_m = f[0] / double(nx);
        if (f.size() > 1 && std::abs(f[1] / double(ny) - step_m) > 1e-6 * step_m)
          info_.notes.push_back("scan steps differ along x and y (" + num(f[0] / double(nx) * 1e9) + " and " +
                                num(f[1] / double(ny) * 1e9) + " nm); the calibration uses x");
      }
    } else if (const XmlNode* fov2 = iom->child("full_scan_field_of_view")) {
      double fx = 0, sf = 0;
      if (parse_number(fov2->value("x"), fx) && parse_number(fov2->value("scale_factor"), sf) && fx > 0 && sf > 0)
        step_m = fx / sf / double(std::max(nx, ny));
    }
    if (step_m > 0) {
      cal.r_pixel_size = step_m * 1e9;
      cal.r_units = "nm";
      cal.known = true;
    }
  }
}

void EmpadSource::read_frames(std::int64_t first, std::int64_t count, float* out) {
  if (first < 0 || count < 0 || first + count > info_.shape.n_frames())
    fail(ErrorKind::internal, file_.path(), "frames ", first, "..", first + count, " outside the ", info_.shape.n_frames(),
         " frames");
  if (count == 0) return;
  const std::size_t bytes = static_cast<std::size_t>(count * kFrameBytes);
  if (scratch_.size() < bytes) scratch_.resize(bytes);
  file_.read_at(std::uint64_t(first) * kFrameBytes, bytes, scratch_.data());  // one pread per block
  constexpr std::int64_t fp = kDet * kDet;
  for (std::int64_t k = 0; k < count; ++k)  // drop the 2 footer rows of every frame
    convert_to_float(scratch_.data() + k * kFrameBytes, PixelType::f32, false, fp, out + k * fp);
  const std::int64_t bad = check_finite(out, static_cast<std::size_t>(count * fp), nan_to_zero_, file_.path(), first, fp);
  if (bad > 0) {
    nan_replaced_ += bad;
    std::string note = detail::cat(nan_replaced_, " NaN/Inf pixel(s) replaced by 0 (read.nan_to_zero)");
    if (nan_note_ < 0) {
      nan_note_ = static_cast<std::ptrdiff_t>(info_.notes.size());
      info_.notes.push_back(note);
    } else {
      info_.notes[static_cast<std::size_t>(nan_note_)] = note;
    }
  }
}

bool iequals_ext(const std::filesystem::path& p, const char* ext) {
  std::string e = p.extension().string();
  for (char& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return e == ext;
}

// For a .raw: the .xml beside it whose raw_file names it, if any.
std::string find_xml_for_raw(const std::filesystem::path& raw, XmlNode& root_out) {
  std::error_code ec;
  std::filesystem::path dir = raw.parent_path();
  if (dir.empty()) dir = ".";
  const std::string name = raw.filename().string();
  std::vector<std::filesystem::path> xmls;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.is_regular_file(ec) && iequals_ext(e.path(), ".xml") && e.file_size(ec) < kMaxXmlBytes) xmls.push_back(e.path());
  std::sort(xmls.begin(), xmls.end());
  for (const auto& x : xmls) {
    try {
      std::string text = slurp(x.string(), kMaxXmlBytes);
      if (text.find("raw_file") == std::string::npos || text.find(name) == std::string::npos) continue;
      XmlNode root = XmlParser(text, x.string()).parse_document();
      const XmlNode* rf = root.find("raw_file");
      const std::string* fn = rf ? rf->attr("filename") : nullptr;
      if (fn && std::filesystem::path(*fn).filename().string() == name) {
        root_out = std::move(root);
        return x.string();
      }
    } catch (const Error&) {
      // an unrelated or broken XML file in the same folder
    }
  }
  return "";
}

} // namespace

std::unique_ptr<FrameSource> open_empad(const std::string& path, const ReadParams& p) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(ErrorKind::bad_input, path, "no such file");
  if (fs::is_directory(path, ec)) fail(ErrorKind::bad_input, path, "is a directory, not a file");
  if (iequals_ext(path, ".xml")) {
    XmlNode root = parse_xml_file(path);
    const XmlNode* rf = root.find("raw_file");
    const std::string* fn = rf ? rf->attr("filename") : nullptr;
    if (!fn || fn->empty())
      fail(ErrorKind::bad_input, path, "no raw_file element with a filename; not an EMPAD XML header");
    // keep only the base name (either separator), look for it beside the XML
    std::string base = *fn;
    std::size_t slash = base.find_last_of("/\\");
    if (slash != std::string::npos) base = base.substr(slash + 1);
    const std::string raw = (fs::path(path).parent_path() / base).string();
    if (!fs::exists(raw, ec))
      fail(ErrorKind::bad_input, raw, "no such file (the raw file named by ", fs::path(path).filename().string(),
           "; keep the .raw beside the .xml under its original name)");
    return std::make_unique<EmpadSource>(path, path, raw, &root, p);
  }
  XmlNode root;
  std::string xml = find_xml_for_raw(fs::path(path), root);
  return std::make_unique<EmpadSource>(path, xml, path, xml.empty() ? nullptr : &root, p);
}

} // namespace domainmap::io
