// Helpers shared by the binding files (the only place that includes pybind11).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace irforge_py {

namespace py = pybind11;
using F32Array = py::array_t<float, py::array::c_style | py::array::forcecast>;

// A C-contiguous float32 2-D view; the Python layer has validated already, this checks again.
inline F32Array as_2d(const py::handle& h, const char* what) {
    if (!py::isinstance<py::array>(h)) throw std::invalid_argument(std::string(what) + " must be a numpy array");
    py::array a = py::reinterpret_borrow<py::array>(h);
    if (a.dtype().kind() != 'f') throw std::invalid_argument(std::string(what) + " must be a float array");
    F32Array f = F32Array::ensure(a);
    if (!f) throw std::invalid_argument(std::string(what) + ": cannot convert to float32");
    if (f.ndim() != 2) throw std::invalid_argument(std::string(what) + " must be 2-D (channels, samples)");
    // NaN/Inf, and float64 values beyond float32's range (the cast made them Inf), would
    // spread through every FFT and partition silently
    const float* p = f.data();
    const std::size_t n = static_cast<std::size_t>(f.size());
    bool finite = true;
    for (std::size_t i = 0; i < n; ++i) finite &= std::isfinite(p[i]);
    if (!finite)
        throw std::invalid_argument(std::string(what) + " holds NaN or Inf (or float64 values beyond float32's range)");
    return f;
}

}  // namespace irforge_py
