// fft_internal.h - private to the FFT: the plan (precomputed tables) and the kernel table.
//
// Layout of the algorithm (see fft_kernels.inc for the details):
//   real FFT of n  = complex FFT of N = n/2 on z[k] = x[2k] + i x[2k+1], plus a post-pass.
//   complex FFT of N = 8*M: the input is viewed as an M x 8 matrix; each SIMD lane runs one
//   length-M FFT (radix-4 Stockham passes, broadcast twiddles), then one radix-8 pass combines
//   the lanes (twiddle, 8x8 transpose, 8-point DFT).
//   packed layout: the rfft bins 0..N-1 in blocks of 8 bins, each block = 8 re then 8 im;
//   bin 0's imaginary slot holds the (real) Nyquist bin N.
//
// Everything here is plain data: no inline functions, so that nothing compiled with -mavx2
// can be shared with the baseline code through the linker.
#pragma once

#include <cstddef>

namespace irforge {
namespace fft {

struct Plan {
    std::size_t n = 0;   // real size
    std::size_t N = 0;   // complex size n/2
    std::size_t M = 0;   // N/8: length of the per-lane FFTs (vector path only)
    float* mem = nullptr;            // owns every table below (64-byte aligned)
    const float* stock_tw = nullptr; // radix-4 passes: per pass, per p: w1r w1i w2r w2i w3r w3i
    const float* final_tw = nullptr; // lane pass: per group j of 8 k1's (one group if M < 8),
                                     // r = 1..7: W_N^{r k1}, 8 re, 8 im
    const float* post_tw = nullptr;  // W_n^k, k < N, in blocks of 8 (8 re, 8 im)

    explicit Plan(std::size_t n);
    ~Plan();
    Plan(const Plan&) = delete;
    Plan& operator=(const Plan&) = delete;
};

// Floats of scratch a RealFFT of size n needs.
constexpr std::size_t scratch_floats(std::size_t n) { return 2 * n; }

struct Kernels {
    const char* name;
    // ordered: out gets n + 2 floats (interleaved rfft bins) instead of the packed layout.
    void (*forward)(const Plan& p, const float* in, float* out, float* scratch, bool ordered);
    // ordered: in holds n + 2 floats (interleaved rfft bins) instead of the packed layout.
    void (*inverse)(const Plan& p, const float* in, float* out, float* scratch, bool ordered);
    void (*mac)(std::size_t n, const float* a, const float* b, float* acc);
    void (*mul)(std::size_t n, const float* a, const float* b, float* out);
};

namespace kern_generic {
extern const Kernels kKernels;
}
namespace kern_avx2 {
extern const Kernels kKernels;
}

}  // namespace fft
}  // namespace irforge
