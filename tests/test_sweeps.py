"""Test signals: exponential (synchronized), linear, periodic, complex pair, MLS, playback files."""

import math

import numpy as np
import pytest
import soundfile as sf

import irforge
from irforge import sweeps

SR = 48000


@pytest.mark.parametrize("sr", [44100, 48000, 96000])
def test_exponential_instantaneous_frequency(sr):
    sw = sweeps.exponential(20, 20000, 2.0, sample_rate=sr, fade_in_s=0, fade_out_s=0)
    assert sw.signal.ndim == 1 and sw.signal.dtype == np.float64 and sw.sample_rate == sr
    assert sw.kind == "exponential" and sw.synchronized
    # synchronized: f_start * L is an integer; duration = L ln(f1/f0)
    assert abs(sw.f_start_hz * sw.rate_s - round(sw.f_start_hz * sw.rate_s)) < 1e-9
    assert sw.duration_s == pytest.approx(sw.rate_s * math.log(1000), abs=1 / sr)
    # zero crossings: instantaneous frequency f0 * exp(t/L) near the middle of the sweep
    t_mid = sw.duration_s / 2
    f_mid = 20 * math.exp(t_mid / sw.rate_s)
    i = int(t_mid * sr)
    seg = sw.signal[i - 2000:i + 2000]
    crossings = np.count_nonzero(np.diff(np.signbit(seg)))
    assert crossings / 2 / (4000 / sr) == pytest.approx(f_mid, rel=0.02)
    assert np.max(np.abs(sw.signal)) <= 0.5 + 1e-12


def test_synchronized_harmonics_are_time_shifted_sweeps():
    """Novak et al. 2015: sin(k phi(t)) == sin(phi(t + L ln k)) for the synchronized sweep."""
    sw = sweeps.exponential(50, 2000, 1.0, sample_rate=SR, fade_in_s=0, fade_out_s=0, amplitude=1.0)
    L = sw.rate_s
    t = np.arange(len(sw.signal)) / SR
    phi = 2 * np.pi * 50 * L * np.expm1(t / L)
    for k in (2, 3):
        shifted = np.sin(2 * np.pi * 50 * L * np.expm1((t + L * math.log(k)) / L))
        assert np.max(np.abs(np.sin(k * phi) - shifted)) < 1e-6
        assert sw.harmonic_delay_s(k) == pytest.approx(L * math.log(k))


def test_unsynchronized_keeps_duration():
    sw = sweeps.exponential(20, 20000, 1.0, sample_rate=SR, synchronized=False)
    assert sw.n_samples == SR and not sw.synchronized


def test_linear_and_inverse_filters():
    lin = sweeps.linear(0, 24000, 0.5, sample_rate=SR)
    assert lin.signal.shape == (SR // 2,) and lin.kind == "linear"
    exp = sweeps.exponential(20, 20000, 1.0, sample_rate=SR)
    for sw in (lin, exp):
        inv = sw.inverse_filter()
        g = np.abs(np.fft.rfft(sw.signal, 1 << 18) * np.fft.rfft(inv, 1 << 18))
        f = np.fft.rfftfreq(1 << 18, 1 / SR)
        band = (f > 500) & (f < 10000)
        # Farina's amplitude-compensated inverse: flat within +-1 dB inside the band
        assert np.all(np.abs(20 * np.log10(g[band])) < 1.0)


def test_periodic_tiles():
    base = sweeps.linear(20, 20000, 0.1, sample_rate=SR)
    p = sweeps.periodic(base, 3)
    assert p.periods == 3 and p.period_samples == base.n_samples
    np.testing.assert_array_equal(p.signal, np.tile(base.signal, 3))
    with pytest.raises(irforge.ParameterError):
        sweeps.periodic(p, 2)
    with pytest.raises(TypeError):
        sweeps.periodic(base.signal, 2)
    with pytest.raises(irforge.ParameterError):
        sweeps.periodic(base, 0)


def test_complex_pair_is_flat_full_band():
    sw = sweeps.complex_pair(0.25, sample_rate=SR)
    z = sw.signal + 1j * sw.signal_sine
    assert np.allclose(np.abs(z), 0.5)
    mag = np.abs(np.fft.fft(z))
    assert mag.max() / mag.min() < 1.0001        # constant DFT magnitude: nothing to divide by zero


def test_mls_autocorrelation():
    sw = sweeps.mls(10, sample_rate=SR, amplitude=1.0, periods=1)
    s = sw.signal
    r = np.fft.ifft(np.abs(np.fft.fft(s)) ** 2).real
    assert r[0] == pytest.approx(1023) and np.allclose(r[1:], -1)


@pytest.mark.parametrize("kwargs", [
    dict(f_start_hz=0, f_end_hz=20000), dict(f_start_hz=-5, f_end_hz=20000),
    dict(f_start_hz=20, f_end_hz=30000), dict(f_start_hz=2000, f_end_hz=1000),
])
def test_exponential_bad_band(kwargs):
    with pytest.raises(irforge.ParameterError, match="f_start_hz|f_end_hz|Nyquist") as e:
        sweeps.exponential(duration_s=1.0, sample_rate=SR, **kwargs)
    assert str(kwargs["f_end_hz"] if kwargs["f_end_hz"] > 24000 else kwargs["f_start_hz"]) in str(e.value) \
        or "above f_start_hz" in str(e.value)


def test_bad_parameters():
    with pytest.raises(irforge.ParameterError, match="duration"):
        sweeps.exponential(20, 20000, 1e-5, sample_rate=SR)
    with pytest.raises(irforge.ParameterError, match="fade"):
        sweeps.linear(20, 20000, 0.1, sample_rate=SR, fade_in_s=0.1, fade_out_s=0.1)
    with pytest.raises(irforge.ParameterError, match="amplitude"):
        sweeps.linear(20, 20000, 0.1, sample_rate=SR, amplitude=2.0)
    with pytest.raises(TypeError):
        sweeps.exponential("20", 20000, 1.0, sample_rate=SR)
    with pytest.raises(irforge.ParameterError, match="order"):
        sweeps.mls(30, sample_rate=SR)
    with pytest.raises(irforge.ParameterError, match="sample_rate"):
        sweeps.linear(20, 200, 1.0, sample_rate=-1)


def test_write_playback(tmp_path):
    sw = sweeps.exponential(20, 20000, 0.5, sample_rate=SR)
    path = tmp_path / "play.wav"
    pb = sweeps.write_playback(path, sw, repeats=2, gap_s=0.5, pre_silence_s=0.1, post_silence_s=0.5)
    data, sr = sf.read(path, dtype="float64")
    assert sr == SR and len(data) == len(pb.signal)
    np.testing.assert_allclose(data, pb.signal, atol=1e-7)
    s0, s1 = pb.sweep_starts
    assert s1 - s0 == sw.n_samples + int(0.5 * SR)
    np.testing.assert_allclose(data[s0:s0 + sw.n_samples], sw.signal, atol=1e-7)
    assert pb.marker_start == int(0.1 * SR) and np.abs(pb.marker).max() > 0
    # never overwrites by default; no temp files left behind
    with pytest.raises(FileExistsError):
        sweeps.write_playback(path, sw)
    sweeps.write_playback(path, sw, repeats=1, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["play.wav"]
