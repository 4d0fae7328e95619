// cli/info.cpp: `domainmap info FILE [--json] [--no-stats]`: what a dataset is (format, shape,
// dtype, chunks, calibration, metadata) and, streamed under the memory budget, its value
// statistics. --json prints one JSON object for scripts.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>
#include <sstream>

#include "common.hpp"
#include "domainmap/dataset.hpp"
#include "domainmap/error.hpp"
#include "stages.hpp"
#include "verbs.hpp"

namespace domainmap::cli {

namespace {

// Shortest text that reads back as the same double ("3623664", "0.1", "1e+21").
std::string number_text(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string json_number(double v) { return std::isfinite(v) ? number_text(v) : "null"; }

// JSON string literal. Control characters are escaped; bytes that are not valid UTF-8 become
// U+FFFD, so the output is always valid JSON.
std::string json_string(const std::string& s) {
  std::string out = "\"";
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
      }
      ++i;
      continue;
    }
    // length and minimum code point of a UTF-8 sequence starting with c
    std::size_t len = 0;
    std::uint32_t cp = 0, min_cp = 0;
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; min_cp = 0x80; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; min_cp = 0x800; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; min_cp = 0x10000; }
    bool valid = len > 0 && i + len <= n;
    for (std::size_t k = 1; valid && k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) valid = false;
      else cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if (valid && (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) valid = false;
    if (valid) {
      out.append(s, i, len);
      i += len;
    } else {
      out += "\\ufffd";
      ++i;
    }
  }
  out += '"';
  return out;
}

template <typename T> std::string json_ints(const std::vector<T>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
  return out + "]";
}

std::string shape_list(const Shape4& s) {
  return json_ints(std::vector<std::int64_t>{s.scan_y, s.scan_x, s.det_y, s.det_x});
}

std::int64_t count_bad(const DatasetInfo& info) {
  std::int64_t n = 0;
  for (auto b : info.bad_pixels) n += b != 0;
  return n;
}

std::string to_json(const DatasetInfo& info, const std::optional<DatasetStats>& st) {
  std::ostringstream os;
  const Calibration& c = info.calibration;
  os << "{\"path\": " << json_string(info.path) << ", \"format\": " << json_string(info.format)
     << ", \"object\": " << json_string(info.object) << ", \"shape\": " << shape_list(info.shape)
     << ", \"n_frames\": " << info.shape.n_frames() << ", \"dtype\": " << json_string(info.dtype)
     << ", \"chunks\": " << json_ints(info.chunks) << ", \"compression\": " << json_string(info.compression)
     << ", \"frames_present\": " << info.frames_present << ", \"calibration\": {\"known\": "
     << (c.known ? "true" : "false") << ", \"q_pixel_size\": " << json_number(c.q_pixel_size)
     << ", \"q_units\": " << json_string(c.q_units) << ", \"r_pixel_size\": " << json_number(c.r_pixel_size)
     << ", \"r_units\": " << json_string(c.r_units) << "}, \"metadata\": {";
  for (std::size_t i = 0; i < info.metadata.size(); ++i)
    os << (i ? ", " : "") << json_string(info.metadata[i].first) << ": " << json_string(info.metadata[i].second);
  os << "}, \"bad_pixels\": " << count_bad(info) << ", \"notes\": [";
  for (std::size_t i = 0; i < info.notes.size(); ++i) os << (i ? ", " : "") << json_string(info.notes[i]);
  os << "], \"stats\": ";
  if (st) {
    os << "{\"sum\": " << json_number(st->sum) << ", \"min\": " << json_number(st->min)
       << ", \"max\": " << json_number(st->max) << ", \"mean\": " << json_number(st->mean)
       << ", \"first_frame_sum\": " << json_number(st->first_frame_sum)
       << ", \"last_frame_sum\": " << json_number(st->last_frame_sum) << ", \"n_nan\": " << st->n_nan
       << ", \"n_inf\": " << st->n_inf << ", \"n_zero_frames\": " << st->n_zero_frames << "}";
  } else {
    os << "null";
  }
  os << "}\n";
  return os.str();
}

