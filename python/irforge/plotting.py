"""Plots of impulse responses, room-acoustic analyses, measurements and dereverberation.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot, so nothing
touches matplotlib's global state and the plots work headless (the Agg renderer behind
``fig.savefig``) in scripts, servers and tests; in a notebook, display the returned figure.
matplotlib is the optional extra ``irforge[plot]`` and is imported only when a plot is made.

=================================  ===========================================================
:func:`plot_ir`                    waveform in dB, magnitude response, spectrogram
                                   (also :meth:`irforge.ImpulseResponse.plot`)
:func:`plot_analysis`              EDC per band with the regression ranges, EDT/T20/T30 and
                                   C50/C80 per band (also ``irforge.analyze(ir).plot()``)
:func:`plot_measurement`           harmonic-distortion IRs and THD versus frequency of a
                                   :func:`irforge.measure_ir` result
:func:`plot_dereverb`              the decay matrix, rho per bin and the IR before and after
                                   (also ``irforge.dereverb(...).plot()``)
:func:`save_figure`                write a figure atomically (PNG, SVG or PDF)
=================================  ===========================================================

Examples
--------
>>> import numpy as np, irforge
>>> from irforge.plotting import save_figure
>>> t = np.arange(24000) / 48000
>>> ir = irforge.ImpulseResponse(np.random.default_rng(0).standard_normal(24000)
...                              * np.exp(-t / 0.1), sample_rate=48000)
>>> fig = ir.plot()
>>> [ax.get_title() for ax in fig.axes[:3]]
['Waveform', 'Magnitude response (1/6-octave smoothing)', 'Spectrogram (channel 0)']
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from ._errors import ParameterError

__all__ = ["plot_ir", "plot_analysis", "plot_measurement", "plot_dereverb", "save_figure",
           "check_plot_destination", "PLOT_FORMATS"]

#: File formats :func:`save_figure` writes (by the file name's extension).
PLOT_FORMATS = ("png", "svg", "pdf")
_MISSING = ("irforge's plots need matplotlib, which is not installed: "
            "pip install 'irforge[plot]' (or pip install matplotlib)")
_MAX_POINTS = 4000          # a waveform is drawn as at most this many (min/max) points


def _figure(figsize, nrows: int = 1, ncols: int = 1, **kw):
    """A pyplot-free Figure with a grid of axes (matplotlib imported here, lazily)."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ModuleNotFoundError(_MISSING, name="matplotlib") from exc
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ModuleNotFoundError(_MISSING, name="matplotlib") from exc


