// Bindings of the long-frame filter bank (cpp/src/filterbank.cpp): GIL released, frames threaded.
#include "common.h"
#include "irforge/fft.h"
#include "irforge/filterbank.h"

namespace py = pybind11;
using irforge_py::F32Array;
using F64Array = py::array_t<double, py::array::c_style | py::array::forcecast>;

namespace {

// Frames start every `hop` samples; past the signal and its frame length they only add zeros,
// so more frames than that is a caller's error (an absurd count would loop or allocate for
// ever with the GIL released).
void check_frames(const char* what, std::size_t frames, std::size_t n, std::size_t frame_len, std::size_t hop) {
    if (hop == 0) throw std::invalid_argument(std::string(what) + ": hop must be >= 1");
    const std::size_t most = (n + 2 * frame_len) / hop + 2;
    if (frames > most)
        throw std::invalid_argument(std::string(what) + ": " + std::to_string(frames) + " frames of hop " +
                                    std::to_string(hop) + " reach far past the " + std::to_string(n) +
                                    "-sample signal (at most " + std::to_string(most) + ")");
}

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
    check_frames("power_sum", frames, n, n_fft, hop);
    F64Array out({ch, n_fft / 2 + 1});
    double* dst = out.mutable_data();
    std::fill(dst, dst + ch * (n_fft / 2 + 1), 0.0);
    const float* src = a.data();
    const float* w = window.data();
    {
        py::gil_scoped_release nogil;
        irforge::filterbank::power_sum(src, ch, n, n, w, n_fft, hop, frames, dst, threads);
    }
    return out;
}

// The filter bank's window (float64) and circular kernel (float32) must be 1-D of one length N.
std::size_t wola_length(const char* what, const F64Array& window, const F32Array& g) {
    if (window.ndim() != 1 || g.ndim() != 1) throw std::invalid_argument(std::string(what) + ": window and g must be 1-D");
    const std::size_t N = window.shape(0);
    if (static_cast<std::size_t>(g.shape(0)) != N)
        throw std::invalid_argument(std::string(what) + ": g must have the window's length " + std::to_string(N));
    return N;
}

