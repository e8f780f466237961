// RAII handles for a CUDA stream, a CUDA event and the current device.
#pragma once

#include <cuda_runtime_api.h>

#include <utility>

namespace fastdet::cuda {

// A non-blocking stream: it does not synchronise implicitly with the legacy default stream,
// so dependencies on other streams are always explicit events.
class Stream {
 public:
  Stream();
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  Stream(Stream&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Stream& operator=(Stream&& o) noexcept;

  cudaStream_t get() const noexcept { return s_; }
  void synchronize() const;
  // Makes this stream wait (on the device, not the host) for the work queued so far on
  // `other`, recording `marker` there.
  void wait_for(cudaStream_t other, const class Event& marker) const;

 private:
  cudaStream_t s_ = nullptr;
};

class Event {
 public:
  explicit Event(bool timing = false);
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  Event(Event&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
  Event& operator=(Event&& o) noexcept;

  cudaEvent_t get() const noexcept { return e_; }
  void record(cudaStream_t s) const;
  void synchronize() const;
  // Milliseconds from `start` to this event (both recorded with timing enabled).
  float elapsed_ms_since(const Event& start) const;

 private:
  cudaEvent_t e_ = nullptr;
};

// Makes `device` current for the scope and restores the previous device on exit.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

}  // namespace fastdet::cuda
