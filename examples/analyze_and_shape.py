"""Analyse a room IR (ISO 3382-1) and give it a new reverberation time per band.

    python examples/analyze_and_shape.py [out_dir]

Loads a hall IR from ../shared/data (Spokane Woman's Club, stereo, 44.1 kHz; a synthetic
decaying noise IR when the data is absent), prints its octave-band table (EDT, T20, T30, C50,
C80, D50, Ts, DRR), then makes two variants with :func:`irforge.decay_shaping.shape_decay`:
30 % shorter everywhere, and shorter only in the highs (2 kHz and up), re-analyses them and
writes the three IRs, their analyses as JSON and a plot of the 1 kHz energy decay curves.
"""

import json
import sys
from pathlib import Path

import irforge
import numpy as np
from irforge.analysis import analyze
from irforge.decay_shaping import shape_decay

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def load_ir():
    hall = DATA / "room_ir/openair_SpokaneWomansClub_stereo_44k.wav"
    if hall.exists():
        return irforge.ImpulseResponse.load(hall), hall.name
    sr = 48000
    rng = np.random.default_rng(0)
    t = np.arange(3 * sr) / sr
    h = rng.standard_normal((2, t.size)) * 10 ** (-3 * t / 1.8) + 1e-4 * rng.standard_normal((2, t.size))
    return irforge.ImpulseResponse(h / np.abs(h).max(), sample_rate=sr), "synthetic decaying noise"


def main(out_dir="example_out"):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ir, name = load_ir()
    original = analyze(ir)
    print(f"{name}\n{original}\n")

    shorter = shape_decay(ir, scale=0.7)
    r = analyze(shorter)
    print("30 % shorter, T30 re original:", np.round(r.t30_s[0] / original.t30_s[0], 2).tolist())

    highs = {2000: 0.8 * float(original.t30_s[0, 5]), 4000: 0.6 * float(original.t30_s[0, 6]),
             8000: 0.5 * float(original.t30_s[0, 7])}
    darker = shape_decay(ir, t60_s=highs)
    r2 = analyze(darker)
    print("shorter highs, T30 s:", np.round(r2.t30_s[0], 2).tolist(), "targets:",
          {k: round(v, 2) for k, v in highs.items()})

    for label, x, res in (("original", ir, original), ("shorter", shorter, r), ("darker", darker, r2)):
        x.save(out / f"{label}.wav", overwrite=True)
        (out / f"{label}_analysis.json").write_text(json.dumps(res.to_dict(), indent=1))

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        for label, res in (("original", original), ("30 % shorter", r), ("shorter highs", r2)):
            for fc, style in ((1000, "-"), (4000, "--")):
                t, e = res.edc(0, fc)
                ax.plot(t, e, style, label=f"{label}, {fc} Hz")
        ax.set(xlabel="time after onset (s)", ylabel="EDC (dB)", ylim=(-70, 2),
               title="Energy decay curves (noise compensated)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "edc.png", dpi=100)
        plt.close(fig)
    except ImportError:  # matplotlib is optional
        pass
    print(f"wrote {sorted(p.name for p in out.iterdir())} to {out}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
