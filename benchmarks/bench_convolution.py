#!/usr/bin/env python3
"""Convolution benchmarks: irforge against the engines users would otherwise reach for.

Every number is measured in the same run, so the ratios ours/peer are what matters; the
absolute real-time factors depend on the machine.

Sections (``--only offline|stream|threads``, comma-separated for several; default all)
---------------------------------------------------------------------------------------
1. offline  -- stereo, whole signal: ``irforge.convolve(x, ir)`` (mode="full") vs
   ``scipy.signal.oaconvolve`` (float32, axes=-1, one thread) vs ``pedalboard.Convolution``
   (IR written as a float32 WAV; pedalboard drops the tail: its output has n samples, the
   others n+m-1 -- timed anyway, it is the peer users have).  IRs: synthetic 0.2 s and 4 s
   (noise, exponential decay to -60 dB at the end, unit energy) and two real IRs from
   ../shared/data resampled 44.1 -> 48 kHz with soxr (stereo cabinet, stereo 6 s hall).
   Targets: ours >= 4x scipy and >= 6x pedalboard.
2. stream   -- mono, ONE core: ``irforge.Convolver(ir).process(x, 48000, buffer_size=B)``
   for B in 64, 256, 1024 vs zita-convolver (``../shared/bench/zita_bench`` run under
   ``taskset -c 0``); all threads of this process are pinned to core 0 for ours.
   Synthetic 0.2 s and 4 s IRs (the zita harness generates its own).  Target: ours faster
   than zita in every cell.
3. threads  -- 8 mono stems, each through its own Convolver (0.2 s IR, B=1024, process() on
   the whole stem), serial vs ThreadPoolExecutor(max_workers=2).  Target: speed-up >= 1.6
   on a 2-core machine.  pedalboard is run the same way as a calibration of what this
   machine gives.  Plus irforge.convolve with 1 vs 2 threads if it has a
   threads=/workers= keyword.

Method
------
* RTF (real-time factor) = seconds of audio / wall seconds (a stereo signal counts once; the
  threads section counts 8 stems x N).  Ratios ours/peer > 1: we are faster.
* Untimed warm-up (at least one call, more until 0.25 s have passed), then the median of
  ``--reps`` timed calls.  "cpu RTF" uses the process CPU time (all threads): cpu RTF < RTF
  means the call used more than one core.  irforge.convolve uses all cores by default, the
  peers one; the "irforge (threads=1)" row gives the per-core ratios.
* Construction (Convolver, pedalboard plugin, zita configure) is not in the RTFs; the
  streaming section prints the set-up costs separately.
* "other load" = CPU, in cores, that OTHER processes used during a measurement (/proc/stat,
  n/a for windows < 0.2 s); "!" marks disturbed cells.  On a shared machine use
  ``--wait-idle 60``.  OPENBLAS_NUM_THREADS / OMP_NUM_THREADS default to 1 in this process:
  idle BLAS workers busy-wait and would steal the second core from the next measurement.
* Every irforge output is checked (shape, dtype float32, rel_rms = rms error / rms of a
  float64 FFT reference; tolerance max(1e-5, 10x scipy's float32 error)), plus a few cheap
  API probes (1-D in/out, float64 input, ImpulseResponse, stereo IRs, odd lengths, two
  process() calls with reset=False).  Problems found in irforge are listed at the end.

Commands (from the project root, /work/main)
--------------------------------------------
One-time setup of the zita peer (Debian; as root):

    apt-get update && apt-get install -y libzita-convolver-dev libfftw3-dev
    sh ../shared/bench/build.sh                 # -> /tmp/convbench/zita_bench

Run:

    .venv/bin/python benchmarks/bench_convolution.py                  # everything, N=60 s, 5 reps
    .venv/bin/python benchmarks/bench_convolution.py --quick          # N=10 s, 3 reps
    .venv/bin/python benchmarks/bench_convolution.py --only offline
    .venv/bin/python benchmarks/bench_convolution.py --only stream,threads --N 30 --reps 7
    .venv/bin/python benchmarks/bench_convolution.py --out /tmp/conv.json   # also save the JSON
    .venv/bin/python benchmarks/bench_convolution.py --wait-idle 60         # on a shared machine

Other options: ``--zita-bin PATH`` (default /tmp/convbench/zita_bench, built automatically
with ../shared/bench/build.sh if missing), ``--data DIR`` (real IRs, default ../shared/data or
$IRFORGE_DATA), ``--no-real`` (synthetic IRs only), ``--wait-idle S`` (on a shared machine:
before each measurement wait up to S s until other processes leave the CPU alone, and
re-measure a disturbed cell up to ``--retries`` times).

Output: one table per section and, last, a single ``RESULT {json}`` line with every
measurement (for BENCHMARKS.md).  If ``import irforge`` fails the peers still run and irforge
is reported as unavailable with the import error.
"""

from __future__ import annotations

import argparse
import inspect
import os

# numpy/scipy's OpenBLAS workers busy-wait after any BLAS call and then steal the second
# core from whatever is being timed next; nothing benchmarked here uses BLAS.
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_v, "1")
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

