// CUDA errors as C++ exceptions: every runtime call and kernel launch is checked, and a
// failure throws CudaError (a std::runtime_error, so Python sees RuntimeError) naming the
// CUDA error and the call site. Nothing in the CUDA core aborts the process.
#pragma once

#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

namespace fastdet::cuda {

class CudaError : public std::runtime_error {
 public:
  CudaError(cudaError_t code, const std::string& what) : std::runtime_error(what), code_(code) {}
  cudaError_t code() const noexcept { return code_; }

 private:
  cudaError_t code_;
};

// Throws CudaError when err is not cudaSuccess. expr and file:line name the failing call.
void check(cudaError_t err, const char* expr, const char* file, int line);

}  // namespace fastdet::cuda

#define FASTDET_CUDA_CHECK(expr) ::fastdet::cuda::check((expr), #expr, __FILE__, __LINE__)
// After a kernel launch: catches bad launch configurations (and earlier sticky errors).
#define FASTDET_CUDA_CHECK_LAUNCH(name) ::fastdet::cuda::check(cudaGetLastError(), name, __FILE__, __LINE__)
