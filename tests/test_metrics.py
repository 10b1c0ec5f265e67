"""irforge.metrics: SI-SDR, log-spectral distance, Ciba's eq. 20 - against obvious references."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from irforge import ParameterError
from irforge.metrics import ciba_lsd, log_spectral_distance, si_sdr

from conftest import data_file


def _si_sdr_ref(e, s):
    """Le Roux et al. 2019, eq. (1)-(3), written out for one channel."""
    e = np.asarray(e, np.float64) - np.mean(e)
    s = np.asarray(s, np.float64) - np.mean(s)
    target = (np.dot(e, s) / np.dot(s, s)) * s
    noise = e - target
    return 10 * np.log10(np.sum(target ** 2) / np.sum(noise ** 2))


def _lsd_ref(e, r, n_fft, hop):
    """Frame by frame with numpy.fft and explicit padding (librosa-style centring)."""
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    pad = n_fft // 2
    e = np.pad(np.asarray(e, np.float64), pad)
    r = np.pad(np.asarray(r, np.float64), pad)
    n_frames = 1 + (len(e) - n_fft) // hop
    Pe = np.array([np.abs(np.fft.rfft(w * e[t * hop:t * hop + n_fft])) ** 2 for t in range(n_frames)]).T
    Pr = np.array([np.abs(np.fft.rfft(w * r[t * hop:t * hop + n_fft])) ** 2 for t in range(n_frames)]).T
    floor = 1e-10 * Pr.max()
    act = (Pr > floor).any(axis=0)
    d = 10 * np.log10(np.maximum(Pe[:, act], floor) / np.maximum(Pr[:, act], floor))
    return np.mean(np.sqrt(np.mean(d ** 2, axis=0)))


def test_si_sdr_matches_reference_and_known_snr(rng):
    s = rng.standard_normal(48000)
    n = rng.standard_normal(48000)
    for snr in (0.0, 20.0, 40.0):
        e = s + n * np.sqrt(np.mean(s ** 2) / np.mean(n ** 2) * 10 ** (-snr / 10))
        assert si_sdr(e, s) == pytest.approx(_si_sdr_ref(e, s), abs=1e-9)
        assert si_sdr(e, s) == pytest.approx(snr, abs=0.3)   # noise ~ orthogonal to s


def test_si_sdr_scale_invariant_not_shift_invariant(rng):
    s = rng.standard_normal(10000)
    e = s + 0.01 * rng.standard_normal(10000)
    assert si_sdr(3.7 * e, s) == pytest.approx(si_sdr(e, s), abs=1e-9)
    assert si_sdr(-e, s) == pytest.approx(si_sdr(e, s), abs=1e-9)   # any gain, also negative
    assert si_sdr(np.roll(e, 5), s) < 5             # but a time shift destroys it


def test_si_sdr_multichannel_is_mean_of_channels(rng):
    s = rng.standard_normal((2, 5000)).astype(np.float32)
    e = s + np.array([[0.1], [0.01]], np.float32) * rng.standard_normal((2, 5000)).astype(np.float32)
    assert si_sdr(e, s) == pytest.approx(np.mean([_si_sdr_ref(e[c], s[c]) for c in range(2)]), abs=1e-4)
    assert si_sdr(s, s) == 300.0                    # perfect: capped, finite


def test_si_sdr_real_speech():
    x, _ = sf.read(data_file("dry/speech_spatialaudio_xmas_male_voice.wav"), dtype="float32")
    noisy = x + 0.01 * np.random.default_rng(3).standard_normal(x.shape).astype(np.float32)
    assert si_sdr(noisy, x) == pytest.approx(_si_sdr_ref(noisy, x), abs=1e-3)


def test_lsd_matches_reference(rng):
    r = rng.standard_normal(6000)
    e = r + 0.3 * rng.standard_normal(6000)
    assert log_spectral_distance(e, r, n_fft=512, hop=128) == pytest.approx(_lsd_ref(e, r, 512, 128), rel=1e-3)
    assert log_spectral_distance(r, r) == pytest.approx(0.0, abs=1e-6)
    assert log_spectral_distance(0.5 * r, r, n_fft=512, hop=128) == pytest.approx(20 * np.log10(2), abs=1e-3)


def test_ciba_lsd_is_eq20(rng):
    z = rng.standard_normal(9000) + 0.2
    f = 0.3 * rng.standard_normal(7000) - 1.0
    expect = 10 * np.log10(np.mean((f - f.mean()) ** 2) / np.mean((z - z.mean()) ** 2))
    assert ciba_lsd(f, z) == pytest.approx(expect, abs=1e-9)
    assert ciba_lsd(np.zeros(10), np.zeros(10)) == 0.0


@pytest.mark.parametrize("call", [
    lambda: si_sdr(np.zeros(10), np.zeros(10)),             # silent reference
    lambda: si_sdr(np.ones(10), np.ones(11)),               # length mismatch
    lambda: si_sdr(np.array([np.nan, 1.0]), np.ones(2)),
    lambda: log_spectral_distance(np.ones(10), np.ones(10), n_fft=1),
    lambda: ciba_lsd(np.ones((2, 10)), np.ones((1, 10))),
    lambda: si_sdr(np.ones((2, 2, 2)), np.ones((2, 2, 2))),
])
def test_bad_input(call):
    with pytest.raises(ParameterError):
        call()


def test_bad_type():
    with pytest.raises(TypeError):
        si_sdr(np.ones(5, dtype=np.int16), np.ones(5))
