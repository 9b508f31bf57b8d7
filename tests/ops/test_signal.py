"""correlate / convolve / fftconvolve: the reference and the public ops against scipy.signal."""
import numpy as np
import pytest
import scipy.signal

import ops
from ops import reference
from tests.helpers import assert_close, numerical_grad

MODES = ["full", "same", "valid"]
DTYPES = [np.float32, np.float64]


def random_pair(rng, nd, dtype, second_larger=False):
    """Two random arrays of nd dims with odd and even sizes; in2 contained in in1 unless second_larger."""
    big = rng.integers(5, 10 if nd < 3 else 7, size=nd)
    small = np.array([rng.integers(1, b + 1) for b in big])
    s1, s2 = (small, big) if second_larger else (big, small)
    return rng.standard_normal(tuple(s1)).astype(dtype), rng.standard_normal(tuple(s2)).astype(dtype)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("second_larger", [False, True])
def test_reference_matches_scipy(rng, nd, mode, dtype, second_larger):
    for _ in range(3):
        in1, in2 = random_pair(rng, nd, dtype, second_larger)
        for ours, theirs in [(reference.correlate, scipy.signal.correlate),
                             (reference.convolve, scipy.signal.convolve),
                             (reference.fftconvolve, scipy.signal.fftconvolve)]:
            expected = theirs(in1.astype(np.float64), in2.astype(np.float64), mode)
            result = ours(in1, in2, mode)
            assert result.dtype == dtype
            assert_close(result, expected, dtype)


@pytest.mark.parametrize("method", ["auto", "direct", "fft"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_public_ops_match_scipy(rng, method, mode, dtype):
    for nd in (1, 2, 3):
        for second_larger in (False, True):
            in1, in2 = random_pair(rng, nd, dtype, second_larger)
            a, b = in1.astype(np.float64), in2.astype(np.float64)
            assert_close(ops.correlate(in1, in2, mode, method), scipy.signal.correlate(a, b, mode), dtype)
            assert_close(ops.convolve(in1, in2, mode, method), scipy.signal.convolve(a, b, mode), dtype)
    in1, in2 = random_pair(rng, 2, dtype)
    assert_close(ops.fftconvolve(in1, in2, mode), scipy.signal.fftconvolve(in1, in2, mode), dtype)


def test_mixed_precision_promotes_like_scipy(rng):
    in1 = rng.standard_normal((9, 7)).astype(np.float32)
    in2 = rng.standard_normal((3, 2))
    assert ops.correlate(in1, in2).dtype == np.float64


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("nd", [1, 2])
def test_gradients_match_finite_differences(rng, mode, nd):
    in1 = rng.standard_normal((6, 5)[:nd])
    in2 = rng.standard_normal((3, 2)[:nd])
    for forward, backward in [(ops.correlate, ops.correlate_grad), (ops.convolve, ops.convolve_grad)]:
        weights = rng.standard_normal(forward(in1, in2, mode).shape)
        g1, g2 = backward(weights, in1, in2, mode)
        assert_close(g1, numerical_grad(lambda a: np.sum(weights * forward(a, in2, mode)), in1.copy()), scale=1e4)
        assert_close(g2, numerical_grad(lambda b: np.sum(weights * forward(in1, b, mode)), in2.copy()), scale=1e4)
