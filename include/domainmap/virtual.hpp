// domainmap/virtual.hpp: virtual detector images of a 4D-STEM dataset: bright field (a disk
// around the central beam), annular dark field (a ring), and the mean and maximum diffraction
// patterns, computed in one streamed pass (two when the centre is found automatically).
//
// Masks: detector pixel (i, j) has its centre at (det_y, det_x) = (i, j); a pixel belongs to a
// disk of radius r around (cy, cx) if (i - cy)^2 + (j - cx)^2 <= r^2. The ADF ring is the disk
// of radius adf_outer minus the disk of radius adf_inner, so a BF disk of radius R and an ADF
// ring with inner radius R never share a pixel.
//
// Automatic centre (center_y, center_x < 0): the centre of mass of the central beam in the
// mean pattern. The mean pattern is smoothed (3x3 box), its brightest pixel seeds a flood fill
// of the connected pixels brighter than half-way between the background (median) and that
// peak; the disk found is grown by 2 px and its centroid, weighted by the intensity above the
// background, is the centre. This needs the mean pattern before the images, so the dataset is
// streamed twice (first pass: mean and max patterns; second pass: BF/ADF), as py4DSTEM's
// get_probe_size / get_origin do from the mean pattern.
//
// Results do not depend on the thread count or the memory budget: every image pixel is summed
// over its mask in a fixed order, and the pattern reductions accumulate each detector pixel in
// double precision over the frames in raster order.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "domainmap/context.hpp"
#include "domainmap/dataset.hpp"
#include "domainmap/params.hpp"

namespace domainmap {

/// Parameters of the `virtual` stage (INI section [virtual], flags --virtual.KEY).
struct VirtualParams {
  double bf_radius = 0;   ///< bright-field disk radius, detector px; 0 = no BF image
  double adf_inner = 0;   ///< annular dark-field inner radius, detector px (pixels at <= this distance are excluded)
  double adf_outer = 0;   ///< annular dark-field outer radius, detector px; 0 = no ADF image
  double center_y = -1;   ///< centre of the masks, detector row (px); negative = automatic (central beam of the mean pattern)
  double center_x = -1;   ///< centre of the masks, detector column (px); negative = automatic
  bool operator==(const VirtualParams&) const = default;
};
void describe(VirtualParams& p, ParamSink& s);

/// Checks p against a detector of det_y x det_x pixels; throws Error(bad_parameter)
/// "virtual.KEY = V: problem" for negative radii, adf_inner >= adf_outer, radii beyond the
/// detector diagonal, half-automatic centres or centres off the detector.
void validate(const VirtualParams& p, std::int64_t det_y, std::int64_t det_x);

/// Output of compute_virtual(). Images are C order.
struct VirtualImages {
  Shape2 scan;                  ///< [Ry, Rx]
  Shape2 detector;              ///< [Qy, Qx]
  std::vector<float> bf;        ///< [Ry, Rx] sum over the BF disk; empty if not requested
  std::vector<float> adf;       ///< [Ry, Rx] sum over the ADF ring; empty if not requested
  std::vector<float> mean_dp;   ///< [Qy, Qx] mean pattern over all scan positions
  std::vector<float> max_dp;    ///< [Qy, Qx] pixel-wise maximum over all scan positions
  double center_y = 0;          ///< mask centre used, detector px
  double center_x = 0;
  bool center_auto = false;     ///< true if the centre was found from the mean pattern
  double bf_radius = 0;         ///< radii used, px (as in VirtualParams)
  double adf_inner = 0;
  double adf_outer = 0;
  std::int64_t bf_pixels = 0;   ///< detector pixels in the BF disk
  std::int64_t adf_pixels = 0;  ///< detector pixels in the ADF ring
};

/// Streams `src` (BlockStream under ctx.memory_budget, positions of a block in parallel with
/// TBB, ctx.threads workers) and computes the requested images and both patterns.
/// Progress: ctx.report("virtual", done, total). Throws bad_parameter (see validate()).
VirtualImages compute_virtual(FrameSource& src, const VirtualParams& p, RunContext& ctx);

/// Centre of mass of the central beam of a pattern (see the file comment); returns
/// {det_y, det_x}. Throws Error(bad_input) if the pattern is empty or has no bright region.
std::pair<double, double> find_central_beam(const std::vector<float>& pattern, std::int64_t det_y,
                                            std::int64_t det_x);

/// Writes the images to an HDF5 file: /virtual/bf, /virtual/adf (those computed),
/// /virtual/mean_dp, /virtual/max_dp as float32 with their radii and centre as attributes,
/// /scan attrs scan_shape and detector_shape, root attrs domainmap_version, format_version,
/// created (ISO 8601, UTC) and input, and `config` ("stage.key", value) pairs as /config
/// attributes. Written to a temporary name and renamed when complete.
void write_virtual_h5(const VirtualImages& v, const std::string& path, const std::string& input,
                      const std::vector<std::pair<std::string, std::string>>& config = {});

} // namespace domainmap
