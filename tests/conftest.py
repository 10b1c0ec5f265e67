"""Shared fixtures: real material from ../shared/data (skipped cleanly when absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def load_mono(rel: str, sample_rate: int, seconds: float | None = None) -> np.ndarray:
    """The first channel of a file from ../shared/data, float64, resampled to ``sample_rate``
    (soxr) and cut to ``seconds`` when given."""
    import soundfile as sf
    import soxr

    d, sr = sf.read(data_file(rel), dtype="float64", always_2d=True)
    d = d[:, 0]
    if sr != sample_rate:
        d = soxr.resample(d, sr, sample_rate)
    return d[: int(seconds * sample_rate)] if seconds else d


def data_file(rel: str) -> Path:
    p = DATA / rel
    if not p.exists():
        pytest.skip(f"real test material not found: {p}")
    return p


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def decaying_noise_ir(n: int, seed: int = 2, channels: int | None = None) -> np.ndarray:
    """Noise with an exponential envelope reaching -60 dB at the end, unit energy."""
    r = np.random.default_rng(seed)
    shape = (n,) if channels is None else (channels, n)
    h = r.uniform(-1, 1, shape) * np.exp(-np.log(1000.0) * np.arange(n) / max(n, 1))
    return (h / np.sqrt(np.sum(h * h, axis=-1, keepdims=True))).astype(np.float32)


def max_rel_err(y: np.ndarray, ref: np.ndarray) -> float:
    """max |y - ref| / max |ref| (the issue's criterion: error relative to the reference's peak)."""
    assert y.shape == ref.shape, (y.shape, ref.shape)
    peak = float(np.max(np.abs(ref))) or 1.0
    return float(np.max(np.abs(y.astype(np.float64) - ref))) / peak
