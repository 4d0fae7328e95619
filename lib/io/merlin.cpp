// lib/io/merlin.cpp: Quantum Detectors Merlin (Medipix3) .mib reader, with the optional .hdr.
//
// Format facts from docs/formats/merlin.md (shared):
//  - A .mib is frames back to back, no file header or footer. Each frame is an ASCII header
//    ("MQ1," + comma-separated fields, NUL-padded to field 2 bytes) followed by the pixels.
//  - Fields: 0 magic MQ1, 1 sequence number (from 1), 2 header bytes, 3 chips, 4 width,
//    5 height, 6 type (U08 U16 U32 R64), 7 layout ("   2x2"), 8 chip mask (hex), 9 local start
//    time (us), 10 exposure s, 11 counter, 12 colour mode, 13 gain mode, 14-21 thresholds keV,
//    one DAC block per chip, then the MQ1A extension: UTC time (ns), exposure "<n>ns",
//    counter depth (1, 6, 12, 24).
//  - Processed pixels are row-major, big-endian. RAW (R64) 1-bit frames are big-endian 64-bit
//    words, pixel 64w+j = bit j (from the LSB) of word w. RAW quads are stored as a 1024 x 256
//    strip of chips A B C D, assembled to 512 x 512 as D C / rot180(B) rot180(A).
//  - The .hdr (2048 bytes of "Key:<TAB>Value" lines, CR LF) may give ScanX/ScanY and
//    "Frames in Acquisition".
// Frames are returned in stored order (row 0 = first stored row); no flip as HyperSpy does.
#include <algorithm>
#include <bit>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

#include <oneapi/tbb/parallel_for.h>

#include "domainmap/error.hpp"
#include "readers.hpp"

