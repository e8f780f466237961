// SSE2 row stages: the x86-64 baseline, for CPUs without AVX2.
#include "letterbox_rows.hpp"

#if defined(FASTDET_SSE2_KERNELS)
#include <emmintrin.h>

namespace fastdet::detail {
namespace {

// Per output column, int16 multipliers against the 8 bytes loaded at its left tap (the right
// tap follows at +channels, or has weight 0): the low and the high 6 bits of the weights, so
// every product and pair sum fits in 16 bits, and S >> 4 = ((sum of hi) << 2) + ((sum of lo) >> 4)
// exactly (the high part is a multiple of 64, the low one below 64 * 2 * 255).
struct ColumnWeights {
  std::int16_t lo[8];
  std::int16_t hi[8];
};

void prepare(const Columns& cols, std::vector<std::uint8_t>& out) {
  out.assign(static_cast<std::size_t>(cols.count) * sizeof(ColumnWeights), 0);
  auto* w = reinterpret_cast<ColumnWeights*>(out.data());
  for (int x = 0; x < cols.count; ++x) {
    const LinearTap& t = cols.taps[x];
    for (int c = 0; c < 3; ++c) {
      w[x].lo[c] = static_cast<std::int16_t>(t.w0 & 63);
      w[x].hi[c] = static_cast<std::int16_t>(t.w0 >> 6);
      w[x].lo[cols.channels + c] = static_cast<std::int16_t>(t.w1 & 63);
      w[x].hi[cols.channels + c] = static_cast<std::int16_t>(t.w1 >> 6);
    }
  }
}

template <int kChannels>
void horizontal_cn(const std::uint8_t* row, const Columns& cols, std::int16_t* out) {
  const auto* w = reinterpret_cast<const ColumnWeights*>(cols.prepared);
  const __m128i zero = _mm_setzero_si128();
  for (int x = 0; x < cols.count; ++x) {
    const std::uint8_t* p = row + cols.taps[x].i0 * kChannels;
    const __m128i px = _mm_unpacklo_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)), zero);
    __m128i lo = _mm_mullo_epi16(px, _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[x].lo)));
    __m128i hi = _mm_mullo_epi16(px, _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[x].hi)));
    // Lanes c and kChannels + c hold the left and right taps' products: add them.
    lo = _mm_add_epi16(lo, _mm_srli_si128(lo, 2 * kChannels));
    hi = _mm_add_epi16(hi, _mm_srli_si128(hi, 2 * kChannels));
    const __m128i v = _mm_add_epi16(_mm_slli_epi16(hi, 2), _mm_srli_epi16(lo, 4));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out + 4 * x), v);
  }
}

void horizontal(const std::uint8_t* row, const Columns& cols, std::int16_t* out) {
  if (cols.channels == 4)
    horizontal_cn<4>(row, cols, out);
  else
    horizontal_cn<3>(row, cols, out);
}

inline __m128i blend8(const std::int16_t* h0, const std::int16_t* h1, __m128i b0, __m128i b1, bool two_rows) {
  __m128i v = _mm_mulhi_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h0)), b0);
  if (two_rows) v = _mm_add_epi16(v, _mm_mulhi_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h1)), b1));
  return _mm_srai_epi16(_mm_add_epi16(v, _mm_set1_epi16(2)), 2);
}

// Rounds up to 16 values: the row buffers have kRowSlack elements of room.
void vertical(const std::int16_t* h0, const std::int16_t* h1, int b0, int b1, int n, std::uint8_t* out) {
  const __m128i vb0 = _mm_set1_epi16(static_cast<std::int16_t>(b0));
  const __m128i vb1 = _mm_set1_epi16(static_cast<std::int16_t>(b1));
  const bool two_rows = b1 != 0;
  for (int i = 0; i < n; i += 16) {
    const __m128i a = blend8(h0 + i, h1 + i, vb0, vb1, two_rows);
    const __m128i b = blend8(h0 + i + 8, h1 + i + 8, vb0, vb1, two_rows);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm_packus_epi16(a, b));
  }
}

void store(const std::uint8_t* px, int n, const ChannelMap* const* maps, float* const* planes) {
  const __m128i byte = _mm_set1_epi32(0xFF);
  const int n4 = n & ~3;
  for (int k = 0; k < 3; ++k) {
    const ChannelMap& m = *maps[k];
    float* p = planes[k];
    const __m128i shift = _mm_cvtsi32_si128(8 * k);
    auto value = [&](int x) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(px + 4 * x));
      return _mm_cvtepi32_ps(_mm_and_si128(_mm_srl_epi32(v, shift), byte));
    };
    if (m.split) {
      const __m128 hi = _mm_set1_ps(m.hi), lo = _mm_set1_ps(m.lo), add = _mm_set1_ps(m.add);
      for (int x = 0; x < n4; x += 4) {
        const __m128 f = value(x);
        _mm_storeu_ps(p + x, _mm_add_ps(_mm_add_ps(_mm_mul_ps(f, hi), add), _mm_mul_ps(f, lo)));
      }
    } else {
      const __m128 d = _mm_set1_ps(m.divisor), mean = _mm_set1_ps(m.mean), sd = _mm_set1_ps(m.std);
      for (int x = 0; x < n4; x += 4) {
        const __m128 f = value(x);
        _mm_storeu_ps(p + x, _mm_div_ps(_mm_sub_ps(_mm_div_ps(f, d), mean), sd));
      }
    }
    for (int x = n4; x < n; ++x) p[x] = m.table[px[4 * x + k]];
  }
}

}  // namespace

const RowKernels& sse2_kernels() {
  static const RowKernels k{8, prepare, horizontal, vertical, store};
  return k;
}

}  // namespace fastdet::detail
#endif
