// Bindings of the FFT: ordered transforms over rows (used by the Python layer and the
// tests) and timing hooks for the benchmarks.
#include <algorithm>
#include <chrono>
#include <complex>
#include <vector>

#include "common.h"
#include "irforge/dft.h"
#include "irforge/fft.h"
#include "irforge/parallel.h"

namespace py = pybind11;
using irforge_py::F32Array;

namespace {

// Run body(fft, row) for every row; rows are spread over threads (one RealFFT each) when the
// batch is large enough to pay for them.
template <class Body>
void for_rows(std::size_t rows, std::size_t n, Body body) {
    unsigned workers = irforge::detail::resolve_threads(0);
    if (rows * n < (std::size_t(1) << 16)) workers = 1;
    workers = static_cast<unsigned>(std::min<std::size_t>(workers, std::max<std::size_t>(rows, 1)));
    irforge::detail::parallel_ranges(rows, workers, [&](unsigned, std::size_t r0, std::size_t r1) {
        if (r0 >= r1) return;
        irforge::fft::RealFFT f(n);
        for (std::size_t r = r0; r < r1; ++r) body(f, r);
    });
}

py::array_t<std::complex<float>> rfft_rows(const py::handle& x) {
    F32Array a = irforge_py::as_2d(x, "x");
    const std::size_t rows = a.shape(0), n = a.shape(1);
    if (!irforge::fft::is_supported_size(n))
        throw std::invalid_argument("rfft: length must be a power of two from 16 to 2^22, got " + std::to_string(n));
    py::array_t<std::complex<float>> out({rows, n / 2 + 1});
    const float* src = a.data();
    float* dst = reinterpret_cast<float*>(out.mutable_data());
    {
        py::gil_scoped_release nogil;
        for_rows(rows, n, [&](irforge::fft::RealFFT& f, std::size_t r) { f.forward(src + r * n, dst + r * (n + 2)); });
    }
    return out;
}

F32Array irfft_rows(const py::array_t<std::complex<float>, py::array::c_style | py::array::forcecast>& X,
                    std::size_t n) {
    if (X.ndim() != 2) throw std::invalid_argument("irfft: spectrum must be 2-D (rows, n/2+1)");
    if (!irforge::fft::is_supported_size(n))
        throw std::invalid_argument("irfft: n must be a power of two from 16 to 2^22, got " + std::to_string(n));
    if (static_cast<std::size_t>(X.shape(1)) != n / 2 + 1)
        throw std::invalid_argument("irfft: spectrum has " + std::to_string(X.shape(1)) + " bins, expected n/2+1");
    const std::size_t rows = X.shape(0);
    F32Array out({rows, n});
    const float* src = reinterpret_cast<const float*>(X.data());
    float* dst = out.mutable_data();
    {
        py::gil_scoped_release nogil;
        for_rows(rows, n, [&](irforge::fft::RealFFT& f, std::size_t r) { f.inverse(src + r * (n + 2), dst + r * n); });
    }
    return out;
}

// Circular convolution of two rows through the packed layout (a test hook).
F32Array packed_circular(const F32Array& a, const F32Array& b) {
    if (a.ndim() != 1 || b.ndim() != 1 || a.shape(0) != b.shape(0))
        throw std::invalid_argument("packed_circular: two 1-D arrays of the same length expected");
    const std::size_t n = a.shape(0);
    if (!irforge::fft::is_supported_size(n)) throw std::invalid_argument("packed_circular: unsupported size");
    irforge::fft::RealFFT f(n);
    irforge::fft::FloatBuffer A(n), B(n), C(n);
    f.forward_packed(a.data(), A.data());
    f.forward_packed(b.data(), B.data());
    irforge::fft::mac_packed(n, A.data(), B.data(), C.data());
    F32Array out(n);
    f.inverse_packed(C.data(), out.mutable_data());
    return out;
}

// ns per transform of forward (ordered or packed) or a forward+inverse packed pair.
double time_transform(std::size_t n, const std::string& kind, double min_time_s) {
    if (!irforge::fft::is_supported_size(n)) throw std::invalid_argument("time_transform: unsupported size");
    py::gil_scoped_release nogil;
    irforge::fft::RealFFT f(n);
    irforge::fft::FloatBuffer x(n + 2), y(n + 2);
    for (std::size_t i = 0; i < n; ++i) x.data()[i] = static_cast<float>((i * 7919u) % 1000u) * 1e-3f - 0.5f;
    auto once = [&]() {
        if (kind == "forward") f.forward(x.data(), y.data());
        else if (kind == "packed") f.forward_packed(x.data(), y.data());
        else { f.forward_packed(x.data(), y.data()); f.inverse_packed(y.data(), x.data()); }
    };
    once();
    std::size_t iters = 1;
    using clk = std::chrono::steady_clock;
    for (;;) {
        auto t0 = clk::now();
        for (std::size_t k = 0; k < iters; ++k) once();
        const double dt = std::chrono::duration<double>(clk::now() - t0).count();
        if (dt >= min_time_s) return dt * 1e9 / static_cast<double>(iters);
        iters *= 2;
    }
}

// Any-length real DFT (Bluestein) of a 1-D float32 signal -> complex64 (n/2 + 1,)
py::array_t<std::complex<float>> rdft(const F32Array& x) {
    if (x.ndim() != 1) throw std::invalid_argument("rdft: x must be 1-D");
    const std::size_t n = x.shape(0);
    irforge::fft::BluesteinRealDFT d(n);
    py::array_t<std::complex<float>> out(n / 2 + 1);
    const float* src = x.data();
    float* dst = reinterpret_cast<float*>(out.mutable_data());
    {
        py::gil_scoped_release nogil;
        d.forward(src, dst);
    }
    return out;
}

// Inverse of rdft, unnormalised: complex64 (n/2 + 1,) -> float32 (n,)
F32Array irdft(const py::array_t<std::complex<float>, py::array::c_style | py::array::forcecast>& X, std::size_t n) {
    if (X.ndim() != 1) throw std::invalid_argument("irdft: spectrum must be 1-D");
    if (static_cast<std::size_t>(X.shape(0)) != n / 2 + 1)
        throw std::invalid_argument("irdft: spectrum has " + std::to_string(X.shape(0)) + " bins; length " +
                                    std::to_string(n) + " needs " + std::to_string(n / 2 + 1));
    irforge::fft::BluesteinRealDFT d(n);
    F32Array out(n);
    const float* src = reinterpret_cast<const float*>(X.data());
    float* dst = out.mutable_data();
    {
        py::gil_scoped_release nogil;
        d.inverse(src, dst);
    }
    return out;
}

}  // namespace

