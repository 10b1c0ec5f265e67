"""Reliability of the core under hostile arguments: thread counts, size parameters, limits.

Each case that could kill or freeze the interpreter runs in a subprocess with a timeout, so
a crash or a hang fails the test instead of taking the test run down with it.
"""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import irforge
from irforge import _core


def _run(code: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.skipif("libasan" in __import__("os").environ.get("LD_PRELOAD", ""),
                    reason="ASan reserves terabytes of address space: RLIMIT_AS cannot be used under it "
                           "(the plain suite and the C++ test cover this)")
def test_many_threads_under_an_address_space_limit():
    # Thread stacks cannot all be mapped: the core must use fewer threads, not abort
    # ("terminate called without an active exception").
    r = _run("""
        import resource, numpy as np, irforge
        from irforge import _core
        x = np.random.default_rng(0).standard_normal((2, 48000)).astype(np.float32)
        h = np.random.default_rng(1).standard_normal(4800).astype(np.float32) * 0.01
        ref = irforge.convolve(x, h, sample_rate=48000, threads=1)
        with open("/proc/self/statm") as f:
            vm = int(f.read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (vm + (160 << 20), resource.RLIM_INFINITY))
        y = irforge.convolve(x, h, sample_rate=48000, threads=1000)
        w = np.hanning(1024).astype(np.float32)
        p_ref = _core.power_sum(x, w, 16, 2000, 1)
        p = _core.power_sum(x, w, 16, 2000, 1000)   # 64 threads of 8 MiB stacks do not fit
        print("maxdiff", max(float(np.max(np.abs(y - ref))), float(np.max(np.abs(p / p_ref - 1)))))
    """)
    assert r.returncode == 0, r.stderr[-2000:]
    assert float(r.stdout.split()[-1]) < 1e-5


def test_thread_count_is_capped():
    x = np.random.default_rng(0).standard_normal((1, 20000)).astype(np.float32)
    h = np.random.default_rng(1).standard_normal(300).astype(np.float32) * 0.01
    ref = np.convolve(x[0].astype(np.float64), h.astype(np.float64))
    y = irforge.convolve(x, h, sample_rate=48000, threads=100000)
    assert np.max(np.abs(y[0] - ref)) < 1e-4 * np.max(np.abs(ref))


@pytest.mark.parametrize("size", [2**63, 2**64 - 1, 2**40])
def test_engine_size_parameters_are_bounded(size):
    # next_pow2 looped forever for sizes in [2^63, 2^64) with the GIL released
    r = _run(f"""
        import numpy as np
        from irforge import _core
        h = np.ones((1, 100), np.float32)
        for args in [({size}, 0), (64, {size})]:
            try:
                _core.Engine(h, [(0, 0, 0)], 1, 1, *args)
            except ValueError as e:
                print("ValueError", e)
            else:
                print("accepted")
    """, timeout=30)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 2 and all(ln.startswith("ValueError") for ln in lines), r.stdout
    assert "at most" in lines[0]


def test_convolver_decay_into_denormals():
    # A decaying IR and a tiny impulse drive the engine's state into the denormal range:
    # with flush-to-zero the output holds no subnormal value, and the result is still right.
    sr = 48000
    h = np.exp(-np.arange(8000) / 40.0).astype(np.float32)
    x = np.zeros(16384, np.float32)
    x[0] = 1e-30
    fx = irforge.Convolver(h, sample_rate=sr)
    y = fx.process(x, sr, buffer_size=64)
    tiny = np.finfo(np.float32).tiny
    assert not np.any((y != 0) & (np.abs(y) < tiny))
    ref = (1e-30 * h.astype(np.float64))
    big = ref > 1e-36
    assert np.allclose(y[: h.size][big], ref[big], rtol=1e-4)


@pytest.mark.parametrize("bad", [np.nan, np.inf, 1e300])
def test_core_refuses_non_finite_and_out_of_range_samples(bad):
    # NaN/Inf spread through every FFT; float64 beyond float32's range became Inf in the cast
    x = np.zeros((1, 64))
    x[0, 5] = bad
    with pytest.raises(ValueError, match="NaN or Inf"):
        with np.errstate(over="ignore"):
            _core.rfft(x)
    with pytest.raises(ValueError, match="NaN or Inf"):
        with np.errstate(over="ignore"):
            _core.convolve(x, np.ones((1, 8), np.float32), [(0, 0, 0)], 1)


# ---- sample rates: a documented audio range, refused before anything is sized from them ----
@pytest.mark.parametrize("sr", [0.5, 999.0, 1e300, 1e-9, 768001.0])
def test_sample_rates_outside_the_audio_range_are_refused(sr):
    h = np.r_[1.0, np.zeros(99)].astype(np.float32)
    with pytest.raises(irforge.ParameterError, match="between 1000 and 768000 Hz"):
        irforge.ImpulseResponse(h, sample_rate=sr)
    with pytest.raises(irforge.ParameterError, match="between 1000 and 768000 Hz"):
        irforge.Convolver(h, sample_rate=sr)
    with pytest.raises(irforge.ParameterError, match="between 1000 and 768000 Hz"):
        irforge.deconvolve(np.zeros(1000, np.float32), h, sample_rate=sr)
    # the stream's rate too: soxr was asked to resample to 460 M samples and crashed
    fx = irforge.Convolver(irforge.ImpulseResponse(h, sample_rate=48000), sample_rate=48000)
    with pytest.raises(irforge.ParameterError, match="between 1000 and 768000 Hz"):
        fx.process(np.zeros(256, np.float32), sr)


def test_the_range_edges_work():
    h = np.r_[1.0, np.zeros(99)].astype(np.float32)
    for sr in (1000, 768000):
        ir = irforge.ImpulseResponse(h, sample_rate=sr)
        assert irforge.convolve(np.ones(10, np.float32), ir, sample_rate=sr).shape == (109,)
    assert irforge.ImpulseResponse(h, sample_rate=48000).resample(768000).n_samples == 1600


def test_a_wav_header_claiming_1_hz_is_refused_quickly(tmp_path):
    import soundfile as sf

    x = np.random.default_rng(0).standard_normal(4000).astype(np.float32) * 0.1
    di, cab = tmp_path / "di.wav", tmp_path / "cab.wav"
    sf.write(di, x, 1, subtype="FLOAT")     # a 16 KB file whose header says 1 Hz
    sf.write(cab, x[:480], 48000, subtype="FLOAT")
    r = subprocess.run([sys.executable, "-m", "irforge.cli", "convolve", str(di), str(cab),
                        str(tmp_path / "out.wav")], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "1000" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "out.wav").exists()


# ---- transposed arrays: refused clearly, never thousands of channels ----------------------
def test_samples_channels_arrays_are_refused_with_the_fix():
    rng = np.random.default_rng(0)
    h = (rng.standard_normal(4800) * 0.01).astype(np.float32)
    x = (rng.standard_normal((48000, 2)) * 0.1).astype(np.float32)
    with pytest.raises(irforge.ParameterError, match=r"looks like \(samples, channels\).*array\.T"):
        irforge.convolve(x, h, sample_rate=48000)          # was a (48000, 4801) result, 0.92 GB
    with pytest.raises(irforge.ParameterError, match=r"looks like \(samples, channels\)"):
        irforge.deconvolve(rng.standard_normal((4800, 3)).astype(np.float32), h, sample_rate=48000)
    with pytest.raises(irforge.ParameterError, match=r"looks like \(samples, channels\)"):
        irforge.ImpulseResponse(np.zeros((4800, 2), np.float32), sample_rate=48000)
    with pytest.raises(irforge.ParameterError, match="at most 64"):
        irforge.convolve(np.zeros((100, 200), np.float32), h, sample_rate=48000)
    # the transposed array works, and the effects take pedalboard's (samples, channels) too
    assert irforge.convolve(x.T, h, sample_rate=48000).shape == (2, 48000 + 4799)
    assert irforge.Convolver(h, sample_rate=48000).process(x, 48000).shape == (48000, 2)
    # small arrays stay (channels, samples): 2 channels of 1 sample
    assert irforge.convolve(np.ones((2, 1), np.float32), h, sample_rate=48000).shape == (2, 4800)


def test_a_denormal_ir_is_silent_not_a_crash():
    h = np.zeros(4800, np.float32)
    h[0] = 1e-41  # a float32 denormal: flushed to zero by the engine
    with pytest.raises(irforge.ParameterError, match="silent.*below -600 dBFS"):
        irforge.convolve(np.ones(100, np.float32), h, sample_rate=48000)
    with pytest.raises(irforge.ParameterError, match="silent"):
        irforge.Convolver(h, sample_rate=48000)


def test_big_endian_float_is_accepted():
    x = (np.random.default_rng(0).standard_normal(1000) * 0.1).astype(">f4")
    h = np.array([1.0, 0.5], ">f8")
    y = irforge.convolve(x, h, sample_rate=48000)
    ref = np.convolve(x.astype(np.float64), h.astype(np.float64))
    assert np.max(np.abs(y - ref)) < 1e-6


def test_absurd_lengths_and_latencies_are_refused():
    with pytest.raises(irforge.ParameterError, match="at most 3600 s"):
        irforge.sweeps.exponential(20, 20000, 1e9, sample_rate=48000)
    sw = irforge.sweeps.exponential(20, 20000, 0.2, sample_rate=48000)
    with pytest.raises(irforge.ParameterError, match="latency"):
        irforge.measure_ir(sw, sw.signal, latency=2**63)       # was an OverflowError
    from irforge.measure import ClippingWarning
    assert issubclass(ClippingWarning, irforge.ClippingWarning)  # one filter for all clipping


def test_offline_convolve_makes_no_copy_of_the_signal():
    # a 1-hour stereo array peaked at three times its size (input, a copy, output); now input +
    # output: the segments write straight into the output, the clipping check makes no abs() copy
    import tracemalloc

    x = np.zeros((2, 2_000_000), np.float32)
    x[:, ::1000] = 2.0                                     # hot: the clipping check runs
    h = np.r_[1.0, np.zeros(4799)].astype(np.float32)
    tracemalloc.start()
    with pytest.warns(irforge.ClippingWarning):
        y = irforge.convolve(x, h, sample_rate=48000, threads=4)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert y.nbytes <= peak < y.nbytes * 1.4, (peak, y.nbytes)   # + the NaN check's bool mask
