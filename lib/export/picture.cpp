// lib/export/picture.cpp: RGB pictures of scan maps: label and orientation colours, nearest-
// neighbour enlargement, a 3 x 5 bitmap font and scale bars (picture.hpp).
//
// Orientation colour keys (orientation_picture):
//  * 2D mode: the in-plane angle reduced to [0, 360/n) for the phase's n-fold axis about the
//    beam is the hue (0 red, 1/3 of the period green, 2/3 blue) at full saturation and value,
//    so the colour wheel closes exactly where the angle wraps.
//  * 3D mode: an inverse pole figure (IPF-Z) key: the sample z direction (the beam) expressed in
//    the crystal frame, v = g^-1 z, is reduced by the phase's Laue group (its rotations and the
//    inversion, which diffraction adds by Friedel's law) into a fundamental sector of directions
//    and coloured by its position there:
//      - m-3m (432), and m-3 (23): the standard triangle [001]-[101]-[111] (|v| components sorted
//        so that z >= x >= y). The colour is the non-negative coefficients (r, g, b) of v in the
//        basis of the triangle's corner directions, v = r [001] + g [101]/sqrt2 + b [111]/sqrt3,
//        divided by the largest: [001] red, [101] green, [111] blue, as in the key of TSL OIM and
//        MTEX's ipfTSLKey. For m-3 the same triangle is used, so the two halves of its sector that
//        the (absent) diagonal mirror relates share colours.
//      - mmm, 4/mmm, -3m, 6/mmm (groups with 2-folds perpendicular to the principal axis c):
//        the sector is the spherical triangle between c and two equator directions W = 180/n
//        apart that lie on mirror lines (mmm [001]-[100]-[010]; 4/mmm [001]-[100]-[110];
//        6/mmm [0001]-[2-1-10]-[10-10]; -3m (321 setting) 30..90 deg from x), coloured the same
//        way: c red, the first equator corner green, the second blue. For -3m both equator
//        corners are [10-10]-type directions, which the 3-fold and the inversion relate, so the
//        key has a seam just above the equator (the equator itself is drawn from the first half).
//      - -1, 2/m, 4/m, -3, 6/m (no perpendicular 2-folds): the sector is the upper hemisphere
//        (about c) between azimuths 0 and 360/n; hue = 360 x azimuth / (360/n), saturation =
//        polar angle from c / 90 deg, value 1: c is white, the equator fully saturated, and the
//        hue closes where the n-fold axis identifies the sector's edges. (For -1 and -3, v and
//        -v on the equator are equivalent but differ in hue by 180: the one unavoidable seam.)
//    The monoclinic groups with the 2-fold along x or y use that axis as c.
// Not indexed positions (phase -1), NaN angles and unknown phase symmetries are black.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include <Eigen/Geometry>

#include "domainmap/error.hpp"
#include "domainmap/picture.hpp"
#include "domainmap/symmetry.hpp"

