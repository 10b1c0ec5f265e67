#!/usr/bin/env python3
"""Our real FFT against scipy.fft / numpy.fft (pocketfft), float32, in the same process.

    .venv/bin/python benchmarks/bench_fft.py [--reps 5] [--sizes 128 512 ...]

For each size n:
  irforge   : one transform per call, timed inside C++ (irforge._core._internal.time_transform)
              for the ordered rfft ("forward", numpy layout) and the packed layout the
              convolution engine uses ("packed"), with the run-time-chosen kernels and the
              portable generic ones;
  scipy     : scipy.fft.rfft on a float32 (rows, n) batch, rows = max(1, 2^17 / n), time per row
              (pocketfft vectorises across rows: its best case);
  numpy     : numpy.fft.rfft of one float32 row per call.
Prints ns per transform (median of --reps) and the ratio scipy_batch / irforge (> 1: we are
faster), then a RESULT {json} line.
"""

import argparse
import json
import statistics
import time

import numpy as np
import scipy.fft as sf

from irforge import _core

SIZES = [128, 512, 2048, 8192, 65536, 2**18, 2**20]


def per_call_ns(fn, per_call, reps, min_time=0.05):
    iters = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_time:
            break
        iters *= 2
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        out.append((time.perf_counter() - t0) * 1e9 / (iters * per_call))
    return statistics.median(out)


def ours_ns(n, kind, reps):
    return statistics.median(_core._internal.time_transform(n, kind, 0.05) for _ in range(reps))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--sizes", type=int, nargs="+", default=SIZES)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    isa = _core._internal.fft_isa()
    rows_out = []
    print(f"kernels: {isa}; times in ns per transform (median of {a.reps})")
    print(f"{'n':>8} {'ours':>10} {'ours pk':>10} {'generic':>10} {'scipy bt':>10} {'numpy 1':>10} "
          f"{'scipy/ours':>10} {'met':>4}")
    for n in a.sizes:
        rows = max(1, 2**17 // n)
        xb = rng.uniform(-1, 1, (rows, n)).astype(np.float32)
        x1 = xb[0].copy()
        ours = ours_ns(n, "forward", a.reps)
        packed = ours_ns(n, "packed", a.reps)
        _core._internal.set_fft_isa("generic")
        generic = ours_ns(n, "forward", a.reps)
        _core._internal.set_fft_isa("auto")
        scipy_b = per_call_ns(lambda: sf.rfft(xb, axis=-1), rows, a.reps)
        numpy_1 = per_call_ns(lambda: np.fft.rfft(x1), 1, a.reps)
        ratio = scipy_b / ours
        rows_out.append(dict(n=n, ours_ns=ours, ours_packed_ns=packed, ours_generic_ns=generic,
                             scipy_batch_ns=scipy_b, numpy_single_ns=numpy_1, ratio_scipy_over_ours=ratio))
        print(f"{n:>8} {ours:>10.0f} {packed:>10.0f} {generic:>10.0f} {scipy_b:>10.0f} {numpy_1:>10.0f} "
              f"{ratio:>10.2f} {'yes' if ratio >= 1 else 'NO':>4}")
    print("RESULT " + json.dumps(dict(isa=isa, rows=rows_out)))


if __name__ == "__main__":
    main()
