#include "buffer.hpp"

#include <cuda_runtime_api.h>

#include "error.hpp"

namespace fastdet::cuda {

template <Memory M>
bool Buffer<M>::reserve(std::size_t bytes) {
  if (bytes <= bytes_ && ptr_) return false;
  release();
  const std::size_t n = bytes ? bytes : 1;
  if constexpr (M == Memory::Device)
    FASTDET_CUDA_CHECK(cudaMalloc(&ptr_, n));
  else
    FASTDET_CUDA_CHECK(cudaMallocHost(&ptr_, n));
  bytes_ = n;
  return true;
}

template <Memory M>
void Buffer<M>::release() noexcept {
  if (!ptr_) return;
  // Errors here (a dead context at exit) cannot be reported from a destructor.
  if constexpr (M == Memory::Device)
    cudaFree(ptr_);
  else
    cudaFreeHost(ptr_);
  ptr_ = nullptr;
  bytes_ = 0;
}

template class Buffer<Memory::Device>;
template class Buffer<Memory::Pinned>;

}  // namespace fastdet::cuda
