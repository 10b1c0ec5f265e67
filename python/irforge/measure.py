"""Impulse responses from an excitation and its recording: :func:`measure_ir`.

Methods
-------
``"division"``  two-channel FFT with frequency-dependent regularization:
                ``H = Y X* / (|X|^2 + eps(f))``, eps small in the excitation's band and large
                outside it (Kirkeby et al. 1998; Müller & Massarani 2001).
``"inverse"``   the same spectral inverse of a sweep, plus the harmonic-distortion IRs that an
                exponential sweep puts before the linear IR (Farina 2000; Novak et al. 2015):
                ``ir.harmonics`` and THD versus frequency in ``ir.metadata["thd"]``.
``"h1"``        Welch-averaged cross spectra ``H1 = S_xy / S_xx`` for music or noise as the
                excitation (Welch 1967; Bendat & Piersol).
``"cepstral"``  Ciba's frame-wise real-cepstrum subtraction (Ciba 2025, eqs. 4-10), zero-phase as
                published or minimum-phase.
``"complex"``   the analytic cosine/sine sweep pair of :func:`irforge.sweeps.complex_pair`.
``"mls"``       circular deconvolution of a maximum-length sequence (Rife & Vanderkooy 1989).

Periodic excitations (``irforge.sweeps.periodic``, MLS with several periods) are averaged over
their steady-state periods and inverted by circular deconvolution.

FFTs: the sweep methods ("division", "inverse") run their large power-of-two transforms in the
C++ core (float32; its round-off, about -140 dB, is far below any measurement's noise floor) with
the sweep's inverse spectrum cached on the Sweep; the other methods, the marker search and the
cepstral method (log/exp need the headroom) use scipy.fft in float64.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import scipy.fft as sfft

from . import _errors
from ._cepstrum import minimum_phase_from_cepstrum
from ._errors import ParameterError
from ._validation import as_float_array, check_finite, check_real, check_sample_rate
from .impulse_response import ImpulseResponse
from .sweeps import Playback, Sweep

__all__ = ["measure_ir", "METHODS", "ClippingWarning"]

METHODS = ("auto", "division", "inverse", "h1", "cepstral", "complex", "mls")
_LATENCY_MODES = ("auto", "none", "xcorr", "marker")
#: a recording whose deconvolution has a peak-to-RMS ratio below this does not contain the excitation
MIN_PEAK_TO_RMS_DB = 20.0


class ClippingWarning(_errors.ClippingWarning):
    """The recording is clipped: the IR will contain distortion products (an
    :class:`irforge.ClippingWarning`, so one filter catches every clipping warning)."""


def _workers() -> int:
    return -1


_CORE_MIN, _CORE_MAX = 16, 1 << 22


def _fft_size(n: int) -> int:
    """Power of two for the C++ core when in its range, else scipy's next fast size."""
    p = 1 << max(4, int(math.ceil(math.log2(max(n, 1)))))
    return p if p <= _CORE_MAX else sfft.next_fast_len(n, real=True)


def _rfft(a: np.ndarray, n: int) -> np.ndarray:
    """rfft along the last axis, zero-padded to n: C++ core (float32) for powers of two."""
    from . import _core

    if n & (n - 1) == 0 and _CORE_MIN <= n <= _CORE_MAX and a.shape[-1] <= n:
        a2 = np.zeros((1 if a.ndim == 1 else a.shape[0], n), np.float32)
        a2[:, : a.shape[-1]] = a
        X = _core.rfft(a2)
        return X[0] if a.ndim == 1 else X
    return sfft.rfft(a, n, axis=-1, workers=_workers())


def _irfft(A: np.ndarray, n: int) -> np.ndarray:
    from . import _core

    if n & (n - 1) == 0 and _CORE_MIN <= n <= _CORE_MAX:
        out = _core.irfft(np.ascontiguousarray(np.atleast_2d(A), dtype=np.complex64), n)
        out *= 1.0 / n                                   # the core's inverse is unnormalised
        return out
    return sfft.irfft(A, n, axis=-1, workers=_workers())


def _circ(d: np.ndarray, start: int, n: int) -> np.ndarray:
    """``d[:, start:start+n]`` with circular wrap-around (start may be negative)."""
    N = d.shape[1]
    start %= N
    if start + n <= N:
        return d[:, start:start + n]
    return np.concatenate([d[:, start:], d[:, : (start + n) - N]], axis=1)


# ------------------------------------------------------------------------------------------
# input parsing
# ------------------------------------------------------------------------------------------
@dataclass
class _Excitation:
    x: np.ndarray                 # one period (float64, 1-D); cosine part for "complex"
    sr: float
    kind: str                     # "exponential", "linear", "complex", "mls", "array"
    periods: int = 1
    band: tuple | None = None     # (f_lo, f_hi) where regularization is small; None = estimate
    sweep: Sweep | None = None
    playback: Playback | None = None
    x_imag: np.ndarray | None = None


def _as_signal(a, name: str, *, ndim=(1, 2)) -> np.ndarray:
    """float64 copy-free view of a float32/float64 array (TypeError otherwise), finite."""
    if isinstance(a, np.ndarray):
        if a.dtype not in (np.float32, np.float64):
            raise TypeError(f"{name} must have dtype float32 or float64, got {a.dtype}")
    else:
        as_float_array(a, name)                      # type / dtype checks with the shared messages
    arr = np.asarray(a)
    if arr.dtype != np.float64:
        arr = arr.astype(np.float64)
    if arr.ndim not in ndim:
        raise ParameterError(f"{name} must be {' or '.join(f'{d}-D' for d in ndim)}, got shape {arr.shape}")
    check_finite(arr, name)
    return arr


def _parse_excitation(excitation, sample_rate) -> _Excitation:
    sr_arg = None if sample_rate is None else check_sample_rate(sample_rate)
    if isinstance(excitation, Playback):
        ex = _parse_excitation(excitation.sweep, sample_rate)
        ex.playback = excitation
        return ex
    if isinstance(excitation, Sweep):
        sw = excitation
        if sr_arg is not None and sr_arg != sw.sample_rate:
            raise ParameterError(f"sample_rate={sample_rate!r} does not match the sweep's sample rate "
                                 f"{sw.sample_rate:g} Hz; resample the recording or make the sweep at "
                                 f"{sample_rate!r} Hz")
        x = np.asarray(sw.period_signal, dtype=np.float64)
        if sw.kind in ("complex", "mls"):
            band = (0.0, sw.sample_rate / 2)
        else:
            band = (sw.f_start_hz, sw.f_end_hz)
        return _Excitation(x=x, sr=sw.sample_rate, kind=sw.kind, periods=sw.periods, band=band, sweep=sw,
                           x_imag=None if sw.signal_sine is None else np.asarray(sw.signal_sine, np.float64))
    if sr_arg is None:
        raise ParameterError("sample_rate is required when the excitation is a plain array (a Sweep "
                             "carries its own)")
    x = _as_signal(excitation, "excitation", ndim=(1,))
    if x.size < 16:
        raise ParameterError(f"excitation must have at least 16 samples, got {x.size}")
    return _Excitation(x=x, sr=sr_arg, kind="array")


def _parse_takes(rec, name: str) -> list[np.ndarray]:
    """One recording or a list of repeated takes -> list of (channels, samples) float64."""
    if isinstance(rec, (list, tuple)) and rec and isinstance(rec[0], (np.ndarray, list, tuple)) \
            and not np.isscalar(rec[0]):
        takes = [_as_signal(r, f"{name}[{i}]") for i, r in enumerate(rec)]
    else:
        takes = [_as_signal(rec, name)]
    takes = [t[None, :] if t.ndim == 1 else t for t in takes]
    ch = {t.shape[0] for t in takes}
    if len(ch) > 1:
        raise ParameterError(f"{name}: takes have different channel counts {sorted(ch)}")
    for t in takes:
        if t.shape[0] > t.shape[1]:
            raise ParameterError(f"{name} has shape {t.shape}: more channels than samples; pass "
                                 f"(channels, samples)")
    return takes


_TS_KEYS = ("LL", "LR", "RL", "RR")


