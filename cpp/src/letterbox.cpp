// CPU letterbox driver: column taps and value maps once per call, then output rows in parallel:
// a horizontal pass per source row an output row needs (kept for the next output row, which
// often needs it too), then the vertical pass, which writes the three planes; both with the
// row stages of the instruction set in use.
#include "fastdet/letterbox.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "fastdet/bilinear.hpp"
#include "fastdet/parallel.hpp"
#include "letterbox_rows.hpp"

namespace fastdet {
namespace {

using detail::ChannelMap;
using detail::Columns;
using detail::PixelMaps;
using detail::RowKernels;
using detail::ValueForm;

const RowKernels& kernels_for(Simd s) {
  if (static_cast<int>(s) > static_cast<int>(best_simd())) s = best_simd();
#if defined(FASTDET_AVX2_KERNELS)
  if (s == Simd::AVX2) return detail::avx2_kernels();
#endif
#if defined(FASTDET_SSE2_KERNELS)
  if (s != Simd::None) return detail::sse2_kernels();
#endif
  return detail::plain_kernels();
}

ChannelMap make_channel_map(const PixelTransform& t, int c) {
  ChannelMap m;
  for (int v = 0; v < 256; ++v) m.table[v] = pixel_value(t, c, static_cast<float>(v));
  m.divisor = t.divisor;
  m.mean = t.mean[c];
  m.std = t.std[c];
  // The same values with two multiplies instead of two divisions where that is exact for all 256
  // inputs (checked here, value by value): hi keeps 12 significant bits of the slope, so v * hi
  // is exact; lo is the rest. Exact for the /255 and 0-255 recipes; mean/std ones usually divide
  // (measured: 121-231 of 256 values differ for ImageNet's).
  const double slope = 1.0 / (static_cast<double>(t.divisor) * t.std[c]);
  int e = 0;
  const double mantissa = std::frexp(slope, &e);  // before e is read: argument order is unspecified
  const double hi = std::ldexp(std::trunc(std::ldexp(mantissa, 12)), e - 12);
  m.hi = static_cast<float>(hi);
  m.lo = static_cast<float>(slope - hi);
  m.add = static_cast<float>(-static_cast<double>(t.mean[c]) / t.std[c]) + 0.f;  // + 0: no -0
  m.split = m.split_no_add = std::isfinite(slope);
  for (int v = 0; v < 256; ++v) {
    const float f = static_cast<float>(v);
    const float split = (f * m.hi + m.add) + f * m.lo;
    const float no_add = f * m.hi + f * m.lo;
    m.split &= std::memcmp(&split, &m.table[v], sizeof split) == 0;
    m.split_no_add &= std::memcmp(&no_add, &m.table[v], sizeof no_add) == 0;
  }
  return m;
}

// Value maps of the last transform seen on this thread (most callers letterbox with one recipe).
const ChannelMap* channel_maps(const PixelTransform& t) {
  thread_local ChannelMap maps[3];
  thread_local float key[7] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};  // divisor 0 never occurs
  const float now[7] = {t.divisor, t.mean[0], t.mean[1], t.mean[2], t.std[0], t.std[1], t.std[2]};
  if (std::memcmp(key, now, sizeof now) != 0) {
    for (int c = 0; c < 3; ++c) maps[c] = make_channel_map(t, c);
    std::memcpy(key, now, sizeof now);
  }
  return maps;
}

struct Job {
  const FrameView* frame;
  const Geometry* g;
  const PixelTransform* t;
  const RowKernels* k;
  Columns cols;
  PixelMaps maps;             // per source channel
  int plane_of[3];            // output plane of source channel k
  int first_copied_row;       // rows from here on are copied before the horizontal stage reads them
  float* dst;
};

// Per-thread buffers for a run of output rows: two horizontal rows (by source row) and the copy
// of a row near the frame's end.
struct RowScratch {
  std::vector<std::int16_t> h[2];
  int id[2] = {-1, -1};
  std::vector<std::uint8_t> copy;
};

const std::int16_t* horizontal_row(const Job& j, RowScratch& s, int row, int keep) {
  if (s.id[0] == row) return s.h[0].data();
  if (s.id[1] == row) return s.h[1].data();
  const int slot = s.id[0] == keep ? 1 : 0;
  const FrameView& f = *j.frame;
  const std::uint8_t* src = f.data + static_cast<std::ptrdiff_t>(row) * f.row_stride;
  if (row >= j.first_copied_row) {
    std::memcpy(s.copy.data(), src, static_cast<std::size_t>(f.width) * f.channels);
    src = s.copy.data();
  }
  j.k->horizontal(src, j.cols, s.h[slot].data());
  s.id[slot] = row;
  return s.h[slot].data();
}

void fill_row(float* const* rows, const float* pad, int begin, int end) {
  for (int c = 0; c < 3; ++c) std::fill(rows[c] + begin, rows[c] + end, pad[c]);
}

void run_rows(const Job& j, int y_begin, int y_end) {
  const FrameView& f = *j.frame;
  const Geometry& g = *j.g;
  thread_local RowScratch s;
  const std::size_t row_len = 4 * static_cast<std::size_t>(g.new_w) + detail::kRowSlack;
  for (auto& h : s.h)
    if (h.size() < row_len) h.resize(row_len);
  const std::size_t copy_len = static_cast<std::size_t>(f.width) * f.channels + detail::kRowSlack;
  if (s.copy.size() < copy_len) s.copy.resize(copy_len);
  s.id[0] = s.id[1] = -1;  // another frame than last time

  const double scale_y = linear_scale(f.height, g.new_h);
  const std::size_t plane = static_cast<std::size_t>(g.dst_h) * g.dst_w;
  for (int y = y_begin; y < y_end; ++y) {
    float* rows[3];
    for (int c = 0; c < 3; ++c) rows[c] = j.dst + c * plane + static_cast<std::size_t>(y) * g.dst_w;
    const int iy = y - g.pad_y;
    if (iy < 0 || iy >= g.new_h) {
      fill_row(rows, j.t->pad, 0, g.dst_w);
      continue;
    }
    const LinearTap ty = row_tap(iy, scale_y, f.height);
    const std::int16_t* h0 = horizontal_row(j, s, ty.i0, ty.i1);
    const std::int16_t* h1 = ty.w1 != 0 ? horizontal_row(j, s, ty.i1, ty.i0) : h0;
    fill_row(rows, j.t->pad, 0, g.pad_x);
    float* planes[3];
    for (int k = 0; k < 3; ++k) planes[k] = rows[j.plane_of[k]] + g.pad_x;
    j.k->vertical(h0, h1, ty.w0, ty.w1, g.new_w, j.maps, planes);
    fill_row(rows, j.t->pad, g.pad_x + g.new_w, g.dst_w);
  }
}

}  // namespace

