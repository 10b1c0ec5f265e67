"""Ciba's dereverberation filter: irforge vs a literal numpy re-implementation of the published code.

    .venv/bin/python benchmarks/bench_dereverb.py [--reps 5] [--eval] [--quick] [--holdout] [--skip-speed]

Workload (the paper's): 10 periods of a 5 s linear sweep 20 Hz - 20 kHz at 48 kHz
(scipy.signal.chirp), its "recording" = the sweep convolved with a real room IR from
../shared/data (resampled to 48 kHz) plus white noise 60 dB under its RMS, and a 30 s recording
z = dry speech tiled to 30 s convolved with the same IR. Peers in the same process, same run:

* ``numpy``: ``tests/reference_ciba.py`` ``ciba_filter`` (the published code step by step,
  librosa's STFT re-written in numpy);
* ``irforge``: ``irforge.dereverberation.dereverb(z, excitation=x, recorded_excitation=y,
  sample_rate=48000, mode="reference")``.

Medians of ``--reps`` runs after a warm-up; the ratio is numpy time / irforge time (target >= 20)
and the correlation of the two filtered signals (target >= 0.999).

``--eval`` adds the comparison of the two modes on several real room IRs (effective IR = system
IR followed by the filter, see ``irforge.dereverberation.effective_ir``; D50, C50, T30 from
``irforge.analysis.analyze`` broadband; SI-SDR of the filtered recording against the dry signal
after alignment) and the paper's Table 1 measures for degraded vs filtered.

``--holdout`` runs the same comparison (same columns) on material that was NOT used to tune
improved mode's settings: the seminar-room clap IR (not among the 5 rooms), the channels of the
multichannel IRs that ``--eval`` does not use (``--eval`` loads channel 0; here: museum clap
ch 1, Spokane ch 1, KEMAR R, and the X/Y/Z figure-of-eight channels of the two B-format IRs -
the same positions as channel 0 but other directional responses), three other dry signals
(LibriVox speech, castanets, a guitar DI note) and two noise levels on the sweep recording
(60 and 40 dB under its RMS; the recording to filter keeps 60 dB). Every IR variant is run with
every dry signal at every sweep SNR; it ends with a count of the held-out cases in which each
improved variant beats the reference mode and the degraded signal on each measure.
``--skip-speed`` leaves out the speed part (useful with ``--holdout``).

``--published DIR`` compares against the author's own code in a local checkout DIR of
github.com/fanci90/Digital-Deconvolution-Audio-Filter-repo (not shipped, not downloaded here):
its ``code/*.py`` is imported by path in a subprocess run by ``--published-python`` (an
interpreter with numpy, scipy, soundfile and librosa >= 0.10; the author's environment pins numpy
1.26; its module imports ``sounddevice``, which is replaced by a silent stand-in) and its
functions are called on the same arrays as irforge, step by step; the script prints the
correlation of every intermediate (system IR, per-frame "T60"s, decayed IR, filter output, final
audio). Cases: the paper's workload with float32 arrays (what its program reads from files) and
with the float64 arrays the workload is made of (the excitation made by scipy.signal.chirp).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from _common import emit_result, environment, print_table, time_call

SR = 48000
ROOMS = {
    "museum basement (clap)": "room_ir/freesound_peter1955_basement_museum_Unterlinden_clap_48k.wav",
    "Spokane hall": "room_ir/openair_SpokaneWomansClub_stereo_44k.wav",
    "Jack Lyons hall": "room_ir/openair_JackLyonsHall_Bformat_96k.wav",
    "Genesis6 studio": "room_ir/openair_Genesis6StudioLiveRoom_Bformat_96k.wav",
    "KEMAR BRIR (L)": "room_ir/spatialaudio_brir_sweep_Netzwerkakademie_KEMAR_from_mat.wav",
}
DRY = {"speech": "dry/speech_spatialaudio_xmas_male_voice.wav", "guitar": "dry/guitarDI_gulmini_loop.wav"}


def aligned_si_sdr(out, dry, sr=SR, max_lag_s=0.1, edge=20000):
    """SI-SDR of ``out`` against ``dry`` after the best lag within +-max_lag_s (FFT xcorr)."""
    import scipy.signal as ss
    from irforge.metrics import si_sdr

    n = min(len(out), len(dry))
    a, b = np.asarray(out[:n], float), np.asarray(dry[:n], float)
    m = min(n, 4 * sr)
    c = ss.correlate(a[:m], b[:m], "full", method="fft")
    mid, L = m - 1, int(max_lag_s * sr)
    lag = int(np.argmax(np.abs(c[mid - L:mid + L + 1]))) - L
    if lag >= 0:
        a, b = a[lag:], b[:n - lag]
    else:
        a, b = a[:n + lag], b[-lag:]
    return si_sdr(a[edge:-edge], b[edge:-edge])


def broadband(ir):
    from irforge.analysis import analyze

    r = analyze(np.asarray(ir, np.float32), sample_rate=SR, bands="octave")
    bb = r.broadband
    return float(np.ravel(bb.d50)[0]), float(np.ravel(bb.c50_db)[0]), float(np.ravel(bb.t30_s)[0])


def speed(reps):
    import reference_ciba as rc
    from irforge.dereverberation import dereverb

    x, y, z, h, dry = rc.make_paper_workload()
    t_np = time_call(lambda: rc.ciba_filter(x, y, z, SR)["audio"], reps=max(1, reps // 2), warmup=1)
    t_if = time_call(lambda: dereverb(z, excitation=x, recorded_excitation=y, sample_rate=SR).audio,
                     reps=reps, warmup=2)
    corr = float(np.corrcoef(t_np["out"], t_if["out"])[0, 1])
    ratio = t_np["wall_med"] / t_if["wall_med"]
    print_table(["implementation", "median wall s", "cpu s", "foreign cores"],
                [["numpy re-implementation", t_np["wall_med"], t_np["cpu_med"], t_np["foreign_cores"]],
                 ["irforge dereverb(reference)", t_if["wall_med"], t_if["cpu_med"], t_if["foreign_cores"]]],
                title="Ciba filter, paper workload (10 x 5 s sweep, 30 s recording, 48 kHz)")
    print(f"speed-up numpy/irforge: {ratio:.1f}x (target >= 20); correlation of the outputs: {corr:.7f}")
    return dict(numpy_s=t_np["wall_med"], irforge_s=t_if["wall_med"], ratio=ratio, corr=corr,
                numpy_walls=t_np["walls"], irforge_walls=t_if["walls"])


def evaluate(quick):
    import reference_ciba as rc
    from irforge.dereverberation import dereverb, effective_ir, ir_measures, signal_measures
    from irforge.metrics import ciba_lsd

    rows, table1 = [], []
    rooms = list(ROOMS.items())[:2] if quick else list(ROOMS.items())
    for room, path in rooms:
        x, y, z, h, dry = rc.make_paper_workload(ir=path, ir_seconds=None, periods=4, z_seconds=15.0)
        d50, c50, t30 = broadband(h)
        rows.append([room, "degraded (system IR)", d50, c50, t30, aligned_si_sdr(z, dry)])
        variants = [("reference", {}), ("improved", {}), ("improved", dict(phase="minimum"))]
        for mode, kw in variants:
            r = dereverb(z, excitation=x, recorded_excitation=y, sample_rate=SR, mode=mode, **kw)
            e = effective_ir(r, h)
            d50, c50, t30 = broadband(e)
            label = mode + ("" if not kw else f" ({kw['phase']} phase)")
            out = np.concatenate([np.zeros(r.trim_samples, np.float32), r.audio]) if r.trim_samples else r.audio
            rows.append([room, label, d50, c50, t30, aligned_si_sdr(out, dry)])
            if room == rooms[0][0] or room == "Spokane hall":
                zz = z[r.trim_samples:]
                for tag, sig, irx in (("degraded", zz, h), ("filtered " + label, r.audio, e)):
                    sm = signal_measures(sig, sample_rate=SR)
                    im = ir_measures(irx, sample_rate=SR)
                    table1.append([room, tag, sm["min"], sm["max"], sm["peak_db"], sm["dc_offset_db"],
                                   sm["rms_min_db"], sm["rms_max_db"], sm["rms_avg_db"],
                                   "" if tag == "degraded" else ciba_lsd(r.audio, zz),
                                   im["t30_s"], im["edt_s"], im["d50"]])
    print_table(["room", "signal", "D50", "C50 dB", "T30 s", "SI-SDR dB"], rows,
                title="Effective IR (system IR -> filter) and SI-SDR vs the dry speech; 4 x 5 s sweep, 15 s z")
    print_table(["room", "signal", "min", "max", "peak dB", "DC dB", "RMS min dB", "RMS max dB",
                 "RMS avg dB", "LSD dB", "T30 s", "EDT s", "D50"], table1,
                title="Table 1 measures (signal: degraded z vs filtered; IR measures of system IR vs effective IR)")
    return dict(rows=rows, table1=table1)


# ---------------------------------------------------------------------------------------------
# held-out evaluation (material not used to tune improved mode)
# ---------------------------------------------------------------------------------------------
HOLDOUT_IRS = [   # (label, file, channel)
    ("seminar room (clap)", "room_ir/spatialaudio_rir_clap_seminar_room.wav", 0),
    ("museum basement (clap) ch1", ROOMS["museum basement (clap)"], 1),
    ("Spokane hall ch1", ROOMS["Spokane hall"], 1),
    ("Jack Lyons hall X", ROOMS["Jack Lyons hall"], 1),
    ("Jack Lyons hall Y", ROOMS["Jack Lyons hall"], 2),
    ("Jack Lyons hall Z", ROOMS["Jack Lyons hall"], 3),
    ("Genesis6 studio X", ROOMS["Genesis6 studio"], 1),
    ("Genesis6 studio Y", ROOMS["Genesis6 studio"], 2),
    ("Genesis6 studio Z", ROOMS["Genesis6 studio"], 3),
    ("KEMAR BRIR (R)", ROOMS["KEMAR BRIR (L)"], 1),
]
HOLDOUT_DRY = {
    "flatland speech": "dry/speech_spatialaudio_librivox_flatland_excerpt.wav",
    "castanets": "dry/perc_spatialaudio_castanets_dry.wav",
    "guitar E2": "dry/guitarDI_toobamp_Guitar-E2.wav",
}
HOLDOUT_SWEEP_SNR_DB = (60.0, 40.0)
HOLDOUT_MODES = [("reference", {}, "reference"), ("improved", {}, "improved"),
         ("improved", dict(phase="minimum"), "improved (minimum phase)")]


def holdout_workload(ir, *, channel=0, dry, sweep_snr_db=60.0, z_snr_db=60.0, fs=SR, periods=4,
                     z_seconds=15.0, seed=5):
    """(x, y, z, h_true, dry) float32 built like ``reference_ciba.make_paper_workload`` (same
    sweep, same normalisation, full IR) but with an IR channel, the sweep recording's SNR and the
    recording's SNR of their own; the IR starts 2 ms before its peak, or at the file's start
    when the peak comes earlier than that."""
    import scipy.signal as ss
    import reference_ciba as rc

    rng = np.random.default_rng(seed)
    h = rc._load(ir, fs, channel)
    h = h[max(0, int(np.argmax(np.abs(h))) - int(0.002 * fs)):]
    h = h / np.max(np.abs(h))
    x = rc.paper_sweep(fs, periods=periods)
    y = ss.fftconvolve(x, h)[:len(x)]
    y = 0.5 * y / np.max(np.abs(y))
    y = y + rng.standard_normal(len(y)) * np.sqrt(np.mean(y ** 2)) * 10 ** (-sweep_snr_db / 20)
    d = rc._load(dry, fs)
    n = int(z_seconds * fs)
    d = np.tile(d, int(np.ceil(n / len(d))))[:n]
    z = ss.fftconvolve(d, h)[:n]
    g = 0.5 / np.max(np.abs(z))
    z = z * g
    z = z + rng.standard_normal(len(z)) * np.sqrt(np.mean(z ** 2)) * 10 ** (-z_snr_db / 20)
    return tuple(a.astype(np.float32) for a in (x, y, z, h, d * g))


def _wins(cases, mode, other, measure):
    """(wins, comparable cases) of ``mode`` over ``other``: higher D50/C50/SI-SDR, lower T30."""
    sign = -1.0 if measure == "T30" else 1.0
    w = n = 0
    for c in cases:
        a, b = c[mode][measure], c[other][measure]
        if np.isfinite(a) and np.isfinite(b):
            n += 1
            w += int(sign * (a - b) > 0)
    return w, n


def holdout(quick):
    from irforge.dereverberation import dereverb, effective_ir

    irs = HOLDOUT_IRS[:3] if quick else HOLDOUT_IRS
    snrs = HOLDOUT_SWEEP_SNR_DB[:1] if quick else HOLDOUT_SWEEP_SNR_DB
    rows, cases = [], []
    for label, path, ch in irs:
        for snr in snrs:
            for dname, dpath in HOLDOUT_DRY.items():
                x, y, z, h, dry = holdout_workload(path, channel=ch, dry=dpath, sweep_snr_db=snr)
                case = dict(ir=label, dry=dname, sweep_snr_db=snr)
                d50, c50, t30 = broadband(h)
                case["degraded"] = dict(D50=d50, C50=c50, T30=t30, SISDR=aligned_si_sdr(z, dry))
                rows.append([label, dname, snr, "degraded (system IR)", d50, c50, t30, case["degraded"]["SISDR"]])
                for mode, kw, name in HOLDOUT_MODES:
                    r = dereverb(z, excitation=x, recorded_excitation=y, sample_rate=SR, mode=mode, **kw)
                    d50, c50, t30 = broadband(effective_ir(r, h))
                    out = (np.concatenate([np.zeros(r.trim_samples, np.float32), r.audio])
                           if r.trim_samples else r.audio)
                    case[name] = dict(D50=d50, C50=c50, T30=t30, SISDR=aligned_si_sdr(out, dry))
                    rows.append([label, dname, snr, name, d50, c50, t30, case[name]["SISDR"]])
                cases.append(case)
    print_table(["IR (held out)", "dry", "sweep SNR dB", "signal", "D50", "C50 dB", "T30 s", "SI-SDR dB"], rows,
                title="Held-out material: effective IR (system IR -> filter) and SI-SDR vs the dry signal; "
                      "4 x 5 s sweep, 15 s z at 60 dB SNR")
    summary = []
    for name in ("improved", "improved (minimum phase)"):
        for other in ("reference", "degraded"):
            cells = [f"{name} vs {other}"]
            for m in ("D50", "C50", "T30", "SISDR"):
                w, n = _wins(cases, name, other, m)
                cells.append(f"{w}/{n}")
            summary.append(cells)
    print_table(["held-out cases won", "D50 higher", "C50 higher", "T30 lower", "SI-SDR higher"], summary,
                title=f"Summary over {len(cases)} held-out cases (n = cases where both values are finite)")
    med = []
    for name in ("degraded", "reference", "improved", "improved (minimum phase)"):
        med.append([name] + [float(np.nanmedian([c[name][m] for c in cases])) for m in ("D50", "C50", "T30", "SISDR")])
    print_table(["signal", "median D50", "median C50 dB", "median T30 s", "median SI-SDR dB"], med,
                title="Medians over the held-out cases (NaN T30 left out)")
    return dict(rows=rows, cases=cases, summary=summary, medians=med)


_PUBLISHED_RUNNER = r"""
import sys, types, glob, importlib.util, numpy as np
sys.modules.setdefault("sounddevice", types.SimpleNamespace(play=lambda *a, **k: None, wait=lambda: None))
src = [p for p in glob.glob(sys.argv[1] + "/code/*.py") if "Deconvolution" in p][0]
spec = importlib.util.spec_from_file_location("ciba_published", src)
P = importlib.util.module_from_spec(spec); spec.loader.exec_module(P)
a = np.load(sys.argv[2]); sr = int(a["sr"]); x, y, z = a["x"], a["y"], a["z"]
n = min(len(x), len(y)); x, y = x[:n], y[:n]
h = P.calculate_impulse_response(x, y, 5 * sr, 5 * sr // 2)
h2 = P.adjust_impulse_response(h.copy(), z, y, sr)
raw = P.filter_signal_with_impulse_response(z, h2, 1)
f = raw[10000:len(z)]
f = f * (P.calculate_rms(z) / P.calculate_rms(f))
if np.max(np.abs(f)) > 1:
    f = f / np.max(np.abs(f))
np.savez(sys.argv[3], h=h, h2=h2, raw=raw, audio=f, t60_y=P.calculate_t60(y, sr), t60_z=P.calculate_t60(z, sr))
"""


def published(checkout, python):
    """irforge and the numpy reference vs the published code itself (see the module notes)."""
    import subprocess
    import tempfile

    import reference_ciba as rc
    from irforge.dereverberation import dereverb

    x32, y, z, h, dry = rc.make_paper_workload()
    x64 = rc.paper_sweep(SR)
    rows = []
    c = lambda a, b: float(np.corrcoef(np.asarray(a, float), np.asarray(b, float))[0, 1])  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp:
        for label, x in (("float32 arrays (files)", x32), ("float64 excitation", x64)):
            inp, outp = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
            np.savez(inp, x=x, y=y, z=z, sr=SR)
            subprocess.run([python, "-c", _PUBLISHED_RUNNER, str(checkout), str(inp), str(outp)], check=True)
            P = np.load(outp)
            r = dereverb(z, excitation=x, recorded_excitation=y, sample_rate=SR, mode="reference")
            ref = rc.ciba_filter(x, y, z, SR)
            ty, tz = r.info["t60_recorded_excitation_s"], r.info["t60_recording_s"]
            same_t60 = float(np.mean(np.concatenate([ty == P["t60_y"][:len(ty)], tz == P["t60_z"][:len(tz)]])))
            cases = [("irforge", r, None), ("numpy reference", None, ref)]
            if x.dtype == np.float64:   # what reference mode did before it kept float64 (issue 10)
                cases.append(("irforge, excitation rounded to float32", dereverb(
                    z, excitation=x.astype(np.float32), recorded_excitation=y, sample_rate=SR,
                    mode="reference"), None))
            for name, a, b in cases:
                if a is not None:
                    vals = [c(a.system_ir, P["h"]), same_t60, c(a.filter_ir, P["h2"]), c(a.raw, P["raw"]),
                            c(a.audio, P["audio"])]
                else:
                    vals = [c(b["h"], P["h"]), float("nan"), c(b["h2"], P["h2"]), c(b["raw"], P["raw"]),
                            c(b["audio"], P["audio"])]
                rows.append([label, name] + [f"{v:.7f}" for v in vals])
    print_table(["input", "vs published", "system IR corr", "same T60 frames", "decayed IR corr", "raw corr",
                 "audio corr"], rows, title="Ciba reference mode vs the published code (paper workload, 48 kHz)")
    return dict(rows=rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--eval", action="store_true", help="also compare the modes on real IRs")
    ap.add_argument("--quick", action="store_true", help="--eval on two rooms only (--holdout: 3 IRs, 60 dB)")
    ap.add_argument("--holdout", action="store_true",
                    help="also compare the modes on material not used to tune improved mode")
    ap.add_argument("--skip-speed", action="store_true", help="leave out the speed comparison")
    ap.add_argument("--published", metavar="DIR", default=None,
                    help="local checkout of the author's repository: compare with its code")
    ap.add_argument("--published-python", default=sys.executable,
                    help="interpreter with numpy, scipy, soundfile, librosa>=0.10 for --published")
    args = ap.parse_args(argv)
    res = {} if args.skip_speed else dict(speed=speed(args.reps))
    if args.published:
        res["published"] = published(Path(args.published), args.published_python)
    if args.eval:
        res["eval"] = evaluate(args.quick)
    if args.holdout:
        res["holdout"] = holdout(args.quick)
    emit_result(dict(bench="dereverb", env=environment(), **res))


if __name__ == "__main__":
    main()
