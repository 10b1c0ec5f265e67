// STFT analysis and weighted overlap-add synthesis on the real FFT (see irforge/stft.h).
#include "irforge/stft.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "irforge/fft.h"
#include "irforge/parallel.h"

namespace irforge {
namespace stft {

namespace {

void check_sizes(std::size_t n_fft, std::size_t hop) {
    if (!fft::is_supported_size(n_fft))
        throw std::invalid_argument("stft: n_fft must be a power of two from 16 to 2^22, got " +
                                    std::to_string(n_fft));
    if (hop == 0) throw std::invalid_argument("stft: hop must be >= 1");
}

unsigned worker_count(unsigned threads, std::size_t frames) {
    // below a few dozen frames a thread costs more than it saves
    const std::size_t useful = std::max<std::size_t>(1, frames / 32);
    return static_cast<unsigned>(std::min<std::size_t>(detail::resolve_threads(threads), useful));
}

// Run body(first_frame, end_frame) on contiguous frame ranges, one per worker.
template <class Body>
void parallel_frames(std::size_t frames, unsigned workers, Body body) {
    detail::parallel_ranges(frames, workers, [&](unsigned, std::size_t a, std::size_t b) { body(a, b); });
}

}  // namespace

std::size_t frame_count(std::size_t n_samples, std::size_t n_fft, std::size_t hop, bool center) {
    const std::size_t padded = center ? n_samples + 2 * (n_fft / 2) : n_samples;
    if (padded < n_fft) return center ? 1 : 0;
    return 1 + (padded - n_fft) / hop;
}

// Windowed frame t into b (n_fft floats). Frame t covers padded samples [t*hop, t*hop + n_fft);
// the signal starts at padded index n_fft/2 when centred.
void fill_frame(const float* x, std::size_t n_samples, const float* window, std::size_t n_fft,
                std::size_t hop, bool center, std::size_t t, float* b) {
    const std::ptrdiff_t lead = center ? static_cast<std::ptrdiff_t>(n_fft / 2) : 0;
    const std::ptrdiff_t s = static_cast<std::ptrdiff_t>(t * hop) - lead;  // signal index of b[0]
    const std::ptrdiff_t lo = std::max<std::ptrdiff_t>(0, -s);
    const std::ptrdiff_t hi = std::min<std::ptrdiff_t>(static_cast<std::ptrdiff_t>(n_fft),
                                                       static_cast<std::ptrdiff_t>(n_samples) - s);
    if (lo >= hi) {
        std::fill(b, b + n_fft, 0.0f);
        return;
    }
    std::fill(b, b + lo, 0.0f);
    const float* src = x + s;
    for (std::ptrdiff_t i = lo; i < hi; ++i) b[i] = src[i] * window[i];
    std::fill(b + hi, b + n_fft, 0.0f);
}

void analyze(const float* x, std::size_t n_samples, const float* window, std::size_t n_fft,
             std::size_t hop, bool center, float* out, unsigned threads) {
    check_sizes(n_fft, hop);
    const std::size_t frames = frame_count(n_samples, n_fft, hop, center);
    const std::size_t bins2 = n_fft + 2;  // floats per frame of output
    auto body = [&](std::size_t f0, std::size_t f1) {
        if (f0 >= f1) return;
        fft::RealFFT f(n_fft);
        fft::FloatBuffer buf(n_fft);
        for (std::size_t t = f0; t < f1; ++t) {
            fill_frame(x, n_samples, window, n_fft, hop, center, t, buf.data());
            f.forward(buf.data(), out + t * bins2);
        }
    };
    parallel_frames(frames, worker_count(threads, frames), body);
}

void rolloff_bins(const float* x, std::size_t n_samples, const float* window, std::size_t n_fft,
                  std::size_t hop, bool center, double fraction, int* out, unsigned threads) {
    check_sizes(n_fft, hop);
    const std::size_t frames = frame_count(n_samples, n_fft, hop, center);
    const std::size_t nb = n_fft / 2 + 1;
    auto body = [&](std::size_t f0, std::size_t f1) {
        if (f0 >= f1) return;
        fft::RealFFT f(n_fft);
        fft::FloatBuffer buf(n_fft), spec(n_fft + 2);
        std::vector<double> p(nb);
        for (std::size_t t = f0; t < f1; ++t) {
            fill_frame(x, n_samples, window, n_fft, hop, center, t, buf.data());
            f.forward(buf.data(), spec.data());
            const float* z = spec.data();
            double total = 0.0;
            for (std::size_t k = 0; k < nb; ++k) {
                const double re = z[2 * k], im = z[2 * k + 1];
                p[k] = re * re + im * im;
            }
            // the total as the reference sums it: from the top bin down
            for (std::size_t k = nb; k-- > 0;) total += p[k];
            const double thr = fraction * (total + 2.220446049250313e-16);
            // power above bin k is non-increasing in k: find the lowest k with sum(k..) < thr
            double tail = 0.0;
            std::size_t k = nb;
            while (k > 0 && tail + p[k - 1] < thr) tail += p[--k];
            out[t] = k == nb ? 0 : static_cast<int>(k);  // no bin qualifies -> 0, as argmax of all-False
        }
    };
    parallel_frames(frames, worker_count(threads, frames), body);
}

void synthesize(const float* spec, std::size_t frames, const float* window, std::size_t n_fft,
                std::size_t hop, bool center, float* out, std::size_t out_len, unsigned threads) {
    check_sizes(n_fft, hop);
    std::fill(out, out + out_len, 0.0f);
    if (frames == 0) return;
    const std::size_t bins2 = n_fft + 2;
    const std::size_t lead = center ? n_fft / 2 : 0;
    const std::size_t padded_len = n_fft + hop * (frames - 1);
    // The padded-domain range we need: [lead, lead + out_len) clipped to what frames cover.
    const std::size_t need_end = std::min(padded_len, lead + out_len);
    if (need_end <= lead) return;
    const std::size_t span = need_end - lead;
    // Accumulate in double: sum of windowed frames and of squared windows.
    std::vector<double> acc(span, 0.0), wss(span, 0.0);
    const float inv_n = 1.0f / static_cast<float>(n_fft);
    // Each worker owns a disjoint output range and every frame that touches it, so no two
    // threads write the same sample (frames on a range edge are transformed twice).
    const unsigned workers = worker_count(threads, frames);
    const std::size_t per = (span + workers - 1) / workers;
    auto body = [&](std::size_t r) {
        const std::size_t a = std::min(span, r * per), b = std::min(span, a + per);
        if (a >= b) return;
        const std::size_t pa = a + lead, pb = b + lead;  // padded-domain range [pa, pb)
        // frames t with t*hop < pb and t*hop + n_fft > pa
        const std::size_t t_first = pa >= n_fft ? (pa - n_fft) / hop + 1 : 0;
        const std::size_t t_end = std::min(frames, (pb - 1) / hop + 1);
        fft::RealFFT f(n_fft);
        fft::FloatBuffer tmp(n_fft);
        for (std::size_t t = t_first; t < t_end; ++t) {
            f.inverse(spec + t * bins2, tmp.data());
            const std::size_t s = t * hop;
            const std::size_t lo = std::max(s, pa), hi = std::min(s + n_fft, pb);
            for (std::size_t p = lo; p < hi; ++p) {
                const float w = window[p - s];
                acc[p - lead] += static_cast<double>(tmp.data()[p - s] * inv_n * w);
                wss[p - lead] += static_cast<double>(w) * w;
            }
        }
    };
    detail::run_workers(workers, [&](unsigned r) { body(static_cast<std::size_t>(r)); });
    for (std::size_t i = 0; i < span; ++i)
        out[i] = static_cast<float>(wss[i] > 1e-10 ? acc[i] / wss[i] : acc[i]);
}

}  // namespace stft
}  // namespace irforge
