"""The core's exact cross-correlation window against numpy.correlate."""

import numpy as np
import pytest

from irforge import _core


@pytest.mark.parametrize("ny,nx", [(1, 1), (5, 3), (3, 5), (1000, 700), (200000, 150000)])
def test_xcorr_lags_match_numpy(rng, ny, nx):
    y, x = rng.standard_normal(ny), rng.standard_normal(nx)
    full = np.correlate(y, x, "full") if ny * nx < 1e7 else None
    for lo, hi in [(-(nx - 1), -(nx - 1) + 4), (-3, 3), (ny - 5, ny - 1), (-(nx + 5), ny + 5)]:
        if hi - lo > 2000:
            lo, hi = -2, 2
        c = _core.xcorr_lags(y, x, lo, hi)
        lags = np.arange(lo, hi + 1)
        if full is not None:
            ref = np.array([full[k + nx - 1] if -nx < k < ny else 0.0 for k in lags])
        else:
            ref = np.array([np.dot(x[max(0, -k):min(nx, ny - k)], y[max(0, k):max(0, k) + min(nx, ny - k) - max(0, -k)])
                            for k in lags])
        np.testing.assert_allclose(c, ref, rtol=1e-10, atol=1e-9 * np.sqrt(nx))


def test_xcorr_lags_bad_arguments():
    with pytest.raises(ValueError, match="hi"):
        _core.xcorr_lags(np.zeros(4), np.zeros(4), 2, 1)
    with pytest.raises(ValueError, match="1-D"):
        _core.xcorr_lags(np.zeros((2, 4)), np.zeros(4), 0, 1)
