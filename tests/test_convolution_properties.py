"""Property tests: any lengths, layouts, block sizes and chunkings agree with scipy."""

import numpy as np
import scipy.signal as ss
from hypothesis import given, settings
from hypothesis import strategies as st

import irforge
from conftest import max_rel_err
from test_convolution import _layout_ref

LAYOUTS = [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (4, 1), (4, 2)]


@settings(max_examples=40, deadline=None)
@given(layout=st.sampled_from(LAYOUTS), n=st.integers(0, 5000), m=st.integers(1, 3000),
       buffer_size=st.integers(1, 2048), chunks=st.lists(st.integers(0, 1500), min_size=1, max_size=6),
       seed=st.integers(0, 2**32 - 1))
def test_convolve_and_stream_agree_with_scipy(layout, n, m, buffer_size, chunks, seed):
    n_ir, n_audio = layout
    r = np.random.default_rng(seed)
    h = (r.uniform(-1, 1, (n_ir, m)) * np.exp(-np.arange(m) / (0.3 * m + 1))).astype(np.float32)
    x = r.uniform(-1, 1, (n_audio, n)).astype(np.float32)
    y = irforge.convolve(x, h)
    if n == 0:
        assert y.shape[-1] == 0
        return
    ref = _layout_ref(x, h)
    assert y.shape == ref.shape and max_rel_err(y, ref) <= 1e-5
    # the same stream cut into arbitrary chunks (reset=False) gives the zero-latency prefix
    fx = irforge.Convolver(h, sample_rate=48000)
    outs, pos, k = [], 0, 0
    while pos < n:
        c = chunks[k % len(chunks)] or 1
        outs.append(fx.process(x[:, pos:pos + c], 48000, buffer_size=buffer_size, reset=(pos == 0)))
        pos += c
        k += 1
    assert max_rel_err(np.concatenate(outs, axis=1), ref[:, :n]) <= 1e-5


def test_reference_helper_matches_numpy():
    # the routing reference itself, checked once against a direct numpy convolution
    x = np.array([[1.0, 2.0, 0.0]])
    h = np.array([[0.5, 0.25]])
    np.testing.assert_allclose(_layout_ref(x, h), [np.convolve(x[0], h[0])])
    np.testing.assert_allclose(ss.fftconvolve(x[0], h[0]), np.convolve(x[0], h[0]))