namespace domainmap::io {
namespace {

namespace fs = std::filesystem;

enum class MibType { u08, u16, u32, r64 };

// One parsed frame header.
struct MibHeader {
  std::int64_t sequence = 0;
  std::int64_t header_bytes = 0;
  int chips = 0;
  std::int64_t width = 0, height = 0;   // as stored (RAW quad: 1024 x 256)
  MibType type = MibType::u08;
  std::string type_name;                // "U16"
  std::string layout;                   // "1x1", "2x2"
  std::string chip_select;              // "01", "0F"
  std::string time_local;               // field 9
  std::string exposure_s;               // field 10, as written
  std::string counter, colour_mode, gain_mode;
  std::vector<std::string> thresholds;  // fields 14-21
  std::vector<std::string> chip_types;  // "3RX" per chip
  bool extended = false;                // MQ1A extension present
  std::string time_utc;                 // MQ1A
  std::string exposure_ns;              // MQ1A, "1000000ns"
  int depth = 0;                        // counter depth; 0 = not given
  // Bytes [fixed_begin, fixed_begin + fixed.size()) hold fields 2..8 and the comma after
  // field 8 (header size .. chip mask); they must be the same in every frame.
  std::size_t fixed_begin = 0;
  std::string fixed;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Decimal integer, optionally surrounded by spaces; nullopt if anything else.
std::optional<std::int64_t> to_int(std::string_view s) {
  s = trim(s);
  if (s.empty() || s.size() > 18) return std::nullopt;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// Printable form of header text for messages (at most 16 chars).
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 16)) out += (c >= 32 && c < 127) ? c : '?';
  return out;
}

template <typename... Parts>
[[noreturn]] void frame_fail(const std::string& file, std::int64_t frame, std::uint64_t offset, const Parts&... parts) {
  fail(ErrorKind::bad_input, file, "frame ", frame, " at byte ", offset, ": ", parts...);
}

// Parses the header of the frame at `offset` (n bytes available at p, at least the header).
// Errors name the file, the frame and its byte offset.
MibHeader parse_header(const char* p, std::size_t n, const std::string& file, std::int64_t frame,
                       std::uint64_t offset) {
  auto bad = [&](const auto&... parts) { frame_fail(file, frame, offset, parts...); };
  if (n < 4 || std::memcmp(p, "MQ1,", 4) != 0)
    bad("does not start with MQ1, (found '", printable(std::string_view(p, std::min<std::size_t>(n, 4))),
        "'); not a Merlin frame or a corrupt file");
  std::string_view text(p, n);
  // the text ends in NUL padding up to the header size (field 2)
  const std::size_t text_end = text.find('\0');
  if (text_end == std::string_view::npos)
    bad("header size ", n, " does not match the header: its text runs to the end (no NUL padding)");
  for (std::size_t i = text_end; i < n; ++i)
    if (p[i] != '\0' && p[i] != ' ')
      bad("header size ", n, " does not match the header: the text ends at byte ", text_end, " but byte ", i,
          " is not NUL padding");
  text = text.substr(0, text_end);
  // split at commas, remembering where each field starts
  std::vector<std::string_view> f;
  std::vector<std::size_t> start;
  for (std::size_t pos = 0;;) {
    std::size_t c = text.find(',', pos);
    start.push_back(pos);
    f.push_back(text.substr(pos, c == std::string_view::npos ? std::string_view::npos : c - pos));
    if (c == std::string_view::npos) break;
    pos = c + 1;
  }
  if (f.size() < 15)
    bad("header has ", f.size(), " comma-separated fields; a Merlin header has at least 15");
  MibHeader h;
  auto need_int = [&](int k, const char* what) {
    auto v = to_int(f[k]);
    if (!v) bad(what, " (header field ", k, ") is '", printable(f[k]), "', not a number");
    return *v;
  };
  h.sequence = need_int(1, "sequence number");
  h.header_bytes = need_int(2, "header size");
  h.chips = static_cast<int>(need_int(3, "number of chips"));
  h.width = need_int(4, "width");
  h.height = need_int(5, "height");
  const std::string_view ty = trim(f[6]);
  if (ty == "U08") h.type = MibType::u08;
  else if (ty == "U16") h.type = MibType::u16;
  else if (ty == "U32") h.type = MibType::u32;
  else if (ty == "R64") h.type = MibType::r64;
  else bad("unsupported pixel type '", printable(ty), "' (Merlin types are U08, U16, U32 and R64)");
  h.type_name = std::string(ty);
  h.layout = std::string(trim(f[7]));
  h.chip_select = std::string(trim(f[8]));
  h.time_local = std::string(trim(f[9]));
  h.exposure_s = std::string(trim(f[10]));
  h.counter = std::string(trim(f[11]));
  h.colour_mode = std::string(trim(f[12]));
  h.gain_mode = std::string(trim(f[13]));
  h.fixed_begin = start[2];
  h.fixed = std::string(text.substr(start[2], start[9] - start[2]));
  if (h.header_bytes < 64 || h.header_bytes < static_cast<std::int64_t>(start[14]))
    bad("header size ", h.header_bytes, " is too small for a Merlin header (the fixed fields alone take ",
        start[14], " bytes)");
  if (h.chips < 1 || h.chips > 64) bad("number of chips ", h.chips, " is not plausible");
  if (h.width < 1 || h.height < 1) bad("frame size ", h.width, " x ", h.height, " is empty");
  for (std::size_t k = 14; k < 22 && k < f.size(); ++k) {
    // thresholds look like 2.000000E+0; the DAC blocks start with a chip type such as 3RX
    if (f[k].find('E') == std::string_view::npos) break;
    h.thresholds.emplace_back(trim(f[k]));
  }
  for (std::size_t k = 14; k < f.size(); ++k) {
    std::string_view v = trim(f[k]);
    if (v == "MQ1A") {
      h.extended = true;
      // the extension: UTC time, exposure "<n>ns", counter depth, then a final comma
      if (k + 3 >= f.size()) bad("MQ1A extension is incomplete (needs UTC time, exposure, counter depth)");
      h.time_utc = std::string(trim(f[k + 1]));
      h.exposure_ns = std::string(trim(f[k + 2]));
      auto d = to_int(f[k + 3]);
      if (!d) bad("counter depth (last MQ1A field) is '", printable(f[k + 3]), "', not a number");
      h.depth = static_cast<int>(*d);
      break;
    }
    // chip-type token opening a DAC block (3RX), between the DAC values
    if (k >= 14 + h.thresholds.size() && !v.empty() && !to_int(v)) h.chip_types.emplace_back(v);
  }
  if (h.extended && h.depth != 1 && h.depth != 6 && h.depth != 12 && h.depth != 24)
    bad("unsupported counter depth ", h.depth, " (Merlin counter depths are 1, 6, 12 and 24)");
  return h;
}

// Pixel data bytes of one frame; fails for combinations that cannot be decoded.
std::uint64_t data_bytes_of(const MibHeader& h, const std::string& file) {
  const std::uint64_t px = static_cast<std::uint64_t>(h.width) * static_cast<std::uint64_t>(h.height);
  const int type_bits = h.type == MibType::u08 ? 8 : h.type == MibType::u16 ? 16 : h.type == MibType::u32 ? 32 : 64;
  if (h.type != MibType::r64) {
    if (h.depth > type_bits)
      fail(ErrorKind::bad_input, file, "frame 0: counter depth ", h.depth, " does not fit pixel type ", h.type_name);
    return px * static_cast<std::uint64_t>(type_bits / 8);
  }
  // RAW: only 1-bit is verified against processed frames of the same chip (docs section 4)
  if (h.depth == 0)
    fail(ErrorKind::bad_input, file, "frame 0: RAW (R64) frame without the MQ1A counter depth; cannot decode it");
  if (h.depth != 1)
    fail(ErrorKind::bad_input, file, "frame 0: RAW (R64) counter depth ", h.depth,
         " is not supported (only 1-bit RAW is verified); record processed frames (U08/U16/U32) instead");
  if (h.layout == "1x1" && h.chips == 1) {
    if (px % 64 != 0)
      fail(ErrorKind::bad_input, file, "frame 0: RAW frame of ", h.width, " x ", h.height,
           " pixels is not a whole number of 64-bit words");
  } else if (h.layout == "2x2" && h.chips == 4) {
    if (h.width != 1024 || h.height != 256)
      fail(ErrorKind::bad_input, file, "frame 0: RAW 2x2 frame of ", h.width, " x ", h.height,
           " (expected the 1024 x 256 strip of four chips)");
  } else {
    fail(ErrorKind::bad_input, file, "frame 0: RAW (R64) with ", h.chips, " chips in layout ", h.layout,
         " is not supported (only 1x1 and 2x2)");
  }
  return px / 8;
}

// --- times ---

// Days since 1970-01-01 of a civil date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// "2021-04-15T13:43:47.008505401Z" or "2021-04-15 14:43:47.008505" -> ns since the epoch of
// that clock; nullopt if the text is not such a time.
std::optional<std::int64_t> parse_time_ns(std::string_view s) {
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' ||
      s[16] != ':')
    return std::nullopt;
  auto y = to_int(s.substr(0, 4)), mo = to_int(s.substr(5, 2)), d = to_int(s.substr(8, 2));
  auto hh = to_int(s.substr(11, 2)), mi = to_int(s.substr(14, 2)), ss = to_int(s.substr(17, 2));
  if (!y || !mo || !d || !hh || !mi || !ss || *mo < 1 || *mo > 12 || *d < 1 || *d > 31) return std::nullopt;
  std::int64_t frac = 0;
  std::size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    int digits = 0;
    for (++pos; pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos])); ++pos) {
      if (digits < 9) {
        frac = frac * 10 + (s[pos] - '0');
        ++digits;
      }
    }
    for (; digits < 9; ++digits) frac *= 10;
  }
  const std::int64_t days = days_from_civil(*y, static_cast<unsigned>(*mo), static_cast<unsigned>(*d));
  return ((days * 24 + *hh) * 60 + *mi) * 60 * 1000000000LL + *ss * 1000000000LL + frac;
}

