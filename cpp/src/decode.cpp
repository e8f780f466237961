#include "fastdet/decode.hpp"

#include <algorithm>
#include <numeric>
#include <vector>

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define FASTDET_DECODE_SSE2 1
#endif

#include "fastdet/anchor.hpp"
#include "fastdet/nms.hpp"

namespace fastdet {
namespace {

struct Workspace {
  std::vector<float> best_score;  // YOLOv8 per-anchor max over classes
  std::vector<float> score;  // candidates, in anchor order
  std::vector<int> cls;
  std::vector<Box> box;
  std::vector<int> order;  // candidate positions by descending score
  std::vector<int> keep;

  template <class T>
  static void grow(std::vector<T>& v, std::size_t n) {
    if (v.size() < n) v.resize(n);
  }
};

Workspace& workspace() {
  thread_local Workspace ws;
  return ws;
}

// YOLOv8 scores are channel-major. The best score per anchor is a running max over class
// rows for anchors [n0, n1); callers keep blocks small enough that the partial maxima stay
// in L1 and the block's scores stay in L2 for the class lookup of the few survivors.
void yolov8_best_score(const float* img, const HeadSpec& h, int n0, int n1, float* __restrict best) {
  const int N = h.num_anchors;
  const float* s = img + 4LL * N;
  {
    std::copy(s + n0, s + n1, best + n0);
    for (int c = 1; c < h.num_classes; ++c) {
      const float* __restrict row = s + static_cast<long long>(c) * N;
      int n = n0;
#ifdef FASTDET_DECODE_SSE2
      for (; n + 4 <= n1; n += 4)
        _mm_storeu_ps(best + n, _mm_max_ps(_mm_loadu_ps(row + n), _mm_loadu_ps(best + n)));
#endif
      for (; n < n1; ++n) best[n] = row[n] > best[n] ? row[n] : best[n];
    }
  }
}

// First class reaching the maximum, as a strict-greater argmax scan finds it.
int yolov8_best_class(const float* img, const HeadSpec& h, int n, float best) {
  const long long N = h.num_anchors;
  const float* s = img + 4 * N + n;
  for (int c = 0; c < h.num_classes; ++c)
    if (s[c * N] == best) return c;
  return 0;
}

int collect_candidates(const float* img, const HeadSpec& h, const DecodeOptions& o,
                       const std::uint8_t* allowed, Workspace& ws, int* invalid) {
  const int N = h.num_anchors;
  ws.grow(ws.score, N);
  ws.grow(ws.cls, N);
  ws.grow(ws.box, N);
  int count = 0;
  auto accept = [&](int n, float score, int c) {
    if (!(score > o.conf)) return;
    const Box box = anchor_box(h, img, n);
    if (!plausible_row(box, score, c, h.num_classes)) {
      ++*invalid;
      return;
    }
    if (allowed && (c < 0 || c >= h.num_classes || !allowed[c])) return;
    ws.score[count] = score;
    ws.cls[count] = c;
    ws.box[count] = box;
    ++count;
  };
  if (h.format == HeadFormat::YoloV8) {
    ws.grow(ws.best_score, N);
    const float* best = ws.best_score.data();
    constexpr int kBlock = 4096;
    for (int n0 = 0; n0 < N; n0 += kBlock) {
      const int n1 = std::min(N, n0 + kBlock);
      yolov8_best_score(img, h, n0, n1, ws.best_score.data());
      for (int n = n0; n < n1; ++n)
        if (best[n] > o.conf) accept(n, best[n], yolov8_best_class(img, h, n, best[n]));
    }
  } else {
    for (int n = 0; n < N; ++n) {
      int c = 0;
      float s = anchor_score(h, img, n, o.conf, &c);
      accept(n, s, c);
    }
  }
  return count;
}

}  // namespace

DecodeStats decode_image_cpu(const float* img, const HeadSpec& head, const Geometry& g,
                             const DecodeOptions& opts, const std::uint8_t* class_allowed,
                             Detection* out) {
  Workspace& ws = workspace();
  DecodeStats stats;
  const int count = collect_candidates(img, head, opts, class_allowed, ws, &stats.invalid);
  stats.candidates = count;
  if (count == 0 || opts.max_det <= 0) return stats;

  ws.grow(ws.order, count);
  int* order = ws.order.data();
  std::iota(order, order + count, 0);
  const float* score = ws.score.data();
  // Descending score; equal scores keep anchor order (candidates were collected in it).
  auto by_score = [score](int a, int b) { return score[a] > score[b] || (score[a] == score[b] && a < b); };
  int considered = count;
  if (head.format != HeadFormat::EndToEnd && count > opts.max_candidates) {
    considered = std::max(0, opts.max_candidates);
    std::nth_element(order, order + considered, order + count, by_score);
    stats.dropped = count - considered;
  }
  std::sort(order, order + considered, by_score);

  // At most `considered` rows can be kept: sizing by max_det would let max_det = 10^7 reserve
  // hundreds of megabytes per thread for images with a handful of boxes.
  const int max_keep = std::min(opts.max_det, considered);
  ws.grow(ws.keep, std::max(1, max_keep));
  int kept;
  if (head.format == HeadFormat::EndToEnd) {
    kept = std::min(considered, opts.max_det);
    std::iota(ws.keep.begin(), ws.keep.begin() + kept, 0);
  } else {
    kept = greedy_nms_sorted(ws.box.data(), ws.cls.data(), order, considered, opts.iou,
                             opts.agnostic, max_keep, ws.keep.data());
  }
  for (int k = 0; k < kept; ++k) {
    const int i = order[ws.keep[k]];
    const Box& b = ws.box[i];
    out[k] = Detection{unmap_x(g, b.x1), unmap_y(g, b.y1), unmap_x(g, b.x2), unmap_y(g, b.y2),
                       ws.score[i], ws.cls[i]};
  }
  stats.kept = kept;
  return stats;
}

}  // namespace fastdet
