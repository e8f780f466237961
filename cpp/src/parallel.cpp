#include "fastdet/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <stdexcept>
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

// One parallel_for call. It lives on its caller's stack and is linked into the pool's list of
// open jobs while it has chunks left to claim; the caller always works through its own chunks,
// so a job never waits for another caller's job to finish (independent callers do not queue).
struct Job {
  const std::function<void(int)>* body = nullptr;
  int chunks = 0;
  std::atomic<int> next{0};
  // Workers inside this job (guarded by the pool's mutex). A worker leaves only after its last
  // chunk and its last claim, so zero helpers once the job is unlinked means every chunk is done
  // and nobody touches the job any more: its caller may return.
  int helpers = 0;
  // The first exception a chunk threw (guarded by the pool's mutex): the other chunks are not
  // started and the caller rethrows it once every helper has left, so the job is always unlinked.
  std::exception_ptr error;
  Job* older = nullptr;
  Job* newer = nullptr;
  std::condition_variable done;

  bool claimable() const { return next.load(std::memory_order_relaxed) < chunks; }
};

// Workers sleep on a condition variable between jobs (no spinning, so they never steal cycles
// from the inference runtime's own threads). Several callers may have jobs open at once: an idle
// worker helps the oldest job that still has unclaimed chunks. The workers are a fixed set, so the
// threads busy with fastdet's own work are at most the pool's size plus the callers themselves.
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
    Job job;
    job.body = &body;
    job.chunks = chunks;
    {
      std::lock_guard<std::mutex> lock(mu_);
      link(&job);
    }
    // Wake only as many workers as there are chunks for beyond the caller's own.
    const int wanted = std::min(chunks - 1, static_cast<int>(workers_.size()));
    for (int i = 0; i < wanted; ++i) cv_.notify_one();
    work(&job);
    std::unique_lock<std::mutex> lock(mu_);
    unlink(&job);  // every chunk is claimed: no new helper can enter it
    job.done.wait(lock, [&] { return job.helpers == 0; });
    if (job.error) std::rethrow_exception(job.error);
  }

  // Test hook (fastdet._core._pool_callers_overlap): `callers` threads call this at once; each
  // returns true when all of them were inside parallel_for chunks at the same time within
  // `timeout_ms`, which a pool serialising its callers can never achieve.
  bool rendezvous(int callers, int timeout_ms) {
    static std::mutex mu;
    static std::condition_variable cv;
    static int arrived = 0;
    static unsigned long long round = 0;
    bool met = false;
    std::function<void(int)> body = [&](int c) {
      if (c != 0) return;
      std::unique_lock<std::mutex> lock(mu);
      const unsigned long long mine = round;
      if (++arrived == callers) {
        arrived = 0;
        ++round;
        cv.notify_all();
        met = true;
        return;
      }
      met = cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return round != mine; });
      if (!met && round == mine) --arrived;
    };
    run(2, body);
    return met;
  }

 private:
  void link(Job* job) {
    job->older = newest_;
    if (newest_) newest_->newer = job;
    newest_ = job;
    if (!oldest_) oldest_ = job;
  }

  void unlink(Job* job) {
    if (job->older) job->older->newer = job->newer;
    if (job->newer) job->newer->older = job->older;
    if (oldest_ == job) oldest_ = job->newer;
    if (newest_ == job) newest_ = job->older;
    job->older = job->newer = nullptr;
  }

  // Runs chunks of `job` until none is left to claim. Never throws: a worker thread must not
  // (std::terminate), and the caller must get to unlink its job first.
  void work(Job* job) {
    for (int c = job->next.fetch_add(1); c < job->chunks; c = job->next.fetch_add(1)) {
      try {
        (*job->body)(c);
      } catch (...) {
        job->next.store(job->chunks);
        std::lock_guard<std::mutex> lock(mu_);
        if (!job->error) job->error = std::current_exception();
      }
    }
  }

  Job* open_job() const {
    for (Job* j = oldest_; j; j = j->newer)
      if (j->claimable()) return j;
    return nullptr;
  }

  void loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      Job* job = nullptr;
      cv_.wait(lock, [&] { return stop_ || (job = open_job()) != nullptr; });
      if (stop_) return;
      ++job->helpers;
      lock.unlock();
      work(job);
      lock.lock();
      if (--job->helpers == 0) job->done.notify_all();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  Job* oldest_ = nullptr;
  Job* newest_ = nullptr;
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

bool parallel_callers_overlap(int callers, int timeout_ms) { return pool().rendezvous(callers, timeout_ms); }

void parallel_throw_at(int n, int failing) {
  parallel_for(n, 1, [&](int begin, int end) {
    if (begin <= failing && failing < end) throw std::runtime_error("parallel_for: chunk failed");
  });
}

}  // namespace fastdet
