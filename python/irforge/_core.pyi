"""Type stub of the C++ extension irforge._core (see cpp/bindings/)."""

import numpy as np
import numpy.typing as npt

def rfft(x: npt.NDArray[np.float32]) -> npt.NDArray[np.complex64]: ...  # rows in parallel
def irfft(spectrum: npt.NDArray[np.complex64], n: int) -> npt.NDArray[np.float32]: ...
def stft(
    x: npt.NDArray[np.float32], window: npt.NDArray[np.float32], hop: int, center: bool = True,
    threads: int = 0,
) -> npt.NDArray[np.complex64]: ...  # (channels, frames, n_fft/2+1)
def istft(
    spectrogram: npt.NDArray[np.complex64], window: npt.NDArray[np.float32], hop: int,
    center: bool = True, length: int = -1, threads: int = 0,
) -> npt.NDArray[np.float32]: ...  # (channels, length)
def stft_rolloff(
    x: npt.NDArray[np.float32], window: npt.NDArray[np.float32], hop: int, center: bool = True,
    fraction: float = 0.001, threads: int = 0,
) -> npt.NDArray[np.int32]: ...  # (channels, frames)
def xcorr_lags(
    y: npt.NDArray[np.float64], x: npt.NDArray[np.float64], lo: int, hi: int, threads: int = 0,
) -> npt.NDArray[np.float64]: ...  # numpy.correlate(y, x, "full") at lags lo..hi
def convolve(
    audio: npt.NDArray[np.float32],
    irs: npt.NDArray[np.float32],
    routes: list[tuple[int, int, int]],
    n_out: int,
    threads: int = 0,
) -> npt.NDArray[np.float32]: ...

class Engine:
    def __init__(
        self,
        irs: npt.NDArray[np.float32],
        routes: list[tuple[int, int, int]],
        n_in: int,
        n_out: int,
        block_size: int,
        max_partition: int = 0,
    ) -> None: ...
    def process(self, audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]: ...
    def reset(self) -> None: ...
    def set_gains(self, wet: float, dry: float) -> None: ...
    @property
    def plan(self) -> list[tuple[int, int, int]]: ...
    @property
    def n_inputs(self) -> int: ...
    @property
    def n_outputs(self) -> int: ...
    @property
    def ir_length(self) -> int: ...

class _internal:  # submodule
    @staticmethod
    def fft_isa() -> str: ...
    @staticmethod
    def set_fft_isa(name: str) -> bool: ...
    @staticmethod
    def packed_circular(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]: ...
    @staticmethod
    def time_transform(n: int, kind: str = "forward", min_time_s: float = 0.05) -> float: ...
    @staticmethod
    def plan_partitions(ir_len: int, head: int, max_size: int) -> list[tuple[int, int, int]]: ...
    @staticmethod
    def offline_block_size(ir_len: int, n: int) -> int: ...