// Scan width from line flybacks: gaps longer than the median gap by more than 1 us, exactly
// after frames W-1, 2W-1, ... of the present frames, with W dividing `expected`
// (docs section 7; rosettasciio's "first gap above the mean" reads 10 ns jitter as a flyback).
std::int64_t scan_width_from_times(const std::vector<std::int64_t>& t, std::int64_t expected) {
  const std::size_t n = t.size();
  if (n < 3) return 0;
  std::vector<std::int64_t> gaps(n - 1);
  for (std::size_t i = 0; i + 1 < n; ++i) {
    gaps[i] = t[i + 1] - t[i];
    if (gaps[i] <= 0) return 0;  // clock not monotonic: no hint
  }
  std::vector<std::int64_t> sorted = gaps;
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(sorted.size() / 2), sorted.end());
  const std::int64_t median = sorted[sorted.size() / 2];
  std::int64_t width = 0;
  for (std::size_t i = 0; i < gaps.size(); ++i)
    if (gaps[i] > median + 1000) {
      width = static_cast<std::int64_t>(i) + 1;
      break;
    }
  if (width < 2 || width >= expected || expected % width != 0) return 0;
  for (std::size_t i = 0; i < gaps.size(); ++i) {
    const bool is_long = gaps[i] > median + 1000;
    const bool line_end = (static_cast<std::int64_t>(i) + 1) % width == 0;
    if (is_long != line_end) return 0;
  }
  return width;
}

// --- .hdr ---

struct HdrFile {
  std::string path;
  std::vector<std::pair<std::string, std::string>> entries;  // key (without " (...)" and ':'), value
  const std::string* find(const std::string& key) const {
    for (const auto& [k, v] : entries)
      if (k == key) return &v;
    return nullptr;
  }
};

