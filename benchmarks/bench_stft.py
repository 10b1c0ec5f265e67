"""STFT / inverse STFT of the C++ core (irforge._stft) vs scipy.signal.stft / istft.

The workload of Ciba's filter and of the decay tools: 2048-point periodic Hann frames, hop 512,
centred, on 50 s of 48 kHz audio (one channel) and a 4 s stereo IR. Same framing, spectra and
reconstruction on both sides (checked below); medians of --reps runs in one process.

    .venv/bin/python benchmarks/bench_stft.py [--reps 7]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import scipy.signal as ss

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit_result, environment, print_table, time_call  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args(argv)
    from irforge import _stft

    rng = np.random.default_rng(0)
    n_fft, hop = 2048, 512
    win = ss.get_window("hann", n_fft)
    rows, res = [], {}
    for label, x in (("50 s mono", rng.standard_normal((1, 50 * 48000)).astype(np.float32)),
                     ("4 s stereo", rng.standard_normal((2, 4 * 48000)).astype(np.float32))):
        S = _stft.stft(x, n_fft=n_fft, hop=hop)
        _, _, Z = ss.stft(x, window=win, nperseg=n_fft, noverlap=n_fft - hop, boundary="zeros",
                          padded=False, scaling="spectrum")
        Z = Z * win.sum()                                   # scipy scales by 1/sum(window)
        F = min(S.shape[-1], Z.shape[-1])
        err = float(np.max(np.abs(S[..., :F] - Z[..., :F])) / np.max(np.abs(Z)))
        y = _stft.istft(S, n_fft=n_fft, hop=hop, length=x.shape[-1])
        rt_err = float(np.max(np.abs(y - x)))
        t_f = time_call(lambda: _stft.stft(x, n_fft=n_fft, hop=hop), reps=args.reps)
        t_fs = time_call(lambda: ss.stft(x, window=win, nperseg=n_fft, noverlap=n_fft - hop, boundary="zeros",
                                         padded=False), reps=args.reps)
        t_i = time_call(lambda: _stft.istft(S, n_fft=n_fft, hop=hop, length=x.shape[-1]), reps=args.reps)
        t_is = time_call(lambda: ss.istft(Z, window=win, nperseg=n_fft, noverlap=n_fft - hop), reps=args.reps)
        rows.append([label, "stft", t_f["wall_med"] * 1e3, t_fs["wall_med"] * 1e3, t_fs["wall_med"] / t_f["wall_med"], err])
        rows.append([label, "istft", t_i["wall_med"] * 1e3, t_is["wall_med"] * 1e3, t_is["wall_med"] / t_i["wall_med"],
                     rt_err])
        res[label] = dict(stft=t_fs["wall_med"] / t_f["wall_med"], istft=t_is["wall_med"] / t_i["wall_med"])
    print_table(["signal", "op", "irforge ms", "scipy ms", "scipy/irforge", "max err"], rows,
                title=f"STFT {n_fft}/{hop}, periodic Hann, centred (medians of {args.reps})")
    emit_result(dict(bench="stft", env=environment(), ratios=res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