def _parse_recording(recording):
    """-> ("plain", [takes]) or ("true_stereo", {"L": takes, "R": takes})."""
    if isinstance(recording, dict):
        keys = set(recording)
        if keys == {"L", "R"}:
            out = {}
            for s in "LR":
                takes = _parse_takes(recording[s], f"recording[{s!r}]")
                if takes[0].shape[0] != 2:
                    raise ParameterError(f"recording[{s!r}] must be the stereo (2, samples) recording made "
                                         f"while the {s} speaker played, got {takes[0].shape[0]} channel(s)")
                out[s] = takes
            return "true_stereo", out
        if keys == set(_TS_KEYS):
            parts = {k: _parse_takes(recording[k], f"recording[{k!r}]") for k in _TS_KEYS}
            for k, t in parts.items():
                if t[0].shape[0] != 1:
                    raise ParameterError(f"recording[{k!r}] must be mono, got {t[0].shape[0]} channels")
            out = {}
            for s, (a, b) in {"L": ("LL", "LR"), "R": ("RL", "RR")}.items():
                if len(parts[a]) != len(parts[b]):
                    raise ParameterError(f"recording[{a!r}] and recording[{b!r}] have different take counts")
                out[s] = []
                for ta, tb in zip(parts[a], parts[b]):
                    n = min(ta.shape[1], tb.shape[1])
                    out[s].append(np.vstack([ta[:, :n], tb[:, :n]]))
            return "true_stereo", out
        raise ParameterError(f"a dict recording means true stereo: keys 'L' and 'R' (stereo recordings per "
                             f"source speaker) or 'LL', 'LR', 'RL', 'RR' (mono), got {sorted(map(str, keys))}")
    return "plain", _parse_takes(recording, "recording")


def _parse_complex(recording):
    if isinstance(recording, dict):
        if set(recording) != {"cos", "sin"}:
            raise ParameterError(f"complex recording dict needs keys 'cos' and 'sin', got {sorted(recording)}")
        pair = (recording["cos"], recording["sin"])
    elif isinstance(recording, (list, tuple)) and len(recording) == 2:
        pair = tuple(recording)
    else:
        raise ParameterError("method='complex' needs the two recordings (recording_cos, recording_sin) "
                             "of sweeps.complex_pair() as a 2-tuple or {'cos': ..., 'sin': ...}")
    c = _as_signal(pair[0], "recording_cos")
    s = _as_signal(pair[1], "recording_sin")
    c, s = (a[None, :] if a.ndim == 1 else a for a in (c, s))
    if c.shape[0] != s.shape[0]:
        raise ParameterError(f"cosine and sine recordings have different channel counts: {c.shape} vs {s.shape}")
    n = min(c.shape[1], s.shape[1])
    return c[:, :n], s[:, :n]


# ------------------------------------------------------------------------------------------
# recording checks
# ------------------------------------------------------------------------------------------
def _check_level(y: np.ndarray, name: str, on_clipping: str) -> int:
    """Raise on a silent recording; count clipped samples (runs of >= 3 equal samples at the peak)."""
    a = np.abs(y)
    peak = float(a.max()) if a.size else 0.0
    if peak < 1e-9:
        raise ParameterError(f"{name} is silent (peak {peak:.3g}, below -180 dBFS): nothing was recorded")
    clipped = 0
    for ch in a:
        p = ch.max()
        at = ch >= p * (1 - 1e-6)
        if at.sum() >= 3:
            # samples in runs of >= 3 consecutive samples at the peak level
            d = np.diff(np.concatenate(([0], at.view(np.int8), [0])))
            starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
            runs = ends - starts
            clipped += int(runs[runs >= 3].sum())
    if clipped and on_clipping != "ignore":
        msg = (f"{name} is clipped: {clipped} sample(s) in flat runs at its peak level {peak:.4g} "
               f"({20 * math.log10(peak):.1f} dBFS); the IR will contain distortion — lower the level and record again")
        if on_clipping == "raise":
            raise ParameterError(msg)
        warnings.warn(msg, ClippingWarning, stacklevel=4)
    return clipped