// Reads a Merlin .hdr: first line "HDR,", then "Key:<TAB>Value" lines up to "End".
// Returns nullopt (and sets `problem`) if the file is not such a header.
std::optional<HdrFile> read_hdr(const std::string& path, std::string& problem) {
  BinaryFile f(path);
  if (f.size() > (1u << 20)) {
    problem = "is " + std::to_string(f.size()) + " bytes, too large for a Merlin .hdr (2048 bytes)";
    return std::nullopt;
  }
  std::string text(static_cast<std::size_t>(f.size()), '\0');
  f.read_at(0, text.size(), text.data());
  if (text.rfind("HDR", 0) != 0) {
    problem = "does not start with HDR, (not a Merlin acquisition header)";
    return std::nullopt;
  }
  HdrFile h;
  h.path = path;
  std::size_t pos = text.find('\n');
  while (pos != std::string::npos && pos + 1 < text.size()) {
    std::size_t end = text.find('\n', pos + 1);
    std::string_view line(text.data() + pos + 1, (end == std::string::npos ? text.size() : end) - pos - 1);
    pos = end;
    line = trim(line);
    if (line.rfind("End", 0) == 0 && (line.size() == 3 || line[3] == '\t' || line[3] == ' ')) break;
    // split at the first TAB: values hold ':' and '\' (Windows paths)
    std::size_t tab = line.find('\t');
    if (tab == std::string_view::npos) continue;
    std::string_view key = trim(line.substr(0, tab));
    if (!key.empty() && key.back() == ':') key.remove_suffix(1);
    // "Frames in Acquisition (Number)" -> "Frames in Acquisition"
    std::size_t paren = key.find(" (");
    if (paren != std::string_view::npos) key = trim(key.substr(0, paren));
    std::string value(trim(line.substr(tab + 1)));
    for (char& c : value)
      if (static_cast<unsigned char>(c) < 32) c = '?';  // e.g. a NUL in "Dead Time File"
    h.entries.emplace_back(std::string(key), std::move(value));
  }
  return h;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The file beside `path` with extension `ext` (tried as given and upper case), or "".
std::string beside(const std::string& path, const std::string& ext) {
  std::error_code ec;
  std::string upper = ext;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const std::string& e : {ext, upper}) {
    fs::path q = fs::path(path).replace_extension(e);
    if (fs::is_regular_file(q, ec)) return q.string();
  }
  return "";
}

// 8 float pixels for each byte, least significant bit first (RAW 1-bit decode).
struct BitTable {
  float v[256][8];
  BitTable() {
    for (int b = 0; b < 256; ++b)
      for (int j = 0; j < 8; ++j) v[b][j] = static_cast<float>((b >> j) & 1);
  }
};
const BitTable& bit_table() {
  static const BitTable t;
  return t;
}

class MerlinSource : public FrameSource {
public:
  MerlinSource(const std::string& named, const std::string& mib, const std::string& hdr, const ReadParams& p);
  void read_frames(std::int64_t first, std::int64_t count, float* out) override;

private:
  BinaryFile file_;
  MibHeader h0_;
  std::uint64_t stride_ = 0, data_bytes_ = 0;
  std::int64_t in_file_ = 0;               // complete frames in the file
  std::int64_t out_h_ = 0, out_w_ = 0;     // returned frame shape
  bool raw_quad_ = false;
  std::vector<unsigned char> buf_;         // stored bytes of a run of frames (reused)
  std::vector<float> strip_;               // RAW quad: the decoded 1024 x 256 strip (reused)

  void check_frame(const char* p, std::int64_t frame) const;
  [[noreturn]] void disagree(const char* p, std::int64_t frame) const;
  void decode(const unsigned char* d, float* out);
  std::vector<std::int64_t> frame_times();
};

