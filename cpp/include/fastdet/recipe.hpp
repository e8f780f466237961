// Preprocessing recipe: the per-model-family part of letterboxing. The geometry
// says where pixels go; the recipe says what values they become.
#pragma once

#include <math.h>

#include "config.hpp"
#include "geometry.hpp"

namespace fastdet {

struct Recipe {
  Placement placement = Placement::Center;
  bool scaleup = true;
  float pad_value = 114.f;            // in source units (0..255), goes through scale/mean/std too
  float scale = 1.f / 255.f;          // 1/255 for ultralytics, 1 for YOLOX
  float mean[3] = {0.f, 0.f, 0.f};    // per output channel, applied after scale
  float std[3] = {1.f, 1.f, 1.f};     // per output channel
  bool output_rgb = true;             // false: BGR planes (YOLOX)
};

// The recipe folded with the frame's channel order. Output channel c of a pixel with uint8
// value v is pixel_value(t, c, v) = (v / divisor - mean[c]) / std[c] in float32, with
// divisor = recipe_divisor(scale) (255 for 1/255): ultralytics' `/ 255` and torchvision's
// ToTensor + Normalize, value for value. src_channel[c] picks the source byte.
struct PixelTransform {
  float divisor;
  float mean[3];
  float std[3];
  float pad[3];  // the pad value through the same formula
  int src_channel[3];
};

// IEEE-rounded division and subtraction on host and device alike (CUDA's `/` is only IEEE while
// nobody builds with --use_fast_math; these are, whatever the flags).
FASTDET_HD float div_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}

FASTDET_HD float sub_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}

FASTDET_HD float pixel_value(const PixelTransform& t, int c, float v) {
  return div_rn(sub_rn(div_rn(v, t.divisor), t.mean[c]), t.std[c]);
}

// 1 / scale as the divisor of pixel_value: the integer n where scale is float(1 / n) (the float
// nearest 1/255 is a little above it: its reciprocal rounds to 254.99998, not 255), otherwise
// 1 / scale rounded to float.
FASTDET_HD float recipe_divisor(float scale) {
  const double d = 1.0 / static_cast<double>(scale);
  const double n = nearbyint(d);
  if (n != 0.0 && static_cast<float>(1.0 / n) == scale) return static_cast<float>(n);
  return static_cast<float>(d);
}

FASTDET_HD PixelTransform make_pixel_transform(const Recipe& r, bool src_rgb) {
  PixelTransform t;
  t.divisor = recipe_divisor(r.scale);
  // Output channel c holds colour (output_rgb ? RGB : BGR)[c]; source channel order is
  // RGB when src_rgb else BGR. Same order -> identity, different -> reversed.
  bool reverse = r.output_rgb != src_rgb;
  for (int c = 0; c < 3; ++c) {
    t.mean[c] = r.mean[c];
    t.std[c] = r.std[c];
    t.src_channel[c] = reverse ? 2 - c : c;
  }
  for (int c = 0; c < 3; ++c) t.pad[c] = pixel_value(t, c, r.pad_value);
  return t;
}

}  // namespace fastdet
