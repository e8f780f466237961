// Batched CUDA letterbox: B uint8 HWC frames of any sizes -> one [B, 3, H, W] fp32/fp16 CHW
// tensor (the engine's input binding), in one launch. Geometry, OpenCV's integer resize
// arithmetic and the pixel transform come from the shared headers, so the kernel writes what
// the CPU letterbox writes, bit for bit (fp16: that value rounded to half).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "dtype.hpp"
#include "fastdet/geometry.hpp"
#include "fastdet/recipe.hpp"

namespace fastdet::cuda {

// One frame of the batch, as the kernel reads it (kept in a small device array so a CUDA
// graph can replay with new frame pointers by re-uploading the array).
struct LetterboxItem {
  const std::uint8_t* src = nullptr;  // device uint8[height, width, channels]
  long long row_stride = 0;           // bytes between rows (>= width * channels)
  int channels = 3;                   // 3 (BGR/RGB) or 4 (BGRA/RGBA, alpha ignored)
  int reserved = 0;
  double scale_x = 1.0, scale_y = 1.0;  // linear_scale(src, new) per axis, as the CPU computes them
  Geometry g;
  PixelTransform t;  // recipe folded with the frame's channel order
};

// Host-side: fills an item for a frame placed by g (from make_geometry) with recipe r.
LetterboxItem make_letterbox_item(const std::uint8_t* src, long long row_stride, int channels, bool rgb,
                                  const Recipe& r, const Geometry& g);

// Enqueues one launch that letterboxes items[0, batch) (a device array) into
// dst: dtype[batch, 3, dst_h, dst_w], C-contiguous device memory.
void enqueue_letterbox(const LetterboxItem* items, int batch, int dst_h, int dst_w, void* dst, DType dtype,
                       cudaStream_t stream);

}  // namespace fastdet::cuda
