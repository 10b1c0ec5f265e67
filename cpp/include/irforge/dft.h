// irforge/dft.h - real DFT of any length (Bluestein's chirp-z algorithm on the power-of-two
// RealFFT of fft.h).
//
// For lengths whose prime factors are large (119999 = 11 x 10909 is the length of Ciba's
// filter at 48 kHz) a mixed-radix FFT degenerates; Bluestein turns the DFT into a circular
// convolution of size m >= 2n - 1 (a power of two): four real FFTs of m points and O(m)
// complex products, whatever n is. The chirp exp(-i pi k^2 / n) is computed in double with
// k^2 reduced modulo 2n; the transforms run in float32 (relative error about 1e-6 of the
// spectrum's peak).
//
// Same conventions as RealFFT's ordered layout: forward gives n/2 + 1 complex bins interleaved
// (re, im) like numpy.fft.rfft; inverse takes them and returns n real samples, unnormalised
// (inverse(forward(x)) == n * x). One object per thread; transforms do not allocate.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "irforge/fft.h"

namespace irforge {
namespace fft {

struct BluesteinPlan;  // chirp and kernel spectrum, immutable, cached per length

class BluesteinRealDFT {
public:
    // n >= 2 and 2n - 1 <= kMaxSize; throws std::invalid_argument otherwise. The plan (chirp
    // and kernel transform) is built once per length and shared (a process-wide cache of a few
    // lengths, locked only while a plan is built).
    explicit BluesteinRealDFT(std::size_t n);
    std::size_t size() const { return n_; }
    std::size_t fft_size() const { return m_; }

    // in: n floats; out: 2 (n/2 + 1) floats.
    void forward(const float* in, float* out);
    // in: 2 (n/2 + 1) floats (bin 0's imaginary part, and bin n/2's for even n, are ignored);
    // out: n floats.
    void inverse(const float* in, float* out);

private:
    // out (2m floats, complex interleaved) = FFT_m of re + i im (m floats each)
    void complex_forward(const float* re, const float* im, float* out);
    // re, im (m floats each) = unnormalised inverse FFT_m of c (2m floats, complex interleaved)
    void complex_inverse(const float* c, float* re, float* im);
    // (ra_, ia_) <- their circular convolution (size m) with the chirp kernel, or its conjugate
    void convolve_with_chirp(bool conjugate);

    std::size_t n_, m_;
    RealFFT fft_;
    std::shared_ptr<const BluesteinPlan> plan_;
    FloatBuffer ra_, ia_, sr_, si_, c_;
};

}  // namespace fft
}  // namespace irforge
