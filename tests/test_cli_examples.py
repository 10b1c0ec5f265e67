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


def test_cli_sweep_then_measure(tmp_path, capsys):
    """The file workflow: write a playback file, 'record' it through a known system, measure."""
    import scipy.signal as ss

    sw = tmp_path / "sweep.wav"
    assert cli.main(["sweep", str(sw), "--duration", "1.5", "--repeats", "2", "--gap", "1.0"]) == 0
    assert (tmp_path / "sweep.json").exists()
    x, sr = sf.read(sw)
    rng = np.random.default_rng(3)
    h = np.zeros(3000)
    h[0] = 1.0
    h[50:] = 0.3 * rng.standard_normal(2950) * np.exp(-np.arange(2950) / 400)
    h = ss.sosfilt(ss.butter(8, 15000, fs=sr, output="sos"), h)  # inside the swept band
    rec = np.concatenate([np.zeros(777), ss.fftconvolve(x, h)])    # unknown latency
    sf.write(tmp_path / "rec.wav", rec, int(sr), subtype="FLOAT")
    out = tmp_path / "ir.wav"
    assert cli.main(["measure", str(sw), str(tmp_path / "rec.wav"), str(out), "--length", "0.1"]) == 0
    g, _ = sf.read(out)
    k = int(np.argmax(np.abs(g))) - int(np.argmax(np.abs(h)))   # first arrival moved to pre_delay
    est = g[k:k + 3000]
    assert 10 * np.log10(np.sum((est[:len(h)] - h[:len(est)]) ** 2) / np.sum(h ** 2)) < -30
    # refuses to overwrite; a rate mismatch is a clear error
    assert cli.main(["measure", str(sw), str(tmp_path / "rec.wav"), str(out)]) == 2
    sf.write(tmp_path / "rec44.wav", rec, 44100, subtype="FLOAT")
    assert cli.main(["measure", str(sw), str(tmp_path / "rec44.wav"), str(tmp_path / "o.wav")]) == 2
    assert "44100 Hz" in capsys.readouterr().err
    assert cli.main(["sweep", str(sw)]) == 2                        # exists


def test_cli_analyze(tmp_path, capsys):
    import json

    rng = np.random.default_rng(5)
    sr, n = 48000, 48000
    h = rng.standard_normal(n) * 10 ** (-3 * np.arange(n) / (0.6 * sr))   # T60 = 0.6 s, all bands
    irforge.ImpulseResponse(h.astype(np.float32), sample_rate=sr).save(tmp_path / "room.wav")
    js = tmp_path / "room.json"
    assert cli.main(["analyze", str(tmp_path / "room.wav"), "--json", str(js)]) == 0
    out = capsys.readouterr().out
    assert "T30 s" in out and "1000" in out
    d = json.loads(js.read_text())
    t30 = np.array(irforge.analyze(h, sample_rate=sr).t30_s)
    assert np.allclose(t30[0, 2:], 0.6, rtol=0.1)                         # 250 Hz .. 8 kHz
    assert json.dumps(d)  # serialisable
    assert cli.main(["analyze", str(tmp_path / "room.wav"), "--json", str(js)]) == 2   # no overwrite
    assert cli.main(["analyze", str(tmp_path / "missing.wav")]) == 2


def test_cli_deconvolve(tmp_path):
    import scipy.signal as ss

    from irforge.metrics import si_sdr

    rng = np.random.default_rng(8)
    sr = 16000
    dry = ss.lfilter([1], [1, -0.9], rng.standard_normal((2, 3 * sr))) * 0.05
    h = np.zeros(1600)
    h[0] = 1.0
    h[1:] = 0.4 * rng.standard_normal(1599) * np.exp(-np.arange(1599) / 300)
    rec = np.stack([ss.fftconvolve(c, h)[: dry.shape[1]] for c in dry])
    rec += 1e-4 * rng.standard_normal(rec.shape)
    sf.write(tmp_path / "rec.wav", rec.T, sr, subtype="FLOAT")
    irforge.ImpulseResponse(h.astype(np.float32), sample_rate=sr).save(tmp_path / "h.wav")
    out = tmp_path / "dry.wav"
    assert cli.main(["deconvolve", str(tmp_path / "rec.wav"), str(tmp_path / "h.wav"), str(out)]) == 0
    est, _ = sf.read(out, always_2d=True)
    assert est.shape == rec.T.shape
    assert si_sdr(est.T, dry) > si_sdr(rec, dry) + 20
    assert cli.main(["deconvolve", str(tmp_path / "rec.wav"), str(tmp_path / "h.wav"), str(out)]) == 2  # exists
    assert cli.main(["deconvolve", str(tmp_path / "rec.wav"), str(tmp_path / "h.wav"), str(tmp_path / "x.wav"),
                     "--lam", "-1"]) == 2
    assert not (tmp_path / "x.wav").exists()


def test_cli_dereverb(tmp_path):
    import scipy.signal as ss

    rng = np.random.default_rng(9)
    fs = 16000
    t = np.arange(fs) / fs
    x = np.tile(ss.chirp(t, 20, 1, 7000), 4).astype(np.float32)
    hh = np.exp(-t[:2000] * 40) * rng.standard_normal(2000)
    hh[0] = 5
    y = ss.fftconvolve(x, hh)[: len(x)]
    z = ss.fftconvolve(rng.standard_normal(2 * fs), hh)[: 2 * fs]
    for name, sig in (("x", x), ("y", y), ("z", z / np.abs(z).max() * 0.5)):
        sf.write(tmp_path / f"{name}.wav", sig, fs, subtype="FLOAT")
    args = [str(tmp_path / f) for f in ("z.wav", "x.wav", "y.wav", "out.wav")]
    assert cli.main(["dereverb", *args, "--frame-s", "1", "--ir-length-s", "0.2"]) == 0
    out, sr = sf.read(tmp_path / "out.wav")
    assert sr == fs and np.isfinite(out).all() and len(out) > 0
    sf.write(tmp_path / "y44.wav", y, 44100, subtype="FLOAT")
    args[2] = str(tmp_path / "y44.wav")
    args[3] = str(tmp_path / "o2.wav")
    assert cli.main(["dereverb", *args, "--frame-s", "1"]) == 2
    assert not (tmp_path / "o2.wav").exists()