void init_fft(py::module_& m, py::module_& internal) {
    m.def("rfft", &rfft_rows, py::arg("x"),
          "Real FFT of each row of a float32 (rows, n) array; n a power of two. -> complex64 (rows, n/2+1)");
    m.def("irfft", &irfft_rows, py::arg("spectrum"), py::arg("n"),
          "Inverse of rfft, unnormalised (irfft(rfft(x)) == n * x). -> float32 (rows, n)");
    m.def("rdft", &rdft, py::arg("x"),
          "Real DFT of any length n >= 2 (Bluestein over the power-of-two FFT) of a float32 1-D signal "
          "-> complex64 (n/2+1,); for lengths with large prime factors");
    m.def("irdft", &irdft, py::arg("spectrum"), py::arg("n"),
          "Inverse of rdft, unnormalised (irdft(rdft(x), n) == n * x) -> float32 (n,)");
    internal.def("fft_isa", []() { return std::string(irforge::fft::isa_name()); });
    internal.def("set_fft_isa", [](const std::string& s) { return irforge::fft::set_isa(s.c_str()); });
    internal.def("packed_circular", &packed_circular);
    internal.def("time_transform", &time_transform, py::arg("n"), py::arg("kind") = "forward",
                 py::arg("min_time_s") = 0.05);
}
