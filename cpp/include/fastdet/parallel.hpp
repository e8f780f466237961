// A small persistent thread pool for row-parallel loops in the CPU core.
#pragma once

#include <functional>

namespace fastdet {

// Calls fn(begin, end) over disjoint chunks of [0, n), on the calling thread plus up to
// threads()-1 pool workers; returns when all chunks are done. Small n runs inline.
void parallel_for(int n, int min_chunk, const std::function<void(int, int)>& fn);

// Number of threads parallel_for may use (FASTDET_NUM_THREADS, else hardware threads, max 8).
int parallel_threads();

}  // namespace fastdet
