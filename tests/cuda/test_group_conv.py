"""The p4 group convolution is CPU only: device arrays are refused with a clear NotImplementedError."""
import numpy as np
import pytest

import ops

pytestmark = pytest.mark.cuda


def test_p4_conv2d_refuses_device_arrays(rng, dev):
    x, w = dev(rng.standard_normal((1, 2, 5, 5))), dev(rng.standard_normal((3, 2, 3, 3)))
    with pytest.raises(NotImplementedError, match="CPU only"):
        ops.p4_conv2d(x, w)
    with pytest.raises(NotImplementedError, match="CPU only"):
        ops.p4_conv2d_grad_weight(x, dev(np.zeros((1, 3, 4, 3, 3))), (3, 2, 3, 3))
