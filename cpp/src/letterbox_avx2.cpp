// AVX2 row stages. Only these functions are compiled for AVX2 (target attributes, not -mavx2 on
// the build), and only called after best_simd() found AVX2 at run time. No lambdas in here: GCC
// does not pass a function's target on to them.
#include "letterbox_rows.hpp"

#if defined(FASTDET_AVX2_KERNELS)
#include <immintrin.h>

#include <algorithm>

#define FASTDET_AVX2 __attribute__((target("avx2")))

namespace fastdet::detail {
namespace {

// Column data, per pair of output columns (2p, 2p + 1; the last column doubled for an odd count,
// pairs rounded up to an even number so the loop always takes two): one 16-byte vector of the
// source row holds the pair's four taps, either one load at the left tap of column 2p (when both
// columns' taps fall within it: scales down to 1/3) or two loads blended at 8 bytes. A byte
// shuffle puts each channel's (left, right) tap bytes side by side, and two multiply-adds of
// unsigned bytes by the weights' low and high 6 bits give S >> 4 = (hi << 2) + (lo >> 4) in
// 16 bits, as in the SSE2 set, with the row layout's fourth lane zero.
struct PairLayout {
  int pairs;  // even
  std::size_t offsets, masks, lo, hi;  // byte positions of the arrays in the prepared buffer
};

// Header bytes of the prepared buffer.
constexpr int kAllWindow = 0;  // every pair needs one load only
constexpr int kNoLow = 1;      // every weight is a multiple of 64 (scales 1/2, 1/3, ...): skip the low part

PairLayout layout(int count) {
  PairLayout l;
  l.pairs = ((count + 1) / 2 + 1) & ~1;
  l.offsets = 64;  // after the header
  l.masks = l.offsets + ((static_cast<std::size_t>(l.pairs) * 8 + 31) & ~std::size_t(31));
  l.lo = l.masks + 16 * static_cast<std::size_t>(l.pairs);
  l.hi = l.lo + 16 * static_cast<std::size_t>(l.pairs);
  return l;
}

void prepare(const Columns& cols, std::vector<std::uint8_t>& out) {
  const PairLayout l = layout(cols.count);
  out.assign(l.hi + 16 * static_cast<std::size_t>(l.pairs), 0);
  auto* offsets = reinterpret_cast<std::int32_t*>(out.data() + l.offsets);
  const int cn = cols.channels;
  bool all_window = true, no_low = true;
  for (int p = 0; p < l.pairs; ++p) {
    const int x[2] = {std::min(2 * p, cols.count - 1), std::min(2 * p + 1, cols.count - 1)};
    const int o0 = cols.taps[x[0]].i0 * cn, o1 = cols.taps[x[1]].i0 * cn;
    // Column 2p + 1's bytes (left and right tap, three channels) within the 16 loaded at o0?
    const bool window = o1 - o0 + cn + 2 <= 15;
    all_window &= window;
    offsets[2 * p] = o0;
    offsets[2 * p + 1] = window ? o0 : o1 - 8;
    const int base[2] = {0, window ? o1 - o0 : 8};
    std::uint8_t* mask = out.data() + l.masks + 16 * p;
    auto* lo = reinterpret_cast<std::int8_t*>(out.data() + l.lo + 16 * p);
    auto* hi = reinterpret_cast<std::int8_t*>(out.data() + l.hi + 16 * p);
    for (int h = 0; h < 2; ++h) {
      const LinearTap& t = cols.taps[x[h]];
      no_low &= (t.w0 & 63) == 0 && (t.w1 & 63) == 0;
      for (int c = 0; c < 3; ++c) {
        const int i = 8 * h + 2 * c;
        mask[i] = static_cast<std::uint8_t>(base[h] + c);
        mask[i + 1] = static_cast<std::uint8_t>(base[h] + cn + c);
        lo[i] = static_cast<std::int8_t>(t.w0 & 63);
        lo[i + 1] = static_cast<std::int8_t>(t.w1 & 63);
        hi[i] = static_cast<std::int8_t>(t.w0 >> 6);
        hi[i + 1] = static_cast<std::int8_t>(t.w1 >> 6);
      }
      mask[8 * h + 6] = mask[8 * h + 7] = 0x80;  // zero lane
    }
  }
  out[kAllWindow] = all_window;
  out[kNoLow] = no_low;
}

template <bool kOneLoad, bool kLow>
FASTDET_AVX2 void horizontal_pairs(const std::uint8_t* row, const std::uint8_t* prepared, const PairLayout& l,
                                   std::int16_t* out) {
  const auto* offsets = reinterpret_cast<const std::int32_t*>(prepared + l.offsets);
  for (int p = 0; p < l.pairs; p += 2) {
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + offsets[2 * p]));
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + offsets[2 * p + 2]));
    if (!kOneLoad) {
      a = _mm_blend_epi32(a, _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + offsets[2 * p + 1])), 0xC);
      b = _mm_blend_epi32(b, _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + offsets[2 * p + 3])), 0xC);
    }
    __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(a), b, 1);
    v = _mm256_shuffle_epi8(v, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(prepared + l.masks + 16 * p)));
    const __m256i hi = _mm256_maddubs_epi16(v, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(prepared + l.hi + 16 * p)));
    __m256i sum = _mm256_slli_epi16(hi, 2);
    if (kLow) {
      const __m256i lo = _mm256_maddubs_epi16(v, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(prepared + l.lo + 16 * p)));
      sum = _mm256_add_epi16(sum, _mm256_srli_epi16(lo, 4));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8 * p), sum);
  }
}

