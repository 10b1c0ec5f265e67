// Exact cross-correlation at a window of lags (see irforge/correlation.h).
#include "irforge/correlation.h"

#include <algorithm>
#include <thread>
#include <vector>

namespace irforge {

namespace {

// Accumulate sum over i in [i0, i1) of x[i] * y[i + lo + k] into acc[k]; the caller guarantees
// every index is valid for all k in [k0, k1).
void accumulate(const double* y, const double* x, long long lo, std::size_t i0, std::size_t i1,
                std::size_t k0, std::size_t k1, double* acc) {
    constexpr std::size_t kBlock = 4096;  // keep the y window in L1/L2 across lags
    for (std::size_t b = i0; b < i1; b += kBlock) {
        const std::size_t e = std::min(i1, b + kBlock);
        for (std::size_t k = k0; k < k1; ++k) {
            const double* yk = y + static_cast<long long>(k) + lo;
            double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            std::size_t i = b;
            for (; i + 4 <= e; i += 4) {
                s0 += x[i] * yk[i];
                s1 += x[i + 1] * yk[i + 1];
                s2 += x[i + 2] * yk[i + 2];
                s3 += x[i + 3] * yk[i + 3];
            }
            for (; i < e; ++i) s0 += x[i] * yk[i];
            acc[k] += (s0 + s1) + (s2 + s3);
        }
    }
}

}  // namespace

void xcorr_lags(const double* y, std::size_t ny, const double* x, std::size_t nx, long long lo,
                std::size_t n_lags, double* c, unsigned threads) {
    std::fill(c, c + n_lags, 0.0);
    if (n_lags == 0 || nx == 0 || ny == 0) return;
    const long long NX = static_cast<long long>(nx), NY = static_cast<long long>(ny);
    const long long hi = lo + static_cast<long long>(n_lags) - 1;
    // i range valid for every lag in [lo, hi]: 0 <= i < nx and 0 <= i + lag < ny
    const long long a = std::max(0LL, -lo), b = std::min(NX, NY - hi);
    // edge terms (i outside [a, b)) lag by lag
    for (std::size_t k = 0; k < n_lags; ++k) {
        const long long lag = lo + static_cast<long long>(k);
        const long long lo_i = std::max(0LL, -lag), hi_i = std::min(NX, NY - lag);
        double s = 0;
        for (long long i = lo_i; i < std::min(hi_i, a); ++i) s += x[i] * y[i + lag];
        for (long long i = std::max(lo_i, std::max(a, b)); i < hi_i; ++i) s += x[i] * y[i + lag];
        c[k] = s;
    }
    if (a >= b) return;
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    const std::size_t n = static_cast<std::size_t>(b - a);
    const unsigned workers = static_cast<unsigned>(std::min<std::size_t>(threads, std::max<std::size_t>(1, n / 65536)));
    std::vector<std::vector<double>> partial(workers, std::vector<double>(n_lags, 0.0));
    auto body = [&](unsigned w) {
        const std::size_t per = (n + workers - 1) / workers;
        const std::size_t i0 = static_cast<std::size_t>(a) + std::min(n, w * per);
        const std::size_t i1 = static_cast<std::size_t>(a) + std::min(n, (w + 1) * per);
        if (i0 < i1) accumulate(y, x, lo, i0, i1, 0, n_lags, partial[w].data());
    };
    std::vector<std::thread> pool;
    for (unsigned w = 1; w < workers; ++w) pool.emplace_back(body, w);
    body(0);
    for (auto& t : pool) t.join();
    for (unsigned w = 0; w < workers; ++w)
        for (std::size_t k = 0; k < n_lags; ++k) c[k] += partial[w][k];
}

}  // namespace irforge
