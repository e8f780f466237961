// Box arithmetic shared by CPU and CUDA NMS.
#pragma once

#include "config.hpp"

namespace fastdet {

struct Box {
  float x1, y1, x2, y2;
};

FASTDET_HD float box_area(const Box& b) { return (b.x2 - b.x1) * (b.y2 - b.y1); }

// IoU as torchvision's NMS kernels compute it (float, clamped intersection,
// areas precomputed): the same formula on both paths keeps kept sets identical.
FASTDET_HD float box_iou(const Box& a, float area_a, const Box& b, float area_b) {
  float xx1 = a.x1 > b.x1 ? a.x1 : b.x1;
  float yy1 = a.y1 > b.y1 ? a.y1 : b.y1;
  float xx2 = a.x2 < b.x2 ? a.x2 : b.x2;
  float yy2 = a.y2 < b.y2 ? a.y2 : b.y2;
  float w = xx2 - xx1;
  float h = yy2 - yy1;
  w = w > 0.f ? w : 0.f;
  h = h > 0.f ? h : 0.f;
  float inter = w * h;
  // Disjoint boxes (most pairs): IoU 0 without the division. Bit-identical to the formula
  // below, which gives 0 (or 0 for a zero union) whenever inter is 0 or NaN.
  if (!(inter > 0.f)) return 0.f;
  float uni = area_a + area_b - inter;
  // Two zero-area boxes: torchvision yields NaN (never > thr); keep that outcome without dividing by 0.
  return uni > 0.f ? inter / uni : 0.f;
}

}  // namespace fastdet
