"""Audio files in and out: the one reader and the atomic writers every feature uses.

soundfile (libsndfile) decodes the formats; this module adds what it does not check: the
path exists and is a file, the WAV header is sane (a PCM header claiming 7-bit samples decoded
as twice the samples of garbage), the sample rate is in irforge's audio range (a header saying
1 Hz made a 16 KB file cost gigabytes), the file holds samples, and a file shorter than its
header says is read with a warning that names how much is missing.

Writing: every file irforge writes goes through :func:`write_audio_atomic`,
:func:`open_audio_atomic` (blocks, for streams) or :func:`write_text_atomic`: the data goes to
an unnamed O_TMPFILE inode (Linux) or a named temp beside the destination and is renamed into
place only when complete, so a destination is never half-written and ``kill -9`` leaves no
litter (named temps of killed processes are removed by the next write into that folder); the
file gets ``0666 & ~umask`` or the mode of the file it replaces; 16/24-bit writes that clip
warn with the peak and the fix.
"""
from __future__ import annotations

import contextlib
import math
import os
import re
import socket
import stat
import struct
import tempfile
import threading
import warnings
from pathlib import Path
from typing import IO, Any, cast

import numpy as np

from ._errors import ClippingWarning, ParameterError
from ._validation import check_sample_rate, integral_rate


class TruncatedFileWarning(UserWarning):
    """An audio file holds fewer samples than its header announces (a recorder stopped early,
    a copy broke off): what is there is read."""


