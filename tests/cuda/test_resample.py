"""ops.pad / interpolate / adaptive pooling on device arrays against the NumPy oracle, float32 and float64."""
import numpy as np
import pytest

import ops
from ops.reference import resample as ref
from tests.helpers import assert_close

pytestmark = pytest.mark.cuda


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_resample_kernels_match_the_reference(dtype, rng, dev):
    x = rng.standard_normal((1, 2, 3, 4)).astype(dtype)
    for mode, value in (("constant", 0.5), ("reflect", 0.0), ("replicate", 0.0), ("circular", 0.0)):
        pads = ((1, 2), (2, 1))
        out = ops.pad(dev(x), pads, mode, value)
        assert_close(out.copy_to_host(), ref.pad(x, pads, mode, value))
        g = rng.standard_normal(out.shape).astype(dtype)
        assert_close(ops.pad_grad_input(dev(g), x.shape, pads, mode).copy_to_host(), ref.pad_grad_input(g, x.shape, pads, mode))
    up = ops.interpolate(dev(x), size=(5, 6), mode="bilinear")
    assert_close(up.copy_to_host(), ref.interpolate(x, (5, 6), (3 / 5, 4 / 6), "bilinear", False))
    out, indices = ops.adaptive_max_pool2d(dev(x), (2, 3), return_indices=True)
    want, want_indices = ref.adaptive_max_pool(x, (2, 3))
    assert np.array_equal(out.copy_to_host(), want) and np.array_equal(indices.copy_to_host(), want_indices)
    g = rng.standard_normal(want.shape).astype(dtype)
    assert_close(ops.adaptive_max_pool_grad_input(dev(g), indices, x.shape, 2).copy_to_host(),
                 ref.adaptive_max_pool_grad_input(g, want_indices, x.shape))
    assert_close(ops.adaptive_avg_pool2d(dev(x), (2, 3)).copy_to_host(), ref.adaptive_avg_pool(x, (2, 3)))
