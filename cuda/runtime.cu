#include "runtime.hpp"

#include <cuda_runtime.h>

#include "error.hpp"

namespace fastdet::cuda {

int device_count() noexcept {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error so later calls start clean
    return 0;
  }
  return n;
}

std::string device_name(int index) {
  require_device(index);
  cudaDeviceProp prop{};
  FASTDET_CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  return std::string(prop.name) + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ")";
}

void require_device(int device) {
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    cudaGetLastError();
    throw CudaError(err, std::string("no CUDA device: this CUDA build of fastdet found no usable GPU (") +
                             cudaGetErrorString(err) + "); use the CPU path (device=\"cpu\")");
  }
  if (n == 0)
    throw CudaError(cudaErrorNoDevice,
                    "no CUDA device: this CUDA build of fastdet found no GPU; use the CPU path (device=\"cpu\")");
  if (device < 0 || device >= n)
    throw CudaError(cudaErrorInvalidDevice, "no CUDA device " + std::to_string(device) + ": expected an index in [0, " +
                                                std::to_string(n) + ")");
}

}  // namespace fastdet::cuda