// x: float32 1-D; window: float64 (N,); g: float32 (N,) -> float64 (len(x),)
F64Array wola_circular(const F32Array& x, const F64Array& window, const F32Array& g, std::size_t hop,
                       std::size_t frames, unsigned threads) {
    if (x.ndim() != 1) throw std::invalid_argument("wola_circular: x must be 1-D");
    const std::size_t N = wola_length("wola_circular", window, g), n = x.shape(0);
    check_frames("wola_circular", frames, n, N, hop);
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

// p, r: float64 (bins,); edges: int64 (bands+1,) offsets into p; p_scale, r_scale, a, c:
// float64 (bands,); active: bool (bands,) -> (a, c, se_c)
py::tuple band_fit(const F64Array& p, const F64Array& r, const py::array_t<long long, py::array::c_style | py::array::forcecast>& edges,
                   const F64Array& p_scale, const F64Array& r_scale, const F64Array& a0, const F64Array& c0,
                   const py::array_t<bool, py::array::c_style | py::array::forcecast>& active, int iters, unsigned threads) {
    for (const py::array* v : {static_cast<const py::array*>(&p), static_cast<const py::array*>(&r),
                               static_cast<const py::array*>(&edges), static_cast<const py::array*>(&p_scale),
                               static_cast<const py::array*>(&r_scale), static_cast<const py::array*>(&a0),
                               static_cast<const py::array*>(&c0), static_cast<const py::array*>(&active)})
        if (v->ndim() != 1) throw std::invalid_argument("band_fit: all arguments must be 1-D");
    if (p.shape(0) != r.shape(0)) throw std::invalid_argument("band_fit: p and r differ in length");
    if (edges.shape(0) < 1) throw std::invalid_argument("band_fit: edges must have bands + 1 entries");
    const std::size_t bands = edges.shape(0) - 1;
    for (const py::array* v : {static_cast<const py::array*>(&p_scale), static_cast<const py::array*>(&r_scale),
                               static_cast<const py::array*>(&a0), static_cast<const py::array*>(&c0),
                               static_cast<const py::array*>(&active)})
        if (static_cast<std::size_t>(v->shape(0)) != bands)
            throw std::invalid_argument("band_fit: scales, a, c and active need one entry per band");
    const long long* e = edges.data();
    for (std::size_t j = 0; j < bands; ++j)
        if (e[j] < 0 || e[j + 1] < e[j] || e[j + 1] > p.shape(0))
            throw std::invalid_argument("band_fit: edges must be non-decreasing offsets into p");
    F64Array a(bands), c(bands), se(bands);
    std::copy(a0.data(), a0.data() + bands, a.mutable_data());
    std::copy(c0.data(), c0.data() + bands, c.mutable_data());
    const unsigned char* act = reinterpret_cast<const unsigned char*>(active.data());
    {
        py::gil_scoped_release nogil;
        irforge::filterbank::band_fit(p.data(), r.data(), e, bands, p_scale.data(), r_scale.data(), a.mutable_data(),
                                      c.mutable_data(), se.mutable_data(), act, iters, threads);
    }
    return py::make_tuple(a, c, se);
}

// x: float32 1-D; taps: float32 1-D -> float32 (n_out,)
F32Array fir_decimate(const F32Array& x, const F32Array& taps, std::size_t decim, unsigned threads) {
    if (x.ndim() != 1 || taps.ndim() != 1) throw std::invalid_argument("fir_decimate: x and taps must be 1-D");
    if (decim == 0) throw std::invalid_argument("fir_decimate: decim must be >= 1");
    if (taps.shape(0) == 0) throw std::invalid_argument("fir_decimate: taps must not be empty");
    const std::size_t n = x.shape(0), nt = taps.shape(0);
    const std::size_t n_out = irforge::filterbank::fir_decimate_count(n, nt, decim);
    F32Array out(n_out);
    const float* xp = x.data();
    const float* tp = taps.data();
    float* dst = out.mutable_data();
    {
        py::gil_scoped_release nogil;
        irforge::filterbank::fir_decimate(xp, n, tp, nt, decim, dst, threads);
    }
    return out;
}

// x: float32 1-D; window: float64 (N,) -> float32 (frames, m) packed spectra
F32Array wola_spectra(const F32Array& x, const F64Array& window, std::size_t hop, std::size_t frames,
                      unsigned threads) {
    if (x.ndim() != 1 || window.ndim() != 1) throw std::invalid_argument("wola_spectra: x and window must be 1-D");
    const std::size_t N = window.shape(0), n = x.shape(0);
    check_frames("wola_spectra", frames, n, N, hop);
    const std::size_t m = irforge::filterbank::wola_fft_size(N);
    F32Array out({frames, m});
    const float* xp = x.data();
    const double* wp = window.data();
    float* dst = out.mutable_data();
    {
        py::gil_scoped_release nogil;
        irforge::filterbank::wola_spectra(xp, n, wp, N, hop, frames, dst, threads);
    }
    return out;
}

// spectra: float32 (frames, m) from wola_spectra -> float64 (n_samples,)
F64Array wola_apply(const F32Array& spectra, std::size_t n_samples, const F64Array& window, const F32Array& g,
                    std::size_t hop, unsigned threads) {
    if (spectra.ndim() != 2) throw std::invalid_argument("wola_apply: spectra must be 2-D");
    const std::size_t N = wola_length("wola_apply", window, g);
    const std::size_t m = irforge::filterbank::wola_fft_size(N);
    if (static_cast<std::size_t>(spectra.shape(1)) != m)
        throw std::invalid_argument("wola_apply: spectra rows must have " + std::to_string(m) + " values for N = " +
                                    std::to_string(N));
    const std::size_t frames = spectra.shape(0);
    if (hop == 0) throw std::invalid_argument("wola_apply: hop must be >= 1");
    if (n_samples > 2 * N && (n_samples - 2 * N + hop - 1) / hop > frames)
        throw std::invalid_argument("wola_apply: n_samples " + std::to_string(n_samples) + " is longer than " +
                                    std::to_string(frames) + " frames of hop " + std::to_string(hop) + " cover");
    F64Array out(n_samples);
    const float* sp = spectra.data();
    const double* wp = window.data();
    const float* gp = g.data();
    double* dst = out.mutable_data();
    {
        py::gil_scoped_release nogil;
        irforge::filterbank::wola_apply(sp, frames, n_samples, wp, gp, N, hop, dst, threads);
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
    m.def("band_fit", &band_fit, py::arg("p"), py::arg("r"), py::arg("edges"), py::arg("p_scale"),
          py::arg("r_scale"), py::arg("a"), py::arg("c"), py::arg("active"), py::arg("iters"), py::arg("threads") = 0,
          "Per band [edges[j], edges[j+1]): Fisher scoring of p/p_scale ~ a r/r_scale + c (a, c >= 0, Gamma model) "
          "from the start values a, c -> (a, c, standard error of c) float64");
    m.def("fir_decimate", &fir_decimate, py::arg("x"), py::arg("taps"), py::arg("decim"), py::arg("threads") = 0,
          "out[j] = sum_t taps[t] x[j*decim + t] for every j with the filter inside x -> float32");
    m.def("wola_spectra", &wola_spectra, py::arg("x"), py::arg("window"), py::arg("hop"), py::arg("frames"),
          py::arg("threads") = 0,
          "First half of wola_circular: packed spectra of the windowed frames -> float32 (frames, fft size)");
    m.def("wola_apply", &wola_apply, py::arg("spectra"), py::arg("n_samples"), py::arg("window"), py::arg("g"),
          py::arg("hop"), py::arg("threads") = 0,
          "Second half of wola_circular, from wola_spectra's output -> float64 (n_samples,)");
}
