// irforge/cpu.h - the one run-time decision about SIMD kernels.
//
// Every dispatched kernel (FFT butterflies, correlation lags, the FIR decimator) asks
// avx2_fma() once; nothing outside those kernels is compiled for more than baseline x86-64,
// so one binary runs on any x86-64 CPU. IRFORGE_ISA=generic in the environment forces the
// generic kernels (the test suite runs once that way in CI).
#pragma once

namespace irforge {
namespace cpu {

// True when the CPU has AVX2 and FMA, the AVX2 kernels were built, and IRFORGE_ISA is not
// "generic". Read once per process (thread-safe).
bool avx2_fma();

}  // namespace cpu
}  // namespace irforge
