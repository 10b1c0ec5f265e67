"""irforge: impulse responses, fast.

Measure, analyse, shape, deconvolve and apply impulse responses, with a C++ core
(own SIMD FFT, zero-latency non-uniformly partitioned convolution).

Audio arrays are ``(channels, samples)``; 1-D means mono. float32 and float64 are accepted,
results are float32.
"""

from importlib import import_module

from ._errors import ParameterError
from .convolution import Convolver, convolve
from .impulse_response import ImpulseResponse

__version__ = "0.1.0"

# Public names that live in feature modules, imported on first use (keeps `import irforge`
# light: the measurement, analysis and batch modules pull in more of scipy).
_LAZY = {
    "sweeps": ("irforge.sweeps", None),
    "Sweep": ("irforge.sweeps", "Sweep"),
    "measure_ir": ("irforge.measure", "measure_ir"),
    "capture": ("irforge._capture", "capture"),
    "NonlinearityWarning": ("irforge._capture", "NonlinearityWarning"),
    "ClippingWarning": ("irforge._errors", "ClippingWarning"),
    "export": ("irforge.export", None),
    "presets": ("irforge.export", "list_presets"),
    "analyze": ("irforge.analysis", "analyze"),
    "shape_decay": ("irforge.decay_shaping", "shape_decay"),
    "blind_t60": ("irforge.reverberation", "blind_t60"),
    "deconvolve": ("irforge.deconvolution", "deconvolve"),
    "deconvolve_file": ("irforge.deconvolution", "deconvolve_file"),
    "inverse_filter": ("irforge.deconvolution", "inverse_filter"),
    "Deconvolver": ("irforge.deconvolution", "Deconvolver"),
    "DeconvolutionWarning": ("irforge.deconvolution", "DeconvolutionWarning"),
    "metrics": ("irforge.metrics", None),
    "dereverb": ("irforge.dereverberation", "dereverb"),
    "Dereverb": ("irforge.dereverberation", "Dereverb"),
    "audio_io": ("irforge.audio_io", None),
    "TruncatedFileWarning": ("irforge.audio_io", "TruncatedFileWarning"),
    "MarkerWarning": ("irforge.measure", "MarkerWarning"),
    "Chain": ("irforge.chain", "Chain"),
    "render": ("irforge.batch", "render"),
    "plugins": ("irforge.plugins", None),
}

__all__ = [
    "ClippingWarning", "Convolver", "DeconvolutionWarning", "Deconvolver", "Dereverb", "ImpulseResponse",
    "NonlinearityWarning", "ParameterError", "Sweep", "analyze", "blind_t60", "capture", "convolve",
    "deconvolve", "deconvolve_file", "dereverb", "export", "inverse_filter", "measure_ir", "metrics",
    "presets", "shape_decay", "sweeps", "audio_io", "TruncatedFileWarning", "MarkerWarning", "__version__",
    "Chain", "render", "plugins",
]


def __getattr__(name):
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'irforge' has no attribute {name!r}") from None
    mod = import_module(module)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
