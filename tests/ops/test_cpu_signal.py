"""Every CPU correlate/convolve method (direct Numba kernel, FFT, overlap-add), forced by name,
against the NumPy reference: 1-3 dims, every mode, both dtypes, odd sizes, the larger input second."""
import numpy as np
import pytest

import ops
from ops import reference, select
from tests.helpers import assert_close

METHODS = sorted(select.SIGNAL_METHODS["cpu"])


def random_pair(rng, nd, dtype, mode):
    a = tuple(int(v) for v in rng.integers(1, 24 if nd < 3 else 9, nd))
    b = tuple(int(v) for v in rng.integers(1, 8 if nd < 3 else 5, nd))
    if mode == "valid":  # one input must contain the other; sometimes the second is the larger
        a, b = tuple(max(x, y) for x, y in zip(a, b)), tuple(min(x, y) for x, y in zip(a, b))
        if rng.random() < 0.3:
            a, b = b, a
    return rng.standard_normal(a).astype(dtype), rng.standard_normal(b).astype(dtype)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_method_matches_the_reference(rng, method, nd, dtype):
    for mode in ("full", "same", "valid"):
        for _ in range(3):
            in1, in2 = random_pair(rng, nd, dtype, mode)
            for ours, oracle in ((ops.convolve, reference.convolve), (ops.correlate, reference.correlate)):
                out = ours(in1, in2, mode, method)
                assert out.dtype == dtype
                assert_close(out, oracle(in1, in2, mode))


@pytest.mark.parametrize("method", METHODS)
def test_long_signal_against_short_kernels(rng, method):
    """The overlap-add regime: many blocks, a kernel longer than one FFT's worth of overlap, all modes."""
    signal = rng.standard_normal(5000)
    for taps in (1, 2, 31, 200):
        kernel = rng.standard_normal(taps)
        for mode in ("full", "same", "valid"):
            assert_close(ops.correlate(signal, kernel, mode, method), reference.correlate(signal, kernel, mode))
    image = rng.standard_normal((300, 41))
    kernel = rng.standard_normal((9, 4))
    assert_close(ops.convolve(image, kernel, "same", method), reference.convolve(image, kernel, "same"))
