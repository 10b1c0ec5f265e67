"""The command line meets real files: clipping, layouts, missing/empty inputs, parity with the API."""

import inspect
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import irforge
from irforge import cli

from conftest import data_file

CAB = "cab_ir/adventurekid_Modern_UK_001.wav"
DI = "dry/guitarDI_gulmini_input_001.wav"
BF = "room_ir/openair_Genesis6StudioLiveRoom_Bformat_96k.wav"


@pytest.fixture
def di_short(tmp_path):
    """2 s of the real guitar DI, 24-bit, as a file."""
    x, sr = sf.read(data_file(DI), dtype="float32", always_2d=True)
    p = tmp_path / "di.wav"
    sf.write(p, x[:2 * sr], sr, subtype="PCM_24")
    return p


def _err(capsys):
    return capsys.readouterr().err.strip().splitlines()


def test_hot_cab_warns_once_with_the_fix(tmp_path, di_short, capsys):
    out = tmp_path / "wet.wav"
    assert cli.main(["convolve", str(di_short), str(data_file(CAB)), str(out), "--bit-depth", "24"]) == 0
    lines = [ln for ln in _err(capsys) if "warning" in ln]
    assert len(lines) == 1 and lines[0].startswith("irforge convolve: warning: ")
    assert "--normalize" in lines[0] and "dBFS" in lines[0] and "clip" in lines[0]
    y, _ = sf.read(out)
    import re

    n_clipped = int(re.search(r"(\d+) of \d+ samples", lines[0]).group(1))
    assert n_clipped == int(np.count_nonzero(np.abs(y) >= 1 - 2 ** -22)) > 1000
    # the fix named in the warning: no warning, peak at -1 dBFS
    out2 = tmp_path / "wet2.wav"
    assert cli.main(["convolve", str(di_short), str(data_file(CAB)), str(out2), "--bit-depth", "24",
                     "--normalize", "-1"]) == 0
    assert not [ln for ln in _err(capsys) if "warning" in ln]
    y2, _ = sf.read(out2)
    assert 20 * np.log10(np.abs(y2).max()) == pytest.approx(-1.0, abs=0.01)


def test_bformat_needs_layout_on_the_command_line(tmp_path, capsys):
    x = np.zeros(9600, np.float32)
    x[0] = 0.1
    sf.write(tmp_path / "click.wav", x, 96000, subtype="FLOAT")
    args = ["convolve", str(tmp_path / "click.wav"), str(data_file(BF))]
    assert cli.main([*args, str(tmp_path / "a.wav")]) == 2
    [line] = _err(capsys)
    assert "B-format" in line and "--layout bformat" in line and "--channel 0" in line
    assert "layout=" not in line and not (tmp_path / "a.wav").exists()
    assert cli.main([*args, str(tmp_path / "b.wav"), "--layout", "bformat"]) == 0
    assert sf.info(tmp_path / "b.wav").channels == 2
    assert cli.main([*args, str(tmp_path / "c.wav"), "--channel", "0"]) == 0
    assert sf.info(tmp_path / "c.wav").channels == 1
    # export: the same choice
    assert cli.main(["export", str(data_file(BF)), str(tmp_path / "r.wav"), "--preset",
                     "reverb-stereo"]) == 2
    assert "--layout bformat" in _err(capsys)[0]
    assert cli.main(["export", str(data_file(BF)), str(tmp_path / "r.wav"), "--preset",
                     "reverb-stereo", "--layout", "bformat"]) == 0
    assert sf.info(tmp_path / "r.wav").channels == 2


