"""Shared helpers for the irforge benchmarks (convolution, FFT, deconvolution, ...).

Plain Python + numpy (+ soundfile/soxr for the real IRs).  Nothing here imports irforge at
module import time: use :func:`import_irforge` so a benchmark can still run its peers and
report irforge as "unavailable" when the package is not built.

Contents
--------
* signals: :func:`make_noise`, :func:`make_ir` (same workload definition as
  ``../shared/bench/common.h``: uniform white noise in [-1, 1); exponentially decaying noise
  reaching -60 dB at the end, unit energy), :func:`load_real_ir` (soundfile + soxr resample);
* timing: :func:`time_call` (warm-up, then median wall / CPU time over ``reps`` runs),
  :func:`rtf`, :class:`LoadMonitor` (CPU used by other processes meanwhile),
  :func:`wait_for_idle`;
* accuracy: :func:`reference_convolve` (float64 FFT convolution), :func:`error_stats`,
  :func:`estimate_lag`;
* environment: :func:`environment`, :func:`pinned` (pin every thread of this process to a
  set of cores, restore afterwards), :func:`import_irforge`;
* output: :func:`print_table`, :func:`fmt`, :func:`emit_result` (one ``RESULT {json}`` line).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import platform
import statistics
import sys
import time
import traceback
from pathlib import Path

import numpy as np

FS = 48000

#: project root (benchmarks/ lives directly under it)
PROJECT_ROOT = Path(__file__).resolve().parents[1]
#: real test material; override with the IRFORGE_DATA environment variable
DATA_DIR = Path(os.environ.get("IRFORGE_DATA", PROJECT_ROOT.parent / "shared" / "data"))


# ----------------------------------------------------------------------------------------
# signals
# ----------------------------------------------------------------------------------------
def make_noise(n: int, seed: int = 1, channels: int | None = None) -> np.ndarray:
    """Uniform white noise in [-1, 1), float32; shape (n,) or (channels, n).

    Same distribution as ``bench::make_noise`` in ../shared/bench/common.h (numpy's
    generator, so not sample-identical to the C++ xorshift).
    """
    rng = np.random.default_rng(seed)
    shape = (n,) if channels is None else (channels, n)
    return rng.uniform(-1.0, 1.0, shape).astype(np.float32)


def make_ir(n: int, seed: int = 2) -> np.ndarray:
    """Reverb-like IR: noise with an exponential envelope reaching -60 dB at sample n,
    normalised to unit energy; float32, shape (n,)."""
    k = np.log(1000.0) / n
    h = np.random.default_rng(seed).uniform(-1.0, 1.0, n) * np.exp(-k * np.arange(n))
    h /= np.sqrt(np.sum(h * h))
    return h.astype(np.float32)


def load_real_ir(path, sample_rate: int = FS, quality: str = "VHQ") -> np.ndarray:
    """Read an IR file and resample it to ``sample_rate`` with soxr.

    Returns float32, shape (channels, samples).  Levels are kept as in the file.
    """
    import soundfile as sf
    import soxr

    data, sr = sf.read(str(path), dtype="float64", always_2d=True)   # (frames, channels)
    if sr != sample_rate:
        data = soxr.resample(data, sr, sample_rate, quality=quality)
    return np.ascontiguousarray(data.T, dtype=np.float32)


def write_wav_f32(path, data: np.ndarray, sample_rate: int = FS) -> str:
    """Write (channels, n) or (n,) float data as a 32-bit float WAV; returns the path."""
    import soundfile as sf

    a = np.asarray(data, dtype=np.float32)
    sf.write(str(path), a.T if a.ndim == 2 else a, int(sample_rate), subtype="FLOAT")
    return str(path)


# ----------------------------------------------------------------------------------------
# timing
# ----------------------------------------------------------------------------------------
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def machine_cpu_seconds():
    """(busy, steal) CPU seconds of the whole machine since boot from /proc/stat, or None."""
    try:
        with open("/proc/stat") as f:
            v = [int(t) for t in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal guest guest_nice
    busy = v[0] + v[1] + v[2] + v[5] + v[6]
    steal = v[7] if len(v) > 7 else 0
    return busy / _CLK_TCK, steal / _CLK_TCK


def own_cpu_seconds() -> float:
    """CPU seconds of this process plus its waited-for children (e.g. zita_bench)."""
    import resource

    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


class LoadMonitor:
    """Measures how much CPU *other* processes used while we ran (in cores, averaged over the
    interval; /proc/stat has 10 ms resolution, so windows shorter than ``MIN_WALL`` report
    None).  Benchmarks on a shared machine are only as
    good as this number is small."""

    MIN_WALL = 0.2   # shorter windows: /proc/stat ticks (10 ms) make the estimate meaningless

    def __init__(self):
        self.start()

    def start(self):
        self._m0, self._o0, self._t0 = machine_cpu_seconds(), own_cpu_seconds(), time.perf_counter()
        return self

    def stop(self) -> dict:
        m1, o1, t1 = machine_cpu_seconds(), own_cpu_seconds(), time.perf_counter()
        wall = t1 - self._t0
        if self._m0 is None or m1 is None or wall < self.MIN_WALL:
            return dict(wall_s=round(wall, 3), foreign_cores=None, steal_cores=None)
        foreign = (m1[0] - self._m0[0] - (o1 - self._o0)) / wall
        return dict(wall_s=round(wall, 3), foreign_cores=round(max(0.0, foreign), 3),
                    steal_cores=round((m1[1] - self._m0[1]) / wall, 3))


def wait_for_idle(max_wait: float, threshold: float = 0.15, window: float = 0.5) -> dict:
    """Sleep in ``window``-second steps until other processes use less than ``threshold``
    cores (two windows in a row), or ``max_wait`` seconds have passed.  For shared machines."""
    t0 = time.perf_counter()
    quiet, last = 0, None
    while max_wait > 0:
        mon = LoadMonitor()
        time.sleep(window)
        last = mon.stop()["foreign_cores"]
        quiet = quiet + 1 if (last is not None and last < threshold) else 0
        if last is None or quiet >= 2 or time.perf_counter() - t0 >= max_wait:
            break
    return dict(waited_s=round(time.perf_counter() - t0, 2), load=last,
                idle=bool(last is not None and last < threshold))


def time_call(fn, reps: int = 5, warmup: int = 1, warmup_min_s: float = 0.25) -> dict:
    """Run ``fn()`` ``warmup`` times untimed (more, up to 50, until ``warmup_min_s`` seconds
    have passed, so that the load window is long enough to mean something), then ``reps``
    times timed.

    Returns a dict with the median wall and process-CPU seconds (CPU time counts every
    thread of the process, so cpu > wall means the call used several cores), the raw
    samples, ``first_call_s`` (the first warm-up call: includes lazy set-up),
    ``foreign_cores`` (CPU used by other processes during warm-up + reps, in cores; see
    :class:`LoadMonitor`; None for windows < 0.2 s) and the last return value under ``"out"``.
    """
    out = None
    mon = LoadMonitor()          # window includes the warm-up: more ticks, same conditions
    t_start, k, first = time.perf_counter(), 0, None
    while k < warmup or (k < 50 and time.perf_counter() - t_start < warmup_min_s):
        out = fn()
        k += 1
        if first is None:
            first = time.perf_counter() - t_start
    walls, cpus = [], []
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for _ in range(max(1, reps)):
            out = None
            c0, t0 = time.process_time(), time.perf_counter()
            out = fn()
            t1, c1 = time.perf_counter(), time.process_time()
            walls.append(t1 - t0)
            cpus.append(c1 - c0)
    finally:
        if gc_was:
            gc.enable()
    load = mon.stop()
    return dict(wall_med=statistics.median(walls), cpu_med=statistics.median(cpus),
                walls=[round(w, 6) for w in walls], cpus=[round(c, 6) for c in cpus],
                first_call_s=None if first is None else round(first, 6),
                foreign_cores=load["foreign_cores"], out=out)


def rtf(audio_seconds: float, wall_seconds: float) -> float:
    """Real-time factor: seconds of audio processed per second of wall time."""
    return audio_seconds / wall_seconds if wall_seconds > 0 else float("inf")


# ----------------------------------------------------------------------------------------
# accuracy
# ----------------------------------------------------------------------------------------
def reference_convolve(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Full linear convolution in float64 along the last axis (scipy FFT convolution).

    ``x`` (c, n) or (n,); ``h`` (c, m), (1, m) or (m,) -- channels broadcast like
    irforge's "1-channel IR applies to every channel, 2-channel IR is left/right".
    """
    import scipy.signal as ss

    x64 = np.asarray(x, dtype=np.float64)
    h64 = np.asarray(h, dtype=np.float64)
    if x64.ndim == 2 and h64.ndim == 1:
        h64 = h64[None, :]
    return ss.oaconvolve(x64, h64, axes=-1)


