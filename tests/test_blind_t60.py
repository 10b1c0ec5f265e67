"""irforge.reverberation.blind_t60: the paper's per-bin estimate, the published code's per-frame
variant (vs tests/reference_ciba.py) and the ML estimator (vs known decays and ISO T30)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.signal as ss

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference_ciba as rc
from conftest import data_file
from irforge._errors import ParameterError
from irforge.reverberation import blind_t60

FS = 48000


def bursts(rng, t60, fs=FS, n=10):
    """Noise bursts, each followed by a free exponential decay of the given T60."""
    t = np.arange(int(0.6 * fs)) / fs
    parts = []
    for _ in range(n):
        parts.append(rng.standard_normal(int(0.3 * fs)))
        parts.append(rng.standard_normal(len(t)) * 10 ** (-3 * t / t60))
    return np.concatenate(parts).astype(np.float32)


def reverberant_speech(room):
    data_file(room)
    d = np.concatenate([rc._load("dry/speech_spatialaudio_xmas_male_voice.wav", FS),
                        rc._load("dry/speech_spatialaudio_librivox_flatland_excerpt.wav", FS)])
    h = rc._load(room, FS)
    h = h[max(int(np.argmax(np.abs(h))) - 96, 0):]
    return ss.fftconvolve(np.tile(d, 4), h)[:4 * len(d)].astype(np.float32), h.astype(np.float32)


def slow_ciba(x, n_fft=2048, hop=512, thr=1e-3):
    """Eqs. 11-13 literally, one bin at a time, with the numpy STFT of reference_ciba."""
    P = np.abs(rc.lr_stft(x.astype(np.float64), n_fft, hop)) ** 2
    eta = np.zeros(P.shape[0], int)
    for k in range(P.shape[0]):
        tot = P[k].sum()
        frac = [P[k, t:].sum() / tot for t in range(P.shape[1])]
        below = [t for t, f in enumerate(frac) if f < thr]
        eta[k] = below[0] if below else P.shape[1]
    return eta


def test_ciba_per_bin_matches_literal_equations(rng):
    x = bursts(rng, 0.4, fs=16000, n=3)
    r = blind_t60(x, sample_rate=16000, method="ciba", n_fft=256, hop=64)
    eta = slow_ciba(x, 256, 64)
    assert np.mean(r.info["frame_index"] == eta) >= 0.99
    np.testing.assert_allclose(r.t60_s, r.info["frame_index"] * 64 / 16000)
    np.testing.assert_allclose(r.info["t60_eq15_s"], (1 - 64 / 256) * r.info["frame_index"] / 16000)


def test_ciba_code_matches_reference_on_real_speech():
    y, _ = reverberant_speech("room_ir/spatialaudio_brir_sweep_Netzwerkakademie_KEMAR_from_mat.wav")
    r = blind_t60(y, sample_rate=FS, method="ciba_code")
    want = rc.t60_frames(y.astype(np.float64), FS)
    assert r.t60_s.shape == want.shape
    assert np.mean(r.t60_s == want) >= 0.99


def test_ratnam_recovers_known_decays(rng):
    for t60 in (0.3, 0.8):
        r = blind_t60(bursts(rng, t60), sample_rate=FS)
        v = r.t60_s[r.valid]
        assert r.valid.sum() >= 5
        assert np.all(np.abs(v / t60 - 1) < 0.3), (t60, v)


@pytest.mark.parametrize("room", ["room_ir/spatialaudio_brir_sweep_Netzwerkakademie_KEMAR_from_mat.wav",
                                  "room_ir/openair_JackLyonsHall_Bformat_96k.wav"], ids=["kemar", "jacklyons"])
def test_ratnam_vs_iso_t30_on_reverberant_speech(room):
    from irforge.analysis import analyze

    y, h = reverberant_speech(room)
    r = blind_t60(y, sample_rate=FS)
    a = analyze(h, sample_rate=FS, bands="octave")
    t30 = dict(zip(np.round(a.band_centers_hz), a.t30_s[0]))
    ratios = [v / t30[fc] for fc, v, ok in zip(np.round(r.frequencies_hz), r.t60_s, r.valid)
              if ok and 500 <= fc <= 4000 and np.isfinite(t30.get(fc, np.nan))]
    assert len(ratios) >= 3
    assert 0.6 < np.median(ratios) < 1.6
    # the paper's per-bin estimate measures how long the signal lasts, not the room
    c = blind_t60(y, sample_rate=FS, method="ciba")
    assert np.median(c.t60_s[c.valid]) > 3 * np.nanmax(a.t30_s)


def test_fallbacks_are_finite(rng):
    x = rng.standard_normal(FS).astype(np.float32) * 0.01
    x[-2048:] += np.sin(2 * np.pi * 3000 * np.arange(2048) / FS).astype(np.float32)   # energy at the end
    r = blind_t60(x, sample_rate=FS, method="ciba")
    k = int(round(3000 / FS * 2048))
    assert not r.valid[k] and r.t60_s[k] == pytest.approx(r.info["frame_index"].max() * 512 / FS)
    assert np.isfinite(r.t60_s).all()
    lowpassed = ss.sosfilt(ss.butter(8, 1000, fs=FS, output="sos"), rng.standard_normal(FS)).astype(np.float32)
    r2 = blind_t60(lowpassed, sample_rate=FS, method="ciba")
    assert np.isfinite(r2.t60_s).all()
    r3 = blind_t60(rng.standard_normal(FS).astype(np.float32), sample_rate=FS)   # no free decay
    assert np.all(np.isnan(r3.t60_s[~r3.valid])) and np.isfinite(r3.t60_s[r3.valid]).all()


def test_bad_input():
    x = np.ones(4096, np.float32)
    with pytest.raises(ParameterError, match="method"):
        blind_t60(x, sample_rate=FS, method="schroeder")
    with pytest.raises(ParameterError, match="non-finite"):
        blind_t60(np.r_[x, np.nan].astype(np.float32), sample_rate=FS)
    with pytest.raises(ParameterError, match="silent"):
        blind_t60(np.zeros(4096, np.float32), sample_rate=FS)
    with pytest.raises(ParameterError, match="shorter than one frame"):
        blind_t60(x[:100], sample_rate=FS)
    with pytest.raises(ParameterError, match="mono"):
        blind_t60(np.ones((2, 4096), np.float32), sample_rate=FS)
    with pytest.raises(ParameterError, match="Nyquist"):
        blind_t60(x, sample_rate=FS, bands_hz=[1000, 30000])
    with pytest.raises(ParameterError, match="power of two"):
        blind_t60(x, sample_rate=FS, n_fft=1000)
    with pytest.raises(TypeError):
        blind_t60(np.ones(4096, np.int32), sample_rate=FS)
