#include "fastdet/simd.hpp"

#include <cstdlib>
#include <cstring>
#include <string>

#include "fastdet/error.hpp"

namespace fastdet {

Simd best_simd() {
#if defined(FASTDET_AVX2_KERNELS)
  // __builtin_cpu_supports checks that the OS saves the YMM registers too (XGETBV), not only CPUID.
  static const Simd best = __builtin_cpu_supports("avx2") ? Simd::AVX2 : Simd::SSE2;
  return best;
#elif defined(FASTDET_SSE2_KERNELS)
  return Simd::SSE2;
#else
  return Simd::None;
#endif
}

const char* simd_name(Simd s) {
  switch (s) {
    case Simd::None:
      return "none";
    case Simd::SSE2:
      return "sse2";
    case Simd::AVX2:
      return "avx2";
  }
  return "?";
}

Simd simd_from_env() {
  const Simd best = best_simd();
  const char* env = std::getenv("FASTDET_SIMD");
  if (!env || !*env) return best;
  for (Simd s : {Simd::None, Simd::SSE2, Simd::AVX2}) {
    if (std::strcmp(env, simd_name(s)) == 0) return static_cast<int>(s) < static_cast<int>(best) ? s : best;
  }
  throw InvalidArgument(std::string("FASTDET_SIMD: expected none, sse2 or avx2 (or unset for the best this CPU has), got '") +
                        env + "'");
}

}  // namespace fastdet
