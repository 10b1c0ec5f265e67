"""Batch rendering (:func:`irforge.render`): every stem through every IR (and an effect chain), on all cores or a Dask
cluster, resumable, never silently clipped.

:func:`render` (and ``irforge render``) takes stems and IRs as files, folders or globs (IRs
also as :class:`~irforge.ImpulseResponse` objects) and makes one job per stem x IR pair. Each
job streams its stem block by block through an :class:`irforge.Chain` (pre effects, the IR on
the partitioned-convolution engine, post effects), so memory stays bounded whatever the
stem's length, and writes the result atomically under ``out_dir``.

What a job does
---------------
1. Streams the stem through the chain, then the tail (``tail="full"``: the whole tail;
   ``tail=-80``: cut where the output stays below -80 dB re its peak). The output is kept as
   float32 in an unnamed temporary file while its peak, its loudness (ITU-R BS.1770,
   :class:`irforge.metrics.LoudnessMeter`) and its envelope are measured.
2. Chooses the gain: ``"none"``, ``"peak"`` (normalise the peak to ``target_db``, default
   -1 dBFS), ``"loudness"`` (to ``target_db`` LUFS, default -23) or ``"protect"`` (scale down
   only what would pass ``target_db``, default -0.1 dBFS). A fixed-point output that would
   clip without a gain policy, or after a loudness gain, fails its job, with the peak in the
   message; nothing is written.
3. Writes the file through :func:`irforge.audio_io.open_audio_atomic` (umask permissions; a
   kill leaves no partial file at a destination) and hashes it.

Resuming
--------
``out_dir/irforge-render-manifest.jsonl`` gets one line per finished job, written by the
worker that rendered it just before the output is put in place (so no finished output is
ever unclaimed): the output, its size and SHA-256, the SHA-256 of the stem and of the IR, and
a hash of the settings (chain included). A rerun skips a job whose entry
matches its inputs and settings and whose output is still there with the recorded size; it
redoes the others. ``kill -9`` at any moment loses at most the jobs in flight.

Scheduling
----------
``workers`` local processes (default: one per core; the streaming engine runs one thread per
job, measured best on the 2-core machines, see BENCHMARKS.md), or ``scheduler=`` a
``dask.distributed.Client`` or a scheduler address (optional extra ``irforge[dask]``; the
workers must see the same file system). The outputs are the same bit for bit whatever the
scheduler: every job runs the same code on the same blocks.
"""
from __future__ import annotations

import dataclasses
import glob as _glob
import hashlib
import json
import math
import os
import string
import tempfile
import time
import warnings
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, cast

import numpy as np

from ._errors import ParameterError
from ._resources import presets_dir
from .impulse_response import ImpulseResponse

__all__ = ["render", "RenderReport", "JobResult", "load_chain_preset", "list_chain_presets"]

MANIFEST = "irforge-render-manifest.jsonl"
AUDIO_SUFFIXES = (".wav", ".flac", ".aif", ".aiff", ".ogg", ".w64", ".caf")
GAINS = ("none", "peak", "loudness", "protect")
_DEFAULT_TARGET = {"none": None, "peak": -1.0, "loudness": -23.0, "protect": -0.1}
_BLOCK = 1 << 16          # frames read per block
_GRANULE = 256            # envelope resolution of the tail cut, samples
_SPOOL_BYTES = 64 << 20   # output kept in memory up to this; a temporary file past it
_TEMPLATE_FIELDS = {"stem", "ir", "stem_index", "ir_index", "chain"}
_CHAIN_PRESETS = presets_dir("chains")


# ---- the report ----------------------------------------------------------------------------
@dataclasses.dataclass
class JobResult:
    """One stem x IR job of a render.

    Attributes
    ----------
    stem, ir : str
        The stem's path and the IR's name.
    output : str
        The output path.
    status : {"done", "skipped", "failed", "planned"}
        ``skipped``: finished by an earlier run (manifest); ``planned``: a dry run.
    peak_dbfs : float or None
        Peak of the written output (after the gain), dBFS.
    gain_db : float or None
        Gain applied by the gain policy, dB.
    loudness_lufs : float or None
        Integrated loudness of the written output, LUFS (measured for gain="loudness").
    seconds : float
        Wall time of the job.
    samples, sample_rate, channels : int, float, int
        Of the output.
    notes : list of str
        What the job changed on the way (an IR resampled to the stem's rate, a tail cut).
    error : str or None
        Why a failed job failed.
    """

    stem: str
    ir: str
    output: str
    status: str
    peak_dbfs: float | None = None
    gain_db: float | None = None
    loudness_lufs: float | None = None
    seconds: float = 0.0
    samples: int = 0
    sample_rate: float = 0.0
    channels: int = 0
    notes: list = dataclasses.field(default_factory=list)
    error: str | None = None


