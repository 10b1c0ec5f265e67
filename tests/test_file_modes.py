"""Files irforge writes get the permissions the umask asks for (0666 & ~umask), like open()."""

import os
import stat

import numpy as np
import pytest
import soundfile as sf

import irforge
from irforge import cli, sweeps
from irforge.audio_io import open_audio_atomic, write_audio_atomic, write_text_atomic

from conftest import data_file


@pytest.fixture(params=[0o022, 0o077, 0o002, 0o000])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def mode(p):
    return stat.S_IMODE(os.stat(p).st_mode)


def test_every_writer_respects_the_umask(umask, tmp_path):
    want = 0o666 & ~umask
    cab = irforge.ImpulseResponse.load(data_file("cab_ir/adventurekid_Modern_UK_001.wav"))
    written = [cab.save(tmp_path / "cab.wav"),
               write_audio_atomic(tmp_path / "a.wav", cab.data, cab.sample_rate, bit_depth=24),
               write_text_atomic(tmp_path / "a.json", "{}")]
    written += cab.to_mono().export(tmp_path / "cab_loader", preset="cab-loader")
    written += cab.export(tmp_path / "ts.wav", preset="reverb-true-stereo", split_true_stereo=True)
    with open_audio_atomic(tmp_path / "s.wav", 44100, 2) as f:
        f.write(cab.data.T)
    written.append(tmp_path / "s.wav")
    sw = sweeps.exponential(50, 16000, 0.2, sample_rate=48000)
    written.append(sweeps.write_playback(tmp_path / "p.wav", sw, gap_s=0.1).path)
    for p in written:
        assert mode(p) == want, (p.name, oct(mode(p)), oct(want))
    # no temporary files left behind
    assert not [p for p in os.listdir(tmp_path) if p.endswith((".tmp", ".bak"))]


def test_replacing_a_file_keeps_its_mode(tmp_path):
    ir = irforge.ImpulseResponse(np.array([1.0, 0.5]), sample_rate=48000)
    p = ir.save(tmp_path / "x.wav")
    os.chmod(p, 0o640)
    ir.save(p, overwrite=True)
    assert mode(p) == 0o640


def test_cli_outputs_respect_the_umask(tmp_path):
    old = os.umask(0o002)
    try:
        x, sr = sf.read(data_file("dry/guitarDI_gulmini_input_001.wav"), dtype="float32")
        sf.write(tmp_path / "di.wav", x[:sr] * 0.05, sr, subtype="FLOAT")
        cab = str(data_file("cab_ir/adventurekid_Modern_UK_001.wav"))
        assert cli.main(["sweep", str(tmp_path / "sw.wav"), "--duration", "0.5", "--gap", "0.2"]) == 0
        assert cli.main(["convolve", str(tmp_path / "di.wav"), cab, str(tmp_path / "wet.wav")]) == 0
        assert cli.main(["deconvolve", str(tmp_path / "wet.wav"), cab, str(tmp_path / "dry.wav"),
                         "--method", "tikhonov", "--lam", "1e-3"]) == 0
        assert cli.main(["demo", "--out-dir", str(tmp_path / "demo")]) == 0
        files = ["sw.wav", "sw.json", "wet.wav", "dry.wav"] + [f"demo/{n}" for n in os.listdir(tmp_path / "demo")]
        for n in files:
            assert mode(tmp_path / n) == 0o664, n
    finally:
        os.umask(old)
