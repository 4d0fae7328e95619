// lib/io/dectris.cpp: Dectris ARINA / EIGER NeXus master files (docs/formats/dectris.md).
//
// <base>_master.h5 holds the metadata and, in /entry/data, one link data_NNNNNN per data file
// (normally external: <base>_data_NNNNNN.h5:/entry/data/data, [n, rows, cols] uint16/uint32,
// one frame per chunk, bitshuffle-LZ4). Frames follow the link names in order; image_nr_low/high
// (1-based, inclusive) must continue without gaps. The master does not store the scan shape: it
// comes from --read.scan_shape or the companion <base>.h5 ('STEM Metadata' NumPixelsY rows,
// NumPixelsX columns). pixel_mask bits 0..15 reject a pixel (NeXus NXdetector); those pixels
// read as 0 when ReadParams::apply_mask.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "../core/h5util.hpp"
#include "domainmap/error.hpp"
#include "hdf5_stack.hpp"
#include "readers.hpp"

namespace domainmap::io {

namespace {

namespace fs = std::filesystem;

bool is_data_link_name(const std::string& n) {
  if (n.size() != 11 || n.rfind("data_", 0) != 0) return false;
  for (std::size_t i = 5; i < n.size(); ++i)
    if (n[i] < '0' || n[i] > '9') return false;
  return true;
}

std::vector<std::string> link_names(hid_t group, bool (*keep)(const std::string&)) {
  struct State {
    bool (*keep)(const std::string&);
    std::vector<std::string> names;
  } st{keep, {}};
  hsize_t idx = 0;
  auto cb = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
    auto* s = static_cast<State*>(data);
    if (s->keep(name)) s->names.emplace_back(name);
    return 0;
  };
  H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &idx, cb, &st);
  H5Eclear2(H5E_DEFAULT);
  return st.names;
}

// "pixel_mask" or "pixel_mask_N" (extra masks, combined with OR).
bool is_mask_name(const std::string& n) {
  if (n == "pixel_mask") return true;
  if (n.size() <= 11 || n.rfind("pixel_mask_", 0) != 0) return false;
  for (std::size_t i = 11; i < n.size(); ++i)
    if (n[i] < '0' || n[i] > '9') return false;
  return true;
}

// Shortest text that reads back to the same value; a double that holds a float32 (many Dectris
// fields were float32 before being stored as float64) prints as that float: 9.95e-05, not
// 9.950000094e-05.
std::string number_text(double v) {
  char buf[64];
  const float f = static_cast<float>(v);
  auto r = (std::isfinite(v) && static_cast<double>(f) == v) ? std::to_chars(buf, buf + sizeof buf, f, std::chars_format::general)
                                                             : std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general);
  std::string out(buf, r.ptr);
  if (out.size() > 12) {  // 9.960000094249845e-05: a float32 rounded twice; 7 digits say it
    std::snprintf(buf, sizeof buf, "%.7g", v);
    out = buf;
  }
  return out;
}

