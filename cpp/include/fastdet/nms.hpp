// Exact greedy NMS on the CPU.
#pragma once

#include <cstdint>

#include "box.hpp"

namespace fastdet {

// Greedy NMS over candidates already sorted by descending score (order: indices into
// boxes/classes). Keeps a candidate when no earlier kept candidate of the same class
// (any class when agnostic) overlaps it with IoU > iou_threshold; stops at max_keep.
// Writes kept positions (into order) to keep and returns how many. This is the kept set
// of torchvision.ops.batched_nms followed by [:max_keep].
int greedy_nms_sorted(const Box* boxes, const int* classes, const int* order, int n,
                      float iou_threshold, bool agnostic, int max_keep, int* keep);

}  // namespace fastdet
