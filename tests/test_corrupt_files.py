"""A corpus of corrupt and hostile audio files, generated here, through every loader and verb.

Each file goes through ImpulseResponse.load and each file-reading CLI verb in every input
position. The verb must end within the time limit with exit status 2 (bad input) and one line
on stderr that names the file, no traceback, and no output file left behind.
"""
from __future__ import annotations

import signal
import struct
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

import irforge
from irforge import cli

SR = 48000


def _wav_header(*, channels=1, rate=SR, bits=16, fmt=1, data_bytes=0, extra=b"") -> bytes:
    block = channels * max(bits // 8, 1)
    fmt_chunk = struct.pack("<HHIIHH", fmt, channels, rate, (rate * block) & 0xFFFFFFFF, block & 0xFFFF, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk
    body += b"data" + struct.pack("<I", data_bytes) + extra
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _corpus(tmp_path) -> dict:
    good = tmp_path / "good.wav"
    sf.write(good, (np.random.default_rng(0).standard_normal(4800) * 0.1).astype(np.float32), SR)
    raw = good.read_bytes()
    rng = np.random.default_rng(1)
    files = {
        "zero-length": b"",
        "truncated header": raw[:30],
        "bad magic": b"RIFX" + raw[4:],
        "0 channels": _wav_header(channels=0, data_bytes=100, extra=bytes(100)),
        "0 Hz": _wav_header(rate=0, data_bytes=100, extra=bytes(100)),
        "1 Hz": _wav_header(rate=1, data_bytes=9600, extra=bytes(9600)),
        "65535 channels": _wav_header(channels=65535, data_bytes=131070, extra=bytes(131070)),
        "7-bit samples": _wav_header(bits=7, data_bytes=9600, extra=rng.bytes(9600)),
        "header only": _wav_header(data_bytes=0),
        "garbage": rng.bytes(5000),
        "text": b"this is not audio\n" * 100,
    }
    out = {}
    for i, (name, data) in enumerate(files.items()):
        p = tmp_path / f"corrupt{i}.wav"
        p.write_bytes(data)
        out[name] = p
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("corrupt")
    good = d / "good.wav"
    return _corpus(d), good


def test_loader_raises_a_clear_error_for_every_corrupt_file(corpus):
    files, _ = corpus
    for name, path in files.items():
        with pytest.raises((irforge.ParameterError, ValueError, TypeError, OSError)) as exc:
            irforge.ImpulseResponse.load(path)
        assert str(path.name) in str(exc.value) or "sample" in str(exc.value).lower(), (name, exc.value)


def _verbs(bad, good, out):
    return {
        "convolve (audio)": ["convolve", bad, good, out],
        "convolve (ir)": ["convolve", good, bad, out],
        "analyze": ["analyze", bad],
        "export": ["export", bad, out],
        "deconvolve (recording)": ["deconvolve", bad, good, out],
        "deconvolve (ir)": ["deconvolve", good, bad, out],
        "measure (recording)": ["measure", good, bad, out],
        "measure (excitation)": ["measure", bad, good, out],
        "dereverb (input)": ["dereverb", bad, good, good, out],
        "dereverb (excitation)": ["dereverb", good, bad, good, out],
        "dereverb (recorded excitation)": ["dereverb", good, good, bad, out],
    }


class _Hang(BaseException):
    """Raised by the alarm: not an Exception, so the CLI's own handlers cannot swallow it."""


def _alarm(signum, frame):
    raise _Hang()


def test_every_verb_fails_cleanly_on_every_corrupt_file(corpus, tmp_path, capsys):
    # in-process through cli.main (the subprocess path is covered by the tests below); an
    # alarm turns a hang into a failure
    files, good = corpus
    failures = []
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        for name, bad in files.items():
            out = tmp_path / "out.wav"
            for verb, args in _verbs(str(bad), str(good), str(out)).items():
                signal.alarm(60)
                try:
                    rc = cli.main(args)
                except _Hang:
                    failures.append(f"{verb} / {name}: hangs")
                    continue
                except SystemExit as exc:  # argparse
                    rc = exc.code
                finally:
                    signal.alarm(0)
                err = capsys.readouterr().err
                lines = [ln for ln in err.strip().splitlines() if "warning:" not in ln]
                if rc != 2:
                    failures.append(f"{verb} / {name}: exit {rc}: {err.strip()[-200:]}")
                elif "Traceback" in err or len(lines) != 1:
                    failures.append(f"{verb} / {name}: not one line: {err.strip()[-300:]}")
                elif bad.name not in lines[0]:
                    failures.append(f"{verb} / {name}: the message does not name the file: {lines[0]}")
                if out.exists():
                    failures.append(f"{verb} / {name}: left {out.name} behind")
                    out.unlink()
    finally:
        signal.signal(signal.SIGALRM, old)
    assert not failures, "\n".join(failures)


def test_a_corrupt_file_through_the_real_command(corpus, tmp_path):
    files, good = corpus
    r = subprocess.run([sys.executable, "-m", "irforge.cli", "convolve", str(files["7-bit samples"]), str(good),
                        str(tmp_path / "out.wav")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "7-bit" in r.stderr and files["7-bit samples"].name in r.stderr


def test_a_truncated_file_is_read_with_a_warning(tmp_path):
    # a recorder that stopped early: the header announces more audio than the file holds
    x = (np.random.default_rng(2).standard_normal(4800) * 0.1).astype(np.float32)
    good = tmp_path / "good.wav"
    sf.write(good, x, SR, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(good.read_bytes()[:-2000])
    with pytest.warns(irforge.audio_io.TruncatedFileWarning, match="truncated"):
        ir = irforge.ImpulseResponse.load(cut)
    assert ir.n_samples == 4800 - 1000
    np.testing.assert_allclose(ir.data[0], x[:3800], atol=1 / 32768)
    out = tmp_path / "out.wav"
    r = subprocess.run([sys.executable, "-m", "irforge.cli", "convolve", str(cut), str(good), str(out)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "warning:" in r.stderr and "truncated" in r.stderr and out.exists()
