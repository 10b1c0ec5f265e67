"""Our C++ FFT against numpy.fft (float64 reference), both kernel sets."""

import numpy as np
import pytest

from irforge import _core

SIZES = [2**k for k in range(4, 21)]


@pytest.fixture(params=["generic", "avx2"])
def isa(request):
    if not _core._internal.set_fft_isa(request.param):
        pytest.skip(f"CPU cannot run the {request.param} kernels")
    yield request.param
    _core._internal.set_fft_isa("auto")


@pytest.mark.parametrize("n", SIZES)
def test_rfft_matches_numpy(isa, n):
    rng = np.random.default_rng(n)
    rows = max(1, min(4, 2**16 // n))
    x = rng.uniform(-1, 1, (rows, n)).astype(np.float32)
    ref = np.fft.rfft(x.astype(np.float64), axis=-1)
    X = _core.rfft(x)
    assert X.dtype == np.complex64 and X.shape == (rows, n // 2 + 1)
    err = np.max(np.abs(X - ref)) / np.max(np.abs(ref))
    assert err <= 1e-6, f"{isa} n={n}: relative error {err:.3g}"


@pytest.mark.parametrize("n", SIZES)
def test_irfft_round_trip(isa, n):
    rng = np.random.default_rng(n + 1)
    x = rng.uniform(-1, 1, (1, n)).astype(np.float32)
    ref = np.fft.irfft(np.fft.rfft(x.astype(np.float64)), n) * n
    y = _core.irfft(_core.rfft(x), n)
    err = np.max(np.abs(y - ref)) / np.max(np.abs(ref))
    assert err <= 1e-6, f"{isa} n={n}: relative error {err:.3g}"


@pytest.mark.parametrize("n", [16, 32, 64, 256, 4096, 2**15, 2**18])
def test_packed_circular_convolution(isa, n):
    rng = np.random.default_rng(n + 2)
    a = rng.uniform(-1, 1, n).astype(np.float32)
    b = rng.uniform(-1, 1, n).astype(np.float32)
    ref = np.fft.irfft(np.fft.rfft(a.astype(np.float64)) * np.fft.rfft(b.astype(np.float64)), n) * n
    y = _core._internal.packed_circular(a, b)
    err = np.max(np.abs(y - ref)) / np.max(np.abs(ref))
    assert err <= 1e-5, f"{isa} n={n}: relative error {err:.3g}"


def test_kernel_sets_agree():
    if not _core._internal.set_fft_isa("avx2"):
        pytest.skip("no AVX2 on this CPU")
    x = np.random.default_rng(0).uniform(-1, 1, (3, 4096)).astype(np.float32)
    a = _core.rfft(x)
    _core._internal.set_fft_isa("generic")
    b = _core.rfft(x)
    _core._internal.set_fft_isa("auto")
    assert np.max(np.abs(a - b)) / np.max(np.abs(a)) < 1e-6


def test_isa_reported():
    assert _core._internal.fft_isa() in ("avx2", "generic")


@pytest.mark.parametrize("n", [0, 1, 8, 100, 3000])
def test_bad_sizes_raise(n):
    with pytest.raises(ValueError):
        _core.rfft(np.zeros((1, n), np.float32))


@pytest.mark.parametrize("n", [2, 3, 5, 16, 17, 100, 1001, 4099, 119999, 120000])
def test_any_length_rdft_matches_numpy(n):
    """Bluestein's any-length real DFT (used for Ciba's 119999-point filter) vs numpy, both
    directions, real input and an arbitrary Hermitian spectrum."""
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(np.float32)
    X = _core.rdft(x)
    ref = np.fft.rfft(x.astype(np.float64))
    assert X.shape == (n // 2 + 1,) and X.dtype == np.complex64
    assert np.max(np.abs(X - ref)) <= 2e-6 * np.max(np.abs(ref))
    np.testing.assert_allclose(_core.irdft(X, n) / n, x, rtol=0, atol=5e-6 * np.max(np.abs(x)))
    Z = (rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)).astype(np.complex64)
    want = np.fft.irfft(Z.astype(np.complex128), n) * n
    assert np.max(np.abs(_core.irdft(Z, n) - want)) <= 2e-6 * np.max(np.abs(want))


def test_any_length_rdft_bad_arguments():
    with pytest.raises(ValueError, match="length"):
        _core.rdft(np.zeros(1, np.float32))
    with pytest.raises(ValueError, match="too long"):
        _core.rdft(np.zeros((1 << 21) + 1, np.float32))
    with pytest.raises(ValueError, match="bins"):
        _core.irdft(np.zeros(5, np.complex64), 100)
