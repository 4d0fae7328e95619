// tests/test_picture.cpp: pictures of scan maps (picture.hpp): exact label colours, 2D hue of
// known angles, inverse pole figure colours of the sector corners, enlargement, the 3 x 5 font
// and the scale bar's length in pixels.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include <Eigen/Geometry>

#include "domainmap/error.hpp"
#include "domainmap/picture.hpp"
#include "domainmap/symmetry.hpp"

using namespace domainmap;

namespace {

Rgb pixel(const RgbImage& img, int y, int x) {
  const std::uint8_t* p = img.rgb.data() + 3 * (static_cast<std::size_t>(y) * img.width + x);
  return {p[0], p[1], p[2]};
}

// A one-position 3D map whose orientation takes crystal direction `v` to the beam (sample z).
OrientationMap beam_along(const Eigen::Vector3d& v, const std::string& symmetry) {
  OrientationMap m;
  m.scan = {1, 1};
  m.phase = {0};
  m.phases = {{"x", symmetry}};
  const Eigen::Quaterniond g = Eigen::Quaterniond::FromTwoVectors(v.normalized(), Eigen::Vector3d(0, 0, 1));
  m.quaternion = {{static_cast<float>(g.w()), static_cast<float>(g.x()), static_cast<float>(g.y()),
                   static_cast<float>(g.z())}};
  return m;
}

Rgb ipf_of(const Eigen::Vector3d& v, const std::string& symmetry) {
  return pixel(orientation_picture(beam_along(v, symmetry)), 0, 0);
}

// Longest run of pure white pixels in any row.
int longest_white_run(const RgbImage& img) {
  int best = 0;
  for (int y = 0; y < img.height; ++y) {
    int run = 0;
    for (int x = 0; x < img.width; ++x) {
      run = pixel(img, y, x) == Rgb{255, 255, 255} ? run + 1 : 0;
      best = std::max(best, run);
    }
  }
  return best;
}

} // namespace

TEST_CASE("picture: label colours are exact golden-ratio HSV steps") {
  // HSV by hand (Python colorsys gives the same): label 0 h 0.1 s 0.8 v 0.95; label 1 h 0.718034
  // s 0.55 v 0.95; label 2 h 0.336068 s 0.8 v 0.75; label 3 h 0.954102 s 0.55 v 0.95
  const RgbImage img = label_picture({0, 1, 2, 3, -1, 0}, {2, 3});
  REQUIRE(img.height == 2);
  REQUIRE(img.width == 3);
  CHECK(pixel(img, 0, 0) == Rgb{242, 165, 48});
  CHECK(pixel(img, 0, 1) == Rgb{150, 109, 242});
  CHECK(pixel(img, 0, 2) == Rgb{38, 191, 41});
  CHECK(pixel(img, 1, 0) == Rgb{242, 109, 146});
  CHECK(pixel(img, 1, 1) == Rgb{0, 0, 0});
  CHECK(pixel(img, 1, 2) == Rgb{242, 165, 48});
  CHECK(label_colour(7) == pixel(label_picture({7}, {1, 1}), 0, 0));
  CHECK_THROWS_AS(label_picture({0, 1, 2}, {2, 2}), Error);
}

TEST_CASE("picture: 2D orientation hue over the period 360/n") {
  CHECK(angle_colour(0, 6) == Rgb{255, 0, 0});
  CHECK(angle_colour(10, 6) == Rgb{255, 255, 0});   // 1/6 of 60 deg: yellow
  CHECK(angle_colour(20, 6) == Rgb{0, 255, 0});     // 1/3: green
  CHECK(angle_colour(40, 6) == Rgb{0, 0, 255});     // 2/3: blue
  CHECK(angle_colour(60, 6) == Rgb{255, 0, 0});     // the period closes the wheel
  CHECK(angle_colour(-20, 6) == Rgb{0, 0, 255});    // -20 = 40 mod 60
  CHECK(angle_colour(60, 2) == Rgb{0, 255, 0});     // period 180
  CHECK(angle_colour(std::numeric_limits<double>::quiet_NaN(), 6) == Rgb{0, 0, 0});

  OrientationMap m;
  m.scan = {1, 5};
  m.phases = {{"graphene", "C6"}, {"square", "C4"}};
  m.phase = {0, 0, 1, -1, 0};
  m.angle_deg = {20, 100, 30, 0, std::numeric_limits<float>::quiet_NaN()};
  const RgbImage img = orientation_picture(m);
  CHECK(pixel(img, 0, 0) == Rgb{0, 255, 0});   // 20 of 60
  CHECK(pixel(img, 0, 1) == Rgb{0, 0, 255});   // 100 = 40 of 60
  CHECK(pixel(img, 0, 2) == Rgb{0, 255, 0});   // C4: 30 of 90 deg, hue 1/3
  CHECK(pixel(img, 0, 3) == Rgb{0, 0, 0});     // not indexed
  CHECK(pixel(img, 0, 4) == Rgb{0, 0, 0});     // NaN angle
}

