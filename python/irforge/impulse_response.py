"""The ImpulseResponse container: samples, sample rate, file I/O, editing and export.

Every editing method (:meth:`~ImpulseResponse.trim`, :meth:`~ImpulseResponse.fade_out`,
:meth:`~ImpulseResponse.normalize`, :meth:`~ImpulseResponse.minimum_phase`,
:meth:`~ImpulseResponse.to_mono`, :meth:`~ImpulseResponse.resample`) returns a new object; the
samples of an ImpulseResponse are read-only. The metadata (``method``, ``sweep``, ``date`` and
whatever else a measurement put there) is copied to the result, and each operation appends one
entry ``{"op": name, ...parameters and what it found}`` to ``metadata["history"]``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ._errors import ParameterError
from ._validation import as_audio_2d, check_real, check_sample_rate, integral_rate
from .audio_io import write_audio_atomic

# soundfile subtypes for bit_depth
# fade_out() shapes: gain as a function of x in (0, 1], x = 1 at the last sample
_FADES = {
    "hann": lambda x: 0.5 * (1.0 + np.cos(np.pi * x)),
    "cosine": lambda x: np.cos(0.5 * np.pi * x),
    "linear": lambda x: 1.0 - x,
}


class ImpulseResponse:
    """An impulse response with its sample rate.

    Parameters
    ----------
    data : np.ndarray [shape=(channels, samples) or (samples,), dtype float32 or float64]
        The IR. Channel layouts understood by :func:`irforge.convolve` and
        :class:`irforge.Convolver`: 1 channel (applied to every audio channel), 2 channels
        (left/right) and 4 channels (true stereo in the order L->L, L->R, R->L, R->R; a
        first-order ambisonic B-format IR needs ``layout="bformat"`` there, see
        :mod:`irforge._layout`).
    sample_rate : int or float
        Sample rate of ``data`` in Hz. A whole number (48000 or 48000.0) is stored as an
        ``int``, so ``np.zeros(ir.sample_rate)`` is one second; a non-integral rate stays a float.
    metadata : dict, optional
        Free-form information (how it was measured, source file, ...).

    Raises
    ------
    TypeError
        ``data`` is not a float32/float64 array.
    ParameterError
        Empty, non-finite, or more than 2-D data; a non-positive sample rate.

    Examples
    --------
    >>> import numpy as np, irforge
    >>> ir = irforge.ImpulseResponse(np.array([1.0, 0.5, 0.25]), sample_rate=48000)
    >>> ir.n_channels, ir.n_samples, ir.duration_s
    (1, 3, 6.25e-05)
    """

    __slots__ = ("_data", "_sample_rate", "metadata", "harmonics")

    def __init__(self, data, *, sample_rate, metadata: dict | None = None):
        arr, _ = as_audio_2d(data, "impulse response")
        if arr.shape[1] == 0:
            raise ParameterError(f"impulse response is empty (shape {np.shape(data)})")
        self._data = arr
        self._data.setflags(write=False)
        self._sample_rate = integral_rate(sample_rate)
        self.metadata = dict(metadata or {})
        #: Harmonic-distortion IRs from a sweep measurement: {order: ImpulseResponse}, or None.
        self.harmonics: dict | None = None

    # -- basic properties -----------------------------------------------------------------
    @property
    def data(self) -> np.ndarray:
        """Samples, float32, shape (channels, samples); read-only."""
        return self._data

    @property
    def sample_rate(self) -> int | float:
        """Sample rate in Hz: an ``int`` for whole-number rates, else a float."""
        return self._sample_rate

    @property
    def n_channels(self) -> int:
        return self._data.shape[0]

    @property
    def n_samples(self) -> int:
        return self._data.shape[1]

    @property
    def duration_s(self) -> float:
        return self.n_samples / self._sample_rate

    def __len__(self) -> int:
        return self.n_samples

    def __repr__(self) -> str:
        return (f"ImpulseResponse(channels={self.n_channels}, samples={self.n_samples}, "
                f"sample_rate={self._sample_rate:g}, duration_s={self.duration_s:.3f})")

    def _derived(self, data, op: str, *, sample_rate: float | None = None,
                 harmonics: dict | None = None, **record) -> "ImpulseResponse":
        """A new IR with ``data``, this IR's metadata and one more history entry."""
        meta = dict(self.metadata)
        meta["history"] = [*self.metadata.get("history", ()), {"op": op, **record}]
        sr = self._sample_rate if sample_rate is None else sample_rate
        out = ImpulseResponse(data, sample_rate=sr, metadata=meta)
        out.harmonics = harmonics
        return out

    # -- editing ------------------------------------------------------------------------
    def trim(self, *, start: bool = True, end: bool = True, pre_s: float = 0.001,
             threshold_db: float = -20.0) -> "ImpulseResponse":
        """Cut the silence before the onset and the noise after the decay.

        Start: the ISO 3382-1 onset, the first sample whose level is within
        ``|threshold_db|`` dB of the peak (the peak and the onset are taken over all channels,
        so the channels stay aligned), minus a pre-delay of ``pre_s`` seconds that is kept.
        End: where the decay meets the noise floor, by Lundeby's iterative method, the latest
        crossing point over the channels (see :func:`irforge._decay.decay_end_index`). An IR
        whose decay runs to its end (no noise floor; a file that was already faded or
        truncated) keeps its end; trailing digital silence is removed.

        Parameters
        ----------
        start : bool
            Cut before the onset.
        end : bool
            Cut after the decay/noise crossing point.
        pre_s : float
            Seconds kept before the onset (>= 0). Clamped to the start of the IR.
        threshold_db : float
            Onset threshold relative to the peak, dB (ISO 3382-1: -20).

        Returns
        -------
        ImpulseResponse
            The trimmed IR. ``metadata["history"][-1]`` holds ``start_index``, ``end_index``
            (in samples of this IR), the noise level ``noise_db`` re the peak, the late
            ``t60_s`` when a noise floor was found, and ``noise_floor_found``.

        Raises
        ------
        ParameterError
            A silent IR; ``pre_s`` negative or ``threshold_db`` outside [-200, 0].
        TypeError
            A parameter that is not a number.

        References
        ----------
        ISO 3382-1:2009, Acoustics -- Measurement of room acoustic parameters -- Part 1
        (start of the impulse response). A. Lundeby, T. E. Vigran, H. Bietz, M. Vorländer,
        "Uncertainties of measurements in room acoustics", Acustica 81 (1995), 344-355.

        Examples
        --------
        >>> import numpy as np, irforge
        >>> rng = np.random.default_rng(0)
        >>> t = np.arange(48000) / 48000
        >>> h = np.r_[np.zeros(480), rng.standard_normal(48000) * 10 ** (-3 * t / 0.4)]
        >>> h = h + 1e-4 * rng.standard_normal(h.size)           # noise floor at -80 dB
        >>> ir = irforge.ImpulseResponse(h, sample_rate=48000).trim(pre_s=0.001)
        >>> 0.45 < ir.duration_s < 0.6   # the decay meets the noise at 0.53 s
        True
        """
        from . import _decay

        pre = check_real(pre_s, "pre_s", low=0.0, high=3600.0)
        thr = check_real(threshold_db, "threshold_db", low=-200.0, high=0.0)
        data = self._data
        if not np.any(data):
            raise ParameterError("cannot trim a silent impulse response (all samples are zero)")
        onset = _decay.onset_index(data, threshold_db=thr)
        i0 = max(0, onset - int(round(pre * self._sample_rate))) if start else 0
        record: dict[str, Any]
        i1, record = self.n_samples, {"noise_floor_found": False}
        if end:
            i1, results = _decay.decay_end_index(data, self._sample_rate, start_index=onset)
            found = [r for r in results if r is not None and r.reliable]
            if found:
                loud = max(found, key=lambda r: -r.noise_db if math.isfinite(r.noise_db) else 0)
                record = {"noise_floor_found": True,
                          "noise_db": max(r.noise_db for r in found),
                          "t60_s": loud.t60_s}
        i1 = max(i1, i0 + 1)
        return self._derived(data[:, i0:i1], "trim", start_index=int(i0), end_index=int(i1),
                             onset_index=int(onset), pre_s=pre, threshold_db=thr, **record)

    def fade_out(self, *, length_s: float | None = None, shape: str = "hann") -> "ImpulseResponse":
        """Fade the last ``length_s`` seconds to zero.

        Parameters
        ----------
        length_s : float, optional
            Fade length in seconds, at most the IR's duration. Default: the last 10 % of the IR.
        shape : {"hann", "cosine", "linear"}
            ``"hann"``: half a Hann window, ``0.5 * (1 + cos(pi * x))`` for x from 0 to 1
            (smooth at both ends); ``"cosine"``: a quarter cosine ``cos(pi/2 * x)`` (keeps more
            level early in the fade, steeper at the end); ``"linear"``: ``1 - x``.
            The last sample of the IR is exactly zero for every shape.

        Returns
        -------
        ImpulseResponse
            Same length, the end faded.

        Raises
        ------
        ParameterError
            ``length_s`` <= 0 or longer than the IR; an unknown ``shape``.
        TypeError
            ``length_s`` is not a number.

        Examples
        --------
        >>> import numpy as np, irforge
        >>> ir = irforge.ImpulseResponse(np.ones(5), sample_rate=4).fade_out(length_s=1.0)
        >>> ir.data.astype(float).round(3).tolist()
        [[1.0, 0.854, 0.5, 0.146, 0.0]]
        """
        if shape not in _FADES:
            raise ParameterError(f"unknown fade shape {shape!r}; use one of {sorted(_FADES)}")
        if length_s is None:
            n = max(1, int(round(0.1 * self.n_samples)))
        else:
            length = check_real(length_s, "length_s", low=0.0)
            n = int(round(length * self._sample_rate))
            if length <= 0 or n < 1:
                raise ParameterError(f"length_s must be at least one sample "
                                     f"({1 / self._sample_rate:g} s), got {length_s!r}")
            if n > self.n_samples:
                raise ParameterError(f"length_s={length_s!r} ({n} samples) is longer than the "
                                     f"impulse response ({self.n_samples} samples, "
                                     f"{self.duration_s:g} s)")
        x = np.arange(1, n + 1) / n  # 1/n ... 1: the last sample reaches zero
        ramp = _FADES[shape](x)
        ramp[-1] = 0.0  # exactly (cos(pi/2) is 6e-17)
        out = self._data.astype(np.float64)
        out[:, -n:] *= ramp
        return self._derived(out.astype(np.float32), "fade_out", length_samples=n, shape=shape,
                             harmonics=self.harmonics)

    def normalize(self, *, mode: str = "peak", target_db: float = 0.0) -> "ImpulseResponse":
        """Scale the IR (all channels by one gain) to a peak or an energy target.

        Parameters
        ----------
        mode : {"peak", "energy"}
            ``"peak"``: the largest absolute sample over all channels becomes
            ``10**(target_db/20)`` (dBFS). ``"energy"``: the channel with the most energy gets
            ``sum(h**2) == 10**(target_db/10)`` (0 dB: unit energy, so white noise keeps its
            power through that channel), and the others keep their balance to it.
        target_db : float
            Target level in dB.

        Returns
        -------
        ImpulseResponse
            The scaled IR; ``metadata["history"][-1]["gain_db"]`` is the gain applied.
            Harmonic IRs (``harmonics``) are scaled by the same gain.

        Raises
        ------
        ParameterError
            A silent IR, an unknown mode, a non-finite target.

        Examples
        --------
        >>> import numpy as np, irforge
        >>> ir = irforge.ImpulseResponse(np.array([0.5, -0.25]), sample_rate=48000)
        >>> ir.normalize(target_db=-6.0206).data.round(4).tolist()
        [[0.5, -0.25]]
        >>> float((ir.normalize(mode="energy").data ** 2).sum().round(6))
        1.0
        """
        if mode not in ("peak", "energy"):
            raise ParameterError(f"normalize mode must be 'peak' or 'energy', got {mode!r}")
        target = check_real(target_db, "target_db", low=-400.0, high=400.0)
        d = self._data.astype(np.float64)
        if mode == "peak":
            level = float(np.max(np.abs(d)))
            gain = 10 ** (target / 20) / level if level > 0 else 0.0
        else:
            level = float(np.max(np.sum(d * d, axis=1)))
            gain = math.sqrt(10 ** (target / 10) / level) if level > 0 else 0.0
        if level <= 0:
            raise ParameterError(
                "cannot normalize a silent impulse response (all samples are zero)")
        harmonics = None
        if self.harmonics:
            harmonics = {k: ImpulseResponse(v.data.astype(np.float64) * gain,
                                            sample_rate=v.sample_rate, metadata=v.metadata)
                         for k, v in self.harmonics.items()}
        return self._derived((d * gain).astype(np.float32), "normalize", mode=mode,
                             target_db=target, gain_db=20 * math.log10(gain), harmonics=harmonics)

    def minimum_phase(self, *, n_fft: int | None = None) -> "ImpulseResponse":
        """The minimum-phase IR with the same magnitude response (homomorphic method).

        Per channel: ``log|H|`` on an FFT grid of ``n_fft`` points, its real cepstrum, folded
        onto positive quefrencies (``c[0]``, ``2 c[1..n/2-1]``, ``c[n/2]``, zeros after), then
        ``exp`` of its spectrum and an inverse FFT. The result is cut to this IR's length;
        its energy comes first (the minimum-phase IR has the fastest energy build-up of all
        IRs with this magnitude), so the cut loses only the far tail.

        The magnitude is floored at -200 dB re its maximum (exact spectral zeros have no
        logarithm). The overall sign is chosen to agree with the original IR (a positive
        zero-lag correlation), which a magnitude response cannot tell. Computed in float64
        with ``scipy.fft`` (not the float32 core FFT): the log and exp steps need the headroom.

        Parameters
        ----------
        n_fft : int, optional
            FFT size, a power of two at least twice the IR length. Default: the next power of
            two >= 8 x the IR length (at least 1024), which keeps cepstral aliasing below the
            float32 resolution for decaying IRs.

        Returns
        -------
        ImpulseResponse
            Same shape and rate, minimum phase.

        Raises
        ------
        ParameterError
            ``n_fft`` not a power of two or shorter than twice the IR.

        References
        ----------
        A. V. Oppenheim, R. W. Schafer, *Discrete-Time Signal Processing*, 3rd ed., Prentice
        Hall 2010, ch. 13 (the complex cepstrum; minimum-phase reconstruction from the real
        cepstrum).

        Examples
        --------
        >>> import numpy as np, irforge
        >>> ir = irforge.ImpulseResponse(np.array([1.0, -2.0]), sample_rate=48000)
        >>> ir.minimum_phase().data.round(4).tolist()   # zero at z=2 reflected to z=1/2
        [[2.0, -1.0]]
        """
        from scipy import fft as sfft

        from ._cepstrum import minimum_phase_from_cepstrum

        n = self.n_samples
        if n_fft is None:
            nf = max(1024, 1 << int(math.ceil(math.log2(8 * n))))
        else:
            if isinstance(n_fft, bool) or not isinstance(n_fft, (int, np.integer)):
                raise TypeError(f"n_fft must be an integer, got {n_fft!r}")
            nf = int(n_fft)
            if nf < 2 * n or nf & (nf - 1):
                raise ParameterError(f"n_fft must be a power of two >= 2 x the IR length "
                                     f"({2 * n}), got {n_fft!r}")
        d = self._data.astype(np.float64)
        mag = np.abs(sfft.rfft(d, nf, axis=1))
        floor = np.maximum(mag.max(axis=1, keepdims=True), 1e-300) * 1e-10
        cep = sfft.irfft(np.log(np.maximum(mag, floor)), nf, axis=1)
        out = minimum_phase_from_cepstrum(cep)[:, :n]
        flip = np.sum(out * d, axis=1) < 0
        out[flip] *= -1
        return self._derived(out.astype(np.float32), "minimum_phase", n_fft=nf)

    def to_mono(self, *, channel: int | None = None) -> "ImpulseResponse":
        """One channel: the mean of all channels, or one chosen channel.

        Parameters
        ----------
        channel : int, optional
            Keep only this channel (e.g. 0, the omni W channel of a B-format IR). Default: the
            mean of the channels (identical channels, as in many stereo cabinet IR files, give
            that channel back exactly).

        Returns
        -------
        ImpulseResponse
            A 1-channel IR (``self`` unchanged when it already is mono and no channel is given).

        Raises
        ------
        ParameterError
            ``channel`` out of range.
        TypeError
            ``channel`` is not an integer.

        Examples
        --------
        >>> import numpy as np, irforge
        >>> ir = irforge.ImpulseResponse(np.array([[1.0, 0.0], [0.0, 1.0]]), sample_rate=48000)
        >>> ir.to_mono().data.tolist(), ir.to_mono(channel=1).data.tolist()
        ([[0.5, 0.5]], [[0.0, 1.0]])
        """
        if channel is None:
            if self.n_channels == 1:
                return self
            data = self._data.astype(np.float64).mean(axis=0)
            return self._derived(data.astype(np.float32), "to_mono", channels="mean",
                                 from_channels=self.n_channels)
        if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)):
            raise TypeError(f"channel must be an integer, got {channel!r}")
        if not -self.n_channels <= channel < self.n_channels:
            raise ParameterError(
                f"channel {channel!r} out of range for a {self.n_channels}-channel IR")
        return self._derived(self._data[channel], "to_mono",
                             channels=int(channel) % self.n_channels,
                             from_channels=self.n_channels)

    def plot(self, **kwargs):
        """Waveform in dB, magnitude response and spectrogram (needs ``irforge[plot]``).

        Parameters
        ----------
        **kwargs
            Passed to :func:`irforge.plotting.plot_ir` (``channel``, ``dynamic_range_db``,
            ``smoothing_octaves``, ``figsize``).

        Returns
        -------
        matplotlib.figure.Figure
            Save it with :func:`irforge.plotting.save_figure` or ``fig.savefig``.
        """
        from .plotting import plot_ir

        return plot_ir(self, **kwargs)

    def export(self, path, *, preset: str = "generic", overwrite: bool = False, **overrides):
        """Write the IR as a file (or two) that a convolution plugin loads, following a preset.

        See :func:`irforge.export.export` for the presets, the channel rules and the details;
        this method only delegates to it.

        Returns
        -------
        list of Path
            The written file(s).
        """
        from .export import export

        return export(self, path, preset=preset, overwrite=overwrite, **overrides)

    # -- resampling ---------------------------------------------------------------------
    def resample(self, sample_rate: float, *, quality: str = "VHQ") -> "ImpulseResponse":
        """The IR at another sample rate (soxr, very high quality by default).

        The gain is kept so that convolving a signal at the new rate gives the same loudness:
        samples are scaled by ``old_rate / new_rate`` (an IR is a density in time).

        Parameters
        ----------
        sample_rate : float
            Target rate in Hz.
        quality : {"VHQ", "HQ", "MQ", "LQ", "QQ"}
            soxr quality recipe.
        """
        import soxr

        sr = check_sample_rate(sample_rate)
        if sr == self._sample_rate:
            return self
        n_out = math.ceil(self.n_samples * sr / self._sample_rate)
        if n_out > 2**31:
            raise ParameterError(f"resampling {self.n_samples} samples from {self._sample_rate} Hz to {sr} Hz "
                                 f"would make {n_out} samples per channel (more than 2^31): trim the IR first")
        y = soxr.resample(self._data.T.astype(np.float64), self._sample_rate, sr, quality=quality)
        y = np.ascontiguousarray(y.T) * (self._sample_rate / sr)
        out = self._derived(y.astype(np.float32), "resample", sample_rate=sr,
                            from_rate=self._sample_rate, to_rate=sr, quality=quality)
        out.metadata["resampled_from"] = self._sample_rate
        return out

    # -- files --------------------------------------------------------------------------
    @classmethod
    def load(cls, path) -> "ImpulseResponse":
        """Read an IR from a WAV, AIFF or FLAC file (any bit depth soundfile reads).

        A 4-channel file whose header (AMB sub-format GUID), extension (``.amb``) or name
        (``bformat``, ``ambix``, ...) says it is ambisonic gets
        ``metadata["layout_hint"] = {"layout": ..., "evidence": ...}``, which ``layout="auto"``
        in :func:`irforge.convolve`, :class:`irforge.Convolver` and the export presets reads.

        Raises
        ------
        FileNotFoundError
            The path does not exist.
        ParameterError
            The file cannot be decoded as audio, is empty, or holds non-finite samples.
        """
        from .audio_io import read_audio

        p = Path(path)
        data, sr = read_audio(p, "impulse response")
        data = data.T
        metadata: dict[str, Any] = {"source": str(p)}
        if data.shape[1] == 4:
            from ._layout import header_layout

            hint = header_layout(p)
            if hint is not None:  # read by layout="auto" (convolve, Convolver, export)
                metadata["layout_hint"] = {"layout": hint[0], "evidence": hint[1]}
        try:
            return cls(data.T, sample_rate=sr, metadata=metadata)
        except ParameterError as exc:
            raise ParameterError(f"impulse response file {str(p)!r}: {exc}") from exc

    def save(self, path, *, bit_depth: int = 32, overwrite: bool = False) -> Path:
        """Write the IR to a WAV, AIFF or FLAC file, atomically.

        Parameters
        ----------
        path : str or Path
            Destination; the format follows the extension (.wav, .aif/.aiff, .flac).
        bit_depth : {16, 24, 32}
            16/24-bit integer PCM, or 32 for float32 (not for FLAC, which has no float).
        overwrite : bool
            Replace an existing file. By default an existing file is never touched.

        Returns
        -------
        Path
            The written path.

        Notes
        -----
        The file is written to a temporary name beside the destination and renamed into
        place, so a failure never leaves a half-written file. The file gets the permissions
        ``0o666 & ~umask`` (or those of the file it replaces). Integer formats clip at full
        scale: an :class:`irforge.ClippingWarning` says so; normalise first if the IR peaks
        above 1.
        """
        return write_audio_atomic(path, self._data, self._sample_rate, bit_depth=bit_depth,
                                  overwrite=overwrite)


def ir_input(ir, sample_rate, *, name: str = "impulse response") -> tuple[np.ndarray, float, dict]:
    """``(data (channels, samples), sample_rate, metadata)`` of an ImpulseResponse or an array.

    An array needs ``sample_rate``; with an ImpulseResponse, ``sample_rate`` is optional and
    must agree (never a silent resample).
    """
    if isinstance(ir, ImpulseResponse):
        if sample_rate is not None and check_sample_rate(sample_rate) != ir.sample_rate:
            raise ParameterError(f"sample_rate={sample_rate!r} disagrees with the {name}'s "
                                 f"{ir.sample_rate:g} Hz")
        return ir.data, ir.sample_rate, dict(ir.metadata)
    if sample_rate is None:
        raise ParameterError(f"sample_rate is required when the {name} is an array")
    data, _ = as_audio_2d(ir, name)
    return data, check_sample_rate(sample_rate), {}

