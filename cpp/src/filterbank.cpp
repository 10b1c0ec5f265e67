// Long-frame power sums and the circular WOLA filter bank (see irforge/filterbank.h).
#include "irforge/filterbank.h"

#include <algorithm>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "irforge/denormals.h"
#include "irforge/cpu.h"
#include "irforge/fft.h"
#include "irforge/parallel.h"

namespace irforge {
namespace filterbank {

namespace {

unsigned worker_count(unsigned threads, std::size_t frames) {
    return static_cast<unsigned>(std::min<std::size_t>(detail::resolve_threads(threads), std::max<std::size_t>(1, frames)));
}

// body(worker, first_frame, end_frame) on contiguous frame ranges, one per worker.
template <class Body>
void parallel_frames(std::size_t frames, unsigned workers, Body body) {
    detail::parallel_ranges(frames, workers, body);
}

// b[i] = x[s + i] * w[i] for the part of the frame inside the signal, 0 elsewhere (n values);
// b[n .. total) = 0.
template <class W>
void fill(const float* x, std::size_t n_samples, std::size_t s, const W* w, std::size_t n,
          std::size_t total, float* b) {
    const std::size_t avail = s < n_samples ? std::min(n, n_samples - s) : 0;
    for (std::size_t i = 0; i < avail; ++i) b[i] = static_cast<float>(x[s + i] * w[i]);
    std::fill(b + avail, b + total, 0.0f);
}

// out[j] = sum_t taps[t] x[j * decim + t] for j in [j0, j1): eight float lanes per output
inline void fir_rows(const float* x, const float* taps, std::size_t n_taps, std::size_t decim, float* out,
                     std::size_t j0, std::size_t j1) {
    const std::size_t t8 = n_taps / 8 * 8;
    for (std::size_t j = j0; j < j1; ++j) {
        const float* s = x + j * decim;
        float acc[8] = {};
        for (std::size_t t = 0; t < t8; t += 8)
            for (int q = 0; q < 8; ++q) acc[q] += taps[t + q] * s[t + q];
        float tail = 0.0f;
        for (std::size_t t = t8; t < n_taps; ++t) tail += taps[t] * s[t];
        out[j] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail;
    }
}

#if defined(IRFORGE_HAVE_AVX2_KERNELS) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx2,fma"))) void fir_rows_avx2(const float* x, const float* taps, std::size_t n_taps,
                                                        std::size_t decim, float* out, std::size_t j0,
                                                        std::size_t j1) {
    const std::size_t t16 = n_taps / 16 * 16;
    for (std::size_t j = j0; j < j1; ++j) {
        const float* s = x + j * decim;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        for (std::size_t t = 0; t < t16; t += 16) {
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(taps + t), _mm256_loadu_ps(s + t), a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(taps + t + 8), _mm256_loadu_ps(s + t + 8), a1);
        }
        alignas(32) float v[8];
        _mm256_store_ps(v, _mm256_add_ps(a0, a1));
        float acc = ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
        for (std::size_t t = t16; t < n_taps; ++t) acc += taps[t] * s[t];
        out[j] = acc;
    }
}
#else
inline void fir_rows_avx2(const float* x, const float* taps, std::size_t n_taps, std::size_t decim, float* out,
                          std::size_t j0, std::size_t j1) {
    fir_rows(x, taps, n_taps, decim, out, j0, j1);
}
#endif

}  // namespace

