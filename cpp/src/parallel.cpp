#include "fastdet/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace fastdet {
namespace {

int configured_threads() {
  if (const char* env = std::getenv("FASTDET_NUM_THREADS")) {
    int v = std::atoi(env);
    if (v >= 1) return std::min(v, 64);
  }
  unsigned hw = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp(hw == 0 ? 1u : hw, 1u, 8u));
}

// Workers sleep on a condition variable between jobs (no spinning, so they never steal
// cycles from the inference runtime's own threads). Chunks are claimed with an atomic
// counter; the caller works too and waits for the stragglers.
class Pool {
 public:
  explicit Pool(int threads) {
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { loop(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  void run(int chunks, const std::function<void(int)>& body) {
    std::lock_guard<std::mutex> serial(run_mu_);  // one job at a time; other callers queue
    {
      std::lock_guard<std::mutex> lock(mu_);
      body_ = &body;
      chunks_ = chunks;
      next_.store(0);
      pending_ = chunks;
      ++generation_;
    }
    cv_.notify_all();
    work();
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return pending_ == 0; });
    body_ = nullptr;
  }

 private:
  void work() {
    int done = 0;
    for (int c = next_.fetch_add(1); c < chunks_; c = next_.fetch_add(1)) {
      (*body_)(c);
      ++done;
    }
    if (done) {
      std::lock_guard<std::mutex> lock(mu_);
      pending_ -= done;
      if (pending_ == 0) done_cv_.notify_all();
    }
  }

  void loop() {
    unsigned long long seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || (generation_ != seen && body_ != nullptr); });
        if (stop_) return;
        seen = generation_;
      }
      work();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mu_, run_mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int)>* body_ = nullptr;
  int chunks_ = 0;
  int pending_ = 0;
  std::atomic<int> next_{0};
  unsigned long long generation_ = 0;
  bool stop_ = false;
};

Pool& pool() {
  static Pool p(configured_threads());
  return p;
}

}  // namespace

int parallel_threads() { return pool().size(); }

void parallel_for(int n, int min_chunk, const std::function<void(int, int)>& fn) {
  if (n <= 0) return;
  int threads = parallel_threads();
  // Several chunks per thread: a worker that wakes late still finds work, and uneven
  // rows (padding vs resampling) balance out.
  int chunks = std::min(threads * 4, std::max(1, n / std::max(1, min_chunk)));
  if (chunks <= 1) {
    fn(0, n);
    return;
  }
  int per = (n + chunks - 1) / chunks;
  std::function<void(int)> body = [&](int c) {
    int b = c * per, e = std::min(n, b + per);
    if (b < e) fn(b, e);
  };
  pool().run(chunks, body);
}

}  // namespace fastdet
