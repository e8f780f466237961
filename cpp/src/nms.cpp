#include "fastdet/nms.hpp"

#include <vector>

namespace fastdet {

int greedy_nms_sorted(const Box* boxes, const int* classes, const int* order, int n,
                      float iou_threshold, bool agnostic, int max_keep, int* keep) {
  // Comparing each candidate with the kept boxes only (at most max_keep of them) is the
  // same greedy decision as suppressing forward from each kept box, at O(n * kept) cost.
  thread_local std::vector<Box> kept_box;
  thread_local std::vector<float> kept_area;
  thread_local std::vector<int> kept_cls;
  if (static_cast<int>(kept_box.size()) < max_keep) {
    kept_box.resize(max_keep);
    kept_area.resize(max_keep);
    kept_cls.resize(max_keep);
  }
  int k = 0;
  for (int i = 0; i < n && k < max_keep; ++i) {
    const Box& b = boxes[order[i]];
    const int c = classes[order[i]];
    const float area = box_area(b);
    bool suppressed = false;
    for (int j = 0; j < k; ++j) {
      if (!agnostic && kept_cls[j] != c) continue;
      if (box_iou(kept_box[j], kept_area[j], b, area) > iou_threshold) {
        suppressed = true;
        break;
      }
    }
    if (suppressed) continue;
    kept_box[k] = b;
    kept_area[k] = area;
    kept_cls[k] = c;
    keep[k++] = i;
  }
  return k;
}

}  // namespace fastdet
