// lib/io/merlin_write.cpp: write_mib, a Quantum Detectors Merlin .mib (+ .hdr) writer.
//
// Layout (docs/formats/merlin.md): frames back to back, each a 384-byte single-chip ASCII
// header ("MQ1,<seq 6>,00384,01,<width 4>,<height 4>,<U08|U16|U32>,   1x1,01,<local time>,
// <exposure s>,0,0,0,<8 thresholds>,3RX,<27 DACs>,MQ1A,<UTC ns>,<exposure>ns,<depth>,", NUL
// padded) followed by height rows of width big-endian values. Detector sizes other than
// 256 x 256 are written through the width/height fields (as signal-ROI files are). The .hdr
// beside it (2048 bytes, "Key:<TAB>Value" lines, CR LF, "End" padded with spaces) gives
// ScanX/ScanY so that the scan shape reads back.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <string_view>
#include <vector>

#include "domainmap/error.hpp"
#include "domainmap/version.hpp"
#include "domainmap/write.hpp"

namespace domainmap {
namespace {

constexpr int kHeaderBytes = 384;  // one chip

struct MibFormat {
  const char* type = "U16";   // type field
  int bytes = 2;              // bytes per pixel
  int depth = 12;             // counter depth written in the MQ1A extension
  double max = 65535;         // largest storable value
  float limit() const { return static_cast<float>(max + 1); }  // exact in float: 2, 256, 2^16, 2^32
};

const std::string* find_meta(const DatasetInfo& info, const char* key) {
  for (const auto& [k, v] : info.metadata)
    if (k == key) return &v;
  return nullptr;
}

// Stored type from WriteParams.dtype and the source: integer sources keep their width (u8 ->
// U08 depth 6, or 1 for 1-bit data; u16 -> U16 depth 12; u32 -> U32 depth 24); anything else
// (floats, signed) goes to U16 and must hold non-negative integers < 65536.
MibFormat choose_format(const DatasetInfo& info, const std::string& dtype, const std::string& path) {
  std::string d = info.dtype;
  if (!d.empty() && (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=')) d.erase(0, 1);
  const std::string* depth_meta = find_meta(info, "counter_depth");
  const bool one_bit = d == "1-bit" || (depth_meta && *depth_meta == "1");
  const MibFormat u8{"U08", 1, one_bit ? 1 : 6, one_bit ? 1.0 : 255.0};
  const MibFormat u16{"U16", 2, 12, 65535.0};
  const MibFormat u32{"U32", 4, 24, 4294967295.0};
  if (dtype == "uint8") return u8;
  if (dtype == "uint16") return u16;
  if (dtype == "uint32") return u32;
  if (dtype == "float32")
    fail(ErrorKind::bad_parameter, path, "write.dtype = float32: Merlin .mib holds integer counts; use auto, uint8, "
         "uint16 or uint32");
  if (dtype != "auto")
    fail(ErrorKind::bad_parameter, path, "write.dtype = ", dtype, ": unknown (auto, uint8, uint16, uint32)");
  if (d == "1-bit" || d == "u1" || d == "uint8") return u8;
  if (d == "u2" || d == "uint16") return u16;
  if (d == "u4" || d == "uint32") return u32;
  return u16;
}

// "4.000000E+1" as in Merlin headers and .hdr files.
std::string merlin_float(double v) {
  int e = 0;
  if (v != 0) {
    e = static_cast<int>(std::floor(std::log10(std::fabs(v))));
    if (std::fabs(v) / std::pow(10.0, e) >= 9.9999995) ++e;  // rounding to 6 decimals would give 10.000000
  }
  char b[40];
  std::snprintf(b, sizeof b, "%.6fE%c%d", v / std::pow(10.0, e), e < 0 ? '-' : '+', std::abs(e));
  return b;
}

std::vector<double> thresholds_of(const DatasetInfo& info) {
  std::vector<double> t(8, 0.0);
  if (const std::string* s = find_meta(info, "thresholds_keV")) {
    std::size_t k = 0, pos = 0;
    while (k < 8 && pos <= s->size()) {
      std::size_t c = s->find(',', pos);
      std::string part = s->substr(pos, c == std::string::npos ? std::string::npos : c - pos);
      char* end = nullptr;
      double v = std::strtod(part.c_str(), &end);
      if (end != part.c_str() && std::isfinite(v)) t[k] = v;
      ++k;
      if (c == std::string::npos) break;
      pos = c + 1;
    }
  }
  return t;
}

double exposure_of(const DatasetInfo& info) {
  if (const std::string* s = find_meta(info, "exposure_s")) {
    char* end = nullptr;
    double v = std::strtod(s->c_str(), &end);
    if (end != s->c_str() && std::isfinite(v) && v > 0 && v < 1e6) return v;
  }
  return 0.001;
}

// Local ("2021-04-15 14:43:47.008505") and UTC ("2021-04-15T13:43:47.008505401Z") times.
void format_times(std::int64_t ns_since_epoch, std::string& local, std::string& utc) {
  const std::time_t s = static_cast<std::time_t>(ns_since_epoch / 1000000000);
  const long frac = static_cast<long>(ns_since_epoch % 1000000000);
  std::tm lt{}, gt{};
  localtime_r(&s, &lt);
  gmtime_r(&s, &gt);
  char b[64];
  std::strftime(b, sizeof b, "%Y-%m-%d %H:%M:%S", &lt);
  char c[80];
  std::snprintf(c, sizeof c, "%s.%06ld", b, frac / 1000);
  local = c;
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &gt);
  std::snprintf(c, sizeof c, "%s.%09ldZ", b, frac);
  utc = c;
}

struct OutFile {
  std::string path;   // the final name (for messages)
  int fd = -1;
  ~OutFile() {
    if (fd >= 0) ::close(fd);
  }
  void open(const std::string& tmp) {
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail(ErrorKind::io, path, "cannot create: ", std::strerror(errno));
  }
  void write(const void* data, std::size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      ssize_t w = ::write(fd, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        fail(ErrorKind::io, path, "write error: ", std::strerror(errno));
      }
      p += w;
      n -= static_cast<std::size_t>(w);
    }
  }
  void close() {
    if (fd >= 0 && ::close(fd) != 0) {
      fd = -1;
      fail(ErrorKind::io, path, "write error on close: ", std::strerror(errno));
    }
    fd = -1;
  }
};

// Converts one frame to stored big-endian values; all values must be integers in [0, max].
template <typename T>
void store_frame(const float* f, std::size_t n, float limit, unsigned char* out, bool& ok) {
  bool good = true;
  for (std::size_t j = 0; j < n; ++j) {
    const float v = f[j];
    const bool in = v >= 0.0f && v < limit;
    const float c = in ? v : 0.0f;
    const auto u = static_cast<std::uint64_t>(c);
    good &= in & (static_cast<float>(u) == v);
    T t = static_cast<T>(u);
    if constexpr (sizeof(T) == 2) t = static_cast<T>(__builtin_bswap16(t));
    if constexpr (sizeof(T) == 4) t = static_cast<T>(__builtin_bswap32(t));
    std::memcpy(out + j * sizeof(T), &t, sizeof(T));
  }
  ok = good;
}

// One-line error for the first pixel of frame k that cannot be stored.
[[noreturn]] void bad_value(const float* f, std::int64_t k, const Shape4& s, const MibFormat& fm,
                            const std::string& path) {
  std::int64_t j = 0;
  for (; j < s.frame_pixels(); ++j) {
    const float v = f[j];
    if (!(v >= 0.0f && v < fm.limit() && v == std::floor(v))) break;
  }
  const float v = f[j];
  const std::int64_t ry = k / s.scan_x, rx = k % s.scan_x;
  const std::string range = fm.depth == 1 ? "0 or 1 for 1-bit" : std::string("0..") + std::to_string(static_cast<std::uint64_t>(fm.max));
  if (v >= 0.0f && v == std::floor(v))
    fail(ErrorKind::bad_input, path, "frame ", k, " at (", ry, ",", rx, ") pixel (", j / s.det_x, ",", j % s.det_x,
         "): value ", v, " does not fit ", fm.type, " (", range, ")",
         fm.bytes < 4 ? "; use --write.dtype uint32" : "");
  fail(ErrorKind::bad_input, path, "frame ", k, " at (", ry, ",", rx, ") pixel (", j / s.det_x, ",", j % s.det_x,
       "): value ", v, " is not a non-negative integer; a Merlin .mib holds counts (convert to EMD or raw instead)");
}

std::string hdr_text(const Shape4& s, std::int64_t frames, const MibFormat& fm, const std::vector<double>& thr,
                     std::int64_t start_ns) {
  std::string local, utc;
  format_times(start_ns, local, utc);
  // "Time and Date Stamp" is day first: 15/04/2021 14:44:41
  std::string stamp = local.substr(8, 2) + "/" + local.substr(5, 2) + "/" + local.substr(0, 4) + " " + local.substr(11, 8);
  std::string t;
  for (std::size_t k = 0; k < thr.size(); ++k) t += (k ? "," : "") + merlin_float(thr[k]);
  std::string dacs;
  for (int k = 0; k < 27; ++k) dacs += k ? ",000" : "000";
  const std::pair<const char*, std::string> lines[] = {
      {"Time and Date Stamp (day, mnth, yr, hr, min, s):", stamp},
      {"Chip ID:", "-, - , - , - "},
      {"Chip Type (Medipix 3.0, Medipix 3.1, Medipix 3RX):", "Medipix 3RX"},
      {"Assembly Size (NX1, 2X2):", "   1x1"},
      {"Chip Mode  (SPM, CSM, CM, CSCM):", "SPM"},
      {"Counter Depth (number):", std::to_string(fm.depth)},
      {"Gain:", "SLGM"},
      {"Active Counters:", "Counter 0"},
      {"Thresholds (keV):", t},
      {"DACs:", dacs + "; ; ; "},
      {"bpc File:", "None"},
      {"DAC File:", "None"},
      {"Gap Fill Mode:", "None"},
      {"Flat Field File:", "None"},
      {"Dead Time File:", "None"},
      {"Acquisition Type (Normal, Th_scan, Config):", "Normal"},
      {"Frames in Acquisition (Number):", std::to_string(frames)},
      {"Frames per Trigger (Number):", std::to_string(s.scan_x)},
      {"Trigger Start (Positive, Negative, Internal):", "Internal"},
      {"Trigger Stop (Positive, Negative, Internal):", "Internal"},
      {"Sensor Bias (V):", "0 V"},
      {"Sensor Polarity (Positive, Negative):", "Positive"},
      {"Temperature (C):", "Board Temp 0.000000 Deg C"},
      {"Humidity (%):", "Board Humidity 0.000000 "},
      {"Medipix Clock (MHz):", "120MHz"},
      {"Readout System:", "domainmap write_mib (converted, not a detector readout)"},
      {"Software Version:", std::string("domainmap ") + DOMAINMAP_VERSION},
      {"ScanX:", std::to_string(s.scan_x)},
      {"ScanY:", std::to_string(s.scan_y)},
  };
  std::string out = "HDR,\t\r\n";
  for (const auto& [k, v] : lines) out += std::string(k) + "\t" + v + "\r\n";
  out += "End\t";
  if (out.size() < 2048) out.append(2048 - out.size(), ' ');
  return out;
}

} // namespace

void write_mib(FrameSource& src, const std::string& path, const WriteParams& p, RunContext& ctx) {
  const Shape4 s = src.shape();
  const DatasetInfo& info = src.info();
  const MibFormat fm = choose_format(info, p.dtype, path);
  if (s.det_x > 9999 || s.det_y > 9999)
    fail(ErrorKind::bad_parameter, path, "detector ", s.det_y, " x ", s.det_x,
         " does not fit the 4-digit width/height fields of a Merlin header (at most 9999)");
  if (s.n_frames() <= 0 || s.frame_pixels() <= 0) fail(ErrorKind::bad_input, path, "nothing to write (empty dataset)");
  // An interrupted acquisition keeps its missing frames missing: the .hdr announces the whole
  // scan, the .mib holds the frames that exist.
  std::int64_t frames = info.frames_present;
  if (frames <= 0 || frames > s.n_frames()) frames = s.n_frames();

  const std::string hdr_path = std::filesystem::path(path).replace_extension(".hdr").string();
  if (hdr_path == path)
    fail(ErrorKind::bad_parameter, path, "a Merlin .mib cannot be named .hdr (the .hdr is written beside it)");
  const double exposure = exposure_of(info);
  const std::vector<double> thr = thresholds_of(info);
  std::string thr_text;
  for (double v : thr) thr_text += merlin_float(v) + ",";
  std::string dacs = "3RX,";
  for (int k = 0; k < 27; ++k) dacs += "000,";
  const std::int64_t start_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    std::chrono::system_clock::now().time_since_epoch()).count();
  const std::int64_t period_ns = static_cast<std::int64_t>(std::llround(exposure * 1e9));

