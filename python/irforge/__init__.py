"""irforge: impulse responses, fast.

Measure, analyse, shape, deconvolve and apply impulse responses, with a C++ core
(own SIMD FFT, zero-latency non-uniformly partitioned convolution).

Audio arrays are ``(channels, samples)``; 1-D means mono. float32 and float64 are accepted,
results are float32.
"""

from ._errors import ParameterError
from .convolution import Convolver, convolve
from .impulse_response import ImpulseResponse

__version__ = "0.1.0"

__all__ = ["Convolver", "ImpulseResponse", "ParameterError", "convolve", "__version__"]
