"""What the channels of a 4-channel impulse response mean: true stereo or ambisonic B-format.

A 4-channel IR file is either a true-stereo set (L->L, L->R, R->L, R->R, four pressure or
pressure-gradient-free microphone responses) or a first-order ambisonic room IR (B-format:
the omni W and three figure-of-eight channels), which public IR libraries (OpenAIR, ...) ship
in large numbers. Applied as true stereo, a B-format IR sounds wrong (the figure-of-eight
channels are signed, half the sound field comes out polarity-inverted), so irforge never
guesses: ``layout="auto"`` (the default everywhere) raises when a 4-channel IR shows the
signs of B-format, and the caller chooses ``"true-stereo"``, ``"bformat"`` or ``"ambix"``.

Evidence, in order:

1. The file header: a WAVE_FORMAT_EXTENSIBLE file whose sub-format is one of the AMB
   (ambisonic B-format) GUIDs ``0000000{1,3}-0721-11d3-8644-c8c1ca000000``, or the ``.amb``
   extension (the AMB format is FuMa B-format by definition).
2. The file name: ``bformat``/``b-format``/``ambisonic``/``fuma``/``foa`` (FuMa order W, X, Y,
   Z assumed) or ``ambix`` (ACN/SN3D order W, Y, Z, X).
3. The signal (:func:`bformat_signature`): a figure-of-eight channel is *negatively*
   correlated, at zero lag, with channel 0 over the early part of the response (80 ms from
   the onset, band 200 Hz-2 kHz). A pressure microphone never is; a figure-of-eight one is
   when the direct sound and the strong early reflections reach its rear lobe. It cannot see
   a B-format IR whose early sound comes from the positive side of every axis (front, left,
   above: about half of all source directions on the two real files, see BENCHMARKS.md):
   then the header or the file name must tell, or the caller.

Decoding (``layout="bformat"``/``"ambix"``): two virtual first-order cardioid microphones in
the horizontal plane, pointing at azimuth +45 deg (left) and -45 deg (right), a coincident XY
pair: ``m(phi) = 0.5 * (P + X cos(phi) + Y sin(phi))`` with the pressure ``P = sqrt(2) W``
(FuMa: W is recorded 3 dB down) or ``P = W`` (ambiX, SN3D); Z is not used. The result is a
2-channel (left, right) IR, applied like any stereo IR.
"""

from __future__ import annotations

import math
import re
import struct
from pathlib import Path

import numpy as np

from ._errors import ParameterError

#: The values every ``layout=`` parameter takes.
LAYOUTS = ("auto", "true-stereo", "bformat", "ambix")

#: Virtual cardioids of the stereo decode, azimuth in degrees (left, right).
DECODE_AZIMUTHS_DEG = (45.0, -45.0)

# the signature: a channel's negative zero-lag correlation with channel 0 above this is taken as
# B-format (measured: 0.42 on both OpenAIR B-format files; at most 0.09 on true-stereo sets
# built from the real stereo IRs, 0.22 on independent noise tails; benchmarks/layout_detection.py)
SIGNATURE_THRESHOLD = 0.3

# {0000000?-0721-11d3-8644-c8c1ca000000} as stored in the file: the first field little-endian
_AMB_GUID_TAIL = bytes.fromhex("2107d3118644c8c1ca000000")
_NAME_HINTS = ((re.compile(r"ambix", re.I), "ambix"),
               (re.compile(r"b[-_ ]?format|ambisonic|fuma|(^|[^a-z])foa([^a-z]|$)", re.I), "bformat"))


def check_layout(layout) -> str:
    """``layout`` validated (one of :data:`LAYOUTS`)."""
    if not isinstance(layout, str) or layout not in LAYOUTS:
        raise ParameterError(f"layout must be one of {list(LAYOUTS)}, got {layout!r}")
    return layout


def header_layout(path) -> tuple[str, str] | None:
    """``(layout, evidence)`` from a file's header or name, or None when they say nothing.

    Reads only the RIFF ``fmt`` chunk of WAV files (the AMB sub-format GUID); ``.amb`` files are
    B-format by definition; file-name hints last.
    """
    p = Path(path)
    if p.suffix.lower() == ".amb":
        return "bformat", "the .amb extension (AMB files are FuMa B-format)"
    try:
        with open(p, "rb") as f:
            head = f.read(4096)
    except OSError:
        head = b""
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        i = 12
        while i + 8 <= len(head):
            cid, size = head[i:i + 4], struct.unpack("<I", head[i + 4:i + 8])[0]
            if cid == b"fmt " and size >= 40 and i + 8 + 40 <= len(head):
                tag = struct.unpack("<H", head[i + 8:i + 10])[0]
                guid = head[i + 8 + 24:i + 8 + 40]
                if tag == 0xFFFE and guid[4:] == _AMB_GUID_TAIL and guid[:4] in (
                        b"\x01\x00\x00\x00", b"\x03\x00\x00\x00"):
                    return "bformat", "its WAV header (WAVE_FORMAT_EXTENSIBLE, AMB B-format sub-format)"
                break
            i += 8 + size + (size & 1)
    for pattern, layout in _NAME_HINTS:
        if pattern.search(p.stem):
            return layout, f"its file name ({p.name!r})"
    return None


