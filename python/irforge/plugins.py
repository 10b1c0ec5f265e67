"""irforge's effects as compiled VST3/LV2 plugins, and the bridge to pedalboard.

pedalboard only chains compiled plugins, so :class:`irforge.Convolver` has a plugin twin
built from the same C++ core (``plugins/convolver``, DPF): ``make plugins`` builds
``irforge-convolver.vst3`` and ``irforge-convolver.lv2``. :func:`load_convolver` opens the
VST3 in pedalboard with an IR and settings; :meth:`irforge.Convolver.to_pedalboard` does it
for an existing effect.

This module is the only place that knows the plugin's state encoding: the IR travels
embedded in the plugin state (DPF key ``ir_embedded``, see ``plugins/common/ir_source.h``),
inside the VST3 component state, which pedalboard exposes as ``VST3Plugin.raw_state`` in
JUCE's wrapping (an XML document whose ``IComponent`` element holds JUCE's own base64).

Examples
--------
>>> import pedalboard, irforge                                      # doctest: +SKIP
>>> cab = irforge.ImpulseResponse.load("cab.wav")                    # doctest: +SKIP
>>> board = pedalboard.Pedalboard([pedalboard.Compressor(),          # doctest: +SKIP
...     irforge.Convolver(cab, sample_rate=48000).to_pedalboard(), pedalboard.Reverb()])
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import struct
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ._errors import ParameterError
from ._validation import check_real
from .impulse_response import ImpulseResponse

FORMATS = ("vst3", "lv2")
PLUGINS = ("convolver",)

_JUCE_MAGIC = b"VC2!"
_JUCE_B64 = ".ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+"
_DPF_SEP = "\x00"


class PluginNotFoundError(FileNotFoundError):
    """The compiled plugin bundle is not where irforge looks for it."""


def _search_dirs() -> list[Path]:
    dirs = []
    env = os.environ.get("IRFORGE_PLUGIN_DIR")
    if env:
        dirs.append(Path(env))
    here = Path(__file__).resolve().parent
    dirs.append(here / "_plugins")                              # inside an installed wheel
    dirs.append(here.parents[1] / "build" / "plugins" / "bin")  # a source checkout after `make plugins`
    return dirs


def path(format: str = "vst3", name: str = "convolver") -> Path:
    """The built plugin bundle: ``irforge-<name>.vst3`` or ``irforge-<name>.lv2``.

    Looked for in ``$IRFORGE_PLUGIN_DIR``, in the installed package, then in the source
    checkout's ``build/plugins/bin`` (``make plugins``).

    Raises
    ------
    ParameterError
        Unknown format or plugin name.
    PluginNotFoundError
        The bundle was not built or installed; the message lists where it was looked for.
    """
    if format not in FORMATS:
        raise ParameterError(f"unknown plugin format {format!r}: use one of {FORMATS}")
    if name not in PLUGINS:
        raise ParameterError(f"unknown plugin {name!r}: irforge has {PLUGINS}")
    bundle = f"irforge-{name}.{format}"
    dirs = _search_dirs()
    for d in dirs:
        if (d / bundle).is_dir():
            return d / bundle
    raise PluginNotFoundError(
        f"{bundle} not found in {', '.join(str(d) for d in dirs)}: build it with `make plugins` "
        f"(needs apt packages dpf-source, libsndfile1-dev, libsoxr-dev) or set IRFORGE_PLUGIN_DIR")


# ---- installing for a DAW -------------------------------------------------------------------
DEFAULT_DIRS = {"vst3": Path.home() / ".vst3", "lv2": Path.home() / ".lv2"}


def _copy_bundle(src: Path, dst: Path) -> None:
    """Copy a bundle folder; new folders and files get the umask's modes (executables stay
    executable), not the build tree's."""
    umask = os.umask(0)
    os.umask(umask)
    for root, dirs, files in os.walk(src):
        rel = Path(root).relative_to(src)
        (dst / rel).mkdir(parents=True, exist_ok=True)
        for name in files:
            s, d = Path(root) / name, dst / rel / name
            shutil.copyfile(s, d)
            if os.stat(s).st_mode & 0o111:
                os.chmod(d, 0o777 & ~umask)


