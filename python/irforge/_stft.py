"""Short-time Fourier transform shared by deconvolution, decay analysis/shaping and dereverb.

Conventions follow librosa (``center=True`` pads ``n_fft // 2`` zeros at both ends, a periodic
Hann window, frames on the last axis) so that Ciba's reference filter, which was written with
librosa, can be reproduced; spectra are unnormalised (as ``numpy.fft.rfft``).

Power-of-two frame lengths run in the C++ core (cpp/src/stft.cpp: own SIMD FFT, frames in
parallel, GIL released); other lengths fall back to scipy.fft with the same framing.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft
import scipy.signal as ss

_CORE_MIN, _CORE_MAX = 16, 1 << 22


def _is_core_size(n: int) -> bool:
    return n & (n - 1) == 0 and _CORE_MIN <= n <= _CORE_MAX


def get_window(window, n_fft: int) -> np.ndarray:
    """Analysis window of length ``n_fft`` (float64).

    ``"hann"`` (and any name scipy knows) gives the periodic (DFT-even) window; an array is used
    as given and must have length ``n_fft``.
    """
    if isinstance(window, str):
        return ss.get_window(window, n_fft, fftbins=True).astype(np.float64)
    w = np.asarray(window, dtype=np.float64)
    if w.shape != (n_fft,):
        raise ValueError(f"window has shape {w.shape}; expected ({n_fft},)")
    return w


def n_frames(n_samples: int, n_fft: int, hop: int, center: bool = True) -> int:
    """Number of STFT frames for a signal of ``n_samples`` (librosa's count)."""
    if center:
        n_samples = n_samples + 2 * (n_fft // 2)
    if n_samples < n_fft:
        return 0 if not center else 1
    return 1 + (n_samples - n_fft) // hop


def _check(n_fft, hop):
    if int(n_fft) != n_fft or n_fft < 2:
        raise ValueError(f"n_fft must be an integer >= 2, got {n_fft!r}")
    if int(hop) != hop or hop < 1:
        raise ValueError(f"hop must be a positive integer, got {hop!r}")
    return int(n_fft), int(hop)


def stft(x, *, n_fft: int, hop: int, window="hann", center: bool = True) -> np.ndarray:
    """STFT of ``x`` along its last axis.

    Parameters
    ----------
    x : np.ndarray [shape=(..., samples)]
    n_fft : int
        Frame (and FFT) length in samples.
    hop : int
        Hop between frames in samples.
    window : str or np.ndarray [shape=(n_fft,)]
    center : bool
        Pad ``n_fft // 2`` zeros at both ends so that frame ``t`` is centred on sample ``t * hop``.

    Returns
    -------
    np.ndarray [shape=(..., n_fft // 2 + 1, frames), dtype=complex64]
        For power-of-two ``n_fft`` a (non-contiguous) view of the core's frame-major output.
    """
    n_fft, hop = _check(n_fft, hop)
    x = np.asarray(x, dtype=np.float32)
    lead = x.shape[:-1]
    x2 = x.reshape(-1, x.shape[-1])
    w = get_window(window, n_fft).astype(np.float32)
    from . import _core

    if _is_core_size(n_fft):
        if x2.shape[-1] == 0:
            x2 = np.zeros((x2.shape[0], 1), np.float32)
        # the core writes (channels, frames, bins); the swapped view costs no copy
        S = np.swapaxes(_core.stft(np.ascontiguousarray(x2), w, hop, bool(center)), -1, -2)
        return S.reshape(lead + S.shape[1:])
    if center:
        pad = n_fft // 2
        x2 = np.pad(x2, ((0, 0), (pad, pad)))
    if x2.shape[-1] < n_fft:                      # only short centred input (a single frame)
        x2 = np.pad(x2, ((0, 0), (0, n_fft - x2.shape[-1]))) if center else x2[:, :0]
    if x2.shape[-1] == 0:
        return np.zeros(lead + (n_fft // 2 + 1, 0), np.complex64)
    frames = np.lib.stride_tricks.sliding_window_view(x2, n_fft, axis=-1)[:, ::hop]
    S = sfft.rfft(frames * w, axis=-1, workers=-1).astype(np.complex64)
    S = np.swapaxes(S, -1, -2)
    return np.ascontiguousarray(S).reshape(lead + S.shape[1:])


def istft(S, *, n_fft: int, hop: int, window="hann", center: bool = True,
          length: int | None = None) -> np.ndarray:
    """Inverse of :func:`stft` by weighted overlap-add, normalised by the summed squared window.

    Where the summed squared window is below 1e-10 (only possible at the very ends without
    ``center``) the output is left unnormalised, as librosa does.

    Returns
    -------
    np.ndarray [shape=(..., length), dtype=float32]
    """
    n_fft, hop = _check(n_fft, hop)
    S = np.asarray(S)
    if S.shape[-2] != n_fft // 2 + 1:
        raise ValueError(f"spectrogram has {S.shape[-2]} bins; n_fft={n_fft} needs {n_fft // 2 + 1}")
    lead = S.shape[:-2]
    S2 = S.reshape((-1,) + S.shape[-2:])
    C, _, F = S2.shape
    w = get_window(window, n_fft)
    from . import _core

    frames_t = np.ascontiguousarray(np.swapaxes(S2, -1, -2), dtype=np.complex64)
    if _is_core_size(n_fft):
        y: np.ndarray = _core.istft(frames_t, w.astype(np.float32), hop, bool(center),
                        -1 if length is None else int(length))
        return y.reshape(lead + y.shape[-1:])
    fr = sfft.irfft(frames_t, n_fft, axis=-1, workers=-1)
    fr *= w
    n_full = n_fft + hop * (F - 1)
    y = np.zeros((C, n_full))
    wss = np.zeros(n_full)
    w2 = w * w
    for t in range(F):
        s = t * hop
        y[:, s:s + n_fft] += fr[:, t]
        wss[s:s + n_fft] += w2
    ok = wss > 1e-10
    y[:, ok] /= wss[ok]
    start = n_fft // 2 if center else 0
    if length is None:
        y = y[:, start:n_full - start] if center else y
    else:
        y = y[:, start:start + length]
        if y.shape[-1] < length:
            y = np.pad(y, ((0, 0), (0, length - y.shape[-1])))
    return y.astype(np.float32).reshape(lead + y.shape[-1:])
