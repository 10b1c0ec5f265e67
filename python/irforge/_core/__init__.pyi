"""
irforge C++ core (FFT, partitioned convolution, STFT, filter bank, correlation)
"""
from __future__ import annotations
import collections.abc
import numpy
import numpy.typing
import typing
from . import _internal
__all__: list[str] = ['Engine', 'band_fit', 'convolve', 'fir_decimate', 'irdft', 'irfft', 'istft', 'power_sum', 'rdft', 'rfft', 'stft', 'stft_rolloff', 'wola_apply', 'wola_circular', 'wola_spectra', 'xcorr_lags', 'xcorr_window']
class Engine:
    """
    Zero-latency partitioned convolution engine (n_in -> n_out through routed IRs)
    """
    def __init__(self, irs: typing.Any, routes: collections.abc.Sequence[tuple[typing.SupportsInt | typing.SupportsIndex, typing.SupportsInt | typing.SupportsIndex, typing.SupportsInt | typing.SupportsIndex]], n_in: typing.SupportsInt | typing.SupportsIndex, n_out: typing.SupportsInt | typing.SupportsIndex, block_size: typing.SupportsInt | typing.SupportsIndex, max_partition: typing.SupportsInt | typing.SupportsIndex = 0, schedule: str = 'spread') -> None:
        """
        schedule: 'spread' (default: later stages' work paced over the following block, bounded work per call) or 'immediate' (each block's work in the call that completes it)
        """
    def process(self, audio: typing.Any) -> numpy.typing.NDArray[numpy.float32]:
        ...
    def reset(self) -> None:
        ...
    def set_gains(self, wet: typing.SupportsFloat | typing.SupportsIndex, dry: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def ir_length(self) -> int:
        ...
    @property
    def n_inputs(self) -> int:
        ...
    @property
    def n_outputs(self) -> int:
        ...
    @property
    def plan(self) -> list:
        ...
def band_fit(p: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], r: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], edges: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], p_scale: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], r_scale: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], a: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], c: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], active: typing.Annotated[numpy.typing.ArrayLike, numpy.bool], iters: typing.SupportsInt | typing.SupportsIndex, threads: typing.SupportsInt | typing.SupportsIndex = 0) -> tuple:
    """
    Per band [edges[j], edges[j+1]): Fisher scoring of p/p_scale ~ a r/r_scale + c (a, c >= 0, Gamma model) from the start values a, c -> (a, c, standard error of c) float64
    """
def convolve(audio: typing.Any, irs: typing.Any, routes: collections.abc.Sequence[tuple[typing.SupportsInt | typing.SupportsIndex, typing.SupportsInt | typing.SupportsIndex, typing.SupportsInt | typing.SupportsIndex]], n_out: typing.SupportsInt | typing.SupportsIndex, threads: typing.SupportsInt | typing.SupportsIndex = 0, length: typing.SupportsInt | typing.SupportsIndex = -1) -> numpy.typing.NDArray[numpy.float32]:
    """
    Full offline convolution through routed IRs -> float32 (n_out, n + m - 1), or only the first length samples (n <= length <= n + m - 1; the rest of the tail is not computed)
    """
def fir_decimate(x: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], taps: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], decim: typing.SupportsInt | typing.SupportsIndex, threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.float32]:
    """
    out[j] = sum_t taps[t] x[j*decim + t] for every j with the filter inside x -> float32
    """
def irdft(spectrum: typing.Annotated[numpy.typing.ArrayLike, numpy.complex64], n: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.float32]:
    """
    Inverse of rdft, unnormalised (irdft(rdft(x), n) == n * x) -> float32 (n,)
    """
def irfft(spectrum: typing.Annotated[numpy.typing.ArrayLike, numpy.complex64], n: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.float32]:
    """
    Inverse of rfft, unnormalised (irfft(rfft(x)) == n * x). -> float32 (rows, n)
    """
def istft(spectrogram: typing.Annotated[numpy.typing.ArrayLike, numpy.complex64], window: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], hop: typing.SupportsInt | typing.SupportsIndex, center: bool = True, length: typing.SupportsInt | typing.SupportsIndex = -1, threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.float32]:
    """
    Weighted overlap-add inverse of stft, normalised by the summed squared window -> float32 (channels, length)
    """
def power_sum(x: typing.Any, window: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], hop: typing.SupportsInt | typing.SupportsIndex, frames: typing.SupportsInt | typing.SupportsIndex, threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.float64]:
    """
    Sum over frames (start t*hop, zero-padded) of |rfft(window * frame)|^2 for each row of float32 (channels, samples) -> float64 (channels, n_fft/2+1)
    """
def rdft(x: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> numpy.typing.NDArray[numpy.complex64]:
    """
    Real DFT of any length n >= 2 (Bluestein over the power-of-two FFT) of a float32 1-D signal -> complex64 (n/2+1,); for lengths with large prime factors
    """
def rfft(x: typing.Any) -> numpy.typing.NDArray[numpy.complex64]:
    """
    Real FFT of each row of a float32 (rows, n) array; n a power of two. -> complex64 (rows, n/2+1)
    """
def stft(x: typing.Any, window: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], hop: typing.SupportsInt | typing.SupportsIndex, center: bool = True, threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.complex64]:
    """
    STFT of each row of float32 (channels, samples) -> complex64 (channels, frames, n_fft/2+1); n_fft = len(window), a power of two; librosa framing
    """
def stft_rolloff(x: typing.Any, window: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], hop: typing.SupportsInt | typing.SupportsIndex, center: bool = True, fraction: typing.SupportsFloat | typing.SupportsIndex = 0.001, threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.int32]:
    """
    Per STFT frame, the first bin where the power from that bin up falls below fraction of the frame's total (0 if none) -> int32 (channels, frames)
    """
def wola_apply(spectra: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], n_samples: typing.SupportsInt | typing.SupportsIndex, window: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], g: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], hop: typing.SupportsInt | typing.SupportsIndex, threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.float64]:
    """
    Second half of wola_circular, from wola_spectra's output -> float64 (n_samples,)
    """
def wola_circular(x: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], window: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], g: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], hop: typing.SupportsInt | typing.SupportsIndex, frames: typing.SupportsInt | typing.SupportsIndex, threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.float64]:
    """
    Weighted overlap-add of w * circconv_N(w * frame, g) over frames t*hop, divided by the summed w^2 where > 1e-10 -> float64 (len(x),)
    """
def wola_spectra(x: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], window: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], hop: typing.SupportsInt | typing.SupportsIndex, frames: typing.SupportsInt | typing.SupportsIndex, threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.float32]:
    """
    First half of wola_circular: packed spectra of the windowed frames -> float32 (frames, fft size)
    """
def xcorr_lags(y: numpy.ndarray, x: numpy.ndarray, lo: typing.SupportsInt | typing.SupportsIndex, hi: typing.SupportsInt | typing.SupportsIndex, threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.float64]:
    """
    Exact cross-correlation sum_i x[i] y[i + lag] for lag = lo..hi (numpy.correlate(y, x, 'full') at those lags) summed in float64, one pass over memory; float32 pairs are read as float32 (no copy)
    """
def xcorr_window(y: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], x: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], lo: typing.SupportsInt | typing.SupportsIndex, hi: typing.SupportsInt | typing.SupportsIndex, threads: typing.SupportsInt | typing.SupportsIndex = 0) -> numpy.typing.NDArray[numpy.float64]:
    """
    Cross-correlation sum_i x[i] y[i + lag] for lag = lo..hi by block FFTs in float32 (fast for wide windows; about 1e-6 relative accuracy) -> float64 (hi - lo + 1,)
    """
