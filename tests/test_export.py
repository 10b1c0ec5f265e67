"""Export presets: every preset loaded and written; files read back by two real consumers,
pedalboard.Convolution and ffmpeg's afir, both matching irforge.convolve after one gain."""

import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

import irforge
from irforge import demo
from irforge import export as ex
from conftest import data_file

SR = 48000
LIMIT_DB = -60.0
PRESETS = ["cab-loader", "generic", "pedalboard", "reverb-stereo", "reverb-true-stereo"]


def err_db(y, ref):
    """20 log10(||y - g ref|| / ||g ref||) with the least-squares gain g; and g."""
    y, ref = np.asarray(y, np.float64), np.asarray(ref, np.float64)
    g = float(np.sum(y * ref) / np.sum(ref * ref))
    return 20 * np.log10(np.linalg.norm(y - g * ref) / np.linalg.norm(g * ref)), g


def afir(tmp_path, audio, ir_path, graph="[0:a][1:a]afir=gtype=none[out]"):
    """Run ffmpeg's afir (auto gain off) on float32 audio (channels, samples)."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed (apt-get install ffmpeg)")
    src, dst = tmp_path / "afir_in.wav", tmp_path / "afir_out.wav"
    sf.write(src, audio.T, SR, subtype="FLOAT")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), "-i", str(ir_path),
                    "-filter_complex", graph, "-map", "[out]", "-c:a", "pcm_f32le", str(dst)],
                   check=True, capture_output=True)
    y, _ = sf.read(dst, always_2d=True, dtype="float32")
    return y.T[:, :audio.shape[1]]


def pedalboard_run(ir_path, audio):
    pedalboard = pytest.importorskip("pedalboard")
    return pedalboard.Convolution(str(ir_path))(audio, SR)


def dry_audio(seconds, channels, tail):
    """Real speech/guitar at 48 kHz (synthetic guitar when ../shared/data is absent) + silence."""
    import soxr
    try:
        paths = [data_file("dry/guitarDI_gulmini_input_001.wav"),
                 data_file("dry/speech_spatialaudio_xmas_male_voice.wav")]
        sigs = []
        for p in paths[:channels]:
            x, sr = sf.read(p, dtype="float32", always_2d=True)
            sigs.append(soxr.resample(x[:int(seconds * sr), 0], sr, SR)[:int(seconds * SR)])
        n = min(len(s) for s in sigs)
        x = np.stack([s[:n] for s in sigs])
    except pytest.skip.Exception:
        g = demo.guitar_part(sample_rate=SR, duration_s=seconds)
        x = np.stack([g, np.roll(g, 1234)][:channels])
    return np.concatenate([x, np.zeros((channels, tail), np.float32)], axis=1).astype(np.float32)


# -- presets ---------------------------------------------------------------------------------
def test_list_presets_and_lazy_exports():
    assert ex.list_presets() == PRESETS
    assert irforge.presets() == PRESETS
    assert irforge.export is ex


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_loads_and_writes(name, tmp_path):
    s = ex.load_preset(name)
    assert s["name"] == name and s["description"]
    ir = demo.room_ir() if s["channels"] in (2, 4) else demo.cabinet_ir()
    [p] = ir.export(tmp_path / "ir", preset=name)
    info = sf.info(p)
    assert p.suffix == ".wav" and info.format == "WAV"
    assert info.subtype == {16: "PCM_16", 24: "PCM_24", 32: "FLOAT"}[s["bit_depth"]]
    if s["sample_rate"] != "native":
        assert info.samplerate == s["sample_rate"]
    if s["channels"] != "native":
        assert info.channels == s["channels"]
    if s["length_samples"]:
        assert info.frames == s["length_samples"]
    back = irforge.ImpulseResponse.load(p)
    assert np.isfinite(back.data).all() and np.max(np.abs(back.data)) <= 1.0
    assert sorted(x.name for x in tmp_path.iterdir()) == ["ir.wav"]   # no temp files


def test_preset_values():
    cab = ex.load_preset("cab-loader")
    assert (cab["sample_rate"], cab["bit_depth"], cab["channels"], cab["length_samples"],
            cab["trim"], cab["fade_out_s"] > 0) == (48000, 24, 1, 2048, True, True)
    for name, ch in (("reverb-stereo", 2), ("reverb-true-stereo", 4)):
        s = ex.load_preset(name)
        assert (s["sample_rate"], s["bit_depth"], s["channels"]) == (48000, 24, ch)
    pb = ex.load_preset("pedalboard")
    assert pb["formats"] == ["wav"] and pb["bit_depths"] == [32] and pb["max_channels"] == 2
    gen = ex.load_preset("generic")
    assert (gen["bit_depth"], gen["sample_rate"], gen["channels"], gen["trim"]) == \
        (32, "native", "native", False)


def test_generic_is_lossless(tmp_path):
    ir = irforge.ImpulseResponse(np.random.default_rng(0).standard_normal((3, 500)) * 3,
                                 sample_rate=22050, metadata={"method": "h1"})
    [p] = ir.export(tmp_path / "x.wav")
    back = irforge.ImpulseResponse.load(p)
    assert back.sample_rate == 22050
    np.testing.assert_array_equal(back.data, ir.data)       # float32, peak 3 kept: no clipping


def test_cab_loader_pipeline_and_metadata():
    cab = demo.cabinet_ir(sample_rate=44100)
    cab.metadata.update(method="inverse", sweep={"f_start_hz": 20.0}, date="2025-06-01")
    out = ex.prepare(cab, preset="cab-loader")
    assert out.sample_rate == SR and out.data.shape == (1, 2048)
    assert np.max(np.abs(out.data)) == pytest.approx(10 ** (-1 / 20), rel=1e-5)
    assert out.data[0, -1] == 0.0                                      # faded to zero
    ops = [h["op"] for h in out.metadata["history"]]
    assert ops == ["trim", "resample", "cut", "fade_out", "normalize", "export"]
    assert out.metadata["method"] == "inverse" and out.metadata["date"] == "2025-06-01"
    short = ex.prepare(irforge.ImpulseResponse(np.r_[1.0, 0.5, 0.25, np.zeros(5)], sample_rate=SR),
                       preset="cab-loader")
    assert short.n_samples == 2048 and "pad" in [h["op"] for h in short.metadata["history"]]


# -- channel rules ---------------------------------------------------------------------------
def test_channel_rules():
    h = np.array([1.0, 0.5, 0.0, 0.0], np.float32)
    mono = irforge.ImpulseResponse(h, sample_rate=SR)
    st = irforge.ImpulseResponse(np.stack([h, 0.5 * h]), sample_rate=SR)
    kw = dict(trim=False, fade_out_s=0.0, normalize="none")
    np.testing.assert_array_equal(ex.prepare(mono, preset="reverb-stereo", **kw).data, [h, h])
    np.testing.assert_array_equal(ex.prepare(mono, preset="reverb-true-stereo", **kw).data,
                                  [h, 0 * h, 0 * h, h])
    np.testing.assert_array_equal(ex.prepare(st, preset="reverb-true-stereo", **kw).data,
                                  [h, 0 * h, 0 * h, 0.5 * h])
    with pytest.raises(irforge.ParameterError,
                       match=r"writes 1 channel\(s\) and the IR has 2.*to_mono"):
        ex.prepare(st, preset="cab-loader")
    four = irforge.ImpulseResponse(np.stack([h] * 4), sample_rate=SR)
    with pytest.raises(irforge.ParameterError, match="writes 2 channel"):
        ex.prepare(four, preset="reverb-stereo")
    with pytest.raises(irforge.ParameterError, match="at most 2 channel"):
        ex.prepare(four, preset="pedalboard")
    three = irforge.ImpulseResponse(np.stack([h] * 3), sample_rate=SR)
    with pytest.raises(irforge.ParameterError, match="3-channel IR has no defined mapping"):
        ex.prepare(three, preset="reverb-true-stereo")


# -- consumers -------------------------------------------------------------------------------
def test_consumers_cab_loader(tmp_path):
    cab = irforge.ImpulseResponse.load(data_file("cab_ir/adventurekid_Modern_UK_001.wav")).to_mono()
    [p] = cab.export(tmp_path / "cab", preset="cab-loader")
    back = irforge.ImpulseResponse.load(p)                    # the IR as the consumers see it
    x = dry_audio(1.5, 1, back.n_samples)
    ref = irforge.convolve(x, back, sample_rate=SR)[:, :x.shape[1]]
    e_pb, g_pb = err_db(pedalboard_run(p, x), ref)
    assert e_pb < LIMIT_DB
    assert g_pb == pytest.approx(ex.pedalboard_gain(back), rel=1e-4)   # JUCE's normalisation
    e_ff, _ = err_db(afir(tmp_path, x, p), ref)
    assert e_ff < LIMIT_DB
    print(f"cab-loader: pedalboard {e_pb:.1f} dB (gain {g_pb:.5g}), afir {e_ff:.1f} dB")


def test_consumers_reverb_stereo(tmp_path):
    room = irforge.ImpulseResponse.load(
        data_file("room_ir/openair_SpokaneWomansClub_stereo_44k.wav"))    # 44.1 kHz -> 48 kHz
    [p] = room.export(tmp_path / "hall.wav", preset="reverb-stereo")
    back = irforge.ImpulseResponse.load(p)
    assert back.n_channels == 2 and back.sample_rate == SR
    assert back.n_samples < room.n_samples * 48000 / 44100
    x = dry_audio(1.0, 2, back.n_samples)
    ref = irforge.convolve(x, back, sample_rate=SR)[:, :x.shape[1]]
    e_pb, g_pb = err_db(pedalboard_run(p, x), ref)
    # JUCE sums the energy in float32: over 270k samples that rounds to ~1e-4
    assert e_pb < LIMIT_DB and g_pb == pytest.approx(ex.pedalboard_gain(back), rel=1e-3)
    e_ff, _ = err_db(afir(tmp_path, x, p), ref)
    assert e_ff < LIMIT_DB
    print(f"reverb-stereo: pedalboard {e_pb:.1f} dB, afir {e_ff:.1f} dB")


def _true_stereo_room():
    """A real true-stereo IR: the KEMAR BRIR as L -> (L, R) and mirrored as R -> (L, R)."""
    b = irforge.ImpulseResponse.load(
        data_file("room_ir/spatialaudio_brir_sweep_Netzwerkakademie_KEMAR_from_mat.wav"))
    return irforge.ImpulseResponse(np.stack([b.data[0], b.data[1], b.data[1], b.data[0]]),
                                   sample_rate=b.sample_rate)


def test_consumers_true_stereo(tmp_path):
    ts = _true_stereo_room()
    [p4] = ts.export(tmp_path / "ts.wav", preset="reverb-true-stereo")
    pl, pr = ts.export(tmp_path / "ts.wav", preset="reverb-true-stereo", split_true_stereo=True)
    assert (pl.name, pr.name) == ("ts_L.wav", "ts_R.wav")
    back = irforge.ImpulseResponse.load(p4)
    assert back.n_channels == 4 and sf.info(p4).subtype == "PCM_24"
    halves = [irforge.ImpulseResponse.load(q) for q in (pl, pr)]
    np.testing.assert_array_equal(np.concatenate([h.data for h in halves]), back.data)
    x = dry_audio(1.0, 2, back.n_samples)
    ref = irforge.convolve(x, back, sample_rate=SR)[:, :x.shape[1]]   # true-stereo routing
    # afir on the 4-channel file: inputs (L, L, R, R) through (LL, LR, RL, RR), then summed
    graph = ("[0:a]pan=4c|c0=c0|c1=c0|c2=c1|c3=c1[x];[x][1:a]afir=gtype=none[y];"
             "[y]pan=stereo|c0=c0+c2|c1=c1+c3[out]")
    e_ff, _ = err_db(afir(tmp_path, x, p4, graph), ref)
    assert e_ff < LIMIT_DB
    # pedalboard on the _L/_R pair: one Convolution per input, each normalised by its own
    # gain, undone here with pedalboard_gain()
    y = sum(pedalboard_run(q, np.stack([x[i], x[i]])) / ex.pedalboard_gain(h)
            for i, (q, h) in enumerate(zip((pl, pr), halves)))
    e_pb, g_pb = err_db(y, ref)
    assert e_pb < LIMIT_DB and g_pb == pytest.approx(1.0, rel=1e-4)
    print(f"reverb-true-stereo: afir (4 ch) {e_ff:.1f} dB, pedalboard (_L/_R) {e_pb:.1f} dB")


def test_consumer_pedalboard_preset(tmp_path):
    cab = irforge.ImpulseResponse.load(data_file("cab_ir/adventurekid_Vintage_UK_001.wav"))
    [p] = cab.export(tmp_path / "pb", preset="pedalboard", sample_rate=SR)
    assert sf.info(p).subtype == "FLOAT"
    back = irforge.ImpulseResponse.load(p)
    x = dry_audio(1.0, 2, back.n_samples)
    ref = irforge.convolve(x, back, sample_rate=SR)[:, :x.shape[1]]
    y = pedalboard_run(p, x) / ex.pedalboard_gain(back)
    e, g = err_db(y, ref)
    assert e < LIMIT_DB and g == pytest.approx(1.0, rel=1e-4)
    e_ff, _ = err_db(afir(tmp_path, x, p), ref)
    assert e_ff < LIMIT_DB


def test_why_pedalboard_preset_refuses_flac_and_float64(tmp_path):
    """pedalboard silently loads FLAC and float64 WAV as an empty IR: a pass-through."""
    h = irforge.demo.cabinet_ir().data
    x = dry_audio(0.3, 1, 0)
    for name, sub in (("a.flac", "PCM_24"), ("a.wav", "DOUBLE")):
        sf.write(tmp_path / name, h.T, SR, subtype=sub)
        y = pedalboard_run(tmp_path / name, x)
        assert np.max(np.abs(y - x)) < 1e-6           # the "convolution" did nothing
    ir = irforge.ImpulseResponse(h, sample_rate=SR)
    with pytest.raises(irforge.ParameterError, match="pass-through"):
        ir.export(tmp_path / "b.flac", preset="pedalboard")
    with pytest.raises(irforge.ParameterError, match="bit_depth"):
        ir.export(tmp_path / "b.wav", preset="pedalboard", bit_depth=24)


# -- atomic writes and bad input ------------------------------------------------------------------
def test_never_overwrites_unless_asked(tmp_path):
    ir = demo.cabinet_ir()
    [p] = ir.export(tmp_path / "c.wav", preset="cab-loader")
    before = p.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        ir.export(p, preset="generic")
    assert p.read_bytes() == before
    ir.export(p, preset="generic", overwrite=True)
    assert p.read_bytes() != before
    # split: when one of the two exists nothing is written
    (tmp_path / "t_R.wav").write_bytes(b"old")
    with pytest.raises(FileExistsError, match="t_R.wav"):
        demo.room_ir().export(tmp_path / "t.wav", preset="reverb-true-stereo",
                              split_true_stereo=True)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["c.wav", "t_R.wav"]


def test_split_export_is_all_or_nothing(tmp_path, monkeypatch):
    room = demo.room_ir()
    old = {n: n.encode() * 10 for n in ("r_L.wav", "r_R.wav")}
    for n, b in old.items():
        (tmp_path / n).write_bytes(b)
    real_replace, calls = ex.os.replace, []

    def failing_replace(src, dst):
        calls.append(dst)
        if str(dst).endswith("r_R.wav") and str(src).endswith(".tmp"):
            raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr(ex.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        room.export(tmp_path / "r.wav", preset="reverb-true-stereo", split_true_stereo=True,
                    overwrite=True)
    # the first file was committed, then rolled back to its old content; no leftovers
    assert {x.name: x.read_bytes() for x in tmp_path.iterdir()} == old
    monkeypatch.undo()
    # and without old files: neither file appears (a new file is linked straight to its name,
    # so the second file's commit fails in the link)
    for n in old:
        (tmp_path / n).unlink()
    real_link = ex.os.link

    def failing_link(src, dst, **kw):
        if str(dst).endswith("r_R.wav"):
            raise OSError("disk full")
        return real_link(src, dst, **kw)

    monkeypatch.setattr(ex.os, "replace", failing_replace)
    monkeypatch.setattr(ex.os, "link", failing_link)
    with pytest.raises(OSError):
        room.export(tmp_path / "r.wav", preset="reverb-true-stereo", split_true_stereo=True)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    import soundfile

    def boom(*a, **k):
        raise RuntimeError("encoder failed")

    monkeypatch.setattr(soundfile, "write", boom)                 # whichever soundfile API
    monkeypatch.setattr(soundfile.SoundFile, "write", boom)       # the writer uses
    with pytest.raises(RuntimeError, match="encoder failed"):
        demo.room_ir().export(tmp_path / "x.wav", preset="reverb-stereo")
    assert list(tmp_path.iterdir()) == []


def test_clip_guard(tmp_path):
    loud = irforge.ImpulseResponse(np.array([2.0, -1.0, 0.5], np.float32), sample_rate=SR)
    out = ex.prepare(loud, preset="generic", bit_depth=24)
    assert np.max(np.abs(out.data)) == pytest.approx(10 ** (-0.1 / 20), rel=1e-6)
    assert out.metadata["history"][-2]["reason"] == "clip guard"
    with pytest.raises(irforge.ParameterError, match="clip"):
        loud.export(tmp_path / "x.wav", preset="generic", bit_depth=24, on_clip="error")
    np.testing.assert_array_equal(ex.prepare(loud, preset="generic").data, loud.data)  # float
    assert list(tmp_path.iterdir()) == []


def test_bad_input(tmp_path):
    ir = demo.cabinet_ir()
    with pytest.raises(irforge.ParameterError,
                       match="unknown export preset 'cab'.*cab-loader, generic"):
        ir.export(tmp_path / "x.wav", preset="cab")
    with pytest.raises(irforge.ParameterError, match="unknown export preset"):
        ir.export(tmp_path / "x.wav", preset="../presets/generic")
    with pytest.raises(irforge.ParameterError, match="unknown export setting.*'bitdepth'"):
        ir.export(tmp_path / "x.wav", bitdepth=24)
    with pytest.raises(irforge.ParameterError, match="cannot be overridden"):
        ir.export(tmp_path / "x.wav", preset="pedalboard", formats=["flac"])
    with pytest.raises(irforge.ParameterError, match="normalize_db.*nan"):
        ir.export(tmp_path / "x.wav", normalize="peak", normalize_db=float("nan"))
    with pytest.raises(irforge.ParameterError, match="sample_rate"):
        ir.export(tmp_path / "x.wav", sample_rate=-48000)
    with pytest.raises(irforge.ParameterError, match="length_samples"):
        ir.export(tmp_path / "x.wav", length_samples=10.5)
    with pytest.raises(irforge.ParameterError, match="channels"):
        ir.export(tmp_path / "x.wav", channels=3)
    with pytest.raises(irforge.ParameterError, match="bit_depth"):
        ir.export(tmp_path / "x.wav", bit_depth=12)
    with pytest.raises(irforge.ParameterError, match="split_true_stereo"):
        ir.export(tmp_path / "x.wav", preset="reverb-stereo", split_true_stereo=True)
    with pytest.raises(irforge.ParameterError, match="FLAC has no float"):
        ir.export(tmp_path / "x.flac", preset="generic")
    with pytest.raises(irforge.ParameterError, match="extension"):
        ir.export(tmp_path / "x.mp3", preset="generic")
    with pytest.raises(TypeError, match="trim"):
        ir.export(tmp_path / "x.wav", trim="yes")
    with pytest.raises(TypeError, match="ImpulseResponse"):
        ex.export(np.ones(10), tmp_path / "x.wav")
    with pytest.raises(TypeError, match="preset"):
        ir.export(tmp_path / "x.wav", preset=3)
    with pytest.raises(FileNotFoundError, match="directory"):
        ir.export(tmp_path / "missing" / "x.wav")
    with pytest.raises(irforge.ParameterError, match="non-finite"):   # NaN never reaches a file
        irforge.ImpulseResponse(np.array([1.0, np.nan]), sample_rate=SR)
    assert list(tmp_path.iterdir()) == []


def test_user_preset_file(tmp_path):
    (tmp_path / "mine.toml").write_text(
        'description = "16-bit mono"\nbit_depth = 16\nchannels = 1\n')
    [p] = demo.cabinet_ir().export(tmp_path / "o", preset=tmp_path / "mine.toml")
    assert sf.info(p).subtype == "PCM_16"
    (tmp_path / "bad.toml").write_text('bit_depht = 16\n')
    with pytest.raises(irforge.ParameterError, match="unknown setting.*bit_depht"):
        demo.cabinet_ir().export(tmp_path / "o2", preset=tmp_path / "bad.toml")