std::string to_text(const DatasetInfo& info, const std::optional<DatasetStats>& st) {
  std::ostringstream os;
  auto row = [&](const char* key, const std::string& value) {
    os << key << std::string(14 - std::string(key).size(), ' ') << value << "\n";
  };
  const Shape4& s = info.shape;
  row("file", info.path);
  row("format", info.format);
  if (!info.object.empty()) row("object", info.object);
  row("shape", shape_list(s) + "  (scan " + std::to_string(s.scan_y) + " x " + std::to_string(s.scan_x) +
                   ", detector " + std::to_string(s.det_y) + " x " + std::to_string(s.det_x) + ")");
  row("dtype", info.dtype.empty() ? "?" : info.dtype);
  row("chunks", info.chunks.empty() ? "none" : json_ints(info.chunks));
  row("compression", info.compression);
  std::string frames = std::to_string(info.frames_present) + " of " + std::to_string(s.n_frames());
  if (info.frames_present < s.n_frames()) frames += " (missing frames read as 0)";
  row("frames", frames);
  const Calibration& c = info.calibration;
  if (c.known)
    row("calibration", "detector " + number_text(c.q_pixel_size) + " " + c.q_units + " per pixel, scan step " +
                           number_text(c.r_pixel_size) + " " + c.r_units);
  else
    row("calibration", "none in the file (pixels)");
  const std::int64_t bad = count_bad(info);
  row("bad pixels", bad ? std::to_string(bad) + " (flagged by the file)" : "0");
  if (!info.metadata.empty()) {
    os << "metadata\n";
    std::size_t width = 0;
    for (const auto& m : info.metadata) width = std::max(width, m.first.size());
    for (const auto& m : info.metadata)
      os << "  " << m.first << std::string(width - m.first.size() + 2, ' ') << m.second << "\n";
  }
  if (!info.notes.empty()) {
    os << "notes\n";
    for (const auto& n : info.notes) os << "  - " << n << "\n";
  }
  if (st) {
    os << "statistics\n";
    os << "  sum              " << number_text(st->sum) << "\n";
    os << "  min / max        " << number_text(st->min) << " / " << number_text(st->max) << "\n";
    os << "  mean             " << number_text(st->mean) << "\n";
    os << "  first frame sum  " << number_text(st->first_frame_sum) << "\n";
    os << "  last frame sum   " << number_text(st->last_frame_sum) << "\n";
    os << "  NaN / Inf        " << st->n_nan << " / " << st->n_inf << "\n";
    os << "  empty frames     " << st->n_zero_frames << "\n";
  }
  return os.str();
}

} // namespace

int verb_info(const std::vector<std::string>& args) {
  return run_guarded("info", [&]() -> int {
    VerbOptions o("info", "FILE [--json] [--no-stats]",
                  "Describes a dataset: format, shape [scan_y, scan_x, det_y, det_x], stored dtype, chunks,\n"
                  "compression, calibration, metadata and (streamed) value statistics. FILE.h5:/path names\n"
                  "a dataset inside an HDF5 file.");
    o.options().add_options()
        ("json", po::bool_switch(), "print one JSON object instead of text")
        ("no-stats", po::bool_switch(), "skip the streamed pass over the pixel values");
    o.positional("input", 1);
    StageParams sp;
    add_stage(o.params(), sp, "read");
    if (!o.parse(args)) return 0;
    const std::vector<std::string> inputs = o.positionals("input");
    if (inputs.empty()) fail(ErrorKind::bad_parameter, "", "missing FILE; see 'domainmap info --help'");
    RunContext& ctx = o.context();
    install_interrupt_handler(ctx);
    auto src = open_dataset(inputs[0], sp.read);
    std::optional<DatasetStats> st;
    if (!o.get<bool>("no-stats")) st = compute_stats(*src, ctx);
    finish_progress(ctx);
    std::cout << (o.get<bool>("json") ? to_json(src->info(), st) : to_text(src->info(), st)) << std::flush;
    return 0;
  });
}

} // namespace domainmap::cli