void power_sum(const float* x, std::size_t rows, std::size_t row_stride, std::size_t n_samples,
               const float* window, std::size_t n_fft, std::size_t hop, std::size_t frames, double* acc,
               unsigned threads) {
    if (!fft::is_supported_size(n_fft))
        throw std::invalid_argument("power_sum: n_fft must be a power of two from 16 to 2^22, got " +
                                    std::to_string(n_fft));
    if (hop == 0) throw std::invalid_argument("power_sum: hop must be >= 1");
    const std::size_t items = rows * frames;  // (row, frame) pairs, spread over the workers
    if (items == 0) return;
    const std::size_t nb = n_fft / 2 + 1;
    const unsigned workers = worker_count(threads, items);
    std::vector<std::vector<double>> part(workers, std::vector<double>(rows * nb, 0.0));
    parallel_frames(items, workers, [&](unsigned wk, std::size_t i0, std::size_t i1) {
        if (i0 >= i1) return;
        fft::RealFFT f(n_fft);
        fft::FloatBuffer buf(n_fft), spec(n_fft + 2);
        for (std::size_t it = i0; it < i1; ++it) {
            const std::size_t r = it / frames, t = it % frames;
            fill(x + r * row_stride, n_samples, t * hop, window, n_fft, n_fft, buf.data());
            f.forward(buf.data(), spec.data());
            const float* z = spec.data();
            double* p = part[wk].data() + r * nb;
            for (std::size_t k = 0; k < nb; ++k) {
                const float re = z[2 * k], im = z[2 * k + 1];
                p[k] += static_cast<double>(re * re + im * im);
            }
        }
    });
    for (const auto& p : part)
        for (std::size_t k = 0; k < rows * nb; ++k) acc[k] += p[k];
}

std::size_t wola_fft_size(std::size_t N) {
    if (N < 2) throw std::invalid_argument("wola: frame length must be >= 2");
    std::size_t m = fft::kMinSize;
    while (m < 2 * N - 1) m <<= 1;
    if (m > fft::kMaxSize)
        throw std::invalid_argument("wola: frame length " + std::to_string(N) + " is too long (2N-1 > 2^22)");
    return m;
}

namespace {

// The filter bank given the packed spectrum of every windowed frame: spectrum_of(t, buf, fft)
// writes frame t's spectrum (m floats) into buf.
template <class SpectrumOf>
void wola_filter(SpectrumOf spectrum_of, std::size_t m, std::size_t n_samples, const double* window,
                 const float* g, std::size_t N, std::size_t hop, std::size_t frames, double* res,
                 unsigned threads) {
    if (hop == 0) throw std::invalid_argument("wola: hop must be >= 1");
    // spectrum of the kernel, packed layout, with the 1/m of the inverse folded in
    fft::FloatBuffer G(m);
    {
        fft::RealFFT f(m);
        const float scale = 1.0f / static_cast<float>(m);
        for (std::size_t i = 0; i < N; ++i) G.data()[i] = g[i] * scale;
        f.forward_packed(G.data(), G.data());
    }
    std::vector<float> w32(N);
    std::vector<double> w2(N);
    for (std::size_t i = 0; i < N; ++i) {
        w32[i] = static_cast<float>(window[i]);
        w2[i] = window[i] * window[i];
    }
    const std::size_t L = n_samples;
    // Each worker owns a disjoint output range [a, b) and filters every frame that touches it
    // (a frame on a range edge is filtered by both neighbours), so the float32 sums of every
    // sample run in frame order as in a serial overlap-add, with no frame buffer. `res` holds
    // the summed squared window (double) until the final division.
    std::fill(res, res + L, 0.0);
    const std::size_t n_frames = std::min(frames, L == 0 ? 0 : (L - 1) / hop + 1);  // frames starting inside
    if (n_frames == 0) return;
    unsigned workers = worker_count(threads, n_frames);
    if (n_frames < 4 * workers) workers = 1;  // too few frames to be worth the duplicates
    const std::size_t per = (L + workers - 1) / workers;
    auto body = [&](unsigned r) {
        const ScopedFlushDenormals daz;
        const std::size_t a = std::min(L, r * per), b = std::min(L, a + per);
        if (a >= b) return;
        const std::size_t t_first = a >= N ? (a - N) / hop + 1 : 0;
        const std::size_t t_end = std::min(n_frames, (b - 1) / hop + 1);
        std::vector<float> acc(b - a, 0.0f);
        fft::RealFFT f(m);
        fft::FloatBuffer buf(m);
        float* bf = buf.data();
        for (std::size_t t = t_first; t < t_end; ++t) {
            const std::size_t s = t * hop;
            spectrum_of(t, bf, f);
            fft::mul_packed(m, bf, G.data(), bf);
            f.inverse_packed(bf, bf);
            // sample s + i of the frame: (b[i] + b[i + N]) * w[i] (the fold modulo N; the last
            // sample has no aliased partner)
            const std::size_t lo = std::max(s, a), hi = std::min(s + N, b);
            const std::size_t i0 = lo - s, i1 = hi - s, i1f = std::min(i1, N - 1);
            float* ac = acc.data() + (lo - a) - i0;  // ac[i] is sample s + i
            double* rs = res + s;
            for (std::size_t i = i0; i < i1f; ++i) ac[i] += (bf[i] + bf[i + N]) * w32[i];
            if (i1 == N) ac[N - 1] += bf[N - 1] * w32[N - 1];
            for (std::size_t i = i0; i < i1; ++i) rs[i] += w2[i];
        }
        for (std::size_t p = a; p < b; ++p)
            res[p] = res[p] > 1e-10 ? static_cast<double>(acc[p - a]) / res[p] : static_cast<double>(acc[p - a]);
    };
    detail::run_workers(workers, body);
}

}  // namespace

