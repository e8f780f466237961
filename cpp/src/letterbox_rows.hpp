// The two row stages of the CPU letterbox, one implementation set per instruction set
// (letterbox_plain.cpp, letterbox_sse2.cpp, letterbox_avx2.cpp). Every set computes the
// arithmetic of fastdet/bilinear.hpp and pixel_value() of fastdet/recipe.hpp exactly; the
// driver (letterbox.cpp) picks one and runs the rows.
//
// A horizontally resampled source row is int16[4 * columns]: per output column the three colour
// channels' S >> 4 in source order, and a fourth lane carried along unused (so that SIMD lanes
// hold whole pixels and the planes come out with shifts and masks, not byte shuffles).
#pragma once

#include <cstdint>
#include <vector>

#include "fastdet/bilinear.hpp"
#include "fastdet/simd.hpp"

namespace fastdet::detail {

// Horizontal rows hold this many int16 more than 4 * columns: the kernels write and read whole
// vectors. (How far a horizontal stage reads past a source row is RowKernels::overread.)
constexpr int kRowSlack = 32;

struct Columns {
  int count = 0;                     // output columns (the resized width)
  int channels = 3;                  // source bytes per pixel: 3 or 4 (the 4th is ignored)
  const LinearTap* taps = nullptr;   // per output column, from column_tap()
  const std::uint8_t* prepared = nullptr;  // the kernel set's own column data (prepare())
};

// How one colour channel's uint8 values become floats. table[v] == pixel_value(v) always. The
// SIMD sets evaluate it in a form checked, value by value, to give the table's bits:
// (v * hi) + v * lo (SplitNoAdd), (v * hi + add) + v * lo (Split) -- two multiplies instead of
// two divisions, exact for /255 and 0-255 recipes -- or else (v / divisor - mean) / std as written.
enum class ValueForm : int { Divide = 0, Split = 1, SplitNoAdd = 2 };

struct ChannelMap {
  float table[256];
  bool split = false, split_no_add = false;  // which split forms are exact for this channel
  float hi = 0.f, lo = 0.f, add = 0.f;
  float divisor = 1.f, mean = 0.f, std = 1.f;
};

// The maps of the three source channels (k = 0..2) and the form valid for all three.
struct PixelMaps {
  const ChannelMap* ch[3];
  ValueForm form;
};

struct RowKernels {
  // Bytes a horizontal stage may read past the last pixel of a row.
  int overread;
  // Column data of the kernel set, built once per call from the taps.
  void (*prepare)(const Columns& cols, std::vector<std::uint8_t>& out);
  // One source row -> int16[4 * cols.count] (layout above).
  void (*horizontal)(const std::uint8_t* row, const Columns& cols, std::int16_t* out);
  // Two horizontal rows of n columns and the row weights -> the uint8 pixels -> planes[k][0, n)
  // for source channels k through maps. h1 is not read when b1 == 0.
  void (*vertical)(const std::int16_t* h0, const std::int16_t* h1, int b0, int b1, int n, const PixelMaps& maps,
                   float* const* planes);
};

// Columns [begin, n) of the vertical stage, one value at a time: the plain set, and the SIMD sets'
// last few columns.
inline void vertical_columns(const std::int16_t* h0, const std::int16_t* h1, int b0, int b1, int begin, int n,
                             const PixelMaps& maps, float* const* planes) {
  if (b1 == 0) h1 = h0;  // weight zero: any row gives the same values
  for (int k = 0; k < 3; ++k) {
    const float* table = maps.ch[k]->table;
    for (int x = begin; x < n; ++x) planes[k][x] = table[vertical_blend(h0[4 * x + k], h1[4 * x + k], b0, b1)];
  }
}

const RowKernels& plain_kernels();
#if defined(FASTDET_SSE2_KERNELS)
const RowKernels& sse2_kernels();
#endif
#if defined(FASTDET_AVX2_KERNELS)
const RowKernels& avx2_kernels();
#endif

}  // namespace fastdet::detail
