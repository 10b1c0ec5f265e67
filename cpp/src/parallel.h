// parallel.h - the core's one way to spread work over threads (internal to cpp/src).
//
// Offline kernels only: threads are created per call and joined before returning; the
// real-time engine never uses this. The calling thread is worker 0.
#pragma once

#include <algorithm>
#include <cstddef>
#include <thread>
#include <vector>

namespace irforge {
namespace detail {

// 0 means all cores.
inline unsigned resolve_threads(unsigned threads) {
    return threads ? threads : std::max(1u, std::thread::hardware_concurrency());
}

// body(w) for w = 0 .. workers-1, each on its own thread (w = 0 on the caller's).
template <class Body>
void run_workers(unsigned workers, Body body) {
    if (workers <= 1) {
        body(0u);
        return;
    }
    std::vector<std::thread> pool;
    pool.reserve(workers - 1);
    for (unsigned w = 1; w < workers; ++w) pool.emplace_back([&body, w]() { body(w); });
    body(0u);
    for (auto& t : pool) t.join();
}

// [0, n) cut into `workers` contiguous ranges: body(w, first, end) (a range may be empty).
template <class Body>
void parallel_ranges(std::size_t n, unsigned workers, Body body) {
    workers = std::max(1u, workers);
    const std::size_t per = (n + workers - 1) / workers;
    run_workers(workers, [&](unsigned w) {
        const std::size_t a = std::min(n, w * per), b = std::min(n, a + per);
        body(w, a, b);
    });
}

}  // namespace detail
}  // namespace irforge
