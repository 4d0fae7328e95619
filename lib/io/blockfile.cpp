// lib/io/blockfile.cpp: NanoMegas ASTAR blockfile (.blo) reader.
//
// Layout (docs/formats/blockfile.md): a packed little-endian 240-byte header ("IMGBLO",
// version, VBF and data offsets, scan and pattern sizes, calibrations), a note up to the VBF,
// the VBF image (nx*ny uint8, raster order), padding, then nx*ny pattern records of
// 6 + dp_size^2 bytes: u16 magic 0x55AA, u32 record index, dp_size^2 uint8 pixels (row-major).
// Record k is scan position (k / nx, k % nx). The stored offsets are always used: data_offset
// cannot be derived from the other fields (ASTAR and HyperSpy pad differently).
#include "domainmap/blockfile.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "domainmap/error.hpp"
#include "readers.hpp"

namespace domainmap {

namespace {

constexpr std::size_t kHeaderBytes = 240;   // 0x00 .. 0xEF; the note starts at 0xF0
constexpr std::size_t kNoteOffset = 0xF0;
constexpr std::size_t kMaxNoteBytes = 1 << 16;
constexpr std::uint16_t kRecordMagic = 0x55AA;

std::uint16_t le16(const unsigned char* p) { return std::uint16_t(p[0] | (p[1] << 8)); }
std::uint32_t le32(const unsigned char* p) {
  return std::uint32_t(p[0]) | (std::uint32_t(p[1]) << 8) | (std::uint32_t(p[2]) << 16) | (std::uint32_t(p[3]) << 24);
}
double le_f64(const unsigned char* p) {
  std::uint64_t u = 0;
  for (int i = 7; i >= 0; --i) u = (u << 8) | p[i];
  double d;
  std::memcpy(&d, &u, sizeof d);
  return d;
}

// Shortest text that reads back to the same double.
std::string num(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string hex16(unsigned v) {
  static const char digits[] = "0123456789ABCDEF";
  std::string s = "0x";
  for (int shift = 12; shift >= 0; shift -= 4) s += digits[(v >> shift) & 0xF];
  return s;
}

// Latin-1 note -> UTF-8 on one line: line breaks become " | ", other control bytes are dropped.
std::string note_to_text(const std::string& raw) {
  std::string out;
  bool pending_break = false;
  for (unsigned char c : raw) {
    if (c == '\r' || c == '\n') {
      pending_break = true;
      continue;
    }
    if (c < 0x20 && c != '\t') continue;
    if (pending_break) {
      while (!out.empty() && out.back() == ' ') out.pop_back();
      if (!out.empty()) out += " | ";
      pending_break = false;
    }
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

BlockfileHeader parse_header(const io::BinaryFile& f) {
  const std::string& path = f.path();
  if (f.size() < kHeaderBytes)
    fail(ErrorKind::bad_input, path, "shorter than the 240-byte blockfile header (", f.size(), " bytes)");
  unsigned char b[kHeaderBytes];
  f.read_at(0, kHeaderBytes, b);
  if (std::memcmp(b, "IMGBLO", 6) != 0) {
    std::string sig;
    for (int i = 0; i < 6; ++i) sig += (b[i] >= 0x20 && b[i] < 0x7F) ? static_cast<char>(b[i]) : '?';
    fail(ErrorKind::bad_input, path, "not a blockfile (signature '", sig, "', expected 'IMGBLO')");
  }
  BlockfileHeader h;
  h.version = le16(b + 0x06);
  h.vbf_offset = le32(b + 0x08);
  h.data_offset = le32(b + 0x0C);
  h.unknown = le32(b + 0x10);
  h.dp_size = le16(b + 0x14);
  h.dp_rotation = le16(b + 0x16);
  h.nx = le16(b + 0x18);
  h.ny = le16(b + 0x1A);
  h.scan_rotation = le16(b + 0x1C);
  h.sx = le_f64(b + 0x1E);
  h.sy = le_f64(b + 0x26);
  h.beam_energy = le32(b + 0x2E);
  h.sdp = le16(b + 0x32);
  h.camera_length = le32(b + 0x34);
  h.acquisition_time = le_f64(b + 0x38);
  for (int i = 0; i < 8; ++i) h.centering[i] = le_f64(b + 0x40 + 8 * i);
  for (int i = 0; i < 14; ++i) h.distortion[i] = le_f64(b + 0x80 + 8 * i);

  // sizes and offsets (section 5 of the format notes)
  if (h.nx == 0 || h.ny == 0 || h.dp_size == 0)
    fail(ErrorKind::bad_input, path, "zero size in the blockfile header (scan ", h.ny, " x ", h.nx, ", patterns ",
         h.dp_size, " x ", h.dp_size, ")");
  if (h.vbf_offset < kNoteOffset)
    fail(ErrorKind::bad_input, path, "VBF offset ", h.vbf_offset, " lies inside the 240-byte header; the file is corrupt");
  if (h.vbf_offset > f.size() || h.data_offset > f.size())
    fail(ErrorKind::bad_input, path, "offsets beyond the end of the file (VBF at ", h.vbf_offset, ", data at ",
         h.data_offset, ", file ", f.size(), " bytes); the file is truncated or corrupt");
  if (h.data_offset < h.vbf_offset)
    fail(ErrorKind::bad_input, path, "offsets in the wrong order (VBF at ", h.vbf_offset, ", data at ", h.data_offset,
         "); the file is corrupt");
  const std::uint64_t n_scan = std::uint64_t(h.nx) * h.ny;
  if (h.vbf_offset + n_scan > h.data_offset)
    fail(ErrorKind::bad_input, path, "the ", n_scan, "-byte VBF at ", h.vbf_offset, " runs past the data offset ",
         h.data_offset, "; the header is inconsistent");

  // note: 0xF0 .. vbf_offset, latin-1, cut at the first NUL
  std::size_t note_bytes = std::min<std::size_t>(h.vbf_offset - kNoteOffset, kMaxNoteBytes);
  std::string raw(note_bytes, '\0');
  if (note_bytes) f.read_at(kNoteOffset, note_bytes, raw.data());
  raw.resize(std::min(raw.size(), raw.find('\0')));
  h.note = note_to_text(raw);
  return h;
}

// Howard Hinnant's civil-from-days algorithm (days since 1970-01-01 -> y, m, d).
void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2);
}

class BlockfileSource : public FrameSource {
public:
  BlockfileSource(const std::string& path, const ReadParams& p);
  void read_frames(std::int64_t first, std::int64_t count, float* out) override;
private:
  void check_record(const unsigned char* rec, std::int64_t k) const;
  io::BinaryFile file_;
  BlockfileHeader h_;
  std::int64_t record_bytes_ = 0;
  std::vector<unsigned char> scratch_;  // one block of records, reused
};

BlockfileSource::BlockfileSource(const std::string& path, const ReadParams& p) : file_(path) {
  h_ = parse_header(file_);
  record_bytes_ = h_.record_bytes();
  const std::int64_t nx = h_.nx, ny = h_.ny, n_scan = nx * ny;
  const std::uint64_t data_bytes = file_.size() - h_.data_offset;
  const std::int64_t complete = static_cast<std::int64_t>(data_bytes / std::uint64_t(record_bytes_));
  const std::int64_t partial = static_cast<std::int64_t>(data_bytes % std::uint64_t(record_bytes_));

  info_.path = path;
  info_.format = "blockfile";
  info_.dtype = "|u1";
  info_.shape = Shape4{ny, nx, h_.dp_size, h_.dp_size};
  if (complete >= n_scan) {
    const std::uint64_t extra = data_bytes - std::uint64_t(n_scan) * std::uint64_t(record_bytes_);
    if (extra > 0)
      info_.notes.push_back(detail::cat(extra, " bytes after the last of the ", n_scan, " pattern records (",
                                        complete - n_scan, " further whole records) were ignored"));
  } else {
    if (complete == 0)
      fail(ErrorKind::bad_input, path, "truncated: no complete pattern record (", data_bytes, " bytes after the data offset ",
           h_.data_offset, ", one record is ", record_bytes_, ")");
  }
  std::int64_t present = std::min(complete, n_scan);
  if (complete < n_scan && p.pad_missing) {
    // keep the scan shape; the missing records read as 0 (asked for with read.pad_missing)
    info_.notes.push_back(detail::cat("truncated acquisition: ", complete, " of ", n_scan,
                                      " pattern records complete; the missing ", n_scan - complete,
                                      " read as 0 (read.pad_missing)"));
  } else if (complete < n_scan) {
    // keep the complete scan rows; if not one row is complete, the records as one row
    const std::int64_t rows = complete / nx;
    info_.shape.scan_y = rows >= 1 ? rows : 1;
    info_.shape.scan_x = rows >= 1 ? nx : complete;
    info_.notes.push_back(detail::cat("truncated acquisition: ", complete, " of ", n_scan, " pattern records complete",
                                      partial ? detail::cat(" plus ", partial, " bytes of a partial record") : "",
                                      "; reading ", info_.shape.scan_y, " x ", info_.shape.scan_x, " of the ", ny,
                                      " x ", nx, " scan"));
  }
  if (p.scan_shape.y > 0 && p.scan_shape.x > 0 && !(p.scan_shape == Shape2{info_.shape.scan_y, info_.shape.scan_x})) {
    if (p.scan_shape.y * p.scan_shape.x > info_.shape.n_frames())
      fail(ErrorKind::bad_parameter, path, "read.scan_shape ", to_string(p.scan_shape), " needs ",
           p.scan_shape.y * p.scan_shape.x, " patterns but the file holds ", info_.shape.n_frames());
    info_.notes.push_back(detail::cat("scan shape ", to_string(p.scan_shape), " from read.scan_shape (header: ", ny,
                                      " x ", nx, ")"));
    info_.shape.scan_y = p.scan_shape.y;
    info_.shape.scan_x = p.scan_shape.x;
  }
  info_.frames_present = std::min(present, info_.shape.n_frames());

  if (h_.version != 0x0102)
    info_.notes.push_back("blockfile version " + hex16(h_.version) + " (only 0x0102 is known); read as 0x0102");

  // the first and the last record used are checked now, the others as they are read
  {
    unsigned char rec[6];
    file_.read_at(h_.data_offset, 6, rec);
    check_record(rec, 0);
    const std::int64_t last = info_.frames_present - 1;
    file_.read_at(h_.data_offset + std::uint64_t(last) * std::uint64_t(record_bytes_), 6, rec);
    check_record(rec, last);
  }

  // VBF and the padding after it
  std::vector<unsigned char> vbf(static_cast<std::size_t>(n_scan));
  file_.read_at(h_.vbf_offset, vbf.size(), vbf.data());
  {
    const std::uint64_t pad_start = h_.vbf_offset + std::uint64_t(n_scan);
    const std::size_t pad = static_cast<std::size_t>(std::min<std::uint64_t>(h_.data_offset - pad_start, 1 << 20));
    std::vector<unsigned char> gap(pad);
    if (pad) file_.read_at(pad_start, pad, gap.data());
    const auto nonzero = std::count_if(gap.begin(), gap.end(), [](unsigned char c) { return c != 0; });
    if (nonzero > 0)
      info_.notes.push_back(detail::cat(nonzero, " non-zero bytes between the VBF image and the first pattern record"));
  }
  double vsum = 0;
  unsigned vmin = 255, vmax = 0;
  for (unsigned char v : vbf) {
    vsum += v;
    vmin = std::min<unsigned>(vmin, v);
    vmax = std::max<unsigned>(vmax, v);
  }
  char mean[32];
  std::snprintf(mean, sizeof mean, "%.2f", vsum / double(n_scan));

  // calibration: the scan step is stored in nm; the pattern calibration (cm per pixel on the
  // camera) is not a reciprocal-space size, so q stays in pixels and the value goes to metadata.
  if (std::isfinite(h_.sx) && h_.sx > 0) {
    info_.calibration.r_pixel_size = h_.sx;
    info_.calibration.r_units = "nm";
    info_.calibration.known = true;
    if (h_.sy != h_.sx)
      info_.notes.push_back("scan steps differ (x " + num(h_.sx) + " nm, y " + num(h_.sy) +
                            " nm); the calibration uses x");
  }

  auto& md = info_.metadata;
  md.emplace_back("version", hex16(h_.version));
  md.emplace_back("vbf_offset", std::to_string(h_.vbf_offset));
  md.emplace_back("data_offset", std::to_string(h_.data_offset));
  md.emplace_back("records", detail::cat(std::min(complete, n_scan), " of ", n_scan, ", ", record_bytes_, " bytes each"));
  md.emplace_back("pattern_size", std::to_string(h_.dp_size));
  md.emplace_back("pattern_rotation", std::to_string(h_.dp_rotation));
  md.emplace_back("scan_shape_header", detail::cat(ny, "x", nx));
  md.emplace_back("scan_step_x_nm", num(h_.sx));
  md.emplace_back("scan_step_y_nm", num(h_.sy));
  md.emplace_back("scan_rotation_deg", num(h_.scan_rotation_deg()));
  md.emplace_back("beam_energy_V", std::to_string(h_.beam_energy));
  md.emplace_back("sdp", std::to_string(h_.sdp));
  md.emplace_back("pattern_pixel_size_cm", num(h_.pattern_pixel_cm()));
  md.emplace_back("camera_length_raw", std::to_string(h_.camera_length));
  // 0.1 mm units per rosettasciio's field comment (unverified)
  md.emplace_back("camera_length_mm", num(h_.camera_length / 10.0));
  md.emplace_back("acquisition_time", serial_date_to_iso(h_.acquisition_time));
  md.emplace_back("acquisition_time_serial", num(h_.acquisition_time));
  std::string list;
  for (double v : h_.centering) list += (list.empty() ? "[" : ", ") + num(v);
  md.emplace_back("centering", list + "]");
  list.clear();
  for (double v : h_.distortion) list += (list.empty() ? "[" : ", ") + num(v);
  md.emplace_back("distortion", list + "]");
  md.emplace_back("note", h_.note);
  md.emplace_back("vbf", detail::cat(ny, "x", nx, " uint8 at byte ", h_.vbf_offset, ": min ", vmin, ", max ", vmax,
                                     ", mean ", mean));
}

void BlockfileSource::check_record(const unsigned char* rec, std::int64_t k) const {
  const unsigned magic = le16(rec);
  if (magic != kRecordMagic)
    fail(ErrorKind::bad_input, file_.path(), "record ", k, " has magic ", hex16(magic), " (expected 0x55AA); the file is corrupt");
  const std::uint32_t index = le32(rec + 2);
  if (index != static_cast<std::uint64_t>(k))
    fail(ErrorKind::bad_input, file_.path(), "record ", k, " carries index ", index, "; the file is corrupt");
}

void BlockfileSource::read_frames(std::int64_t first, std::int64_t count, float* out) {
  if (first < 0 || count < 0 || first + count > info_.shape.n_frames())
    fail(ErrorKind::internal, file_.path(), "frames ", first, "..", first + count, " outside the ", info_.shape.n_frames(),
         " patterns");
  if (count == 0) return;
  const std::int64_t fp = info_.shape.frame_pixels();
  // frames past the last record of an interrupted acquisition read as 0 (read.pad_missing)
  const std::int64_t stored = std::max<std::int64_t>(0, std::min(count, info_.frames_present - first));
  std::fill(out + stored * fp, out + count * fp, 0.0f);
  count = stored;
  if (count == 0) return;
  const std::size_t bytes = static_cast<std::size_t>(count * record_bytes_);
  if (scratch_.size() < bytes) scratch_.resize(bytes);
  // consecutive records are one contiguous range: one pread
  file_.read_at(h_.data_offset + std::uint64_t(first) * std::uint64_t(record_bytes_), bytes, scratch_.data());
  for (std::int64_t k = 0; k < count; ++k) {
    const unsigned char* rec = scratch_.data() + k * record_bytes_;
    check_record(rec, first + k);
    const unsigned char* px = rec + 6;
    float* dst = out + k * fp;
    for (std::int64_t j = 0; j < fp; ++j) dst[j] = static_cast<float>(px[j]);
  }
}

} // namespace

BlockfileHeader read_blockfile_header(const std::string& path) {
  io::BinaryFile f(path);
  return parse_header(f);
}

std::vector<float> read_blockfile_vbf(const std::string& path) {
  io::BinaryFile f(path);
  BlockfileHeader h = parse_header(f);
  std::vector<unsigned char> raw(std::size_t(h.nx) * h.ny);
  f.read_at(h.vbf_offset, raw.size(), raw.data());
  return std::vector<float>(raw.begin(), raw.end());
}

std::string serial_date_to_iso(double days) {
  // 0 .. 9999-12-31
  if (!std::isfinite(days) || days < 0 || days > 2958466.0) return "";
  const std::int64_t ms = std::llround(days * 86400000.0);
  const std::int64_t day = ms / 86400000, msod = ms % 86400000;
  std::int64_t y;
  unsigned m, d;
  civil_from_days(day - 25569, y, m, d);  // 1899-12-30 is 25569 days before 1970-01-01
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lld", static_cast<long long>(y), m, d,
                static_cast<long long>(msod / 3600000), static_cast<long long>(msod / 60000 % 60),
                static_cast<long long>(msod / 1000 % 60), static_cast<long long>(msod % 1000));
  return buf;
}

namespace io {

std::unique_ptr<FrameSource> open_blockfile(const std::string& path, const ReadParams& p) {
  return std::make_unique<BlockfileSource>(path, p);
}

} // namespace io
} // namespace domainmap
