"""Deconvolution benchmark (issue 4): speed against a straightforward numpy/scipy Wiener, quality
table (SI-SDR per method per pair against the oracle), optional memory of the file streaming path.

    .venv/bin/python benchmarks/bench_deconvolve.py              # speed (60 s) + quality table
    .venv/bin/python benchmarks/bench_deconvolve.py --quick      # 10 s speed, fewer pairs
    .venv/bin/python benchmarks/bench_deconvolve.py --memory 600 # + peak RSS of deconvolve_file
                                                                 #   on a 600 s stereo file
    .venv/bin/python benchmarks/bench_deconvolve.py --skip-quality --robustness
                                                                 # + SI-SDR with a perturbed IR

Speed workload: 60 s stereo white noise at 48 kHz through a 2 s exponentially decaying noise
IR (-60 dB at its end), plus noise at 40 dB SNR. The peer is the same Wiener method written
the obvious way: scipy.signal.stft minimum statistics, then one full-length float64 FFT of the
recording (scipy.fft.next_fast_len), the same band-wise signal/noise fit on that spectrum, and
a full-length division. Both are timed in this run; the ratio is printed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import scipy.fft as sfft
import scipy.signal as ss

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA_DIR, emit_result, environment, make_ir, print_table, time_call  # noqa: E402


def _fit_signal_noise(P: np.ndarray, R: np.ndarray, n_upper: np.ndarray, lo: int, hi: int):
    """Fit ``P_k ~ a R_k + c`` (a, c >= 0) in one band by iteratively reweighted least squares.

    ``P`` is the recording's power, ``R`` the IR's power (the regressor), ``n_upper`` an upper
    bound for the noise (minimum statistics). Returns ``(a, c)``. When ``R`` hardly varies in
    the band (signal and noise cannot be told apart) the upper bound is used for ``c``.
    """
    p, r = P[lo:hi], R[lo:hi]
    rm = float(np.mean(r))
    if rm <= 0:
        return 0.0, float(np.mean(p))
    cv = float(np.std(r)) / rm
    c_up = float(np.mean(n_upper[lo:hi]))
    if cv < 0.3:
        c = -min(c_up, float(np.mean(p)))     # negative: "undetermined, at most |c|"
    else:
        # Fisher scoring for P_k ~ Gamma(mean a R_k + c): weighted LS with weights 1/mean^2,
        # started from a tiny c so that the bins in the IR's notches (where the noise shows)
        # carry their weight from the first step.
        a = float(np.mean(p)) / rm
        c = 1e-6 * float(np.mean(p))
        scale = float(np.mean(p))
        for _ in range(12):
            fit = np.maximum(a * r + c, 1e-300 + 1e-12 * scale)
            w = 1.0 / (fit * fit)               # 2x2 weighted normal equations
            s_rr, s_r1, s_11 = float(w @ (r * r)), float(w @ r), float(w.sum())
            s_rp, s_1p = float(w @ (r * p)), float(w @ p)
            det = s_rr * s_11 - s_r1 * s_r1
            if det <= 1e-12 * s_rr * s_11:
                break
            a = max((s_11 * s_rp - s_r1 * s_1p) / det, 0.0)
            c = max((s_rr * s_1p - s_r1 * s_rp) / det, 1e-12 * scale)
        c = min(c, c_up)
    return max(float(np.mean(p)) - 1.4 * abs(c), 0.0) / rm, c


def peer_wiener(y: np.ndarray, h: np.ndarray, sr: float) -> np.ndarray:
    """Straightforward numpy/scipy version of irforge's Wiener deconvolution (full-length FFTs)."""
    from irforge import deconvolution as dc

    C, n = y.shape
    L = sfft.next_fast_len(n + h.size - 1, real=True)
    H = sfft.rfft(h.astype(np.float64), L)
    H2 = H.real ** 2 + H.imag ** 2
    out = np.empty((C, n))
    nper = dc._welch_size(sr)
    for c in range(C):
        yc = y[c].astype(np.float64)
        _, _, Z = ss.stft(yc, nperseg=nper, noverlap=3 * nper // 4, boundary=None, padded=False,
                          scaling="psd")
        P_w = np.abs(Z) ** 2
        P_w = ss.convolve(P_w, np.ones((9, 1)) / 9, mode="same")
        noise_up = np.percentile(P_w, 0.5, axis=1) * (sr / 2)  # rough PSD -> per-sample scale
        Y = sfft.rfft(yc, L)
        P = (Y.real ** 2 + Y.imag ** 2) / n
        up = np.interp(np.linspace(0, 1, P.size), np.linspace(0, 1, noise_up.size), noise_up)
        edges, _ = dc._band_edges(P.size, L, sr)
        lam = np.empty(P.size)
        for lo, hi in zip(edges[:-1], edges[1:]):
            a, cc = _fit_signal_noise(P, H2, up, int(lo), int(hi))
            lam[lo:hi] = abs(cc) / max(a, 1e-300)
        lam[0] = lam[1]
        lam[edges[-1]:] = lam[edges[-1] - 1]
        out[c] = sfft.irfft(np.conj(H) * Y / (H2 + lam), L)[:n]
    return out.astype(np.float32)


