"""``irforge.Chain``: a pedalboard-like chain of effects that mixes pedalboard and irforge.

pedalboard's own ``Pedalboard`` takes compiled plugins only, so irforge's Python effects
(:class:`~irforge.Convolver`, :class:`~irforge.Deconvolver`, :class:`~irforge.Dereverb`)
cannot go inside one. A :class:`Chain` takes all of them, pedalboard plugins (including
loaded VST3s and whole ``Pedalboard`` objects) and any object with pedalboard's
``process(input_array, sample_rate, buffer_size, reset)`` signature, and runs them in order
with the latency of every member compensated, so a take comes out aligned and whole.

Latency and streaming follow pedalboard's contract:

- ``process(x, sr)`` (``reset=True``) returns exactly ``len(x)`` samples, aligned with the
  input: members that report ``latency_samples`` (irforge's effects) are run on past the end
  of the input with silence until the delayed output is complete; pedalboard compensates
  its plugins' reported latency itself.
- ``process(x, sr, reset=False)`` continues one stream. While the chain's latency fills, a
  call returns fewer samples than it was given (pedalboard does the same); the outputs of
  consecutive calls, concatenated, followed by :meth:`Chain.flush`, equal one call on the
  concatenated input followed by its tail.
- :meth:`Chain.flush` feeds silence until the delayed output and the tail
  (:attr:`Chain.tail_samples`) are out, and returns them.
"""
from __future__ import annotations

from collections.abc import Iterable, MutableSequence
from typing import Any, overload

import numpy as np

from ._effect import FairLock
from ._errors import ParameterError
from ._validation import as_float_array, check_finite, check_positive_int, check_sample_rate

__all__ = ["Chain"]

# Longest stretch of silence process(reset=True) feeds to bring out output that members
# without a reported latency still hold back (pedalboard plugins buffering internally), in
# seconds; past it the output is padded with zeros and a warning says so.
_MAX_UNKNOWN_LATENCY_S = 10.0


def _is_pedalboard_plugin(obj: Any) -> bool:
    try:
        import pedalboard
    except ImportError:  # pragma: no cover - pedalboard is a dependency
        return False
    return isinstance(obj, pedalboard.Plugin)


def _check_member(obj: Any) -> Any:
    if not callable(getattr(obj, "process", None)):
        raise TypeError(
            f"a Chain member needs pedalboard's process(input_array, sample_rate, buffer_size, "
            f"reset) method; {type(obj).__name__} has none (wrap a function in a class with it)")
    return obj


def _own_latency(obj: Any) -> int:
    """Samples of delay the chain must compensate for this member (0 for pedalboard plugins:
    pedalboard compensates their reported latency itself)."""
    if _is_pedalboard_plugin(obj) or isinstance(obj, Chain):
        return 0   # a nested Chain compensates its own latency too
    lat = getattr(obj, "latency_samples", 0)
    return int(lat or 0)


def _reported_latency(obj: Any) -> int:
    """Latency pedalboard compensates inside a plugin (VST3/AU report it); 0 if unknown."""
    if isinstance(obj, Chain):
        return obj.latency_samples
    try:
        return int(getattr(obj, "reported_latency_samples", 0) or 0)
    except Exception:  # noqa: BLE001 - a plugin property that fails must not stop a render
        return 0


