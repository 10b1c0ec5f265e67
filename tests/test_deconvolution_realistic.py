"""irforge.deconvolution on realistic recordings (issue 10): DC offsets and stationary lines.

Recordings as in benchmarks/bench_deconvolve_realistic.py: the dry signal through a real IR,
-20 dBFS peak, a white floor 60 dB below the signal's rms, plus a DC offset. The oracle is
Tikhonov with the best constant lambda chosen against the true dry signal.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft as sfft

from irforge.deconvolution import _PsdStats, deconvolve
from irforge.metrics import si_sdr

from conftest import load_mono

SR = 44100


def _load(rel, seconds=None):
    return load_mono(rel, SR, seconds)


def _recording(x, h, dc, seed):
    L = sfft.next_fast_len(x.size + h.size, real=True)
    yc = sfft.irfft(sfft.rfft(x, L) * sfft.rfft(h, L), L)[: x.size + h.size - 1]
    yc *= 0.1 / np.abs(yc).max()                                  # -20 dBFS peak
    r = np.random.default_rng(seed)
    y = yc + r.standard_normal(yc.size) * np.sqrt(np.mean(yc ** 2)) * 1e-3 + dc
    return y.astype(np.float32)


def _oracle(y, h, x):
    L = sfft.next_fast_len(y.size + h.size, real=True)
    Y, H = sfft.rfft(y.astype(np.float64), L), sfft.rfft(h, L)
    H2 = np.abs(H) ** 2
    return max(si_sdr(sfft.irfft(np.conj(H) * Y / (H2 + lam * H2.max()), L)[: x.size], x)
               for lam in np.logspace(-12, 0, 37))


@pytest.mark.parametrize("dc", [1e-5, 1e-4])          # -100 and -80 dBFS
@pytest.mark.parametrize("dry,ir,seconds", [
    ("dry/guitarDI_gulmini_input_001.wav", "cab_ir/adventurekid_Modern_UK_001.wav", 3.0),
    ("dry/speech_spatialaudio_xmas_male_voice.wav", "room_ir/spatialaudio_rir_clap_seminar_room.wav", 2.5),
])
def test_dc_offset_within_2db_of_oracle(dry, ir, seconds, dc):
    """The issue's case: a DC offset of 1e-5 took auto from 30 to -5 dB on a guitar through
    the Modern_UK cab (GCV took the DC, where the cab has no gain, for signal and drove lambda
    to ~1e-10, which also fooled the exact-division switch)."""
    x = _load(dry, seconds)
    h = _load(ir)
    h /= np.abs(h).max()
    for seed in (1, 2):
        y = _recording(x, h, dc, seed)
        got = si_sdr(deconvolve(y, h, sample_rate=SR)[: x.size], x)
        assert got >= _oracle(y, h, x) - 2.0, (seed, got)


def _stats(y):
    st = _PsdStats(1, 2048)
    st.feed(np.ascontiguousarray(y[None], dtype=np.float32))
    st.finish()
    return st.line_mask()[0]


def test_line_detector_finds_dc_and_a_tone_not_noise_or_music():
    """Welch-resolution detector of stationary lines (DC offset, a steady tone)."""
    r = np.random.default_rng(0)
    n = 4 * SR
    noise = 1e-3 * r.standard_normal(n)
    assert not _stats(noise)[:200].any()
    x = _load("dry/guitarDI_gulmini_input_001.wav", 4.0)
    music = 0.1 * x / np.abs(x).max() + noise
    quiet = np.flatnonzero(_stats(music))
    assert quiet.size <= 3, quiet                      # the guitar's partials come and go
    dc = np.flatnonzero(_stats(noise + 1e-3))
    assert 0 in dc
    t = np.arange(n) / SR
    # an isolated steady tone (dense 50 Hz hum harmonics, 2.3 Welch bins apart, fill the
    # detector's neighbourhood and are not found: see BENCHMARKS.md)
    found = np.flatnonzero(_stats(music + 3e-3 * np.sin(2 * np.pi * 1000 * t))) * SR / 2048
    assert np.min(np.abs(found - 1000)) <= SR / 2048, found