def test_missing_and_empty_inputs(tmp_path, di_short, capsys):
    cab = str(data_file(CAB))
    missing = tmp_path / "nope.wav"
    assert cli.main(["convolve", str(missing), cab, str(tmp_path / "o.wav")]) == 2
    [line] = _err(capsys)
    assert "not found" in line and str(missing) in line
    assert cli.main(["convolve", str(di_short), str(missing), str(tmp_path / "o.wav")]) == 2
    [line] = _err(capsys)
    assert "not found" in line and str(missing) in line
    sf.write(tmp_path / "empty.wav", np.zeros((0, 1), np.float32), 44100, subtype="PCM_24")
    for verb in (["convolve", str(tmp_path / "empty.wav"), cab, str(tmp_path / "o.wav")],
                 ["deconvolve", str(tmp_path / "empty.wav"), cab, str(tmp_path / "o.wav"), "--mono"]):
        assert cli.main(verb) == 2
        [line] = _err(capsys)
        assert "no samples" in line and "empty.wav" in line
        assert not (tmp_path / "o.wav").exists()
    # a silent IR file is refused, not a silent output
    sf.write(tmp_path / "silent.wav", np.zeros(512, np.float32), 44100, subtype="FLOAT")
    assert cli.main(["convolve", str(di_short), str(tmp_path / "silent.wav"), str(tmp_path / "o.wav")]) == 2
    assert "silent" in _err(capsys)[0]


def test_overwrite_is_named_as_the_option(tmp_path, di_short, capsys):
    out = tmp_path / "o.wav"
    args = ["convolve", str(di_short), str(data_file(CAB)), str(out), "--normalize", "-1"]
    assert cli.main(args) == 0
    capsys.readouterr()
    assert cli.main(args) == 2
    [line] = _err(capsys)
    assert "--overwrite" in line and "overwrite=True" not in line


def test_deconvolve_mono_di_with_stereo_cab(tmp_path, capsys):
    from irforge.metrics import si_sdr

    x, sr = sf.read(data_file(DI), dtype="float32")
    dry = x[:3 * sr] * 0.05
    cab = irforge.ImpulseResponse.load(data_file(CAB))
    rec = irforge.convolve(dry, cab.to_mono(), sample_rate=sr)[:dry.size]
    sf.write(tmp_path / "rec.wav", rec, sr, subtype="FLOAT")
    args = ["deconvolve", str(tmp_path / "rec.wav"), str(data_file(CAB))]
    assert cli.main([*args, str(tmp_path / "a.wav")]) == 2      # 2-channel IR, mono recording
    [line] = _err(capsys)
    assert "--mono" in line and "--channel" in line
    assert cli.main([*args, str(tmp_path / "b.wav"), "--mono"]) == 0
    est, _ = sf.read(tmp_path / "b.wav")
    # the same as the API given the averaged IR, and better than the recording itself
    cab.to_mono().save(tmp_path / "mono_cab.wav")
    ref = irforge.deconvolve_file(tmp_path / "rec.wav", tmp_path / "mono_cab.wav", tmp_path / "ref.wav")
    np.testing.assert_array_equal(est, sf.read(ref)[0])
    assert si_sdr(est, dry) > si_sdr(rec, dry) + 10
    assert cli.main([*args, str(tmp_path / "c.wav"), "--channel", "1"]) == 0


