"""irforge.deconvolution: quality against an oracle, streaming equality, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.fft as sfft
import soundfile as sf
from scipy.signal import fftconvolve as _fftconv

from irforge import ImpulseResponse, ParameterError, convolve
from irforge.deconvolution import (DeconvolutionWarning, Deconvolver, deconvolve, deconvolve_file,
                                   inverse_filter)
from irforge.metrics import si_sdr

from conftest import data_file, load_mono

SR = 44100


def _load(rel, seconds=None):
    return load_mono(rel, SR, seconds)


def _pair(dry_rel, ir_rel, snr_db, seed=0, dry_s=2.5, ir_s=None):
    x = _load(dry_rel, dry_s)
    h = _load(ir_rel, ir_s)
    h = h / np.abs(h).max()
    yc = _fftconv(x, h)
    r = np.random.default_rng(seed)
    y = yc + r.standard_normal(yc.size) * np.sqrt(np.mean(yc ** 2) * 10 ** (-snr_db / 10))
    return x, h, y


def _tikhonov_full(y, h, n, lam_rel):
    """The obvious reference: full-length FFT division with constant regularisation."""
    L = sfft.next_fast_len(len(y) + len(h) - 1, real=True)
    Y, H = sfft.rfft(y, L), sfft.rfft(h, L)
    H2 = np.abs(H) ** 2
    return sfft.irfft(np.conj(H) * Y / (H2 + lam_rel * H2.max()), L)[:n]


def _oracle(x, h, y):
    """Tikhonov with the best constant lambda, chosen against the true dry signal."""
    return max(si_sdr(_tikhonov_full(y, h, len(x), lam), x) for lam in np.logspace(-12, 0, 37))


_DRY = ["dry/speech_spatialaudio_xmas_male_voice.wav", "dry/guitarDI_gulmini_input_001.wav"]
_IRS = ["room_ir/spatialaudio_rir_clap_seminar_room.wav",
        "room_ir/openair_Genesis6StudioLiveRoom_Bformat_96k.wav",
        "room_ir/openair_SpokaneWomansClub_stereo_44k.wav",
        "cab_ir/adventurekid_Modern_UK_001.wav", "cab_ir/adventurekid_Radio_001.wav",
        "cab_ir/adventurekid_Vintage_US_001.wav"]
# every dry signal through every room and cabinet IR of the benchmark, at 40 dB SNR (the 60/30 dB
# rows are in benchmarks/bench_deconvolve.py; IRs cut to 0.6 s here to keep the test fast)
PAIRS = [(d, i, 40) for d in _DRY for i in _IRS]


@pytest.fixture(scope="module")
def pair_results():
    out = []
    for dry_rel, ir_rel, snr in PAIRS:
        x, h, y = _pair(dry_rel, ir_rel, snr, ir_s=0.6)
        n = len(x)
        res = {"oracle": _oracle(x, h, y)}
        for m in ("auto", "threshold"):
            res[m] = si_sdr(deconvolve(y, h, sample_rate=SR, method=m)[:n], x)
        out.append(res)
    return out


def test_default_matches_or_beats_oracle(pair_results):
    diffs = np.array([r["auto"] - r["oracle"] for r in pair_results])
    assert np.mean(diffs) >= 0.0, pair_results
    # the target: never more than 2 dB below the oracle on any pair (it failed on
    # speech through the seminar room at 40 dB, -2.4 dB, until "auto" let GCV set the level
    # of the Wiener profile: the noise estimate behind it is 10-25 dB high at low frequencies
    # when 2.5 s of reverberant speech never shows the noise floor)
    assert diffs.min() >= -2.0, pair_results


def test_beats_threshold_baseline_at_40db(pair_results):
    gain = np.mean([r["auto"] - r["threshold"] for r in pair_results])
    assert gain >= 3.0, pair_results


def test_noise_free_minimum_phase():
    x = _load("dry/speech_spatialaudio_xmas_male_voice.wav", 2.0).astype(np.float32)
    ir = ImpulseResponse.load(data_file("room_ir/spatialaudio_rir_clap_seminar_room.wav")).to_mono()
    mp = ir.minimum_phase()
    y = convolve(x, mp)
    # Without noise the GCV score of the (tiny) constant lambda beats the Wiener design's, so
    # "auto" picks GCV-Tikhonov (Wiener alone: 40 dB here, its band fit over-regularises).
    assert si_sdr(deconvolve(y, mp, sample_rate=SR, method="tikhonov")[: len(x)], x) >= 60.0
    assert si_sdr(deconvolve(y, mp, sample_rate=SR)[: len(x)], x) >= 60.0


@pytest.mark.parametrize("cab", ["cab_ir/adventurekid_Modern_UK_001.wav", "cab_ir/adventurekid_Vintage_US_001.wav"])
@pytest.mark.parametrize("minimum_phase", [False, True])
def test_noise_free_render_through_a_cabinet(cab, minimum_phase):
    """The question this module answers: a guitar rendered (float32, no noise) through a
    cabinet IR, and back. The cabinets' deep notches need a very small lambda, whose inverse
    rings longer than a practical FIR: "auto" divides by one full-length FFT instead (a FIR
    design stopped at 30-38 dB here)."""
    x = _load("dry/guitarDI_gulmini_input_001.wav", 1.5).astype(np.float32)
    ir = ImpulseResponse.load(data_file(cab)).resample(SR).to_mono()
    if minimum_phase:
        ir = ir.minimum_phase()
    y = convolve(x, ir)
    assert si_sdr(deconvolve(y, ir, sample_rate=SR)[: len(x)], x) >= 60.0


def test_deconvolve_file_divides_a_short_noise_free_render_exactly(tmp_path):
    """The command-line path (deconvolve_file) gives a noise-free render the same exact
    division as deconvolve() on the array."""
    x = _load("dry/guitarDI_gulmini_input_001.wav", 1.5).astype(np.float32)
    ir = ImpulseResponse.load(data_file("cab_ir/adventurekid_Vintage_US_001.wav")).resample(SR).to_mono()
    y = convolve(x, ir)
    sf.write(tmp_path / "render.wav", y, SR, subtype="FLOAT")
    ir.save(tmp_path / "cab.wav")
    deconvolve_file(tmp_path / "render.wav", tmp_path / "cab.wav", tmp_path / "dry.wav")
    got, sr = sf.read(tmp_path / "dry.wav", dtype="float32")
    want = deconvolve(y, ir, sample_rate=SR)
    assert sr == SR and got.shape == want.shape
    assert np.max(np.abs(got - want)) <= 1e-5 * np.max(np.abs(want))
    assert si_sdr(got[: len(x)], x) >= 60.0


def test_fir_tikhonov_equals_full_fft_reference():
    x, h, y = _pair("dry/guitarDI_gulmini_input_001.wav", "cab_ir/adventurekid_80s_US_001.wav", 40, dry_s=1.5)
    ref = _tikhonov_full(y, h, len(y), 1e-4)
    ours = deconvolve(y, h, sample_rate=SR, method="tikhonov", lam=1e-4)
    assert ours.shape == y.shape
    assert si_sdr(ours, ref) > 45.0


def test_robust_to_perturbed_late_ir():
    x, h, y = _pair("dry/speech_spatialaudio_xmas_male_voice.wav",
                    "room_ir/spatialaudio_rir_clap_seminar_room.wav", 40)
    r = np.random.default_rng(7)
    late = int(0.05 * SR)
    hp = h.copy()
    hp[late:] += 0.1 * np.std(h[late:]) * r.standard_normal(h.size - late)
    exact = si_sdr(deconvolve(y, h, sample_rate=SR)[: len(x)], x)
    pert = si_sdr(deconvolve(y, hp, sample_rate=SR)[: len(x)], x)
    untouched = si_sdr(y[: len(x)], x)
    assert np.isfinite(pert) and pert < exact
    assert pert > untouched + 3.0     # still much better than not deconvolving at all


@pytest.mark.parametrize("method", ["auto", "wiener", "tikhonov", "threshold", "kirkeby", "stft", "naive"])
def test_finite_and_no_runaway(method, rng):
    x = rng.standard_normal(20000)
    h = np.exp(-np.arange(2000) / 300.0) * rng.standard_normal(2000)
    y = _fftconv(x, h)
    y += 1e-3 * np.std(y) * rng.standard_normal(y.size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeconvolutionWarning)
        out = deconvolve(y, h, sample_rate=48000, method=method)
    assert out.dtype == np.float32 and out.shape == y.shape and np.isfinite(out).all()
    # never louder than the recording times the largest gain an inverse of this IR can have
    H = np.abs(np.fft.rfft(h, 1 << 16))
    assert np.sqrt(np.mean(out ** 2)) <= np.sqrt(np.mean(y ** 2)) / H.min() * 1.01


def test_wiener_gain_bounded_by_its_filter(rng):
    x = rng.standard_normal(30000)
    h = np.exp(-np.arange(3000) / 300.0) * rng.standard_normal(3000)
    y = _fftconv(x, h) + 0.01 * rng.standard_normal(32999)
    g = inverse_filter(h, sample_rate=48000, method="wiener", recording=y)
    out = deconvolve(y, h, sample_rate=48000, method="wiener")
    gmax = np.abs(np.fft.rfft(g.data[0])).max()
    assert np.sqrt(np.mean(out ** 2)) <= np.sqrt(np.mean(y ** 2)) * gmax * 1.01


def test_naive_warns(rng):
    with pytest.warns(DeconvolutionWarning):
        deconvolve(rng.standard_normal(1000), np.array([1.0, 0.5]), sample_rate=8000, method="naive")


def test_shapes_channels_and_length(rng):
    h = np.exp(-np.arange(400) / 50.0) * rng.standard_normal(400)
    x = rng.standard_normal((2, 8000))
    y = convolve(x.astype(np.float32), h.astype(np.float32))
    kw = dict(sample_rate=16000, method="tikhonov", lam=1e-5)
    y2 = deconvolve(y, h, **kw)
    assert y2.shape == y.shape
    ref = np.stack([_tikhonov_full(y[c].astype(np.float64), h, y.shape[1], 1e-5) for c in range(2)])
    assert si_sdr(y2, ref) > 40          # same as the obvious full-FFT division, per channel
    y1 = deconvolve(y[0], h, **kw)
    assert y1.ndim == 1 and y1.shape == (y.shape[1],)
    # per-channel IRs
    hh = np.stack([h, np.roll(h, 3)])
    ys = np.stack([_fftconv(x[0], hh[0]), _fftconv(x[1], hh[1])])
    assert si_sdr(deconvolve(ys, hh, **kw)[:, :8000], x) > 25
    assert deconvolve(ys, hh, sample_rate=16000).shape == ys.shape


def test_silent_recording_gives_silence():
    out = deconvolve(np.zeros((2, 5000), np.float32), np.array([1.0, 0.3, 0.1]), sample_rate=48000)
    assert out.shape == (2, 5000) and not np.any(out)


def test_sample_rate_mismatch_resamples_ir(rng):
    h48 = (np.exp(-np.arange(960) / 100.0) * rng.standard_normal(960)).astype(np.float32)
    ir = ImpulseResponse(h48, sample_rate=48000)
    y = rng.standard_normal(20000).astype(np.float32)
    a = deconvolve(y, ir, sample_rate=44100, method="tikhonov", lam=1e-3)
    b = deconvolve(y, ir.resample(44100), sample_rate=44100, method="tikhonov", lam=1e-3)
    np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("design", [dict(method="kirkeby"), dict(method="wiener", noise_db=-40.0, recording=True),
                                    dict(method="kirkeby", phase="minimum")])
def test_deconvolver_streaming_equals_deconvolve(design, rng):
    h = (np.exp(-np.arange(1500) / 200.0) * rng.standard_normal(1500)).astype(np.float32)
    x = rng.standard_normal((2, 12000)).astype(np.float32)
    y = convolve(x, h)
    design = dict(design)
    if design.pop("recording", False):      # Wiener: statistics from the same recording
        fx = Deconvolver(h, sample_rate=48000, recording=y, **design)
    else:
        fx = Deconvolver(h, sample_rate=48000, **design)
    ref = deconvolve(y, h, sample_rate=48000, **design)
    d = fx.latency_samples
    padded = np.concatenate([y, np.zeros((2, d), np.float32)], axis=1)
    chunks, i = [], 0
    while i < padded.shape[1]:
        k = int(rng.integers(1, 3000))
        chunks.append(fx.process(padded[:, i:i + k], 48000, buffer_size=512, reset=(i == 0)))
        i += k
    out = np.concatenate(chunks, axis=1)[:, d:]
    assert out.shape == ref.shape
    assert np.max(np.abs(out - ref)) <= 1e-5 * np.max(np.abs(ref))


def test_deconvolve_file_streams_and_is_atomic(tmp_path, rng):
    h = (np.exp(-np.arange(2000) / 300.0) * rng.standard_normal(2000)).astype(np.float32)
    x = rng.standard_normal((2, 30000)).astype(np.float32)
    y = convolve(x, h) + 1e-3 * rng.standard_normal((2, 31999)).astype(np.float32)
    sf.write(tmp_path / "rec.wav", y.T, 48000, subtype="FLOAT")
    sf.write(tmp_path / "ir.wav", h, 48000, subtype="FLOAT")
    out = deconvolve_file(tmp_path / "rec.wav", tmp_path / "ir.wav", tmp_path / "dry.wav", block_size=4096)
    got, sr = sf.read(out, dtype="float32", always_2d=True)
    # one channel here is ~80 dB above its noise: both paths divide it by one full-length FFT,
    # the other by the FIR
    ref = deconvolve(y, h, sample_rate=48000)
    assert sr == 48000 and got.T.shape == ref.shape
    assert np.max(np.abs(got.T - ref)) <= 1e-4 * np.max(np.abs(ref))
    before = (tmp_path / "dry.wav").read_bytes()
    with pytest.raises(FileExistsError):
        deconvolve_file(tmp_path / "rec.wav", tmp_path / "ir.wav", tmp_path / "dry.wav")
    with pytest.raises(ParameterError):
        deconvolve_file(tmp_path / "rec.wav", tmp_path / "ir.wav", tmp_path / "dry.wav",
                        overwrite=True, lam=-1.0)
    assert (tmp_path / "dry.wav").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dry.wav", "ir.wav", "rec.wav"]


GOOD_H = np.array([1.0, 0.5, 0.25])


@pytest.mark.parametrize("kwargs,match", [
    (dict(ir=np.zeros(10)), "all zeros"),
    (dict(ir=np.array([1.0, np.nan])), "non-finite"),
    (dict(ir=np.array([1.0, np.inf])), "non-finite"),
    (dict(ir=np.ones(5000)), "longer than the recording"),
    (dict(recording=np.array([0.0, np.nan] * 100)), "non-finite"),
    (dict(recording=np.array([np.inf] * 100)), "non-finite"),
    (dict(method="kirkeby", f_low_hz=5000.0, f_high_hz=1000.0), "f_low_hz"),
    (dict(method="kirkeby", f_low_hz=1000.0, f_high_hz=1000.0), "f_low_hz"),
    (dict(method="tikhonov", lam=-1e-3), "lam"),
    (dict(method="bogus"), "unknown method"),
    (dict(phase="bogus"), "phase"),
    (dict(sample_rate=-1), "sample_rate"),
])
def test_bad_input(kwargs, match):
    args = dict(recording=np.random.default_rng(0).standard_normal(1000), ir=GOOD_H, sample_rate=48000)
    args.update(kwargs)
    rec, ir = args.pop("recording"), args.pop("ir")
    with pytest.raises(ParameterError, match=match):
        deconvolve(rec, ir, **args)


def test_bad_types():
    with pytest.raises(TypeError):
        deconvolve(np.ones(100, np.int16), GOOD_H, sample_rate=48000)
    with pytest.raises(TypeError):
        deconvolve(np.ones(100), GOOD_H, sample_rate="48k")
