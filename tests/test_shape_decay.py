"""irforge.decay_shaping.shape_decay: re-analysis lands on the target T30 per band."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from conftest import data_file
from irforge import ImpulseResponse, ParameterError
from irforge.analysis import analyze
from irforge.decay_shaping import shape_decay

SR = 48000


def exp_noise(t60, seconds, sr=SR, seed=0, noise_db=-80.0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    return (rng.standard_normal(t.size) * 10 ** (-3 * t / t60)
            + 10 ** (noise_db / 20) * rng.standard_normal(t.size))


def load_room(rel, channels=1):
    x, sr = sf.read(str(data_file(rel)), dtype="float64", always_2d=True)
    return x.T[:channels], sr


def targets(out):
    return np.array(out.metadata["history"][-1]["target_t60_s"], dtype=float)


def assert_on_target(out, tol=0.10, **kw):
    r = analyze(out, **kw)
    want = targets(out)
    asked = np.isfinite(want)
    assert asked.any()
    err = np.abs(r.t30_s[asked] / want[asked] - 1)
    assert np.all(err < tol), (r.t30_s, want)
    return r


@pytest.mark.parametrize("kw", [{"t60_s": 0.6}, {"scale": 0.5}, {"scale": 1.6},
                                {"t60_s": {250: 0.5, 1000: 2.0, 4000: 0.4}}])
def test_synthetic_targets(kw):
    h = exp_noise(1.2, 3.0, seed=3)
    out = shape_decay(h, sample_rate=SR, **kw)
    assert isinstance(out, ImpulseResponse) and out.sample_rate == SR
    assert np.isfinite(out.data).all()
    r = assert_on_target(out)
    if isinstance(kw.get("t60_s"), dict):       # bands not in the mapping keep their decay
        r0 = analyze(h, sample_rate=SR)
        for i, fc in enumerate(r.band_centers_hz):
            if fc in (63, 2000, 8000):
                assert abs(r.t30_s[0, i] / r0.t30_s[0, i] - 1) < 0.15, fc


def test_direct_sound_and_early_part_kept():
    h = exp_noise(1.0, 2.5, seed=4)
    h = np.r_[np.zeros(480), h]
    out = shape_decay(h, sample_rate=SR, t60_s=0.4, keep_early_ms=20.0)
    # the direct sound and the first ms: unchanged up to the STFT round trip and the gain of
    # frames that start after t_k but reach back by half a frame (tiny there: < 0.5 %)
    onset = 480
    peak = np.abs(h).max()
    np.testing.assert_allclose(out.data[0, :onset + 50], h[:onset + 50], atol=5e-3 * peak)
    early = slice(onset, onset + int(0.010 * SR))
    assert np.max(np.abs(out.data[0, early] - h[early])) < 2e-2 * peak
    # broadband direct-to-reverberant ratio rises as the reverberation shrinks
    assert analyze(out).broadband.drr_db[0] > analyze(h, sample_rate=SR).broadband.drr_db[0] + 2


@pytest.mark.parametrize("rel,kw", [
    ("room_ir/openair_JackLyonsHall_Bformat_96k.wav", {"scale": 0.6}),
    ("room_ir/openair_JackLyonsHall_Bformat_96k.wav", {"scale": 1.3}),
    ("room_ir/openair_SpokaneWomansClub_stereo_44k.wav", {"t60_s": 1.0}),
    ("room_ir/openair_SpokaneWomansClub_stereo_44k.wav", {"t60_s": {500: 1.5, 4000: 0.8}}),
    ("room_ir/spatialaudio_brir_sweep_Netzwerkakademie_KEMAR_from_mat.wav", {"scale": 0.7}),
])
def test_real_room_irs(rel, kw):
    x, sr = load_room(rel, channels=2)
    out = shape_decay(ImpulseResponse(x, sample_rate=sr), **kw)
    assert out.n_channels == x.shape[0] and np.isfinite(out.data).all()
    assert_on_target(out)
    if kw.get("scale", 1) > 1:
        assert out.n_samples >= x.shape[1]


def test_lengthening_does_not_amplify_the_noise_floor():
    h = exp_noise(0.5, 2.0, seed=6, noise_db=-50.0)        # decay meets the noise at ~0.4 s
    out = shape_decay(h, sample_rate=SR, t60_s=1.5)
    r = assert_on_target(out)
    assert r.broadband.t30_valid[0]
    # the shaped tail decays: the last 10 % is far below the start, no exponential growth
    y = out.data[0].astype(np.float64)
    late = np.sqrt(np.mean(y[-y.size // 10:] ** 2))
    assert late < 1e-2 * np.sqrt(np.mean(y[:SR // 20] ** 2))
    # without tail replacement the noise is stretched with the decay (documented)
    raw = shape_decay(h, sample_rate=SR, t60_s=1.5, replace_tail=False, calibrate=0)
    z = raw.data[0].astype(np.float64)
    assert np.sqrt(np.mean(z[-z.size // 10:] ** 2)) > 10 * late


def test_third_octave_bands():
    h = exp_noise(0.9, 2.5, seed=8)
    out = shape_decay(h, sample_rate=SR, scale=0.6, bands="third", f_min_hz=250, f_max_hz=4000)
    assert_on_target(out, bands="third", f_min_hz=250, f_max_hz=4000)


def test_bad_inputs():
    h = exp_noise(0.8, 1.5)
    for bad in (0.0, -1.0):
        with pytest.raises(ParameterError, match="t60_s"):
            shape_decay(h, sample_rate=SR, t60_s=bad)
        with pytest.raises(ParameterError, match="scale"):
            shape_decay(h, sample_rate=SR, scale=bad)
    with pytest.raises(ParameterError, match="t60_s"):
        shape_decay(h, sample_rate=SR, t60_s={1000: -0.5})
    with pytest.raises(ParameterError, match="exactly one"):
        shape_decay(h, sample_rate=SR)
    with pytest.raises(ParameterError, match="exactly one"):
        shape_decay(h, sample_rate=SR, t60_s=1.0, scale=2.0)
    with pytest.raises(ParameterError, match="not band centres"):
        shape_decay(h, sample_rate=SR, t60_s={1100: 0.5})
    with pytest.raises(ParameterError, match="Nyquist"):
        shape_decay(h, sample_rate=SR, t60_s=0.5, f_max_hz=32000)
    with pytest.raises(ParameterError, match="too short"):
        shape_decay(h[:400], sample_rate=SR, t60_s=0.5)
    with pytest.raises(ParameterError, match="cannot measure"):
        # 0.1 s of decay: too short to measure the 63 Hz band
        shape_decay(exp_noise(0.8, 0.1), sample_rate=SR, t60_s=0.5)
    with pytest.raises(TypeError):
        shape_decay(h, sample_rate=SR, t60_s="long")
    with pytest.raises(ParameterError, match="hop"):
        shape_decay(h, sample_rate=SR, t60_s=0.5, n_fft=1024, hop=1000)
    with pytest.raises(ParameterError, match="sample_rate"):
        shape_decay(h, t60_s=0.5)
