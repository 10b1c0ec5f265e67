"""irforge.render and `irforge render`: stems x IRs x chains, gain policies, resume, failures,
schedulers. References: irforge.convolve / scipy on the whole take, pyloudnorm, the chain
built by hand, a serial render for the bit-for-bit comparisons."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pedalboard
import pytest
import scipy.signal
import soundfile as sf

import irforge
from irforge.batch import MANIFEST, list_chain_presets, load_chain_preset, render

from conftest import data_file, load_mono

FS = 48000


@pytest.fixture
def material(tmp_path):
    """Two stems (mono guitar 3 s, stereo speech 1.5 s at 44.1 kHz) and two cab IRs (mono) plus
    a stereo IR, all written as files in tmp_path/in."""
    d = tmp_path / "in"
    (d / "stems").mkdir(parents=True)
    (d / "irs").mkdir()
    g = load_mono("dry/guitarDI_gulmini_loop.wav", FS, 3.0) * 0.2
    sf.write(d / "stems" / "guitar.wav", g, FS, subtype="PCM_24")
    sp = load_mono("dry/speech_spatialaudio_xmas_male_voice.wav", 44100, 1.5) * 0.05
    sf.write(d / "stems" / "speech.wav", np.stack([sp, sp[::-1]], 1), 44100, subtype="FLOAT")
    for name in ("Modern_UK", "Radio"):
        shutil.copy(data_file(f"cab_ir/adventurekid_{name}_001.wav"), d / "irs" / f"{name}.wav")
    rng = np.random.default_rng(3)
    st = rng.standard_normal((4000, 2)) * np.exp(-np.arange(4000) / 600)[:, None] * 0.05
    sf.write(d / "irs" / "stereo_room.wav", st, FS, subtype="FLOAT")
    return d


def _read(p):
    x, sr = sf.read(p, dtype="float64", always_2d=True)
    return x.T, sr


def test_render_equals_convolve(material, tmp_path):
    out = tmp_path / "out"
    rep = render(material / "stems", material / "irs", out, bit_depth=32)
    assert rep.ok, rep.table()
    assert len(rep.jobs) == 6 and {j.status for j in rep.jobs} == {"done"}
    for j in rep.jobs:
        y, sr = _read(j.output)
        x, sr_x = _read(j.stem)
        ir = irforge.ImpulseResponse.load(material / "irs" / f"{j.ir}.wav")
        h = ir.resample(sr_x).data if ir.sample_rate != sr_x else ir.data
        assert sr == sr_x
        ref = np.stack([scipy.signal.fftconvolve(x[c % x.shape[0]], h[c % h.shape[0]])
                        for c in range(max(x.shape[0], h.shape[0]))])
        assert y.shape == ref.shape, (j.output, y.shape, ref.shape)
        assert np.max(np.abs(y - ref)) < 1e-5 * np.max(np.abs(ref))
        assert j.channels == ref.shape[0] and j.samples == ref.shape[1]
        if ir.sample_rate != sr_x:
            assert any("resampled" in n for n in j.notes)
        assert oct(os.stat(j.output).st_mode & 0o777) == oct(0o666 & ~_umask())
    lines = (out / MANIFEST).read_text().splitlines()
    assert len(lines) == 6 and all(json.loads(line)["output_sha256"] for line in lines)


def _umask():
    m = os.umask(0)
    os.umask(m)
    return m


def test_gain_policies_and_clipping_is_never_silent(material, tmp_path):
    stem = material / "stems" / "guitar.wav"
    ir = material / "irs" / "Modern_UK.wav"          # hot: the render peaks above 0 dBFS
    x, _ = _read(stem)
    with pytest.warns(irforge.ClippingWarning):
        full = irforge.convolve(x.astype(np.float32), irforge.ImpulseResponse.load(ir), sample_rate=FS)
    peak = float(np.max(np.abs(full)))
    assert peak > 1.0

    rep = render(stem, ir, tmp_path / "none")
    (j,) = rep.jobs
    assert j.status == "failed" and "clip" in j.error and "protect" in j.error
    assert not Path(j.output).exists()

    rep = render(stem, ir, tmp_path / "protect", gain="protect")
    (j,) = rep.jobs
    y, _ = _read(j.output)
    assert j.status == "done" and abs(j.peak_dbfs + 0.1) < 1e-3
    assert abs(j.gain_db - 20 * np.log10(10 ** (-0.1 / 20) / peak)) < 1e-3
    assert np.max(np.abs(y)) <= 10 ** (-0.1 / 20) + 1e-6

    rep = render(stem, ir, tmp_path / "peak", gain="peak", target_db=-3.0, bit_depth=16)
    (j,) = rep.jobs
    y, _ = _read(j.output)
    assert abs(20 * np.log10(np.max(np.abs(y))) + 3.0) < 0.01

    import pyloudnorm
    rep = render(stem, material / "irs" / "Radio.wav", tmp_path / "lufs", gain="loudness",
                 target_db=-30.0)
    (j,) = rep.jobs
    y, sr = _read(j.output)
    lufs = pyloudnorm.Meter(sr, filter_class="DeMan").integrated_loudness(y.T)
    assert abs(lufs + 30.0) < 0.15 and abs(j.loudness_lufs + 30.0) < 0.01
    # a loudness target that makes the output clip fails, it does not clip
    rep = render(stem, ir, tmp_path / "lufs_hot", gain="loudness", target_db=-3.0)
    assert rep.jobs[0].status == "failed" and "clip" in rep.jobs[0].error


def test_loudness_meter_matches_pyloudnorm():
    import pyloudnorm
    from irforge.metrics import LoudnessMeter

    for rel, fs in (("dry/guitarDI_gulmini_loop.wav", 48000),
                    ("dry/speech_spatialaudio_librivox_flatland_excerpt.wav", 44100)):
        x = load_mono(rel, fs)
        x = np.stack([x, 0.5 * x])
        m = LoudnessMeter(fs, 2)
        for i in range(0, x.shape[1], 7777):
            m.add(x[:, i:i + 7777])
        ref = pyloudnorm.Meter(fs, filter_class="DeMan").integrated_loudness(x.T)
        assert abs(m.integrated() - ref) < 0.1, (rel, m.integrated(), ref)


def test_tail_cut(material, tmp_path):
    stem = material / "stems" / "guitar.wav"
    ir = material / "irs" / "stereo_room.wav"
    full = render(stem, ir, tmp_path / "a", bit_depth=32).jobs[0]
    cut = render(stem, ir, tmp_path / "b", bit_depth=32, tail=-40).jobs[0]
    n_stem = sf.info(stem).frames
    assert n_stem <= cut.samples < full.samples
    assert any("tail cut" in n for n in cut.notes)
    y_full, _ = _read(full.output)
    y_cut, _ = _read(cut.output)
    np.testing.assert_array_equal(y_cut, y_full[:, :cut.samples])
    rest = y_full[:, cut.samples + 256:]
    assert np.max(np.abs(rest)) <= np.max(np.abs(y_full)) * 10 ** (-40 / 20)


def test_resume_skips_finished_and_redoes_changed(material, tmp_path):
    out = tmp_path / "out"
    first = render(material / "stems", material / "irs", out, gain="protect")
    assert first.ok
    again = render(material / "stems", material / "irs", out, gain="protect")
    assert {j.status for j in again.jobs} == {"skipped"}
    # change one IR's content, delete one output, change nothing else
    ir = material / "irs" / "Radio.wav"
    x, sr = _read(ir)
    sf.write(ir, (x * 0.5).T, sr, subtype="FLOAT")
    victim = next(j.output for j in first.jobs if j.ir == "Modern_UK")
    os.unlink(victim)
    third = render(material / "stems", material / "irs", out, gain="protect")
    redo = {j.output for j in third.jobs if j.status == "done"}
    expect = {j.output for j in first.jobs if j.ir == "Radio"} | {victim}
    assert redo == expect
    # other settings: everything is redone
    fourth = render(material / "stems", material / "irs", out, gain="protect", target_db=-1.0)
    assert {j.status for j in fourth.jobs} == {"done"}
    # a cut last line (a kill while appending) is ignored: that job is redone
    m = out / MANIFEST
    m.write_text(m.read_text()[:-20])
    fifth = render(material / "stems", material / "irs", out, gain="protect", target_db=-1.0)
    assert [j.status for j in fifth.jobs].count("done") == 1


def test_refusals_before_any_work(material, tmp_path):
    out = tmp_path / "out"
    stems, irs = material / "stems", material / "irs"
    with pytest.raises(irforge.ParameterError, match="same output"):
        render(stems, irs, out, template="{stem}.wav")
    with pytest.raises(irforge.ParameterError, match="unknown field"):
        render(stems, irs, out, template="{stem}_{cab}.wav")
    with pytest.raises(irforge.ParameterError, match="outside out_dir"):
        render(stems, irs, out, template="../{stem}__{ir}.wav")
    with pytest.raises(irforge.ParameterError, match="one of the inputs"):
        render(stems / "guitar.wav", irs / "Radio.wav", stems, template="guitar.wav")
    with pytest.raises(irforge.ParameterError, match="extension"):
        render(stems, irs, out, template="{stem}__{ir}.mp4")
    with pytest.raises(irforge.ParameterError, match="no .*audio"):
        (tmp_path / "empty").mkdir()
        render(tmp_path / "empty", irs, out)
    with pytest.raises(FileNotFoundError):
        render(tmp_path / "missing.wav", irs, out)
    with pytest.raises(irforge.ParameterError, match="gain"):
        render(stems, irs, out, gain="loud")
    # a file there that no render made: refused without overwrite
    out.mkdir()
    (out / "guitar__Radio.wav").write_bytes(b"mine")
    with pytest.raises(FileExistsError, match="overwrite"):
        render(stems, irs, out)
    assert (out / "guitar__Radio.wav").read_bytes() == b"mine"
    assert sorted(p.name for p in out.iterdir()) == ["guitar__Radio.wav"]  # nothing rendered
    rep = render(stems, irs, out, overwrite=True, gain="protect")
    assert rep.ok


def test_corrupt_stem_fails_only_its_jobs_and_cli_exit(material, tmp_path):
    (material / "stems" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")
    out = tmp_path / "out"
    rep = render(material / "stems", material / "irs" / "Radio.wav", out, gain="protect")
    bad = [j for j in rep.jobs if j.status == "failed"]
    assert [Path(j.stem).name for j in bad] == ["broken.wav"]
    assert "broken.wav" in bad[0].error
    assert [j.status for j in rep.jobs].count("done") == 2
    r = subprocess.run([sys.executable, "-m", "irforge.cli", "render", str(material / "stems"),
                        "--ir", str(material / "irs" / "Radio.wav"), "--out", str(tmp_path / "cli"),
                        "--gain", "protect", "--no-progress"], capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    assert "1 failed" in r.stdout and "2 done" in r.stdout
    assert "broken.wav" in r.stderr and "Traceback" not in r.stderr


def test_cli_dry_run_and_presets(material, tmp_path):
    r = subprocess.run([sys.executable, "-m", "irforge.cli", "render", str(material / "stems"),
                        "--ir", str(material / "irs"), "--out", str(tmp_path / "o"), "--dry-run"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "6 job(s) planned" in r.stdout and "guitar__Radio.wav" in r.stdout
    assert not (tmp_path / "o").exists()
    r = subprocess.run([sys.executable, "-m", "irforge.cli", "render", "--list-chains"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "di-gate-cab-room" in r.stdout


def test_every_chain_preset_loads_and_renders_as_built_by_hand(material, tmp_path):
    names = list_chain_presets()
    assert len(names) >= 2
    stem = material / "stems" / "guitar.wav"
    x, _ = _read(stem)
    for name in names:
        spec = load_chain_preset(name)
        assert spec["effects"] and any(e["type"] == "ir" for e in spec["effects"])
        j = render(stem, material / "irs" / "Radio.wav", tmp_path / name, chain=name,
                   bit_depth=32).jobs[0]
        assert j.status == "done", j.error
        members = []
        for e in spec["effects"]:
            e = dict(e)
            t = e.pop("type")
            members.append(irforge.Convolver(material / "irs" / "Radio.wav", sample_rate=FS)
                           if t == "ir" else getattr(pedalboard, t)(**e))
        ch = irforge.Chain(members)
        ref = np.concatenate([ch(x.astype(np.float32), FS), ch.flush()], 1)
        y, _ = _read(j.output)
        assert y.shape == ref.shape
        # equal up to the block boundaries the pedalboard effects saw
        assert np.max(np.abs(y - ref)) < 1e-3 * np.max(np.abs(ref)), name


def test_bad_chain_presets(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[effect]]\ntype = "Flanger"\n')
    with pytest.raises(irforge.ParameterError, match="unknown effect type 'Flanger'"):
        load_chain_preset(bad)
    bad.write_text('[[effect]]\ntype = "Reverb"\nroom = 0.3\n')
    with pytest.raises(irforge.ParameterError, match="Reverb has no parameter 'room'.*room_size"):
        load_chain_preset(bad)
    bad.write_text('[[effect]]\ntype = "ir"\n[[effect]]\ntype = "ir"\n')
    with pytest.raises(irforge.ParameterError, match="one at most"):
        load_chain_preset(bad)
    bad.write_text('[[effect]\n')
    with pytest.raises(irforge.ParameterError, match="TOML"):
        load_chain_preset(bad)
    with pytest.raises(FileNotFoundError, match="di-gate-cab-room"):
        load_chain_preset("nonesuch")


def _factory(cab):
    return irforge.Chain([pedalboard.Gain(gain_db=-6.0), cab, pedalboard.Compressor()])


def test_pool_and_dask_give_the_same_bits(material, tmp_path):
    serial = render(material / "stems", material / "irs", tmp_path / "serial", chain=_factory,
                    workers=1, gain="protect")
    pool = render(material / "stems", material / "irs", tmp_path / "pool",
                  chain=lambda cab: [pedalboard.Gain(gain_db=-6.0), cab, pedalboard.Compressor()],
                  workers=2, gain="protect")
    assert serial.ok and pool.ok
    for a, b in zip(serial.jobs, pool.jobs):
        assert Path(a.output).name == Path(b.output).name
        assert Path(a.output).read_bytes() == Path(b.output).read_bytes()

    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        dask_rep = render(material / "stems", material / "irs", tmp_path / "dask",
                          chain=_factory, scheduler=client, gain="protect")
    assert dask_rep.ok, dask_rep.table()
    for a, b in zip(serial.jobs, dask_rep.jobs):
        assert Path(a.output).read_bytes() == Path(b.output).read_bytes()


def test_kill_9_loses_only_jobs_in_flight(material, tmp_path):
    """kill -9 during a CLI render: every output at its destination is complete (listed in
    the manifest with its hash), the rerun finishes the rest, and the result equals a clean
    render."""
    stems = tmp_path / "many"
    stems.mkdir()
    x, _ = _read(material / "stems" / "guitar.wav")
    for i in range(12):
        sf.write(stems / f"take{i:02d}.wav", (x[0] * (0.5 + i / 24)), FS, subtype="PCM_24")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "irforge.cli", "render", str(stems), "--ir",
           str(material / "irs"), "--out", str(out), "--gain", "protect", "--workers", "2",
           "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    m = out / MANIFEST
    t0 = time.time()
    while time.time() - t0 < 120:
        if m.exists() and len(m.read_text().splitlines()) >= 5:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = {json.loads(line)["output"]: json.loads(line) for line in m.read_text().splitlines()
            if line.strip()}
    assert 5 <= len(done) < 36
    wavs = sorted(out.glob("*.wav"))
    for p in wavs:      # nothing half-written at a destination
        assert str(p) in done, p
        import hashlib
        assert hashlib.sha256(p.read_bytes()).hexdigest() == done[str(p)]["output_sha256"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")], list(out.iterdir())
    # an entry whose file is missing (killed between the manifest line and the link) is redone
    finished = [k for k in done if Path(k).is_file()]
    assert len(finished) >= len(done) - 2
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert f"{len(finished)} skipped" in r.stdout
    clean = render(stems, material / "irs", tmp_path / "clean", gain="protect", workers=2)
    for j in clean.jobs:
        assert Path(j.output).read_bytes() == (out / Path(j.output).name).read_bytes()


def test_chain_instance_refused_with_the_fix(material, tmp_path):
    with pytest.raises(irforge.ParameterError, match="function that builds"):
        render(material / "stems", material / "irs", tmp_path / "o",
               chain=irforge.Chain([pedalboard.Gain()]))


def test_long_output_spills_to_a_temporary_file_same_result(material, tmp_path, monkeypatch):
    import irforge.batch as batch

    stem, ir = material / "stems" / "guitar.wav", material / "irs" / "stereo_room.wav"
    a = render(stem, ir, tmp_path / "mem", bit_depth=32).jobs[0]
    monkeypatch.setattr(batch, "_SPOOL_BYTES", 1 << 16)
    monkeypatch.setattr(batch, "_BLOCK", 1 << 12)
    b = render(stem, ir, tmp_path / "spill", bit_depth=32, tail=-200).jobs[0]
    assert a.status == b.status == "done"
    ya, _ = _read(a.output)
    yb, _ = _read(b.output)
    np.testing.assert_allclose(yb, ya, atol=1e-6 * np.max(np.abs(ya)))
    assert not list((tmp_path / "spill").glob(".*"))


def test_full_disk_fails_the_job_cleanly(material, tmp_path):
    """A write that fails half way (file-size limit: EFBIG, as on a full disk) fails its job
    with the reason; no partial file at the destination, the other jobs go on."""
    code = (
        "import resource, signal, sys, irforge\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (300000, 300000))\n"
        "r = irforge.render(sys.argv[1], sys.argv[2:4], sys.argv[4], gain='protect', workers=1)\n"
        "print(r.table())\n"
        "sys.exit(0 if not r.ok else 3)\n")
    out = tmp_path / "out"
    stem = material / "stems" / "guitar.wav"   # 3 s: 24-bit stereo output ~ 900 KB, too big
    r = subprocess.run([sys.executable, "-c", code, str(stem), str(material / "irs" / "Radio.wav"),
                        str(material / "irs" / "Modern_UK.wav"), str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "failed" in r.stdout and ("File too large" in r.stdout or "Errno 27" in r.stdout)
    assert not list(out.glob("*.wav")), list(out.iterdir())


def test_killed_between_manifest_line_and_link_is_redone(material, tmp_path, monkeypatch):
    """The worker writes the manifest line before it links the output into place: a kill in
    between leaves an entry without its file, which the rerun redoes (no unclaimed finished
    output that a rerun would refuse to replace)."""
    from irforge import audio_io

    real_commit = audio_io._Pending.commit
    calls = []

    def dying_commit(self):
        calls.append(self.dest)
        if len(calls) == 2:        # the second job dies right before its output is linked
            assert json.loads((tmp_path / "out" / MANIFEST).read_text().splitlines()[-1])[
                "output"] == str(self.dest)
            assert not self.dest.exists()
            raise KeyboardInterrupt
        return real_commit(self)

    monkeypatch.setattr(audio_io._Pending, "commit", dying_commit)
    with pytest.raises(KeyboardInterrupt):
        render(material / "stems", material / "irs", tmp_path / "out", gain="protect", workers=1)
    monkeypatch.setattr(audio_io._Pending, "commit", real_commit)
    again = render(material / "stems", material / "irs", tmp_path / "out", gain="protect", workers=1)
    assert again.ok
    status = {Path(j.output): j.status for j in again.jobs}
    assert status[calls[0]] == "skipped" and status[calls[1]] == "done"


def test_16_bit_outputs_are_dithered_and_reproducible(tmp_path):
    """16-bit renders get TPDF dither by default: a fading tone 0.4 LSB high, which plain
    rounding turns into silence, survives in the mean (the dithered quantiser is unbiased),
    the error is about 0.5 LSB rms (rounding 1/12 + TPDF 1/6 LSB^2), and the bits are the same
    on every run; dither='none' rounds."""
    stems, irs = tmp_path / "s", tmp_path / "i"
    stems.mkdir()
    irs.mkdir()
    n = 4 * FS
    t = np.arange(n) / FS
    tone = 0.4 / 32768 * np.sin(2 * np.pi * 441.0 * t)
    sf.write(stems / "quiet.wav", tone, FS, subtype="FLOAT")
    sf.write(irs / "unit.wav", np.array([1.0]), FS, subtype="FLOAT")
    a = render(stems, irs, tmp_path / "a", bit_depth=16, workers=1)
    b = render(stems, irs, tmp_path / "b", bit_depth=16, workers=1)
    plain = render(stems, irs, tmp_path / "plain", bit_depth=16, dither="none", workers=1)
    assert a.ok and b.ok and plain.ok
    assert any("TPDF" in note for note in a.jobs[0].notes)
    assert Path(a.jobs[0].output).read_bytes() == Path(b.jobs[0].output).read_bytes()
    q_plain = sf.read(plain.jobs[0].output, dtype="int16")[0]
    assert not q_plain.any()                                   # rounded away entirely
    q = sf.read(a.jobs[0].output, dtype="float64")[0][:n] * 32768
    err = q - tone * 32768
    assert 0.4 < np.sqrt(np.mean(err ** 2)) < 0.6
    gain = np.dot(q, tone * 32768) / np.dot(tone * 32768, tone * 32768)
    assert 0.9 < gain < 1.1                                    # the tone survives, unbiased
    with pytest.raises(irforge.ParameterError, match="dither"):
        render(stems, irs, tmp_path / "c", bit_depth=16, dither="shaped")
