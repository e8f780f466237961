#include "letterbox.cuh"

#include <cuda_fp16.h>

#include "error.hpp"
#include "fastdet/bilinear.hpp"

// This file is compiled with --fmad=false: the tap positions ((d + 0.5) * scale - 0.5, in double)
// must round as the CPU's separate multiply and subtract do, so both paths sample the same
// pixels with the same weights; the integer arithmetic after that is exact on both.

namespace fastdet::cuda {
namespace {

constexpr int kPixelsPerThread = 8;  // consecutive outputs of one row: one 16-byte store per plane (fp16)
constexpr int kBlockX = 32, kBlockY = 4;

__device__ __forceinline__ void store_row(float* p, const float* v, bool vector) {
  if (vector) {
    reinterpret_cast<float4*>(p)[0] = make_float4(v[0], v[1], v[2], v[3]);
    reinterpret_cast<float4*>(p)[1] = make_float4(v[4], v[5], v[6], v[7]);
  } else {
    for (int k = 0; k < kPixelsPerThread; ++k) p[k] = v[k];
  }
}

__device__ __forceinline__ unsigned pack_half2(float a, float b) {
  return static_cast<unsigned>(__half_as_ushort(__float2half_rn(a))) |
         (static_cast<unsigned>(__half_as_ushort(__float2half_rn(b))) << 16);
}

__device__ __forceinline__ void store_row(__half* p, const float* v, bool vector) {
  if (vector) {
    *reinterpret_cast<uint4*>(p) =
        make_uint4(pack_half2(v[0], v[1]), pack_half2(v[2], v[3]), pack_half2(v[4], v[5]), pack_half2(v[6], v[7]));
  } else {
    for (int k = 0; k < kPixelsPerThread; ++k) p[k] = __float2half_rn(v[k]);
  }
}

// One thread: kPixelsPerThread consecutive pixels of output row y of image blockIdx.z, all
// three planes (each source pixel is read once). Pad pixels get the recipe's pad value.
template <class OutT>
__global__ void __launch_bounds__(kBlockX* kBlockY)
    letterbox_kernel(const LetterboxItem* __restrict__ items, int dst_h, int dst_w, OutT* __restrict__ dst,
                     bool aligned) {
  const int b = blockIdx.z;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  const int x0 = (blockIdx.x * blockDim.x + threadIdx.x) * kPixelsPerThread;
  if (y >= dst_h || x0 >= dst_w) return;

  const LetterboxItem it = items[b];
  const Geometry& g = it.g;
  const PixelTransform& t = it.t;
  float out[3][kPixelsPerThread];

  const int iy = y - g.pad_y;
  const bool row_inside = iy >= 0 && iy < g.new_h;
  const std::uint8_t* r0 = nullptr;
  const std::uint8_t* r1 = nullptr;
  LinearTap ty{0, 0, 0, 0};
  if (row_inside) {
    ty = row_tap(iy, it.scale_y, g.src_h);
    r0 = it.src + ty.i0 * it.row_stride;
    r1 = it.src + ty.i1 * it.row_stride;
  }

#pragma unroll
  for (int k = 0; k < kPixelsPerThread; ++k) {
    const int ix = x0 + k - g.pad_x;
    if (!row_inside || ix < 0 || ix >= g.new_w) {
      out[0][k] = t.pad[0];
      out[1][k] = t.pad[1];
      out[2][k] = t.pad[2];
      continue;
    }
    const LinearTap tx = column_tap(ix, it.scale_x, g.src_w);
    const std::uint8_t* l0 = r0 + tx.i0 * it.channels;
    const std::uint8_t* q0 = r0 + tx.i1 * it.channels;
    const std::uint8_t* l1 = r1 + tx.i0 * it.channels;
    const std::uint8_t* q1 = r1 + tx.i1 * it.channels;
#pragma unroll
    for (int c = 0; c < 3; ++c) {
      const int s = t.src_channel[c];
      // OpenCV's uint8 resize, as the CPU letterbox computes it (bilinear.hpp), then the recipe.
      const int h0 = horizontal_sum(__ldg(l0 + s), __ldg(q0 + s), tx.w0, tx.w1);
      const int h1 = horizontal_sum(__ldg(l1 + s), __ldg(q1 + s), tx.w0, tx.w1);
      const int v = vertical_blend(h0, h1, ty.w0, ty.w1);
      out[c][k] = pixel_value(t, c, static_cast<float>(v));
    }
  }

  const bool vector = aligned && x0 + kPixelsPerThread <= dst_w;
  const long long plane = static_cast<long long>(dst_h) * dst_w;
  OutT* row = dst + static_cast<long long>(b) * 3 * plane + static_cast<long long>(y) * dst_w + x0;
  const int n = dst_w - x0 < kPixelsPerThread ? dst_w - x0 : kPixelsPerThread;
#pragma unroll
  for (int c = 0; c < 3; ++c) {
    if (vector || n == kPixelsPerThread) {
      store_row(row + c * plane, out[c], vector);
    } else {
      for (int k = 0; k < n; ++k) row[c * plane + k] = static_cast<OutT>(out[c][k]);
    }
  }
}

}  // namespace

LetterboxItem make_letterbox_item(const std::uint8_t* src, long long row_stride, int channels, bool rgb,
                                  const Recipe& r, const Geometry& g) {
  LetterboxItem it;
  it.src = src;
  it.row_stride = row_stride;
  it.channels = channels;
  it.scale_x = linear_scale(g.src_w, g.new_w);
  it.scale_y = linear_scale(g.src_h, g.new_h);
  it.g = g;
  it.t = make_pixel_transform(r, rgb);
  return it;
}

void enqueue_letterbox(const LetterboxItem* items, int batch, int dst_h, int dst_w, void* dst, DType dtype,
                       cudaStream_t stream) {
  if (batch <= 0 || dst_h <= 0 || dst_w <= 0) return;
  const int groups = (dst_w + kPixelsPerThread - 1) / kPixelsPerThread;
  const dim3 block(kBlockX, kBlockY);
  const dim3 grid((groups + kBlockX - 1) / kBlockX, (dst_h + kBlockY - 1) / kBlockY, batch);
  // Vector stores need every row to start on a 16-byte boundary.
  const bool aligned = dst_w % kPixelsPerThread == 0 && reinterpret_cast<std::uintptr_t>(dst) % 16 == 0;
  if (dtype == DType::Float16)
    letterbox_kernel<__half><<<grid, block, 0, stream>>>(items, dst_h, dst_w, static_cast<__half*>(dst), aligned);
  else
    letterbox_kernel<float><<<grid, block, 0, stream>>>(items, dst_h, dst_w, static_cast<float*>(dst), aligned);
  FASTDET_CUDA_CHECK_LAUNCH("letterbox_kernel");
}

}  // namespace fastdet::cuda