// A scalar dataset of `group` as text: numbers (with their units attribute) or strings
// (fixed-length NUL-terminated in Dectris files). nullopt if absent or not scalar-like.
std::optional<std::string> scalar_text(hid_t group, const std::string& name) {
  if (H5Lexists(group, name.c_str(), H5P_DEFAULT) <= 0 || H5Oexists_by_name(group, name.c_str(), H5P_DEFAULT) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  h5::Handle d(H5Dopen2(group, name.c_str(), H5P_DEFAULT));
  if (!d.valid()) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  h5::Handle t(H5Dget_type(d));
  h5::Handle space(H5Dget_space(d));
  if (H5Sget_simple_extent_npoints(space) != 1) return std::nullopt;
  try {
    if (H5Tget_class(t) == H5T_STRING) return h5::read_string_dataset(d, name);
    auto v = h5::read_doubles(d, name);
    if (v.empty()) return std::nullopt;
    std::string s = number_text(v[0]);
    if (auto u = h5::read_string_attr(d, "units"); u && !u->empty()) s += " " + *u;
    return s;
  } catch (const Error&) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
}

std::optional<double> scalar_number(hid_t group, const std::string& name) {
  if (H5Lexists(group, name.c_str(), H5P_DEFAULT) <= 0) return std::nullopt;
  h5::Handle d(H5Dopen2(group, name.c_str(), H5P_DEFAULT));
  if (!d.valid()) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  h5::Handle t(H5Dget_type(d));
  if (H5Tget_class(t) != H5T_INTEGER && H5Tget_class(t) != H5T_FLOAT) return std::nullopt;
  try {
    auto v = h5::read_doubles(d, name);
    if (v.empty()) return std::nullopt;
    return v[0];
  } catch (const Error&) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
}

// Where HDF5 1.10 looks for the target of an external link with a relative name:
// HDF5_EXT_PREFIX (':'-separated), then the folder of the file holding the link, then the
// working directory. Returns "" if none exists.
std::string resolve_link_target(const std::string& target, const std::string& master) {
  std::error_code ec;
  std::vector<fs::path> tries;
  const fs::path t(target);
  const fs::path dir = fs::path(master).parent_path();
  if (t.is_absolute()) {
    tries.push_back(t);
    tries.push_back(dir / t.filename());
  } else {
    if (const char* pre = std::getenv("HDF5_EXT_PREFIX")) {
      std::string s = pre;
      std::size_t pos = 0;
      while (pos <= s.size()) {
        std::size_t next = s.find(':', pos);
        if (next == std::string::npos) next = s.size();
        if (next > pos) tries.push_back(fs::path(s.substr(pos, next - pos)) / t);
        pos = next + 1;
      }
    }
    tries.push_back(dir.empty() ? t : dir / t);
    tries.push_back(t);
  }
  for (const fs::path& p : tries)
    if (fs::is_regular_file(p, ec)) return p.string();
  return "";
}

// The companion <base>.h5 of <base>_master.h5, "" if the name does not follow the pattern.
std::string companion_of(const std::string& master) {
  const std::string suffix = "_master.h5";
  if (master.size() > suffix.size() && master.compare(master.size() - suffix.size(), suffix.size(), suffix) == 0)
    return master.substr(0, master.size() - suffix.size()) + ".h5";
  return "";
}

struct ScanInfo {
  Shape2 shape;
  std::string source;
  std::vector<std::pair<std::string, std::string>> meta;
};

// 'STEM Metadata' of the companion file (NumPixelsY rows, NumPixelsX columns).
bool read_companion(const std::string& file, ScanInfo& out) {
  std::error_code ec;
  if (file.empty() || !fs::is_regular_file(file, ec) || !h5::is_hdf5_file(file)) return false;
  h5::Handle f(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!f.valid()) {
    H5Eclear2(H5E_DEFAULT);
    return false;
  }
  if (H5Lexists(f, "STEM Metadata", H5P_DEFAULT) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return false;
  }
  h5::Handle g(H5Oopen(f, "STEM Metadata", H5P_DEFAULT));
  if (!g.valid()) {
    H5Eclear2(H5E_DEFAULT);
    return false;
  }
  auto ny = h5::read_number_attr(g, "NumPixelsY");
  auto nx = h5::read_number_attr(g, "NumPixelsX");
  if (!ny || !nx || *ny < 1 || *nx < 1) return false;
  if (auto pre = h5::read_number_attr(g, "NumPixelsPrescan"); pre && *pre != 0)
    fail(ErrorKind::bad_input, file, "'STEM Metadata' NumPixelsPrescan = ", *pre,
         " is not supported (its frame layout is undocumented); give --read.scan_shape to read the frames as stored");
  out.shape = Shape2{static_cast<std::int64_t>(*ny), static_cast<std::int64_t>(*nx)};
  out.source = file;
  // the other attributes, for `domainmap info` (numbers of length 1, or strings)
  struct St {
    std::vector<std::pair<std::string, std::string>>* meta;
  } st{&out.meta};
  hsize_t idx = 0;
  auto cb = [](hid_t obj, const char* name, const H5A_info_t*, void* data) -> herr_t {
    auto* s = static_cast<St*>(data);
    if (auto t = h5::read_string_attr(obj, name)) s->meta->emplace_back(std::string("stem.") + name, *t);
    else {
      auto v = h5::read_numbers_attr(obj, name);
      if (v.size() == 1) s->meta->emplace_back(std::string("stem.") + name, number_text(v[0]));
    }
    return 0;
  };
  H5Aiterate2(g, H5_INDEX_NAME, H5_ITER_INC, &idx, cb, &st);
  H5Eclear2(H5E_DEFAULT);
  return true;
}

} // namespace

