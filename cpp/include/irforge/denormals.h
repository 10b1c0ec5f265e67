// irforge/denormals.h - flush denormals to zero for a scope (restored on exit).
//
// Decaying IR tails and feedback-free filters drift into the denormal range, where x86 FPUs
// take a slow microcode path (tens to hundreds of cycles per operation on many Intel cores).
// A ScopedFlushDenormals sets FTZ and DAZ in MXCSR on this thread and restores the caller's
// mode when it goes out of scope, so a host's own settings are left as they were. It costs
// two MXCSR accesses; it allocates nothing and never throws (real-time safe). On other
// architectures it does nothing.
#pragma once

#if defined(__SSE2__) || defined(_M_X64)
#include <immintrin.h>
#define IRFORGE_HAVE_MXCSR 1
#endif

namespace irforge {

class ScopedFlushDenormals {
public:
#ifdef IRFORGE_HAVE_MXCSR
    ScopedFlushDenormals() noexcept : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | kFtzDaz); }
    ~ScopedFlushDenormals() { _mm_setcsr(saved_); }
#else
    ScopedFlushDenormals() noexcept {}
#endif
    ScopedFlushDenormals(const ScopedFlushDenormals&) = delete;
    ScopedFlushDenormals& operator=(const ScopedFlushDenormals&) = delete;

private:
#ifdef IRFORGE_HAVE_MXCSR
    static constexpr unsigned kFtzDaz = 0x8040u;  // flush-to-zero (bit 15) | denormals-are-zero (bit 6)
    unsigned saved_;
#endif
};

}  // namespace irforge
