// Batched fused decode + exact greedy NMS on the device, reading the engine's output binding
// directly: per-anchor score and box from the shared anchor.hpp, threshold and class filter,
// atomic compaction, per-image sort by score (ties: lower anchor first), cap at
// max_candidates, greedy NMS with the shared box_iou, mapping back with geometry.hpp, and at
// most max_det rows per image. No host synchronisation inside; CUDA-graph capturable.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "buffer.hpp"
#include "dtype.hpp"
#include "fastdet/geometry.hpp"
#include "fastdet/head.hpp"

namespace fastdet::cuda {

// Per-image stats row of the result: candidates, dropped, kept, invalid.
constexpr int kStatsPerImage = 4;
// Floats per detection row: x1, y1, x2, y2 (original-image pixels), score, class id.
constexpr int kDetectionWidth = 6;

struct DecodeNmsArgs {
  const void* output = nullptr;  // device dtype[batch, ...] laid out per head.format
  DType dtype = DType::Float32;
  int batch = 0;
  HeadSpec head;
  DecodeOptions options;
  const Geometry* geometries = nullptr;     // device [batch]
  const std::uint8_t* class_mask = nullptr;  // device [head.num_classes] (1 = keep), or nullptr for all
  float* detections = nullptr;  // device float32[batch, options.max_det, 6]; rows past kept are not written
  int* stats = nullptr;         // device int32[batch, 4]: candidates, dropped, kept, invalid
};

class DecodeNms {
 public:
  // Throws InvalidArgument when this problem size is out of bounds (what reserve and enqueue
  // check first), so a caller can refuse it before sizing anything of its own.
  static void check(int batch, const HeadSpec& head, const DecodeOptions& options);
  // Grows the workspace for this problem size; returns true when it was (re)allocated.
  bool reserve(int batch, const HeadSpec& head, const DecodeOptions& options, DType dtype);
  // True when the workspace already fits this problem size (reserve would not reallocate).
  bool fits(int batch, const HeadSpec& head, const DecodeOptions& options, DType dtype) const;
  // Enqueues the whole decode + NMS on `stream` (reserves first; sized once, then reused).
  void enqueue(const DecodeNmsArgs& args, cudaStream_t stream);

 private:
  DeviceBuffer workspace_;
};

}  // namespace fastdet::cuda
