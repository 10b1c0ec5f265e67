// C++-level test of the partitioned convolution engine against a naive direct convolution
// in double precision: IR lengths, block sizes, changing block sizes, routing, reset, both
// schedules (spread: later stages' work paced over the following block; immediate).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "irforge/convolver.h"

using irforge::ConvolutionEngine;
using irforge::IrView;
using irforge::Route;
using irforge::Schedule;

static int g_pass = 0, g_fail = 0;

static void check(bool ok, const char* what, double err) {
    if (ok) ++g_pass;
    else { ++g_fail; std::printf("FAIL %s (err %.3g)\n", what, err); }
}

static std::vector<float> noise(std::size_t n, unsigned seed) {
    std::mt19937 g(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = u(g);
    return v;
}

static std::vector<double> naive(const std::vector<float>& x, const std::vector<float>& h, std::size_t ny) {
    std::vector<double> y(ny, 0.0);
    for (std::size_t n = 0; n < ny; ++n) {
        double acc = 0.0;
        const std::size_t k0 = n >= x.size() ? n - x.size() + 1 : 0;
        const std::size_t k1 = std::min(n, h.size() - 1);
        for (std::size_t k = k0; k <= k1; ++k) acc += double(h[k]) * x[n - k];
        y[n] = acc;
    }
    return y;
}

static double rel_max_err(const std::vector<float>& y, const std::vector<double>& ref) {
    double e = 0.0, p = 1e-30;
    for (std::size_t i = 0; i < ref.size(); ++i) {
        e = std::max(e, std::fabs(double(y[i]) - ref[i]));
        p = std::max(p, std::fabs(ref[i]));
    }
    return e / p;
}

// Stream x (padded with zeros to x + h - 1) through a 1x1 engine, host blocks from `blocks`
// (cycled), and compare with the naive result.
static void run_mono(std::size_t m, std::size_t block, const std::vector<std::size_t>& blocks,
                     Schedule sched = Schedule::spread, std::size_t max_partition = 0) {
    auto h = noise(m, 7 + unsigned(m));
    auto x = noise(3000 + std::min<std::size_t>(3 * m, 12000), 11);
    const std::size_t ny = x.size() + m - 1;
    std::vector<float> xin(ny, 0.0f);
    std::copy(x.begin(), x.end(), xin.begin());
    std::vector<IrView> irs{{h.data(), m}};
    ConvolutionEngine eng(1, 1, irs, {{0, 0, 0}}, block, max_partition, sched);
    std::vector<float> y(ny);
    std::size_t done = 0, k = 0;
    while (done < ny) {
        const std::size_t c = std::min(blocks[k++ % blocks.size()], ny - done);
        const float* ip[1] = {xin.data() + done};
        float* op[1] = {y.data() + done};
        eng.process(ip, op, c);
        done += c;
    }
    const double err = rel_max_err(y, naive(x, h, ny));
    char what[160];
    std::snprintf(what, sizeof what, "mono m=%zu block=%zu first host block=%zu stages=%zu %s", m, block,
                  blocks[0], eng.plan().size(), sched == Schedule::spread ? "spread" : "immediate");
    check(err < 1e-5, what, err);
}

// Spread plans: every later stage starts at least two of its blocks in (its result for a block
// is paced over the next one and still due on time).
static void check_spread_plans() {
    bool ok = true;
    for (std::size_t m : {100u, 5000u, 48000u, 480000u})
        for (std::size_t head : {32u, 64u, 256u, 4096u}) {
            const auto plan = irforge::plan_partitions(m, head, 16384, true);
            std::size_t covered = 0;
            for (std::size_t k = 0; k < plan.size(); ++k) {
                if (k > 0 && plan[k].offset < 2 * plan[k].size) ok = false;
                if (plan[k].offset != covered) ok = false;       // contiguous cover
                covered += plan[k].size * plan[k].count;
            }
            if (covered < m) ok = false;
        }
    check(ok, "spread plans: later stages at offset >= 2 x size, contiguous", 0.0);
}

// Mono to stereo (one input, two IRs) and stereo in place, spread vs immediate vs naive, with a
// reset in the middle of the stream: after reset the engine is as new.
static void run_routes_and_reset(std::size_t m, std::size_t block) {
    auto hl = noise(m, 31), hr = noise(m, 32);
    auto x = noise(4 * m + 5000, 33);
    const std::size_t ny = x.size() + m - 1;
    std::vector<float> xin(ny, 0.0f);
    std::copy(x.begin(), x.end(), xin.begin());
    std::vector<IrView> irs{{hl.data(), m}, {hr.data(), m}};
    std::vector<Route> routes{{0, 0, 0}, {0, 1, 1}};
    const auto rl = naive(x, hl, ny), rr = naive(x, hr, ny);
    std::vector<std::vector<float>> results;
    for (Schedule sched : {Schedule::spread, Schedule::immediate}) {
        ConvolutionEngine eng(1, 2, irs, routes, block, 2048, sched);
        std::vector<float> yl(ny), yr(ny);
        // a first, abandoned stream of other material, then reset
        auto junk = noise(3 * m + 777, 34);
        std::vector<float> jl(junk.size()), jr(junk.size());
        {
            const float* ip[1] = {junk.data()};
            float* op[2] = {jl.data(), jr.data()};
            eng.process(ip, op, junk.size());
        }
        eng.reset();
        std::size_t done = 0, k = 0;
        const std::size_t sizes[] = {block, 1, block * 3 + 5, 17, block};
        while (done < ny) {
            const std::size_t c = std::min(sizes[k++ % 5], ny - done);
            const float* ip[1] = {xin.data() + done};
            float* op[2] = {yl.data() + done, yr.data() + done};
            eng.process(ip, op, c);
            done += c;
        }
        const double e = std::max(rel_max_err(yl, rl), rel_max_err(yr, rr));
        char what[160];
        std::snprintf(what, sizeof what, "mono-to-stereo m=%zu block=%zu after reset, %s", m, block,
                      sched == Schedule::spread ? "spread" : "immediate");
        check(e < 1e-5, what, e);
        results.push_back(yl);
    }
}

static void run_true_stereo() {
    const std::size_t m = 5000;
    std::vector<std::vector<float>> h;
    for (unsigned k = 0; k < 4; ++k) h.push_back(noise(m, 100 + k));
    auto L = noise(7000, 1), R = noise(7000, 2);
    const std::size_t ny = L.size() + m - 1;
    L.resize(ny, 0.0f);
    R.resize(ny, 0.0f);
    std::vector<IrView> irs;
    for (auto& v : h) irs.push_back({v.data(), m});
    std::vector<Route> routes{{0, 0, 0}, {0, 1, 1}, {1, 0, 2}, {1, 1, 3}};
    ConvolutionEngine eng(2, 2, irs, routes, 100);
    std::vector<float> yl(ny), yr(ny);
    const float* ip[2] = {L.data(), R.data()};
    float* op[2] = {yl.data(), yr.data()};
    eng.process(ip, op, ny);
    auto rl = naive(L, h[0], ny), rr = naive(L, h[1], ny);
    auto r2l = naive(R, h[2], ny), r2r = naive(R, h[3], ny);
    for (std::size_t i = 0; i < ny; ++i) { rl[i] += r2l[i]; rr[i] += r2r[i]; }
    const double e = std::max(rel_max_err(yl, rl), rel_max_err(yr, rr));
    check(e < 1e-5, "true stereo 2x2", e);

    // reset gives the same output again; in-place processing is allowed
    eng.reset();
    std::vector<float> L2 = L, R2 = R;
    float* io[2] = {L2.data(), R2.data()};
    eng.process(io, io, ny);
    double d = 0.0;
    for (std::size_t i = 0; i < ny; ++i) d = std::max(d, double(std::fabs(L2[i] - yl[i])) + std::fabs(R2[i] - yr[i]));
    check(d < 1e-6, "reset + in-place reproduces", d);
}

int main() {
    const std::size_t lengths[] = {1, 2, 63, 64, 65, 1000, 4096, 20000};
    for (std::size_t m : lengths) {
        for (std::size_t block : {1, 7, 64, 1000}) run_mono(m, block, {block});
        run_mono(m, 64, {1, 7, 64, 65, 300, 13});  // host block sizes change call by call
    }
    run_mono(48000, 64, {64});
    run_mono(48000, 256, {100, 256, 3});
    for (std::size_t m : lengths) run_mono(m, 64, {1, 7, 64, 65, 300, 13}, Schedule::immediate);
    run_mono(48000, 64, {64}, Schedule::immediate);
    // long IR, small stages: many spread stages, block sizes 1..4096
    run_mono(200000, 32, {32, 1, 4096, 33, 2048}, Schedule::spread, 1024);
    run_mono(200000, 4096, {4096, 4095, 1}, Schedule::spread);
    check_spread_plans();
    for (std::size_t block : {1u, 64u, 512u}) run_routes_and_reset(6000, block);
    run_true_stereo();
    std::printf("test_convolver: %d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
