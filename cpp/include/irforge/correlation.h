// irforge/correlation.h - exact cross-correlation at a window of lags.
//
// Used to refine a peak found on a coarse (decimated, FFT-based) correlation: a handful of
// lags of two long signals, in double precision, in one pass over memory.
#pragma once

#include <cstddef>

namespace irforge {

// c[k] = sum_i x[i] * y[i + lo + k] for k in [0, n_lags), over the i where both indices are
// inside their signals (numpy.correlate(y, x, "full")[lo + nx - 1 + k]). Work is split over
// `threads` threads (0 = all cores).
void xcorr_lags(const double* y, std::size_t ny, const double* x, std::size_t nx, long long lo,
                std::size_t n_lags, double* c, unsigned threads);
// The same for float32 signals: products and sums in double (a product of two floats is exact
// in double), so no float64 copy of long signals is needed.
void xcorr_lags(const float* y, std::size_t ny, const float* x, std::size_t nx, long long lo,
                std::size_t n_lags, double* c, unsigned threads);

// The same quantity for a window of lags by FFT (float32 spectra, accumulated over blocks of x
// of B >= n_lags samples (B >= 1024) in the frequency domain, one inverse FFT at the end): about
// 2 FFTs of 2B per B samples whatever n_lags is (<= 2^20), so a window of thousands of lags
// costs what a few direct lags do. Accuracy: float32 round-off, about 1e-6 of
// sqrt(sum x^2 sum y^2); use xcorr_lags for exact values.
void xcorr_window(const float* y, std::size_t ny, const float* x, std::size_t nx, long long lo,
                  std::size_t n_lags, double* c, unsigned threads);

}  // namespace irforge
