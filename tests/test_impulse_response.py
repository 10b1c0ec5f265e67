"""ImpulseResponse: construction, files (WAV/AIFF/FLAC, 16/24-bit, float), resampling."""

import numpy as np
import pytest

import irforge
from conftest import data_file, decaying_noise_ir


def test_construction_and_views():
    ir = irforge.ImpulseResponse(np.arange(6, dtype=np.float64).reshape(2, 3) / 10, sample_rate=44100)
    assert ir.data.dtype == np.float32 and ir.data.shape == (2, 3)
    assert ir.n_channels == 2 and ir.n_samples == 3 and len(ir) == 3
    assert ir.duration_s == pytest.approx(3 / 44100)
    with pytest.raises(ValueError):
        ir.data[0, 0] = 1.0  # read-only
    assert "channels=2" in repr(ir)


@pytest.mark.parametrize("ext,bits,tol", [
    (".wav", 32, 0), (".wav", 24, 2**-22), (".wav", 16, 2**-14),
    (".aiff", 24, 2**-22), (".aif", 16, 2**-14), (".flac", 24, 2**-22), (".flac", 16, 2**-14),
])
@pytest.mark.parametrize("channels", [1, 2, 4])
def test_save_load_round_trip(tmp_path, ext, bits, tol, channels):
    h = 0.9 * decaying_noise_ir(1000, channels=channels) / 0.5
    h = np.clip(h, -0.99, 0.99)
    ir = irforge.ImpulseResponse(h, sample_rate=48000)
    path = ir.save(tmp_path / f"ir{ext}", bit_depth=bits)
    back = irforge.ImpulseResponse.load(path)
    assert back.sample_rate == 48000 and back.data.shape == (channels, 1000)
    assert np.max(np.abs(back.data - ir.data)) <= tol


def test_save_is_atomic_and_never_overwrites(tmp_path):
    ir = irforge.ImpulseResponse(np.ones(10, np.float32) * 0.5, sample_rate=48000)
    p = tmp_path / "a.wav"
    ir.save(p)
    before = p.read_bytes()
    with pytest.raises(FileExistsError):
        irforge.ImpulseResponse(np.ones(20, np.float32) * 0.1, sample_rate=48000).save(p)
    assert p.read_bytes() == before
    irforge.ImpulseResponse(np.ones(20, np.float32) * 0.1, sample_rate=48000).save(p, overwrite=True)
    assert irforge.ImpulseResponse.load(p).n_samples == 20
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.wav"]  # no temp files left
    with pytest.raises(irforge.ParameterError, match="extension"):
        ir.save(tmp_path / "a.mp3")
    with pytest.raises(irforge.ParameterError, match="FLAC"):
        ir.save(tmp_path / "a.flac", bit_depth=32)
    with pytest.raises(irforge.ParameterError, match="bit_depth"):
        ir.save(tmp_path / "b.wav", bit_depth=12)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.wav"]


def test_resample_keeps_gain_and_shape():
    t = np.arange(4410) / 44100
    h = (np.sinc(5000 * (t - 0.005)) * np.exp(-t / 0.01)).astype(np.float32)
    ir = irforge.ImpulseResponse(h, sample_rate=44100)
    r = ir.resample(48000)
    assert r.sample_rate == 48000 and abs(r.n_samples - 4800) <= 1
    # the DC gain (sum of an IR) is independent of the rate
    assert r.data.sum() == pytest.approx(h.sum(), rel=1e-3)
    assert ir.resample(44100) is ir


def test_load_real_files():
    ir = irforge.ImpulseResponse.load(data_file("room_ir/openair_JackLyonsHall_Bformat_96k.wav"))
    assert ir.n_channels == 4 and ir.sample_rate == 96000
    cab = irforge.ImpulseResponse.load(data_file("cab_ir/adventurekid_80s_US_001.wav"))
    assert cab.n_channels == 2 and cab.sample_rate == 44100


def test_integral_sample_rate_is_an_int():
    ir = irforge.ImpulseResponse(np.ones(4), sample_rate=48000.0)
    assert type(ir.sample_rate) is int and ir.sample_rate == 48000
    assert np.zeros(ir.sample_rate).shape == (48000,)
    assert type(irforge.ImpulseResponse(np.ones(4), sample_rate=np.float32(44100)).sample_rate) is int
    odd = irforge.ImpulseResponse(np.ones(4), sample_rate=44099.5)
    assert type(odd.sample_rate) is float and odd.sample_rate == 44099.5
    assert type(ir.resample(44100.0).sample_rate) is int
    assert type(ir.trim(end=False).sample_rate) is int


def test_loaded_real_ir_rate_is_int_and_works_everywhere(tmp_path):
    from conftest import data_file

    ir = irforge.ImpulseResponse.load(data_file("room_ir/spatialaudio_rir_clap_seminar_room.wav"))
    assert type(ir.sample_rate) is int and ir.sample_rate == 44100
    report = irforge.analyze(ir)
    assert np.isfinite(report.broadband.edt_s).all()
    y = irforge.convolve(np.zeros(ir.sample_rate, np.float32), ir, sample_rate=44100.0)
    assert y.shape[-1] == ir.sample_rate + ir.n_samples - 1
    [p] = ir.export(tmp_path / "r.wav", preset="reverb-stereo")
    assert irforge.ImpulseResponse.load(p).sample_rate == 48000


def test_fixed_point_save_of_a_hot_ir_warns(tmp_path):
    import warnings

    ir = irforge.ImpulseResponse(np.array([2.0, -1.5, 0.5, 0.25]), sample_rate=48000)
    with pytest.warns(irforge.ClippingWarning, match=r"2 of 4 samples.*normali"):
        ir.save(tmp_path / "hot.wav", bit_depth=24)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ir.save(tmp_path / "hot32.wav", bit_depth=32)     # float keeps them
        ir.normalize(target_db=-1).save(tmp_path / "ok.wav", bit_depth=16)
