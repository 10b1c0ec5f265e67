// irforge/fft.h - real FFT of power-of-two sizes, our own implementation.
//
// Two layouts:
//  * ordered:  forward() gives n/2+1 complex bins, interleaved (re, im), like numpy.fft.rfft;
//              inverse() takes that and returns n real samples. Both unnormalised
//              (inverse(forward(x)) == n * x).
//  * packed:   forward_packed()/inverse_packed() use an implementation-defined layout of
//              exactly n floats (no reordering pass), made for fast convolution: spectra in
//              this layout are multiplied with mac_packed(). Circular convolution of a and b is
//              inverse_packed(mac of forward_packed(a), forward_packed(b)) / n.
//
// Plans (twiddles, permutations) are immutable, built once per size and shared between
// RealFFT objects (a process-wide cache, locked only while a plan is built). A RealFFT owns
// its scratch memory: one object per thread; its transforms never allocate, lock or throw.
// SIMD kernels (AVX2+FMA or the portable baseline) are chosen at run time.
#pragma once

#include <cstddef>
#include <memory>

namespace irforge {
namespace fft {

struct Plan;  // opaque, defined in src/

// Smallest and largest supported transform sizes (powers of two).
constexpr std::size_t kMinSize = 16;
constexpr std::size_t kMaxSize = std::size_t(1) << 22;

bool is_supported_size(std::size_t n);

// Name of the kernel set chosen at run time: "avx2" or "generic".
const char* isa_name();

// Force a kernel set for tests/benchmarks ("avx2", "generic" or "auto"); returns false if the
// CPU cannot run it. Not thread-safe with transforms in flight; for tests only.
bool set_isa(const char* name);

class RealFFT {
public:
    // Throws std::invalid_argument when n is not a supported power of two.
    explicit RealFFT(std::size_t n);
    ~RealFFT();
    RealFFT(RealFFT&&) noexcept;
    RealFFT& operator=(RealFFT&&) noexcept;
    RealFFT(const RealFFT&) = delete;
    RealFFT& operator=(const RealFFT&) = delete;

    std::size_t size() const { return n_; }

    // in: n floats; out: n + 2 floats (n/2+1 complex, interleaved). in and out may not alias.
    void forward(const float* in, float* out);
    // in: n + 2 floats (the imaginary parts of bin 0 and bin n/2 are ignored); out: n floats.
    void inverse(const float* in, float* out);

    // Packed layout, n floats each side. in and out may alias (in-place is allowed).
    void forward_packed(const float* in, float* out);
    void inverse_packed(const float* in, float* out);

private:
    std::size_t n_ = 0;
    std::shared_ptr<const Plan> plan_;
    float* scratch_ = nullptr;  // 64-byte aligned, owned
};

// acc += a * b (complex, bin by bin) for spectra of size n in the packed layout.
void mac_packed(std::size_t n, const float* a, const float* b, float* acc);
// out = a * b for spectra in the packed layout.
void mul_packed(std::size_t n, const float* a, const float* b, float* out);

// 64-byte aligned float buffers for spectra and blocks (no std::vector, so that the
// real-time code can hold plain pointers). Throws std::bad_alloc.
float* alloc_floats(std::size_t n);
void free_floats(float* p);

struct FloatBuffer {
    float* p = nullptr;
    std::size_t n = 0;
    FloatBuffer() = default;
    explicit FloatBuffer(std::size_t count);  // zero-filled
    ~FloatBuffer() { free_floats(p); }
    FloatBuffer(FloatBuffer&& o) noexcept : p(o.p), n(o.n) { o.p = nullptr; o.n = 0; }
    FloatBuffer& operator=(FloatBuffer&& o) noexcept;
    FloatBuffer(const FloatBuffer&) = delete;
    FloatBuffer& operator=(const FloatBuffer&) = delete;
    float* data() { return p; }
    const float* data() const { return p; }
    std::size_t size() const { return n; }
    void zero();
};

}  // namespace fft
}  // namespace irforge
