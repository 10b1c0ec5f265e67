"""4-channel IRs: true stereo or first-order ambisonic B-format (layout=, detection, decode)."""

import math
import struct

import numpy as np
import pytest
import scipy.signal as ss
import soundfile as sf

import irforge
from irforge import _layout
from irforge.export import prepare

from conftest import data_file

BFORMAT = ["room_ir/openair_JackLyonsHall_Bformat_96k.wav",
           "room_ir/openair_Genesis6StudioLiveRoom_Bformat_96k.wav"]


def _read(rel):
    d, sr = sf.read(data_file(rel), dtype="float32", always_2d=True)
    return np.ascontiguousarray(d.T), sr


def _bformat(rel, seconds=0.6):
    h, sr = _read(rel)
    return h[:, :int(seconds * sr)], sr


def _true_stereo_sets():
    """True-stereo sets built from real stereo IRs (room, binaural, museum, cabinets)."""
    sp, fs1 = _read("room_ir/openair_SpokaneWomansClub_stereo_44k.wav")
    br, fs2 = _read("room_ir/spatialaudio_brir_sweep_Netzwerkakademie_KEMAR_from_mat.wav")
    un, fs3 = _read("room_ir/freesound_peter1955_basement_museum_Unterlinden_clap_48k.wav")
    n = min(sp.shape[1], br.shape[1])
    yield "spokane mirrored", np.stack([sp[0], sp[1], sp[1], sp[0]]), fs1
    yield "spokane L + kemar R", np.stack([sp[0, :n], sp[1, :n], br[0, :n], br[1, :n]]), fs1
    yield "kemar mirrored", np.stack([br[0], br[1], br[1], br[0]]), fs2
    yield "kemar, R speaker 30 samples later", np.stack([br[0], br[1], np.roll(br[1], 30),
                                                        np.roll(br[0], 30)]), fs2
    yield "museum mirrored", np.stack([un[0], un[1], un[1], un[0]]), fs3
    yield "museum, R speaker 2 ms later", np.stack([un[0], un[1], np.roll(un[1], 96),
                                                   np.roll(un[0], 96)]), fs3


@pytest.mark.parametrize("rel", BFORMAT)
def test_signature_detects_real_bformat(rel):
    h, sr = _bformat(rel)
    score = _layout.bformat_signature(h, sr)
    assert score.max() > _layout.SIGNATURE_THRESHOLD
    # a plain array carries no file name: the signal alone is the evidence, and it refuses
    with pytest.raises(irforge.ParameterError, match="B-format.*its signal.*layout='bformat'"):
        irforge.convolve(np.ones(100, np.float32), h, sample_rate=sr)


def test_signature_quiet_on_true_stereo_from_real_irs():
    for name, h, sr in _true_stereo_sets():
        score = _layout.bformat_signature(h, sr)
        assert score.max() < 0.5 * _layout.SIGNATURE_THRESHOLD, (name, score)
        y = irforge.convolve(np.ones(64, np.float32), h, sample_rate=sr, mode="same")
        assert y.shape == (2, 64), name


def test_signature_quiet_on_independent_noise_tails():
    rng = np.random.default_rng(11)
    n = 48000
    env = np.exp(-6.9 * np.arange(n) / (0.8 * n))
    for _ in range(5):
        h = (rng.standard_normal((4, n)) * env).astype(np.float32)
        assert _layout.bformat_signature(h, 48000).max() < _layout.SIGNATURE_THRESHOLD


@pytest.mark.parametrize("rel", BFORMAT)
def test_loaded_bformat_file_needs_a_layout(rel):
    ir = irforge.ImpulseResponse.load(data_file(rel))
    assert ir.metadata["layout_hint"]["layout"] == "bformat"
    x, _ = _read("dry/speech_spatialaudio_xmas_male_voice.wav")
    x = x[0, :8000]
    with pytest.raises(irforge.ParameterError, match="file name.*layout='true-stereo'"):
        irforge.convolve(x, ir, sample_rate=ir.sample_rate)
    with pytest.raises(irforge.ParameterError, match="B-format"):
        irforge.Convolver(ir, sample_rate=ir.sample_rate)
    # explicit choices work, each as documented
    ts = irforge.convolve(x, ir, sample_rate=ir.sample_rate, layout="true-stereo")
    h = ir.data.astype(np.float64)
    ref = np.stack([ss.fftconvolve(x, h[0]) + ss.fftconvolve(x, h[2]),
                    ss.fftconvolve(x, h[1]) + ss.fftconvolve(x, h[3])])
    assert np.max(np.abs(ts - ref)) <= 1e-4 * np.max(np.abs(ref))
    st = irforge.convolve(x, ir, sample_rate=ir.sample_rate, layout="bformat")
    w, X, Y = math.sqrt(2) * h[0], h[1], h[2]
    c = math.cos(math.radians(45))
    left, right = 0.5 * (w + c * X + c * Y), 0.5 * (w + c * X - c * Y)
    ref = np.stack([ss.fftconvolve(x, left), ss.fftconvolve(x, right)])
    assert st.shape == ref.shape
    assert np.max(np.abs(st - ref)) <= 1e-4 * np.max(np.abs(ref))
    fx = irforge.Convolver(ir, sample_rate=ir.sample_rate, layout="bformat")
    assert fx.layout == "bformat"
    np.testing.assert_allclose(fx.process(x, ir.sample_rate, buffer_size=512), st[:, :x.size],
                               atol=1e-4 * np.max(np.abs(st)))


