// Bindings of the long-frame filter bank (cpp/src/filterbank.cpp): GIL released, frames threaded.
#include "common.h"
#include "irforge/fft.h"
#include "irforge/filterbank.h"

namespace py = pybind11;
using irforge_py::F32Array;
using F64Array = py::array_t<double, py::array::c_style | py::array::forcecast>;

namespace {

// x: float32 (channels, samples) -> float64 (channels, n_fft/2 + 1): sum over `frames` frames
// (start t*hop, zero-padded past the end) of |rfft(window * frame)|^2
F64Array power_sum(const py::handle& x, const F32Array& window, std::size_t hop, std::size_t frames,
                   unsigned threads) {
    F32Array a = irforge_py::as_2d(x, "x");
    if (window.ndim() != 1) throw std::invalid_argument("power_sum: window must be 1-D");
    const std::size_t n_fft = window.shape(0), ch = a.shape(0), n = a.shape(1);
    if (!irforge::fft::is_supported_size(n_fft))
        throw std::invalid_argument("power_sum: window length must be a power of two from 16 to 2^22, got " +
                                    std::to_string(n_fft));
    if (hop == 0) throw std::invalid_argument("power_sum: hop must be >= 1");
    F64Array out({ch, n_fft / 2 + 1});
    double* dst = out.mutable_data();
    std::fill(dst, dst + ch * (n_fft / 2 + 1), 0.0);
    const float* src = a.data();
    const float* w = window.data();
    {
        py::gil_scoped_release nogil;
        for (std::size_t c = 0; c < ch; ++c)
            irforge::filterbank::power_sum(src + c * n, n, w, n_fft, hop, frames, dst + c * (n_fft / 2 + 1), threads);
    }
    return out;
}

// x: float32 1-D; window: float64 (N,); g: float32 (N,) -> float64 (len(x),)
F64Array wola_circular(const F32Array& x, const F64Array& window, const F32Array& g, std::size_t hop,
                       std::size_t frames, unsigned threads) {
    if (x.ndim() != 1 || window.ndim() != 1 || g.ndim() != 1)
        throw std::invalid_argument("wola_circular: x, window and g must be 1-D");
    const std::size_t N = window.shape(0), n = x.shape(0);
    if (static_cast<std::size_t>(g.shape(0)) != N)
        throw std::invalid_argument("wola_circular: g must have the window's length " + std::to_string(N));
    F64Array out(n);
    const float* xp = x.data();
    const double* wp = window.data();
    const float* gp = g.data();
    double* dst = out.mutable_data();
    {
        py::gil_scoped_release nogil;
        irforge::filterbank::wola_circular(xp, n, wp, gp, N, hop, frames, dst, threads);
    }
    return out;
}

}  // namespace

void init_filterbank(py::module_& m, py::module_& /*internal*/) {
    m.def("power_sum", &power_sum, py::arg("x"), py::arg("window"), py::arg("hop"), py::arg("frames"),
          py::arg("threads") = 0,
          "Sum over frames (start t*hop, zero-padded) of |rfft(window * frame)|^2 for each row of float32 "
          "(channels, samples) -> float64 (channels, n_fft/2+1)");
    m.def("wola_circular", &wola_circular, py::arg("x"), py::arg("window"), py::arg("g"), py::arg("hop"),
          py::arg("frames"), py::arg("threads") = 0,
          "Weighted overlap-add of w * circconv_N(w * frame, g) over frames t*hop, divided by the summed w^2 "
          "where > 1e-10 -> float64 (len(x),)");
}
