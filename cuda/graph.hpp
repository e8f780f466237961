// CUDA graphs: capture of a stream's work into an executable graph, and a small cache of
// them keyed by problem shape (least recently used entry evicted first).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <functional>
#include <list>
#include <utility>
#include <vector>

namespace fastdet::cuda {

class GraphExec {
 public:
  GraphExec() = default;
  explicit GraphExec(cudaGraphExec_t e) : e_(e) {}
  ~GraphExec();
  GraphExec(const GraphExec&) = delete;
  GraphExec& operator=(const GraphExec&) = delete;
  GraphExec(GraphExec&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
  GraphExec& operator=(GraphExec&& o) noexcept;

  explicit operator bool() const noexcept { return e_ != nullptr; }
  void launch(cudaStream_t stream) const;

 private:
  cudaGraphExec_t e_ = nullptr;
};

// Runs `enqueue` with `stream` in capture mode and instantiates what it queued (nothing runs
// yet). If enqueue throws, the capture is ended and dropped and the exception propagates.
GraphExec capture_graph(cudaStream_t stream, const std::function<void()>& enqueue);

using GraphKey = std::vector<long long>;

template <class Entry>
class GraphCache {
 public:
  explicit GraphCache(std::size_t capacity = 8) : capacity_(capacity ? capacity : 1) {}

  // The entry for key (moved to the front), or nullptr.
  Entry* find(const GraphKey& key) {
    for (auto it = entries_.begin(); it != entries_.end(); ++it)
      if (it->first == key) {
        entries_.splice(entries_.begin(), entries_, it);
        return &entries_.front().second;
      }
    return nullptr;
  }

  Entry& insert(const GraphKey& key) {
    if (entries_.size() >= capacity_) entries_.pop_back();
    entries_.emplace_front(key, Entry{});
    return entries_.front().second;
  }

  void clear() { entries_.clear(); }
  std::size_t size() const { return entries_.size(); }

 private:
  std::size_t capacity_;
  std::list<std::pair<GraphKey, Entry>> entries_;
};

}  // namespace fastdet::cuda