# ------------------------------------------------------------------------------------------
# spectral helpers
# ------------------------------------------------------------------------------------------
def _eps(freqs: np.ndarray, power: np.ndarray, band, regularization_db, out_of_band_db=0.0) -> np.ndarray:
    """Frequency-dependent regularization eps(f) for |X|^2 (Kirkeby et al. 1998).

    ``regularization_db`` below the peak of ``power`` inside ``band`` and ``out_of_band_db``
    outside it, with one-octave raised-cosine transitions (in log frequency) outside the
    band edges. ``band=None``: the band is where the smoothed ``power`` is within 60 dB of its peak.
    """
    pmax = float(power.max())
    if regularization_db is None:
        return np.zeros_like(freqs)
    lo_v, hi_v = pmax * 10 ** (regularization_db / 10), pmax * 10 ** (out_of_band_db / 10)
    if band is None:
        w = max(3, len(power) // 2000) | 1
        sm = np.convolve(power, np.ones(w) / w, mode="same")
        inside = sm >= pmax * 1e-6
        return np.where(inside, lo_v, hi_v)
    f_lo, f_hi = band
    nyq = freqs[-1]
    # weight 0 in band, 1 far outside; log-frequency transitions of half an octave
    wgt = np.zeros_like(freqs)
    oct_w = 1.0
    if f_lo > 0:
        with np.errstate(divide="ignore"):
            lo_oct = np.log2(f_lo / np.maximum(freqs, 1e-12))            # octaves below f_lo
        t = np.clip(lo_oct / oct_w, 0, 1)
        wgt = np.maximum(wgt, np.where(freqs < f_lo, 0.5 - 0.5 * np.cos(np.pi * t), 0.0))
    if f_hi < nyq:
        hi_oct = np.log2(np.maximum(freqs, 1e-12) / f_hi)
        t = np.clip(hi_oct / oct_w, 0, 1)
        wgt = np.maximum(wgt, np.where(freqs > f_hi, 0.5 - 0.5 * np.cos(np.pi * t), 0.0))
    # interpolate in dB between the two levels
    return lo_v * (hi_v / lo_v) ** wgt


def _inverse_spectrum(x: np.ndarray, nfft: int, sr: float, band, regularization_db, cache=None) -> np.ndarray:
    """Regularized inverse ``X* / (|X|^2 + eps(f))`` of a real excitation, rfft layout."""
    key = (nfft, band, regularization_db)
    if cache is not None and key in cache:
        return cache[key]
    inv = _inverse_spectrum_uncached(x, nfft, sr, band, regularization_db)
    if cache is not None:
        if len(cache) > 4:
            cache.clear()
        cache[key] = inv
    return inv


#: half-width of the smoothing of |X|^2 that :func:`band_window` compares with the edge level, octaves
_EDGE_SMOOTH_OCT = 1.0 / 48
#: the band-edge reference level of |X|^2 is its median over this far inside each edge, octaves
_EDGE_REF_OCT = (1.0 / 24, 1.0 / 6)


def band_window(power: np.ndarray, freqs: np.ndarray, band) -> np.ndarray:
    """Roll-off ``D(f)`` applied to the inverse outside the excited band (the measurement band policy).

    Inside the band the estimate is ``Y / X``. Where the excitation's energy falls below its
    level at the band edge (the sweep's fades, the Fresnel ripple at its ends, and everything
    beyond ``f_start_hz``/``f_end_hz``), the response is rolled off as fast as that energy:
    ``D(f) = min(1, P(f) / P_edge)``, with ``P`` the power spectrum ``|X|^2`` smoothed over
    1/24 octave (at the low edge: 2/3 octave, and ``P_edge`` 10 dB lower, because a
    roll-off a fraction of a hertz wide would ring past the IR window) and ``P_edge`` its median over the 1/24..1/6 octave just inside the edge.
    The noise gain ``D / |X|`` therefore never exceeds the in-band gain at the edge, and
    falls with the excitation's energy outside it: the measured IR carries no amplified
    noise where the excitation did not excite the system.

    Parameters
    ----------
    power : np.ndarray [shape=(bins,)]
        ``|X(f)|^2`` of the excitation on an rfft grid.
    freqs : np.ndarray [shape=(bins,)]
        Bin frequencies, Hz.
    band : (float, float)
        ``(f_low_hz, f_high_hz)``: the excited band. A low edge at 0 Hz or a high edge at
        the Nyquist frequency is not rolled off.

    Returns
    -------
    np.ndarray [shape=(bins,)]
        ``D(f)`` in [0, 1].
    """
    D = np.ones(len(freqs))
    f_lo, f_hi = band
    nyq = freqs[-1]
    df = freqs[1] - freqs[0] if len(freqs) > 1 else 1.0
    c = np.concatenate(([0.0], np.cumsum(power, dtype=np.float64)))
    k = np.arange(len(freqs))

    def smoothed(octaves):
        half = np.maximum(np.ceil(freqs * (2 ** octaves - 1) / df), 1).astype(int)
        lo_i, hi_i = np.clip(k - half, 0, len(k)), np.clip(k + half + 1, 0, len(k))
        return (c[hi_i] - c[lo_i]) / (hi_i - lo_i)

    a, b = _EDGE_REF_OCT
    edges = []
    if f_hi < nyq * (1 - 1e-9):
        edges.append((freqs > f_hi * 2 ** -a, (freqs >= f_hi * 2 ** -b) & (freqs <= f_hi * 2 ** -a),
                      _EDGE_SMOOTH_OCT, 1.0))
    if f_lo > 0:
        # at the low edge 1/48 octave is a fraction of a hertz: a roll-off that narrow would ring
        # for seconds and spread past the IR window, so it is smoothed over 1/3 octave there
        # so it is smoothed over 1/3 octave there and allows the noise gain 10 dB over the edge's
        # (the low edge of an exponential sweep has the lowest noise gain of the band)
        edges.append((freqs < f_lo * 2 ** a, (freqs >= f_lo * 2 ** a) & (freqs <= f_lo * 2 ** b), 1.0 / 3,
                      0.1))
    for outside, ref, octaves, allow in edges:
        smooth = smoothed(octaves)
        if not ref.any():
            continue
        p_edge = allow * float(np.median(smooth[ref]))
        if p_edge > 0:
            D[outside] = np.minimum(D[outside], np.minimum(1.0, smooth[outside] / p_edge))
    return D


def _inverse_spectrum_uncached(x, nfft, sr, band, regularization_db):
    X = sfft.rfft(x, nfft, workers=_workers())
    p = X.real * X.real + X.imag * X.imag
    f = np.arange(len(X)) * (sr / nfft)
    eps = _eps(f, p, band, regularization_db)
    den = p + eps
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(den > 0, np.conj(X) / np.where(den > 0, den, 1.0), 0.0)
    if regularization_db is not None and band is not None:
        inv = inv * band_window(p, f, band)          # the measurement band policy
    if nfft & (nfft - 1) == 0 and nfft <= _CORE_MAX:
        inv = inv.astype(np.complex64)                 # the core path multiplies in complex64
    return inv


def _peak_lag(d: np.ndarray) -> tuple[int, float]:
    """Index of the strongest sample over channels and its peak-to-RMS ratio in dB."""
    e = np.einsum("ij,ij->j", d, d) if d.shape[0] > 1 else d[0] * d[0]
    k = int(np.argmax(e))
    mean = float(e.mean())
    crest_db = 10 * math.log10(float(e[k]) / mean) if mean > 0 else float("inf")
    return k, crest_db


def _check_peak(crest_db: float, name: str):
    if crest_db < MIN_PEAK_TO_RMS_DB:
        raise ParameterError(
            f"{name} does not contain the excitation: no correlation peak (peak-to-RMS "
            f"{crest_db:.1f} dB < {MIN_PEAK_TO_RMS_DB:.0f} dB). Check that the right files are paired, that "
            f"the recording covers the sweep, and the sample rate")


def _marker_position(y: np.ndarray, burst: np.ndarray) -> int:
    """Sample index where the tone burst begins in ``y`` (envelope of the matched filter)."""
    e = np.sum(y, axis=0)
    n = len(e) + len(burst)
    nfft = sfft.next_fast_len(n)
    mf = sfft.irfft(sfft.rfft(e, nfft) * np.conj(sfft.rfft(burst, nfft)), nfft)[: len(e)]
    # analytic envelope (Hilbert) of the matched-filter output
    M = sfft.fft(mf)
    h = np.zeros(len(mf))
    h[0] = 1
    h[1:(len(mf) + 1) // 2] = 2
    if len(mf) % 2 == 0:
        h[len(mf) // 2] = 1
    env = np.abs(sfft.ifft(M * h))
    top = float(env.max())
    if top <= 0 or top < 10 * np.median(env):
        raise ParameterError("the alignment marker (tone burst) was not found in the recording")
    # The marker is the first event of the playback file. The sweeps pass through the burst's
    # frequency too and can give a matched-filter peak as high as the marker's (or higher, in
    # a reverberant room), so take the first strong peak, not the global maximum.
    first = int(np.argmax(env > 0.3 * top))
    win = env[first: first + len(burst) // 2]
    return first + int(np.argmax(win))


def default_ir_length(ir: np.ndarray, sr: float, *, name: str = "recording", what: str = "the recording") -> int:
    """Default IR length from the response itself: up to where its decay meets the noise floor.

    Lundeby's crossing point (:func:`irforge._decay.decay_end_index`) plus room for the noise
    floor after it (half the decay's length, at least 0.1 s: ``trim`` and ``analyze`` need some
    noise to find the floor again), limited to the ``ir.shape[1]`` samples that ``what`` holds.
    When no floor is found and the window still ends above -60 dB re the peak, the recording
    ended before the decay did: a warning says so and names the fix.

    Parameters
    ----------
    ir : np.ndarray [shape=(channels, samples)]
        The deconvolution from sample 0 on, as long as the recording supports.
    sr : float
        Hz.

    Returns
    -------
    int
        Samples.
    """
    from . import _decay

    n = ir.shape[1]
    if n < 32 or not np.any(ir):
        return n
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onset = _decay.onset_index(ir)
        end, results = _decay.decay_end_index(ir, sr, start_index=onset)
    found = [r for r in results if r is not None and r.reliable]
    p = np.max(ir * ir, axis=0)
    # a noise floor does not decay: if the last fifth of the window is more than 1 dB below the
    # fifth before it, what Lundeby took for noise is the decay, cut off
    q = max(n // 10, 1)
    a, b = float(np.mean(p[n - 4 * q: n - 2 * q])), float(np.mean(p[n - 2 * q:]))
    decaying = b < a * 10 ** (-0.1)
    if found and end < 0.9 * n and not decaying:
        return int(min(n, end + max(int(0.1 * sr), (end - onset) // 2)))
    last = float(np.mean(p[-max(n // 20, 1):]))
    if last > 1e-6 * float(p.max()) and (decaying or not found):
        warnings.warn(f"{name}: {what} ends ({n / sr:.3f} s after sample 0) before the decay does (its last "
                      f"{max(n // 20, 1) / sr * 1e3:.0f} ms are still {10 * math.log10(last / float(p.max())):.0f} "
                      f"dB re the peak, no noise floor reached): the IR is cut short. Record longer after the "
                      f"excitation (silence at least as long as the decay), or pass ir_length_s", stacklevel=5)
    return n


# ------------------------------------------------------------------------------------------
# the measurement kernels: each returns (ir (C, n_ir), extras dict)
# ------------------------------------------------------------------------------------------
def _resolve_latency(latency, peak_signed: int, n_ir_hint: int, pre: int, playback_latency, refine=None):
    """Latency in samples and the mode used. ``refine(center[, ahead])``: the first arrival near
    ``center`` (a marker estimate, or the correlation peak with ``ahead=0``)."""
    if isinstance(latency, (int, np.integer)) and not isinstance(latency, bool):
        return int(latency), "given"
    if latency == "none":
        return 0, "none"
    if latency == "xcorr":
        return (refine(peak_signed, 0) if refine is not None else peak_signed) - pre, "xcorr"
    if latency == "marker" or (latency == "auto" and playback_latency is not None):
        # the burst's envelope is coarse (a few ms): the marker picks the region, the sweep's
        # correlation peak within it gives the sample
        p = refine(playback_latency) if refine is not None else playback_latency
        return p - pre, "marker"
    if 0 <= peak_signed < n_ir_hint:
        return 0, "none"
    return (refine(peak_signed, 0) if refine is not None else peak_signed) - pre, "xcorr"


def _linear_deconv(ex: _Excitation, y: np.ndarray, *, method, latency, n_ir, pre, regularization_db,
                   band, max_order, check, playback_latency, name, **_):
    x, sr = ex.x, ex.sr
    nx, ny = len(x), y.shape[1]
    if ny < nx:
        raise ParameterError(f"the excitation ({nx} samples, {nx / sr:.3f} s) is longer than {name} "
                             f"({ny} samples, {ny / sr:.3f} s): record the whole excitation and its tail")
    hint = n_ir if n_ir is not None else max(ny - nx, int(0.1 * sr))
    harm = 0
    if method == "inverse" and ex.kind == "exponential" and max_order >= 2:
        assert ex.sweep is not None  # kind "exponential" comes only from a Sweep
        harm = int(math.ceil(cast(float, ex.sweep.rate_s) * math.log(max_order + 1) * sr)) + pre
    # circular deconvolution over nfft samples: exact for the linear IR as long as the response
    # (nx + IR) fits, and the harmonics (negative lags) do not wrap onto the IR window
    nfft = _fft_size(max(ny, nx + hint, hint + harm) + abs(latency if isinstance(latency, (int, np.integer))
                                                            and not isinstance(latency, bool) else 0))
    cache = ex.sweep._cache if ex.sweep is not None else None
    inv = _inverse_spectrum(x, nfft, sr, band, regularization_db, cache)
    Y = _rfft(y, nfft)
    d = _irfft(Y * inv, nfft)
    if regularization_db is None:      # find the peak on a regularized estimate: plain division is noise
        k, crest = _peak_lag(_irfft(Y * _inverse_spectrum(x, nfft, sr, band, -80.0, cache), nfft))
    else:
        k, crest = _peak_lag(d)
    del Y
    if check:
        _check_peak(crest, name)
    peak_signed = k if k < nfft - nx else k - nfft

    # Sample 0 is placed `pre` before the *first arrival*, not before the strongest peak: in a
    # hall a reflection can be stronger than the direct sound (ISO 3382-1 onset: the first
    # point within 20 dB of the peak). The search looks back 50 ms from the correlation peak,
    # 150 ms from a marker estimate (the tone burst locks onto the strongest path at its
    # frequency, which can be a late reflection), and never as far as the 2nd-order harmonic
    # IR of an exponential sweep (which sits at negative lag).
    harmonic_gap = None
    if ex.sweep is not None and ex.kind == "exponential":
        harmonic_gap = int(0.5 * cast(float, ex.sweep.rate_s) * math.log(2) * sr)

    def refine(center, ahead=int(0.05 * sr)):
        back = int((0.05 if ahead == 0 else 0.15) * sr)
        if harmonic_gap is not None:
            back = min(back, harmonic_gap)
        lo = center - back
        e = np.sum(d[:, (lo + np.arange(back + ahead + 1)) % nfft] ** 2, axis=0)
        return lo + int(np.argmax(e >= 0.01 * e.max()))

    L, mode = _resolve_latency(latency, peak_signed, hint, pre, playback_latency, refine)
    if n_ir is None:
        # what the recording holds after the excitation's end (L < 0: it started late, and the
        # missing start of the sweep is |L| samples of tail gained at its end)
        held = min(max(ny - L - nx, int(0.1 * sr)), nfft - abs(L) - harm)
        n_ir = default_ir_length(_circ(d, L, held), sr, name=name)
    n_ir = min(n_ir, nfft - abs(L) - harm)
    if ny - max(L, 0) < nx:
        warnings.warn(f"{name} ends {(nx - ny + max(L, 0)) / sr:.3f} s before the excitation does: the IR "
                      f"misses the top of the sweep and the tail", stacklevel=4)
    ir = _circ(d, L, n_ir).astype(np.float64)
    extras = dict(latency_samples=L, latency_mode=mode, peak_to_rms_db=round(crest, 1), nfft=nfft)
    # energy at negative times (harmonics, time variance, noise), 2 ms guard before sample 0
    guard = int(0.002 * sr) + pre
    n_neg = min(nx, nfft - n_ir) - guard
    e_lin = float(np.sum(ir * ir))
    neg = _circ(d, L - guard - n_neg, n_neg) if n_neg > 0 else d[:, :0]
    e_neg = float(np.einsum("ij,ij->", neg, neg, dtype=np.float64)) if n_neg > 0 else 0.0
    extras["acausal_energy_db"] = 10 * math.log10(max(e_neg, 1e-300) / max(e_lin, 1e-300))
    if method == "inverse" and ex.kind == "exponential" and max_order >= 2:
        extras["harmonics"] = _harmonic_windows(d, ex, L, n_ir, pre, max_order)
    return ir, extras


def _harmonic_windows(d, ex: _Excitation, L, n_ir, pre, max_order):
    """Cut the harmonic IRs at -L_rate*ln(k) (Farina 2000; Novak et al. 2015)."""
    sw, sr = ex.sweep, ex.sr
    assert sw is not None  # called for kind "exponential" only, which comes from a Sweep
    out = {}
    delays = [cast(float, sw.rate_s) * math.log(k) * sr for k in range(1, max_order + 2)]   # samples
    for k in range(2, max_order + 1):
        dk = delays[k - 1]
        space = int(dk - delays[k - 2])                        # until the next lower order's window
        m = min(n_ir, max(space, 0))
        if m < 16:
            break
        start = L - int(round(dk)) - pre                       # same pre-delay as the linear IR
        seg = _circ(d, start, m).astype(np.float64)
        # short half-Hann edges: the cut must not spread leakage over the band
        nf = max(1, min(pre, m // 8))
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(nf) + 0.5) / nf)
        seg[:, :nf] *= ramp
        seg[:, m - nf:] *= ramp[::-1]
        out[k] = seg
    return out


def _decay_length(ir: np.ndarray, sr: float) -> int:
    """Samples from the onset to where the response ends: Lundeby's crossing when a noise floor is
    found, else where the Schroeder energy decay curve has fallen by 60 dB."""
    from . import _decay

    if not np.any(ir):
        return 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onset = _decay.onset_index(ir)
        end, results = _decay.decay_end_index(ir, sr, start_index=onset)
    p = np.sum(ir[:, onset:] ** 2, axis=0)
    edc = np.cumsum(p[::-1])[::-1]
    n60 = int(np.argmax(edc <= edc[0] * 1e-6)) if edc[-1] <= edc[0] * 1e-6 else len(p)
    if any(r is not None and r.reliable for r in results):
        n60 = min(n60, end - onset)
    return max(n60, 0)


def _thd(ir: np.ndarray, harmonics: dict, sr: float, band, sweep=None) -> dict:
    """THD(f) = sqrt(sum_k |H_k(k f)|^2) / |H_1(f)|, third-octave band powers.

    The linear IR is cut to the longest harmonic window so that all orders are compared with
    the same time window (and the transforms stay short). An order whose IR cannot be
    separated -- the system's decay (measured on the linear IR) is longer than the spacing
    between its window and its neighbours' (``rate_s * ln((k+1)/k)``), so its own tail is cut
    and the next order's tail falls into its window -- is flagged in ``"separable"`` and its
    levels are NaN, as is the THD (a sum over all orders); ``"note"`` says why and names the
    sweep length that would separate them. Levels where a band holds no energy are NaN too,
    never a dB sentinel.
    """
    if not harmonics:
        return {}
    separable = {k: True for k in harmonics}
    decay_s, note = None, None
    if sweep is not None and sweep.rate_s is not None:
        decay_s = _decay_length(ir, sr) / sr
        for k in harmonics:
            gap = sweep.rate_s * min(math.log(k / (k - 1)), math.log((k + 1) / k))
            separable[k] = decay_s <= gap
        bad = sorted(k for k, ok in separable.items() if not ok)
        if bad:
            need = decay_s / math.log((max(bad) + 1) / max(bad))
            note = (f"harmonic distortion orders {bad} cannot be separated: the system's decay "
                          f"({decay_s:.2f} s) is longer than the spacing of their IRs (sweep rate_s "
                          f"{sweep.rate_s:.3f} s x ln((k+1)/k)); their THD levels are NaN. Use a longer sweep "
                          f"(rate_s >= {need:.2f} s, i.e. duration_s >= {need * math.log(sweep.f_end_hz / sweep.f_start_hz):.0f} s) "
                          f"or fewer orders (harmonics=)")
    m = max(h.shape[1] for h in harmonics.values())
    nfft = _fft_size(max(m, int(sr / 2)))
    f_lo = max(2 * band[0], 20.0)                                 # above the low band edge's ringing
    f_hi = band[1] / 2
    if f_hi <= f_lo * 1.3:
        return {}
    centers = f_lo * 2 ** (np.arange(0, math.log2(f_hi / f_lo), 1 / 3))
    df = sr / nfft

    def band_powers(h, fcs):
        P = np.abs(_rfft(np.ascontiguousarray(h[:, :m]), nfft)) ** 2
        c = np.concatenate([np.zeros((P.shape[0], 1)), np.cumsum(P, axis=1, dtype=np.float64)], axis=1)
        lo = np.clip(np.ceil(fcs * 2 ** (-1 / 6) / df).astype(int), 0, P.shape[1])
        hi = np.clip(np.ceil(fcs * 2 ** (1 / 6) / df).astype(int), 0, P.shape[1])
        cnt = np.maximum(hi - lo, 1)
        out = (c[:, hi] - c[:, lo]) / cnt
        out[:, hi <= lo] = np.nan
        return out

    p1 = band_powers(ir, centers)
    p1 = np.where(p1 > 0, p1, np.nan)
    levels, total = {}, np.zeros_like(p1)
    for k, h in harmonics.items():
        pk = band_powers(h, k * centers)
        pk[:, k * centers > band[1]] = 0.0               # above the band: no harmonic excited
        if not separable[k]:
            pk[:] = np.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            levels[k] = np.where(pk > 0, 10 * np.log10(pk / p1), np.nan)
        total = total + pk
    return dict(frequency_hz=centers, thd=np.sqrt(total / p1), harmonic_levels_db=levels,
                orders=sorted(harmonics), separable=separable, decay_s=decay_s, note=note)


def _periodic_deconv(ex: _Excitation, y: np.ndarray, *, method, latency, n_ir, pre, regularization_db,
                     band, max_order, check, playback_latency, name, discard_periods, **_):
    x, sr, P = ex.x, ex.sr, ex.periods
    N = len(x)
    ny = y.shape[1]
    if ny < N:
        raise ParameterError(f"{name} ({ny} samples) is shorter than one period of the excitation ({N})")
    # find the lag with a linear deconvolution of the recording by one period
    nfft = sfft.next_fast_len(ny + N, real=True)
    inv_lin = _inverse_spectrum(x, nfft, sr, band, regularization_db)
    d = sfft.irfft(sfft.rfft(y, nfft, axis=-1, workers=_workers()) * inv_lin, nfft, axis=-1, workers=_workers())
    k, crest = _peak_lag(d)
    if check:
        _check_peak(crest, name)
    e = np.sum(d * d, axis=0)
    strong = np.flatnonzero(e >= 0.25 * e[k])
    signed = np.where(strong < nfft - N, strong, strong - nfft)
    peak_signed = int(signed.min())                                    # earliest period's peak
    L, mode = _resolve_latency(latency, peak_signed, N, pre, playback_latency)
    skip = discard_periods if discard_periods is not None else (1 if P >= 2 else 0)
    first = L + skip * N
    usable = [p for p in range(skip, P) if L + (p + 1) * N <= ny and L + p * N >= 0]
    if not usable:
        raise ParameterError(f"{name} holds no complete steady-state period of the excitation "
                             f"(period {N} samples, {P} periods, latency {L}, recording {ny} samples)")
    ybar = np.mean([y[:, L + p * N: L + (p + 1) * N] for p in usable], axis=0)
    del first
    inv = _inverse_spectrum(x, N, sr, band, regularization_db)
    h = sfft.irfft(sfft.rfft(ybar, N, axis=-1, workers=_workers()) * inv, N, axis=-1, workers=_workers())
    harm_space = 0
    if method == "inverse" and ex.kind == "exponential" and max_order >= 2:
        assert ex.sweep is not None  # kind "exponential" comes only from a Sweep
        harm_space = int(math.ceil(cast(float, ex.sweep.rate_s) * math.log(max_order + 1) * sr))
    if n_ir is None:
        n_ir = N - harm_space if harm_space else N
    n_ir = min(n_ir, N)
    ir = h[:, :n_ir]
    extras = dict(latency_samples=L, latency_mode=mode, peak_to_rms_db=round(crest, 1),
                  periods_averaged=len(usable))
    if harm_space:
        extras["harmonics"] = _harmonic_windows(h, ex, 0, n_ir, pre, max_order)
    return ir, extras


def _mls_deconv(ex, y, **kw):
    kw = dict(kw, regularization_db=-200.0, band=(0.0, ex.sr / 2), method="mls")
    return _periodic_deconv(ex, y, **kw)


def _h1(ex: _Excitation, y: np.ndarray, *, latency, n_ir, pre, regularization_db, band, check,
        playback_latency, name, frame_samples, **_):
    """Welch cross-spectral H1 estimate (Welch 1967)."""
    x, sr = ex.x, ex.sr
    nx, ny = len(x), y.shape[1]
    if ny < nx:
        raise ParameterError(f"the excitation ({nx} samples) is longer than {name} ({ny} samples)")
    # latency from the regularized division of the whole signals
    nfft = sfft.next_fast_len(ny + nx, real=True)
    d = sfft.irfft(sfft.rfft(y, nfft, axis=-1, workers=_workers())
                   * _inverse_spectrum(x, nfft, sr, None, -60.0), nfft, axis=-1, workers=_workers())
    k, crest = _peak_lag(d)
    if check:
        _check_peak(crest, name)
    peak_signed = k if k < nfft - nx else k - nfft
    L, mode = _resolve_latency(latency, peak_signed, int(0.5 * sr), pre, playback_latency)
    if n_ir is None:
        # from the response (the regularized division above), limited to what the Welch frames
        # can hold: frames of 8x the IR inside the excitation
        cap = max(min(nx // 8, ny - max(L, 0)), 32)
        n_ir = default_ir_length(_circ(d, L, cap), sr, name=name,
                                 what="the excitation (method='h1' needs 8x the IR length)")
    nseg = frame_samples or 1 << int(math.ceil(math.log2(max(8 * n_ir, 4096))))
    # y shifted by L, x as is; pad so each frame sees the response to its x
    ys = np.zeros((y.shape[0], nx + nseg))
    src = y[:, max(L, 0): max(L, 0) + nx + nseg]
    ys[:, max(-L, 0): max(-L, 0) + src.shape[1]] = src[:, : nx + nseg - max(-L, 0)]
    hop = nseg // 2
    win = np.hanning(nseg + 2)[1:-1]
    starts = range(0, max(nx - nseg, 0) + 1, hop)
    if nx < nseg:
        raise ParameterError(f"method='h1' needs an excitation of at least {nseg} samples (8x the IR length "
                             f"of {n_ir}); pass a shorter ir_length_s or a longer excitation")
    sxx = 0.0
    sxy = 0.0
    for s in starts:
        X = sfft.rfft(x[s:s + nseg] * win)
        Y = sfft.rfft(ys[:, s:s + nseg] * win, axis=-1)
        sxx = sxx + (X.real ** 2 + X.imag ** 2)
        sxy = sxy + Y * np.conj(X)
    f = np.arange(nseg // 2 + 1) * sr / nseg
    eps = _eps(f, cast(np.ndarray, sxx), band, regularization_db if regularization_db is not None else None)
    H = sxy / np.maximum(sxx + eps, 1e-300)
    h = sfft.irfft(H, nseg, axis=-1)
    return h[:, :n_ir], dict(latency_samples=L, latency_mode=mode, peak_to_rms_db=round(crest, 1),
                             frame_samples=nseg, frames=len(starts))


def _cepstral(ex: _Excitation, y: np.ndarray, *, latency, n_ir, pre, check, playback_latency, name,
              frame_samples, phase, **_):
    """Ciba (2025) eqs. 4-10: frame-wise real-cepstrum subtraction, averaged."""
    x_full = np.tile(ex.x, ex.periods)
    sr = ex.sr
    if y.shape[1] < len(x_full):
        raise ParameterError(f"the excitation ({len(x_full)} samples) is longer than {name} ({y.shape[1]})")
    nfft = sfft.next_fast_len(y.shape[1] + len(ex.x), real=True)
    d = sfft.irfft(sfft.rfft(y, nfft, axis=-1, workers=_workers())
                   * _inverse_spectrum(ex.x, nfft, sr, ex.band, -80.0), nfft, axis=-1, workers=_workers())
    k, crest = _peak_lag(d)
    if check:
        _check_peak(crest, name)
    e = np.sum(d * d, axis=0)
    strong = np.flatnonzero(e >= 0.25 * e[k])
    signed = np.where(strong < nfft - len(ex.x), strong, strong - nfft)
    L, mode = _resolve_latency(latency, int(signed.min()), len(ex.x), 0, playback_latency)
    # align (eq. 4 context): drop the first L samples of y, or of x when L < 0; common length
    if L >= 0:
        yy, xx = y[:, L:], x_full
    else:
        yy, xx = y, x_full[-L:]
    n = min(yy.shape[1], len(xx))
    yy, xx = yy[:, :n], xx[:n]
    N = frame_samples or int(round(5 * sr))
    N += N % 2
    hop = N // 2
    n_frames = int(math.ceil(n / hop))
    tiny = np.finfo(np.float64).eps
    acc = np.zeros((y.shape[0], N))
    for i in range(n_frames):
        s = i * hop
        X = np.abs(sfft.rfft(xx[s:s + N], N))                       # eq. 5, rectangular window
        Y = np.abs(sfft.rfft(yy[:, s:s + N], N, axis=-1))
        cx = sfft.irfft(np.log(np.maximum(X, tiny)), N)              # eq. 6
        cy = sfft.irfft(np.log(np.maximum(Y, tiny)), N, axis=-1)
        ch = cy - cx                                                 # eq. 7
        if phase == "minimum":
            acc += minimum_phase_from_cepstrum(ch)
        else:                                                        # eq. 8: real part only
            acc += sfft.irfft(np.exp(sfft.rfft(ch, axis=-1).real), N, axis=-1)
    h = acc / n_frames                                               # eq. 9
    if n_ir is None:
        n_ir = hop - 1
    n_ir = min(n_ir, N)
    return h[:, :n_ir], dict(latency_samples=L, latency_mode=mode, peak_to_rms_db=round(crest, 1),
                             frame_samples=N, frames=n_frames, phase=phase)


def _complex(ex: _Excitation, pair, *, latency, n_ir, pre, check, playback_latency, name, **_):
    """Analytic method: y = y_cos + j y_sin, h = Re IFFT(Y X* / |X|^2)."""
    yc, ys = pair
    x = ex.x + 1j * cast(np.ndarray, ex.x_imag)   # the sine sweep of a complex pair
    sr, nx, ny = ex.sr, len(ex.x), yc.shape[1]
    if ny < nx:
        raise ParameterError(f"the excitation ({nx} samples) is longer than {name} ({ny} samples)")
    nfft = sfft.next_fast_len(ny + nx)
    X = sfft.fft(x, nfft)
    p = np.abs(X) ** 2
    inv = np.conj(X) / (p + p.max() * 1e-12)
    A = sfft.ifft(sfft.fft(yc, nfft, axis=-1, workers=_workers()) * inv, axis=-1, workers=_workers())
    B = sfft.ifft(sfft.fft(1j * ys, nfft, axis=-1, workers=_workers()) * inv, axis=-1, workers=_workers())
    # Interfaces often start the two takes at different latencies (500 and 800 samples gave an
    # error of -2.3 dB). Delaying the sine take by s rolls B by s, and the right s leaves the
    # least imaginary part in A + roll(B, s): the most negative cross-correlation of Im A with
    # Im B (one FFT), searched within half the excitation.
    ia, ib = np.sum(A.imag, axis=0), np.sum(B.imag, axis=0)
    cc = sfft.irfft(sfft.rfft(ia) * np.conj(sfft.rfft(ib)), nfft)
    reach = min(nx, ny) // 2
    lags = np.r_[np.arange(0, reach + 1), np.arange(-reach, 0)]
    s_best = int(lags[int(np.argmin(cc[lags % nfft]))])
    shift = -s_best                       # samples by which the sine take starts later
    if shift:
        warnings.warn(f"{name}: the sine recording starts {abs(shift)} samples "
                      f"{'later' if shift > 0 else 'earlier'} than the cosine recording (different "
                      f"interface latencies); it was aligned to the cosine one", stacklevel=4)
    d_c = A + np.roll(B, s_best, axis=-1)
    d = d_c.real
    k, crest = _peak_lag(d)
    if check:
        _check_peak(crest, name)
    peak_signed = k if k < nfft - nx else k - nfft
    hint = n_ir if n_ir is not None else max(ny - nx, int(0.1 * sr))
    L, mode = _resolve_latency(latency, peak_signed, hint, pre, playback_latency)
    if n_ir is None:
        n_ir = max(ny - max(L, 0) - nx, int(0.1 * sr))
    n_ir = min(n_ir, nfft - nx - abs(L))
    idx = (L + np.arange(n_ir)) % nfft
    ir = d[:, idx]
    im = d_c.imag[:, idx]
    ratio = float(np.sum(im * im)) / max(float(np.sum(ir * ir)), 1e-300)
    if ratio > 0.01:
        warnings.warn(f"{name}: the cosine and sine recordings do not form an analytic pair (imaginary part "
                      f"{10 * math.log10(ratio):.1f} dB re the real IR, above -20 dB): they were recorded with "
                      f"different latencies or levels, or the system changed between them; the IR is wrong. "
                      f"Record both with the same interface settings and trim them to the same start", stacklevel=4)
    return ir, dict(latency_samples=L, latency_mode=mode, peak_to_rms_db=round(crest, 1),
                    imag_to_real_db=10 * math.log10(max(ratio, 1e-300)), sine_shift_samples=shift)


# ------------------------------------------------------------------------------------------
# public
# ------------------------------------------------------------------------------------------
def measure_ir(excitation, recording, *, sample_rate=None, method="auto", latency="auto", ir_length_s=None,
               pre_delay_s=0.005, regularization_db=-80.0, band_hz=None, harmonics=5, frame_s=None,
               phase="zero", normalize=None, discard_periods=None, on_clipping="warn",
               check_correlation=True) -> ImpulseResponse:
    """Impulse response of a system from an excitation and its recording.

    Parameters
    ----------
    excitation : Sweep or Playback or np.ndarray [shape=(samples,)]
        What was played: a :class:`irforge.Sweep`, a :class:`irforge.sweeps.Playback` (then
        ``recording`` is the recording of the whole playback file and every sweep in it is
        measured and averaged), or any signal (music, noise) as a float array.
    recording : np.ndarray [shape=(samples,) or (channels, samples)] or list or dict
        What was recorded, at the excitation's sample rate:

        - one array: mono, or several microphones (a stereo pair gives a stereo IR);
        - a list of arrays: repeated takes (positions, repetitions), aligned one by one and
          averaged;
        - a dict ``{"L": rec_L, "R": rec_R}`` with the stereo recordings (2, samples) made while
          the left, then the right speaker played, or ``{"LL", "LR", "RL", "RR"}`` with four mono
          recordings (source -> microphone): a 4-channel true-stereo IR in the order
          L->L, L->R, R->L, R->R (each value may also be a list of takes);
        - for ``method="complex"``: the pair ``(recording_cos, recording_sin)`` or
          ``{"cos": ..., "sin": ...}``.
    sample_rate : float, optional
        Hz. Required for a plain-array excitation; with a Sweep it must match the sweep's rate
        (a mismatch is an error, never a silent resample).
    method : {"auto", "division", "inverse", "h1", "cepstral", "complex", "mls"}
        See the module docstring. ``"auto"``: exponential sweep -> ``"inverse"``; complex pair
        -> ``"complex"``; MLS -> ``"mls"``; linear/periodic sweep or plain array ->
        ``"division"``.
    latency : {"auto", "none", "xcorr", "marker"} or int
        Where the excitation starts in the recording. An int ``n``: at sample ``n`` (negative:
        the recording started late). ``"none"``: at sample 0 (synchronous recording; the
        system's own delay stays in the IR). ``"xcorr"``/``"marker"``: unknown interface
        latency, estimated from the correlation peak, or from the playback file's tone-burst
        marker (which picks the region; the strongest correlation peak within 20 ms of it gives
        the sample); an interface latency cannot be told apart from the system's bulk delay, so the main
        arrival is placed ``pre_delay_s`` after sample 0. ``"auto"``: the marker when the
        excitation is a Playback with one; otherwise ``"none"`` when the correlation peak lies
        within the IR window after sample 0, else ``"xcorr"``.
    ir_length_s : float, optional
        IR length. Default, for the sweep methods and "h1": from the response, up to where its
        decay meets the noise floor plus room for the floor (half the decay, at least 0.1 s),
        limited by what the recording holds after the excitation (for "h1": an eighth of the
        excitation, the Welch frames being 8x the IR); a warning when the recording ends
        before the decay does. One period for periodic signals (minus the room the harmonic
        IRs need); half a frame for "cepstral".
    pre_delay_s : float
        Kept before the main arrival when the latency is estimated.
    regularization_db : float or None
        eps(f) inside the excitation's band, in dB relative to the peak of ``|X|^2`` (outside
        the band eps is 0 dB, i.e. the estimate is strongly attenuated). None: plain division
        ``Y / X`` -- not recommended: where ``|X|`` is small (outside the swept band, at the
        fades) the recording's noise is amplified without bound, and cutting the IR to its
        window spreads that noise over the whole band.
    band_hz : (float, float), optional
        Overrides the band where the regularization is small (default: the sweep's
        ``f_start_hz..f_end_hz``; for a plain array, where its spectrum is within 60 dB of its
        peak).
    harmonics : int
        ``"inverse"`` with an exponential sweep: highest harmonic order cut out (2..K); 0 or 1
        disables. They land in ``ir.harmonics`` ({order: ImpulseResponse}) and THD versus
        frequency in ``ir.metadata["thd"]`` (third-octave bands of the input frequency;
        ``"thd"`` is a ratio, ``"harmonic_levels_db"`` per order).
    frame_s : float, optional
        Frame length for ``"h1"`` (default a power of two >= 8x the IR) and ``"cepstral"``
        (default 5 s, as published).
    phase : {"zero", "minimum"}
        ``"cepstral"`` only: the published zero-phase IR (|Y|/|X|, the causal half is returned)
        or the minimum-phase IR with the same magnitude (folded cepstrum).
    normalize : bool, optional
        Scale to a peak of 1. Default: True for ``"cepstral"`` (eq. 10 of the paper), False for
        the others (true scale: the IR of the system, in recording units per excitation unit).
    discard_periods : int, optional
        Periodic signals: leading periods skipped as pre-excitation (default 1 when there are
        two or more).
    on_clipping : {"warn", "raise", "ignore"}
        What to do with a clipped recording (flat runs at its peak); the count is in
        ``ir.metadata["clipped_samples"]``.
    check_correlation : bool
        Raise when the recording shows no correlation peak with the excitation.

    Returns
    -------
    ImpulseResponse [shape=(channels, n_ir)]
        Sample 0 is the excitation's start. ``metadata`` holds the method, the latency found
        (``latency_samples``, ``latency_mode``), the peak-to-RMS ratio of the deconvolution,
        ``acausal_energy_db`` (energy before sample 0 relative to the IR: harmonics, time
        variance), the sweep and the date. ``harmonics`` as above.

    Raises
    ------
    TypeError
        Arrays of a dtype other than float32/float64, or not arrays.
    ParameterError
        Excitation longer than the recording; a silent recording (or, with
        ``on_clipping="raise"``, a clipped one); NaN/Inf; a sample-rate mismatch; a recording
        that does not contain the excitation; an unknown method or a method that does not fit
        the excitation.

    References
    ----------
    .. [1] A. Farina, "Simultaneous measurement of impulse response and distortion with a
       swept-sine technique", 108th AES Convention, 2000.
    .. [2] A. Novak, L. Simon, P. Lotton, "Synchronized swept-sine: theory, application, and
       implementation", J. Audio Eng. Soc. 63(10), 2015.
    .. [3] S. Müller, P. Massarani, "Transfer-function measurement with sweeps", J. Audio Eng.
       Soc. 49(6), 2001.
    .. [4] O. Kirkeby, P. A. Nelson, H. Hamada, F. Orduna-Bustamante, "Fast deconvolution of
       multichannel systems using regularization", IEEE Trans. Speech Audio Process. 6(2), 1998.
    .. [5] P. D. Welch, "The use of fast Fourier transform for the estimation of power spectra",
       IEEE Trans. Audio Electroacoust. 15(2), 1967.
    .. [6] D. D. Rife, J. Vanderkooy, "Transfer-function measurement with maximum-length
       sequences", J. Audio Eng. Soc. 37(6), 1989.
    .. [7] S. Ciba, "Digital audio filter by deconvolution with frequency bin specific decayed
       impulse response", 2025, eqs. 4-10.

    Examples
    --------
    >>> import numpy as np, irforge
    >>> sw = irforge.sweeps.exponential(5, 24000, 1.0, sample_rate=48000)   # up to Nyquist
    >>> h = np.zeros(2400); h[[10, 500]] = [1.0, -0.5]
    >>> rec = np.convolve(sw.signal, h)
    >>> ir = irforge.measure_ir(sw, rec)
    >>> round(float(ir.data[0, 10]), 2), round(float(ir.data[0, 500]), 2)
    (1.0, -0.5)
    """
    ex = _parse_excitation(excitation, sample_rate)
    sr = ex.sr
    if not isinstance(method, str) or method not in METHODS:
        raise ParameterError(f"method must be one of {METHODS}, got {method!r}")
    if method == "auto":
        method = {"exponential": "inverse", "complex": "complex", "mls": "mls"}.get(ex.kind, "division")
    if method == "complex" and ex.kind != "complex":
        raise ParameterError(f"method='complex' needs the Sweep from sweeps.complex_pair(), got {ex.kind!r}")
    if ex.kind == "complex" and method != "complex":
        raise ParameterError(f"a complex pair is measured with method='complex', not {method!r}")
    if method == "mls" and ex.kind not in ("mls",):
        raise ParameterError(f"method='mls' needs the Sweep from sweeps.mls(), got {ex.kind!r}")
    if not (isinstance(latency, (int, np.integer)) and not isinstance(latency, bool)) and \
            latency not in _LATENCY_MODES:
        raise ParameterError(f"latency must be an integer or one of {_LATENCY_MODES}, got {latency!r}")
    if isinstance(latency, (int, np.integer)) and not isinstance(latency, bool) and abs(int(latency)) > 2**31:
        raise ParameterError(f"latency must be a sample count within +-2^31, got {latency!r}")
    # a latency longer than every recording cannot be right (and sizes the FFT from it)
    _max_rec = max((np.shape(r)[-1] for r in (recording if isinstance(recording, (list, tuple))
                                               else recording.values() if isinstance(recording, dict)
                                               else [recording]) if np.ndim(r) >= 1), default=0)
    if isinstance(latency, (int, np.integer)) and not isinstance(latency, bool) and abs(int(latency)) > _max_rec:
        raise ParameterError(f"latency {latency!r} samples is longer than the recording ({_max_rec} samples)")
    if latency == "marker" and (ex.playback is None or ex.playback.marker is None):
        raise ParameterError("latency='marker' needs a Playback written with marker=True as the excitation")
    if phase not in ("zero", "minimum"):
        raise ParameterError(f"phase must be 'zero' or 'minimum', got {phase!r}")
    if on_clipping not in ("warn", "raise", "ignore"):
        raise ParameterError(f"on_clipping must be 'warn', 'raise' or 'ignore', got {on_clipping!r}")
    pre = int(round(check_real(pre_delay_s, "pre_delay_s", low=0.0) * sr))
    n_ir = None
    if ir_length_s is not None:
        n_ir = int(round(check_real(ir_length_s, "ir_length_s", low=0.0) * sr))
        if n_ir < 1:
            raise ParameterError(f"ir_length_s gives no samples: {ir_length_s!r} s at {sr:g} Hz")
    if regularization_db is not None:
        check_real(regularization_db, "regularization_db", low=-300.0, high=60.0)
    band = ex.band
    if band_hz is not None:
        if not (isinstance(band_hz, (tuple, list)) and len(band_hz) == 2):
            raise ParameterError(f"band_hz must be (f_low_hz, f_high_hz), got {band_hz!r}")
        lo = check_real(band_hz[0], "band_hz[0]", low=0.0, high=sr / 2)
        hi = check_real(band_hz[1], "band_hz[1]", low=0.0, high=sr / 2)
        if hi <= lo:
            raise ParameterError(f"band_hz must be increasing, got {band_hz!r}")
        band = (lo, hi)
    max_order = int(harmonics) if harmonics is not None else 0
    frame_samples = None
    if frame_s is not None:
        frame_samples = int(round(check_real(frame_s, "frame_s", low=0.0) * sr))
        if frame_samples < 32:
            raise ParameterError(f"frame_s={frame_s!r} gives fewer than 32 samples")

    kw = dict(method=method, latency=latency, n_ir=n_ir, pre=pre, regularization_db=regularization_db,
              band=band, max_order=max_order, check=check_correlation, frame_samples=frame_samples,
              phase=phase, discard_periods=discard_periods)
    kernel: Callable[..., Any]
    if method in ("division", "inverse"):
        kernel = _periodic_deconv if ex.periods > 1 else _linear_deconv
    else:
        kernel = cast("Callable[..., Any]",  # None only for "complex", which uses no kernel
                      {"h1": _h1, "cepstral": _cepstral, "mls": _mls_deconv}.get(method))

    clipped = 0
    if method == "complex":
        if ex.playback is not None:
            raise ParameterError("complex pairs are not written as one playback file")
        yc, ys = _parse_complex(recording)
        clipped += _check_level(yc, "recording_cos", on_clipping) + _check_level(ys, "recording_sin", on_clipping)
        ir, extras = _complex(ex, (yc, ys), name="recording", playback_latency=None,
                              **{k: v for k, v in kw.items() if k in ("latency", "n_ir", "pre", "check")})
        data, harm = ir, None
        extras_all = [extras]
    else:
        layout, rec = _parse_recording(recording)
        sources = rec if layout == "true_stereo" else {"": rec}
        per_source, extras_all = {}, []
        for s, takes in sources.items():
            takes = _expand_playback(ex, takes, on_clipping) if ex.playback is not None else \
                [(t, None) for t in takes]
            irs, harms = [], []
            for i, (y, pl) in enumerate(takes):
                nm = "recording" + (f"[{s!r}]" if s else "") + (f" take {i}" if len(takes) > 1 else "")
                if ex.playback is None:
                    clipped += _check_level(y, nm, on_clipping)
                ir_i, extras = kernel(ex, y, playback_latency=pl, name=nm, **kw)
                irs.append(ir_i)
                harms.append(extras.pop("harmonics", None))
                extras_all.append(extras)
            n = min(i.shape[1] for i in irs)
            per_source[s] = (np.mean([i[:, :n] for i in irs], axis=0), _mean_harmonics(harms))
        if layout == "true_stereo":
            n = min(v[0].shape[1] for v in per_source.values())
            data = np.vstack([per_source["L"][0][:, :n], per_source["R"][0][:, :n]])
            hL, hR = per_source["L"][1], per_source["R"][1]
            harm = None
            if hL and hR:
                harm = {}
                for k in set(hL) & set(hR):
                    m = min(hL[k].shape[1], hR[k].shape[1])
                    harm[k] = np.vstack([hL[k][:, :m], hR[k][:, :m]])
        else:
            data, harm = per_source[""]
    if normalize is None:
        normalize = method == "cepstral"
    scale = 1.0
    if normalize:
        peak = float(np.max(np.abs(data)))
        scale = 1.0 / peak if peak > 0 else 1.0                     # Ciba eq. 10
        data = data * scale
    meta = dict(method=method, sample_rate=sr, excitation=repr(ex.sweep) if ex.sweep is not None else "array",
                date=time.strftime("%Y-%m-%dT%H:%M:%S%z"), clipped_samples=clipped, normalized=bool(normalize),
                takes=len(extras_all))
    for key in ("latency_samples", "latency_mode", "peak_to_rms_db", "acausal_energy_db", "periods_averaged",
                "imag_to_real_db", "sine_shift_samples", "frames", "frame_samples", "phase"):
        vals = [e[key] for e in extras_all if key in e]
        if vals:
            meta[key] = vals[0] if len(vals) == 1 or all(v == vals[0] for v in vals) else vals
    if method == "cepstral":
        meta["phase"] = phase
    out = ImpulseResponse(np.ascontiguousarray(data, dtype=np.float32), sample_rate=sr, metadata=meta)
    if harm:
        out.harmonics = {k: ImpulseResponse((h * scale).astype(np.float32), sample_rate=sr,
                                            metadata=dict(harmonic_order=k, method=method))
                         for k, h in sorted(harm.items())}
        thd = _thd(data / scale, harm, sr, band, sweep=ex.sweep)
        if thd:
            out.metadata["thd"] = thd
    return out


def _mean_harmonics(harms):
    harms = [h for h in harms if h]
    if not harms:
        return None
    keys = set(harms[0])
    for h in harms[1:]:
        keys &= set(h)
    out = {}
    for k in keys:
        m = min(h[k].shape[1] for h in harms)
        out[k] = np.mean([h[k][:, :m] for h in harms], axis=0)
    return out


class MarkerWarning(UserWarning):
    """The playback file's timing marker was not found where the sweeps are (a recording that
    starts after the tone burst, a burst lost to a gate): the sweeps' own correlation aligned it."""


def _sweep_envelope(y: np.ndarray, sweep: np.ndarray) -> np.ndarray:
    """|cross-correlation| of the recording (channels summed) with one sweep, lags 0..len(y)-1."""
    e = np.sum(y, axis=0)
    nfft = sfft.next_fast_len(len(e) + len(sweep))
    return np.abs(sfft.irfft(sfft.rfft(e, nfft) * np.conj(sfft.rfft(sweep, nfft)), nfft)[: len(e)])


def _checked_marker_offset(y: np.ndarray, pb, sr: float) -> int:
    """The recording index of the playback file's sample 0, from its marker, checked against the
    sweeps' own correlation peaks (which carry the same system latency as the marker).

    A marker that the sweeps do not confirm (the matched filter took a sweep passing the burst's
    frequency, say, because the recording starts after the burst) is replaced by the alignment of
    the first sweep found in the recording, with a :class:`MarkerWarning`; a recording in which
    neither aligns every sweep is an error."""
    c = _sweep_envelope(y, pb.sweep.signal)
    top = float(c.max())
    if not top > 10 * float(np.median(c)):
        raise ParameterError("the recording does not contain the playback file's sweeps (no correlation "
                             "peak): check that the right files are paired and record the whole playback file")
    tol = int(0.02 * sr)                      # marker and sweep arrivals: the same system latency

    def confirmed(offset: int) -> bool:
        for s0 in pb.sweep_starts:
            at = offset + s0
            if at < 0 or at >= len(c) or c[max(at - tol, 0): at + tol + 1].max() < 0.3 * top:
                return False
        return True

    try:
        offset = _marker_position(y, pb.marker) - pb.marker_start
        if confirmed(offset):
            return offset
        why = "the marker found does not line up with the sweeps"
    except ParameterError:
        why = "no marker (tone burst) was found"
    first = int(np.argmax(c > 0.5 * top))          # the first sweep's arrival
    first += int(np.argmax(c[first: first + tol + 1]))
    offset = first - pb.sweep_starts[0]
    if not confirmed(offset):
        raise ParameterError(
            f"{why}, and the sweeps' own correlation does not align every sweep of the playback "
            f"file either: record the whole playback file (marker included), or pass latency='xcorr' "
            f"with a plain sweep as the excitation")
    warnings.warn(f"{why} (does the recording start after the tone burst?): aligned by the sweeps' "
                  f"own correlation instead; record the whole playback file to use the marker",
                  MarkerWarning, stacklevel=4)
    return offset


def _expand_playback(ex: _Excitation, takes, on_clipping):
    """Recordings of a whole playback file -> one segment per sweep, with its latency."""
    pb = ex.playback
    assert pb is not None  # the only caller passes an excitation with a playback
    n_sw = len(pb.sweep.signal)
    out = []
    for ti, y in enumerate(takes):
        _check_level(y, f"recording take {ti}" if len(takes) > 1 else "recording", on_clipping)
        if pb.marker is not None:
            offset = _checked_marker_offset(y, pb, ex.sr)   # recording index of file sample 0
        else:
            offset = None
        starts = list(pb.sweep_starts) + [len(pb.signal)]
        for i, s in enumerate(pb.sweep_starts):
            seg_len = starts[i + 1] - s
            base = s + (offset if offset is not None else 0)
            lo = max(base - int(0.5 * ex.sr), 0)                    # room for a negative latency
            seg = y[:, lo: base + seg_len]
            if seg.shape[1] < n_sw:
                raise ParameterError(f"the recording ends before sweep {i} of the playback file is complete "
                                     f"(needs {base + n_sw} samples, has {y.shape[1]})")
            out.append((seg, (base - lo) if offset is not None else None))
    return out
