"""How often the B-format signature (irforge._layout.bformat_signature) is right.

Tuned on: the two real OpenAIR B-format files and true-stereo sets built from the real stereo
IRs in ../shared/data. Held out (never looked at while choosing the statistic/threshold):
the real B-format files rotated to 60 source directions, and image-source shoebox rooms
simulated here (first-order B-format; true stereo with spaced omnis, XY and ORTF cardioids,
and Blumlein figure-of-eights, which the signature is expected to flag: they are signed too).

    .venv/bin/python benchmarks/layout_detection.py
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import soundfile as sf

from irforge import _layout

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FS = 48000
C = 343.0


def read(rel):
    d, sr = sf.read(DATA / rel, always_2d=True)
    return d.T, sr


def rotate(h, az, el):
    w, x, y, z = h
    a, e = math.radians(az), math.radians(el)
    x1, y1 = x * math.cos(a) - y * math.sin(a), x * math.sin(a) + y * math.cos(a)
    return np.stack([w, x1 * math.cos(e) - z * math.sin(e), y1, x1 * math.sin(e) + z * math.cos(e)])


def detected(h, sr):
    return _layout.bformat_signature(h, sr).max() > _layout.SIGNATURE_THRESHOLD


def images(room, src, order, beta):
    """Image sources of a shoebox: positions (n, 3) and amplitudes (n,)."""
    pos, amp = [], []
    rng = range(-order, order + 1)
    for nx in rng:
        for ny in rng:
            for nz in rng:
                if abs(nx) + abs(ny) + abs(nz) > order:
                    continue
                p = []
                for n, L, s in zip((nx, ny, nz), room, src):
                    p.append(n * L + (s if n % 2 == 0 else L - s))
                pos.append(p)
                amp.append(beta ** (abs(nx) + abs(ny) + abs(nz)))
    return np.array(pos), np.array(amp)


def render(pos, amp, mic, pattern, n):
    """IR at ``mic`` for a first-order pattern(u) -> gain, u the arrival direction (unit)."""
    h = np.zeros(n)
    d = pos - mic
    r = np.linalg.norm(d, axis=1)
    u = d / r[:, None]
    t = r / C * FS
    g = amp / np.maximum(r, 0.1) * pattern(u)
    k = np.floor(t).astype(int)
    f = t - k
    ok = k + 1 < n
    np.add.at(h, k[ok], g[ok] * (1 - f[ok]))
    np.add.at(h, k[ok] + 1, g[ok] * f[ok])
    return h


def cardioid(az_deg, p=0.5):
    a = math.radians(az_deg)
    v = np.array([math.cos(a), math.sin(a), 0.0])
    return lambda u: p + (1 - p) * (u @ v)


def simulated(rng, kind):
    room = rng.uniform([4, 3, 2.5], [15, 10, 5])
    beta = rng.uniform(0.7, 0.9)
    mic = room * rng.uniform(0.3, 0.7, 3)
    n = int(0.25 * FS)
    if kind == "bformat":
        src = room * rng.uniform(0.1, 0.9, 3)
        pos, amp = images(room, src, 8, beta)
        pats = [lambda u: np.full(len(u), 1 / math.sqrt(2)), lambda u: u[:, 0],
                lambda u: u[:, 1], lambda u: u[:, 2]]
        return np.stack([render(pos, amp, mic, p, n) for p in pats])
    # two speakers 3 m apart, 3-5 m in front of the microphones (+x), the same height
    dist, half = rng.uniform(3, 5), 1.5
    spk = [mic + np.array([dist, half, 0.0]), mic + np.array([dist, -half, 0.0])]
    spk = [np.clip(s, 0.2, room - 0.2) for s in spk]
    if kind == "spaced omnis":
        mics = [(mic + [0, 0.3, 0], lambda u: np.ones(len(u))), (mic - [0, 0.3, 0], lambda u: np.ones(len(u)))]
    elif kind == "XY cardioids":
        mics = [(mic, cardioid(45)), (mic, cardioid(-45))]
    elif kind == "ORTF cardioids":
        mics = [(mic + [0, 0.085, 0], cardioid(55)), (mic - [0, 0.085, 0], cardioid(-55))]
    else:  # Blumlein
        mics = [(mic, cardioid(45, 0.0)), (mic, cardioid(-45, 0.0))]
    out = []
    for s in spk:
        pos, amp = images(room, s, 8, beta)
        out += [render(pos, amp, m, p, n) for m, p in mics]
    return np.stack(out)   # LL, LR, RL, RR


def main():
    print("tuned on (real files):")
    for rel in ("room_ir/openair_JackLyonsHall_Bformat_96k.wav",
                "room_ir/openair_Genesis6StudioLiveRoom_Bformat_96k.wav"):
        h, sr = read(rel)
        print(f"  {Path(rel).name}: score {_layout.bformat_signature(h, sr).max():.2f}")
    sp, fs1 = read("room_ir/openair_SpokaneWomansClub_stereo_44k.wav")
    br, fs2 = read("room_ir/spatialaudio_brir_sweep_Netzwerkakademie_KEMAR_from_mat.wav")
    un, fs3 = read("room_ir/freesound_peter1955_basement_museum_Unterlinden_clap_48k.wav")
    n = min(sp.shape[1], br.shape[1])
    sets = [np.stack([sp[0], sp[1], sp[1], sp[0]]), np.stack([sp[0, :n], sp[1, :n], br[0, :n], br[1, :n]]),
            np.stack([br[0], br[1], br[1], br[0]]), np.stack([un[0], un[1], un[1], un[0]])]
    rates = [fs1, fs1, fs2, fs3]
    worst = max(_layout.bformat_signature(h, r).max() for h, r in zip(sets, rates))
    print(f"  true-stereo sets from real stereo IRs: {len(sets)}, highest score {worst:.2f}")
    print(f"held out (threshold {_layout.SIGNATURE_THRESHOLD}):")
    for rel in ("room_ir/openair_JackLyonsHall_Bformat_96k.wav",
                "room_ir/openair_Genesis6StudioLiveRoom_Bformat_96k.wav"):
        h, sr = read(rel)
        h = h[:, :int(0.5 * sr)]
        hits = [detected(rotate(h, az, el), sr) for az in range(0, 360, 30) for el in (-60, -30, 0, 30, 60)]
        print(f"  {Path(rel).name} rotated to 60 directions: detected {sum(hits)}/60")
    rng = np.random.default_rng(2026)
    for kind in ("bformat", "spaced omnis", "XY cardioids", "ORTF cardioids", "Blumlein"):
        hits = [detected(simulated(rng, kind), FS) for _ in range(20)]
        label = "detected as B-format"
        print(f"  simulated shoebox, {kind}: {label} {sum(hits)}/20")


if __name__ == "__main__":
    main()
