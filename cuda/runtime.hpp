// CUDA runtime helpers: device discovery.
#pragma once

#include <string>

namespace fastdet::cuda {

// Number of usable CUDA devices; 0 when there is no driver or no GPU (never throws).
int device_count() noexcept;

// Name and compute capability of device `index` (throws CudaError on failure).
std::string device_name(int index);

// Throws CudaError ("no CUDA device ...") unless `device` is a usable GPU, so every entry point
// of a CUDA build fails with a clear message on a machine without one.
void require_device(int device);

}  // namespace fastdet::cuda
