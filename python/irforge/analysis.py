"""Room-acoustic parameters of an impulse response (ISO 3382-1), in octave or third-octave bands.

:func:`analyze` filters the IR into IEC 61260 bands, forms each band's Schroeder energy decay
curve with Lundeby's noise compensation and evaluates EDT, T20, T30 (with fit quality and
validity flags), C50, C80, D50, the centre time Ts and the direct-to-reverberant ratio DRR.
:func:`octave_band_filter` is the filterbank on its own (real band signals).

How it is computed
------------------
1. Onset ``t0`` per channel: the first sample within 20 dB of the channel's peak (ISO 3382-1).
   The broadband values are counted from ``t0``; the samples before it are dropped.
2. Bands: Butterworth band-pass filters of order ``filter_order`` (default 14, the same design
   as pyfar's ``fractional_octave_bands``) between the exact IEC 61260-1 band edges
   ``f_m * 10**(+-0.3 / (2 b))``, ``f_m = 1000 * 10**(0.3 x / b)``, applied to the IR from
   ``t0 - direct_window_ms`` on. They are applied in the frequency domain: one FFT of the IR
   (length a power of two long enough for the slowest filter's ringing to fall 150 dB, so
   nothing wraps) times the filters' exact response. For the decay analysis each band is
   brought back as a decimated analytic signal ``z`` (an inverse FFT over only the bins the
   band occupies, above -150 dB), whose squared magnitude ``|z|**2 / 2`` is the band's energy
   envelope: the same energy as the squared band signal, without its ripple at twice the
   band's frequency, and 2-300x fewer samples. Each band's decay starts at the band's own
   onset (the same 20 dB rule on its envelope), which takes out the band filter's delay
   (up to tens of ms for the low, narrow bands; without this C50 at 63 Hz would count the
   direct sound as late). ``onset_s`` reports that start relative to ``t0``.
3. Noise floor and truncation point per band: Lundeby et al.'s iterative method
   (:func:`irforge._decay.lundeby`): noise level, late decay rate and the time ``t_i`` where
   the decay meets the noise.
4. Energy decay curve (Schroeder's backward integral) up to ``t_i`` plus Lundeby's correction
   for the energy the truncation removes, ``C = P_noise * T_late / (6 ln 10)`` (the integral
   of an exponential decay starting at the noise power ``P_noise`` with the late decay rate);
   after ``t_i`` the EDC continues as that exponential. ISO 3382-1 recommends this
   ("truncation and compensation").
5. EDT, T20, T30: least-squares line through the EDC in dB between 0 and -10, -5 and -25,
   -5 and -35 dB, ``T = -60 / slope``. ``r2`` is the squared correlation coefficient of the
   fit. Validity (``*_valid``): the decay must reach at least 10 dB below the lower end of the
   range before it meets the noise (ISO 3382-1, 5.3.3; the peak-to-noise range
   ``dynamic_range_db`` >= 20, 35, 45 dB for EDT, T20, T30) and the fit must be usable.
6. C50, C80 = ``10 log10((E(0) - E(t)) / E(t))``, D50 = ``(E(0) - E(50 ms)) / E(0)`` and
   Ts = ``integral E(t) dt / E(0)`` from the noise-compensated EDC ``E``.
7. DRR: the broadband IR is split into a direct part, ``t0 +- direct_window_ms`` (default
   2.5 ms, rectangular), and the rest after it; DRR = 10 log10 of their energy ratio. In a
   band both parts are band-filtered first (energies by Parseval), so the filter's smearing
   of the direct sound does not move energy between the two.

The "broadband" values (``result.broadband``) use the unfiltered IR (all frequencies).

References
----------
.. [1] ISO 3382-1:2009, Acoustics -- Measurement of room acoustic parameters -- Part 1:
       Performance spaces. ISO 3382-2:2008, Part 2: Reverberation time in ordinary rooms.
.. [2] M. R. Schroeder, "New method of measuring reverberation time", J. Acoust. Soc. Am. 37
       (1965), 409-412.
.. [3] A. Lundeby, T. E. Vigran, H. Bietz, M. Vorländer, "Uncertainties of measurements in
       room acoustics", Acustica 81 (1995), 344-355.
.. [4] IEC 61260-1:2014, Electroacoustics -- Octave-band and fractional-octave-band filters.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, fields
from typing import cast

import numpy as np
import scipy.fft as sfft
import scipy.signal as ss

from . import _decay
from ._errors import ParameterError
from ._validation import as_audio_2d, check_positive_int, check_real, check_sample_rate

__all__ = ["DecayParameters", "RoomAcousticsResult", "analyze", "band_centers",
           "octave_band_filter"]

_G = 10.0 ** 0.3                      # IEC 61260-1 octave ratio (base 10)
_NOMINAL = {  # IEC 61260-1 / ISO 266 nominal mid-band frequencies
    1: [16, 31.5, 63, 125, 250, 500, 1000, 2000, 4000, 8000, 16000],
    3: [12.5, 16, 20, 25, 31.5, 40, 50, 63, 80, 100, 125, 160, 200, 250, 315, 400, 500, 630,
        800, 1000, 1250, 1600, 2000, 2500, 3150, 4000, 5000, 6300, 8000, 10000, 12500, 16000,
        20000],
}
_STOP_DB = 150.0                      # filter support / ringing threshold
_MIN_AFTER_ONSET_S = 0.02             # shortest IR (after the onset) analyze() accepts
_RANGES = {"edt": (0.0, -10.0), "t20": (-5.0, -25.0), "t30": (-5.0, -35.0)}
_PARAMS = ("edt_s", "t20_s", "t30_s", "c50_db", "c80_db", "d50", "ts_s", "drr_db",
           "edt_valid", "t20_valid", "t30_valid", "edt_r2", "t20_r2", "t30_r2",
           "dynamic_range_db", "noise_db", "crossing_s", "onset_s")


# ------------------------------------------------------------------------------------------
# bands and the filterbank
# ------------------------------------------------------------------------------------------
def _fractions(bands) -> int:
    if isinstance(bands, str):
        key = bands.strip().lower()
        if key in ("octave", "1/1", "oct"):
            return 1
        if key in ("third", "third-octave", "1/3"):
            return 3
    elif isinstance(bands, (int, np.integer)) and not isinstance(bands, bool) and int(bands) in (1, 3):
        return int(bands)
    raise ParameterError(f"bands must be 'octave', 'third' or None (broadband only), got {bands!r}")


def band_centers(bands="octave", *, f_min_hz: float = 63.0, f_max_hz: float = 8000.0):
    """Nominal and exact mid-band frequencies and band edges (IEC 61260-1, base 10).

    Parameters
    ----------
    bands : {"octave", "third"}
        Octave or one-third-octave bands.
    f_min_hz, f_max_hz : float
        Bands whose mid-band frequency lies in ``[f_min_hz, f_max_hz]`` (to within a quarter
        band, so that nominal values such as 63 or 8000 select their bands) are returned.

    Returns
    -------
    nominal_hz, exact_hz, lower_hz, upper_hz : np.ndarray [shape=(bands,)]
        Nominal centre (63, 125, ...), exact centre ``1000 * 10**(0.3 x / b)`` and the -3 dB
        band edges ``exact * 10**(-+0.15 / b)``.

    Raises
    ------
    ParameterError
        Unknown ``bands``; a non-positive or inverted frequency range; no band in the range.

    Examples
    --------
    >>> from irforge.analysis import band_centers
    >>> band_centers("octave", f_min_hz=125, f_max_hz=1000)[0]
    array([ 125.,  250.,  500., 1000.])
    """
    b = _fractions(bands)
    lo = check_real(f_min_hz, "f_min_hz", low=1e-3, high=1e6)
    hi = check_real(f_max_hz, "f_max_hz", low=1e-3, high=1e6)
    if hi < lo:
        raise ParameterError(f"f_max_hz ({f_max_hz!r}) must be >= f_min_hz ({f_min_hz!r})")
    half = _G ** (1.0 / (2 * b))
    x0 = math.floor(b * math.log10(lo / half / 1000.0) / 0.3) - 1
    x1 = math.ceil(b * math.log10(hi * half / 1000.0) / 0.3) + 1
    x = np.arange(x0, x1 + 1)
    exact = 1000.0 * _G ** (x / b)
    quarter = _G ** (1.0 / (4 * b))   # tolerance so that nominal values (63, 8000) work
    keep = (exact >= lo / quarter) & (exact <= hi * quarter)
    x, exact = x[keep], exact[keep]
    if x.size == 0:
        raise ParameterError(f"no {'octave' if b == 1 else 'third-octave'} band between "
                             f"{f_min_hz!r} and {f_max_hz!r} Hz")
    nominal = np.array([_nominal(e, b) for e in exact])
    return nominal, exact, exact / half, exact * half


def _nominal(exact: float, b: int) -> float:
    table = np.asarray(_NOMINAL[b], dtype=float)
    i = int(np.argmin(np.abs(np.log(table / exact))))
    if abs(math.log(table[i] / exact)) < 0.05:
        return float(table[i])
    return float(f"{exact:.3g}")


@functools.lru_cache(maxsize=64)
def _band_sos(sr: float, lower: float, upper: float, order: int) -> np.ndarray:
    return ss.butter(order, [lower / (sr / 2), upper / (sr / 2)], btype="bandpass", output="sos")


@functools.lru_cache(maxsize=256)
def _ring_samples(sr: float, lower: float, upper: float, order: int) -> int:
    """Samples until the slowest pole of the band-pass has decayed by _STOP_DB."""
    sos = _band_sos(sr, lower, upper, order)
    r = 0.0
    for a1, a2 in sos[:, 4:6]:
        r = max(r, float(np.max(np.abs(np.roots([1.0, a1, a2])))))
    r = min(r, 1.0 - 1e-12)
    return math.ceil(_STOP_DB / 20 * math.log(10) / -math.log(r)) + 1


def _magnitude_sq(f: np.ndarray, sr: float, lower: float, upper: float, order: int) -> np.ndarray:
    """|H|^2 of scipy's digital Butterworth band-pass in closed form (bilinear, prewarped)."""
    w = np.tan(np.pi * np.clip(f / sr, 1e-12, 0.5 - 1e-12))
    wl, wu = math.tan(math.pi * lower / sr), math.tan(math.pi * upper / sr)
    x = np.abs((w * w - wl * wu) / (w * (wu - wl)))
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + x ** (2 * order))


