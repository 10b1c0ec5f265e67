// irforge/stft.h - short-time Fourier transform and its inverse (weighted overlap-add).
//
// Conventions are librosa's, so that Ciba's reference filter (written with librosa) can be
// reproduced: frame t starts at sample t*hop of the signal, which with `center` is first padded
// with n_fft/2 zeros at both ends; spectra are unnormalised (numpy.fft.rfft); the inverse
// divides by the summed squared window where that sum exceeds 1e-10 (Griffin & Lim 1984,
// least-squares overlap-add).
//
// Frame lengths are powers of two (fft::is_supported_size). Both functions spread frames over
// `threads` worker threads (0 = all cores); they allocate their scratch up front and are meant
// for offline work, not for a real-time callback.
#pragma once

#include <cstddef>

namespace irforge {
namespace stft {

// Number of frames for n_samples input samples (librosa: 1 + (padded - n_fft) / hop, at least
// 1 when centred).
std::size_t frame_count(std::size_t n_samples, std::size_t n_fft, std::size_t hop, bool center);

// x: n_samples floats; window: n_fft floats; out: frames * (n_fft/2 + 1) complex values,
// interleaved (re, im), frame-major (frame t's bins are contiguous). Throws
// std::invalid_argument for unsupported sizes.
void analyze(const float* x, std::size_t n_samples, const float* window, std::size_t n_fft,
             std::size_t hop, bool center, float* out, unsigned threads);

// spec: frames * (n_fft/2 + 1) complex values in the layout analyze() writes. out: out_len
// samples of the synthesized signal, starting at padded sample n_fft/2 when centred (so that
// synthesize(analyze(x)) == x); samples beyond the last frame are zero.
void synthesize(const float* spec, std::size_t frames, const float* window, std::size_t n_fft,
                std::size_t hop, bool center, float* out, std::size_t out_len, unsigned threads);

// For each frame of analyze(x), the spectral roll-off bin: the first bin k at which the power
// in bins k .. n_fft/2 falls below `fraction` of the frame's total power (plus 2.2e-16), or 0
// when no bin qualifies (silent frames included). This is the per-frame quantity of Ciba's
// blind "T60" estimate (reference code); power sums run in double. out: frames ints.
void rolloff_bins(const float* x, std::size_t n_samples, const float* window, std::size_t n_fft,
                  std::size_t hop, bool center, double fraction, int* out, unsigned threads);

}  // namespace stft
}  // namespace irforge
