"""Test signals for measuring impulse responses: sweeps, MLS, and playback files.

Every generator returns a :class:`Sweep`: the samples (``.signal``, 1-D float64), the sample
rate, and what :func:`irforge.measure_ir` needs to invert it (kind, band, sweep rate, periods).

=====================  ===============================================  ===================
generator              signal                                           ``measure_ir`` auto
=====================  ===============================================  ===================
:func:`exponential`    log sweep (Farina), synchronized (Novak et al.)  ``"inverse"``
:func:`linear`         constant-amplitude linear chirp                  ``"division"``
:func:`periodic`       any sweep tiled P times (synchronous averaging)  ``"division"``
:func:`complex_pair`   cosine + sine chirp pair (analytic method)       ``"complex"``
:func:`mls`            maximum-length sequence, P periods               ``"mls"``
=====================  ===============================================  ===================

:func:`write_playback` writes a sweep (or several) with leading/trailing silence and an optional
tone-burst alignment marker to an audio file, atomically, and returns a :class:`Playback` that
:func:`irforge.measure_ir` accepts in place of the sweep.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import cast

import numpy as np

from ._errors import ParameterError
from ._validation import check_positive_int, check_real, check_sample_rate

__all__ = ["Sweep", "Playback", "exponential", "linear", "periodic", "complex_pair", "mls",
           "write_playback"]

KINDS = ("exponential", "linear", "complex", "mls")


@dataclass(frozen=True, eq=False)
class Sweep:
    """A measurement signal and what is needed to invert it.

    Made by :func:`exponential`, :func:`linear`, :func:`periodic`, :func:`complex_pair` or
    :func:`mls`; pass it to :func:`irforge.measure_ir` as ``excitation``.

    Attributes
    ----------
    signal : np.ndarray [shape=(samples,), dtype float64]
        The samples to play (all periods, for a periodic signal). For :func:`complex_pair`
        the cosine sweep.
    sample_rate : float
        Hz.
    kind : {"exponential", "linear", "complex", "mls"}
    f_start_hz, f_end_hz : float
        Band swept (for MLS: 0 and Nyquist).
    duration_s : float
        Duration of one period (one sweep).
    fade_in_s, fade_out_s, amplitude : float
        As generated.
    synchronized : bool
        Exponential sweep with the phase synchronization of Novak et al. (2015): the k-th
        harmonic IR sits exactly ``rate_s * ln(k)`` seconds before the linear IR.
    rate_s : float or None
        Exponential sweep: ``L`` in ``f(t) = f_start * exp(t / L)`` (seconds per e-fold).
        Linear/complex sweep: None.
    periods : int
        Number of periods in ``signal`` (1 for a one-shot sweep).
    signal_sine : np.ndarray or None
        :func:`complex_pair` only: the sine sweep (the second signal to play and record).
    """

    signal: np.ndarray
    sample_rate: float
    kind: str
    f_start_hz: float
    f_end_hz: float
    duration_s: float
    fade_in_s: float = 0.0
    fade_out_s: float = 0.0
    amplitude: float = 1.0
    synchronized: bool = False
    rate_s: float | None = None
    periods: int = 1
    signal_sine: np.ndarray | None = None
    order: int | None = None
    _cache: dict = field(default_factory=dict, repr=False)   # inverse spectra kept by measure_ir

    def __post_init__(self):
        self.signal.setflags(write=False)

    # -- derived ------------------------------------------------------------------------
    @property
    def period_samples(self) -> int:
        """Samples in one period (``len(signal) // periods``)."""
        return len(self.signal) // self.periods

    @property
    def period_signal(self) -> np.ndarray:
        """One period of the signal, shape (period_samples,)."""
        return self.signal[: self.period_samples]

    @property
    def n_samples(self) -> int:
        return len(self.signal)

    def harmonic_delay_s(self, order: int) -> float:
        """How far before the linear IR the IR of harmonic ``order`` lands (exponential sweep).

        ``rate_s * ln(order)`` (Farina 2000; exact for the synchronized sweep, Novak et al. 2015).

        Raises
        ------
        ParameterError
            Not an exponential sweep, or ``order < 1``.
        """
        if self.kind != "exponential":
            raise ParameterError(f"harmonic delays exist only for exponential sweeps, not {self.kind!r}")
        k = check_positive_int(order, "order")
        # rate_s is set for the exponential sweeps exponential() makes
        return float(cast(float, self.rate_s) * math.log(k))

    def inverse_filter(self) -> np.ndarray:
        """The classical time-domain inverse filter of one period.

        Exponential sweep: the time-reversed sweep with an amplitude envelope falling 6 dB per
        octave (Farina 2000). Linear sweep: the time-reversed sweep (matched filter). Both are
        scaled so that ``convolve(signal, inverse)`` has unit gain in the middle of the band.
        :func:`irforge.measure_ir` does not use this: it inverts the sweep's exact spectrum
        with frequency-dependent regularization (Müller & Massarani 2001), which is flat to the
        band edges; this filter is for users who want the textbook one.

        Returns
        -------
        np.ndarray [shape=(period_samples,), dtype float64]

        Raises
        ------
        ParameterError
            For MLS and complex pairs (invert those with :func:`irforge.measure_ir`).

        References
        ----------
        .. [1] A. Farina, "Simultaneous measurement of impulse response and distortion with a
           swept-sine technique", 108th AES Convention, 2000, preprint 5093.
        """
        x = self.period_signal
        if self.kind == "exponential":
            t = np.arange(len(x)) / self.sample_rate
            # amplitude proportional to the instantaneous frequency compensates the pink spectrum
            inv = (x * np.exp((t - t[-1]) / self.rate_s))[::-1]
        elif self.kind == "linear":
            inv = x[::-1].copy()
        else:
            raise ParameterError(f"no time-domain inverse filter for a {self.kind!r} signal")
        n = 1 << int(math.ceil(math.log2(2 * len(x))))
        g = np.fft.rfft(x, n) * np.fft.rfft(inv, n)
        f = np.fft.rfftfreq(n, 1 / self.sample_rate)
        fc = math.sqrt(max(self.f_start_hz, 1.0) * self.f_end_hz)
        band = (f > fc / 1.5) & (f < fc * 1.5)
        return inv / float(np.median(np.abs(g[band])))

    def __repr__(self) -> str:
        return (f"Sweep(kind={self.kind!r}, f_start_hz={self.f_start_hz:g}, f_end_hz={self.f_end_hz:g}, "
                f"duration_s={self.duration_s:g}, periods={self.periods}, sample_rate={self.sample_rate:g}, "
                f"synchronized={self.synchronized})")


@dataclass(frozen=True, eq=False)
class Playback:
    """A playback file's layout, returned by :func:`write_playback`.

    Pass it to :func:`irforge.measure_ir` as ``excitation`` with the recording of the whole
    file: the marker (if any) aligns the recording, every sweep in the file is measured, and
    the results are averaged.

    Attributes
    ----------
    path : Path or None
    signal : np.ndarray [shape=(samples,), dtype float64]
        Everything written to the file.
    sweep : Sweep
    sweep_starts : tuple of int
        Sample index in ``signal`` where each sweep begins.
    marker_start : int or None
        Sample index where the marker burst begins (None without marker).
    marker : np.ndarray or None
        The marker burst.
    """

    path: Path | None
    signal: np.ndarray
    sweep: Sweep
    sweep_starts: tuple
    marker_start: int | None
    marker: np.ndarray | None

    @property
    def sample_rate(self) -> float:
        return self.sweep.sample_rate


# ------------------------------------------------------------------------------------------
# checks and helpers
# ------------------------------------------------------------------------------------------
def _check_band(f_start_hz, f_end_hz, sample_rate, *, allow_zero_start: bool):
    sr = check_sample_rate(sample_rate)
    f0 = check_real(f_start_hz, "f_start_hz")
    f1 = check_real(f_end_hz, "f_end_hz")
    nyq = sr / 2
    if allow_zero_start:
        if f0 < 0:
            raise ParameterError(f"f_start_hz must be >= 0, got {f_start_hz!r}")
    elif f0 <= 0:
        raise ParameterError(f"f_start_hz must be > 0 for an exponential sweep, got {f_start_hz!r}")
    if f1 > nyq:
        raise ParameterError(f"f_end_hz={f_end_hz!r} is above the Nyquist frequency {nyq:g} Hz "
                             f"(sample_rate={sr:g})")
    if f1 <= f0:
        raise ParameterError(f"f_end_hz must be above f_start_hz, got f_start_hz={f_start_hz!r}, "
                             f"f_end_hz={f_end_hz!r}")
    return f0, f1, sr


# No measurement sweep is longer (a 10-minute sweep is already unusually long); a duration of
# 1e9 s asked numpy for hundreds of TiB.
MAX_DURATION_S = 3600.0


def _check_duration(duration_s, sr, name="duration_s") -> float:
    d = check_real(duration_s, name)
    if d > MAX_DURATION_S:
        raise ParameterError(f"{name} must be at most {MAX_DURATION_S:.0f} s, got {duration_s!r}")
    if d * sr < 16:
        raise ParameterError(f"{name} must give at least 16 samples, got {duration_s!r} s at {sr:g} Hz")
    return d


def _fades(x: np.ndarray, sr: float, fade_in_s, fade_out_s) -> tuple[float, float]:
    """Half-Hann fades in place; returns the fade lengths used."""
    fi = check_real(fade_in_s, "fade_in_s", low=0.0)
    fo = check_real(fade_out_s, "fade_out_s", low=0.0)
    ni, no = int(round(fi * sr)), int(round(fo * sr))
    if ni + no > len(x):
        raise ParameterError(f"fade_in_s + fade_out_s ({fi:g} + {fo:g} s) exceed the duration "
                             f"({len(x) / sr:g} s)")
    if ni:
        x[:ni] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(ni) / ni)
    if no:
        x[len(x) - no:] *= 0.5 + 0.5 * np.cos(np.pi * (np.arange(no) + 1) / no)
    return fi, fo


