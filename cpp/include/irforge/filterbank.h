// irforge/filterbank.h - frame-wise spectral work on long frames: power sums and a weighted
// overlap-add filter bank.
//
// Both spread frames over `threads` worker threads (0 = all cores), allocate their scratch up
// front and are meant for offline analysis and rendering, not for a real-time callback.
#pragma once

#include <cstddef>

namespace irforge {
namespace filterbank {

// For each of `rows` signals (row r starts at x + r * row_stride, n_samples each): the sum over
// frames of |rfft(window * frame)|^2, per bin, in double. Frames of n_fft samples (a power of
// two) start at t * hop, t = 0 .. frames-1, and are zero-padded past n_samples. All (row,
// frame) pairs are spread over the workers. acc: rows x (n_fft/2 + 1) doubles, added to.
void power_sum(const float* x, std::size_t rows, std::size_t row_stride, std::size_t n_samples,
               const float* window, std::size_t n_fft, std::size_t hop, std::size_t frames, double* acc,
               unsigned threads);

// Weighted overlap-add of circularly filtered frames:
//   out = sum_t shift_{t*hop}( w * circconv_N(w * frame_t, g) ),  norm = sum_t shift(w^2)
//   res[i] = out[i] / norm[i] where norm[i] > 1e-10, else out[i]
// with frames of N samples (any N >= 2) of x starting at t * hop (zero-padded past
// n_samples), w the analysis/synthesis window (N doubles), g the circular kernel (N floats).
// The circular convolution runs as a linear one on a power-of-two FFT of size >= 2N - 1 folded
// modulo N (float32); `out` accumulates in float32 in frame order, `norm` in double.
// res: n_samples doubles. Throws std::invalid_argument if 2N - 1 exceeds the largest FFT size.
void wola_circular(const float* x, std::size_t n_samples, const double* window, const float* g,
                   std::size_t N, std::size_t hop, std::size_t frames, double* res, unsigned threads);

// The same in two steps, so that the frames' transforms (which do not depend on g) can be
// computed ahead, e.g. while g is being designed: wola_spectra writes the packed spectra of
// the windowed frames (frames x wola_fft_size(N) floats), wola_apply finishes from them.
std::size_t wola_fft_size(std::size_t N);
void wola_spectra(const float* x, std::size_t n_samples, const double* window, std::size_t N, std::size_t hop,
                  std::size_t frames, float* spectra, unsigned threads);
void wola_apply(const float* spectra, std::size_t frames, std::size_t n_samples, const double* window,
                const float* g, std::size_t N, std::size_t hop, double* res, unsigned threads);

// FIR filter and decimate: out[j] = sum_t taps[t] x[j * decim + t] for j = 0 .. n_out - 1
// (n_out = (n_samples - n_taps) / decim + 1, 0 if the signal is shorter than the filter), the
// products summed in float32 with independent lanes. Outputs are spread over `threads`.
std::size_t fir_decimate_count(std::size_t n_samples, std::size_t n_taps, std::size_t decim);
void fir_decimate(const float* x, std::size_t n_samples, const float* taps, std::size_t n_taps,
                  std::size_t decim, float* out, unsigned threads);

// Band-wise regression p_k ~ a r_k + c (a, c >= 0) for every band [edges[j], edges[j+1]) of
// bins at once, by Fisher scoring for p_k ~ Gamma(mean a r_k + c): each step solves the 2x2
// weighted normal equations with weights 1/(a r_k + c)^2 (floored at 1e-12). Within band j the
// data are scaled to p_k / p_scale[j] and r_k / r_scale[j] (so a and c are in those units). A band
// stops when both a and c move by <= 1e-3 relative, when its normal equations become singular
// (det <= 1e-12 s_rr s_11; it keeps its last values), or after `iters` steps. Bands with
// active[j] == 0 are left as they are. a, c: in (start values) and out. se: out, the standard
// error of c at the last step made (quasi-likelihood: the Pearson dispersion of the weighted
// residuals at the new estimate, rss / (n - 2), times the inverse Fisher information
// s_rr / det), +inf where no step was made. Sums in double.
void band_fit(const double* p, const double* r, const long long* edges, std::size_t bands,
              const double* p_scale, const double* r_scale, double* a, double* c, double* se,
              const unsigned char* active, int iters, unsigned threads);

}  // namespace filterbank
}  // namespace irforge
