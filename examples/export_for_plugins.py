"""Export a cabinet IR for a cab loader and a room IR for a true-stereo convolution reverb.

    python examples/export_for_plugins.py [out_dir]

Uses a real cabinet IR and a real room IR from ../shared/data when present, else the
built-in synthetic ones (irforge.demo).
"""

import sys
from pathlib import Path

import irforge
from irforge import demo

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def main(out_dir="example_out"):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cab_path = DATA / "cab_ir/adventurekid_Modern_UK_001.wav"
    room_path = DATA / "room_ir/openair_SpokaneWomansClub_stereo_44k.wav"
    cab = irforge.ImpulseResponse.load(cab_path) if cab_path.exists() else demo.cabinet_ir()
    room = irforge.ImpulseResponse.load(room_path) if room_path.exists() else demo.room_ir()

    # cab loader: 48 kHz / 24-bit / mono / 2048 samples, trimmed, faded, peak -1 dBFS.
    # The preset takes one channel: a stereo cabinet file is reduced first.
    written = cab.to_mono().export(out / "cabinet", preset="cab-loader", overwrite=True)

    # true-stereo reverb: 48 kHz / 24-bit, one 4-channel file (LL, LR, RL, RR) and the same
    # as two stereo files hall_L.wav / hall_R.wav; a stereo room IR gets silent cross terms.
    written += room.export(out / "hall.wav", preset="reverb-true-stereo", overwrite=True)
    written += room.export(out / "hall.wav", preset="reverb-true-stereo", overwrite=True,
                           split_true_stereo=True)

    for p in written:
        ir = irforge.ImpulseResponse.load(p)
        print(f"{p}: {ir.n_channels} ch, {ir.sample_rate:g} Hz, {ir.n_samples} samples")
    return written


if __name__ == "__main__":
    main(*sys.argv[1:])