FS = C.FS
SECTIONS = ("offline", "stream", "threads")
SYN_LENGTHS = (0.2, 4.0)
REAL_IRS = (  # (name, path under the data dir, kind)
    ("real cab (Modern_UK)", "cab_ir/adventurekid_Modern_UK_001.wav", "cab"),
    ("real hall (Spokane)", "room_ir/openair_SpokaneWomansClub_stereo_44k.wav", "room"),
)
BLOCKS = (64, 256, 1024)
N_STEMS = 8
STEM_B = 1024
TARGET_VS_SCIPY = 4.0
TARGET_VS_PEDALBOARD = 6.0
TARGET_VS_ZITA = 1.0          # strictly faster
TARGET_THREADS = 1.6
THREAD_KEYWORDS = ("threads", "workers", "n_threads", "num_threads", "n_workers", "max_workers")
ZITA_DEFAULT = os.environ.get("CONVBENCH_BIN", "/tmp/convbench") + "/zita_bench"
SHARED_BENCH = C.PROJECT_ROOT.parent / "shared" / "bench"
LOAD_HDR = "other load"     # cores used by other processes during the measurement
LOAD_WARN = 0.15


class Ctx:
    """Run-wide state: options, irforge module (or import error), collected problems."""

    def __init__(self, args):
        self.args = args
        self.N = args.N
        self.reps = args.reps
        self.n = int(round(args.N * FS))
        self.irf, self.irf_error = C.import_irforge()
        self.problems: list[str] = []
        self.max_foreign = 0.0
        self.waits: list[dict] = []
        self.n_loaded = 0
        self.tmp = tempfile.TemporaryDirectory(prefix="irforge_bench_")

    def problem(self, msg: str) -> None:
        if msg not in self.problems:
            self.problems.append(msg)
            print(f"  !! irforge problem: {msg}", flush=True)

    def settle(self, what=""):
        """With --wait-idle S: wait (up to S s) until other processes leave the CPU alone."""
        if self.args.wait_idle > 0:
            w = C.wait_for_idle(self.args.wait_idle, LOAD_WARN)
            self.waits.append(dict(what=what, **w))
            if w["waited_s"] > 1.5:
                print(f"    (waited {w['waited_s']:.0f} s for an idle machine before {what}: "
                      f"other load now {C.fmt(w['load'])} cores)", flush=True)

    def measure(self, what, fn, runner=None):
        """settle(), then time ``fn`` (C.time_call, or ``runner()`` returning a dict with
        ``foreign_cores``); with --wait-idle, repeat up to --retries times while other
        processes used > LOAD_WARN cores meanwhile, keeping the least disturbed attempt."""
        best = None
        for attempt in range(1 + (self.args.retries if self.args.wait_idle > 0 else 0)):
            self.settle(what)
            t = runner() if runner else C.time_call(fn, self.reps)
            t["attempts"] = attempt + 1
            f = t.get("foreign_cores")
            if best is None or (f is not None and (best.get("foreign_cores") or 0) > f):
                best = t
            if f is None or f <= LOAD_WARN:
                break
            print(f"    ({what}: other processes used {f:.2f} cores meanwhile; measuring again)",
                  flush=True)
        return best

    def load(self, foreign_cores):
        """Table cell for the CPU other processes used during a measurement; remembers the
        worst one for the end-of-run warning."""
        if foreign_cores is None:
            return None
        self.max_foreign = max(self.max_foreign, foreign_cores)
        if foreign_cores > LOAD_WARN:
            self.n_loaded += 1
            return f"{foreign_cores:.2f} !"
        return f"{foreign_cores:.2f}"

    @property
    def ours_label(self) -> str:
        return "irforge" if self.irf else "irforge (unavailable)"


# ----------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------
def ratio(a, b):
    return a / b if (a is not None and b) else None


def met(value, target, strict=False):
    if value is None:
        return None
    return value > target if strict else value >= target


def thread_keyword(irf):
    """Name of irforge.convolve's thread-count keyword, or None."""
    try:
        params = inspect.signature(irf.convolve).parameters
    except (TypeError, ValueError):
        return None
    return next((k for k in THREAD_KEYWORDS if k in params), None)


def build_irs(ctx) -> list[dict]:
    """Synthetic IRs (1-D) and, if available, real IRs ((2, m) after soxr resampling)."""
    irs = [dict(name=f"synthetic {L:g} s", kind="synthetic", seconds=L,
                data=C.make_ir(int(round(L * FS)), seed=2)) for L in SYN_LENGTHS]
    if ctx.args.no_real:
        return irs
    data_dir = Path(ctx.args.data)
    for name, rel, kind in REAL_IRS:
        p = data_dir / rel
        if not p.exists():
            print(f"  (real IR {p} not found: skipped)")
            continue
        h = C.load_real_ir(p, FS)
        irs.append(dict(name=name, kind=kind, seconds=h.shape[-1] / FS, data=h, file=str(rel)))
    return irs


def ir_len(h) -> int:
    return int(np.asarray(h).shape[-1])


def ir_shape_str(h) -> str:
    h = np.asarray(h)
    return f"{h.shape[0]}x{h.shape[1]}" if h.ndim == 2 else f"1x{h.shape[0]}"


def check_output(ctx, what, y, expect_shape, ref, scipy_rel=None):
    """Shape / dtype / accuracy check of an irforge output; records problems.  Returns stats."""
    y = np.asarray(y)
    info = dict(shape=list(y.shape), dtype=str(y.dtype))
    if tuple(y.shape) != tuple(expect_shape):
        ctx.problem(f"{what}: output shape {tuple(y.shape)}, expected {tuple(expect_shape)}")
    if y.dtype != np.float32:
        ctx.problem(f"{what}: output dtype {y.dtype}, expected float32")
    if not np.all(np.isfinite(y)):
        ctx.problem(f"{what}: output contains NaN/Inf")
        return info
    if ref is not None and y.size:
        yy = y if y.ndim == len(ref.shape) else y.reshape(ref.shape[:-1] + (-1,))
        e = C.error_stats(yy, ref)
        info.update({k: float(f"{v:.4g}") for k, v in e.items()})
        # float32 FFT convolution: ~1e-7..1e-6 relative; allow 10x scipy's own float32 error
        tol = max(1e-5, 10 * scipy_rel) if scipy_rel else 1e-5
        if not (e["rel_rms"] <= tol):
            lag = C.estimate_lag(yy.reshape(-1, yy.shape[-1])[0], ref.reshape(-1, ref.shape[-1])[0])
            info["lag_vs_ref"] = lag
            ctx.problem(f"{what}: wrong output, rel_rms error {e['rel_rms']:.3g} (tolerance "
                        f"{tol:.1g}), max_abs {e['max_abs']:.3g}, best-match lag {lag} samples")
    return info


