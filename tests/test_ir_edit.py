"""ImpulseResponse editing: trim (ISO 3382-1 onset, Lundeby end), fade_out, normalize,
minimum_phase, to_mono, metadata history; the reusable decay analysis in irforge._decay."""

import math

import numpy as np
import pytest
import soundfile as sf

import irforge
from irforge import _decay
from conftest import data_file

SR = 48000


def synthetic_ir(t60_s, noise_db, *, sr=SR, length_s=3.0, delay_s=0.0, direct=0.0, seed=0):
    """Gaussian noise with an exponential decay (0 dB mean power at t=0) plus a stationary
    noise floor ``noise_db`` re that, optionally a direct-sound spike ``direct`` at
    ``delay_s``; returns (h, the time where decay and noise meet)."""
    rng = np.random.default_rng(seed)
    n = int(length_s * sr)
    t = np.arange(n) / sr
    h = rng.standard_normal(n) * 10 ** (-3 * t / t60_s)
    d = int(delay_s * sr)
    h = np.r_[np.zeros(d), h][:n] + 10 ** (noise_db / 20) * rng.standard_normal(n)
    h[d] += direct
    return h, delay_s + (-noise_db / 60) * t60_s


# -- irforge._decay ----------------------------------------------------------------------
@pytest.mark.parametrize("t60_s", [0.3, 1.0, 2.0])
@pytest.mark.parametrize("noise_db", [-40.0, -60.0, -80.0])
def test_lundeby_synthetic_known_decay_and_floor(t60_s, noise_db):
    # long enough that the last 10 % (the first noise estimate) is noise
    h, t_cross = synthetic_ir(t60_s, noise_db, length_s=max(2.0, 2 * (-noise_db / 60) * t60_s))
    r = _decay.lundeby(h, SR)
    assert r.reliable and r.converged
    assert r.crossing_s == pytest.approx(t_cross, rel=0.06, abs=0.01)
    assert r.t60_s == pytest.approx(t60_s, rel=0.12)
    # noise level re the peak sample power: the floor's true level, to 0.5 dB
    true_noise_db = noise_db - 10 * math.log10(np.max(h ** 2))
    assert r.noise_db == pytest.approx(true_noise_db, abs=0.5)
    assert r.noise_power == pytest.approx(10 ** (noise_db / 10), rel=0.1)


def test_lundeby_digital_silence_and_no_decay():
    h, _ = synthetic_ir(0.3, -300.0, length_s=0.5)  # no noise: decays into float resolution
    h = np.r_[h[:12000], np.zeros(12000)]           # ... then exact zeros
    r = _decay.lundeby(h, SR)
    assert r.reliable and r.crossing_index <= 12000 and r.noise_power >= 0
    noise = np.random.default_rng(3).standard_normal(SR)  # no decay at all
    r = _decay.lundeby(noise, SR)
    assert not r.reliable and r.crossing_index == SR and math.isnan(r.t60_s)


def test_onset_iso3382():
    h = np.zeros(100)
    h[40], h[50] = 0.099, 1.0        # 0.099 is -20.1 dB re the peak: below the threshold
    assert _decay.onset_index(h) == 50
    h[45] = 0.1                       # exactly -20 dB: the onset
    assert _decay.onset_index(h) == 45
    assert _decay.onset_index(h, threshold_db=-40) == 40
    two = np.zeros((2, 100))
    two[0, 60], two[1, 30] = 1.0, 0.2  # the earliest channel counts, level re the global peak
    assert _decay.onset_index(two) == 30
    with pytest.raises(irforge.ParameterError, match="silent"):
        _decay.onset_index(np.zeros(10))
    with pytest.raises(irforge.ParameterError, match="threshold_db"):
        _decay.onset_index(h, threshold_db=5)


def test_block_levels():
    lv, c = _decay.block_levels_db(np.array([1.0, 1.0, 0.01, 0.01, 4.0]), 2)
    np.testing.assert_allclose(lv, [0.0, -20.0, 10 * np.log10(4.0)])
    np.testing.assert_allclose(c, [0.5, 2.5, 4.0])
    with pytest.raises(irforge.ParameterError):
        _decay.block_levels_db(np.ones(4), 0)


# files with a noise floor (the museum clap was faded out by its author: no floor). The right
# channel of the Spokane file has a non-stationary floor (slowly sinking from -96 to -115 dB):
# Lundeby's method assumes stationary noise, its crossing lands late there (at -113 dB).
ROOMS_WITH_FLOOR = [
    ("room_ir/openair_Genesis6StudioLiveRoom_Bformat_96k.wav", ()),
    ("room_ir/openair_JackLyonsHall_Bformat_96k.wav", ()),
    ("room_ir/spatialaudio_brir_sweep_Netzwerkakademie_KEMAR_from_mat.wav", ()),
    ("room_ir/spatialaudio_rir_clap_seminar_room.wav", ()),
    ("room_ir/openair_SpokaneWomansClub_stereo_44k.wav", (1,)),
]