def _wav_problems(p: Path) -> tuple[str | None, str | None]:
    """(error, warning) from a RIFF/WAVE file's chunks, or (None, None) for any other format.

    Only what libsndfile lets through is checked: the fmt chunk's bits per sample and the data
    chunk's announced size against the bytes that follow it."""
    try:
        with open(p, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
                return None, None
            size = p.stat().st_size
            pos = 12
            fmt = None
            while pos + 8 <= size:
                f.seek(pos)
                cid, clen = struct.unpack("<4sI", f.read(8))
                if cid == b"fmt " and clen >= 16:
                    raw = f.read(16)
                    if len(raw) < 16:
                        return None, None  # a cut header: soundfile says what is wrong
                    fmt = struct.unpack("<HHIIHH", raw)
                elif cid == b"data":
                    if fmt is not None:
                        tag, _channels, _rate, _bps, block, bits = fmt
                        if tag in (1, 3) and (bits == 0 or bits % 8 or bits > 64):
                            return (f"its header claims {bits}-bit samples, which no PCM/float WAV "
                                    f"has (8, 16, 24, 32 or 64): the file is corrupt"), None
                        if block == 0:
                            return "its header gives 0 bytes per sample frame: the file is corrupt", None
                    have = size - (pos + 8)
                    if head[:4] == b"RIFF" and clen != 0xFFFFFFFF and clen > have:
                        return None, (f"its header announces {clen} bytes of audio but the file holds "
                                      f"{have}: it is truncated, and only what is there is read")
                    return None, None
                pos += 8 + clen + (clen & 1)
    except (OSError, struct.error):
        return None, None
    return None, None


def _checked_info(path, what: str):
    """``(path, soundfile info, sample rate)`` after every check that needs no samples."""
    import soundfile as sf

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{what} file not found: {str(p)!r}")
    if p.is_dir():
        raise ParameterError(f"{what} path is a directory, not a file: {str(p)!r}")
    error, warning = _wav_problems(p)
    if error:
        raise ParameterError(f"cannot read {what} file {str(p)!r}: {error}")
    try:
        info = sf.info(str(p))
    except Exception as exc:  # soundfile raises its own LibsndfileError / RuntimeError
        raise ParameterError(f"cannot read {what} file {str(p)!r}: {exc}") from None
    try:
        sr = check_sample_rate(info.samplerate, "sample rate")
    except ParameterError as exc:
        raise ParameterError(f"{what} file {str(p)!r}: {exc}") from None
    if info.frames == 0:
        raise ParameterError(f"{what} file {str(p)!r} holds no samples (0 s): nothing to process")
    if warning:
        warnings.warn(f"{what} file {str(p)!r}: {warning}", TruncatedFileWarning, stacklevel=3)
    return p, info, integral_rate(sr)


def read_audio(path, what: str = "audio") -> tuple[np.ndarray, int | float]:
    """Read an audio file (WAV, AIFF, FLAC, anything soundfile reads).

    Parameters
    ----------
    path : str or Path
    what : str
        What the file is, for the messages ("impulse response", "recording", ...).

    Returns
    -------
    audio : np.ndarray [shape=(channels, samples), dtype=float32]
    sample_rate : int or float
        In Hz; an ``int`` for a whole number.

    Raises
    ------
    FileNotFoundError
        The path does not exist.
    ParameterError
        A directory, a file soundfile cannot decode, a corrupt WAV header, a sample rate outside
        1 kHz - 768 kHz, no samples, NaN/Inf samples.

    Warns
    -----
    TruncatedFileWarning
        The file is shorter than its header announces.
    """
    import soundfile as sf

    p, _, sr = _checked_info(path, what)
    try:
        data, _ = sf.read(str(p), dtype="float32", always_2d=True)
    except Exception as exc:
        raise ParameterError(f"cannot read {what} file {str(p)!r}: {exc}") from None
    if data.shape[0] == 0:
        raise ParameterError(f"{what} file {str(p)!r} holds no samples (0 s): nothing to process")
    if not np.isfinite(data).all():
        raise ParameterError(f"{what} file {str(p)!r} holds NaN or Inf samples: the file is corrupt")
    return np.ascontiguousarray(data.T), sr


def audio_info(path, what: str = "audio") -> tuple[int, int, int | float]:
    """``(channels, frames, sample rate)`` of an audio file, after the checks of
    :func:`read_audio` that need no samples (for streaming it block by block)."""
    _, info, sr = _checked_info(path, what)
    return info.channels, info.frames, sr


def read_blocks(path, block_frames: int, what: str = "audio"):
    """Yield a file's samples as float32 ``(channels, <= block_frames)`` blocks (bounded memory).

    Raises
    ------
    ParameterError
        As :func:`read_audio`, and for NaN/Inf in a block."""
    import soundfile as sf

    p, _, _ = _checked_info(path, what)
    with sf.SoundFile(str(p)) as f:
        for block in f.blocks(blocksize=block_frames, dtype="float32", always_2d=True):
            if not np.isfinite(block).all():
                raise ParameterError(f"{what} file {str(p)!r} holds NaN or Inf samples: the file is corrupt")
            yield np.ascontiguousarray(block.T)


# ---- writing: atomic, with the umask's permissions, nothing left behind ---------------------
SUBTYPES = {16: "PCM_16", 24: "PCM_24", 32: "FLOAT"}
FORMATS = {".wav": "WAV", ".aif": "AIFF", ".aiff": "AIFF", ".flac": "FLAC"}


def check_destination(path, bit_depth, overwrite: bool) -> tuple[Path, str]:
    """Validate an output path and bit depth before anything is computed: ``(path, format)``.

    Raises
    ------
    ParameterError
        Unknown extension, unsupported bit depth (16, 24, 32 float), float FLAC.
    FileExistsError
        ``path`` exists and ``overwrite`` is false.
    FileNotFoundError
        Its directory does not exist.
    """
    p = Path(path)
    fmt = FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise ParameterError(f"unsupported audio file extension {p.suffix!r} for {str(p)!r}; "
                             f"use one of {sorted(FORMATS)}")
    if isinstance(bit_depth, bool) or bit_depth not in SUBTYPES:
        raise ParameterError(f"bit_depth must be 16, 24 or 32 (float), got {bit_depth!r}")
    if fmt == "FLAC" and bit_depth == 32:
        raise ParameterError("FLAC has no float format: use bit_depth=16 or 24, or a .wav file")
    if p.exists() and not overwrite:
        raise FileExistsError(f"{str(p)!r} exists; pass overwrite=True to replace it")
    if not p.parent.exists():
        raise FileNotFoundError(f"directory does not exist: {str(p.parent)!r}")
    return p, fmt


_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask (read from /proc where it can be, so no other thread sees it change)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def new_file_mode(p: Path) -> int:
    """The permission bits a file written at ``p`` gets: those of the file it replaces, else
    ``0o666 & ~umask`` (what ``open()`` gives a new file; mkstemp alone would give 0600)."""
    try:
        return stat.S_IMODE(os.stat(p).st_mode)
    except OSError:
        return 0o666 & ~current_umask()


# Named temporary files carry the host and the process id, so that the next write into the same
# folder can remove the ones a killed process left (only its own host's, only of dead processes).
_HOST = socket.gethostname().replace(".", "_")[:40] or "host"
_TEMP_RE = re.compile(r"^\..+\.irforge-(?P<host>[^.]+)-(?P<pid>\d+)-[^.]+\.tmp$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def remove_stale_temps(folder: Path) -> int:
    """Remove the temporary files that killed irforge processes of this host left in ``folder``;
    returns how many. A temp of a live process (or of another host) is never touched."""
    removed = 0
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    for name in names:
        m = _TEMP_RE.match(name)
        if not m or m["host"] != _HOST or int(m["pid"]) == os.getpid() or _pid_alive(int(m["pid"])):
            continue
        try:
            os.unlink(os.path.join(folder, name))
            removed += 1
        except OSError:
            pass
    return removed


def temp_beside(p: Path) -> str:
    """An empty named temporary file in ``p``'s folder (same file system: renames are atomic),
    with the permissions the final file must have (:func:`new_file_mode`). Stale temps of
    killed processes in that folder are removed first (by :class:`_Pending`)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.irforge-{_HOST}-{os.getpid()}-", suffix=".tmp", dir=p.parent)
    try:
        os.fchmod(fd, new_file_mode(p))
    finally:
        os.close(fd)
    return tmp


_CLEANED: set[str] = set()


class _Pending:
    """A file being written for ``dest``: an unnamed O_TMPFILE inode where Linux offers one
    (a kill leaves nothing: the inode dies with the process), else a named temp beside ``dest``.
    ``commit()`` puts it in place atomically; ``discard()`` drops it."""

    def __init__(self, dest: Path, binary: bool = True):
        self.dest = dest
        self.fd: int | None = None
        self.name: str | None = None
        folder = os.path.abspath(dest.parent)
        if folder not in _CLEANED:  # what killed writers (named temps) left here, once a folder
            remove_stale_temps(dest.parent)
            _CLEANED.add(folder)
        flag = getattr(os, "O_TMPFILE", 0)
        if flag:
            try:
                self.fd = os.open(dest.parent, flag | os.O_RDWR, new_file_mode(dest))
                os.fchmod(self.fd, new_file_mode(dest))  # not narrowed by the umask twice
            except OSError:  # a file system without O_TMPFILE (some network/FUSE mounts)
                self.fd = None
        if self.fd is None:
            self.name = temp_beside(dest)
        # the mode is not a literal, so mypy picks the generic IO[Any] overloads of fdopen/open;
        # without an fd, self.name is the named temp just made
        text_kw: dict[str, Any] = {} if binary else {"encoding": "utf-8"}
        self.file: IO[Any] = (
            os.fdopen(self.fd, "w+b" if binary else "w+", closefd=False, **text_kw)
            if self.fd is not None else open(cast(str, self.name), "w+b" if binary else "w", **text_kw))

    def commit(self) -> None:
        self.file.flush()
        if self.fd is not None:
            # linkat(..., AT_SYMLINK_FOLLOW) on the /proc descriptor link (a dir fd makes Python
            # call linkat rather than link, which would not follow it)
            dir_fd = os.open(self.dest.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            try:
                try:
                    # a new file: linked straight to its name, in one step (a kill can leave
                    # nothing half-done)
                    os.link(f"/proc/self/fd/{self.fd}", self.dest.name, dst_dir_fd=dir_fd,
                            follow_symlinks=True)
                except FileExistsError:
                    # a replacement: a hidden name first, then renamed over dest (atomic); a
                    # kill between the two leaves the hidden link, which the next write into
                    # the folder removes (remove_stale_temps: it names a dead pid)
                    name = f".{self.dest.name}.irforge-{_HOST}-{os.getpid()}-link.tmp"
                    link = os.path.join(self.dest.parent, name)
                    if os.path.lexists(link):
                        os.unlink(link)
                    os.link(f"/proc/self/fd/{self.fd}", name, dst_dir_fd=dir_fd,
                            follow_symlinks=True)
                    try:
                        os.replace(link, self.dest)
                    except BaseException:
                        os.unlink(link)
                        raise
            finally:
                os.close(dir_fd)
        else:
            self.file.close()
            os.replace(cast(str, self.name), self.dest)  # the named temp (no O_TMPFILE fd)
        self.close()

    def discard(self) -> None:
        self.close()
        if self.name is not None and os.path.exists(self.name):
            os.unlink(self.name)

    def close(self) -> None:
        if not self.file.closed:
            self.file.close()
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
class _ClipCounter:
    """Counts samples beyond full scale written to a fixed-point file, warns once at the end."""

    def __init__(self, path: Path, bit_depth: int):
        self.path, self.bit_depth = path, bit_depth
        self.peak, self.clipped, self.total = 0.0, 0, 0

    def add(self, data: np.ndarray) -> None:
        if self.bit_depth == 32 or not np.size(data):
            return
        a = np.abs(np.asarray(data))
        self.peak = max(self.peak, float(np.nanmax(a)))
        self.clipped += int(np.count_nonzero(a > 1.0))
        self.total += a.size

    def report(self, stacklevel: int) -> None:
        if self.clipped:
            warnings.warn(
                f"{str(self.path)!r}: {self.clipped} of {self.total} samples exceed full scale "
                f"(peak {self.peak:.3g}, {20 * math.log10(self.peak):+.1f} dBFS) and were clipped "
                f"in the {self.bit_depth}-bit file; normalise first (ImpulseResponse.normalize, "
                f"`irforge convolve --normalize -1`) or write float (bit_depth=32)",
                ClippingWarning, stacklevel=stacklevel)


def to_fixed_point(data: np.ndarray, bit_depth: int) -> np.ndarray:
    """Float samples (full scale +-1) quantised to ``bit_depth`` bits by rounding to the
    nearest level (clipped to the format's range), as int32 with the level in the top bits:
    what soundfile writes exactly into a 16- or 24-bit file.

    libsndfile's own float conversion truncates toward minus infinity (-0.2 LSB becomes -1):
    a -0.5 LSB offset and truncation distortion on every fixed-point file, which a DC-sensitive
    reader such as deconvolution sees. Rounding here leaves an error of at most 0.5 LSB and
    no offset."""
    q = float(1 << (bit_depth - 1))
    v = np.rint(np.asarray(data, dtype=np.float64) * q)
    np.clip(v, -q, q - 1.0, out=v)
    return v.astype(np.int32) << (32 - bit_depth)


class _CountingWriter:
    """A soundfile.SoundFile whose ``write`` also feeds a :class:`_ClipCounter` and, for a
    16/24-bit file, quantises by rounding (:func:`to_fixed_point`) instead of libsndfile's
    truncation."""

    def __init__(self, f, counter: _ClipCounter, bit_depth: int = 32):
        self._f, self._counter, self._bits = f, counter, bit_depth

    def write(self, data):
        self._counter.add(data)
        if self._bits in (16, 24):
            data = to_fixed_point(data, self._bits)
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)


@contextlib.contextmanager
def open_audio_atomic(path, sample_rate: float, channels: int, *, bit_depth: int = 32,
                      overwrite: bool = False, before_commit=None):
    """A ``soundfile.SoundFile`` open for writing blocks to ``path``.

    The samples go to an unnamed temporary file (or a named one beside ``path`` where the file
    system has no O_TMPFILE) that is put in place only when the block ends without an error:
    ``path`` is never half-written, and a killed process leaves nothing behind. The file gets
    the umask's permissions (:func:`new_file_mode`); samples beyond full scale written to a
    16/24-bit file give one :class:`irforge.ClippingWarning` at the end.

    ``before_commit``, if given, is called with the finished file (a binary file object at
    its start) just before it is put in place: what it records about the file (a journal
    entry with its hash, say) is then on disk before the file is at ``path``."""
    import soundfile as sf

    p, fmt = check_destination(path, bit_depth, overwrite)
    pending = _Pending(p)
    counter = _ClipCounter(p, bit_depth)
    try:
        with sf.SoundFile(pending.file, "w", samplerate=int(round(sample_rate)), channels=channels,
                          subtype=SUBTYPES[bit_depth], format=fmt) as f:
            yield _CountingWriter(f, counter, bit_depth)
        if before_commit is not None:
            pending.file.flush()
            pending.file.seek(0)
            before_commit(pending.file)
        pending.commit()
    except BaseException:
        pending.discard()
        raise
    counter.report(stacklevel=4)


def write_audio_pending(path, data: np.ndarray, sample_rate: float, *, bit_depth: int,
                        overwrite: bool) -> _Pending:
    """Write ``data`` (channels, samples) for ``path`` without putting it in place yet: the
    caller commits (or discards) the result, e.g. several files all or none.

    Samples beyond full scale in a 16/24-bit file give an :class:`irforge.ClippingWarning`
    with the peak and the fix."""
    import soundfile as sf

    p, fmt = check_destination(path, bit_depth, overwrite)
    counter = _ClipCounter(p, bit_depth)
    counter.add(data)
    counter.report(stacklevel=4)
    pending = _Pending(p)
    try:
        arr = np.asarray(data, dtype=np.float32)
        with sf.SoundFile(pending.file, "w", samplerate=int(round(sample_rate)),
                          channels=arr.shape[0], subtype=SUBTYPES[bit_depth], format=fmt) as f:
            for i in range(0, max(arr.shape[1], 1), 1 << 16):   # bounded extra memory
                blk = arr[:, i:i + (1 << 16)].T
                f.write(to_fixed_point(blk, bit_depth) if bit_depth in (16, 24) else blk)
    except BaseException:
        pending.discard()
        raise
    return pending


def write_audio_atomic(path, data: np.ndarray, sample_rate: float, *, bit_depth: int = 32,
                       overwrite: bool = False) -> Path:
    """Write ``data`` (channels, samples) to ``path`` atomically (see :func:`open_audio_atomic`)."""
    pending = write_audio_pending(path, data, sample_rate, bit_depth=bit_depth, overwrite=overwrite)
    try:
        pending.commit()
    except BaseException:
        pending.discard()
        raise
    return Path(path)


def _write_whole(path, payload, binary: bool, overwrite: bool) -> Path:
    """Write ``payload`` (str or bytes) to ``path`` atomically (see :class:`_Pending`)."""
    p = Path(path)
    if p.exists() and not overwrite:
        raise FileExistsError(f"{str(p)!r} exists; pass overwrite=True to replace it")
    if not p.parent.exists():
        raise FileNotFoundError(f"directory does not exist: {str(p.parent)!r}")
    pending = _Pending(p, binary=binary)
    try:
        pending.file.write(payload)
        pending.commit()
    except BaseException:
        pending.discard()
        raise
    return p


def write_text_atomic(path, text: str, *, overwrite: bool = False) -> Path:
    """Write a text file (JSON descriptions, analysis reports) atomically, with the umask's
    permissions (:func:`new_file_mode`); an existing file only with ``overwrite``."""
    return _write_whole(path, text, False, overwrite)


def write_bytes_atomic(path, data: bytes, *, overwrite: bool = False) -> Path:
    """Write a binary file (a rendered plot, say) atomically, with the umask's permissions
    (:func:`new_file_mode`); an existing file only with ``overwrite``."""
    return _write_whole(path, bytes(data), True, overwrite)
