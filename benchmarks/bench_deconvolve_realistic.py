"""Deconvolution on realistic recordings (issue 10, item 1): method="auto" against the oracle.

    .venv/bin/python benchmarks/bench_deconvolve_realistic.py            # both grids, both splits
    .venv/bin/python benchmarks/bench_deconvolve_realistic.py --quick    # fewer pairs

Every recording is the dry signal through the IR (full tail unless "cut to dry length"),
scaled to -20 dBFS peak, over a white floor 60 dB below the reverberant signal's rms, plus one
condition: DC offsets (-100/-80/-60/-40 dBFS), mains hum at -50 dB re the signal (50 or 60 Hz
with harmonics 2-5 at -6 dB per order, stationary), pink and brown noise at 60/40/30 dB SNR,
16-bit files written by soundfile (truncation, -0.5 LSB mean), rounded, or TPDF-dithered,
a 24-bit file, and the recording cut to the dry signal's length.

The oracle is Tikhonov with the best constant lambda (37 values 1e-12..1 re max|H|^2) chosen
against the true dry signal, full-length float64 FFTs (as benchmarks/bench_deconvolve.py).

Grids
-----
realistic : real dry signals x real IRs (../shared/data) x all conditions.
broadened : more dry material (clean guitar DI loop, single guitar note, castanets, read
            speech, a synthesised sung vowel line) through image-source rooms
            (pyroomacoustics, T60 0.3/0.8/1.5 s) and further cabinets, x a subset of conditions.
Each grid has a *tune* split (the pairs looked at while developing the fix) and a *held-out*
split (dry signals and IRs not used while tuning); both are reported.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import scipy.fft as sfft
import scipy.signal as ss

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA_DIR, emit_result, print_table  # noqa: E402

SR = 44100


def load(rel: str, seconds: float | None = None, offset_s: float = 0.0) -> np.ndarray:
    import soundfile as sf
    import soxr

    d, fs = sf.read(str(DATA_DIR / rel), dtype="float64", always_2d=True)
    d = d[:, 0]
    if fs != SR:
        d = soxr.resample(d, fs, SR)
    d = d[int(offset_s * SR):]
    return d[: int(seconds * SR)] if seconds else d


def sung_voice(seconds: float = 2.5, seed: int = 3) -> np.ndarray:
    """A synthetic sung line: glottal-pulse source (vibrato, jitter) through vowel formants,
    four notes with attacks and short breaths between them."""
    r = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    notes = [220.0, 247.0, 262.0, 196.0]
    f0 = np.repeat(notes, -(-n // len(notes)))[:n] * (1 + 0.01 * np.sin(2 * np.pi * 5.5 * t))
    f0 *= 1 + 0.002 * np.cumsum(r.standard_normal(n)) / np.sqrt(n)
    ph = np.cumsum(f0 / SR)
    src = (ph % 1.0) ** 3 - 0.25               # skewed pulse train, harmonic-rich
    src += 0.02 * r.standard_normal(n)          # breath
    out = np.zeros(n)
    for fc, bw, g in [(700, 110, 1.0), (1220, 120, 0.5), (2600, 160, 0.25)]:   # /a/
        b, a = ss.iirpeak(fc, fc / bw, fs=SR)
        out += g * ss.lfilter(b, a, src)
    seg = n // len(notes)
    env = np.zeros(n)
    for i in range(len(notes)):
        k = np.arange(seg - int(0.08 * SR))
        env[i * seg: i * seg + k.size] = np.minimum(1, k / (0.03 * SR)) * np.exp(-k / (3 * SR))
    return out * env


def image_source_room(t60: float, seed: int) -> np.ndarray:
    """A shoebox room by the image-source method (pyroomacoustics), source and mic at random
    positions, absorption from Sabine's formula for ``t60``; the IR cut where it has decayed."""
    import pyroomacoustics as pra

    r = np.random.default_rng(seed)
    dims = np.array([6.0, 4.5, 3.0]) * (1 + 0.3 * r.random(3))
    e_abs, max_order = pra.inverse_sabine(t60, dims)
    room = pra.ShoeBox(dims, fs=SR, materials=pra.Material(e_abs), max_order=min(max_order, 40),
                       use_rand_ism=False)   # the randomised variant has an unseeded RNG (libroom)
    room.add_source(list(dims * (0.2 + 0.6 * r.random(3))))
    room.add_microphone(list(dims * (0.2 + 0.6 * r.random(3))))
    room.compute_rir()
    h = np.asarray(room.rir[0][0], np.float64)
    return h[: int(min(h.size, 1.2 * t60 * SR + 0.05 * SR))]


# ------------------------------------------------------------------------------------------
# conditions
# ------------------------------------------------------------------------------------------
def coloured(n: int, slope_db_per_oct: float, rng) -> np.ndarray:
    """Gaussian noise with power slope ``slope_db_per_oct`` (-3: pink, -6: brown), flat below
    20 Hz (a real brown floor is subsonic rumble, not an infinite DC random walk)."""
    L = sfft.next_fast_len(n, real=True)
    f = np.fft.rfftfreq(L, 1 / SR)
    shape = np.maximum(f, 20.0) ** (slope_db_per_oct / (20 * np.log10(2)))
    z = sfft.irfft(sfft.rfft(rng.standard_normal(L)) * shape, L)[:n]
    return z / np.std(z)