  const std::size_t fp = static_cast<std::size_t>(s.frame_pixels());
  const std::size_t stride = kHeaderBytes + fp * static_cast<std::size_t>(fm.bytes);
  // output is gathered in runs of whole frames (a few MiB) and written with one write() each
  const std::size_t run = std::max<std::size_t>(1, (std::size_t(8) << 20) / stride);
  std::vector<unsigned char> out(run * stride);

  const std::string tmp = temporary_name_for(path), tmp_hdr = temporary_name_for(hdr_path);
  try {
    OutFile mib{path};
    mib.open(tmp);
    BlockStream stream(src, ctx.memory_budget);
    FrameBlock b;
    std::size_t filled = 0;
    std::int64_t done = 0;
    char head[kHeaderBytes + 64];
    std::string local, utc;
    while (done < frames && stream.next(b)) {
      check_cancel(ctx);
      const std::int64_t n = std::min(b.n_frames, frames - b.first_frame);
      for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t k = b.first_frame + i;
        unsigned char* dst = out.data() + filled * stride;
        format_times(start_ns + k * period_ns, local, utc);
        const int len = std::snprintf(head, sizeof head,
                                      "MQ1,%06lld,%05d,01,%04lld,%04lld,%s,   1x1,01,%s,%.6f,0,0,0,%s%sMQ1A,%s,%lldns,%d,",
                                      static_cast<long long>(k + 1), kHeaderBytes, static_cast<long long>(s.det_x),
                                      static_cast<long long>(s.det_y), fm.type, local.c_str(), exposure,
                                      thr_text.c_str(), dacs.c_str(), utc.c_str(), static_cast<long long>(period_ns),
                                      fm.depth);
        if (len < 0 || len >= kHeaderBytes)
          fail(ErrorKind::internal, path, "frame header of ", len, " bytes does not fit ", kHeaderBytes);
        std::memset(dst, 0, kHeaderBytes);
        std::memcpy(dst, head, static_cast<std::size_t>(len));
        bool ok = true;
        const float* f = b.frame(i);
        if (fm.bytes == 1) store_frame<std::uint8_t>(f, fp, fm.limit(), dst + kHeaderBytes, ok);
        else if (fm.bytes == 2) store_frame<std::uint16_t>(f, fp, fm.limit(), dst + kHeaderBytes, ok);
        else store_frame<std::uint32_t>(f, fp, fm.limit(), dst + kHeaderBytes, ok);
        if (!ok) bad_value(f, k, s, fm, path);
        if (++filled == run) {
          mib.write(out.data(), filled * stride);
          filled = 0;
        }
      }
      done += n;
      ctx.report("convert", done, frames);
    }
    if (filled > 0) mib.write(out.data(), filled * stride);
    mib.close();
    OutFile hdr{hdr_path};
    hdr.open(tmp_hdr);
    const std::string text = hdr_text(s, s.n_frames(), fm, thr, start_ns);
    hdr.write(text.data(), text.size());
    hdr.close();
    commit_temporary(tmp_hdr, hdr_path);
    commit_temporary(tmp, path);
  } catch (...) {
    discard_temporary(tmp);
    discard_temporary(tmp_hdr);
    throw;
  }
}

} // namespace domainmap