def _check_amplitude(amplitude) -> float:
    a = check_real(amplitude, "amplitude")
    if not 0 < a <= 1:
        raise ParameterError(f"amplitude must be in (0, 1] (full scale = 1), got {amplitude!r}")
    return a


# ------------------------------------------------------------------------------------------
# generators
# ------------------------------------------------------------------------------------------
def exponential(f_start_hz, f_end_hz, duration_s, *, sample_rate, fade_in_s=0.05, fade_out_s=0.005,
                amplitude=0.5, synchronized=True) -> Sweep:
    """Exponential (logarithmic) sine sweep.

    ``x(t) = A sin(2 pi f_start L (exp(t / L) - 1))``, instantaneous frequency
    ``f_start exp(t / L)``: equal time per octave, a pink spectrum (-3 dB/octave). A
    memoryless nonlinearity's k-th harmonic is the same sweep ``L ln(k)`` seconds early, so
    after deconvolution its IR lands that far *before* the linear IR and can be cut out
    (Farina 2000).

    With ``synchronized=True`` (default) ``L`` is rounded so that ``f_start * L`` is an integer
    (Novak et al. 2015): the harmonics are then in phase with the sweep, the harmonic IRs sit
    at exactly ``-L ln(k)`` and their phase is meaningful. The duration becomes
    ``L ln(f_end / f_start)``, slightly different from ``duration_s`` (at most
    ``ln(f_end/f_start) / (2 f_start)`` s off).

    Parameters
    ----------
    f_start_hz : float
        Start frequency, > 0.
    f_end_hz : float
        End frequency, <= Nyquist (``sample_rate / 2``).
    duration_s : float
        Requested duration.
    sample_rate : float
        Hz.
    fade_in_s, fade_out_s : float
        Half-Hann fade lengths (soften the onset and the end; the band edges they affect are
        equalised by the regularized inversion in :func:`irforge.measure_ir`).
    amplitude : float
        Peak amplitude, in (0, 1].
    synchronized : bool
        Novak's synchronization (see above). False: Farina's original ``L = T / ln(f1/f0)``.

    Returns
    -------
    Sweep
        ``kind="exponential"``, ``rate_s = L``.

    Raises
    ------
    ParameterError
        ``f_start_hz <= 0``, ``f_end_hz`` above Nyquist or not above ``f_start_hz``, a
        duration under 16 samples, fades longer than the sweep, amplitude outside (0, 1].
    TypeError
        A non-numeric argument.

    References
    ----------
    .. [1] A. Farina, "Simultaneous measurement of impulse response and distortion with a
       swept-sine technique", 108th AES Convention, Paris, 2000, preprint 5093.
    .. [2] A. Novak, L. Simon, P. Lotton, "Synchronized swept-sine: theory, application, and
       implementation", J. Audio Eng. Soc. 63(10), 786-798, 2015.

    Examples
    --------
    >>> import irforge
    >>> sw = irforge.sweeps.exponential(20, 20000, 2.0, sample_rate=48000)
    >>> sw.kind, sw.signal.ndim, round(sw.harmonic_delay_s(2), 4)
    ('exponential', 1, 0.2079)
    """
    f0, f1, sr = _check_band(f_start_hz, f_end_hz, sample_rate, allow_zero_start=False)
    d = _check_duration(duration_s, sr)
    amp = _check_amplitude(amplitude)
    lnr = math.log(f1 / f0)
    if synchronized:
        k = max(1, round(f0 * d / lnr))
        L = k / f0
        d = L * lnr
        if d * sr < 16:
            raise ParameterError(f"duration_s={duration_s!r} is too short for a synchronized sweep "
                                 f"starting at {f0:g} Hz")
    else:
        L = d / lnr
    n = int(round(d * sr))
    t = np.arange(n) / sr
    x = amp * np.sin(2 * np.pi * f0 * L * np.expm1(t / L))
    fi, fo = _fades(x, sr, fade_in_s, fade_out_s)
    return Sweep(signal=x, sample_rate=sr, kind="exponential", f_start_hz=f0, f_end_hz=f1,
                 duration_s=n / sr, fade_in_s=fi, fade_out_s=fo, amplitude=amp,
                 synchronized=bool(synchronized), rate_s=L)