@pytest.mark.parametrize("rel,nonstationary", ROOMS_WITH_FLOOR,
                         ids=[r[0][8:30] for r in ROOMS_WITH_FLOOR])
def test_lundeby_real_rooms(rel, nonstationary):
    d, sr = sf.read(data_file(rel), always_2d=True, dtype="float32")
    d = d.T
    on = _decay.onset_index(d)
    end, results = _decay.decay_end_index(d, sr, start_index=on)
    assert on < end < d.shape[1]                  # a floor was found and cut off
    for ch, r in enumerate(results):
        assert r is not None and r.reliable
        c = on + r.crossing_index
        peak = float(np.max(d[ch].astype(np.float64) ** 2))
        after_db = 10 * np.log10(np.mean(d[ch, c:].astype(np.float64) ** 2) / peak)
        assert after_db == pytest.approx(r.noise_db, abs=1.0)   # flat noise after the crossing
        w = int(0.05 * sr)
        before_db = 10 * np.log10(np.mean(d[ch, c - 3 * w:c - w].astype(np.float64) ** 2) / peak)
        if ch not in nonstationary:
            assert before_db > r.noise_db + 1.0                 # decay still above it before
        assert r.noise_db < -50


def test_lundeby_real_rooms_t60():
    # the README's figures are mid-band; the broadband late decay is longer (bass)
    d, sr = sf.read(data_file("room_ir/openair_JackLyonsHall_Bformat_96k.wav"), dtype="float32")
    r = _decay.lundeby(d[:, 0], sr)
    assert 1.7 <= r.t60_s <= 3.0
    d, sr = sf.read(data_file("room_ir/openair_SpokaneWomansClub_stereo_44k.wav"), dtype="float32")
    r = _decay.lundeby(d[:, 0], sr)
    assert 1.8 <= r.t60_s <= 2.8


def test_faded_file_keeps_its_end():
    ir = irforge.ImpulseResponse.load(
        data_file("room_ir/freesound_peter1955_basement_museum_Unterlinden_clap_48k.wav"))
    t = ir.trim(start=False)
    assert t.n_samples >= ir.n_samples - int(0.05 * ir.sample_rate)


# -- trim ----------------------------------------------------------------------------------
def test_trim_synthetic_start_and_end():
    h, t_cross = synthetic_ir(0.5, -70.0, length_s=2.0, delay_s=0.1, direct=6.0)
    ir = irforge.ImpulseResponse(h, sample_rate=SR,
                                 metadata={"method": "inverse", "date": "2025-01-01"})
    t = ir.trim(pre_s=0.002)
    rec = t.metadata["history"][-1]
    assert rec["op"] == "trim" and rec["noise_floor_found"]
    assert rec["onset_index"] == int(0.1 * SR)
    assert rec["start_index"] == int(0.1 * SR) - int(0.002 * SR)
    assert rec["end_index"] / SR == pytest.approx(t_cross, rel=0.06)
    assert rec["t60_s"] == pytest.approx(0.5, rel=0.1)
    np.testing.assert_array_equal(t.data, ir.data[:, rec["start_index"]:rec["end_index"]])
    assert t.metadata["method"] == "inverse" and t.metadata["date"] == "2025-01-01"
    assert ir.n_samples == int(2.0 * SR) and "history" not in ir.metadata   # unchanged
    # only one end
    assert ir.trim(end=False, pre_s=0.002).n_samples == ir.n_samples - rec["start_index"]
    assert ir.trim(start=False).data.shape[1] == rec["end_index"]


def test_trim_keeps_channels_aligned():
    h, _ = synthetic_ir(0.3, -60.0, length_s=1.0, direct=6.0)
    data = np.stack([np.r_[np.zeros(100), h[:-100]], np.r_[np.zeros(300), h[:-300]]])
    t = irforge.ImpulseResponse(data, sample_rate=SR).trim(pre_s=0.0)
    assert t.metadata["history"][-1]["start_index"] == 100
    assert np.argmax(np.abs(t.data[1])) - np.argmax(np.abs(t.data[0])) == 200


@pytest.mark.parametrize("name", ["adventurekid_Modern_UK_001.wav", "adventurekid_Radio_001.wav"])
def test_trim_real_cabinet(name):
    ir = irforge.ImpulseResponse.load(data_file(f"cab_ir/{name}"))
    t = ir.trim(pre_s=0.0005)
    assert 0.05 < t.duration_s <= ir.duration_s
    # nothing audible cut: the energy kept is all but -60 dB of it
    lost = 1 - np.sum(t.data.astype(np.float64) ** 2) / np.sum(ir.data.astype(np.float64) ** 2)
    assert lost < 1e-6


