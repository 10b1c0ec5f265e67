"""The ``irforge`` command line: ``irforge <verb> ...``.

Every verb exits 0 on success and 2 with one line ``irforge <verb>: error: ...`` on stderr
when the input is wrong (a missing or empty file, a bad option, an estimator that refuses the
recording); an unexpected failure exits 1 the same way. Warnings are one line each,
``irforge <verb>: warning: ...``. Messages name the command-line options (``--overwrite``,
``--mono``, ``--layout``), not the Python keywords they map to. ``--help`` shows every default.
"""

from __future__ import annotations

import argparse
import re
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

# API wording -> command-line wording in messages (errors and warnings)
_CLI_WORDS = [
    (re.compile(r"pass overwrite=True to replace it"), "use --overwrite to replace it"),
    (re.compile(r"\boverwrite=True\b"), "--overwrite"),
    (re.compile(r"\blayout='([\w-]+)'"), r"--layout \1"),
    (re.compile(r"\bbit_depth=(\d+)"), r"--bit-depth \1"),
    (re.compile(r"ir\.to_mono\(channel=(\d+)\)"), r"--channel \1"),
    (re.compile(r"ir\.to_mono\(\)"), "--mono"),
    (re.compile(r"`(irforge [^`]*)`"), r"\1"),
    (re.compile(r"\bgain='(\w+)'"), r"--gain \1"),
]
# export: preset settings are --set KEY=VALUE on the command line
_SET_WORDS = re.compile(r"\b(normalize|on_clip|split_true_stereo|sample_rate|length_samples|"
                        r"channels)=('?)([\w.+-]+)\2")


def _cli_message(text, verb: str) -> str:
    """One line, in the command line's words."""
    msg = " ".join(str(text).split())
    if msg.startswith(f"{verb}: "):          # the API's own "convolve: ..." prefix
        msg = msg[len(verb) + 2:]
    for pattern, repl in _CLI_WORDS:
        msg = pattern.sub(repl, msg)
    if verb == "export":
        msg = _SET_WORDS.sub(r"--set \1=\3", msg)
    return msg


def _read_audio(path, what: str = "input"):
    """``(audio (channels, samples) float32, sample rate)`` of a file, or a clear error
    (FileNotFoundError naming the path; ParameterError for an unreadable, corrupt or empty file)."""
    from .audio_io import read_audio

    return read_audio(path, what)


def _load_ir(path, *, mono: bool = False, channel: int | None = None):
    """The IR file, reduced to one channel on request (--mono averages, --channel N picks)."""
    from .impulse_response import ImpulseResponse

    ir = ImpulseResponse.load(path)
    if channel is not None:
        return ir.to_mono(channel=channel)
    return ir.to_mono() if mono else ir


def _add_ir_channels(parser, what: str) -> None:
    g = parser.add_mutually_exclusive_group()
    g.add_argument("--mono", action="store_true", help=f"average the IR's channels first ({what})")
    g.add_argument("--channel", type=int, default=None, metavar="N",
                   help="use only this channel of the IR (B-format: 0 = W, the omni)")


_LAYOUTS = ["auto", "true-stereo", "bformat", "ambix"]
_LAYOUT_HELP = ("what a 4-channel IR's channels are: 'auto' refuses one that looks like "
                "ambisonic B-format; 'bformat' (FuMa W,X,Y,Z) and 'ambix' (W,Y,Z,X) decode it to "
                "stereo with two virtual cardioids at +/-45 degrees; 'true-stereo' = LL,LR,RL,RR")


# -- verbs ----------------------------------------------------------------------------------
def _cmd_demo(args) -> int:
    from . import demo

    print(demo.run(args.out_dir))
    return 0


