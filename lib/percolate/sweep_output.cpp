// lib/percolate/sweep_output.cpp: a sweep table as CSV and as a quick-look PNG plot. Both are
// written to a temporary name beside the output and renamed when complete (write.hpp).
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "domainmap/error.hpp"
#include "domainmap/percolation.hpp"
#include "domainmap/picture.hpp"
#include "domainmap/png.hpp"
#include "domainmap/write.hpp"

namespace domainmap {

namespace {

std::string fmt(const char* spec, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, spec, v);
  return buf;
}

// ---- a tiny RGB canvas over an RgbImage (picture.hpp), white background

struct Canvas {
  RgbImage img;
  Canvas(int w, int h) : img(h, w, Rgb{255, 255, 255}) {}
  void set(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
    std::uint8_t* p = img.at(y, x);
    p[0] = c[0];
    p[1] = c[1];
    p[2] = c[2];
  }
  // Bresenham's line, `thick` px wide (a square brush)
  void line(int x0, int y0, int x1, int y1, Rgb c, int thick = 1) {
    const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
    const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (;;) {
      for (int a = 0; a < thick; ++a)
        for (int b = 0; b < thick; ++b) set(x0 + a - thick / 2, y0 + b - thick / 2, c);
      if (x0 == x1 && y0 == y1) break;
      const int e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x0 += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y0 += sy;
      }
    }
  }
};

// Axis labels: the shared 3 x 5 font (picture.hpp) with each font pixel 2 x 2 px.
constexpr int kGlyphScale = 2;
constexpr int kAdvance = 4 * kGlyphScale;  // glyph width plus a 1-pixel gap
constexpr int kGlyphHeight = 5 * kGlyphScale;

int label_width(const std::string& s) { return text_width(s, kGlyphScale); }

void draw_label(Canvas& c, int x, int y, const std::string& s, Rgb col) {
  draw_text(c.img, x, y, s, col, kGlyphScale);
}

} // namespace

void write_sweep_csv(const std::string& path, const SweepTable& table) {
  const std::string tmp = temporary_name_for(path);
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) fail(ErrorKind::io, path, "cannot create the file: ", std::strerror(errno));
  std::fputs("threshold,n_added,fraction_added,largest_cluster,largest_cluster_fraction,n_clusters,spans_x,spans_y\n",
             f);
  for (const SweepRow& r : table.rows)
    std::fprintf(f, "%s,%lld,%s,%lld,%s,%lld,%d,%d\n", fmt("%.10g", r.threshold).c_str(),
                 static_cast<long long>(r.n_added), fmt("%.10g", r.fraction_added).c_str(),
                 static_cast<long long>(r.largest_cluster), fmt("%.10g", r.largest_cluster_fraction).c_str(),
                 static_cast<long long>(r.n_clusters), r.spans_x ? 1 : 0, r.spans_y ? 1 : 0);
  const bool ok = std::fflush(f) == 0 && !std::ferror(f);
  const int saved = errno;
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) {
    discard_temporary(tmp);
    fail(ErrorKind::io, path, "cannot write CSV: ", std::strerror(saved));
  }
  commit_temporary(tmp, path);
}

void write_sweep_png(const std::string& path, const SweepTable& table, const PercolateParams& p) {
  validate(p);
  const int W = p.plot_width, H = p.plot_height;
  Canvas c(W, H);
  const Rgb black{0, 0, 0}, grid{220, 220, 220}, blue{31, 90, 200}, red{210, 40, 40}, green{40, 160, 60};
  // plot area [x0, x1] x [y0, y1] in pixels, y1 at the bottom (value 0), y0 at the top (value 1)
  const int x0 = 12 + label_width("1") + 6, x1 = W - 12;
  const int y0 = 12, y1 = H - 12 - kGlyphHeight - 6;

  const std::size_t n = table.rows.size();
  // abscissa: the thresholds, or the row number when they are not finite and increasing
  bool by_threshold = n >= 2;
  for (const SweepRow& r : table.rows) by_threshold = by_threshold && std::isfinite(r.threshold);
  if (by_threshold && !(table.rows.back().threshold > table.rows.front().threshold)) by_threshold = false;
  const double t0 = by_threshold ? table.rows.front().threshold : 0;
  const double t1 = by_threshold ? table.rows.back().threshold : static_cast<double>(std::max<std::size_t>(n, 2) - 1);
  auto px_x = [&](std::size_t k) {
    const double t = by_threshold ? table.rows[k].threshold : static_cast<double>(k);
    return x0 + static_cast<int>(std::lround((t - t0) / (t1 - t0) * (x1 - x0)));
  };
  auto px_y = [&](double v) { return y1 - static_cast<int>(std::lround(std::clamp(v, 0.0, 1.0) * (y1 - y0))); };

  for (double g : {0.25, 0.5, 0.75, 1.0}) c.line(x0, px_y(g), x1, px_y(g), grid);
  c.line(x0, y1, x1, y1, black);  // axes
  c.line(x0, y0, x0, y1, black);
  for (int k = 1; k < 4; ++k) {    // ticks at quarters of the abscissa
    const int xt = x0 + k * (x1 - x0) / 4;
    c.line(xt, y1, xt, y1 + 3, black);
  }
  draw_label(c, x0 - 6 - label_width("1"), y0 - kGlyphHeight / 2, "1", black);
  draw_label(c, x0 - 6 - label_width("0"), y1 - kGlyphHeight / 2, "0", black);
  const std::string left = fmt("%.4g", t0), right = fmt("%.4g", t1);
  draw_label(c, x0, y1 + 6, left, black);
  draw_label(c, std::max(x0 + label_width(left) + kAdvance, x1 - label_width(right)), y1 + 6, right, black);

  // spanning as step curves (1 = spans); spans_x 3 px inside so that both stay visible
  auto step = [&](bool SweepRow::*flag, int inset, Rgb col) {
    for (std::size_t k = 0; k < n; ++k) {
      const int yk = table.rows[k].*flag ? px_y(1) + inset : px_y(0) - inset;
      if (k + 1 < n) {
        const int yn = table.rows[k + 1].*flag ? px_y(1) + inset : px_y(0) - inset;
        c.line(px_x(k), yk, px_x(k + 1), yk, col, 2);
        c.line(px_x(k + 1), yk, px_x(k + 1), yn, col, 2);
      } else if (n == 1) {
        c.line(px_x(0) - 2, yk, px_x(0) + 2, yk, col, 2);
      }
    }
  };
  step(&SweepRow::spans_x, 3, green);
  step(&SweepRow::spans_y, 0, red);
  for (std::size_t k = 0; k < n; ++k) {
    const int xa = px_x(k), ya = px_y(table.rows[k].largest_cluster_fraction);
    if (k + 1 < n) c.line(xa, ya, px_x(k + 1), px_y(table.rows[k + 1].largest_cluster_fraction), blue, 2);
    else if (n == 1) c.line(xa - 2, ya, xa + 2, ya, blue, 2);
  }
  write_png_rgb(path, c.img.rgb.data(), H, W);
}

} // namespace domainmap