def pedalboard_fit(y, ref) -> dict:
    """pedalboard normalises/trims the IR: report lag and the error after a least-squares gain."""
    y = np.asarray(y, dtype=np.float64)
    r = np.asarray(ref, dtype=np.float64)[..., : y.shape[-1]]
    lag = C.estimate_lag(y.reshape(-1, y.shape[-1])[0], r.reshape(-1, r.shape[-1])[0])
    yy = y.reshape(-1)
    rr = r.reshape(-1)
    yy2 = float(np.sum(yy * yy))          # no np.dot: keep BLAS threads out of the timings
    g = float(np.sum(yy * rr)) / yy2 if yy2 > 0 else float("nan")
    e = C.error_stats(g * y, r)
    return dict(out_shape=list(y.shape), lag=lag, gain_fit=round(g, 4),
                rel_rms_after_gain=float(f"{e['rel_rms']:.3g}"))


def call_ours(ctx, what, fn):
    """Run fn() (a timing closure around irforge); return (timing dict or None, error str)."""
    if ctx.irf is None:
        return None, f"unavailable: {ctx.irf_error}"
    try:
        return ctx.measure(what, fn), None
    except Exception as e:
        err = C.short_error(e)
        ctx.problem(f"{what}: raised {err}")
        return None, err


# ----------------------------------------------------------------------------------------
# 1. offline
# ----------------------------------------------------------------------------------------
def section_offline(ctx, irs) -> list[dict]:
    import pedalboard
    import scipy.signal as ss

    print(f"\n== 1. offline, stereo, {ctx.N:g} s @ {FS} Hz, mode='full', {ctx.reps} reps ==",
          flush=True)
    x = C.make_noise(ctx.n, seed=1, channels=2)
    out, table = [], []
    for ir in irs:
        h = ir["data"]
        m = ir_len(h)
        h2 = h[None, :] if h.ndim == 1 else h
        ref = C.reference_convolve(x, h2)
        full_shape = (2, ctx.n + m - 1)
        rec = dict(ir=ir["name"], ir_kind=ir["kind"], ir_shape=ir_shape_str(h), ir_samples=m)

        # scipy (first, so its float32 error is the yardstick for ours)
        t = ctx.measure(f"scipy {ir['name']}", lambda: ss.oaconvolve(x, h2, axes=-1))
        y = t.pop("out")
        sc = dict(engine="scipy.oaconvolve", rtf=C.rtf(ctx.N, t["wall_med"]),
                  cpu_rtf=C.rtf(ctx.N, t["cpu_med"]), out_dtype=str(y.dtype), **t,
                  **{k: float(f"{v:.4g}") for k, v in C.error_stats(y, ref).items()})
        del y

        # pedalboard (IR file, mix=1.0)
        path = C.write_wav_f32(Path(ctx.tmp.name) / f"ir_{len(out)}.wav", h2, FS)
        conv = pedalboard.Convolution(path, mix=1.0)
        t = ctx.measure(f"pedalboard {ir['name']}", lambda: conv(x, sample_rate=FS))
        y = t.pop("out")
        pb = dict(engine="pedalboard.Convolution", rtf=C.rtf(ctx.N, t["wall_med"]),
                  cpu_rtf=C.rtf(ctx.N, t["cpu_med"]), note="drops the tail (n samples out)",
                  **t, **pedalboard_fit(y, ref))
        del y, conv

        # ours
        t, err = call_ours(ctx, f"convolve(stereo, {ir['name']})", lambda: ctx.irf.convolve(x, h))
        if t is not None:
            y = t.pop("out")
            chk = check_output(ctx, f"convolve(stereo (2,n), IR {ir_shape_str(h)} {ir['name']})",
                               y, full_shape, ref, sc["rel_rms"])
            del y
            ours = dict(engine="irforge.convolve", rtf=C.rtf(ctx.N, t["wall_med"]),
                        cpu_rtf=C.rtf(ctx.N, t["cpu_med"]), **t, **chk)
        else:
            ours = dict(engine="irforge.convolve", rtf=None, error=err)
        # ours on one thread (per-core comparison; the peers use one core)
        kw = thread_keyword(ctx.irf) if ctx.irf is not None and t is not None else None
        if kw:
            t1, err1 = call_ours(ctx, f"convolve(stereo, {ir['name']}, {kw}=1)",
                                 lambda: ctx.irf.convolve(x, h, **{kw: 1}))
            if t1 is not None:
                t1.pop("out")
                ours["one_thread"] = dict(keyword=kw, rtf=C.rtf(ctx.N, t1["wall_med"]),
                                          cpu_rtf=C.rtf(ctx.N, t1["cpu_med"]), **t1)
                ours["one_thread"]["ratio_vs_scipy"] = ratio(ours["one_thread"]["rtf"], sc["rtf"])
                ours["one_thread"]["ratio_vs_pedalboard"] = ratio(ours["one_thread"]["rtf"],
                                                                  pb["rtf"])
            else:
                ours["one_thread"] = dict(keyword=kw, rtf=None, error=err1)
        ours["ratio_vs_scipy"] = ratio(ours["rtf"], sc["rtf"])
        ours["ratio_vs_pedalboard"] = ratio(ours["rtf"], pb["rtf"])
        ours["target_vs_scipy"] = TARGET_VS_SCIPY
        ours["target_vs_pedalboard"] = TARGET_VS_PEDALBOARD
        ours["met_vs_scipy"] = met(ours["ratio_vs_scipy"], TARGET_VS_SCIPY)
        ours["met_vs_pedalboard"] = met(ours["ratio_vs_pedalboard"], TARGET_VS_PEDALBOARD)
        rec.update(irforge=ours, scipy=sc, pedalboard=pb)
        out.append(rec)
        del ref

        label = f"{ir['name']} ({ir_shape_str(h)})"
        table.append([ctx.ours_label if t is not None or ctx.irf is None else "irforge (error)",
                      label, "-", ours["rtf"], ours.get("cpu_rtf"), "-", "-",
                      ctx.load(ours.get("foreign_cores"))])
        o1 = ours.get("one_thread")
        if o1 and o1.get("rtf"):
            table.append([f"irforge ({o1['keyword']}=1)", label, "-", o1["rtf"], o1["cpu_rtf"],
                          f"{_x(o1['ratio_vs_scipy'])} / {_x(o1['ratio_vs_pedalboard'])}",
                          "(per core, info)", ctx.load(o1.get("foreign_cores"))])
        table.append(["scipy.oaconvolve f32", label, "-", sc["rtf"], sc["cpu_rtf"],
                      _x(ours["ratio_vs_scipy"]),
                      f">={TARGET_VS_SCIPY:g}x: {C.fmt(ours['met_vs_scipy'])}",
                      ctx.load(sc.get("foreign_cores"))])
        table.append(["pedalboard.Convolution", label, "-", pb["rtf"], pb["cpu_rtf"],
                      _x(ours["ratio_vs_pedalboard"]),
                      f">={TARGET_VS_PEDALBOARD:g}x: {C.fmt(ours['met_vs_pedalboard'])}",
                      ctx.load(pb.get("foreign_cores"))])
        print(f"  {label}: irforge {C.fmt(ours['rtf'])}  scipy {C.fmt(sc['rtf'])}  "
              f"pedalboard {C.fmt(pb['rtf'])}" + (f"  [{err}]" if err and ctx.irf else ""),
              flush=True)
    C.print_table(["engine", "IR", "B", "RTF", "cpu RTF", "ours/peer", "target met", LOAD_HDR],
                  table,
                  title=f"Offline stereo convolution, N={ctx.N:g} s (RTF = audio s / wall s)")
    print("  irforge: default threads (all cores); the (threads=1) row gives ours/scipy / "
          "ours/pedalboard per core.\n  scipy: one thread, float32, output n+m-1.  "
          "pedalboard: one thread, output n (tail dropped), IR via float32 WAV.")
    if ctx.irf is None:
        print(f"  irforge unavailable: {ctx.irf_error}")
    return out


