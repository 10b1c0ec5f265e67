"""irforge.analyze vs pyfar + pyrato: ISO 3382 octave-band analysis of a 4 s stereo IR.

    .venv/bin/python benchmarks/bench_analyze.py [--reps 7]

Workload: Jack Lyons Hall (OpenAIR, B-format channels 0 and 1), resampled to 48 kHz with soxr,
first 4 s; synthetic decaying noise (T60 1.7 s, noise floor -80 dB) when ../shared/data is
absent. irforge: ``analyze(ir, sample_rate=48000)`` (octave bands 63 Hz-8 kHz: onset, filterbank,
Lundeby-compensated EDCs, EDT/T20/T30 with fit quality, C50/C80/D50/Ts/DRR, plus broadband).
Peer, the equivalent pyfar/pyrato calls: ``pyfar.dsp.find_impulse_response_start``,
``pyfar.dsp.filter.fractional_octave_bands`` (same order-14 Butterworth band-passes),
``pyrato.edc.energy_decay_curve_lundeby`` (per-band onset, smoothing per band),
``reverberation_time_linear_regression`` (T30, EDT), ``clarity`` (C50, C80) and ``definition``
(D50). Medians of ``--reps`` runs after a warm-up, same process, same run; the ratio is
pyrato time / irforge time (target >= 5). Also prints the largest T30 / C80 differences.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    DATA_DIR,
    emit_result,
    environment,
    import_irforge,
    load_real_ir,
    print_table,
    time_call,
)

SR = 48000
CENTRES = np.array([63, 125, 250, 500, 1000, 2000, 4000, 8000], float)


def workload():
    real = DATA_DIR / "room_ir" / "openair_JackLyonsHall_Bformat_96k.wav"
    if real.exists():
        x = load_real_ir(real, SR)[:2, : 4 * SR]
        return np.ascontiguousarray(x, dtype=np.float32), real.name + " ch 0+1, 4 s @ 48 kHz"
    rng = np.random.default_rng(0)
    t = np.arange(4 * SR) / SR
    x = rng.standard_normal((2, t.size)) * 10 ** (-3 * t / 1.7) + 1e-4 * rng.standard_normal((2, t.size))
    return x.astype(np.float32), "synthetic decaying noise, stereo, 4 s @ 48 kHz"


def pyrato_chain(x):
    import pyfar as pf
    import pyrato as ra

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sig = pf.Signal(x.astype(np.float64), SR)
        pf.dsp.find_impulse_response_start(sig)              # the onset (ISO 3382-1)
        bands = pf.dsp.filter.fractional_octave_bands(sig, 1, frequency_range=(63, 8000))
        edc = ra.edc.energy_decay_curve_lundeby(
            bands, smoothing_parameter=np.repeat(CENTRES, x.shape[0]), time_shift=True,
            channel_independent=True)
        t30 = ra.parameters.reverberation_time_linear_regression(edc, "T30")
        edt = ra.parameters.reverberation_time_linear_regression(edc, "EDT")
        c50 = ra.parameters.clarity(edc, 50)
        c80 = ra.parameters.clarity(edc, 80)
        d50 = ra.parameters.definition(edc, 50)
    return {"t30": t30.T, "edt": edt.T, "c50": c50.T, "c80": c80.T, "d50": d50.T}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args(argv)
    irforge, err = import_irforge()
    if irforge is None:
        emit_result({"bench": "analyze", "error": err})
        return 1
    from irforge.analysis import analyze

    x, source = workload()
    r_if = time_call(lambda: analyze(x, sample_rate=SR), reps=args.reps)
    r_pr = time_call(lambda: pyrato_chain(x), reps=args.reps)
    ours, ref = r_if["out"], r_pr["out"]
    d_t30 = float(np.nanmax(np.abs(ours.t30_s / ref["t30"] - 1))) * 100
    d_c80 = float(np.nanmax(np.abs(ours.c80_db - ref["c80"])))
    ratio = r_pr["wall_med"] / r_if["wall_med"]
    rows = [["irforge.analyze", r_if["wall_med"] * 1e3, r_if["cpu_med"] * 1e3, r_if["first_call_s"] * 1e3, 1.0],
            ["pyfar + pyrato", r_pr["wall_med"] * 1e3, r_pr["cpu_med"] * 1e3, r_pr["first_call_s"] * 1e3, ratio]]
    print_table(["method", "wall ms", "cpu ms", "first call ms", "pyrato/irforge"], rows,
                title=f"octave bands 63 Hz-8 kHz, {source}, medians of {args.reps}")
    print(f"max |T30 diff| {d_t30:.1f} %, max |C80 diff| {d_c80:.2f} dB (8 bands x 2 channels)")
    emit_result({"bench": "analyze", "irforge_ms": r_if["wall_med"] * 1e3, "pyrato_ms": r_pr["wall_med"] * 1e3,
                     "ratio": ratio, "target": 5.0, "passed": ratio >= 5.0, "max_t30_diff_pct": d_t30,
                     "max_c80_diff_db": d_c80, "foreign_cores": [r_if["foreign_cores"], r_pr["foreign_cores"]],
                     "ir": source, "env": environment(("numpy", "scipy", "pyfar", "pyrato"))})
    return 0


if __name__ == "__main__":
    sys.exit(main())
