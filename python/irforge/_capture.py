"""Capture the impulse response of a digital effect: a pedalboard plugin or chain, or any callable."""

from __future__ import annotations

import math
import warnings

import numpy as np

from ._errors import ParameterError
from ._validation import check_positive_int, check_real, check_sample_rate
from .impulse_response import ImpulseResponse

__all__ = ["capture", "NonlinearityWarning"]


class NonlinearityWarning(UserWarning):
    """The captured system is clearly nonlinear or time-variant: the IR is only its linear part."""


def _run(fn, audio: np.ndarray, sr: float) -> np.ndarray:
    """Call the system and check what comes back: (channels, samples) float64."""
    inp = audio[0] if audio.shape[0] == 1 else audio
    try:
        out = fn(inp.astype(np.float32), sr)
    except TypeError as exc:
        raise TypeError(f"the system must be callable as f(audio, sample_rate) -> audio "
                        f"(a pedalboard plugin or chain qualifies): {exc}") from exc
    if not isinstance(out, np.ndarray):
        raise TypeError(f"the system returned {type(out).__name__}, expected a numpy array")
    if out.dtype.kind != "f":
        raise TypeError(f"the system returned dtype {out.dtype}, expected float32/float64")
    out = np.asarray(out, dtype=np.float64)
    if out.ndim == 1:
        out = out[None, :]
    if out.ndim != 2:
        raise ParameterError(f"the system returned shape {out.shape}; expected (samples,) or (channels, samples)")
    if out.shape[0] > out.shape[1]:
        out = out.T                                          # (samples, channels) -> (channels, samples)
    if not np.isfinite(out).all():
        raise ParameterError("the system returned NaN or Inf")
    if out.shape[1] < audio.shape[1]:
        raise ParameterError(f"the system returned {out.shape[1]} samples for {audio.shape[1]} input samples")
    return out[:, : audio.shape[1]]


