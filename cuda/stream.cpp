#include "stream.hpp"

#include "error.hpp"

namespace fastdet::cuda {

Stream::Stream() { FASTDET_CUDA_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }

Stream::~Stream() {
  if (s_) cudaStreamDestroy(s_);
}

Stream& Stream::operator=(Stream&& o) noexcept {
  if (this != &o) {
    if (s_) cudaStreamDestroy(s_);
    s_ = std::exchange(o.s_, nullptr);
  }
  return *this;
}

void Stream::synchronize() const { FASTDET_CUDA_CHECK(cudaStreamSynchronize(s_)); }

void Stream::wait_for(cudaStream_t other, const Event& marker) const {
  if (other == s_) return;
  marker.record(other);
  FASTDET_CUDA_CHECK(cudaStreamWaitEvent(s_, marker.get(), 0));
}

Event::Event(bool timing) {
  FASTDET_CUDA_CHECK(cudaEventCreateWithFlags(&e_, timing ? cudaEventDefault : cudaEventDisableTiming));
}

Event::~Event() {
  if (e_) cudaEventDestroy(e_);
}

Event& Event::operator=(Event&& o) noexcept {
  if (this != &o) {
    if (e_) cudaEventDestroy(e_);
    e_ = std::exchange(o.e_, nullptr);
  }
  return *this;
}

void Event::record(cudaStream_t s) const { FASTDET_CUDA_CHECK(cudaEventRecord(e_, s)); }

void Event::synchronize() const { FASTDET_CUDA_CHECK(cudaEventSynchronize(e_)); }

float Event::elapsed_ms_since(const Event& start) const {
  float ms = 0.f;
  FASTDET_CUDA_CHECK(cudaEventElapsedTime(&ms, start.e_, e_));
  return ms;
}

DeviceGuard::DeviceGuard(int device) {
  FASTDET_CUDA_CHECK(cudaGetDevice(&previous_));
  if (previous_ != device) FASTDET_CUDA_CHECK(cudaSetDevice(device));
}

DeviceGuard::~DeviceGuard() {
  int current = -1;
  if (previous_ >= 0 && cudaGetDevice(&current) == cudaSuccess && current != previous_) cudaSetDevice(previous_);
}

}  // namespace fastdet::cuda
