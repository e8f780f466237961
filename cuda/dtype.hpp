// Element types of the engine's input and output bindings.
#pragma once

#include <cstddef>

namespace fastdet::cuda {

enum class DType : int { Float32 = 0, Float16 = 1 };

inline std::size_t dtype_size(DType t) { return t == DType::Float16 ? 2 : 4; }

}  // namespace fastdet::cuda