class Chain(MutableSequence):
    """A list of effects run in series, with latency compensation across the chain.

    Parameters
    ----------
    plugins : iterable of effects, optional
        pedalboard plugins (``pedalboard.Gain()``, ``pedalboard.load_plugin(...)``, a
        ``pedalboard.Pedalboard``), irforge effects (:class:`~irforge.Convolver`,
        :class:`~irforge.Deconvolver`, :class:`~irforge.Dereverb`), other ``Chain`` objects,
        or any object with ``process(input_array, sample_rate, buffer_size=..., reset=...)``.
        An irforge member's ``latency_samples`` and ``tail_samples`` are read at every call,
        so a member may change them (new IR) between takes.

    Notes
    -----
    ``Chain`` supports the list operations (indexing, slicing, ``append``, ``insert``,
    ``remove``, ``len``, iteration). The input layout follows pedalboard's rule:
    ``(channels, samples)`` or ``(samples, channels)``, the smaller dimension being the
    channels (a square block uses the layout of the previous call); 1-D is mono, and a mono
    result of a 1-D input comes back 1-D. Members see ``(channels, samples)`` float32 blocks.
    The number of channels may change along the chain (a stereo IR on a mono input).
    Calls on one shared chain from several threads take turns.

    Examples
    --------
    >>> import numpy as np, pedalboard, irforge
    >>> cab = np.zeros(64, np.float32); cab[3] = 0.5
    >>> chain = irforge.Chain([pedalboard.Gain(gain_db=6.0),
    ...                        irforge.Convolver(cab, sample_rate=48000)])
    >>> y = chain(np.ones(8, np.float32), 48000)
    >>> (np.round(y[2:6].astype(float), 3) + 0.0).tolist()
    [0.0, 0.998, 0.998, 0.998]
    """

    def __init__(self, plugins: Iterable[Any] | None = None):
        self._members: list[Any] = [_check_member(p) for p in (plugins or [])]
        self._lock = FairLock()
        self._clear_stream()

    # -- list protocol -------------------------------------------------------------------
    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> "Chain": ...

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Chain(self._members[index])
        return self._members[index]

    def __setitem__(self, index, value) -> None:
        if isinstance(index, slice):
            value = [_check_member(v) for v in value]
        else:
            value = _check_member(value)
        self._members[index] = value
        self._clear_stream()

    def __delitem__(self, index) -> None:
        del self._members[index]
        self._clear_stream()

    def __len__(self) -> int:
        return len(self._members)

    def insert(self, index: int, value: Any) -> None:
        """Insert an effect before ``index``."""
        self._members.insert(index, _check_member(value))
        self._clear_stream()

    def __repr__(self) -> str:
        return "Chain([" + ", ".join(repr(m) for m in self._members) + "])"

    # -- latency and tail ----------------------------------------------------------------
    @property
    def latency_samples(self) -> int:
        """The chain's total latency in samples (the sum of its members' reported latencies).

        The chain compensates it: :meth:`process` output is aligned with its input. Reported
        for information and for hosts that nest a chain."""
        return sum(_own_latency(m) + _reported_latency(m) for m in self._members)

    @property
    def tail_samples(self) -> int:
        """Samples of output that follow the end of the input (sum of the members'
        ``tail_samples``; members that do not report one, such as pedalboard plugins, count
        as 0: pass ``flush(extra_samples=...)`` for a reverb's tail)."""
        return sum(int(getattr(m, "tail_samples", 0) or 0) for m in self._members)

    # -- processing ----------------------------------------------------------------------
    def _clear_stream(self) -> None:
        self._sr: float | None = None
        self._n_channels: int | None = None   # channels of the running stream's input
        self._layout: str | None = None       # "first" / "last" of the previous 2-D call
        self._held: np.ndarray | None = None  # input held back (too short to read its layout)
        self._drop: list[int] = []            # per member: output samples still to drop
        self._started: list[bool] = []        # per member: its stream has begun
        self._n_in = 0                        # input samples fed to the members (with silence)
        self._pending: np.ndarray | None = None   # output computed ahead of what was returned
        self._completed = False               # silence was fed to complete a take
        self._n_user = 0                      # stream position of the caller's input
        self._returned = 0                    # output samples returned in this stream

    def reset(self) -> None:
        """Clear every member's state and start a new stream."""
        with self._lock:
            self._reset_members()

    def _reset_members(self) -> None:
        for m in self._members:
            r = getattr(m, "reset", None)
            if callable(r):
                r()
        self._clear_stream()
        self._drop = [_own_latency(m) for m in self._members]
        self._started = [False] * len(self._members)

    def _to_channels_first(self, arr: np.ndarray) -> tuple[np.ndarray, str]:
        if arr.ndim == 1:
            return arr[None, :], "1d"
        if arr.ndim != 2:
            raise ParameterError(f"input_array must be 1-D or 2-D, got shape {arr.shape}")
        a, b = arr.shape
        if self._n_channels is not None and a == self._n_channels and b != a:
            layout = "first"
        elif self._n_channels is not None and b == self._n_channels and a != b:
            layout = "last"
        elif a == b:
            layout = self._layout or "first"
        else:
            layout = "first" if a < b else "last"
        return (arr if layout == "first" else arr.T), layout

    def _run_block(self, x: np.ndarray, sr: float, buffer_size: int) -> np.ndarray:
        """One block through the members (continuing their streams); the aligned output."""
        for i, m in enumerate(self._members):
            if x.shape[1] == 0:
                break
            # a member's first block of a stream starts its stream (reset=True), so it may
            # change rate or channel count from its previous stream; a nested Chain (reset
            # already) streams: this chain compensates its latency
            start = not self._started[i] and not isinstance(m, Chain)
            y = np.asarray(m.process(x, sr, buffer_size=buffer_size, reset=start),
                           dtype=np.float32)
            self._started[i] = True
            if y.ndim == 1:
                y = y[None, :]
            elif y.shape[0] > y.shape[1] and x.shape[0] < x.shape[1]:
                y = y.T   # a member that answered (samples, channels)
            d = self._drop[i]
            if d:
                k = min(d, y.shape[1])
                y = y[:, k:]
                self._drop[i] = d - k
            x = np.ascontiguousarray(y)
        return x

    def _feed(self, x: np.ndarray, sr: float, buffer_size: int) -> np.ndarray:
        """Stream input through the chain. A block too short to tell its channels from its
        samples (samples <= channels, which pedalboard would read the other way) is held
        until more input comes."""
        if self._held is not None:
            x = np.concatenate([self._held, x], axis=1)
            self._held = None
        if x.shape[0] > 1 and x.shape[1] <= x.shape[0]:
            self._held = x
            return np.zeros((x.shape[0], 0), np.float32)
        self._n_in += x.shape[1]
        return self._run_block(x, sr, buffer_size)

    def _fed(self) -> int:
        return self._n_in + (0 if self._held is None else self._held.shape[1])

    def _compute_until(self, have: list, want: int, sr: float, buffer_size: int,
                       limit: int) -> list:
        """Feed silence until the blocks in ``have`` hold ``want`` samples, or ``limit``
        samples of silence went in."""
        got = sum(b.shape[1] for b in have)
        fed = 0
        width = self._n_channels or 1
        while got < want and fed < limit:
            n = min(buffer_size, want - got)
            y = self._feed(np.zeros((width, n), np.float32), sr, buffer_size)
            fed += n
            if y.shape[1]:
                have.append(y)
                got += y.shape[1]
        return have

    def _emit(self, blocks: list, n: int, channels: int) -> np.ndarray:
        """The first ``n`` samples of ``blocks`` (zero-padded); the rest becomes pending."""
        y = _join(blocks, channels)
        if y.shape[1] > n:
            self._pending, y = y[:, n:], y[:, :n]
        else:
            self._pending = None
        return y

    def process(self, input_array, sample_rate: float, buffer_size: int = 8192,
                reset: bool = True) -> np.ndarray:
        """Run audio through every effect in order.

        Parameters
        ----------
        input_array : np.ndarray [shape=(channels, samples), (samples, channels) or (samples,)]
            float32 or float64 audio.
        sample_rate : float
            Its sample rate, Hz.
        buffer_size : int
            Block size handed to each member's ``process``.
        reset : bool
            True: reset every member and process a whole take (output aligned, exactly the
            input's length). False: continue the running stream (output may be shorter
            while the chain's latency fills; see the module notes).

        Returns
        -------
        np.ndarray, float32, in the input's layout.

        Raises
        ------
        ParameterError
            Bad shape, NaN/Inf, a sample rate or channel count other than the running
            stream's with ``reset=False``, or continuing a take that ``reset=True`` completed
            with silence.
        """
        arr = as_float_array(input_array, "input_array")
        sr = check_sample_rate(sample_rate)
        bs = check_positive_int(buffer_size, "buffer_size")
        with self._lock:
            if not reset and self._completed:
                raise ParameterError(
                    "the last process(reset=True) completed its take with silence to "
                    f"compensate the chain's latency ({self.latency_samples} samples), so that "
                    "stream cannot continue seamlessly; stream a take with reset=False from "
                    "its first block (after chain.reset()), or call flush() for its tail")
            fresh = reset or self._sr is None
            if fresh:
                self._reset_members()
            x, layout = self._to_channels_first(arr)
            check_finite(x, "input_array")
            if x.shape[0] == 0:
                raise ParameterError(f"input_array has no channels (shape {arr.shape})")
            if not fresh and (sr != self._sr or x.shape[0] != self._n_channels):
                raise ParameterError(
                    f"reset=False continues a stream of {self._n_channels} channel(s) at "
                    f"{self._sr:g} Hz, got {x.shape[0]} channel(s) at {sr:g} Hz; call with "
                    f"reset=True to start a new stream")
            self._sr, self._n_channels = sr, x.shape[0]
            if layout != "1d":
                self._layout = layout
            x = np.ascontiguousarray(x, dtype=np.float32)
            n = x.shape[1]
            blocks = [] if self._pending is None else [self._pending]
            self._pending = None
            if n:
                blocks.append(self._feed(x, sr, bs))
            blocks = [b for b in blocks if b.shape[1]]
            if reset:
                got = sum(b.shape[1] for b in blocks)
                if got < n:
                    self._completed = True
                    limit = self.latency_samples + n + int(_MAX_UNKNOWN_LATENCY_S * sr)
                    blocks = self._compute_until(blocks, n, sr, bs, limit)
                y = self._emit(blocks, n, blocks[0].shape[0] if blocks else x.shape[0])
                if y.shape[1] < n:
                    import warnings
                    warnings.warn(
                        f"the chain still held back {n - y.shape[1]} samples after "
                        f"{_MAX_UNKNOWN_LATENCY_S:g} s of silence (a member with unreported "
                        f"latency); the output is padded with zeros", RuntimeWarning,
                        stacklevel=2)
                    y = np.concatenate([y, np.zeros((y.shape[0], n - y.shape[1]), np.float32)], 1)
            else:
                y = self._emit(blocks, 1 << 62, blocks[0].shape[0] if blocks else x.shape[0])
            self._n_user += n
            self._returned += y.shape[1]
        if layout == "1d":
            return y[0] if y.shape[0] == 1 else y
        return y if layout == "first" else y.T

    __call__ = process

    def flush(self, extra_samples: int = 0, buffer_size: int = 8192) -> np.ndarray:
        """Feed silence to bring out what the stream still holds: the output the chain's
        latency delayed, then the tail.

        Parameters
        ----------
        extra_samples : int
            Samples of tail to add to :attr:`tail_samples` (for members that do not report
            one, e.g. ``pedalboard.Reverb``).
        buffer_size : int
            Block size for the members.

        Returns
        -------
        np.ndarray [shape=(channels, samples)], float32
            Everything the input so far still owes (input samples not yet returned), then
            ``tail_samples + extra_samples`` samples of tail. Afterwards the stream continues
            as if that silence had been streamed.
        """
        extra = int(extra_samples)
        if extra < 0:
            raise ParameterError(f"extra_samples must be >= 0, got {extra_samples}")
        bs = check_positive_int(buffer_size, "buffer_size")
        with self._lock:
            if self._sr is None:
                raise ParameterError("nothing to flush: call process() first")
            owed = self._n_user - self._returned + self.tail_samples + extra
            blocks = [] if self._pending is None else [self._pending]
            self._pending = None
            limit = owed + self.latency_samples + int(_MAX_UNKNOWN_LATENCY_S * self._sr)
            blocks = self._compute_until(blocks, owed, self._sr, bs, limit)
            y = self._emit(blocks, owed, self._n_channels or 1)
            self._returned += y.shape[1]
            self._n_user = self._fed()   # the silence fed is now part of the stream
            self._completed = False
            return y

    # -- pedalboard ----------------------------------------------------------------------
    def to_pedalboard(self):
        """The chain as a ``pedalboard.Pedalboard`` of compiled plugins.

        Every member must be a pedalboard plugin or have a ``to_pedalboard()`` (irforge's
        effects with a plugin form).

        Raises
        ------
        ParameterError
            A member without a plugin form (named).
        """
        import pedalboard

        plugins = []
        for i, m in enumerate(self._members):
            if isinstance(m, pedalboard.Plugin):
                plugins.append(m)
            elif callable(getattr(m, "to_pedalboard", None)):
                plugins.append(m.to_pedalboard())
            else:
                raise ParameterError(
                    f"chain member {i} ({type(m).__name__}) has no plugin form "
                    f"(no to_pedalboard()); keep the chain as an irforge.Chain")
        return pedalboard.Pedalboard(plugins)


_MIN_BLOCK = 64


def _join(blocks: list, channels: int) -> np.ndarray:
    blocks = [b for b in blocks if b is not None and b.shape[1]]
    if not blocks:
        return np.zeros((channels, 0), np.float32)
    if len(blocks) == 1:
        return blocks[0]
    return np.concatenate(blocks, axis=1)
