// CUDA runtime helpers: error translation and device discovery.
#pragma once

#include <string>

namespace fastdet::cuda {

// Number of usable CUDA devices; 0 when there is no driver or no GPU (never throws).
int device_count() noexcept;

// Name and compute capability of device `index` (throws std::runtime_error on failure).
std::string device_name(int index);

}  // namespace fastdet::cuda
