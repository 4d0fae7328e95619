// domainmap/blockfile.hpp: the header and the virtual bright-field image of a NanoMegas ASTAR
// blockfile (.blo). The patterns themselves are read through open_dataset() (format
// "blockfile"); this header gives what open_dataset cannot: the stored VBF image and the raw
// header fields. Byte layout: docs/formats/blockfile.md of the project.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace domainmap {

/// The fixed 240-byte header (packed, little-endian) and the note that follows it.
struct BlockfileHeader {
  std::uint16_t version = 0;          ///< 0x0102 is the only value seen
  std::uint32_t vbf_offset = 0;       ///< byte offset of the VBF image (nx*ny uint8)
  std::uint32_t data_offset = 0;      ///< byte offset of the first pattern record
  std::uint32_t unknown = 0;          ///< u32 at 0x10, meaning unknown
  std::uint16_t dp_size = 0;          ///< pattern side, px (patterns are square)
  std::uint16_t dp_rotation = 0;      ///< pattern rotation, units unverified
  std::uint16_t nx = 0;               ///< scan points per row (fast axis)
  std::uint16_t ny = 0;               ///< scan rows (slow axis)
  std::uint16_t scan_rotation = 0;    ///< 1/100 degree
  double sx = 0, sy = 0;              ///< scan step along x and y, nm
  std::uint32_t beam_energy = 0;      ///< accelerating voltage, V
  std::uint16_t sdp = 0;              ///< 100 x pattern pixels per cm
  std::uint32_t camera_length = 0;    ///< raw value; probably 0.1 mm units (unverified)
  double acquisition_time = 0;        ///< days since 1899-12-30 00:00, no time zone
  std::array<double, 8> centering{};  ///< meaning unverified
  std::array<double, 14> distortion{};///< meaning unverified
  std::string note;                   ///< latin-1 text from 0xF0, cut at the first NUL

  std::int64_t record_bytes() const { return 6 + std::int64_t(dp_size) * dp_size; }
  double scan_rotation_deg() const { return scan_rotation / 100.0; }
  /// cm per pattern pixel (100 / sdp), 0 if sdp is 0.
  double pattern_pixel_cm() const { return sdp ? 100.0 / sdp : 0.0; }
};

/// Reads and checks the header: signature "IMGBLO", offsets inside the file and in order,
/// non-zero sizes, VBF before the data. Throws Error(bad_input) naming the file.
BlockfileHeader read_blockfile_header(const std::string& path);

/// The stored virtual bright-field image, ny*nx values in raster order (scan_y, scan_x), as
/// written by the acquisition software (0-255). Always the header's full ny x nx scan, also
/// when the pattern records of a truncated file cover fewer positions.
std::vector<float> read_blockfile_vbf(const std::string& path);

/// Spreadsheet serial date (days since 1899-12-30 00:00) as ISO 8601 text without a zone,
/// to the millisecond: 42339.653470046294 -> "2015-12-01T15:40:59.812". "" if out of range.
std::string serial_date_to_iso(double days);

} // namespace domainmap
