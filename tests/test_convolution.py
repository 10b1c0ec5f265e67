"""irforge.convolve and irforge.Convolver against scipy.signal.fftconvolve (float64)."""

import numpy as np
import pytest
import scipy.signal as ss

import irforge
from conftest import decaying_noise_ir, max_rel_err

SR = 48000
TOL = 1e-5  # max abs error relative to the reference's peak


def ref_full(x, h):
    return ss.fftconvolve(x.astype(np.float64), h.astype(np.float64))


IR_LENGTHS = [1, 2, 63, 64, 65, 4096, 48000, 10 * SR]


# ---- offline ----------------------------------------------------------------------------
@pytest.mark.parametrize("m", IR_LENGTHS)
def test_convolve_full_matches_fftconvolve(m):
    h = decaying_noise_ir(m, seed=m)
    x = np.random.default_rng(m).uniform(-1, 1, 3 * SR if m < SR else SR // 2).astype(np.float32)
    y = irforge.convolve(x, h)
    assert y.dtype == np.float32 and y.ndim == 1 and y.shape[0] == x.size + m - 1
    assert max_rel_err(y, ref_full(x, h)) <= TOL


def test_convolve_long_signal_uses_segments():
    # long enough that the offline path splits the signal over both cores
    h = decaying_noise_ir(9600, seed=3)
    x = np.random.default_rng(3).uniform(-1, 1, 40 * SR).astype(np.float32)
    y = irforge.convolve(x, h)
    assert max_rel_err(y, ref_full(x, h)) <= TOL
    assert np.array_equal(irforge.convolve(x, h, threads=1).shape, y.shape)
    assert max_rel_err(irforge.convolve(x, h, threads=1), ref_full(x, h)) <= TOL


@pytest.mark.parametrize("n,m,threads", [(3 * SR, 4096, 0), (40 * SR, 9600, 2), (40 * SR, 9600, 1), (1000, 5000, 0)])
def test_core_convolve_truncated_length_equals_full_prefix(n, m, threads):
    """The core's `length` (the tail past it is not computed) gives the full result's prefix,
    also when the signal is cut into segments over the threads."""
    from irforge import _core

    h = decaying_noise_ir(m, seed=m)[None, :]
    x = np.random.default_rng(n).uniform(-1, 1, (2, n)).astype(np.float32)
    routes = [(0, 0, 0), (1, 1, 0)]
    full = _core.convolve(x, h, routes, 2, threads)
    for length in (n, n + m // 2, n + m - 1):
        part = _core.convolve(x, h, routes, 2, threads, length)
        assert part.shape == (2, length)
        np.testing.assert_allclose(part, full[:, :length], rtol=0, atol=2e-6 * np.abs(full).max())
    with pytest.raises(ValueError, match="length"):
        _core.convolve(x, h, routes, 2, threads, n - 1)
    with pytest.raises(ValueError, match="length"):
        _core.convolve(x, h, routes, 2, threads, n + m)


def test_mode_same_trims_to_input_length():
    h = decaying_noise_ir(500)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 3000)).astype(np.float32)
    y = irforge.convolve(x, h, mode="same")
    assert y.shape == (2, 3000)
    ref = np.stack([ref_full(c, h)[:3000] for c in x])
    assert max_rel_err(y, ref) <= TOL


def test_float64_input_and_non_contiguous_read_only():
    h = decaying_noise_ir(300).astype(np.float64)
    base = np.random.default_rng(1).uniform(-1, 1, (4000, 2))
    x = base.T  # (2, 4000), not C-contiguous
    x.setflags(write=False)
    y = irforge.convolve(x, h)
    ref = np.stack([ref_full(c, h) for c in x])
    assert y.dtype == np.float32 and max_rel_err(y, ref) <= TOL


def test_empty_audio_returns_empty():
    h = decaying_noise_ir(100)
    assert irforge.convolve(np.zeros(0, np.float32), h).shape == (0,)
    assert irforge.convolve(np.zeros((2, 0), np.float32), h).shape == (2, 0)