MerlinSource::MerlinSource(const std::string& named, const std::string& mib, const std::string& hdr_path,
                           const ReadParams& p)
    : file_(mib) {
  const std::string& F = file_.path();
  const std::uint64_t size = file_.size();
  if (size == 0) fail(ErrorKind::bad_input, F, "empty file (no Merlin frame)");
  // The header size is field 2; read enough for the fixed fields, then the whole header.
  char probe[64] = {};
  const std::size_t got = file_.read_some(0, sizeof probe, probe);
  if (got < 4 || std::memcmp(probe, "MQ1,", 4) != 0)
    fail(ErrorKind::bad_input, F, "frame 0 at byte 0: does not start with MQ1, (not a Merlin .mib file)");
  std::int64_t hb = 0;
  {
    std::string_view t(probe, got);
    std::size_t c1 = t.find(',', 4), c2 = c1 == std::string_view::npos ? c1 : t.find(',', c1 + 1);
    auto v = c2 == std::string_view::npos ? std::nullopt : to_int(t.substr(c1 + 1, c2 - c1 - 1));
    if (!v) fail(ErrorKind::bad_input, F, "frame 0 at byte 0: no header size in field 2 (corrupt header)");
    hb = *v;
  }
  if (hb < 64) fail(ErrorKind::bad_input, F, "frame 0 at byte 0: header size ", hb, " is too small for a Merlin header");
  if (static_cast<std::uint64_t>(hb) > size)
    fail(ErrorKind::bad_input, F, "frame 0 at byte 0: the file (", size, " bytes) ends inside the ", hb,
         "-byte header: truncated, or a corrupt header size");
  std::vector<char> hbuf(static_cast<std::size_t>(hb));
  file_.read_at(0, hbuf.size(), hbuf.data());
  h0_ = parse_header(hbuf.data(), hbuf.size(), F, 0, 0);
  if (h0_.header_bytes != hb) fail(ErrorKind::internal, F, "header size parsed twice differently");
  data_bytes_ = data_bytes_of(h0_, F);
  stride_ = static_cast<std::uint64_t>(hb) + data_bytes_;

  // Whole frames only. A tail that is the start of a frame (MQ1, or a shorter prefix of it) is
  // a frame cut short by an interrupted acquisition or copy: dropped and reported (format notes
  // section 8). Anything else after the last whole frame is corruption.
  in_file_ = static_cast<std::int64_t>(size / stride_);
  const std::uint64_t tail = size % stride_;
  std::string tail_note;
  if (tail != 0) {
    const std::uint64_t at = static_cast<std::uint64_t>(in_file_) * stride_;
    char m[4] = {};
    const std::size_t k = file_.read_some(at, std::min<std::uint64_t>(tail, 4), m);
    if (std::memcmp(m, "MQ1,", k) != 0)
      fail(ErrorKind::bad_input, F, tail, " bytes after the last complete frame (at byte ", at,
           ") are not a Merlin frame (no MQ1,); the file is corrupt or not one acquisition");
    if (in_file_ == 0)
      fail(ErrorKind::bad_input, F, "truncated: frame 0 at byte 0 has ", tail, " of ", stride_,
           " bytes (0 complete frames); the acquisition or the copy was cut short");
    tail_note = F + ": frame " + std::to_string(in_file_) + " at byte " + std::to_string(at) + " is cut short (" +
                std::to_string(tail) + " of " + std::to_string(stride_) + " bytes) and was dropped";
  }
  if (h0_.type == MibType::r64 && h0_.layout == "2x2") {
    raw_quad_ = true;
    out_h_ = 512;
    out_w_ = 512;
    strip_.resize(1024 * 256);
  } else {
    out_h_ = h0_.height;
    out_w_ = h0_.width;
  }

  DatasetInfo& I = info_;
  I.path = named;
  I.format = "merlin";
  I.dtype = h0_.type == MibType::r64 ? "1-bit"
            : h0_.type == MibType::u08 ? ">u1" : h0_.type == MibType::u16 ? ">u2" : ">u4";
  const std::string notice = F + ": ";

  // The last frame must agree with the first; its sequence number tells if frames were dropped.
  if (in_file_ > 1) {
    const std::uint64_t at = static_cast<std::uint64_t>(in_file_ - 1) * stride_;
    file_.read_at(at, hbuf.size(), hbuf.data());
    check_frame(hbuf.data(), in_file_ - 1);
    MibHeader last = parse_header(hbuf.data(), hbuf.size(), F, in_file_ - 1, at);
    if (last.depth != h0_.depth)
      fail(ErrorKind::bad_input, F, "frame ", in_file_ - 1, " at byte ", at, ": counter depth ", last.depth,
           " differs from frame 0 (", h0_.depth, "); all frames of a Merlin file must agree");
    if (last.sequence - h0_.sequence != in_file_ - 1)
      I.notes.push_back(notice + "frame sequence numbers run " + std::to_string(h0_.sequence) + ".." +
                        std::to_string(last.sequence) + " over " + std::to_string(in_file_) +
                        " frames (frames dropped by the acquisition?)");
  }
  if (!h0_.extended)
    I.notes.push_back(notice + "frame headers have no MQ1A extension (old Merlin software); counter depth "
                      "taken from the pixel type");

  // .hdr
  std::optional<HdrFile> hdr;
  if (!hdr_path.empty()) {
    std::string problem;
    hdr = read_hdr(hdr_path, problem);
    if (!hdr) {
      if (hdr_path == named) fail(ErrorKind::bad_input, hdr_path, problem);
      I.notes.push_back(hdr_path + ": " + problem + "; ignored");
    }
  }
  std::int64_t hdr_frames = 0;  // 0 = unknown (open-ended acquisitions write 0)
  Shape2 hdr_scan;
  if (hdr) {
    if (const std::string* v = hdr->find("Frames in Acquisition"))
      if (auto n = to_int(*v)) hdr_frames = *n;
    const std::string *sx = hdr->find("ScanX"), *sy = hdr->find("ScanY");
    if (sx && sy) {
      auto x = to_int(*sx), y = to_int(*sy);
      if (x && y && *x > 0 && *y > 0) hdr_scan = Shape2{*y, *x};
      else I.notes.push_back(hdr->path + ": ScanX/ScanY (" + *sx + ", " + *sy + ") are not positive numbers; ignored");
    }
  }

  // Scan shape: the user's, else ScanY x ScanX of the .hdr, else line flybacks in the frame
  // times (if allowed), else one row. The .hdr frame count, if larger than the file's, is the
  // planned acquisition (interrupted: the missing frames read as 0).
  const std::int64_t expected = std::max(in_file_, hdr_frames);
  std::string scan_source;
  Shape2 scan;
  if (!p.scan_shape.empty()) {
    if (p.scan_shape.y <= 0 || p.scan_shape.x <= 0)
      fail(ErrorKind::bad_parameter, "", "read.scan_shape = ", to_string(p.scan_shape), ": must be positive");
    scan = p.scan_shape;
    scan_source = "read.scan_shape";
  } else if (!hdr_scan.empty()) {
    scan = hdr_scan;
    scan_source = ".hdr ScanY x ScanX";
  } else {
    std::int64_t width = 0;
    if (p.merlin_scan_from_timestamps && in_file_ >= 3) width = scan_width_from_times(frame_times(), expected);
    if (width > 0) {
      scan = Shape2{expected / width, width};
      scan_source = "frame times (line flyback)";
      I.notes.push_back(notice + "scan shape " + to_string(scan) + " inferred from the frame times (a longer gap after every " +
                        std::to_string(width) + " frames: line flyback); give --read.scan_shape to override");
    } else {
      scan = Shape2{1, expected};
      scan_source = "none (one row)";
      if (expected > 1)
        I.notes.push_back(notice + "no scan shape in the .hdr (ScanX/ScanY)" +
                        std::string(p.merlin_scan_from_timestamps ? " or the frame times" : "") + "; read as one row of " +
                        std::to_string(expected) + " frames; give --read.scan_shape ROWSxCOLS");
    }
  }
  if (!tail_note.empty()) I.notes.push_back(tail_note);
  std::int64_t n_scan = scan.y * scan.x;
  if (in_file_ < n_scan && !p.pad_missing) {
    // interrupted acquisition: keep the complete scan rows (all frames as one row if not one
    // row is complete); zero-filling only when asked for (read.pad_missing)
    const Shape2 planned = scan;
    scan = in_file_ >= scan.x ? Shape2{in_file_ / scan.x, scan.x} : Shape2{1, in_file_};
    I.notes.push_back(notice + std::to_string(in_file_) + " of " + std::to_string(n_scan) + " frames of the " +
                      to_string(planned) + " scan present (interrupted acquisition); reading the complete " +
                      to_string(scan) + (scan.y * scan.x < in_file_
                                             ? ", dropping the last " + std::to_string(in_file_ - scan.y * scan.x)
                                             : std::string()) +
                      "; --read.pad_missing true keeps the scan shape with missing frames as 0");
    n_scan = scan.y * scan.x;
  }
  I.frames_present = std::min(in_file_, n_scan);
  if (in_file_ < n_scan)
    I.notes.push_back(notice + std::to_string(in_file_) + " of " + std::to_string(n_scan) +
                      " frames present (interrupted acquisition); missing frames read as 0 (read.pad_missing)");
  else if (in_file_ > n_scan)
    I.notes.push_back(notice + std::to_string(in_file_) + " frames in the file; the " + to_string(scan) +
                      " scan uses the first " + std::to_string(n_scan));
  if (hdr_frames > 0 && hdr_frames != in_file_ && hdr_frames != n_scan)
    I.notes.push_back(notice + "the .hdr announces " + std::to_string(hdr_frames) + " frames; the file holds " +
                      std::to_string(in_file_));
  I.shape = Shape4{scan.y, scan.x, out_h_, out_w_};

  auto& M = I.metadata;
  const std::string depth = h0_.depth > 0 ? std::to_string(h0_.depth)
                            : h0_.type == MibType::u16 ? "12" : h0_.type == MibType::u32 ? "24" : "6 or 1 (not given)";
  M.emplace_back("counter_depth", depth);
  M.emplace_back("pixel_type", h0_.type_name);
  M.emplace_back("raw_mode", h0_.type == MibType::r64 ? "yes (R64, decoded)" : "no");
  M.emplace_back("chips", std::to_string(h0_.chips));
  M.emplace_back("chip_layout", h0_.layout);
  M.emplace_back("chip_select", h0_.chip_select);
  if (!h0_.chip_types.empty()) {
    std::string t;
    for (const auto& c : h0_.chip_types) t += (t.empty() ? "" : ",") + c;
    M.emplace_back("chip_types", t);
  }
  M.emplace_back("stored_frame", std::to_string(h0_.width) + " x " + std::to_string(h0_.height) + " (width x height)" +
                                     (raw_quad_ ? ", assembled to 512 x 512" : ""));
  M.emplace_back("header_bytes", std::to_string(h0_.header_bytes));
  M.emplace_back("frame_bytes", std::to_string(stride_));
  M.emplace_back("frames_in_file", std::to_string(in_file_));
  M.emplace_back("exposure_s", h0_.exposure_s);
  if (!h0_.exposure_ns.empty()) M.emplace_back("exposure_ns", h0_.exposure_ns);
  if (!h0_.thresholds.empty()) {
    std::string t;
    for (const auto& s : h0_.thresholds) t += (t.empty() ? "" : ",") + s;
    M.emplace_back("thresholds_keV", t);
  }
  M.emplace_back("counter", h0_.counter);
  M.emplace_back("colour_mode", h0_.colour_mode);
  M.emplace_back("gain_mode", h0_.gain_mode);
  M.emplace_back("start_time_local", h0_.time_local);
  if (!h0_.time_utc.empty()) M.emplace_back("start_time_utc", h0_.time_utc);
  M.emplace_back("scan_shape_source", scan_source);
  M.emplace_back("mib_file", F);
  M.emplace_back("hdr_file", hdr ? hdr->path : "none");
  if (hdr)
    for (const auto& [k, v] : hdr->entries) M.emplace_back("hdr." + k, v);
}