def install(formats: tuple[str, ...] = FORMATS, *, vst3_dir=None, lv2_dir=None,
            overwrite: bool = False, name: str = "convolver") -> list[Path]:
    """Copy the built plugin bundles to where DAWs look: ``~/.vst3`` and ``~/.lv2``.

    Each bundle is copied to a hidden folder beside its destination and renamed into place,
    so a DAW never sees half a bundle; an interrupted install leaves no bundle behind.

    Parameters
    ----------
    formats : tuple of {"vst3", "lv2"}
    vst3_dir, lv2_dir : str or os.PathLike, optional
        Destination folders (created); default ``~/.vst3`` and ``~/.lv2``.
    overwrite : bool
        Replace an installed bundle of the same name (otherwise that raises).

    Returns
    -------
    list of pathlib.Path
        The installed bundles.

    Raises
    ------
    FileExistsError
        A bundle is installed already and ``overwrite`` is False.
    PluginNotFoundError
        The bundles are not built (``make plugins``).
    """
    dirs = {"vst3": Path(vst3_dir) if vst3_dir else DEFAULT_DIRS["vst3"],
            "lv2": Path(lv2_dir) if lv2_dir else DEFAULT_DIRS["lv2"]}
    sources = [(fmt, path(fmt, name)) for fmt in formats]   # all found before anything is copied
    for fmt, src in sources:
        if (dirs[fmt] / src.name).exists() and not overwrite:
            raise FileExistsError(f"{dirs[fmt] / src.name} is installed already: pass overwrite=True "
                                  f"(irforge plugins install --overwrite) to replace it")
    done = []
    for fmt, src in sources:
        dirs[fmt].mkdir(parents=True, exist_ok=True)
        dst = dirs[fmt] / src.name
        tmp = Path(tempfile.mkdtemp(prefix=f".{src.name}.", suffix=".irforge-tmp", dir=dirs[fmt]))
        try:
            _copy_bundle(src, tmp / src.name)
            if dst.exists():               # overwrite: the old bundle leaves with tmp
                os.rename(dst, tmp / "old")
            os.rename(tmp / src.name, dst)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        done.append(dst)
    return done


# ---- the state encoding -------------------------------------------------------------------
def encode_ir(ir: ImpulseResponse, origin: str = "") -> str:
    """The plugin's embedded-IR form of ``ir`` (standard base64; layout in ir_source.h)."""
    data = np.ascontiguousarray(ir.data, dtype="<f4")
    if data.ndim == 1:
        data = data[None, :]
    o = origin.encode("utf-8")
    head = b"IRFG" + struct.pack("<IIQdI", 1, data.shape[0], data.shape[1], float(ir.sample_rate), len(o)) + o
    return base64.b64encode(head + data.tobytes()).decode("ascii")


def _juce_b64_encode(raw: bytes) -> str:
    bits = np.unpackbits(np.frombuffer(raw, np.uint8), bitorder="little")
    pad = (-bits.size) % 6
    if pad:
        bits = np.concatenate([bits, np.zeros(pad, np.uint8)])
    values = bits.reshape(-1, 6) @ (1 << np.arange(6))
    table = np.frombuffer(_JUCE_B64.encode(), np.uint8)
    return f"{len(raw)}." + table[values].tobytes().decode("ascii")


def _juce_b64_decode(text: str) -> bytes:
    size, dot, body = text.partition(".")
    if not dot or not size.isdigit():
        raise ParameterError("not JUCE base64 (no '<size>.' prefix)")
    lut = np.full(256, -1, np.int16)
    lut[np.frombuffer(_JUCE_B64.encode(), np.uint8)] = np.arange(64)
    v = lut[np.frombuffer(body.encode("ascii"), np.uint8)]
    if (v < 0).any():
        raise ParameterError("not JUCE base64 (a character outside its alphabet)")
    bits = ((v[:, None] >> np.arange(6)) & 1).astype(np.uint8).ravel()
    return np.packbits(bits, bitorder="little").tobytes()[: int(size)]


def dpf_state(states: dict[str, str], parameters: dict[str, float]) -> bytes:
    """A DPF VST3 component state: key/value states, then parameters by symbol."""
    parts = ["__dpf_state_begin__"]
    for k, v in sorted(states.items()):
        parts += [k, v]
    parts += ["__dpf_state_end__", "__dpf_parameters_begin__"]
    for symbol, value in parameters.items():
        parts += [symbol, repr(float(value))]
    parts += ["__dpf_parameters_end__"]
    return "".join(p + _DPF_SEP for p in parts).encode("utf-8") + b"\xfe\x00"


def parse_dpf_state(component: bytes) -> tuple[dict[str, str], dict[str, float]]:
    """The inverse of :func:`dpf_state`."""
    fields = component.rstrip(b"\x00").rstrip(b"\xfe").split(b"\x00")
    states: dict[str, str] = {}
    params: dict[str, float] = {}
    section = None
    i = 0
    while i < len(fields):
        f = fields[i].decode("utf-8", "replace")
        if f in ("__dpf_state_begin__", "__dpf_parameters_begin__"):
            section = f
            i += 1
            continue
        if f in ("__dpf_state_end__", "__dpf_parameters_end__", ""):
            section = None
            i += 1
            continue
        value = fields[i + 1].decode("utf-8", "replace") if i + 1 < len(fields) else ""
        if section == "__dpf_state_begin__":
            states[f] = value
        elif section == "__dpf_parameters_begin__":
            params[f] = float(value)
        i += 2
    return states, params


