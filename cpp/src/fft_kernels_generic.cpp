// fft_kernels_generic.cpp - the FFT kernels for the baseline instruction set (SSE2 on x86-64).
#define IRFORGE_FFT_NS kern_generic
#define IRFORGE_FFT_ISA_NAME "generic"
#include "fft_kernels.inc"
