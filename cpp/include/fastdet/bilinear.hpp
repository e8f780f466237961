// Bilinear source taps with OpenCV INTER_LINEAR (half-pixel centre) semantics, shared by the
// CPU letterbox and the CUDA letterbox kernel so both sample the same pixels with the same weights.
#pragma once

#include <math.h>

#include "config.hpp"

namespace fastdet {

// Source taps of output index d along one axis, scale = src_size / resized_size:
// src = (d + 0.5) * scale - 0.5 computed in double then rounded to float, floor for the
// left tap, both taps clamped to [0, size - 1]; the right tap's weight is zeroed at the
// borders (s < 0 or s >= size - 1).
FASTDET_HD void bilinear_tap(int d, double scale, int size, int* i0, int* i1, float* w) {
  float f = static_cast<float>((d + 0.5) * scale - 0.5);
  int s = static_cast<int>(floorf(f));
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

}  // namespace fastdet
