"""Measure an IR from a sweep and its recording, and save it.

    python examples/measure_from_sweep.py [out_dir]

Writes a playback file (tone-burst marker + exponential sweep), simulates playing it in a room
(a real IR from ../shared/data when present, else a synthetic one) with unknown sound-card
latency and noise 60 dB down, measures the IR with the marker alignment, and saves it.
"""

import sys
from pathlib import Path

import numpy as np

import irforge

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SR = 48000


def main(out_dir="example_out"):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    room = DATA / "room_ir/spatialaudio_rir_clap_seminar_room.wav"
    if room.exists():
        true_ir = irforge.ImpulseResponse.load(room).resample(SR)
    else:
        t = np.arange(SR // 2) / SR
        noise = np.random.default_rng(0).standard_normal(len(t)) * np.exp(-6.9 * t / 0.4)
        true_ir = irforge.ImpulseResponse(noise / np.abs(noise).max(), sample_rate=SR)

    # 1. the test signal and the file to play
    sweep = irforge.sweeps.exponential(20, 20000, 3.0, sample_rate=SR)
    playback = irforge.sweeps.write_playback(out / "playback.wav", sweep, repeats=2, gap_s=1.5,
                                             overwrite=True)

    # 2. "play and record": the room, 1234 samples of interface latency, noise
    rng = np.random.default_rng(1)
    wet = irforge.convolve(playback.signal, true_ir.data[0], sample_rate=SR)
    recording = np.concatenate([np.zeros(1234), wet]) + 1e-3 * np.std(sweep.signal) * rng.standard_normal(
        1234 + len(wet))

    # 3. measure: the marker aligns the recording, both sweeps are averaged, harmonics separated
    ir = irforge.measure_ir(playback, recording, ir_length_s=1.0)
    path = ir.save(out / "measured_ir.wav", overwrite=True)
    print(f"{ir!r} via {ir.metadata['method']} (latency {ir.metadata['latency_mode']}, "
          f"{ir.metadata['takes']} takes) -> {path}")
    return path


if __name__ == "__main__":
    main(*sys.argv[1:])
