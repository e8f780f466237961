// A small persistent thread pool for row-parallel loops in the CPU core.
#pragma once

#include <functional>

namespace fastdet {

// Calls fn(begin, end) over disjoint chunks of [0, n), on the calling thread plus up to
// threads()-1 pool workers; returns when all chunks are done. Small n runs inline. Safe to call
// from any number of threads at once: each caller works through its own chunks (idle workers
// help), so independent callers never wait for each other's loops.
void parallel_for(int n, int min_chunk, const std::function<void(int, int)>& fn);

// Number of threads parallel_for may use (FASTDET_NUM_THREADS, else hardware threads, max 8).
int parallel_threads();

// Test hook: true when `callers` threads calling this at once were all inside parallel_for
// chunks at the same time (within timeout_ms), i.e. the pool did not serialise them.
bool parallel_callers_overlap(int callers, int timeout_ms);

// Test hook: parallel_for over [0, n) in chunks of one, where the chunk holding `failing` throws
// std::runtime_error; the exception reaches the caller and the pool keeps working.
void parallel_throw_at(int n, int failing);

}  // namespace fastdet
