// Exceptions thrown by the core. The binding layer maps them to Python: InvalidArgument ->
// fastdet.InputError (a ValueError), TypeMismatch -> fastdet.InputTypeError (a TypeError), CUDA
// errors -> fastdet.CudaError, everything else -> RuntimeError.
#pragma once

#include <stdexcept>
#include <string>

namespace fastdet {

struct InvalidArgument : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

struct TypeMismatch : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

}  // namespace fastdet