def linear(f_start_hz, f_end_hz, duration_s, *, sample_rate, fade_in_s=0.0, fade_out_s=0.005,
           amplitude=0.5) -> Sweep:
    """Linear sine sweep (chirp) with constant amplitude.

    ``x(t) = A sin(2 pi (f_start t + (f_end - f_start) t^2 / (2 T)))``: a flat (white)
    spectrum in the band. Its matched filter is the time-reversed sweep; harmonic distortion
    cannot be separated from the linear IR (it spreads over it).

    Parameters
    ----------
    f_start_hz : float
        Start frequency, >= 0.
    f_end_hz : float
        End frequency, <= Nyquist.
    duration_s : float
    sample_rate : float
    fade_in_s, fade_out_s : float
        Half-Hann fades.
    amplitude : float
        Peak amplitude, in (0, 1].

    Returns
    -------
    Sweep
        ``kind="linear"``.

    Raises
    ------
    ParameterError
        Band outside [0, Nyquist] or empty, a duration under 16 samples, bad fades/amplitude.

    References
    ----------
    .. [1] S. Müller, P. Massarani, "Transfer-function measurement with sweeps", J. Audio Eng.
       Soc. 49(6), 443-471, 2001.

    Examples
    --------
    >>> import irforge
    >>> sw = irforge.sweeps.linear(20, 20000, 1.0, sample_rate=48000)
    >>> sw.signal.shape
    (48000,)
    """
    f0, f1, sr = _check_band(f_start_hz, f_end_hz, sample_rate, allow_zero_start=True)
    d = _check_duration(duration_s, sr)
    amp = _check_amplitude(amplitude)
    n = int(round(d * sr))
    t = np.arange(n) / sr
    x = amp * np.sin(2 * np.pi * (f0 * t + (f1 - f0) / (2 * d) * t * t))
    fi, fo = _fades(x, sr, fade_in_s, fade_out_s)
    return Sweep(signal=x, sample_rate=sr, kind="linear", f_start_hz=f0, f_end_hz=f1, duration_s=n / sr,
                 fade_in_s=fi, fade_out_s=fo, amplitude=amp)


