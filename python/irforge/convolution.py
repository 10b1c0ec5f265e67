"""Applying impulse responses: offline :func:`convolve` and the streaming :class:`Convolver`.

Both run the C++ partitioned-convolution engine (uniformly partitioned overlap-save with a
frequency-domain delay line per stage, non-uniform stage sizes, zero latency; see
``cpp/include/irforge/convolver.h``).

Channel routing (``ir`` channels x audio channels):

==========  ===========  =====================================================
IR          audio        output
==========  ===========  =====================================================
1 channel   C channels   every channel convolved with the IR (C channels)
2 channels  mono         stereo: ``[x*ir0, x*ir1]``
2 channels  stereo       ``[L*ir0, R*ir1]``
4 channels  mono         true stereo with the mono signal on both inputs
4 channels  stereo       true stereo, IR order (L->L, L->R, R->L, R->R):
                         ``out_L = L*LL + R*RL``, ``out_R = L*LR + R*RR``
==========  ===========  =====================================================

Anything else raises :class:`irforge.ParameterError`.

A 4-channel IR may also be first-order ambisonic B-format (W, X, Y, Z), which public room-IR
libraries ship: ``layout="auto"`` (the default) raises when the IR shows the signs of it (the
file header or name, or a figure-of-eight channel negatively correlated with the omni; see
:mod:`irforge._layout`), and ``layout="bformat"`` / ``"ambix"`` decodes it to a stereo IR
(two virtual cardioids at +/-45 degrees), ``layout="true-stereo"`` takes it as it is.

A silent (all-zero) IR is refused: it would turn any input into silence.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any, cast

import numpy as np

from . import _core, _layout
from ._effect import FairLock
from ._errors import ClippingWarning, ParameterError
from ._validation import (as_audio_2d, as_float_array, check_finite, check_positive_int,
                          check_real, check_sample_rate)
from .impulse_response import ImpulseResponse

# A 2-D input is read as (samples, channels) only when its first axis is longer than this
# and than its second axis; anything smaller follows the documented (channels, samples).
_MAX_GUESS_CHANNELS = 16

LAYOUTS = ("1-channel IR with any number of audio channels",
           "2-channel IR with mono or stereo audio",
           "4-channel true-stereo IR (LL, LR, RL, RR) with mono or stereo audio")


def routing(n_audio: int, n_ir: int) -> tuple[int, int, list[tuple[int, int, int]]]:
    """How audio channels and IR channels combine: ``(n_in, n_out, [(input, output, ir), ...])``.

    Raises
    ------
    ParameterError
        The combination is not one of the supported layouts.
    """
    if n_ir == 1:
        return n_audio, n_audio, [(c, c, 0) for c in range(n_audio)]
    if n_ir == 2 and n_audio == 1:
        return 1, 2, [(0, 0, 0), (0, 1, 1)]
    if n_ir == 2 and n_audio == 2:
        return 2, 2, [(0, 0, 0), (1, 1, 1)]
    if n_ir == 4 and n_audio == 1:
        return 1, 2, [(0, 0, 0), (0, 1, 1), (0, 0, 2), (0, 1, 3)]
    if n_ir == 4 and n_audio == 2:
        return 2, 2, [(0, 0, 0), (0, 1, 1), (1, 0, 2), (1, 1, 3)]
    raise ParameterError(
        f"unsupported channel layout: {n_ir}-channel IR with {n_audio}-channel audio; "
        f"supported: {'; '.join(LAYOUTS)}"
    )


def _ir_array(ir, sample_rate: float | None) -> tuple[np.ndarray, float | None]:
    """IR samples (channels, m) float32 at ``sample_rate`` (resampled with soxr if needed)."""
    if isinstance(ir, ImpulseResponse):
        if sample_rate is not None and sample_rate != ir.sample_rate:
            ir = ir.resample(sample_rate)
        return ir.data, ir.sample_rate
    arr = as_float_array(ir, "ir")
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ParameterError(f"ir must be 1-D or 2-D (channels, samples), got shape {arr.shape}")
    if arr.shape[1] == 0 or arr.shape[0] == 0:
        raise ParameterError(f"ir is empty (shape {arr.shape})")
    if arr.shape[0] > 4 and arr.shape[1] <= 4:
        raise ParameterError(
            f"ir has shape {arr.shape}: {arr.shape[0]} channels of {arr.shape[1]} samples looks "
            f"transposed; pass (channels, samples), e.g. ir.T")
    check_finite(arr, "ir")
    return np.ascontiguousarray(arr, dtype=np.float32), sample_rate


# Below this peak an IR is silence for every purpose (-600 dBFS; float32's normal range ends at
# 1.2e-38, and the engine flushes denormals): convolving with it returns zeros.
_SILENT_PEAK = 1e-30


def _check_audible(h: np.ndarray) -> None:
    peak = float(np.max(np.abs(h))) if h.size else 0.0
    if peak < _SILENT_PEAK:
        what = "all samples are zero" if peak == 0 else f"its peak is {peak:.3g}, below -600 dBFS"
        raise ParameterError(
            f"the impulse response is silent ({what}, {h.size} samples): convolving with it "
            f"gives silence; check the file or the channel you selected")


def applied_ir(ir, sample_rate: float | None, n_audio: int, layout: str = "auto",
               where: str = "convolve") -> tuple[np.ndarray, int, int, list]:
    """The IR samples to apply to ``n_audio`` channels: ``(h, n_in, n_out, routes)``.

    Resamples an :class:`ImpulseResponse` to ``sample_rate``, refuses a silent IR and an
    unsupported channel layout, and resolves a 4-channel ``layout`` (B-format detection).
    """
    h, _ = _ir_array(ir, sample_rate)
    _check_audible(h)
    routing(n_audio, h.shape[0])  # an unsupported combination fails before any analysis
    meta = ir.metadata if isinstance(ir, ImpulseResponse) else None
    rate = ir.sample_rate if isinstance(ir, ImpulseResponse) and sample_rate is None else sample_rate
    h, _ = _layout.resolve(h, rate, layout, metadata=meta, where=where)
    n_in, n_out, routes = routing(n_audio, h.shape[0])
    return h, n_in, n_out, routes


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _called_from_user(depth: int = 2) -> bool:
    """True when the caller ``depth`` frames up is not irforge itself (which sets its own levels)."""
    try:
        frame = sys._getframe(depth)
    except ValueError:
        return True
    return not os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR + os.sep)


def warn_if_clipping(y: np.ndarray, what: str, fix: str, *, stacklevel: int = 3) -> None:
    """A :class:`ClippingWarning` when ``y`` exceeds full scale: the peak, the count, the fix."""
    if not y.size:
        return
    # max and min instead of abs(): no temporary the size of the output (a 1-hour stereo
    # result is 1.3 GB)
    peak = max(float(np.max(y)), -float(np.min(y)))
    if peak > 1.0:
        n = int(np.count_nonzero(y > 1.0)) + int(np.count_nonzero(y < -1.0))
        warnings.warn(
            f"{what} peaks at {peak:.3g} ({20 * np.log10(peak):+.1f} dBFS): {n} of {y.size} "
            f"samples exceed full scale and will clip in a 16/24-bit file or on playback; {fix}",
            ClippingWarning, stacklevel=stacklevel)


def _threads(threads) -> int:
    if threads is None:
        return 0
    return check_positive_int(threads, "threads")


def convolve(audio, ir, *, sample_rate: float | None = None, mode: str = "full",
             layout: str = "auto", threads: int | None = None) -> np.ndarray:
    """Convolve audio with an impulse response, offline.

    Parameters
    ----------
    audio : np.ndarray [shape=(channels, samples) or (samples,), dtype float32 or float64]
        The dry signal.
    ir : ImpulseResponse or np.ndarray [shape=(ir_channels, m) or (m,)]
        The IR; channel layouts as in the module docstring.
    sample_rate : float, optional
        Sample rate of ``audio`` in Hz. When ``ir`` is an :class:`ImpulseResponse` at
        another rate, the IR is resampled to this rate with soxr first (never applied at
        the wrong rate). Ignored for a plain-array IR.
    mode : {"full", "same"}
        ``"full"`` keeps the tail: ``samples + m - 1`` output samples. ``"same"`` trims the
        output to the input length (the first ``samples`` samples, i.e. zero latency).
    layout : {"auto", "true-stereo", "bformat", "ambix"}
        What a 4-channel IR's channels are. ``"auto"``: true stereo (LL, LR, RL, RR), unless
        the IR looks like first-order ambisonic B-format, which raises (see the module
        docstring). ``"true-stereo"``: as it is, no check. ``"bformat"`` (FuMa W, X, Y, Z) and
        ``"ambix"`` (ACN/SN3D W, Y, Z, X): decoded to a stereo IR by two virtual cardioids at
        +/-45 degrees, then applied as a 2-channel IR. Other values are refused for IRs with
        another channel count.
    threads : int, optional
        Worker threads (default: all cores). Channels, and long signals cut into segments,
        are spread over them; the result does not depend on the count.

    Returns
    -------
    np.ndarray [shape=(out_channels, n_out) or (n_out,), dtype float32]
        1-D when the audio was 1-D and the IR has 1 channel.

    Warns
    -----
    ClippingWarning
        The result exceeds full scale (|y| > 1) and would clip when written to a 16/24-bit
        file: the message gives the peak; scale the result (``irforge convolve --normalize``
        on the command line). Not raised when irforge calls this function itself.

    Raises
    ------
    TypeError
        ``audio`` or ``ir`` has a dtype other than float32/float64.
    ParameterError
        Bad shapes, NaN/Inf, empty or silent IR, unsupported channel layout, a 4-channel IR
        that looks like B-format with ``layout="auto"``, unknown mode or layout.

    References
    ----------
    .. [1] W. G. Gardner, "Efficient convolution without input-output delay",
       J. Audio Eng. Soc. 43(3), 1995.
    .. [2] F. Wefers, "Partitioned convolution algorithms for real-time auralization",
       PhD thesis, RWTH Aachen, 2015.

    Examples
    --------
    >>> import numpy as np, irforge
    >>> y = irforge.convolve(np.array([1.0, 0.0, 0.0]), np.array([0.5, 0.25]))
    >>> np.round(y, 6).tolist()
    [0.5, 0.25, 0.0, 0.0]
    """
    x, was_1d = as_audio_2d(audio, "audio")
    if sample_rate is not None:
        sample_rate = check_sample_rate(sample_rate)
    if mode not in ("full", "same"):
        raise ParameterError(f"mode must be 'full' or 'same', got {mode!r}")
    h, n_in, n_out, routes = applied_ir(ir, sample_rate, x.shape[0], layout)
    n = x.shape[1]
    # "same": the tail past the input length is not computed at all
    y = _core.convolve(x, h, routes, n_out, _threads(threads), n if mode == "same" and n else -1)
    if _called_from_user():
        warn_if_clipping(y, "the convolved signal",
                         "scale it (e.g. y * 0.9 / abs(y).max()) before writing it, or use "
                         "`irforge convolve --normalize -1`")
    if was_1d and n_out == 1:
        return y[0]
    return y


class Convolver:
    """A pedalboard-style convolution effect: zero latency, any block size, long IRs.

    Parameters
    ----------
    ir : ImpulseResponse, np.ndarray [shape=(ir_channels, m) or (m,)], str or Path
        The IR (a path is loaded with :meth:`ImpulseResponse.load`). Channel layouts as in
        :mod:`irforge.convolution`.
    sample_rate : float
        Sample rate of the audio this effect will process, in Hz. An
        :class:`ImpulseResponse` at another rate is resampled to it (soxr); a plain array is
        taken to be at this rate. Calling :meth:`process` with another rate resamples the
        IR again (like a plug-in host changing rate).
    mix : float
        Wet/dry balance in [0, 1]: ``out = (1 - mix) * dry + mix * wet``.
    gain_db : float
        Gain applied to the wet signal, in dB.
    layout : {"auto", "true-stereo", "bformat", "ambix"}
        What a 4-channel IR's channels are, as in :func:`convolve`: ``"auto"`` refuses an IR
        that looks like ambisonic B-format, ``"bformat"``/``"ambix"`` decode it to stereo.

    Raises
    ------
    ParameterError
        A silent IR, a B-format-looking IR with ``layout="auto"``, bad parameters.

    Notes
    -----
    ``process(x, sample_rate, buffer_size=8192, reset=True)`` follows pedalboard's
    contract: the output has the input's length and layout (``(channels, samples)`` or
    ``(samples, channels)``; 1-D stays 1-D when the output is mono; a 2-D input is read as
    ``(samples, channels)`` when its channel count matches the running stream's on the second
    axis only, or when its first axis is longer than 16 and than the second), the engine runs with
    blocks of ``buffer_size`` inside, and with ``reset=False`` consecutive calls continue
    one stream, so any chunking gives the same output as one call. The tail
    (``tail_samples``) comes out when the stream continues (feed zeros to flush it).
    ``process`` releases the GIL while it computes; one Convolver per thread scales
    across cores, and calls on one shared Convolver from several threads take turns.

    References
    ----------
    .. [1] W. G. Gardner, "Efficient convolution without input-output delay",
       J. Audio Eng. Soc. 43(3), 1995.
    .. [2] F. Wefers, "Partitioned convolution algorithms for real-time auralization",
       PhD thesis, RWTH Aachen, 2015.

    Examples
    --------
    >>> import numpy as np, irforge
    >>> fx = irforge.Convolver(np.array([0.0, 1.0]), sample_rate=48000)
    >>> np.round(fx.process(np.array([1.0, 2.0, 3.0], dtype=np.float32), 48000), 5).tolist()
    [0.0, 1.0, 2.0]
    """

    def __init__(self, ir, *, sample_rate: float, mix: float = 1.0, gain_db: float = 0.0,
                 max_partition: int | None = None, layout: str = "auto"):
        if not isinstance(ir, (ImpulseResponse, np.ndarray, list, tuple)):
            if isinstance(ir, (str, bytes)) or hasattr(ir, "__fspath__"):
                ir = ImpulseResponse.load(ir)
        self._sample_rate = check_sample_rate(sample_rate)
        if isinstance(ir, ImpulseResponse):
            self._ir = ir
        else:
            arr, _ = _ir_array(ir, None)
            self._ir = ImpulseResponse(arr, sample_rate=self._sample_rate)
        _check_audible(self._ir.data)
        self._layout = _layout.check_layout(layout)
        data, used = _layout.resolve(self._ir.data, self._ir.sample_rate, self._layout,
                                     metadata=self._ir.metadata, where="Convolver")
        # the IR actually applied: a decoded B-format IR is a stereo IR
        self._applied = self._ir if data is self._ir.data else self._ir._derived(
            data, "decode", layout=used, azimuths_deg=list(_layout.DECODE_AZIMUTHS_DEG))
        self._mix = check_real(mix, "mix", low=0.0, high=1.0)
        self._gain_db = check_real(gain_db, "gain_db")
        self._max_partition = 0 if max_partition is None else check_positive_int(max_partition, "max_partition")
        self._engine: _core.Engine | None = None
        self._engine_key: tuple[Any, ...] | None = None   # (sample rate, n_in, IR channels, block)
        self._ir_cache: dict[float, np.ndarray] = {}
        self._last_layout: str | None = None  # "first" or "last", for ambiguous square inputs
        self._lock = FairLock()  # shared use: calls take turns in arrival order

    # -- properties ---------------------------------------------------------------------
    @property
    def ir(self) -> ImpulseResponse:
        return self._ir

    @property
    def sample_rate(self) -> float:
        return self._sample_rate

    @property
    def mix(self) -> float:
        return self._mix

    @mix.setter
    def mix(self, value: float) -> None:
        self._mix = check_real(value, "mix", low=0.0, high=1.0)
        self._apply_gains()

    @property
    def gain_db(self) -> float:
        return self._gain_db

    @gain_db.setter
    def gain_db(self, value: float) -> None:
        self._gain_db = check_real(value, "gain_db")
        self._apply_gains()

    @property
    def latency_samples(self) -> int:
        """Always 0: the head partition is computed on every call."""
        return 0

    @property
    def layout(self) -> str:
        """The ``layout`` choice for a 4-channel IR ("auto", "true-stereo", "bformat", "ambix")."""
        return self._layout

    @property
    def tail_samples(self) -> int:
        """Samples of output that follow the last non-zero input (IR length - 1), at the rate
        of the running stream (the last :meth:`process` call's), else at ``sample_rate``."""
        rate = self._engine_key[0] if self._engine_key is not None else self._sample_rate
        return self._ir_at(rate).shape[1] - 1

    def to_pedalboard(self) -> Any:
        """This effect as the irforge Convolver VST3 in pedalboard (``pedalboard.VST3Plugin``).

        Same IR (embedded in the plugin state), mix and gain, zero latency; its output equals
        :meth:`process` within float rounding (-120 dB on real IRs). It chains with
        pedalboard's own effects in a ``pedalboard.Pedalboard``. The plugin is stereo: a mono
        input comes back as two channels. Needs the built plugin (``make plugins``; see
        :func:`irforge.plugins.path`).
        """
        from . import plugins

        return plugins.vst3_convolver(self._applied, mix=self._mix, gain_db=self._gain_db)

    def __repr__(self) -> str:
        return (f"Convolver(ir={self._ir!r}, sample_rate={self._sample_rate:g}, "
                f"mix={self._mix:g}, gain_db={self._gain_db:g})")

    # -- processing ---------------------------------------------------------------------
    def reset(self) -> None:
        """Clear the stream state (the tail in flight is dropped)."""
        if self._engine is not None:
            self._engine.reset()

    def _ir_at(self, sample_rate: float) -> np.ndarray:
        h = self._ir_cache.get(sample_rate)
        if h is None:
            h, _ = _ir_array(self._applied, sample_rate)
            self._ir_cache[sample_rate] = h
        return h

    def _apply_gains(self) -> None:
        if self._engine is not None:
            wet = self._mix * 10.0 ** (self._gain_db / 20.0)
            self._engine.set_gains(wet, 1.0 - self._mix)

    def _to_channels_first(self, arr: np.ndarray) -> tuple[np.ndarray, str]:
        if arr.ndim == 1:
            return arr[None, :], "1d"
        if arr.ndim != 2:
            raise ParameterError(
                f"input_array must be 1-D or 2-D, got {arr.ndim}-D shape {arr.shape}")
        a, b = arr.shape
        n_known = self._engine.n_inputs if self._engine is not None else None
        if n_known is not None and a == n_known and b != n_known:
            layout = "first"
        elif n_known is not None and b == n_known and a != n_known:
            layout = "last"
        elif a == b:
            layout = self._last_layout or "first"
        elif b == 0 or a == 0:
            layout = "first" if b == 0 else "last"
        elif a > b and a > _MAX_GUESS_CHANNELS:
            layout = "last"   # (samples, channels): clearly more samples than channels
        else:
            layout = "first"  # the documented (channels, samples), also for tiny blocks
        return (arr if layout == "first" else arr.T), layout

    def process(self, input_array, sample_rate: float, buffer_size: int = 8192,
                reset: bool = True) -> np.ndarray:
        """Run audio through the effect.

        Parameters
        ----------
        input_array : np.ndarray [shape=(channels, samples), (samples, channels) or (samples,)]
            float32 or float64 audio.
        sample_rate : float
            Its sample rate in Hz.
        buffer_size : int
            Block size the engine works with (the head partition is the next power of two).
        reset : bool
            Start a new stream (True) or continue the previous call's stream (False).

        Returns
        -------
        np.ndarray, float32, same length and layout as the input (a mono input with a
        stereo or true-stereo IR comes back with 2 channels).
        """
        arr = as_float_array(input_array, "input_array")
        sr = check_sample_rate(sample_rate)
        bs = check_positive_int(buffer_size, "buffer_size")
        with self._lock:
            x, layout = self._to_channels_first(arr)
            check_finite(x, "input_array")
            if x.shape[0] == 0:
                raise ParameterError(f"input_array has no channels (shape {arr.shape})")
            h = self._ir_at(sr)
            n_in, n_out, routes = routing(x.shape[0], h.shape[0])
            key = (sr, n_in, h.shape[0])
            # set together with the engine: not None wherever it is read below
            engine_key = cast("tuple[Any, ...]", self._engine_key)
            if self._engine is None or engine_key[:3] != key or (
                    reset and engine_key[3] != bs):
                if not reset and self._engine is not None:
                    raise ParameterError(
                        f"reset=False continues a stream of {engine_key[1]} channel(s) at "
                        f"{engine_key[0]:g} Hz, got {n_in} channel(s) at {sr:g} Hz; "
                        f"call with reset=True to start a new stream")
                self._engine = _core.Engine(h, routes, n_in, n_out, bs, self._max_partition)
                self._engine_key = key + (bs,)
                self._apply_gains()
            elif reset:
                self._engine.reset()
            self._last_layout = layout if layout != "1d" else self._last_layout
            y = self._engine.process(np.ascontiguousarray(x, dtype=np.float32))
        if layout == "1d":
            return y[0] if n_out == 1 else y
        return y if layout == "first" else y.T

    __call__ = process
