"""Where an impulse response starts and where its decay sinks into the noise floor.

Reusable building blocks for trimming (:meth:`irforge.ImpulseResponse.trim`) and for the
ISO 3382 analysis (Schroeder integration needs the truncation point and the noise level that
Lundeby's method estimates).

- :func:`onset_index`: the start of an IR as ISO 3382-1 defines it (the first sample whose
  level is within 20 dB of the peak).
- :func:`block_levels_db`: the squared IR averaged over non-overlapping local time intervals,
  in dB (the smoothed decay curve Lundeby's method works on).
- :func:`lundeby`: the iterative estimate of the noise level, the late decay rate and the
  crossing point of decay and noise (Lundeby et al. 1995), for one channel.
- :func:`decay_end_index`: the crossing point for a multichannel IR (the latest over the
  channels whose decay could be measured).

References
----------
.. [1] ISO 3382-1:2009, Acoustics -- Measurement of room acoustic parameters -- Part 1:
       Performance spaces (start of the impulse response: the point where the signal rises
       significantly above the background, before it is more than 20 dB below the maximum).
.. [2] A. Lundeby, T. E. Vigran, H. Bietz, M. Vorländer, "Uncertainties of measurements in
       room acoustics", Acustica 81 (1995), 344-355.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._errors import ParameterError
from ._validation import (as_audio_2d, as_float_array, check_finite, check_positive_int,
                          check_real, check_sample_rate)

__all__ = ["LundebyResult", "block_levels_db", "decay_end_index", "lundeby", "onset_index"]

_TINY = 1e-300  # keeps log10 finite for exact digital silence


def onset_index(data, *, threshold_db: float = -20.0) -> int:
    """Index of the first sample whose level is within ``|threshold_db|`` of the peak.

    The ISO 3382-1 start of an impulse response: the direct sound, found as the first sample
    where ``h**2 >= max(h**2) * 10**(threshold_db / 10)``. For several channels the peak is
    the largest over all of them and the onset the earliest over all of them, so that the
    channels stay aligned when the IR is cut there.

    Parameters
    ----------
    data : np.ndarray [shape=(samples,) or (channels, samples)]
        The impulse response.
    threshold_db : float
        Level below the peak, in dB, that counts as the start (negative; ISO 3382-1: -20).

    Returns
    -------
    int
        The onset index (0 <= index < samples).

    Raises
    ------
    ParameterError
        The IR is silent, not finite, or ``threshold_db`` is not in [-200, 0].
    TypeError
        ``data`` is not a float array.

    References
    ----------
    ISO 3382-1:2009 (start of the impulse response, 20 dB below the maximum).

    Examples
    --------
    >>> import numpy as np
    >>> from irforge._decay import onset_index
    >>> onset_index(np.array([0.0, 0.01, 0.2, 1.0, 0.5]))   # 0.2 is -14 dB re the peak
    2
    """
    thr = check_real(threshold_db, "threshold_db", low=-200.0, high=0.0)
    arr, _ = as_audio_2d(data, "impulse response")
    power = np.square(arr.astype(np.float64))
    peak = float(power.max()) if power.size else 0.0
    if peak <= 0.0:
        raise ParameterError("impulse response is silent (all samples are zero): no onset")
    above = np.any(power >= peak * 10.0 ** (thr / 10.0), axis=0)
    return int(np.argmax(above))


def block_levels_db(power, block_n: int, *, reference: float | None = None):
    """Mean of ``power`` over consecutive blocks of ``block_n`` samples, in dB.

    Parameters
    ----------
    power : np.ndarray [shape=(samples,)]
        The squared impulse response (non-negative).
    block_n : int
        Samples per local time interval. A last, partial block is averaged over its own length.
    reference : float, optional
        0 dB reference power (default: 1).

    Returns
    -------
    levels_db : np.ndarray [shape=(blocks,)]
        ``10 * log10(mean(power[block]) / reference)``.
    centres : np.ndarray [shape=(blocks,)]
        Centre of each block in samples (fractional), from the start of ``power``.

    Raises
    ------
    ParameterError
        ``block_n`` < 1 or ``power`` is empty.
    """
    b = check_positive_int(block_n, "block_n")
    p = np.asarray(power, dtype=np.float64).reshape(-1)
    if p.size == 0:
        raise ParameterError("power is empty: no blocks to average")
    n_full = p.size // b
    means = [p[: n_full * b].reshape(n_full, b).mean(axis=1)] if n_full else []
    centres = [np.arange(n_full) * b + (b - 1) / 2.0]
    rest = p.size - n_full * b
    if rest:
        means.append(np.array([p[n_full * b:].mean()]))
        centres.append(np.array([n_full * b + (rest - 1) / 2.0]))
    m = np.concatenate(means)
    ref = 1.0 if reference is None else float(reference)
    return 10.0 * np.log10(np.maximum(m / ref, _TINY)), np.concatenate(centres)


@dataclass(frozen=True)
class LundebyResult:
    """What :func:`lundeby` found for one channel.

    Attributes
    ----------
    crossing_index : int
        First sample (index into the analysed array) where the noise dominates the decay: the
        truncation point for Schroeder integration and the end point for trimming. Equal to the
        array length when no noise floor was found.
    sample_rate : float
        Sample rate of the analysed array, Hz.
    noise_power : float
        Mean square of the background noise (same units as ``h**2``); 0 for digital silence.
    noise_db : float
        Noise level in dB relative to the peak sample power ``max(h**2)`` (-inf for silence).
    decay_db_per_s : float
        Slope of the late decay, dB per second (negative); NaN when no decay was found.
    snr_db : float
        Level of the smoothed decay's start over the noise, dB (peak-to-noise ratio).
    iterations : int
        Iterations of steps 7-9 of the method that were run.
    converged : bool
        The crossing point moved by less than one local time interval in the last iteration.
    reliable : bool
        A decay and a noise floor were both found. When False the crossing point is the end
        of the array and the other figures should not be used.
    """

    crossing_index: int
    sample_rate: float
    noise_power: float
    noise_db: float
    decay_db_per_s: float
    snr_db: float
    iterations: int
    converged: bool
    reliable: bool

    @property
    def crossing_s(self) -> float:
        """The crossing point in seconds from the start of the analysed array."""
        return self.crossing_index / self.sample_rate

    @property
    def t60_s(self) -> float:
        """Late reverberation time from the decay slope, ``-60 / decay_db_per_s`` (s)."""
        if not math.isfinite(self.decay_db_per_s) or self.decay_db_per_s >= 0:
            return float("nan")
        return -60.0 / self.decay_db_per_s


def _fit(t: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares line y = a + s t: (a, s)."""
    if t.size < 2:
        return float(y[0]) if y.size else 0.0, 0.0
    s, a = np.polyfit(t, y, 1)
    return float(a), float(s)