def test_help_shows_defaults_and_methods():
    p = cli._parser()
    sub = next(a for a in p._actions if a.dest == "verb")
    for name, sp in sub.choices.items():
        text = sp.format_help()
        if name != "demo":
            assert "(default:" in text, name
    measure = sub.choices["measure"].format_help()
    for m in irforge.measure.METHODS:
        assert m in measure
    sweep = sub.choices["sweep"].format_help()
    assert "complex" in sweep and "mls" in sweep
    dr = sub.choices["dereverb"].format_help()
    api_default = inspect.signature(irforge.dereverb).parameters["mode"].default
    assert f"'{api_default}'" in dr
    r = subprocess.run([str(Path(sys.executable).parent / "irforge"), "convolve", "--help"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "(default: auto)" in r.stdout and "(default: 32)" in r.stdout


def test_dereverb_default_mode_is_the_apis(tmp_path, monkeypatch):
    seen = {}

    def fake(z, **kw):
        seen.update(kw)
        raise irforge.ParameterError("stop here")

    fake.__signature__ = inspect.signature(irforge.dereverb)   # the real defaults
    monkeypatch.setattr("irforge.dereverberation.dereverb", fake)
    x = np.random.default_rng(0).standard_normal(1000).astype(np.float32) * 0.1
    for n in ("z", "x", "y"):
        sf.write(tmp_path / f"{n}.wav", x, 16000, subtype="FLOAT")
    files = [str(tmp_path / f"{n}.wav") for n in ("z", "x", "y")] + [str(tmp_path / "o.wav")]
    assert cli.main(["dereverb", *files]) == 2
    assert seen["mode"] == inspect.signature(irforge.dereverb).parameters["mode"].default


def test_measure_errors_and_warnings_are_one_line(tmp_path, monkeypatch, capsys):
    x = np.random.default_rng(1).standard_normal(4800).astype(np.float32) * 0.1
    sf.write(tmp_path / "x.wav", x, 48000, subtype="FLOAT")
    sf.write(tmp_path / "y.wav", x, 48000, subtype="FLOAT")
    args = ["measure", str(tmp_path / "x.wav"), str(tmp_path / "y.wav"), str(tmp_path / "ir.wav")]

    def warns_then_raises(*a, **kw):
        warnings.warn("the timing marker was not found:\n  falling back to the sweep's correlation",
                      UserWarning)
        raise RuntimeError("clock drift of 20 ppm\ncannot be corrected")

    monkeypatch.setattr("irforge.measure.measure_ir", warns_then_raises)
    assert cli.main(args) == 1
    err = _err(capsys)
    assert err == ["irforge measure: warning: the timing marker was not found: falling back to the "
                   "sweep's correlation",
                   "irforge measure: error: RuntimeError: clock drift of 20 ppm cannot be corrected"]

    def refuses(*a, **kw):
        raise irforge.ParameterError("method='h1' needs a longer excitation")

    monkeypatch.setattr("irforge.measure.measure_ir", refuses)
    assert cli.main([*args, "--method", "h1"]) == 2
    assert len(_err(capsys)) == 1 and not (tmp_path / "ir.wav").exists()


def _cab_48k():
    cab = irforge.ImpulseResponse.load(data_file(CAB)).to_mono(channel=0).resample(48000)
    return cab.data[0].astype(np.float64)


def _aligned_error_db(g, h):
    """Error of the measured IR g against h after aligning them by cross-correlation."""
    import scipy.signal as ss

    c = ss.correlate(g, h, mode="full")
    lag = int(np.argmax(np.abs(c))) - (len(h) - 1)
    seg = np.zeros_like(h)
    src = g[max(lag, 0):max(lag, 0) + len(h)]
    seg[max(-lag, 0):max(-lag, 0) + len(src)] = src[:len(h) - max(-lag, 0)]
    return 10 * np.log10(np.sum((seg - h) ** 2) / np.sum(h ** 2))


def test_sweep_mls_and_complex_then_measure(tmp_path, capsys):
    import scipy.signal as ss

    h = _cab_48k()

    def record(path, latency):
        x, sr = sf.read(path)
        y = np.concatenate([np.zeros(latency), ss.fftconvolve(x, h)])
        out = path.with_name("rec_" + path.name)
        sf.write(out, y, sr, subtype="FLOAT")
        return out

    mls = tmp_path / "mls.wav"
    assert cli.main(["sweep", str(mls), "--kind", "mls", "--order", "14", "--periods", "3", "--gap", "0.5"]) == 0
    assert cli.main(["measure", str(mls), str(record(mls, 333)), str(tmp_path / "ir_mls.wav"),
                     "--length", "0.2", "--method", "mls"]) == 0
    g, _ = sf.read(tmp_path / "ir_mls.wav")
    assert _aligned_error_db(g, h) < -60
    cx = tmp_path / "cx.wav"
    assert cli.main(["sweep", str(cx), "--kind", "complex", "--duration", "1", "--gap", "0.5"]) == 0
    cos, sin = tmp_path / "cx_cos.wav", tmp_path / "cx_sin.wav"
    assert cos.exists() and sin.exists() and (tmp_path / "cx_cos.json").exists()
    out = tmp_path / "ir_cx.wav"
    assert cli.main(["measure", str(cos), str(record(cos, 333)), str(out), "--length", "0.2"]) == 2
    assert "--recording-sine" in _err(capsys)[-1]
    assert cli.main(["measure", str(cos), str(record(cos, 333)), str(out), "--length", "0.2",
                     "--recording-sine", str(record(sin, 333))]) == 0
    g, _ = sf.read(out)
    assert _aligned_error_db(g, h) < -60