def bformat_signature(data: np.ndarray, sample_rate: float) -> np.ndarray:
    """Negative zero-lag correlation of channels 1, 2, 3 with channel 0 in the early response.

    Over 80 ms from 2 ms before the onset (the first sample within 20 dB of the peak), band
    200 Hz - 2 kHz (where first-order microphones are accurate):
    ``score_k = -sum(w x_k) / sqrt(sum(w^2) sum(x_k^2))``. A figure-of-eight channel whose rear
    lobe faces the direct sound or the strong early reflections scores up to 1; pressure
    microphones (true stereo) score at most 0.09 on the real IRs tested, independent noise
    tails at most 0.22 (benchmarks/layout_detection.py).

    Parameters
    ----------
    data : np.ndarray [shape=(4, samples)]
        The IR.
    sample_rate : float
        Its rate in Hz.

    Returns
    -------
    np.ndarray [shape=(3,)]
        One score per channel 1..3 (0 for an IR too short to tell, under 130 ms after its
        onset); B-format when the largest exceeds :data:`SIGNATURE_THRESHOLD`.
    """
    from scipy import signal

    fs = float(sample_rate)
    d = np.asarray(data, dtype=np.float64)
    if d.shape[0] != 4 or not np.any(d):
        return np.zeros(3)
    band_hi = min(2000.0, 0.45 * fs)
    if band_hi <= 400.0:
        return np.zeros(3)
    pre, span, tail = int(0.002 * fs), int(0.08 * fs), int(0.05 * fs)
    peak = np.abs(d).max(axis=0)
    start = max(0, int(np.argmax(peak >= 0.1 * peak.max())) - pre)
    if d.shape[1] - start < span + tail:
        return np.zeros(3)   # too short to tell (cabinet-length IRs): no signature
    # the IR is silent before its first sample: filter from zeros (no edge transient)
    lead = int(0.02 * fs)
    seg = np.pad(d[:, start:start + span + tail], ((0, 0), (lead, 0)))
    sos = signal.butter(4, [200.0, band_hi], btype="bandpass", fs=fs, output="sos")
    hb = signal.sosfiltfilt(sos, seg, axis=1, padtype=None)[:, lead:lead + span]
    w, x = hb[0], hb[1:4]
    den = np.sqrt(np.sum(w * w) * np.sum(x * x, axis=1))
    return np.where(den > 0, -(x @ w) / np.maximum(den, 1e-300), 0.0)


def detect(data: np.ndarray, sample_rate: float, metadata: dict | None = None) -> tuple[str, str] | None:
    """``("bformat" | "ambix", evidence)`` when a 4-channel IR is ambisonic, else None."""
    if data.shape[0] != 4:
        return None
    hint = (metadata or {}).get("layout_hint")
    if hint:
        return hint["layout"], hint["evidence"]
    score = bformat_signature(data, sample_rate)
    k = int(np.argmax(score))
    if score[k] > SIGNATURE_THRESHOLD:
        return "bformat", (f"its signal: channel {k + 1} is negatively correlated with channel 0 "
                           f"(score {score[k]:.2f} > {SIGNATURE_THRESHOLD}), as a figure-of-eight "
                           f"channel is and a true-stereo microphone never is")
    return None


def decode_stereo(data: np.ndarray, layout: str) -> np.ndarray:
    """A first-order ambisonic IR (4, n) decoded to (left, right) by two virtual cardioids."""
    d = np.asarray(data, dtype=np.float64)
    if layout == "bformat":
        p, x, y = math.sqrt(2.0) * d[0], d[1], d[2]       # FuMa W, X, Y, Z
    else:
        p, y, x = d[0], d[1], d[3]                         # ambiX (ACN) W, Y, Z, X, SN3D
    out = [0.5 * (p + x * math.cos(math.radians(a)) + y * math.sin(math.radians(a)))
           for a in DECODE_AZIMUTHS_DEG]
    return np.ascontiguousarray(out, dtype=np.float32)


def resolve(data: np.ndarray, sample_rate: float | None, layout: str, *,
            metadata: dict | None = None, where: str = "convolve",
            option: str = "layout") -> tuple[np.ndarray, str | None]:
    """The IR samples to apply under ``layout`` and the layout used (None: not 4 channels).

    ``"auto"``: a 4-channel IR is true stereo unless :func:`detect` finds B-format, which
    raises :class:`ParameterError` naming the evidence and the choices. ``"bformat"``/
    ``"ambix"``: decoded to stereo (:func:`decode_stereo`). ``"true-stereo"``: as it is.
    """
    layout = check_layout(layout)
    n = data.shape[0]
    if n != 4:
        if layout != "auto":
            raise ParameterError(f"{option}={layout!r} is for 4-channel IRs; this IR has {n} "
                                 f"channel(s): leave {option}='auto'")
        return data, None
    if layout == "auto":
        found = detect(data, 48000.0 if sample_rate is None else sample_rate, metadata)
        if found is not None:
            kind, evidence = found
            order = "W, X, Y, Z" if kind == "bformat" else "ambiX W, Y, Z, X"
            raise ParameterError(
                f"{where}: this 4-channel IR looks like first-order ambisonic B-format ({order}) by "
                f"{evidence}; applied as true stereo (L->L, L->R, R->L, R->R) it would sound wrong. "
                f"Choose {option}='bformat' (FuMa W, X, Y, Z) or {option}='ambix' (W, Y, Z, X) to "
                f"decode it to stereo with two virtual cardioids at +/-45 degrees, "
                f"{option}='true-stereo' if it really is LL, LR, RL, RR, or use the omni channel "
                f"alone (ir.to_mono(channel=0))")
        return data, "true-stereo"
    if layout == "true-stereo":
        return data, layout
    return decode_stereo(data, layout), layout
