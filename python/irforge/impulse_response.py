"""The ImpulseResponse container: samples, sample rate, file I/O and resampling."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from ._errors import ParameterError
from ._validation import as_audio_2d, check_sample_rate

# soundfile subtypes for bit_depth
_SUBTYPES = {16: "PCM_16", 24: "PCM_24", 32: "FLOAT"}
_FORMATS = {".wav": "WAV", ".aif": "AIFF", ".aiff": "AIFF", ".flac": "FLAC"}


class ImpulseResponse:
    """An impulse response with its sample rate.

    Parameters
    ----------
    data : np.ndarray [shape=(channels, samples) or (samples,), dtype float32 or float64]
        The IR. Channel layouts understood by :func:`irforge.convolve` and
        :class:`irforge.Convolver`: 1 channel (applied to every audio channel), 2 channels
        (left/right) and 4 channels (true stereo in the order L->L, L->R, R->L, R->R).
    sample_rate : float
        Sample rate of ``data`` in Hz.
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
        self._sample_rate = check_sample_rate(sample_rate)
        self.metadata = dict(metadata or {})
        #: Harmonic-distortion IRs from a sweep measurement: {order: ImpulseResponse}, or None.
        self.harmonics: dict | None = None

    # -- basic properties -----------------------------------------------------------------
    @property
    def data(self) -> np.ndarray:
        """Samples, float32, shape (channels, samples); read-only."""
        return self._data

    @property
    def sample_rate(self) -> float:
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
        y = soxr.resample(self._data.T.astype(np.float64), self._sample_rate, sr, quality=quality)
        y = np.ascontiguousarray(y.T) * (self._sample_rate / sr)
        meta = dict(self.metadata, resampled_from=self._sample_rate)
        return ImpulseResponse(y.astype(np.float32), sample_rate=sr, metadata=meta)

    # -- files --------------------------------------------------------------------------
    @classmethod
    def load(cls, path) -> "ImpulseResponse":
        """Read an IR from a WAV, AIFF or FLAC file (any bit depth soundfile reads).

        Raises
        ------
        FileNotFoundError
            The path does not exist.
        ParameterError
            The file cannot be decoded as audio, is empty, or holds non-finite samples.
        """
        import soundfile as sf

        p = Path(path)
        if not p.exists():
            raise FileNotFoundError(f"impulse response file not found: {str(p)!r}")
        if p.is_dir():
            raise ParameterError(f"impulse response path is a directory, not a file: {str(p)!r}")
        try:
            data, sr = sf.read(str(p), dtype="float32", always_2d=True)
        except Exception as exc:  # soundfile raises its own LibsndfileError / RuntimeError
            raise ParameterError(f"cannot read impulse response file {str(p)!r}: {exc}") from exc
        if data.shape[0] == 0:
            raise ParameterError(f"impulse response file {str(p)!r} holds no samples")
        try:
            return cls(data.T, sample_rate=sr, metadata={"source": str(p)})
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
        place, so a failure never leaves a half-written file. Integer formats clip at full
        scale: normalise first if the IR peaks above 1.
        """
        return write_audio_atomic(path, self._data, self._sample_rate, bit_depth=bit_depth,
                                  overwrite=overwrite)


def write_audio_atomic(path, data: np.ndarray, sample_rate: float, *, bit_depth: int = 32,
                       overwrite: bool = False) -> Path:
    """Write ``data`` (channels, samples) to ``path`` via a temporary file and a rename."""
    import soundfile as sf

    p = Path(path)
    fmt = _FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise ParameterError(f"unsupported audio file extension {p.suffix!r} for {str(p)!r}; "
                             f"use one of {sorted(_FORMATS)}")
    if bit_depth not in _SUBTYPES:
        raise ParameterError(f"bit_depth must be 16, 24 or 32 (float), got {bit_depth!r}")
    if fmt == "FLAC" and bit_depth == 32:
        raise ParameterError("FLAC has no float format: use bit_depth=16 or 24, or a .wav file")
    if p.exists() and not overwrite:
        raise FileExistsError(f"{str(p)!r} exists; pass overwrite=True to replace it")
    if not p.parent.exists():
        raise FileNotFoundError(f"directory does not exist: {str(p.parent)!r}")
    sr = int(round(sample_rate))
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    os.close(fd)
    try:
        sf.write(tmp, np.asarray(data, dtype=np.float32).T, sr, subtype=_SUBTYPES[bit_depth], format=fmt)
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return p
