#include "decode_nms.cuh"

#include <cuda_fp16.h>

#include <algorithm>
#include <string>

#include "error.hpp"
#include "fastdet/anchor.hpp"
#include "fastdet/box.hpp"
#include "fastdet/error.hpp"
#include "fastdet/validate.hpp"

// This file is compiled with --fmad=false so box and IoU arithmetic rounds exactly as the
// CPU core's does: the same kept sets and bit-identical boxes (YOLOX's exp too: both paths use
// exp_portable from the shared headers).

namespace fastdet::cuda {
namespace {

using Key = unsigned long long;

constexpr int kThreads = 256;                 // NMS block; also the candidates handled per step
constexpr int kWarps = kThreads / 32;
constexpr long long kMaxDeviceRows = 1LL << 24;  // batch * max_det bound, documented in the README
constexpr int kSmallSort = 2048;              // images with at most this many candidates sort in the NMS block
constexpr int kSortPerThread = kSmallSort / kThreads;
// Kept boxes live in shared memory (in the sort buffer, free once the keys are sorted) when
// max_det allows: every later candidate is tested against all of them.
constexpr int kSharedKept = (kSmallSort * sizeof(unsigned long long)) / (sizeof(float4) + sizeof(int));

// Sort key: ascending key order = descending score, then ascending anchor index.
// The score's bits are made order-preserving as an unsigned int, inverted, and placed
// above the anchor index (anchor_bits wide), so keys are unique.
__device__ __forceinline__ Key make_key(float score, int anchor, int anchor_bits) {
  unsigned u = __float_as_uint(score);
  u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  return (static_cast<Key>(~u) << anchor_bits) | static_cast<unsigned>(anchor);
}

__device__ __forceinline__ float key_score(Key k, int anchor_bits) {
  unsigned u = ~static_cast<unsigned>(k >> anchor_bits);
  u = (u & 0x80000000u) ? (u & 0x7fffffffu) : ~u;
  return __uint_as_float(u);
}

__device__ __forceinline__ int key_anchor(Key k, int anchor_bits) {
  return static_cast<int>(k & ((Key{1} << anchor_bits) - 1));
}

__device__ __forceinline__ Box load_box(const float4* boxes, long long i) {
  const float4 v = boxes[i];
  return Box{v.x, v.y, v.z, v.w};
}

__global__ void half_to_float_kernel(const __half* __restrict__ in, float* __restrict__ out, long long n) {
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
    out[i] = __half2float(in[i]);
}

// One thread per anchor: score + class via the shared anchor_score, threshold (strictly
// greater) and class filter exactly as the CPU decoder, then atomic compaction of the key;
// the box and class are stored at the anchor's slot for the NMS step.
__global__ void candidates_kernel(const float* __restrict__ output, HeadSpec head, float conf,
                                  const std::uint8_t* __restrict__ class_mask, int anchor_bits, int* counts,
                                  int* invalid, Key* keys, float4* boxes, int* classes) {
  const int b = blockIdx.y;
  const int n = blockIdx.x * blockDim.x + threadIdx.x;
  const int N = head.num_anchors;
  if (n >= N) return;
  const float* img = output + b * head.image_stride();
  int c = 0;
  const float score = anchor_score(head, img, n, conf, &c);
  if (!(score > conf)) return;
  const Box box = anchor_box(head, img, n);
  if (!plausible_row(box, score, c, head.num_classes)) {  // as the CPU decoder: dropped and counted
    atomicAdd(invalid + b, 1);
    return;
  }
  if (class_mask && (c < 0 || c >= head.num_classes || !class_mask[c])) return;
  const long long base = static_cast<long long>(b) * N;
  const int slot = atomicAdd(counts + b, 1);
  keys[base + slot] = make_key(score, n, anchor_bits);
  boxes[base + n] = make_float4(box.x1, box.y1, box.x2, box.y2);
  classes[base + n] = c;
}

// Images with more than kSmallSort candidates: each thread takes one key and counts the keys
// below it (keys are unique, so the counts are a permutation), reading them in tiles through
// shared memory; blocks of images with fewer candidates exit at once (those sort inside the NMS
// block). One launch, no workspace, and the work spreads over count / kRankThreads blocks,
// where a segmented radix sort gives each image a single block: 8400 keys sorted in one block
// took 81 us on an H200.
constexpr int kRankThreads = 128;
constexpr int kRankTile = 2048;

__global__ void __launch_bounds__(kRankThreads)
    large_sort_kernel(const int* __restrict__ counts, int num_anchors, const Key* __restrict__ keys_in,
                      Key* __restrict__ keys_sorted) {
  __shared__ Key tile[kRankTile];
  const int b = blockIdx.y;
  const int count = counts[b];
  const int first = blockIdx.x * kRankThreads;
  if (count <= kSmallSort || first >= count) return;  // uniform per block
  const long long base = static_cast<long long>(b) * num_anchors;
  const int i = first + threadIdx.x;
  const Key mine = i < count ? keys_in[base + i] : ~Key{0};
  int r0 = 0, r1 = 0, r2 = 0, r3 = 0;  // independent sums keep the compares in flight
  for (int t0 = 0; t0 < count; t0 += kRankTile) {
    const int n = min(kRankTile, count - t0);
    __syncthreads();  // the previous tile is no longer read
    for (int j = threadIdx.x; j < n; j += kRankThreads) tile[j] = keys_in[base + t0 + j];
    for (int j = n + threadIdx.x; j < ((n + 3) & ~3); j += kRankThreads) tile[j] = ~Key{0};  // pad: never below
    __syncthreads();
    for (int j = 0; j < n; j += 4) {
      r0 += tile[j] < mine;
      r1 += tile[j + 1] < mine;
      r2 += tile[j + 2] < mine;
      r3 += tile[j + 3] < mine;
    }
  }
  if (i < count) keys_sorted[base + r0 + r1 + r2 + r3] = mine;
}

struct NmsParams {
  int num_anchors;
  int anchor_bits;
  int max_det;
  int max_candidates;
  float iou;
  bool agnostic;
  bool end_to_end;
};

// Shared memory of one candidate step of the NMS block.
struct NmsStep {
  Box box[kThreads];
  float area[kThreads];
  float score[kThreads];
  int cls[kThreads];
  unsigned overlaps[kThreads][kWarps];  // bit q of row p: earlier survivor q overlaps survivor p
  int alive[kThreads];
  int warp_count[kWarps];
  unsigned kept_bits[2][kWarps];  // greedy resolution state, double-buffered per round
  unsigned done_bits[2][kWarps];
};

// One block per image. Sorts small candidate sets in shared memory (rank sort on unique keys),
// then runs exact greedy NMS over the first min(count, max_candidates) candidates in steps of
// kThreads: each candidate is tested against the boxes kept so far in parallel, the
// survivors of the step are tested against each other in parallel (a bit matrix), and one
// thread resolves the step in score order. Kept boxes are mapped back and written.
__global__ void __launch_bounds__(kThreads)
    nms_kernel(NmsParams p, const int* __restrict__ counts, const int* __restrict__ invalid, const Key* keys_in,
               Key* keys_sorted,
               const float4* __restrict__ boxes, const int* __restrict__ classes, const Geometry* __restrict__ geometries,
               float4* kept_box, float* kept_score, int* kept_cls, float* detections, int* stats) {
  __shared__ __align__(16) Key s_keys[kSmallSort];  // 16-byte aligned: reused for float4 kept boxes
  __shared__ NmsStep s;
  const int b = blockIdx.x;
  const int tid = threadIdx.x;
  const int count = counts[b];
  const long long base = static_cast<long long>(b) * p.num_anchors;
  Key* sorted = keys_sorted + base;

  if (count <= kThreads) {
    // One key per thread: its rank is the number of smaller keys (keys are unique).
    for (int i = tid; i < count; i += kThreads) s_keys[i] = keys_in[base + i];
    __syncthreads();
    if (tid < count) {
      const Key mine = s_keys[tid];
      int rank = 0;
      for (int j = 0; j < count; ++j) rank += s_keys[j] < mine;
      sorted[rank] = mine;
    }
    __syncthreads();
  } else if (count <= kSmallSort) {
    for (int i = tid; i < count; i += kThreads) s_keys[i] = keys_in[base + i];
    __syncthreads();
    Key mine[kSortPerThread];
    int rank[kSortPerThread];
#pragma unroll
    for (int k = 0; k < kSortPerThread; ++k) {
      const int i = tid + k * kThreads;
      mine[k] = i < count ? s_keys[i] : ~Key{0};
      rank[k] = 0;
    }
    for (int j = 0; j < count; ++j) {
      const Key kj = s_keys[j];
#pragma unroll
      for (int k = 0; k < kSortPerThread; ++k) rank[k] += kj < mine[k];
    }
#pragma unroll
    for (int k = 0; k < kSortPerThread; ++k)
      if (tid + k * kThreads < count) sorted[rank[k]] = mine[k];
    __syncthreads();  // the sorted keys (global) are visible to the whole block from here
  }

  const int considered = p.end_to_end ? count : max(0, min(count, p.max_candidates));
  const long long kbase = static_cast<long long>(b) * p.max_det;
  // The sort buffer is free from here: kept boxes and classes go there when they fit.
  const bool shared_kept = p.max_det <= kSharedKept;
  float4* kbox = shared_kept ? reinterpret_cast<float4*>(s_keys) : kept_box + kbase;
  int* kcls = shared_kept ? reinterpret_cast<int*>(reinterpret_cast<float4*>(s_keys) + kSharedKept) : kept_cls + kbase;
  int kept = 0;
  if (p.end_to_end) {
    kept = min(considered, p.max_det);
  } else {
    const int lane = tid & 31, warp = tid >> 5;
    for (int start = 0; start < considered && kept < p.max_det; start += kThreads) {
      const int i = start + tid;
      bool alive = i < considered;
      Box box{0.f, 0.f, 0.f, 0.f};
      float area = 0.f, score = 0.f;
      int cls = 0;
      if (alive) {
        const Key key = sorted[i];
        const int a = key_anchor(key, p.anchor_bits);
        score = key_score(key, p.anchor_bits);
        box = load_box(boxes, base + a);
        cls = classes[base + a];
        area = box_area(box);
        for (int j = 0; j < kept; ++j) {
          if (!p.agnostic && kcls[j] != cls) continue;
          const Box kb = load_box(kbox, j);
          if (box_iou(kb, box_area(kb), box, area) > p.iou) {
            alive = false;
            break;
          }
        }
      }
      // Compact the survivors of this step, keeping score order.
      const unsigned ballot = __ballot_sync(0xffffffffu, alive);
      if (lane == 0) s.warp_count[warp] = __popc(ballot);
      if (tid < kWarps) {
        s.kept_bits[0][tid] = 0u;
        s.done_bits[0][tid] = 0u;
      }
      __syncthreads();
      int offset = 0, m = 0;
#pragma unroll
      for (int w = 0; w < kWarps; ++w) {
        offset += w < warp ? s.warp_count[w] : 0;
        m += s.warp_count[w];
      }
      if (alive) {
        const int q = offset + __popc(ballot & ((1u << lane) - 1u));
        s.box[q] = box;
        s.area[q] = area;
        s.score[q] = score;
        s.cls[q] = cls;
      }
      __syncthreads();
      if (tid < m) {
        const Box me = s.box[tid];
        const float my_area = s.area[tid];
        const int my_cls = s.cls[tid];
#pragma unroll
        for (int w = 0; w < kWarps; ++w) {
          unsigned bits = 0;
          const int q_end = min(tid, (w + 1) * 32);
          for (int q = w * 32; q < q_end; ++q)
            if ((p.agnostic || s.cls[q] == my_cls) && box_iou(s.box[q], s.area[q], me, my_area) > p.iou)
              bits |= 1u << (q & 31);
          s.overlaps[tid][w] = bits;
        }
      }
      // Greedy resolution of the step, in parallel: survivor q is kept iff no earlier kept
      // survivor overlaps it. Each round decides every q whose overlapping predecessors are
      // all decided (suppressed as soon as one of them is kept), reading the previous round's
      // state and publishing into the other buffer. The lowest undecided q is always decided
      // in the next round, so this ends, with exactly the sequential greedy outcome, after as
      // many rounds as the longest chain of overlaps (a handful on real images).
      int cur = 0;
      for (;;) {
        const int nxt = cur ^ 1;
        if (tid < kWarps) {
          s.kept_bits[nxt][tid] = s.kept_bits[cur][tid];
          s.done_bits[nxt][tid] = s.done_bits[cur][tid];
        }
        __syncthreads();  // overlap rows (first round) and the previous round's state are visible
        bool pending = false;
        if (tid < m && !((s.done_bits[cur][warp] >> lane) & 1u)) {
          bool suppressed = false, waiting = false;
          for (int w = 0; w <= warp; ++w) {
            const unsigned o = s.overlaps[tid][w];
            suppressed |= (o & s.kept_bits[cur][w]) != 0u;
            waiting |= (o & ~s.done_bits[cur][w]) != 0u;
          }
          if (suppressed) {
            atomicOr(&s.done_bits[nxt][warp], 1u << lane);
          } else if (!waiting) {
            atomicOr(&s.kept_bits[nxt][warp], 1u << lane);
            atomicOr(&s.done_bits[nxt][warp], 1u << lane);
          } else {
            pending = true;
          }
        }
        cur = nxt;
        if (!__syncthreads_or(pending)) break;
      }
      // Kept survivors in order, at most max_det - kept of them.
      const int room = p.max_det - kept;
      int total = 0, before = 0;
#pragma unroll
      for (int w = 0; w < kWarps; ++w) {
        const int c = __popc(s.kept_bits[cur][w]);
        total += c;
        before += w < warp ? c : 0;
      }
      const int a = min(total, room);
      if (tid < m && ((s.kept_bits[cur][warp] >> lane) & 1u)) {
        const int pos = before + __popc(s.kept_bits[cur][warp] & ((1u << lane) - 1u));
        if (pos < room) s.alive[pos] = tid;
      }
      __syncthreads();
      for (int t = tid; t < a; t += kThreads) {
        const int q = s.alive[t];
        kbox[kept + t] = make_float4(s.box[q].x1, s.box[q].y1, s.box[q].x2, s.box[q].y2);
        kept_score[kbase + kept + t] = s.score[q];
        kcls[kept + t] = s.cls[q];
      }
      kept += a;
      __syncthreads();  // kept boxes visible, shared step reusable
    }
  }

  const Geometry g = geometries[b];
  for (int k = tid; k < kept; k += kThreads) {
    Box box;
    float score;
    int cls;
    if (p.end_to_end) {
      const Key key = sorted[k];
      const int a = key_anchor(key, p.anchor_bits);
      box = load_box(boxes, base + a);
      score = key_score(key, p.anchor_bits);
      cls = classes[base + a];
    } else {
      box = load_box(kbox, k);
      score = kept_score[kbase + k];
      cls = kcls[k];
    }
    float* row = detections + (kbase + k) * kDetectionWidth;
    row[0] = unmap_x(g, box.x1);
    row[1] = unmap_y(g, box.y1);
    row[2] = unmap_x(g, box.x2);
    row[3] = unmap_y(g, box.y2);
    row[4] = score;
    row[5] = static_cast<float>(cls);
  }
  if (tid == 0) {
    int* st = stats + b * kStatsPerImage;
    st[0] = count;
    st[1] = count - considered;
    st[2] = kept;
    st[3] = invalid[b];
  }
}

int anchor_bits_for(int num_anchors) {
  int bits = 1;
  while (bits < 31 && (1LL << bits) < num_anchors) ++bits;
  return bits;
}

std::size_t align_up(std::size_t v) { return (v + 255) & ~std::size_t{255}; }

// Byte offsets of the workspace regions for one problem size.
struct Layout {
  std::size_t converted, counts, keys_in, keys_sorted, boxes, classes, kept_box, kept_score, kept_cls, total;