def _x(r):
    return None if r is None else f"{r:.2f}x"


def _maxload(*timings):
    v = [t.get("foreign_cores") for t in timings if t and t.get("foreign_cores") is not None]
    return max(v) if v else None


# ----------------------------------------------------------------------------------------
# 2. streaming vs zita (one core)
# ----------------------------------------------------------------------------------------
def ensure_zita(ctx) -> tuple[str | None, str | None]:
    zb = ctx.args.zita_bin
    if os.path.exists(zb) and os.access(zb, os.X_OK):
        return zb, None
    build = SHARED_BENCH / "build.sh"
    if not build.exists():
        return None, f"{zb} not found and {build} missing"
    print(f"  building zita_bench with {build} ...", flush=True)
    env = dict(os.environ, CONVBENCH_BIN=str(Path(zb).parent))
    p = subprocess.run(["sh", str(build)], capture_output=True, text=True, env=env)
    if p.returncode != 0 or not os.path.exists(zb):
        tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
        return None, ("build failed (apt-get install -y libzita-convolver-dev libfftw3-dev?): "
                      + " | ".join(tail))
    return zb, None


def run_zita(zb, L, B, N, reps) -> dict:
    cmd = [zb, "--L", f"{L:g}", "--B", str(B), "--N", f"{N:g}", "--reps", str(reps)]
    kw = {}
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "0"] + cmd
    else:  # same effect without taskset
        kw["preexec_fn"] = lambda: os.sched_setaffinity(0, {0})
    mon = C.LoadMonitor()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, **kw)
    load = mon.stop()
    res = None
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            res = line[len("RESULT "):]
    if p.returncode != 0 or res is None:
        raise RuntimeError(f"zita_bench rc={p.returncode}: {(p.stderr or p.stdout).strip()[-300:]}")
    import json

    d = json.loads(res)
    d["cmd"] = " ".join(cmd)
    d["foreign_cores"] = load["foreign_cores"]   # over the whole subprocess, setup included
    return d


