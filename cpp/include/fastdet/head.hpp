// Head formats: how a model's raw output is laid out. One spec read by the CPU
// decoder, the CUDA decoder and the Python model loader.
#pragma once

#include "config.hpp"

namespace fastdet {

enum class HeadFormat : int {
  YoloV8 = 0,     // [B, 4+nc, N]  cx cy w h (input px) + class scores, channel-major, no objectness
  YoloV5 = 1,     // [B, N, 5+nc]  cx cy w h (input px), objectness, class scores; score = obj * cls
  YoloX = 2,      // [B, N, 5+nc]  raw grid offsets: cx=(o0+gx)*s, cy=(o1+gy)*s, w=exp(o2)*s, h=exp(o3)*s
  EndToEnd = 3,   // [B, K, 6]     x1 y1 x2 y2 score class (NMS already done)
};

struct HeadSpec {
  HeadFormat format = HeadFormat::YoloV8;
  int num_classes = 80;
  int num_anchors = 8400;  // N (or K for end-to-end)
  // YOLOX grid: the input size and strides (row-major levels, in this order).
  int input_h = 640, input_w = 640;
  int num_strides = 3;
  int strides[4] = {8, 16, 32, 0};

  // Floats per image in the raw output.
  FASTDET_HD long long image_stride() const {
    switch (format) {
      case HeadFormat::YoloV8: return static_cast<long long>(4 + num_classes) * num_anchors;
      case HeadFormat::EndToEnd: return 6LL * num_anchors;
      default: return static_cast<long long>(5 + num_classes) * num_anchors;
    }
  }
};

// Post-processing options, following ultralytics predict defaults.
struct DecodeOptions {
  float conf = 0.25f;          // keep scores strictly greater than this
  float iou = 0.7f;            // suppress when IoU is strictly greater than this
  int max_det = 300;           // rows kept per image after NMS
  int max_candidates = 30000;  // top-scoring candidates entering NMS; the rest are dropped and counted
  bool agnostic = false;       // class-agnostic NMS
};

// One output row, in original-image pixels.
struct Detection {
  float x1, y1, x2, y2;
  float score;
  int class_id;
};

// What happened to one image, so caps are reported, never silent.
struct DecodeStats {
  int candidates = 0;  // above the score threshold (and class filter)
  int dropped = 0;     // candidates beyond max_candidates, not seen by NMS
  int kept = 0;        // rows written
  int invalid = 0;     // rows above the threshold a model cannot have meant (see plausible_row): dropped
};

}  // namespace fastdet
