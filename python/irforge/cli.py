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


def _parse_setting(text: str):
    """KEY=VALUE with VALUE read as a TOML value (numbers, true/false, "strings")."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"--set expects KEY=VALUE, got {text!r}")
    try:
        return key.strip(), tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return key.strip(), value  # a bare word is a string


def _cmd_export(args) -> int:
    from .export import list_presets, load_preset
    from .impulse_response import ImpulseResponse

    if args.list_presets:
        for name in list_presets():
            print(f"{name:20s} {load_preset(name)['description']}")
        return 0
    if not args.ir or not args.output:
        raise ValueError("irforge export needs IR and OUTPUT (or --list-presets)")
    ir = ImpulseResponse.load(args.ir)
    if args.channel is not None:
        ir = ir.to_mono(channel=args.channel)
    elif args.mono:
        ir = ir.to_mono()
    overrides = dict(_parse_setting(t) for t in args.set)
    for p in ir.export(args.output, preset=args.preset, overwrite=args.overwrite, **overrides):
        print(f"wrote {p}")
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

    e = sub.add_parser("export", help="write an IR file for a convolution plugin (see --list-presets)")
    e.add_argument("ir", nargs="?")
    e.add_argument("output", nargs="?")
    e.add_argument("--preset", default="generic")
    e.add_argument("--mono", action="store_true", help="average the channels first")
    e.add_argument("--channel", type=int, default=None, help="keep only this channel")
    e.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a preset setting, e.g. --set sample_rate=44100")
    e.add_argument("--overwrite", action="store_true")
    e.add_argument("--list-presets", action="store_true")
    e.set_defaults(func=_cmd_export)

    args = p.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError) as exc:
        print(f"irforge {args.verb}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
