// Long-frame power sums and the circular WOLA filter bank (see irforge/filterbank.h).
#include "irforge/filterbank.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "irforge/fft.h"

namespace irforge {
namespace filterbank {

namespace {

unsigned worker_count(unsigned threads, std::size_t frames) {
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    return static_cast<unsigned>(std::min<std::size_t>(threads, std::max<std::size_t>(1, frames)));
}

// body(worker, first_frame, end_frame) on contiguous frame ranges, one per worker.
template <class Body>
void parallel_frames(std::size_t frames, unsigned workers, Body body) {
    if (workers <= 1) {
        body(0u, std::size_t(0), frames);
        return;
    }
    std::vector<std::thread> pool;
    pool.reserve(workers - 1);
    const std::size_t per = (frames + workers - 1) / workers;
    for (unsigned w = 1; w < workers; ++w) {
        const std::size_t a = std::min(frames, w * per), b = std::min(frames, a + per);
        pool.emplace_back([&body, w, a, b]() { body(w, a, b); });
    }
    body(0u, std::size_t(0), std::min(frames, per));
    for (auto& t : pool) t.join();
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

}  // namespace

void power_sum(const float* x, std::size_t n_samples, const float* window, std::size_t n_fft,
               std::size_t hop, std::size_t frames, double* acc, unsigned threads) {
    if (!fft::is_supported_size(n_fft))
        throw std::invalid_argument("power_sum: n_fft must be a power of two from 16 to 2^22, got " +
                                    std::to_string(n_fft));
    if (hop == 0) throw std::invalid_argument("power_sum: hop must be >= 1");
    if (frames == 0) return;
    const std::size_t nb = n_fft / 2 + 1;
    const unsigned workers = worker_count(threads, frames);
    std::vector<std::vector<double>> part(workers, std::vector<double>(nb, 0.0));
    parallel_frames(frames, workers, [&](unsigned wk, std::size_t f0, std::size_t f1) {
        if (f0 >= f1) return;
        fft::RealFFT f(n_fft);
        fft::FloatBuffer buf(n_fft), spec(n_fft + 2);
        double* p = part[wk].data();
        for (std::size_t t = f0; t < f1; ++t) {
            fill(x, n_samples, t * hop, window, n_fft, n_fft, buf.data());
            f.forward(buf.data(), spec.data());
            const float* z = spec.data();
            for (std::size_t k = 0; k < nb; ++k) {
                const float re = z[2 * k], im = z[2 * k + 1];
                p[k] += static_cast<double>(re * re + im * im);
            }
        }
    });
    for (const auto& p : part)
        for (std::size_t k = 0; k < nb; ++k) acc[k] += p[k];
}

void wola_circular(const float* x, std::size_t n_samples, const double* window, const float* g,
                   std::size_t N, std::size_t hop, std::size_t frames, double* res, unsigned threads) {
    if (N < 2) throw std::invalid_argument("wola_circular: frame length must be >= 2");
    if (hop == 0) throw std::invalid_argument("wola_circular: hop must be >= 1");
    std::size_t m = fft::kMinSize;
    while (m < 2 * N - 1) m <<= 1;
    if (m > fft::kMaxSize)
        throw std::invalid_argument("wola_circular: frame length " + std::to_string(N) + " is too long (2N-1 > 2^22)");
    // spectrum of the kernel, packed layout, with the 1/m of the inverse folded in
    fft::FloatBuffer G(m);
    {
        fft::RealFFT f(m);
        const float scale = 1.0f / static_cast<float>(m);
        for (std::size_t i = 0; i < N; ++i) G.data()[i] = g[i] * scale;
        f.forward_packed(G.data(), G.data());
    }
    std::vector<float> w32(N);
    for (std::size_t i = 0; i < N; ++i) w32[i] = static_cast<float>(window[i]);
    std::vector<float> framed(frames * N);  // filtered, windowed frames
    parallel_frames(frames, worker_count(threads, frames), [&](unsigned, std::size_t f0, std::size_t f1) {
        if (f0 >= f1) return;
        fft::RealFFT f(m);
        fft::FloatBuffer buf(m);
        float* b = buf.data();
        for (std::size_t t = f0; t < f1; ++t) {
            fill(x, n_samples, t * hop, w32.data(), N, m, b);
            f.forward_packed(b, b);
            fft::mul_packed(m, b, G.data(), b);
            f.inverse_packed(b, b);
            float* o = framed.data() + t * N;
            for (std::size_t i = 0; i + 1 < N; ++i) o[i] = (b[i] + b[i + N]) * w32[i];
            o[N - 1] = b[N - 1] * w32[N - 1];
        }
    });
    // overlap-add in frame order (float32 sum, as the reference filter does), window power
    // in double
    const std::size_t span = n_samples;
    std::vector<float> out(span, 0.0f);
    std::vector<double> norm(span, 0.0);
    for (std::size_t t = 0; t < frames; ++t) {
        const std::size_t s = t * hop;
        if (s >= span) break;
        const std::size_t k = std::min(N, span - s);
        const float* o = framed.data() + t * N;
        float* dst = out.data() + s;
        double* nd = norm.data() + s;
        for (std::size_t i = 0; i < k; ++i) {
            dst[i] += o[i];
            nd[i] += window[i] * window[i];
        }
    }
    for (std::size_t i = 0; i < span; ++i)
        res[i] = norm[i] > 1e-10 ? static_cast<double>(out[i]) / norm[i] : static_cast<double>(out[i]);
}

}  // namespace filterbank
}  // namespace irforge