def section_stream(ctx) -> dict:
    print(f"\n== 2. streaming, mono, one core, {ctx.N:g} s, B in {BLOCKS}, {ctx.reps} reps ==",
          flush=True)
    zb, zerr = ensure_zita(ctx)
    if zerr:
        print(f"  zita-convolver unavailable: {zerr}")
    x = C.make_noise(ctx.n, seed=1)
    cells = []
    for L in SYN_LENGTHS:
        h = C.make_ir(int(round(L * FS)), seed=2)
        for B in BLOCKS:
            cell = dict(ir=f"synthetic {L:g} s", L=L, B=B)
            if zb:
                try:
                    z = ctx.measure(f"zita L={L:g} B={B}", None,
                                    runner=lambda: run_zita(zb, L, B, ctx.N, ctx.reps))
                    cell["zita"] = dict(rtf=z["rtf"], cpu_rtf=z["cpu_rtf"], wall_med=z["wall_med"],
                                        setup_s=z.get("setup_s"), walls=z.get("walls"),
                                        cmd=z["cmd"],
                                        foreign_cores=z["foreign_cores"], attempts=z["attempts"])
                except Exception as e:
                    cell["zita"] = dict(rtf=None, error=C.short_error(e))
                    print(f"  zita L={L:g} B={B}: {cell['zita']['error']}")
            else:
                cell["zita"] = dict(rtf=None, error=zerr)
            cells.append(cell)
            zr = cell["zita"].get("rtf")
            print(f"  zita L={L:g} B={B}: RTF {C.fmt(zr)}", flush=True)

    # ours, all threads of this process pinned to core 0
    if ctx.irf is not None:
        import time

        with C.pinned({0}) as ok:
            if not ok:
                print("  (could not pin to one core: sched_setaffinity unavailable)")
            for L in SYN_LENGTHS:
                h = C.make_ir(int(round(L * FS)), seed=2)
                ref = C.reference_convolve(x, h)[: ctx.n]
                for B in BLOCKS:
                    cell = next(c for c in cells if c["L"] == L and c["B"] == B)
                    what = f"Convolver(L={L:g}s).process(mono, B={B})"
                    try:
                        t0 = time.perf_counter()
                        fx = ctx.irf.Convolver(h, sample_rate=FS)
                        setup = time.perf_counter() - t0
                    except Exception as e:
                        err = C.short_error(e)
                        ctx.problem(f"Convolver(L={L:g}s) construction raised {err}")
                        cell["irforge"] = dict(rtf=None, error=err)
                        continue
                    t, err = call_ours(ctx, what, lambda: fx.process(x, FS, buffer_size=B,
                                                                      reset=True))
                    if t is None:
                        cell["irforge"] = dict(rtf=None, error=err)
                        continue
                    y = t.pop("out")
                    chk = check_output(ctx, what, y, x.shape, ref)
                    del y
                    cell["irforge"] = dict(rtf=C.rtf(ctx.N, t["wall_med"]),
                                           cpu_rtf=C.rtf(ctx.N, t["cpu_med"]),
                                           construct_s=setup,
                                           **t, **chk)
                    print(f"  irforge L={L:g} B={B}: RTF {C.fmt(cell['irforge']['rtf'])}",
                          flush=True)
                    del fx
                del ref
    for cell in cells:
        ours = cell.setdefault("irforge", dict(rtf=None, error=f"unavailable: {ctx.irf_error}"))
        cell["ratio_vs_zita"] = ratio(ours.get("rtf"), cell["zita"].get("rtf"))
        cell["met"] = met(cell["ratio_vs_zita"], TARGET_VS_ZITA, strict=True)

    table = []
    for cell in cells:
        ir = f"synthetic {cell['L']:g} s"
        o = cell["irforge"]
        table.append([ctx.ours_label if o.get("rtf") or ctx.irf is None else "irforge (error)",
                      ir, cell["B"], o.get("rtf"), o.get("cpu_rtf"), "-", "-",
                      ctx.load(o.get("foreign_cores"))])
        z = cell["zita"]
        table.append(["zita-convolver (1 core)", ir, cell["B"], z.get("rtf"), z.get("cpu_rtf"),
                      _x(cell["ratio_vs_zita"]), f">1x: {C.fmt(cell['met'])}",
                      ctx.load(z.get("foreign_cores"))])
    C.print_table(["engine", "IR", "B", "RTF", "cpu RTF", "ours/peer", "target met", LOAD_HDR],
                  table,
                  title="Streaming mono, one core (taskset -c 0 / sched_setaffinity), "
                        f"N={ctx.N:g} s")
    print("  irforge: one process() call over the whole signal in blocks of B, zero latency.  "
          "zita: Convproc, quantum=minpart=B, maxpart=8192, process(sync=true) per block.")
    srows = []
    for c in cells:
        o, z = c["irforge"], c["zita"]
        build = (o["first_call_s"] - o["wall_med"]) if o.get("first_call_s") is not None else None
        if build is not None:
            o["build_s_est"] = round(max(0.0, build), 6)
        if build is not None or z.get("setup_s") is not None:
            srows.append([f"synthetic {c['L']:g} s", c["B"],
                          None if build is None else f"{1e3 * max(0.0, build):.2f}",
                          None if z.get("setup_s") is None else f"{1e3 * z['setup_s']:.0f}"])
    if srows:
        C.print_table(["IR", "B", "irforge build ms (first call - median)",
                       "zita configure ms (FFTW_MEASURE)"], srows,
                      title="Set-up cost (not in the RTFs above)")
    if ctx.irf is None:
        print(f"  irforge unavailable: {ctx.irf_error}")
    return dict(zita_bin=zb, zita_error=zerr, cells=cells)


