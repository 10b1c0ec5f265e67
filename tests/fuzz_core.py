"""Random-argument fuzzing of the C++ extension irforge._core and of the public API.

Every binding is called with random arrays (dtypes, shapes, strides, NaN/Inf, empty and
0-d arrays) and random scalars (negative, zero, huge, NaN), over and over. A call may return
or raise ValueError / TypeError / OverflowError (pybind11's refusal of an out-of-range
integer); anything else is a finding: another exception type, a crash of the process, or a
call that does not return within the watchdog's time.

The calls run in a child process (``python tests/fuzz_core.py --child SEED START COUNT``)
that logs each call before making it; the parent (``run``) restarts the child after a crash
or a hang, one call later, so one run reports every finding. Run it alone for a long session:

    .venv/bin/python tests/fuzz_core.py --calls 20000 --seed 1

The child caps its address space, so an absurd size that is not refused before allocating
shows up as MemoryError (a finding), not as the machine swapping.
"""
from __future__ import annotations

import argparse
import faulthandler
import json
import os
import random
import resource
import subprocess
import sys
import tempfile

import numpy as np

DTYPES = [np.float32, np.float64, np.int16, np.int64, np.complex64, np.complex128, np.bool_, np.uint8]
SIZES = [0, 1, 2, 3, 15, 16, 17, 64, 100, 1024, 4097]
INTS = [-(2**63), -(2**31), -1, 0, 1, 2, 3, 7, 16, 64, 1000, 4096, 2**22, 2**31, 2**40, 2**63 - 1, 2**64 - 1]
FLOATS = [float("nan"), float("inf"), -float("inf"), -1.0, 0.0, 1e-300, 0.5, 1.0, 1e300]
ALLOWED = (ValueError, TypeError, OverflowError)
WATCHDOG_S = 20.0
UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")