def speed(seconds: float, reps: int) -> dict:
    from irforge import convolve
    from irforge.deconvolution import deconvolve

    sr = 48000
    r = np.random.default_rng(1)
    x = r.uniform(-1, 1, (2, int(seconds * sr))).astype(np.float32)
    h = make_ir(2 * sr)
    yc = convolve(x, h)[:, : x.shape[1]]
    y = (yc + np.sqrt(np.mean(yc ** 2) * 1e-4) * r.standard_normal(yc.shape)).astype(np.float32)
    ours = time_call(lambda: deconvolve(y, h, sample_rate=sr), reps=reps)
    peer = time_call(lambda: peer_wiener(y, h, sr), reps=max(1, reps - 2))
    from irforge.metrics import si_sdr
    q_ours = si_sdr(ours["out"][:, 2 * sr:-2 * sr], x[:, 2 * sr:-2 * sr])
    q_peer = si_sdr(peer["out"][:, 2 * sr:-2 * sr], x[:, 2 * sr:-2 * sr])
    rows = [["irforge deconvolve (auto)", ours["wall_med"], q_ours],
            ["numpy/scipy full-FFT Wiener", peer["wall_med"], q_peer]]
    print_table(["implementation", "wall s", "SI-SDR dB"], rows,
                title=f"Speed: {seconds:g} s stereo 48 kHz, 2 s IR, 40 dB SNR")
    ratio = peer["wall_med"] / ours["wall_med"]
    print(f"speed-up: {ratio:.2f}x (target >= 5x); other processes' load during the timing: "
          f"ours {ours.get('foreign_cores')}, peer {peer.get('foreign_cores')} cores")
    return {"ours_s": ours["wall_med"], "peer_s": peer["wall_med"], "ratio": ratio,
            "si_sdr_ours": q_ours, "si_sdr_peer": q_peer}


def _load(rel, sr, seconds=None):
    import soundfile as sf
    import soxr

    d, fs = sf.read(str(DATA_DIR / rel), dtype="float64", always_2d=True)
    d = d[:, 0]
    if fs != sr:
        d = soxr.resample(d, fs, sr)
    return d[: int(seconds * sr)] if seconds else d


