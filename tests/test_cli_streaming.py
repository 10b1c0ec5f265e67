"""`irforge convolve` of long files streams block by block (bounded memory) and writes what the
offline path writes, within float rounding."""
import numpy as np
import pytest
import soundfile as sf

from irforge import cli
from conftest import data_file


@pytest.fixture
def files(tmp_path):
    di, sr = sf.read(data_file("dry/guitarDI_gulmini_input_001.wav"), dtype="float32", always_2d=True)
    di = di[: 5 * sr]
    src = tmp_path / "di.wav"
    sf.write(src, di, sr, subtype="PCM_24")
    return src, data_file("cab_ir/adventurekid_Modern_UK_001.wav"), tmp_path


@pytest.mark.parametrize("extra", [["--mode", "full", "--bit-depth", "32"], ["--mode", "same", "--bit-depth", "32"],
                                   ["--normalize", "-1", "--bit-depth", "24"]])
def test_streamed_equals_offline(files, monkeypatch, extra, capsys):
    src, cab, d = files
    assert cli.main(["convolve", str(src), str(cab), str(d / "offline.wav"), *extra]) == 0
    monkeypatch.setattr(cli, "STREAM_SAMPLES", 1000)
    monkeypatch.setattr(cli, "_STREAM_BLOCK", 4096)
    assert cli.main(["convolve", str(src), str(cab), str(d / "streamed.wav"), *extra]) == 0
    assert "(streamed)" in capsys.readouterr().out
    a, sra = sf.read(d / "offline.wav", dtype="float32", always_2d=True)
    b, srb = sf.read(d / "streamed.wav", dtype="float32", always_2d=True)
    assert sra == srb and a.shape == b.shape
    tol = 2.0 ** -22 if "24" in extra else 1e-5
    assert np.max(np.abs(a - b)) <= max(tol * 2, 1e-5 * np.max(np.abs(a))), np.max(np.abs(a - b))


def test_streamed_hot_cab_warns_with_the_fix(files, monkeypatch, capsys):
    src, cab, d = files
    monkeypatch.setattr(cli, "STREAM_SAMPLES", 1000)
    assert cli.main(["convolve", str(src), str(cab), str(d / "hot.wav"), "--bit-depth", "24"]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "--normalize -1" in err and "dBFS" in err
