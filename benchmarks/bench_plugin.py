"""The irforge Convolver VST3 inside pedalboard against pedalboard.Convolution (issue 12).

    .venv/bin/python benchmarks/bench_plugin.py            # B = 32, 64, 256; IRs 0.2, 4, 10 s
    .venv/bin/python benchmarks/bench_plugin.py --quick

Both run in the same process on the same stereo IR (reverb-like noise, 48 kHz) and the same
stereo noise, fed by pedalboard in calls of exactly B samples (``process(block, 48000,
buffer_size=B, reset=False)``); every call is timed, pedalboard's own per-call overhead
included (it is the same for both). Reported: mean and worst call as % of the block period
(B / 48 kHz), and mean time of pedalboard.Convolution over the plugin's (> 1: the plugin is
faster). Each cell is the smallest over ``--repeats`` runs, interleaved. Needs ``make plugins``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit_result, import_irforge, make_ir, print_table  # noqa: E402

FS = 48000


def time_calls(effect, B: int, seconds: float) -> np.ndarray:
    rng = np.random.default_rng(1)
    x = rng.uniform(-0.5, 0.5, (2, B * 64)).astype(np.float32)
    n_calls = int(seconds * FS / B)
    effect.process(x[:, :B], FS, buffer_size=B, reset=True)
    for k in range(64):  # warm-up
        effect.process(x[:, (k % 64) * B:(k % 64 + 1) * B], FS, buffer_size=B, reset=False)
    t = np.empty(n_calls)
    pc = time.perf_counter_ns
    for k in range(n_calls):
        blk = x[:, (k % 64) * B:(k % 64 + 1) * B]
        t0 = pc()
        effect.process(blk, FS, buffer_size=B, reset=False)
        t[k] = pc() - t0
    return t * 1e-9


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    irforge, err = import_irforge()
    if irforge is None:
        sys.exit(f"cannot import irforge: {err}")
    import pedalboard
    from irforge import plugins

    seconds = 2.0 if args.quick else 6.0
    rows, results = [], []
    for ir_s in (0.2, 4.0, 10.0):
        n = int(ir_s * FS)
        h = np.vstack([make_ir(n, seed=2), make_ir(n, seed=3)])
        ir = irforge.ImpulseResponse(h, sample_rate=FS)
        plug = plugins.load_convolver(ir)
        peer = pedalboard.Convolution(np.ascontiguousarray(h.T), sample_rate=FS)
        for B in (32, 64, 256):
            period = B / FS
            best = {"plugin": [np.inf, np.inf], "pedalboard": [np.inf, np.inf]}
            for _ in range(args.repeats):
                for name, eff in (("plugin", plug), ("pedalboard", peer)):
                    t = time_calls(eff, B, seconds)
                    best[name][0] = min(best[name][0], t.mean())
                    best[name][1] = min(best[name][1], t.max())
            r = {"ir_s": ir_s, "B": B,
                 "plugin_mean_pct": 100 * best["plugin"][0] / period,
                 "plugin_worst_pct": 100 * best["plugin"][1] / period,
                 "pedalboard_mean_pct": 100 * best["pedalboard"][0] / period,
                 "pedalboard_worst_pct": 100 * best["pedalboard"][1] / period,
                 "mean_ratio": best["pedalboard"][0] / best["plugin"][0]}
            results.append(r)
            rows.append([f"{ir_s:g} s", B, f"{r['plugin_mean_pct']:.1f}", f"{r['plugin_worst_pct']:.1f}",
                         f"{r['pedalboard_mean_pct']:.1f}", f"{r['pedalboard_worst_pct']:.1f}",
                         f"{r['mean_ratio']:.2f}x"])
    print_table(["IR", "B", "plugin mean %", "plugin worst %", "pb.Convolution mean %",
                 "pb.Convolution worst %", "mean: pb / plugin"], rows,
                title="irforge Convolver VST3 vs pedalboard.Convolution, stereo, 48 kHz, % of the block period")
    emit_result({"benchmark": "plugin", "results": results})


if __name__ == "__main__":
    main()
