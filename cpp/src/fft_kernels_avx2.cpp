// fft_kernels_avx2.cpp - the FFT kernels compiled with -mavx2 -mfma (set by CMakeLists.txt for
// this file only). Only called after a run-time check that the CPU has AVX2 and FMA.
#define IRFORGE_FFT_NS kern_avx2
#define IRFORGE_FFT_ISA_NAME "avx2"
#include "fft_kernels.inc"
