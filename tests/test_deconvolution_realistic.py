"""irforge.deconvolution on realistic recordings (issue 10): DC offsets, stationary lines and
coloured (pink, brown) noise floors.

Recordings as in benchmarks/bench_deconvolve_realistic.py: the dry signal through a real IR,
-20 dBFS peak, a white floor 60 dB below the signal's rms, plus a DC offset. The oracle is
Tikhonov with the best constant lambda chosen against the true dry signal.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft as sfft

from irforge.deconvolution import _PsdStats, deconvolve
from irforge.metrics import si_sdr

from conftest import load_mono

SR = 44100


def _load(rel, seconds=None):
    return load_mono(rel, SR, seconds)


def _recording(x, h, dc, seed):
    L = sfft.next_fast_len(x.size + h.size, real=True)
    yc = sfft.irfft(sfft.rfft(x, L) * sfft.rfft(h, L), L)[: x.size + h.size - 1]
    yc *= 0.1 / np.abs(yc).max()                                  # -20 dBFS peak
    r = np.random.default_rng(seed)
    y = yc + r.standard_normal(yc.size) * np.sqrt(np.mean(yc ** 2)) * 1e-3 + dc
    return y.astype(np.float32)


def _oracle(y, h, x):
    L = sfft.next_fast_len(y.size + h.size, real=True)
    Y, H = sfft.rfft(y.astype(np.float64), L), sfft.rfft(h, L)
    H2 = np.abs(H) ** 2
    return max(si_sdr(sfft.irfft(np.conj(H) * Y / (H2 + lam * H2.max()), L)[: x.size], x)
               for lam in np.logspace(-12, 0, 37))


@pytest.mark.parametrize("dc", [1e-5, 1e-4])          # -100 and -80 dBFS
@pytest.mark.parametrize("dry,ir,seconds", [
    ("dry/guitarDI_gulmini_input_001.wav", "cab_ir/adventurekid_Modern_UK_001.wav", 3.0),
    ("dry/speech_spatialaudio_xmas_male_voice.wav", "room_ir/spatialaudio_rir_clap_seminar_room.wav", 2.5),
])
def test_dc_offset_within_2db_of_oracle(dry, ir, seconds, dc):
    """The issue's case: a DC offset of 1e-5 took auto from 30 to -5 dB on a guitar through
    the Modern_UK cab (GCV took the DC, where the cab has no gain, for signal and drove lambda
    to ~1e-10, which also fooled the exact-division switch)."""
    x = _load(dry, seconds)
    h = _load(ir)
    h /= np.abs(h).max()
    for seed in (1, 2):
        y = _recording(x, h, dc, seed)
        got = si_sdr(deconvolve(y, h, sample_rate=SR)[: x.size], x)
        assert got >= _oracle(y, h, x) - 2.0, (seed, got)


def _stats(y):
    st = _PsdStats(1, 2048)
    st.feed(np.ascontiguousarray(y[None], dtype=np.float32))
    st.finish()
    return st.line_mask()[0]


def test_line_detector_finds_dc_and_a_tone_not_noise_or_music():
    """Welch-resolution detector of stationary lines (DC offset, a steady tone)."""
    r = np.random.default_rng(0)
    n = 4 * SR
    noise = 1e-3 * r.standard_normal(n)
    assert not _stats(noise)[:200].any()
    x = _load("dry/guitarDI_gulmini_input_001.wav", 4.0)
    music = 0.1 * x / np.abs(x).max() + noise
    quiet = np.flatnonzero(_stats(music))
    assert quiet.size <= 3, quiet                      # the guitar's partials come and go
    dc = np.flatnonzero(_stats(noise + 1e-3))
    assert 0 in dc
    t = np.arange(n) / SR
    # an isolated steady tone (dense 50 Hz hum harmonics, 2.3 Welch bins apart, fill the
    # detector's neighbourhood and are not found: see BENCHMARKS.md)
    found = np.flatnonzero(_stats(music + 3e-3 * np.sin(2 * np.pi * 1000 * t))) * SR / 2048
    assert np.min(np.abs(found - 1000)) <= SR / 2048, found


@pytest.mark.parametrize("dc", [1e-3, 1e-2])          # -60 and -40 dBFS
@pytest.mark.parametrize("dry,ir,seconds", [
    ("dry/guitarDI_gulmini_input_001.wav", "cab_ir/adventurekid_Modern_UK_001.wav", 3.0),
    ("dry/guitarDI_gulmini_input_001.wav", "room_ir/openair_Genesis6StudioLiveRoom_Bformat_96k.wav", 3.0),
])
def test_large_dc_offset_modelled_within_2db_of_oracle(dry, ir, seconds, dc):
    """A DC offset of -60/-40 dBFS is a step at the recording's edges (broadband): it is
    estimated jointly with the deconvolution (generalised least squares) instead of being left
    in (auto was 17-30 dB below the oracle here: -2.5 to 6 dB SI-SDR on the cab)."""
    x = _load(dry, seconds)
    h = _load(ir, 0.6)
    h /= np.abs(h).max()
    y = _recording(x, h, dc, 3)
    got = si_sdr(deconvolve(y, h, sample_rate=SR)[: x.size], x)
    assert got >= _oracle(y, h, x) - 2.0, got


def test_offset_estimate_is_the_gls_solution():
    """_offset_gls against the obvious reference: weighted least squares over the real and
    imaginary parts of every rfft bin (DC and Nyquist once, the others twice)."""
    from irforge.deconvolution import _offset_gls

    r = np.random.default_rng(4)
    n, L = 300, 512
    U = np.fft.rfft(np.ones(n), L)
    Y = 0.37 * U + r.standard_normal(U.size) + 1j * r.standard_normal(U.size)
    rr, s = r.uniform(0.01, 1.0, U.size), r.uniform(0.5, 2.0, U.size)
    mult = np.full(U.size, 2.0)
    mult[0] = mult[-1] = 1.0
    sw = np.sqrt(mult * rr / s)
    A = np.concatenate([U.real * sw, U.imag * sw])[:, None]
    b = np.concatenate([Y.real * sw, Y.imag * sw])
    ref = np.linalg.lstsq(A, b, rcond=None)[0][0]
    assert _offset_gls(Y, U, rr, s) == pytest.approx(ref, rel=1e-12)



def _coloured(n, slope_db_per_oct, seed):
    """Gaussian noise with power slope ``slope_db_per_oct`` (-3 pink, -6 brown), flat below
    20 Hz, unit rms (as the benchmark's)."""
    L = sfft.next_fast_len(n, real=True)
    f = np.fft.rfftfreq(L, 1 / SR)
    shape = np.maximum(f, 20.0) ** (slope_db_per_oct / (20 * np.log10(2)))
    z = sfft.irfft(sfft.rfft(np.random.default_rng(seed).standard_normal(L)) * shape, L)[:n]
    return z / np.std(z)


@pytest.mark.parametrize("slope,snr", [(-3.0, 40.0), (-6.0, 40.0), (-6.0, 30.0)])
@pytest.mark.parametrize("dry,ir,seconds,ir_seconds", [
    ("dry/guitarDI_gulmini_input_001.wav", "cab_ir/adventurekid_Modern_UK_001.wav", 3.0, None),
    ("dry/guitarDI_gulmini_input_001.wav", "room_ir/openair_Genesis6StudioLiveRoom_Bformat_96k.wav", 3.0, 0.6),
    ("dry/speech_spatialaudio_xmas_male_voice.wav", "cab_ir/adventurekid_Modern_UK_001.wav", 2.5, None),
])
def test_coloured_noise_floor(dry, ir, seconds, ir_seconds, slope, snr):
    """Pink and brown floors (issue 10, item 1): unwhitened GCV took the loud low-frequency
    noise for signal (guitar / Genesis6 room over brown noise at 30 dB: -26 dB SI-SDR against
    an oracle of 18; guitar / Modern_UK cab over pink at 40 dB: 8 dB against 25). With the
    floor's shape modelled and GCV whitened by it, auto stays near the oracle: within 2.2 dB
    on eight of these nine, 3.9 dB below on speech / cab over brown noise at 30 dB (the issue's
    target is 2 dB everywhere: not met yet, hence the 4.5 dB bound here)."""
    x = _load(dry, seconds)
    h = _load(ir, ir_seconds)
    h /= np.abs(h).max()
    y = _recording(x, h, 0.0, seed=7).astype(np.float64)
    rms = np.sqrt(np.mean(y ** 2))
    y = (y + _coloured(y.size, slope, seed=8) * rms * 10 ** (-snr / 20)).astype(np.float32)
    got = si_sdr(deconvolve(y, h, sample_rate=SR)[: x.size], x)
    assert got >= _oracle(y, h, x) - 4.5, got


def test_floor_shape_follows_coloured_noise_not_the_signal():
    """_floor_shape: a brown floor is found as brown; a reverberant speech recording over a
    white floor (whose minimum statistics run 40 dB above the floor at low frequencies, the
    reverberation filling every pause) keeps a white shape."""
    from irforge.deconvolution import _analyse

    r = np.random.default_rng(3)
    n = 3 * SR
    brown = _coloured(n, -6.0, seed=4) + 0.01 * r.standard_normal(n)
    spec = _analyse(brown[None].astype(np.float32), SR, 4096)
    f = np.arange(spec.shape.shape[1]) * SR / spec.n_fft
    k100, k1k = np.searchsorted(f, [100.0, 1000.0])
    slope = 10 * np.log10(spec.shape[0, k100] / spec.shape[0, k1k])
    assert 15.0 < slope < 25.0, slope            # brown: 20 dB per decade
    x = _load("dry/speech_spatialaudio_xmas_male_voice.wav", 2.5)
    h = _load("room_ir/spatialaudio_rir_clap_seminar_room.wav")
    y = _recording(x, h / np.abs(h).max(), 0.0, seed=5)
    spec = _analyse(y[None], SR, h.size)
    sh = spec.shape[0]
    assert np.ptp(10 * np.log10(sh[2:])) < 3.0    # white, though s_n is not
    assert np.ptp(10 * np.log10(spec.s_n[0][2:])) > 20.0


def _image_source_room(t60, seed):
    """A shoebox room by the image-source method (pyroomacoustics): the benchmark's own builder
    (benchmarks/bench_deconvolve_realistic.py), so tests and benchmark use the same rooms."""
    pytest.importorskip("pyroomacoustics")
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from bench_deconvolve_realistic import SR as BENCH_SR, image_source_room

    assert BENCH_SR == SR
    return image_source_room(t60, seed)


@pytest.mark.parametrize("t60,cond", [(0.4, "brown40"), (0.9, "pink40"), (0.9, "dc-60")])
def test_image_source_rooms(t60, cond):
    """Simulated rooms (image-source method) with a clean guitar DI: a coloured floor or a DC
    offset over the 60 dB white floor, auto within 2 dB of the oracle (material and rooms not
    among the pairs the noise model was developed on)."""
    x = _load("dry/guitarDI_gulmini_loop.wav", 2.5)
    h = _image_source_room(t60, seed=77)
    h /= np.abs(h).max()
    y = _recording(x, h, 1e-3 if cond == "dc-60" else 0.0, seed=9).astype(np.float64)
    if cond != "dc-60":
        rms = np.sqrt(np.mean(y ** 2))
        y = y + _coloured(y.size, -6.0 if cond.startswith("brown") else -3.0, seed=10) * rms * 1e-2
    y = y.astype(np.float32)
    got = si_sdr(deconvolve(y, h, sample_rate=SR)[: x.size], x)
    assert got >= _oracle(y, h, x) - 2.0, got


def test_dc_offset_in_a_room_that_passes_dc():
    """A guitar note through a small image-source room (which passes DC almost fully) with a
    -60 dBFS offset: the offset, smeared over +-13 Welch bins by the floor's smoothing, was
    taken for a brown floor at low frequencies (-28 dB re the oracle); near detected lines the
    floor now comes from the shape fitted without them."""
    x = _load("dry/guitarDI_toobamp_Guitar-E2.wav", 2.5)
    h = _image_source_room(0.3, seed=11)
    h /= np.abs(h).max()
    y = _recording(x, h, 1e-3, seed=12)
    got = si_sdr(deconvolve(y, h, sample_rate=SR)[: x.size], x)
    assert got >= _oracle(y, h, x) - 2.0, got


@pytest.mark.parametrize("seed", [13, 23])
def test_brown_floor_under_music_that_never_pauses_at_low_frequencies(seed):
    """A guitar loop through a real hall over brown noise at 30 dB: the loop fills the low
    frequencies in every frame, so the floor is stationary only from about 2.8 kHz up, just
    under 3 octaves; the floor was then taken for white and GCV, unwhitened where the brown
    noise is loud, drove lambda far too low (-49 dB SI-SDR against an oracle of 21.5). A
    coloured floor is now fitted over 2 octaves of stationary bins (the 1 dB better-fit rule
    still guards it); on noise realisations not used while tuning, the worst coloured-floor
    pair of the held-out grids went from -19.8 to -16.1 dB re the oracle."""
    x = _load("dry/guitarDI_gulmini_loop.wav", 6.5)[4 * SR:]        # the benchmark's excerpt
    h = _load("room_ir/openair_SpokaneWomansClub_stereo_44k.wav", 1.5)
    h /= np.abs(h).max()
    y = _recording(x, h, 0.0, seed=seed).astype(np.float64)
    rms = np.sqrt(np.mean(y ** 2))
    y = (y + _coloured(y.size, -6.0, seed=seed + 1) * rms * 10 ** (-30 / 20)).astype(np.float32)
    got = si_sdr(deconvolve(y, h, sample_rate=SR)[: x.size], x)
    assert got >= _oracle(y, h, x) - 2.0, got
