"""The irforge Convolver VST3 (plugins/convolver) in its real host, pedalboard.

The plugin is built by ``make plugins`` (make test builds it when DPF is installed). Outside
CI a missing bundle skips these tests with the reason; in CI (CI=true) it fails them, since
.ci/run installs DPF.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pedalboard
import pytest
import soundfile as sf

import irforge
from irforge import plugins

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
if "IRFORGE_PLUGIN_DIR" not in os.environ and (ROOT / "build" / "plugins" / "bin").is_dir():
    os.environ["IRFORGE_PLUGIN_DIR"] = str(ROOT / "build" / "plugins" / "bin")


def _bundle_or_skip() -> Path:
    try:
        return plugins.path("vst3")
    except plugins.PluginNotFoundError as e:
        if os.environ.get("CI"):
            pytest.fail(f"the plugin must be built in CI: {e}")
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def vst3() -> Path:
    return _bundle_or_skip()


def _db(err: np.ndarray, ref: np.ndarray) -> float:
    return float(20 * np.log10(np.max(np.abs(err)) / np.max(np.abs(ref)) + 1e-30))


def _dry(sr: float, seconds: float = 1.5, channels: int = 2) -> np.ndarray:
    x, fs = sf.read(DATA / "dry" / "guitarDI_gulmini_loop.wav", dtype="float32", always_2d=True)
    x = x.T[:1]
    if fs != sr:
        import soxr
        x = soxr.resample(x[0], fs, sr)[None, :].astype(np.float32)
    n = int(seconds * sr)
    x = x[:, :n]
    x = 0.5 * x / np.max(np.abs(x))
    if channels == 2:  # a second, different channel: the signal 0.3 s later
        x = np.vstack([x, np.roll(x, int(0.3 * sr), axis=1) * 0.8])
    return np.ascontiguousarray(x)


def _irs() -> dict[str, irforge.ImpulseResponse]:
    seminar = irforge.ImpulseResponse.load(DATA / "room_ir" / "spatialaudio_rir_clap_seminar_room.wav")
    brir = irforge.ImpulseResponse.load(DATA / "room_ir" / "spatialaudio_brir_sweep_Netzwerkakademie_KEMAR_from_mat.wav")
    hall = irforge.ImpulseResponse.load(DATA / "room_ir" / "openair_SpokaneWomansClub_stereo_44k.wav")
    n = min(brir.n_samples, hall.n_samples)
    true_stereo = irforge.ImpulseResponse(
        np.vstack([brir.data[:, :n], 0.5 * hall.data[:, :n]]), sample_rate=brir.sample_rate)
    cab = irforge.ImpulseResponse.load(DATA / "cab_ir" / "adventurekid_Modern_UK_001.wav")
    return {"mono": seminar, "stereo": brir, "true-stereo": true_stereo, "cab": cab}


@pytest.fixture(scope="module")
def irs():
    return _irs()


@pytest.mark.parametrize("kind", ["mono", "stereo", "true-stereo"])
def test_vst3_in_pedalboard_equals_convolve_on_real_irs(vst3, irs, kind):
    ir = irs[kind]
    sr = ir.sample_rate
    x = _dry(sr)
    ref = irforge.convolve(x, ir, sample_rate=sr, mode="same")
    p = plugins.load_convolver(ir)
    assert isinstance(p, pedalboard.VST3Plugin)
    for bs in (32, 64, 512, 4096):
        y = p.process(x, sr, buffer_size=bs, reset=True)
        assert y.shape == ref.shape
        assert _db(y - ref, ref) < -100, (kind, bs)


def test_varying_block_sizes_stream_equals_one_call(vst3, irs):
    ir = irs["stereo"]
    sr = ir.sample_rate
    x = _dry(sr)
    ref = irforge.convolve(x, ir, sample_rate=sr, mode="same")
    p = plugins.load_convolver(ir)
    rng = np.random.default_rng(5)
    # the first piece is at least buffer_size long: a shorter first call makes pedalboard
    # prepare the plugin again for the longer calls, and preparing a plugin clears it (as a DAW
    # does when it stops)
    cuts = np.sort(rng.choice(np.arange(1024, x.shape[1]), 40, replace=False))
    pieces, start = [], 0
    for k, end in enumerate(list(cuts) + [x.shape[1]]):
        # pieces of any length: pedalboard hands the plugin blocks of up to buffer_size, so
        # the host block size varies from call to call (a new buffer_size re-prepares the
        # plugin, as a DAW does only when stopped)
        pieces.append(p.process(x[:, start:end], sr, buffer_size=1024, reset=(k == 0)))
        start = end
    y = np.concatenate(pieces, axis=1)
    assert _db(y - ref, ref) < -100


def test_to_pedalboard_matches_the_python_effect_with_mix_and_gain(vst3, irs):
    ir = irs["cab"]
    sr = ir.sample_rate
    x = _dry(sr)
    eff = irforge.Convolver(ir, sample_rate=sr, mix=0.35, gain_db=-9.0)
    ref = eff.process(x, sr)
    y = eff.to_pedalboard().process(x, sr)
    assert _db(y - ref, ref) < -100


def test_inside_a_pedalboard_with_gain_compressor_and_reverb(vst3, irs):
    ir = irs["cab"]
    sr = ir.sample_rate
    x = _dry(sr)
    pre = [pedalboard.Gain(gain_db=6.0), pedalboard.Compressor(threshold_db=-20, ratio=4)]
    post = [pedalboard.Reverb(room_size=0.3)]
    board = pedalboard.Pedalboard(pre + [irforge.Convolver(ir, sample_rate=sr).to_pedalboard()] + post)
    y = board(x, sr)
    z = pedalboard.Pedalboard(pre)(x, sr)
    z = irforge.Convolver(ir, sample_rate=sr).process(z, sr)
    ref = pedalboard.Pedalboard(post)(z, sr)
    assert _db(y - ref, ref) < -100


def test_host_rate_differs_from_the_ir_rate(vst3, irs):
    ir = irs["stereo"]                      # 44.1 kHz
    sr = 48000.0
    x = _dry(sr)
    ref = irforge.convolve(x, ir, sample_rate=sr, mode="same")  # soxr VHQ in Python
    p = plugins.load_convolver(ir)
    y = p.process(x, sr)
    assert _db(y - ref, ref) < -100
    # the rate changes again in the same plugin instance
    x2 = _dry(96000.0, seconds=0.5)
    y2 = p.process(x2, 96000.0)
    ref2 = irforge.convolve(x2, ir, sample_rate=96000.0, mode="same")
    assert _db(y2 - ref2, ref2) < -100


def test_raw_state_round_trip_carries_the_ir(vst3, irs):
    ir = irs["mono"]
    sr = ir.sample_rate
    x = _dry(sr)
    a = plugins.load_convolver(ir, mix=0.8, gain_db=-3.0)
    saved = a.raw_state                     # what a DAW stores in its session
    b = pedalboard.load_plugin(str(vst3))
    b.raw_state = saved
    ya, yb = a.process(x, sr), b.process(x, sr)
    assert np.array_equal(ya, yb)
    states, params = plugins.parse_dpf_state(plugins.component_from_raw_state(b.raw_state))
    assert params == {"mix": pytest.approx(0.8), "gain_db": pytest.approx(-3.0)}
    got = plugins.parse_dpf_state(plugins.component_from_raw_state(saved))[0]["ir_embedded"]
    assert states["ir_embedded"] == got


def test_file_state_loads_the_file_and_survives_its_removal(vst3, irs, tmp_path):
    ir = irs["cab"]
    sr = ir.sample_rate
    f = tmp_path / "cab.wav"
    sf.write(f, ir.data.T, int(sr), subtype="FLOAT")
    p = pedalboard.load_plugin(str(vst3))
    p.raw_state = plugins.juce_raw_state(plugins.dpf_state({"ir_file": str(f)}, {}))
    x = _dry(sr)
    ref = irforge.convolve(x, ir, sample_rate=sr, mode="same")
    assert _db(p.process(x, sr) - ref, ref) < -100
    saved = p.raw_state                     # holds the path and the embedded IR
    f.unlink()
    q = pedalboard.load_plugin(str(vst3))
    q.raw_state = saved
    assert _db(q.process(x, sr) - ref, ref) < -100


@pytest.mark.parametrize("content", [None, b"RIFF\x00\x00not a wav at all", b""])
def test_missing_or_corrupt_ir_file_leaves_the_plugin_running_dry(vst3, tmp_path, content, capfd):
    f = tmp_path / "broken.wav"
    if content is not None:
        f.write_bytes(content)
    p = pedalboard.load_plugin(str(vst3))
    p.raw_state = plugins.juce_raw_state(plugins.dpf_state({"ir_file": str(f)}, {}))
    x = _dry(48000.0, seconds=0.3)
    y = p.process(x, 48000.0)
    assert np.array_equal(y, x)              # documented: dry, never a crash
    assert "irforge Convolver" in capfd.readouterr().err
    states, _ = plugins.parse_dpf_state(plugins.component_from_raw_state(p.raw_state))
    assert states["ir_embedded"] == ""


def test_a_b_format_file_is_refused_not_taken_for_true_stereo(vst3, capfd):
    p = pedalboard.load_plugin(str(vst3))
    f = DATA / "room_ir" / "openair_Genesis6StudioLiveRoom_Bformat_96k.wav"
    p.raw_state = plugins.juce_raw_state(plugins.dpf_state({"ir_file": str(f)}, {}))
    x = _dry(48000.0, seconds=0.2)
    assert np.array_equal(p.process(x, 48000.0), x)
    assert "B-format" in capfd.readouterr().err
    # decoded to stereo on the Python side, it is accepted
    ir = irforge.ImpulseResponse.load(f)
    q = irforge.Convolver(ir, sample_rate=48000.0, layout="bformat")
    ref = q.process(x, 48000.0)
    assert _db(q.to_pedalboard().process(x, 48000.0) - ref, ref) < -100


def test_a_corrupt_embedded_ir_is_refused_by_load_convolver(vst3, irs, monkeypatch):
    bad = plugins.encode_ir(irs["cab"])[:-400]                 # truncated data
    monkeypatch.setattr(plugins, "encode_ir", lambda ir, origin="": bad)
    with pytest.raises(irforge.ParameterError, match="did not accept"):
        plugins.load_convolver(irs["cab"])


def test_mono_input_is_refused_by_the_stereo_plugin_and_duplicated_works(vst3, irs):
    ir = irs["stereo"]
    sr = ir.sample_rate
    x = _dry(sr, channels=1)
    p = plugins.load_convolver(ir)
    with pytest.raises(ValueError, match="2 input channels"):
        p.process(x, sr)   # pedalboard names the fix; the plugin has a stereo bus
    y = p.process(np.vstack([x, x]), sr)
    ref = irforge.convolve(x[0], ir, sample_rate=sr, mode="same")   # mono-to-stereo, (2, n)
    assert _db(y - ref, ref) < -100


def test_new_ir_while_running_crossfades_without_a_click(vst3, irs):
    sr = 44100.0
    a, b = irs["cab"], irforge.ImpulseResponse.load(DATA / "cab_ir" / "adventurekid_Radio_001.wav")
    p = plugins.load_convolver(a)
    x = _dry(sr)
    half = x.shape[1] // 2
    y1 = p.process(x[:, :half], sr, buffer_size=256, reset=True)
    p.raw_state = plugins.juce_raw_state(plugins.dpf_state({"ir_embedded": plugins.encode_ir(b)}, {}))
    y2 = p.process(x[:, half:], sr, buffer_size=256, reset=False)
    y = np.concatenate([y1, y2], axis=1)
    ya = irforge.convolve(x, a, sample_rate=sr, mode="same")
    # the new engine starts from the swap (no history before it, as in any convolver that
    # swaps IRs); the old one fades out over 2048 samples
    yb = irforge.convolve(x[:, half:], b, sample_rate=sr, mode="same")
    fade = 2048
    assert _db(y[:, :half] - ya[:, :half], ya) < -100
    assert _db(y[:, half + fade:] - yb[:, fade:], yb) < -100
    # inside the fade the output lies between the two, sample by sample: no click
    seg = slice(half, half + fade)
    old, new = ya[:, seg], yb[:, :fade]
    lo, hi = np.minimum(old, new), np.maximum(old, new)
    assert np.all(y[:, seg] >= lo - 1e-5) and np.all(y[:, seg] <= hi + 1e-5)


def test_the_state_names_the_file_the_ir_came_from(vst3):
    f = DATA / "cab_ir" / "adventurekid_Radio_001.wav"
    p = plugins.load_convolver(f)
    states, _ = plugins.parse_dpf_state(plugins.component_from_raw_state(p.raw_state))
    assert states["ir_file"] == str(f)


def test_a_16_bit_ir_file(vst3, irs, tmp_path):
    ir = irs["stereo"]
    f = tmp_path / "brir16.wav"
    sf.write(f, ir.data.T, int(ir.sample_rate), subtype="PCM_16")
    p = pedalboard.load_plugin(str(vst3))
    p.raw_state = plugins.juce_raw_state(plugins.dpf_state({"ir_file": str(f)}, {}))
    x = _dry(ir.sample_rate)
    ref = irforge.convolve(x, irforge.ImpulseResponse.load(f), sample_rate=ir.sample_rate, mode="same")
    assert _db(p.process(x, ir.sample_rate) - ref, ref) < -100


def test_juce_base64_round_trip():
    rng = np.random.default_rng(0)
    for n in (0, 1, 2, 3, 4, 5, 1000, 1001):
        raw = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert plugins._juce_b64_decode(plugins._juce_b64_encode(raw)) == raw


def test_path_names_the_fix_when_nothing_is_built(monkeypatch, tmp_path):
    monkeypatch.setenv("IRFORGE_PLUGIN_DIR", str(tmp_path))
    monkeypatch.setattr(plugins, "_search_dirs", lambda: [tmp_path])
    with pytest.raises(plugins.PluginNotFoundError, match="make plugins"):
        plugins.path("vst3")
    with pytest.raises(irforge.ParameterError, match="unknown plugin format"):
        plugins.path("clap")


def test_a_chain_with_a_convolver_becomes_a_pedalboard(vst3, irs):
    ir = irs["cab"]
    sr = ir.sample_rate
    x = _dry(sr)
    chain = irforge.Chain([pedalboard.Gain(gain_db=-3.0), irforge.Convolver(ir, sample_rate=sr, mix=0.7),
                           pedalboard.Compressor(threshold_db=-18)])
    ref = chain(x, sr)
    board = chain.to_pedalboard()
    assert isinstance(board, pedalboard.Pedalboard) and isinstance(board[1], pedalboard.VST3Plugin)
    y = board(x, sr)
    assert _db(y - ref, ref) < -100


def test_install_copies_the_bundles_atomically_with_the_umask(vst3, tmp_path):
    old = os.umask(0o027)
    try:
        got = plugins.install(vst3_dir=tmp_path / "vst3", lv2_dir=tmp_path / "lv2")
    finally:
        os.umask(old)
    assert [p.name for p in got] == ["irforge-convolver.vst3", "irforge-convolver.lv2"]
    for p in got:
        src = plugins.path(p.suffix[1:])
        files = sorted(f.relative_to(src) for f in src.rglob("*") if f.is_file())
        assert files == sorted(f.relative_to(p) for f in p.rglob("*") if f.is_file())
        for f in files:
            assert (p / f).read_bytes() == (src / f).read_bytes()
            assert (p / f).stat().st_mode & 0o027 == 0
        assert not [q for q in p.parent.iterdir() if q.name.startswith(".")]   # no litter
    with pytest.raises(FileExistsError, match="overwrite"):
        plugins.install(("vst3",), vst3_dir=tmp_path / "vst3")
    plugins.install(("vst3",), vst3_dir=tmp_path / "vst3", overwrite=True)
    # the installed copy is a working plugin
    p = pedalboard.load_plugin(str(tmp_path / "vst3" / "irforge-convolver.vst3"))
    x = _dry(48000.0, seconds=0.1)
    assert np.array_equal(p.process(x, 48000.0), x)      # no IR yet: dry


def test_cli_plugins_path_and_install(vst3, tmp_path, capsys):
    from irforge.cli import main

    assert main(["plugins", "path", "--format", "lv2"]) == 0
    assert capsys.readouterr().out.strip() == str(plugins.path("lv2"))
    args = ["plugins", "install", "--vst3-dir", str(tmp_path / "v"), "--lv2-dir", str(tmp_path / "l")]
    assert main(args) == 0
    assert "installed" in capsys.readouterr().out
    assert main(args) == 2
    assert "--overwrite" in capsys.readouterr().err
