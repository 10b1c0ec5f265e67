"""measure_ir: accuracy on real IRs, harmonic separation, averaging, alignment, layouts, bad input."""

import warnings

import numpy as np
import pytest
import scipy.signal as ss
import soundfile as sf

import irforge
from irforge import sweeps
from irforge.measure import ClippingWarning
from conftest import DATA, data_file

SR = 48000
REAL_IRS = sorted(str(p.relative_to(DATA)) for p in DATA.glob("*_ir/*.wav")) if DATA.exists() else \
    ["room_ir/spatialaudio_rir_clap_seminar_room.wav"]


def band_limit(h, lo=100.0, hi=16000.0):
    """Zero-phase FFT band-limit to lo..hi Hz (raised-cosine skirts 70-100 Hz, 16-18 kHz)."""
    n = len(h)
    nf = 1 << int(np.ceil(np.log2(2 * n)))
    f = np.fft.rfftfreq(nf, 1 / SR)
    m = np.clip((f - 0.7 * lo) / (0.3 * lo), 0, 1) * np.clip((1.125 * hi - f) / (0.125 * hi), 0, 1)
    return np.fft.irfft(np.fft.rfft(h, nf) * (0.5 - 0.5 * np.cos(np.pi * m)), nf)[:n]


def err_db(est, h):
    """20 log10(||h_est - h|| / ||h||) after band-limiting both to 100 Hz - 16 kHz (issue 3)."""
    e = np.zeros(len(h))
    m = min(len(h), len(est))
    e[:m] = est[:m]
    a, b = band_limit(e), band_limit(np.asarray(h, float))
    return 20 * np.log10(np.linalg.norm(a - b) / np.linalg.norm(b))


def load_ir48(rel):
    import soxr

    d, sr = sf.read(data_file(rel), always_2d=True)
    h = d[:, 0]                                   # channel 0 (W of the B-format files)
    if sr != SR:
        h = soxr.resample(h, sr, SR, quality="VHQ")
    return h / np.linalg.norm(h)                  # unit-energy system: noise is 60 dB below the excitation


def record(x, h, rng, noise_rel=1e-3, tail_s=0.25, lead=0):
    y = irforge.convolve(x, h).astype(np.float64)
    y = np.concatenate([np.zeros(lead), y, np.zeros(int(tail_s * SR))])
    return y + rng.standard_normal(len(y)) * np.std(x) * noise_rel


def nonlinear(x):
    """y = x + 0.2 x^2 at 4x oversampling (no aliasing), DC removed."""
    xu = ss.resample_poly(x, 4, 1)
    yu = xu + 0.2 * xu * xu
    return ss.resample_poly(yu - yu.mean(), 1, 4)


# -- quality targets --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def exp_sweep():
    return sweeps.exponential(20, 20000, 5.0, sample_rate=SR)


@pytest.mark.parametrize("rel", REAL_IRS)
def test_exponential_sweep_error_on_real_irs(rel, exp_sweep):
    h = load_ir48(rel)
    rng = np.random.default_rng(7)
    y = record(exp_sweep.signal, h, rng)
    ir = irforge.measure_ir(exp_sweep, y, ir_length_s=len(h) / SR + 0.1)
    assert ir.metadata["method"] == "inverse" and ir.metadata["latency_samples"] == 0
    e = err_db(ir.data[0], h)
    assert e <= -45.0, f"{rel}: {e:.1f} dB"
    # plain (unregularized) division: the noise where |X| is tiny (outside 20 Hz-20 kHz) blows up,
    # and the IR window spreads it over the band
    plain = irforge.measure_ir(exp_sweep, y, method="division", regularization_db=None,
                               ir_length_s=len(h) / SR + 0.1)
    e_plain = err_db(plain.data[0], h)
    assert e_plain > e + 25, (e, e_plain)


@pytest.mark.parametrize("rel", ["cab_ir/adventurekid_Modern_UK_001.wav",
                                 "room_ir/spatialaudio_rir_clap_seminar_room.wav"])