std::unique_ptr<FrameSource> open_dectris(const std::string& path, const ReadParams& p) {
  h5::Handle master = h5::open_file_read(path);
  h5::Handle data_group = h5::open_group(master, "/entry/data", path);
  const std::vector<std::string> names = link_names(data_group, is_data_link_name);
  if (names.empty())
    fail(ErrorKind::bad_input, path + ":/entry/data", "no data_NNNNNN links; not a Dectris master file");

  // ---- the data files, in link-name order ----
  const AxisMap axes = parse_axis_order("", 3, path);
  std::vector<StackPart> parts;
  std::vector<std::string> data_files;
  std::int64_t next = 0;
  for (const std::string& name : names) {
    const std::string link = "/entry/data/" + name;
    H5L_info_t li;
    if (H5Lget_info(data_group, name.c_str(), &li, H5P_DEFAULT) < 0)
      fail(ErrorKind::bad_input, path + ":" + link, "cannot read link: ", hdf5_error_detail());
    StackPart part;
    if (li.type == H5L_TYPE_EXTERNAL) {
      std::vector<char> buf(li.u.val_size + 1, '\0');
      const char* file = nullptr;
      const char* obj = nullptr;
      unsigned flags = 0;
      if (H5Lget_val(data_group, name.c_str(), buf.data(), li.u.val_size, H5P_DEFAULT) < 0 ||
          H5Lunpack_elink_val(buf.data(), li.u.val_size, &flags, &file, &obj) < 0 || !file || !obj)
        fail(ErrorKind::bad_input, path + ":" + link, "cannot decode external link: ", hdf5_error_detail());
      const std::string target = resolve_link_target(file, path);
      if (target.empty())
        fail(ErrorKind::bad_input, path + ":" + link, "data file ", file, " not found (looked beside the master in ",
             fs::path(path).parent_path().empty() ? std::string(".") : fs::path(path).parent_path().string(),
             "); keep the data files next to the master file");
      h5::Handle df = h5::open_file_read(target);
      part = open_stack_part(df, target, obj, axes);
      part.file = std::move(df);
      data_files.push_back(target);
    } else {
      part = open_stack_part(master, path, link, axes);
      data_files.push_back(path + ":" + link);
    }
    // image_nr_low/high: 1-based inclusive frame numbers; they must continue without gaps.
    auto low = h5::read_number_attr(part.dset, "image_nr_low");
    auto high = h5::read_number_attr(part.dset, "image_nr_high");
    if (low && static_cast<std::int64_t>(*low) != next + 1)
      fail(ErrorKind::bad_input, part.where, "image_nr_low = ", static_cast<std::int64_t>(*low), " but frame ", next + 1,
           " comes next; a data file is missing or out of order");
    if (low && high && static_cast<std::int64_t>(*high - *low + 1) != part.rows)
      fail(ErrorKind::bad_input, part.where, "holds ", part.rows, " frames but image_nr_low..high = ",
           static_cast<std::int64_t>(*low), "..", static_cast<std::int64_t>(*high), " (truncated data file?)");
    part.first = next;
    next += part.rows;
    parts.push_back(std::move(part));
  }
  const std::int64_t frames = next;

  DatasetInfo info;
  info.path = path;
  info.format = "dectris";
  info.object = "/entry/data";
  describe_storage(parts[0].dset, info);
  info.shape.det_y = parts[0].dims[1];
  info.shape.det_x = parts[0].dims[2];

  // ---- detector metadata ----
  std::int64_t expected_frames = 0;
  std::vector<std::uint32_t> mask;
  bool mask_ok = false;
  std::string det = "/entry/instrument/detector";
  if (h5::exists(master, det)) {
    h5::Handle g(H5Gopen2(master, det.c_str(), H5P_DEFAULT));
    for (const char* k : {"description", "detector_number", "sensor_material", "sensor_thickness", "beam_center_x",
                          "beam_center_y", "x_pixel_size", "y_pixel_size", "detector_distance", "count_time",
                          "frame_time", "bit_depth_image", "bit_depth_readout", "saturation_value",
                          "threshold_energy", "pixel_mask_applied", "flatfield_correction_applied",
                          "countrate_correction_applied", "virtual_pixel_correction_applied"})
      if (auto v = scalar_text(g, k)) info.metadata.emplace_back(k, *v);
    if (auto bits = scalar_number(g, "bit_depth_image")) {
      const double stored_bits = 8.0 * static_cast<double>(pixel_bytes(parse_pixel_type(info.dtype, path)));
      if (*bits != stored_bits)
        info.notes.push_back(detail::cat(path, ": bit_depth_image = ", *bits, " but the frames are stored as ", info.dtype));
    }
    const std::string ds = det + "/detectorSpecific";
    if (h5::exists(master, ds)) {
      h5::Handle s(H5Gopen2(master, ds.c_str(), H5P_DEFAULT));
      for (const char* k : {"nimages", "ntrigger", "x_pixels_in_detector", "y_pixels_in_detector", "compression",
                            "number_of_excluded_pixels", "photon_energy", "frame_count_time", "frame_period",
                            "trigger_mode", "software_version", "data_collection_date"})
        if (auto v = scalar_text(s, k)) info.metadata.emplace_back(k, *v);
      auto ni = scalar_number(s, "nimages");
      auto nt = scalar_number(s, "ntrigger");
      if (ni && nt) expected_frames = static_cast<std::int64_t>(*ni) * std::max<std::int64_t>(1, static_cast<std::int64_t>(*nt));
      // pixel_mask and any pixel_mask_N, combined with OR
      for (const std::string& mname : link_names(s, is_mask_name)) {
        h5::Handle md = h5::open_dataset(s, mname, path);
        const auto dims = h5::dataset_dims(md);
        if (dims.size() != 2 || dims[0] != info.shape.det_y || dims[1] != info.shape.det_x) {
          info.notes.push_back(detail::cat(path, ":", ds, "/", mname, ": shape does not match the frames; ignored"));
          continue;
        }
        std::vector<std::int64_t> v = h5::read_ints(md, path + ":" + ds + "/" + mname);
        if (mask.empty()) mask.assign(v.size(), 0);
        for (std::size_t i = 0; i < v.size(); ++i) mask[i] |= static_cast<std::uint32_t>(v[i]);
        mask_ok = true;
      }
      if (h5::exists(master, ds + "/flatfield")) {
        h5::Handle ff = h5::open_dataset(master, ds + "/flatfield", path);
        const auto dims = h5::dataset_dims(ff);
        if (dims.size() == 2) {
          auto v = h5::read_floats(ff, path + ":" + ds + "/flatfield");
          float lo = v.empty() ? 0 : v[0], hi = lo;
          for (float x : v) lo = std::min(lo, x), hi = std::max(hi, x);
          info.metadata.emplace_back("flatfield", detail::cat(dims[0], "x", dims[1], " min ", number_text(lo), " max ",
                                                              number_text(hi), " (not applied by the reader)"));
        }
      }
    }
  }
  info.metadata.emplace_back("data_files", std::to_string(data_files.size()));
  info.metadata.emplace_back("frames_stored", std::to_string(frames));

  // ---- scan shape ----
  ScanInfo scan;
  const std::string companion = companion_of(path);
  if (!p.scan_shape.empty()) {
    scan.shape = p.scan_shape;
    scan.source = "read.scan_shape";
  } else if (!read_companion(companion, scan)) {
    fail(ErrorKind::bad_input, path, "a Dectris master file does not store the scan shape and ",
         companion.empty() ? std::string("no companion <base>.h5") : fs::path(companion).filename().string(),
         " ('STEM Metadata') was not found; give --read.scan_shape ROWSxCOLS (", frames, " frames)");
  }
  if (p.scan_shape.empty()) {
    for (auto& kv : scan.meta) info.metadata.push_back(kv);
  }
  info.metadata.emplace_back("scan_shape_from", scan.source);
  const std::int64_t n = scan.shape.y * scan.shape.x;
  if (n == frames) {
    if (expected_frames > 0 && expected_frames != frames)
      info.notes.push_back(detail::cat(path, ": nimages x ntrigger = ", expected_frames, " but the data files hold ", frames,
                                       " frames"));
  } else if (n > frames && n == expected_frames && p.pad_missing) {
    info.notes.push_back(detail::cat(path, ": interrupted acquisition: ", frames, " of ", n,
                                     " frames stored; the missing frames read as 0 (read.pad_missing)"));
  } else if (n > frames && n == expected_frames) {
    // interrupted acquisition: keep the complete scan rows (all frames as one row if not one
    // row is complete); zero-filling only when asked for
    const Shape2 planned = scan.shape;
    scan.shape = frames >= planned.x ? Shape2{frames / planned.x, planned.x} : Shape2{1, frames};
    info.notes.push_back(detail::cat(path, ": interrupted acquisition: ", frames, " of ", n, " frames of the ",
                                     to_string(planned), " scan stored; reading the complete ", to_string(scan.shape),
                                     "; --read.pad_missing true keeps the scan shape with missing frames as 0"));
  } else {
    fail(scan.source == "read.scan_shape" ? ErrorKind::bad_parameter : ErrorKind::bad_input, path, "scan shape ",
         to_string(scan.shape), " (from ", scan.source, ") is ", n, " frames but the data files hold ", frames);
  }
  info.shape.scan_y = scan.shape.y;
  info.shape.scan_x = scan.shape.x;
  info.frames_present = std::min(frames, scan.shape.y * scan.shape.x);

  // ---- pixel mask: bits 0..15 reject (bit 31 alone marks a valid virtual pixel) ----
  std::vector<std::int64_t> zeroed;
  if (mask_ok) {
    std::vector<std::uint8_t> bad(mask.size(), 0);
    for (std::size_t i = 0; i < mask.size(); ++i)
      if (mask[i] & 0xFFFFu) {
        bad[i] = 1;
        zeroed.push_back(static_cast<std::int64_t>(i));
      }
    info.metadata.emplace_back("masked_pixels", std::to_string(zeroed.size()));
    if (!zeroed.empty()) {
      if (p.apply_mask) info.bad_pixels = std::move(bad);
      else {
        info.notes.push_back(detail::cat(path, ": pixel_mask rejects ", zeroed.size(),
                                         " pixels; not applied (read.apply_mask = false)"));
        zeroed.clear();
      }
    }
  }
  auto src = std::make_unique<H5StackSource>(std::move(info), std::move(parts), p.nan_to_zero);
  src->set_zeroed_pixels(std::move(zeroed));
  return src;
}

} // namespace domainmap::io
