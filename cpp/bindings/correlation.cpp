// Bindings of the exact cross-correlation window (cpp/src/correlation.cpp).
#include <string>

#include "common.h"
#include "irforge/correlation.h"

namespace py = pybind11;
using F64Array = py::array_t<double, py::array::c_style | py::array::forcecast>;

namespace {

using F32Array = py::array_t<float, py::array::c_style | py::array::forcecast>;

// Checks shared by both entry points; returns the number of lags.
std::size_t lag_count(const char* what, const py::array& y, const py::array& x, long long lo, long long hi) {
    const std::string w(what);
    if (y.ndim() != 1 || x.ndim() != 1) throw std::invalid_argument(w + ": y and x must be 1-D");
    if (hi < lo) throw std::invalid_argument(w + ": hi must be >= lo");
    if (hi - lo >= (1LL << 20)) throw std::invalid_argument(w + ": at most 2^20 lags at once");
    return static_cast<std::size_t>(hi - lo + 1);
}

// compute(y, ny, x, nx, lags out) with the GIL released
template <class A, class Compute>
F64Array run(const A& y, const A& x, std::size_t n_lags, Compute compute) {
    F64Array out(n_lags);
    const auto* yp = y.data();
    const auto* xp = x.data();
    double* cp = out.mutable_data();
    const std::size_t ny = y.shape(0), nx = x.shape(0);
    {
        py::gil_scoped_release nogil;
        compute(yp, ny, xp, nx, cp);
    }
    return out;
}

// float32 pairs run on float32 (no copy), everything else as float64
F64Array xcorr_lags(const py::array& y, const py::array& x, long long lo, long long hi, unsigned threads) {
    const std::size_t n_lags = lag_count("xcorr_lags", y, x, lo, hi);
    auto compute = [&](const auto* yp, std::size_t ny, const auto* xp, std::size_t nx, double* cp) {
        irforge::xcorr_lags(yp, ny, xp, nx, lo, n_lags, cp, threads);
    };
    if (py::isinstance<py::array_t<float>>(y) && py::isinstance<py::array_t<float>>(x))
        return run(F32Array::ensure(y), F32Array::ensure(x), n_lags, compute);
    return run(F64Array::ensure(y), F64Array::ensure(x), n_lags, compute);
}

F64Array xcorr_window(const F32Array& y, const F32Array& x, long long lo, long long hi, unsigned threads) {
    const std::size_t n_lags = lag_count("xcorr_window", y, x, lo, hi);
    return run(y, x, n_lags, [&](const float* yp, std::size_t ny, const float* xp, std::size_t nx, double* cp) {
        irforge::xcorr_window(yp, ny, xp, nx, lo, n_lags, cp, threads);
    });
}

}  // namespace

void init_correlation(py::module_& m, py::module_& /*internal*/) {
    m.def("xcorr_lags", &xcorr_lags, py::arg("y"), py::arg("x"), py::arg("lo"), py::arg("hi"),
          py::arg("threads") = 0,
          "Exact cross-correlation sum_i x[i] y[i + lag] for lag = lo..hi (numpy.correlate(y, x, 'full') "
          "at those lags) summed in float64, one pass over memory; float32 pairs are read as float32 (no copy)");
    m.def("xcorr_window", &xcorr_window, py::arg("y"), py::arg("x"), py::arg("lo"), py::arg("hi"),
          py::arg("threads") = 0,
          "Cross-correlation sum_i x[i] y[i + lag] for lag = lo..hi by block FFTs in float32 (fast for wide "
          "windows; about 1e-6 relative accuracy) -> float64 (hi - lo + 1,)");
}
