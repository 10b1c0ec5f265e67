"""Export impulse responses as files that convolution plugins load, following presets.

A preset is a TOML file in ``presets/export/`` (top level of the repository; shipped inside the
wheel as ``irforge/presets/export/``); its name is the
file name without ``.toml``. :func:`list_presets` names them, :func:`load_preset` returns one
with every setting filled in, :func:`prepare` applies one to an IR and :func:`export` (or
:meth:`irforge.ImpulseResponse.export`) writes the file(s).

Built-in presets
----------------
``generic``
    float32 WAV at the IR's own rate and channel count, samples unchanged.
``cab-loader``
    48 kHz, 24-bit PCM, mono, exactly 2048 samples; trimmed, faded, peak -1 dBFS.
``reverb-stereo``
    48 kHz, 24-bit PCM, 2 channels (left, right); trimmed, faded, peak -1 dBFS.
``reverb-true-stereo``
    48 kHz, 24-bit PCM, 4 channels in the order L->L, L->R, R->L, R->R; or, with
    ``split_true_stereo=True``, two stereo files ``<name>_L.wav`` (L->L, L->R) and
    ``<name>_R.wav`` (R->L, R->R).
``pedalboard``
    float32 WAV for :class:`pedalboard.Convolution`, mono or stereo. Never FLAC or float64:
    pedalboard (JUCE) silently loads those as an empty IR and the effect becomes a
    pass-through, so this preset refuses any other format or bit depth. pedalboard rescales
    every IR it loads by ``0.125 / sqrt(max channel energy)`` (:func:`pedalboard_gain`).

Settings (keys of a preset file; all but the consumer's constraints can be overridden)
---------------------------------------------------------------------------------------
``file_format`` : "wav" | "aiff" | "flac"
    Used when the path has no extension; an extension, when given, must be in ``formats``.
``bit_depth`` : 16 | 24 | 32
    16/24-bit integer PCM, or 32 for float32.
``sample_rate`` : "native" | Hz
    Resampled with soxr (:meth:`ImpulseResponse.resample`, gain kept) when it differs.
``channels`` : "native" | 1 | 2 | 4
    Channel rules, in the order the IR would be used by :func:`irforge.convolve`:

    ========  =========  ===============================================================
    IR        preset     written
    ========  =========  ===============================================================
    C         C          unchanged
    1         2          ``[h, h]`` (duplicated)
    1         4          ``[h, 0, 0, h]`` (each input through h to its own side)
    2         4          ``[l, 0, 0, r]``: L->R and R->L silent (as ``convolve`` applies a
                         2-channel IR to stereo audio)
    more      fewer      :class:`irforge.ParameterError`: reduce first, e.g.
                         ``ir.to_mono()`` or ``ir.to_mono(channel=0)``
    3, >4     2 or 4     :class:`irforge.ParameterError` (no such layout)
    ========  =========  ===============================================================

``length_samples`` : int
    0 keeps the length; otherwise the IR is cut to this many samples (the fade then ends at
    the cut) or zero-padded after its fade.
``trim`` : bool, ``trim_pre_s`` : float
    :meth:`ImpulseResponse.trim` (ISO 3382-1 onset minus ``trim_pre_s``; Lundeby end), done
    at the IR's own rate before resampling.
``fade_out_s`` : float, ``fade_shape`` : "hann" | "cosine" | "linear"
    :meth:`ImpulseResponse.fade_out` at the end of the content (0: no fade; shortened to
    the content's length when longer).
``normalize`` : "none" | "peak" | "energy", ``normalize_db`` : float
    :meth:`ImpulseResponse.normalize`, one gain for all channels.
``on_clip`` : "normalize" | "error"
    Integer formats only, when a sample would exceed full scale after all the steps above:
    scale the whole IR so its peak is -0.1 dBFS (the gain is recorded in the metadata
    history), or raise :class:`irforge.ParameterError`. Float32 never clips.
``split_true_stereo`` : bool
    4-channel presets only: two stereo files ``_L``/``_R`` instead of one 4-channel file.
``layout`` : "auto" | "true-stereo" | "bformat" | "ambix"
    What a 4-channel IR's channels are (as in :func:`irforge.convolve`). ``"auto"``: true
    stereo, but a 4-channel IR that looks like first-order ambisonic B-format (file header or
    name, or its signal; :mod:`irforge._layout`) is refused by the presets that write it as
    true stereo (``channels = 4``), so a B-format room IR never becomes a wrong true-stereo
    file; ``channels = "native"`` presets (``generic``) write the channels unchanged.
    ``"bformat"`` (FuMa W, X, Y, Z) / ``"ambix"`` (W, Y, Z, X): decoded to a stereo IR (two
    virtual cardioids at +/-45 degrees) before any other step. ``"true-stereo"``: no check.
``formats``, ``bit_depths``, ``max_channels`` (not overridable)
    What the consumer reads: allowed file formats and bit depths, and the most channels
    ``channels = "native"`` may pass (0: no limit).

Files are written atomically: each to a temporary file beside its destination, then renamed
into place. The two files of a split true-stereo export are committed together: if the
second rename fails the first is rolled back (an existing file it replaced is restored), so
either both files are new or neither. Existing files are never replaced unless
``overwrite=True``, and that is checked for every destination before anything is written.

References
----------
JUCE ``dsp::Convolution`` (``Normalise::yes``: gain ``0.125 / sqrt(max channel energy)``),
used by pedalboard's Convolution; FFmpeg ``afir`` filter documentation (``gtype``).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from numbers import Real
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import _layout
from ._errors import ParameterError
from ._resources import presets_dir
from .audio_io import check_destination, write_audio_pending
from .impulse_response import _FADES, ImpulseResponse

if TYPE_CHECKING:  # mypy checks the 3.10 floor (python_version), where it is the backport
    import tomli as tomllib
else:
    try:  # Python >= 3.11
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the same parser, from PyPI
        import tomli as tomllib

__all__ = ["export", "list_presets", "load_preset", "pedalboard_gain", "prepare", "PRESET_DIR"]

#: Where the built-in presets live (``presets/export``; inside the package in a wheel).
PRESET_DIR = presets_dir("export")

_EXT = {"wav": ".wav", "aiff": ".aiff", "flac": ".flac"}
_EXT_TO_FORMAT = {".wav": "wav", ".aif": "aiff", ".aiff": "aiff", ".flac": "flac"}

_DEFAULTS: dict = {
    "description": "",
    "file_format": "wav",
    "formats": ["wav", "aiff", "flac"],
    "bit_depths": [16, 24, 32],
    "bit_depth": 32,
    "sample_rate": "native",
    "channels": "native",
    "max_channels": 0,
    "length_samples": 0,
    "trim": False,
    "trim_pre_s": 0.001,
    "fade_out_s": 0.0,
    "fade_shape": "hann",
    "normalize": "none",
    "normalize_db": 0.0,
    "on_clip": "normalize",
    "split_true_stereo": False,
    "layout": "auto",
}
# what the consumer can read: part of the preset, not a user's choice
_CONSTRAINTS = ("description", "formats", "bit_depths", "max_channels")
_CLIP_PEAK_DB = -0.1


def list_presets() -> list[str]:
    """Names of the built-in export presets, sorted.

    Returns
    -------
    list of str
        E.g. ``["cab-loader", "generic", "pedalboard", "reverb-stereo", "reverb-true-stereo"]``.

    Examples
    --------
    >>> import irforge
    >>> "cab-loader" in irforge.presets()
    True
    """
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))


def _number(value, key, *, low=None, integer=False):
    if isinstance(value, bool) or not isinstance(value, (Real, np.number)):
        raise TypeError(f"export setting {key!r} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or (low is not None and v < low):
        bound = f" >= {low}" if low is not None else ""
        raise ParameterError(
            f"export setting {key!r} must be a finite number{bound}, got {value!r}")
    if integer:
        if v != int(v):
            raise ParameterError(f"export setting {key!r} must be a whole number, got {value!r}")
        return int(v)
    return v


def _choice(value, key, options):
    if value not in options or isinstance(value, bool) and not any(o is value for o in options):
        raise ParameterError(
            f"export setting {key!r} must be one of {list(options)}, got {value!r}")
    return value


def _flag(value, key):
    if not isinstance(value, bool):
        raise TypeError(f"export setting {key!r} must be true or false, got {value!r}")
    return value


def _check_settings(s: dict, where: str) -> dict:
    """Validate and normalise a complete settings dict; ``where`` names its source in errors."""
    try:
        out = dict(s)
        if not isinstance(out["description"], str):
            raise TypeError("export setting 'description' must be a string, "
                            f"got {out['description']!r}")
        for key, allowed in (("formats", tuple(_EXT)), ("bit_depths", (16, 24, 32))):
            vals = out[key]
            if not isinstance(vals, (list, tuple)) or not vals:
                raise ParameterError(
                    f"export setting {key!r} must be a non-empty list, got {vals!r}")
            out[key] = [_choice(v, key, allowed) for v in vals]
        out["file_format"] = _choice(out["file_format"], "file_format", out["formats"])
        out["bit_depth"] = _choice(out["bit_depth"], "bit_depth", out["bit_depths"])
        if out["file_format"] == "flac" and out["bit_depth"] == 32:
            raise ParameterError("export setting: FLAC has no float format (bit_depth 32); "
                                 "use bit_depth 16 or 24, or file_format 'wav'")
        if out["sample_rate"] != "native":
            out["sample_rate"] = _number(out["sample_rate"], "sample_rate", low=1.0)
        if out["channels"] != "native":
            out["channels"] = _choice(out["channels"], "channels", (1, 2, 4))
        out["max_channels"] = _number(out["max_channels"], "max_channels", low=0, integer=True)
        out["length_samples"] = _number(out["length_samples"], "length_samples", low=0,
                                        integer=True)
        out["trim"] = _flag(out["trim"], "trim")
        out["trim_pre_s"] = _number(out["trim_pre_s"], "trim_pre_s", low=0.0)
        out["fade_out_s"] = _number(out["fade_out_s"], "fade_out_s", low=0.0)
        out["fade_shape"] = _choice(out["fade_shape"], "fade_shape", tuple(_FADES))
        out["normalize"] = _choice(out["normalize"], "normalize", ("none", "peak", "energy"))
        out["normalize_db"] = _number(out["normalize_db"], "normalize_db")
        out["on_clip"] = _choice(out["on_clip"], "on_clip", ("normalize", "error"))
        out["split_true_stereo"] = _flag(out["split_true_stereo"], "split_true_stereo")
        out["layout"] = _choice(out["layout"], "layout", _layout.LAYOUTS)
        if out["split_true_stereo"] and out["channels"] != 4:
            raise ParameterError("export setting 'split_true_stereo' needs channels = 4 "
                                 f"(true stereo), got channels = {out['channels']!r}")
    except (ParameterError, TypeError) as exc:
        raise type(exc)(f"{where}: {exc}") from None
    return out


def _read_preset(preset) -> tuple[str, dict]:
    """``(name, raw TOML dict)`` of a built-in preset name or a path to a .toml file."""
    if isinstance(preset, os.PathLike) or (isinstance(preset, str) and preset.endswith(".toml")):
        path = Path(preset)
        if not path.is_file():
            raise ParameterError(f"preset file not found: {str(path)!r}")
        name = str(path)
    elif isinstance(preset, str):
        path = PRESET_DIR / f"{preset}.toml"
        if "/" in preset or "\\" in preset or not path.is_file():
            raise ParameterError(f"unknown export preset {preset!r}; known presets: "
                                 f"{', '.join(list_presets())} (or a path to a .toml file)")
        name = preset
    else:
        raise TypeError(f"preset must be a preset name or a path to a .toml file, got {preset!r}")
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"preset {name!r}: invalid TOML: {exc}") from exc
    return name, raw


def load_preset(preset: str = "generic", **overrides) -> dict:
    """A preset's complete settings (defaults filled in), with overrides applied.

    Parameters
    ----------
    preset : str or Path
        A name from :func:`list_presets`, or the path of a ``.toml`` file with the same keys.
    **overrides
        Settings to replace (see the module docstring). The consumer's constraints
        (``formats``, ``bit_depths``, ``max_channels``, ``description``) cannot be overridden.

    Returns
    -------
    dict
        Every setting, validated; ``"name"`` holds the preset's name.

    Raises
    ------
    ParameterError
        Unknown preset (the message lists the known ones), unknown or constraint keys, values
        out of range (also in the preset file itself).
    TypeError
        A setting of the wrong type.

    Examples
    --------
    >>> from irforge.export import load_preset
    >>> s = load_preset("cab-loader")
    >>> s["sample_rate"], s["bit_depth"], s["channels"], s["length_samples"]
    (48000.0, 24, 1, 2048)
    """
    name, raw = _read_preset(preset)
    unknown = sorted(set(raw) - set(_DEFAULTS))
    if unknown:
        raise ParameterError(f"preset {name!r}: unknown setting(s) {unknown}; "
                             f"known: {sorted(_DEFAULTS)}")
    bad = sorted(set(overrides) - set(_DEFAULTS))
    if bad:
        raise ParameterError(f"unknown export setting(s) {bad}; known: "
                             f"{sorted(set(_DEFAULTS) - set(_CONSTRAINTS))}")
    fixed = sorted(set(overrides) & set(_CONSTRAINTS))
    if fixed:
        raise ParameterError(f"export setting(s) {fixed} describe what the consumer of preset "
                             f"{name!r} reads and cannot be overridden; choose another preset")
    settings = _check_settings({**_DEFAULTS, **raw}, f"preset {name!r}")
    settings = _check_settings({**settings, **overrides}, f"preset {name!r} with overrides")
    settings["name"] = name
    return settings


def _map_channels(ir: ImpulseResponse, settings: dict) -> tuple[np.ndarray, str]:
    """The IR's samples in the preset's channel layout and a description of the mapping."""
    n, target, name = ir.n_channels, settings["channels"], settings["name"]
    d = ir.data
    if target == "native":
        limit = settings["max_channels"]
        if limit and n > limit:
            raise ParameterError(
                f"preset {name!r} writes at most {limit} channel(s) and the IR has {n}; reduce it "
                f"first (ir.to_mono(), ir.to_mono(channel=0)) or choose another preset")
        return d, "unchanged"
    if n == target:
        return d, "unchanged"
    if n > target:
        found = _layout.detect(d, ir.sample_rate, ir.metadata) if n == 4 else None
        if found is not None:
            raise ParameterError(
                f"preset {name!r} writes {target} channel(s) and the IR has 4 that look like "
                f"ambisonic B-format (by {found[1]}): decode it with layout='bformat' (FuMa W, X, "
                f"Y, Z) or layout='ambix', or keep the omni channel (ir.to_mono(channel=0))")
        raise ParameterError(
            f"preset {name!r} writes {target} channel(s) and the IR has {n}; reduce it first "
            f"(ir.to_mono() for the mean, ir.to_mono(channel=0) for one channel) or choose "
            f"a preset with more channels")
    zero = np.zeros_like(d[0])
    if n == 1 and target == 2:
        return np.stack([d[0], d[0]]), "mono duplicated to both channels"
    if n == 1 and target == 4:
        return np.stack([d[0], zero, zero, d[0]]), "mono to true stereo (h, 0, 0, h)"
    if n == 2 and target == 4:
        return np.stack([d[0], zero, zero, d[1]]), "stereo to true stereo (l, 0, 0, r)"
    raise ParameterError(f"preset {name!r} writes {target} channels; a {n}-channel IR has no "
                         f"defined mapping to it (1->2, 1->4 and 2->4 are defined)")


def prepare(ir: ImpulseResponse, *, preset: str = "generic", **overrides) -> ImpulseResponse:
    """The IR exactly as :func:`export` would write it (before quantisation to the bit depth).

    Steps, in order: layout (a 4-channel IR: B-format check or decode), trim (at the IR's own
    rate), resample, channel mapping, cut to ``length_samples``, fade, zero-pad to
    ``length_samples``, normalise, clip guard.

    Parameters
    ----------
    ir : ImpulseResponse
        The IR to export.
    preset : str or Path
        A preset name (:func:`list_presets`) or a ``.toml`` path.
    **overrides
        Settings replacing the preset's (see the module docstring).

    Returns
    -------
    ImpulseResponse
        The prepared IR; its ``metadata["history"]`` records every step and ends with an
        ``{"op": "export", "preset": ...}`` entry.

    Raises
    ------
    ParameterError
        Unknown preset or setting, a channel count the preset cannot take, a clipping integer
        export with ``on_clip="error"``, a B-format-looking IR for a true-stereo preset with
        ``layout="auto"``.
    TypeError
        ``ir`` is not an ImpulseResponse, or a setting has the wrong type.
    """
    if not isinstance(ir, ImpulseResponse):
        raise TypeError(f"ir must be an irforge.ImpulseResponse, got {type(ir).__name__}")
    s = load_preset(preset, **overrides)
    out = ir
    if s["layout"] != "auto" or (ir.n_channels == 4 and s["channels"] == 4):
        data, used = _layout.resolve(ir.data, ir.sample_rate, s["layout"], metadata=ir.metadata,
                                     where=f"export preset {s['name']!r}")
        if data is not ir.data:
            out = ir._derived(data, "decode", layout=used,
                              azimuths_deg=list(_layout.DECODE_AZIMUTHS_DEG))
    if s["trim"]:
        out = out.trim(pre_s=s["trim_pre_s"])
    if s["sample_rate"] != "native" and s["sample_rate"] != out.sample_rate:
        out = out.resample(s["sample_rate"])
    data, mapping = _map_channels(out, s)
    if data is not out.data:
        out = out._derived(data, "channels", mapping=mapping, channels=data.shape[0])
    content = out.n_samples
    if s["length_samples"] and out.n_samples > s["length_samples"]:
        content = s["length_samples"]
        out = out._derived(out.data[:, :content], "cut", length_samples=content)
    if s["fade_out_s"] > 0:
        fade_s = min(s["fade_out_s"], content / out.sample_rate)
        out = out.fade_out(length_s=fade_s, shape=s["fade_shape"])
    if s["length_samples"] and out.n_samples < s["length_samples"]:
        padded = np.zeros((out.n_channels, s["length_samples"]), np.float32)
        padded[:, :out.n_samples] = out.data
        out = out._derived(padded, "pad", length_samples=s["length_samples"])
    if s["normalize"] != "none":
        out = out.normalize(mode=s["normalize"], target_db=s["normalize_db"])
    peak = float(np.max(np.abs(out.data)))
    if s["bit_depth"] != 32 and peak > 1.0:
        if s["on_clip"] == "error":
            raise ParameterError(
                f"the IR peaks at {20 * math.log10(peak):+.2f} dBFS and would clip in "
                f"{s['bit_depth']}-bit PCM; normalise it (normalize='peak'), use "
                f"on_clip='normalize', or bit_depth=32 (float)")
        out = out.normalize(mode="peak", target_db=_CLIP_PEAK_DB)
        out.metadata["history"][-1]["reason"] = "clip guard"
    record = {k: s[k] for k in ("bit_depth", "file_format", "split_true_stereo")}
    return out._derived(out.data, "export", preset=s["name"], **record)


def _destinations(path, s: dict) -> list[Path]:
    p = Path(path)
    if p.suffix:
        fmt = _EXT_TO_FORMAT.get(p.suffix.lower())
        if fmt is None or fmt not in s["formats"]:
            raise ParameterError(
                f"preset {s['name']!r} writes {', '.join(s['formats'])} files; the extension of "
                f"{str(p)!r} is not one of them"
                + (" (pedalboard loads FLAC as a silent pass-through)" if fmt == "flac" else ""))
        if fmt == "flac" and s["bit_depth"] == 32:
            raise ParameterError(f"FLAC has no float format: export {str(p)!r} with "
                                 f"bit_depth=16 or 24, or as .wav")
    else:
        p = p.with_suffix(_EXT[s["file_format"]])
    if s["split_true_stereo"]:
        return [p.with_name(f"{p.stem}_L{p.suffix}"), p.with_name(f"{p.stem}_R{p.suffix}")]
    return [p]


def _backup(dest: Path) -> str:
    """A second name for ``dest``'s current content (hard link, or a copy), for rollback."""
    fd, backup = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".bak", dir=dest.parent)
    os.close(fd)
    try:
        os.unlink(backup)
        os.link(dest, backup)
    except OSError:
        shutil.copy2(dest, backup)
    return backup