def _db(x, ref: float, floor_db: float) -> np.ndarray:
    """20 log10(|x| / ref), clipped below at ``floor_db``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        v = 20.0 * np.log10(np.abs(np.asarray(x, np.float64)) / ref)
    return np.maximum(np.nan_to_num(v, nan=floor_db, neginf=floor_db), floor_db)


def _envelope(x: np.ndarray, sample_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """(times_s, |x|) reduced to at most _MAX_POINTS points by the maximum of each chunk, so
    a long IR draws quickly and no peak is lost."""
    a = np.abs(np.asarray(x, np.float64))
    n = a.size
    if n <= _MAX_POINTS:
        return np.arange(n) / sample_rate, a
    step = math.ceil(n / _MAX_POINTS)
    m = n // step * step
    chunks = a[:m].reshape(-1, step).max(axis=1)
    if m < n:
        chunks = np.append(chunks, a[m:].max())
    return (np.arange(chunks.size) * step) / sample_rate, chunks


def _smoothed_magnitude(h: np.ndarray, sample_rate: float, fraction: float, n_points: int = 600):
    """(frequencies_hz, power) of ``h`` smoothed over 1/fraction octave (power average),
    on a log-spaced grid from 10 Hz (or the first bin) to Nyquist."""
    n_fft = 1 << max(4, math.ceil(math.log2(max(h.size, 16))))
    P = np.abs(np.fft.rfft(np.asarray(h, np.float64), n_fft)) ** 2
    df = sample_rate / n_fft
    f_lo = max(10.0, df)
    f = np.geomspace(f_lo, sample_rate / 2, n_points)
    if not fraction:
        return f, np.interp(f, np.arange(P.size) * df, P)
    c = np.concatenate([[0.0], np.cumsum(P)])
    half = 2.0 ** (0.5 / fraction)
    lo = np.clip(np.floor(f / half / df).astype(int), 0, P.size - 1)
    hi = np.clip(np.ceil(f * half / df).astype(int) + 1, 1, P.size)
    hi = np.maximum(hi, lo + 1)
    return f, (c[hi] - c[lo]) / (hi - lo)


def _log_frequency_axis(ax, f_min: float, f_max: float) -> None:
    from matplotlib.ticker import FuncFormatter

    ax.set_xscale("log")
    ax.set_xlim(f_min, f_max)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1000:g}k" if v >= 1000 else f"{v:g}"))
    ax.set_xlabel("Frequency (Hz)")
    ax.grid(True, which="both", alpha=0.3)


def _check_channel(channel, n_channels: int, what: str) -> int:
    if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)):
        raise TypeError(f"channel must be an int, got {type(channel).__name__}")
    if not 0 <= int(channel) < n_channels:
        raise ParameterError(f"channel {channel} does not exist: {what} has {n_channels} channel(s)")
    return int(channel)


def _channel_label(c: int, n: int) -> str:
    return "" if n == 1 else f"ch {c}"


# ------------------------------------------------------------------------------------------
# ImpulseResponse
# ------------------------------------------------------------------------------------------
def plot_ir(ir, *, channel: int = 0, dynamic_range_db: float = 80.0, smoothing_octaves: float = 1 / 6,
            figsize=(8.0, 9.0)):
    """Waveform in dB, magnitude response and spectrogram of an impulse response.

    Parameters
    ----------
    ir : ImpulseResponse
        The IR (every channel is drawn in the first two panels).
    channel : int
        Channel shown in the spectrogram.
    dynamic_range_db : float
        Range shown below the peak, dB (waveform and spectrogram), > 0.
    smoothing_octaves : float
        Fractional-octave smoothing of the magnitude response as the fraction's denominator
        (6 = 1/6 octave); 0 draws the raw spectrum. Default 1/6 octave.
    figsize : (float, float)
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure
        Three axes, top to bottom: ``Waveform`` (one line per channel, dB re the IR's peak
        versus time in s), ``Magnitude response ...`` (one line per channel, dB re the largest
        value, log frequency), ``Spectrogram`` (the chosen channel, dB re its peak), and a
        colour bar.

    Raises
    ------
    ModuleNotFoundError
        matplotlib is missing (``pip install 'irforge[plot]'``).
    ParameterError
        A channel the IR does not have; a non-positive ``dynamic_range_db``.
    """
    import scipy.signal as ss

    from .impulse_response import ImpulseResponse

    if not isinstance(ir, ImpulseResponse):
        raise TypeError(f"plot_ir expects an ImpulseResponse, got {type(ir).__name__}")
    channel = _check_channel(channel, ir.n_channels, "the impulse response")
    if not (isinstance(dynamic_range_db, (int, float)) and math.isfinite(dynamic_range_db)
            and dynamic_range_db > 0):
        raise ParameterError(f"dynamic_range_db must be a positive number of dB, got {dynamic_range_db!r}")
    if smoothing_octaves < 0 or not math.isfinite(smoothing_octaves):
        raise ParameterError(f"smoothing_octaves must be >= 0, got {smoothing_octaves!r}")
    fig, axes = _figure(figsize, 3, 1)
    ax_w, ax_m, ax_s = axes[:, 0]
    data, sr = ir.data, float(ir.sample_rate)
    peak = float(np.max(np.abs(data))) or 1.0
    floor = -float(dynamic_range_db)
    n = ir.n_channels

    for c in range(n):
        t, env = _envelope(data[c], sr)
        ax_w.plot(t, _db(env, peak, floor), lw=0.7, label=_channel_label(c, n) or "IR")
    ax_w.set_ylim(floor, 3)
    ax_w.set_xlim(0, ir.duration_s)
    ax_w.set_xlabel("Time (s)")
    ax_w.set_ylabel("Level (dB re peak)")
    ax_w.set_title("Waveform")
    ax_w.grid(True, alpha=0.3)

    fraction = 1.0 / smoothing_octaves if smoothing_octaves else 0.0
    curves = [_smoothed_magnitude(data[c], sr, fraction) for c in range(n)]
    ref = max(float(np.max(p)) for _, p in curves) or 1.0
    for c, (f, p) in enumerate(curves):
        with np.errstate(divide="ignore"):
            ax_m.plot(f, np.maximum(10 * np.log10(p / ref), -200.0), lw=1.0,
                      label=_channel_label(c, n) or "IR")
    _log_frequency_axis(ax_m, curves[0][0][0], sr / 2)
    ax_m.set_ylim(bottom=max(-120.0, min(float(np.nanmin(ax_m.get_ylim())), 0) - 3))
    ax_m.set_ylabel("Magnitude (dB)")
    ax_m.set_title("Magnitude response" + (f" (1/{fraction:g}-octave smoothing)" if fraction else ""))
    if n > 1:
        ax_w.legend(fontsize=8, loc="upper right")
        ax_m.legend(fontsize=8, loc="lower left")

    x = data[channel].astype(np.float64)
    nper = int(min(1024, max(32, 2 ** math.floor(math.log2(max(x.size // 8, 32))))))
    if x.size < nper:
        x = np.pad(x, (0, nper - x.size))
    f, t, S = ss.spectrogram(x, fs=sr, window="hann", nperseg=nper, noverlap=nper * 3 // 4,
                             scaling="spectrum", mode="psd")
    with np.errstate(divide="ignore"):
        S_db = 10 * np.log10(S / (S.max() or 1.0))
    S_db = np.maximum(S_db, floor)
    mesh = ax_s.pcolormesh(t, f, S_db, shading="auto", cmap="magma", vmin=floor, vmax=0, rasterized=True)
    frames_alive = np.flatnonzero((S_db > floor + 1.0).any(axis=0))   # crop to the decay
    if frames_alive.size and frames_alive[-1] + 1 < t.size:
        ax_s.set_xlim(0, min(float(t[-1]), float(t[frames_alive[-1]]) * 1.15 + nper / sr))
    ax_s.set_xlabel("Time (s)")
    ax_s.set_ylabel("Frequency (Hz)")
    ax_s.set_title(f"Spectrogram (channel {channel})")
    fig.colorbar(mesh, ax=ax_s, label="dB re peak")
    fig.suptitle(f"Impulse response: {n} ch, {ir.duration_s:.3f} s at {sr:g} Hz")
    return fig


# ------------------------------------------------------------------------------------------
# analyze()
# ------------------------------------------------------------------------------------------
def _crossing_time(t: np.ndarray, edc_db: np.ndarray, level_db: float) -> float:
    i = int(np.searchsorted(-edc_db, -level_db, side="left"))
    return float(t[i]) if i < t.size else math.nan


def plot_analysis(result, *, channel: int = 0, figsize=(9.0, 10.0)):
    """The energy decay curves and the ISO 3382-1 parameters of an :func:`irforge.analyze` result.

    Parameters
    ----------
    result : irforge.analysis.RoomAcousticsResult
        What :func:`irforge.analyze` returned.
    channel : int
        The channel drawn.
    figsize : (float, float)
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure
        Three axes: ``Energy decay curves`` (one line per band, labelled ``"<f> Hz"``, and one
        ``"broadband"``; dB re each curve's start versus s after its onset; the T30 regression
        range -5..-35 dB shaded, the EDT range's end at -10 dB dotted, each band's T30 fit
        start and end marked with dots), ``Decay times`` (EDT, T20, T30 in s per band; invalid
        values, below ISO 3382-1's dynamic range, drawn as open markers) and ``Clarity`` (C50,
        C80 in dB per band).

    Raises
    ------
    ModuleNotFoundError
        matplotlib is missing (``pip install 'irforge[plot]'``).
    ParameterError
        A channel the result does not have.
    """
    from .analysis import RoomAcousticsResult

    if not isinstance(result, RoomAcousticsResult):
        raise TypeError(f"plot_analysis expects the result of irforge.analyze(), got {type(result).__name__}")
    channel = _check_channel(channel, result.n_channels, "the analysis")
    fig, axes = _figure(figsize, 3, 1)
    ax_e, ax_t, ax_c = axes[:, 0]
    centers = np.asarray(result.band_centers_hz, float)
    cmap = _colormap("viridis")
    curves = [(f"{fc:g} Hz", fc, cmap(i / max(len(centers) - 1, 1))) for i, fc in enumerate(centers)]
    curves.append(("broadband", None, "black"))
    t_end = 0.0
    for label, fc, color in curves:
        t, e = result.edc(channel, fc)
        if t.size == 0:
            continue
        finite = np.isfinite(e)
        ax_e.plot(t[finite], e[finite], color=color, lw=2.0 if fc is None else 1.0, label=label)
        t5, t35 = _crossing_time(t, e, -5.0), _crossing_time(t, e, -35.0)
        if math.isfinite(t5) and math.isfinite(t35):
            ax_e.scatter([t5, t35], [-5.0, -35.0], color=[color], s=14, zorder=3)
        below = np.flatnonzero(e <= -65.0)
        t_end = max(t_end, float(t[below[0]]) if below.size else float(t[-1]))
    ax_e.axhspan(-35.0, -5.0, color="tab:blue", alpha=0.07, label="T30 range (-5..-35 dB)")
    ax_e.axhline(-10.0, color="grey", ls=":", lw=1.0, label="EDT end (-10 dB)")
    ax_e.set_xlim(0, max(t_end, 1e-3))
    ax_e.set_ylim(-70, 3)
    ax_e.set_xlabel("Time after the onset (s)")
    ax_e.set_ylabel("EDC (dB)")
    ax_e.set_title("Energy decay curves")
    ax_e.grid(True, alpha=0.3)
    ax_e.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))

    if centers.size:
        for name, marker in (("edt", "s"), ("t20", "^"), ("t30", "o")):
            v = np.asarray(getattr(result, f"{name}_s")[channel], float)
            ok = np.asarray(getattr(result, f"{name}_valid")[channel], bool)
            line, = ax_t.plot(centers, v, marker=marker, label=name.upper())
            bad = ~ok & np.isfinite(v)
            if bad.any():
                ax_t.plot(centers[bad], v[bad], ls="none", marker=marker, mfc="white",
                          color=line.get_color(), label=f"{name.upper()} below ISO range")
        for name, marker in (("c50_db", "s"), ("c80_db", "o")):
            ax_c.plot(centers, np.asarray(getattr(result, name)[channel], float), marker=marker,
                      label=name[:3].upper())
        for ax in (ax_t, ax_c):
            _log_frequency_axis(ax, centers[0] / 1.5, centers[-1] * 1.5)
            ax.set_xticks(centers)
            ax.set_xticks([], minor=True)
            ax.legend(fontsize=8)
    else:
        for ax in (ax_t, ax_c):
            ax.text(0.5, 0.5, "broadband analysis only (bands=None)", ha="center", va="center",
                    transform=ax.transAxes)
    ax_t.set_ylabel("Time (s)")
    ax_t.set_title("Decay times")
    ax_c.set_ylabel("Clarity (dB)")
    ax_c.set_title("Clarity")
    bb = result.broadband
    fig.suptitle(f"ISO 3382-1, channel {channel}: broadband T30 {bb.t30_s[channel]:.2f} s, "
                 f"EDT {bb.edt_s[channel]:.2f} s, C80 {bb.c80_db[channel]:.1f} dB")
    return fig


def _colormap(name: str):
    from matplotlib import colormaps

    return colormaps[name]


# ------------------------------------------------------------------------------------------
# measure_ir()
# ------------------------------------------------------------------------------------------
def plot_measurement(ir, *, channel: int = 0, dynamic_range_db: float = 100.0, figsize=(8.0, 7.0)):
    """Harmonic-distortion IRs and THD versus frequency of a sweep measurement.

    Parameters
    ----------
    ir : ImpulseResponse
        A :func:`irforge.measure_ir` result that carries ``ir.harmonics`` and
        ``ir.metadata["thd"]`` (the ``"inverse"`` method on an exponential sweep, with
        ``harmonics`` > 0).
    channel : int
        The channel drawn.
    dynamic_range_db : float
        Range shown below the linear IR's peak, dB, > 0.
    figsize : (float, float)
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: ``Linear and harmonic IRs`` (the linear IR, labelled ``"linear"``, and one
        line per order ``"order k"``, dB re the linear IR's peak versus s from the start of each
        window) and ``Distortion versus frequency`` (``"THD"`` and each order's level, dB re the
        fundamental, versus the input frequency). Orders that cannot be separated (NaN in the
        metadata) are listed in the panel's note instead of drawn.

    Raises
    ------
    ModuleNotFoundError
        matplotlib is missing (``pip install 'irforge[plot]'``).
    ParameterError
        The IR has no harmonics (another method, or ``harmonics=0``), or no such channel.
    """
    from .impulse_response import ImpulseResponse

    if not isinstance(ir, ImpulseResponse):
        raise TypeError(f"plot_measurement expects an ImpulseResponse, got {type(ir).__name__}")
    thd = ir.metadata.get("thd")
    if not ir.harmonics or not thd:
        raise ParameterError(
            "this impulse response carries no harmonic-distortion IRs: measure it from an "
            "exponential sweep with measure_ir(sweep, recording, method='inverse', harmonics=5) "
            f"(method here: {ir.metadata.get('method')!r}); ir.plot() draws the IR itself")
    channel = _check_channel(channel, ir.n_channels, "the impulse response")
    fig, axes = _figure(figsize, 2, 1)
    ax_h, ax_d = axes[:, 0]
    sr = float(ir.sample_rate)
    peak = float(np.max(np.abs(ir.data[channel]))) or 1.0
    floor = -float(dynamic_range_db)
    t, env = _envelope(ir.data[channel], sr)
    ax_h.plot(t, _db(env, peak, floor), color="black", lw=0.8, label="linear")
    t_max = ir.duration_s
    for k, h in sorted(ir.harmonics.items()):
        c = min(channel, h.n_channels - 1)
        t, env = _envelope(h.data[c], sr)
        ax_h.plot(t, _db(env, peak, floor), lw=0.8, label=f"order {k}")
        t_max = max(t_max, h.duration_s)
    ax_h.set_xlim(0, t_max)
    ax_h.set_ylim(floor, 3)
    ax_h.set_xlabel("Time from the window's start (s)")
    ax_h.set_ylabel("Level (dB re linear peak)")
    ax_h.set_title("Linear and harmonic IRs")
    ax_h.grid(True, alpha=0.3)
    ax_h.legend(fontsize=8, loc="upper right")

    f = np.asarray(thd["frequency_hz"], float)
    total = np.asarray(thd["thd"], float)
    total = total[min(channel, total.shape[0] - 1)] if total.ndim == 2 else total
    skipped = []
    if np.isfinite(total).any():
        with np.errstate(divide="ignore", invalid="ignore"):
            ax_d.plot(f, 20 * np.log10(total), color="black", lw=1.8, marker=".", label="THD")
    else:
        skipped.append("THD")
    for k, lv in sorted(thd["harmonic_levels_db"].items()):
        lv = np.asarray(lv, float)
        lv = lv[min(channel, lv.shape[0] - 1)] if lv.ndim == 2 else lv
        if not np.isfinite(lv).any():
            skipped.append(f"order {k}")
            continue
        ax_d.plot(f, lv, lw=1.0, label=f"order {k}")
    if skipped or thd.get("note"):
        note = (f"not drawn (not separable, NaN): {', '.join(map(str, skipped))}; "
                f"a longer sweep separates them" if skipped else "")
        ax_d.text(0.01, 0.03, note or str(thd.get("note"))[:90], transform=ax_d.transAxes, fontsize=8,
                  color="tab:red")
    if f.size:
        _log_frequency_axis(ax_d, f[0] / 1.2, f[-1] * 1.2)
    ax_d.set_ylabel("Level (dB re fundamental)")
    ax_d.set_title("Distortion versus frequency")
    if ax_d.get_legend_handles_labels()[0]:
        ax_d.legend(fontsize=8, loc="upper right")
    fig.suptitle(f"Sweep measurement ({ir.metadata.get('method', '?')}), channel {channel}")
    return fig


# ------------------------------------------------------------------------------------------
# dereverb()
# ------------------------------------------------------------------------------------------
def plot_dereverb(result, *, dynamic_range_db: float = 80.0, figsize=(8.0, 10.0)):
    """The decay matrix, the T60 ratio per bin and the room's IR before and after a
    :func:`irforge.dereverb` filter.

    Parameters
    ----------
    result : irforge.dereverberation.DereverbResult
        What :func:`irforge.dereverb` returned.
    dynamic_range_db : float
        Range shown below the peaks, dB, > 0.
    figsize : (float, float)
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure
        Three axes and a colour bar: ``Decay matrix`` (the factors D applied to the STFT of the
        system IR, dB, frequency versus time), ``T60 ratio`` (rho per frequency bin) and
        ``IR before and after`` (the measured system IR, ``"before"``, and the system IR
        followed by the filter, ``"after"``, from
        :func:`irforge.dereverberation.effective_ir`; dB re the first one's peak).

    Raises
    ------
    ModuleNotFoundError
        matplotlib is missing (``pip install 'irforge[plot]'``).
    """
    from .dereverberation import DereverbResult, effective_ir

    if not isinstance(result, DereverbResult):
        raise TypeError(f"plot_dereverb expects the result of irforge.dereverb(), got {type(result).__name__}")
    fig, axes = _figure(figsize, 3, 1)
    ax_d, ax_r, ax_i = axes[:, 0]
    sr = float(result.sample_rate)
    floor = -float(dynamic_range_db)
    D = np.asarray(result.decay_matrix, np.float64)
    freqs = np.asarray(result.frequencies_hz, float)
    times = np.asarray(result.decay_times_s, float)
    D_db = _db(D, float(np.max(np.abs(D))) or 1.0, floor)
    mesh = ax_d.pcolormesh(times[: D.shape[1]], freqs[: D.shape[0]], D_db, shading="auto",
                           cmap="viridis", vmin=floor, vmax=0, rasterized=True)
    fig.colorbar(mesh, ax=ax_d, label="D (dB)")
    alive = np.flatnonzero((D_db > floor).any(axis=0))   # columns where some bin is still above the floor
    if alive.size and alive[-1] + 1 < times.size:
        ax_d.set_xlim(times[0], times[min(times.size - 1, int(alive[-1] * 1.2) + 2)])
    ax_d.set_xlabel("Time in the system IR (s)")
    ax_d.set_ylabel("Frequency (Hz)")
    ax_d.set_title("Decay matrix")

    rho = np.asarray(result.t60_ratio, float).reshape(-1)
    f_rho = freqs[: rho.size] if rho.size <= freqs.size else np.linspace(0, sr / 2, rho.size)
    keep = f_rho > 0
    ax_r.plot(f_rho[keep], rho[keep], lw=1.0, label="rho")
    _log_frequency_axis(ax_r, max(float(f_rho[keep][0]) if keep.any() else 10.0, 10.0), sr / 2)
    ax_r.set_ylabel("T60 ratio (target / measured)")
    ax_r.set_title("T60 ratio")

    before = np.asarray(result.system_ir, np.float64)
    after = effective_ir(result, before)
    peak = float(np.max(np.abs(before))) or 1.0
    for label, h, color in (("before", before, "tab:grey"), ("after", after, "tab:blue")):
        t, env = _envelope(h, sr)
        ax_i.plot(t, _db(env, peak, floor), lw=0.8, color=color, label=label)
    ax_i.set_ylim(floor, 6)
    ax_i.set_xlim(0, before.size / sr)    # the room's length; "after" ends with the filter's own tail
    ax_i.set_xlabel("Time (s)")
    ax_i.set_ylabel("Level (dB re peak before)")
    ax_i.set_title("IR before and after")
    ax_i.grid(True, alpha=0.3)
    ax_i.legend(fontsize=8, loc="upper right")
    fig.suptitle(f"Dereverberation ({result.mode} mode), {sr:g} Hz")
    return fig


# ------------------------------------------------------------------------------------------
# files
# ------------------------------------------------------------------------------------------
def check_plot_destination(path, *, overwrite: bool = False) -> tuple[Path, str]:
    """Check a plot's destination before any work is done: ``(path, format)``.

    Raises
    ------
    ModuleNotFoundError
        matplotlib is missing (``pip install 'irforge[plot]'``).
    ParameterError
        An extension other than .png, .svg, .pdf.
    FileExistsError
        ``path`` exists and ``overwrite`` is false.
    FileNotFoundError
        Its directory does not exist.
    """
    _require_matplotlib()
    p = Path(path)
    fmt = p.suffix.lower().lstrip(".")
    if fmt not in PLOT_FORMATS:
        raise ParameterError(f"unsupported plot file extension {p.suffix!r} for {str(p)!r}; "
                             f"use one of {['.' + f for f in PLOT_FORMATS]}")
    if p.exists() and not overwrite:
        raise FileExistsError(f"{str(p)!r} exists; pass overwrite=True to replace it")
    if not p.parent.exists():
        raise FileNotFoundError(f"directory does not exist: {str(p.parent)!r}")
    return p, fmt


def save_figure(fig, path, *, overwrite: bool = False, dpi: float = 110.0) -> Path:
    """Write a figure to ``path`` atomically (PNG, SVG or PDF, by the extension).

    The image is rendered in memory (matplotlib's Agg/vector renderers, no display needed) and
    written like every irforge output (:func:`irforge.audio_io.write_bytes_atomic`): never
    half-written, an existing file only with ``overwrite``.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        What a ``plot_*`` function returned.
    path : str or os.PathLike
        Destination ending in .png, .svg or .pdf.
    overwrite : bool
        Replace an existing file.
    dpi : float
        Resolution of a PNG, dots per inch.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    from .audio_io import write_bytes_atomic

    p, fmt = check_plot_destination(path, overwrite=overwrite)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi)
    return write_bytes_atomic(p, buf.getvalue(), overwrite=overwrite)
