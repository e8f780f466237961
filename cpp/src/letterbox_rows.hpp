// The three row stages of the CPU letterbox, one implementation set per instruction set
// (letterbox_plain.cpp, letterbox_sse2.cpp, letterbox_avx2.cpp). Every set computes the
// arithmetic of fastdet/bilinear.hpp and pixel_value() of fastdet/recipe.hpp exactly; the
// driver (letterbox.cpp) picks one and runs the rows.
//
// Row layouts: a horizontally resampled source row is int16[4 * columns], per output column the
// three colour channels' S >> 4 in source order and one lane the vertical stage carries along
// unused; a resized row is uint8[4 * columns] with the same layout (32-bit pixels, so the planes
// come out with shifts and masks instead of byte shuffles).
#pragma once

#include <cstdint>
#include <vector>

#include "fastdet/bilinear.hpp"
#include "fastdet/simd.hpp"

namespace fastdet::detail {

// Rows handed to the horizontal stage may be read this many bytes past their last pixel (the
// driver copies rows near the end of the frame into a padded buffer); buffers of the row
// layouts above hold this many elements more than 4 * columns.
constexpr int kRowSlack = 32;

struct Columns {
  int count = 0;                     // output columns (the resized width)
  int channels = 3;                  // source bytes per pixel: 3 or 4 (the 4th is ignored)
  const LinearTap* taps = nullptr;   // per output column, from column_tap()
  const std::uint8_t* prepared = nullptr;  // the kernel set's own column data (prepare())
};

// How one colour channel's uint8 values become floats, in the forms the kernels evaluate:
// table[v] == pixel_value(v) always; when `split`, also (v * hi + add) + v * lo (exact float ops,
// cheaper than two divisions), else the kernels evaluate (v / divisor - mean) / std as written.
struct ChannelMap {
  float table[256];
  bool split = false;
  float hi = 0.f, lo = 0.f, add = 0.f;
  float divisor = 1.f, mean = 0.f, std = 1.f;
};

struct RowKernels {
  // Bytes a horizontal stage may read past the last pixel of a row.
  int overread;
  // Column data of the kernel set, built once per call from the taps.
  void (*prepare)(const Columns& cols, std::vector<std::uint8_t>& out);
  // One source row -> int16[4 * cols.count] (row layout above).
  void (*horizontal)(const std::uint8_t* row, const Columns& cols, std::int16_t* out);
  // Two horizontal rows and the row weights -> uint8[n]; h1 is not read when b1 == 0.
  void (*vertical)(const std::int16_t* h0, const std::int16_t* h1, int b0, int b1, int n, std::uint8_t* out);
  // uint8[4 * n] pixels -> planes[k][0, n) for source channels k = 0..2, through maps[k].
  void (*store)(const std::uint8_t* px, int n, const ChannelMap* const* maps, float* const* planes);
};

const RowKernels& plain_kernels();
#if defined(FASTDET_SSE2_KERNELS)
const RowKernels& sse2_kernels();
#endif
#if defined(FASTDET_AVX2_KERNELS)
const RowKernels& avx2_kernels();
#endif

}  // namespace fastdet::detail