@dataclasses.dataclass
class RenderReport:
    """What :func:`render` did: one :class:`JobResult` per job, in job order."""

    jobs: list
    out_dir: str
    seconds: float = 0.0

    @property
    def failed(self) -> list:
        return [j for j in self.jobs if j.status == "failed"]

    @property
    def ok(self) -> bool:
        """True when no job failed."""
        return not self.failed

    def counts(self) -> dict:
        out: dict = {}
        for j in self.jobs:
            out[j.status] = out.get(j.status, 0) + 1
        return out

    def table(self) -> str:
        """A text table: one row per job (status, peak, gain, loudness, output or error)."""
        rows = [("status", "peak dBFS", "gain dB", "LUFS", "output / error")]
        for j in self.jobs:
            def f(v):
                return "" if v is None or not math.isfinite(v) else f"{v:+.1f}"
            rows.append((j.status, f(j.peak_dbfs), f(j.gain_db), f(j.loudness_lufs),
                         j.error if j.status == "failed" else j.output))
        w = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = ["  ".join(r[i].ljust(w[i]) for i in range(4)) + "  " + r[4] for r in rows]
        c = self.counts()
        lines.append(", ".join(f"{c[k]} {k}" for k in ("done", "skipped", "failed", "planned") if k in c)
                     + f" in {self.seconds:.1f} s")
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps({"out_dir": self.out_dir, "seconds": self.seconds,
                           "jobs": [dataclasses.asdict(j) for j in self.jobs]}, indent=1)

    def __str__(self) -> str:
        return self.table()


# ---- inputs --------------------------------------------------------------------------------
def _expand(items, what: str) -> list[Path]:
    """Files, folders (their audio files, sorted) and globs, in the order given, no repeats."""
    if isinstance(items, (str, os.PathLike)):
        items = [items]
    out: list[Path] = []
    for it in items:
        s = os.fspath(it)
        p = Path(s)
        if any(ch in s for ch in "*?[") and not p.exists():
            found = sorted(Path(m) for m in _glob.glob(s, recursive=True))
            found = [f for f in found if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES]
            if not found:
                raise ParameterError(f"no {what} audio files match {s!r}")
            out += found
        elif p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                raise ParameterError(f"{what} folder {s!r} holds no audio files "
                                     f"({', '.join(AUDIO_SUFFIXES)})")
            out += found
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(f"{what} not found: {s!r}")
    seen, uniq = set(), []
    for p in out:
        k = os.path.realpath(p)
        if k not in seen:
            seen.add(k)
            uniq.append(p)
    if not uniq:
        raise ParameterError(f"no {what} given")
    return uniq


def _ir_entries(irs) -> list[tuple[str, Any]]:
    """``(name, source)`` per IR: a source is a Path or an ImpulseResponse."""
    if isinstance(irs, (str, os.PathLike, ImpulseResponse)):
        irs = [irs]
    entries: list[tuple[str, Any]] = []
    for i, it in enumerate(irs):
        if isinstance(it, ImpulseResponse):
            name = str(it.metadata.get("name") or f"ir{i + 1}")
            entries.append((name, it))
        else:
            for p in _expand([it], "IR"):
                entries.append((p.stem, p))
    if not entries:
        raise ParameterError("no IRs given")
    return entries


def _sha256_file(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _sha256_ir(ir: ImpulseResponse) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(ir.data, dtype=np.float32).tobytes())
    h.update(repr((ir.sample_rate, ir.data.shape)).encode())
    return h.hexdigest()


