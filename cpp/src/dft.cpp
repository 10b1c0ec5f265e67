// Real DFT of any length by Bluestein's algorithm (see irforge/dft.h).
#include "irforge/dft.h"

#include <cmath>
#include <mutex>
#include <utility>
#include <stdexcept>
#include <string>

namespace irforge {
namespace fft {

namespace {

std::size_t bluestein_size(std::size_t n) {
    if (n < 2) throw std::invalid_argument("BluesteinRealDFT: length must be >= 2");
    std::size_t m = kMinSize;
    while (m < 2 * n - 1) m <<= 1;
    if (m > kMaxSize)
        throw std::invalid_argument("BluesteinRealDFT: length " + std::to_string(n) + " is too long (2n-1 > 2^22)");
    return m;
}

}  // namespace

struct BluesteinPlan {
    std::vector<double> wr, wi;  // chirp exp(-i pi k^2 / n), k < n
    FloatBuffer kernel;          // FFT_m of b[j] = conj(w[|j|]) (|j| < n, circularly), 2m floats
};

namespace {

std::mutex g_plan_mutex;
std::vector<std::pair<std::size_t, std::shared_ptr<const BluesteinPlan>>> g_plans;  // most recent last

}  // namespace

BluesteinRealDFT::BluesteinRealDFT(std::size_t n)
    : n_(n), m_(bluestein_size(n)), fft_(m_), ra_(m_), ia_(m_), sr_(m_ + 2), si_(m_ + 2), c_(2 * m_) {
    std::lock_guard<std::mutex> lock(g_plan_mutex);
    for (auto& e : g_plans)
        if (e.first == n) {
            plan_ = e.second;
            return;
        }
    auto plan = std::make_shared<BluesteinPlan>();
    plan->wr.resize(n);
    plan->wi.resize(n);
    plan->kernel = FloatBuffer(2 * m_);
    const double kPi = 3.14159265358979323846264338327950288;
    const unsigned long long two_n = 2ULL * n;
    for (std::size_t k = 0; k < n; ++k) {
        const unsigned long long r = (static_cast<unsigned long long>(k) * k) % two_n;  // k^2 mod 2n
        const double a = kPi * static_cast<double>(r) / static_cast<double>(n);
        plan->wr[k] = std::cos(a);
        plan->wi[k] = -std::sin(a);
    }
    // b[j] = conj(w[|j|]) on the circle of m points
    ra_.zero();
    ia_.zero();
    for (std::size_t j = 0; j < n; ++j) {
        ra_.data()[j] = static_cast<float>(plan->wr[j]);
        ia_.data()[j] = static_cast<float>(-plan->wi[j]);
        if (j) {
            ra_.data()[m_ - j] = static_cast<float>(plan->wr[j]);
            ia_.data()[m_ - j] = static_cast<float>(-plan->wi[j]);
        }
    }
    complex_forward(ra_.data(), ia_.data(), plan->kernel.data());
    plan_ = plan;
    if (g_plans.size() >= 4) g_plans.erase(g_plans.begin());
    g_plans.emplace_back(n, plan_);
}

void BluesteinRealDFT::complex_forward(const float* re, const float* im, float* out) {
    fft_.forward(re, sr_.data());
    fft_.forward(im, si_.data());
    const float* R = sr_.data();
    const float* I = si_.data();
    const std::size_t h = m_ / 2;
    for (std::size_t k = 0; k <= h; ++k) {  // out[k] = R[k] + i I[k]
        out[2 * k] = R[2 * k] - I[2 * k + 1];
        out[2 * k + 1] = R[2 * k + 1] + I[2 * k];
    }
    for (std::size_t k = h + 1; k < m_; ++k) {  // R[k] = conj(R[m-k]), I[k] = conj(I[m-k])
        const std::size_t q = m_ - k;
        out[2 * k] = R[2 * q] + I[2 * q + 1];
        out[2 * k + 1] = -R[2 * q + 1] + I[2 * q];
    }
}

void BluesteinRealDFT::complex_inverse(const float* c, float* re, float* im) {
    // spectra of the real part (Hermitian part of c) and of the imaginary part
    float* E = sr_.data();
    float* O = si_.data();
    const std::size_t h = m_ / 2;
    for (std::size_t k = 0; k <= h; ++k) {
        const std::size_t q = (m_ - k) & (m_ - 1);
        const float ar = c[2 * k], ai = c[2 * k + 1], br = c[2 * q], bi = -c[2 * q + 1];  // b = conj(c[m-k])
        E[2 * k] = 0.5f * (ar + br);
        E[2 * k + 1] = 0.5f * (ai + bi);
        // (a - b) / (2i) = (ai - bi) / 2 - i (ar - br) / 2
        O[2 * k] = 0.5f * (ai - bi);
        O[2 * k + 1] = -0.5f * (ar - br);
    }
    fft_.inverse(E, re);
    fft_.inverse(O, im);
}

void BluesteinRealDFT::convolve_with_chirp(bool conjugate) {
    // (ra_, ia_) <- circular convolution with b (or conj(b)); b is even on the circle, so the
    // transform of conj(b) is conj(K) bin by bin
    float* C = c_.data();
    complex_forward(ra_.data(), ia_.data(), C);
    const float* K = plan_->kernel.data();
    const float sign = conjugate ? -1.0f : 1.0f;
    for (std::size_t k = 0; k < m_; ++k) {
        const float xr = C[2 * k], xi = C[2 * k + 1], yr = K[2 * k], yi = sign * K[2 * k + 1];
        C[2 * k] = xr * yr - xi * yi;
        C[2 * k + 1] = xr * yi + xi * yr;
    }
    complex_inverse(C, ra_.data(), ia_.data());
}

void BluesteinRealDFT::forward(const float* in, float* out) {
    float* ar = ra_.data();
    float* ai = ia_.data();
    for (std::size_t j = 0; j < n_; ++j) {  // a = x w
        ar[j] = static_cast<float>(in[j] * plan_->wr[j]);
        ai[j] = static_cast<float>(in[j] * plan_->wi[j]);
    }
    std::fill(ar + n_, ar + m_, 0.0f);
    std::fill(ai + n_, ai + m_, 0.0f);
    convolve_with_chirp(false);
    const double s = 1.0 / static_cast<double>(m_);
    for (std::size_t k = 0; k <= n_ / 2; ++k) {  // X = w c / m
        const double cr = ar[k] * s, ci = ai[k] * s;
        out[2 * k] = static_cast<float>(plan_->wr[k] * cr - plan_->wi[k] * ci);
        out[2 * k + 1] = static_cast<float>(plan_->wr[k] * ci + plan_->wi[k] * cr);
    }
}

void BluesteinRealDFT::inverse(const float* in, float* out) {
    // a[k] = X[k] conj(w[k]) over the full Hermitian spectrum
    float* ar = ra_.data();
    float* ai = ia_.data();
    const std::size_t h = n_ / 2;
    for (std::size_t k = 0; k < n_; ++k) {
        double xr, xi;
        if (k <= h) {
            xr = in[2 * k];
            xi = (k == 0 || (2 * k == n_)) ? 0.0 : in[2 * k + 1];
        } else {
            xr = in[2 * (n_ - k)];
            xi = -in[2 * (n_ - k) + 1];
        }
        ar[k] = static_cast<float>(xr * plan_->wr[k] + xi * plan_->wi[k]);  // (xr + i xi)(wr - i wi)
        ai[k] = static_cast<float>(xi * plan_->wr[k] - xr * plan_->wi[k]);
    }
    std::fill(ar + n_, ar + m_, 0.0f);
    std::fill(ai + n_, ai + m_, 0.0f);
    convolve_with_chirp(true);
    const double s = 1.0 / static_cast<double>(m_);
    for (std::size_t j = 0; j < n_; ++j)  // x = Re(conj(w) c) / m
        out[j] = static_cast<float>((plan_->wr[j] * ar[j] + plan_->wi[j] * ai[j]) * s);
}

}  // namespace fft
}  // namespace irforge
