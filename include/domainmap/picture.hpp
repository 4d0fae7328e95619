// domainmap/picture.hpp: RGB pictures of scan maps for a scientist to open at once: domain
// maps, orientation maps, overlays, text and scale bars. Drawn in memory, written with
// write_png_rgb() (png.hpp).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "domainmap/params.hpp"
#include "domainmap/segment.hpp"

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
RgbImage label_picture(const std::vector<std::int32_t>& labels, Shape2 scan);
/// Orientation colours, one pixel per position: 2D in-plane angle as hue over the phase's period
/// (360 / n); 3D: inverse pole figure colour of the beam direction; not indexed: black.
RgbImage orientation_picture(const OrientationMap& map);
/// Nearest-neighbour enlargement by an integer factor (so lines can be drawn on pixel edges).
RgbImage enlarge(const RgbImage& img, int factor);
/// The factor that makes the longer side of a [Ry, Rx] map at least `min_side` px (at least 1).
int enlargement_for(Shape2 scan, int min_side = 512);
/// Text in a 3 x 5 pixel font scaled by `scale`, top-left corner at (x, y); digits, letters
/// A-Z a-z (drawn as capitals), space and . - + / % = : ( ).
void draw_text(RgbImage& img, int x, int y, const std::string& text, Rgb colour, int scale = 2);
/// Width in px of draw_text(text, scale).
int text_width(const std::string& text, int scale = 2);
/// Scale bar in the bottom-left corner with its label: a round length (1, 2 or 5 x 10^k) near a
/// fifth of the width, in nm when step_nm > 0 (pixel_size = step_nm / factor per image pixel),
/// else in scan px. `factor` is the enlargement of img relative to the scan.
void draw_scale_bar(RgbImage& img, int factor, double step_nm);

} // namespace domainmap
