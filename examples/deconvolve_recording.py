"""Get the dry signal back from a recording made through a known impulse response.

    python examples/deconvolve_recording.py OUT_DIR

Answers "I want to deconvolve a recording with an impulse response to get the original audio
back; scipy.signal.deconvolve gives me nothing": builds a reverberant recording (dry guitar DI
or speech from ../shared/data through a cabinet IR, or synthetic material when the data is
absent), shows why scipy.signal.deconvolve and plain division fail, and writes irforge's dry
estimate to OUT_DIR/dry_estimate.wav.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf

from irforge import ImpulseResponse, convolve
from irforge.deconvolution import deconvolve
from irforge.metrics import si_sdr

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def material():
    dry_p = DATA / "dry" / "guitarDI_gulmini_input_001.wav"
    ir_p = DATA / "cab_ir" / "adventurekid_Modern_UK_001.wav"
    if dry_p.exists() and ir_p.exists():
        x, sr = sf.read(dry_p, dtype="float32")
        x = x[: 2 * sr]
        ir = ImpulseResponse.load(ir_p).to_mono().resample(sr)   # same rate as the recording
        return x, ir, sr
    sr = 44100                                           # synthetic fallback
    r = np.random.default_rng(0)
    t = np.arange(2 * sr) / sr
    x = (0.3 * np.sin(2 * np.pi * 110 * t) * np.exp(-2 * (t % 0.5))).astype(np.float32)
    h = r.standard_normal(4000) * np.exp(-np.arange(4000) / 500.0)
    return x, ImpulseResponse(h.astype(np.float32), sample_rate=sr), sr


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    x, ir, sr = material()
    y = convolve(x, ir)                                    # the "recording"
    y = y + 10 ** (-40 / 20) * np.std(y) * np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    n = x.size

    # 1. scipy.signal.deconvolve: polynomial long division = the recursive filter 1/H(z).
    #    A measured IR is not minimum phase and starts with a tiny sample: the recursion is
    #    unstable and overflows (or is meaningless), which is "nothing" in the variable explorer.
    h = ir.data[0].astype(np.float64)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q, _ = scipy.signal.deconvolve(y.astype(np.float64)[: n + h.size - 1], h[np.flatnonzero(h)[0]:])
    bad = np.count_nonzero(~np.isfinite(q))
    print(f"scipy.signal.deconvolve: {bad} of {q.size} samples NaN/Inf, max |finite| = "
          f"{np.max(np.abs(q[np.isfinite(q)])) if bad < q.size else float('nan'):.3g}")

    # 2. plain spectral division: stable, but the noise is multiplied by 1/|H| in every notch.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        naive = deconvolve(y, ir, sample_rate=sr, method="naive")
    print(f"plain division Y/H:      SI-SDR {si_sdr(naive[:n], x):6.1f} dB")
    base = deconvolve(y, ir, sample_rate=sr, method="threshold")
    print(f"threshold rule (-30 dB): SI-SDR {si_sdr(base[:n], x):6.1f} dB")

    # 3. irforge: Wiener deconvolution with the noise estimated from the recording itself.
    x_hat = deconvolve(y, ir, sample_rate=sr)              # method="auto"
    print(f"irforge.deconvolve:      SI-SDR {si_sdr(x_hat[:n], x):6.1f} dB "
          f"(recording itself: {si_sdr(y[:n], x):.1f} dB)")
    peak = max(1.0, float(np.max(np.abs(x_hat))))
    sf.write(out_dir / "recording.wav", y, sr, subtype="FLOAT")
    sf.write(out_dir / "dry_estimate.wav", x_hat / peak, sr, subtype="FLOAT")
    print(f"wrote {out_dir / 'dry_estimate.wav'}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python examples/deconvolve_recording.py OUT_DIR")
    main(Path(sys.argv[1]))
