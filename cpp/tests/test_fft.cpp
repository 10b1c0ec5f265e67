// test_fft.cpp - the real FFT against a double-precision reference, for every size and both
// kernel sets. Standalone: prints "test_fft: N passed, M failed" and returns nonzero on failure.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <complex>
#include <cstdio>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "irforge/fft.h"

namespace fft = irforge::fft;
using cd = std::complex<double>;

namespace {

int g_pass = 0, g_fail = 0;
double g_worst_fwd = 0, g_worst_inv = 0, g_worst_conv = 0;

void check(bool ok, const std::string& what) {
    if (ok) {
        ++g_pass;
    } else {
        ++g_fail;
        std::printf("FAIL: %s\n", what.c_str());
    }
}

// ---- double-precision references ---------------------------------------------------------------

// Recursive radix-2 DFT, sign -1 (forward) or +1 (unnormalised inverse).
void ref_fft(std::vector<cd>& a, int sign) {
    const std::size_t n = a.size();
    if (n == 1) return;
    std::vector<cd> even(n / 2), odd(n / 2);
    for (std::size_t i = 0; i < n / 2; ++i) {
        even[i] = a[2 * i];
        odd[i] = a[2 * i + 1];
    }
    ref_fft(even, sign);
    ref_fft(odd, sign);
    const double pi = 3.14159265358979323846;
    for (std::size_t k = 0; k < n / 2; ++k) {
        const cd w = std::polar(1.0, sign * 2.0 * pi * double(k) / double(n)) * odd[k];
        a[k] = even[k] + w;
        a[k + n / 2] = even[k] - w;
    }
}

std::vector<cd> direct_dft(const std::vector<cd>& x, int sign) {
    const std::size_t n = x.size();
    const double pi = 3.14159265358979323846;
    std::vector<cd> X(n);
    for (std::size_t k = 0; k < n; ++k) {
        cd s = 0;
        for (std::size_t j = 0; j < n; ++j) s += x[j] * std::polar(1.0, sign * 2.0 * pi * double((j * k) % n) / double(n));
        X[k] = s;
    }
    return X;
}

// rfft bins 0..n/2 of real x.
std::vector<cd> ref_rfft(const std::vector<float>& x) {
    std::vector<cd> a(x.begin(), x.end());
    ref_fft(a, -1);
    a.resize(x.size() / 2 + 1);
    return a;
}

// Unnormalised irfft of n/2+1 bins (imaginary parts of bins 0 and n/2 ignored).
std::vector<double> ref_irfft(const std::vector<cd>& X, std::size_t n) {
    std::vector<cd> a(n);
    for (std::size_t k = 0; k <= n / 2; ++k) a[k] = X[k];
    a[0] = X[0].real();
    a[n / 2] = X[n / 2].real();
    for (std::size_t k = 1; k < n / 2; ++k) a[n - k] = std::conj(X[k]);
    ref_fft(a, +1);
    std::vector<double> y(n);
    for (std::size_t i = 0; i < n; ++i) y[i] = a[i].real();
    return y;
}

std::vector<double> ref_circular(const std::vector<float>& a, const std::vector<float>& b) {
    const std::size_t n = a.size();
    std::vector<double> c(n, 0.0);
    if (n <= 2048) {
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < n; ++j) c[(i + j) % n] += double(a[i]) * double(b[j]);
        return c;
    }
    std::vector<cd> A(a.begin(), a.end()), B(b.begin(), b.end());
    ref_fft(A, -1);
    ref_fft(B, -1);
    for (std::size_t k = 0; k < n; ++k) A[k] *= B[k];
    ref_fft(A, +1);
    for (std::size_t i = 0; i < n; ++i) c[i] = A[i].real() / double(n);
    return c;
}

