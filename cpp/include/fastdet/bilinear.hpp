// OpenCV's uint8 INTER_LINEAR resize in integer arithmetic, shared by the CPU letterbox (its
// plain path, and the set-up of its SIMD paths) and the CUDA letterbox kernel, so that both give
// cv2.resize's bytes, bit for bit.
//
// The arithmetic, as OpenCV's resize does it (checked against cv2.resize 4.14 and 5.0 on x86-64
// by tests/test_letterbox_exact.py, every pixel of every case):
//   scale = 1 / (dst / src) in double (not src / dst: they differ in the last bit for some sizes)
//   f = float((d + 0.5) * scale - 0.5), s = floor(f), f -= s
//   weights in 1/2048: w0 = round_half_even(float(1 - f) * 2048), w1 = round_half_even(f * 2048)
//   columns: s < 0 -> s = 0, f = 0; s >= w - 1 -> s = w - 1, f = 0 (right tap clamped)
//   rows: f kept as is (rows s and s + 1 clamped to [0, h - 1], weights unchanged)
//   horizontal: S = p[s] * w0 + p[s + 1] * w1 (int32), kept as S >> 4 (fits in int16)
//   vertical: ((b0 * (S0 >> 4)) >> 16) + ((b1 * (S1 >> 4)) >> 16) + 2) >> 2, saturated to uint8
// The vertical form is that of OpenCV's SIMD path (16-bit multiply-high); the exact
// (b0 * S0 + b1 * S1 + 2^21) >> 22 differs on ~12% of pixels.
#pragma once

#include <math.h>

#include "config.hpp"

namespace fastdet {

constexpr int kLinearOne = 2048;  // weights are in 1/2048 (11 fractional bits)

// One output index's source taps along one axis: indices i0, i1 (clamped to the axis) and
// their weights w0, w1 in 1/2048.
struct LinearTap {
  int i0, i1;
  int w0, w1;
};

// Source / resized size as OpenCV computes it (the reciprocal of the inverse scale).
FASTDET_HD double linear_scale(int src, int resized) { return 1.0 / (static_cast<double>(resized) / src); }

FASTDET_HD int linear_weight(float w) { return static_cast<int>(rintf(w * static_cast<float>(kLinearOne))); }

// Taps of output index d, scale = linear_scale(size, resized). Columns (clamp_weights) move taps
// that fall outside the source onto the border pixel with weight 1; rows keep the fraction and
// only clamp the row indices, as OpenCV does.
FASTDET_HD LinearTap linear_tap(int d, double scale, int size, bool clamp_weights) {
  float f = static_cast<float>((d + 0.5) * scale - 0.5);
  int s = static_cast<int>(floorf(f));
  f -= static_cast<float>(s);
  int i0 = s, i1 = s + 1;
  if (clamp_weights) {
    if (s < 0) {
      f = 0.f;
      i0 = i1 = 0;
    }
    if (s >= size - 1) {
      f = 0.f;
      i0 = i1 = size - 1;
    }
  }
  i0 = i0 < 0 ? 0 : (i0 > size - 1 ? size - 1 : i0);
  i1 = i1 < 0 ? 0 : (i1 > size - 1 ? size - 1 : i1);
  LinearTap t;
  t.i0 = i0;
  t.i1 = i1;
  t.w0 = linear_weight(1.f - f);
  t.w1 = linear_weight(f);
  return t;
}

FASTDET_HD LinearTap column_tap(int d, double scale, int width) { return linear_tap(d, scale, width, true); }
FASTDET_HD LinearTap row_tap(int d, double scale, int height) { return linear_tap(d, scale, height, false); }

// Horizontal stage of one channel: the 2-tap sum, kept as S >> 4 (at most 255 * 2048 / 16 = 32640).
FASTDET_HD int horizontal_sum(int p0, int p1, int a0, int a1) { return (p0 * a0 + p1 * a1) >> 4; }

// Vertical stage: two horizontal sums (h = S >> 4) and the row weights -> the uint8 value.
FASTDET_HD int vertical_blend(int h0, int h1, int b0, int b1) {
  const int v = (((b0 * h0) >> 16) + ((b1 * h1) >> 16) + 2) >> 2;
  return v < 0 ? 0 : (v > 255 ? 255 : v);
}

}  // namespace fastdet