def periodic(sweep: Sweep, periods) -> Sweep:
    """The sweep tiled ``periods`` times, for synchronous averaging.

    :func:`irforge.measure_ir` treats the first period as pre-excitation (it fills the
    system with the periodic steady state), averages the other ``periods - 1`` and inverts
    them by circular deconvolution: uncorrelated noise drops by ``10 log10(periods - 1)`` dB.
    The IR must be shorter than one period.

    Parameters
    ----------
    sweep : Sweep
        One-shot exponential or linear sweep (fades of zero length at the joins avoid a gap;
        the sweep is tiled as it is).
    periods : int
        >= 1.

    Returns
    -------
    Sweep
        Same kind, ``periods`` set, ``signal`` of ``periods * len(sweep.signal)`` samples.

    Raises
    ------
    TypeError
        ``sweep`` is not a Sweep, ``periods`` not an integer.
    ParameterError
        ``periods < 1``, or the sweep is already periodic / a complex pair.

    References
    ----------
    .. [1] S. Müller, P. Massarani, "Transfer-function measurement with sweeps", J. Audio Eng.
       Soc. 49(6), 2001 (periodic sweeps, cyclic deconvolution).
    .. [2] S. Ciba, "Digital audio filter by deconvolution with frequency bin specific decayed
       impulse response", 2025, eq. (3).

    Examples
    --------
    >>> import irforge
    >>> sw = irforge.sweeps.periodic(irforge.sweeps.linear(20, 20000, 0.5, sample_rate=48000), 4)
    >>> sw.periods, sw.signal.shape
    (4, (96000,))
    """
    if not isinstance(sweep, Sweep):
        raise TypeError(f"sweep must be an irforge.Sweep, got {type(sweep).__name__}")
    p = check_positive_int(periods, "periods")
    if sweep.periods != 1 or sweep.kind == "complex":
        raise ParameterError(f"periodic() needs a one-shot exponential/linear/MLS signal, got {sweep!r}")
    return replace(sweep, signal=np.tile(sweep.signal, p), periods=p, _cache={})


