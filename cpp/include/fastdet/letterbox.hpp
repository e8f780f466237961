// CPU letterbox: uint8 HWC frame -> float32 CHW network input, one fused pass.
#pragma once

#include <cstddef>
#include <cstdint>

#include "geometry.hpp"
#include "recipe.hpp"
#include "simd.hpp"

namespace fastdet {

struct FrameView {
  const std::uint8_t* data = nullptr;
  int height = 0, width = 0;
  int channels = 3;          // 3 (BGR/RGB) or 4 (BGRA/RGBA, alpha ignored)
  std::ptrdiff_t row_stride = 0;  // bytes between rows
  bool rgb = false;          // source is RGB(A) instead of OpenCV's BGR(A)
};

// Resizes to g.new_w x g.new_h exactly as cv2.resize(INTER_LINEAR) does on uint8 (the same
// bytes: see bilinear.hpp), pads, reorders channels, maps each byte through the recipe
// (pixel_value in recipe.hpp) and writes float32[3, g.dst_h, g.dst_w] into dst. Rows are spread
// over the core's thread pool. dst must hold 3 * dst_h * dst_w floats. `simd` picks the
// kernels (capped at best_simd()); every level writes the same values.
void letterbox_cpu(const FrameView& frame, const Recipe& recipe, const Geometry& g, float* dst,
                   Simd simd = best_simd());

}  // namespace fastdet