def _cmd_convolve(args) -> int:
    from ._errors import ClippingWarning
    from .convolution import convolve
    from .audio_io import write_audio_atomic

    from .audio_io import audio_info

    ir = _load_ir(args.ir, mono=args.mono, channel=args.channel)
    channels, frames, sr = audio_info(args.input, "input")
    if channels * frames > STREAM_SAMPLES:
        return _convolve_streaming(args, ir, frames, sr)
    audio, sr = _read_audio(args.input)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClippingWarning)   # said below, in the CLI's words
        y = np.atleast_2d(convolve(audio, ir, sample_rate=sr, mode=args.mode, layout=args.layout))
    peak = float(np.abs(y).max()) if y.size else 0.0
    if args.normalize is not None:
        if peak == 0:
            raise ValueError("the output is silent: there is nothing to normalise")
        y = y * (10 ** (args.normalize / 20) / peak)
    elif peak > 1.0 and args.bit_depth != 32:
        n = int(np.count_nonzero(np.abs(y) > 1.0))
        warnings.warn(f"the output peaks at {20 * np.log10(peak):+.1f} dBFS: {n} of {y.size} samples "
                      f"clip in the {args.bit_depth}-bit file; use --normalize -1 (peak at -1 dBFS) "
                      f"or --bit-depth 32 (float keeps them)", ClippingWarning, stacklevel=2)
    elif peak > 1.0:
        warnings.warn(f"the output peaks at {20 * np.log10(peak):+.1f} dBFS (kept in the float "
                      f"file, but players and DAWs clip it); use --normalize -1 to fit full scale",
                      ClippingWarning, stacklevel=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClippingWarning)   # said above
        write_audio_atomic(args.output, y, sr, bit_depth=args.bit_depth, overwrite=args.overwrite)
    print(f"wrote {args.output}: {y.shape[0]} ch, {y.shape[1] / sr:.2f} s at {sr} Hz")
    return 0


# Inputs with more samples than this (about 3 minutes of stereo at 48 kHz) are convolved block
# by block with the streaming engine, so memory stays bounded whatever the file's length.
STREAM_SAMPLES = 1 << 24
_STREAM_BLOCK = 1 << 16


def _convolve_streaming(args, ir, frames: int, sr) -> int:
    """`irforge convolve` of a long file in bounded memory: read, convolve (the streaming
    engine, the same result as the offline one within float rounding) and write block by block;
    --normalize makes a first pass for the peak."""
    from ._errors import ClippingWarning
    from .audio_io import open_audio_atomic, read_blocks
    from .convolution import Convolver

    fx = Convolver(ir, sample_rate=sr, layout=args.layout)
    total = frames + fx.tail_samples if args.mode == "full" else frames
    B = _STREAM_BLOCK

    def output():  # (n_out, <= B) blocks, `total` samples in all
        done, first = 0, True
        blocks = read_blocks(args.input, B, "input")
        n_ch = None
        while done < total:
            x = next(blocks, None)
            if x is None:
                x = np.zeros((n_ch, B), np.float32)
            n_ch = x.shape[0]
            if x.shape[1] < B:  # full blocks only: a short block could read as (samples, channels)
                x = np.concatenate([x, np.zeros((n_ch, B - x.shape[1]), np.float32)], axis=1)
            y = np.atleast_2d(fx.process(x, sr, buffer_size=B, reset=first))
            first = False
            take = min(B, total - done)
            done += take
            yield y[:, :take]

    scale = 1.0
    if args.normalize is not None:
        peak = max(float(np.abs(y).max()) for y in output())
        if peak == 0:
            raise ValueError("the output is silent: there is nothing to normalise")
        scale = 10 ** (args.normalize / 20) / peak
    gen = output()
    y0 = next(gen)
    peak, clipped = 0.0, 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClippingWarning)   # said below, in the CLI's words
        with open_audio_atomic(args.output, sr, y0.shape[0], bit_depth=args.bit_depth,
                               overwrite=args.overwrite) as f:
            for y in _chain_first(y0, gen):
                y = y * scale if scale != 1.0 else y
                a = np.abs(y)
                peak = max(peak, float(a.max()))
                clipped += int(np.count_nonzero(a > 1.0))
                f.write(y.T)
    if peak > 1.0:
        fix = ("use --normalize -1 (peak at -1 dBFS) or --bit-depth 32 (float keeps them)"
               if args.bit_depth != 32 else "use --normalize -1 to fit full scale")
        warnings.warn(f"the output peaks at {20 * np.log10(peak):+.1f} dBFS: {clipped} of "
                      f"{total * y0.shape[0]} samples exceed full scale; {fix}", ClippingWarning, stacklevel=2)
    print(f"wrote {args.output}: {y0.shape[0]} ch, {total / sr:.2f} s at {sr} Hz (streamed)")
    return 0


def _chain_first(first, rest):
    yield first
    yield from rest


