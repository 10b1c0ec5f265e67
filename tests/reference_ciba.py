"""A slow, literal numpy re-implementation of Ciba's published filter (the test oracle).

Written step by step from ``../shared/reference/ciba-reference-behaviour.md`` (which describes the
author's published code) and checked against the published code itself (see
``benchmarks/bench_dereverb.py --published``) so that ``irforge.dereverberation(mode="reference")`` can be checked against it
and timed against it in ``benchmarks/bench_dereverb.py``. Nothing here is optimised on purpose:
full complex FFTs, one frame at a time, the cepstral round trip done literally, float64 throughout.
The signals are used at the precision they are given, as the published functions use them (its
program reads files as float32; a float64 excitation is not rounded to float32: that rounding
changes the system IR, see ``system_ir``).

librosa is not available, so the two librosa calls the published code makes are written here in
plain numpy with librosa's conventions (periodic Hann window, ``center=True`` with zero padding,
``istft`` normalised by the summed squared window where it is above the smallest normal float).

Also holds :func:`make_paper_workload`, the paper's workload built from ../shared/data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.signal as ss

EPS = np.finfo(np.float64).eps
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


# ---------------------------------------------------------------------------------------------
# librosa-style STFT / ISTFT (n_fft 2048, hop 512, periodic Hann, centre zero padding)
# ---------------------------------------------------------------------------------------------
def hann_periodic(n: int) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def lr_stft(s: np.ndarray, n_fft: int = 2048, hop: int = 512) -> np.ndarray:
    """librosa.stft(s) with the defaults: (1 + n_fft // 2, frames), complex128."""
    s = np.asarray(s, dtype=np.float64)
    pad = n_fft // 2
    sp = np.concatenate([np.zeros(pad), s, np.zeros(pad)])
    n_frames = 1 + (len(sp) - n_fft) // hop
    w = hann_periodic(n_fft)
    out = np.empty((n_fft // 2 + 1, n_frames), dtype=np.complex128)
    for t in range(n_frames):
        out[:, t] = np.fft.rfft(sp[t * hop:t * hop + n_fft] * w)
    return out


def lr_istft(S: np.ndarray, hop: int = 512, win_length: int = 2048, length: int | None = None) -> np.ndarray:
    """librosa.istft(S, hop_length=hop, win_length=win_length, length=length), center=True."""
    n_fft = 2 * (S.shape[0] - 1)
    w = hann_periodic(win_length)
    n_frames = S.shape[1]
    if length is not None:
        n_frames = min(n_frames, int(np.ceil((length + 2 * (n_fft // 2)) / hop)))
    n_out = n_fft + hop * (n_frames - 1)
    y = np.zeros(n_out)
    wss = np.zeros(n_out)
    for t in range(n_frames):
        fr = np.fft.irfft(S[:, t], n_fft) * w
        y[t * hop:t * hop + n_fft] += fr
        wss[t * hop:t * hop + n_fft] += w * w
    nz = wss > np.finfo(np.float64).tiny
    y[nz] /= wss[nz]
    start = n_fft // 2
    y = y[start:]
    if length is not None:
        y = y[:length] if len(y) >= length else np.concatenate([y, np.zeros(length - len(y))])
    else:
        y = y[:len(y) - start]
    return y


# ---------------------------------------------------------------------------------------------
# the published filter, step by step
# ---------------------------------------------------------------------------------------------
def system_ir(x: np.ndarray, y: np.ndarray, fs: int) -> np.ndarray:
    """Section 1: zero-phase cepstral IR from the sweep pair, cut to hop - 1, tapered.

    ``x`` and ``y`` are used at their own precision (float32 values stay float32 values, float64
    stays float64; the FFTs are float64 as in the published code under numpy 1.26). Rounding a
    float64 excitation to float32 first is NOT what the published code does and matters: the
    un-faded linear sweep's spectrum near Nyquist is about 80 dB under the band, comparable to
    float32 rounding noise per bin, and |Y|/|X| there dominates the average.
    """
    x = np.asarray(x).astype(np.float64)
    y = np.asarray(y).astype(np.float64)
    n = min(len(x), len(y))
    x, y = x[:n], y[:n]
    n_fft = 5 * fs
    hop = n_fft // 2
    c = ss.correlate(y, x, mode="full")
    d = int(np.argmax(c)) - len(x) + 1
    if d > 0:
        y = y[d:]
    elif d < 0:
        x = x[-d:]
    n_frames = int(np.ceil(len(x) / hop))
    h = np.zeros(n_fft)
    for i in range(n_frames):
        s = i * hop
        e = min(s + n_fft, len(x))
        X = np.fft.fft(x[s:e], n_fft)
        Y = np.fft.fft(y[s:e], n_fft)
        X[np.abs(X) < EPS] = EPS
        Y[np.abs(Y) < EPS] = EPS
        cx = np.real(np.fft.ifft(np.log(np.abs(X) + EPS)))
        cy = np.real(np.fft.ifft(np.log(np.abs(Y) + EPS)))
        ch = cy - cx
        frame = np.real(np.fft.ifft(np.exp(np.real(np.fft.fft(ch)))))
        h += frame
    h /= n_frames
    h /= np.max(np.abs(h))
    h = h[:hop - 1].copy()
    k0 = int(0.75 * len(h))
    h[k0:] *= np.exp(-0.00025 * np.arange(len(h) - k0))
    return h


def t60_frames(s: np.ndarray, fs: int) -> np.ndarray:
    """Section 2: the published "T60", one value per STFT frame."""
    P = np.abs(lr_stft(s)) ** 2
    C = np.flip(np.cumsum(np.flip(P, axis=0), axis=0), axis=0)
    C = C / (C[0, :] + EPS)
    k = np.argmax(C < 0.001, axis=0)
    return 2 * k / fs


def decayed_ir(h: np.ndarray, y: np.ndarray, z: np.ndarray, fs: int):
    """Section 3: rho from the per-frame "T60"s of y and z; decay matrix; istft."""
    y = np.asarray(y).astype(np.float64)
    z = np.asarray(z).astype(np.float64)
    t60_y = t60_frames(y, fs)
    t60_z = t60_frames(z, fs)
    rho = t60_y[:1025] / (t60_z[:1025] + EPS)
    H = lr_stft(h)
    F = H.shape[1]
    times = np.linspace(0, F * 512 / fs, F)
    D = np.ones(H.shape)
    for k in range(len(rho)):
        if rho[k] != 0:
            D[k, :] = np.exp(-times / rho[k])
            H[k, :] *= D[k, :]
    h2 = lr_istft(H, hop=512, win_length=2048, length=len(h))
    return h2, rho, D


def filterbank(z: np.ndarray, h2: np.ndarray) -> np.ndarray:
    """Section 4 steps 1-4: WOLA division by the decayed IR's spectrum (float32 accumulator)."""
    z = np.asarray(z).astype(np.float64)
    N = len(h2)
    hop2 = int(0.5 * N)
    w = np.hanning(N)
    Hf = np.fft.fft(h2, N)
    Hf[np.abs(Hf) < EPS] = EPS
    n_frames = (len(z) - N + hop2) // hop2 + 1
    out = np.zeros(len(z) + N, dtype=np.float32)
    norm = np.zeros(len(z) + N)
    for i in range(n_frames):
        s = i * hop2
        seg = z[s:s + N]
        if len(seg) < N:
            seg = np.concatenate([seg, np.zeros(N - len(seg))])
        F = np.fft.fft(seg * w)
        fr = np.real(np.fft.ifft(F / Hf)) * w
        out[s:s + N] += fr.astype(np.float32)
        norm[s:s + N] += w * w
    out = out.astype(np.float64)
    nz = norm > 1e-10
    out[nz] /= norm[nz]
    return out[:len(z)]


def postprocess(raw: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Section 4 step 5: drop 10000 samples, scale to the RMS of z, divide by the peak if > 1."""
    z = np.asarray(z).astype(np.float64)
    out = raw[10000:]
    out = out * (np.sqrt(np.mean(z ** 2)) / np.sqrt(np.mean(out ** 2)))
    pk = np.max(np.abs(out))
    if pk > 1:
        out = out / pk
    return out


def ciba_filter(x, y, z, fs: int) -> dict:
    """The whole published pipeline: returns every intermediate the tests compare."""
    h = system_ir(x, y, fs)
    h2, rho, D = decayed_ir(h, y_common(x, y), z, fs)
    raw = filterbank(z, h2)
    return dict(h=h, h2=h2, rho=rho, D=D, raw=raw, audio=postprocess(raw, z))


def y_common(x, y):
    """The recording cut to the common length of the pair (what section 3 receives as y)."""
    n = min(len(x), len(y))
    return np.asarray(y)[:n]


def sr_db(z, filtered):
    """The published "SNR" and LSD (eq. 20) from the mean-removed mean squares."""
    z = np.asarray(z, np.float64)
    f = np.asarray(filtered, np.float64)
    p1 = np.mean((z - z.mean()) ** 2)
    p2 = np.mean((f - f.mean()) ** 2)
    return 10 * np.log10(p2 / (p1 - p2)), 10 * np.log10(p2 / p1)


# ---------------------------------------------------------------------------------------------
# the paper's workload from ../shared/data
# ---------------------------------------------------------------------------------------------
def _load(rel: str, fs: int, channel: int = 0) -> np.ndarray:
    import soundfile as sf
    import soxr

    data, sr = sf.read(str(DATA / rel), dtype="float64", always_2d=True)
    a = data[:, channel]
    if sr != fs:
        a = soxr.resample(a, sr, fs, quality="VHQ")
    return np.asarray(a, dtype=np.float64)


def paper_sweep(fs: int = 48000, period_s: float = 5.0, periods: int = 10,
                f0: float = 20.0, f1: float = 20000.0) -> np.ndarray:
    T = period_s
    t = np.linspace(0, T, int(T * fs), endpoint=False)
    return np.tile(ss.chirp(t, f0, T, f1, method="linear"), periods)


def make_paper_workload(*, fs: int = 48000, periods: int = 10, z_seconds: float = 30.0,
                        ir: str = "room_ir/freesound_peter1955_basement_museum_Unterlinden_clap_48k.wav",
                        dry: str = "dry/speech_spatialaudio_xmas_male_voice.wav",
                        noise_db: float = -60.0, seed: int = 5, ir_seconds: float | None = 1.5):
    """(x, y, z, h_true, dry) float32: the paper's shape made from real material.

    ``x`` = ``periods`` x a 5 s linear sweep 20 Hz-20 kHz at ``fs``; ``y`` = x convolved with the
    real room IR (resampled to ``fs``, peak 1, cut to ``ir_seconds``) plus white noise ``noise_db``
    below the recording's RMS; ``z`` = the dry material tiled to ``z_seconds`` convolved with the
    same IR (plus the same relative noise).
    """
    rng = np.random.default_rng(seed)
    h = _load(ir, fs)
    h = h[max(0, int(np.argmax(np.abs(h))) - int(0.002 * fs)):]  # from 2 ms before the peak
    if ir_seconds is not None:
        h = h[:int(ir_seconds * fs)]
    h = h / np.max(np.abs(h))
    x = paper_sweep(fs, periods=periods)
    y = ss.fftconvolve(x, h)[:len(x)]
    y = 0.5 * y / np.max(np.abs(y))
    y = y + rng.standard_normal(len(y)) * np.sqrt(np.mean(y ** 2)) * 10 ** (noise_db / 20)
    d = _load(dry, fs)
    n = int(z_seconds * fs)
    d = np.tile(d, int(np.ceil(n / len(d))))[:n]
    z = ss.fftconvolve(d, h)[:n]
    g = 0.5 / np.max(np.abs(z))
    z = z * g
    z = z + rng.standard_normal(len(z)) * np.sqrt(np.mean(z ** 2)) * 10 ** (noise_db / 20)
    return (x.astype(np.float32), y.astype(np.float32), z.astype(np.float32),
            h.astype(np.float32), (d * g).astype(np.float32))
