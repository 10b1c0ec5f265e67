// irforge/parallel.h - the core's one way to spread offline work over threads.
//
// Offline kernels only: threads are created per call and joined before returning; the
// real-time engine never uses this. The calling thread is worker 0. The worker count is
// capped (kMaxWorkers), a thread that cannot be created (address-space or process limits)
// means fewer threads, not an abort: its share runs on the calling thread; an exception
// thrown by a body on any thread is rethrown on the caller after every worker has joined.
#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace irforge {
namespace detail {

// More threads than this never pay on an offline kernel; it bounds what a caller can ask.
constexpr unsigned kMaxWorkers = 64;

// 0 means all cores; never more than kMaxWorkers.
inline unsigned resolve_threads(unsigned threads) {
    const unsigned t = threads ? threads : std::max(1u, std::thread::hardware_concurrency());
    return std::min(t, kMaxWorkers);
}

// body(w) for w = 0 .. workers-1 (workers capped at kMaxWorkers), each on its own thread
// (w = 0 on the caller's). The bodies must be independent of each other (no barriers): when a
// thread cannot be started, the bodies left without one run one after another on the caller.
template <class Body>
void run_workers(unsigned workers, Body body) {
    workers = std::min(workers, kMaxWorkers);
    if (workers <= 1) {
        body(0u);
        return;
    }
    std::exception_ptr err;
    std::mutex err_mu;
    auto guarded = [&](unsigned w) noexcept {
        try {
            body(w);
        } catch (...) {
            std::lock_guard<std::mutex> lock(err_mu);
            if (!err) err = std::current_exception();
        }
    };
    std::vector<std::thread> pool;
    unsigned started = 1;  // bodies 1 .. started-1 have a thread
    try {
        pool.reserve(workers - 1);
        for (unsigned w = 1; w < workers; ++w) {
            pool.emplace_back(guarded, w);
            started = w + 1;
        }
    } catch (...) {
        // std::system_error (no more threads) or std::bad_alloc: go on with what started
    }
    guarded(0u);
    for (unsigned w = started; w < workers; ++w) guarded(w);
    for (auto& t : pool) t.join();
    if (err) std::rethrow_exception(err);
}

// [0, n) cut into `workers` contiguous ranges: body(w, first, end) (a range may be empty).
template <class Body>
void parallel_ranges(std::size_t n, unsigned workers, Body body) {
    workers = std::min(std::max(1u, workers), kMaxWorkers);
    const std::size_t per = (n + workers - 1) / workers;
    run_workers(workers, [&](unsigned w) {
        const std::size_t a = std::min(n, w * per), b = std::min(n, a + per);
        body(w, a, b);
    });
}

}  // namespace detail
}  // namespace irforge
