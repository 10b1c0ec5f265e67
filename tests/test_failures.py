"""Bad input: a clear exception naming the problem, never a crash or a silent wrong result."""

import numpy as np
import pytest

import irforge
from irforge import _core

SR = 48000
H = np.array([1.0, 0.5, 0.25], np.float32)
X = np.ones(100, np.float32)


@pytest.mark.parametrize("dtype", [np.float16, np.int16, np.int32, np.int64, object, np.complex64, bool])
def test_wrong_audio_dtype_is_type_error(dtype):
    x = np.ones(100, dtype=dtype)
    with pytest.raises(TypeError, match="dtype"):
        irforge.convolve(x, H)
    with pytest.raises(TypeError, match="dtype"):
        irforge.Convolver(H, sample_rate=SR).process(x, SR)


@pytest.mark.parametrize("dtype", [np.float16, np.int32, object])
def test_wrong_ir_dtype_is_type_error(dtype):
    with pytest.raises(TypeError):
        irforge.convolve(X, np.ones(10, dtype=dtype))
    with pytest.raises(TypeError):
        irforge.Convolver(np.ones(10, dtype=dtype), sample_rate=SR)


def test_not_an_array():
    with pytest.raises(TypeError):
        irforge.convolve("audio", H)
    with pytest.raises(TypeError):
        irforge.convolve(X, {"ir": 1})


@pytest.mark.parametrize("shape", [(), (2, 3, 100), (1, 1, 1, 1)])
def test_bad_audio_dims(shape):
    x = np.ones(shape, np.float32)
    with pytest.raises(irforge.ParameterError, match="1-D|2-D"):
        irforge.convolve(x, H)
    with pytest.raises(irforge.ParameterError):
        irforge.Convolver(H, sample_rate=SR).process(x, SR)


def test_empty_ir():
    for h in (np.zeros(0, np.float32), np.zeros((1, 0), np.float32), np.zeros((0, 10), np.float32)):
        with pytest.raises(irforge.ParameterError, match="empty|channels"):
            irforge.convolve(X, h)
        with pytest.raises(irforge.ParameterError):
            irforge.Convolver(h, sample_rate=SR)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite(bad):
    x = X.copy()
    x[10] = bad
    with pytest.raises(irforge.ParameterError, match="non-finite"):
        irforge.convolve(x, H)
    with pytest.raises(irforge.ParameterError, match="non-finite"):
        irforge.Convolver(H, sample_rate=SR).process(x, SR)
    h = H.copy()
    h[1] = bad
    with pytest.raises(irforge.ParameterError, match="non-finite"):
        irforge.convolve(X, h)
    with pytest.raises(irforge.ParameterError, match="non-finite"):
        irforge.Convolver(h, sample_rate=SR)


@pytest.mark.parametrize("sr", [0, -1, float("nan"), float("inf")])
def test_bad_sample_rate(sr):
    with pytest.raises(irforge.ParameterError, match="sample_rate"):
        irforge.Convolver(H, sample_rate=sr)
    with pytest.raises(irforge.ParameterError, match="sample_rate"):
        irforge.Convolver(H, sample_rate=SR).process(X, sr)
    with pytest.raises(irforge.ParameterError, match="sample_rate"):
        irforge.ImpulseResponse(H, sample_rate=sr)
    with pytest.raises(irforge.ParameterError, match="sample_rate"):
        irforge.convolve(X, H, sample_rate=sr)


def test_sample_rate_wrong_type():
    with pytest.raises(TypeError):
        irforge.Convolver(H, sample_rate="48k")


@pytest.mark.parametrize("bs", [0, -64])
def test_bad_buffer_size(bs):
    with pytest.raises(irforge.ParameterError, match="buffer_size"):
        irforge.Convolver(H, sample_rate=SR).process(X, SR, buffer_size=bs)


def test_bad_mode_mix_threads():
    with pytest.raises(irforge.ParameterError, match="mode"):
        irforge.convolve(X, H, mode="valid")
    with pytest.raises(irforge.ParameterError, match="mix"):
        irforge.Convolver(H, sample_rate=SR, mix=1.5)
    with pytest.raises(irforge.ParameterError, match="threads"):
        irforge.convolve(X, H, threads=0)


def test_empty_audio_streaming_returns_empty():
    fx = irforge.Convolver(H, sample_rate=SR)
    assert fx.process(np.zeros(0, np.float32), SR).shape == (0,)
    assert fx.process(np.zeros((2, 0), np.float32), SR).shape == (2, 0)


def test_channel_change_mid_stream():
    fx = irforge.Convolver(H, sample_rate=SR)
    fx.process(np.ones((2, 100), np.float32), SR)
    with pytest.raises(irforge.ParameterError, match="reset=True"):
        fx.process(np.ones((3, 100), np.float32), SR, reset=False)


def test_missing_and_unreadable_ir_files(tmp_path):
    missing = tmp_path / "nope.wav"
    with pytest.raises(FileNotFoundError, match="nope.wav"):
        irforge.ImpulseResponse.load(missing)
    with pytest.raises(FileNotFoundError, match="nope.wav"):
        irforge.Convolver(str(missing), sample_rate=SR)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    with pytest.raises(irforge.ParameterError, match="junk.wav"):
        irforge.ImpulseResponse.load(junk)
    with pytest.raises(irforge.ParameterError, match="directory"):
        irforge.ImpulseResponse.load(tmp_path)


def test_core_checks_again():
    # the C++ layer rejects what the Python layer would, with ValueError, never a crash
    with pytest.raises(ValueError):
        _core.convolve(np.ones((1, 10), np.float32), np.ones((1, 3), np.float32), [(0, 5, 0)], 1)
    with pytest.raises(ValueError):
        _core.convolve(np.ones((1, 10), np.float32), np.ones((1, 0), np.float32), [(0, 0, 0)], 1)
    with pytest.raises(ValueError):
        _core.Engine(np.ones((1, 3), np.float32), [(0, 0, 0)], 1, 1, 0)
    with pytest.raises(ValueError):
        _core.Engine(np.ones((1, 3), np.float32), [(2, 0, 0)], 1, 1, 64)
    e = _core.Engine(np.ones((1, 3), np.float32), [(0, 0, 0)], 1, 1, 64)
    with pytest.raises(ValueError):
        e.process(np.ones((2, 10), np.float32))
    with pytest.raises(ValueError):
        e.process(np.ones(10, np.float32))
    with pytest.raises(ValueError):
        _core.rfft(np.ones((1, 1000), np.float32))
