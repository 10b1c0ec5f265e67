"""The ``irforge`` command line: ``irforge <verb> ...``."""

from __future__ import annotations

import argparse
import sys

import numpy as np


def _cmd_demo(args) -> int:
    from . import demo

    print(demo.run(args.out_dir))
    return 0


def _cmd_convolve(args) -> int:
    import soundfile as sf

    from .convolution import convolve
    from .impulse_response import ImpulseResponse, write_audio_atomic

    ir = ImpulseResponse.load(args.ir)
    try:
        audio, sr = sf.read(args.input, dtype="float32", always_2d=True)
    except Exception as exc:
        raise SystemExit(f"irforge convolve: cannot read {args.input!r}: {exc}")
    y = convolve(audio.T, ir, sample_rate=sr, mode=args.mode)
    y = np.atleast_2d(y)
    if args.normalize:
        peak = float(np.abs(y).max())
        if peak > 0:
            y = y * (10 ** (args.normalize / 20) / peak)
    write_audio_atomic(args.output, y, sr, bit_depth=args.bit_depth, overwrite=args.overwrite)
    print(f"wrote {args.output}: {y.shape[0]} ch, {y.shape[1] / sr:.2f} s at {sr} Hz")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="irforge", description="Impulse responses, fast.")
    sub = p.add_subparsers(dest="verb", required=True)

    d = sub.add_parser("demo", help="render built-in guitar through a cabinet and a room IR")
    d.add_argument("--out-dir", default="demo_out")
    d.set_defaults(func=_cmd_demo)

    c = sub.add_parser("convolve", help="convolve an audio file with an IR file")
    c.add_argument("input")
    c.add_argument("ir")
    c.add_argument("output")
    c.add_argument("--mode", choices=["full", "same"], default="full")
    c.add_argument("--bit-depth", type=int, choices=[16, 24, 32], default=32)
    c.add_argument("--normalize", type=float, default=None, metavar="PEAK_DB",
                   help="normalise the output peak to this level in dBFS")
    c.add_argument("--overwrite", action="store_true")
    c.set_defaults(func=_cmd_convolve)

    args = p.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError) as exc:
        print(f"irforge {args.verb}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