def quality(quick: bool) -> dict:
    from irforge.deconvolution import deconvolve
    from irforge.metrics import si_sdr

    sr = 44100
    dry = {"speech": ("dry/speech_spatialaudio_xmas_male_voice.wav", 2.5),
           "guitar": ("dry/guitarDI_gulmini_input_001.wav", 3.0)}
    irs = {"room seminar": ("room_ir/spatialaudio_rir_clap_seminar_room.wav", None),
           "room Genesis6": ("room_ir/openair_Genesis6StudioLiveRoom_Bformat_96k.wav", 0.6),
           "cab Modern_UK": ("cab_ir/adventurekid_Modern_UK_001.wav", None),
           "cab Radio": ("cab_ir/adventurekid_Radio_001.wav", None)}
    if not quick:
        irs["room Spokane"] = ("room_ir/openair_SpokaneWomansClub_stereo_44k.wav", 1.5)
        irs["cab Vintage_US"] = ("cab_ir/adventurekid_Vintage_US_001.wav", None)
    methods = ["auto", "tikhonov", "stft", "kirkeby", "threshold"]
    snrs = [60, 40, 30]
    rng = np.random.default_rng(0)
    rows, res = [], []
    for dn, (dp, ds) in dry.items():
        x = _load(dp, sr, ds)
        for hn, (hp, hs) in irs.items():
            h = _load(hp, sr, hs)
            h = h / np.abs(h).max()
            yc = np.convolve(x, h)
            for snr in snrs:
                y = yc + rng.standard_normal(yc.size) * np.sqrt(np.mean(yc ** 2) * 10 ** (-snr / 10))
                L = sfft.next_fast_len(y.size + h.size, real=True)
                Y, H = sfft.rfft(y, L), sfft.rfft(h, L)
                H2 = np.abs(H) ** 2
                oracle = max(si_sdr(sfft.irfft(np.conj(H) * Y / (H2 + lam * H2.max()), L)[: x.size], x)
                             for lam in np.logspace(-12, 0, 37))
                r = {"pair": f"{dn} / {hn}", "snr": snr, "oracle": oracle}
                for m in methods:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        r[m] = si_sdr(deconvolve(y, h, sample_rate=sr, method=m)[: x.size], x)
                res.append(r)
                rows.append([r["pair"], snr, oracle] + [r[m] for m in methods] + [r["auto"] - oracle])
    print_table(["pair", "SNR dB", "oracle"] + methods + ["auto - oracle"], rows,
                title="SI-SDR (dB) of the dry estimate; oracle = Tikhonov, best constant lambda vs the true dry")
    d = np.array([r["auto"] - r["oracle"] for r in res])
    at40 = [r["auto"] - r["threshold"] for r in res if r["snr"] == 40]
    summary = {"mean_auto_minus_oracle": float(d.mean()), "worst_auto_minus_oracle": float(d.min()),
               "pairs_more_than_2db_below_oracle": int(np.sum(d < -2)), "n_pairs": len(res),
               "mean_auto_minus_threshold_at_40db": float(np.mean(at40))}
    for m in methods:
        summary[f"mean_{m}"] = float(np.mean([r[m] for r in res]))
    summary["mean_oracle"] = float(np.mean([r["oracle"] for r in res]))
    print("summary:", summary)
    return summary


