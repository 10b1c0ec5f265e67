"""The irforge Convolver LV2 plugin, run by a real LV2 host on real audio and real IRs.

lv2apply/lv2file cannot drive a plugin with atom and state ports, so the tests build their own
small lilv host (plugins/tools/lv2_host.c) into build/plugins/lv2_host. It loads the plugin
from its bundle only, sets the IR file through the plugin's LV2 state interface (restore(), as a
host loading a session does) or through a patch:Set event (the worker path, as a host setting
the file parameter while running does), runs the input in blocks and writes the outputs as a
float32 WAV of the input's length.

The bundle is build/plugins/bin/irforge-convolver.lv2 (``make plugins``), or the one in the
folder named by IRFORGE_PLUGIN_DIR. Without gcc/pkg-config/lilv/libsndfile, or without the
bundle, the tests skip and say why.

The reference is irforge.convolve(..., mode="same") on the same samples: the plugin runs the
same zero-latency engine, so they agree to float rounding. The input files are at the IR's own
sample rate (the plugin would otherwise resample the IR with soxr), except in the one test of
that resampling.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

import irforge
from conftest import max_rel_err


def _unavailable(reason: str):
    """Skip outside CI; in CI (CI=true) .ci/run installs everything, so a gap is a failure."""
    if os.environ.get("CI"):
        pytest.fail(f"the LV2 tests must run in CI: {reason}")
    pytest.skip(reason)

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
HOST_SRC = ROOT / "plugins" / "tools" / "lv2_host.c"
HOST_BIN = ROOT / "build" / "plugins" / "lv2_host"
BUNDLE_NAME = "irforge-convolver.lv2"
PLUGIN_URI = "https://github.com/irforge/irforge/plugins/convolver"
IR_FILE_KEY = PLUGIN_URI + "#ir_file"  # DPF: "<plugin URI>#<state key>"
EMBEDDED_KEY = "urn:distrho:ir_embedded"  # DPF's key for a state the host may not read
MOD_NS = "http://moddevices.com/ns/mod#"

TOL = 1e-5  # -100 dB of the reference's peak
DRY_TOL = 1e-6
SECONDS = 1.5

# The MOD vocabulary DPF writes (mod:brand, mod:label when DISTRHO_PLUGIN_BRAND is set) is not
# part of the LV2 spec that lv2_validate knows, so sord_validate calls every use of it an
# undefined property. Declared here minimally (string-valued properties), only for the
# validation; every other term must come from the LV2 spec itself.
MOD_STUB_TTL = """\
@prefix mod:  <http://moddevices.com/ns/mod#> .
@prefix owl:  <http://www.w3.org/2002/07/owl#> .
@prefix rdf:  <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd:  <http://www.w3.org/2001/XMLSchema#> .

mod:brand a rdf:Property, owl:DatatypeProperty ;
    rdfs:label "brand" ;
    rdfs:comment "Short brand name shown by MOD devices." ;
    rdfs:range xsd:string .

mod:label a rdf:Property, owl:DatatypeProperty ;
    rdfs:label "label" ;
    rdfs:comment "Short plugin label shown by MOD devices." ;
    rdfs:range xsd:string .