def complex_pair(duration_s, *, sample_rate, amplitude=0.5) -> Sweep:
    """Cosine and sine chirps of the analytic (complex sweep) method.

    ``x[n] = exp(j pi (n - N/2)^2 / N)`` sweeps from -Nyquist through 0 to +Nyquist; its DFT
    has constant magnitude (a Zadoff-Chu-like sequence), so there is no division by (near)
    zero anywhere from DC to Nyquist. Play ``signal`` (cosine, real part) and ``signal_sine``
    (sine, imaginary part) one after the other, record both synchronously, and pass the pair
    ``(recording_cos, recording_sin)`` to :func:`irforge.measure_ir` (``method="complex"``),
    which forms the complex response ``y_cos + j y_sin`` and divides by ``X``.

    Parameters
    ----------
    duration_s : float
        Duration of each chirp (rounded to an even number of samples).
    sample_rate : float
    amplitude : float
        Peak amplitude, in (0, 1].

    Returns
    -------
    Sweep
        ``kind="complex"``, ``signal`` = cosine chirp, ``signal_sine`` = sine chirp.

    Raises
    ------
    ParameterError
        A duration under 16 samples, amplitude outside (0, 1].

    References
    ----------
    .. [1] R. Bristow-Johnson's derivation of the analytic-sweep method (DSP Stack Exchange,
       "How to get the impulse response from a sweep and its recording", 2017).
    .. [2] D. Chu, "Polyphase codes with good periodic correlation properties", IEEE Trans.
       Inf. Theory 18(4), 1972.

    Examples
    --------
    >>> import irforge
    >>> sw = irforge.sweeps.complex_pair(0.5, sample_rate=48000)
    >>> sw.signal.shape == sw.signal_sine.shape
    True
    """
    sr = check_sample_rate(sample_rate)
    d = _check_duration(duration_s, sr)
    amp = _check_amplitude(amplitude)
    n = 2 * int(round(d * sr / 2))
    m = np.arange(n) - n / 2
    ph = np.pi * (m * m) / n
    ph = np.mod(ph, 2 * np.pi)
    xc, xs = amp * np.cos(ph), amp * np.sin(ph)
    xs.setflags(write=False)
    return Sweep(signal=xc, sample_rate=sr, kind="complex", f_start_hz=0.0, f_end_hz=sr / 2,
                 duration_s=n / sr, amplitude=amp, signal_sine=xs)