namespace domainmap {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kDeg = kPi / 180.0;

std::uint8_t to_byte(double v) { return static_cast<std::uint8_t>(std::lround(255 * std::clamp(v, 0.0, 1.0))); }

// HSV (h in [0, 1) of the circle, s and v in [0, 1]) to RGB bytes (Foley & van Dam, 13.3.4).
Rgb hsv(double h, double s, double v) {
  h = (h - std::floor(h)) * 6.0;
  const int sector = static_cast<int>(h) % 6;
  const double f = h - std::floor(h);
  const double p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  double r = v, g = t, b = p;
  switch (sector) {
    case 0: r = v; g = t; b = p; break;
    case 1: r = q; g = v; b = p; break;
    case 2: r = p; g = v; b = t; break;
    case 3: r = p; g = q; b = v; break;
    case 4: r = t; g = p; b = v; break;
    default: r = v; g = p; b = q; break;
  }
  return {to_byte(r), to_byte(g), to_byte(b)};
}

void put(RgbImage& img, int y, int x, Rgb c) {
  if (y < 0 || x < 0 || y >= img.height || x >= img.width) return;
  std::uint8_t* p = img.at(y, x);
  p[0] = c[0];
  p[1] = c[1];
  p[2] = c[2];
}

void fill_rect(RgbImage& img, int y0, int x0, int h, int w, Rgb c) {
  for (int y = y0; y < y0 + h; ++y)
    for (int x = x0; x < x0 + w; ++x) put(img, y, x, c);
}

// Colour of non-negative coefficients, scaled so that the largest is 255.
Rgb coefficient_colour(double r, double g, double b) {
  r = std::max(r, 0.0);
  g = std::max(g, 0.0);
  b = std::max(b, 0.0);
  const double m = std::max({r, g, b});
  if (!(m > 0)) return {0, 0, 0};
  return {to_byte(r / m), to_byte(g / m), to_byte(b / m)};
}

// The cubic standard-triangle colour of a crystal direction (see the file comment).
Rgb cubic_colour(const Eigen::Vector3d& v) {
  double a[3] = {std::abs(v.x()), std::abs(v.y()), std::abs(v.z())};
  std::sort(a, a + 3);  // a[0] <= a[1] <= a[2]: y = a[0], x = a[1], z = a[2]
  const double y = a[0], x = a[1], z = a[2];
  // v = r (0,0,1) + g (1,0,1)/sqrt2 + b (1,1,1)/sqrt3
  return coefficient_colour(z - x, std::sqrt(2.0) * (x - y), std::sqrt(3.0) * y);
}

// How the sector of a non-cubic group is laid out (see the file comment).
struct SectorKey {
  Eigen::Vector3d c{0, 0, 1}, e1{1, 0, 0}, e2{0, 1, 0};  // principal axis and the equator frame
  double width_deg = 360;   // azimuth width of the sector
  double start_deg = 0;     // azimuth of its first edge
  bool triangle = false;    // mirror group: triangle key; else hemisphere hue key
};

int rotation_order(const Eigen::Quaterniond& q) {
  const double angle = 2 * std::acos(std::min(1.0, std::abs(q.w())));
  if (angle < 1e-6) return 1;
  return static_cast<int>(std::lround(2 * kPi / angle));
}

SectorKey sector_key(const RotationGroup& g) {
  SectorKey k;
  int n = std::max(1, g.z_order);
  if (n == 1 && g.order() == 2) {  // monoclinic 2-fold along x or y: use it as c
    const Eigen::Vector3d axis = g.ops[1].vec().normalized();
    k.c = axis;
    k.e1 = std::abs(axis.x()) > 0.5 ? Eigen::Vector3d(0, 1, 0) : Eigen::Vector3d(0, 0, 1);
    k.e2 = k.c.cross(k.e1);
    n = 2;
  }
  k.width_deg = 360.0 / n;
  // 2-folds perpendicular to c make mirrors (with the inversion) and halve the sector
  for (const Eigen::Quaterniond& s : g.ops) {
    if (rotation_order(s) != 2) continue;
    const Eigen::Vector3d axis = s.vec().normalized();
    if (std::abs(axis.dot(k.c)) > 1e-6) continue;
    k.triangle = true;
    const double alpha = std::atan2(axis.dot(k.e2), axis.dot(k.e1)) / kDeg;
    const double w = 180.0 / n;
    double start = std::fmod(alpha + 90.0, w);
    if (start < 0) start += w;
    if (start > w - 1e-9) start = 0;
    k.width_deg = w;
    k.start_deg = start;
    break;
  }
  return k;
}

Rgb sector_colour(const RotationGroup& g, const SectorKey& k, const Eigen::Vector3d& v) {
  // the equivalent with c . u >= 0 and the smallest azimuth past the sector's first edge
  double best_d = 1e300, best_theta = 0;
  for (const Eigen::Quaterniond& s : g.ops) {
    const Eigen::Vector3d u0 = s * v;
    for (int sign : {1, -1}) {
      const Eigen::Vector3d u = sign * u0;
      const double cz = u.dot(k.c);
      if (cz < -1e-12) continue;
      const double ex = u.dot(k.e1), ey = u.dot(k.e2);
      double d = std::atan2(ey, ex) / kDeg - k.start_deg;
      d = std::fmod(d, 360.0);
      if (d < 0) d += 360.0;
      if (d > 360.0 - 1e-9) d = 0;
      if (d < best_d - 1e-9) {
        best_d = d;
        best_theta = std::atan2(std::hypot(ex, ey), cz);
      }
    }
  }
  if (k.triangle) {
    // v = r c + g e(start) + b e(start + W), in the plane coordinates (along c, equator)
    const double rho = std::sin(best_theta), z = std::cos(best_theta);
    const double phi = best_d * kDeg, w = k.width_deg * kDeg;
    // equator part rho (cos phi, sin phi) = g (1, 0) + b (cos w, sin w)
    const double b = rho * std::sin(phi) / std::sin(w);
    const double gg = rho * std::cos(phi) - b * std::cos(w);
    return coefficient_colour(z, gg, b);
  }
  return hsv(best_d / k.width_deg, std::clamp(best_theta / (90 * kDeg), 0.0, 1.0), 1.0);
}

// 3x5 bitmap glyphs: rows top to bottom, bit 2 = left column.
const std::uint8_t* glyph(char ch) {
  static const std::uint8_t digits[10][5] = {
      {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
      {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7}};
  static const std::uint8_t letters[26][5] = {
      {2, 5, 7, 5, 5},  // A
      {6, 5, 6, 5, 6},  // B
      {3, 4, 4, 4, 3},  // C
      {6, 5, 5, 5, 6},  // D
      {7, 4, 6, 4, 7},  // E
      {7, 4, 6, 4, 4},  // F
      {3, 4, 5, 5, 3},  // G
      {5, 5, 7, 5, 5},  // H
      {7, 2, 2, 2, 7},  // I
      {1, 1, 1, 5, 2},  // J
      {5, 5, 6, 5, 5},  // K
      {4, 4, 4, 4, 7},  // L
      {5, 7, 7, 5, 5},  // M
      {6, 5, 5, 5, 5},  // N
      {2, 5, 5, 5, 2},  // O
      {6, 5, 6, 4, 4},  // P
      {2, 5, 5, 6, 3},  // Q
      {6, 5, 6, 5, 5},  // R
      {3, 4, 2, 1, 6},  // S
      {7, 2, 2, 2, 2},  // T
      {5, 5, 5, 5, 7},  // U
      {5, 5, 5, 5, 2},  // V
      {5, 5, 7, 7, 5},  // W
      {5, 5, 2, 5, 5},  // X
      {5, 5, 2, 2, 2},  // Y
      {7, 1, 2, 4, 7},  // Z
  };
  static const std::uint8_t dot[5] = {0, 0, 0, 0, 2}, minus[5] = {0, 0, 7, 0, 0}, plus[5] = {0, 2, 7, 2, 0},
                            slash[5] = {1, 1, 2, 4, 4}, percent[5] = {5, 1, 2, 4, 5}, equals[5] = {0, 7, 0, 7, 0},
                            colon[5] = {0, 2, 0, 2, 0}, lparen[5] = {1, 2, 2, 2, 1}, rparen[5] = {4, 2, 2, 2, 4},
                            space[5] = {0, 0, 0, 0, 0}, comma[5] = {0, 0, 0, 2, 4}, underscore[5] = {0, 0, 0, 0, 7};
  if (ch >= '0' && ch <= '9') return digits[ch - '0'];
  if (ch >= 'A' && ch <= 'Z') return letters[ch - 'A'];
  if (ch >= 'a' && ch <= 'z') return letters[ch - 'a'];
  switch (ch) {
    case '.': return dot;
    case '-': return minus;
    case '+': return plus;
    case '/': return slash;
    case '%': return percent;
    case '=': return equals;
    case ':': return colon;
    case '(': return lparen;
    case ')': return rparen;
    case ',': return comma;
    case '_': return underscore;
    case ' ': return space;
    default: return nullptr;
  }
}

// "%g" without a trailing exponent for the lengths a scale bar uses.
std::string length_label(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

} // namespace

RgbImage::RgbImage(int h, int w, Rgb fill) : height(h), width(w), rgb(static_cast<std::size_t>(h) * w * 3) {
  for (std::size_t i = 0; i < rgb.size(); i += 3) {
    rgb[i] = fill[0];
    rgb[i + 1] = fill[1];
    rgb[i + 2] = fill[2];
  }
}

Rgb label_colour(std::int32_t label) {
  if (label < 0) return {0, 0, 0};
  return hsv(std::fmod(0.1 + 0.618033988749895 * label, 1.0), label % 2 ? 0.55 : 0.8, label % 3 == 2 ? 0.75 : 0.95);
}

RgbImage label_picture(const std::vector<std::int32_t>& labels, Shape2 scan) {
  if (scan.y < 0 || scan.x < 0 || static_cast<std::int64_t>(labels.size()) != scan.y * scan.x)
    fail(ErrorKind::bad_input, "label_picture", "labels hold ", labels.size(), " values for a ", scan.y, " x ",
         scan.x, " scan");
  RgbImage img(static_cast<int>(scan.y), static_cast<int>(scan.x));
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const Rgb c = label_colour(labels[i]);
    std::copy(c.begin(), c.end(), img.rgb.begin() + static_cast<std::ptrdiff_t>(3 * i));
  }
  return img;
}

Rgb angle_colour(double angle_deg, int n) {
  if (!std::isfinite(angle_deg)) return {0, 0, 0};
  n = std::max(1, n);
  return hsv(reduce_angle_2d(angle_deg, n) / (360.0 / n), 1.0, 1.0);
}

Rgb ipf_colour(const RotationGroup& group, const Eigen::Vector3d& v_crystal) {
  if (!(v_crystal.norm() > 0) || !v_crystal.allFinite()) return {0, 0, 0};
  const Eigen::Vector3d v = v_crystal.normalized();
  if (group.name == "432" || group.name == "23") return cubic_colour(v);
  return sector_colour(group, sector_key(group), v);
}

RgbImage orientation_picture(const OrientationMap& map) {
  const std::int64_t n = map.size();
  if (map.scan.y < 0 || map.scan.x < 0 || static_cast<std::int64_t>(map.phase.size()) != n)
    fail(ErrorKind::bad_input, "orientation_picture", "phase map holds ", map.phase.size(), " values for a ",
         map.scan.y, " x ", map.scan.x, " scan");
  const bool three = map.three_d();
  if (three && static_cast<std::int64_t>(map.quaternion.size()) != n)
    fail(ErrorKind::bad_input, "orientation_picture", "quaternions hold ", map.quaternion.size(), " values for ", n,
         " positions");
  if (!three && static_cast<std::int64_t>(map.angle_deg.size()) != n)
    fail(ErrorKind::bad_input, "orientation_picture", "angles hold ", map.angle_deg.size(), " values for ", n,
         " positions");
  std::vector<const RotationGroup*> groups;
  std::vector<SectorKey> keys;
  for (const PhaseInfo& ph : map.phases) {
    groups.push_back(find_rotation_group(ph.symmetry));
    keys.push_back(groups.back() ? sector_key(*groups.back()) : SectorKey{});
  }
  RgbImage img(static_cast<int>(map.scan.y), static_cast<int>(map.scan.x));
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int32_t ph = map.phase[static_cast<std::size_t>(i)];
    if (ph < 0 || ph >= static_cast<std::int32_t>(groups.size()) || !groups[ph]) continue;
    const RotationGroup& g = *groups[ph];
    Rgb c{0, 0, 0};
    if (three) {
      const auto& q = map.quaternion[static_cast<std::size_t>(i)];
      const Eigen::Quaterniond gq(q[0], q[1], q[2], q[3]);
      if (!(gq.norm() > 0) || !std::isfinite(gq.norm())) continue;
      const Eigen::Vector3d v = gq.normalized().conjugate() * Eigen::Vector3d(0, 0, 1);
      c = (g.name == "432" || g.name == "23") ? cubic_colour(v) : sector_colour(g, keys[ph], v);
    } else {
      c = angle_colour(map.angle_deg[static_cast<std::size_t>(i)], g.z_order);
    }
    std::copy(c.begin(), c.end(), img.rgb.begin() + static_cast<std::ptrdiff_t>(3 * i));
  }
  return img;
}