# ---- routing ----------------------------------------------------------------------------
def _layout_ref(x, h):
    """Reference routing written out by hand."""
    if h.shape[0] == 1:
        return np.stack([ref_full(c, h[0]) for c in x])
    if h.shape[0] == 2:
        if x.shape[0] == 1:
            return np.stack([ref_full(x[0], h[0]), ref_full(x[0], h[1])])
        return np.stack([ref_full(x[0], h[0]), ref_full(x[1], h[1])])
    L, R = (x[0], x[0]) if x.shape[0] == 1 else (x[0], x[1])
    ll, lr, rl, rr = h
    return np.stack([ref_full(L, ll) + ref_full(R, rl), ref_full(L, lr) + ref_full(R, rr)])


@pytest.mark.parametrize("n_ir,n_audio", [(1, 1), (1, 2), (1, 3), (1, 6), (2, 1), (2, 2), (4, 1), (4, 2)])
def test_channel_layouts(n_ir, n_audio):
    h = decaying_noise_ir(2000, seed=5, channels=n_ir)
    x = np.random.default_rng(6).uniform(-1, 1, (n_audio, 5000)).astype(np.float32)
    ref = _layout_ref(x, h)
    y = irforge.convolve(x, h)
    assert y.shape == ref.shape
    assert max_rel_err(y, ref) <= TOL
    fx = irforge.Convolver(h, sample_rate=SR)
    ys = fx.process(x, SR, buffer_size=256)
    assert ys.shape == (ref.shape[0], x.shape[1])
    assert max_rel_err(ys, ref[:, : x.shape[1]]) <= TOL


def test_mono_1d_with_stereo_ir_gives_two_channels():
    h = decaying_noise_ir(100, channels=2)
    y = irforge.convolve(np.ones(10, np.float32), h)
    assert y.shape == (2, 109)


@pytest.mark.parametrize("n_ir,n_audio", [(3, 1), (2, 3), (4, 3), (5, 2), (8, 8)])
def test_unsupported_layouts_raise(n_ir, n_audio):
    h = decaying_noise_ir(64, channels=n_ir)
    x = np.zeros((n_audio, 100), np.float32)
    with pytest.raises(irforge.ParameterError, match="true-stereo"):
        irforge.convolve(x, h)
    with pytest.raises(irforge.ParameterError, match="supported"):
        irforge.Convolver(h, sample_rate=SR).process(x, SR)


# ---- streaming --------------------------------------------------------------------------
STREAM_CASES = [(m, b) for m in [1, 2, 63, 64, 65, 4096, 48000] for b in [1, 7, 64, 1000, 8192]]
STREAM_CASES += [(10 * SR, 64), (10 * SR, 1000), (10 * SR, 8192)]  # 10 s IR: enough plans


@pytest.mark.parametrize("m,block", STREAM_CASES)
def test_convolver_matches_reference(m, block):
    h = decaying_noise_ir(m, seed=m)
    n = 20000
    x = np.random.default_rng(block).uniform(-1, 1, n).astype(np.float32)
    # feed the signal and then zeros, so the whole tail comes out through the stream
    xin = np.concatenate([x, np.zeros(m - 1, np.float32)])
    fx = irforge.Convolver(h, sample_rate=SR)
    y = fx.process(xin, SR, buffer_size=block)
    assert y.shape == xin.shape and fx.latency_samples == 0 and fx.tail_samples == m - 1
    assert max_rel_err(y, ref_full(x, h)) <= TOL


@pytest.mark.parametrize("seed", range(4))
def test_random_chunks_equal_one_call(seed):
    r = np.random.default_rng(seed)
    h = decaying_noise_ir(int(r.integers(1, 30000)), seed=seed, channels=int(r.choice([1, 2, 4])))
    x = r.uniform(-1, 1, (2, 40000)).astype(np.float32)
    buffer_size = int(r.choice([1, 7, 64, 100, 512, 1000]))
    whole = irforge.Convolver(h, sample_rate=SR).process(x, SR, buffer_size=buffer_size)
    fx = irforge.Convolver(h, sample_rate=SR)
    parts, pos, first = [], 0, True
    while pos < x.shape[1]:
        c = int(r.integers(0, 3000))
        parts.append(fx.process(x[:, pos:pos + c], SR, buffer_size=buffer_size, reset=first))
        first = False
        pos += c
    chunked = np.concatenate(parts, axis=1)
    np.testing.assert_allclose(chunked, whole, atol=1e-6 * np.abs(whole).max())
    ref = _layout_ref(x, h)[:, : x.shape[1]]
    assert max_rel_err(chunked, ref) <= TOL


