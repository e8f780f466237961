// Grow-only device and pinned host buffers. reserve() reallocates only when more bytes are
// asked for than held (contents are not kept), so steady-state calls never allocate.
// Movable, not copyable; freed on destruction.
#pragma once

#include <cstddef>
#include <utility>

namespace fastdet::cuda {

enum class Memory { Device, Pinned };

template <Memory M>
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(std::size_t bytes) { reserve(bytes); }
  ~Buffer() { release(); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      release();
      ptr_ = std::exchange(o.ptr_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }

  // Ensures at least `bytes` bytes; returns true when the buffer was (re)allocated, which
  // invalidates earlier pointers (and any CUDA graph that captured them).
  bool reserve(std::size_t bytes);

  void* data() const noexcept { return ptr_; }
  template <class T>
  T* as(std::size_t byte_offset = 0) const noexcept {
    return reinterpret_cast<T*>(static_cast<char*>(ptr_) + byte_offset);
  }
  std::size_t capacity() const noexcept { return bytes_; }

 private:
  void release() noexcept;
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

using DeviceBuffer = Buffer<Memory::Device>;
using PinnedBuffer = Buffer<Memory::Pinned>;

}  // namespace fastdet::cuda