"""


def _env() -> dict[str, str]:
    """The environment for the tools run here, without a sanitizer preload (``make asan``
    preloads libasan into the Python process; gcc and the uninstrumented plugin do not want it)."""
    env = dict(os.environ)
    for k in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS"):
        env.pop(k, None)
    return env


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=_env(),
                          timeout=kw.pop("timeout", 300), **kw)


# ---- fixtures: the host, the bundle, the material --------------------------------------------

@pytest.fixture(scope="module")
def lv2_host() -> Path:
    """build/plugins/lv2_host, compiled from plugins/tools/lv2_host.c for this run."""
    if not HOST_SRC.is_file():
        _unavailable(f"the LV2 test host source is not here: {HOST_SRC}")
    for tool in ("gcc", "pkg-config"):
        if shutil.which(tool) is None:
            _unavailable(f"{tool} not found: cannot build the LV2 test host")
    for pkg, deb in (("lilv-0", "liblilv-dev"), ("sndfile", "libsndfile1-dev"), ("lv2", "lv2-dev")):
        if _run(["pkg-config", "--exists", pkg]).returncode != 0:
            _unavailable(f"pkg-config finds no {pkg} (Debian: apt-get install {deb}): "
                        f"cannot build the LV2 test host")
    flags = _run(["pkg-config", "--cflags", "--libs", "lilv-0", "sndfile"])
    assert flags.returncode == 0, flags.stderr
    HOST_BIN.parent.mkdir(parents=True, exist_ok=True)
    tmp = HOST_BIN.with_name(f"{HOST_BIN.name}.{os.getpid()}.tmp")
    cc = _run(["gcc", "-O2", "-Wall", "-Wextra", "-o", tmp, HOST_SRC, *flags.stdout.split()])
    if cc.returncode != 0:
        tmp.unlink(missing_ok=True)
        pytest.fail(f"building the LV2 test host failed:\n{cc.stderr}")
    assert "warning" not in cc.stderr, f"the LV2 test host compiles with warnings:\n{cc.stderr}"
    os.replace(tmp, HOST_BIN)  # atomic: a concurrent run never sees half a binary
    return HOST_BIN


@pytest.fixture(scope="module")
def bundle() -> Path:
    """The irforge-convolver.lv2 bundle (IRFORGE_PLUGIN_DIR, else build/plugins/bin)."""
    env_dir = os.environ.get("IRFORGE_PLUGIN_DIR")
    where = Path(env_dir) if env_dir else ROOT / "build" / "plugins" / "bin"
    b = where / BUNDLE_NAME
    if not (b / "manifest.ttl").is_file():
        how = "IRFORGE_PLUGIN_DIR" if env_dir else "`make plugins` builds it"
        _unavailable(f"the LV2 bundle is not built: no {b / 'manifest.ttl'} ({how})")
    return b


def _data(rel: str) -> Path:
    p = DATA / rel
    if not p.is_file():
        _unavailable(f"real test material not found: {p}")
    return p


def _read(path: Path) -> tuple[np.ndarray, int]:
    """(channels, frames) float32 and the rate."""
    import soundfile as sf

    y, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return np.ascontiguousarray(y.T), sr


def _write(path: Path, x: np.ndarray, sr: int) -> Path:
    import soundfile as sf

    sf.write(str(path), np.ascontiguousarray(np.atleast_2d(x).T), sr, subtype="FLOAT")
    return path


def _dry_mono(rel: str, sr: int, seconds: float = SECONDS) -> np.ndarray:
    """The first channel of a real dry file, at ``sr`` (soxr when needed), ``seconds`` long."""
    x, file_sr = _read(_data(rel))
    x = x[0].astype(np.float64)
    if file_sr != sr:
        import soxr

        x = soxr.resample(x, file_sr, sr)
    n = int(seconds * sr)
    assert x.size >= n, f"{rel} is shorter than {seconds} s"
    return x[:n].astype(np.float32)


def _dry(sr: int, channels: int) -> np.ndarray:
    """(channels, n) real dry signal: speech, and guitar DI on the second channel."""
    x = [_dry_mono("dry/speech_spatialaudio_xmas_male_voice.wav", sr)]
    if channels == 2:
        x.append(_dry_mono("dry/guitarDI_gulmini_input_001.wav", sr))
    return np.stack(x)


def _as_plugin_input(x: np.ndarray) -> np.ndarray:
    """What the plugin's two inputs get: a mono file is fed to both."""
    return np.concatenate([x, x]) if x.shape[0] == 1 else x


