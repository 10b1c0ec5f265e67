"""Band-limited sweeps (issue 10.2): trim end and T30 of measured IRs against the true IRs.

    .venv/bin/python benchmarks/bench_measure_bands.py

Each real IR (48 kHz, peak 1) is measured with a 5 s exponential sweep 20 Hz -> 16/20/22 kHz;
the recording carries pink + white noise 60 dB below the sweep RMS, 50 Hz hum and a DC offset.
Printed: trim() length of the true and the measured IR, the worst |T30| deviation over the octave
bands 63 Hz-8 kHz (analyze of the trimmed IRs), and the 20-22 kHz level re 200 Hz-5 kHz.
Tuned on the Spokane hall and Modern_UK cab; JackLyons hall (W) and Vintage_US cab held back.
"""
import sys
import warnings
from pathlib import Path

import numpy as np
import scipy.signal as ss
import soundfile as sf
import soxr

import irforge

SR = 48000
DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
SETS = [("tuned", "room_ir/openair_SpokaneWomansClub_stereo_44k.wav"), ("tuned", "cab_ir/adventurekid_Modern_UK_001.wav"),
        ("held-out", "room_ir/openair_JackLyonsHall_Bformat_96k.wav"), ("held-out", "cab_ir/adventurekid_Vintage_US_001.wav")]


def load(rel):
    d, sr = sf.read(str(DATA / rel), always_2d=True)
    h = soxr.resample(d[:, 0], sr, SR, quality="VHQ") if sr != SR else d[:, 0]
    return h / np.max(np.abs(h))


def noise(n, level, rng):
    X = np.fft.rfft(rng.standard_normal(n)); f = np.fft.rfftfreq(n, 1 / SR); X[1:] /= np.sqrt(f[1:]); X[0] = 0
    p = np.fft.irfft(X, n); t = np.arange(n) / SR
    return level * (p / np.std(p) + rng.standard_normal(n) + 0.3 * np.sin(2 * np.pi * 50 * t)) + 1e-4


def hf_db(h):
    H = np.abs(np.fft.rfft(h, 1 << 16)) ** 2; f = np.fft.rfftfreq(1 << 16, 1 / SR)
    return 10 * np.log10(np.mean(H[(f > 20000) & (f < 22000)]) / np.mean(H[(f > 200) & (f < 5000)]))


def main():
    rng = np.random.default_rng(1)
    print("| set | IR | sweep end | trim true s | trim meas s | worst T30 dev % | 20-22 kHz true dB | meas dB |")
    print("|---|---|---|---|---|---|---|---|")
    for tag, rel in SETS:
        h = load(rel)
        true = irforge.ImpulseResponse(h, sample_rate=SR).trim()
        for fe in (16000, 20000, 22000):
            sw = irforge.sweeps.exponential(20, fe, 5.0, sample_rate=SR)
            y = np.r_[ss.fftconvolve(sw.signal, h), np.zeros(SR // 2)]
            y = y + noise(len(y), np.std(sw.signal) * 1e-3, rng)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ir = irforge.measure_ir(sw, y, ir_length_s=len(h) / SR)
                got = ir.trim()
                dev = "-"
                if rel.startswith("room"):
                    at, am = irforge.analyze(true), irforge.analyze(got)
                    dev = f"{100 * np.nanmax(np.abs(am.t30_s[0] / at.t30_s[0] - 1)):.1f}"
            print(f"| {tag} | {Path(rel).stem[:28]} | {fe} | {true.duration_s:.3f} | {got.duration_s:.3f} | {dev} | "
                  f"{hf_db(h):.1f} | {hf_db(ir.data[0].astype(float)):.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
