"""
test and benchmark hooks; not public API
"""
from __future__ import annotations
import numpy
import numpy.typing
import typing
__all__: list[str] = ['fft_isa', 'offline_block_size', 'packed_circular', 'plan_partitions', 'set_fft_isa', 'time_transform']
def fft_isa() -> str:
    ...
def offline_block_size(arg0: typing.SupportsInt | typing.SupportsIndex, arg1: typing.SupportsInt | typing.SupportsIndex) -> int:
    ...
def packed_circular(arg0: typing.Annotated[numpy.typing.ArrayLike, numpy.float32], arg1: typing.Annotated[numpy.typing.ArrayLike, numpy.float32]) -> numpy.typing.NDArray[numpy.float32]:
    ...
def plan_partitions(ir_len: typing.SupportsInt | typing.SupportsIndex, head: typing.SupportsInt | typing.SupportsIndex, max_partition: typing.SupportsInt | typing.SupportsIndex, spread: bool = False) -> list:
    ...
def set_fft_isa(arg0: str) -> bool:
    ...
def time_transform(n: typing.SupportsInt | typing.SupportsIndex, kind: str = 'forward', min_time_s: typing.SupportsFloat | typing.SupportsIndex = 0.05) -> float:
    ...
