#include "graph.hpp"

#include "error.hpp"

namespace fastdet::cuda {

GraphExec::~GraphExec() {
  if (e_) cudaGraphExecDestroy(e_);
}

GraphExec& GraphExec::operator=(GraphExec&& o) noexcept {
  if (this != &o) {
    if (e_) cudaGraphExecDestroy(e_);
    e_ = std::exchange(o.e_, nullptr);
  }
  return *this;
}

void GraphExec::launch(cudaStream_t stream) const { FASTDET_CUDA_CHECK(cudaGraphLaunch(e_, stream)); }

GraphExec capture_graph(cudaStream_t stream, const std::function<void()>& enqueue) {
  // Thread-local mode: other threads may keep using CUDA (allocations included) meanwhile.
  FASTDET_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  try {
    enqueue();
  } catch (...) {
    cudaGraph_t dropped = nullptr;
    cudaStreamEndCapture(stream, &dropped);
    if (dropped) cudaGraphDestroy(dropped);
    cudaGetLastError();  // the failed capture's error is the exception being rethrown
    throw;
  }
  cudaGraph_t graph = nullptr;
  FASTDET_CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
  cudaGraphExec_t exec = nullptr;
  const cudaError_t err = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  FASTDET_CUDA_CHECK(err);
  return GraphExec(exec);
}

}  // namespace fastdet::cuda
