// The extension module irforge._core: one init_<feature>() per binding file.
#include <pybind11/pybind11.h>

namespace py = pybind11;

void init_fft(py::module_& m, py::module_& internal);
void init_convolution(py::module_& m, py::module_& internal);
void init_stft(py::module_& m, py::module_& internal);
void init_correlation(py::module_& m, py::module_& internal);
void init_filterbank(py::module_& m, py::module_& internal);

PYBIND11_MODULE(_core, m) {
    m.doc() = "irforge C++ core (FFT, partitioned convolution, STFT, filter bank, correlation)";
    py::module_ internal = m.def_submodule("_internal", "test and benchmark hooks; not public API");
    init_fft(m, internal);
    init_convolution(m, internal);
    init_stft(m, internal);
    init_correlation(m, internal);
    init_filterbank(m, internal);
}
