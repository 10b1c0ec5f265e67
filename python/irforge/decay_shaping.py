"""Give an impulse response a new reverberation time per band (STFT decay shaping).

:func:`shape_decay` measures the IR's decay per octave (or third-octave) band with
:func:`irforge.analysis.analyze` and multiplies every STFT bin (periodic Hann window, 75 %
overlap, weighted overlap-add resynthesis; :mod:`irforge._stft`) by a time-varying gain that
scales the band's decay in dB: with ``L(t)`` the band's noise-compensated energy decay curve
in dB and ``k = T_current / T_target``, the gain is ``(k - 1) * (L(t) - L(t_k))`` dB after
``t_k = onset + keep_early_ms`` (raised-cosine fade-in over ``crossfade_ms``), 0 dB before.
For an exponential decay this is exactly the rate change ``exp(-(t - t_k) * (6.91 / T_target
- 6.91 / T_current))`` (amplitude rates ``ln(1000) / T60``); for a decay that is not straight
in dB (double slopes, statistical wiggles) it scales every part of it alike. The direct sound
and early reflections before ``t_k`` are untouched. Per-band factors are spread over the
bins with a partition of unity in log frequency: flat over each band, raised-cosine
transitions of a third of a band around the band edges. Because the T30 window of the result
covers a different part of the original decay than the input's did, the result is then
re-analysed and each band's ``k`` corrected by secant steps (``calibrate``, default up to 3)
until T30 is within 2 % of the target.

Background noise. A measured IR ends in background noise, which has no decay to shape:
stretching it would amplify it exponentially (lengthening), and even shortening would leave a
slowly fading plateau. So by default (``replace_tail=True``) every bin's content after the
point where its band's decay meets the noise (Lundeby's crossing point, as found by
``analyze``) is replaced by noise that continues the measured decay: random phases, the
magnitude of an exponential decay at the band's current rate, its level fitted (in energy)
on the 20 to 10 dB above the noise, faded in over the last 10 dB. The decay-shaping gain then
applies to the measured and the continued decay alike. When lengthening, the output is
extended so that the longest new decay reaches -60 dB. An IR that ends in digital silence
or is cut before the noise is continued from its end in the same way.

References
----------
.. [1] ISO 3382-1:2009 (reverberation time, T30), see :mod:`irforge.analysis`.
.. [2] A. Lundeby, T. E. Vigran, H. Bietz, M. Vorländer, "Uncertainties of measurements in
       room acoustics", Acustica 81 (1995), 344-355 (noise floor and crossing point).
.. [3] J.-M. Jot, "An analysis/synthesis approach to real-time artificial reverberation",
       Proc. IEEE ICASSP 1992 (frequency-dependent decay control by per-band decay rates).
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from . import _stft
from ._errors import ParameterError
from ._validation import check_positive_int, check_real
from .analysis import _fractions, analyze
from .impulse_response import ImpulseResponse, ir_input

__all__ = ["shape_decay"]

_MAX_T60_S = 30.0


def _band_weights(freqs: np.ndarray, centres_exact: np.ndarray, b: int) -> np.ndarray:
    """(bins, bands) partition of unity in log2 frequency: flat over each band, raised-cosine
    transitions of width 1/(3b) octave centred on the band edges; held beyond the ends."""
    u = np.log2(np.maximum(freqs, 1e-3) / 1000.0)
    uc = np.log2(centres_exact / 1000.0)
    nb = uc.size
    w = np.zeros((freqs.size, nb))
    if nb == 1:
        w[:, 0] = 1.0
        return w
    half = 1.0 / (6.0 * b)
    steps = []
    for e in 0.5 * (uc[:-1] + uc[1:]):                        # band edges
        x = np.clip((u - (e - half)) / (2 * half), 0.0, 1.0)
        steps.append(0.5 - 0.5 * np.cos(np.pi * x))           # 0 below the edge, 1 above
    w[:, 0] = 1.0 - steps[0]
    for i in range(1, nb - 1):
        w[:, i] = steps[i - 1] - steps[i]
    w[:, -1] = steps[-1]
    return w


def _current_t60(r, c: int, bi: int) -> float:
    """Best measured decay time of band ``bi``: T30, else T20, else EDT (ISO-valid first)."""
    for name in ("t30", "t20", "edt"):
        if getattr(r, f"{name}_valid")[c, bi]:
            return float(getattr(r, f"{name}_s")[c, bi])
    for name in ("t30", "t20"):
        v = float(getattr(r, f"{name}_s")[c, bi])
        if math.isfinite(v) and v > 0:
            return v
    return math.nan


def _slope_db(t60: float) -> float:
    """Decay slope in dB/s (negative) of a T60, NaN-safe."""
    return -60.0 / t60 if math.isfinite(t60) and t60 > 0 else math.nan


def _gate(t: np.ndarray, t_k: float, length: float) -> np.ndarray:
    """0 before t_k, raised-cosine rise over ``length``, then 1."""
    if length <= 0:
        return (t >= t_k).astype(float)
    x = np.clip((t - t_k) / length, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)


def _level_curve(d, t_rel: np.ndarray, slope_db: float):
    """A band's decay level L(t) in dB at times ``t_rel`` after the band's decay start.

    The noise-compensated EDC of :func:`irforge.analysis.analyze` (it continues past the
    Lundeby crossing as the fitted late exponential) and, past the data, that exponential.
    An EDC without compensation (the IR ends in digital silence) bends down at its end: it
    is used down to 3/4 of its range (at most 45 dB) and continued from there on a straight
    line with ``slope_db`` (the band's measured T). Returns (levels, late amplitude decay
    rate in nepers/s, crossing time re the decay start).
    """
    edc = d.edc
    e0 = float(edc[0]) if edc.size else 0.0
    if e0 <= 0 or not math.isfinite(slope_db):
        return np.zeros(t_rel.size), 0.0, float(edc.size / d.rate if edc.size else 0.0)
    tt = np.arange(edc.size) / d.rate
    with np.errstate(divide="ignore"):
        db = 10.0 * np.log10(edc / e0)
    out = np.interp(np.maximum(t_rel, 0.0), tt, db)
    if d.tail_tau > 0:
        t_c = d.crossing / d.rate
        c_db = 10.0 * math.log10(d.tail_c / e0)
        beyond = t_rel > tt[-1]
        out[beyond] = c_db - 10.0 * math.log10(math.e) * (t_rel[beyond] - t_c) / d.tail_tau
        return out, 0.5 / d.tail_tau, t_c
    finite = db[np.isfinite(db)]
    floor = max(-45.0, 0.75 * float(finite.min())) if finite.size else -45.0
    i_cut = int(np.searchsorted(-db, -floor))                  # first level <= floor
    t_cut = tt[min(i_cut, tt.size - 1)]
    late = t_rel > t_cut
    out[late] = floor + slope_db * (t_rel[late] - t_cut)
    return out, -slope_db / (20.0 * math.log10(math.e)), d.crossing / d.rate


def shape_decay(ir, *, t60_s=None, scale=None, sample_rate=None, bands="octave",
                f_min_hz: float | None = None, f_max_hz: float | None = None,
                keep_early_ms: float = 20.0, crossfade_ms: float = 20.0, n_fft: int = 4096,
                hop: int | None = None, replace_tail: bool = True, calibrate: int = 3,
                seed: int = 0) -> ImpulseResponse:
    """Give an impulse response a new reverberation time per band.

    Parameters
    ----------
    ir : ImpulseResponse or np.ndarray [shape=(samples,) or (channels, samples)]
        The impulse response (each channel is measured and shaped on its own).
    t60_s : float or dict, optional
        Target T60 in seconds: one number for every band, or a mapping
        ``{band centre Hz: T60 s}`` over some of the (nominal) band centres; bands not in
        the mapping keep their decay. Exactly one of ``t60_s`` and ``scale`` must be given.
    scale : float, optional
        Multiply every band's measured T30 by this factor (> 1 lengthens).
    sample_rate : float, optional
        Required for an array; must agree for an ImpulseResponse.
    bands : {"octave", "third"}
        Bands in which the decay is measured and set.
    f_min_hz, f_max_hz : float, optional
        Band range (default 63 Hz - 8 kHz; as :func:`irforge.analysis.analyze`). Frequencies
        below/above it follow the lowest/highest band.
    keep_early_ms : float
        Time after the onset that is left untouched (direct sound, early reflections), ms.
    crossfade_ms : float
        Length of the smooth start of the new decay after ``keep_early_ms``, ms.
    n_fft : int
        STFT frame length (Hann window); 4096 at 48 kHz resolves 12 Hz, enough for the
        63 Hz octave. Hop: ``hop`` (default ``n_fft // 4``).
    hop : int, optional
        STFT hop in samples (at most ``n_fft // 2`` for the Hann window's overlap-add).
    replace_tail : bool
        Replace the background noise after each band's Lundeby crossing point by noise that
        continues the measured decay (see the module docstring). With False the noise is
        shaped like the decay: a lengthened IR then amplifies it exponentially.
    calibrate : int
        Closed-loop corrections (0 = open loop): the result is re-analysed like the input and
        each band's dB scaling factor is multiplied by ``T_result / T_target`` until every
        band asked for is within 2 % or ``calibrate`` corrections were made. This takes out
        the error the open-loop scaling makes when the input's decay is not straight in dB
        (the T30 window of the result covers a different part of the original decay).
    seed : int
        Seed of the random phases of the continued tail.

    Returns
    -------
    ImpulseResponse
        The shaped IR (float32, same channels and sample rate; longer when lengthening).
        ``metadata["history"][-1]`` records the measured and target T60 per channel and
        band (``measured_t60_s``, ``target_t60_s``) and the band centres.

    Raises
    ------
    ParameterError
        Neither or both of ``t60_s`` and ``scale``; a target T60 or scale that is not
        positive (or a target above 30 s); a mapping key that is not a band centre; bands
        above the Nyquist frequency (explicit ``f_max_hz``); an IR too short to measure
        (less than 20 ms after the onset) or a band whose decay cannot be measured; bad
        STFT sizes.
    TypeError
        ``ir`` not an ImpulseResponse or float array; ``t60_s`` neither a number nor a dict.

    References
    ----------
    ISO 3382-1:2009; A. Lundeby et al., Acustica 81 (1995), 344-355; J.-M. Jot, ICASSP 1992.

    Examples
    --------
    >>> import numpy as np
    >>> from irforge.decay_shaping import shape_decay
    >>> from irforge.analysis import analyze
    >>> sr = 48000
    >>> rng = np.random.default_rng(0)
    >>> t = np.arange(3 * sr) / sr
    >>> h = rng.standard_normal(t.size) * 10 ** (-3 * t / 1.5) + 1e-4 * rng.standard_normal(t.size)
    >>> out = shape_decay(h, sample_rate=sr, t60_s=0.8)
    >>> t30 = analyze(out).t30_s[0]
    >>> bool(np.all(np.abs(t30 / 0.8 - 1) < 0.1))
    True
    """
    # -- inputs ------------------------------------------------------------------------------
    data, sr, meta = ir_input(ir, sample_rate)
    if (t60_s is None) == (scale is None):
        raise ParameterError("give exactly one of t60_s (target T60) and scale (factor on the "
                             f"measured T30); got t60_s={t60_s!r}, scale={scale!r}")
    mapping = None
    if scale is not None:
        factor = check_real(scale, "scale")
        if factor <= 0:
            raise ParameterError(f"scale must be > 0, got {scale!r}")
    elif isinstance(t60_s, dict):
        if not t60_s:
            raise ParameterError("t60_s mapping is empty")
        mapping = {}
        for k, v in t60_s.items():
            fk = check_real(k, "t60_s band centre (Hz)")
            tv = check_real(v, f"t60_s[{k!r}]")
            if not 0 < tv <= _MAX_T60_S:
                raise ParameterError(f"target T60 must be in (0, {_MAX_T60_S:g}] s, got "
                                     f"t60_s[{k!r}]={v!r}")
            mapping[fk] = tv
    elif isinstance(t60_s, (Real, np.number)) and not isinstance(t60_s, bool):
        tv = check_real(t60_s, "t60_s")
        if not 0 < tv <= _MAX_T60_S:
            raise ParameterError(f"t60_s must be in (0, {_MAX_T60_S:g}] s, got {t60_s!r}")
    else:
        raise TypeError(f"t60_s must be a number of seconds or a dict {{band Hz: seconds}}, "
                        f"got {type(t60_s).__name__}")
    if bands is None:
        raise ParameterError("bands must be 'octave' or 'third' for shape_decay, got None")
    b = _fractions(bands)
    n_fft = check_positive_int(n_fft, "n_fft")
    if n_fft < 64:
        raise ParameterError(f"n_fft must be >= 64, got {n_fft!r}")
    hop = n_fft // 4 if hop is None else check_positive_int(hop, "hop")
    if hop > n_fft // 2:
        raise ParameterError(f"hop must be <= n_fft // 2 = {n_fft // 2} for the Hann "
                             f"overlap-add, got {hop!r}")
    keep = check_real(keep_early_ms, "keep_early_ms", low=0.0, high=10000.0) * 1e-3
    fade = check_real(crossfade_ms, "crossfade_ms", low=0.0, high=10000.0) * 1e-3
    if isinstance(calibrate, bool) or not isinstance(calibrate, (int, np.integer)) or calibrate < 0:
        raise ParameterError(f"calibrate must be an integer >= 0, got {calibrate!r}")

    # -- measure --------------------------------------------------------------------------
    r = analyze(data, sample_rate=sr, bands=bands, f_min_hz=f_min_hz, f_max_hz=f_max_hz)
    nominal = r.band_centers_hz
    exact = np.sqrt(r.band_edges_hz[:, 0] * r.band_edges_hz[:, 1])
    if mapping is not None:
        unknown = [k for k in mapping if not np.any(np.isclose(nominal, k))]
        if unknown:
            raise ParameterError(f"t60_s keys {unknown} are not band centres; use some of "
                                 f"{nominal.tolist()}")
    n_ch, n = data.shape
    nb = nominal.size
    cur = np.full((n_ch, nb), np.nan)
    target = np.full((n_ch, nb), np.nan)
    for c in range(n_ch):
        for i, fc in enumerate(nominal):
            band_asked = mapping is None or any(np.isclose(fc, k) for k in mapping)
            cur[c, i] = _current_t60(r, c, i)
            if not band_asked:
                continue
            if not math.isfinite(cur[c, i]):
                raise ParameterError(
                    f"cannot measure the decay of channel {c} in the {fc:g} Hz band (dynamic "
                    f"range {r.dynamic_range_db[c, i]:.0f} dB); narrow f_min_hz/f_max_hz")
            if scale is not None:
                target[c, i] = factor * cur[c, i]
            elif mapping is not None:
                target[c, i] = next(v for k, v in mapping.items() if np.isclose(fc, k))
            else:
                target[c, i] = tv
    if np.nanmax(target) > _MAX_T60_S:
        raise ParameterError(f"target T60 {np.nanmax(target):.1f} s is above {_MAX_T60_S:g} s")
    # dB scaling of each band's decay: new level = L(t_k) + k (L(t) - L(t_k)), k = T_cur / T_new
    k_scale = np.where(np.isfinite(target), cur / np.where(np.isfinite(target), target, 1.0), 1.0)

    # -- output length: the slowest new decay reaches -60 dB --------------------------------
    onset_s = r.onset_index / sr
    new_t = np.where(np.isfinite(target), target, cur)
    need = math.ceil((float(np.max(onset_s)) + float(np.nanmax(new_t)) * 1.05) * sr)
    n_out = max(n, need)
    x = np.zeros((n_ch, n_out), np.float32)
    x[:, :n] = data

    # -- STFT, per-band level curves, continued tails --------------------------------------
    S = _stft.stft(x, n_fft=n_fft, hop=hop).astype(np.complex64)        # (C, F, T)
    freqs = np.arange(n_fft // 2 + 1) * (sr / n_fft)
    W = _band_weights(freqs, exact, b)                                   # (F, B)
    t_fr = np.arange(S.shape[-1]) * (hop / sr)
    rng = np.random.default_rng(seed)
    data_end_s = n / sr
    drops = np.zeros((n_ch, nb, t_fr.size))                              # min(L(t) - L(t_k), 0)
    for c in range(n_ch):
        t_k = onset_s[c] + keep
        levels = np.zeros((nb, t_fr.size))                               # L_b(t) in dB
        late_rate = np.zeros(nb)                                         # amplitude Np/s
        cross = np.zeros(nb)
        for i in range(nb):
            d = r._decays[c][i]
            t0_b = onset_s[c] + float(np.nan_to_num(r.onset_s[c, i]))
            levels[i], late_rate[i], cross[i] = _level_curve(d, t_fr - t0_b, _slope_db(cur[c, i]))
            cross[i] += t0_b
        ok = late_rate > 0
        if not ok.any():
            raise ParameterError(f"no measurable decay in channel {c}")
        late_rate = np.interp(np.arange(nb), np.flatnonzero(ok), late_rate[ok])
        if replace_tail:
            cross = np.minimum(cross, data_end_s - 0.5 * n_fft / sr)
            Sc = S[c].astype(np.complex128)
            _continue_tail(Sc, t_fr, W @ late_rate, W @ cross, t_k, rng)
            S[c] = Sc
        ref = np.array([np.interp(t_k, t_fr, lv) for lv in levels])       # L_b(t_k)
        drops[c] = np.minimum(levels - ref[:, None], 0.0) * _gate(t_fr, t_k, fade)

    # -- gains, resynthesis, closed-loop correction of k -----------------------------------
    def render(k):
        g_db = np.einsum("fb,cbt->cft", W, (k - 1.0)[:, :, None] * drops)
        return np.asarray(_stft.istft(S * (10.0 ** (g_db / 20.0)).astype(np.float32),
                                      n_fft=n_fft, hop=hop, length=n_out), dtype=np.float32)

    asked = np.isfinite(target)
    y = render(k_scale)
    iterations = 0
    # secant steps in log-log (T_result ~ T_current / k gives slope -1 to start with)
    prev = None
    slope = np.full((n_ch, nb), -1.0)
    for iterations in range(1, calibrate + 1):
        ro = analyze(y, sample_rate=sr, bands=bands, f_min_hz=f_min_hz, f_max_hz=f_max_hz)
        got = np.array([[_current_t60(ro, c, i) for i in range(nb)] for c in range(n_ch)])
        usable = asked & np.isfinite(got) & (got > 0)
        if not usable.any():
            break
        log_t = np.log(np.where(usable, got, 1.0))
        log_k = np.log(k_scale)
        err = np.where(usable, log_t - np.log(np.where(asked, target, 1.0)), 0.0)
        if np.all(np.abs(err[usable]) < math.log(1.02)):
            iterations -= 1
            break
        if prev is not None:
            dk, dt = log_k - prev[0], log_t - prev[1]
            ok = usable & prev[2] & (np.abs(dk) > 1e-6)
            slope = np.where(ok, np.clip(dt / np.where(ok, dk, 1.0), -3.0, -0.3), slope)
        prev = (log_k, log_t, usable)
        k_scale = np.exp(log_k - np.clip(err / slope, -0.7, 0.7))
        y = render(k_scale)
    if not np.all(np.isfinite(y)):
        raise ParameterError("decay shaping produced non-finite samples (target decay too long "
                             "for the available dynamic range)")
    meta["history"] = [*meta.get("history", ()), {
        "op": "shape_decay", "bands": r.bands, "band_centers_hz": nominal.tolist(),
        "measured_t60_s": np.round(cur, 4).tolist(),
        "target_t60_s": [[None if not math.isfinite(v) else round(float(v), 4) for v in row]
                         for row in target],
        "keep_early_ms": keep * 1e3, "crossfade_ms": fade * 1e3, "n_fft": n_fft, "hop": hop,
        "replace_tail": bool(replace_tail), "scale_db": np.round(k_scale, 4).tolist(),
        "calibration_steps": int(iterations)}]
    return ImpulseResponse(y, sample_rate=sr, metadata=meta)


def _continue_tail(S: np.ndarray, t_fr: np.ndarray, rate_f: np.ndarray, t_tail: np.ndarray,
                   t_min: float, rng) -> None:
    """In place: replace each bin's frames after ``t_tail`` by an exponential continuation of
    its decay (amplitude rate ``rate_f`` nepers/s) with random phases.

    The level is fitted in energy on the frames 20 to 10 dB of decay before ``t_tail``
    (unbiased for an exponential decay); the synthetic part fades in (equal power) over the
    last 10 dB before ``t_tail``.
    """
    F, T = S.shape
    d20 = 20.0 / (20 * math.log10(math.e)) / np.maximum(rate_f, 1e-6)  # seconds for 20 dB
    t_a = np.maximum(t_tail - d20, t_min)                              # fit window start
    t_b = t_tail - 0.5 * d20                                           # fit window end / fade
    tt = t_fr[None, :]
    in_fit = (tt >= t_a[:, None]) & (tt <= np.maximum(t_b, t_a + 1e-9)[:, None])
    p = np.abs(S) ** 2 * np.exp(2 * rate_f[:, None] * (tt - t_tail[:, None]))
    cnt = in_fit.sum(axis=1)
    a2 = np.where(cnt > 0, (p * in_fit).sum(axis=1) / np.maximum(cnt, 1), 0.0)   # level at t_tail
    amp = np.sqrt(a2)[:, None] * np.exp(-rate_f[:, None] * (tt - t_tail[:, None]))
    synth = amp * np.exp(2j * np.pi * rng.random((F, T)))
    span = np.maximum(t_tail - t_b, 1e-9)[:, None]
    alpha = np.clip((tt - t_b[:, None]) / span, 0.0, 1.0)
    alpha = np.where(cnt[:, None] > 0, alpha, 0.0)
    S *= np.sqrt(1.0 - alpha)
    S += np.sqrt(alpha) * synth
