"""Ciba's dereverberation filter: deconvolution by a frequency-bin specific decayed IR.

:func:`dereverb` measures the recording chain's IR from a periodic sweep and its recording,
shortens that IR's decay per frequency bin and deconvolves a reverberant recording by it
(Ciba 2025, sections 2.2-2.4). :class:`Dereverb` is the same filter as a streaming,
pedalboard-style effect.

Two modes:

``"reference"``
    Numerically the published code (see ``../shared/reference/ciba-reference-behaviour.md``),
    quirks included: zero-phase cepstral IR (|Y|/|X| averaged over 5 s frames), a per-*frame*
    "T60" of the sweep recording and of the recording to filter used as the decay rate of the
    frequency bin with the same index, librosa-style STFT (2048/512) decay and resynthesis, the
    exponential taper, WOLA division with a symmetric Hann window of the IR's length, then the
    caller's post-processing (drop 10000 samples, RMS of the input, no clipping). The sweep pair
    is used at the precision it is given (float64 stays float64, as in the published functions,
    whose FFTs are float64): near Nyquist the un-faded linear sweep has |X| about 80 dB under
    the band, there |Y|/|X| is about 10^5 times its in-band value and dominates the averaged
    zero-phase IR, and float32 rounding of the excitation changes it by several percent (the
    filtered audio then correlates only 0.9985-0.9995 with the published code). Computed the
    fast way (one inverse FFT for the averaged IR since the cepstral round trip collapses to
    ``(|Y|+eps)/(|X|+eps)``; repeated excitation frames transformed once; only the 1025 STFT
    frames that ``rho`` uses; real FFTs; the per-frame threshold in the C++ core).
``"improved"``
    A better-founded design (see :func:`dereverb`): mixed-phase (H1) or minimum-phase system IR
    from the steady-state sweep frames, per-bin decay from the measured IR's per-band T30 (noise
    compensated), a target effective IR whose late decay is shortened per band, and a
    regularised (Wiener: relative floor + the measured per-bin noise of the estimate) inverse
    filter limited to the excited band, applied by the zero-latency convolution engine.

References
----------
.. [1] S. Ciba, "Digital audio filter by deconvolution with frequency bin specific decayed
       impulse response", 2025 (code: github.com/fanci90/Digital-Deconvolution-Audio-Filter-repo).
.. [2] O. Kirkeby, P. A. Nelson, "Digital filter design for inversion problems in sound
       reproduction", J. Audio Eng. Soc. 47(7/8), 1999 (regularised inversion).
.. [3] A. V. Oppenheim, R. W. Schafer, "Discrete-Time Signal Processing" (homomorphic
       deconvolution, minimum phase from the real cepstrum).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import scipy.fft as sfft
import scipy.signal as ss

from ._cepstrum import minimum_phase_from_cepstrum
from ._effect import FairLock
from ._errors import ParameterError
from ._validation import (
    as_float_array,
    check_finite,
    check_positive_int,
    check_real,
    check_sample_rate,
)
from .impulse_response import ImpulseResponse

__all__ = [
    "MODES",
    "REFERENCE_MIN_SAMPLES",
    "Dereverb",
    "DereverbResult",
    "dereverb",
    "effective_ir",
    "ir_measures",
    "signal_measures",
]

MODES = ("reference", "improved")
EPS = float(np.finfo(np.float64).eps)
_N_FFT, _HOP = 2048, 512
_N_RHO = 1025                       # the published code slices rho to 1025 entries
#: the fewest samples the sweep recording and the recording to filter need in reference mode
#: (1025 STFT frames of hop 512 with centre padding)
REFERENCE_MIN_SAMPLES = (_N_RHO - 1) * _HOP
_TRIM = 10000                       # samples the published caller drops from the output
_TAPER_RATE = 0.00025               # exp(-0.00025 j) over the last quarter of the IR
_LN1000 = math.log(1000.0)
#: a Lundeby noise floor above this (dB re the IR's peak) is taken for truncated reverberation
_NOISE_FLOOR_MAX_DB = -30.0
#: improved mode: part of the measured IR kept before its peak, seconds
_PRE_PEAK_S = 0.01
#: improved mode: the IR is kept while its 10 ms envelope is this many times the measurement noise
_NOISE_MARGIN = 4.0
#: improved mode: the inverse is designed on an FFT of >= 16 x the IR length (a -35 dB
#: regularised inverse of a mixed-phase room rings for seconds on both sides; shorter FFTs alias
#: that ringing into a flat residual floor) and keeps 4/16 of it before the modelling delay
#: and 8/16 after it
_INV_FFT_FACTOR, _INV_PRE, _INV_POST = 16, 4, 8


# ---------------------------------------------------------------------------------------------
# result
# ---------------------------------------------------------------------------------------------
@dataclass
class DereverbResult:
    """What :func:`dereverb` computed.

    Attributes
    ----------
    audio : np.ndarray [shape=(samples,) or (channels, samples)], float32
        The filtered recording after the gain step (reference: ``len(z) - 10000`` samples, the
        published caller drops the first 10000; improved: ``len(z)`` samples).
    raw : np.ndarray, float32
        The filter's output before the trim and gain (``len(z)`` samples).
    gain : float
        ``audio = gain * raw[..., trim_samples:]``.
    trim_samples : int
    system_ir : np.ndarray [shape=(n,)], float32
        The measured recording-chain IR (reference: zero-phase, peak 1, tapered, 5 s·fs/2 - 1
        samples; improved: the H1 estimate (``phase="minimum"``: minimum phase), peak 1,
        starting 10 ms before its peak).
    filter_ir : np.ndarray [shape=(n,)], float32
        The decayed IR that is deconvolved (eqs. 16-18, h'').
    inverse_ir : np.ndarray or None
        improved mode: the causal FIR actually convolved with the recording.
    t60_ratio : np.ndarray [shape=(bins,)]
        rho per frequency bin (reference: 1025 values, see the module notes; improved: the ratio
        of the target T60 to the measured T60 per bin of the 2048-point STFT, <= 1).
    decay_matrix : np.ndarray [shape=(bins, frames)]
        The factors D applied to the STFT (2048/512) of the system IR.
    frequencies_hz : np.ndarray [shape=(bins,)]
    decay_times_s : np.ndarray [shape=(frames,)]
        Time of each column of ``decay_matrix``.
    sample_rate : float
    mode : str
    latency_samples : int
        Alignment of the sweep recording found by cross-correlation (samples the recording lags).
    info : dict
        Extra diagnostics (per-frame "T60"s in reference mode, per-band T30 in improved mode).
    """

    audio: np.ndarray
    raw: np.ndarray
    gain: float
    trim_samples: int
    system_ir: np.ndarray
    filter_ir: np.ndarray
    inverse_ir: np.ndarray | None
    t60_ratio: np.ndarray
    decay_matrix: np.ndarray
    frequencies_hz: np.ndarray
    decay_times_s: np.ndarray
    sample_rate: float
    mode: str
    latency_samples: int
    info: dict = field(default_factory=dict)

    def effect(self) -> Dereverb:
        """The streaming effect applying this result's filter (see :class:`Dereverb`)."""
        return Dereverb(self)

    def plot(self, **kwargs):
        """The decay matrix, rho per bin and the IR before and after (needs ``irforge[plot]``);
        ``kwargs`` go to :func:`irforge.plotting.plot_dereverb`.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from .plotting import plot_dereverb

        return plot_dereverb(self, **kwargs)


# ---------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------
def _signal(x, name: str, sample_rate, *, allow_channels: bool,
            keep_float64: bool = False) -> tuple[np.ndarray, bool]:
    """The signal as a C-contiguous float32 array (float64 kept as float64 with
    ``keep_float64``: reference mode's sweep pair, whose values the published code uses as given)."""
    if isinstance(x, ImpulseResponse):
        if sample_rate is not None and abs(x.sample_rate - sample_rate) > 1e-9:
            raise ParameterError(f"{name} is at {x.sample_rate:g} Hz but sample_rate={sample_rate:g}; "
                                 f"resample it first (ImpulseResponse.resample)")
        arr = x.data
    else:
        arr = as_float_array(x, name)
        if keep_float64 and np.asarray(x).dtype != np.float32:
            arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[0] == 1:
        arr, was_1d = arr[0], False
    elif arr.ndim == 1:
        was_1d = True
    elif arr.ndim == 2 and allow_channels:
        was_1d = False
    else:
        raise ParameterError(f"{name} must be mono, 1-D (samples,) or (1, samples); got shape {arr.shape}")
    check_finite(arr, name)
    if arr.shape[-1] == 0:
        raise ParameterError(f"{name} is empty")
    dt = np.float64 if keep_float64 and arr.dtype == np.float64 else np.float32
    return np.ascontiguousarray(arr, dtype=dt), was_1d


def _check_common(recording, excitation, recorded_excitation, sample_rate, *, keep_float64=False):
    sr = check_sample_rate(sample_rate)
    if int(sr) != sr:
        raise ParameterError(f"sample_rate must be a whole number of Hz, got {sample_rate!r}")
    z, z1d = _signal(recording, "recording", sr, allow_channels=True)
    x, _ = _signal(excitation, "excitation", sr, allow_channels=False, keep_float64=keep_float64)
    y, _ = _signal(recorded_excitation, "recorded_excitation", sr, allow_channels=False,
                   keep_float64=keep_float64)
    if not np.any(x):
        raise ParameterError("excitation is silent (all zeros)")
    if not np.any(y):
        raise ParameterError("recorded_excitation is silent (all zeros)")
    if not np.any(z):
        raise ParameterError("recording is silent (all zeros)")
    return int(sr), z, z1d, x, y


# ---------------------------------------------------------------------------------------------
# shared fast pieces
# ---------------------------------------------------------------------------------------------
def _core_rfft_ok(n: int) -> bool:
    from . import _core

    return n & (n - 1) == 0 and 16 <= n <= (1 << 22) and hasattr(_core, "rfft")


_HANNING: dict = {}


def _hanning(N: int) -> np.ndarray:
    """numpy.hanning(N) (symmetric), cached read-only."""
    w = _HANNING.get(N)
    if w is None:
        w = np.hanning(N)
        w.flags.writeable = False
        if len(_HANNING) > 8:
            _HANNING.clear()
        _HANNING[N] = w
    return w


def _circular_inverse(Hf: np.ndarray, N: int) -> np.ndarray:
    """``irfft(1 / Hf, N)`` in float32: the kernel whose circular convolution divides by Hf."""
    inv = (1.0 / Hf).astype(np.complex64)
    if _bluestein_pays(N):
        from . import _core

        out = _core.irdft(inv, N)
        out *= np.float32(1.0 / N)
        return out
    return sfft.irfft(inv, N)


def _wola_fft_size(N: int) -> int:
    """Power-of-two FFT size of the linear convolution that realises a circular one of N."""
    return 1 << int(math.ceil(math.log2(2 * N - 1)))


def _core_wola_ok(N: int) -> bool:
    from . import _core

    return hasattr(_core, "wola_spectra") and _wola_fft_size(N) <= (1 << 22)


def _full_xcorr_exact(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``correlate(y, x, 'full')`` by FFT in float64 (index j <-> lag j - len(x) + 1)."""
    nx, ny = len(x), len(y)
    n = sfft.next_fast_len(nx + ny - 1, real=True)
    XY = sfft.rfft(np.stack([np.pad(y, (0, max(nx - ny, 0))), np.pad(x, (0, max(ny - nx, 0)))]),
                   n, axis=-1, workers=-1)
    r = sfft.irfft(XY[0] * np.conj(XY[1]), n)
    return np.concatenate([r[n - (nx - 1):], r[:ny]]) if nx > 1 else r[:ny]


def _lags_exact(y: np.ndarray, x: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Full cross-correlation values for lags lo..hi (inclusive), exact float64 sums (C++ core,
    all lags in one pass over memory)."""
    from . import _core

    dt = np.float32 if y.dtype == np.float32 and x.dtype == np.float32 else np.float64
    return _core.xcorr_lags(np.ascontiguousarray(y, dt), np.ascontiguousarray(x, dt), int(lo), int(hi))


_DECIM_TAPS = 8          # FIR taps per polyphase branch of the coarse search's decimator
_FINE_WINDOW = 2047      # +- lags searched at full rate around each coarse peak (43 ms at 48 kHz)


_DECIM_CACHE: dict = {}


def _decimate(s: np.ndarray, decim: int) -> np.ndarray:
    """Anti-aliased decimation by ``decim`` (float32): a Hann-windowed-sinc low-pass of
    ``_DECIM_TAPS * decim`` taps (cut-off 0.8 x the new Nyquist) evaluated at every
    ``decim``-th sample (C++ core). Both signals of a correlation go through the same filter,
    so lags are kept."""
    from . import _core

    f = _DECIM_CACHE.get(decim)
    if f is None:
        T = _DECIM_TAPS * decim
        t = np.arange(T) - (T - 1) / 2
        fc = 0.8 * 0.5 / decim
        f = 2 * fc * np.sinc(2 * fc * t) * np.hanning(T + 2)[1:-1]
        f = (f / f.sum()).astype(np.float32)
        _DECIM_CACHE[decim] = f
    return _core.fir_decimate(np.ascontiguousarray(s, dtype=np.float32), f, decim)


def _sum_squares(a: np.ndarray, exact: bool = True) -> float:
    """sum(a * a) without BLAS (OpenBLAS worker threads keep spinning after a call and would
    take the cores from the C++ kernels that follow): float64 sums (a float32 array's squares
    summed pairwise in float64), or with ``exact=False`` in the array's own precision (a scale:
    about 1e-4 relative for float32)."""
    a = np.asarray(a).reshape(-1)
    if not exact or a.dtype == np.float64:
        return float(np.einsum("i,i->", a, a))
    return float(np.add.reduce(np.square(a), dtype=np.float64))


def _xcorr_lag(y: np.ndarray, x: np.ndarray, *, decim: int = 16, candidates: int = 3) -> int:
    """``argmax(correlate(y, x, 'full')) - len(x) + 1``.

    Short signals: the full float64 correlation. Long ones, in three steps:

    1. the correlation of the two signals decimated by ``decim`` (anti-aliased, C++ core FFT)
       gives up to ``candidates`` coarse peaks (those within 3 % of the highest);
    2. around each, the full-rate correlation at +-``_FINE_WINDOW`` lags (block FFTs in
       float32, :func:`irforge._core.xcorr_window`): wide enough for the offset between the
       low-pass and the full-band peak (room responses arrive at different times in different
       bands);
    3. the lags within float32 round-off of the best are evaluated exactly (float64 sums,
       ``xcorr_lags``) and the best exact value wins.

    Equal to the full search unless the full-band maximum lies more than ``_FINE_WINDOW``
    samples from every coarse candidate (the signals share no content below
    ``0.4 fs / decim``, or the correlation has equal peaks far apart).
    """
    nx, ny = len(x), len(y)
    nxd, nyd = nx // decim - _DECIM_TAPS + 1, ny // decim - _DECIM_TAPS + 1
    m = 1 << int(math.ceil(math.log2(max(nxd + nyd + 2, 16))))
    if nx + ny < (1 << 18) or nxd < 2 or nyd < 2 or not _core_rfft_ok(m):
        return int(np.argmax(_full_xcorr_exact(y.astype(np.float64), x.astype(np.float64)))) - nx + 1
    from . import _core

    yd, xd = _decimate(y, decim), _decimate(x, decim)
    A = np.zeros((2, m), np.float32)
    A[0, :len(yd)] = yd
    A[1, :len(xd)] = xd
    S = _core.rfft(A)
    r = _core.irfft((S[0] * np.conj(S[1]))[None, :], m)[0]
    # coarse lags -(len(xd)-1) .. len(yd)-1
    coarse = np.concatenate([r[m - (len(xd) - 1):], r[:len(yd)]]) if len(xd) > 1 else r[:len(yd)]
    top = float(coarse.max())
    near = np.flatnonzero(coarse >= 0.97 * top)
    near = near[np.argsort(coarse[near])[::-1]]
    sep = 2 * _FINE_WINDOW // decim
    picks: list[int] = []
    for j in near:
        if len(picks) == candidates:
            break
        if all(abs(int(j) - p) > sep for p in picks):
            picks.append(int(j))
    y32 = np.ascontiguousarray(y, dtype=np.float32)
    x32 = np.ascontiguousarray(x, dtype=np.float32)
    tol = 1e-5 * math.sqrt(_sum_squares(y32, exact=False) * _sum_squares(x32, exact=False))
    best_lag, best_val = 0, -np.inf
    for pick in picks:
        lag0 = (pick - (len(xd) - 1)) * decim
        lo, hi = max(lag0 - _FINE_WINDOW, -(nx - 1)), min(lag0 + _FINE_WINDOW, ny - 1)
        cw = _core.xcorr_window(y32, x32, lo, hi)
        close = np.flatnonzero(cw >= cw.max() - tol)
        close = close[np.argsort(cw[close])[::-1][:8]]
        for k in close:
            v = float(_lags_exact(y, x, lo + int(k), lo + int(k))[0])
            if v > best_val or (v == best_val and lo + int(k) < best_lag):
                best_val, best_lag = v, lo + int(k)
    return best_lag


def _align(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    n = min(len(x), len(y))
    # float32 signals stay float32 (no copies; the exact correlation sums their products in
    # float64); anything else becomes float64
    dt = np.float32 if x.dtype == np.float32 and y.dtype == np.float32 else np.float64
    x, y = np.asarray(x[:n], dtype=dt), np.asarray(y[:n], dtype=dt)
    d = _xcorr_lag(y, x)
    if d > 0:
        y = y[d:]
    elif d < 0:
        x = x[-d:]
    return x, y, d


def _frame_matrix(s: np.ndarray, starts, n: int, dtype=np.float64, ends=None) -> np.ndarray:
    out = np.empty((len(starts), n), dtype)
    for i, st in enumerate(starts):
        seg = s[st:st + n] if ends is None else s[st:ends[i]]
        out[i, len(seg):] = 0
        out[i, :len(seg)] = seg
    return out


def _frame_magnitudes(s: np.ndarray, starts, ends, n_fft: int) -> np.ndarray:
    """|rfft| of the frames ``s[starts[i]:ends[i]]`` (cut at the end of ``s``) zero-padded to
    ``n_fft`` (float32 rows). Whole frames are read through a strided view (no frame matrix
    copy)."""
    s = np.ascontiguousarray(s, dtype=np.float32)
    out = np.empty((len(starts), n_fft // 2 + 1), np.float32)
    full = [i for i, (a, e) in enumerate(zip(starts, ends)) if e - a == n_fft and a + n_fft <= len(s)]
    if full and full == list(range(full[0], full[-1] + 1)) and len(full) > 1 \
            and len({starts[i + 1] - starts[i] for i in full[:-1]}) == 1:
        step = starts[full[1]] - starts[full[0]]
        view = np.lib.stride_tricks.as_strided(s[starts[full[0]]:], shape=(len(full), n_fft),
                                               strides=(step * s.strides[0], s.strides[0]),
                                               writeable=False)
        np.abs(sfft.rfft(view, n_fft, axis=-1, workers=-1), out=out[full[0]:full[-1] + 1])
        rest = [i for i in range(len(starts)) if i < full[0] or i > full[-1]]
    else:
        rest = list(range(len(starts)))
    if rest:
        fr = _frame_matrix(s, [starts[i] for i in rest], n_fft, np.float32, [ends[i] for i in rest])
        out[rest] = np.abs(sfft.rfft(fr, n_fft, axis=-1, workers=-1))
    return out


def _reference_system_ir(x: np.ndarray, y: np.ndarray, sr: int) -> tuple[np.ndarray, int, int]:
    """Section 1 of the published code: zero-phase cepstral IR, averaged, peak 1, cut, taper."""
    n_fft = 5 * sr
    hop = n_fft // 2
    xa, ya, d = _align(x, y)
    n_frames = int(math.ceil(len(xa) / hop))
    starts = [i * hop for i in range(n_frames)]
    ends = [min(s + n_fft, len(xa)) for s in starts]
    # the y slice uses the same [s, e) as x (e from len(x)); it may be shorter or empty.
    # Only |X| is used, so a frame of x equal to the one two hops earlier (a period of n_fft)
    # reuses its spectrum, and so does a whole frame that is a circular shift of an earlier
    # whole one (a periodic excitation: |DFT| is shift invariant; equal up to round-off).
    uniq: list[int] = []
    index = np.empty(n_frames, dtype=int)
    for i, (s, e) in enumerate(zip(starts, ends)):
        j = i - 2
        if j >= 0 and ends[j] - starts[j] == e - s and np.array_equal(xa[starts[j]:ends[j]], xa[s:e]):
            index[i] = index[j]
            continue
        for u, j in enumerate(uniq):
            if e - s == n_fft and ends[j] - starts[j] == n_fft:
                k = (s - starts[j]) % n_fft
                fi, fj = xa[s:e], xa[starts[j]:ends[j]]
                if np.array_equal(fi[:n_fft - k], fj[k:]) and np.array_equal(fi[n_fft - k:], fj[:k]):
                    index[i] = u
                    break
        else:
            index[i] = len(uniq)
            uniq.append(i)
    Xf = _frame_matrix(xa, [starts[i] for i in uniq], n_fft, np.float64, [ends[i] for i in uniq])
    Xu = np.abs(sfft.rfft(Xf, n_fft, axis=-1, workers=-1))
    np.maximum(Xu, EPS, out=Xu)
    Y = _frame_magnitudes(ya, starts, ends, n_fft)
    np.maximum(Y, np.float32(EPS), out=Y)
    # exp(Re fft(Re ifft(log(|Y|+eps)) - Re ifft(log(|X|+eps)))) == (|Y|+eps)/(|X|+eps);
    # the frames' inverse FFTs are linear, so average the spectra and invert once. Frames
    # sharing an excitation spectrum share its denominator: sum their |Y| first.
    R = np.zeros(n_fft // 2 + 1)
    for u in range(len(uniq)):
        rows = np.flatnonzero(index == u)
        if len(rows) > 2 and np.all(np.diff(rows) == rows[1] - rows[0]):
            sel = Y[rows[0]:rows[-1] + 1:rows[1] - rows[0]]      # evenly spaced rows: a view
        else:
            sel = Y[rows]
        sy = np.add.reduce(sel, axis=0, dtype=np.float64)
        sy += len(rows) * EPS
        sy /= Xu[u] + EPS
        R += sy
    # float32 inverse: h is used (and returned) as float32, whose rounding matches this one's
    h = sfft.irfft(R.astype(np.complex64), n_fft).astype(np.float64)
    h /= np.max(np.abs(h))
    h = h[:hop - 1].copy()
    k0 = int(0.75 * len(h))
    h[k0:] *= np.exp(-_TAPER_RATE * np.arange(len(h) - k0))
    return h, d, n_frames


def _frame_rolloff_bins(s: np.ndarray, n_frames: int) -> np.ndarray:
    """Per STFT frame (2048/512, centred), the first bin where the power from there up is
    below 0.001 of the frame's total (0 if none): the published per-frame "T60" index."""
    from . import _core
    from ._stft import get_window

    need = (n_frames - 1) * _HOP + _N_FFT // 2
    seg = np.ascontiguousarray(s[:need], dtype=np.float32)[None, :]
    w = get_window("hann", _N_FFT).astype(np.float32)
    if hasattr(_core, "stft_rolloff"):
        k = _core.stft_rolloff(seg, w, _HOP, True, 0.001)[0]
    else:  # pragma: no cover - older core
        from ._stft import stft
        P = np.abs(stft(seg, n_fft=_N_FFT, hop=_HOP)[0]).astype(np.float64) ** 2
        C = np.flip(np.cumsum(np.flip(P, axis=0), axis=0), axis=0)
        k = np.argmax(C < 0.001 * (C[0] + EPS), axis=0)
    return np.asarray(k[:n_frames], dtype=np.int64)


class _WolaKernel:
    """One frame of the reference filter bank: ``w * Re(ifft(fft(w * frame) / Hf))``.

    The division by Hf is a circular convolution of length N with ``g = irfft(1 / Hf, N)``;
    for speed it runs as a linear convolution on the C++ core's power-of-two FFT (size >= 2N - 1)
    folded back modulo N (same numbers up to float32 rounding). Falls back to scipy otherwise.
    """

    def __init__(self, Hf: np.ndarray, N: int):
        self.N = N
        self.w = _hanning(N)
        m = _wola_fft_size(N)
        self.core = _core_rfft_ok(m)
        if self.core:
            from . import _core

            g = _circular_inverse(Hf, N)
            gp = np.zeros((1, m), np.float32)
            gp[0, :N] = g
            self.m = m
            self.G = _core.rfft(gp)[0]
            self.w32 = self.w.astype(np.float32)
            self.ws32 = (self.w / m).astype(np.float32)
        else:
            self.Hf = Hf

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """frames (rows, N) raw input -> filtered, windowed frames (rows, N) (float32 on the
        core path, float64 otherwise)."""
        N, w = self.N, self.w
        if not self.core:
            return sfft.irfft(sfft.rfft(frames * w, N, axis=-1, workers=-1) / self.Hf, N,
                              axis=-1, workers=-1) * w
        from . import _core

        A = np.empty((frames.shape[0], self.m), np.float32)
        np.multiply(frames, self.w32, out=A[:, :N])
        A[:, N:] = 0
        S = _core.rfft(A)
        S *= self.G
        lin = _core.irfft(S, self.m)
        out = lin[:, :N]
        out[:, :N - 1] += lin[:, N:2 * N - 1]
        out *= self.ws32
        return out


def _wola_frames(N: int, L: int) -> int:
    """Frames of the published filter bank on L samples (hop int(N/2))."""
    hop2 = int(0.5 * N)
    return max((L - N + hop2) // hop2 + 1, 0)


_WOLA_AHEAD_BYTES = 64 << 20      # largest frame-spectra buffer computed ahead (~75 s at 48 kHz)


def _wola_spectra_ahead(z: np.ndarray, N: int):
    """The filter bank's frame transforms (C++ core), which do not depend on the filter: computed
    while the filter is being designed. None when the core cannot, or the buffer would exceed
    ``_WOLA_AHEAD_BYTES`` (long recordings run the one-step filter bank instead)."""
    from . import _core

    frames = _wola_frames(N, len(z))
    if not _core_wola_ok(N) or frames * _wola_fft_size(N) * 4 > _WOLA_AHEAD_BYTES:
        return None
    # one thread: it runs beside the main path, which keeps the other core busy
    return _core.wola_spectra(np.ascontiguousarray(z, dtype=np.float32), _hanning(N), int(0.5 * N), frames, 1)


def _wola_divide(z: np.ndarray, Hf: np.ndarray, N: int, kernel: _WolaKernel | None = None,
                 spectra: np.ndarray | None = None, g: np.ndarray | None = None) -> np.ndarray:
    """Section 4 steps 1-4: WOLA with a symmetric Hann of N, hop int(N/2), Z/H per frame,
    float32 accumulation, normalised by the summed squared window where above 1e-10."""
    hop2 = int(0.5 * N)
    if kernel is None and _core_wola_ok(N):
        # the whole filter bank in the C++ core: frames threaded, GIL released
        from . import _core

        g = _circular_inverse(Hf, N) if g is None else g
        if spectra is not None:
            return _core.wola_apply(spectra, len(z), _hanning(N), g, hop2)
        return _core.wola_circular(np.ascontiguousarray(z, dtype=np.float32), _hanning(N), g,
                                   hop2, _wola_frames(N, len(z)))
    kernel = kernel or _WolaKernel(Hf, N)
    w2 = kernel.w * kernel.w
    L = len(z)
    n_frames = (L - N + hop2) // hop2 + 1
    out = np.zeros(L + N, dtype=np.float32)
    norm = np.zeros(L + N)
    batch = 8
    for b0 in range(0, max(n_frames, 0), batch):
        idx = range(b0, min(n_frames, b0 + batch))
        fr = kernel(_frame_matrix(z, [i * hop2 for i in idx], N, np.float32))
        for j, i in enumerate(idx):
            s = i * hop2
            out[s:s + N] += fr[j].astype(np.float32)
            norm[s:s + N] += w2
    res = out.astype(np.float64)
    nz = norm > 1e-10
    res[nz] /= norm[nz]
    return res[:L]


def _reference_spectrum(h2: np.ndarray) -> np.ndarray:
    """rfft of the decayed IR with |Hf| < eps set to eps (the published code's guard). The
    transform runs in float32 (the filter bank is float32 anyway; the filtered audio differs
    from a float64 transform by about 1e-12 in correlation), the result is complex128."""
    h2 = np.asarray(h2, dtype=np.float32)
    Hf = (_core_rdft(h2) if _bluestein_pays(len(h2)) else sfft.rfft(h2)).astype(np.complex128)
    Hf[np.abs(Hf) < EPS] = EPS
    return Hf


def _bluestein_pays(n: int) -> bool:
    """Whether the core's any-length DFT (Bluestein, ~1.4 ms at 119999 points) beats scipy's
    (~3.1 ms there): lengths that are not 2-3-5-smooth, up to the core's FFT size."""
    from . import _core

    return hasattr(_core, "rdft") and n >= 2 and 2 * n - 1 <= (1 << 22) and \
        sfft.next_fast_len(n, real=True) != n


def _core_rdft(x: np.ndarray) -> np.ndarray:
    from . import _core

    return _core.rdft(np.ascontiguousarray(x, dtype=np.float32))


def _gain(raw: np.ndarray, z: np.ndarray, trim: int) -> float:
    """Scale to the RMS of ``z``; divide by the peak when it would exceed 1 (no clipping)."""
    out = np.asarray(raw[..., trim:], dtype=np.float64).reshape(-1)
    rms_out = math.sqrt(_sum_squares(out) / out.size) if out.size else 0.0
    if rms_out <= 0.0:
        return 1.0
    g = math.sqrt(_sum_squares(z) / np.size(z)) / rms_out
    pk = float(np.max(np.abs(out))) * g
    return g / pk if pk > 1.0 else g


# ---------------------------------------------------------------------------------------------
# reference mode
# ---------------------------------------------------------------------------------------------
def _reference(z, x, y, sr) -> DereverbResult:
    from ._stft import istft, stft

    n = min(len(x), len(y))
    x, y = x[:n], y[:n]
    if 5 * sr // 2 - 1 < _N_FFT // 2 + 1:
        raise ParameterError(f"sample_rate={sr} is too low for the reference filter")
    for name, s in (("recorded_excitation (cut to the excitation's length)", y), ("recording", z)):
        if len(s) < REFERENCE_MIN_SAMPLES:
            raise ParameterError(
                f"{name} has {len(s)} samples; mode='reference' needs at least {REFERENCE_MIN_SAMPLES} "
                f"({REFERENCE_MIN_SAMPLES / sr:.2f} s at {sr} Hz) because the published code slices its "
                f"per-frame T60 to 1025 STFT frames; use mode='improved' for shorter signals")
    # Work that does not depend on section 1 runs on a worker thread (the core releases the
    # GIL) and fills the gaps the single-threaded parts of the main path leave on the other
    # core: section 2 (per-frame "T60" = 2 k / fs, only the first 1025 frames are used) while
    # section 1 runs, then the filter bank's frame transforms of z (the filter's length is
    # known: the IR is cut to hop - 1 samples) while sections 3 and 4 design the filter.
    from concurrent.futures import ThreadPoolExecutor

    n_filter = 5 * sr // 2 - 1
    with ThreadPoolExecutor(max_workers=1) as pool:
        t60s = pool.submit(lambda: (_frame_rolloff_bins(y, _N_RHO), _frame_rolloff_bins(z, _N_RHO)))
        h, d, n_ir_frames = _reference_system_ir(x, y, sr)
        ahead = pool.submit(lambda: _wola_spectra_ahead(z, n_filter) if len(z) >= n_filter else None)
        k_y, k_z = t60s.result()
        t60_y = 2.0 * k_y / sr
        t60_z = 2.0 * k_z / sr
        rho = t60_y / (t60_z + EPS)
        # section 3: decay the STFT of h per bin (rho index k used as bin k)
        H = stft(h.astype(np.float32), n_fft=_N_FFT, hop=_HOP)
        F = H.shape[1]
        times = np.linspace(0.0, F * _HOP / sr, F)
        D = np.ones((_N_FFT // 2 + 1, F))
        nzr = rho != 0
        D[nzr] = np.exp(-times[None, :] / rho[nzr, None])
        H *= D.astype(np.float32)
        h2 = istft(H, n_fft=_N_FFT, hop=_HOP, length=len(h)).astype(np.float64)
        # section 4: WOLA division
        Hf = _reference_spectrum(h2)
        if len(z) < len(h2):
            raise ParameterError(f"recording has {len(z)} samples; it must be at least as long as the "
                                 f"filter ({len(h2)} samples)")
        g_inv = _circular_inverse(Hf, len(h2))
        spectra = ahead.result()
        raw = _wola_divide(z, Hf, len(h2), spectra=spectra if len(h2) == n_filter else None, g=g_inv)
    g = _gain(raw, z, _TRIM)
    raw32 = raw.astype(np.float32)
    audio = np.multiply(raw[_TRIM:], g, out=np.empty(len(raw) - _TRIM, np.float32), casting="same_kind")
    return DereverbResult(
        audio=audio, raw=raw32, gain=g, trim_samples=_TRIM,
        system_ir=h.astype(np.float32), filter_ir=h2.astype(np.float32), inverse_ir=None,
        t60_ratio=rho, decay_matrix=D, frequencies_hz=np.fft.rfftfreq(_N_FFT, 1.0 / sr),
        decay_times_s=times, sample_rate=float(sr), mode="reference", latency_samples=d,
        info=dict(t60_recorded_excitation_s=t60_y, t60_recording_s=t60_z, ir_frames=n_ir_frames,
                  filter_frames=(len(z) - len(h2) + int(0.5 * len(h2))) // int(0.5 * len(h2)) + 1))


# ---------------------------------------------------------------------------------------------
# improved mode
# ---------------------------------------------------------------------------------------------
def _band_t30(h: np.ndarray, sr: float) -> tuple[np.ndarray, np.ndarray, str]:
    """Per-octave-band T30 of ``h`` (ISO 3382-1, noise compensated) from irforge.analysis."""
    from .analysis import analyze

    res = analyze(h.astype(np.float32), sample_rate=sr, bands="octave")
    c = np.asarray(res.band_centers_hz, dtype=float)
    t = np.asarray(res.t30_s, dtype=float)[0]
    return c, t, "irforge.analysis.analyze (T30)"


def _per_bin(values: np.ndarray, centers: np.ndarray, freqs: np.ndarray, default: float) -> np.ndarray:
    """Interpolate per-band values to bins on a log-frequency axis; NaN bands are skipped,
    ends held; ``default`` when no band is valid."""
    ok = np.isfinite(values) & (values > 0)
    if not ok.any():
        return np.full(len(freqs), default)
    lf = np.log2(np.maximum(freqs, centers[ok][0] / 4))
    return np.interp(lf, np.log2(centers[ok]), values[ok])


def _improved_system_ir(x, y, sr, n_fft, phase):
    xa, ya, d = _align(x, y)
    hop = n_fft // 2
    n_frames = max(1, (len(xa) - n_fft) // hop + 1) if len(xa) >= n_fft else 0
    if n_frames == 0:
        raise ParameterError(f"the sweep pair has {len(xa)} aligned samples; mode='improved' needs at "
                             f"least one frame of frame_s={n_fft / sr:g} s ({n_fft} samples)")
    starts = [i * hop for i in range(n_frames)]
    if len(starts) > 1:
        # the first frame sees the room's response build up (no previous period): with a
        # periodic excitation every later frame is a steady-state, i.e. circular, convolution
        starts = starts[1:]
    Xf = _frame_matrix(xa, starts, n_fft)
    Yf = _frame_matrix(ya, starts, n_fft)
    X = sfft.rfft(Xf, axis=-1, workers=-1)
    Y = sfft.rfft(Yf, axis=-1, workers=-1)
    aX = np.abs(X)
    floor = 1e-6 * aX.max()
    # bins the excitation does not excite (more than 60 dB under its peak) carry only noise
    Sxx = np.sum(aX ** 2, axis=0)
    excited = Sxx >= 1e-6 * Sxx.max()
    if phase == "minimum":
        # average of the log-magnitude ratios (eq. 7 averaged in the cepstral domain); bins
        # outside the excited band take the nearest excited bin's value
        logr = np.mean(np.log(np.maximum(np.abs(Y), floor)) - np.log(np.maximum(aX, floor)), axis=0)
        k = np.arange(len(logr))
        logr = np.interp(k, k[excited], logr[excited])
        h = minimum_phase_from_cepstrum(sfft.irfft(logr, n_fft))
    else:
        # H1 estimate (cross- over auto-spectrum): keeps the room's phase; 0 where not excited
        Sxy = np.sum(Y * np.conj(X), axis=0)
        h = sfft.irfft(np.where(excited, Sxy / np.maximum(Sxx, 1e-300), 0.0), n_fft)
    # the band the excitation really covers (within 20 dB of its median power): the inverse
    # filter is limited to it
    k_exc = np.flatnonzero(Sxx >= 1e-2 * np.median(Sxx[excited]))
    band_hz = (k_exc[0] * sr / n_fft, k_exc[-1] * sr / n_fft)
    h, shift = _roll_to_onset(h, sr)
    return h, d + shift, n_frames, _measurement_noise_power(X, Y, excited, n_fft), band_hz


def _roll_to_onset(h: np.ndarray, sr: float) -> tuple[np.ndarray, int]:
    """Circularly shift a (circular) IR estimate so that its onset - the first sample within
    100 ms before the energy peak at -20 dB of it (ISO 3382-1) - is at index 0. Returns the IR
    and the signed shift (added to the latency). The correlation peak that aligned the sweeps
    can sit on a reflection (a signed maximum, or a later path with more energy); the filter
    then starts at the direct sound whatever lag was chosen."""
    e = h * h
    p = int(np.argmax(e))
    w = min(int(0.1 * sr), len(h) - 1)
    idx = (p - w + np.arange(w + 1)) % len(h)
    onset = int(idx[int(np.flatnonzero(e[idx] >= 1e-2 * e[p])[0])])
    shift = onset if onset <= len(h) // 2 else onset - len(h)
    return (np.roll(h, -shift) if shift else h), shift


def _measurement_noise_power(X: np.ndarray, Y: np.ndarray, excited: np.ndarray, n_fft: int):
    """Noise variance per bin of the averaged transfer-function estimate, from the spread of
    the per-frame estimates Y_k/X_k over the steady-state frames (every frame sees the same
    periodic response, so what differs between frames is noise or time variance); 0 where the
    excitation is absent. None with < 2 frames.

    The frames overlap by 50 %, so the variance of their mean is taken as twice the
    independent-frame value (conservative)."""
    K = X.shape[0]
    if K < 2:
        return None
    Xe, Ye = X[:, excited], Y[:, excited]
    Hk = Ye * np.conj(Xe) / np.maximum(np.abs(Xe) ** 2, 1e-300)
    var = np.zeros(X.shape[1])
    var[excited] = 2.0 * np.sum(np.abs(Hk - Hk.mean(axis=0)) ** 2, axis=0) / (K * (K - 1))
    return var


def _improved(z, x, y, sr, *, target_t60_s, regularization_db, frame_s, ir_length_s, phase,
              early_ms) -> DereverbResult:
    from ._decay import lundeby
    from ._stft import istft, stft
    from .convolution import convolve

    n_fft = int(round(frame_s * sr))
    n_fft += n_fft % 2
    n = min(len(x), len(y))
    h_full, d, n_frames, meas_noise, band_hz = _improved_system_ir(x[:n], y[:n], sr, n_fft, phase)
    # the pair is aligned on the IR's peak: whatever arrives before the peak (the direct sound
    # when a reflection is louder, the rise of a band-limited peak) wrapped to the end of the
    # circular estimate. Rotate it back in front, or the inverse never sees it.
    pre = min(int(round(_PRE_PEAK_S * sr)), n_fft // 8)
    h_full = np.roll(h_full, pre)
    n_ir = min(int(round(ir_length_s * sr)) + pre, n_fft)
    h = h_full[:n_ir].copy()
    peak = np.max(np.abs(h))
    if not np.isfinite(peak) or peak <= 0:
        raise ParameterError("the measured system IR is silent: check the sweep pair")
    h /= peak
    # noise-aware: cut the IR where its envelope meets the *measurement* noise floor (the
    # frame-to-frame spread of the sweep estimate). Not at the IR's own Lundeby floor: what
    # lies under that floor (the room's late tail, the noise of the chain) is still part of the
    # system the recording went through, and an inverse that never saw it leaves it in the
    # effective IR as a long low-level residual (which is what the ISO T30 then reads).
    if meas_noise is not None:
        # per-sample floor in the IR from the typical (median) excited bin: a few weakly excited
        # bins at the sweep's band edges are very noisy and are handled per bin by lambda below
        noise_var = meas_noise / peak ** 2
        noise_power = float(np.median(noise_var[noise_var > 0])) / n_fft if (noise_var > 0).any() else 0.0
        noise_source = "frame-to-frame spread of the sweep estimate"
        blk = max(1, int(0.01 * sr))
        env = np.add.reduceat(h ** 2, np.arange(0, len(h), blk)) / blk
        above = np.flatnonzero(env > _NOISE_MARGIN * noise_power)
        cut = len(h) if len(above) == 0 else min(len(h), (int(above[-1]) + 1) * blk)
        cut = max(cut, min(len(h), int(0.05 * sr)))
    else:   # one frame only: no spread to measure, fall back to the IR's own floor (Lundeby)
        noise_var, noise_source = None, "Lundeby floor of the IR (single frame)"
        try:
            lr = lundeby(h.astype(np.float32), float(sr))
            if lr.noise_db < _NOISE_FLOOR_MAX_DB:
                cut = int(min(max(lr.crossing_index, int(0.05 * sr)), len(h)))
                noise_power = float(lr.noise_power)
            else:   # a "floor" this high is late reverberation cut short, not noise: keep all
                cut, noise_power = len(h), 0.0
        except Exception:   # noqa: BLE001 - no noise floor found: keep all
            cut, noise_power = len(h), 0.0
    fade = min(cut // 4, int(0.05 * sr))
    h = h[:cut]
    if fade > 1:
        h[-fade:] *= 0.5 + 0.5 * np.cos(np.linspace(0, np.pi, fade))
    # per-band T30 of the measured IR (noise compensated) -> per bin
    centers, t30, t30_source = _band_t30(h, float(sr))
    freqs = np.fft.rfftfreq(_N_FFT, 1.0 / sr)
    fallback = float(np.nanmedian(t30)) if np.isfinite(t30).any() else 2 * target_t60_s
    t_room = _per_bin(t30, centers, freqs, fallback)
    t_room = np.maximum(t_room, 1e-3)
    t_target = np.minimum(t_room, target_t60_s)
    rho = t_target / t_room                                   # <= 1: how much shorter per bin
    alpha = _LN1000 * (1.0 / t_target - 1.0 / t_room)         # extra amplitude decay, 1/s
    # decay matrix on the STFT of the IR: early part (direct sound) untouched
    H = stft(h.astype(np.float32), n_fft=_N_FFT, hop=_HOP)
    F = H.shape[1]
    times = np.arange(F) * _HOP / sr
    t_eff = np.maximum(times - pre / sr - early_ms * 1e-3, 0.0)
    D = np.exp(-alpha[:, None] * t_eff[None, :])
    h_d = istft(H * D.astype(np.float32), n_fft=_N_FFT, hop=_HOP, length=len(h)).astype(np.float64)
    # regularised inverse: G = Hd conj(H) / (|H|^2 + lambda), lambda from a relative floor
    # (octave-smoothed |H|^2 x 10^(reg/10)) plus the measurement noise
    n_g = 1 << int(math.ceil(math.log2(_INV_FFT_FACTOR * len(h))))
    Hs = sfft.rfft(h, n_g)
    Hd = sfft.rfft(h_d, n_g)
    P = np.abs(Hs) ** 2
    f_g = np.fft.rfftfreq(n_g, 1.0 / sr)
    smooth = _octave_smooth(P, f_g)
    if noise_var is not None:   # Wiener: the noise variance of each bin of the estimate
        lam_noise = np.interp(f_g, np.fft.rfftfreq(n_fft, 1.0 / sr), noise_var) * (len(h) / n_fft)
    else:
        lam_noise = noise_power * len(h)
    lam = 10.0 ** (regularization_db / 10.0) * smooth + lam_noise
    # outside the band the sweep excites nothing is known about the system (H there is the
    # leakage of the IR's cut): a ratio of two leakage values would pass the system's content
    # there at an arbitrary gain, so the inverse is faded out at the band edges
    G = Hd * np.conj(Hs) / (P + lam) * _band_mask(f_g, *band_hz)
    g = sfft.irfft(G, n_g)
    if phase == "minimum":
        g = g[:_INV_POST * n_g // _INV_FFT_FACTOR]
        delay = 0
    else:       # acausal inverse: add a modelling delay
        delay = _INV_PRE * n_g // _INV_FFT_FACTOR
        g = np.roll(g, delay)[:(_INV_PRE + _INV_POST) * n_g // _INV_FFT_FACTOR]
    fl = min(len(g) // 8, int(0.05 * sr))
    if fl > 1:
        g[-fl:] *= 0.5 + 0.5 * np.cos(np.linspace(0, np.pi, fl))
        if delay > fl:      # the acausal start is cut too: fade it in
            g[:fl] *= 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, fl))
    raw = convolve(z, g.astype(np.float32), sample_rate=sr)[..., delay:delay + z.shape[-1]]
    raw = np.asarray(raw, dtype=np.float64)
    gn = _gain(raw, z, 0)
    return DereverbResult(
        audio=(gn * raw).astype(np.float32), raw=raw.astype(np.float32), gain=gn, trim_samples=0,
        system_ir=h.astype(np.float32), filter_ir=h_d.astype(np.float32),
        inverse_ir=g.astype(np.float32), t60_ratio=rho, decay_matrix=D, frequencies_hz=freqs,
        decay_times_s=times, sample_rate=float(sr), mode="improved", latency_samples=d,
        info=dict(band_centers_hz=centers, t30_s=t30, t30_source=t30_source, target_t60_s=target_t60_s,
                  noise_power=noise_power, noise_source=noise_source, ir_cut_samples=cut, filter_delay_samples=delay,
                  phase=phase, ir_frames=n_frames))


def _band_mask(f: np.ndarray, f_lo: float, f_hi: float, taper_oct: float = 1.0 / 6.0) -> np.ndarray:
    """1 inside [f_lo, f_hi] shrunk by ``taper_oct`` octave at each end, raised-cosine
    (log-frequency) down to 0 at ``f_lo`` and ``f_hi``, 0 outside."""
    lf = np.log2(np.maximum(f, 1e-6))
    lo = np.clip((lf - math.log2(max(f_lo, 1e-6))) / taper_oct, 0.0, 1.0)
    hi = np.clip((math.log2(max(f_hi, 1e-6)) - lf) / taper_oct, 0.0, 1.0)
    return (0.5 - 0.5 * np.cos(np.pi * lo)) * (0.5 - 0.5 * np.cos(np.pi * hi))


def _octave_smooth(P: np.ndarray, f: np.ndarray, fraction: float = 1.0) -> np.ndarray:
    """Moving average of ``P`` over a band of ``fraction`` octave around each frequency
    (cumulative-sum implementation, O(n))."""
    c = np.concatenate([[0.0], np.cumsum(P)])
    df = f[1] - f[0]
    half = 2.0 ** (fraction / 2.0)
    lo = np.clip(np.floor(f / half / df).astype(int), 0, len(P) - 1)
    hi = np.clip(np.ceil(f * half / df).astype(int) + 1, 1, len(P))
    hi = np.maximum(hi, lo + 1)
    return (c[hi] - c[lo]) / (hi - lo)


# ---------------------------------------------------------------------------------------------
# public
# ---------------------------------------------------------------------------------------------
def dereverb(recording, *, excitation, recorded_excitation, sample_rate: float,
             mode: str = "reference", target_t60_s: float = 0.1, regularization_db: float = -35.0,
             frame_s: float = 5.0, ir_length_s: float = 3.5, phase: str = "mixed",
             early_ms: float = 5.0) -> DereverbResult:
    """Filter a reverberant recording by deconvolution with a per-bin decayed system IR.

    The recording chain (loudspeaker, room, microphone) is measured from a periodic sweep
    ``excitation`` and its recording ``recorded_excitation``; the IR's decay is shortened per
    frequency bin and the recording is deconvolved by the shortened IR (Ciba 2025).

    Parameters
    ----------
    recording : np.ndarray [shape=(samples,)]
        The recording to filter (z). mode="improved" also accepts ``(channels, samples)``.
    excitation : np.ndarray [shape=(samples,)]
        The test signal played (x), e.g. 10 periods of a 5 s linear sweep.
    recorded_excitation : np.ndarray [shape=(samples,)]
        Its recording (y) through the same chain. The pair is cut to its common length
        (as the published code does); a recording of the sweep that starts late is aligned by
        cross-correlation.
    sample_rate : float
        Sample rate of all three signals in Hz (a whole number). An :class:`ImpulseResponse`
        at another rate is refused.
    mode : {"reference", "improved"}
        "reference": the published code's numbers (see the module notes; ``recording`` and
        ``recorded_excitation`` need >= 524288 samples, about 11 s at 48 kHz). "improved": see
        Notes.
    target_t60_s : float
        improved: the T60 the effective IR should have (bins that already decay faster are left).
    regularization_db : float
        improved: regularisation relative to the octave-smoothed system power spectrum, dB
        (added to the measured noise variance of each bin). -35 dB: at -20 dB the notches of
        the room's spectrum are left un-inverted and the effective IR keeps a residual with the
        room's decay at about -27 dB (which the ISO T30 then reads); much lower values make the
        inverse ring longer than its FFT.
    frame_s : float
        improved: frame length for the cepstral IR estimate, seconds (the reference uses 5 s).
    ir_length_s : float
        improved: longest system IR kept, seconds (at most ``frame_s``; it is also cut where its
        envelope meets the measurement noise floor). The part of the room's IR beyond it is not
        inverted and stays in the effective IR.
    phase : {"minimum", "mixed"}
        improved: minimum-phase IR from the averaged cepstrum (causal inverse, no latency), or
        the mixed-phase H1 estimate (keeps the room's phase; the inverse needs a modelling delay).
    early_ms : float
        improved: the decay starts this long after the IR's start (direct sound kept).

    Returns
    -------
    DereverbResult

    Raises
    ------
    ParameterError
        Unknown mode, silent/non-finite/empty signals, signals too short for the analysis,
        non-mono input in reference mode, a non-integer or non-positive sample rate, an
        :class:`ImpulseResponse` at another sample rate.
    TypeError
        Signals that are not float arrays.

    Notes
    -----
    improved mode: (1) the sweep pair is aligned and cut to common length; over 50 %-overlapped
    steady-state frames of ``frame_s`` the H1 estimate sum(Y X*)/sum(|X|^2) gives the
    mixed-phase IR (``phase="minimum"``: the log-magnitude ratio log|Y|-log|X| is averaged, the
    cepstral difference of eq. 7, and the minimum-phase IR with that magnitude is built from the
    folded cepstrum). The spread of the per-frame estimates Y_k/X_k gives the noise variance of
    every bin. The IR keeps 10 ms before its peak (the alignment wraps that part to the end of
    the circular estimate) and is cut where its 10 ms envelope meets 4x the measurement noise
    floor (with one frame only: the Lundeby floor of the IR). (2) Per octave band T30 of that IR (noise compensated), interpolated to
    every bin; the target per bin is min(T30, target_t60_s), ``t60_ratio`` = target / T30.
    (3) The decay matrix D[k, t] = exp(-ln(1000)(1/T_target - 1/T30)(t - early)) is applied to
    the STFT of the IR and resynthesised (COLA): the target effective IR h_d. (4) The filter is
    G = M H_d H* / (|H|^2 + lambda) (Wiener: lambda = the octave-smoothed |H|^2 at
    ``regularization_db`` + the bin's measurement noise variance; M fades the filter out, over
    1/6 octave, at the edges of the band the sweep excites within 20 dB of its median), designed
    on an FFT of >= 16x the IR length and kept from 4/16 of it before the modelling delay to
    8/16 after (a causal FIR for the minimum-phase IR), run by the zero-latency convolution
    engine. The mixed-phase filter is long (a 3.5 s IR at 48 kHz gives a 66 s FIR with a 22 s
    modelling delay): the regularised inverse of a room rings for seconds on both sides. The effective IR (system IR followed by the filter)
    is then h * g ~= h_d. (5) The gain matches the input's RMS and never clips.

    When a bin's T60 never falls under the threshold (reference: per-frame index 0) its rho is
    0 and the bin is left undecayed (as published); a zero T60 of the recording in the
    denominator gives a huge rho (eps guard, as published), i.e. no decay. In improved mode
    bands without a valid T30 take the neighbours' values (log-frequency interpolation, ends
    held) or, with none valid, the median; the result is always finite.

    References
    ----------
    S. Ciba, "Digital audio filter by deconvolution with frequency bin specific decayed impulse
    response", 2025. O. Kirkeby, P. A. Nelson, J. Audio Eng. Soc. 47, 1999.

    Example
    -------
    >>> import numpy as np, scipy.signal as ss
    >>> from irforge.dereverberation import dereverb
    >>> fs = 16000; t = np.arange(2 * fs) / fs
    >>> x = np.tile(ss.chirp(t, 20, 2, 7000), 4).astype(np.float32)
    >>> h = np.exp(-t[:4000] * 30) * np.random.default_rng(0).standard_normal(4000); h[0] = 4
    >>> y = ss.fftconvolve(x, h)[:len(x)].astype(np.float32)
    >>> z = ss.fftconvolve(np.random.default_rng(1).standard_normal(3 * fs), h)[:3 * fs].astype(np.float32)
    >>> r = dereverb(z, excitation=x, recorded_excitation=y, sample_rate=fs, mode="improved", frame_s=1.0)
    >>> r.audio.shape
    (48000,)
    """
    if mode not in MODES:
        raise ParameterError(f"mode must be one of {MODES}, got {mode!r}")
    # reference mode keeps a float64 sweep pair in float64: the published code computes |X| and
    # |Y| from the values it is given, and rounding the excitation to float32 moves its spectrum
    # near Nyquist (about -80 dB re the band for the un-faded linear sweep), where |Y|/|X| is
    # largest and dominates the zero-phase IR estimate (see the module notes)
    sr, z, z1d, x, y = _check_common(recording, excitation, recorded_excitation, sample_rate,
                                     keep_float64=(mode == "reference"))
    if mode == "reference":
        if z.ndim != 1:
            raise ParameterError(f"mode='reference' filters one channel; recording has shape {z.shape}")
        return _reference(z, x, y, sr)
    check_real(target_t60_s, "target_t60_s", low=1e-3, high=100.0)
    check_real(regularization_db, "regularization_db", low=-200.0, high=40.0)
    check_real(frame_s, "frame_s", low=0.01, high=60.0)
    check_real(ir_length_s, "ir_length_s", low=0.005, high=60.0)
    check_real(early_ms, "early_ms", low=0.0, high=1000.0)
    if phase not in ("minimum", "mixed"):
        raise ParameterError(f"phase must be 'minimum' or 'mixed', got {phase!r}")
    res = _improved(z, x, y, sr, target_t60_s=float(target_t60_s),
                    regularization_db=float(regularization_db), frame_s=float(frame_s),
                    ir_length_s=float(ir_length_s), phase=phase, early_ms=float(early_ms))
    if z.ndim == 2 and z1d is False and res.audio.ndim == 1:
        res.audio, res.raw = res.audio[None], res.raw[None]
    return res


def effective_ir(result: DereverbResult, system_ir, *, raw: bool = True) -> np.ndarray:
    """The system IR followed by the filter: the room as heard after dereverberation.

    improved mode: ``system_ir * inverse_ir`` (linear convolution, modelling delay removed).
    reference mode: the filter is the WOLA division (time-varying at frame boundaries), so the
    system IR is placed half a filter frame into a zero signal of 2 frames + its length, run
    through the filter bank and read back from that position.

    Parameters
    ----------
    result : DereverbResult
    system_ir : np.ndarray [shape=(samples,)]
        The (true or measured) system IR at the result's sample rate.

    Returns
    -------
    np.ndarray [shape=(samples,)], float64
    """
    h = as_float_array(system_ir, "system_ir").astype(np.float64).reshape(-1)
    check_finite(h, "system_ir")
    if result.mode == "improved":
        delay = int(result.info.get("filter_delay_samples", 0))
        inverse_ir = cast(np.ndarray, result.inverse_ir)   # set by dereverb() in improved mode
        e = ss.fftconvolve(h, inverse_ir.astype(np.float64))
        return e[delay:delay + len(h) + len(inverse_ir) // 2]
    N = len(result.filter_ir)
    off = N // 2
    sig = np.zeros(2 * N + len(h))
    sig[off:off + len(h)] = h
    out = _wola_divide(sig, _reference_spectrum(result.filter_ir.astype(np.float64)), N)
    return out[off:off + len(h) + N // 2]


# ---------------------------------------------------------------------------------------------
# streaming effect
# ---------------------------------------------------------------------------------------------
class Dereverb:
    """Streaming, pedalboard-style effect applying a :func:`dereverb` filter.

    Parameters
    ----------
    result : DereverbResult
        The designed filter (from :func:`dereverb`); its ``gain`` is applied.
    gain : float, optional
        Override the linear output gain (default ``result.gain``).

    Notes
    -----
    ``process(x, sample_rate, buffer_size=8192, reset=True)`` returns as many samples as it is
    given; with ``reset=False`` calls continue one stream, so any chunking gives the same
    output. Mono only (the filter was designed for one channel); 1-D in, 1-D out, ``(1, n)`` in,
    ``(1, n)`` out.

    - improved mode: the causal inverse FIR on the zero-latency partitioned convolution engine
      (:class:`irforge.Convolver`); ``latency_samples`` is the modelling delay (0 for the
      minimum-phase design; for the default mixed-phase design about 22 s at 48 kHz for a 3.5 s
      system IR - the regularised inverse of a room rings on both sides). Output =
      ``gain * raw`` of :func:`dereverb`, delayed by the latency.
    - reference mode: the same WOLA division (symmetric Hann of N = len(filter_ir), hop N//2,
      Z/H'' per frame, window-square normalisation), run frame by frame as input arrives.
      A frame needs N future samples, so ``latency_samples = N - 1`` (2.5 s at 48 kHz): output
      sample n is ``gain * raw[n - latency]``. The offline function has a finite number of frames;
      the stream does not end, so the last ``N // 2`` samples of a finite recording can differ
      (there the offline code normalises one frame's edge alone), and the published trim of the
      first 10000 samples is not applied.

    Example
    -------
    >>> fx = Dereverb(result)                                    # doctest: +SKIP
    >>> wet = fx.process(np.concatenate([z, np.zeros(fx.latency_samples, np.float32)]), fs)[fx.latency_samples:]  # doctest: +SKIP
    """

    def __init__(self, result: DereverbResult, *, gain: float | None = None):
        if not isinstance(result, DereverbResult):
            raise TypeError(f"result must be a DereverbResult, got {type(result).__name__}")
        self._r = result
        self._gain = float(result.gain) if gain is None else check_real(gain, "gain")
        self._sr = float(result.sample_rate)
        self._lock = FairLock()  # shared use: calls take turns in arrival order
        if result.mode == "improved":
            from .convolution import Convolver

            self._conv: Convolver | None = Convolver(result.inverse_ir, sample_rate=self._sr,
                                   gain_db=20 * math.log10(max(abs(self._gain), 1e-30)))
            self._latency = int(result.info.get("filter_delay_samples", 0))
            if self._gain < 0:
                raise ParameterError("gain must be positive")
        else:
            self._conv = None
            self._N = len(result.filter_ir)
            self._hop = self._N // 2
            self._kernel = _WolaKernel(_reference_spectrum(result.filter_ir.astype(np.float64)), self._N)
            self._w = self._kernel.w
            self._latency = self._N - 1
        self.reset()

    @property
    def latency_samples(self) -> int:
        return self._latency

    @property
    def sample_rate(self) -> float:
        return self._sr

    def reset(self) -> None:
        """Start a new stream."""
        if self._conv is not None:
            self._conv.reset()
            return
        self._inbuf = np.zeros(0)                 # input from stream index _next_frame on
        self._next_frame = 0                      # stream index of the next frame's start
        self._acc = np.zeros(self._N, np.float32)  # output accumulator from _next_frame on
        self._norm = np.zeros(self._N)
        self._pending = np.zeros(0)               # finished samples not yet returned
        self._emitted = 0                         # samples returned so far (incl. latency zeros)

    def _process_reference(self, x: np.ndarray) -> np.ndarray:
        N, hop, w = self._N, self._hop, self._w
        self._inbuf = np.concatenate([self._inbuf, x.astype(np.float32).astype(np.float64)])
        done = [self._pending]
        while len(self._inbuf) >= N:
            fr = self._kernel(self._inbuf[None, :N])[0]
            self._acc += fr.astype(np.float32)
            self._norm += w * w
            # later frames start at or after the next hop: these samples are final
            seg = self._acc[:hop].astype(np.float64)
            nrm = self._norm[:hop]
            ok = nrm > 1e-10
            seg[ok] /= nrm[ok]
            done.append(seg)
            self._acc = np.concatenate([self._acc[hop:], np.zeros(hop, np.float32)])
            self._norm = np.concatenate([self._norm[hop:], np.zeros(hop)])
            self._inbuf = self._inbuf[hop:]
            self._next_frame += hop
        pending = np.concatenate(done)
        n_out = len(x)
        out = np.zeros(n_out)
        skip = min(max(self._latency - self._emitted, 0), n_out)   # leading latency zeros
        take = n_out - skip
        out[skip:] = pending[:take]
        self._pending = pending[take:]
        self._emitted += n_out
        return out * self._gain

    def process(self, input_array, sample_rate: float, buffer_size: int = 8192,
                reset: bool = True) -> np.ndarray:
        """Run audio through the effect (see the class notes for the contract).

        Returns
        -------
        np.ndarray, float32, same shape as the input.
        """
        arr = as_float_array(input_array, "input_array")
        sr = check_sample_rate(sample_rate)
        check_positive_int(buffer_size, "buffer_size")
        if abs(sr - self._sr) > 1e-9:
            raise ParameterError(f"this filter was designed at {self._sr:g} Hz; got sample_rate={sr:g}")
        if arr.ndim == 2 and 1 in arr.shape:
            flat, shape = arr.reshape(-1), arr.shape
        elif arr.ndim == 1:
            flat, shape = arr, arr.shape
        else:
            raise ParameterError(f"Dereverb is mono: input_array must be (samples,), (1, samples) or "
                                 f"(samples, 1), got shape {arr.shape}")
        check_finite(flat, "input_array")
        with self._lock:
            if self._conv is not None:
                y = self._conv.process(flat, sr, buffer_size=buffer_size, reset=reset)
            else:
                if reset:
                    self.reset()
                y = self._process_reference(flat)
        return np.asarray(y, dtype=np.float32).reshape(shape)

    __call__ = process


# ---------------------------------------------------------------------------------------------
# the paper's evaluation measures (Table 1)
# ---------------------------------------------------------------------------------------------
_FLOOR_DB = -200.0


def _db(v: float, ref: float = 1.0, power: bool = False) -> float:
    if v <= 0 or ref <= 0:
        return _FLOOR_DB
    return max(_FLOOR_DB, (10.0 if power else 20.0) * math.log10(v / ref))


def signal_measures(audio, *, sample_rate: float, rms_window_s: float = 0.05) -> dict:
    """The signal statistics of Ciba's Table 1 for one channel.

    Parameters
    ----------
    audio : np.ndarray [shape=(samples,)]
    sample_rate : float
    rms_window_s : float
        Length of the non-overlapping frames of the frame-wise RMS, seconds.

    Returns
    -------
    dict with ``min``, ``max`` (sample values), ``peak_db`` (dBFS), ``dc_offset_db``
    (|mean| in dBFS), ``rms_min_db``, ``rms_max_db``, ``rms_avg_db`` (frame-wise RMS; the average
    is the RMS of the whole signal), all finite (digital silence reads -200 dB).
    """
    a = as_float_array(audio, "audio").astype(np.float64).reshape(-1)
    check_finite(a, "audio")
    if a.size == 0:
        raise ParameterError("audio is empty")
    sr = check_sample_rate(sample_rate)
    n = max(1, int(round(check_real(rms_window_s, "rms_window_s", low=1e-4, high=60.0) * sr)))
    k = max(1, a.size // n)
    fr = a[:k * n].reshape(k, n) if a.size >= n else a[None, :]
    rms = np.sqrt(np.mean(fr * fr, axis=1))
    return dict(min=float(a.min()), max=float(a.max()), peak_db=_db(float(np.abs(a).max())),
                dc_offset_db=_db(abs(float(a.mean()))), rms_min_db=_db(float(rms.min())),
                rms_max_db=_db(float(rms.max())), rms_avg_db=_db(math.sqrt(float(np.mean(a * a)))))


def ir_measures(ir, *, sample_rate: float) -> dict:
    """Room measures of an IR as the published evaluation code computes them.

    From the ISO 3382-1 onset (first sample within 20 dB of the peak): Schroeder EDC normalised
    to its maximum; ``edt_s`` from the first samples where the EDC reaches 0 and -10 dB,
    extrapolated to 60 dB; ``t30_s`` from a least-squares line over -5..-35 dB (NaN when the
    EDC does not reach -35 dB); ``c50_db``/``c80_db`` = 10 log10(early / late energy); ``d50`` =
    early / total energy within 50 ms; ``drr_db`` with a 5 ms direct window. No noise
    compensation (use :func:`irforge.analysis.analyze` for ISO values).

    Returns
    -------
    dict of floats (``t30_s`` may be NaN: undefined, not an error).
    """
    from ._decay import onset_index

    h = as_float_array(ir, "ir").astype(np.float64).reshape(-1)
    check_finite(h, "ir")
    sr = check_sample_rate(sample_rate)
    if not np.any(h):
        raise ParameterError("ir is silent")
    h = h[onset_index(h):]
    e = h * h
    E = float(e.sum())
    edc = np.cumsum(e[::-1])[::-1]
    edc_db = 10 * np.log10(np.maximum(edc / edc.max(), 1e-30))
    i0 = int(np.argmax(edc_db <= 0.0))
    i10 = int(np.argmax(edc_db <= -10.0))
    edt = 6.0 * (i10 - i0) / sr if edc_db[-1] <= -10 else float("nan")
    i5, i35 = int(np.argmax(edc_db <= -5)), int(np.argmax(edc_db <= -35))
    if edc_db[-1] <= -35 and i35 > i5 + 1:
        slope = np.polyfit(np.arange(i5, i35) / sr, edc_db[i5:i35], 1)[0]
        t30 = -60.0 / slope if slope < 0 else float("nan")
    else:
        t30 = float("nan")

    def ratio(ms):
        k = int(round(ms * 1e-3 * sr))
        early, late = float(e[:k].sum()), float(e[k:].sum())
        return _db(early, late, power=True) if late > 0 else -_FLOOR_DB, early / E

    c50, d50 = ratio(50)
    c80, _ = ratio(80)
    drr, _ = ratio(5)
    return dict(edt_s=edt, t30_s=t30, c50_db=c50, c80_db=c80, d50=d50, drr_db=drr)
