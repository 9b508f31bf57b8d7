"""'auto' on CUDA: the rule's pick and, under autotune, the timed pick agree with the reference."""
import numpy as np
import pytest

import ops
from ops import reference, select, shapes
from tests.helpers import assert_close


@pytest.fixture
def autotuning():
    previous = ops.autotune(True)
    yield
    ops.autotune(previous)


@pytest.mark.parametrize("tuned", [False, True])
def test_auto_agrees_with_the_reference(rng, dev, tuned, request):
    if tuned:
        request.getfixturevalue("autotuning")
    x = rng.standard_normal((1, 3, 5, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    geom = shapes.conv_geometry(x.shape, w.shape, 2, 1, 1)
    out = ops.conv2d(dev(x), dev(w), padding=1)
    assert_close(out.copy_to_host(), reference.conv.forward(x, w, None, geom))
    if tuned:
        assert ("conv", "forward", geom, x.dtype.str, "cuda") in select._winners
