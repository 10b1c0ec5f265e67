#include "irforge/partition.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace irforge {

namespace {

// Cost per output sample, in units of one partition's spectrum multiply-accumulate per
// sample (which is nearly independent of the partition size: Q + 1 bins per Q samples).
// A stage with blocks of Q samples does one forward and one inverse real FFT of 2Q per Q
// samples. Fitted to this project's kernels on uniform plans (BENCHMARKS.md): about
// 0.55 log2(2Q) MAC units, growing once the transform leaves the L1/L2 caches.
double fft_cost_per_sample(std::size_t q) {
    const double lg = std::log2(2.0 * static_cast<double>(q));
    return 0.55 * lg * (1.0 + 0.1 * std::max(0.0, lg - 12.0));
}
constexpr double kMacCostPerSample = 1.0;

bool is_pow2(std::size_t v) { return v && !(v & (v - 1)); }

}  // namespace

double transform_cost(std::size_t q) { return 0.5 * fft_cost_per_sample(q) * static_cast<double>(q); }

std::vector<Stage> plan_partitions(std::size_t ir_len, std::size_t head_size, std::size_t max_size,
                                   bool spread) {
    if (ir_len == 0) throw std::invalid_argument("plan_partitions: empty impulse response");
    if (ir_len > kMaxIrLength)
        throw std::invalid_argument("plan_partitions: impulse response of " + std::to_string(ir_len) +
                                    " samples is longer than the limit of 2^32");
    if (!is_pow2(head_size) || !is_pow2(max_size) || head_size > max_size)
        throw std::invalid_argument("plan_partitions: head_size and max_size must be powers of two, head <= max");

    // Work in units of head_size. Stage sizes are 2^s units, s = 0..smax.
    const std::size_t units = (ir_len + head_size - 1) / head_size;
    std::size_t smax = 0;
    while ((head_size << (smax + 1)) <= max_size && (std::size_t(1) << (smax + 1)) <= units) ++smax;

    // best[s][u]: least cost to cover [u, units) when the current stage has size 2^s units,
    // that stage's FFT already paid for, and u a multiple of 2^s. Filled from the end.
    const double inf = std::numeric_limits<double>::infinity();
    const std::size_t S = smax + 1;
    std::vector<double> best(S * (units + 1), inf);
    std::vector<signed char> choice(S * (units + 1), -1);  // -1 add a partition, else new size
    auto at = [&](std::size_t s, std::size_t u) -> std::size_t { return s * (units + 1) + u; };
    for (std::size_t s = 0; s < S; ++s) best[at(s, units)] = 0.0;
    for (std::size_t u = units; u-- > 0;) {
        for (std::size_t s = 0; s < S; ++s) {
            const std::size_t step = std::size_t(1) << s;
            if (u % step) continue;
            // one more partition of this size
            const std::size_t nu = u + step >= units ? units : u + step;
            double b = kMacCostPerSample + best[at(s, nu)];
            signed char ch = -1;
            // or open a bigger stage here (on time only if u >= its size, or twice its size
            // when its work is spread over a block, and aligned)
            for (std::size_t t = s + 1; t < S; ++t) {
                const std::size_t tstep = std::size_t(1) << t;
                if (u < (spread ? 2 * tstep : tstep) || u % tstep) continue;
                const std::size_t tu = u + tstep >= units ? units : u + tstep;
                const double c = fft_cost_per_sample(head_size << t) + kMacCostPerSample + best[at(t, tu)];
                if (c < b) { b = c; ch = static_cast<signed char>(t); }
            }
            best[at(s, u)] = b;
            choice[at(s, u)] = ch;
        }
    }

    std::vector<Stage> plan;
    plan.push_back({head_size, 0, 1});
    std::size_t s = 0, u = 1;
    while (u < units) {
        const signed char ch = choice[at(s, u)];
        if (ch < 0) {
            plan.back().count += 1;
            u += std::size_t(1) << s;
        } else {
            s = static_cast<std::size_t>(ch);
            plan.push_back({head_size << s, u * head_size, 1});
            u += std::size_t(1) << s;
        }
    }
    return plan;
}

double plan_cost(const std::vector<Stage>& plan) {
    double c = 0.0;
    for (const Stage& st : plan) c += fft_cost_per_sample(st.size) + kMacCostPerSample * st.count;
    return c;
}

}  // namespace irforge