def _callable_key(fn) -> str:
    """A best-effort identity of a chain factory for the settings hash: its qualified name
    and its code (so editing the function invalidates earlier renders)."""
    code = getattr(fn, "__code__", None)
    h = hashlib.sha256(f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', repr(fn))}".encode())
    if code is not None:
        h.update(code.co_code)
        h.update(repr(code.co_consts).encode())
        h.update(repr(getattr(fn, "__defaults__", None)).encode())
    return h.hexdigest()


# ---- chain presets -------------------------------------------------------------------------
def list_chain_presets() -> list[str]:
    """Names of the chain presets shipped with irforge (``presets/chains``)."""
    return sorted(p.stem for p in _CHAIN_PRESETS.glob("*.toml"))


def _pedalboard_effects() -> dict:
    import pedalboard

    out = {}
    for name in dir(pedalboard):
        obj = getattr(pedalboard, name)
        if (isinstance(obj, type) and issubclass(obj, pedalboard.Plugin)
                and name not in ("Plugin", "Pedalboard", "Chain", "Mix", "ExternalPlugin",
                                 "VST3Plugin", "AudioUnitPlugin")
                and not name.startswith("_")):
            out[name] = obj
    return out


def load_chain_preset(path_or_name) -> dict:
    """Read and check a chain preset (TOML): ``{"name", "effects", "path", "sha256"}``.

    Format::

        name = "DI -> noise gate -> cab -> small room"
        [[effect]]
        type = "NoiseGate"        # a pedalboard effect by class name, with its parameters
        threshold_db = -55.0
        [[effect]]
        type = "ir"               # where the job's IR goes (irforge.Convolver); mix, gain_db
        [[effect]]
        type = "Convolver"        # a fixed IR (irforge.Convolver): ir = path (relative to the
        ir = "room.wav"           # preset file), mix, gain_db, layout
        mix = 0.2
        [[effect]]
        type = "vst3"             # a VST3 plugin: path, and its parameters by python name
        path = "/usr/lib/vst3/Some.vst3"

    Without a ``type = "ir"`` entry the IR goes last.

    Raises
    ------
    FileNotFoundError
        No such file or built-in preset.
    ParameterError
        Bad TOML, an unknown effect type or parameter, a bad value: found before any job runs.
    """
    if TYPE_CHECKING:  # mypy checks the 3.10 floor (python_version), where it is the backport
        import tomli as tomllib
    else:
        try:
            import tomllib
        except ModuleNotFoundError:  # Python < 3.11
            import tomli as tomllib

    p = Path(path_or_name)
    if not p.exists() and not p.suffix and (_CHAIN_PRESETS / f"{p}.toml").exists():
        p = _CHAIN_PRESETS / f"{p}.toml"
    if not p.is_file():
        raise FileNotFoundError(f"chain preset not found: {str(path_or_name)!r} (built-in: "
                                f"{', '.join(list_chain_presets())})")
    raw_bytes = p.read_bytes()
    try:
        raw = tomllib.loads(raw_bytes.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ParameterError(f"chain preset {str(p)!r} is not valid TOML: {exc}") from None
    unknown = set(raw) - {"name", "description", "effect"}
    if unknown:
        raise ParameterError(f"chain preset {str(p)!r}: unknown key(s) {sorted(unknown)}; "
                             f"expected name, description and [[effect]] tables")
    effects = raw.get("effect", [])
    if not isinstance(effects, list) or not effects:
        raise ParameterError(f"chain preset {str(p)!r} has no [[effect]] entries")
    checked = []
    n_ir = 0
    for i, e in enumerate(effects):
        where = f"chain preset {str(p)!r}, effect {i + 1}"
        if not isinstance(e, dict) or "type" not in e:
            raise ParameterError(f"{where}: each [[effect]] needs a type")
        e = dict(e)
        t = e.pop("type")
        if t == "ir":
            n_ir += 1
            _check_keys(e, {"mix", "gain_db", "layout"}, where)
        elif t == "Convolver":
            _check_keys(e, {"ir", "mix", "gain_db", "layout"}, where)
            if "ir" not in e:
                raise ParameterError(f"{where}: a Convolver needs ir = \"path\"")
            ir_p = (p.parent / e["ir"]) if not Path(e["ir"]).is_absolute() else Path(e["ir"])
            if not ir_p.is_file():
                raise FileNotFoundError(f"{where}: IR file not found: {str(ir_p)!r}")
            e["ir"] = str(ir_p)
        elif t == "vst3":
            if "path" not in e:
                raise ParameterError(f"{where}: a vst3 effect needs path = \"...\"")
        else:
            fx = _pedalboard_effects()
            if t not in fx:
                raise ParameterError(f"{where}: unknown effect type {t!r}; use \"ir\", "
                                     f"\"Convolver\", \"vst3\" or a pedalboard effect: "
                                     f"{', '.join(sorted(fx))}")
            inst = fx[t]()
            for k, v in e.items():
                if k.startswith("_") or not hasattr(inst, k) or callable(getattr(inst, k)):
                    params = sorted(n for n in dir(inst) if not n.startswith("_")
                                    and not callable(getattr(inst, n))
                                    and n not in ("is_effect", "is_instrument"))
                    raise ParameterError(f"{where}: {t} has no parameter {k!r}; its parameters: "
                                         f"{', '.join(params)}")
                try:
                    setattr(inst, k, v)
                except Exception as exc:  # noqa: BLE001 - pedalboard's own range checks
                    raise ParameterError(f"{where}: {t}.{k} = {v!r}: {exc}") from None
        checked.append({"type": t, **e})
    if n_ir > 1:
        raise ParameterError(f"chain preset {str(p)!r} has {n_ir} 'ir' entries; one at most")
    return {"name": str(raw.get("name", p.stem)), "effects": checked, "path": str(p),
            "sha256": hashlib.sha256(raw_bytes).hexdigest()}


def _check_keys(e: dict, allowed: set, where: str) -> None:
    bad = set(e) - allowed
    if bad:
        raise ParameterError(f"{where}: unknown parameter(s) {sorted(bad)}; allowed: {sorted(allowed)}")


def _build_chain(spec, ir_source, sample_rate: float):
    """The job's Chain, built inside the worker (pedalboard objects cannot be pickled)."""
    from .chain import Chain
    from .convolution import Convolver

    if callable(spec):
        cab: Convolver | None = Convolver(ir_source, sample_rate=sample_rate)
        made = spec(cab)
        chain = made if isinstance(made, Chain) else Chain(list(made))
        if not any(m is cab for m in chain):
            raise ParameterError("the chain factory must put the Convolver it is given into the "
                                 "chain it returns")
        return chain, cab
    members: list[Any]
    members, cab = [], None
    effects: list[dict[str, Any]] = spec["effects"] if spec else [{"type": "ir"}]
    if not any(e["type"] == "ir" for e in effects):
        effects = list(effects) + [{"type": "ir"}]
    for e in effects:
        e = dict(e)
        t = e.pop("type")
        if t == "ir":
            cab = Convolver(ir_source, sample_rate=sample_rate, **e)
            members.append(cab)
        elif t == "Convolver":
            members.append(Convolver(e.pop("ir"), sample_rate=sample_rate, **e))
        elif t == "vst3":
            import pedalboard

            path = e.pop("path")
            members.append(pedalboard.load_plugin(path, parameter_values=e))
        else:
            members.append(_pedalboard_effects()[t](**e))
    return Chain(members), cab


# ---- the job -------------------------------------------------------------------------------
def _gain_for(policy: str, target: float | None, peak: float, lufs: float, fixed_point: bool,
              where: str, limit: float = 1.0) -> float:
    """The job's gain; ``limit`` is the largest peak a fixed-point output may have (below 1.0
    by the dither's amplitude when the output is dithered)."""
    tgt = cast(float, target)   # None only with policy "none", which does not read it
    if policy == "none":
        g = 1.0
    elif policy == "peak":
        if peak <= 0:
            raise ParameterError(f"{where}: the output is silent; nothing to normalise")
        g = min(10 ** (tgt / 20), limit) / peak
    elif policy == "protect":
        ceiling = min(10 ** (tgt / 20), limit)
        g = min(1.0, ceiling / peak) if peak > 0 else 1.0
    else:  # loudness
        if not math.isfinite(lufs):
            raise ParameterError(f"{where}: the output is below the -70 LUFS gate; its loudness "
                                 f"cannot be normalised")
        g = 10 ** ((tgt - lufs) / 20)
    if fixed_point and peak * g > limit:
        how = ("without a gain policy" if policy == "none"
               else f"after the {policy} gain ({20 * math.log10(g):+.1f} dB)")
        raise ParameterError(
            f"{where}: the output peaks at {20 * math.log10(peak * g):+.2f} dBFS {how} and "
            f"would clip in a fixed-point file; use gain='protect' (scale down only what would "
            f"clip), gain='peak', a lower target, or bit_depth=32 (float)")
    return g


def _run_job(job: dict, chain_spec) -> dict:
    """Render one job (runs in a worker). Returns the JobResult fields and the manifest entry;
    never raises for a problem of the job's own inputs."""
    import soundfile as sf

    from . import audio_io
    from .metrics import LoudnessMeter

    t0 = time.perf_counter()
    res = {"stem": job["stem"], "ir": job["ir_name"], "output": job["output"], "status": "failed",
           "notes": []}
    where = f"{Path(job['stem']).name} x {job['ir_name']}"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            channels, frames, sr = audio_io.audio_info(job["stem"], "stem")
            src = job["ir_source"]
            ir = src if isinstance(src, ImpulseResponse) else ImpulseResponse.load(src)
            if ir.sample_rate != sr:
                res["notes"].append(f"IR resampled from {ir.sample_rate:g} Hz to the stem's {sr:g} Hz")
            chain, _ = _build_chain(chain_spec, ir, float(sr))
            bs = job["buffer_size"]
            meter = None
            peak = 0.0
            env = _Envelope()
            out_ch = None
            out = Path(job["output"])
            out.parent.mkdir(parents=True, exist_ok=True)
            with _Spool(out.parent) as spool:
                def emit(y):
                    nonlocal peak, out_ch, meter
                    if y.ndim == 1:
                        y = y[None]
                    if not y.shape[1]:
                        return
                    if out_ch is None:
                        out_ch = y.shape[0]
                        if job["gain"] == "loudness":
                            meter = LoudnessMeter(sr, out_ch)
                    if not np.isfinite(y).all():
                        raise ParameterError(f"{where}: the chain produced NaN or Inf")
                    a = np.max(np.abs(y), axis=0)
                    peak = max(peak, float(a.max()))
                    env.add(a)
                    if meter is not None:
                        meter.add(y)
                    spool.add(y)

                for block in audio_io.read_blocks(job["stem"], _BLOCK, "stem"):
                    emit(chain.process(block, sr, buffer_size=bs, reset=False))
                emit(chain.flush(buffer_size=bs))
                if out_ch is None:
                    raise ParameterError(f"{where}: the chain returned no audio")
                n_out = spool.n
                keep = n_out
                if job["tail"] != "full" and peak > 0:
                    thr = peak * 10 ** (float(job["tail"]) / 20)
                    above = np.nonzero(env.result() > thr)[0]
                    last = (int(above[-1]) + 1) * _GRANULE if above.size else 0
                    keep = int(min(n_out, max(frames, last)))
                    if keep < n_out:
                        res["notes"].append(f"tail cut at {job['tail']} dB: "
                                            f"{(n_out - keep) / sr:.2f} s dropped")
                lufs = meter.integrated() if meter is not None else float("nan")
                dithered = job.get("dither", "none") == "tpdf" and job["bit_depth"] != 32
                lsb = 2.0 ** (1 - job["bit_depth"])
                g = _gain_for(job["gain"], job["target_db"], peak, lufs,
                              job["bit_depth"] != 32, where, 1.0 - 2 * lsb if dithered else 1.0)
                # TPDF dither of +-1 LSB (the difference of two uniform variables), seeded by
                # the output's name within out_dir: the same bits on every scheduler, rerun
                # and out_dir
                rng = np.random.default_rng(job["dither_seed"]) if dithered else None
                if dithered:
                    res["notes"].append(f"TPDF dither (+-1 LSB, {job['bit_depth']}-bit)")
                entry = {"output": job["output"], "stem_sha256": job["stem_sha256"],
                         "ir_sha256": job["ir_sha256"], "settings_sha256": job["settings_sha256"]}

                def record(fobj) -> None:
                    # the manifest line goes to disk before the output is linked into place: a
                    # kill in between leaves an entry without its file (the job is redone), never
                    # a finished file that no entry claims (a rerun would refuse to replace it)
                    digest, size = hashlib.sha256(), 0
                    for chunk in iter(lambda: fobj.read(1 << 20), b""):
                        digest.update(chunk)
                        size += len(chunk)
                    entry.update(output_size=size, output_sha256=digest.hexdigest())
                    if job.get("manifest"):
                        _append_line(Path(job["manifest"]), entry)

                with audio_io.open_audio_atomic(out, sr, out_ch, bit_depth=job["bit_depth"],
                                                overwrite=True, before_commit=record) as f:
                    for blk in spool.blocks(keep):
                        blk = blk * np.float32(g) if g != 1.0 else blk
                        if rng is not None:
                            d = rng.random(blk.shape, np.float32) - rng.random(blk.shape, np.float32)
                            blk = blk + d * np.float32(lsb)
                        f.write(blk)
        for w in caught:
            if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning)):
                res["notes"].append(f"{w.category.__name__}: {w.message}")
        res.update(status="done", peak_dbfs=_db(peak * g), gain_db=_db(g),
                   loudness_lufs=(lufs + _db(g)) if math.isfinite(lufs) else None,
                   samples=keep, sample_rate=float(sr), channels=out_ch)
        res["manifest"] = entry
    except (ParameterError, FileNotFoundError, OSError, ValueError, RuntimeError, MemoryError,
            TypeError, sf.LibsndfileError) as exc:
        res["error"] = f"{type(exc).__name__}: {exc}"
    res["seconds"] = time.perf_counter() - t0
    return res