def mls(order, *, sample_rate, amplitude=0.5, periods=2) -> Sweep:
    """Maximum-length sequence (binary pseudo-noise), ``2**order - 1`` samples per period.

    Values ``+-amplitude``. Its circular autocorrelation is ``N`` at lag 0 and ``-1``
    elsewhere, so one steady-state period of the recording, circularly cross-correlated with
    the sequence, gives the IR (Rife & Vanderkooy 1989). :func:`irforge.measure_ir`
    (``method="mls"``) discards the first period (pre-excitation) and averages the rest; the
    IR must be shorter than one period. MLS is sensitive to nonlinearity and time variance
    (errors spread as pseudo-noise); prefer an exponential sweep for acoustics.

    Parameters
    ----------
    order : int
        2..24.
    sample_rate : float
    amplitude : float
        in (0, 1].
    periods : int
        Periods to play, >= 1 (2 or more: the first one is discarded).

    Returns
    -------
    Sweep
        ``kind="mls"``, ``order`` set.

    Raises
    ------
    ParameterError
        ``order`` outside 2..24, ``periods < 1``, bad amplitude.

    References
    ----------
    .. [1] D. D. Rife, J. Vanderkooy, "Transfer-function measurement with maximum-length
       sequences", J. Audio Eng. Soc. 37(6), 419-444, 1989.

    Examples
    --------
    >>> import irforge
    >>> sw = irforge.sweeps.mls(10, sample_rate=48000)
    >>> sw.period_samples, sw.periods
    (1023, 2)
    """
    from scipy.signal import max_len_seq

    o = check_positive_int(order, "order")
    if not 2 <= o <= 24:
        raise ParameterError(f"order must be in 2..24, got {order!r}")
    sr = check_sample_rate(sample_rate)
    amp = _check_amplitude(amplitude)
    p = check_positive_int(periods, "periods")
    seq = max_len_seq(o)[0].astype(np.float64) * 2 - 1
    n = len(seq)
    return Sweep(signal=np.tile(amp * seq, p), sample_rate=sr, kind="mls", f_start_hz=0.0,
                 f_end_hz=sr / 2, duration_s=n / sr, amplitude=amp, periods=p, order=o)


# ------------------------------------------------------------------------------------------
# playback files
# ------------------------------------------------------------------------------------------
def tone_burst(*, sample_rate, frequency_hz=1000.0, duration_s=0.05, amplitude=0.5) -> np.ndarray:
    """A Hann-windowed tone burst (the alignment marker of :func:`write_playback`)."""
    sr = check_sample_rate(sample_rate)
    f = check_real(frequency_hz, "frequency_hz", low=1.0, high=sr / 2)
    d = _check_duration(duration_s, sr, "marker_s")
    n = int(round(d * sr))
    t = np.arange(n) / sr
    return _check_amplitude(amplitude) * np.hanning(n) * np.sin(2 * np.pi * f * t)


