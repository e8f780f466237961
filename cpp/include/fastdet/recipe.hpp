// Preprocessing recipe: the per-model-family part of letterboxing. The geometry
// says where pixels go; the recipe says what values they become.
#pragma once

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

// out = src * mul[c] + add[c] for output channel c; src_channel[c] picks the source byte.
struct PixelTransform {
  float mul[3];
  float add[3];
  float pad[3];
  int src_channel[3];
};

FASTDET_HD PixelTransform make_pixel_transform(const Recipe& r, bool src_rgb) {
  PixelTransform t;
  // Output channel c holds colour (output_rgb ? RGB : BGR)[c]; source channel order is
  // RGB when src_rgb else BGR. Same order -> identity, different -> reversed.
  bool reverse = r.output_rgb != src_rgb;
  for (int c = 0; c < 3; ++c) {
    t.mul[c] = r.scale / r.std[c];
    t.add[c] = -r.mean[c] / r.std[c];
    t.pad[c] = r.pad_value * t.mul[c] + t.add[c];
    t.src_channel[c] = reverse ? 2 - c : c;
  }
  return t;
}

}  // namespace fastdet