void wola_circular(const float* x, std::size_t n_samples, const double* window, const float* g,
                   std::size_t N, std::size_t hop, std::size_t frames, double* res, unsigned threads) {
    const std::size_t m = wola_fft_size(N);
    std::vector<float> w32(N);
    for (std::size_t i = 0; i < N; ++i) w32[i] = static_cast<float>(window[i]);
    wola_filter(
        [&](std::size_t t, float* b, fft::RealFFT& f) {
            fill(x, n_samples, t * hop, w32.data(), N, m, b);
            f.forward_packed(b, b);
        },
        m, n_samples, window, g, N, hop, frames, res, threads);
}

void wola_spectra(const float* x, std::size_t n_samples, const double* window, std::size_t N, std::size_t hop,
                  std::size_t frames, float* spectra, unsigned threads) {
    if (hop == 0) throw std::invalid_argument("wola: hop must be >= 1");
    const std::size_t m = wola_fft_size(N);
    std::vector<float> w32(N);
    for (std::size_t i = 0; i < N; ++i) w32[i] = static_cast<float>(window[i]);
    if (frames == 0) return;
    parallel_frames(frames, worker_count(threads, frames), [&](unsigned, std::size_t f0, std::size_t f1) {
        if (f0 >= f1) return;
        const ScopedFlushDenormals daz;
        fft::RealFFT f(m);
        for (std::size_t t = f0; t < f1; ++t) {
            float* b = spectra + t * m;
            fill(x, n_samples, t * hop, w32.data(), N, m, b);
            f.forward_packed(b, b);
        }
    });
}

void wola_apply(const float* spectra, std::size_t frames, std::size_t n_samples, const double* window,
                const float* g, std::size_t N, std::size_t hop, double* res, unsigned threads) {
    const std::size_t m = wola_fft_size(N);
    wola_filter([&](std::size_t t, float* b, fft::RealFFT&) { std::copy(spectra + t * m, spectra + (t + 1) * m, b); },
                m, n_samples, window, g, N, hop, frames, res, threads);
}

std::size_t fir_decimate_count(std::size_t n_samples, std::size_t n_taps, std::size_t decim) {
    if (decim == 0 || n_taps == 0 || n_samples < n_taps) return 0;
    return (n_samples - n_taps) / decim + 1;
}

void fir_decimate(const float* x, std::size_t n_samples, const float* taps, std::size_t n_taps,
                  std::size_t decim, float* out, unsigned threads) {
    if (decim == 0) throw std::invalid_argument("fir_decimate: decim must be >= 1");
    const std::size_t n_out = fir_decimate_count(n_samples, n_taps, decim);
    if (n_out == 0) return;
    const unsigned workers = n_out < 4096 ? 1u : worker_count(threads, 2);
#if defined(IRFORGE_HAVE_AVX2_KERNELS) && (defined(__GNUC__) || defined(__clang__))
    const bool avx2 = cpu::avx2_fma();
#else
    constexpr bool avx2 = false;
#endif
    parallel_frames(n_out, workers, [&](unsigned, std::size_t j0, std::size_t j1) {
        if (avx2)
            fir_rows_avx2(x, taps, n_taps, decim, out, j0, j1);
        else
            fir_rows(x, taps, n_taps, decim, out, j0, j1);
    });
}

