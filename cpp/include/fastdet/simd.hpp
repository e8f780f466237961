// Instruction sets the CPU core's hand-written kernels come in, and which one a call uses.
#pragma once

// x86-64 always has SSE2; the AVX2 kernels use GCC/Clang target attributes (no -mavx2 for the
// whole build, so the wheel still runs on any x86-64).
#if defined(__x86_64__) || defined(_M_X64)
#define FASTDET_SSE2_KERNELS 1
#if defined(__GNUC__)
#define FASTDET_AVX2_KERNELS 1
#endif
#endif

namespace fastdet {

// Ordered: a level may use everything below it. Each gives the same bytes; only speed differs.
enum class Simd : int {
  None = 0,  // plain C++ (every CPU; what other architectures than x86-64 run)
  SSE2 = 1,  // the x86-64 baseline
  AVX2 = 2,  // chosen at run time where the CPU and OS support it
};

// The best level this CPU supports (and this build has code for).
Simd best_simd();

// The level to use: best_simd(), capped by $FASTDET_SIMD (none, sse2 or avx2) when set.
// Throws InvalidArgument for any other value. Reads the environment: call it where no other
// thread can be changing it (the binding holds the GIL).
Simd simd_from_env();

const char* simd_name(Simd s);

}  // namespace fastdet
