// lib/simulate/truth_file.cpp: the ground-truth HDF5 file and simulate_to_files().
#include <cstdint>
#include <string>
#include <vector>

#include "../core/h5util.hpp"
#include "domainmap/error.hpp"
#include "domainmap/simulate.hpp"
#include "domainmap/write.hpp"

namespace domainmap {

namespace {

void write_disks(hid_t parent, const char* name, const SimDisks& d, const std::string& where) {
  h5::Handle g = h5::require_group(parent, name, where);
  const auto n = static_cast<std::int64_t>(d.size());
  h5::write_uint64s(g, "offsets", {static_cast<std::int64_t>(d.offsets.size())}, d.offsets.data());
  h5::write_floats(g, "qy", {n}, d.qy.data());
  h5::write_floats(g, "qx", {n}, d.qx.data());
  h5::write_floats(g, "intensity", {n}, d.intensity.data());
  h5::write_int32s(g, "h", {n}, d.h.data());
  h5::write_int32s(g, "k", {n}, d.k.data());
}

// Writes the /truth group into a new file at `file` (no temporary name here).
void write_truth_file(const SimTruth& t, const SimParams& p, const std::string& file, const std::string& where) {
  h5::Handle f = h5::create_file(file);
  h5::Handle g = h5::require_group(f, "/truth", where);
  const std::vector<std::int64_t> map{t.scan.y, t.scan.x};
  h5::write_int32s(g, "labels", map, t.labels.data());
  h5::write_int32s(g, "phase", map, t.phase.data());
  h5::write_floats(g, "angle_deg", map, t.angle_deg.data());
  h5::write_floats(g, "origin_qy", map, t.origin_qy.data());
  h5::write_floats(g, "origin_qx", map, t.origin_qx.data());
  write_disks(g, "disks", t.disks, where);
  write_disks(g, "edge_disks", t.edge_disks, where);

  {
    h5::Handle gg = h5::require_group(g, "grains", where);
    const auto n = static_cast<std::int64_t>(t.grains.size());
    std::vector<std::int32_t> material, phase, sy, sx;
    std::vector<float> angle;
    for (const SimGrain& gr : t.grains) {
      material.push_back(static_cast<std::int32_t>(gr.material));
      phase.push_back(gr.phase);
      angle.push_back(static_cast<float>(gr.angle_deg));
      sy.push_back(static_cast<std::int32_t>(gr.seed_ry));
      sx.push_back(static_cast<std::int32_t>(gr.seed_rx));
    }
    h5::write_int32s(gg, "material", {n}, material.data());
    h5::write_int32s(gg, "phase", {n}, phase.data());
    h5::write_floats(gg, "angle_deg", {n}, angle.data());
    h5::write_int32s(gg, "seed_ry", {n}, sy.data());
    h5::write_int32s(gg, "seed_rx", {n}, sx.data());
    h5::write_string_attr(gg, "material_codes", "0 crystal, 1 amorphous, 2 vacuum");
  }

  {
    h5::Handle gp = h5::require_group(g, "phases", where);
    for (std::size_t i = 0; i < t.lattices.size(); ++i) {
      h5::Handle one = h5::require_group(gp, std::to_string(i), where);
      const SimLattice& L = t.lattices[i];
      h5::write_string_attr(one, "name", i < t.phase_names.size() ? t.phase_names[i] : "");
      h5::write_string_attr(one, "lattice", p.phases[i].lattice);
      h5::write_int_attr(one, "symmetry_n", L.symmetry_n);
      h5::write_string_attr(one, "symmetry", "C" + std::to_string(L.symmetry_n));
      h5::write_doubles_attr(one, "g1", {L.g1.qy, L.g1.qx});
      h5::write_doubles_attr(one, "g2", {L.g2.qy, L.g2.qx});
    }
  }

  h5::write_int32s(g, "hot_pixels", {static_cast<std::int64_t>(t.hot_pixels.size() / 2), 2}, t.hot_pixels.data());

  h5::write_ints_attr(g, "scan_shape", {t.scan.y, t.scan.x});
  h5::write_ints_attr(g, "detector_shape", {t.detector.y, t.detector.x});
  h5::write_double_attr(g, "disk_radius_px", p.disk_radius_px);
  h5::write_double_attr(g, "disk_support_px", sim_disk_support_px(p));
  h5::write_string_attr(g, "pixel_convention",
                        "pixel (i, j) has its centre at (qy, qx) = (i, j); angles turn +qx towards +qy");
  SimParams copy = p;
  ParamList list;
  list.stage("simulate", [&](ParamSink& s) { describe(copy, s); });
  for (const auto& [key, value] : list.values()) h5::write_string_attr(g, key.c_str(), value);
  if (H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) fail(ErrorKind::io, where, "cannot flush the truth file");
}

} // namespace

void write_truth(const SimTruth& t, const SimParams& p, const std::string& path) {
  const std::string tmp = temporary_name_for(path);
  try {
    write_truth_file(t, p, tmp, path);
  } catch (const Error& e) {
    discard_temporary(tmp);
    std::string m = e.what();
    // name the file the user asked for, not the temporary one
    const std::size_t at = m.find(tmp);
    if (at != std::string::npos) m.replace(at, tmp.size(), path);
    throw Error(e.kind(), m);
  }
  commit_temporary(tmp, path);
}

void simulate_to_files(const SimParams& p, const std::string& data_path, const std::string& format,
                       const std::string& truth_path, const WriteParams& w, RunContext& ctx) {
  if (format != "emd" && format != "mib" && format != "raw")
    fail(ErrorKind::bad_parameter, data_path, "format '", format, "': must be emd, mib or raw");
  if (!truth_path.empty() && truth_path == data_path)
    fail(ErrorKind::bad_parameter, data_path, "the truth file must differ from the data file");
  validate(p);
  std::string truth_tmp;
  try {
    if (!truth_path.empty()) {
      truth_tmp = temporary_name_for(truth_path);
      write_truth_file(simulate_truth(p), p, truth_tmp, truth_path);
    }
    auto src = make_simulated_source(p, ctx.threads);
    if (format == "emd") write_emd(*src, data_path, w, ctx);
    else if (format == "mib") write_mib(*src, data_path, w, ctx);
    else write_raw(*src, data_path, w, ctx);
    if (!truth_tmp.empty()) commit_temporary(truth_tmp, truth_path);
  } catch (...) {
    if (!truth_tmp.empty()) discard_temporary(truth_tmp);
    throw;
  }
  ctx.info("simulated " + std::to_string(p.scan.y * p.scan.x) + " patterns of " + to_string(p.detector) + " px, " +
           std::to_string(p.n_grains) + " grains, into " + data_path +
           (truth_path.empty() ? std::string() : " (truth: " + truth_path + ")"));
}

} // namespace domainmap
