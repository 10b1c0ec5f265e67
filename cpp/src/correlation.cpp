// Exact cross-correlation at a window of lags (see irforge/correlation.h).
#include "irforge/correlation.h"

#include "irforge/cpu.h"
#include "irforge/fft.h"
#include "irforge/parallel.h"

#include <algorithm>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif
#include <stdexcept>
#include <vector>

namespace irforge {

namespace {

// Accumulate sum over i in [i0, i1) of x[i] * y[i + lo + k] into acc[k]; the caller guarantees
// every index is valid for all k in [k0, k1). Blocks of samples keep the x and y windows in
// L1/L2 across lags; within a block, independent partial sums per lag (SIMD lanes).
constexpr std::size_t kBlock = 4096;

template <class T>
void accumulate_generic(const T* y, const T* x, long long lo, std::size_t i0, std::size_t i1,
                        std::size_t k0, std::size_t k1, double* acc) {
    for (std::size_t b = i0; b < i1; b += kBlock) {
        const std::size_t e = std::min(i1, b + kBlock);
        for (std::size_t k = k0; k < k1; ++k) {
            const T* yk = y + static_cast<long long>(k) + lo;
            double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            std::size_t i = b;
            for (; i + 4 <= e; i += 4) {
                s0 += double(x[i]) * double(yk[i]);
                s1 += double(x[i + 1]) * double(yk[i + 1]);
                s2 += double(x[i + 2]) * double(yk[i + 2]);
                s3 += double(x[i + 3]) * double(yk[i + 3]);
            }
            for (; i < e; ++i) s0 += double(x[i]) * double(yk[i]);
            acc[k] += (s0 + s1) + (s2 + s3);
        }
    }
}

#if defined(IRFORGE_HAVE_AVX2_KERNELS) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx2,fma"))) inline __m256d load4(const double* p) { return _mm256_loadu_pd(p); }
// float samples widen exactly to double (products of two floats are exact in double)
__attribute__((target("avx2,fma"))) inline __m256d load4(const float* p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }

// Four lags at once share each load of x; four 4-wide accumulators per lag would be 16
// registers, so two per lag (8 ymm) and unroll by 8 samples.
template <class T>
__attribute__((target("avx2,fma"))) void accumulate_avx2(const T* y, const T* x, long long lo,
                                                          std::size_t i0, std::size_t i1, std::size_t k0,
                                                          std::size_t k1, double* acc) {
    for (std::size_t b = i0; b < i1; b += kBlock) {
        const std::size_t e = std::min(i1, b + kBlock);
        const std::size_t e8 = b + (e - b) / 8 * 8;
        std::size_t k = k0;
        for (; k + 4 <= k1; k += 4) {
            const T* y0 = y + static_cast<long long>(k) + lo;
            __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd(), b0 = _mm256_setzero_pd(),
                    b1 = _mm256_setzero_pd(), c0 = _mm256_setzero_pd(), c1 = _mm256_setzero_pd(),
                    d0 = _mm256_setzero_pd(), d1 = _mm256_setzero_pd();
            for (std::size_t i = b; i < e8; i += 8) {
                const __m256d xa = load4(x + i), xb = load4(x + i + 4);
                a0 = _mm256_fmadd_pd(xa, load4(y0 + i), a0);
                a1 = _mm256_fmadd_pd(xb, load4(y0 + i + 4), a1);
                b0 = _mm256_fmadd_pd(xa, load4(y0 + i + 1), b0);
                b1 = _mm256_fmadd_pd(xb, load4(y0 + i + 5), b1);
                c0 = _mm256_fmadd_pd(xa, load4(y0 + i + 2), c0);
                c1 = _mm256_fmadd_pd(xb, load4(y0 + i + 6), c1);
                d0 = _mm256_fmadd_pd(xa, load4(y0 + i + 3), d0);
                d1 = _mm256_fmadd_pd(xb, load4(y0 + i + 7), d1);
            }
            alignas(32) double t[4][4];
            _mm256_store_pd(t[0], _mm256_add_pd(a0, a1));
            _mm256_store_pd(t[1], _mm256_add_pd(b0, b1));
            _mm256_store_pd(t[2], _mm256_add_pd(c0, c1));
            _mm256_store_pd(t[3], _mm256_add_pd(d0, d1));
            for (int q = 0; q < 4; ++q) {
                double s = (t[q][0] + t[q][1]) + (t[q][2] + t[q][3]);
                const T* yq = y0 + q;
                for (std::size_t i = e8; i < e; ++i) s += double(x[i]) * double(yq[i]);
                acc[k + q] += s;
            }
        }
        for (; k < k1; ++k) {  // remaining lags one at a time, still 4-wide
            const T* yk = y + static_cast<long long>(k) + lo;
            __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
            for (std::size_t i = b; i < e8; i += 8) {
                a0 = _mm256_fmadd_pd(load4(x + i), load4(yk + i), a0);
                a1 = _mm256_fmadd_pd(load4(x + i + 4), load4(yk + i + 4), a1);
            }
            alignas(32) double t[4];
            _mm256_store_pd(t, _mm256_add_pd(a0, a1));
            double s = (t[0] + t[1]) + (t[2] + t[3]);
            for (std::size_t i = e8; i < e; ++i) s += double(x[i]) * double(yk[i]);
            acc[k] += s;
        }
    }
}
bool use_avx2() { return cpu::avx2_fma(); }
#endif

template <class T>
void accumulate(const T* y, const T* x, long long lo, std::size_t i0, std::size_t i1,
                std::size_t k0, std::size_t k1, double* acc) {
#if defined(IRFORGE_HAVE_AVX2_KERNELS) && (defined(__GNUC__) || defined(__clang__))
    if (use_avx2()) return accumulate_avx2(y, x, lo, i0, i1, k0, k1, acc);
#endif
    accumulate_generic(y, x, lo, i0, i1, k0, k1, acc);
}

template <class T>
void xcorr_lags_impl(const T* y, std::size_t ny, const T* x, std::size_t nx, long long lo,
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
        for (long long i = lo_i; i < std::min(hi_i, a); ++i) s += double(x[i]) * double(y[i + lag]);
        for (long long i = std::max(lo_i, std::max(a, b)); i < hi_i; ++i) s += double(x[i]) * double(y[i + lag]);
        c[k] = s;
    }
    if (a >= b) return;
    const std::size_t n = static_cast<std::size_t>(b - a);
    const unsigned workers = static_cast<unsigned>(
        std::min<std::size_t>(detail::resolve_threads(threads), std::max<std::size_t>(1, n / 65536)));
    std::vector<std::vector<double>> partial(workers, std::vector<double>(n_lags, 0.0));
    detail::parallel_ranges(n, workers, [&](unsigned w, std::size_t i0, std::size_t i1) {
        if (i0 < i1) accumulate(y, x, lo, static_cast<std::size_t>(a) + i0, static_cast<std::size_t>(a) + i1, 0, n_lags, partial[w].data());
    });
    for (unsigned w = 0; w < workers; ++w)
        for (std::size_t k = 0; k < n_lags; ++k) c[k] += partial[w][k];
}

}  // namespace