def test_trim_bad_input():
    ir = irforge.ImpulseResponse(np.zeros(100, np.float32), sample_rate=SR)
    with pytest.raises(irforge.ParameterError, match="silent"):
        ir.trim()
    ir = irforge.ImpulseResponse(np.ones(100, np.float32), sample_rate=SR)
    with pytest.raises(irforge.ParameterError, match="pre_s"):
        ir.trim(pre_s=-1)
    with pytest.raises(irforge.ParameterError, match="pre_s"):
        ir.trim(pre_s=float("nan"))
    with pytest.raises(TypeError, match="pre_s"):
        ir.trim(pre_s="1ms")


# -- fade_out ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,mid",
                         [("hann", 0.5), ("cosine", math.cos(math.pi / 4)), ("linear", 0.5)])
def test_fade_out_shapes(shape, mid):
    ir = irforge.ImpulseResponse(np.ones((2, 1000), np.float32), sample_rate=1000)
    f = ir.fade_out(length_s=0.1, shape=shape)
    np.testing.assert_array_equal(f.data[:, :900], 1.0)
    assert np.all(f.data[:, -1] == 0) and np.all(np.diff(f.data[0, 900:]) <= 0)
    assert f.data[0, 949] == pytest.approx(mid, abs=0.02)
    assert f.metadata["history"][-1] == {"op": "fade_out", "length_samples": 100, "shape": shape}
    assert np.all(ir.data == 1.0)


def test_fade_out_default_and_errors():
    ir = irforge.ImpulseResponse(np.ones(1000, np.float32), sample_rate=1000)
    assert ir.fade_out().metadata["history"][-1]["length_samples"] == 100
    assert ir.fade_out(length_s=1.0).data[0, 0] > 0.99        # the whole IR: allowed
    for bad in (0.0, -0.1, 1.5, float("nan"), float("inf")):
        with pytest.raises(irforge.ParameterError, match="length_s"):
            ir.fade_out(length_s=bad)
    with pytest.raises(irforge.ParameterError, match="shape"):
        ir.fade_out(length_s=0.1, shape="exp")
    with pytest.raises(TypeError, match="length_s"):
        ir.fade_out(length_s="0.1")


# -- normalize -----------------------------------------------------------------------------
def test_normalize_peak_and_energy():
    data = np.array([[0.2, -0.4, 0.1], [0.05, 0.0, 0.0]], np.float32)
    ir = irforge.ImpulseResponse(data, sample_rate=SR, metadata={"sweep": {"f_start_hz": 20}})
    p = ir.normalize(target_db=-6.0)
    assert np.max(np.abs(p.data)) == pytest.approx(10 ** (-6 / 20), rel=1e-6)
    np.testing.assert_allclose(p.data / p.data[0, 1], data / data[0, 1], rtol=1e-6)  # one gain
    e = ir.normalize(mode="energy", target_db=0.0)
    assert np.sum(e.data[0].astype(np.float64) ** 2) == pytest.approx(1.0, rel=1e-6)
    assert e.metadata["sweep"] == {"f_start_hz": 20}
    assert p.metadata["history"][-1]["gain_db"] == pytest.approx(-6 - 20 * np.log10(0.4), abs=1e-4)


def test_normalize_scales_harmonics_and_errors():
    ir = irforge.ImpulseResponse(np.array([0.5, 0.25], np.float32), sample_rate=SR)
    ir.harmonics = {2: irforge.ImpulseResponse(np.array([0.1, 0.0], np.float32), sample_rate=SR)}
    n = ir.normalize()
    assert n.harmonics[2].data[0, 0] == pytest.approx(0.2)
    assert ir.trim(start=False).harmonics is None         # stale after a cut: dropped
    with pytest.raises(irforge.ParameterError, match="mode"):
        ir.normalize(mode="rms")
    with pytest.raises(irforge.ParameterError, match="target_db"):
        ir.normalize(target_db=float("nan"))
    with pytest.raises(irforge.ParameterError, match="silent"):
        irforge.ImpulseResponse(np.zeros(4, np.float32), sample_rate=SR).normalize()


# -- minimum_phase -------------------------------------------------------------------------
def _mag_db(h, n):
    return 20 * np.log10(np.abs(np.fft.rfft(h.astype(np.float64), n)) + 1e-300)