def _commit(pairs: list) -> None:
    """Put every pending file (:func:`irforge.audio_io.write_audio_pending`) onto its
    destination, all or none."""
    done: list[tuple[Path, str | None]] = []  # committed destinations and their backups
    pending: str | None = None                # backup of the destination being committed
    try:
        for file, dest in pairs:
            pending = _backup(dest) if dest.exists() else None
            file.commit()  # atomic: dest is the old or the new file, never missing
            done.append((dest, pending))
            pending = None
    except BaseException:
        if pending is not None and os.path.exists(pending):
            os.unlink(pending)  # that commit failed: its destination is untouched
        for dest, backup in reversed(done):
            try:
                if backup is not None:
                    os.replace(backup, dest)
                elif dest.exists():
                    os.unlink(dest)
            except OSError:
                pass
        for file, _ in pairs:
            file.discard()
        raise
    for _, backup in done:
        if backup is not None and os.path.exists(backup):
            os.unlink(backup)


def export(ir: ImpulseResponse, path, *, preset: str = "generic", overwrite: bool = False,
           **overrides) -> list[Path]:
    """Write ``ir`` as a file (or two) for a convolution plugin, following ``preset``.

    Parameters
    ----------
    ir : ImpulseResponse
        The IR.
    path : str or Path
        Destination. Without an extension the preset's format is appended. With
        ``split_true_stereo`` the files are ``<stem>_L<ext>`` and ``<stem>_R<ext>``.
    preset : str or Path
        ``"generic"``, ``"cab-loader"``, ``"reverb-stereo"``, ``"reverb-true-stereo"``,
        ``"pedalboard"`` (see :func:`list_presets`), or a path to a ``.toml`` preset.
    overwrite : bool
        Replace existing files. By default nothing is written when any destination exists.
    **overrides
        Settings replacing the preset's, e.g. ``sample_rate=44100``, ``bit_depth=32``,
        ``length_samples=1024``, ``normalize="none"``, ``split_true_stereo=True``.

    Returns
    -------
    list of Path
        The written files (one, or ``_L`` and ``_R``).

    Raises
    ------
    ParameterError
        Unknown preset (the known ones are listed), unknown setting, bad value (NaN, out of
        range), an extension the preset does not allow (FLAC for pedalboard), a channel count
        the preset cannot take (see the module docstring), clipping with ``on_clip="error"``.
    FileExistsError
        A destination exists and ``overwrite`` is False (nothing is written).
    FileNotFoundError
        The destination directory does not exist.
    TypeError
        ``ir`` is not an ImpulseResponse, or a setting has the wrong type.

    Notes
    -----
    pedalboard's :class:`~pedalboard.Convolution` rescales the IR it loads by
    :func:`pedalboard_gain` (``0.125 / sqrt(max channel energy)``), so its output level
    does not follow the file's level; divide its output by that gain to get
    ``irforge.convolve``'s. ffmpeg's ``afir`` rescales too unless given ``gtype=none``
    (ffmpeg 5.x; ``irnorm=-1`` in ffmpeg >= 6.1).

    Examples
    --------
    >>> import tempfile, irforge
    >>> from irforge import demo
    >>> out = tempfile.mkdtemp()
    >>> [p.name for p in demo.cabinet_ir().export(f"{out}/cab", preset="cab-loader")]
    ['cab.wav']
    >>> [p.name for p in demo.room_ir().export(f"{out}/hall.wav", preset="reverb-true-stereo",
    ...                                         split_true_stereo=True)]
    ['hall_L.wav', 'hall_R.wav']
    """
    if not isinstance(ir, ImpulseResponse):
        raise TypeError(f"ir must be an irforge.ImpulseResponse, got {type(ir).__name__}")
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be True or False, got {overwrite!r}")
    s = load_preset(preset, **overrides)
    dests = _destinations(path, s)
    for d in dests:  # every destination is checked before anything is computed or written
        check_destination(d, s["bit_depth"], overwrite)
    prepared = prepare(ir, preset=preset, **overrides)
    data = prepared.data
    parts = [data[:2], data[2:]] if s["split_true_stereo"] else [data]
    temps: list = []
    try:
        for part, dest in zip(parts, dests):
            temps.append(write_audio_pending(dest, part, prepared.sample_rate,
                                             bit_depth=s["bit_depth"], overwrite=overwrite))
    except BaseException:
        for t in temps:
            t.discard()
        raise
    _commit(list(zip(temps, dests)))
    return dests