  Layout(int batch, const HeadSpec& h, const DecodeOptions& o, DType dtype) {
    const std::size_t items = static_cast<std::size_t>(batch) * h.num_anchors;
    const std::size_t kept = static_cast<std::size_t>(batch) * o.max_det;
    std::size_t at = 0;
    auto take = [&at](std::size_t bytes) {
      const std::size_t here = at;
      at += align_up(bytes);
      return here;
    };
    converted = take(dtype == DType::Float16 ? static_cast<std::size_t>(batch) * h.image_stride() * sizeof(float) : 0);
    counts = take(2 * batch * sizeof(int));  // candidates per image, then invalid rows per image
    keys_in = take(items * sizeof(Key));
    keys_sorted = take(items * sizeof(Key));
    boxes = take(items * sizeof(float4));
    classes = take(items * sizeof(int));
    kept_box = take(kept * sizeof(float4));
    kept_score = take(kept * sizeof(float));
    kept_cls = take(kept * sizeof(int));
    total = at;
  }
};

// Problem-size limits, checked before anything is sized from them: keys address anchors in
// 32-bit ints.
void check_problem(int batch, const HeadSpec& h, const DecodeOptions& o) {
  check_head_spec(h);
  if (batch < 1 || batch > 65535)
    throw InvalidArgument("batch: expected 1 to 65535 images, got " + std::to_string(batch));
  if (h.num_anchors < 0) throw InvalidArgument("head.num_anchors: expected >= 0, got " + std::to_string(h.num_anchors));
  if (static_cast<long long>(batch) * h.num_anchors >= (1LL << 31))
    throw InvalidArgument("batch * num_anchors: expected below 2^31, got " +
                          std::to_string(static_cast<long long>(batch) * h.num_anchors));
  check_max_det(o.max_det);
  // Result rows live on the device (and are baked into captured graphs): bound batch * max_det
  // so one call cannot reserve gigabytes (48 bytes of workspace and result per row).
  if (static_cast<long long>(batch) * o.max_det > kMaxDeviceRows)
    throw InvalidArgument("batch * max_det: expected at most " + std::to_string(kMaxDeviceRows) + " rows, got " +
                          std::to_string(static_cast<long long>(batch) * o.max_det));
}

void validate(const DecodeNmsArgs& a) {
  check_problem(a.batch, a.head, a.options);
  if (!a.output || !a.geometries || !a.detections || !a.stats)
    throw InvalidArgument("decode_nms: output, geometries, detections and stats must be device pointers, got null");
}

}  // namespace

void DecodeNms::check(int batch, const HeadSpec& head, const DecodeOptions& options) {
  check_problem(batch, head, options);
}

bool DecodeNms::reserve(int batch, const HeadSpec& head, const DecodeOptions& options, DType dtype) {
  check_problem(batch, head, options);
  return workspace_.reserve(Layout(batch, head, options, dtype).total);
}

bool DecodeNms::fits(int batch, const HeadSpec& head, const DecodeOptions& options, DType dtype) const {
  check_problem(batch, head, options);
  return workspace_.data() && Layout(batch, head, options, dtype).total <= workspace_.capacity();
}

void DecodeNms::enqueue(const DecodeNmsArgs& a, cudaStream_t stream) {
  validate(a);
  const HeadSpec& h = a.head;
  const Layout L(a.batch, h, a.options, a.dtype);
  workspace_.reserve(L.total);
  char* ws = workspace_.as<char>();
  int* counts = reinterpret_cast<int*>(ws + L.counts);
  Key* keys_in = reinterpret_cast<Key*>(ws + L.keys_in);
  Key* keys_sorted = reinterpret_cast<Key*>(ws + L.keys_sorted);
  float4* boxes = reinterpret_cast<float4*>(ws + L.boxes);
  int* classes = reinterpret_cast<int*>(ws + L.classes);
  const int N = h.num_anchors;
  const int bits = anchor_bits_for(N);

  int* invalid = counts + a.batch;
  FASTDET_CUDA_CHECK(cudaMemsetAsync(counts, 0, 2 * a.batch * sizeof(int), stream));
  if (N > 0) {
    const float* output = static_cast<const float*>(a.output);
    if (a.dtype == DType::Float16) {
      const long long n = static_cast<long long>(a.batch) * h.image_stride();
      float* converted = reinterpret_cast<float*>(ws + L.converted);
      const int blocks = static_cast<int>(std::min<long long>((n + 255) / 256, 8192));
      half_to_float_kernel<<<blocks, 256, 0, stream>>>(static_cast<const __half*>(a.output), converted, n);
      FASTDET_CUDA_CHECK_LAUNCH("half_to_float_kernel");
      output = converted;
    }
    candidates_kernel<<<dim3((N + 255) / 256, a.batch), 256, 0, stream>>>(
        output, h, a.options.conf, a.class_mask, bits, counts, invalid, keys_in, boxes, classes);
    FASTDET_CUDA_CHECK_LAUNCH("candidates_kernel");

    large_sort_kernel<<<dim3((N + kRankThreads - 1) / kRankThreads, a.batch), kRankThreads, 0, stream>>>(
        counts, N, keys_in, keys_sorted);
    FASTDET_CUDA_CHECK_LAUNCH("large_sort_kernel");
  }
  NmsParams p;
  p.num_anchors = N;
  p.anchor_bits = bits;
  p.max_det = a.options.max_det;
  p.max_candidates = a.options.max_candidates;
  p.iou = a.options.iou;
  p.agnostic = a.options.agnostic;
  p.end_to_end = h.format == HeadFormat::EndToEnd;
  nms_kernel<<<a.batch, kThreads, 0, stream>>>(p, counts, invalid, keys_in, keys_sorted, boxes, classes, a.geometries,
                                               reinterpret_cast<float4*>(ws + L.kept_box),
                                               reinterpret_cast<float*>(ws + L.kept_score),
                                               reinterpret_cast<int*>(ws + L.kept_cls), a.detections, a.stats);
  FASTDET_CUDA_CHECK_LAUNCH("nms_kernel");
}

}  // namespace fastdet::cuda
