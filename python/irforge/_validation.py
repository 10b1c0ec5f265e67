"""Checks shared by the public functions. Every message names the bad value."""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from ._errors import ParameterError

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_float_array(x, name: str) -> np.ndarray:
    """``x`` as a float32 ndarray (float32/float64 accepted; any other dtype is a TypeError)."""
    if isinstance(x, np.ndarray):
        arr = x
    elif isinstance(x, (list, tuple)):
        arr = np.asarray(x)
        if arr.dtype.kind in "iu" and arr.size:
            arr = arr.astype(np.float64)  # a literal list of numbers is fine
    else:
        raise TypeError(f"{name} must be a numpy array of float32 or float64, got {type(x).__name__}")
    if arr.dtype.kind == "f" and arr.dtype.newbyteorder("=") in _FLOAT_DTYPES:
        arr = arr.astype(arr.dtype.newbyteorder("="), copy=False)  # big-endian data from a file
    if arr.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float32 or float64, got {arr.dtype}")
    return arr.astype(np.float32, copy=False)


def check_finite(arr: np.ndarray, name: str) -> None:
    if arr.size and not np.isfinite(arr).all():
        bad = np.flatnonzero(~np.isfinite(arr.reshape(-1)))
        raise ParameterError(
            f"{name} contains {bad.size} non-finite value(s) (NaN or Inf), first at flat index {bad[0]}"
        )


# More channels than this is not audio irforge handles (third-order ambisonics has 16): such an
# array is almost always (samples, channels) passed the wrong way round, which would otherwise
# be processed as thousands of channels (a (48000, 2) array convolved into 0.9 GB).
MAX_CHANNELS = 64


def as_audio_2d(x, name: str = "audio") -> tuple[np.ndarray, bool]:
    """Audio as a C-contiguous float32 ``(channels, samples)`` array and whether it was 1-D.

    A 2-D array with more than :data:`MAX_CHANNELS` rows is refused: when it has fewer columns
    than rows it is (samples, channels) the wrong way round, and the message says to pass ``.T``
    (the effects' ``process()`` follows pedalboard instead and accepts either layout)."""
    arr = as_float_array(x, name)
    if arr.ndim == 1:
        out, was_1d = arr[None, :], True
    elif arr.ndim == 2:
        out, was_1d = arr, False
    else:
        raise ParameterError(
            f"{name} must be 1-D (samples) or 2-D (channels, samples), got {arr.ndim}-D shape {arr.shape}"
        )
    if out.shape[0] == 0:
        raise ParameterError(f"{name} has no channels (shape {arr.shape})")
    if out.shape[0] > MAX_CHANNELS:
        if out.shape[1] < out.shape[0]:
            raise ParameterError(
                f"{name} of shape {arr.shape} looks like (samples, channels); irforge takes "
                f"(channels, samples): transpose it (array.T)")
        raise ParameterError(f"{name} has {out.shape[0]} channels (shape {arr.shape}); at most {MAX_CHANNELS}")
    check_finite(out, name)
    return np.ascontiguousarray(out, dtype=np.float32), was_1d


# The audio range irforge works in. Rates outside it are refused before anything is sized from
# them: a rate of 0.5 Hz or 1e300 Hz asked soxr for absurd ratios (crashes, endless runs), and a
# WAV header claiming 1 Hz made a 16 KB file cost gigabytes.
MIN_SAMPLE_RATE_HZ = 1000.0
MAX_SAMPLE_RATE_HZ = 768000.0


def check_sample_rate(sample_rate, name: str = "sample_rate", *, audio: bool = True) -> float:
    """A sample rate in Hz: a real number from 1 kHz to 768 kHz (``audio=False``: any positive
    finite rate, for internal signals such as a decimated energy envelope)."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (Real, np.number)):
        raise TypeError(f"{name} must be a number in Hz, got {sample_rate!r}")
    sr = float(sample_rate)
    if not math.isfinite(sr) or sr <= 0:
        raise ParameterError(f"{name} must be a positive finite number of Hz, got {sample_rate!r}")
    if audio and not MIN_SAMPLE_RATE_HZ <= sr <= MAX_SAMPLE_RATE_HZ:
        raise ParameterError(
            f"{name} must be between {MIN_SAMPLE_RATE_HZ:.0f} and {MAX_SAMPLE_RATE_HZ:.0f} Hz, got "
            f"{sample_rate!r} (a file whose header says so is corrupt or not audio)")
    return sr


def integral_rate(sample_rate, name: str = "sample_rate") -> int | float:
    """A validated sample rate in Hz: an ``int`` when it is a whole number (48000.0 -> 48000),
    else the float (a non-integral rate such as 44099.5 stays as it is)."""
    sr = check_sample_rate(sample_rate, name)
    return int(sr) if sr.is_integer() else sr


def check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value <= 0:
        raise ParameterError(f"{name} must be >= 1, got {value!r}")
    return int(value)


def check_real(value, name: str, *, low: float | None = None, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (Real, np.number)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ParameterError(f"{name} must be finite, got {value!r}")
    if (low is not None and v < low) or (high is not None and v > high):
        raise ParameterError(f"{name} must be in [{low}, {high}], got {value!r}")
    return v