def hum(n: int, f0: float, rng) -> np.ndarray:
    t = np.arange(n) / SR
    z = sum(10 ** (-6 * (k - 1) / 20) * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi))
            for k in range(1, 6))
    return z / np.std(z)


def quantise(y: np.ndarray, subtype: str, mode: str, rng) -> np.ndarray:
    """Through a file: ``mode`` "sf" (soundfile's own float->int conversion), "round" or
    "dither" (TPDF +-1 LSB, then round) done here and written as integers."""
    import soundfile as sf

    bits = {"PCM_16": 16, "PCM_24": 24}[subtype]
    buf = io.BytesIO()
    if mode == "sf":
        sf.write(buf, y.astype(np.float32), SR, subtype=subtype, format="WAV")
    else:
        q = float(2 ** (bits - 1))
        v = y * q
        if mode == "dither":
            v = v + rng.uniform(-0.5, 0.5, v.size) + rng.uniform(-0.5, 0.5, v.size)
        v = np.clip(np.round(v), -q, q - 1)
        sf.write(buf, (v * 2 ** (32 - bits)).astype(np.int32), SR, subtype=subtype, format="WAV")
    buf.seek(0)
    return sf.read(buf, dtype="float32")[0]


ALL_CONDITIONS = (["white60", "dc-100", "dc-80", "dc-60", "dc-40", "hum50", "hum60"]
                  + [f"{c}{s}" for c in ("pink", "brown") for s in (60, 40, 30)]
                  + ["16bit-sf", "16bit-round", "16bit-dither", "24bit-sf", "cut"])
BROAD_CONDITIONS = ["white60", "dc-60", "hum50", "pink40", "brown30", "16bit-sf", "cut"]


def render(x: np.ndarray, h: np.ndarray, cond: str, seed: int) -> np.ndarray:
    """The recording for one condition (float32), see the module docstring."""
    rng = np.random.default_rng(seed)
    L = sfft.next_fast_len(x.size + h.size, real=True)
    yc = sfft.irfft(sfft.rfft(x, L) * sfft.rfft(h, L), L)[: x.size + h.size - 1]
    yc *= 0.1 / np.abs(yc).max()                          # -20 dBFS peak
    rms = np.sqrt(np.mean(yc ** 2))
    y = yc + rng.standard_normal(yc.size) * rms * 1e-3    # the 60 dB white floor
    if cond.startswith("dc"):
        y += 10 ** (float(cond[2:]) / 20)
    elif cond.startswith("hum"):
        y += hum(y.size, float(cond[3:]), rng) * rms * 10 ** (-50 / 20)
    elif cond.startswith("pink") or cond.startswith("brown"):
        snr = float(cond[-2:])
        y += coloured(y.size, -3.0 if cond.startswith("pink") else -6.0, rng) * rms * 10 ** (-snr / 20)
    elif cond.startswith("16bit") or cond.startswith("24bit"):
        y = quantise(y, "PCM_16" if cond.startswith("16") else "PCM_24", cond.split("-")[1], rng)
    elif cond == "cut":
        y = y[: x.size]
    return y.astype(np.float32)


def oracle(y: np.ndarray, h: np.ndarray, x: np.ndarray) -> float:
    from irforge.metrics import si_sdr

    L = sfft.next_fast_len(y.size + h.size, real=True)
    Y, H = sfft.rfft(y.astype(np.float64), L), sfft.rfft(h, L)
    H2 = H.real ** 2 + H.imag ** 2
    num = np.conj(H) * Y
    return max(si_sdr(sfft.irfft(num / (H2 + lam * H2.max()), L)[: x.size], x)
               for lam in np.logspace(-12, 0, 37))


def evaluate(pairs, conditions, label: str, seed_offset: int = 0, seed_order=None):
    from irforge.deconvolution import deconvolve
    from irforge.metrics import si_sdr

    res = []
    for i, (dn, x, hn, h) in enumerate(pairs):
        for cond in conditions:
            j = (seed_order or conditions).index(cond)
            y = render(x, h, cond, seed=1000 * i + j + seed_offset)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                a = si_sdr(deconvolve(y, h, sample_rate=SR)[: x.size], x)
            o = oracle(y, h, x)
            res.append({"grid": label, "dry": dn, "ir": hn, "cond": cond, "auto": a, "oracle": o})
            print(f"  {label:24s} {dn:10s} {hn:16s} {cond:12s} auto {a:6.1f} oracle {o:6.1f} "
                  f"diff {a - o:+6.1f}", flush=True)
    return res