# ----------------------------------------------------------------------------------------
# 3. threads
# ----------------------------------------------------------------------------------------
def section_threads(ctx) -> dict:
    import pedalboard

    print(f"\n== 3. threads: {N_STEMS} mono stems x {ctx.N:g} s, 0.2 s IR, B={STEM_B}, "
          f"serial vs 2 worker threads, {ctx.reps} reps ==", flush=True)
    m = int(round(0.2 * FS))
    stems = [C.make_noise(ctx.n, seed=100 + i) for i in range(N_STEMS)]
    hs = [C.make_ir(m, seed=200 + i) for i in range(N_STEMS)]
    audio_s = N_STEMS * ctx.N
    res = dict(stems=N_STEMS, stem_seconds=ctx.N, B=STEM_B, workers=2)
    pool = ThreadPoolExecutor(max_workers=2)
    table = []

    def serial_vs_pool(run_one, objs):
        def serial():
            return [run_one(o, s) for o, s in zip(objs, stems)]

        def parallel():
            return list(pool.map(run_one, objs, stems))

        ts = ctx.measure("threads serial", serial)
        tp = ctx.measure("threads parallel", parallel)
        ys, yp = ts.pop("out"), tp.pop("out")
        return ts, tp, ys, yp

    # pedalboard as calibration (does this machine give 2x to a GIL-free C++ engine?)
    try:
        paths = [C.write_wav_f32(Path(ctx.tmp.name) / f"stem_ir_{i}.wav", h, FS)
                 for i, h in enumerate(hs)]
        pbs = [pedalboard.Convolution(p, mix=1.0) for p in paths]
        ts, tp, ys, yp = serial_vs_pool(
            lambda fx, s: fx(s, sample_rate=FS, buffer_size=STEM_B, reset=True), pbs)
        res["pedalboard"] = dict(serial_rtf=C.rtf(audio_s, ts["wall_med"]),
                                 parallel_rtf=C.rtf(audio_s, tp["wall_med"]),
                                 speedup=ts["wall_med"] / tp["wall_med"],
                                 parallel_cpu_over_wall=tp["cpu_med"] / tp["wall_med"],
                                 serial=ts, parallel=tp)
        del ys, yp, pbs
    except Exception as e:
        res["pedalboard"] = dict(error=C.short_error(e))
    pb = res["pedalboard"]

    # ours
    if ctx.irf is not None:
        what = f"{N_STEMS} Convolvers in 2 threads"
        try:
            fxs = [ctx.irf.Convolver(h, sample_rate=FS) for h in hs]
            ts, tp, ys, yp = serial_vs_pool(
                lambda fx, s: fx.process(s, FS, buffer_size=STEM_B, reset=True), fxs)
            same = all(np.array_equal(a, b) for a, b in zip(ys, yp))
            if not same:
                worst = max(float(np.max(np.abs(np.asarray(a, np.float64) - b)))
                            for a, b in zip(ys, yp))
                ctx.problem(f"{what}: threaded outputs differ from serial ones "
                            f"(max diff {worst:.3g})")
            chk = check_output(ctx, f"Convolver.process(stem 0, B={STEM_B})", ys[0], stems[0].shape,
                               C.reference_convolve(stems[0], hs[0])[: ctx.n])
            res["irforge"] = dict(serial_rtf=C.rtf(audio_s, ts["wall_med"]),
                                  parallel_rtf=C.rtf(audio_s, tp["wall_med"]),
                                  speedup=ts["wall_med"] / tp["wall_med"],
                                  parallel_cpu_over_wall=tp["cpu_med"] / tp["wall_med"],
                                  parallel_equals_serial=same, check_stem0=chk,
                                  serial=ts, parallel=tp)
            del ys, yp, fxs
        except Exception as e:
            err = C.short_error(e)
            ctx.problem(f"{what}: raised {err}")
            res["irforge"] = dict(error=err)
    else:
        res["irforge"] = dict(error=f"unavailable: {ctx.irf_error}")
    o = res["irforge"]
    o["target_speedup"] = TARGET_THREADS
    o["met"] = met(o.get("speedup"), TARGET_THREADS)
    pool.shutdown()

    for name, r in ((ctx.ours_label, o), ("pedalboard.Convolution", pb)):
        table.append([name, "synthetic 0.2 s", STEM_B, r.get("serial_rtf"), r.get("parallel_rtf"),
                      _x(r.get("speedup")),
                      f">={TARGET_THREADS:g}x: {C.fmt(o['met'])}" if r is o else "(calibration)",
                      ctx.load(_maxload(r.get("serial"), r.get("parallel")))])
    C.print_table(["engine", "IR", "B", "RTF serial", "RTF 2 threads", "speed-up", "target met",
                   LOAD_HDR],
                  table, title=f"{N_STEMS} stems x {ctx.N:g} s, own Convolver each, "
                               f"ThreadPoolExecutor(max_workers=2); RTF = {N_STEMS}*N / wall")
    for name, r in (("irforge", o), ("pedalboard", pb)):
        if "error" in r:
            print(f"  {name}: {r['error']}")

    # irforge.convolve with 1 vs 2 threads, if the API has a keyword for it
    res["convolve_threads"] = convolve_threads(ctx)
    return res