// Frames agree: "MQ1," and the same fields 2..8 as frame 0 (sequence numbers may widen).
void MerlinSource::check_frame(const char* p, std::int64_t frame) const {
  if (std::memcmp(p, "MQ1,", 4) != 0) disagree(p, frame);
  const char* c = static_cast<const char*>(std::memchr(p + 4, ',', 16));
  if (!c || static_cast<std::size_t>(c + 1 - p) + h0_.fixed.size() > static_cast<std::size_t>(h0_.header_bytes) ||
      std::memcmp(c + 1, h0_.fixed.data(), h0_.fixed.size()) != 0)
    disagree(p, frame);
}

// One-line error for a frame that fails check_frame.
void MerlinSource::disagree(const char* p, std::int64_t frame) const {
  const std::uint64_t at = static_cast<std::uint64_t>(frame) * stride_;
  const std::string& F = file_.path();
  MibHeader h = parse_header(p, static_cast<std::size_t>(h0_.header_bytes), F, frame, at);
  auto differ = [&](const char* what, const auto& a, const auto& b) {
    if (a != b)
      fail(ErrorKind::bad_input, F, "frame ", frame, " at byte ", at, ": ", what, " ", a, " differs from frame 0 (", b,
           "); all frames of a Merlin file must agree");
  };
  differ("header size", h.header_bytes, h0_.header_bytes);
  differ("width", h.width, h0_.width);
  differ("height", h.height, h0_.height);
  differ("pixel type", h.type_name, h0_.type_name);
  differ("number of chips", h.chips, h0_.chips);
  differ("chip layout", h.layout, h0_.layout);
  differ("chip select", h.chip_select, h0_.chip_select);
  fail(ErrorKind::bad_input, F, "frame ", frame, " at byte ", at,
       ": header fields 2-8 are written differently from frame 0; all frames of a Merlin file must agree");
}

