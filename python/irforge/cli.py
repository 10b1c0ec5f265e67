"""The ``irforge`` command line: ``irforge <verb> ...``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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


_SWEEP_KEYS = ("kind", "f_start_hz", "f_end_hz", "duration_s", "sample_rate", "amplitude")
_LAYOUT_KEYS = ("repeats", "pre_silence_s", "gap_s", "post_silence_s", "marker")


def _sidecar(path) -> Path:
    return Path(path).with_suffix(".json")


def _make_sweep(kind, f_start_hz, f_end_hz, duration_s, sample_rate, amplitude):
    """The sweep `irforge sweep` writes, also rebuilt from its JSON description."""
    from . import sweeps

    make = sweeps.exponential if kind == "exponential" else sweeps.linear
    return make(f_start_hz, f_end_hz, duration_s, sample_rate=sample_rate, amplitude=amplitude)


def _cmd_sweep(args) -> int:
    import json
    import os

    from . import sweeps

    sw = _make_sweep(args.kind, args.f_start, args.f_end, args.duration, args.sample_rate, args.amplitude)
    layout = dict(repeats=args.repeats, pre_silence_s=0.5, gap_s=args.gap, post_silence_s=args.gap,
                  marker=not args.no_marker)
    side = _sidecar(args.output)
    if side.exists() and not args.overwrite:
        raise FileExistsError(f"{side} exists (use --overwrite)")
    pb = sweeps.write_playback(args.output, sw, overwrite=args.overwrite, **layout)
    desc = {k: getattr(sw, k) for k in _SWEEP_KEYS} | layout | {"irforge_playback": 1}
    tmp = side.with_name(side.name + ".tmp")
    tmp.write_text(json.dumps(desc, indent=2))
    os.replace(tmp, side)
    print(f"wrote {pb.path} ({len(pb.signal) / sw.sample_rate:.1f} s, {args.repeats} x {args.kind} sweep) "
          f"and {side}; play it, record it, then: irforge measure {pb.path} RECORDING.wav IR.wav")
    return 0


def _playback_from_sidecar(path, data, sr):
    """Rebuild the Playback that `irforge sweep` wrote (checked against the file's samples)."""
    import json

    from . import sweeps

    desc = json.loads(_sidecar(path).read_text())
    if desc.get("irforge_playback") != 1:
        raise ValueError(f"{_sidecar(path)} is not an irforge playback description")
    sw = _make_sweep(*(desc[k] for k in _SWEEP_KEYS))
    pb = sweeps.write_playback(None, sw, **{k: desc[k] for k in _LAYOUT_KEYS})
    if sr != sw.sample_rate or len(pb.signal) != len(data) or np.max(np.abs(pb.signal - data)) > 1e-4:
        raise ValueError(f"{path} does not match its description {_sidecar(path)} (edited or resampled?)")
    return pb


def _read_audio(path, verb):
    import soundfile as sf

    try:
        audio, sr = sf.read(path, dtype="float32", always_2d=True)
    except Exception as exc:
        raise ValueError(f"cannot read {str(path)!r}: {exc}") from None
    return audio.T, float(sr)


def _cmd_measure(args) -> int:
    from .measure import measure_ir

    exc, sr_x = _read_audio(args.excitation, "measure")
    rec, sr_y = _read_audio(args.recording, "measure")
    if sr_x != sr_y:
        raise ValueError(f"the excitation is at {sr_x:g} Hz and the recording at {sr_y:g} Hz; "
                         "record at the playback rate")
    if _sidecar(args.excitation).exists():
        excitation = _playback_from_sidecar(args.excitation, exc[0].astype(np.float64), sr_x)
    else:
        excitation = exc[0]
    ir = measure_ir(excitation, rec[0] if rec.shape[0] == 1 else rec, sample_rate=sr_x,
                    ir_length_s=args.length)
    if args.trim:
        ir = ir.trim()
    path = ir.save(args.output, overwrite=args.overwrite)
    print(f"wrote {path}: {ir.n_channels} ch, {ir.duration_s:.3f} s at {ir.sample_rate:g} Hz")
    return 0


def _cmd_analyze(args) -> int:
    import json
    import os

    from .analysis import analyze
    from .impulse_response import ImpulseResponse

    ir = ImpulseResponse.load(args.ir)
    if args.channel is not None:
        ir = ir.to_mono(channel=args.channel)
    bands = None if args.bands == "none" else args.bands
    r = analyze(ir, bands=bands, f_min_hz=args.f_min, f_max_hz=args.f_max)
    print(r)
    if args.json:
        out = Path(args.json)
        if out.exists() and not args.overwrite:
            raise FileExistsError(f"{out} exists (use --overwrite)")
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(json.dumps(r.to_dict(), indent=1))
        os.replace(tmp, out)
        print(f"wrote {out}")
    return 0


def _cmd_deconvolve(args) -> int:
    from .deconvolution import deconvolve_file

    opts = {k: v for k, v in (("lam", args.lam), ("noise_db", args.noise_db)) if v is not None}
    path = deconvolve_file(args.input, args.ir, args.output, method=args.method, overwrite=args.overwrite,
                           bit_depth=args.bit_depth, **opts)
    print(f"wrote {path} (method {args.method})")
    return 0


def _cmd_dereverb(args) -> int:
    from .dereverberation import dereverb
    from .impulse_response import write_audio_atomic

    z, sr = _read_audio(args.input, "dereverb")
    x, sr_x = _read_audio(args.excitation, "dereverb")
    y, sr_y = _read_audio(args.recorded_excitation, "dereverb")
    if not sr == sr_x == sr_y:
        raise ValueError(f"sample rates differ: recording {sr:g} Hz, excitation {sr_x:g} Hz, "
                         f"recorded excitation {sr_y:g} Hz")
    opts = {} if args.mode == "reference" else {
        k: v for k, v in (("frame_s", args.frame_s), ("ir_length_s", args.ir_length_s)) if v is not None}
    r = dereverb(z[0], excitation=x[0], recorded_excitation=y[0], sample_rate=sr, mode=args.mode, **opts)
    path = write_audio_atomic(args.output, np.atleast_2d(r.audio), sr, bit_depth=args.bit_depth,
                              overwrite=args.overwrite)
    print(f"wrote {path} (mode {args.mode}; first channel of each file used)")
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

    s = sub.add_parser("sweep", help="write a sweep playback file (+ .json description) to measure an IR")
    s.add_argument("output")
    s.add_argument("--kind", choices=["exponential", "linear"], default="exponential")
    s.add_argument("--f-start", type=float, default=20.0, metavar="HZ")
    s.add_argument("--f-end", type=float, default=20000.0, metavar="HZ")
    s.add_argument("--duration", type=float, default=5.0, metavar="S", help="of one sweep")
    s.add_argument("--sample-rate", type=float, default=48000.0, metavar="HZ")
    s.add_argument("--amplitude", type=float, default=0.5)
    s.add_argument("--repeats", type=int, default=1, help="sweeps in the file (averaged)")
    s.add_argument("--gap", type=float, default=3.0, metavar="S", help="silence after each sweep (> IR length)")
    s.add_argument("--no-marker", action="store_true", help="no alignment tone burst before the first sweep")
    s.add_argument("--overwrite", action="store_true")
    s.set_defaults(func=_cmd_sweep)

    m = sub.add_parser("measure", help="measure an IR from a playback/excitation file and its recording")
    m.add_argument("excitation", help="file from `irforge sweep` (its .json is used) or any played signal")
    m.add_argument("recording")
    m.add_argument("output")
    m.add_argument("--length", type=float, default=None, metavar="S", help="IR length (default: automatic)")
    m.add_argument("--trim", action="store_true", help="trim to the onset and the noise floor (ISO 3382/Lundeby)")
    m.add_argument("--overwrite", action="store_true")
    m.set_defaults(func=_cmd_measure)

    a = sub.add_parser("analyze", help="ISO 3382-1 parameters of an IR (EDT, T20, T30, C50, C80, D50, Ts, DRR)")
    a.add_argument("ir")
    a.add_argument("--bands", choices=["octave", "third", "none"], default="octave")
    a.add_argument("--f-min", type=float, default=None, metavar="HZ", help="lowest band centre (default 63)")
    a.add_argument("--f-max", type=float, default=None, metavar="HZ", help="highest band centre (default 8000)")
    a.add_argument("--channel", type=int, default=None, help="analyse only this channel (B-format W = 0)")
    a.add_argument("--json", default=None, metavar="PATH", help="also write all values as JSON")
    a.add_argument("--overwrite", action="store_true")
    a.set_defaults(func=_cmd_analyze)

    dc = sub.add_parser("deconvolve", help="recover the dry signal from a recording and its IR (streams)")
    dc.add_argument("input")
    dc.add_argument("ir")
    dc.add_argument("output")
    dc.add_argument("--method", choices=["auto", "wiener", "tikhonov", "kirkeby"], default="auto")
    dc.add_argument("--lam", type=float, default=None, help="Tikhonov lambda (default: automatic)")
    dc.add_argument("--noise-db", type=float, default=None, help="noise level re the recording, dB "
                    "(default: estimated from the recording)")
    dc.add_argument("--bit-depth", type=int, choices=[16, 24, 32], default=32)
    dc.add_argument("--overwrite", action="store_true")
    dc.set_defaults(func=_cmd_deconvolve)

    dr = sub.add_parser("dereverb", help="Ciba's decayed-IR dereverberation filter from a periodic sweep pair")
    dr.add_argument("input", help="recording to filter")
    dr.add_argument("excitation", help="the periodic sweep that was played")
    dr.add_argument("recorded_excitation", help="its recording through the same chain")
    dr.add_argument("output")
    dr.add_argument("--mode", choices=["reference", "improved"], default="improved")
    dr.add_argument("--frame-s", type=float, default=None, help="improved: analysis frame = sweep period, s (5)")
    dr.add_argument("--ir-length-s", type=float, default=None, help="improved: longest IR to estimate, s")
    dr.add_argument("--bit-depth", type=int, choices=[16, 24, 32], default=32)
    dr.add_argument("--overwrite", action="store_true")
    dr.set_defaults(func=_cmd_dereverb)

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
