// Marks code shared verbatim by host (C++) and device (CUDA) builds, so the CPU
// and GPU paths use one definition of geometry, head layout and IoU.
#pragma once

#if defined(__CUDACC__)
#define FASTDET_HD __host__ __device__ __forceinline__
#else
#define FASTDET_HD inline
#endif

// Full unrolling of a constant-count loop on the device (so independent loads issue together);
// nothing on the host, where the compiler decides and GCC would warn about the pragma.
#if defined(__CUDACC__)
#define FASTDET_UNROLL _Pragma("unroll")
#else
#define FASTDET_UNROLL
#endif