def test_ambix_order_decodes_like_fuma():
    h, sr = _bformat(BFORMAT[0], 0.3)
    ambix = np.stack([h[0] * math.sqrt(2), h[2], h[3], h[1]])   # ACN W, Y, Z, X with SN3D W
    np.testing.assert_allclose(_layout.decode_stereo(ambix, "ambix"),
                               _layout.decode_stereo(h, "bformat"), atol=1e-6)
    # virtual cardioids: a plane wave from the left (FuMa W = 1/sqrt2, Y = 1) gives L 1, R 0
    wave = np.array([[1 / math.sqrt(2)], [0.0], [1.0], [0.0]])
    left, right = _layout.decode_stereo(wave, "bformat")[:, 0]
    assert left == pytest.approx(0.5 * (1 + math.sin(math.radians(45))), abs=1e-6)
    assert right == pytest.approx(0.5 * (1 - math.sin(math.radians(45))), abs=1e-6)


def test_layout_choice_is_checked():
    h = np.zeros((2, 100), np.float32)
    h[:, 0] = 1
    with pytest.raises(irforge.ParameterError, match="4-channel"):
        irforge.convolve(np.ones(10, np.float32), h, layout="bformat")
    with pytest.raises(irforge.ParameterError, match="layout must be one of"):
        irforge.convolve(np.ones(10, np.float32), h, layout="quad")
    with pytest.raises(irforge.ParameterError, match="layout must be one of"):
        irforge.Convolver(h, sample_rate=48000, layout="stereo")


def _amb_header(path, data, sr):
    """Write a float WAVE_FORMAT_EXTENSIBLE file and set its sub-format to AMB B-format."""
    sf.write(path, data.T, sr, subtype="FLOAT", format="WAV")   # plain fmt chunk first
    raw = bytearray(open(path, "rb").read())
    i = raw.index(b"fmt ")
    size = struct.unpack("<I", raw[i + 4:i + 8])[0]
    ch = data.shape[0]
    fmt = struct.pack("<HHIIHHHHI", 0xFFFE, ch, sr, sr * 4 * ch, 4 * ch, 32, 22, 32, 0)
    fmt += bytes.fromhex("030000002107d3118644c8c1ca000000")   # KSDATAFORMAT_SUBTYPE_AMBISONIC_B_FORMAT_IEEE_FLOAT
    new = raw[:i] + b"fmt " + struct.pack("<I", len(fmt)) + fmt + raw[i + 8 + size:]
    new[4:8] = struct.pack("<I", len(new) - 8)
    open(path, "wb").write(bytes(new))


def test_header_and_extension_detection(tmp_path):
    h, sr = _bformat(BFORMAT[1], 0.3)
    p = tmp_path / "room.wav"
    _amb_header(p, h, sr)
    assert _layout.header_layout(p)[0] == "bformat" and "header" in _layout.header_layout(p)[1]
    ir = irforge.ImpulseResponse.load(p)
    np.testing.assert_array_equal(ir.data, h)
    assert ir.metadata["layout_hint"]["layout"] == "bformat"
    (tmp_path / "hall.amb").write_bytes(p.read_bytes())
    assert _layout.header_layout(tmp_path / "hall.amb")[0] == "bformat"
    # a plain 4-channel file with a neutral name carries no hint (the signal decides)
    sf.write(tmp_path / "room4.wav", h.T, sr, subtype="FLOAT")
    assert _layout.header_layout(tmp_path / "room4.wav") is None
    assert "layout_hint" not in irforge.ImpulseResponse.load(tmp_path / "room4.wav").metadata
    assert _layout.header_layout(tmp_path / "hall_ambiX.wav") == ("ambix", "its file name ('hall_ambiX.wav')")


def test_export_presets_and_layout(tmp_path):
    ir = irforge.ImpulseResponse.load(data_file(BFORMAT[1]))
    with pytest.raises(irforge.ParameterError, match="B-format"):
        ir.export(tmp_path / "ts.wav", preset="reverb-true-stereo")
    with pytest.raises(irforge.ParameterError, match="layout='bformat'"):
        ir.export(tmp_path / "st.wav", preset="reverb-stereo")
    assert not any(tmp_path.iterdir())
    st = prepare(ir, preset="reverb-stereo", layout="bformat")
    assert st.n_channels == 2 and st.sample_rate == 48000
    assert st.metadata["history"][0]["op"] == "decode"
    ts = prepare(ir, preset="reverb-true-stereo", layout="bformat")
    assert ts.n_channels == 4 and not np.any(ts.data[1]) and not np.any(ts.data[2])
    np.testing.assert_array_equal(ts.data[[0, 3]], st.data)
    [p] = ir.export(tmp_path / "pb.wav", preset="pedalboard", layout="bformat")
    assert sf.info(p).channels == 2
    # generic writes the channels unchanged: a B-format file stays a B-format file
    [g] = ir.export(tmp_path / "g.wav")
    np.testing.assert_array_equal(irforge.ImpulseResponse.load(g).data, ir.data)
    # true stereo on request
    assert prepare(ir, preset="reverb-true-stereo", layout="true-stereo").n_channels == 4