void band_fit(const double* p, const double* r, const long long* edges, std::size_t bands,
              const double* p_scale, const double* r_scale, double* a, double* c, double* se,
              const unsigned char* active, int iters, unsigned threads) {
    for (std::size_t j = 0; j < bands; ++j) se[j] = std::numeric_limits<double>::infinity();
    auto fit_one = [&](std::size_t j) {
        if (!active[j]) return;
        const std::size_t lo = static_cast<std::size_t>(edges[j]), hi = static_cast<std::size_t>(edges[j + 1]);
        const double ip = 1.0 / p_scale[j], ir = 1.0 / r_scale[j];
        const double dof = std::max(static_cast<double>(hi - lo) - 2.0, 1.0);
        double aj = a[j], cj = c[j];
        for (int it = 0; it < iters; ++it) {
            // four lanes of partial sums per quantity (independent chains)
            double rr[4] = {}, r1[4] = {}, o1[4] = {}, rp[4] = {}, op[4] = {}, pp[4] = {};
            auto add = [&](int q, std::size_t k) {
                const double rk = r[k] * ir, pk = p[k] * ip;
                const double fit = std::max(aj * rk + cj, 1e-12);
                const double w = 1.0 / (fit * fit), wr = w * rk, wp = w * pk;
                rr[q] += wr * rk;
                r1[q] += wr;
                o1[q] += w;
                rp[q] += wr * pk;
                op[q] += wp;
                pp[q] += wp * pk;
            };
            std::size_t k = lo;
            for (; k + 4 <= hi; k += 4)
                for (int q = 0; q < 4; ++q) add(q, k + q);
            for (; k < hi; ++k) add(0, k);
            auto total = [](const double* v) { return (v[0] + v[1]) + (v[2] + v[3]); };
            const double s_rr = total(rr), s_r1 = total(r1), s_11 = total(o1), s_rp = total(rp);
            const double s_1p = total(op), s_pp = total(pp);
            const double det = s_rr * s_11 - s_r1 * s_r1;
            if (!(det > 1e-12 * s_rr * s_11)) break;
            const double a_new = std::max((s_11 * s_rp - s_r1 * s_1p) / det, 0.0);
            const double c_new = std::max((s_rr * s_1p - s_r1 * s_rp) / det, 1e-12);
            const double rss = s_pp - 2 * a_new * s_rp - 2 * c_new * s_1p + a_new * a_new * s_rr +
                               2 * a_new * c_new * s_r1 + c_new * c_new * s_11;
            se[j] = std::sqrt(std::max(rss, 0.0) / dof * s_rr / det);
            const bool conv = std::abs(a_new - aj) <= 1e-3 * (aj + 1e-12) && std::abs(c_new - cj) <= 1e-3 * cj;
            aj = a_new;
            cj = c_new;
            if (conv) break;
        }
        a[j] = aj;
        c[j] = cj;
    };
    if (bands == 0) return;
    // split the bands into contiguous groups of about equal bin counts
    const std::size_t total = static_cast<std::size_t>(edges[bands] - edges[0]);
    unsigned workers = worker_count(threads, bands);
    if (total < (std::size_t(1) << 15)) workers = 1;
    std::vector<std::size_t> cut(workers + 1, bands);
    cut[0] = 0;
    for (unsigned w = 1, j = 0; w < workers; ++w) {
        const long long target = edges[0] + static_cast<long long>(total * w / workers);
        while (j < bands && edges[j] < target) ++j;
        cut[w] = j;
    }
    detail::run_workers(workers, [&](unsigned w) {
        for (std::size_t j = cut[w]; j < cut[w + 1]; ++j) fit_one(j);
    });
}

}  // namespace filterbank
}  // namespace irforge