_SWEEP_KEYS = ("kind", "f_start_hz", "f_end_hz", "duration_s", "sample_rate", "amplitude")
_LAYOUT_KEYS = ("repeats", "pre_silence_s", "gap_s", "post_silence_s", "marker")


def _sidecar(path) -> Path:
    return Path(path).with_suffix(".json")


def _make_sweep(kind, f_start_hz, f_end_hz, duration_s, sample_rate, amplitude, *, order=None,
                periods=None):
    """The sweep `irforge sweep` writes, also rebuilt from its JSON description."""
    from . import sweeps

    if kind == "complex":
        return sweeps.complex_pair(duration_s, sample_rate=sample_rate, amplitude=amplitude)
    if kind == "mls":
        return sweeps.mls(order, sample_rate=sample_rate, amplitude=amplitude, periods=periods)
    make = sweeps.exponential if kind == "exponential" else sweeps.linear
    return make(f_start_hz, f_end_hz, duration_s, sample_rate=sample_rate, amplitude=amplitude)


def _write_json(path, desc: dict, overwrite: bool) -> Path:
    import json

    from .audio_io import write_text_atomic

    return write_text_atomic(path, json.dumps(desc, indent=2), overwrite=overwrite)


def _complex_files(output) -> tuple[Path, Path]:
    p = Path(output)
    return p.with_name(f"{p.stem}_cos{p.suffix}"), p.with_name(f"{p.stem}_sin{p.suffix}")


def _cmd_sweep(args) -> int:
    from . import sweeps
    from .audio_io import check_destination, write_audio_atomic

    extra = {"order": args.order, "periods": args.periods} if args.kind == "mls" else {}
    sw = _make_sweep(args.kind, args.f_start, args.f_end, args.duration, args.sample_rate,
                     args.amplitude, **extra)
    desc = {k: getattr(sw, k) for k in _SWEEP_KEYS} | extra | {"irforge_playback": 1}
    if args.kind == "complex":
        # two files, played one after the other and recorded separately: [silence][chirp][gap]
        pre, gap = int(round(0.5 * sw.sample_rate)), int(round(args.gap * sw.sample_rate))
        files = _complex_files(args.output)
        for f in files:          # every destination is checked before anything is written
            check_destination(f, 32, args.overwrite)
            if _sidecar(f).exists() and not args.overwrite:
                raise FileExistsError(f"{_sidecar(f)} exists (use --overwrite)")
        for f, part, x in zip(files, ("cos", "sin"), (sw.signal, sw.signal_sine)):
            write_audio_atomic(f, np.concatenate([np.zeros(pre), x, np.zeros(gap)])[None, :],
                               sw.sample_rate, overwrite=args.overwrite)
            _write_json(_sidecar(f), desc | {"part": part, "pre_silence_samples": pre,
                                             "gap_samples": gap}, True)
        print(f"wrote {files[0]} and {files[1]} (+ .json; {len(sw.signal) / sw.sample_rate:.1f} s "
              f"chirps): play and record each, then: irforge measure {files[0]} REC_COS.wav "
              f"IR.wav --recording-sine REC_SIN.wav")
        return 0
    layout = dict(repeats=args.repeats, pre_silence_s=0.5, gap_s=args.gap, post_silence_s=args.gap,
                  marker=not args.no_marker)
    side = _sidecar(args.output)
    if side.exists() and not args.overwrite:
        raise FileExistsError(f"{side} exists (use --overwrite)")
    pb = sweeps.write_playback(args.output, sw, overwrite=args.overwrite, **layout)
    _write_json(side, desc | layout, True)
    what = f"MLS (order {args.order}, {args.periods} periods)" if args.kind == "mls" else \
        f"{args.kind} sweep"
    print(f"wrote {pb.path} ({len(pb.signal) / sw.sample_rate:.1f} s, {args.repeats} x {what}) "
          f"and {side}; play it, record it, then: irforge measure {pb.path} RECORDING.wav IR.wav")
    return 0


def _description(path) -> dict | None:
    """The JSON that `irforge sweep` wrote beside ``path``, or None."""
    import json

    side = _sidecar(path)
    if not side.exists():
        return None
    desc = json.loads(side.read_text())
    if desc.get("irforge_playback") != 1:
        raise ValueError(f"{side} is not an irforge playback description")
    return desc


