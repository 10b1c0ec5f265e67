// Bindings of the exact cross-correlation window (cpp/src/correlation.cpp).
#include "common.h"
#include "irforge/correlation.h"

namespace py = pybind11;
using F64Array = py::array_t<double, py::array::c_style | py::array::forcecast>;

namespace {

F64Array xcorr_lags(const F64Array& y, const F64Array& x, long long lo, long long hi, unsigned threads) {
    if (y.ndim() != 1 || x.ndim() != 1) throw std::invalid_argument("xcorr_lags: y and x must be 1-D");
    if (hi < lo) throw std::invalid_argument("xcorr_lags: hi must be >= lo");
    if (hi - lo >= (1LL << 20)) throw std::invalid_argument("xcorr_lags: at most 2^20 lags at once");
    const std::size_t n_lags = static_cast<std::size_t>(hi - lo + 1);
    F64Array out(n_lags);
    const double* yp = y.data();
    const double* xp = x.data();
    double* cp = out.mutable_data();
    const std::size_t ny = y.shape(0), nx = x.shape(0);
    {
        py::gil_scoped_release nogil;
        irforge::xcorr_lags(yp, ny, xp, nx, lo, n_lags, cp, threads);
    }
    return out;
}

}  // namespace

void init_correlation(py::module_& m, py::module_& /*internal*/) {
    m.def("xcorr_lags", &xcorr_lags, py::arg("y"), py::arg("x"), py::arg("lo"), py::arg("hi"),
          py::arg("threads") = 0,
          "Exact float64 cross-correlation sum_i x[i] y[i + lag] for lag = lo..hi (numpy.correlate(y, x, 'full') "
          "at those lags), one pass over memory");
}