void xcorr_lags(const double* y, std::size_t ny, const double* x, std::size_t nx, long long lo,
                std::size_t n_lags, double* c, unsigned threads) {
    xcorr_lags_impl(y, ny, x, nx, lo, n_lags, c, threads);
}

void xcorr_lags(const float* y, std::size_t ny, const float* x, std::size_t nx, long long lo,
                std::size_t n_lags, double* c, unsigned threads) {
    xcorr_lags_impl(y, ny, x, nx, lo, n_lags, c, threads);
}

void xcorr_window(const float* y, std::size_t ny, const float* x, std::size_t nx, long long lo,
                  std::size_t n_lags, double* c, unsigned threads) {
    std::fill(c, c + n_lags, 0.0);
    if (n_lags == 0 || nx == 0 || ny == 0) return;
    if (n_lags > (std::size_t(1) << 20)) throw std::invalid_argument("xcorr_window: at most 2^20 lags");
    std::size_t B = 1024;  // FFTs of 2B: small enough to stay in cache
    while (B < n_lags) B <<= 1;
    const std::size_t M = 2 * B;  // linear correlation of B and B + n_lags - 1 samples fits
    const std::size_t blocks = (nx + B - 1) / B;
    const unsigned workers = static_cast<unsigned>(
        std::min<std::size_t>(detail::resolve_threads(threads), std::max<std::size_t>(1, blocks / 8)));
    std::vector<fft::FloatBuffer> acc;
    acc.reserve(workers);
    for (unsigned w = 0; w < workers; ++w) acc.emplace_back(M);
    const long long NY = static_cast<long long>(ny);
    detail::parallel_ranges(blocks, workers, [&](unsigned w, std::size_t b0, std::size_t b1) {
        if (b0 >= b1) return;
        fft::RealFFT f(M);
        fft::FloatBuffer xa(M), ya(M);
        for (std::size_t b = b0; b < b1; ++b) {
            const std::size_t i0 = b * B, nb = std::min(B, nx - i0);
            // x block reversed (correlation as a convolution), zero-padded
            std::fill(xa.data(), xa.data() + M, 0.0f);
            for (std::size_t i = 0; i < nb; ++i) xa.data()[B - 1 - i] = x[i0 + i];
            // y from i0 + lo, B + n_lags - 1 samples (zero outside y)
            std::fill(ya.data(), ya.data() + M, 0.0f);
            const long long s = static_cast<long long>(i0) + lo;
            const long long len = static_cast<long long>(B + n_lags - 1);
            const long long a = std::max(0LL, -s), e = std::min(len, NY - s);
            for (long long i = a; i < e; ++i) ya.data()[i] = y[s + i];
            f.forward_packed(xa.data(), xa.data());
            f.forward_packed(ya.data(), ya.data());
            fft::mac_packed(M, xa.data(), ya.data(), acc[w].data());
        }
    });
    for (unsigned w = 1; w < workers; ++w)
        for (std::size_t i = 0; i < M; ++i) acc[0].data()[i] += acc[w].data()[i];
    fft::RealFFT f(M);
    f.inverse_packed(acc[0].data(), acc[0].data());
    const double scale = 1.0 / static_cast<double>(M);
    for (std::size_t k = 0; k < n_lags; ++k) c[k] = acc[0].data()[B - 1 + k] * scale;
}

}  // namespace irforge
