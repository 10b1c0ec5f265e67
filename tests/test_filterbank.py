"""The core's long-frame filter bank (cpp/src/filterbank.cpp) against slow numpy references."""

import numpy as np
import pytest

from irforge import _core


def _hann(n):
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)


@pytest.mark.parametrize("n,n_fft,hop,frames", [(5000, 1024, 512, 9), (5000, 1024, 1024, 6),
                                                (300, 256, 100, 4), (70000, 16384, 8192, 9)])
def test_power_sum_matches_numpy(rng, n, n_fft, hop, frames):
    x = rng.standard_normal((2, n)).astype(np.float32)
    w = _hann(n_fft)
    got = _core.power_sum(x, w, hop, frames)
    ref = np.zeros((2, n_fft // 2 + 1))
    for c in range(2):
        for t in range(frames):
            seg = np.zeros(n_fft)
            part = x[c, t * hop:t * hop + n_fft].astype(np.float64)
            seg[:len(part)] = part
            ref[c] += np.abs(np.fft.rfft(seg * w)) ** 2
    np.testing.assert_allclose(got, ref, rtol=2e-4, atol=1e-5 * ref.max())


def test_power_sum_zero_frames_and_bad_window():
    x = np.ones((1, 100), np.float32)
    assert not _core.power_sum(x, _hann(64), 32, 0).any()
    with pytest.raises(ValueError, match="power of two"):
        _core.power_sum(x, np.ones(100, np.float32), 32, 1)
    with pytest.raises(ValueError, match="hop"):
        _core.power_sum(x, _hann(64), 0, 1)


def _wola_reference(x, w, g, hop, frames):
    """Frame by frame: w * ifft(fft(w * frame) * fft(g)) (circular, length N), overlap-added and
    divided by the summed squared window where it exceeds 1e-10."""
    N, L = len(w), len(x)
    out, norm = np.zeros(L + N), np.zeros(L + N)
    G = np.fft.fft(g.astype(np.float64))
    for t in range(frames):
        s = t * hop
        fr = np.zeros(N)
        part = x[s:s + N].astype(np.float64)
        fr[:len(part)] = part
        out[s:s + N] += w * np.real(np.fft.ifft(np.fft.fft(w * fr) * G))
        norm[s:s + N] += w * w
    res = out[:L]
    nz = norm[:L] > 1e-10
    res[nz] /= norm[:L][nz]
    return res


@pytest.mark.parametrize("N,L,hop", [(101, 1000, 50), (64, 300, 32), (1999, 9000, 999), (7, 7, 3)])
def test_wola_circular_matches_numpy(rng, N, L, hop):
    x = rng.standard_normal(L).astype(np.float32)
    w = np.hanning(N)
    g = (rng.standard_normal(N) * np.exp(-np.arange(N) / (N / 8))).astype(np.float32)
    frames = max((L - N + hop) // hop + 1, 0)
    got = _core.wola_circular(x, w, g, hop, frames)
    ref = _wola_reference(x, w, g, hop, frames)
    assert got.shape == (L,)
    np.testing.assert_allclose(got, ref, rtol=0, atol=2e-5 * np.abs(ref).max())


@pytest.mark.parametrize("N,L,hop", [(101, 1000, 50), (1999, 9000, 999), (7, 7, 3)])
def test_wola_in_two_steps_equals_one(rng, N, L, hop):
    x = rng.standard_normal(L).astype(np.float32)
    w = np.hanning(N)
    g = rng.standard_normal(N).astype(np.float32)
    frames = max((L - N + hop) // hop + 1, 0)
    spectra = _core.wola_spectra(x, w, hop, frames)
    assert spectra.shape[0] == frames and spectra.dtype == np.float32
    np.testing.assert_array_equal(_core.wola_apply(spectra, L, w, g, hop), _core.wola_circular(x, w, g, hop, frames))
    with pytest.raises(ValueError, match="values for N"):
        _core.wola_apply(spectra[:, :-1].copy(), L, w, g, hop)


def test_wola_circular_bad_arguments():
    x = np.zeros(100, np.float32)
    with pytest.raises(ValueError, match="length"):
        _core.wola_circular(x, np.hanning(10), np.zeros(9, np.float32), 5, 1)
    with pytest.raises(ValueError, match="hop"):
        _core.wola_circular(x, np.hanning(10), np.zeros(10, np.float32), 0, 1)
    with pytest.raises(ValueError, match="too long"):
        _core.wola_circular(x, np.hanning(1 << 22), np.zeros(1 << 22, np.float32), 5, 1)


def _band_fit_reference(p, r, edges, ps, rs, a, c, active, iters):
    """Per band, plain numpy Fisher scoring of p/ps ~ a r/rs + c (float64, one band at a time),
    with the standard error of c at the last step (Pearson dispersion x inverse information)."""
    a, c, se = a.copy(), c.copy(), np.full(len(a), np.inf)
    for j in range(len(edges) - 1):
        if not active[j]:
            continue
        pp = p[edges[j]:edges[j + 1]] / ps[j]
        rr = r[edges[j]:edges[j + 1]] / rs[j]
        for _ in range(iters):
            w = 1.0 / np.maximum(a[j] * rr + c[j], 1e-12) ** 2
            s_rr, s_r1, s_11 = np.sum(w * rr * rr), np.sum(w * rr), np.sum(w)
            s_rp, s_1p = np.sum(w * rr * pp), np.sum(w * pp)
            det = s_rr * s_11 - s_r1 ** 2
            if not det > 1e-12 * s_rr * s_11:
                break
            a_new = max((s_11 * s_rp - s_r1 * s_1p) / det, 0.0)
            c_new = max((s_rr * s_1p - s_r1 * s_rp) / det, 1e-12)
            resid = pp - (a_new * rr + c_new)
            se[j] = np.sqrt(max(np.sum(w * resid ** 2), 0.0) / max(len(pp) - 2, 1) * s_rr / det)
            conv = abs(a_new - a[j]) <= 1e-3 * (a[j] + 1e-12) and abs(c_new - c[j]) <= 1e-3 * c[j]
            a[j], c[j] = a_new, c_new
            if conv:
                break
    return a, c, se


def test_band_fit_matches_numpy_and_recovers_the_model(rng):
    # bins of a "recording" power spectrum: a_true * |H|^2 + c_true with chi-square(2) scatter
    n = 70000
    r = np.exp(rng.standard_normal(n) * 1.5)       # a rippled |H|^2
    edges = np.unique(np.concatenate([[0], np.sort(rng.choice(np.arange(1, n), 40, replace=False)), [n]]))
    bands = len(edges) - 1
    a_true = np.exp(rng.standard_normal(bands))
    c_true = np.exp(rng.standard_normal(bands)) * 0.1
    rep = np.repeat(np.arange(bands), np.diff(edges))
    p = (a_true[rep] * r + c_true[rep]) * rng.exponential(1.0, n)
    ps, rs = np.exp(rng.standard_normal(bands)), np.exp(rng.standard_normal(bands))
    active = np.ones(bands, bool)
    active[3] = False
    a0, c0 = np.ones(bands), np.full(bands, 1e-6)
    for iters in (1, 4, 30):
        a, c, se = _core.band_fit(p, r, edges, ps, rs, a0, c0, active, iters)
        ra, rc, rse = _band_fit_reference(p, r, edges, ps, rs, a0, c0, active, iters)
        np.testing.assert_allclose(a, ra, rtol=1e-9)
        np.testing.assert_allclose(c, rc, rtol=1e-9)
        np.testing.assert_allclose(se, rse, rtol=1e-6)
    assert a[3] == 1.0 and c[3] == 1e-6 and np.isinf(se[3])   # inactive band untouched
    big = np.diff(edges) > 1000
    big[3] = False
    # back in the data's units the fit recovers the model; the noise level within its error
    assert np.median(np.abs(a[big] * ps[big] / rs[big] / a_true[big] - 1)) < 0.1
    z = np.abs(c[big] * ps[big] - c_true[big]) / (se[big] * ps[big])
    assert np.median(z) < 2.0


def test_band_fit_bad_arguments():
    p = np.ones(10)
    one = np.ones(1)
    with pytest.raises(ValueError, match="edges"):
        _core.band_fit(p, p, np.array([0, 11]), one, one, one, one, np.ones(1, bool), 4)
    with pytest.raises(ValueError, match="one entry per band"):
        _core.band_fit(p, p, np.array([0, 5, 10]), one, one, one, one, np.ones(1, bool), 4)


@pytest.mark.parametrize("n,taps,decim", [(10000, 128, 16), (1000, 37, 3), (50, 50, 7), (49, 50, 7), (5000, 8, 1)])
def test_fir_decimate_matches_numpy(rng, n, taps, decim):
    x = rng.standard_normal(n).astype(np.float32)
    f = rng.standard_normal(taps).astype(np.float32)
    got = _core.fir_decimate(x, f, decim)
    if n < taps:
        want = np.zeros(0)                   # the filter never fits inside the signal
    else:
        full = np.convolve(x.astype(float), f[::-1].astype(float), "valid")   # sum_t f[t] x[j + t]
        want = full[::decim]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.sqrt(taps))


def test_fir_decimate_bad_arguments():
    with pytest.raises(ValueError, match="decim"):
        _core.fir_decimate(np.zeros(10, np.float32), np.ones(3, np.float32), 0)
    with pytest.raises(ValueError, match="empty"):
        _core.fir_decimate(np.zeros(10, np.float32), np.zeros(0, np.float32), 2)
