// domainmap/picture.hpp: RGB pictures of scan maps for a scientist to open at once: domain
// maps, orientation maps, overlays, text and scale bars. Drawn in memory, written with
// write_png_rgb() (png.hpp).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "domainmap/params.hpp"
#include "domainmap/segment.hpp"
#include "domainmap/symmetry.hpp"

namespace domainmap {

using Rgb = std::array<std::uint8_t, 3>;

/// An 8-bit RGB image, row by row (height * width * 3 bytes).
struct RgbImage {
  int height = 0, width = 0;
  std::vector<std::uint8_t> rgb;
  RgbImage() = default;
  RgbImage(int h, int w, Rgb fill = {0, 0, 0});
  std::uint8_t* at(int y, int x) { return rgb.data() + 3 * (static_cast<std::size_t>(y) * width + x); }
};

/// Distinct colours per label (hue stepped by the golden ratio), -1 black; one pixel per position.
/// Throws Error(bad_input) if labels.size() != Ry * Rx.
RgbImage label_picture(const std::vector<std::int32_t>& labels, Shape2 scan);
/// The colour label_picture() gives `label`: HSV with hue frac(0.1 + 0.618034 label), saturation
/// 0.55 (odd labels) or 0.8, value 0.75 (label % 3 == 2) or 0.95; black for label < 0.
Rgb label_colour(std::int32_t label);
/// 2D orientation colour: hue = (angle reduced to [0, 360/n)) / (360/n), full saturation and
/// value (0 red, a third of the period green, two thirds blue); NaN black.
Rgb angle_colour(double angle_deg, int n);
/// Inverse pole figure colour of a crystal direction under `group` (its Laue class); the keys
/// are described in lib/export/picture.cpp: cubic [001] red, [101] green, [111] blue.
Rgb ipf_colour(const RotationGroup& group, const Eigen::Vector3d& v_crystal);
/// Orientation colours, one pixel per position: 2D in-plane angle as hue over the phase's period
/// (360 / n); 3D: inverse pole figure colour of the beam direction; not indexed: black.
RgbImage orientation_picture(const OrientationMap& map);
/// Fills the rectangle [y0, y1) x [x0, x1) with `colour`, clipped to the image.
void fill_box(RgbImage& img, int y0, int x0, int y1, int x1, Rgb colour);
/// Nearest-neighbour enlargement by an integer factor (so lines can be drawn on pixel edges).
RgbImage enlarge(const RgbImage& img, int factor);
/// The factor that makes the longer side of a [Ry, Rx] map at least `min_side` px (at least 1).
int enlargement_for(Shape2 scan, int min_side = 512);
/// Text in a 3 x 5 pixel font scaled by `scale`, top-left corner at (x, y); digits, letters
/// A-Z a-z (drawn as capitals), space and . - + / % = : ( ).
void draw_text(RgbImage& img, int x, int y, const std::string& text, Rgb colour, int scale = 2);
/// Width in px of draw_text(text, scale).
int text_width(const std::string& text, int scale = 2);
/// A scale bar: `length` in nm (or scan px) drawn `length_px` image px long, and its label.
struct ScaleBar {
  double length = 0;     ///< 1, 2 or 5 x 10^k (nm, or scan px: then at least 1)
  int length_px = 0;     ///< round(length / (step_nm / factor)), or length x factor in scan px
  std::string label;     ///< "200 nm" or "50 px"
};
/// The round length (1, 2 or 5 x 10^k) nearest to `target` on a log scale; 0 if target <= 0.
double scale_bar_length(double target);
/// The bar draw_scale_bar() draws on an image `width` px wide.
ScaleBar scale_bar_for(int width, int factor, double step_nm);
/// Scale bar in the bottom-left corner with its label: a round length (1, 2 or 5 x 10^k) near a
/// fifth of the width, in nm when step_nm > 0 (pixel_size = step_nm / factor per image pixel),
/// else in scan px. `factor` is the enlargement of img relative to the scan.
void draw_scale_bar(RgbImage& img, int factor, double step_nm);

} // namespace domainmap