def pedalboard_gain(ir) -> float:
    """The gain pedalboard's Convolution applies to an IR it loads: ``0.125 / sqrt(E_max)``.

    pedalboard builds on JUCE's ``dsp::Convolution`` with ``Normalise::yes``, which scales the
    whole IR (every channel by the same factor) so that its most energetic channel has energy
    1/64: ``gain = 0.125 / sqrt(max_c sum_n h_c[n]**2)``. Measured in the tests on float32 and
    24-bit WAV files (match within float rounding). When the file's rate differs from the
    processing rate, JUCE resamples the IR first, which changes the energy by about the rate
    ratio; compute the gain on the IR at the processing rate then.

    Parameters
    ----------
    ir : ImpulseResponse or np.ndarray [shape=(channels, samples) or (samples,)]
        The IR as written to the file (e.g. ``ImpulseResponse.load(path)``).

    Returns
    -------
    float
        The factor; pedalboard's output divided by it is the plain convolution.

    Raises
    ------
    ParameterError
        A silent IR.

    Examples
    --------
    >>> import numpy as np
    >>> from irforge.export import pedalboard_gain
    >>> pedalboard_gain(np.array([[0.5, 0.0], [0.0, 0.25]], np.float32))
    0.25
    """
    data = ir.data if isinstance(ir, ImpulseResponse) else ImpulseResponse(ir, sample_rate=1).data
    energy = float(np.max(np.sum(np.square(data.astype(np.float64)), axis=1)))
    if energy <= 0:
        raise ParameterError("the IR is silent: pedalboard's normalisation is undefined")
    return 0.125 / math.sqrt(energy)