RgbImage enlarge(const RgbImage& img, int factor) {
  if (factor < 1) fail(ErrorKind::bad_parameter, "enlarge", "factor ", factor, " must be at least 1");
  if (factor == 1) return img;
  RgbImage out(img.height * factor, img.width * factor);
  for (int y = 0; y < out.height; ++y) {
    const std::uint8_t* src = img.rgb.data() + 3 * static_cast<std::size_t>(y / factor) * img.width;
    std::uint8_t* dst = out.at(y, 0);
    for (int x = 0; x < out.width; ++x) {
      const std::uint8_t* s = src + 3 * (x / factor);
      dst[3 * x] = s[0];
      dst[3 * x + 1] = s[1];
      dst[3 * x + 2] = s[2];
    }
  }
  return out;
}

int enlargement_for(Shape2 scan, int min_side) {
  const std::int64_t side = std::max(scan.y, scan.x);
  if (side <= 0 || min_side <= side) return 1;
  return static_cast<int>((min_side + side - 1) / side);
}

void draw_text(RgbImage& img, int x, int y, const std::string& text, Rgb colour, int scale) {
  scale = std::max(1, scale);
  for (char ch : text) {
    if (const std::uint8_t* g = glyph(ch))
      for (int r = 0; r < 5; ++r)
        for (int k = 0; k < 3; ++k)
          if (g[r] & (4 >> k)) fill_rect(img, y + r * scale, x + k * scale, scale, scale, colour);
    x += 4 * scale;
  }
}