def _sweep_from(desc: dict):
    extra = {k: desc[k] for k in ("order", "periods") if k in desc}
    return _make_sweep(*(desc[k] for k in _SWEEP_KEYS), **extra)


def _playback_from_sidecar(path, desc, data, sr):
    """Rebuild the Playback that `irforge sweep` wrote (checked against the file's samples)."""
    from . import sweeps

    sw = _sweep_from(desc)
    pb = sweeps.write_playback(None, sw, **{k: desc[k] for k in _LAYOUT_KEYS})
    if sr != sw.sample_rate or len(pb.signal) != len(data) or np.max(np.abs(pb.signal - data)) > 1e-4:
        raise ValueError(f"{path} does not match its description {_sidecar(path)} (edited or resampled?)")
    return pb


def _cmd_measure(args) -> int:
    from .measure import measure_ir

    exc, sr_x = _read_audio(args.excitation, "excitation")
    rec, sr_y = _read_audio(args.recording, "recording")
    if sr_x != sr_y:
        raise ValueError(f"the excitation is at {sr_x:g} Hz and the recording at {sr_y:g} Hz; "
                         "record at the playback rate")
    desc = _description(args.excitation)
    recording = rec[0] if rec.shape[0] == 1 else rec
    if desc is not None and desc["kind"] == "complex":
        if desc.get("part") != "cos":
            raise ValueError(f"{args.excitation} is the sine half of a complex pair: pass the "
                             f"cosine file (*_cos) as EXCITATION and its recording as RECORDING")
        if args.recording_sine is None:
            raise ValueError(f"{args.excitation} is the cosine half of a complex sweep pair: give "
                             f"the recording of the sine file with --recording-sine")
        sine, sr_s = _read_audio(args.recording_sine, "sine recording")
        if sr_s != sr_x:
            raise ValueError(f"the sine recording is at {sr_s:g} Hz, the excitation at {sr_x:g} Hz")
        excitation = _sweep_from(desc)
        sine = sine[0] if sine.shape[0] == 1 else sine
        # the files start with pre_silence_samples of silence: skip them in both recordings but
        # 50 ms (kept for a recording that started a little late), as a Playback's layout is used
        skip = max(0, int(desc.get("pre_silence_samples", 0)) - int(round(0.05 * sr_x)))
        skip = min(skip, recording.shape[-1] // 2, sine.shape[-1] // 2)
        recording = (recording[..., skip:], sine[..., skip:])
    elif args.recording_sine is not None:
        raise ValueError("--recording-sine is for the complex pair of `irforge sweep --kind complex`")
    elif desc is not None:
        excitation = _playback_from_sidecar(args.excitation, desc, exc[0].astype(np.float64), sr_x)
    else:
        excitation = exc[0]
    ir = measure_ir(excitation, recording, sample_rate=sr_x, ir_length_s=args.length,
                    method=args.method)
    if args.trim:
        ir = ir.trim()
    path = ir.save(args.output, overwrite=args.overwrite)
    print(f"wrote {path}: {ir.n_channels} ch, {ir.duration_s:.3f} s at {ir.sample_rate:g} Hz")
    if args.plot:
        from .plotting import plot_measurement

        if ir.harmonics and ir.metadata.get("thd"):
            _write_plot(plot_measurement(ir), args, "harmonic IRs and THD")
        else:
            _write_plot(ir.plot(), args, f"the IR; method {ir.metadata.get('method')!r} gives no harmonics")
    return 0


def _check_plot(args) -> None:
    """--plot FILE: the destination and matplotlib checked before any work."""
    if getattr(args, "plot", None):
        from .plotting import check_plot_destination

        try:
            check_plot_destination(args.plot, overwrite=args.overwrite)
        except ModuleNotFoundError as exc:
            raise ValueError(f"--plot: {exc}") from None


def _write_plot(fig, args, what: str) -> None:
    from .plotting import save_figure

    print(f"wrote {save_figure(fig, args.plot, overwrite=args.overwrite)} ({what})")


def _cmd_analyze(args) -> int:
    import json

    from .analysis import analyze
    from .audio_io import write_text_atomic

    ir = _load_ir(args.ir, channel=args.channel)
    bands = None if args.bands == "none" else args.bands
    r = analyze(ir, bands=bands, f_min_hz=args.f_min, f_max_hz=args.f_max)
    print(r)
    if args.json:
        out = write_text_atomic(args.json, json.dumps(r.to_dict(), indent=1), overwrite=args.overwrite)
        print(f"wrote {out}")
    if args.plot:
        _write_plot(r.plot(), args, "EDC per band, decay times and clarity of the first channel")
    return 0


def _cmd_deconvolve(args) -> int:
    import tempfile

    from .deconvolution import deconvolve_file

    rec, _ = _read_audio(args.input, "recording")   # missing or empty: said before any work
    ir = _load_ir(args.ir, mono=args.mono, channel=args.channel)
    if ir.n_channels not in (1, rec.shape[0]):
        raise ValueError(f"the IR has {ir.n_channels} channels and the recording {rec.shape[0]}: "
                         f"use --mono (the mean of the IR's channels) or --channel N (one of them)")
    del rec
    opts = {k: v for k, v in (("lam", args.lam), ("noise_db", args.noise_db)) if v is not None}
    with tempfile.TemporaryDirectory(prefix="irforge-") as tmp:
        ir_path = args.ir
        if args.mono or args.channel is not None:
            ir_path = ir.save(Path(tmp) / "ir.wav")    # the reduced IR, float32, same rate
        path = deconvolve_file(args.input, ir_path, args.output, method=args.method,
                               overwrite=args.overwrite, bit_depth=args.bit_depth, **opts)
    print(f"wrote {path} (method {args.method})")
    return 0


def _dereverb_default_mode() -> str:
    """irforge.dereverb()'s default mode (read from its signature: one default for both)."""
    import inspect

    from .dereverberation import dereverb

    return inspect.signature(dereverb).parameters["mode"].default


def _cmd_dereverb(args) -> int:
    from .dereverberation import dereverb
    from .audio_io import write_audio_atomic

    z, sr = _read_audio(args.input, "recording")
    x, sr_x = _read_audio(args.excitation, "excitation")
    y, sr_y = _read_audio(args.recorded_excitation, "recorded excitation")
    if not sr == sr_x == sr_y:
        raise ValueError(f"sample rates differ: recording {sr:g} Hz, excitation {sr_x:g} Hz, "
                         f"recorded excitation {sr_y:g} Hz")
    improved_only = args.frame_s is not None or args.ir_length_s is not None
    mode = args.mode
    if mode is None:   # irforge.dereverb's default, unless an improved-only setting asks for it
        mode = "improved" if improved_only else args.default_mode
    if mode == "reference" and improved_only:
        raise ValueError("--frame-s and --ir-length-s are settings of --mode improved; "
                         "--mode reference follows the published method and takes neither")
    opts = {} if mode == "reference" else {
        k: v for k, v in (("frame_s", args.frame_s), ("ir_length_s", args.ir_length_s)) if v is not None}
    r = dereverb(z[0], excitation=x[0], recorded_excitation=y[0], sample_rate=sr, mode=mode, **opts)
    path = write_audio_atomic(args.output, np.atleast_2d(r.audio), sr, bit_depth=args.bit_depth,
                              overwrite=args.overwrite)
    print(f"wrote {path} (mode {mode}; first channel of each file used)")
    if args.plot:
        _write_plot(r.plot(), args, "decay matrix, T60 ratio, IR before and after")
    return 0


def _parse_setting(text: str):
    """KEY=VALUE with VALUE read as a TOML value (numbers, true/false, "strings")."""
    if TYPE_CHECKING:  # mypy checks the 3.10 floor (python_version), where it is the backport
        import tomli as tomllib
    else:
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

    if args.list_presets:
        for name in list_presets():
            print(f"{name:20s} {load_preset(name)['description']}")
        return 0
    if not args.ir or not args.output:
        raise ValueError("irforge export needs IR and OUTPUT (or --list-presets)")
    ir = _load_ir(args.ir, mono=args.mono, channel=args.channel)
    overrides = dict(_parse_setting(t) for t in args.set)
    if args.layout is not None:
        overrides["layout"] = args.layout
    for p in ir.export(args.output, preset=args.preset, overwrite=args.overwrite, **overrides):
        print(f"wrote {p}")
    return 0


def _cmd_plugins(args) -> int:
    from . import plugins

    formats = tuple(args.format) if args.format else plugins.FORMATS
    if args.action == "path":
        for fmt in formats:
            print(plugins.path(fmt))
        return 0
    for p in plugins.install(formats, vst3_dir=args.vst3_dir, lv2_dir=args.lv2_dir, overwrite=args.overwrite):
        print(f"installed {p}")
    return 0


def _cmd_render(args) -> int:
    from .batch import list_chain_presets, load_chain_preset, render

    if args.list_chains:
        for name in list_chain_presets():
            print(f"{name:20s} {load_chain_preset(name)['name']}")
        return 0
    if not args.stems or not args.ir or not args.out:
        raise ValueError("irforge render needs STEM... --ir IR... --out DIR (or --list-chains)")
    tail = args.tail if args.tail == "full" else float(args.tail)
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    report = render(args.stems, args.ir, args.out, chain=args.chain, template=args.template,
                    bit_depth=args.bit_depth, gain=args.gain, target_db=args.target, tail=tail,
                    workers=args.workers, scheduler=args.scheduler, overwrite=args.overwrite,
                    progress=progress, dry_run=args.dry_run, dither=args.dither)
    if args.dry_run:
        for j in report.jobs:
            print(f"{j.stem}  x  {j.ir}  ->  {j.output}")
        print(f"{len(report.jobs)} job(s) planned")
        return 0
    print(report.table())
    if args.report:
        from .audio_io import write_text_atomic

        write_text_atomic(args.report, report.to_json(), overwrite=True)
    for j in report.failed:
        print(f"irforge render: error: {_cli_message(j.error, 'render')}", file=sys.stderr)
    return 0 if report.ok else 2


# -- the parser -----------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    from .measure import METHODS

    dereverb_mode = _dereverb_default_mode()
    fmt = argparse.ArgumentDefaultsHelpFormatter
    p = argparse.ArgumentParser(prog="irforge", description="Impulse responses, fast.",
                                formatter_class=fmt)
    sub = p.add_subparsers(dest="verb", required=True)

    def verb(name, help_text):
        return sub.add_parser(name, help=help_text, description=help_text, formatter_class=fmt)

    d = verb("demo", "render built-in guitar through a cabinet and a room IR")
    d.add_argument("--out-dir", default="demo_out")
    d.set_defaults(func=_cmd_demo)

    c = verb("convolve", "convolve an audio file with an IR file")
    c.add_argument("input")
    c.add_argument("ir")
    c.add_argument("output")
    c.add_argument("--mode", choices=["full", "same"], default="full",
                   help="full: keep the tail; same: the input's length")
    c.add_argument("--layout", choices=_LAYOUTS, default="auto", help=_LAYOUT_HELP)
    _add_ir_channels(c, "a stereo cab IR applied as mono")
    c.add_argument("--bit-depth", type=int, choices=[16, 24, 32], default=32, help="32 = float")
    c.add_argument("--normalize", type=float, default=None, metavar="PEAK_DB",
                   help="normalise the output peak to this level in dBFS (default: unchanged; "
                        "a warning when it clips)")
    c.add_argument("--overwrite", action="store_true", help="replace an existing output")
    c.set_defaults(func=_cmd_convolve)

    s = verb("sweep", "write a sweep playback file (+ .json description) to measure an IR")
    s.add_argument("output")
    s.add_argument("--kind", choices=["exponential", "linear", "complex", "mls"], default="exponential",
                   help="complex: two files OUTPUT_cos/OUTPUT_sin, recorded separately")
    s.add_argument("--f-start", type=float, default=20.0, metavar="HZ", help="sweeps only")
    s.add_argument("--f-end", type=float, default=20000.0, metavar="HZ", help="sweeps only")
    s.add_argument("--duration", type=float, default=5.0, metavar="S",
                   help="of one sweep or complex chirp")
    s.add_argument("--order", type=int, default=16, help="mls: 2**order - 1 samples per period")
    s.add_argument("--periods", type=int, default=2, help="mls: periods played (the first is discarded)")
    s.add_argument("--sample-rate", type=float, default=48000.0, metavar="HZ")
    s.add_argument("--amplitude", type=float, default=0.5)
    s.add_argument("--repeats", type=int, default=1, help="sweeps in the file (averaged)")
    s.add_argument("--gap", type=float, default=3.0, metavar="S", help="silence after each sweep (> IR length)")
    s.add_argument("--no-marker", action="store_true", help="no alignment tone burst before the first sweep")
    s.add_argument("--overwrite", action="store_true", help="replace existing files")
    s.set_defaults(func=_cmd_sweep)

    m = verb("measure", "measure an IR from a playback/excitation file and its recording")
    m.add_argument("excitation", help="file from `irforge sweep` (its .json is used) or any played signal")
    m.add_argument("recording")
    m.add_argument("output")
    m.add_argument("--method", choices=list(METHODS), default="auto",
                   help="auto: inverse filter for exponential sweeps, complex/mls for those, "
                        "division otherwise")
    m.add_argument("--recording-sine", default=None, metavar="FILE",
                   help="complex pair: the recording of the *_sin file")
    m.add_argument("--length", type=float, default=None, metavar="S", help="IR length (default: automatic)")
    m.add_argument("--trim", action="store_true", help="trim to the onset and the noise floor (ISO 3382/Lundeby)")
    m.add_argument("--plot", default=None, metavar="FILE.png",
                   help="also draw the harmonic IRs and THD (the IR itself without harmonics); "
                        ".png, .svg or .pdf; needs irforge[plot]")
    m.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    m.set_defaults(func=_cmd_measure)

    a = verb("analyze", "ISO 3382-1 parameters of an IR (EDT, T20, T30, C50, C80, D50, Ts, DRR)")
    a.add_argument("ir")
    a.add_argument("--bands", choices=["octave", "third", "none"], default="octave")
    a.add_argument("--f-min", type=float, default=None, metavar="HZ", help="lowest band centre (None: 63)")
    a.add_argument("--f-max", type=float, default=None, metavar="HZ", help="highest band centre (None: 8000)")
    a.add_argument("--channel", type=int, default=None, help="analyse only this channel (B-format W = 0)")
    a.add_argument("--json", default=None, metavar="PATH", help="also write all values as JSON")
    a.add_argument("--plot", default=None, metavar="FILE.png",
                   help="also draw the EDCs with the regression ranges and the values per band; "
                        ".png, .svg or .pdf; needs irforge[plot]")
    a.add_argument("--overwrite", action="store_true", help="replace existing JSON/plot files")
    a.set_defaults(func=_cmd_analyze)

    dc = verb("deconvolve", "recover the dry signal from a recording and its IR (streams)")
    dc.add_argument("input")
    dc.add_argument("ir")
    dc.add_argument("output")
    dc.add_argument("--method", choices=["auto", "wiener", "tikhonov", "kirkeby"], default="auto")
    dc.add_argument("--lam", type=float, default=None, help="Tikhonov lambda (None: automatic)")
    dc.add_argument("--noise-db", type=float, default=None, help="noise level re the recording, dB "
                    "(None: estimated from the recording)")
    _add_ir_channels(dc, "a stereo cab IR for a mono recording")
    dc.add_argument("--bit-depth", type=int, choices=[16, 24, 32], default=32, help="32 = float")
    dc.add_argument("--overwrite", action="store_true", help="replace an existing output")
    dc.set_defaults(func=_cmd_deconvolve)

    dr = verb("dereverb", "Ciba's decayed-IR dereverberation filter from a periodic sweep pair")
    dr.add_argument("input", help="recording to filter")
    dr.add_argument("excitation", help="the periodic sweep that was played")
    dr.add_argument("recorded_excitation", help="its recording through the same chain")
    dr.add_argument("output")
    dr.add_argument("--mode", choices=["reference", "improved"], default=None,
                    help=f"None: {dereverb_mode!r}, irforge.dereverb()'s default, or "
                         f"'improved' when --frame-s or --ir-length-s is given")
    dr.add_argument("--frame-s", type=float, default=None,
                    help="improved: analysis frame = sweep period, s (None: 5)")
    dr.add_argument("--ir-length-s", type=float, default=None,
                    help="improved: longest IR to estimate, s (None: 3.5)")
    dr.add_argument("--bit-depth", type=int, choices=[16, 24, 32], default=32, help="32 = float")
    dr.add_argument("--plot", default=None, metavar="FILE.png",
                    help="also draw the decay matrix and the IR before and after; "
                         ".png, .svg or .pdf; needs irforge[plot]")
    dr.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    dr.set_defaults(func=_cmd_dereverb, default_mode=dereverb_mode)

    e = verb("export", "write an IR file for a convolution plugin (see --list-presets)")
    e.add_argument("ir", nargs="?")
    e.add_argument("output", nargs="?")
    e.add_argument("--preset", default="generic")
    _add_ir_channels(e, "for mono presets such as cab-loader")
    e.add_argument("--layout", choices=_LAYOUTS, default=None,
                   help=_LAYOUT_HELP + " (None: the preset's, 'auto')")
    e.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a preset setting, e.g. --set sample_rate=44100")
    e.add_argument("--overwrite", action="store_true", help="replace existing files")
    e.add_argument("--list-presets", action="store_true")
    e.set_defaults(func=_cmd_export)

    r = verb("render", "batch-render every stem through every IR (and a chain), resumable")
    r.add_argument("stems", nargs="*", metavar="STEM", help="files, folders or globs")
    r.add_argument("--ir", nargs="+", action="extend", default=[], metavar="IR",
                   help="IR files, folders or globs")
    r.add_argument("--out", default=None, metavar="DIR", help="output folder (created)")
    r.add_argument("--chain", default=None, metavar="PRESET",
                   help="chain preset: a TOML file or a built-in name (see --list-chains)")
    r.add_argument("--template", default="{stem}__{ir}.wav",
                   help="output name: {stem} {ir} {stem_index} {ir_index} {chain}")
    r.add_argument("--bit-depth", type=int, choices=[16, 24, 32], default=24, help="32 = float")
    r.add_argument("--dither", choices=["tpdf", "none"], default=None,
                   help="dither before fixed-point quantisation (default: tpdf for 16-bit, none "
                        "for 24-bit)")
    r.add_argument("--gain", choices=["none", "peak", "loudness", "protect"], default="none",
                   help="none: a fixed-point output that would clip fails its job")
    r.add_argument("--target", type=float, default=None, metavar="DB",
                   help="peak: dBFS (-1), loudness: LUFS (-23), protect: ceiling dBFS (-0.1)")
    r.add_argument("--tail", default="full", metavar="full|DB",
                   help="keep the whole tail, or cut where it stays below DB re the peak (e.g. -80)")
    r.add_argument("--workers", type=int, default=None, help="local processes (None: one per core)")
    r.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="a Dask scheduler address (tcp://host:8786) instead of local processes")
    r.add_argument("--report", default=None, metavar="JSON", help="also write the report as JSON")
    r.add_argument("--dry-run", action="store_true", help="list the jobs and their output names")
    r.add_argument("--overwrite", action="store_true",
                   help="replace existing outputs that no earlier render made")
    r.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (None: when stderr is a terminal)")
    r.add_argument("--list-chains", action="store_true", help="list the built-in chain presets")
    r.set_defaults(func=_cmd_render)

    pl = verb("plugins", "where the VST3/LV2 plugins are, or install them for a DAW (~/.vst3, ~/.lv2)")
    pl.add_argument("action", choices=["path", "install"])
    pl.add_argument("--format", choices=["vst3", "lv2"], action="append", default=None,
                    help="only this format (repeatable; default: both)")
    pl.add_argument("--vst3-dir", default=None, metavar="DIR", help="install VST3 here (default ~/.vst3)")
    pl.add_argument("--lv2-dir", default=None, metavar="DIR", help="install LV2 here (default ~/.lv2)")
    pl.add_argument("--overwrite", action="store_true", help="replace installed bundles")
    pl.set_defaults(func=_cmd_plugins)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run ``irforge <verb> ...``; returns the exit status (0 ok, 2 bad input, 1 internal error)."""
    args = _parser().parse_args(argv)

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"irforge {args.verb}: warning: {_cli_message(message, args.verb)}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        warnings.simplefilter("always", UserWarning)   # every call reports its own warnings
        try:
            _check_plot(args)
            return args.func(args)
        except (ValueError, TypeError, OSError) as exc:
            print(f"irforge {args.verb}: error: {_cli_message(exc, args.verb)}", file=sys.stderr)
            return 2
        except Exception as exc:  # an estimator's own failure: still one line, not a traceback
            print(f"irforge {args.verb}: error: {type(exc).__name__}: {_cli_message(exc, args.verb)}",
                  file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