TEST_CASE("picture: cubic inverse pole figure: [001] red, [101] green, [111] blue") {
  CHECK(ipf_of({0, 0, 1}, "m-3m") == Rgb{255, 0, 0});
  CHECK(ipf_of({1, 0, 1}, "m-3m") == Rgb{0, 255, 0});
  CHECK(ipf_of({1, 1, 1}, "m-3m") == Rgb{0, 0, 255});
  // symmetric equivalents and the inversion
  CHECK(ipf_of({0, -1, 0}, "m-3m") == Rgb{255, 0, 0});
  CHECK(ipf_of({0, -1, -1}, "432") == Rgb{0, 255, 0});
  CHECK(ipf_of({-1, 1, -1}, "m-3") == Rgb{0, 0, 255});
  // in between: [102]: r = z - x = 1, g = sqrt2 (x - y) = sqrt2, b = 0 -> (180, 255, 0)
  CHECK(ipf_of({1, 0, 2}, "m-3m") == Rgb{180, 255, 0});
  // [112]: r = 1, g = 0, b = sqrt3 -> (147, 0, 255)
  CHECK(ipf_of({1, 1, 2}, "m-3m") == Rgb{147, 0, 255});
  // a rotation about the beam keeps [001] along it
  OrientationMap m = beam_along({0, 0, 1}, "m-3m");
  const Eigen::Quaterniond rz(Eigen::AngleAxisd(0.7, Eigen::Vector3d::UnitZ()));
  m.quaternion[0] = {static_cast<float>(rz.w()), 0, 0, static_cast<float>(rz.z())};
  CHECK(pixel(orientation_picture(m), 0, 0) == Rgb{255, 0, 0});
  // not indexed: black
  m.phase[0] = -1;
  CHECK(pixel(orientation_picture(m), 0, 0) == Rgb{0, 0, 0});
}

TEST_CASE("picture: inverse pole figure keys of the other Laue groups") {
  // mirror groups: triangle c red, first equator corner green, second blue
  CHECK(ipf_of({0, 0, 1}, "6/mmm") == Rgb{255, 0, 0});
  CHECK(ipf_of({1, 0, 0}, "6/mmm") == Rgb{0, 255, 0});                      // [2-1-10]
  CHECK(ipf_of({std::cos(M_PI / 6), std::sin(M_PI / 6), 0}, "6/mmm") == Rgb{0, 0, 255});  // [10-10]
  CHECK(ipf_of({0, 1, 0}, "6/mmm") == Rgb{0, 0, 255});                      // 90 deg = 30 deg by symmetry
  CHECK(ipf_of({1, 0, 0}, "mmm") == Rgb{0, 255, 0});
  CHECK(ipf_of({0, 1, 0}, "mmm") == Rgb{0, 0, 255});
  CHECK(ipf_of({0, 0, -1}, "mmm") == Rgb{255, 0, 0});
  CHECK(ipf_of({1, 1, 0}, "4/mmm") == Rgb{0, 0, 255});
  CHECK(ipf_of({0, -1, 0}, "4/mmm") == Rgb{0, 255, 0});
  // -3m in the 321 setting: the sector spans azimuths 30..90 deg (mirror lines); 45 deg from c
  // at azimuth 30: r = g = cos 45 -> yellow; at azimuth 90: r = b -> magenta
  CHECK(ipf_of({std::cos(M_PI / 6), std::sin(M_PI / 6), 1}, "-3m") == Rgb{255, 255, 0});
  CHECK(ipf_of({0, 1, 1}, "-3m") == Rgb{255, 0, 255});
  CHECK(ipf_of({0, -1, 1}, "-3m") == Rgb{255, 255, 0});  // azimuth 270 = 30 by the 3-fold
  CHECK(ipf_of({0, 0, 1}, "-3m") == Rgb{255, 0, 0});
  // hemisphere keys: c white, hue from the azimuth over 360/n
  CHECK(ipf_of({0, 0, 1}, "4/m") == Rgb{255, 255, 255});
  CHECK(ipf_of({1, 0, 0}, "4/m") == Rgb{255, 0, 0});
  CHECK(ipf_of({1, 1, 0}, "4/m") == Rgb{0, 255, 255});   // azimuth 45 of 90: hue 1/2
  CHECK(ipf_of({-1, 1, 0}, "4/m") == Rgb{0, 255, 255});  // 135 = 45 by the 4-fold
  // -1: azimuth 90 of 360 (hue 1/4), 26.57 deg from c (saturation 0.2952): (217, 255, 180)
  CHECK(ipf_of({0, 1, 2}, "-1") == Rgb{217, 255, 180});
  CHECK(ipf_of({0, -1, -2}, "-1") == Rgb{217, 255, 180});  // the inversion
}

