"""kill -9 at any moment: no partial output at a destination, no temporary file left behind."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import soundfile as sf

from irforge import audio_io

WRITER = textwrap.dedent("""
    import sys, time, numpy as np
    from irforge.audio_io import open_audio_atomic
    with open_audio_atomic(sys.argv[1], 48000, 2, bit_depth=24) as f:
        print("open", flush=True)
        for _ in range(10000):
            f.write(np.zeros((4800, 2), np.float32))
            time.sleep(0.001)
""")


def _start_and_kill(args, after_s, ready=None):
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if ready:
        assert p.stdout.readline().strip() == ready
    time.sleep(after_s)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    return p


@pytest.mark.parametrize("after_s", [0.0, 0.05, 0.3])
def test_streaming_writer_killed_leaves_nothing(tmp_path, after_s):
    out = tmp_path / "out.wav"
    _start_and_kill([sys.executable, "-c", WRITER, str(out)], after_s, ready="open")
    assert os.listdir(tmp_path) == [], os.listdir(tmp_path)


def test_cli_killed_mid_deconvolution_leaves_nothing(tmp_path):
    rng = np.random.default_rng(0)
    sr = 48000
    h = (rng.standard_normal(4800) * np.exp(-np.arange(4800) / 800)).astype(np.float32) * 0.1
    x = (rng.standard_normal(sr * 60) * 0.05).astype(np.float32)
    take, room = tmp_path / "take.wav", tmp_path / "room.wav"
    sf.write(take, np.convolve(x, h)[: x.size] + 1e-4 * rng.standard_normal(x.size), sr, subtype="PCM_24")
    sf.write(room, h, sr, subtype="FLOAT")
    before = sorted(os.listdir(tmp_path))
    args = [sys.executable, "-m", "irforge.cli", "deconvolve", str(take), str(room), str(tmp_path / "dry.wav")]
    # one complete run first: its duration places the kills inside the run on any machine speed
    t0 = time.perf_counter()
    subprocess.run(args, capture_output=True, check=True, timeout=300)
    duration = time.perf_counter() - t0
    assert sf.info(tmp_path / "dry.wav").frames >= x.size
    os.remove(tmp_path / "dry.wav")
    for fraction in (0.3, 0.6, 0.9):
        _start_and_kill(args, duration * fraction)
        # the kill may land after the output was put in place (the run was finishing, or had
        # finished): then the output must be whole; otherwise there must be none
        if (tmp_path / "dry.wav").exists():
            assert sf.info(tmp_path / "dry.wav").frames >= x.size
            assert sf.read(tmp_path / "dry.wav", dtype="float32")[0].shape[0] >= x.size
            os.remove(tmp_path / "dry.wav")
        assert sorted(os.listdir(tmp_path)) == before, os.listdir(tmp_path)


def test_named_temps_of_dead_processes_are_removed_on_the_next_write(tmp_path):
    # the fallback where O_TMPFILE is missing: a killed process's named temp is cleaned up by
    # the next write into the folder; a live process's temp and other files are left alone
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    stale = tmp_path / f".out.wav.irforge-{audio_io._HOST}-{dead}-abc123.tmp"
    alive = tmp_path / f".out.wav.irforge-{audio_io._HOST}-{os.getppid()}-def456.tmp"
    other_host = tmp_path / f".out.wav.irforge-elsewhere-{dead}-ghi789.tmp"
    mine = tmp_path / "keep.txt"
    for f in (stale, alive, other_host, mine):
        f.write_bytes(b"x" * 1000)
    audio_io.write_audio_atomic(tmp_path / "new.wav", np.zeros((1, 100), np.float32), 48000)
    left = set(os.listdir(tmp_path))
    assert stale.name not in left
    assert {alive.name, other_host.name, mine.name, "new.wav"} <= left


def test_without_o_tmpfile_the_named_temp_is_renamed(tmp_path, monkeypatch):
    monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    out = tmp_path / "out.wav"
    audio_io.write_audio_atomic(out, np.ones((2, 100), np.float32) * 0.5, 48000)
    assert os.listdir(tmp_path) == ["out.wav"]
    assert np.allclose(sf.read(out)[0], 0.5)


def test_a_new_file_is_linked_straight_to_its_name(tmp_path, monkeypatch):
    """Committing a new file is one link to its own name (a kill cannot leave a hidden link
    behind, as the link-then-rename of a replacement can between its two steps; those are
    removed by the next write into the folder)."""
    import numpy as np

    from irforge import audio_io

    targets = []
    real_link = os.link

    def spy(src, dst, **kw):
        targets.append(str(dst))
        return real_link(src, dst, **kw)

    monkeypatch.setattr(audio_io.os, "link", spy)
    x = np.zeros((1, 100), np.float32)
    audio_io.write_audio_atomic(tmp_path / "new.wav", x, 48000)
    if getattr(os, "O_TMPFILE", 0):
        assert targets == ["new.wav"]
    audio_io.write_audio_atomic(tmp_path / "new.wav", x, 48000, overwrite=True)
    assert sorted(os.listdir(tmp_path)) == ["new.wav"]
