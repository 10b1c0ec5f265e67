// fft.cpp - plans (twiddle tables, cached per size), run-time kernel dispatch, RealFFT and the
// aligned buffers. The transforms themselves are in fft_kernels.inc.
#include "irforge/cpu.h"
#include "irforge/fft.h"

#include <atomic>
#include <cmath>
#include <cstring>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>

#include "fft_internal.h"

namespace irforge {
namespace fft {

// ---- aligned buffers ---------------------------------------------------------------------------

namespace {
constexpr std::size_t kAlign = 64;
}

float* alloc_floats(std::size_t n) {
    std::size_t bytes = (n == 0 ? 1 : n) * sizeof(float);
    bytes = (bytes + kAlign - 1) / kAlign * kAlign;
    return static_cast<float*>(::operator new(bytes, std::align_val_t(kAlign)));
}

void free_floats(float* p) {
    if (p) ::operator delete(p, std::align_val_t(kAlign));
}

FloatBuffer::FloatBuffer(std::size_t count) : p(alloc_floats(count)), n(count) { zero(); }

FloatBuffer& FloatBuffer::operator=(FloatBuffer&& o) noexcept {
    if (this != &o) {
        free_floats(p);
        p = o.p;
        n = o.n;
        o.p = nullptr;
        o.n = 0;
    }
    return *this;
}

void FloatBuffer::zero() {
    if (p && n) std::memset(p, 0, n * sizeof(float));
}

// ---- plans -------------------------------------------------------------------------------------

bool is_supported_size(std::size_t n) { return n >= kMinSize && n <= kMaxSize && (n & (n - 1)) == 0; }

namespace {

// exp(-2 pi i k / n), in double.
inline void twiddle(std::size_t k, std::size_t n, double& re, double& im) {
    const double kPi = 3.14159265358979323846264338327950288;
    k %= n;
    const double a = -2.0 * kPi * static_cast<double>(k) / static_cast<double>(n);
    re = std::cos(a);
    im = std::sin(a);
}

std::size_t stock_floats(std::size_t M) {
    std::size_t f = 0;
    for (std::size_t m = M; m >= 4; m /= 4) f += 6 * (m / 4);
    return f;
}

}  // namespace

Plan::Plan(std::size_t n_) {
    n = n_;
    N = n / 2;
    M = N / 8;
    const std::size_t groups = M >= 8 ? M / 8 : 1;
    const std::size_t n_stock = stock_floats(M);
    const std::size_t n_final = 112 * groups;
    const std::size_t n_post = n;  // N complex in blocks of 8
    auto round16 = [](std::size_t f) { return (f + 15) / 16 * 16; };
    const std::size_t total = round16(n_stock) + round16(n_final) + round16(n_post);
    mem = alloc_floats(total);
    float* p = mem;
    double re, im;

    float* st = p;
    p += round16(n_stock);
    {
        float* w = st;
        for (std::size_t m = M; m >= 4; m /= 4) {
            for (std::size_t q = 0; q < m / 4; ++q) {
                for (std::size_t j = 1; j <= 3; ++j) {
                    twiddle(j * q, m, re, im);
                    *w++ = static_cast<float>(re);
                    *w++ = static_cast<float>(im);
                }
            }
        }
    }
    stock_tw = st;

    float* fi = p;
    p += round16(n_final);
    {
        for (std::size_t j = 0; j < groups; ++j)
            for (std::size_t r = 1; r < 8; ++r)
                for (std::size_t t = 0; t < 8; ++t) {
                    twiddle(r * (8 * j + t), N, re, im);
                    fi[112 * j + 16 * (r - 1) + t] = static_cast<float>(re);
                    fi[112 * j + 16 * (r - 1) + 8 + t] = static_cast<float>(im);
                }
    }
    final_tw = fi;

    float* po = p;
    p += round16(n_post);
    for (std::size_t k = 0; k < N; ++k) {
        twiddle(k, n, re, im);
        po[16 * (k >> 3) + (k & 7)] = static_cast<float>(re);
        po[16 * (k >> 3) + (k & 7) + 8] = static_cast<float>(im);
    }
    post_tw = po;

}

Plan::~Plan() { free_floats(mem); }

namespace {

constexpr int kMaxLog2 = 22;

std::shared_ptr<const Plan> get_plan(std::size_t n) {
    static std::mutex mu;
    static std::shared_ptr<const Plan> cache[kMaxLog2 + 1];
    int lg = 0;
    while ((std::size_t(1) << lg) < n) ++lg;
    std::lock_guard<std::mutex> lock(mu);
    if (!cache[lg]) cache[lg] = std::make_shared<const Plan>(n);
    return cache[lg];
}

// ---- run-time dispatch ---------------------------------------------------------------------

const Kernels* best_kernels() {
#if defined(IRFORGE_HAVE_AVX2_KERNELS)
    if (cpu::avx2_fma()) return &kern_avx2::kKernels;
#endif
    return &kern_generic::kKernels;
}

std::atomic<const Kernels*> g_kernels{nullptr};

inline const Kernels& kernels() {
    const Kernels* k = g_kernels.load(std::memory_order_relaxed);
    if (!k) {
        k = best_kernels();
        g_kernels.store(k, std::memory_order_relaxed);
    }
    return *k;
}

}  // namespace

const char* isa_name() { return kernels().name; }

bool set_isa(const char* name) {
    if (!name) return false;
    const std::string s(name);
    if (s == "auto") {
        g_kernels.store(best_kernels(), std::memory_order_relaxed);
        return true;
    }
    if (s == "generic") {
        g_kernels.store(&kern_generic::kKernels, std::memory_order_relaxed);
        return true;
    }
#if defined(IRFORGE_HAVE_AVX2_KERNELS)
    if (s == "avx2" && cpu::avx2_fma()) {
        g_kernels.store(&kern_avx2::kKernels, std::memory_order_relaxed);
        return true;
    }
#endif
    return false;
}

// ---- RealFFT -----------------------------------------------------------------------------------

RealFFT::RealFFT(std::size_t n) : n_(n) {
    if (!is_supported_size(n))
        throw std::invalid_argument("RealFFT: size must be a power of two from 16 to 2^22, got " +
                                    std::to_string(n));
    plan_ = get_plan(n);
    scratch_ = alloc_floats(scratch_floats(n));
    std::memset(scratch_, 0, scratch_floats(n) * sizeof(float));
}

RealFFT::~RealFFT() { free_floats(scratch_); }

RealFFT::RealFFT(RealFFT&& o) noexcept : n_(o.n_), plan_(std::move(o.plan_)), scratch_(o.scratch_) {
    o.n_ = 0;
    o.scratch_ = nullptr;
}

RealFFT& RealFFT::operator=(RealFFT&& o) noexcept {
    if (this != &o) {
        free_floats(scratch_);
        n_ = o.n_;
        plan_ = std::move(o.plan_);
        scratch_ = o.scratch_;
        o.n_ = 0;
        o.scratch_ = nullptr;
    }
    return *this;
}

void RealFFT::forward(const float* in, float* out) { kernels().forward(*plan_, in, out, scratch_, true); }
void RealFFT::inverse(const float* in, float* out) { kernels().inverse(*plan_, in, out, scratch_, true); }
void RealFFT::forward_packed(const float* in, float* out) { kernels().forward(*plan_, in, out, scratch_, false); }
void RealFFT::inverse_packed(const float* in, float* out) { kernels().inverse(*plan_, in, out, scratch_, false); }

void mac_packed(std::size_t n, const float* a, const float* b, float* acc) { kernels().mac(n, a, b, acc); }
void mul_packed(std::size_t n, const float* a, const float* b, float* out) { kernels().mul(n, a, b, out); }

}  // namespace fft
}  // namespace irforge