class _Spool:
    """The rendered output, ``(samples, channels)`` float32, kept in memory up to
    ``_SPOOL_BYTES`` and spilled to an unnamed temporary file beside the output past that, so
    memory stays bounded for stems of any length."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.parts: list[np.ndarray] = []
        self.bytes = 0
        self.n = 0
        self.file: IO[bytes] | None = None
        self.channels = 0

    def __enter__(self) -> "_Spool":
        return self

    def __exit__(self, *exc) -> None:
        if self.file is not None:
            self.file.close()
        self.parts = []

    def add(self, y: np.ndarray) -> None:
        blk = np.ascontiguousarray(y.T, dtype=np.float32)
        self.channels = blk.shape[1]
        self.n += blk.shape[0]
        if self.file is None and self.bytes + blk.nbytes > _SPOOL_BYTES:
            self.file = tempfile.TemporaryFile(dir=self.folder)
            for p in self.parts:
                self.file.write(p.tobytes())
            self.parts = []
        if self.file is not None:
            self.file.write(blk.tobytes())
        else:
            self.parts.append(blk)
            self.bytes += blk.nbytes

    def blocks(self, n: int):
        """The first ``n`` samples in blocks of at most ``_BLOCK``."""
        if self.file is None:
            done = 0
            for p in self.parts:
                if done >= n:
                    return
                yield p[:n - done]
                done += len(p)
            return
        # plain reads, block by block (a memory map would keep every page it touched resident:
        # a 1-hour stereo output read through one peaked at 1.4 GB RSS)
        self.file.flush()
        self.file.seek(0)
        frame = 4 * self.channels
        for i in range(0, n, _BLOCK):
            k = min(_BLOCK, n - i)
            buf = self.file.read(k * frame)
            if len(buf) != k * frame:
                raise OSError(f"render spool: read {len(buf)} of {k * frame} bytes")
            yield np.frombuffer(buf, dtype=np.float32).reshape(k, self.channels)


class _Envelope:
    """Peak per granule of ``_GRANULE`` samples (over channels) of a stream, for the tail cut."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []
        self.carry = np.zeros(0, np.float32)

    def add(self, a: np.ndarray) -> None:
        a = np.concatenate([self.carry, a]) if self.carry.size else a
        n = (len(a) // _GRANULE) * _GRANULE
        if n:
            self.parts.append(a[:n].reshape(-1, _GRANULE).max(axis=1))
        self.carry = a[n:].copy()

    def result(self) -> np.ndarray:
        parts = self.parts + ([np.array([self.carry.max()])] if self.carry.size else [])
        return np.concatenate(parts) if parts else np.zeros(0)


def _db(v: float) -> float:
    return 20 * math.log10(v) if v > 0 else float("-inf")


# ---- scheduling ----------------------------------------------------------------------------
_WORKER_SPEC = None


def _init_worker(spec) -> None:
    global _WORKER_SPEC
    _WORKER_SPEC = spec
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def _run_in_worker(job: dict) -> dict:
    return _run_job(job, _WORKER_SPEC)


def _load_manifest(path: Path) -> dict:
    out: dict = {}
    if not path.exists():
        return out
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue   # a line cut by a kill: the job is redone
            if isinstance(e, dict) and "output" in e:
                out[e["output"]] = e
    return out


class _Manifest:
    def __init__(self, path: Path):
        self.path = path
        self.entries = _load_manifest(path)

    def record(self, entry: dict) -> None:
        """Note a finished job (its worker has written the line: :func:`_append_line`)."""
        self.entries[entry["output"]] = entry


def _append_line(path: Path, entry: dict) -> None:
    """Append one manifest line (from whichever process finished the job)."""
    from .audio_io import new_file_mode

    line = json.dumps(entry, sort_keys=True) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, new_file_mode(path))
    try:
        os.write(fd, line.encode("utf-8"))   # one O_APPEND write: whole or not at all
    finally:
        os.close(fd)


