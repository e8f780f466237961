// Plain C++ row stages: the reference the SIMD sets must equal, and what CPUs without them run.
#include "letterbox_rows.hpp"

namespace fastdet::detail {
namespace {

void prepare(const Columns&, std::vector<std::uint8_t>&) {}

void horizontal(const std::uint8_t* row, const Columns& cols, std::int16_t* out) {
  const int cn = cols.channels;
  for (int x = 0; x < cols.count; ++x) {
    const LinearTap& t = cols.taps[x];
    const std::uint8_t* p0 = row + t.i0 * cn;
    const std::uint8_t* p1 = row + t.i1 * cn;
    for (int c = 0; c < 3; ++c) out[4 * x + c] = static_cast<std::int16_t>(horizontal_sum(p0[c], p1[c], t.w0, t.w1));
    out[4 * x + 3] = 0;
  }
}

void vertical(const std::int16_t* h0, const std::int16_t* h1, int b0, int b1, int n, const PixelMaps& maps,
              float* const* planes) {
  vertical_columns(h0, h1, b0, b1, 0, n, maps, planes);
}

}  // namespace

const RowKernels& plain_kernels() {
  static const RowKernels k{0, prepare, horizontal, vertical};
  return k;
}

}  // namespace fastdet::detail
