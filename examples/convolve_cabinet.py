"""Run a guitar DI through a cabinet IR, offline and as a streaming effect.

    python examples/convolve_cabinet.py [out_dir]

Uses the real DI and cabinet IR in ../shared/data when present, else the built-in
synthetic ones.
"""

import sys
from pathlib import Path

import numpy as np
import soundfile as sf

import irforge
from irforge import demo
from irforge.audio_io import write_audio_atomic

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def main(out_dir="example_out"):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    di_path, cab_path = DATA / "dry/guitarDI_gulmini_input_001.wav", DATA / "cab_ir/adventurekid_Modern_UK_001.wav"
    if di_path.exists() and cab_path.exists():
        di, sr = sf.read(di_path, dtype="float32")
        di = di if di.ndim == 1 else di[:, 0]
        cab = irforge.ImpulseResponse.load(cab_path)           # stereo cabinet IR
    else:
        sr = 48000
        di, cab = demo.guitar_part(sample_rate=sr), demo.cabinet_ir(sample_rate=sr)

    # offline: the whole file, tail kept; a stereo IR turns the mono DI into stereo
    wet = irforge.convolve(di, cab, sample_rate=sr)

    # streaming: a pedalboard-style effect, 256-sample blocks, zero latency
    fx = irforge.Convolver(cab, sample_rate=sr, mix=1.0)
    streamed = np.concatenate(
        [fx.process(di[i:i + 256], sr, buffer_size=256, reset=(i == 0)) for i in range(0, len(di), 256)],
        axis=-1)
    assert np.allclose(streamed, wet[..., : len(di)], atol=1e-5 * np.abs(wet).max())

    path = write_audio_atomic(out / "guitar_through_cab.wav", np.atleast_2d(wet) * 0.5 / np.abs(wet).max(),
                              sr, overwrite=True)
    print(f"{len(di) / sr:.1f} s DI through {cab!r} -> {path}")
    return path


if __name__ == "__main__":
    main(*sys.argv[1:])