def render(stems, irs, out_dir, *, chain: Callable | str | os.PathLike | None = None,
           template: str = "{stem}__{ir}.wav", bit_depth: int = 24, gain: str = "none",
           target_db: float | None = None, tail: str | float = "full", workers: int | None = None,
           scheduler=None, buffer_size: int = 16384, overwrite: bool = False,
           progress: bool = False, dry_run: bool = False, dither: str | None = None) -> RenderReport:
    """Render every stem through every IR (and a chain) into ``out_dir``.

    Parameters
    ----------
    stems : path, glob or folder, or a list of them
        The dry audio (any format soundfile reads).
    irs : path, glob, folder or ImpulseResponse, or a list of them
        The IRs; a file's name (without extension) is its ``{ir}`` in the template, an
        ImpulseResponse's ``metadata["name"]`` (else ``ir1``, ``ir2``, ...).
    out_dir : path
        Created if missing. Holds the outputs and the manifest.
    chain : callable, preset path or preset name, optional
        Effects around the IR. A callable gets the job's :class:`irforge.Convolver` and
        returns an :class:`irforge.Chain` (or a list) containing it, e.g.
        ``lambda cab: irforge.Chain([pedalboard.NoiseGate(), cab, pedalboard.Reverb()])``;
        it runs inside each worker. A preset is a TOML file (:func:`load_chain_preset`) or
        the name of a built-in one (:func:`list_chain_presets`). None: the IR alone.
    template : str
        Output path relative to ``out_dir``, with ``{stem}``, ``{ir}``, ``{stem_index}``,
        ``{ir_index}``, ``{chain}``; its extension picks the format (.wav, .flac, .aif).
    bit_depth : {16, 24, 32}
        32 is float.
    gain : {"none", "peak", "loudness", "protect"}
        See the module notes. ``target_db`` sets its target (dBFS, or LUFS for loudness).
    tail : "full" or float
        Keep the whole tail, or cut where the output stays below this level (dB re its peak,
        e.g. -80) for good; never shorter than the stem.
    workers : int, optional
        Local processes (default: one per core; 1 runs in this process).
    scheduler : dask.distributed.Client or str, optional
        A Dask client or scheduler address: the jobs run on the cluster instead.
    buffer_size : int
        Block size of the chain's members, samples.
    overwrite : bool
        Replace existing files at the output paths that no earlier render (manifest) made.
        Inputs are never overwritten.
    progress : bool
        A progress bar (tqdm) on stderr.
    dry_run : bool
        Only plan: the report lists every job and its output name, status ``"planned"``.
    dither : {"tpdf", "none"}, optional
        Dither before the quantisation to a fixed-point file: ``"tpdf"`` adds triangular noise
        of +-1 LSB (Lipshitz, Wannamaker & Vanderkooy 1992: the error is then independent of
        the signal in mean and variance, so fading reverb tails do not turn into truncation
        distortion); seeded per output, so the bits do not depend on the scheduler. Default:
        ``"tpdf"`` for 16-bit, ``"none"`` for 24-bit (its error is below any converter's
        noise) and float.

    Returns
    -------
    RenderReport
        ``report.ok`` is False when a job failed; ``report.table()`` summarises.

    Raises
    ------
    ParameterError, FileNotFoundError
        Before any job runs: no stems or IRs, a bad template (unknown field, two jobs on one
        output, a path outside ``out_dir``, an output that is an input), a bad chain preset,
        bad settings, existing files that no earlier render made (without ``overwrite``).
    """
    from . import __version__

    t_start = time.perf_counter()
    if gain not in GAINS:
        raise ParameterError(f"gain must be one of {GAINS}, got {gain!r}")
    target = _DEFAULT_TARGET[gain] if target_db is None else float(target_db)
    if target is not None and not math.isfinite(target):
        raise ParameterError(f"target_db must be finite, got {target_db!r}")
    if tail != "full":
        try:
            tail = float(tail)
        except (TypeError, ValueError):
            raise ParameterError(f"tail must be 'full' or a level in dB (e.g. -80), got {tail!r}") from None
        if not (math.isfinite(tail) and tail < 0):
            raise ParameterError(f"tail level must be a negative dB value, got {tail!r}")
    if isinstance(bit_depth, bool) or bit_depth not in (16, 24, 32):
        raise ParameterError(f"bit_depth must be 16, 24 or 32 (float), got {bit_depth!r}")
    if dither is None:
        dither = "tpdf" if bit_depth == 16 else "none"
    if dither not in ("tpdf", "none"):
        raise ParameterError(f"dither must be 'tpdf' or 'none', got {dither!r}")
    if isinstance(buffer_size, bool) or not isinstance(buffer_size, (int, np.integer)) or not 16 <= buffer_size <= 1 << 20:
        raise ParameterError(f"buffer_size must be an integer in [16, 2^20], got {buffer_size!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, (int, np.integer))
                                or not 1 <= workers <= 256):
        raise ParameterError(f"workers must be an integer in [1, 256], got {workers!r}")

    from .chain import Chain
    if isinstance(chain, Chain):
        raise ParameterError("pass chain= a function that builds the Chain (it runs inside each "
                             "worker; pedalboard objects cannot be sent to other processes), or "
                             "a chain preset file")
    spec: Callable[..., Any] | dict[str, Any] | None
    if chain is None:
        spec, chain_key, chain_name = None, "none", "none"
    elif callable(chain):
        spec, chain_key = chain, _callable_key(chain)
        chain_name = getattr(chain, "__name__", "chain").replace("<lambda>", "chain")
    else:
        spec = load_chain_preset(chain)
        chain_key, chain_name = spec["sha256"], Path(spec["path"]).stem

    stem_paths = _expand(stems, "stem")
    ir_list = _ir_entries(irs)
    out_root = Path(out_dir)
    _check_template(template)

    # plan every job and its output before any work
    jobs = []
    taken: dict[str, tuple] = {}
    inputs = {os.path.realpath(p) for p in stem_paths}
    inputs |= {os.path.realpath(src) for _, src in ir_list if not isinstance(src, ImpulseResponse)}
    for si, sp in enumerate(stem_paths):
        for ii, (iname, src) in enumerate(ir_list):
            rel = template.format(stem=sp.stem, ir=iname, stem_index=si + 1, ir_index=ii + 1,
                                  chain=chain_name)
            outp = out_root / rel
            norm = os.path.normpath(os.path.join(os.path.abspath(out_root), rel))
            if not norm.startswith(os.path.abspath(out_root) + os.sep):
                raise ParameterError(f"template {template!r} puts {rel!r} outside out_dir")
            if norm in taken:
                a = taken[norm]
                raise ParameterError(
                    f"template {template!r} gives two jobs the same output {rel!r} "
                    f"({a[0]} x {a[1]} and {sp.name} x {iname}); add fields that tell them "
                    f"apart, e.g. {{stem_index}} or {{ir_index}}")
            if os.path.realpath(norm) in inputs:
                raise ParameterError(f"output {str(outp)!r} is one of the inputs; choose another "
                                     f"out_dir or template")
            taken[norm] = (sp.name, iname)
            jobs.append({"stem": str(sp), "ir_name": iname, "ir_source": src, "output": norm})
    for j in jobs:
        _check_format(j["output"], bit_depth)

    settings = {"bit_depth": bit_depth, "gain": gain, "target_db": target, "tail": tail,
                "dither": dither if bit_depth != 32 else "none",
                "buffer_size": int(buffer_size), "chain": chain_key, "irforge": __version__}
    settings_sha = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()

    if dry_run:
        results: list[JobResult | None] = [
            JobResult(stem=j["stem"], ir=j["ir_name"], output=j["output"], status="planned") for j in jobs]
        return RenderReport(results, str(out_root), time.perf_counter() - t_start)

    out_root.mkdir(parents=True, exist_ok=True)
    manifest = _Manifest(out_root / MANIFEST)
    # hashes of the inputs (each file read once), then what is already done
    stem_sha = {str(p): _sha256_file(p) for p in stem_paths}
    ir_sha: dict[int, str] = {}
    for k, (_, src) in enumerate(ir_list):
        ir_sha[k] = _sha256_ir(src) if isinstance(src, ImpulseResponse) else _sha256_file(src)
    src_index = {id(src): k for k, (_, src) in enumerate(ir_list)}
    todo, results = [], [None] * len(jobs)
    clashes = []
    for k, j in enumerate(jobs):
        j.update(stem_sha256=stem_sha[j["stem"]], ir_sha256=ir_sha[src_index[id(j["ir_source"])]],
                 settings_sha256=settings_sha, bit_depth=bit_depth, gain=gain, target_db=target,
                 tail=tail, buffer_size=int(buffer_size), manifest=str(manifest.path),
                 dither=dither, dither_seed=int.from_bytes(hashlib.sha256(
                     os.path.relpath(j["output"], out_root).encode()).digest()[:8], "little"))
        e = manifest.entries.get(j["output"])
        p = Path(j["output"])
        if (e and e.get("stem_sha256") == j["stem_sha256"] and e.get("ir_sha256") == j["ir_sha256"]
                and e.get("settings_sha256") == settings_sha and p.is_file()
                and p.stat().st_size == e.get("output_size")):
            results[k] = JobResult(stem=j["stem"], ir=j["ir_name"], output=j["output"],
                                   status="skipped", notes=["finished by an earlier render"])
            continue
        if p.exists() and not e and not overwrite:
            clashes.append(str(p))
        todo.append(k)
    if clashes:
        raise FileExistsError(
            f"{len(clashes)} output(s) exist and no earlier render in this out_dir made them "
            f"(e.g. {clashes[0]!r}); pass overwrite=True to replace them or choose another out_dir")

    bar = None
    if progress and todo:
        try:
            from tqdm import tqdm
            bar = tqdm(total=len(todo), unit="job", desc="render", dynamic_ncols=True)
        except ImportError:
            warnings.warn("progress=True needs tqdm (pip install tqdm)", RuntimeWarning, stacklevel=2)

    def finish(k: int, res: dict) -> None:
        entry = res.pop("manifest", None)
        if entry is not None:
            manifest.record(entry)
        results[k] = JobResult(**res)
        if bar is not None:
            bar.update(1)

    try:
        if scheduler is not None:
            _run_dask(scheduler, jobs, todo, spec, finish)
        elif (workers or os.cpu_count() or 1) == 1 or len(todo) <= 1:
            for k in todo:
                finish(k, _run_job(jobs[k], spec))
        else:
            _run_pool(min(workers or os.cpu_count() or 1, len(todo)), jobs, todo, spec, finish)
    finally:
        if bar is not None:
            bar.close()
    return RenderReport(results, str(out_root), time.perf_counter() - t_start)