def _first_below(levels: np.ndarray, value: float, start: int = 0) -> int:
    """Index of the first level <= value at or after ``start`` (len(levels) if none)."""
    idx = np.flatnonzero(levels[start:] <= value)
    return start + int(idx[0]) if idx.size else levels.size


def lundeby(h, sample_rate, *, start_index: int | None = None, interval_s: float = 0.01,
            intervals_per_10db: int = 5, noise_margin_db: float = 5.0,
            headroom_db: float = 5.0, dynamic_range_db: float = 20.0,
            max_iterations: int = 10, min_snr_db: float = 10.0) -> LundebyResult:
    """Noise level, late decay rate and decay/noise crossing point (Lundeby et al. 1995).

    The method, for one channel:

    1. average the squared IR over local time intervals of ``interval_s`` (10-50 ms in the
       paper; shortened for very short IRs so that there are at least 20 intervals);
    2. take a first noise estimate from the last 10 % of the IR;
    3. fit a line (in dB) to the decay from the peak down to 10 dB above that noise;
    4. the preliminary crossing point is where the line meets the noise level;
    5. choose a new interval length giving ``intervals_per_10db`` intervals per 10 dB of decay
       (3-10 in the paper) and average again;
    6. estimate the noise from ``noise_margin_db`` of decay after the crossing point to the end,
       but over at least the last 10 % of the IR;
    7. fit the late decay over ``dynamic_range_db`` of range ending ``headroom_db`` above the
       noise (paper: 10-20 dB of range, 5-10 dB above the noise);
    8. find the new crossing point; repeat 6-8 until it moves by less than one interval.

    Parameters
    ----------
    h : np.ndarray [shape=(samples,)]
        One channel of an impulse response.
    sample_rate : float
        Its sample rate, Hz.
    start_index : int, optional
        Where the decay starts (default: the peak, ``argmax(h**2)``).
    interval_s : float
        Initial local time interval, seconds.
    intervals_per_10db : int
        Local time intervals per 10 dB of decay after the first estimate.
    noise_margin_db : float
        Decay, in dB, between the crossing point and the start of the noise segment.
    headroom_db : float
        Distance of the late-decay fit's lower end above the noise, dB.
    dynamic_range_db : float
        Range of the late-decay fit, dB (shortened when the decay is shorter).
    max_iterations : int
        Upper bound on the iterations of steps 6-8.
    min_snr_db : float
        Below this peak-to-noise ratio no decay is measurable: the result is marked
        ``reliable=False`` and the crossing point is the end of the IR.

    Returns
    -------
    LundebyResult
        Crossing point (index into ``h``), noise level, decay rate, iterations, flags.
        Exact digital silence at the end gives ``noise_power == 0`` and the crossing point
        just after the last non-zero sample.

    Raises
    ------
    ParameterError
        ``h`` is not 1-D, is empty, silent or non-finite, or a parameter is out of range.
    TypeError
        ``h`` is not a float array or a parameter is not a number.

    References
    ----------
    A. Lundeby, T. E. Vigran, H. Bietz, M. Vorländer, "Uncertainties of measurements in room
    acoustics", Acustica 81 (1995), 344-355.
    ISO 3382-1:2009, which recommends this kind of truncation and noise compensation.

    Examples
    --------
    >>> import numpy as np
    >>> from irforge._decay import lundeby
    >>> sr = 8000
    >>> rng = np.random.default_rng(0)
    >>> t = np.arange(sr) / sr
    >>> h = rng.standard_normal(sr) * 10 ** (-60 * t / 0.5 / 20) + 1e-2 * rng.standard_normal(sr)
    >>> r = lundeby(h, sr)          # noise at -40 dB: the decay reaches it after 2/3 of T60
    >>> bool(0.3 < r.crossing_s < 0.37), round(r.t60_s, 1)
    (True, 0.5)
    """
    x = as_float_array(h, "impulse response")
    if x.ndim != 1:
        raise ParameterError(f"lundeby() takes one channel (1-D), got shape {x.shape}")
    if x.size == 0:
        raise ParameterError("impulse response is empty")
    check_finite(x, "impulse response")
    sr = check_sample_rate(sample_rate, audio=False)  # may be a decimated envelope
    interval = check_real(interval_s, "interval_s", low=1e-6, high=10.0)
    per10 = check_positive_int(intervals_per_10db, "intervals_per_10db")
    margin = check_real(noise_margin_db, "noise_margin_db", low=0.0, high=60.0)
    head = check_real(headroom_db, "headroom_db", low=0.0, high=60.0)
    dyn = check_real(dynamic_range_db, "dynamic_range_db", low=1.0, high=100.0)
    max_it = check_positive_int(max_iterations, "max_iterations")
    min_snr = check_real(min_snr_db, "min_snr_db", low=0.0, high=200.0)

    e = np.square(x.astype(np.float64))
    n = e.size
    peak_power = float(e.max())
    if peak_power <= 0.0:
        raise ParameterError("impulse response is silent (all samples are zero)")
    if start_index is None:
        start = int(np.argmax(e))
    else:
        if isinstance(start_index, bool) or not isinstance(start_index, (int, np.integer)):
            raise TypeError(f"start_index must be an integer, got {start_index!r}")
        if not 0 <= start_index < n:
            raise ParameterError(f"start_index must be in [0, {n - 1}], got {start_index!r}")
        start = int(start_index)

    def result(crossing, noise_power, slope_per_sample, snr, its, conv, ok):
        noise_db = 10 * math.log10(noise_power / peak_power) if noise_power > 0 else -math.inf
        return LundebyResult(int(min(max(crossing, 0), n)), sr, float(noise_power), noise_db,
                             float(slope_per_sample * sr), float(snr), its, conv, ok)

    # Digital silence at the end (synthetic or already truncated IRs): the floor is zero.
    tail = e[int(0.9 * n):]
    if not np.any(tail > 0):
        last = int(np.flatnonzero(e)[-1]) + 1
        if last - start >= 64:  # noise may still sit before the zeros: analyse up to them
            inner = lundeby(x[:last], sr, start_index=start, interval_s=interval,
                            intervals_per_10db=per10, noise_margin_db=margin, headroom_db=head,
                            dynamic_range_db=dyn, max_iterations=max_it, min_snr_db=min_snr)
            if inner.reliable:
                return inner
        return result(last, 0.0, math.nan, math.inf, 0, True, True)

    seg = e[start:]
    m = seg.size
    block = max(1, min(int(round(interval * sr)), m // 20))
    levels, centres = block_levels_db(seg, block)
    noise_db = 10 * math.log10(float(tail.mean()))
    top_db = float(levels.max())
    if m < 4 or top_db - noise_db < min_snr:
        return result(n, float(tail.mean()), math.nan, top_db - noise_db, 0, False, False)

    # Steps 3-4: first decay line from the peak down to 10 dB above the noise.
    i0 = int(np.argmax(levels))
    i1 = max(_first_below(levels, noise_db + 10.0, i0), i0 + 2)
    a, s = _fit(centres[i0:i1], levels[i0:i1])
    if not s < 0:
        return result(n, float(tail.mean()), math.nan, top_db - noise_db, 0, False, False)
    crossing = (noise_db - a) / s

    converged, its, noise_power = False, 0, float(tail.mean())
    for its in range(1, max_it + 1):
        # Step 5: intervals_per_10db local intervals per 10 dB of decay.
        block = max(1, min(int(round(10.0 / (-s) / per10)), max(1, m // 4)))
        levels, centres = block_levels_db(seg, block)
        # Step 6: noise from noise_margin_db beyond the crossing, at least the last 10 %.
        noise_start = start + int(max(crossing, 0) + margin / (-s))
        noise_start = min(noise_start, int(0.9 * n))
        noise_power = float(e[noise_start:].mean())
        if noise_power <= 0:
            break
        noise_db = 10 * math.log10(noise_power)
        # Step 7: late decay over dynamic_range_db, ending headroom_db above the noise.
        i0 = int(np.argmax(levels))
        lo = _first_below(levels, noise_db + head, i0)
        hi = _first_below(levels, noise_db + head + dyn, i0)
        if lo - hi < 2:  # too little range: fit everything from the peak down to the noise
            hi = i0
        if lo - hi < 2:
            break
        a, s_new = _fit(centres[hi:lo], levels[hi:lo])
        if not s_new < 0:
            break
        s = s_new
        # Step 8: new crossing point.
        new_crossing = (noise_db - a) / s
        moved = abs(new_crossing - crossing)
        crossing = new_crossing
        if moved < block:
            converged = True
            break
    crossing_index = start + int(round(crossing))
    snr = top_db - 10 * math.log10(max(noise_power, _TINY))
    return result(crossing_index, noise_power, s, snr, its, converged, True)


def decay_end_index(data, sample_rate, *, start_index: int = 0, relative_floor_db: float = -40.0,
                    **kwargs) -> tuple[int, list[LundebyResult | None]]:
    """End of a (multichannel) IR: the latest Lundeby crossing point over its channels.

    Channels whose peak is more than ``-relative_floor_db`` below the loudest channel's (the
    silent cross terms of a true-stereo IR, say) and channels without a measurable decay are
    skipped; taking the latest crossing keeps the longest decay, so no channel is cut early.

    Parameters
    ----------
    data : np.ndarray [shape=(samples,) or (channels, samples)]
        The impulse response.
    sample_rate : float
        Sample rate, Hz.
    start_index : int
        Analyse from this sample on (e.g. the onset); the returned index counts from 0 of
        ``data``, not from ``start_index``.
    relative_floor_db : float
        Channels whose peak is further below the loudest channel's are ignored.
    **kwargs
        Passed on to :func:`lundeby`.

    Returns
    -------
    end : int
        Index one past the last sample worth keeping (``samples`` when no channel had a
        measurable noise floor).
    results : list of LundebyResult or None
        Per channel, None for skipped channels.

    Raises
    ------
    ParameterError
        Silent or non-finite data; ``start_index`` out of range.
    """
    arr, _ = as_audio_2d(data, "impulse response")
    n = arr.shape[1]
    if isinstance(start_index, bool) or not isinstance(start_index, (int, np.integer)):
        raise TypeError(f"start_index must be an integer, got {start_index!r}")
    if not 0 <= start_index < n:
        raise ParameterError(f"start_index must be in [0, {n - 1}], got {start_index!r}")
    floor = check_real(relative_floor_db, "relative_floor_db", low=-300.0, high=0.0)
    peaks = np.max(np.abs(arr[:, start_index:]), axis=1).astype(np.float64)
    loudest = float(peaks.max())
    if loudest <= 0:
        raise ParameterError("impulse response is silent after the onset")
    results: list[LundebyResult | None] = []
    ends = []
    for ch in range(arr.shape[0]):
        if peaks[ch] <= 0 or 20 * math.log10(peaks[ch] / loudest) < floor:
            results.append(None)
            continue
        r = lundeby(arr[ch, start_index:], sample_rate, **kwargs)
        results.append(r)
        if r.reliable:
            ends.append(start_index + r.crossing_index)
    end = max(ends) if ends else n
    return int(min(max(end, start_index + 1), n)), results