def robustness() -> dict:
    """SI-SDR with the true IR vs an IR "measured at a slightly different position": the true
    IR's late part (after 50 ms) plus independent noise of 10 % of that part's rms. Real pairs
    at 40 dB SNR; the recording itself (not deconvolved) for scale."""
    from irforge.deconvolution import deconvolve
    from irforge.metrics import si_sdr

    sr = 44100
    pairs = [("speech", "dry/speech_spatialaudio_xmas_male_voice.wav", 2.5, "room seminar",
              "room_ir/spatialaudio_rir_clap_seminar_room.wav", None),
             ("speech", "dry/speech_spatialaudio_xmas_male_voice.wav", 2.5, "room Spokane",
              "room_ir/openair_SpokaneWomansClub_stereo_44k.wav", 1.5),
             ("guitar", "dry/guitarDI_gulmini_input_001.wav", 3.0, "room Genesis6",
              "room_ir/openair_Genesis6StudioLiveRoom_Bformat_96k.wav", 0.6),
             ("guitar", "dry/guitarDI_gulmini_input_001.wav", 3.0, "cab Vintage_US",
              "cab_ir/adventurekid_Vintage_US_001.wav", None),
             ("speech", "dry/speech_spatialaudio_xmas_male_voice.wav", 2.5, "cab Modern_UK",
              "cab_ir/adventurekid_Modern_UK_001.wav", None)]
    rng = np.random.default_rng(7)
    rows, res = [], []
    for dn, dp, ds, hn, hp, hs in pairs:
        x = _load(dp, sr, ds)
        h = _load(hp, sr, hs)
        h = h / np.abs(h).max()
        L = sfft.next_fast_len(x.size + h.size, real=True)
        yc = sfft.irfft(sfft.rfft(x, L) * sfft.rfft(h, L), L)[: x.size + h.size - 1]
        y = yc + rng.standard_normal(yc.size) * np.sqrt(np.mean(yc ** 2) * 1e-4)
        late = int(0.05 * sr)
        hp_ = h.copy()
        hp_[late:] += 0.1 * np.std(h[late:]) * rng.standard_normal(h.size - late)
        r = {"pair": f"{dn} / {hn}",
             "true_ir": si_sdr(deconvolve(y, h, sample_rate=sr)[: x.size], x),
             "perturbed_ir": si_sdr(deconvolve(y, hp_, sample_rate=sr)[: x.size], x),
             "recording": si_sdr(y[: x.size], x)}
        res.append(r)
        rows.append([r["pair"], r["true_ir"], r["perturbed_ir"], r["perturbed_ir"] - r["true_ir"],
                     r["recording"]])
    print_table(["pair (40 dB SNR)", "true IR", "perturbed IR", "change", "recording"], rows,
                title="Robustness: SI-SDR (dB) of method='auto' with the IR's late part (> 50 ms) "
                      "perturbed by 10 % rms noise")
    return {"pairs": res, "mean_change_db": float(np.mean([r["perturbed_ir"] - r["true_ir"] for r in res]))}


def memory(seconds: float) -> dict:
    """Peak RSS of a subprocess running deconvolve_file on a long stereo file (streaming path)."""
    import soundfile as sf

    sr = 48000
    with tempfile.TemporaryDirectory() as td:
        rec, ir, out = Path(td) / "rec.wav", Path(td) / "ir.wav", Path(td) / "out.wav"
        h = make_ir(2 * sr)
        sf.write(ir, h, sr, subtype="FLOAT")
        r = np.random.default_rng(5)
        with sf.SoundFile(rec, "w", sr, 2, subtype="FLOAT") as f:
            for _ in range(int(seconds / 10)):
                f.write((0.1 * r.standard_normal((10 * sr, 2))).astype(np.float32))
        # VmHWM (peak RSS of this process image); ru_maxrss would also count the memory of the
        # forked benchmark process before exec
        code = ("from irforge.deconvolution import deconvolve_file; "
                f"deconvolve_file({str(rec)!r}, {str(ir)!r}, {str(out)!r}); "
                "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])")
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        rss_mb = int(p.stdout.strip().splitlines()[-1]) / 1024
    print(f"deconvolve_file on {seconds:g} s stereo 48 kHz (2 s IR): peak RSS {rss_mb:.0f} MB")
    return {"seconds": seconds, "peak_rss_mb": rss_mb}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--memory", type=float, default=0.0, help="seconds of audio for the RSS test")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--robustness", action="store_true",
                    help="also print the perturbed-IR robustness table")
    a = ap.parse_args()
    print("command:", " ".join([os.path.basename(sys.executable)] + sys.argv))
    out = {"env": environment()}
    out["speed"] = speed(10.0 if a.quick else 60.0, 3 if a.quick else 5)
    if not a.skip_quality:
        out["quality"] = quality(a.quick)
    if a.robustness:
        out["robustness"] = robustness()
    if a.memory:
        out["memory"] = memory(a.memory)
    emit_result(out)


if __name__ == "__main__":
    main()