TEST_CASE("picture: enlarge and enlargement_for") {
  RgbImage img(2, 3);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x) {
      img.at(y, x)[0] = static_cast<std::uint8_t>(10 * y + x);
      img.at(y, x)[1] = static_cast<std::uint8_t>(100 + x);
      img.at(y, x)[2] = static_cast<std::uint8_t>(200 + y);
    }
  const RgbImage big = enlarge(img, 3);
  REQUIRE(big.height == 6);
  REQUIRE(big.width == 9);
  int wrong = 0;
  for (int y = 0; y < 6; ++y)
    for (int x = 0; x < 9; ++x) wrong += pixel(big, y, x) != pixel(img, y / 3, x / 3);
  CHECK(wrong == 0);
  CHECK(enlarge(img, 1).rgb == img.rgb);
  CHECK_THROWS_AS(enlarge(img, 0), Error);
  CHECK(enlargement_for({64, 128}) == 4);
  CHECK(enlargement_for({100, 50}) == 6);   // 5.12 rounds up
  CHECK(enlargement_for({600, 10}) == 1);
  CHECK(enlargement_for({10, 10}, 100) == 10);
}

TEST_CASE("picture: 3x5 font and text width") {
  CHECK(text_width("100 nm", 2) == 46);  // 6 glyphs x 4 x 2 - 2
  CHECK(text_width("A", 1) == 3);
  CHECK(text_width("", 2) == 0);
  // ink of "HI" at scale 2 spans exactly text_width: H and I both use all three columns
  RgbImage img(12, 20);
  draw_text(img, 1, 1, "HI", {255, 255, 255}, 2);
  int x_min = 100, x_max = -1, y_min = 100, y_max = -1, ink = 0;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x)
      if (pixel(img, y, x)[0] == 255) {
        x_min = std::min(x_min, x);
        x_max = std::max(x_max, x);
        y_min = std::min(y_min, y);
        y_max = std::max(y_max, y);
        ++ink;
      }
  CHECK(x_min == 1);
  CHECK(x_max - x_min + 1 == text_width("HI", 2));
  CHECK(y_max - y_min + 1 == 10);
  CHECK(ink == (11 + 9) * 4);  // font pixels: H 2+2+3+2+2, I 3+1+1+1+3, each 2 x 2
  // the glyph of '1' at scale 1: rows 010 110 010 010 111
  RgbImage one(5, 3);
  draw_text(one, 0, 0, "1", {9, 9, 9}, 1);
  const char* expect[5] = {".#.", "##.", ".#.", ".#.", "###"};
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 3; ++x) CHECK((pixel(one, y, x)[0] == 9) == (expect[y][x] == '#'));
  // lower case is drawn as capitals
  RgbImage a(5, 8), b(5, 8);
  draw_text(a, 0, 0, "nm", {1, 1, 1}, 1);
  draw_text(b, 0, 0, "NM", {1, 1, 1}, 1);
  CHECK(a.rgb == b.rgb);
}

TEST_CASE("picture: scale bar lengths in pixels") {
  CHECK(scale_bar_length(102.4) == doctest::Approx(100));
  CHECK(scale_bar_length(3.3) == doctest::Approx(5));
  CHECK(scale_bar_length(0.7) == doctest::Approx(0.5));
  CHECK(scale_bar_length(14.8) == doctest::Approx(20));
  CHECK(scale_bar_length(0) == 0);

  // step 2 nm, factor 4: 0.5 nm per image px; a fifth of 1024 px is 102.4 nm -> 100 nm = 200 px
  ScaleBar b = scale_bar_for(1024, 4, 2.0);
  CHECK(b.length == doctest::Approx(100));
  CHECK(b.length_px == 100 / 2 * 4);
  CHECK(b.label == "100 nm");
  RgbImage img(1024, 1024, {128, 128, 128});
  draw_scale_bar(img, 4, 2.0);
  CHECK(longest_white_run(img) == 200);

  // scan px: factor 5, width 500: a fifth is 20 scan px -> 100 image px
  b = scale_bar_for(500, 5, 0);
  CHECK(b.length == doctest::Approx(20));
  CHECK(b.length_px == 100);
  CHECK(b.label == "20 px");
  RgbImage px(300, 500, {128, 128, 128});
  draw_scale_bar(px, 5, 0);
  CHECK(longest_white_run(px) == 100);

  // a step that does not divide: 0.37 nm, factor 3, width 600: 14.8 nm -> 20 nm = 162.2 px
  b = scale_bar_for(600, 3, 0.37);
  CHECK(b.length == doctest::Approx(20));
  CHECK(b.length_px == 162);
  CHECK(b.label == "20 nm");
  RgbImage odd(600, 600, {128, 128, 128});
  draw_scale_bar(odd, 3, 0.37);
  CHECK(longest_white_run(odd) == 162);
}
