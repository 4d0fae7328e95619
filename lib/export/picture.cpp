// lib/export/picture.cpp: RGB pictures of scan maps. (Being written.)
#include "domainmap/error.hpp"
#include "domainmap/picture.hpp"

namespace domainmap {

RgbImage::RgbImage(int h, int w, Rgb fill) : height(h), width(w), rgb(static_cast<std::size_t>(h) * w * 3) {
  for (std::size_t i = 0; i < rgb.size(); i += 3) {
    rgb[i] = fill[0];
    rgb[i + 1] = fill[1];
    rgb[i + 2] = fill[2];
  }
}

RgbImage label_picture(const std::vector<std::int32_t>&, Shape2) { fail(ErrorKind::internal, "picture", "not built yet"); }
RgbImage orientation_picture(const OrientationMap&) { fail(ErrorKind::internal, "picture", "not built yet"); }
RgbImage enlarge(const RgbImage&, int) { fail(ErrorKind::internal, "picture", "not built yet"); }
int enlargement_for(Shape2, int) { fail(ErrorKind::internal, "picture", "not built yet"); }
void draw_text(RgbImage&, int, int, const std::string&, Rgb, int) { fail(ErrorKind::internal, "picture", "not built yet"); }
int text_width(const std::string&, int) { fail(ErrorKind::internal, "picture", "not built yet"); }
void draw_scale_bar(RgbImage&, int, double) { fail(ErrorKind::internal, "picture", "not built yet"); }

} // namespace domainmap
