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

// One channel's value form, its constants broadcast.
template <ValueForm kForm>
struct Map {
  __m128 a, b, c;
  explicit Map(const ChannelMap& m)
      : a(_mm_set1_ps(kForm == ValueForm::Divide ? m.divisor : m.hi)),
        b(_mm_set1_ps(kForm == ValueForm::Divide ? m.mean : m.lo)),
        c(_mm_set1_ps(kForm == ValueForm::Divide ? m.std : m.add)) {}
  __m128 operator()(__m128 f) const {
    if (kForm == ValueForm::SplitNoAdd) return _mm_add_ps(_mm_mul_ps(f, a), _mm_mul_ps(f, b));
    if (kForm == ValueForm::Split) return _mm_add_ps(_mm_add_ps(_mm_mul_ps(f, a), c), _mm_mul_ps(f, b));
    return _mm_div_ps(_mm_sub_ps(_mm_div_ps(f, a), b), c);
  }
};

template <ValueForm kForm>
void vertical_form(const std::int16_t* h0, const std::int16_t* h1, int b0, int b1, int n, const PixelMaps& maps,
                   float* const* planes) {
  const __m128i vb0 = _mm_set1_epi16(static_cast<std::int16_t>(b0));
  const __m128i vb1 = _mm_set1_epi16(static_cast<std::int16_t>(b1));
  const __m128i byte = _mm_set1_epi32(0xFF);
  const bool two_rows = b1 != 0;
  const Map<kForm> m0(*maps.ch[0]), m1(*maps.ch[1]), m2(*maps.ch[2]);
  float* p0 = planes[0];
  float* p1 = planes[1];
  float* p2 = planes[2];
  const int n4 = n & ~3;
  for (int x = 0; x < n4; x += 4) {
    const __m128i a = blend8(h0 + 4 * x, h1 + 4 * x, vb0, vb1, two_rows);
    const __m128i b = blend8(h0 + 4 * x + 8, h1 + 4 * x + 8, vb0, vb1, two_rows);
    const __m128i px = _mm_packus_epi16(a, b);  // 4 pixels, one byte per channel
    _mm_storeu_ps(p0 + x, m0(_mm_cvtepi32_ps(_mm_and_si128(px, byte))));
    _mm_storeu_ps(p1 + x, m1(_mm_cvtepi32_ps(_mm_and_si128(_mm_srli_epi32(px, 8), byte))));
    _mm_storeu_ps(p2 + x, m2(_mm_cvtepi32_ps(_mm_and_si128(_mm_srli_epi32(px, 16), byte))));
  }
  vertical_columns(h0, h1, b0, b1, n4, n, maps, planes);
}

void vertical(const std::int16_t* h0, const std::int16_t* h1, int b0, int b1, int n, const PixelMaps& maps,
              float* const* planes) {
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

const RowKernels& sse2_kernels() {
  static const RowKernels k{8, prepare, horizontal, vertical};
  return k;
}

}  // namespace fastdet::detail
#endif