def _check_template(template: str) -> None:
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise ParameterError(f"template {template!r}: {exc}") from None
    bad = {f.split(".")[0].split("[")[0] for f in fields} - _TEMPLATE_FIELDS
    if bad or "" in fields:
        raise ParameterError(f"template {template!r} uses unknown field(s) {sorted(bad)}; "
                             f"available: {sorted(_TEMPLATE_FIELDS)}")


def _check_format(path: str, bit_depth: int) -> None:
    from .audio_io import FORMATS

    suf = Path(path).suffix.lower()
    if suf not in FORMATS:
        raise ParameterError(f"output {path!r}: unsupported extension {suf!r}; the template's "
                             f"extension must be one of {sorted(FORMATS)}")
    if FORMATS[suf] == "FLAC" and bit_depth == 32:
        raise ParameterError("FLAC has no float format: use bit_depth=16 or 24, or .wav")


def _run_pool(n: int, jobs: list, todo: list, spec, finish) -> None:
    import concurrent.futures as cf
    import multiprocessing as mp

    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
    # fork: the chain factory reaches the workers without pickling (lambdas work)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # fork with threads (3.12+)
        pool = cf.ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_init_worker,
                                      initargs=(spec,))
    with pool:
        futs = {pool.submit(_run_in_worker, jobs[k]): k for k in todo}
        for fut in cf.as_completed(futs):
            k = futs[fut]
            try:
                res = fut.result()
            except Exception as exc:  # noqa: BLE001 - a worker that died (crash, OOM kill)
                j = jobs[k]
                res = {"stem": j["stem"], "ir": j["ir_name"], "output": j["output"],
                       "status": "failed", "error": f"worker failed: {type(exc).__name__}: {exc}",
                       "notes": []}
            finish(k, res)


