"""The command line, the demo and every script in examples/."""

import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import irforge
from irforge import cli

ROOT = Path(__file__).resolve().parents[1]


def test_demo_writes_files_and_summary(tmp_path, capsys):
    assert cli.main(["demo", "--out-dir", str(tmp_path)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("irforge demo:") and "real time" in line
    wet, sr = sf.read(tmp_path / "wet.wav")
    dry, _ = sf.read(tmp_path / "dry.wav")
    assert sr == 48000 and wet.shape[1] == 2 and len(wet) > len(dry)  # tail kept
    assert np.isfinite(wet).all() and 0.4 < np.abs(wet).max() <= 0.5 + 1e-6


def test_cli_convolve(tmp_path):
    ir = irforge.ImpulseResponse(np.array([1.0, 0.0, 0.5], np.float32), sample_rate=44100)
    ir.save(tmp_path / "ir.wav")
    sf.write(tmp_path / "in.wav", np.array([0.5, 0.0, 0.0, 0.0], np.float32), 44100, subtype="FLOAT")
    assert cli.main(["convolve", str(tmp_path / "in.wav"), str(tmp_path / "ir.wav"), str(tmp_path / "out.wav")]) == 0
    y, sr = sf.read(tmp_path / "out.wav")
    np.testing.assert_allclose(y, [0.5, 0.0, 0.25, 0.0, 0.0, 0.0], atol=1e-7)
    # refuses to overwrite; error message names the file; exit code 2
    assert cli.main(["convolve", str(tmp_path / "in.wav"), str(tmp_path / "ir.wav"), str(tmp_path / "out.wav")]) == 2
    assert cli.main(["convolve", str(tmp_path / "in.wav"), str(tmp_path / "missing.wav"), str(tmp_path / "o2.wav")]) == 2


def test_console_script_installed():
    r = subprocess.run([str(Path(sys.executable).parent / "irforge"), "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "demo" in r.stdout


@pytest.mark.parametrize("script", sorted((ROOT / "examples").glob("*.py")), ids=lambda p: p.name)
def test_examples_run(script, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(script), str(tmp_path / "out")])
    runpy.run_path(str(script), run_name="__main__")
    assert any((tmp_path / "out").iterdir())


def test_cli_export(tmp_path, capsys):
    ir = irforge.ImpulseResponse(np.random.default_rng(0).uniform(-0.5, 0.5, (2, 3000)).astype(np.float32)
                                 * np.exp(-np.arange(3000) / 300), sample_rate=44100)
    ir.save(tmp_path / "cab.wav")
    assert cli.main(["export", "--list-presets"]) == 0
    assert "cab-loader" in capsys.readouterr().out
    out = tmp_path / "cab_out.wav"
    assert cli.main(["export", str(tmp_path / "cab.wav"), str(out), "--preset", "cab-loader", "--mono"]) == 0
    data, sr = sf.read(out, always_2d=True)
    assert sr == 48000 and data.shape == (2048, 1)
    # stereo IR into a mono preset without --mono: a clear error, exit 2, nothing written
    assert cli.main(["export", str(tmp_path / "cab.wav"), str(tmp_path / "x.wav"), "--preset", "cab-loader"]) == 2
    assert not (tmp_path / "x.wav").exists()
    assert cli.main(["export", str(tmp_path / "cab.wav"), str(tmp_path / "g.wav"), "--set", "bit_depth=16"]) == 0
    assert sf.info(tmp_path / "g.wav").subtype == "PCM_16"
    assert cli.main(["export", str(tmp_path / "cab.wav"), str(tmp_path / "h.wav"), "--preset", "nope"]) == 2
