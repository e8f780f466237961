// e^x in float32 with one sequence of IEEE operations, so the CPU core and the CUDA kernels
// get bit-identical results: glibc's expf and CUDA's expf each round correctly or nearly so,
// but not always the same way, and a YOLOX box size one ulp apart can flip an IoU test at the
// threshold and change which boxes NMS keeps. Used for YOLOX's w = e^o2 * stride.
//
// Cody-Waite reduction x = k ln2 + r, |r| <= ln2/2, with ln2 split so k * ln2_hi is exact
// for |k| < 256; e^r by a degree-7 Taylor polynomial (truncation < 2e-8 relative); then
// scaled by 2^k in two exact steps so results that are subnormal still come out right.
// Within 2 ulp of the correctly rounded value over the whole float range. Both sides must
// compile it without fused multiply-add contraction (-ffp-contract=off, nvcc --fmad=false).
#pragma once

#include <cmath>

#include "config.hpp"

namespace fastdet {

// 2^n as a float for n in [-126, 127], built from its exponent bits.
FASTDET_HD float pow2i(int n) {
  union {
    unsigned u;
    float f;
  } v;
  v.u = static_cast<unsigned>(n + 127) << 23;
  return v.f;
}

FASTDET_HD float exp_portable(float x) {
  if (x != x) return x;                 // NaN
  if (x > 88.72283935546875f) return INFINITY;  // above log(FLT_MAX)
  if (x < -103.97208404541015625f) return 0.f;  // below log of the smallest subnormal / 2
  const float k = floorf(x * 1.44269502162933349609375f + 0.5f);
  float r = x - k * 0.693145751953125f;  // ln2_hi: 16 significant bits, k * ln2_hi exact
  r = r - k * 1.428606765330187045e-06f;  // ln2_lo
  float p = 1.98412698e-4f;               // 1/7!
  p = p * r + 1.38888889e-3f;             // 1/6!
  p = p * r + 8.33333333e-3f;             // 1/5!
  p = p * r + 4.16666667e-2f;             // 1/4!
  p = p * r + 1.66666667e-1f;             // 1/3!
  p = p * r + 0.5f;
  p = p * r + 1.f;
  p = p * r + 1.f;
  const int n = static_cast<int>(k);     // in [-150, 128]
  const int half = n / 2;
  return p * pow2i(half) * pow2i(n - half);
}

}  // namespace fastdet
