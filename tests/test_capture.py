"""capture(): IRs of pedalboard plugins/chains and callables; nonlinearity warning; bad input."""

import warnings

import numpy as np
import pytest
import soundfile as sf

import irforge
from irforge import NonlinearityWarning
from conftest import data_file

pb = pytest.importorskip("pedalboard")
SR = 48000


@pytest.fixture(scope="module")
def di():
    """Real guitar DI (resampled to 48 kHz), 3 s; a synthetic pluck when the data is absent."""
    try:
        import soxr

        x, sr = sf.read(data_file("dry/guitarDI_gulmini_input_001.wav"), dtype="float32")
        x = x if x.ndim == 1 else x[:, 0]
        return soxr.resample(x, sr, SR).astype(np.float32)[: 3 * SR]
    except pytest.skip.Exception:
        r = np.random.default_rng(0)
        t = np.arange(3 * SR) / SR
        return (0.3 * np.sin(2 * np.pi * 110 * t) * np.exp(-2 * t) + 0.01 * r.standard_normal(len(t))).astype(np.float32)


def match_db(system, ir, di):
    ref = np.atleast_2d(system(np.concatenate([di, np.zeros(ir.n_samples, np.float32)]), SR))
    wet = np.atleast_2d(irforge.convolve(di, ir, sample_rate=SR))
    n = min(ref.shape[1], wet.shape[1])
    return 20 * np.log10(np.linalg.norm(wet[:, :n] - ref[:, :n]) / np.linalg.norm(ref[:, :n]))


def test_chain_of_filters_and_gain(di):
    chain = pb.Pedalboard([pb.HighpassFilter(80), pb.LowShelfFilter(200, 3), pb.PeakFilter(1500, 4, 0.7),
                           pb.LowpassFilter(5000), pb.Gain(-3)])
    with warnings.catch_warnings():
        warnings.simplefilter("error", NonlinearityWarning)
        ir = irforge.capture(chain, sample_rate=SR)
    assert ir.n_channels == 1 and ir.sample_rate == SR
    assert match_db(chain, ir, di) <= -50.0


def test_reverb_with_tail(di):
    rev = pb.Reverb(room_size=0.5)
    ir = irforge.capture(rev, sample_rate=SR)
    assert ir.duration_s > 0.5                             # the tail is captured
    assert match_db(rev, ir, di) <= -40.0


def test_full_band_dc_to_nyquist():
    """A digital system has a full band: a pure gain + delay is captured exactly at DC and Nyquist."""
    ir = irforge.capture(lambda a, sr: 0.5 * np.concatenate([np.zeros(7, a.dtype), a[:-7]]),
                         sample_rate=SR, duration_s=0.5)
    h = ir.data[0].astype(float)
    H = np.fft.rfft(h, 4096)
    assert abs(H[0]) == pytest.approx(0.5, abs=1e-3) and abs(H[-1]) == pytest.approx(0.5, abs=1e-3)
    assert np.argmax(np.abs(h)) == 7


def test_callable_stereo_and_true_stereo():
    def widen(a, sr):
        a = np.atleast_2d(a)
        if a.shape[0] == 1:
            return np.vstack([a[0], -0.5 * a[0]])
        return np.vstack([a[0] + 0.25 * a[1], 0.5 * a[1]])

    st = irforge.capture(widen, sample_rate=SR, duration_s=0.3)
    assert st.n_channels == 2
    np.testing.assert_allclose(st.data[:, 0], [1.0, -0.5], atol=1e-3)
    ts = irforge.capture(widen, sample_rate=SR, duration_s=0.3, in_channels=2)
    assert ts.n_channels == 4                              # L->L, L->R, R->L, R->R
    np.testing.assert_allclose(ts.data[:, 0], [1.0, 0.0, 0.25, 0.5], atol=1e-3)


@pytest.mark.parametrize("system", [lambda: pb.Distortion(drive_db=20), lambda: pb.Chorus()],
                         ids=["distortion", "chorus"])
def test_warns_nonlinear_or_time_variant(system):
    with pytest.warns(NonlinearityWarning, match="nonlinear or time-variant"):
        ir = irforge.capture(system(), sample_rate=SR, duration_s=0.5)
    assert ir.metadata["capture"]["acausal_energy_db"] > -60


def test_bad_systems():
    with pytest.raises(TypeError, match="callable"):
        irforge.capture("reverb", sample_rate=SR)
    with pytest.raises(TypeError):
        irforge.capture(lambda a, sr: "nope", sample_rate=SR, duration_s=0.2)
    with pytest.raises(irforge.ParameterError, match="NaN"):
        irforge.capture(lambda a, sr: a * np.nan, sample_rate=SR, duration_s=0.2)
    with pytest.raises(irforge.ParameterError, match="silent"):
        irforge.capture(lambda a, sr: 0 * a, sample_rate=SR, duration_s=0.2)
    with pytest.raises(irforge.ParameterError, match="samples"):
        irforge.capture(lambda a, sr: a[..., :100], sample_rate=SR, duration_s=0.2)
    with pytest.raises(irforge.ParameterError, match="stereo"):
        irforge.capture(lambda a, sr: a[:1] if a.ndim == 2 else a, sample_rate=SR, duration_s=0.2,
                        in_channels=2)
    with pytest.raises(irforge.ParameterError, match="sample_rate"):
        irforge.capture(lambda a, sr: a, sample_rate=0)