def test_reset_true_restarts_and_false_continues():
    h = decaying_noise_ir(1000)
    x = np.random.default_rng(2).uniform(-1, 1, 5000).astype(np.float32)
    fx = irforge.Convolver(h, sample_rate=SR)
    a = fx.process(x, SR)
    b = fx.process(x, SR)  # reset=True: same as the first call
    np.testing.assert_array_equal(a, b)
    c = fx.process(np.zeros(999, np.float32), SR, reset=False)  # the tail
    np.testing.assert_allclose(np.concatenate([a, c]), ref_full(x, h), atol=TOL * 2)
    fx.reset()
    np.testing.assert_array_equal(fx.process(x, SR, reset=False), a)


def test_channels_last_layout_like_pedalboard():
    h = decaying_noise_ir(300)
    x = np.random.default_rng(3).uniform(-1, 1, (6000, 2)).astype(np.float32)
    fx = irforge.Convolver(h, sample_rate=SR)
    y = fx(x, SR)
    assert y.shape == (6000, 2)
    ref = np.stack([ref_full(c, h)[:6000] for c in x.T], axis=1)
    assert max_rel_err(y, ref) <= TOL


def test_mix_and_gain():
    h = decaying_noise_ir(200)
    x = np.random.default_rng(4).uniform(-1, 1, 3000).astype(np.float32)
    wet = ref_full(x, h)[:3000]
    fx = irforge.Convolver(h, sample_rate=SR, mix=0.25, gain_db=-6.0)
    y = fx.process(x, SR)
    g = 10 ** (-6 / 20)
    assert max_rel_err(y, 0.75 * x + 0.25 * g * wet) <= TOL
    fx.mix = 1.0
    fx.gain_db = 0.0
    assert max_rel_err(fx.process(x, SR), wet) <= TOL


def test_ir_at_other_rate_is_resampled():
    # the same band-limited IR at 44.1 kHz and at 48 kHz gives (nearly) the same output
    t44 = np.arange(4410) / 44100
    t48 = np.arange(4800) / 48000
    f = lambda t: np.sinc(8000 * (t - 0.01)) * np.exp(-t / 0.01)  # noqa: E731
    ir44 = irforge.ImpulseResponse(f(t44) * 48000 / 44100 / 10, sample_rate=44100)
    ir48 = f(t48) / 10
    x = np.random.default_rng(5).uniform(-1, 1, 48000).astype(np.float32)
    x = ss.sosfilt(ss.butter(8, 6000, fs=SR, output="sos"), x).astype(np.float32)
    y = irforge.convolve(x, ir44, sample_rate=SR)
    ref = ref_full(x, ir48)
    n = min(len(y), len(ref)) - 500
    rel = np.sqrt(np.mean((y[:n] - ref[:n]) ** 2) / np.mean(ref[:n] ** 2))
    assert rel < 0.01, rel
    fx = irforge.Convolver(ir44, sample_rate=SR)
    assert fx.tail_samples == 4799


# ---- real material ----------------------------------------------------------------------
@pytest.mark.parametrize("ir_file,di_file", [
    ("cab_ir/adventurekid_Modern_UK_001.wav", "dry/guitarDI_gulmini_input_001.wav"),
    ("room_ir/spatialaudio_brir_sweep_Netzwerkakademie_KEMAR_from_mat.wav", "dry/speech_spatialaudio_xmas_male_voice.wav"),
    ("room_ir/openair_SpokaneWomansClub_stereo_44k.wav", "dry/perc_spatialaudio_castanets_dry.wav"),
])
def test_real_irs_and_audio(ir_file, di_file):
    import soundfile as sf

    from conftest import data_file
    ir = irforge.ImpulseResponse.load(data_file(ir_file))
    audio, sr = sf.read(data_file(di_file), dtype="float32", always_2d=True)
    x = audio.T[:1]  # mono
    assert sr == ir.sample_rate
    h = ir.data
    y = irforge.convolve(x, ir, sample_rate=sr)
    ref = _layout_ref(x, h)
    assert max_rel_err(y, ref) <= TOL
    fx = irforge.Convolver(ir, sample_rate=sr)
    ys = fx.process(x, sr, buffer_size=512)
    assert max_rel_err(ys, ref[:, : x.shape[1]]) <= TOL