int text_width(const std::string& text, int scale) {
  scale = std::max(1, scale);
  if (text.empty()) return 0;
  return static_cast<int>(text.size()) * 4 * scale - scale;
}

double scale_bar_length(double target) {
  if (!(target > 0) || !std::isfinite(target)) return 0;
  const double decade = std::pow(10.0, std::floor(std::log10(target)));
  double best = decade, best_err = 1e300;
  for (double d : {decade / 10, decade, decade * 10})
    for (double m : {1.0, 2.0, 5.0}) {
      const double c = m * d;
      const double err = std::abs(std::log(c / target));
      if (err < best_err - 1e-12) {
        best = c;
        best_err = err;
      }
    }
  return best;
}

ScaleBar scale_bar_for(int width, int factor, double step_nm) {
  ScaleBar b;
  if (factor < 1 || width <= 0) return b;
  const bool nm = step_nm > 0 && std::isfinite(step_nm);
  const double unit_per_px = nm ? step_nm / factor : 1.0 / factor;  // nm or scan px per image px
  double length = scale_bar_length(width / 5.0 * unit_per_px);
  if (!nm) length = std::max(1.0, length);  // whole scan pixels
  b.length = length;
  b.length_px = static_cast<int>(std::lround(length / unit_per_px));
  b.label = length_label(length) + (nm ? " nm" : " px");
  return b;
}