def write_playback(path, sweep: Sweep, *, repeats=1, pre_silence_s=0.5, gap_s=3.0, post_silence_s=3.0,
                   marker=True, marker_hz=1000.0, marker_s=0.05, marker_gap_s=0.5, bit_depth=32,
                   overwrite=False) -> Playback:
    """Write a playback file: [silence][marker][gap][sweep][gap][sweep]...[silence].

    Play the file through the system and record it (the recording may start early or late);
    pass the returned :class:`Playback` and the recording to :func:`irforge.measure_ir`. The
    tone-burst marker (after Wong's chirp-measurement recipe) lets the recording be aligned
    when the sound card adds unknown latency.

    Parameters
    ----------
    path : str or Path or None
        ``.wav``/``.aif(f)``/``.flac`` destination, written atomically (temporary file +
        rename). None: build the layout without writing.
    sweep : Sweep
        Any signal from this module except :func:`complex_pair` (its cosine and sine chirps
        are two separate recordings).
    repeats : int
        Number of sweeps (measure_ir averages them).
    pre_silence_s, gap_s, post_silence_s : float
        Silence before the marker, after each sweep (must exceed the IR length) and at the end.
    marker : bool
        Add the tone burst before the first sweep.
    marker_hz, marker_s, marker_gap_s : float
        Burst frequency, duration, and silence between burst and first sweep.
    bit_depth : {16, 24, 32}
        32 = float WAV.
    overwrite : bool
        Replace an existing file (never by default).

    Returns
    -------
    Playback

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is False.
    ParameterError
        Bad durations, an unsupported extension or bit depth.
    TypeError
        ``sweep`` is not a Sweep.

    Examples
    --------
    >>> import irforge
    >>> sw = irforge.sweeps.exponential(20, 20000, 1.0, sample_rate=48000)
    >>> pb = irforge.sweeps.write_playback(None, sw, repeats=2, gap_s=1.0)
    >>> len(pb.sweep_starts)
    2
    """
    from .audio_io import write_audio_atomic

    if not isinstance(sweep, Sweep):
        raise TypeError(f"sweep must be an irforge.Sweep, got {type(sweep).__name__}")
    if sweep.kind == "complex":
        raise ParameterError("a complex pair is two signals: write sweep.signal and sweep.signal_sine "
                             "as two playback files (one Sweep each is not defined); record both")
    sr = sweep.sample_rate
    r = check_positive_int(repeats, "repeats")
    pre = int(round(check_real(pre_silence_s, "pre_silence_s", low=0.0) * sr))
    gap = int(round(check_real(gap_s, "gap_s", low=0.0) * sr))
    post = int(round(check_real(post_silence_s, "post_silence_s", low=0.0) * sr))
    parts, pos = [np.zeros(pre)], pre
    burst, marker_start = None, None
    if marker:
        burst = tone_burst(sample_rate=sr, frequency_hz=marker_hz, duration_s=marker_s,
                           amplitude=sweep.amplitude)
        mg = int(round(check_real(marker_gap_s, "marker_gap_s", low=0.0) * sr))
        marker_start = pos
        parts += [burst, np.zeros(mg)]
        pos += len(burst) + mg
    starts = []
    for i in range(r):
        starts.append(pos)
        parts.append(sweep.signal)
        pos += len(sweep.signal)
        if i < r - 1:
            parts.append(np.zeros(gap))
            pos += gap
    parts.append(np.zeros(post))
    sig = np.concatenate(parts)
    sig.setflags(write=False)
    p = None
    if path is not None:
        p = write_audio_atomic(path, sig[None, :], sr, bit_depth=bit_depth, overwrite=overwrite)
    return Playback(path=p, signal=sig, sweep=sweep, sweep_starts=tuple(starts), marker_start=marker_start,
                    marker=burst)
