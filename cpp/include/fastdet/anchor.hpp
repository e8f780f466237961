// Per-anchor reads of a raw head output: the box in input pixels and the best
// class score. Written once for both the CPU decoder and the CUDA kernel.
#pragma once

#include <cmath>

#include "box.hpp"
#include "config.hpp"
#include "exp.hpp"
#include "head.hpp"

namespace fastdet {

// Grid cell and stride of YOLOX anchor n (levels in stride order, row-major cells).
FASTDET_HD void yolox_cell(const HeadSpec& h, int n, int* gx, int* gy, float* stride) {
  int start = 0;
  for (int l = 0; l < h.num_strides; ++l) {
    int s = h.strides[l];
    int ws = h.input_w / s, hs = h.input_h / s;
    int count = ws * hs;
    if (n < start + count || l == h.num_strides - 1) {
      int local = n - start;
      *gx = local % ws;
      *gy = local / ws;
      *stride = static_cast<float>(s);
      return;
    }
    start += count;
  }
}

FASTDET_HD Box cxcywh_to_box(float cx, float cy, float w, float h) {
  return Box{cx - w * 0.5f, cy - h * 0.5f, cx + w * 0.5f, cy + h * 0.5f};
}

// Box of anchor n of one image (img points at that image's output), in input pixels.
FASTDET_HD Box anchor_box(const HeadSpec& h, const float* img, int n) {
  const long long N = h.num_anchors;
  switch (h.format) {
    case HeadFormat::YoloV8:
      return cxcywh_to_box(img[n], img[N + n], img[2 * N + n], img[3 * N + n]);
    case HeadFormat::YoloV5: {
      const float* r = img + static_cast<long long>(n) * (5 + h.num_classes);
      return cxcywh_to_box(r[0], r[1], r[2], r[3]);
    }
    case HeadFormat::YoloX: {
      const float* r = img + static_cast<long long>(n) * (5 + h.num_classes);
      int gx = 0, gy = 0;
      float s = 1.f;
      yolox_cell(h, n, &gx, &gy, &s);
      return cxcywh_to_box((r[0] + gx) * s, (r[1] + gy) * s, exp_portable(r[2]) * s, exp_portable(r[3]) * s);
    }
    case HeadFormat::EndToEnd:
    default: {
      const float* r = img + 6LL * n;
      return Box{r[0], r[1], r[2], r[3]};
    }
  }
}

// Best class and its score for anchor n (score = obj * cls for objectness heads).
// The first maximum wins on ties, as argmax does. Returns -inf for objectness heads whose
// objectness is not above conf, as YOLOv5's own pre-filter does.
FASTDET_HD float anchor_score(const HeadSpec& h, const float* img, int n, float conf, int* cls) {
  const long long N = h.num_anchors;
  switch (h.format) {
    case HeadFormat::YoloV8: {
      // Classes in groups of 8 loaded before they are compared: on the device the 8 strided
      // loads are in flight together instead of one latency each. Same comparisons, same order.
      const float* s = img + 4 * N + n;
      float best = s[0];
      int arg = 0;
      int c = 1;
      for (; c + 8 <= h.num_classes; c += 8) {
        float v[8];
        FASTDET_UNROLL
        for (int k = 0; k < 8; ++k) v[k] = s[(c + k) * N];
        FASTDET_UNROLL
        for (int k = 0; k < 8; ++k)
          if (v[k] > best) {
            best = v[k];
            arg = c + k;
          }
      }
      for (; c < h.num_classes; ++c) {
        float v = s[c * N];
        if (v > best) {
          best = v;
          arg = c;
        }
      }
      *cls = arg;
      return best;
    }
    case HeadFormat::YoloV5:
    case HeadFormat::YoloX: {
      const float* r = img + static_cast<long long>(n) * (5 + h.num_classes);
      float obj = r[4];
      *cls = 0;
      if (!(obj > conf)) return -INFINITY;
      float best = r[5];
      int arg = 0;
      for (int c = 1; c < h.num_classes; ++c) {
        if (r[5 + c] > best) {
          best = r[5 + c];
          arg = c;
        }
      }
      *cls = arg;
      return obj * best;
    }
    case HeadFormat::EndToEnd:
    default: {
      const float* r = img + 6LL * n;
      // A class column that is NaN, negative or beyond int range becomes -1 (then rejected by
      // plausible_row) instead of an undefined float-to-int conversion.
      const float c = r[5];
      *cls = (c >= 0.f && c < 2147483520.f) ? static_cast<int>(c) : -1;
      return r[4];
    }
  }
}

FASTDET_HD bool finite_value(float x) { return fabsf(x) <= 3.402823466e+38f; }  // false for NaN and +-inf

// A row a detector can have meant: finite box and score, x1 <= x2 and y1 <= y2 (zero-size
// boxes pass), class id in [0, nc). Anything else (NaN/inf coordinates, an inverted box, a class
// id out of range) is dropped and counted in DecodeStats::invalid, on the CPU and the GPU alike:
// never returned as a detection. nc <= 0 (an end-to-end head of unknown class count) bounds
// nothing but the sign.
FASTDET_HD bool plausible_row(const Box& b, float score, int cls, int nc) {
  return finite_value(b.x1) && finite_value(b.y1) && finite_value(b.x2) && finite_value(b.y2) && b.x1 <= b.x2 &&
         b.y1 <= b.y2 && finite_value(score) && cls >= 0 && (nc <= 0 || cls < nc);
}

}  // namespace fastdet
