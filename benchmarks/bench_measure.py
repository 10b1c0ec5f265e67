"""measure_ir vs pyfar.dsp.deconvolve: 10 s exponential sweep at 48 kHz, 3 s IR.

    .venv/bin/python benchmarks/bench_measure.py [--reps 7]

Both get the same arrays: the sweep (20 Hz - 20 kHz) and its recording through a 3 s IR (a real
room IR resampled to 48 kHz when ../shared/data is present, else decaying noise) plus noise 60 dB
below the sweep; the recording is 13 s. irforge: ``measure_ir(sweep, recording,
ir_length_s=3.0)`` (regularized spectral inverse, harmonic separation, latency check, THD).
pyfar: ``pyfar.dsp.deconvolve(recording, sweep, frequency_range=(20, 20000))`` (regularized
inversion; no harmonics, no alignment). Medians of ``--reps`` runs after a warm-up, same
process, same run; the ratio is pyfar time / irforge time (target >= 3). Also prints each
method's error against the true IR (band 100 Hz - 16 kHz).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (DATA_DIR, emit_result, environment, import_irforge, load_real_ir, make_ir,  # noqa: E402
                     print_table, time_call)

SR = 48000


def band_err_db(est, h):
    n = len(h)
    e = np.zeros(n)
    e[: min(n, len(est))] = est[:n]
    nf = 1 << int(np.ceil(np.log2(2 * n)))
    f = np.fft.rfftfreq(nf, 1 / SR)
    m = np.clip((f - 70) / 30, 0, 1) * np.clip((18000 - f) / 2000, 0, 1)
    m = 0.5 - 0.5 * np.cos(np.pi * m)
    a = np.fft.irfft(np.fft.rfft(e, nf) * m, nf)[:n]
    b = np.fft.irfft(np.fft.rfft(h, nf) * m, nf)[:n]
    return float(20 * np.log10(np.linalg.norm(a - b) / np.linalg.norm(b)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args(argv)
    irforge, err = import_irforge()
    if irforge is None:
        emit_result(dict(bench="measure", error=err))
        return 1
    import pyfar

    real = DATA_DIR / "room_ir" / "openair_SpokaneWomansClub_stereo_44k.wav"
    if real.exists():
        h = load_real_ir(real, SR)[0, : 3 * SR].astype(np.float64)
        source = real.name + " (first 3 s)"
    else:
        h, source = make_ir(3 * SR).astype(np.float64), "synthetic decaying noise"
    h /= np.linalg.norm(h)
    sw = irforge.sweeps.exponential(20, 20000, 10.0, sample_rate=SR)
    x = sw.signal
    rng = np.random.default_rng(1)
    y = np.concatenate([irforge.convolve(x, h).astype(np.float64), np.zeros(max(0, 13 * SR - len(x) - len(h) + 1))])
    y = y[: 13 * SR] + rng.standard_normal(13 * SR) * np.std(x) * 1e-3

    px, py = pyfar.Signal(x, SR), pyfar.Signal(y, SR)
    r_if = time_call(lambda: irforge.measure_ir(sw, y, ir_length_s=3.0), reps=args.reps)
    r_pf = time_call(lambda: pyfar.dsp.deconvolve(py, px, frequency_range=(20, 20000)), reps=args.reps)
    e_if = band_err_db(r_if["out"].data[0].astype(np.float64), h)
    e_pf = band_err_db(np.asarray(r_pf["out"].time[0]), h)
    ratio = r_pf["wall_med"] / r_if["wall_med"]
    rows = [["irforge.measure_ir (inverse)", r_if["wall_med"] * 1e3, r_if["cpu_med"] * 1e3, e_if, 1.0],
            ["pyfar.dsp.deconvolve", r_pf["wall_med"] * 1e3, r_pf["cpu_med"] * 1e3, e_pf, ratio]]
    print_table(["method", "wall ms", "cpu ms", "error dB", "pyfar/irforge"], rows,
                title=f"10 s exp sweep, 13 s recording, 3 s IR ({source}), 48 kHz, medians of {args.reps}")
    emit_result(dict(bench="measure", irforge_ms=r_if["wall_med"] * 1e3, pyfar_ms=r_pf["wall_med"] * 1e3,
                     ratio=ratio, target=3.0, passed=ratio >= 3.0, irforge_err_db=e_if, pyfar_err_db=e_pf,
                     foreign_cores=[r_if["foreign_cores"], r_pf["foreign_cores"]], ir=source,
                     env=environment(("numpy", "scipy", "pyfar"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
