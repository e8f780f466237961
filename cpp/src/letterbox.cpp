#include "fastdet/letterbox.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define FASTDET_LETTERBOX_SSE2 1
#endif

#include "fastdet/bilinear.hpp"
#include "fastdet/parallel.hpp"

namespace fastdet {
namespace {

// Horizontal taps for one output column: byte offsets of the left/right source pixels
// (already clamped at the borders) and the right tap's weight.
struct XTap {
  int left, right;
  float w;
};

#ifdef FASTDET_LETTERBOX_SSE2
inline __m128 load4(const std::uint8_t* p) {
  std::int32_t v;
  std::memcpy(&v, p, 4);
  const __m128i zero = _mm_setzero_si128();
  const __m128i b = _mm_cvtsi32_si128(v);
  return _mm_cvtepi32_ps(_mm_unpacklo_epi16(_mm_unpacklo_epi8(b, zero), zero));
}

// Bilinear value of one output pixel as a float4 (channels in source order, 4th unused).
// kRows2 / kCols2 = false drop the second row / column tap when its weight is exactly 0
// (integer-aligned scales such as 1080p -> 640x360): the result is bit-identical to the
// general formula, with a quarter of the loads.
template <bool kRows2, bool kCols2>
inline __m128 blend_pixel(const std::uint8_t* r0, const std::uint8_t* r1, __m128 vgy, __m128 vfy, const XTap& tp) {
  __m128 left = load4(r0 + tp.left);
  if (kRows2) left = _mm_add_ps(_mm_mul_ps(left, vgy), _mm_mul_ps(load4(r1 + tp.left), vfy));
  if (!kCols2) return left;
  __m128 right = load4(r0 + tp.right);
  if (kRows2) right = _mm_add_ps(_mm_mul_ps(right, vgy), _mm_mul_ps(load4(r1 + tp.right), vfy));
  return _mm_add_ps(left, _mm_mul_ps(_mm_set1_ps(tp.w), _mm_sub_ps(right, left)));
}

// Four output pixels at a time, transposed from interleaved float4s into the three planes.
template <bool kRows2, bool kCols2>
int blend_span(const std::uint8_t* r0, const std::uint8_t* r1, float gy, float fy, const XTap* taps, int end,
               const PixelTransform& t, float* p0, float* p1, float* p2) {
  const __m128 vgy = _mm_set1_ps(gy), vfy = _mm_set1_ps(fy);
  const __m128 vm0 = _mm_set1_ps(t.mul[0]), vm1 = _mm_set1_ps(t.mul[1]), vm2 = _mm_set1_ps(t.mul[2]);
  const __m128 va0 = _mm_set1_ps(t.add[0]), va1 = _mm_set1_ps(t.add[1]), va2 = _mm_set1_ps(t.add[2]);
  const int c0 = t.src_channel[0], c1 = t.src_channel[1], c2 = t.src_channel[2];
  int x = 0;
  for (; x + 4 <= end; x += 4) {
    __m128 q0 = blend_pixel<kRows2, kCols2>(r0, r1, vgy, vfy, taps[x]);
    __m128 q1 = blend_pixel<kRows2, kCols2>(r0, r1, vgy, vfy, taps[x + 1]);
    __m128 q2 = blend_pixel<kRows2, kCols2>(r0, r1, vgy, vfy, taps[x + 2]);
    __m128 q3 = blend_pixel<kRows2, kCols2>(r0, r1, vgy, vfy, taps[x + 3]);
    _MM_TRANSPOSE4_PS(q0, q1, q2, q3);  // q0..q2 now hold source channels 0..2 of 4 pixels
    const __m128 ch[3] = {q0, q1, q2};
    _mm_storeu_ps(p0 + x, _mm_add_ps(_mm_mul_ps(ch[c0], vm0), va0));
    _mm_storeu_ps(p1 + x, _mm_add_ps(_mm_mul_ps(ch[c1], vm1), va1));
    _mm_storeu_ps(p2 + x, _mm_add_ps(_mm_mul_ps(ch[c2], vm2), va2));
  }
  return x;
}
#endif

template <int C>
void resize_rows(const FrameView& f, const PixelTransform& t, const Geometry& g, const XTap* taps,
                 int safe_columns, bool two_cols, float* dst, int y_begin, int y_end) {
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
    bilinear_tap(iy, sy_scale, f.height, &r0i, &r1i, &fy);
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
    int x = 0;
#ifdef FASTDET_LETTERBOX_SSE2
    {
      // Columns whose right tap ends within 4 bytes of the row end are left to the scalar
      // tail so no 4-byte load overruns the frame.
      const int end = (C == 4) ? g.new_w : safe_columns;
      const bool two_rows = fy != 0.f;
      if (two_rows && two_cols)
        x = blend_span<true, true>(r0, r1, gy, fy, taps, end, t, p0, p1, p2);
      else if (two_rows)
        x = blend_span<true, false>(r0, r1, gy, fy, taps, end, t, p0, p1, p2);
      else if (two_cols)
        x = blend_span<false, true>(r0, r1, gy, fy, taps, end, t, p0, p1, p2);
      else
        x = blend_span<false, false>(r0, r1, gy, fy, taps, end, t, p0, p1, p2);
    }
#endif
    for (; x < g.new_w; ++x) {
      const XTap tp = taps[x];
      const float wx = tp.w;
      const std::uint8_t* l0 = r0 + tp.left;
      const std::uint8_t* q0 = r0 + tp.right;
      const std::uint8_t* l1 = r1 + tp.left;
      const std::uint8_t* q1 = r1 + tp.right;
      auto blend = [&](int c) {
        const float left = gy * l0[c] + fy * l1[c];
        const float right = gy * q0[c] + fy * q1[c];
        return left + wx * (right - left);
      };
      p0[x] = blend(c0) * m0 + a0;
      p1[x] = blend(c1) * m1 + a1;
      p2[x] = blend(c2) * m2 + a2;
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
    bilinear_tap(x, sx_scale, frame.width, &a, &b, &w);
    taps[x] = XTap{a * frame.channels, b * frame.channels, w};
  }
  // Leading columns whose right tap can be read as 4 bytes without passing the row's end.
  int safe_columns = g.new_w;
  while (safe_columns > 0 && taps[safe_columns - 1].right + 4 > frame.width * frame.channels) --safe_columns;
  bool two_cols = false;
  for (int x = 0; x < g.new_w; ++x) two_cols |= taps[x].w != 0.f;
  const PixelTransform t = make_pixel_transform(recipe, frame.rgb);
  const XTap* tp = taps.data();
  // ~32 rows per chunk keeps the wake-up cost of pool workers small against the work.
  parallel_for(g.dst_h, 16, [&](int y0, int y1) {
    if (frame.channels == 4)
      resize_rows<4>(frame, t, g, tp, safe_columns, two_cols, dst, y0, y1);
    else
      resize_rows<3>(frame, t, g, tp, safe_columns, two_cols, dst, y0, y1);
  });
}

}  // namespace fastdet