// Frame start times in ns (MQ1A UTC if present, else the local time field), checking each header.
std::vector<std::int64_t> MerlinSource::frame_times() {
  std::vector<std::int64_t> t;
  std::vector<char> h(static_cast<std::size_t>(h0_.header_bytes));
  t.reserve(static_cast<std::size_t>(in_file_));
  for (std::int64_t k = 0; k < in_file_; ++k) {
    const std::uint64_t at = static_cast<std::uint64_t>(k) * stride_;
    file_.read_at(at, h.size(), h.data());
    check_frame(h.data(), k);
    MibHeader hk = parse_header(h.data(), h.size(), file_.path(), k, at);
    auto ns = parse_time_ns(hk.extended ? hk.time_utc : hk.time_local);
    if (!ns) return {};
    t.push_back(*ns);
  }
  return t;
}

// Stored big-endian value -> host value.
template <typename T> inline T from_be(T v) {
  if constexpr (sizeof(T) == 1 || std::endian::native == std::endian::big) return v;
  else if constexpr (sizeof(T) == 2) return __builtin_bswap16(v);
  else return __builtin_bswap32(v);
}

// n big-endian values -> float32. 8- and 16-bit values go in fixed runs of 16 through a
// signed conversion, which GCC vectorizes at -O2 (about 2.5x the plain loop); 32-bit values
// stay scalar (SSE2 has no unsigned 32-bit -> float conversion).
template <typename T> void be_to_float(const unsigned char* d, std::size_t n, float* out) {
  std::size_t j = 0;
  if constexpr (sizeof(T) < 4) {
    constexpr std::size_t B = 16;
    for (; j + B <= n; j += B) {
      T v[B];
      std::memcpy(v, d + j * sizeof(T), sizeof v);
      for (std::size_t i = 0; i < B; ++i) out[j + i] = static_cast<float>(static_cast<std::int32_t>(from_be(v[i])));
    }
  }
  for (; j < n; ++j) {
    T v;
    std::memcpy(&v, d + j * sizeof(T), sizeof(T));
    out[j] = static_cast<float>(from_be(v));
  }
}