def convolve_threads(ctx) -> dict:
    if ctx.irf is None:
        return dict(skipped=f"unavailable: {ctx.irf_error}")
    kw = thread_keyword(ctx.irf)
    if kw is None:
        try:
            sig = str(inspect.signature(ctx.irf.convolve))
        except (TypeError, ValueError):
            sig = "(signature unavailable)"
        msg = f"irforge.convolve{sig} has no thread-count keyword ({'/'.join(THREAD_KEYWORDS)})"
        print(f"  convolve 1 vs 2 threads: skipped ({msg})")
        return dict(skipped=msg)
    x = C.make_noise(ctx.n, seed=1, channels=2)
    out = dict(keyword=kw, rows=[])
    table = []
    for L in SYN_LENGTHS:
        h = C.make_ir(int(round(L * FS)), seed=2)
        row = dict(ir=f"synthetic {L:g} s")
        outs = {}
        for nt in (1, 2):
            t, err = call_ours(ctx, f"convolve({kw}={nt})",
                               lambda: ctx.irf.convolve(x, h, **{kw: nt}))
            if t is None:
                row[f"t{nt}"] = dict(error=err)
                continue
            outs[nt] = t.pop("out")
            row[f"t{nt}"] = dict(rtf=C.rtf(ctx.N, t["wall_med"]),
                                 cpu_rtf=C.rtf(ctx.N, t["cpu_med"]),
                                 **t)
        if len(outs) == 2:   # documented: the result does not depend on the thread count
            row["same_output"] = bool(np.array_equal(outs[1], outs[2]))
            if not row["same_output"]:
                d = np.max(np.abs(outs[1].astype(np.float64) - outs[2])) if (
                    np.shape(outs[1]) == np.shape(outs[2])) else float("nan")
                ctx.problem(f"convolve({kw}=1) and ({kw}=2) give different outputs "
                            f"(max diff {d:.3g}, shapes {np.shape(outs[1])} / {np.shape(outs[2])})")
        del outs
        r1, r2 = row["t1"].get("rtf"), row["t2"].get("rtf")
        row["speedup"] = ratio(r2, r1)
        out["rows"].append(row)
        table.append(["irforge.convolve stereo", row["ir"], r1, r2, _x(row["speedup"]),
                      ctx.load(_maxload(row["t1"], row["t2"]))])
    C.print_table(["engine", "IR", f"RTF {kw}=1", f"RTF {kw}=2", "speed-up", LOAD_HDR], table,
                  title=f"irforge.convolve, stereo, {kw}=1 vs 2")
    return out


# ----------------------------------------------------------------------------------------
# API probes (cheap, untimed): things a user relies on that the timing loops do not cover
# ----------------------------------------------------------------------------------------
def api_probes(ctx) -> list[dict]:
    irf = ctx.irf
    if irf is None:
        return []
    out = []
    x = C.make_noise(4800, seed=5, channels=2)
    h = C.make_ir(480, seed=6)
    ref = C.reference_convolve(x, h)

    def probe(name, fn, expect_shape, refv):
        try:
            y = fn()
            info = check_output(ctx, name, y, expect_shape, refv)
            out.append(dict(probe=name, ok=True, **info))
        except Exception as e:
            err = C.short_error(e)
            ctx.problem(f"{name}: raised {err}")
            out.append(dict(probe=name, ok=False, error=err))

    probe("convolve(1-D audio, 1-D IR)", lambda: irf.convolve(x[0], h), (4800 + 479,), ref[0])
    probe("convolve(float64 audio)", lambda: irf.convolve(x.astype(np.float64), h),
          (2, 4800 + 479), ref)
    if hasattr(irf, "ImpulseResponse"):
        probe("convolve(audio, ImpulseResponse, sample_rate=48000)",
              lambda: irf.convolve(x, irf.ImpulseResponse(h, sample_rate=FS), sample_rate=FS),
              (2, 4800 + 479), ref)
    probe("Convolver(1-D IR).process((2, n), B=64)",
          lambda: irf.Convolver(h, sample_rate=FS).process(x, FS, buffer_size=64, reset=True),
          x.shape, ref[:, :4800])
    probe("Convolver.process(n not a multiple of B=1000)",
          lambda: irf.Convolver(h, sample_rate=FS).process(x[:, :4567], FS, buffer_size=1000,
                                                           reset=True),
          (2, 4567), ref[:, :4567])
    probe("Convolver(1-D IR).process(1-D x, B=256)",
          lambda: irf.Convolver(h, sample_rate=FS).process(x[0], FS, buffer_size=256, reset=True),
          (4800,), ref[0, :4800])
    h2 = np.stack([h, C.make_ir(len(h), seed=7)])     # left / right IRs
    ref2 = C.reference_convolve(x, h2)
    probe("convolve(stereo, 2-channel IR) = per-channel L/R", lambda: irf.convolve(x, h2),
          (2, 4800 + 479), ref2)
    probe("Convolver(2-channel IR).process(stereo, B=128)",
          lambda: irf.Convolver(h2, sample_rate=FS).process(x, FS, buffer_size=128, reset=True),
          x.shape, ref2[:, :4800])

    def two_halves():
        fx = irf.Convolver(h, sample_rate=FS)
        a = fx.process(x[:, :2000], FS, buffer_size=256, reset=True)
        b = fx.process(x[:, 2000:], FS, buffer_size=256, reset=False)
        return np.concatenate([a, b], axis=-1)

    probe("Convolver.process in two calls (reset=False keeps state)", two_halves, x.shape,
          ref[:, :4800])
    return out