def error_stats(y: np.ndarray, ref: np.ndarray) -> dict:
    """max |y - ref|, rms error, rms of ref and relative rms error (over the common length)."""
    y = np.asarray(y, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    n = min(y.shape[-1], ref.shape[-1])
    d = y[..., :n] - ref[..., :n]
    rms_ref = float(np.sqrt(np.mean(ref[..., :n] ** 2))) if n else 0.0
    rms_err = float(np.sqrt(np.mean(d ** 2))) if n else 0.0
    return dict(max_abs=float(np.max(np.abs(d))) if n else 0.0, rms_err=rms_err,
                rms_ref=rms_ref, rel_rms=rms_err / rms_ref if rms_ref > 0 else float("nan"))


def estimate_lag(y: np.ndarray, ref: np.ndarray, max_n: int = 1 << 16) -> int:
    """Lag (samples) of ``y`` relative to ``ref`` by FFT cross-correlation of 1-D prefixes;
    positive = ``y`` is late.  For diagnosing latency / misalignment."""
    a = np.asarray(y, dtype=np.float64).ravel()[:max_n]
    b = np.asarray(ref, dtype=np.float64).ravel()[:max_n]
    n = min(len(a), len(b))
    if n == 0:
        return 0
    a, b = a[:n], b[:n]
    nfft = 1 << int(np.ceil(np.log2(2 * n)))
    c = np.fft.irfft(np.fft.rfft(a, nfft) * np.conj(np.fft.rfft(b, nfft)), nfft)
    k = int(np.argmax(np.abs(c)))
    return k if k < nfft // 2 else k - nfft


# ----------------------------------------------------------------------------------------
# environment
# ----------------------------------------------------------------------------------------
def import_irforge():
    """Return ``(module, None)`` or ``(None, "ExcType: message")`` if ``import irforge`` fails."""
    try:
        import irforge  # noqa: F401
        return irforge, None
    except Exception as e:  # ImportError, or any error raised while importing the package
        return None, f"{type(e).__name__}: {e}"


def short_error(e: BaseException) -> str:
    """One-line description of an exception, with the innermost frame location."""
    tb = traceback.extract_tb(e.__traceback__)
    where = f" [{Path(tb[-1].filename).name}:{tb[-1].lineno}]" if tb else ""
    return f"{type(e).__name__}: {e}{where}".replace("\n", " ")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment(extra_modules=("numpy", "scipy", "pedalboard", "soxr", "soundfile")) -> dict:
    """Machine / interpreter / library versions, for the RESULT line."""
    env = dict(python=platform.python_version(), platform=platform.platform(),
               cpu=_cpu_model(), cpu_count=os.cpu_count(),
               affinity=(sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                         else None),
               date=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    for name in extra_modules:
        try:
            mod = __import__(name)
            env[name] = getattr(mod, "__version__", "?")
        except Exception as e:  # pragma: no cover - informational only
            env[name] = f"unavailable ({type(e).__name__})"
    return env


def _thread_ids():
    try:
        return [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return [0]


@contextlib.contextmanager
def pinned(cpus=(0,)):
    """Pin every existing thread of this process (and so every thread they create later)
    to ``cpus``; restore each thread's previous affinity on exit.  No-op where the OS has
    no sched_setaffinity."""
    if not hasattr(os, "sched_setaffinity"):
        yield False
        return
    saved = {}
    for tid in _thread_ids():
        try:
            saved[tid] = os.sched_getaffinity(tid)
            os.sched_setaffinity(tid, set(cpus))
        except OSError:
            pass
    try:
        yield True
    finally:
        full = saved.get(os.getpid(), set(range(os.cpu_count() or 1)))
        for tid in _thread_ids():  # threads created while pinned get the main thread's mask
            try:
                os.sched_setaffinity(tid, saved.get(tid, full))
            except OSError:
                pass


# ----------------------------------------------------------------------------------------
# output
# ----------------------------------------------------------------------------------------
def fmt(v, digits: int = 1) -> str:
    """Compact cell formatting: None -> 'n/a', floats with ``digits`` decimals (more for small
    values), bools -> yes/no."""
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v != v:
            return "nan"
        if abs(v) >= 100:
            return f"{v:.0f}"
        if abs(v) >= 1 or v == 0:
            return f"{v:.{digits}f}"
        return f"{v:.3g}"
    return str(v)


def print_table(headers, rows, title: str | None = None, file=None) -> None:
    """Print rows (lists of cells, formatted with :func:`fmt`) as an aligned text table."""
    file = file or sys.stdout
    cells = [[fmt(c) for c in r] for r in rows]
    widths = [max([len(str(h))] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    if title:
        print(f"\n{title}", file=file)
    line = "  ".join(str(h).ljust(w) for h, w in zip(headers, widths))
    print(line, file=file)
    print("  ".join("-" * w for w in widths), file=file)
    for r in cells:
        print("  ".join(c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(r, widths)),
              file=file)
    file.flush()


def _numeric(s: str) -> bool:
    try:
        float(s.rstrip("x !"))
        return True
    except ValueError:
        return False


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (set, tuple)):
        return list(o)
    return str(o)


def emit_result(obj: dict, file=None) -> None:
    """Print the single machine-readable ``RESULT {json}`` line."""
    file = file or sys.stdout
    print("RESULT " + json.dumps(obj, default=_json_default, allow_nan=True), file=file)
    file.flush()
