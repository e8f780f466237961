// The inference step of the CUDA pipeline, abstracted: a TensorRT engine, an ONNX Runtime
// session with I/O binding, or a Python callable (tests, PyTorch/CuPy models) implement it.
#pragma once

#include <cuda_runtime_api.h>

#include "dtype.hpp"
#include "fastdet/head.hpp"

namespace fastdet::cuda {

// Device buffers of one inference, owned by the pipeline and stable between calls of the
// same batch size (so a captured graph stays valid).
struct EngineIO {
  const void* input = nullptr;  // input_dtype[batch, 3, input_h, input_w], C-contiguous
  DType input_dtype = DType::Float16;
  int batch = 0, input_h = 0, input_w = 0;
  void* output = nullptr;  // output_dtype[batch, ...] laid out per head.format, C-contiguous
  DType output_dtype = DType::Float32;
  HeadSpec head;
};

class Engine {
 public:
  virtual ~Engine() = default;
  // Queues inference on `stream`; must not synchronise the stream with the host.
  virtual void enqueue(const EngineIO& io, cudaStream_t stream) = 0;
  // False when enqueue cannot be captured into a CUDA graph (host work per call, allocation,
  // synchronisation); the pipeline then captures pre- and post-processing around it.
  virtual bool capturable() const { return true; }
};

}  // namespace fastdet::cuda