def _run_chunk(chunk: list, spec) -> list:
    """Several jobs in one Dask task (runs on a worker)."""
    return [_run_job(j, spec) for j in chunk]


#: Dask tasks per worker thread: jobs go to the cluster in about this many chunks per thread
#: (one task per job cost 7 ms of scheduling each on 2 cores, more than a short job itself:
#: 0.44x the local pool; chunks keep the load balanced and the overhead small)
_DASK_CHUNKS_PER_THREAD = 4


def _run_dask(scheduler, jobs: list, todo: list, spec, finish) -> None:
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise ParameterError("scheduler= needs Dask: pip install 'irforge[dask]'") from None
    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        threads = max(1, sum(client.nthreads().values()))
        size = max(1, math.ceil(len(todo) / (threads * _DASK_CHUNKS_PER_THREAD)))
        chunks = [todo[i:i + size] for i in range(0, len(todo), size)]
        # the chain spec (a factory or a preset) goes to every worker once, not with each task
        spec_ref = client.scatter([spec], broadcast=True)[0] if spec is not None else None
        futs = {}
        for ci, chunk in enumerate(chunks):
            f = client.submit(_run_chunk, [jobs[k] for k in chunk], spec_ref, pure=False,
                              key=f"irforge-render-{ci}-{os.getpid()}-{time.time_ns()}")
            futs[f] = chunk
        for fut in as_completed(list(futs)):
            chunk = futs[fut]
            try:
                out = fut.result()
            except Exception as exc:  # noqa: BLE001 - a worker that died (Dask retried it)
                out = [{"stem": jobs[k]["stem"], "ir": jobs[k]["ir_name"],
                        "output": jobs[k]["output"], "status": "failed",
                        "error": f"worker failed: {type(exc).__name__}: {exc}", "notes": []}
                       for k in chunk]
            for k, res in zip(chunk, out):
                finish(k, res)
    finally:
        if client is not scheduler:
            client.close()
