"""The shared STFT (irforge._stft, C++ core for powers of two) against a slow framing reference."""

import numpy as np
import pytest
import scipy.signal as ss

from irforge import _stft


def slow_stft(x, n_fft, hop, center):
    """Frame by frame, float64, the obvious way (librosa's conventions)."""
    w = ss.get_window("hann", n_fft, fftbins=True)
    if center:
        x = np.concatenate([np.zeros(n_fft // 2), x, np.zeros(n_fft // 2)])
    if len(x) < n_fft:
        return np.zeros((n_fft // 2 + 1, 0), complex)
    F = 1 + (len(x) - n_fft) // hop
    return np.stack([np.fft.rfft(w * x[t * hop:t * hop + n_fft]) for t in range(F)], axis=-1)


@pytest.mark.parametrize("n_fft,hop", [(2048, 512), (256, 64), (64, 48), (16, 1), (1000, 250), (30, 7)])
@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("n", [1, 15, 16, 17, 2047, 2048, 2049, 5000])
def test_stft_matches_slow_reference(rng, n_fft, hop, center, n):
    x = rng.standard_normal(n)
    S = _stft.stft(x, n_fft=n_fft, hop=hop, center=center)
    ref = slow_stft(x, n_fft, hop, center)
    assert S.shape == ref.shape
    assert S.shape[-1] == _stft.n_frames(n, n_fft, hop, center)
    if ref.size:
        assert np.max(np.abs(S - ref)) <= 2e-6 * max(1.0, np.max(np.abs(ref)))


@pytest.mark.parametrize("n_fft,hop", [(2048, 512), (512, 128), (64, 16), (1000, 250)])
@pytest.mark.parametrize("n", [100, 4096, 12345])
def test_istft_inverts_stft(rng, n_fft, hop, n):
    x = rng.standard_normal((3, n))
    y = _stft.istft(_stft.stft(x, n_fft=n_fft, hop=hop), n_fft=n_fft, hop=hop, length=n)
    assert y.shape == x.shape and y.dtype == np.float32
    assert np.max(np.abs(y - x)) < 2e-5


def test_istft_of_modified_spectrogram_matches_slow_overlap_add(rng):
    n_fft, hop, n = 512, 128, 3000
    x = rng.standard_normal(n)
    S = _stft.stft(x, n_fft=n_fft, hop=hop) * np.exp(-np.arange(n_fft // 2 + 1) / 50.0)[:, None]
    w = ss.get_window("hann", n_fft, fftbins=True)
    F = S.shape[-1]
    acc = np.zeros(n_fft + hop * (F - 1))
    wss = np.zeros_like(acc)
    for t in range(F):
        acc[t * hop:t * hop + n_fft] += w * np.fft.irfft(S[:, t].astype(complex), n_fft)
        wss[t * hop:t * hop + n_fft] += w * w
    ref = (acc / np.where(wss > 1e-10, wss, 1.0))[n_fft // 2:n_fft // 2 + n]
    y = _stft.istft(S, n_fft=n_fft, hop=hop, length=n)
    assert np.max(np.abs(y - ref)) < 1e-5 * np.max(np.abs(ref))
    # longer than the frames cover: zeros after the end, default length = hop * (frames - 1)
    assert np.all(_stft.istft(S, n_fft=n_fft, hop=hop, length=n + 5000)[n + n_fft:] == 0)
    assert _stft.istft(S, n_fft=n_fft, hop=hop).shape[-1] == hop * (F - 1)


def test_channels_and_batch_shapes(rng):
    x = rng.standard_normal((2, 3, 4000)).astype(np.float32)
    S = _stft.stft(x, n_fft=256, hop=64)
    assert S.shape == (2, 3, 129, _stft.n_frames(4000, 256, 64))
    np.testing.assert_allclose(S[1, 2], _stft.stft(x[1, 2], n_fft=256, hop=64), atol=1e-5)


def test_bad_arguments(rng):
    x = rng.standard_normal(100)
    with pytest.raises(ValueError, match="hop"):
        _stft.stft(x, n_fft=64, hop=0)
    with pytest.raises(ValueError, match="n_fft"):
        _stft.stft(x, n_fft=1, hop=1)
    with pytest.raises(ValueError, match="window"):
        _stft.stft(x, n_fft=64, hop=16, window=np.ones(10))
    with pytest.raises(ValueError, match="bins"):
        _stft.istft(np.zeros((10, 4), np.complex64), n_fft=64, hop=16)


def _rolloff_reference(x, n_fft, hop, fraction):
    """Ciba's reference per-frame quantity in float64: reverse cumulative power over bins."""
    P = np.abs(slow_stft(x.astype(np.float64), n_fft, hop, True)) ** 2
    C = np.flip(np.cumsum(np.flip(P, axis=0), axis=0), axis=0)
    C /= C[0] + np.finfo(float).eps
    return np.argmax(C < fraction, axis=0)


def test_rolloff_matches_float64_reference_on_real_speech(rng):
    import soundfile as sf
    from conftest import data_file

    x, _ = sf.read(data_file("dry/speech_spatialaudio_xmas_male_voice.wav"), dtype="float32", always_2d=True)
    x = np.concatenate([np.zeros(3000, np.float32), x[:, 0]])  # leading silence: frames with no energy
    x += 1e-4 * rng.standard_normal(len(x)).astype(np.float32)
    w = ss.get_window("hann", 2048, fftbins=True).astype(np.float32)
    from irforge import _core

    k = _core.stft_rolloff(x[None], w, 512, True, 0.001)[0]
    ref = _rolloff_reference(x, 2048, 512, 0.001)
    assert k.shape == ref.shape
    # float32 spectra: a crossing may move by a bin when the tail sum lands on the threshold
    assert np.mean(k == ref) > 0.98 and np.max(np.abs(k - ref)) <= 2


def test_rolloff_edge_cases():
    from irforge import _core

    w = ss.get_window("hann", 64, fftbins=True).astype(np.float32)
    silent = np.zeros((1, 500), np.float32)
    assert np.all(_core.stft_rolloff(silent, w, 16) == 0)           # silence: argmax of all-True
    tone = np.cos(2 * np.pi * 0.5 * np.arange(500, dtype=np.float32))[None]  # all at Nyquist
    assert np.all(_core.stft_rolloff(tone, w, 16)[:, 3:-3] == 0)    # no bin qualifies -> 0
    with pytest.raises(ValueError, match="fraction"):
        _core.stft_rolloff(silent, w, 16, True, 1.5)