def juce_raw_state(component: bytes) -> bytes:
    """``component`` wrapped as pedalboard's ``VST3Plugin.raw_state`` (JUCE's VST3 state XML)."""
    xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<VST3PluginState><IComponent>'
           + _juce_b64_encode(component) + "</IComponent></VST3PluginState>").encode("utf-8") + b"\x00"
    return _JUCE_MAGIC + struct.pack("<I", len(xml)) + xml


def component_from_raw_state(raw: bytes) -> bytes:
    """The VST3 component state inside a pedalboard ``raw_state``."""
    if raw[:4] != _JUCE_MAGIC:
        raise ParameterError("not a JUCE plugin state (no VC2! header)")
    m = re.search(rb"<IComponent>([^<]*)</IComponent>", raw)
    if m is None:
        raise ParameterError("the plugin state holds no IComponent element")
    return _juce_b64_decode(m.group(1).decode("ascii"))


# ---- loading into pedalboard ----------------------------------------------------------------
def vst3_convolver(ir: ImpulseResponse, *, mix: float = 1.0, gain_db: float = 0.0) -> Any:
    """The irforge Convolver VST3 in pedalboard with ``ir`` (already checked, at its own rate)
    embedded in its state; what :meth:`irforge.Convolver.to_pedalboard` returns.

    Raises
    ------
    ParameterError
        An IR channel count other than 1, 2 or 4; mix or gain_db outside the plugin's ranges;
        the plugin refused the IR.
    """
    import pedalboard  # only the plugin bridge needs it at import time

    if ir.n_channels not in (1, 2, 4):
        raise ParameterError(f"the plugin takes 1, 2 or 4 IR channels, not {ir.n_channels}")
    mix = check_real(mix, "mix", low=0.0, high=1.0)
    gain_db = check_real(gain_db, "gain_db (the plugin's range)", low=-60.0, high=24.0)
    plugin: Any = pedalboard.load_plugin(str(path("vst3", "convolver")))
    # the embedded IR names the file it was read from, if any: the plugin reports it as ir_file
    origin = str(ir.metadata.get("source", ""))
    plugin.raw_state = juce_raw_state(dpf_state({"ir_embedded": encode_ir(ir, origin)},
                                                {"mix": mix, "gain_db": gain_db}))
    # a failed load clears the embedded IR (the plugin goes dry and says why on stderr)
    states, _ = parse_dpf_state(component_from_raw_state(plugin.raw_state))
    if not states.get("ir_embedded"):
        raise ParameterError("the irforge Convolver plugin did not accept the IR; its message is on stderr")
    return plugin


def load_convolver(ir, *, sample_rate: float | None = None, mix: float = 1.0,
                   gain_db: float = 0.0, layout: str = "auto") -> Any:
    """The irforge Convolver VST3 in pedalboard, with ``ir`` embedded in its state.

    The IR is checked as :class:`irforge.Convolver` checks it (the same effect, then
    :meth:`~irforge.Convolver.to_pedalboard`).

    Parameters
    ----------
    ir : ImpulseResponse, np.ndarray [shape=(ir_channels, m) or (m,)], str or os.PathLike
        The IR (1, 2 or 4 channels; routing as :func:`irforge.convolve`). A path is read with
        :meth:`ImpulseResponse.load`. The plugin resamples it to the host rate (soxr VHQ, as
        :meth:`ImpulseResponse.resample`).
    sample_rate : float, optional
        Rate of a plain-array IR in Hz (default for an ImpulseResponse or a file: its own).
    mix, gain_db : float
        As :class:`irforge.Convolver`: ``out = (1 - mix) * dry + mix * 10**(gain_db/20) * wet``;
        the plugin's gain range is -60..+24 dB.
    layout : {"auto", "true-stereo", "bformat", "ambix"}
        What a 4-channel IR is, as for :class:`irforge.Convolver` (B-format is decoded to stereo).

    Returns
    -------
    pedalboard.VST3Plugin
        Zero latency; usable alone or inside a ``pedalboard.Pedalboard``.
    """
    from .convolution import Convolver   # convolution imports this module for to_pedalboard

    if isinstance(ir, (str, bytes)) or hasattr(ir, "__fspath__"):
        ir = ImpulseResponse.load(ir)
    if sample_rate is None:
        if not isinstance(ir, ImpulseResponse):
            raise ParameterError("a plain-array IR needs sample_rate=")
        sample_rate = ir.sample_rate
    return Convolver(ir, sample_rate=sample_rate, mix=mix, gain_db=gain_db, layout=layout).to_pedalboard()