void draw_scale_bar(RgbImage& img, int factor, double step_nm) {
  const ScaleBar b = scale_bar_for(img.width, factor, step_nm);
  if (b.length_px <= 0) return;
  const int scale = img.width >= 256 ? 2 : 1;
  const int margin = 4 * scale, thick = 3 * scale;
  const Rgb white{255, 255, 255}, dark{20, 20, 20};
  const int x0 = margin, y0 = img.height - margin - thick;  // bar top-left
  fill_rect(img, y0 - 1, x0 - 1, thick + 2, b.length_px + 2, dark);
  fill_rect(img, y0, x0, thick, b.length_px, white);
  // label above the bar, white with a dark outline
  const int ty = y0 - 2 - scale - 5 * scale, tx = x0;
  for (int dy = -1; dy <= 1; ++dy)
    for (int dx = -1; dx <= 1; ++dx)
      if (dx || dy) draw_text(img, tx + dx, ty + dy, b.label, dark, scale);
  draw_text(img, tx, ty, b.label, white, scale);
}

void fill_box(RgbImage& img, int y0, int x0, int y1, int x1, Rgb colour) {
  y0 = std::max(y0, 0);
  x0 = std::max(x0, 0);
  y1 = std::min(y1, img.height);
  x1 = std::min(x1, img.width);
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      std::uint8_t* p = img.at(y, x);
      p[0] = colour[0];
      p[1] = colour[1];
      p[2] = colour[2];
    }
}

} // namespace domainmap
