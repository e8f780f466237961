#include "error.hpp"

#include <cstring>

namespace fastdet::cuda {

void check(cudaError_t err, const char* expr, const char* file, int line) {
  if (err == cudaSuccess) return;
  // Reset the runtime's last-error slot: a non-sticky error left there would make the next
  // launch check (cudaGetLastError) blame a kernel that did nothing wrong. A sticky error (a
  // kernel fault) survives this and is reported again by whatever runs next, as it should be.
  (void)cudaGetLastError();
  // Name the source file only, not the build machine's path to it.
  const char* base = std::strrchr(file, '/');
  base = base ? base + 1 : file;
  throw CudaError(err, std::string("CUDA error: ") + cudaGetErrorString(err) + " (" + cudaGetErrorName(err) +
                           ") in " + expr + " at " + base + ":" + std::to_string(line));
}

}  // namespace fastdet::cuda