void MerlinSource::decode(const unsigned char* d, float* out) {
  const std::size_t n = static_cast<std::size_t>(h0_.width * h0_.height);
  switch (h0_.type) {
  case MibType::u08: be_to_float<std::uint8_t>(d, n, out); break;
  case MibType::u16: be_to_float<std::uint16_t>(d, n, out); break;
  case MibType::u32: be_to_float<std::uint32_t>(d, n, out); break;
  case MibType::r64: {
    // Pixel 64w + 8k + i is bit i of byte k counted from the least significant end of the
    // big-endian word w, i.e. of stored byte 8w + 7 - k.
    const BitTable& lut = bit_table();
    float* dst = raw_quad_ ? strip_.data() : out;
    const std::size_t words = n / 64;
    for (std::size_t w = 0; w < words; ++w)
      for (std::size_t k = 0; k < 8; ++k) std::memcpy(dst + 64 * w + 8 * k, lut.v[d[8 * w + 7 - k]], 8 * sizeof(float));
    if (raw_quad_) {
      // strip columns A 0-255, B 256-511, C 512-767, D 768-1023 -> D C / rot180(B) rot180(A)
      const float* s = strip_.data();
      for (std::size_t y = 0; y < 256; ++y) {
        float* top = out + y * 512;
        std::memcpy(top, s + y * 1024 + 768, 256 * sizeof(float));
        std::memcpy(top + 256, s + y * 1024 + 512, 256 * sizeof(float));
        float* bottom = out + (256 + y) * 512;
        const float* src_row = s + (255 - y) * 1024;
        for (std::size_t x = 0; x < 256; ++x) {
          bottom[x] = src_row[256 + 255 - x];
          bottom[256 + x] = src_row[255 - x];
        }
      }
    }
    break;
  }
  }
}

void MerlinSource::read_frames(std::int64_t first, std::int64_t count, float* out) {
  const std::int64_t total = info_.shape.n_frames();
  if (first < 0 || count < 0 || first + count > total)
    fail(ErrorKind::internal, file_.path(), "frames ", first, "..", first + count, " requested of ", total);
  const std::int64_t fp = info_.shape.frame_pixels();
  const std::int64_t present_end = std::min(first + count, info_.frames_present);
  // Runs of whole frames, one pread each; 64 MiB keeps the scratch small beside the float block.
  const std::int64_t run = std::max<std::int64_t>(1, static_cast<std::int64_t>((std::uint64_t(64) << 20) / stride_));
  for (std::int64_t k0 = first; k0 < present_end; k0 += run) {
    const std::int64_t m = std::min(run, present_end - k0);
    const std::size_t bytes = static_cast<std::size_t>(m) * stride_;
    if (buf_.size() < bytes) buf_.resize(bytes);
    file_.read_at(static_cast<std::uint64_t>(k0) * stride_, bytes, buf_.data());
    auto one = [&](std::int64_t i) {
      const unsigned char* fr = buf_.data() + static_cast<std::size_t>(i) * stride_;
      check_frame(reinterpret_cast<const char*>(fr), k0 + i);
      decode(fr + h0_.header_bytes, out + (k0 + i - first) * fp);
    };
    // frames decode independently, so in parallel (the output does not depend on the split);
    // RAW quad frames share the strip scratch and are decoded one after another
    if (raw_quad_) {
      for (std::int64_t i = 0; i < m; ++i) one(i);
    } else {
      tbb::parallel_for(std::int64_t(0), m, one);
    }
  }
  // frames the interrupted acquisition never wrote
  const std::int64_t done = std::max<std::int64_t>(0, present_end - first);
  if (done < count) std::fill(out + done * fp, out + count * fp, 0.0f);
}

} // namespace

std::unique_ptr<FrameSource> open_merlin(const std::string& path, const ReadParams& p) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(ErrorKind::bad_input, path, "no such file");
  std::string mib = path, hdr;
  if (lower(fs::path(path).extension().string()) == ".hdr") {
    hdr = path;
    mib = beside(path, ".mib");
    if (mib.empty())
      fail(ErrorKind::bad_input, path, "no ", fs::path(path).replace_extension(".mib").filename().string(),
           " beside this .hdr (the frames are in the .mib)");
  } else {
    hdr = beside(path, ".hdr");
  }
  return std::make_unique<MerlinSource>(path, mib, hdr, p);
}

} // namespace domainmap::io
