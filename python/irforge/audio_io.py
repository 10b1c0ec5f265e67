"""Reading audio files safely: the one reader behind ImpulseResponse.load and the CLI.

soundfile (libsndfile) decodes the formats; this module adds what it does not check: the
path exists and is a file, the WAV header is sane (a PCM header claiming 7-bit samples decoded
as twice the samples of garbage), the sample rate is in irforge's audio range (a header saying
1 Hz made a 16 KB file cost gigabytes), the file holds samples, and a file shorter than its
header says is read with a warning that names how much is missing.
"""
from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np

from ._errors import ParameterError
from ._validation import check_sample_rate, integral_rate


class TruncatedFileWarning(UserWarning):
    """An audio file holds fewer samples than its header announces (a recorder stopped early,
    a copy broke off): what is there is read."""


def _wav_problems(p: Path) -> tuple[str | None, str | None]:
    """(error, warning) from a RIFF/WAVE file's chunks, or (None, None) for any other format.

    Only what libsndfile lets through is checked: the fmt chunk's bits per sample and the data
    chunk's announced size against the bytes that follow it."""
    try:
        with open(p, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
                return None, None
            size = p.stat().st_size
            pos = 12
            fmt = None
            while pos + 8 <= size:
                f.seek(pos)
                cid, clen = struct.unpack("<4sI", f.read(8))
                if cid == b"fmt " and clen >= 16:
                    raw = f.read(16)
                    if len(raw) < 16:
                        return None, None  # a cut header: soundfile says what is wrong
                    fmt = struct.unpack("<HHIIHH", raw)
                elif cid == b"data":
                    if fmt is not None:
                        tag, _channels, _rate, _bps, block, bits = fmt
                        if tag in (1, 3) and (bits == 0 or bits % 8 or bits > 64):
                            return (f"its header claims {bits}-bit samples, which no PCM/float WAV "
                                    f"has (8, 16, 24, 32 or 64): the file is corrupt"), None
                        if block == 0:
                            return "its header gives 0 bytes per sample frame: the file is corrupt", None
                    have = size - (pos + 8)
                    if head[:4] == b"RIFF" and clen != 0xFFFFFFFF and clen > have:
                        return None, (f"its header announces {clen} bytes of audio but the file holds "
                                      f"{have}: it is truncated, and only what is there is read")
                    return None, None
                pos += 8 + clen + (clen & 1)
    except (OSError, struct.error):
        return None, None
    return None, None


def read_audio(path, what: str = "audio") -> tuple[np.ndarray, int | float]:
    """Read an audio file (WAV, AIFF, FLAC, anything soundfile reads).

    Parameters
    ----------
    path : str or Path
    what : str
        What the file is, for the messages ("impulse response", "recording", ...).

    Returns
    -------
    audio : np.ndarray [shape=(channels, samples), dtype=float32]
    sample_rate : int or float
        In Hz; an ``int`` for a whole number.

    Raises
    ------
    FileNotFoundError
        The path does not exist.
    ParameterError
        A directory, a file soundfile cannot decode, a corrupt WAV header, a sample rate outside
        1 kHz - 768 kHz, no samples, NaN/Inf samples.

    Warns
    -----
    TruncatedFileWarning
        The file is shorter than its header announces.
    """
    import soundfile as sf

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{what} file not found: {str(p)!r}")
    if p.is_dir():
        raise ParameterError(f"{what} path is a directory, not a file: {str(p)!r}")
    error, warning = _wav_problems(p)
    if error:
        raise ParameterError(f"cannot read {what} file {str(p)!r}: {error}")
    try:
        info = sf.info(str(p))
    except Exception as exc:  # soundfile raises its own LibsndfileError / RuntimeError
        raise ParameterError(f"cannot read {what} file {str(p)!r}: {exc}") from None
    try:
        sr = check_sample_rate(info.samplerate, "sample rate")
    except ParameterError as exc:
        raise ParameterError(f"{what} file {str(p)!r}: {exc}") from None
    try:
        data, _ = sf.read(str(p), dtype="float32", always_2d=True)
    except Exception as exc:
        raise ParameterError(f"cannot read {what} file {str(p)!r}: {exc}") from None
    if data.shape[0] == 0:
        raise ParameterError(f"{what} file {str(p)!r} holds no samples (0 s): nothing to process")
    if not np.isfinite(data).all():
        raise ParameterError(f"{what} file {str(p)!r} holds NaN or Inf samples: the file is corrupt")
    if warning:
        warnings.warn(f"{what} file {str(p)!r}: {warning}", TruncatedFileWarning, stacklevel=2)
    return np.ascontiguousarray(data.T), integral_rate(sr)