std::vector<float> randvec(std::size_t n, std::mt19937& rng) {
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

// max |got - ref| / max |ref| over real sequences.
double rel_err(const float* got, const double* ref, std::size_t n, double scale = 1.0) {
    double e = 0, m = 0;
    for (std::size_t i = 0; i < n; ++i) {
        e = std::max(e, std::fabs(double(got[i]) * scale - ref[i]));
        m = std::max(m, std::fabs(ref[i]));
    }
    return m > 0 ? e / m : e;
}

const double kTol = 1e-6;

// ---- the tests ---------------------------------------------------------------------------------

void test_reference() {
    std::mt19937 rng(1);
    for (std::size_t n = 1; n <= 256; n *= 2) {
        std::vector<cd> x(n);
        for (auto& v : x) v = cd(rng() / 4e9 - 0.5, rng() / 4e9 - 0.5);
        for (int sign : {-1, 1}) {
            std::vector<cd> a = x;
            ref_fft(a, sign);
            const std::vector<cd> d = direct_dft(x, sign);
            double e = 0;
            for (std::size_t k = 0; k < n; ++k) e = std::max(e, std::abs(a[k] - d[k]));
            check(e < 1e-12 * double(n), "reference FFT vs direct DFT, n=" + std::to_string(n));
        }
    }
}

void test_size(std::size_t n, const char* isa) {
    const std::string tag = std::string(isa) + " n=" + std::to_string(n);
    std::mt19937 rng(unsigned(n) * 7 + (isa[0] == 'a'));
    fft::RealFFT f(n);
    check(f.size() == n, "size() " + tag);

    // ordered forward vs reference
    const std::vector<float> x = randvec(n, rng);
    fft::FloatBuffer X(n + 2);
    f.forward(x.data(), X.data());
    const std::vector<cd> R = ref_rfft(x);
    {
        double e = 0, m = 0;
        for (std::size_t k = 0; k <= n / 2; ++k) {
            e = std::max(e, std::abs(cd(X.data()[2 * k], X.data()[2 * k + 1]) - R[k]));
            m = std::max(m, std::abs(R[k]));
        }
        const double rel = e / m;
        g_worst_fwd = std::max(g_worst_fwd, rel);
        check(rel <= kTol, "forward vs reference " + tag + " rel err " + std::to_string(rel));
        check(X.data()[1] == 0.0f && X.data()[n + 1] == 0.0f, "forward: zero imag at DC/Nyquist " + tag);
    }

    // inverse of a random spectrum vs reference (garbage in the ignored imaginary parts)
    {
        std::vector<float> S = randvec(n + 2, rng);
        std::vector<cd> Sc(n / 2 + 1);
        for (std::size_t k = 0; k <= n / 2; ++k) Sc[k] = cd(S[2 * k], S[2 * k + 1]);
        const std::vector<double> y = ref_irfft(Sc, n);
        std::vector<float> got(n);
        f.inverse(S.data(), got.data());
        const double rel = rel_err(got.data(), y.data(), n);
        g_worst_inv = std::max(g_worst_inv, rel);
        check(rel <= kTol, "inverse vs reference " + tag + " rel err " + std::to_string(rel));
    }

    // round trip
    {
        std::vector<float> y(n);
        f.inverse(X.data(), y.data());
        std::vector<double> xd(x.begin(), x.end());
        const double rel = rel_err(y.data(), xd.data(), n, 1.0 / double(n));
        check(rel <= kTol, "round trip " + tag + " rel err " + std::to_string(rel));
    }

    // packed circular convolution, in-place packed, mac accumulation
    {
        const std::vector<float> a = randvec(n, rng), b = randvec(n, rng), c = randvec(n, rng),
                                 d = randvec(n, rng);
        fft::FloatBuffer A(n), B(n), C(n), D(n), P(n), Q(n);
        f.forward_packed(a.data(), A.data());
        f.forward_packed(b.data(), B.data());
        f.forward_packed(c.data(), C.data());
        f.forward_packed(d.data(), D.data());
        // in-place forward gives the same bits
        std::memcpy(P.data(), a.data(), n * sizeof(float));
        f.forward_packed(P.data(), P.data());
        check(std::memcmp(P.data(), A.data(), n * sizeof(float)) == 0, "in-place forward_packed " + tag);

        fft::mul_packed(n, A.data(), B.data(), P.data());
        std::memcpy(Q.data(), P.data(), n * sizeof(float));
        std::vector<float> y(n);
        f.inverse_packed(P.data(), y.data());
        f.inverse_packed(Q.data(), Q.data());
        check(std::memcmp(Q.data(), y.data(), n * sizeof(float)) == 0, "in-place inverse_packed " + tag);
        const std::vector<double> ab = ref_circular(a, b);
        double rel = rel_err(y.data(), ab.data(), n, 1.0 / double(n));
        g_worst_conv = std::max(g_worst_conv, rel);
        check(rel <= kTol, "packed circular convolution " + tag + " rel err " + std::to_string(rel));

        // acc = A*B + C*D via mac onto a mul result; and mac onto zeros
        fft::mul_packed(n, A.data(), B.data(), P.data());
        fft::mac_packed(n, C.data(), D.data(), P.data());
        fft::FloatBuffer Z(n);
        fft::mac_packed(n, A.data(), B.data(), Z.data());
        fft::mac_packed(n, C.data(), D.data(), Z.data());
        f.inverse_packed(P.data(), y.data());
        const std::vector<double> cd_ = ref_circular(c, d);
        std::vector<double> sum(n);
        for (std::size_t i = 0; i < n; ++i) sum[i] = ab[i] + cd_[i];
        rel = rel_err(y.data(), sum.data(), n, 1.0 / double(n));
        g_worst_conv = std::max(g_worst_conv, rel);
        check(rel <= kTol, "mul+mac convolution " + tag + " rel err " + std::to_string(rel));
        f.inverse_packed(Z.data(), y.data());
        rel = rel_err(y.data(), sum.data(), n, 1.0 / double(n));
        check(rel <= kTol, "mac+mac convolution " + tag + " rel err " + std::to_string(rel));

        // unaligned buffers (offset by one float) give the same bits
        {
            std::vector<float> ubuf(n + 8), ubuf2(n + 8), ubuf3(n + 8);
            float* ui = ubuf.data() + 1;
            float* uo = ubuf2.data() + 3;
            std::memcpy(ui, a.data(), n * sizeof(float));
            f.forward_packed(ui, uo);
            check(std::memcmp(uo, A.data(), n * sizeof(float)) == 0, "unaligned forward_packed " + tag);
            float* uo2 = ubuf3.data() + 5;
            f.forward(ui, uo2);
            fft::FloatBuffer Xa(n + 2);
            f.forward(a.data(), Xa.data());
            check(std::memcmp(uo2, Xa.data(), (n + 2) * sizeof(float)) == 0, "unaligned forward " + tag);
        }

        // unit impulse: the packed spectrum of delta is all ones at real parts
        std::vector<float> delta(n, 0.0f);
        delta[0] = 1.0f;
        f.forward_packed(delta.data(), P.data());
        f.forward_packed(a.data(), Q.data());
        fft::mul_packed(n, Q.data(), P.data(), Q.data());  // aliasing out == a
        f.inverse_packed(Q.data(), y.data());
        std::vector<double> ad(a.begin(), a.end());
        rel = rel_err(y.data(), ad.data(), n, 1.0 / double(n));
        check(rel <= kTol, "convolution with delta (aliased mul) " + tag);
    }
}

void test_isas_agree(std::size_t n) {
    std::mt19937 rng{unsigned(n)};
    const std::vector<float> x = randvec(n, rng);
    fft::FloatBuffer X1(n + 2), X2(n + 2), P1(n), P2(n);
    fft::set_isa("generic");
    {
        fft::RealFFT f(n);
        f.forward(x.data(), X1.data());
        f.forward_packed(x.data(), P1.data());
    }
    fft::set_isa("avx2");
    {
        fft::RealFFT f(n);
        f.forward(x.data(), X2.data());
        f.forward_packed(x.data(), P2.data());
    }
    double e = 0, m = 0, ep = 0;
    for (std::size_t i = 0; i < n + 2; ++i) {
        e = std::max(e, double(std::fabs(X1.data()[i] - X2.data()[i])));
        m = std::max(m, double(std::fabs(X1.data()[i])));
    }
    for (std::size_t i = 0; i < n; ++i) ep = std::max(ep, double(std::fabs(P1.data()[i] - P2.data()[i])));
    check(e / m <= 2 * kTol && ep / m <= 2 * kTol, "generic and avx2 agree, n=" + std::to_string(n));
}

void test_failures() {
    for (std::size_t n : {std::size_t(0), std::size_t(1), std::size_t(8), std::size_t(48), std::size_t(1000),
                          fft::kMaxSize * 2}) {
        bool threw = false;
        try {
            fft::RealFFT f(n);
        } catch (const std::invalid_argument&) {
            threw = true;
        }
        check(threw && !fft::is_supported_size(n), "rejects size " + std::to_string(n));
    }
    check(fft::is_supported_size(16) && fft::is_supported_size(fft::kMaxSize), "accepts 16 and kMaxSize");
    check(!fft::set_isa("bogus"), "set_isa rejects unknown names");
    // moves
    fft::RealFFT a(64);
    fft::RealFFT b(std::move(a));
    check(b.size() == 64, "move construction");
    fft::RealFFT c(128);
    c = std::move(b);
    check(c.size() == 64, "move assignment");
    fft::FloatBuffer fb(10);
    bool zeros = true;
    for (std::size_t i = 0; i < 10; ++i) zeros = zeros && fb.data()[i] == 0.0f;
    check(zeros && (reinterpret_cast<std::uintptr_t>(fb.data()) % 64) == 0, "FloatBuffer zeroed and aligned");
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t max_n = std::size_t(1) << 20;
    if (argc > 1) max_n = std::strtoull(argv[1], nullptr, 10);
    test_reference();
    test_failures();
    std::printf("default ISA: %s\n", fft::isa_name());
    std::vector<const char*> isas = {"generic"};
    if (fft::set_isa("avx2")) isas.push_back("avx2");
    for (const char* isa : isas) {
        if (!fft::set_isa(isa)) continue;
        const double f0 = g_worst_fwd, i0 = g_worst_inv, c0 = g_worst_conv;
        g_worst_fwd = g_worst_inv = g_worst_conv = 0;
        for (std::size_t n = fft::kMinSize; n <= max_n; n *= 2) test_size(n, isa);
        std::printf("%-8s worst rel err: forward %.3g, inverse %.3g, convolution %.3g\n", isa, g_worst_fwd,
                    g_worst_inv, g_worst_conv);
        g_worst_fwd = std::max(g_worst_fwd, f0);
        g_worst_inv = std::max(g_worst_inv, i0);
        g_worst_conv = std::max(g_worst_conv, c0);
    }
    if (isas.size() > 1)
        for (std::size_t n = fft::kMinSize; n <= max_n; n *= 2) test_isas_agree(n);
    fft::set_isa("auto");
    std::printf("test_fft: %d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