def test_harmonic_separation_beats_linear_sweep(rel, exp_sweep):
    h = load_ir48(rel)
    rng = np.random.default_rng(3)
    lin = sweeps.linear(20, 20000, 5.0, sample_rate=SR)
    errs = {}
    for name, sw in (("exp", exp_sweep), ("lin", lin)):
        y = record(nonlinear(sw.signal), h, rng)
        ir = irforge.measure_ir(sw, y, ir_length_s=len(h) / SR + 0.1)
        errs[name] = err_db(ir.data[0], h)
        if name == "exp":
            assert set(ir.harmonics) == {2, 3, 4, 5}
            thd = ir.metadata["thd"]
            assert thd["thd"].shape == (1, len(thd["frequency_hz"]))
            # the 2nd harmonic dominates; the 3rd window holds only noise (pure x^2)
            e2 = float(np.sum(ir.harmonics[2].data.astype(float) ** 2))
            e3 = float(np.sum(ir.harmonics[3].data.astype(float) ** 2))
            assert e2 > 10 * e3
    assert errs["exp"] <= -35.0, errs
    assert errs["lin"] > errs["exp"] + 5.0, errs


def test_harmonic_level_matches_theory():
    """y = x + 0.2 x^2, amplitude A: the 2nd harmonic is 0.1 A relative to the fundamental."""
    sw = sweeps.exponential(20, 20000, 3.0, sample_rate=SR, amplitude=0.5)
    y = np.concatenate([nonlinear(sw.signal), np.zeros(SR // 4)])
    ir = irforge.measure_ir(sw, y, ir_length_s=0.1)
    thd = ir.metadata["thd"]
    f = thd["frequency_hz"]
    mid = (f > 200) & (f < 5000)
    np.testing.assert_allclose(thd["thd"][0, mid], 0.05, rtol=0.1)


def test_periodic_averaging_gain():
    rng = np.random.default_rng(11)
    h = np.zeros(2000)
    h[[30, 400]] = [1.0, -0.4]
    h[30:] += 0.05 * rng.standard_normal(1970) * np.exp(-np.arange(1970) / 300)
    base = sweeps.linear(0, SR / 2, 0.1, sample_rate=SR, fade_out_s=0)
    floors = {}
    for p in (2, 9):                       # 1 and 8 steady-state periods (the first is pre-excitation)
        sw = sweeps.periodic(base, p)
        errs = []
        for _ in range(4):
            y = irforge.convolve(sw.signal, h).astype(float)[: len(sw.signal)]
            y = y + rng.standard_normal(len(y)) * 0.01
            ir = irforge.measure_ir(sw, y, latency=0)
            assert ir.metadata["periods_averaged"] == p - 1
            errs.append(np.sum((ir.data[0, :2000] - h) ** 2))
        floors[p] = 10 * np.log10(np.mean(errs))
    gain = floors[2] - floors[9]
    assert gain == pytest.approx(10 * np.log10(8), abs=1.5), floors


# -- alignment ---------------------------------------------------------------------------------
def small_system():
    h = np.zeros(3000)
    h[[200, 900, 2000]] = [1.0, -0.3, 0.1]
    return h


def onset(ir):
    """ISO 3382-1 onset: first sample whose energy is within 20 dB of the peak's."""
    e = ir.data[0].astype(np.float64) ** 2
    return int(np.argmax(e >= 0.01 * e.max()))


def test_latency_modes():
    sw = sweeps.exponential(20, 20000, 1.0, sample_rate=SR)
    h = small_system()
    rng = np.random.default_rng(1)
    y = record(sw.signal, h, rng, tail_s=0.1, lead=1000)             # recording started 1000 samples early
    ir = irforge.measure_ir(sw, y, ir_length_s=0.1)                  # auto -> none: timeline kept
    assert ir.metadata["latency_mode"] == "none" and np.argmax(np.abs(ir.data[0])) == 1200
    ir = irforge.measure_ir(sw, y, ir_length_s=0.1, latency=1000)    # known latency
    assert np.argmax(np.abs(ir.data[0])) == 200
    # estimated latencies put the first arrival (not the strongest peak) pre_delay_s after 0
    ir = irforge.measure_ir(sw, y, ir_length_s=0.1, latency="xcorr", pre_delay_s=0.001)
    assert onset(ir) == 48
    # recording started late (first 0.05 s of the sweep missing): found by cross-correlation
    late = record(sw.signal, h, rng, tail_s=0.1)[2400:]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ir = irforge.measure_ir(sw, late, ir_length_s=0.1)
    assert ir.metadata["latency_mode"] == "xcorr" and onset(ir) == int(0.005 * SR)


def test_playback_with_marker_and_repeats(tmp_path):
    sw = sweeps.exponential(20, 20000, 0.5, sample_rate=SR)
    pb = sweeps.write_playback(tmp_path / "p.wav", sw, repeats=3, gap_s=0.3, pre_silence_s=0.2)
    h = small_system()
    rng = np.random.default_rng(2)
    y = record(pb.signal, h, rng, tail_s=0, lead=3333)               # unknown interface latency
    ir = irforge.measure_ir(pb, y, ir_length_s=0.05)
    assert ir.metadata["latency_mode"] == "marker" and ir.metadata["takes"] == 3
    assert abs(onset(ir) - int(0.005 * SR)) <= 1
    # the reflections keep their relative timing and level
    k = int(np.argmax(np.abs(ir.data[0])))
    assert ir.data[0, k + 700] / ir.data[0, k] == pytest.approx(-0.3, abs=0.01)


def test_stereo_and_true_stereo_layouts():
    sw = sweeps.exponential(20, 20000, 0.5, sample_rate=SR)
    x = sw.signal
    hs = {k: np.zeros(1000) for k in ("LL", "LR", "RL", "RR")}
    for i, k in enumerate(hs):
        hs[k][100 + 50 * i] = 1.0 - 0.2 * i
    conv = {k: np.concatenate([np.convolve(x, v), np.zeros(2000)]) for k, v in hs.items()}
    stereo = irforge.measure_ir(sw, np.vstack([conv["LL"], conv["LR"]]), latency="none", ir_length_s=0.05)
    assert stereo.n_channels == 2
    ts = irforge.measure_ir(sw, {"L": np.vstack([conv["LL"], conv["LR"]]),
                                 "R": np.vstack([conv["RL"], conv["RR"]])}, latency="none", ir_length_s=0.05)
    ts4 = irforge.measure_ir(sw, conv, latency="none", ir_length_s=0.05)
    for ir in (ts, ts4):
        assert ir.n_channels == 4
        peaks = np.argmax(np.abs(ir.data), axis=1)
        np.testing.assert_array_equal(peaks, [100, 150, 200, 250])     # L->L, L->R, R->L, R->R
        peak = np.abs(ir.data).max(axis=1)
        np.testing.assert_allclose(peak / peak[0], [1.0, 0.8, 0.6, 0.4], atol=0.01)


def test_takes_are_averaged():
    sw = sweeps.exponential(20, 20000, 0.5, sample_rate=SR)
    h = small_system()
    rng = np.random.default_rng(5)
    takes = [record(sw.signal, h, rng, noise_rel=0.05, tail_s=0.1) for _ in range(4)]
    one = irforge.measure_ir(sw, takes[0], ir_length_s=0.06)
    avg = irforge.measure_ir(sw, takes, ir_length_s=0.06)
    assert avg.metadata["takes"] == 4
    assert err_db(avg.data[0], h) < err_db(one.data[0], h) - 4


# -- other methods -------------------------------------------------------------------------------
def test_h1_with_noise_excitation():
    rng = np.random.default_rng(8)
    h = small_system()
    x = rng.standard_normal(4 * SR) * 0.3
    y = np.convolve(x, h)[: len(x)] + rng.standard_normal(len(x)) * 1e-3
    ir = irforge.measure_ir(x, y, sample_rate=SR, method="h1", ir_length_s=0.07, latency="none")
    assert ir.metadata["method"] == "h1"
    assert np.max(np.abs(ir.data[0, :3000] - h)) < 0.03


def test_division_with_plain_array_auto():
    rng = np.random.default_rng(9)
    h = small_system()
    x = rng.standard_normal(SR)
    y = np.concatenate([np.convolve(x, h), np.zeros(1000)])
    ir = irforge.measure_ir(x, y, sample_rate=SR)
    assert ir.metadata["method"] == "division"
    np.testing.assert_allclose(ir.data[0, :3000], h, atol=1e-4)


def test_cepstral_ciba():
    """Ciba 2025 eqs. 4-10: periodic linear sweep, a minimum-phase system (one-pole lowpass + delay-free)."""
    base = sweeps.linear(20, 20000, 0.5, sample_rate=SR, fade_out_s=0)
    sw = sweeps.periodic(base, 6)
    b, a = [0.3], [1.0, -0.7]
    h = ss.lfilter(b, a, np.r_[1.0, np.zeros(2999)])
    y = ss.lfilter(b, a, sw.signal)
    zero = irforge.measure_ir(sw, y, method="cepstral", frame_s=0.5, latency="none")
    mini = irforge.measure_ir(sw, y, method="cepstral", frame_s=0.5, latency="none", phase="minimum")
    assert zero.metadata["normalized"] and np.max(np.abs(zero.data)) == pytest.approx(1.0)
    np.testing.assert_allclose(mini.data[0, :200], h[:200] / h.max(), atol=0.03)
    # the zero-phase IR has the system's magnitude: |FFT| of the symmetric extension
    z = zero.data[0].astype(float)
    sym = np.concatenate([z, np.zeros(1), z[:0:-1]])
    H = np.abs(np.fft.rfft(h, len(sym)))
    Z = np.abs(np.fft.rfft(sym))
    f = np.fft.rfftfreq(len(sym), 1 / SR)
    band = (f > 100) & (f < 15000)
    ratio = Z[band] / H[band]
    assert np.std(ratio / np.median(ratio)) < 0.05


def test_complex_pair():
    sw = sweeps.complex_pair(0.5, sample_rate=SR)
    rng = np.random.default_rng(4)
    h = small_system() + 0.01 * rng.standard_normal(3000)
    yc = np.concatenate([np.convolve(sw.signal, h), np.zeros(100)])
    ys = np.concatenate([np.convolve(sw.signal_sine, h), np.zeros(100)])
    ir = irforge.measure_ir(sw, (yc, ys), ir_length_s=3000 / SR, latency="none")
    assert ir.metadata["method"] == "complex" and ir.metadata["imag_to_real_db"] < -100
    np.testing.assert_allclose(ir.data[0], h, atol=1e-5)          # full band, DC to Nyquist


def test_mls():
    sw = sweeps.mls(14, sample_rate=SR, periods=3)
    rng = np.random.default_rng(6)
    h = small_system() + 0.01 * rng.standard_normal(3000)
    y = np.convolve(sw.signal, h)[: len(sw.signal)]
    ir = irforge.measure_ir(sw, y, latency="none", ir_length_s=3000 / SR)
    assert ir.metadata["method"] == "mls" and ir.metadata["periods_averaged"] == 2
    np.testing.assert_allclose(ir.data[0], h, atol=1e-5)


# -- bad input ------------------------------------------------------------------------------------
@pytest.fixture
def sw1():
    return sweeps.exponential(20, 20000, 0.5, sample_rate=SR)


def test_excitation_longer_than_recording(sw1):
    with pytest.raises(irforge.ParameterError, match="longer than"):
        irforge.measure_ir(sw1, sw1.signal[:1000])


def test_silent_recording(sw1):
    with pytest.raises(irforge.ParameterError, match="silent"):
        irforge.measure_ir(sw1, np.zeros(SR))


def test_clipped_recording(sw1):
    y = np.clip(np.concatenate([sw1.signal * 4, np.zeros(4800)]), -1, 1)
    with pytest.warns(ClippingWarning, match="clipped"):
        ir = irforge.measure_ir(sw1, y)
    assert ir.metadata["clipped_samples"] > 100
    with pytest.raises(irforge.ParameterError, match="clipped"):
        irforge.measure_ir(sw1, y, on_clipping="raise")
    # an unclipped sweep is not reported
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert irforge.measure_ir(sw1, np.concatenate([sw1.signal, np.zeros(4800)])).metadata["clipped_samples"] == 0


def test_mismatched_sample_rate(sw1):
    y = np.concatenate([sw1.signal, np.zeros(4800)])
    with pytest.raises(irforge.ParameterError, match="44100"):
        irforge.measure_ir(sw1, y, sample_rate=44100)
    with pytest.raises(irforge.ParameterError, match="sample_rate is required"):
        irforge.measure_ir(sw1.signal, y)


def test_recording_without_excitation(sw1):
    noise = np.random.default_rng(0).standard_normal(2 * SR) * 0.1
    with pytest.raises(irforge.ParameterError, match="does not contain the excitation"):
        irforge.measure_ir(sw1, noise)
    other = sweeps.linear(100, 10000, 0.7, sample_rate=SR).signal      # a different signal
    with pytest.raises(irforge.ParameterError, match="does not contain the excitation"):
        irforge.measure_ir(sw1, np.concatenate([other, np.zeros(SR)]))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_inf(sw1, bad):
    y = np.concatenate([sw1.signal, np.zeros(4800)])
    y[100] = bad
    with pytest.raises(irforge.ParameterError, match="non-finite"):
        irforge.measure_ir(sw1, y)
    x = sw1.signal.copy()
    x[5] = bad
    with pytest.raises(irforge.ParameterError, match="non-finite"):
        irforge.measure_ir(x, y, sample_rate=SR)


def test_wrong_types_and_options(sw1):
    y = np.concatenate([sw1.signal, np.zeros(4800)])
    with pytest.raises(TypeError):
        irforge.measure_ir(sw1, y.astype(np.int16))
    with pytest.raises(TypeError):
        irforge.measure_ir(sw1, "recording.wav")
    with pytest.raises(irforge.ParameterError, match="method"):
        irforge.measure_ir(sw1, y, method="magic")
    with pytest.raises(irforge.ParameterError, match="latency"):
        irforge.measure_ir(sw1, y, latency="sometimes")
    with pytest.raises(irforge.ParameterError, match="marker"):
        irforge.measure_ir(sw1, y, latency="marker")
    with pytest.raises(irforge.ParameterError, match="complex"):
        irforge.measure_ir(sw1, y, method="complex")
    with pytest.raises(irforge.ParameterError, match="true stereo|keys"):
        irforge.measure_ir(sw1, {"left": y})


def test_playback_marker_in_a_hall_aligns_on_the_direct_sound():
    # In this hall a reflection ~60 ms after the direct sound is the strongest path at the
    # marker's 1 kHz: alignment must still put the first arrival at pre_delay_s, so the
    # measured IR is the true one, not one with the direct sound wrapped to negative time.
    from conftest import data_file
    room = irforge.ImpulseResponse.load(
        data_file("room_ir/openair_SpokaneWomansClub_stereo_44k.wav")).to_mono(channel=0).resample(SR)
    r = room.data[0][: int(1.5 * SR)].astype(np.float64)
    sw = sweeps.exponential(20, 20000, 3.0, sample_rate=SR)
    pb = sweeps.write_playback(None, sw, repeats=2, gap_s=2.0)
    y = np.concatenate([np.zeros(4321), pb.signal])
    y = np.convolve(y, r)
    y = y + 1e-6 * np.random.default_rng(3).standard_normal(len(y))
    for latency in ("auto", "xcorr"):
        ir = irforge.measure_ir(pb, y, ir_length_s=1.5, latency=latency)
        h = ir.data[0].astype(np.float64)
        e_r = r ** 2
        start = int(np.argmax(e_r >= 0.01 * e_r.max())) - int(0.005 * SR)   # true onset - pre-delay
        ref = r[start: start + len(h)]
        n = min(len(ref), len(h))
        err = 20 * np.log10(np.linalg.norm(h[:n] - ref[:n]) / np.linalg.norm(ref[:n]))
        assert err < -40, f"latency={latency}: error {err:.1f} dB"