@dataclass(frozen=True)
class _Band:
    k0: int                  # first bin of the support on the N grid
    h: np.ndarray            # complex response on bins k0 .. k0 + len(h) - 1 (complex64)
    h2: np.ndarray           # |h|**2 (float32)
    m: int                   # inverse-FFT length for the decimated analytic signal


@functools.lru_cache(maxsize=16)
def _filterbank(sr: float, n_fft: int, edges: tuple, order: int) -> tuple:
    """Per band: the response on its support of the n_fft-point grid (cached)."""
    out = []
    for lower, upper in edges:
        sos = _band_sos(sr, lower, upper, order)
        k = np.arange(n_fft // 2 + 1)
        mag2 = _magnitude_sq(k * (sr / n_fft), sr, lower, upper, order)
        sup = np.flatnonzero(mag2 > 10.0 ** (-_STOP_DB / 10))
        k0, k1 = int(sup[0]), int(sup[-1]) + 1
        kk = np.arange(k0, k1)
        zi = np.exp(-2j * np.pi * kk / n_fft)
        h = np.ones(kk.size, np.complex128)
        for b0, b1, b2, _, a1, a2 in sos:
            h *= (b0 + zi * (b1 + zi * b2)) / (1.0 + zi * (a1 + zi * a2))
        h.setflags(write=False)
        out.append(_Band(k0, h.astype(np.complex64), (np.abs(h) ** 2).astype(np.float32),
                         sfft.next_fast_len(k1 - k0)))
    return tuple(out)


def _fft_len(n: int, ring: int) -> int:
    return 1 << max(4, math.ceil(math.log2(n + ring)))


def _rfft(x: np.ndarray, n_fft: int) -> np.ndarray:
    """rfft of the rows of ``x`` zero-padded to n_fft (C++ core for powers of two)."""
    from . import _core

    a = np.zeros((x.shape[0], n_fft), np.float32)
    a[:, : x.shape[1]] = x
    if 16 <= n_fft <= 1 << 22 and hasattr(_core, "rfft"):
        return _core.rfft(a)
    return sfft.rfft(a, axis=-1).astype(np.complex64)


def _irfft(X: np.ndarray, n_fft: int) -> np.ndarray:
    from . import _core

    if 16 <= n_fft <= 1 << 22 and hasattr(_core, "irfft"):
        y = _core.irfft(np.ascontiguousarray(X, dtype=np.complex64), n_fft)
        y *= 1.0 / n_fft
        return y
    return sfft.irfft(X, n_fft, axis=-1).astype(np.float32)


def _resolve_bands(bands, sr, f_min_hz, f_max_hz):
    """(nominal, exact, lower, upper) honouring the Nyquist rule of analyze()."""
    explicit = f_max_hz is not None
    nominal, exact, lower, upper = band_centers(
        bands, f_min_hz=63.0 if f_min_hz is None else f_min_hz,
        f_max_hz=8000.0 if f_max_hz is None else f_max_hz)
    above = upper >= sr / 2
    if np.any(above):
        if explicit:
            raise ParameterError(
                f"band(s) {', '.join(f'{c:g}' for c in nominal[above])} Hz reach above the "
                f"Nyquist frequency ({sr / 2:g} Hz) of sample_rate={sr:g}; lower f_max_hz "
                f"(got {f_max_hz!r})")
        nominal, exact, lower, upper = (a[~above] for a in (nominal, exact, lower, upper))
        if nominal.size == 0:
            raise ParameterError(f"no band of the default range fits below the Nyquist "
                                 f"frequency ({sr / 2:g} Hz)")
    return nominal, exact, lower, upper


def octave_band_filter(x, *, sample_rate, bands="octave", f_min_hz: float = 63.0,
                       f_max_hz: float = 8000.0, filter_order: int = 14):
    """Split a signal into octave or third-octave bands (IEC 61260-1 Butterworth band-passes).

    The filters are the causal IIR Butterworth band-passes of ``scipy.signal.butter(order,
    [f_lower, f_upper], "bandpass")`` (the design pyfar uses), applied in the frequency
    domain with one batched FFT long enough that the filters' ringing has decayed by 150 dB
    before it could wrap around: the result equals ``scipy.signal.sosfilt`` of each band to
    float32 precision.

    Parameters
    ----------
    x : np.ndarray [shape=(samples,) or (channels, samples)]
        The signal.
    sample_rate : float
        Sample rate, Hz.
    bands : {"octave", "third"}
        Band width.
    f_min_hz, f_max_hz : float
        Range of mid-band frequencies (see :func:`band_centers`). Every band must lie below
        the Nyquist frequency.
    filter_order : int
        Butterworth order of each band-pass's low-pass prototype.

    Returns
    -------
    band_signals : np.ndarray [shape=(bands, samples) or (bands, channels, samples), float32]
    centers_hz : np.ndarray [shape=(bands,)]
        Nominal mid-band frequencies.

    Raises
    ------
    ParameterError
        Bad bands or range, a band above the Nyquist frequency, bad samples.
    TypeError
        ``x`` is not a float array.

    References
    ----------
    IEC 61260-1:2014, Electroacoustics -- Octave-band and fractional-octave-band filters.

    Examples
    --------
    >>> import numpy as np
    >>> from irforge.analysis import octave_band_filter
    >>> y, fc = octave_band_filter(np.r_[1.0, np.zeros(4095)], sample_rate=48000)
    >>> y.shape, float(fc[0])
    ((8, 4096), 63.0)
    """
    arr, was_1d = as_audio_2d(x, "signal")
    sr = check_sample_rate(sample_rate)
    order = check_positive_int(filter_order, "filter_order")
    nominal, _, lower, upper = _resolve_bands(bands, sr, f_min_hz, f_max_hz)
    edges = tuple(zip(lower.tolist(), upper.tolist()))
    n = arr.shape[1]
    ring = max(_ring_samples(sr, lo, hi, order) for lo, hi in edges)
    n_fft = _fft_len(n, ring)
    X = _rfft(arr, n_fft)
    bank = _filterbank(sr, n_fft, edges, order)
    out = np.empty((len(bank), arr.shape[0], n), np.float32)
    for i, band in enumerate(bank):
        Y = np.zeros_like(X)
        Y[:, band.k0:band.k0 + band.h.size] = X[:, band.k0:band.k0 + band.h.size] * band.h
        out[i] = _irfft(Y, n_fft)[:, :n]
    return (out[:, 0] if was_1d else out), nominal


# ------------------------------------------------------------------------------------------
# one decay: EDC, noise compensation, parameters
# ------------------------------------------------------------------------------------------
@dataclass
class _Decay:
    edc: np.ndarray          # energy decay curve (s * power units), EDC[0] = total energy
    rate: float              # samples per second of edc / power
    tail_c: float            # EDC at the crossing point (compensation), 0 if none
    tail_tau: float          # energy time constant of the modelled tail (s), 0 if none
    crossing: int            # crossing index into edc (len(edc) if none)
    noise_db: float          # noise power re the peak power, dB
    dyn_db: float            # peak-to-noise range of the decay, dB
    measurable: bool         # Lundeby found a decay
    onset_s: float = 0.0     # start of this EDC re the broadband onset, s


def _decay_curve(power: np.ndarray, rate: float, interval_s: float) -> _Decay:
    """Noise-compensated Schroeder EDC of an energy envelope ``power`` sampled at ``rate``."""
    n = power.size
    peak = float(power.max()) if n else 0.0
    if peak <= 0.0:
        return _Decay(np.zeros(n), rate, 0.0, 0.0, n, math.nan, math.nan, False)
    try:
        lr = _decay.lundeby(np.sqrt(power), rate, interval_s=interval_s, noise_margin_db=10.0,
                            headroom_db=10.0, dynamic_range_db=20.0)
    except ParameterError:
        lr = None
    measurable = lr is not None and lr.reliable
    found = cast(_decay.LundebyResult, lr)   # read only where measurable, i.e. lr is not None
    cross = n
    tail_c = tau = 0.0
    if measurable:
        cross = int(min(max(found.crossing_index, 1), n))
        if found.noise_power > 0 and math.isfinite(found.t60_s):
            tau = found.t60_s / (6.0 * math.log(10.0))
            tail_c = found.noise_power * tau
    # Schroeder backward integral up to the crossing, plus the compensation.
    edc = np.empty(n)
    seg = power[:cross]
    edc[:cross] = np.cumsum(seg[::-1])[::-1] / rate + tail_c
    if cross < n:
        if tau > 0:  # exponent capped at e**-200 (keeps denormals, which are slow, out)
            edc[cross:] = tail_c * np.exp(-np.minimum(np.arange(n - cross) / (rate * tau), 200.0))
        else:
            edc[cross:] = 0.0
    if measurable and found.noise_power > 0:
        dyn = found.snr_db
        noise_db = found.noise_db
    elif measurable:  # digital silence after the decay: the range the data itself covers
        last = power[max(0, cross - max(1, int(interval_s * rate))):cross]
        end_level = float(last.mean()) if last.size else 0.0
        blk = max(1, int(interval_s * rate))
        top = float(np.max(power[: blk * max(1, min(n // blk, 4))])) if n else peak
        dyn = 10 * math.log10(top / end_level) if end_level > 0 else math.inf
        noise_db = -math.inf
    else:
        dyn = lr.snr_db if lr is not None else math.nan
        noise_db = lr.noise_db if lr is not None else math.nan
    return _Decay(edc, rate, tail_c, tau, cross, noise_db, dyn, measurable)


def _first_at_or_below(edc: np.ndarray, value: float) -> int:
    """First index with edc <= value in a non-increasing array (len(edc) if none)."""
    return int(np.searchsorted(-edc, -value, side="left"))


def _regression(edc: np.ndarray, e0: float, rate: float, upper: float, lower: float):
    """Least-squares line through the EDC in dB between ``upper`` and ``lower`` dB: (T, r2)."""
    i0 = _first_at_or_below(edc, e0 * 10.0 ** (upper / 10))
    i1 = _first_at_or_below(edc, e0 * 10.0 ** (lower / 10))
    if i1 >= edc.size or i1 - i0 < 2:
        return math.nan, math.nan
    # the EDC is smooth: at most ~4000 evenly spaced points give the same line
    step = max(1, (i1 - i0) // 4000)
    idx = np.arange(i0, i1 + 1, step)
    y = 10.0 * np.log10(np.maximum(edc[idx], 1e-300) / e0)
    t = idx / rate
    tm, ym = t.mean(), y.mean()
    dt, dy = t - tm, y - ym
    # plain reductions, not BLAS dot products (threaded BLAS stalls on a busy machine)
    sxx, sxy, syy = float(np.sum(dt * dt)), float(np.sum(dt * dy)), float(np.sum(dy * dy))
    if sxx <= 0 or sxy >= 0:
        return math.nan, math.nan
    slope = sxy / sxx
    r2 = sxy * sxy / (sxx * syy) if syy > 0 else 1.0
    return -60.0 / slope, r2


def _edc_at(d: _Decay, t_s: float) -> float:
    """EDC at time t_s (linear interpolation; the modelled tail beyond the data)."""
    x = t_s * d.rate
    n = d.edc.size
    if x <= n - 1:
        i = math.floor(x)
        f = x - i
        return float(d.edc[i] * (1 - f) + d.edc[min(i + 1, n - 1)] * f)
    if d.tail_tau > 0:
        return d.tail_c * math.exp(-(t_s - d.crossing / d.rate) / d.tail_tau)
    return 0.0


def _parameters(d: _Decay) -> dict:
    out = {}
    e0 = float(d.edc[0]) if d.edc.size else 0.0
    if e0 <= 0 or not d.measurable:
        for name in ("edt", "t20", "t30"):
            out[f"{name}_s"], out[f"{name}_r2"], out[f"{name}_valid"] = math.nan, math.nan, False
        for name in ("c50_db", "c80_db", "d50", "ts_s"):
            out[name] = math.nan
        out["dynamic_range_db"], out["noise_db"] = d.dyn_db, d.noise_db
        out["crossing_s"] = math.nan
        out["onset_s"] = d.onset_s
        return out
    for name, (upper, lower) in _RANGES.items():
        t, r2 = _regression(d.edc, e0, d.rate, upper, lower)
        valid = bool(math.isfinite(t) and d.dyn_db >= -lower + 10.0)
        out[f"{name}_s"], out[f"{name}_r2"], out[f"{name}_valid"] = t, r2, valid
    for name, te in (("c50_db", 0.05), ("c80_db", 0.08)):
        late = _edc_at(d, te)
        # undefined when the late energy is below 1e-12 of the total (120 dB: numerical
        # precision, or an extrapolated tail), e.g. a dirac or a short cabinet IR
        out[name] = 10 * math.log10((e0 - late) / late) if 1e-12 * e0 < late < e0 else math.nan
    late50 = _edc_at(d, 0.05)
    out["d50"] = (e0 - late50) / e0
    integral = float(np.sum(d.edc) - 0.5 * (d.edc[0] + d.edc[-1])) / d.rate
    if d.tail_tau > 0:
        integral += float(d.edc[-1]) * d.tail_tau
    out["ts_s"] = integral / e0
    out["dynamic_range_db"], out["noise_db"] = d.dyn_db, d.noise_db
    out["crossing_s"] = d.crossing / d.rate
    out["onset_s"] = d.onset_s
    return out


# ------------------------------------------------------------------------------------------
# results
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DecayParameters:
    """ISO 3382-1 parameters for one set of decays (all bands, or broadband).

    Every array has the same shape: ``(channels, bands)`` for the band values of
    :class:`RoomAcousticsResult`, ``(channels,)`` for its ``broadband`` view. NaN marks a
    value that is undefined (no measurable decay; the EDC never reaches the range).

    Attributes
    ----------
    edt_s, t20_s, t30_s : np.ndarray
        Early decay time and reverberation times (s) from the 0..-10, -5..-25, -5..-35 dB
        ranges of the EDC.
    edt_valid, t20_valid, t30_valid : np.ndarray of bool
        The value exists and the decay's dynamic range reaches 10 dB below the range's lower
        end (ISO 3382-1), i.e. ``dynamic_range_db`` >= 20, 35, 45 dB.
    edt_r2, t20_r2, t30_r2 : np.ndarray
        Squared correlation coefficient of the regression (1 = a perfectly straight decay;
        ISO 3382-2's non-linearity parameter is ``xi = 1000 * (1 - r2)`` per mille).
    c50_db, c80_db : np.ndarray
        Clarity: early (first 50/80 ms after the onset) to late energy, dB. NaN when the late
        energy is below 1e-12 of the total (more than 120 dB: undefined in practice).
    d50 : np.ndarray
        Definition: fraction of the energy in the first 50 ms (0..1).
    ts_s : np.ndarray
        Centre time (s after the onset).
    drr_db : np.ndarray
        Direct-to-reverberant ratio, dB (direct part: onset +- ``direct_window_ms``).
    dynamic_range_db : np.ndarray
        Peak-to-noise range of the (band) decay, dB (inf when the IR ends in digital
        silence and the decay covers the data).
    noise_db : np.ndarray
        Noise power relative to the decay's peak power, dB (-inf for digital silence).
    crossing_s : np.ndarray
        Lundeby truncation point, s after the decay's start.
    onset_s : np.ndarray
        Start of the decay re the broadband onset, s: a band's EDC starts at the band's own
        onset (first point of its energy envelope within 20 dB of its peak), which is the
        broadband onset plus the band filter's delay. 0 for broadband.
    """

    edt_s: np.ndarray
    t20_s: np.ndarray
    t30_s: np.ndarray
    c50_db: np.ndarray
    c80_db: np.ndarray
    d50: np.ndarray
    ts_s: np.ndarray
    drr_db: np.ndarray
    edt_valid: np.ndarray
    t20_valid: np.ndarray
    t30_valid: np.ndarray
    edt_r2: np.ndarray
    t20_r2: np.ndarray
    t30_r2: np.ndarray
    dynamic_range_db: np.ndarray
    noise_db: np.ndarray
    crossing_s: np.ndarray
    onset_s: np.ndarray

    def to_dict(self) -> dict:
        """The arrays as nested lists (NaN/inf as None)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}


def _jsonable(a):
    a = np.asarray(a)
    if a.dtype == bool:
        return a.tolist()
    return [_jsonable(v) for v in a] if a.ndim else (float(a) if np.isfinite(a) else None)


class RoomAcousticsResult:
    """What :func:`analyze` measured.

    Attributes
    ----------
    band_centers_hz : np.ndarray [shape=(bands,)]
        Nominal mid-band frequencies (empty for ``bands=None``).
    band_edges_hz : np.ndarray [shape=(bands, 2)]
        Exact -3 dB band edges.
    edt_s, t20_s, t30_s, c50_db, c80_db, d50, ts_s, drr_db, edt_valid, t20_valid, t30_valid,
    edt_r2, t20_r2, t30_r2, dynamic_range_db, noise_db, crossing_s : np.ndarray [shape=(channels, bands)]
        Per channel and band; see :class:`DecayParameters`. Always 2-D, also for mono input.
    broadband : DecayParameters
        The same quantities for the unfiltered IR, arrays of shape (channels,).
    onset_index : np.ndarray [shape=(channels,), int]
        ISO 3382-1 onset of each channel, samples into the input.
    sample_rate : float
        Sample rate of the analysed IR, Hz.
    bands : str or None
        "octave", "third" or None.
    edc_times_s, edc_db : see the properties.
    """

    def __init__(self, *, band_centers_hz, band_edges_hz, bands, sample_rate, onset_index,
                 band_params: DecayParameters, broadband: DecayParameters, decays):
        self.band_centers_hz = band_centers_hz
        self.band_edges_hz = band_edges_hz
        self.bands = bands
        self.sample_rate = sample_rate
        self.onset_index = onset_index
        self._band = band_params
        self.broadband = broadband
        self._decays = decays            # [channel][band or -1 for broadband] -> _Decay
        self._edc_cache = None

    def __getattr__(self, name):
        band = self.__dict__.get("_band")
        if name in _PARAMS and band is not None:
            return getattr(band, name)
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    @property
    def n_channels(self) -> int:
        return int(self.onset_index.size)

    # -- energy decay curves ---------------------------------------------------------------
    def edc(self, channel: int = 0, band=None):
        """One energy decay curve at its own resolution.

        Parameters
        ----------
        channel : int
            Channel index.
        band : float or None
            Nominal band centre in Hz (e.g. 1000), or None for broadband.

        Returns
        -------
        times_s : np.ndarray [shape=(n,)]
            Seconds after the onset.
        edc_db : np.ndarray [shape=(n,)]
            EDC in dB re its value at the onset (noise compensated; -inf after a silent end).
        """
        if band is None:
            d = self._decays[channel][-1]
        else:
            hits = np.flatnonzero(np.isclose(self.band_centers_hz, float(band)))
            if hits.size == 0:
                raise ParameterError(f"band {band!r} Hz is not one of {self.band_centers_hz.tolist()}")
            d = self._decays[channel][int(hits[0])]
        t = np.arange(d.edc.size) / d.rate
        e0 = d.edc[0] if d.edc.size and d.edc[0] > 0 else 1.0
        with np.errstate(divide="ignore"):
            return t, 10.0 * np.log10(d.edc / e0)

    @property
    def edc_times_s(self) -> np.ndarray:
        """Common time axis of :attr:`edc_db` (1 ms steps from the onset), seconds."""
        return self._edc_grid()[0]

    @property
    def edc_db(self) -> np.ndarray:
        """All EDCs on the common 1 ms grid, dB re each curve's start.

        Shape (channels, bands + 1, times); the last entry along axis 1 is broadband.
        Computed on first access.
        """
        return self._edc_grid()[1]

    def _edc_grid(self):
        if self._edc_cache is None:
            longest = max(d.edc.size / d.rate for row in self._decays for d in row)
            t = np.arange(math.ceil(longest * 1000)) / 1000.0
            out = np.full((len(self._decays), len(self._decays[0]), t.size), -np.inf, np.float32)
            for c, row in enumerate(self._decays):
                for b, d in enumerate(row):
                    if d.edc.size == 0 or d.edc[0] <= 0:
                        continue
                    tt = np.arange(d.edc.size) / d.rate
                    v = np.interp(t, tt, d.edc / d.edc[0], right=0.0)
                    with np.errstate(divide="ignore"):
                        out[c, b] = 10 * np.log10(v)
            self._edc_cache = (t, out)
        return self._edc_cache

    def plot(self, **kwargs):
        """EDC per band with the regression ranges, EDT/T20/T30 and C50/C80 per band (needs
        ``irforge[plot]``); ``kwargs`` go to :func:`irforge.plotting.plot_analysis`.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from .plotting import plot_analysis

        return plot_analysis(self, **kwargs)

    # -- output -----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-serialisable summary (no EDCs; NaN and inf become None)."""
        d = {"sample_rate": self.sample_rate, "bands": self.bands,
             "band_centers_hz": self.band_centers_hz.tolist(),
             "band_edges_hz": self.band_edges_hz.tolist(),
             "onset_index": self.onset_index.tolist()}
        d.update(self._band.to_dict())
        d["broadband"] = self.broadband.to_dict()
        json.dumps(d)  # guarantees serialisability
        return d

    def __repr__(self) -> str:
        return (f"RoomAcousticsResult(channels={self.n_channels}, bands={self.bands!r}, "
                f"centers_hz={self.band_centers_hz.tolist()})")

    def __str__(self) -> str:
        cols = [f"{c:g}" for c in self.band_centers_hz] + ["broad"]
        rows = [("EDT s", "edt_s", "edt_valid", "{:.2f}"), ("T20 s", "t20_s", "t20_valid", "{:.2f}"),
                ("T30 s", "t30_s", "t30_valid", "{:.2f}"), ("C50 dB", "c50_db", None, "{:.1f}"),
                ("C80 dB", "c80_db", None, "{:.1f}"), ("D50", "d50", None, "{:.2f}"),
                ("Ts ms", "ts_s", None, "{:.0f}"), ("DRR dB", "drr_db", None, "{:.1f}"),
                ("range dB", "dynamic_range_db", None, "{:.0f}")]
        lines = []
        for c in range(self.n_channels):
            lines.append(f"channel {c} (onset {self.onset_index[c]} samples, "
                         f"{self.sample_rate:g} Hz); * = below the ISO dynamic range")
            w = max(7, *(len(s) + 1 for s in cols))
            lines.append(f"{'Hz':<9}" + "".join(f"{s:>{w}}" for s in cols))
            for label, name, flag, fmt in rows:
                vals = list(getattr(self._band, name)[c]) + [getattr(self.broadband, name)[c]]
                oks = (list(getattr(self._band, flag)[c]) + [getattr(self.broadband, flag)[c]]
                       if flag else [True] * len(vals))
                cells = []
                for v, ok in zip(vals, oks):
                    if not np.isfinite(v):
                        s = "-" if np.isnan(v) else ("inf" if v > 0 else "-inf")
                    else:
                        s = fmt.format(v * 1000 if name == "ts_s" else v) + ("" if ok else "*")
                    cells.append(f"{s:>{w}}")
                lines.append(f"{label:<9}" + "".join(cells))
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------
# analyze()
# ------------------------------------------------------------------------------------------
def _interval_s(bandwidth_hz: float | None) -> float:
    """Lundeby's initial averaging interval (10-50 ms), longer for narrow bands."""
    if bandwidth_hz is None:
        return 0.02
    return float(min(0.05, max(0.01, 2.0 / bandwidth_hz)))


def analyze(ir, *, sample_rate=None, bands="octave", f_min_hz: float | None = None,
            f_max_hz: float | None = None, filter_order: int = 14,
            direct_window_ms: float = 2.5) -> RoomAcousticsResult:
    """ISO 3382-1 room-acoustic parameters of an impulse response, per band and broadband.

    Parameters
    ----------
    ir : ImpulseResponse or np.ndarray [shape=(samples,) or (channels, samples)]
        The impulse response (each channel analysed on its own: B-format W is channel 0).
    sample_rate : float, optional
        Sample rate in Hz; required for an array, optional (must agree) for an ImpulseResponse.
    bands : {"octave", "third", None}
        Octave or one-third-octave bands, or None for broadband values only.
    f_min_hz, f_max_hz : float, optional
        Mid-band frequency range; default 63 Hz to 8 kHz. Bands reaching above the Nyquist
        frequency are an error when ``f_max_hz`` is given, and are dropped silently from the
        default range (e.g. the 8 kHz octave at 16 kHz sampling).
    filter_order : int
        Order of the Butterworth band-pass prototypes (IEC 61260-1 class 1 for octaves from
        5 on; 14 is the pyfar/pyrato default).
    direct_window_ms : float
        Half length of the direct-sound window around the onset for DRR, ms.

    Returns
    -------
    RoomAcousticsResult
        Arrays of shape (channels, bands) (``edt_s``, ``t20_s``, ``t30_s``, ``c50_db``,
        ``c80_db``, ``d50``, ``ts_s``, ``drr_db``, validity flags and fit quality), the
        ``broadband`` view with (channels,) arrays, the EDCs, ``str()`` as a table and
        ``to_dict()``. See the module docstring for the method.

    Raises
    ------
    ParameterError
        Silent or non-finite IR; less than 20 ms after the onset; unknown ``bands``; no band in
        the range; a band above the Nyquist frequency with an explicit ``f_max_hz``; a
        sample-rate mismatch; bad numbers.
    TypeError
        ``ir`` is neither an ImpulseResponse nor a float array; a parameter of the wrong type.

    References
    ----------
    ISO 3382-1:2009; M. R. Schroeder, J. Acoust. Soc. Am. 37 (1965), 409-412; A. Lundeby,
    T. E. Vigran, H. Bietz, M. Vorländer, Acustica 81 (1995), 344-355; IEC 61260-1:2014.

    Examples
    --------
    >>> import numpy as np
    >>> from irforge.analysis import analyze
    >>> sr = 48000
    >>> rng = np.random.default_rng(0)
    >>> t = np.arange(2 * sr) / sr
    >>> h = rng.standard_normal(t.size) * 10 ** (-3 * t / 1.2)     # T60 = 1.2 s
    >>> r = analyze(h, sample_rate=sr)
    >>> bool(abs(r.broadband.t30_s[0] - 1.2) < 0.05), r.t30_s.shape
    (True, (1, 8))
    """
    from .impulse_response import ir_input

    data, sr, _ = ir_input(ir, sample_rate)
    if data.shape[1] == 0:
        raise ParameterError("impulse response is empty")
    order = check_positive_int(filter_order, "filter_order")
    if order > 40:
        raise ParameterError(f"filter_order must be <= 40, got {filter_order!r}")
    w_ms = check_real(direct_window_ms, "direct_window_ms", low=0.0, high=100.0)
    if bands is None:
        if f_min_hz is not None or f_max_hz is not None:
            check_real(63.0 if f_min_hz is None else f_min_hz, "f_min_hz", low=1e-3)
            check_real(8000.0 if f_max_hz is None else f_max_hz, "f_max_hz", low=1e-3)
        nominal = lower = upper = np.zeros(0)
        kind = None
    else:
        nominal, _exact, lower, upper = _resolve_bands(bands, sr, f_min_hz, f_max_hz)
        kind = "octave" if _fractions(bands) == 1 else "third"

    n_ch, n = data.shape
    peaks = np.max(np.abs(data), axis=1)
    if np.any(peaks <= 0):
        raise ParameterError(f"channel(s) {np.flatnonzero(peaks <= 0).tolist()} of the impulse "
                             "response are silent (all samples zero)")
    onsets = np.array([_decay.onset_index(data[c]) for c in range(n_ch)], dtype=np.int64)
    m_min = int(n - onsets.max())
    if m_min < _MIN_AFTER_ONSET_S * sr:
        raise ParameterError(f"impulse response too short: {m_min} samples ({m_min / sr * 1e3:.1f} ms)"
                             f" after the onset; analyze() needs at least "
                             f"{_MIN_AFTER_ONSET_S * 1e3:.0f} ms")
    w = round(w_ms * 1e-3 * sr)

    edges = tuple(zip(lower.tolist(), upper.tolist()))
    n_b = len(edges)
    if n_b:
        ring = max(_ring_samples(sr, lo, hi, order) for lo, hi in edges)
        n_fft = _fft_len(n - max(0, int(onsets.min()) - w), ring)
        bank = _filterbank(sr, n_fft, edges, order)
    per = {name: np.full((n_ch, n_b), np.nan) for name in _PARAMS}
    for name in ("edt_valid", "t20_valid", "t30_valid"):
        per[name] = np.zeros((n_ch, n_b), bool)
    broad = {name: np.full(n_ch, np.nan) for name in _PARAMS}
    for name in ("edt_valid", "t20_valid", "t30_valid"):
        broad[name] = np.zeros(n_ch, bool)
    decays = []

    for c in range(n_ch):
        t0 = int(onsets[c])
        x = data[c, t0:].astype(np.float64)
        row = []
        # broadband
        d = _decay_curve(x * x, sr, _interval_s(None))
        for k, v in _parameters(d).items():
            broad[k][c] = v
        a = max(0, t0 - w)
        e_dir = float(np.sum(np.square(data[c, a:t0 + w], dtype=np.float64)))
        e_rev = float(np.sum(np.square(data[c, t0 + w:], dtype=np.float64)))
        broad["drr_db"][c] = 10 * math.log10(e_dir / e_rev) if e_dir > 0 and e_rev > 0 else math.nan
        if n_b:
            # band signals from `a` (the direct-sound window's start): S, and the direct part D
            seg = np.zeros((2, n - a), np.float32)
            seg[0] = data[c, a:]
            seg[1, : t0 + w - a] = data[c, a:t0 + w]
            X = _rfft(seg, n_fft)
            m = n - a
            pow_dir = X[1].real ** 2 + X[1].imag ** 2               # |D|^2
            R = X[0] - X[1]
            pow_rev = R.real ** 2 + R.imag ** 2                     # |S - D|^2
            for b, band in enumerate(bank):
                k0, k1 = band.k0, band.k0 + band.h.size
                Y = np.zeros(band.m, np.complex64)
                np.multiply(X[0, k0:k1], band.h, out=Y[: k1 - k0])
                z = sfft.ifft(Y, overwrite_x=True)
                # analytic band signal, decimated by n_fft / M: |z_a(t_j)| = 2 M / N |ifft(Y)[j]|
                rate = sr * band.m / n_fft
                length = min(band.m, math.ceil(m * band.m / n_fft))
                z = z[:length]
                p = (z.real * z.real + z.imag * z.imag).astype(np.float64)
                p *= 2.0 * (band.m / n_fft) ** 2
                # the band's own onset (ISO 3382-1 rule on the band's energy envelope): it
                # starts the decay after the band filter's delay
                pk = float(p.max()) if p.size else 0.0
                j0 = int(np.argmax(p >= 0.01 * pk)) if pk > 0 else 0
                db = _decay_curve(p[j0:], rate, _interval_s(upper[b] - lower[b]))
                db.onset_s = j0 / rate - (t0 - a) / sr
                row.append(db)
                for k, v in _parameters(db).items():
                    per[k][c, b] = v
                ed = float(np.sum(band.h2 * pow_dir[k0:k1]))
                er = float(np.sum(band.h2 * pow_rev[k0:k1]))
                per["drr_db"][c, b] = 10 * math.log10(ed / er) if ed > 0 and er > 0 else math.nan
        row.append(d)
        decays.append(row)

    return RoomAcousticsResult(
        band_centers_hz=np.asarray(nominal, float), band_edges_hz=np.stack([lower, upper], axis=-1)
        if n_b else np.zeros((0, 2)), bands=kind, sample_rate=sr, onset_index=onsets,
        band_params=DecayParameters(**per), broadband=DecayParameters(**broad), decays=decays)