def summarise(res, title: str):
    conds = list(dict.fromkeys(r["cond"] for r in res))
    rows = []
    for c in conds:
        d = np.array([r["auto"] - r["oracle"] for r in res if r["cond"] == c])
        o = np.array([r["oracle"] for r in res if r["cond"] == c])
        rows.append([c, len(d), float(np.mean(o)), float(d.min()), float(d.mean()), int(np.sum(d < -2))])
    d = np.array([r["auto"] - r["oracle"] for r in res])
    rows.append(["all", len(d), float(np.mean([r["oracle"] for r in res])), float(d.min()),
                 float(d.mean()), int(np.sum(d < -2))])
    print_table(["condition", "pairs", "oracle mean", "worst auto-oracle", "mean auto-oracle",
                 "< -2 dB"], rows, title=title)
    return {"worst": float(d.min()), "mean": float(d.mean()), "n": len(d),
            "below_2db": int(np.sum(d < -2)), "rows": rows}


def realistic_pairs(split: str, quick: bool):
    if split == "tune":
        dry = {"guitar DI": load("dry/guitarDI_gulmini_input_001.wav", 3.0),
               "speech": load("dry/speech_spatialaudio_xmas_male_voice.wav", 2.5)}
        irs = {"cab Modern_UK": load("cab_ir/adventurekid_Modern_UK_001.wav"),
               "room seminar": load("room_ir/spatialaudio_rir_clap_seminar_room.wav"),
               "room Genesis6": load("room_ir/openair_Genesis6StudioLiveRoom_Bformat_96k.wav", 0.6)}
    else:
        dry = {"guitar loop": load("dry/guitarDI_gulmini_loop.wav", 3.0),
               "read speech": load("dry/speech_spatialaudio_librivox_flatland_excerpt.wav"),
               "castanets": load("dry/perc_spatialaudio_castanets_dry.wav", 3.0)}
        irs = {"cab Vintage_US": load("cab_ir/adventurekid_Vintage_US_001.wav"),
               "cab 80s_UK": load("cab_ir/adventurekid_80s_UK_001.wav"),
               "room museum": load("room_ir/freesound_peter1955_basement_museum_Unterlinden_clap_48k.wav", 1.0)}
    if quick:
        dry = dict(list(dry.items())[:1])
    return [(dn, x, hn, h / np.abs(h).max()) for dn, x in dry.items() for hn, h in irs.items()]


def broadened_pairs(split: str, quick: bool):
    if split == "tune":
        dry = {"guitar E2": load("dry/guitarDI_toobamp_Guitar-E2.wav", 2.5),
               "sung (synth)": sung_voice(2.5, seed=3)}
        irs = {f"ISM T60 {t:g} s": image_source_room(t, seed=11 + k) for k, t in enumerate((0.3, 0.8))}
        irs["cab Radio"] = load("cab_ir/adventurekid_Radio_001.wav")
    else:
        dry = {"castanets": load("dry/perc_spatialaudio_castanets_dry.wav", 2.5, offset_s=3.0),
               "guitar loop": load("dry/guitarDI_gulmini_loop.wav", 2.5, offset_s=4.0),
               "sung (synth)": sung_voice(2.5, seed=8),
               "read speech": load("dry/speech_spatialaudio_librivox_flatland_excerpt.wav")}
        irs = {f"ISM T60 {t:g} s": image_source_room(t, seed=31 + k) for k, t in enumerate((0.3, 0.8, 1.5))}
        irs["cab Speaker"] = load("cab_ir/adventurekid_Speaker_001.wav")
        irs["cab Vintage_UK"] = load("cab_ir/adventurekid_Vintage_UK_001.wav")
        irs["hall Spokane"] = load("room_ir/openair_SpokaneWomansClub_stereo_44k.wav", 1.5)
    if quick:
        dry = dict(list(dry.items())[:1])
    return [(dn, x, hn, h / np.abs(h).max()) for dn, x in dry.items() for hn, h in irs.items()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--grid", choices=["realistic", "broadened", "both"], default="both")
    ap.add_argument("--split", choices=["tune", "held-out", "both"], default="both")
    ap.add_argument("--seed-offset", type=int, default=0,
                    help="other noise realisations than the ones looked at while tuning")
    ap.add_argument("--conditions", default=None, help="comma-separated subset of conditions")
    a = ap.parse_args()
    print("command:", " ".join([os.path.basename(sys.executable)] + sys.argv))
    out = {}
    splits = ["tune", "held-out"] if a.split == "both" else [a.split]
    for grid in (["realistic", "broadened"] if a.grid == "both" else [a.grid]):
        for split in splits:
            pairs = (realistic_pairs if grid == "realistic" else broadened_pairs)(split, a.quick)
            conds = ALL_CONDITIONS if grid == "realistic" else BROAD_CONDITIONS
            if a.conditions:
                conds = [c for c in conds if c in a.conditions.split(",")]
            # the seeds index the full condition list, so a subset keeps each pair's recording
            full = ALL_CONDITIONS if grid == "realistic" else BROAD_CONDITIONS
            res = evaluate(pairs, conds, f"{grid}/{split}", a.seed_offset, full)
            out[f"{grid}/{split}"] = summarise(res, f"{grid} grid, {split} split: SI-SDR (dB), "
                                                    f"auto vs oracle")
    emit_result(out)


if __name__ == "__main__":
    main()