FASTDET_AVX2 void horizontal(const std::uint8_t* row, const Columns& cols, std::int16_t* out) {
  const PairLayout l = layout(cols.count);
  const bool one_load = cols.prepared[kAllWindow], low = !cols.prepared[kNoLow];
  if (one_load && low)
    horizontal_pairs<true, true>(row, cols.prepared, l, out);
  else if (one_load)
    horizontal_pairs<true, false>(row, cols.prepared, l, out);
  else if (low)
    horizontal_pairs<false, true>(row, cols.prepared, l, out);
  else
    horizontal_pairs<false, false>(row, cols.prepared, l, out);
}

FASTDET_AVX2 inline __m256i blend16(const std::int16_t* h0, const std::int16_t* h1, __m256i b0, __m256i b1,
                                    bool two_rows) {
  __m256i v = _mm256_mulhi_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h0)), b0);
  if (two_rows)
    v = _mm256_add_epi16(v, _mm256_mulhi_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h1)), b1));
  return _mm256_srai_epi16(_mm256_add_epi16(v, _mm256_set1_epi16(2)), 2);
}

// One channel's value form, its constants broadcast.
template <ValueForm kForm>
struct Map {
  __m256 a, b, c;
  FASTDET_AVX2 explicit Map(const ChannelMap& m)
      : a(_mm256_set1_ps(kForm == ValueForm::Divide ? m.divisor : m.hi)),
        b(_mm256_set1_ps(kForm == ValueForm::Divide ? m.mean : m.lo)),
        c(_mm256_set1_ps(kForm == ValueForm::Divide ? m.std : m.add)) {}
  FASTDET_AVX2 __m256 operator()(__m256 f) const {
    if (kForm == ValueForm::SplitNoAdd) return _mm256_add_ps(_mm256_mul_ps(f, a), _mm256_mul_ps(f, b));
    if (kForm == ValueForm::Split) return _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(f, a), c), _mm256_mul_ps(f, b));
    return _mm256_div_ps(_mm256_sub_ps(_mm256_div_ps(f, a), b), c);
  }
};

FASTDET_AVX2 inline __m256 channel(__m256i px, int k) {
  const __m256i v = k == 0 ? px : _mm256_srli_epi32(px, 8 * k);
  return _mm256_cvtepi32_ps(_mm256_and_si256(v, _mm256_set1_epi32(0xFF)));
}

template <ValueForm kForm>
FASTDET_AVX2 void vertical_form(const std::int16_t* h0, const std::int16_t* h1, int b0, int b1, int n,
                                const PixelMaps& maps, float* const* planes) {
  const __m256i vb0 = _mm256_set1_epi16(static_cast<std::int16_t>(b0));
  const __m256i vb1 = _mm256_set1_epi16(static_cast<std::int16_t>(b1));
  const bool two_rows = b1 != 0;
  const Map<kForm> m0(*maps.ch[0]), m1(*maps.ch[1]), m2(*maps.ch[2]);
  float* p0 = planes[0];
  float* p1 = planes[1];
  float* p2 = planes[2];
  const int n8 = n & ~7;
  for (int x = 0; x < n8; x += 8) {
    const __m256i a = blend16(h0 + 4 * x, h1 + 4 * x, vb0, vb1, two_rows);
    const __m256i b = blend16(h0 + 4 * x + 16, h1 + 4 * x + 16, vb0, vb1, two_rows);
    // 8 pixels, one byte per channel (packus works within 128-bit lanes: reorder the quarters).
    const __m256i px = _mm256_permute4x64_epi64(_mm256_packus_epi16(a, b), 0xD8);
    _mm256_storeu_ps(p0 + x, m0(channel(px, 0)));
    _mm256_storeu_ps(p1 + x, m1(channel(px, 1)));
    _mm256_storeu_ps(p2 + x, m2(channel(px, 2)));
  }
  vertical_columns(h0, h1, b0, b1, n8, n, maps, planes);
}

FASTDET_AVX2 void vertical(const std::int16_t* h0, const std::int16_t* h1, int b0, int b1, int n,
                           const PixelMaps& maps, float* const* planes) {
  switch (maps.form) {
    case ValueForm::SplitNoAdd:
      return vertical_form<ValueForm::SplitNoAdd>(h0, h1, b0, b1, n, maps, planes);
    case ValueForm::Split:
      return vertical_form<ValueForm::Split>(h0, h1, b0, b1, n, maps, planes);
    case ValueForm::Divide:
      return vertical_form<ValueForm::Divide>(h0, h1, b0, b1, n, maps, planes);
  }
}

}  // namespace

const RowKernels& avx2_kernels() {
  static const RowKernels k{16, prepare, horizontal, vertical};
  return k;
}

}  // namespace fastdet::detail
#endif
