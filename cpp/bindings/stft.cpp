// Bindings of the STFT (cpp/src/stft.cpp): frames of each channel in parallel, GIL released.
#include <complex>

#include "common.h"
#include "irforge/fft.h"
#include "irforge/stft.h"

namespace py = pybind11;
using irforge_py::F32Array;
using C64Array = py::array_t<std::complex<float>, py::array::c_style | py::array::forcecast>;

namespace {

F32Array checked_window(const F32Array& window) {
    if (window.ndim() != 1) throw std::invalid_argument("stft: window must be 1-D");
    const std::size_t n = window.shape(0);
    if (!irforge::fft::is_supported_size(n))
        throw std::invalid_argument("stft: window length (n_fft) must be a power of two from 16 to 2^22, got " +
                                    std::to_string(n));
    return window;
}

// x: float32 (channels, samples) -> complex64 (channels, frames, n_fft/2 + 1)
C64Array stft(const py::handle& x, const F32Array& window, std::size_t hop, bool center, unsigned threads) {
    F32Array a = irforge_py::as_2d(x, "x");
    checked_window(window);
    if (hop == 0) throw std::invalid_argument("stft: hop must be >= 1");
    const std::size_t n_fft = window.shape(0), ch = a.shape(0), n = a.shape(1);
    const std::size_t frames = irforge::stft::frame_count(n, n_fft, hop, center);
    C64Array out({ch, frames, n_fft / 2 + 1});
    const float* src = a.data();
    const float* w = window.data();
    float* dst = reinterpret_cast<float*>(out.mutable_data());
    {
        py::gil_scoped_release nogil;
        for (std::size_t c = 0; c < ch; ++c)
            irforge::stft::analyze(src + c * n, n, w, n_fft, hop, center, dst + c * frames * (n_fft + 2), threads);
    }
    return out;
}

// S: complex64 (channels, frames, n_fft/2 + 1) -> float32 (channels, length)
F32Array istft(const C64Array& S, const F32Array& window, std::size_t hop, bool center, long long length,
               unsigned threads) {
    checked_window(window);
    if (hop == 0) throw std::invalid_argument("istft: hop must be >= 1");
    if (S.ndim() != 3) throw std::invalid_argument("istft: spectrogram must be 3-D (channels, frames, bins)");
    const std::size_t n_fft = window.shape(0), ch = S.shape(0), frames = S.shape(1);
    if (static_cast<std::size_t>(S.shape(2)) != n_fft / 2 + 1)
        throw std::invalid_argument("istft: spectrogram has " + std::to_string(S.shape(2)) +
                                    " bins; the window length needs " + std::to_string(n_fft / 2 + 1));
    std::size_t out_len;
    if (length >= 0) {
        out_len = static_cast<std::size_t>(length);
    } else if (frames == 0) {
        out_len = 0;
    } else {
        const std::size_t full = n_fft + hop * (frames - 1);
        out_len = center ? full - 2 * (n_fft / 2) : full;
    }
    F32Array out({ch, out_len});
    const float* src = reinterpret_cast<const float*>(S.data());
    const float* w = window.data();
    float* dst = out.mutable_data();
    {
        py::gil_scoped_release nogil;
        for (std::size_t c = 0; c < ch; ++c)
            irforge::stft::synthesize(src + c * frames * (n_fft + 2), frames, w, n_fft, hop, center,
                                      dst + c * out_len, out_len, threads);
    }
    return out;
}

// x: float32 (channels, samples) -> int32 (channels, frames)
py::array_t<int> rolloff(const py::handle& x, const F32Array& window, std::size_t hop, bool center, double fraction,
                         unsigned threads) {
    F32Array a = irforge_py::as_2d(x, "x");
    checked_window(window);
    if (hop == 0) throw std::invalid_argument("stft_rolloff: hop must be >= 1");
    if (!(fraction > 0.0 && fraction < 1.0)) throw std::invalid_argument("stft_rolloff: fraction must be in (0, 1)");
    const std::size_t n_fft = window.shape(0), ch = a.shape(0), n = a.shape(1);
    const std::size_t frames = irforge::stft::frame_count(n, n_fft, hop, center);
    py::array_t<int> out({ch, frames});
    const float* src = a.data();
    int* dst = out.mutable_data();
    {
        py::gil_scoped_release nogil;
        for (std::size_t c = 0; c < ch; ++c)
            irforge::stft::rolloff_bins(src + c * n, n, window.data(), n_fft, hop, center, fraction, dst + c * frames,
                                        threads);
    }
    return out;
}

}  // namespace

void init_stft(py::module_& m, py::module_& /*internal*/) {
    m.def("stft", &stft, py::arg("x"), py::arg("window"), py::arg("hop"), py::arg("center") = true,
          py::arg("threads") = 0,
          "STFT of each row of float32 (channels, samples) -> complex64 (channels, frames, n_fft/2+1); "
          "n_fft = len(window), a power of two; librosa framing");
    m.def("istft", &istft, py::arg("spectrogram"), py::arg("window"), py::arg("hop"), py::arg("center") = true,
          py::arg("length") = -1, py::arg("threads") = 0,
          "Weighted overlap-add inverse of stft, normalised by the summed squared window -> float32 (channels, length)");
    m.def("stft_rolloff", &rolloff, py::arg("x"), py::arg("window"), py::arg("hop"), py::arg("center") = true,
          py::arg("fraction") = 0.001, py::arg("threads") = 0,
          "Per STFT frame, the first bin where the power from that bin up falls below fraction of the frame's "
          "total (0 if none) -> int32 (channels, frames)");
}