def _reference(x: np.ndarray, ir_path: Path, sr: int, *, mix: float = 1.0,
               gain_db: float = 0.0, layout: str = "auto") -> np.ndarray:
    """irforge.convolve of what the plugin's inputs get, zero latency, the input's length."""
    ir = irforge.ImpulseResponse.load(ir_path)
    xin = _as_plugin_input(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", irforge.ClippingWarning)
        wet = irforge.convolve(xin, ir, sample_rate=sr, mode="same", layout=layout)
    wet = np.atleast_2d(wet).astype(np.float64)
    assert wet.shape == xin.shape, (wet.shape, xin.shape)
    return (1.0 - mix) * xin + mix * 10.0 ** (gain_db / 20.0) * wet


def _host(lv2_host: Path, bundle: Path, x: np.ndarray, sr: int, tmp_path: Path, *args,
          name: str = "run", expect_rc: int = 0) -> tuple[np.ndarray | None, dict, str]:
    """Run the host on ``x``; (output (channels, n) or None, control outputs, stderr)."""
    src = _write(tmp_path / f"{name}_in.wav", x, sr)
    dst = tmp_path / f"{name}_out.wav"
    cmd = [lv2_host, "--bundle", bundle, "--uri", PLUGIN_URI, "--in", src, "--out", dst, *args]
    r = _run(cmd)
    assert r.returncode == expect_rc, (
        f"lv2_host exited {r.returncode}, expected {expect_rc}\n$ {' '.join(map(str, cmd))}\n"
        f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}")
    controls = {}
    for line in r.stdout.splitlines():
        k, sep, v = line.partition("=")
        if sep:
            controls[k] = float(v)
    if expect_rc != 0:
        assert not dst.exists(), "a failed run left an output file"
        return None, controls, r.stderr
    y, out_sr = _read(dst)
    assert out_sr == sr
    import soundfile as sf

    assert sf.info(str(dst)).subtype == "FLOAT"
    assert y.shape == (2, x.shape[1]), f"output {y.shape}, input {x.shape}: length must match"
    return y, controls, r.stderr


def _db(e: float) -> str:
    return f"{20 * np.log10(max(e, 1e-30)):.1f} dB"


MONO_IR = "room_ir/spatialaudio_rir_clap_seminar_room.wav"           # 44.1 kHz, 1 channel, 1 s
STEREO_IR = "room_ir/spatialaudio_brir_sweep_Netzwerkakademie_KEMAR_from_mat.wav"  # 44.1k, 2 ch
CAB_IR = "cab_ir/adventurekid_Vintage_UK_001.wav"                    # 44.1 kHz, 2 ch, 190 ms
CAB_IR_2 = "cab_ir/adventurekid_Modern_US_001.wav"
CAB_IR_SHORT = "cab_ir/adventurekid_Radio_001.wav"                   # 44.1 kHz, 2 ch, 150 ms
IR_48K = "room_ir/freesound_peter1955_basement_museum_Unterlinden_clap_48k.wav"  # 48 kHz, 2 ch


def _ir_rate(rel: str) -> int:
    import soundfile as sf

    return int(sf.info(str(_data(rel))).samplerate)


def _true_stereo_ir(tmp_path: Path) -> Path:
    """A 4-channel true-stereo IR (LL, LR, RL, RR) from two real stereo cabinet IRs: the direct
    paths from one, the cross paths from the other at -12 dB."""
    a, sr = _read(_data(CAB_IR))
    b, sr_b = _read(_data(CAB_IR_2))
    assert sr == sr_b
    n = max(a.shape[1], b.shape[1])
    a = np.pad(a, ((0, 0), (0, n - a.shape[1])))
    b = np.pad(b, ((0, 0), (0, n - b.shape[1]))) * 0.25
    return _write(tmp_path / "true_stereo_ir.wav", np.stack([a[0], b[0], b[1], a[1]]), sr)


# ---- the bundle's description ----------------------------------------------------------------

def test_ttl_validates(bundle, tmp_path):
    """lv2_validate (sord_validate against the installed LV2 spec) finds no error in the bundle."""
    if shutil.which("lv2_validate") is None or shutil.which("sord_validate") is None:
        _unavailable("lv2_validate (lv2-dev) or sord_validate (sordi) not found")
    ttls = sorted(bundle.glob("*.ttl"))
    assert any(p.name == "manifest.ttl" for p in ttls) and len(ttls) >= 2, ttls
    extra = []
    if any(MOD_NS in p.read_text(encoding="utf-8") for p in ttls):
        extra.append(tmp_path / "mod_vocabulary_stub.ttl")
        extra[0].write_text(MOD_STUB_TTL, encoding="utf-8")
    r = _run(["lv2_validate", *extra, *ttls])
    out = r.stdout + r.stderr
    errors = [line for line in out.splitlines() if re.match(r"\s*error", line, re.I)]
    assert r.returncode == 0 and not errors, f"lv2_validate exited {r.returncode}:\n{out}"
    found = re.search(r"Found (\d+) errors?", out)
    assert found is None or int(found.group(1)) == 0, out


def test_ttl_declares_the_ir_file_parameter(bundle):
    """The IR file is a patch:writable parameter of type atom:Path, under the key the host uses."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(bundle.glob("*.ttl")))
    assert f"<{PLUGIN_URI}>" in text
    assert re.search(r"patch:writable\s+<" + re.escape(IR_FILE_KEY) + ">", text), text
    block = re.search(r"<" + re.escape(IR_FILE_KEY) + r">\s+a lv2:Parameter\s*;(.*?)\.\s*$",
                      text, re.S | re.M)
    assert block is not None and "atom:Path" in block.group(1), text


# ---- the audio path --------------------------------------------------------------------------

@pytest.mark.parametrize("ir_rel, in_channels", [
    (MONO_IR, 2),    # each channel convolved with the one IR
    (MONO_IR, 1),    # a mono file on both inputs
    (STEREO_IR, 2),  # L*ir0, R*ir1
    (STEREO_IR, 1),  # mono to stereo
    (CAB_IR, 2),
])
def test_matches_irforge_convolve(lv2_host, bundle, tmp_path, ir_rel, in_channels):
    """The IR file set through the state interface: the output is irforge.convolve's, -100 dB."""
    sr = _ir_rate(ir_rel)
    x = _dry(sr, in_channels)
    ir_path = _data(ir_rel)
    y, controls, err = _host(lv2_host, bundle, x, sr, tmp_path,
                             "--state", f"{IR_FILE_KEY}={ir_path}")
    assert controls.get("status") == 1.0, (controls, err)
    ref = _reference(x, ir_path, sr)
    e = max_rel_err(y, ref)
    print(f"{ir_rel}, {in_channels}-channel input: max error {e:.3g} ({_db(e)} re peak)")
    assert e < TOL, f"max error {e:.3g} ({_db(e)}) of the peak; wanted < {TOL:g}"


def test_true_stereo_ir(lv2_host, bundle, tmp_path):
    """A 4-channel IR is true stereo: out_L = L*LL + R*RL, out_R = L*LR + R*RR."""
    ir_path = _true_stereo_ir(tmp_path)
    sr = _ir_rate(CAB_IR)
    x = _dry(sr, 2)
    y, controls, err = _host(lv2_host, bundle, x, sr, tmp_path,
                             "--state", f"{IR_FILE_KEY}={ir_path}")
    assert controls.get("status") == 1.0, (controls, err)
    e = max_rel_err(y, _reference(x, ir_path, sr, layout="true-stereo"))
    print(f"true stereo: max error {e:.3g} ({_db(e)})")
    assert e < TOL


def _embedded_blob(ir_path: Path, origin: str) -> str:
    """The ir_embedded state of an IR file, in the documented form (plugins/common/ir_source.h):
    base64 of "IRFG" | u32 1 | u32 channels | u64 frames | f64 rate | u32 len | origin | f32
    samples, channel-major, little endian."""
    import base64
    import struct

    h, sr = _read(ir_path)
    o = origin.encode()
    raw = (b"IRFG" + struct.pack("<IIQdI", 1, h.shape[0], h.shape[1], float(sr), len(o)) + o
           + h.astype("<f4").tobytes())
    return base64.b64encode(raw).decode("ascii")


def test_ir_embedded_in_the_session(lv2_host, bundle, tmp_path):
    """A session that carries its IR (ir_embedded) and the path it came from, which is gone now:
    the embedded IR is used, the missing file does not override it."""
    ir_path = _data(CAB_IR_SHORT)
    sr = _ir_rate(CAB_IR_SHORT)
    x = _dry(sr, 2)
    gone = str(tmp_path / "moved_away.wav")
    blob = _embedded_blob(ir_path, gone)
    assert len(blob) < 120_000, "keep it below the kernel's 128 KiB limit on one argument"
    y, controls, err = _host(lv2_host, bundle, x, sr, tmp_path,
                             "--state-string", f"{EMBEDDED_KEY}={blob}",
                             "--state", f"{IR_FILE_KEY}={gone}")
    assert controls.get("status") == 1.0, (controls, err)
    e = max_rel_err(y, _reference(x, ir_path, sr))
    print(f"embedded IR: max error {e:.3g} ({_db(e)})")
    assert e < TOL


@pytest.mark.parametrize("block", [1, 64, 1000, 4096, 10000])
def test_any_block_size(lv2_host, bundle, tmp_path, block):
    """The output does not depend on the host's block size (1 frame, odd, above the plugin's
    4096-frame scratch)."""
    sr = _ir_rate(CAB_IR)
    seconds = 0.25 if block == 1 else SECONDS
    x = _dry(sr, 2)[:, : int(seconds * sr)]
    ir_path = _data(CAB_IR)
    y, controls, _ = _host(lv2_host, bundle, x, sr, tmp_path, "--block", str(block),
                           "--state", f"{IR_FILE_KEY}={ir_path}")
    assert controls.get("status") == 1.0
    e = max_rel_err(y, _reference(x, ir_path, sr))
    print(f"block {block}: max error {e:.3g} ({_db(e)})")
    assert e < TOL


def test_mix_and_gain(lv2_host, bundle, tmp_path):
    """out = (1 - mix) * dry + mix * gain * wet, from the first sample on (a session that starts
    with mix=0.25 must not start with a ramp from the defaults)."""
    sr = _ir_rate(MONO_IR)
    x = _dry(sr, 2)
    ir_path = _data(MONO_IR)
    y, _, _ = _host(lv2_host, bundle, x, sr, tmp_path, "--control", "mix=0.25",
                    "--control", "gain_db=-6", "--state", f"{IR_FILE_KEY}={ir_path}")
    ref = _reference(x, ir_path, sr, mix=0.25, gain_db=-6.0)
    e = max_rel_err(y, ref)
    e_after = max_rel_err(y[:, 256:], ref[:, 256:])
    print(f"mix 0.25, -6 dB: max error {e:.3g} ({_db(e)}); after the first block {e_after:.3g}")
    assert e_after < TOL, "the mix/gain law is wrong"
    assert e < TOL, "the first block differs: mix/gain ramp from the defaults at the start"


def test_ir_set_by_patch_message(lv2_host, bundle, tmp_path):
    """The IR file set while running, by a patch:Set event (DPF hands it to the worker), before
    the first block: the same output as through the state interface."""
    sr = _ir_rate(STEREO_IR)
    x = _dry(sr, 2)
    ir_path = _data(STEREO_IR)
    y, controls, err = _host(lv2_host, bundle, x, sr, tmp_path, "--patch-set",
                             f"0:{IR_FILE_KEY}={ir_path}")
    assert controls.get("status") == 1.0, (controls, err)
    e = max_rel_err(y, _reference(x, ir_path, sr))
    print(f"patch:Set: max error {e:.3g} ({_db(e)})")
    assert e < TOL


def test_resamples_the_ir_to_the_host_rate(lv2_host, bundle, tmp_path):
    """A 48 kHz IR in a 44.1 kHz host is resampled (soxr VHQ, scaled by the rate ratio), as
    irforge.convolve(sample_rate=...) does (through python-soxr, the same soxr recipe)."""
    sr = 44100
    assert _ir_rate(IR_48K) == 48000
    x = _dry(sr, 2)
    ir_path = _data(IR_48K)
    y, controls, err = _host(lv2_host, bundle, x, sr, tmp_path,
                             "--state", f"{IR_FILE_KEY}={ir_path}")
    assert controls.get("status") == 1.0, (controls, err)
    e = max_rel_err(y, _reference(x, ir_path, sr))
    print(f"48 kHz IR at 44.1 kHz: max error {e:.3g} ({_db(e)})")
    assert e < TOL, f"max error {e:.3g} ({_db(e)}): the IR is not resampled as irforge does"


# ---- without an IR: the dry signal, and the host keeps going ---------------------------------

def test_no_ir_is_dry(lv2_host, bundle, tmp_path):
    sr = 44100
    x = _dry(sr, 2)
    y, controls, _ = _host(lv2_host, bundle, x, sr, tmp_path)
    assert controls.get("status") == 0.0, controls
    assert np.max(np.abs(y - x)) <= DRY_TOL


@pytest.mark.parametrize("in_channels", [2, 1])
def test_missing_ir_file_is_dry(lv2_host, bundle, tmp_path, in_channels):
    """A missing IR file: the plugin runs on (host exit 0), outputs the input unchanged and says
    the load failed (status 2)."""
    sr = 44100
    x = _dry(sr, in_channels)
    missing = tmp_path / "no_such_ir.wav"
    y, controls, err = _host(lv2_host, bundle, x, sr, tmp_path,
                             "--state", f"{IR_FILE_KEY}={missing}")
    assert controls.get("status") == 2.0, (controls, err)
    err_max = float(np.max(np.abs(y - _as_plugin_input(x))))
    print(f"missing IR, {in_channels}-channel input: max |out - in| = {err_max:.3g}")
    assert err_max <= DRY_TOL


def test_not_a_sound_file_is_dry(lv2_host, bundle, tmp_path):
    sr = 44100
    x = _dry(sr, 2)
    bad = tmp_path / "not_audio.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(64))
    y, controls, _ = _host(lv2_host, bundle, x, sr, tmp_path, "--state", f"{IR_FILE_KEY}={bad}")
    assert controls.get("status") == 2.0, controls
    assert np.max(np.abs(y - x)) <= DRY_TOL


def test_a_later_failed_load_goes_dry(lv2_host, bundle, tmp_path):
    """IR A from the session, then while running IR B (a crossfade) and, during that fade, a
    missing file: the last request wins. After both fades the output is the dry input."""
    sr = _ir_rate(CAB_IR)
    x = _dry(sr, 2)
    a, b = _data(CAB_IR), _data(CAB_IR_2)
    missing = tmp_path / "gone.wav"
    y, controls, err = _host(lv2_host, bundle, x, sr, tmp_path, "--state", f"{IR_FILE_KEY}={a}",
                             "--patch-set", f"8192:{IR_FILE_KEY}={b}",
                             "--patch-set", f"8704:{IR_FILE_KEY}={missing}")
    assert controls.get("status") == 2.0, (controls, err)
    tail = slice(8704 + 4 * 2048, None)  # well after any crossfade the plugin runs
    e = float(np.max(np.abs(y[:, tail] - x[:, tail])))
    print(f"A, then B, then a missing file: max |out - in| at the end {e:.3g}")
    assert e <= DRY_TOL, "the last IR request (a failed load: dry) never took effect"


# ---- the host's own failures are failures ----------------------------------------------------

def test_host_fails_clearly(lv2_host, bundle, tmp_path):
    sr = 44100
    x = _dry(sr, 2)[:, :4410]
    _, _, err = _host(lv2_host, bundle, x, sr, tmp_path, "--state", f"{PLUGIN_URI}#no_such_key=/x",
                      name="badkey", expect_rc=1)
    assert "never asked for state key" in err and IR_FILE_KEY in err, err
    _, _, err = _host(lv2_host, bundle, x, sr, tmp_path, "--control", "no_such_port=1",
                      name="badport", expect_rc=1)
    assert "no_such_port" in err
    _, _, err = _host(lv2_host, bundle, x, sr, tmp_path, "--block", "0", name="badblock",
                      expect_rc=2)
    assert "--block" in err
    r = _run([lv2_host, "--bundle", bundle, "--uri", PLUGIN_URI + "-nope", "--in",
              tmp_path / "badkey_in.wav", "--out", tmp_path / "nope.wav"])
    assert r.returncode == 1 and "not found in bundle" in r.stderr, r.stderr
    x3 = np.concatenate([x, x[:1]])
    _, _, err = _host(lv2_host, bundle, x3, sr, tmp_path, name="threech", expect_rc=1)
    assert "3 channels" in err, err
