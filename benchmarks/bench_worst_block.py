"""Worst-case time per host block of the streaming engine (issue 12, "Real time").

    .venv/bin/python benchmarks/bench_worst_block.py            # B = 32, 64, 256; IRs 0.2, 4, 10 s
    .venv/bin/python benchmarks/bench_worst_block.py --quick    # fewer calls

A plugin host gives the engine one block of B samples per period (B / 48 kHz: 1.33 ms at
B = 64) and needs it back within the period, every time: what matters is the slowest call,
not the average. Each run streams mono white noise through ``_core.Engine`` (the engine of
``irforge.Convolver`` and of the plugins) in calls of exactly B samples, timing every call
(perf_counter_ns around ``process``; the Python call overhead, about 2 us, is included), and
reports the median, the 99.9th percentile and the worst call as % of the block period, for
the two schedules in the same process, interleaved run by run:

* ``spread`` (the default): each later stage's work for a block (forward FFT, partition
  multiply-accumulates, inverse FFT) paced over the calls of the following block;
* ``immediate``: all of it in the call that completes the block (the engine before this
  change, and still what offline convolution uses).

Also printed: throughput (total time / audio duration) of spread over immediate, i.e. what
the bounded worst case costs on average. The machine is shared: ratios hold, absolute
times drift; the worst call is also raised by whatever else the machine did meanwhile, so
each cell is the smallest worst case over ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit_result, import_irforge, make_ir, print_table  # noqa: E402

FS = 48000


def run(core, h: np.ndarray, B: int, schedule: str, seconds: float) -> np.ndarray:
    eng = core.Engine(h[None, :], [(0, 0, 0)], 1, 1, B, 0, schedule)
    n_calls = int(seconds * FS / B)
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (1, B * 64)).astype(np.float32)
    # warm-up: one pass over the whole IR, so every stage has run (caches, page faults)
    for k in range(max(64, h.size // B + 64)):
        eng.process(x[:, (k % 64) * B:(k % 64 + 1) * B])
    t = np.empty(n_calls)
    pc = time.perf_counter_ns
    for k in range(n_calls):
        blk = x[:, (k % 64) * B:(k % 64 + 1) * B]
        t0 = pc()
        eng.process(blk)
        t[k] = pc() - t0
    return t * 1e-9


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer calls and repeats")
    ap.add_argument("--repeats", type=int, default=None)
    a = ap.parse_args()
    irf, err = import_irforge()
    if irf is None:
        sys.exit(f"irforge unavailable: {err}")
    core = irf._core
    seconds = 12.0 if a.quick else 25.0
    repeats = a.repeats or (2 if a.quick else 3)
    print("command:", " ".join([os.path.basename(sys.executable)] + sys.argv))
    rows, out = [], {}
    for ir_s in (0.2, 4.0, 10.0):
        h = make_ir(int(ir_s * FS), seed=3).astype(np.float32)
        for B in (32, 64, 256):
            period = B / FS
            res = {}
            for rep in range(repeats):
                for sched in ("spread", "immediate"):
                    t = run(core, h, B, sched, seconds)
                    r = res.setdefault(sched, {"worst": np.inf, "p999": [], "median": [], "total": []})
                    r["worst"] = min(r["worst"], float(t.max()))
                    r["p999"].append(float(np.percentile(t, 99.9)))
                    r["median"].append(float(np.median(t)))
                    r["total"].append(float(t.sum() / (t.size * period)))
            cells = {}
            for sched, r in res.items():
                cells[sched] = {"worst_pct": 100 * r["worst"] / period,
                                "p999_pct": 100 * min(r["p999"]) / period,
                                "median_pct": 100 * min(r["median"]) / period,
                                "load_pct": 100 * min(r["total"])}
            sp, im = cells["spread"], cells["immediate"]
            rows.append([f"{ir_s:g} s", B, f"{sp['worst_pct']:.1f}", f"{sp['p999_pct']:.1f}",
                         f"{sp['median_pct']:.1f}", f"{im['worst_pct']:.1f}", f"{im['p999_pct']:.1f}",
                         f"{im['median_pct']:.1f}", f"{im['worst_pct'] / sp['worst_pct']:.1f}x",
                         f"{sp['load_pct'] / im['load_pct']:.2f}"])
            out[f"{ir_s:g}s/B{B}"] = cells
            print(f"  IR {ir_s:g} s B {B}: spread worst {sp['worst_pct']:.1f} % "
                  f"immediate worst {im['worst_pct']:.1f} %", flush=True)
    print_table(["IR", "B", "spread worst %", "spread p99.9 %", "spread median %",
                 "immediate worst %", "immediate p99.9 %", "immediate median %",
                 "worst: immediate / spread", "load: spread / immediate"], rows,
                title="Time per call as % of the block period (48 kHz, mono, one core)")
    emit_result(out)


if __name__ == "__main__":
    main()
