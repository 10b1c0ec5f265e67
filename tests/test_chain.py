"""irforge.Chain: pedalboard plugins and irforge effects in one chain, latency compensated,
streaming equal to one call, tails flushed. References: the members applied one by one by hand,
and irforge.convolve / scipy for the convolution."""
from __future__ import annotations

import numpy as np
import pedalboard
import pytest
import scipy.signal

import irforge
from irforge.deconvolution import Deconvolver

from conftest import decaying_noise_ir, load_mono

FS = 48000


def _di(seconds=1.0):
    return load_mono("dry/guitarDI_gulmini_loop.wav", FS, seconds).astype(np.float32) * 0.5


def _cab():
    return load_mono("cab_ir/adventurekid_Modern_UK_001.wav", FS).astype(np.float32)


def _latency(m):
    return 0 if isinstance(m, pedalboard.Plugin) else int(getattr(m, "latency_samples", 0))


def _by_hand(members, x):
    """Each member on the whole take padded with the chain's total latency of silence, its
    own latency dropped from the front, cut to the take's length at the end."""
    n = x.shape[1]
    x = np.concatenate([x, np.zeros((x.shape[0], sum(map(_latency, members))), np.float32)], 1)
    for m in members:
        y = m.process(x, FS, reset=True)
        x = (y if y.ndim == 2 else y[None])[:, _latency(m):]
    return x[:, :n]


# -- the list protocol ---------------------------------------------------------------------
def test_list_operations():
    g, c, r = pedalboard.Gain(gain_db=-6), irforge.Convolver(_cab(), sample_rate=FS), pedalboard.Reverb()
    ch = irforge.Chain([g])
    ch.append(r)
    ch.insert(1, c)
    assert len(ch) == 3 and ch[0] is g and ch[1] is c and ch[-1] is r
    assert list(ch) == [g, c, r]
    sub = ch[1:]
    assert isinstance(sub, irforge.Chain) and list(sub) == [c, r]
    del ch[2]
    assert list(ch) == [g, c]
    ch.remove(g)
    assert list(ch) == [c]
    ch[0] = r
    assert ch[0] is r and c not in ch
    assert "Reverb" in repr(ch)


def test_refuses_member_without_process():
    with pytest.raises(TypeError, match="process"):
        irforge.Chain([lambda x, sr: x])
    ch = irforge.Chain()
    with pytest.raises(TypeError, match="process"):
        ch.append(object())


# -- one call ------------------------------------------------------------------------------
def test_mixed_chain_equals_members_by_hand():
    x = np.stack([_di(), _di()[::-1].copy()])
    members = [pedalboard.Gain(gain_db=-6), irforge.Convolver(_cab(), sample_rate=FS),
               pedalboard.Compressor(threshold_db=-20, ratio=4)]
    y = irforge.Chain(members)(x, FS)
    ref = _by_hand(members, x)
    assert y.shape == x.shape
    np.testing.assert_allclose(y, ref, atol=1e-6 * np.max(np.abs(ref)))
    # and the convolution inside is irforge.convolve's (scipy as the slow reference)
    y2 = irforge.Chain([irforge.Convolver(_cab(), sample_rate=FS)])(x[0], FS)
    ref2 = scipy.signal.fftconvolve(x[0].astype(np.float64), _cab().astype(np.float64))[:x.shape[1]]
    assert np.max(np.abs(y2 - ref2)) < 1e-5 * np.max(np.abs(ref2))


