"""Blind reverberation-time estimates from a reverberant signal (no impulse response needed).

:func:`blind_t60` offers three estimators:

``"ratnam"`` (default)
    Per octave band, a maximum-likelihood decay rate (Ratnam et al. 2003) fitted on the free-decay
    segments of the band's STFT powers (segments where the smoothed band level keeps falling,
    as selected by Löllmann et al. 2010); the band's T60 is the median over the segments.
``"ciba"``
    The per-bin estimate as the paper describes it (Ciba 2025, eqs. 11-15): PSD per bin,
    the fraction of each bin's energy that is still to come after every frame, the first frame
    where that fraction is under ``threshold`` (0.001).
``"ciba_code"``
    What the published code computes instead (see ../shared/reference): per *frame*, the first
    bin where the fraction of the frame's energy at or above that bin falls under 0.001, times
    2 / fs. Used by :func:`irforge.dereverberation.dereverb` in reference mode.

References
----------
.. [1] R. Ratnam, D. L. Jones, B. C. Wheeler, W. D. O'Brien, C. R. Lansing, A. S. Feng,
       "Blind estimation of reverberation time", J. Acoust. Soc. Am. 114(5), 2877-2892, 2003.
.. [2] H. W. Löllmann, E. Yilmaz, M. Jeub, P. Vary, "An improved algorithm for blind
       reverberation time estimation", Proc. IWAENC 2010.
.. [3] S. Ciba, "Digital audio filter by deconvolution with frequency bin specific decayed
       impulse response", 2025, section 2.3.1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ._errors import ParameterError
from ._validation import (
    as_float_array,
    check_finite,
    check_positive_int,
    check_real,
    check_sample_rate,
)

__all__ = ["METHODS", "BlindT60Result", "blind_t60"]

METHODS = ("ratnam", "ciba", "ciba_code")
_EPS = float(np.finfo(np.float64).eps)
_SMOOTH = 9       # frames of moving average on the band level before the decay detection
_SKIP = 2         # frames skipped at the start of each free decay
_PCT = 75.0       # percentile of the per-segment ML estimates reported for a band


@dataclass
class BlindT60Result:
    """Result of :func:`blind_t60`.

    Attributes
    ----------
    t60_s : np.ndarray [shape=(n,)]
        The estimate per band ("ratnam"), per bin ("ciba") or per frame ("ciba_code"). NaN where
        ``valid`` is False ("ratnam": no usable free decay in that band).
    frequencies_hz : np.ndarray [shape=(n,)]
        Band centres ("ratnam"), bin frequencies ("ciba"); for "ciba_code" the frequency of the
        bin found in each frame.
    valid : np.ndarray [shape=(n,), bool]
        "ciba": False where the bin never falls under the threshold before the end or has no
        energy (the value is then the signal's duration, resp. 0 - documented fallbacks, never
        NaN); "ratnam": False where the band had fewer than ``min_segments`` decay segments.
    method : str
    times_s : np.ndarray or None
        "ciba_code": the frame times.
    info : dict
        "ciba": ``frame_index`` (eq. 13) and ``t60_eq15_s`` = o * frame_index / fs, eq. 15 as
        printed (o = 1 - hop / n_fft), which is not a time in seconds for a frame count; the
        returned ``t60_s`` is the time of that frame, frame_index * hop / fs. "ratnam":
        ``segments`` per band and the per-segment estimates.
    """

    t60_s: np.ndarray
    frequencies_hz: np.ndarray
    valid: np.ndarray
    method: str
    times_s: np.ndarray | None = None
    info: dict = field(default_factory=dict)


def _spectrogram(x, sr, n_fft, hop):
    from ._stft import stft

    S = stft(x.astype(np.float32), n_fft=n_fft, hop=hop)
    return S.real.astype(np.float64) ** 2 + S.imag.astype(np.float64) ** 2


def _ciba(x, sr, n_fft, hop, threshold):
    P = _spectrogram(x, sr, n_fft, hop)                            # eq. 11
    total = P.sum(axis=1)
    # eq. 12 read as "cumulative energy per bin over frames": the share of the bin's energy
    # that is still to come after frame eta
    rest = np.cumsum(P[:, ::-1], axis=1)[:, ::-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        E = rest / total[:, None]
    below = E < threshold
    has = below.any(axis=1)
    eta = np.where(has, np.argmax(below, axis=1), P.shape[1])       # eq. 13
    silent = total <= 0
    eta = np.where(silent, 0, eta)
    o = 1.0 - hop / n_fft                                            # eq. 14
    return BlindT60Result(
        t60_s=eta * hop / sr, frequencies_hz=np.fft.rfftfreq(n_fft, 1.0 / sr),
        valid=has & ~silent, method="ciba",
        info=dict(frame_index=eta, t60_eq15_s=o * eta / sr, overlap=o, threshold=threshold))


def _ciba_code(x, sr, n_fft, hop, threshold):
    from . import _core
    from ._stft import get_window

    w = get_window("hann", n_fft).astype(np.float32)
    if hasattr(_core, "stft_rolloff") and n_fft & (n_fft - 1) == 0:
        k = _core.stft_rolloff(np.ascontiguousarray(x, np.float32)[None, :], w, hop, True,
                               float(threshold))[0].astype(np.int64)
    else:  # pragma: no cover - other sizes / older core
        P = _spectrogram(x, sr, n_fft, hop)
        C = np.cumsum(P[::-1], axis=0)[::-1]
        k = np.argmax(C < threshold * (C[0] + _EPS), axis=0)
    t = np.arange(len(k)) * hop / sr
    return BlindT60Result(t60_s=(n_fft / 2 / hop) * k / sr, frequencies_hz=k * sr / n_fft,
                          valid=k > 0, method="ciba_code", times_s=t,
                          info=dict(bin_index=k))


def _decay_segments(level_db, min_len, min_drop_db):
    """Runs of frames where the (smoothed) level keeps falling: (start, stop) pairs."""
    d = np.diff(level_db)
    falling = d < 0
    segs = []
    i, n = 0, len(falling)
    while i < n:
        if not falling[i]:
            i += 1
            continue
        j = i
        while j < n and falling[j]:
            j += 1
        # frames i .. j (inclusive) fall monotonically
        if j + 1 - i >= min_len and level_db[i] - level_db[j] >= min_drop_db:
            segs.append((i, j + 1))
        i = j + 1
    return segs


def _ml_decay(P, grid_db_per_frame):
    """Maximum-likelihood decay per segment for powers P[k, t] ~ sigma^2 a^(2t) Exp(1).

    Profile log-likelihood over sigma^2: -K M ln(mean_k,t P a^(-2t)) - 2 K ln(a) sum(t);
    evaluated on a grid of decay rates (dB per frame), returns the best rate.
    """
    K, M = P.shape
    t = np.arange(M)
    # a^(-2t) = 10^(rate * t / 10) for a rate in dB per frame (power)
    W = 10.0 ** (np.outer(grid_db_per_frame, t) / 10.0)            # (G, M)
    s2 = (W @ P.sum(axis=0)) / (K * M)
    ll = -K * M * np.log(np.maximum(s2, 1e-300)) + K * np.log(10.0) / 10.0 * grid_db_per_frame * t.sum()
    return float(grid_db_per_frame[int(np.argmax(ll))])


def _ratnam(x, sr, n_fft, hop, *, bands_hz, min_segment_s, min_drop_db, min_segments, t60_range_s):
    P = _spectrogram(x, sr, n_fft, hop)
    f = np.fft.rfftfreq(n_fft, 1.0 / sr)
    frame_rate = sr / hop
    lo_t, hi_t = t60_range_s
    # grid of decay rates (dB per frame) for T60 from lo_t to hi_t, log spaced
    t60_grid = np.geomspace(lo_t, hi_t, 200)
    grid = 60.0 / (t60_grid * frame_rate)
    min_len = max(4, int(round(min_segment_s * frame_rate)))
    out = np.full(len(bands_hz), np.nan)
    segs_per_band, ests = [], []
    for b, fc in enumerate(bands_hz):
        sel = (f >= fc / math.sqrt(2)) & (f < fc * math.sqrt(2))
        if not sel.any():
            segs_per_band.append(0)
            ests.append([])
            continue
        Pb = P[sel]
        lev = 10 * np.log10(np.maximum(Pb.sum(axis=0), 1e-30))
        sm = np.convolve(lev, np.ones(_SMOOTH) / _SMOOTH, mode="same")
        floor = np.percentile(sm, 10)
        segs = []
        for s, e in _decay_segments(sm, min_len, min_drop_db):
            # noise-aware: keep the part of the decay more than 10 dB above the floor
            above = np.flatnonzero(sm[s:e] > floor + 10.0)
            e2 = s + (int(above[-1]) + 1 if above.size else 0)
            if e2 - s >= min_len and sm[s] - sm[e2 - 1] >= min_drop_db:
                segs.append((s, e2))
        # skip the first frames of each decay: the drop right after the source stops is the
        # direct sound going, not the room's decay
        est = [60.0 / (_ml_decay(Pb[:, s + _SKIP:e], grid) * frame_rate) for s, e in segs
               if e - s - _SKIP >= 3]
        segs_per_band.append(len(segs))
        ests.append(est)
        if len(est) >= min_segments:
            out[b] = float(np.percentile(est, _PCT))
    valid = np.isfinite(out)
    return BlindT60Result(t60_s=out, frequencies_hz=np.asarray(bands_hz, float), valid=valid,
                          method="ratnam", info=dict(segments=segs_per_band, estimates=ests))


def blind_t60(signal, *, sample_rate: float, n_fft: int = 2048, hop: int = 512,
              method: str = "ratnam", threshold: float = 0.001, bands_hz=None,
              min_segment_s: float = 0.08, min_drop_db: float = 6.0, min_segments: int = 3,
              t60_range_s=(0.05, 10.0)) -> BlindT60Result:
    """Blind estimate of the reverberation time of a reverberant recording.

    Parameters
    ----------
    signal : np.ndarray [shape=(samples,)]
        A mono recording (speech or music in a room).
    sample_rate : float
        Hz.
    n_fft, hop : int
        STFT frame and hop (periodic Hann, centred frames). ``n_fft`` a power of two >= 16.
    method : {"ratnam", "ciba", "ciba_code"}
        See the module notes.
    threshold : float
        "ciba"/"ciba_code": energy fraction that counts as decayed (0.001 = -30 dB of energy, the
        paper's value).
    bands_hz : sequence of float, optional
        "ratnam": octave-band centres (default 125 Hz .. 8 kHz, those whose upper edge is below
        0.9 x Nyquist).
    min_segment_s, min_drop_db, min_segments : float, float, int
        "ratnam": shortest free-decay segment, smallest level drop over it, fewest segments a
        band needs for a value.
    t60_range_s : (float, float)
        "ratnam": search range of the ML estimate.

    Returns
    -------
    BlindT60Result

    Raises
    ------
    ParameterError
        Unknown method, empty/non-finite/multichannel signal, the signal is shorter than one
        frame, silent signal, bad sizes or thresholds, bands at or above Nyquist.
    TypeError
        ``signal`` is not a float array.

    Notes
    -----
    NaN/fallback policy: "ratnam" gives NaN (``valid`` False) for bands without enough free
    decays, never a made-up number; "ciba" never gives NaN: a bin that never falls under the
    threshold reads the signal's duration and a bin without energy reads 0, both flagged in
    ``valid``; "ciba_code" gives 0 for frames where no bin qualifies, as the published code.

    References
    ----------
    Ratnam et al., J. Acoust. Soc. Am. 114(5), 2003; Löllmann et al., IWAENC 2010; Ciba 2025.

    Example
    -------
    >>> import numpy as np
    >>> from irforge.reverberation import blind_t60
    >>> r = np.random.default_rng(0)
    >>> fs = 16000; t = np.arange(fs // 2) / fs
    >>> bursts = np.concatenate([np.r_[r.standard_normal(fs // 4), r.standard_normal(fs // 2)
    ...                          * 10 ** (-3 * t / 0.5)] for _ in range(8)])
    >>> res = blind_t60(bursts, sample_rate=fs, n_fft=512, hop=128)
    >>> bool(np.all((res.t60_s[res.valid] > 0.3) & (res.t60_s[res.valid] < 0.8)))
    True
    """
    if method not in METHODS:
        raise ParameterError(f"method must be one of {METHODS}, got {method!r}")
    sr = check_sample_rate(sample_rate)
    x = as_float_array(signal, "signal")
    if x.ndim == 2 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 1:
        raise ParameterError(f"signal must be mono (samples,), got shape {x.shape}")
    check_finite(x, "signal")
    n_fft = check_positive_int(n_fft, "n_fft")
    hop = check_positive_int(hop, "hop")
    if n_fft < 16 or n_fft & (n_fft - 1):
        raise ParameterError(f"n_fft must be a power of two >= 16, got {n_fft}")
    if hop > n_fft:
        raise ParameterError(f"hop ({hop}) must not exceed n_fft ({n_fft})")
    if x.size < n_fft:
        raise ParameterError(f"signal has {x.size} samples, shorter than one frame (n_fft={n_fft})")
    if not np.any(x):
        raise ParameterError("signal is silent (all zeros): no decay to estimate")
    threshold = check_real(threshold, "threshold", low=1e-12, high=0.5)
    x = np.ascontiguousarray(x, np.float32)
    if method == "ciba":
        return _ciba(x, sr, n_fft, hop, threshold)
    if method == "ciba_code":
        return _ciba_code(x, sr, n_fft, hop, threshold)
    if bands_hz is None:
        bands_hz = [b for b in (125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)
                    if b * math.sqrt(2) <= 0.9 * sr / 2]
    bands_hz = np.atleast_1d(np.asarray(bands_hz, dtype=float))
    if bands_hz.size == 0 or not np.all(np.isfinite(bands_hz)) or np.any(bands_hz <= 0):
        raise ParameterError(f"bands_hz must be positive finite frequencies, got {bands_hz!r}")
    if np.any(bands_hz >= sr / 2):
        raise ParameterError(f"bands_hz {bands_hz[bands_hz >= sr / 2].tolist()} are at or above Nyquist "
                             f"({sr / 2:g} Hz)")
    lo, hi = (check_real(v, "t60_range_s", low=1e-3, high=100.0) for v in t60_range_s)
    if lo >= hi:
        raise ParameterError(f"t60_range_s must be increasing, got {t60_range_s!r}")
    return _ratnam(x, sr, n_fft, hop, bands_hz=bands_hz,
                   min_segment_s=check_real(min_segment_s, "min_segment_s", low=0.0, high=10.0),
                   min_drop_db=check_real(min_drop_db, "min_drop_db", low=0.0, high=100.0),
                   min_segments=check_positive_int(min_segments, "min_segments"),
                   t60_range_s=(lo, hi))