def test_long_ir_60_s():
    m = 60 * SR
    h = decaying_noise_ir(m, seed=60)
    x = np.zeros(SR // 10, np.float32)
    x[[0, 100, 2000]] = [1.0, -0.5, 0.25]
    y = irforge.convolve(x, h)
    ref = np.zeros(x.size + m - 1)
    for k, a in zip([0, 100, 2000], [1.0, -0.5, 0.25]):
        ref[k:k + m] += a * h
    assert max_rel_err(y, ref) <= TOL


# ---- silent misuse (issue 10, section 7) ------------------------------------------------
def _real_cab():
    from conftest import data_file

    return irforge.ImpulseResponse.load(data_file("cab_ir/adventurekid_Modern_UK_001.wav"))


def _real_di(seconds=2.0):
    import soundfile as sf

    from conftest import data_file

    x, sr = sf.read(data_file("dry/guitarDI_gulmini_input_001.wav"), dtype="float32")
    return x[:int(seconds * sr)], sr


def test_hot_cab_convolution_warns_with_peak_and_fix():
    import warnings

    cab = _real_cab()
    x, sr = _real_di()
    with pytest.warns(irforge.ClippingWarning, match=r"peaks at .*dBFS.*--normalize") as rec:
        y = irforge.convolve(x, cab, sample_rate=sr)
    n = int(np.count_nonzero(np.abs(y) > 1))
    assert n > 1000 and f"{n} of {y.size}" in str(rec[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        irforge.convolve(x * (0.9 / np.abs(y).max()), cab, sample_rate=sr)   # below full scale


def test_silent_ir_is_refused():
    x, sr = _real_di(0.1)
    for h in (np.zeros(512, np.float32), np.zeros((4, 8000), np.float32)):
        with pytest.raises(irforge.ParameterError, match="silent"):
            irforge.convolve(x, h)
        with pytest.raises(irforge.ParameterError, match="silent"):
            irforge.Convolver(h, sample_rate=sr)


def test_tail_samples_follow_the_stream_rate():
    cab = _real_cab()                                   # 9671 samples at 44.1 kHz
    fx = irforge.Convolver(cab, sample_rate=44100)
    assert fx.tail_samples == cab.n_samples - 1
    x = np.zeros((2, 256), np.float32)
    fx.process(x, 48000)
    assert fx.tail_samples == cab.resample(48000).n_samples - 1 > 10500
    y = fx.process(np.r_[1.0, np.zeros(20000)].astype(np.float32), 48000)
    env = np.abs(y).max(axis=0)
    nz = np.flatnonzero(env > 1e-5 * env.max())     # above the FFT round-off of the engine
    assert fx.tail_samples - 50 <= nz[-1] <= fx.tail_samples


def test_engine_schedules_agree_with_offline_convolution():
    """The streaming engine's two schedules (spread: later stages' work paced over the next
    block, the default; immediate) give the offline result, whatever the call sizes."""
    from irforge import _core

    rng = np.random.default_rng(12)
    h = (rng.standard_normal(30000) * np.exp(-np.arange(30000) / 6000.0)).astype(np.float32)
    x = rng.standard_normal(60000).astype(np.float32)
    ref = np.convolve(x.astype(np.float64), h.astype(np.float64))[: x.size]
    sizes = [64, 1, 257, 64, 4096, 3]
    for schedule in ("spread", "immediate"):
        eng = _core.Engine(h[None], [(0, 0, 0)], 1, 1, 64, 1024, schedule)
        out, i, k = [], 0, 0
        while i < x.size:
            b = sizes[k % len(sizes)]
            out.append(eng.process(x[None, i:i + b])[0])
            i, k = i + b, k + 1
        y = np.concatenate(out)
        assert np.max(np.abs(y - ref)) <= 2e-5 * np.max(np.abs(ref)), schedule
    with pytest.raises(ValueError, match="schedule"):
        _core.Engine(h[None], [(0, 0, 0)], 1, 1, 64, 0, "later")


def test_spread_plans_start_later_stages_two_blocks_in():
    from irforge import _core

    for head in (32, 64, 512):
        plan = _core._internal.plan_partitions(480000, head, 16384, True)
        assert all(off >= 2 * size for size, off, _ in plan[1:])
        assert plan[0] == (head, 0, plan[0][2])