def test_deconvolver_latency_compensated_nothing_cut():
    """The issue's case: a Deconvolver in a hand-built chain cut its latency (1.49 s at the
    default length) off the end of the take. In a Chain the output is aligned and whole."""
    h = _cab()
    dry = _di(3.0) * 0.1
    rec = irforge.convolve(dry, h, sample_rate=FS, mode="full")
    d = Deconvolver(h, sample_rate=FS)
    assert d.latency_samples > FS  # the default filter is long: > 1 s of latency
    ch = irforge.Chain([pedalboard.Gain(gain_db=0.0), d])
    y = ch(rec, FS)
    assert y.shape == rec.shape
    ref = _by_hand([pedalboard.Gain(gain_db=0.0), d], rec[None])[0]
    np.testing.assert_allclose(y, ref, atol=1e-5 * np.max(np.abs(ref)))
    y = y[:len(dry)]

    def snr(sl):
        return 10 * np.log10(np.sum(dry[sl] ** 2) / np.sum((y[sl] - dry[sl]) ** 2))

    # the last latency_samples are there and are the dry signal (silence would be 0 dB),
    # like the rest of the take
    tail = slice(len(dry) - d.latency_samples, len(dry))
    core = slice(FS // 10, len(dry) - d.latency_samples)
    assert snr(tail) > 10 and snr(core) > 10


def test_layouts_follow_pedalboard():
    x = np.stack([_di(0.2), _di(0.2)])
    ch = irforge.Chain([irforge.Convolver(decaying_noise_ir(256), sample_rate=FS)])
    y_first = ch(x, FS)
    y_last = ch(x.T.copy(), FS)
    assert y_last.shape == x.T.shape
    np.testing.assert_array_equal(y_last.T, y_first)
    y1 = ch(x[0], FS)
    assert y1.ndim == 1 and y1.shape == x[0].shape
    np.testing.assert_array_equal(y1, y_first[0])
    # mono in, stereo IR: two channels out
    stereo = irforge.Chain([irforge.Convolver(decaying_noise_ir(256, channels=2), sample_rate=FS),
                            pedalboard.Gain(gain_db=-1)])
    assert stereo(x[0], FS).shape == (2, x.shape[1])


# -- streaming -----------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1])
def test_streaming_equals_one_call_and_flush_gives_tail(seed):
    rng = np.random.default_rng(seed)
    h = _cab()
    x = np.stack([_di(0.5), _di(0.5)[::-1].copy()])
    d = Deconvolver(h, sample_rate=FS, filter_length=8192)
    members = [pedalboard.Gain(gain_db=-3), d, irforge.Convolver(h, sample_rate=FS)]
    ch = irforge.Chain(members)
    one = ch(x, FS)
    ch.reset()
    outs, i = [], 0
    while i < x.shape[1]:
        n = int(rng.choice([1, 2, 3, 17, 64, 500, 4096]))   # 1- and 2-sample stereo blocks held
        y = ch.process(x[:, i:i + n], FS, reset=False)
        assert y.shape[0] == 2 and y.shape[1] <= n + 2
        outs.append(y)
        i += n
    streamed = np.concatenate(outs, 1)
    assert streamed.shape[1] <= x.shape[1]
    tail = ch.flush()
    assert tail.shape[1] == x.shape[1] - streamed.shape[1] + ch.tail_samples
    whole = np.concatenate([streamed, tail], 1)
    # equal within float32 rounding (the engines see other block boundaries)
    np.testing.assert_allclose(whole[:, :x.shape[1]], one, atol=1e-5 * np.max(np.abs(one)))
    # the tail continues the take: the deconvolver's whole output (its tail included)
    # through the full convolution
    lat, tail_d = d.latency_samples, d.tail_samples
    xp = members[0].process(x, FS)
    dec = d.process(np.concatenate([xp, np.zeros((2, lat + tail_d), np.float32)], 1), FS)[:, lat:]
    full = irforge.convolve(dec, h, sample_rate=FS, mode="full")
    assert full.shape == whole.shape
    assert np.max(np.abs(whole - full)) < 1e-4 * np.max(np.abs(full))


def test_flush_after_a_take_returns_the_convolution_tail():
    h = decaying_noise_ir(3000)
    x = _di(0.25)
    ch = irforge.Chain([irforge.Convolver(h, sample_rate=FS)])
    y = ch(x, FS)
    tail = ch.flush()
    assert ch.tail_samples == len(h) - 1 and tail.shape == (1, len(h) - 1)
    ref = scipy.signal.fftconvolve(x.astype(np.float64), h.astype(np.float64))
    got = np.concatenate([y, tail[0]])
    assert np.max(np.abs(got - ref)) < 1e-5 * np.max(np.abs(ref))
    extra = ch.flush(extra_samples=100)
    # the silence flushed is part of the stream now: its own tail (silent) and the extra
    assert extra.shape == (1, len(h) - 1 + 100) and np.max(np.abs(extra)) < 1e-6


def test_nested_chain_and_latency_sum():
    h = _cab()
    d1 = Deconvolver(h, sample_rate=FS, filter_length=4096)
    d2 = Deconvolver(h, sample_rate=FS, filter_length=2048)
    inner = irforge.Chain([d1])
    outer = irforge.Chain([pedalboard.Gain(gain_db=-2), inner, d2])
    assert outer.latency_samples == d1.latency_samples + d2.latency_samples
    x = _di(0.3)
    y = outer(x, FS)
    assert y.shape == x.shape
    ref = _by_hand([pedalboard.Gain(gain_db=-2), d1, d2], x[None])[0]
    np.testing.assert_allclose(y, ref, atol=1e-5 * np.max(np.abs(ref)))


# -- refusals ------------------------------------------------------------------------------
def test_stream_mismatch_and_bad_input_refused():
    ch = irforge.Chain([irforge.Convolver(decaying_noise_ir(64), sample_rate=FS)])
    ch.process(np.zeros((2, 100), np.float32), FS, reset=False)
    with pytest.raises(irforge.ParameterError, match="44100"):
        ch.process(np.zeros((2, 100), np.float32), 44100, reset=False)
    with pytest.raises(irforge.ParameterError, match="channel"):
        ch.process(np.zeros((3, 100), np.float32), FS, reset=False)
    with pytest.raises(irforge.ParameterError, match="finite|NaN"):
        ch.process(np.full((2, 100), np.nan, np.float32), FS)
    with pytest.raises(irforge.ParameterError, match="1-D or 2-D"):
        ch.process(np.zeros((1, 2, 100), np.float32), FS)
    with pytest.raises(irforge.ParameterError, match="nothing to flush"):
        irforge.Chain([pedalboard.Gain()]).flush()


def test_continuing_a_completed_take_is_refused():
    d = Deconvolver(_cab(), sample_rate=FS, filter_length=2048)
    ch = irforge.Chain([d])
    ch(_di(0.1), FS)
    with pytest.raises(irforge.ParameterError, match="cannot continue"):
        ch.process(_di(0.1), FS, reset=False)
    ch.reset()
    ch.process(_di(0.1), FS, reset=False)  # a fresh stream is fine


def test_to_pedalboard():
    ch = irforge.Chain([pedalboard.Gain(gain_db=-6), pedalboard.Reverb(room_size=0.3)])
    board = ch.to_pedalboard()
    assert isinstance(board, pedalboard.Pedalboard) and len(board) == 2
    x = np.stack([_di(0.3)] * 2)
    np.testing.assert_allclose(board(x, FS), ch(x, FS), atol=1e-6)

    class NoPlugin:
        def process(self, x, sample_rate, buffer_size=8192, reset=True):
            return x

    with pytest.raises(irforge.ParameterError, match="member 1 .*NoPlugin"):
        irforge.Chain([pedalboard.Gain(), NoPlugin()]).to_pedalboard()


def test_any_object_with_process_signature():
    class Invert:
        def process(self, x, sample_rate, buffer_size=8192, reset=True):
            return -x

    x = _di(0.1)
    y = irforge.Chain([Invert(), pedalboard.Gain(gain_db=0)])(x, FS)
    np.testing.assert_allclose(y, -x, atol=1e-7)