def capture(plugin_or_callable, *, sample_rate, duration_s=2.0, f_start_hz=2.0, amplitude=0.5, tail_s=None,
            max_tail_s=30.0, in_channels=1, floor_db=-120.0, nonlinear_threshold_db=-60.0,
            harmonics=5) -> ImpulseResponse:
    """Impulse response of a digital effect, tail included.

    Plays a synchronized exponential sweep from ``f_start_hz`` to Nyquist, followed by silence,
    through the system in one call, and measures the IR with :func:`irforge.measure_ir`
    (``method="inverse"``, synchronous: sample 0 = the sweep's start, so the plugin's latency
    stays in the IR). A digital system has no acoustic noise but a full band, so the
    regularization is negligible from DC to Nyquist: convolving audio with the IR reproduces
    the system (if it is linear and time-invariant).

    The silence after the sweep grows (doubling, up to ``max_tail_s``) until the system's output
    has fallen below ``floor_db`` relative to its peak or stops decaying (its own noise floor:
    pedalboard's Reverb settles around -130 dB); the IR is cut where it stays below
    ``floor_db``. When the deconvolution puts more than ``nonlinear_threshold_db`` of the IR's
    energy before sample 0 (harmonic distortion of the exponential sweep, or smearing by time
    variance: modulation, LFOs, noise), a :class:`NonlinearityWarning` is issued: the IR is then
    only the linear part at this ``amplitude``; the harmonic IRs are in ``ir.harmonics``.

    Parameters
    ----------
    plugin_or_callable : pedalboard.Plugin or pedalboard.Pedalboard or callable
        ``f(audio, sample_rate) -> audio``; audio is float32, 1-D for ``in_channels=1`` and
        (2, samples) for ``in_channels=2``; it may return (samples,) or (channels, samples).
        Pedalboard plugins are reset on each call.
    sample_rate : float
        Hz; the rate the system runs at and the IR's rate.
    duration_s : float
        Sweep duration.
    f_start_hz : float
        Sweep start (> 0). Below it the sweep's own onset still carries energy down to DC.
    amplitude : float
        Sweep peak level (matters for nonlinear systems: drive, compression).
    tail_s : float, optional
        Fixed silence after the sweep; default: grown automatically (see above).
    max_tail_s : float
        Upper bound of the automatic tail.
    in_channels : {1, 2}
        2: the sweep is played into the left, then the right input; with a stereo output this
        gives a true-stereo IR (L->L, L->R, R->L, R->R).
    floor_db : float
        Level relative to the output's peak below which the tail counts as finished.
    nonlinear_threshold_db : float
        Warning threshold for the energy before sample 0 relative to the IR's energy.
    harmonics : int
        Highest harmonic order separated into ``ir.harmonics``.

    Returns
    -------
    ImpulseResponse [shape=(out_channels, n) or (4, n)]
        ``metadata["capture"]`` holds the sweep, the tail used and ``acausal_energy_db``.

    Raises
    ------
    TypeError
        The system is not callable or returns a non-float array.
    ParameterError
        Bad parameters; the system returns NaN/Inf, too few samples, silence, or a mono output
        for a stereo capture.

    Warns
    -----
    NonlinearityWarning
        The system is clearly nonlinear or time-variant.

    References
    ----------
    .. [1] A. Farina, "Simultaneous measurement of impulse response and distortion with a
       swept-sine technique", 108th AES Convention, 2000.
    .. [2] A. Novak, L. Simon, P. Lotton, "Synchronized swept-sine: theory, application, and
       implementation", J. Audio Eng. Soc. 63(10), 2015.

    Examples
    --------
    >>> import numpy as np, irforge
    >>> ir = irforge.capture(lambda a, sr: 0.5 * a, sample_rate=48000, duration_s=0.5)
    >>> round(float(ir.data[0, 0]), 3)
    0.5
    """
    from . import sweeps
    from .measure import measure_ir

    if not callable(plugin_or_callable):
        raise TypeError(f"plugin_or_callable must be a pedalboard plugin/chain or a callable, got "
                        f"{type(plugin_or_callable).__name__}")
    sr = check_sample_rate(sample_rate)
    ch_in = check_positive_int(in_channels, "in_channels")
    if ch_in not in (1, 2):
        raise ParameterError(f"in_channels must be 1 or 2, got {in_channels!r}")
    fl = check_real(floor_db, "floor_db", low=-300.0, high=-20.0)
    thr = check_real(nonlinear_threshold_db, "nonlinear_threshold_db", high=0.0)
    max_tail = check_real(max_tail_s, "max_tail_s", low=0.0)
    sw = sweeps.exponential(f_start_hz, sr / 2, duration_s, sample_rate=sr, fade_in_s=0.0, fade_out_s=0.0,
                            amplitude=amplitude)
    x = sw.signal
    n_x = len(x)

    def play(tail_n: int):
        runs = []
        for c in range(ch_in):
            a = np.zeros((ch_in, n_x + tail_n))
            a[c, :n_x] = x
            runs.append(_run(plugin_or_callable, a, sr))
        return runs

    if tail_s is not None:
        tail_n = int(round(check_real(tail_s, "tail_s", low=0.0) * sr))
        runs = play(tail_n)
    else:
        tail_n = int(round(min(1.0, max_tail) * sr))
        prev = math.inf
        while True:
            runs = play(tail_n)
            y = np.concatenate(runs, axis=0)
            peak = float(np.max(np.abs(y)))
            level = float(np.max(np.abs(y[:, -max(1, int(0.05 * sr)):])))
            # done: below the floor, at the maximum, or no longer decaying (the system's own noise floor)
            if peak == 0 or level <= peak * 10 ** (fl / 20) or tail_n >= max_tail * sr or level > 0.5 * prev:
                break
            prev = level
            tail_n = int(min(2 * tail_n, max_tail * sr))
    n_out = {r.shape[0] for r in runs}
    if len(n_out) != 1:
        raise ParameterError(f"the system returned different channel counts per run: {sorted(n_out)}")
    if ch_in == 2 and runs[0].shape[0] != 2:
        raise ParameterError(f"in_channels=2 needs a stereo output for a true-stereo IR, got "
                             f"{runs[0].shape[0]} channel(s)")
    for r in runs:
        if float(np.max(np.abs(r))) < 1e-9:
            raise ParameterError("the system's output is silent: nothing to capture")
    n_ir = max(tail_n, 16)
    kw = dict(method="inverse", latency="none", ir_length_s=n_ir / sr, band_hz=(0.0, sr / 2),
              regularization_db=-200.0, harmonics=harmonics, on_clipping="ignore", check_correlation=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # the tail check below replaces the "ends early" warning
        if ch_in == 1:
            ir = measure_ir(sw, runs[0], **kw)
        else:
            ir = measure_ir(sw, {"L": runs[0], "R": runs[1]}, **kw)
    data = ir.data.astype(np.float64)
    peak = float(np.max(np.abs(data)))
    above = np.flatnonzero(np.max(np.abs(data), axis=0) > peak * 10 ** (fl / 20))
    end = int(above[-1]) + 1 if above.size else 1
    acausal = ir.metadata.get("acausal_energy_db")
    if isinstance(acausal, list):
        acausal = max(acausal)
    meta = dict(ir.metadata, capture=dict(sweep=repr(sw), tail_s=tail_n / sr, amplitude=amplitude,
                                          acausal_energy_db=acausal, system=repr(plugin_or_callable)[:200]))
    out = ImpulseResponse(data[:, :end].astype(np.float32), sample_rate=sr, metadata=meta)
    out.harmonics = ir.harmonics
    if acausal is not None and acausal > thr:
        warnings.warn(f"the captured system is clearly nonlinear or time-variant: {acausal:.1f} dB of the IR's "
                      f"energy lies outside the linear IR (threshold {thr:.0f} dB). The IR holds only the linear "
                      f"part at amplitude {amplitude}; see ir.harmonics for the distortion", NonlinearityWarning,
                      stacklevel=2)
    if math.isfinite(peak) and peak == 0:
        raise ParameterError("the captured IR is zero")
    return out
