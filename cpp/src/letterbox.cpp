#include "fastdet/letterbox.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "fastdet/parallel.hpp"

namespace fastdet {
namespace {

// Horizontal taps for one output column: byte offsets of the left/right source pixels
// (already clamped at the borders) and the right tap's weight.
struct XTap {
  int left, right;
  float w;
};

// OpenCV INTER_LINEAR: src = (dst + 0.5) * (src_size / dst_size) - 0.5, computed in
// double then rounded to float, floor for the tap, clamped at both borders.
inline void source_tap(int d, double scale, int size, int* i0, int* i1, float* w) {
  float f = static_cast<float>((d + 0.5) * scale - 0.5);
  int s = static_cast<int>(std::floor(f));
  float frac = f - static_cast<float>(s);
  int a = s, b = s + 1;
  if (a < 0) a = 0;
  if (b < 0) b = 0;
  if (a > size - 1) a = size - 1;
  if (b > size - 1) b = size - 1;
  if (s < 0 || s >= size - 1) frac = 0.f;
  *i0 = a;
  *i1 = b;
  *w = frac;
}

template <int C>
void resize_rows(const FrameView& f, const PixelTransform& t, const Geometry& g, const XTap* taps,
                 float* dst, int y_begin, int y_end) {
  const int W = g.dst_w;
  const std::size_t plane = static_cast<std::size_t>(g.dst_h) * W;
  const double sy_scale = static_cast<double>(f.height) / g.new_h;
  const int c0 = t.src_channel[0], c1 = t.src_channel[1], c2 = t.src_channel[2];
  for (int y = y_begin; y < y_end; ++y) {
    float* o0 = dst + static_cast<std::size_t>(y) * W;
    float* o1 = o0 + plane;
    float* o2 = o1 + plane;
    const int iy = y - g.pad_y;
    if (iy < 0 || iy >= g.new_h) {
      std::fill(o0, o0 + W, t.pad[0]);
      std::fill(o1, o1 + W, t.pad[1]);
      std::fill(o2, o2 + W, t.pad[2]);
      continue;
    }
    int r0i, r1i;
    float fy;
    source_tap(iy, sy_scale, f.height, &r0i, &r1i, &fy);
    const std::uint8_t* r0 = f.data + r0i * f.row_stride;
    const std::uint8_t* r1 = f.data + r1i * f.row_stride;
    std::fill(o0, o0 + g.pad_x, t.pad[0]);
    std::fill(o1, o1 + g.pad_x, t.pad[1]);
    std::fill(o2, o2 + g.pad_x, t.pad[2]);
    const float gy = 1.f - fy;
    // Fold the vertical weight into the per-channel multiplier: out = (sum of taps) * mul + add.
    const float m0 = t.mul[0], m1 = t.mul[1], m2 = t.mul[2];
    const float a0 = t.add[0], a1 = t.add[1], a2 = t.add[2];
    float* p0 = o0 + g.pad_x;
    float* p1 = o1 + g.pad_x;
    float* p2 = o2 + g.pad_x;
    for (int x = 0; x < g.new_w; ++x) {
      const XTap tp = taps[x];
      const float wx = tp.w, vx = 1.f - wx;
      const std::uint8_t* l0 = r0 + tp.left;
      const std::uint8_t* q0 = r0 + tp.right;
      const std::uint8_t* l1 = r1 + tp.left;
      const std::uint8_t* q1 = r1 + tp.right;
      const float v0 = gy * (vx * l0[c0] + wx * q0[c0]) + fy * (vx * l1[c0] + wx * q1[c0]);
      const float v1 = gy * (vx * l0[c1] + wx * q0[c1]) + fy * (vx * l1[c1] + wx * q1[c1]);
      const float v2 = gy * (vx * l0[c2] + wx * q0[c2]) + fy * (vx * l1[c2] + wx * q1[c2]);
      p0[x] = v0 * m0 + a0;
      p1[x] = v1 * m1 + a1;
      p2[x] = v2 * m2 + a2;
    }
    const int right = g.pad_x + g.new_w;
    std::fill(o0 + right, o0 + W, t.pad[0]);
    std::fill(o1 + right, o1 + W, t.pad[1]);
    std::fill(o2 + right, o2 + W, t.pad[2]);
  }
}

}  // namespace

void letterbox_cpu(const FrameView& frame, const Recipe& recipe, const Geometry& g, float* dst) {
  thread_local std::vector<XTap> taps;
  if (static_cast<int>(taps.size()) < g.new_w) taps.resize(g.new_w);
  const double sx_scale = static_cast<double>(frame.width) / g.new_w;
  for (int x = 0; x < g.new_w; ++x) {
    int a, b;
    float w;
    source_tap(x, sx_scale, frame.width, &a, &b, &w);
    taps[x] = XTap{a * frame.channels, b * frame.channels, w};
  }
  const PixelTransform t = make_pixel_transform(recipe, frame.rgb);
  const XTap* tp = taps.data();
  // ~32 rows per chunk keeps the wake-up cost of pool workers small against the work.
  parallel_for(g.dst_h, 32, [&](int y0, int y1) {
    if (frame.channels == 4)
      resize_rows<4>(frame, t, g, tp, dst, y0, y1);
    else
      resize_rows<3>(frame, t, g, tp, dst, y0, y1);
  });
}

}  // namespace fastdet