void letterbox_cpu(const FrameView& frame, const Recipe& recipe, const Geometry& g, float* dst, Simd simd) {
  const RowKernels& k = kernels_for(simd);
  const PixelTransform t = make_pixel_transform(recipe, frame.rgb);

  thread_local std::vector<LinearTap> taps;
  thread_local std::vector<std::uint8_t> prepared;
  taps.resize(g.new_w);
  const double scale_x = linear_scale(frame.width, g.new_w);
  for (int x = 0; x < g.new_w; ++x) taps[x] = column_tap(x, scale_x, frame.width);

  Job j;
  j.frame = &frame;
  j.g = &g;
  j.t = &t;
  j.k = &k;
  j.cols.count = g.new_w;
  j.cols.channels = frame.channels;
  j.cols.taps = taps.data();
  k.prepare(j.cols, prepared);
  j.cols.prepared = prepared.data();
  const ChannelMap* maps = channel_maps(t);
  bool split = true, split_no_add = true;
  for (int c = 0; c < 3; ++c) {
    j.maps.ch[t.src_channel[c]] = &maps[c];
    j.plane_of[t.src_channel[c]] = c;
    split &= maps[c].split;
    split_no_add &= maps[c].split_no_add;
  }
  j.maps.form = split_no_add ? ValueForm::SplitNoAdd : (split ? ValueForm::Split : ValueForm::Divide);
  // A row may be read k.overread bytes past its end where the frame's memory goes on (any row
  // but the last few): copy the others.
  j.first_copied_row = frame.height;
  while (j.first_copied_row > 0 &&
         static_cast<std::ptrdiff_t>(frame.height - j.first_copied_row) * frame.row_stride < k.overread)
    --j.first_copied_row;
  j.dst = dst;
  // 16+ rows per chunk keeps the wake-up cost of pool workers small against the work.
  parallel_for(g.dst_h, 16, [&](int y0, int y1) { run_rows(j, y0, y1); });
}

}  // namespace fastdet
