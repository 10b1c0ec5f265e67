"""Objective measures for comparing an audio estimate with a reference.

Used by the deconvolution and dereverberation tests and benchmarks:

- :func:`si_sdr` - scale-invariant signal-to-distortion ratio (Le Roux et al. 2019);
- :func:`log_spectral_distance` - frame-wise RMS difference of the log power spectra;
- :func:`ciba_lsd` - the level ratio that Ciba's paper calls LSD (eq. 20);
- :class:`LoudnessMeter` - ITU-R BS.1770-4 integrated loudness, fed block by block (bounded
  memory for long renders; checked against pyloudnorm in the tests).

All take ``(channels, samples)`` or 1-D arrays (float32 or float64), compute in float64, and
return a plain ``float`` in dB (averaged over channels where that applies). They never return
NaN or Inf: degenerate ratios are capped at +-``_CAP_DB``.
"""

from __future__ import annotations

import numpy as np

from ._errors import ParameterError

__all__ = ["si_sdr", "log_spectral_distance", "ciba_lsd", "LoudnessMeter"]

#: Results are clipped to [-_CAP_DB, _CAP_DB] dB so that a perfect (or empty) estimate gives a
#: finite number instead of +-Inf.
_CAP_DB = 300.0


def _as_2d64(x, name: str) -> np.ndarray:
    if isinstance(x, (list, tuple)):
        x = np.asarray(x, dtype=np.float64)
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array of float32 or float64, got {type(x).__name__}")
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} must have dtype float32 or float64, got {x.dtype}")
    if x.ndim == 1:
        x = x[None, :]
    elif x.ndim != 2:
        raise ParameterError(f"{name} must be 1-D or 2-D (channels, samples), got shape {x.shape}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ParameterError(f"{name} is empty (shape {x.shape})")
    if not np.isfinite(x).all():
        raise ParameterError(f"{name} contains NaN or Inf")
    return x.astype(np.float64, copy=False)


def _pair(estimate, reference, names=("estimate", "reference")):
    e = _as_2d64(estimate, names[0])
    r = _as_2d64(reference, names[1])
    if e.shape != r.shape:
        raise ParameterError(
            f"{names[0]} and {names[1]} must have the same shape (channels, samples); "
            f"got {np.shape(estimate)} and {np.shape(reference)}"
        )
    return e, r


def _db_ratio(num: float, den: float) -> float:
    """10*log10(num/den) capped to +-_CAP_DB; 0/0 gives 0 dB."""
    if num <= 0.0 and den <= 0.0:
        return 0.0
    if den <= 0.0:
        return _CAP_DB
    if num <= 0.0:
        return -_CAP_DB
    return float(np.clip(10.0 * np.log10(num / den), -_CAP_DB, _CAP_DB))


def si_sdr(estimate, reference) -> float:
    """Scale-invariant signal-to-distortion ratio of ``estimate`` against ``reference``.

    Both signals have their mean removed; the reference is scaled by the least-squares gain
    ``a = <s_hat, s> / <s, s>`` and ``SI-SDR = 10 log10(|a s|^2 / |s_hat - a s|^2)``. Any gain
    applied to the estimate leaves the value unchanged; a time shift does not.

    Parameters
    ----------
    estimate, reference : np.ndarray [shape=(channels, samples) or (samples,)]
        Same shape. Multichannel input is scored per channel and the dB values are averaged;
        channels whose reference is silent are skipped.

    Returns
    -------
    float
        SI-SDR in dB, clipped to +-300 dB (a bit-exact estimate gives +300).

    Raises
    ------
    ParameterError
        Shapes differ, an input is empty or non-finite, or every reference channel is silent.
    TypeError
        Not a float32/float64 array.

    References
    ----------
    J. Le Roux, S. Wisdom, H. Erdogan, J. R. Hershey, "SDR - half-baked or well done?",
    Proc. IEEE ICASSP 2019, pp. 626-630.

    Example
    -------
    >>> import numpy as np
    >>> s = np.sin(np.arange(1000) * 0.1)
    >>> round(si_sdr(0.5 * s, s), 1)
    300.0
    """
    e, r = _pair(estimate, reference)
    e = e - e.mean(axis=1, keepdims=True)
    r = r - r.mean(axis=1, keepdims=True)
    values = []
    for ec, rc in zip(e, r):
        rr = float(rc @ rc)
        if rr <= 0.0:
            continue
        a = float(ec @ rc) / rr
        target = a * rc
        err = ec - target
        values.append(_db_ratio(float(target @ target), float(err @ err)))
    if not values:
        raise ParameterError("reference is silent in every channel; SI-SDR is undefined")
    return float(np.mean(values))


def log_spectral_distance(estimate, reference, *, n_fft: int = 2048, hop: int = 512) -> float:
    """Log-spectral distance between ``estimate`` and ``reference`` in dB.

    ``LSD = mean_t sqrt(mean_k (10 log10(P_est[k, t] / P_ref[k, t]))^2)`` over STFT frames ``t``
    (Hann window ``n_fft``, hop ``hop``) and bins ``k``. Powers are floored at 1e-10 times the
    reference's largest bin power (-100 dB) so that silence does not dominate; frames where the
    reference is below that floor in every bin are left out. 0 dB means identical spectra; it is
    not scale invariant (a gain of g adds |20 log10 g| dB).

    Parameters
    ----------
    estimate, reference : np.ndarray [shape=(channels, samples) or (samples,)]
        Same shape; channels are scored separately and averaged.
    n_fft, hop : int
        STFT frame length and hop in samples.

    Returns
    -------
    float
        LSD in dB (>= 0).

    Raises
    ------
    ParameterError
        Shapes differ, empty or non-finite input, bad ``n_fft``/``hop``.

    References
    ----------
    A. Gray, J. Markel, "Distance measures for speech processing", IEEE Trans. ASSP 24(5), 1976.

    Example
    -------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal(8000)
    >>> round(log_spectral_distance(x, x), 3)
    0.0
    """
    from . import _stft

    e, r = _pair(estimate, reference)
    if isinstance(n_fft, bool) or not isinstance(n_fft, (int, np.integer)) or n_fft < 2:
        raise ParameterError(f"n_fft must be an integer >= 2, got {n_fft!r}")
    if isinstance(hop, bool) or not isinstance(hop, (int, np.integer)) or hop < 1:
        raise ParameterError(f"hop must be a positive integer, got {hop!r}")
    Pe = np.abs(_stft.stft(e, n_fft=int(n_fft), hop=int(hop))).astype(np.float64) ** 2
    Pr = np.abs(_stft.stft(r, n_fft=int(n_fft), hop=int(hop))).astype(np.float64) ** 2
    values = []
    for pe, pr in zip(Pe, Pr):
        floor = 1e-10 * float(pr.max())
        if floor <= 0.0:
            floor = 1e-30
        active = (pr > floor).any(axis=0)
        if not active.any():
            continue
        d = 10.0 * np.log10(np.maximum(pe[:, active], floor) / np.maximum(pr[:, active], floor))
        values.append(float(np.mean(np.sqrt(np.mean(d * d, axis=0)))))
    if not values:
        return 0.0 if not (Pe > 0).any() else _CAP_DB
    return float(np.mean(values))


def ciba_lsd(filtered, degraded) -> float:
    """Level ratio of a filtered signal to the degraded one, as Ciba's eq. 20 ("LSD").

    ``10 log10(Ps2 / Ps1)`` with ``Ps1``, ``Ps2`` the mean squares (means removed) of
    ``degraded`` and ``filtered``. Despite the name it is a broadband level difference, not a
    spectral distance. Lengths may differ (each mean square uses its own length); all channels
    are pooled.

    Parameters
    ----------
    filtered : np.ndarray [shape=(channels, samples) or (samples,)]
        Output of the dereverberation / deconvolution filter.
    degraded : np.ndarray [shape=(channels, samples) or (samples,)]
        The recording that was filtered.

    Returns
    -------
    float
        dB; clipped to +-300 dB, 0 dB when both are silent.

    Raises
    ------
    ParameterError
        Empty or non-finite input, or different channel counts.

    References
    ----------
    S. Ciba, "Digital audio filter by deconvolution with frequency bin specific decayed impulse
    response" (2025), eq. 20, and its published implementation (``sr_db``).

    Example
    -------
    >>> import numpy as np
    >>> z = np.random.default_rng(0).standard_normal(4800)
    >>> round(ciba_lsd(0.5 * z, z), 2)
    -6.02
    """
    f = _as_2d64(filtered, "filtered")
    z = _as_2d64(degraded, "degraded")
    if f.shape[0] != z.shape[0]:
        raise ParameterError(
            f"filtered and degraded must have the same number of channels, got {f.shape[0]} and {z.shape[0]}"
        )
    ps2 = float(np.mean((f - f.mean(axis=1, keepdims=True)) ** 2))
    ps1 = float(np.mean((z - z.mean(axis=1, keepdims=True)) ** 2))
    return _db_ratio(ps2, ps1)


# ---- loudness (ITU-R BS.1770-4), streaming -------------------------------------------------
def _k_weighting(sample_rate: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """The two biquads of the K-weighting filter at ``sample_rate``: the high shelf (+4 dB
    above ~1.7 kHz, the head) and the RLB high-pass (~38 Hz), as (b, a) pairs.

    BS.1770 tabulates them at 48 kHz only; here they come from their analogue parameters
    (gain, centre frequency, Q) by the bilinear transform with pre-warping (the audio-EQ
    cookbook forms), which reproduces the 48 kHz table to about 1e-6."""
    out = []
    # high shelf: gain 3.99984 dB, f0 1681.97 Hz, Q 0.70718
    k = np.tan(np.pi * 1681.974450955533 / sample_rate)
    vh = 10.0 ** (3.99984385397 / 20.0)
    vb = vh ** 0.4996667741545416
    q = 0.7071752369554196
    a0 = 1.0 + k / q + k * k
    b = np.array([(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0,
                  (vh - vb * k / q + k * k) / a0])
    a = np.array([1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0])
    out.append((b, a))
    # high-pass: f0 38.135 Hz, Q 0.50033
    k = np.tan(np.pi * 38.13547087602444 / sample_rate)
    q = 0.5003270373238773
    a0 = 1.0 + k / q + k * k
    out.append((np.array([1.0, -2.0, 1.0]),
                np.array([1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0])))
    return out


class LoudnessMeter:
    """Integrated loudness (ITU-R BS.1770-4, EBU R128), fed in blocks of any size.

    Parameters
    ----------
    sample_rate : float
        Hz.
    channels : int
        Channels of the blocks; channels 4 and 5 (0-based 3 and 4 of a 5-channel layout
        L, R, C, Ls, Rs) get the surround weight 1.41 when there are 5 channels, all others 1.

    Notes
    -----
    K-weighting, mean square over 400 ms gating blocks with 75 % overlap, the absolute gate
    at -70 LUFS and the relative gate at -10 LU (BS.1770-4, see References). Memory: one
    float per channel per 100 ms. :meth:`integrated` is NaN-free: a signal with no block
    above the absolute gate reads ``-inf``.

    References
    ----------
    .. [1] ITU-R BS.1770-4, "Algorithms to measure audio programme loudness and true-peak
       audio level", 2015.
    """

    def __init__(self, sample_rate: float, channels: int):
        import scipy.signal

        sections = [scipy.signal.tf2sos(b, a) for b, a in _k_weighting(float(sample_rate))]
        self._sos = np.concatenate(sections, axis=0)
        self._zi = np.zeros((self._sos.shape[0], channels, 2))
        self._seg = max(1, int(round(0.1 * sample_rate)))   # 100 ms: a quarter block
        self._acc = np.zeros(channels)
        self._fill = 0
        self._segments: list[np.ndarray] = []
        self._channels = channels
        g = np.ones(channels)
        if channels == 5:
            g[3:5] = 1.41
        self._g = g

    def add(self, block: np.ndarray) -> None:
        """Feed ``(channels, samples)`` audio (float32/64)."""
        import scipy.signal

        x = np.asarray(block, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if x.shape[0] != self._channels:
            raise ParameterError(f"LoudnessMeter for {self._channels} channel(s) got {x.shape[0]}")
        y, self._zi = scipy.signal.sosfilt(self._sos, x, axis=1, zi=self._zi)
        i = 0
        n = y.shape[1]
        while i < n:
            take = min(self._seg - self._fill, n - i)
            self._acc += np.sum(y[:, i:i + take] ** 2, axis=1)
            self._fill += take
            i += take
            if self._fill == self._seg:
                self._segments.append(self._acc.copy())
                self._acc[:] = 0.0
                self._fill = 0

    def integrated(self) -> float:
        """Integrated loudness so far, LUFS (``-inf`` when every block is below -70 LUFS)."""
        if len(self._segments) < 4:
            return float("-inf")
        s = np.asarray(self._segments)                       # (segments, channels)
        z = (s[:-3] + s[1:-2] + s[2:-1] + s[3:]) / (4 * self._seg)   # 400 ms blocks
        power = z @ self._g
        with np.errstate(divide="ignore"):
            lk = -0.691 + 10 * np.log10(power)
        keep = lk > -70.0
        if not keep.any():
            return float("-inf")
        rel = -0.691 + 10 * np.log10(np.mean(power[keep])) - 10.0
        keep &= lk > rel
        return float(-0.691 + 10 * np.log10(np.mean(power[keep])))
