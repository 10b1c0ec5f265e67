// C++-level robustness tests of the core, no Python: the thread helper under a thread-creation
// failure and with throwing bodies, the engine's bounds on its size parameters, and the
// denormal guard of the real-time path.
#include <sys/resource.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <thread>
#include <vector>

#include "irforge/convolver.h"
#include "irforge/denormals.h"
#include "irforge/parallel.h"
#if defined(__SSE2__)
#include <immintrin.h>
#endif

static int g_pass = 0, g_fail = 0;

static void check(bool ok, const char* what) {
    if (ok) ++g_pass;
    else { ++g_fail; std::printf("FAIL %s\n", what); }
}

// Every body runs exactly once, whatever the worker count asked for.
static void workers_all_run() {
    for (unsigned asked : {1u, 2u, 7u, 64u, 1000u, 4000000000u}) {
        std::vector<std::atomic<int>> seen(irforge::detail::kMaxWorkers);
        std::atomic<unsigned> calls{0};
        irforge::detail::run_workers(asked, [&](unsigned w) {
            ++calls;
            if (w < seen.size()) ++seen[w];
        });
        const unsigned expect = std::min(asked, irforge::detail::kMaxWorkers);
        bool ok = calls.load() == expect;
        for (unsigned w = 0; w < expect; ++w) ok = ok && seen[w].load() == 1;
        check(ok, "run_workers: each body once, count capped");
    }
    check(irforge::detail::resolve_threads(100000) == irforge::detail::kMaxWorkers, "resolve_threads caps");
    check(irforge::detail::resolve_threads(0) >= 1, "resolve_threads(0) is all cores");
}

// An exception on a worker thread reaches the caller (no std::terminate), after all joined.
static void workers_rethrow() {
    std::atomic<unsigned> finished{0};
    bool caught = false;
    try {
        irforge::detail::run_workers(4, [&](unsigned w) {
            if (w == 2) throw std::runtime_error("body 2");
            ++finished;
        });
    } catch (const std::runtime_error&) {
        caught = true;
    }
    check(caught && finished.load() == 3, "run_workers rethrows a worker's exception after joining");
}

// With too little address space for the thread stacks, spawning fails part-way: the bodies
// without a thread run on the caller instead of aborting the process.
static void workers_spawn_failure() {
    rlimit old{};
    getrlimit(RLIMIT_AS, &old);
    // about what this process uses now plus room for a few 8 MiB thread stacks only
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (f) {
        if (std::fscanf(f, "%lu", &pages) != 1) pages = 0;
        std::fclose(f);
    }
    if (pages == 0) {
        check(false, "read /proc/self/statm");
        return;
    }
    rlimit tight = old;
    tight.rlim_cur = pages * 4096ul + (24ul << 20);
    check(setrlimit(RLIMIT_AS, &tight) == 0, "setrlimit(RLIMIT_AS)");
    std::atomic<unsigned> calls{0};
    std::vector<std::thread::id> ids(64);
    bool threw = false;
    try {
        irforge::detail::run_workers(64, [&](unsigned w) {
            ++calls;
            ids[w] = std::this_thread::get_id();
        });
    } catch (...) {
        threw = true;
    }
    setrlimit(RLIMIT_AS, &old);
    check(!threw && calls.load() == 64, "run_workers: thread-creation failure means fewer threads");
    std::size_t on_caller = 0;
    for (const auto& id : ids) on_caller += id == std::this_thread::get_id();
    check(on_caller > 1, "the limit really stopped some threads (the test exercises the fallback)");
}

static void engine_bounds() {
    std::vector<float> h(100, 0.5f);
    std::vector<irforge::IrView> irs{{h.data(), h.size()}};
    std::vector<irforge::Route> routes{{0, 0, 0}};
    for (std::size_t bad : {std::size_t(1) << 63, ~std::size_t(0), irforge::fft::kMaxSize}) {
        bool threw = false;
        try {
            irforge::ConvolutionEngine e(1, 1, irs, routes, bad);
        } catch (const std::invalid_argument&) {
            threw = true;
        }
        check(threw, "engine: huge block_size is std::invalid_argument (no endless loop)");
        threw = false;
        try {
            irforge::ConvolutionEngine e(1, 1, irs, routes, 64, bad == ~std::size_t(0) ? bad : bad + 1);
        } catch (const std::invalid_argument&) {
            threw = true;
        }
        check(threw, "engine: huge max_partition is std::invalid_argument");
    }
}

// process() flushes denormals while it runs and gives the host its own mode back.
static void engine_denormals() {
#if defined(__SSE2__)
    // a decay from 1 into the denormal range and below (float's smallest normal is 1.2e-38)
    std::vector<float> h(4000);
    for (std::size_t i = 0; i < h.size(); ++i) h[i] = std::exp(-0.03f * static_cast<float>(i));
    std::vector<irforge::IrView> irs{{h.data(), h.size()}};
    std::vector<irforge::Route> routes{{0, 0, 0}};
    irforge::ConvolutionEngine eng(1, 1, irs, routes, 64);
    const unsigned before = _mm_getcsr();
    std::vector<float> x(8192, 0.0f), y(8192);
    x[0] = 1e-30f;  // the tail of this impulse runs deep into denormals
    x[100] = 1e-39f;  // a denormal input
    const float* ip[1] = {x.data()};
    float* op[1] = {y.data()};
    for (std::size_t s = 0; s < x.size(); s += 64) {
        ip[0] = x.data() + s;
        op[0] = y.data() + s;
        eng.process(ip, op, 64);
    }
    bool none = true;
    for (float v : y) none = none && std::fpclassify(v) != FP_SUBNORMAL;
    check(none, "engine output has no denormals");
    check(_mm_getcsr() == before, "engine restores the caller's MXCSR");
    {
        irforge::ScopedFlushDenormals ftz;
        check((_mm_getcsr() & 0x8040u) == 0x8040u, "guard sets FTZ and DAZ");
    }
    check(_mm_getcsr() == before, "guard restores MXCSR");
#endif
}

int main() {
    workers_all_run();
    workers_rethrow();
    workers_spawn_failure();
    engine_bounds();
    engine_denormals();
    std::printf("test_robustness: %d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