def _array(rng: random.Random, *, ndim=None, dtype=None, size=None) -> np.ndarray:
    ndim = rng.choice([0, 1, 1, 2, 2, 2, 3]) if ndim is None else ndim
    dtype = rng.choice(DTYPES + [np.float32] * 6) if dtype is None else dtype
    shape = tuple(rng.choice(SIZES[:8]) if size is None else size for _ in range(ndim))
    nrng = np.random.default_rng(rng.randrange(2**32))
    a = nrng.standard_normal(shape) * rng.choice([1e-40, 1e-3, 1.0, 1e30])
    if rng.random() < 0.2 and a.size:
        a.flat[nrng.integers(0, a.size, max(1, a.size // 10))] = rng.choice([np.nan, np.inf, -np.inf])
    a = a.astype(dtype) if np.dtype(dtype).kind != "c" else (a + 1j * a).astype(dtype)
    if rng.random() < 0.25 and a.ndim >= 1 and a.shape[-1] > 1:
        a = a[..., ::2]  # non-contiguous
    if rng.random() < 0.1 and a.ndim == 2:
        a = a.T  # Fortran order
    if rng.random() < 0.1:
        a = a.astype(a.dtype.newbyteorder(">"))
    return a


def _signal(rng: random.Random) -> np.ndarray:
    """Mostly well-formed (channels, samples) float32, sometimes anything."""
    if rng.random() < 0.3:
        return _array(rng)
    ch = rng.choice([1, 1, 2, 4])
    n = rng.choice([0, 1, 31, 100, 2048, 5000])
    return _array(rng, ndim=2, dtype=np.float32, size=None) if rng.random() < 0.1 else \
        np.random.default_rng(rng.randrange(2**32)).standard_normal((ch, n)).astype(np.float32)


def _row(a: np.ndarray) -> np.ndarray:
    """The first row of a (channels, samples) array; anything else as it is."""
    return a[0] if a.ndim >= 2 and a.shape[0] else a


def _window(rng: random.Random) -> np.ndarray:
    if rng.random() < 0.3:
        return _array(rng)
    n = rng.choice([0, 1, 8, 16, 64, 100, 256, 1024])
    return np.hanning(n).astype(rng.choice([np.float32, np.float64]))


def _int(rng: random.Random) -> int:
    return rng.choice(INTS) if rng.random() < 0.5 else rng.randrange(0, 5000)


def _small(rng: random.Random) -> int:
    return rng.choice([0, 1, 2, 3, 8, 16, 64, 256]) if rng.random() < 0.8 else rng.choice(INTS)


def _routes(rng: random.Random):
    k = rng.choice([0, 1, 2, 4])
    return [(_small(rng) % 5 if rng.random() < 0.9 else _int(rng), _small(rng) % 3, _small(rng) % 5)
            for _ in range(k)]


def _spectrum(rng: random.Random) -> np.ndarray:
    if rng.random() < 0.3:
        return _array(rng)
    rows, n = rng.choice([1, 2]), rng.choice([16, 64, 256, 1000])
    frames = rng.choice([0, 1, 5])
    shape = (rows, frames, n // 2 + 1) if rng.random() < 0.5 else (rows, n // 2 + 1)
    g = np.random.default_rng(rng.randrange(2**32))
    return (g.standard_normal(shape) + 1j * g.standard_normal(shape)).astype(np.complex64)


def _call_specs(core):
    """name -> function(rng) that makes the call (returns the callable's result)."""
    def fb(rng):
        nb = rng.choice([0, 1, 10, 100])
        p = _array(rng) if rng.random() < 0.3 else np.abs(np.random.default_rng(1).standard_normal((2, nb)))
        r = _array(rng) if rng.random() < 0.3 else np.abs(np.random.default_rng(2).standard_normal(nb))
        edges = _array(rng, dtype=np.int64) if rng.random() < 0.3 else np.array(
            sorted(rng.randrange(-2, nb + 3) for _ in range(rng.choice([0, 1, 3]))), np.int64)
        nbands = max(len(edges) - 1, 0)
        vec = lambda: _array(rng) if rng.random() < 0.3 else np.abs(np.random.default_rng(3).standard_normal((2, nbands)))  # noqa: E731
        act = _array(rng, dtype=np.bool_) if rng.random() < 0.3 else np.ones((2, nbands), bool)
        return core.band_fit(p, r, edges, vec(), vec(), vec(), vec(), act, _small(rng), _small(rng))

    def engine(rng):
        e = core.Engine(_signal(rng), _routes(rng), _small(rng), _small(rng), _int(rng),
                        _int(rng) if rng.random() < 0.5 else 0)
        for _ in range(3):
            e.process(_signal(rng))
            e.set_gains(rng.choice(FLOATS), rng.choice(FLOATS))
        e.reset()
        return e.plan

    return {
        "rfft": lambda rng: core.rfft(_array(rng) if rng.random() < 0.5 else _signal(rng)),
        "irfft": lambda rng: core.irfft(_spectrum(rng), _int(rng)),
        "rdft": lambda rng: core.rdft(_array(rng)),
        "irdft": lambda rng: core.irdft(_spectrum(rng), _int(rng)),
        "stft": lambda rng: core.stft(_signal(rng), _window(rng), _int(rng), rng.random() < 0.5, _small(rng)),
        "istft": lambda rng: core.istft(_spectrum(rng), _window(rng), _int(rng), rng.random() < 0.5,
                                        _int(rng) if rng.random() < 0.5 else -1, _small(rng)),
        "stft_rolloff": lambda rng: core.stft_rolloff(_signal(rng), _window(rng), _int(rng),
                                                      rng.random() < 0.5, rng.choice(FLOATS), _small(rng)),
        "xcorr_lags": lambda rng: core.xcorr_lags(_array(rng), _array(rng), _int(rng) - 2**31 * (rng.random() < 0.1),
                                                  _int(rng), _small(rng)),
        "xcorr_window": lambda rng: core.xcorr_window(_row(_signal(rng)) if rng.random() < 0.7 else _array(rng),
                                                      _array(rng, ndim=1, dtype=np.float32),
                                                      -_small(rng), _small(rng), _small(rng)),
        "convolve": lambda rng: core.convolve(_signal(rng), _signal(rng), _routes(rng), _small(rng), _small(rng),
                                              _int(rng) if rng.random() < 0.3 else -1),
        "Engine": engine,
        "power_sum": lambda rng: core.power_sum(_signal(rng), _window(rng), _int(rng), _int(rng), _small(rng)),
        "wola_circular": lambda rng: core.wola_circular(_row(_signal(rng)) if rng.random() < 0.7 else _array(rng),
                                                        _window(rng), _window(rng), _int(rng), _int(rng), _small(rng)),
        "wola_spectra": lambda rng: core.wola_spectra(_row(_signal(rng)) if rng.random() < 0.7 else _array(rng),
                                                      _window(rng), _int(rng), _int(rng), _small(rng)),
        "wola_apply": lambda rng: core.wola_apply(_spectrum(rng), _int(rng), _window(rng), _window(rng),
                                                  _int(rng), _small(rng)),
        "band_fit": fb,
        "fir_decimate": lambda rng: core.fir_decimate(_array(rng), _array(rng), _int(rng), _small(rng)),
        "plan_partitions": lambda rng: core._internal.plan_partitions(_int(rng), _int(rng), _int(rng)),
        "offline_block_size": lambda rng: core._internal.offline_block_size(_int(rng), _int(rng)),
        "packed_circular": lambda rng: core._internal.packed_circular(_array(rng), _array(rng)),
    }


RATES = [48000, 44100, 8000, 0, -1, 0.5, 1e300, float("nan"), 999, 768000]
OPTS = FLOATS + [-100.0, -40.0, 0.1, 2.0, 20.0, 20000.0]


def _audio(rng: random.Random) -> np.ndarray:
    """Mostly plausible audio (1-D or (channels, samples), 0.01-0.5 s), sometimes anything."""
    if rng.random() < 0.25:
        return _array(rng)
    g = np.random.default_rng(rng.randrange(2**32))
    n = rng.choice([0, 1, 100, 2000, 8000, 24000])
    shape = (n,) if rng.random() < 0.5 else (rng.choice([1, 2, 4]), n)
    a = (g.standard_normal(shape) * rng.choice([0.0, 1e-6, 0.1, 10.0])).astype(rng.choice([np.float32, np.float64]))
    return a.T if rng.random() < 0.1 else a


def _ir(rng: random.Random):
    g = np.random.default_rng(rng.randrange(2**32))
    n = rng.choice([1, 2, 64, 1000, 4800])
    h = (g.standard_normal((rng.choice([1, 2, 4]), n)) * np.exp(-np.arange(n) / max(n / 6, 1))).astype(np.float32)
    if rng.random() < 0.3:
        return _audio(rng)
    if rng.random() < 0.5:
        import irforge
        try:
            return irforge.ImpulseResponse(h, sample_rate=rng.choice([48000, 44100]))
        except ALLOWED:
            return h
    return h


def _api_specs():
    import irforge

    def rate(rng):  # mostly valid, so that calls get past validation
        return rng.choice([48000, 44100, 48000]) if rng.random() < 0.8 else rng.choice(RATES)

    def opt(rng):
        return rng.choice([-40.0, 0.1, 20.0, 2.0, 0.5]) if rng.random() < 0.6 else rng.choice(OPTS)

    def ir_method(rng):
        ir = irforge.ImpulseResponse(_ir(rng) if rng.random() < 0.2 else np.r_[1.0, np.zeros(999)] * 0.5,
                                     sample_rate=rate(rng))
        m = rng.choice(["trim", "fade_out", "normalize", "minimum_phase", "resample", "to_mono"])
        if m == "trim":
            return ir.trim(pre_s=opt(rng))
        if m == "fade_out":
            return ir.fade_out(length_s=opt(rng))
        if m == "normalize":
            return ir.normalize(mode=rng.choice(["peak", "rms", "energy", "bogus"]), target_db=opt(rng))
        if m == "resample":
            return ir.resample(rate(rng))
        if m == "to_mono":
            return ir.to_mono(channel=_small(rng) if rng.random() < 0.5 else None)
        return ir.minimum_phase()

    def convolver(rng):
        fx = irforge.Convolver(_ir(rng), sample_rate=rate(rng), mix=opt(rng), gain_db=opt(rng))
        for _ in range(2):
            fx.process(_audio(rng), rate(rng), buffer_size=_small(rng) or 1, reset=rng.random() < 0.5)
        return fx.tail_samples

    def sweep(rng):
        kind = rng.choice(["exponential", "linear", "mls", "complex_pair"])
        if kind == "mls":
            return irforge.sweeps.mls(_small(rng), sample_rate=rate(rng))
        if kind == "complex_pair":
            return irforge.sweeps.complex_pair(rng.choice([0.1, 0.0, -1.0, 1e9, float("nan")]), sample_rate=rate(rng))
        f = getattr(irforge.sweeps, kind)
        return f(opt(rng), opt(rng), rng.choice([0.1, 0.5, 0.0, -1.0, 1e9, float("nan")]), sample_rate=rate(rng))

    def measure(rng):
        sw = irforge.sweeps.exponential(20, 20000, 0.2, sample_rate=48000)
        y = np.convolve(sw.signal, np.r_[0.0, 0.5, 0.25])[: sw.signal.size + rng.choice([0, 100, -100])]
        ex = sw if rng.random() < 0.7 else _audio(rng)
        return irforge.measure_ir(ex, y if rng.random() < 0.7 else _audio(rng), sample_rate=rate(rng),
                                  method=rng.choice(["auto", "inverse", "division", "h1", "cepstral", "bogus"]),
                                  latency=rng.choice(["auto", 0, -5, 2**63, 10**9, float("nan")]),
                                  ir_length_s=rng.choice([None, 0.05, 0.0, -1.0, 1e9, float("nan")]),
                                  regularization_db=opt(rng))

    return {
        "api.convolve": lambda rng: irforge.convolve(_audio(rng), _ir(rng), sample_rate=rate(rng),
                                                     mode=rng.choice(["full", "same", "x"]),
                                                     threads=rng.choice([None, 1, 0, -1, 10**6])),
        "api.Convolver": convolver,
        "api.deconvolve": lambda rng: irforge.deconvolve(
            _audio(rng), _ir(rng), sample_rate=rate(rng),
            method=rng.choice(["auto", "wiener", "tikhonov", "kirkeby", "naive", "stft", "threshold", "x"]),
            lam=rng.choice([None, 0.0, -1.0, 1e-3, float("nan"), float("inf")]),
            regularization_db=(opt(rng), opt(rng)), f_low_hz=opt(rng)),
        "api.inverse_filter": lambda rng: irforge.inverse_filter(_ir(rng), sample_rate=rate(rng),
                                                                 f_low_hz=opt(rng), regularization_db=(opt(rng), opt(rng))),
        "api.analyze": lambda rng: irforge.analyze(_ir(rng), sample_rate=rate(rng) if rng.random() < 0.5 else None,
                                                   bands=rng.choice(["octave", "third", None, "x"])),
        "api.shape_decay": lambda rng: irforge.shape_decay(_ir(rng), scale=opt(rng), sample_rate=rate(rng)),
        "api.blind_t60": lambda rng: irforge.blind_t60(_audio(rng), sample_rate=rate(rng)),
        "api.ImpulseResponse": ir_method,
        "api.sweeps": sweep,
        "api.measure_ir": measure,
        "api.metrics": lambda rng: irforge.metrics.si_sdr(_audio(rng), _audio(rng)),
    }


def _child(seed: int, start: int, count: int, log_path: str, target: str = "core") -> None:
    from irforge import _core

    # a finding, not a swap storm: absurd allocations fail as MemoryError (under ASan, which
    # reserves terabytes of shadow address space, allocator_may_return_null does that instead)
    if not UNDER_ASAN:
        resource.setrlimit(resource.RLIMIT_AS, (6 << 30, resource.RLIM_INFINITY))
    import warnings

    warnings.simplefilter("ignore")  # warnings are not findings here
    specs = _call_specs(_core) if target == "core" else _api_specs()
    names = sorted(specs)
    with open(log_path, "a", buffering=1) as log:
        for i in range(start, start + count):
            rng = random.Random(seed * 1_000_003 + i)
            name = names[rng.randrange(len(names))]
            log.write(json.dumps({"i": i, "name": name, "state": "call"}) + "\n")
            faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
            try:
                specs[name](rng)
                outcome = "ok"
            except ALLOWED:
                outcome = "refused"
            except BaseException as exc:  # noqa: BLE001 - everything else is a finding
                outcome = f"{type(exc).__name__}: {str(exc)[:200]}"
            faulthandler.cancel_dump_traceback_later()
            log.write(json.dumps({"i": i, "name": name, "state": outcome}) + "\n")


def run(calls: int, seed: int, timeout_s: float = 600.0, target: str = "core") -> dict:
    """Fuzz ``calls`` calls; returns counts and the findings (each with the call's index and name)."""
    fd, log_path = tempfile.mkstemp(prefix="irforge-fuzz-", suffix=".jsonl")
    os.close(fd)
    findings, done, start = [], {}, 0
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    if UNDER_ASAN:
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":allocator_may_return_null=1"
    try:
        while start < calls:
            try:
                p = subprocess.run([sys.executable, __file__, "--child", str(seed), str(start),
                                    str(calls - start), log_path, target], capture_output=True, text=True,
                                   timeout=timeout_s, env=env)
                rc, err = p.returncode, p.stderr
            except subprocess.TimeoutExpired:
                rc, err = "timeout", ""
            last = None
            with open(log_path) as f:
                for line in f:
                    rec = json.loads(line)
                    last = rec
                    if rec["state"] != "call":
                        done[rec["i"]] = rec
            if rc == 0:
                break
            if last is None or last["state"] != "call":  # died outside a call (import, say)
                findings.append({"i": start, "name": "<child>", "state": f"exit {rc}: {err[-300:]}"})
                break
            kind = "hang (watchdog)" if "Timeout" in err or rc == "timeout" else f"crash (exit {rc})"
            findings.append({"i": last["i"], "name": last["name"], "state": kind})
            done[last["i"]] = findings[-1]
            start = last["i"] + 1
    finally:
        os.unlink(log_path)
    findings += [r for r in done.values() if r["state"] not in ("ok", "refused") and r not in findings]
    counts: dict[str, int] = {}
    for r in done.values():
        counts[r["name"]] = counts.get(r["name"], 0) + 1
    return {"calls": len(done), "ok": sum(r["state"] == "ok" for r in done.values()),
            "refused": sum(r["state"] == "refused" for r in done.values()),
            "findings": sorted(findings, key=lambda r: r["i"]), "per_function": counts}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--target", choices=["core", "api"], default="core",
                    help="the C++ bindings (core) or the public Python API (api)")
    ap.add_argument("--child", nargs=5, metavar=("SEED", "START", "COUNT", "LOG", "TARGET"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        _child(int(a.child[0]), int(a.child[1]), int(a.child[2]), a.child[3], a.child[4])
        return 0
    res = run(a.calls, a.seed, target=a.target)
    print(f"{res['calls']} calls: {res['ok']} returned, {res['refused']} refused, "
          f"{len(res['findings'])} findings")
    for f in res["findings"]:
        print(f"  call {f['i']} {f['name']}: {f['state']}  (replay: --seed {a.seed}, index {f['i']})")
    return 1 if res["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