# ----------------------------------------------------------------------------------------
def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help="comma-separated subset of: offline, stream, threads (default: all)")
    ap.add_argument("--N", type=float, default=None, help="seconds of audio (default 60)")
    ap.add_argument("--reps", type=int, default=None, help="timed repetitions (default 5)")
    ap.add_argument("--quick", action="store_true", help="N=10, reps=3 (unless given)")
    ap.add_argument("--zita-bin", default=ZITA_DEFAULT)
    ap.add_argument("--data", default=str(C.DATA_DIR), help="folder with cab_ir/ and room_ir/")
    ap.add_argument("--no-real", action="store_true", help="synthetic IRs only")
    ap.add_argument("--wait-idle", type=float, default=0.0, metavar="S",
                    help="before each measurement wait up to S seconds until other processes "
                         f"use < {LOAD_WARN} cores (for shared machines; default 0 = no wait)")
    ap.add_argument("--retries", type=int, default=2,
                    help="with --wait-idle: re-measure a cell up to this many times when other "
                         "processes loaded the CPU during it (default 2)")
    ap.add_argument("--out", default=None, help="also write the RESULT json to this file")
    a = ap.parse_args(argv)
    a.N = a.N if a.N is not None else (10.0 if a.quick else 60.0)
    a.reps = a.reps if a.reps is not None else (3 if a.quick else 5)
    a.only = [s.strip() for s in a.only.split(",") if s.strip()]
    bad = [s for s in a.only if s not in SECTIONS]
    if bad:
        ap.error(f"--only: unknown section(s) {bad}; choose from {SECTIONS}")
    return a


def main(argv=None) -> int:
    args = parse_args(argv)
    ctx = Ctx(args)
    env = C.environment()
    print(f"# irforge convolution benchmark  N={args.N:g} s  reps={args.reps}  "
          f"sections={','.join(args.only)}")
    print(f"# {env['cpu']}, {env['cpu_count']} cpus, python {env['python']}, numpy {env['numpy']}, "
          f"scipy {env['scipy']}, pedalboard {env['pedalboard']}, soxr {env['soxr']}")
    if ctx.irf is None:
        print(f"# irforge: UNAVAILABLE ({ctx.irf_error}); peers only")
        irf_info = dict(available=False, error=ctx.irf_error)
    else:
        irf_info = dict(available=True, version=getattr(ctx.irf, "__version__", "?"),
                        path=getattr(ctx.irf, "__file__", "?"))
        for name in ("convolve", "Convolver"):
            try:
                irf_info[f"{name}_signature"] = str(inspect.signature(getattr(ctx.irf, name)))
            except Exception:
                pass
        print(f"# irforge {irf_info['version']} from {irf_info['path']}")

    run_load = C.LoadMonitor()
    result = dict(benchmark="convolution", N=args.N, reps=args.reps, sample_rate=FS,
                  sections=args.only, env=env, irforge=irf_info,
                  targets=dict(offline_vs_scipy=TARGET_VS_SCIPY,
                               offline_vs_pedalboard=TARGET_VS_PEDALBOARD,
                               stream_vs_zita=f">{TARGET_VS_ZITA:g}",
                               threads_speedup=TARGET_THREADS))
    try:
        if ctx.irf is not None:
            result["api_probes"] = api_probes(ctx)
            n_ok = sum(1 for p in result["api_probes"] if p["ok"] and not any(
                p["probe"] in q for q in ctx.problems))
            print(f"# API probes (shapes, dtypes, accuracy vs float64 reference): "
                  f"{n_ok}/{len(result['api_probes'])} ok")
        if "offline" in args.only:
            irs = build_irs(ctx)
            result["irs"] = [dict(name=i["name"], kind=i["kind"], shape=ir_shape_str(i["data"]),
                                  seconds=round(i["seconds"], 4), file=i.get("file"))
                             for i in irs]
            result["offline"] = section_offline(ctx, irs)
        if "stream" in args.only:
            result["stream"] = section_stream(ctx)
        if "threads" in args.only:
            result["threads"] = section_threads(ctx)
    finally:
        ctx.tmp.cleanup()

    # summary of targets
    summary = []
    for r in result.get("offline", []):
        o = r["irforge"]
        info = "" if r["ir_kind"] == "synthetic" else " (info: target is set on synthetic IRs)"
        summary.append((f"offline {r['ir']}: ours/scipy >= {TARGET_VS_SCIPY:g}{info}",
                        o["ratio_vs_scipy"], o["met_vs_scipy"]))
        summary.append((f"offline {r['ir']}: ours/pedalboard >= {TARGET_VS_PEDALBOARD:g}{info}",
                        o["ratio_vs_pedalboard"], o["met_vs_pedalboard"]))
    for c in result.get("stream", {}).get("cells", []):
        summary.append((f"stream L={c['L']:g} s B={c['B']}: ours/zita > 1", c["ratio_vs_zita"],
                        c["met"]))
    if "threads" in result:
        o = result["threads"]["irforge"]
        summary.append((f"threads: 2-worker speed-up >= {TARGET_THREADS:g}", o.get("speedup"),
                        o.get("met")))
    if summary:
        C.print_table(["target", "value", "met"],
                      [[s, _x(v), m] for s, v, m in summary], title="Targets")
        result["targets_met"] = [dict(target=s, value=v, met=m) for s, v, m in summary]
    result["problems"] = ctx.problems
    result["background_load"] = dict(run=run_load.stop(), max_foreign_cores=ctx.max_foreign,
                                     measurements_over_threshold=ctx.n_loaded,
                                     threshold_cores=LOAD_WARN, wait_idle_s=args.wait_idle,
                                     waits=ctx.waits)
    if ctx.n_loaded:
        print(f"\nWARNING: other processes used > {LOAD_WARN} cores during {ctx.n_loaded} "
              f"measurement(s) (worst {ctx.max_foreign:.2f} cores, marked '!'); those RTFs and "
              "ratios are not reliable -- re-run on an idle machine.")
    if ctx.problems:
        print("\nProblems found in irforge:")
        for p in ctx.problems:
            print(f"  - {p}")
    elif ctx.irf is not None:
        print("\nNo problems found in irforge's outputs.")
    if args.out:
        import json

        Path(args.out).write_text(json.dumps(result, default=C._json_default, indent=1))
    C.emit_result(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
