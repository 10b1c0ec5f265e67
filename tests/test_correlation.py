"""The core's exact cross-correlation window against numpy.correlate."""

import numpy as np
import pytest

from irforge import _core


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("ny,nx", [(1, 1), (5, 3), (3, 5), (1000, 700), (200000, 150000)])
def test_xcorr_lags_match_numpy(rng, ny, nx, dtype):
    # float32 signals are read as float32 and summed in float64: the reference is the float64
    # correlation of the same (float32-representable) values
    y = rng.standard_normal(ny).astype(dtype).astype(np.float64)
    x = rng.standard_normal(nx).astype(dtype).astype(np.float64)
    full = np.correlate(y, x, "full") if ny * nx < 1e7 else None
    for lo, hi in [(-(nx - 1), -(nx - 1) + 4), (-3, 3), (ny - 5, ny - 1), (-(nx + 5), ny + 5)]:
        if hi - lo > 2000:
            lo, hi = -2, 2
        c = _core.xcorr_lags(y.astype(dtype), x.astype(dtype), lo, hi)
        lags = np.arange(lo, hi + 1)
        if full is not None:
            ref = np.array([full[k + nx - 1] if -nx < k < ny else 0.0 for k in lags])
        else:
            ref = np.array([np.dot(x[max(0, -k):min(nx, ny - k)], y[max(0, k):max(0, k) + min(nx, ny - k) - max(0, -k)])
                            for k in lags])
        np.testing.assert_allclose(c, ref, rtol=1e-10, atol=1e-9 * np.sqrt(nx))


@pytest.mark.parametrize("lo,hi", [(-11, 11), (-1, 6), (3, 3)])
def test_xcorr_lags_every_lag_group_size(rng, lo, hi):
    """The SIMD path takes lags four at a time plus a remainder: check every position."""
    y, x = rng.standard_normal(50003), rng.standard_normal(40001)
    c = _core.xcorr_lags(y, x, lo, hi)
    full = np.correlate(y[:45000], x, "full")  # enough of y for these lags
    for k, lag in enumerate(range(lo, hi + 1)):
        ref = np.dot(x[max(0, -lag):], y[max(0, lag):max(0, lag) + len(x) - max(0, -lag)])
        assert abs(c[k] - ref) <= 1e-9 * np.sqrt(len(x)), lag
    assert np.isfinite(full).all()


def test_xcorr_lags_bad_arguments():
    with pytest.raises(ValueError, match="hi"):
        _core.xcorr_lags(np.zeros(4), np.zeros(4), 2, 1)
    with pytest.raises(ValueError, match="1-D"):
        _core.xcorr_lags(np.zeros((2, 4)), np.zeros(4), 0, 1)


@pytest.mark.parametrize("ny,nx,lo,hi", [(50000, 40000, -20, 20), (50000, 40000, -3000, 2500),
                                         (30000, 30000, 29990, 30010), (5000, 9000, -9100, -8800),
                                         (100, 60, -70, 110)])
def test_xcorr_window_matches_the_exact_lags(rng, ny, nx, lo, hi):
    y = rng.standard_normal(ny).astype(np.float32)
    x = rng.standard_normal(nx).astype(np.float32)
    got = _core.xcorr_window(y, x, lo, hi)
    want = _core.xcorr_lags(y, x, lo, hi)
    scale = np.sqrt(np.dot(x.astype(float), x) * np.dot(y.astype(float), y))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-6 * scale)


def test_xcorr_window_bad_arguments():
    with pytest.raises(ValueError, match="hi"):
        _core.xcorr_window(np.zeros(4, np.float32), np.zeros(4, np.float32), 2, 1)
    with pytest.raises(ValueError, match="1-D"):
        _core.xcorr_window(np.zeros((2, 4), np.float32), np.zeros(4, np.float32), 0, 1)