def test_minimum_phase_two_tap():
    out = irforge.ImpulseResponse(np.array([1.0, -2.0]), sample_rate=SR).minimum_phase()
    np.testing.assert_allclose(out.data[0], [2.0, -1.0], atol=1e-5)
    already = irforge.ImpulseResponse(np.array([1.0, 0.5, 0.25]), sample_rate=SR).minimum_phase()
    np.testing.assert_allclose(already.data[0], [1.0, 0.5, 0.25], atol=1e-5)


@pytest.mark.parametrize("source", ["synthetic", "cab_ir/adventurekid_Vintage_US_001.wav"])
def test_minimum_phase_same_magnitude_fastest_energy(source):
    if source == "synthetic":
        rng = np.random.default_rng(5)
        h = rng.standard_normal(4000) * np.exp(-np.arange(4000) / 600)
        h = np.r_[np.zeros(300), h]                       # a delay: far from minimum phase
        ir = irforge.ImpulseResponse(h, sample_rate=SR)
    else:
        ir = irforge.ImpulseResponse.load(data_file(source)).to_mono()
    m = ir.minimum_phase()
    assert m.data.shape == ir.data.shape and m.metadata["history"][-1]["op"] == "minimum_phase"
    n = 8 * ir.n_samples
    a, b = _mag_db(ir.data[0], n), _mag_db(m.data[0], n)
    err = np.abs(a - b)
    assert np.percentile(err[a > a.max() - 60], 99) < 0.01     # same magnitude ...
    assert np.max(err[a > a.max() - 40]) < 0.2                 # ... also in the notches
    lin = np.abs(10 ** (a / 20) - 10 ** (b / 20)) / 10 ** (a.max() / 20)
    assert lin.max() < 1e-3                                    # -60 dB re the peak
    ea = np.cumsum(ir.data[0].astype(np.float64) ** 2)
    eb = np.cumsum(m.data[0].astype(np.float64) ** 2)
    assert np.all(eb >= ea - 1e-5 * ea[-1])                    # fastest energy build-up
    assert np.argmax(np.abs(m.data[0])) < 0.01 * SR
    m2 = m.minimum_phase()                                     # idempotent
    assert np.max(np.abs(m2.data - m.data)) < 1e-4 * np.max(np.abs(m.data))


def test_minimum_phase_errors():
    ir = irforge.ImpulseResponse(np.ones(100, np.float32), sample_rate=SR)
    with pytest.raises(irforge.ParameterError, match="n_fft"):
        ir.minimum_phase(n_fft=100)
    with pytest.raises(irforge.ParameterError, match="n_fft"):
        ir.minimum_phase(n_fft=1000)
    with pytest.raises(TypeError, match="n_fft"):
        ir.minimum_phase(n_fft=256.0)


# -- to_mono, immutability, metadata ---------------------------------------------------------
def test_to_mono():
    ir = irforge.ImpulseResponse(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), sample_rate=SR)
    np.testing.assert_allclose(ir.to_mono().data, [[2 / 3, 2 / 3]])
    np.testing.assert_array_equal(ir.to_mono(channel=1).data, [[0.0, 1.0]])
    np.testing.assert_array_equal(ir.to_mono(channel=-1).data, [[1.0, 1.0]])
    assert ir.to_mono(channel=2).metadata["history"][-1] == {"op": "to_mono", "channels": 2,
                                                             "from_channels": 3}
    mono = ir.to_mono()
    assert mono.to_mono() is mono
    with pytest.raises(irforge.ParameterError, match="channel 3"):
        ir.to_mono(channel=3)
    with pytest.raises(TypeError, match="channel"):
        ir.to_mono(channel=1.0)


def test_real_stereo_cab_to_mono_is_exact():
    ir = irforge.ImpulseResponse.load(data_file("cab_ir/adventurekid_80s_US_001.wav"))
    np.testing.assert_array_equal(ir.to_mono().data[0], ir.data[0])  # identical channels


def test_history_chains_and_metadata_kept():
    meta = {"method": "inverse", "sweep": {"kind": "exponential", "duration_s": 5.0},
            "date": "2025-06-01T12:00:00"}
    h, _ = synthetic_ir(0.4, -60.0, length_s=1.0, sr=44100)
    ir = irforge.ImpulseResponse(h, sample_rate=44100, metadata=meta)
    out = ir.trim().resample(48000).fade_out(length_s=0.01).normalize(target_db=-1).minimum_phase()
    assert [e["op"] for e in out.metadata["history"]] == \
        ["trim", "resample", "fade_out", "normalize", "minimum_phase"]
    for k, v in meta.items():
        assert out.metadata[k] == v
    assert out.metadata["resampled_from"] == 44100
    assert ir.metadata == meta                                  # the source is untouched
    with pytest.raises(ValueError):
        out.data[0, 0] = 1.0                                    # results are read-only too
