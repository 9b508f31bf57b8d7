"""CUDA convolutions (direct, gemm, fft) through the public ops on device arrays, against the NumPy reference.

Shapes are small (the simulator runs each GPU thread in Python) but reach every
branch: 1-3-D, stride, padding (asymmetric with 'same' and an even kernel),
dilation, groups and depthwise, batch 1, odd sizes, and sizes one below and one
above a tile (direct: 32 output columns per block in 2-D, 128 in 1-D, 4 output
channels per thread; gemm: 64 x 64 tiles of C, K in slices of 16). The FFT
runs on the smallest cases only (see FFT_CASES).
"""
import numpy as np
import pytest

import ops
from ops import reference, shapes
from ops.cuda import arrays, direct, gemm
from tests.helpers import assert_close

pytestmark = pytest.mark.cuda

CONV = {1: ops.conv1d, 2: ops.conv2d, 3: ops.conv3d}
GRAD_INPUT = {1: ops.conv1d_grad_input, 2: ops.conv2d_grad_input, 3: ops.conv3d_grad_input}
GRAD_WEIGHT = {1: ops.conv1d_grad_weight, 2: ops.conv2d_grad_weight, 3: ops.conv3d_grad_weight}

# (input shape, weight shape, conv arguments, dtype)
CASES = {
    "1d-stride-pad": ((2, 3, 13), (5, 3, 4), dict(stride=3, padding=2), np.float32),
    "1d-129-columns": ((1, 1, 131), (3, 1, 3), dict(), np.float64),
    "1d-127-columns-dilated": ((1, 2, 131), (2, 2, 3), dict(dilation=2), np.float32),
    "2d-groups-dilation": ((2, 4, 7, 6), (6, 2, 3, 2), dict(stride=(2, 1), padding=1, dilation=(1, 2), groups=2), np.float64),
    "2d-same-even-kernel": ((1, 2, 6, 5), (5, 2, 4, 2), dict(padding="same", dilation=(1, 2)), np.float32),
    "2d-depthwise": ((2, 3, 5, 5), (3, 1, 3, 3), dict(stride=2, padding=1, groups=3), np.float32),
    "2d-33-columns-5-rows": ((1, 1, 7, 35), (1, 1, 3, 3), dict(), np.float32),
    "2d-31-columns": ((1, 2, 4, 33), (2, 2, 3, 3), dict(), np.float64),
    "3d-groups": ((1, 2, 4, 5, 3), (4, 1, 2, 3, 2), dict(padding=1, groups=2), np.float64),
    "3d-stride-dilation": ((2, 1, 5, 4, 4), (2, 1, 2, 2, 3), dict(stride=(2, 1, 1), padding=(1, 0, 1), dilation=(1, 1, 2)), np.float32),
    "65-kernels-17-channels": ((1, 17, 3, 3), (65, 17, 1, 1), dict(), np.float32),
    "63-positions": ((1, 2, 9, 7), (3, 2, 1, 1), dict(), np.float32),
    "65-positions": ((1, 2, 13, 5), (3, 2, 1, 1), dict(), np.float64),
    "1x1-stride-2-padded": ((2, 3, 5, 6), (4, 3, 1, 1), dict(stride=2, padding=(1, 0)), np.float64),
    "1d-small-stride-pad": ((2, 1, 9), (3, 1, 4), dict(stride=3, padding=2), np.float64),
    "2d-small-groups-dilation": ((1, 2, 5, 4), (2, 1, 3, 2), dict(stride=(2, 1), padding=1, dilation=(1, 2), groups=2), np.float32),
    "2d-small-same-even-kernel": ((1, 1, 4, 5), (2, 1, 4, 2), dict(padding="same"), np.float64),
    "3d-small-groups": ((1, 2, 3, 3, 2), (2, 1, 2, 2, 2), dict(padding=(1, 0, 0), groups=2), np.float32),
}
# the FFT's transforms run a thread per butterfly of every plane: in the simulator, small planes and few channels only
FFT_CASES = ["1d-small-stride-pad", "2d-small-groups-dilation", "2d-small-same-even-kernel", "3d-small-groups"]
RUNS = [(case, algorithm) for case in CASES for algorithm in ("direct", "gemm")] + [(case, "fft") for case in FFT_CASES]


def _data(rng, x_shape, w_shape, kwargs, dtype):
    nd = len(x_shape) - 2
    geom = shapes.conv_geometry(x_shape, w_shape, nd, **kwargs)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    bias = rng.standard_normal(w_shape[0]).astype(dtype)
    grad_out = rng.standard_normal(geom.output_shape).astype(dtype)
    return geom, x, w, bias, grad_out


@pytest.mark.parametrize("case, algorithm", RUNS)
def test_conv_and_gradients_match_reference(case, algorithm, rng, dev):
    x_shape, w_shape, kwargs, dtype = CASES[case]
    nd = len(x_shape) - 2
    geom, x, w, bias, grad_out = _data(rng, x_shape, w_shape, kwargs, dtype)

    out = CONV[nd](dev(x), dev(w), dev(bias), algorithm=algorithm, **kwargs)
    assert shapes.device_of(out) == "cuda"
    assert_close(out.copy_to_host(), reference.conv.forward(x, w, bias, geom), dtype)

    grad_x = GRAD_INPUT[nd](dev(grad_out), dev(w), x_shape, algorithm=algorithm, **kwargs)
    assert_close(grad_x.copy_to_host(), reference.conv.grad_input(grad_out, w, geom), dtype)

    grad_w = GRAD_WEIGHT[nd](dev(x), dev(grad_out), w_shape, algorithm=algorithm, **kwargs)
    assert_close(grad_w.copy_to_host(), reference.conv.grad_weight(x, grad_out, geom), dtype)


def test_default_algorithm_on_device_arrays(rng, dev):
    geom, x, w, _, _ = _data(rng, (1, 2, 5, 4), (3, 2, 2, 2), dict(padding=1), np.float32)
    out = ops.conv2d(dev(x), dev(w), padding=1)
    assert_close(out.copy_to_host(), reference.conv.forward(x, w, None, geom))


def test_transposed_conv_on_device_arrays(rng, dev):
    x = rng.standard_normal((1, 3, 4, 3)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 2)).astype(np.float32)
    bias = rng.standard_normal(2).astype(np.float32)
    expected = ops.conv_transpose2d(x, w, bias, stride=2, padding=1, output_padding=1, algorithm="reference")
    out = ops.conv_transpose2d(dev(x), dev(w), dev(bias), stride=2, padding=1, output_padding=1)
    assert_close(out.copy_to_host(), expected)


def test_transposed_conv_with_output_padding_past_the_stride(rng, dev):
    """output_padding >= stride (below the dilation): x is read on its conv's longer output grid, on the device."""
    x = rng.standard_normal((1, 2, 5)).astype(np.float32)
    w = rng.standard_normal((2, 3, 3)).astype(np.float32)
    args = dict(stride=1, dilation=2, output_padding=1)
    expected = ops.conv_transpose1d(x, w, **args)
    out = ops.conv_transpose1d(dev(x), dev(w), **args)
    assert_close(out.copy_to_host(), expected)
    g = rng.standard_normal(expected.shape).astype(np.float32)
    assert_close(ops.conv_transpose1d_grad_input(dev(g), dev(w), x.shape, **args).copy_to_host(),
                 ops.conv_transpose1d_grad_input(g, w, x.shape, **args))
    assert_close(ops.conv_transpose1d_grad_weight(dev(x), dev(g), w.shape, **args).copy_to_host(),
                 ops.conv_transpose1d_grad_weight(x, g, w.shape, **args))


@pytest.mark.parametrize("module", [direct, gemm])
def test_more_batches_than_the_grid_holds(module, rng, dev, monkeypatch):
    """Blocks loop over the batch / group index when it exceeds gridDim.z (65535 on the hardware)."""
    monkeypatch.setattr(arrays, "MAX_GRID_Z", 2)
    geom, x, w, bias, _ = _data(rng, (3, 2, 4, 3), (6, 1, 2, 2), dict(groups=2), np.float32)
    out = module.forward(dev(x), dev(w), dev(bias), geom)
    assert_close(out.copy_to_host(), reference.conv.forward(x, w, bias, geom))


def test_direct_shrinks_its_tile_to_fit_shared_memory(rng, dev):
    # a 77 x 77 dilated window in float64: the 4 x 4 tile's patch needs 51 KB, a 2 x 2 tile's fits in 48 KB
    geom, x, w, _, _ = _data(rng, (1, 1, 80, 80), (1, 1, 3, 3), dict(dilation=38), np.float64)
    assert direct._tile(geom, 8)[0] == (2, 2)
    out = direct.forward(dev(x), dev(w), None, geom)
    assert_close(out.copy_to_host(), reference.conv.forward(x, w, None, geom))


def test_direct_refuses_a_window_beyond_shared_memory():
    geom = shapes.conv_geometry((1, 1, 90, 90), (1, 1, 3, 3), 2, dilation=40)
    with pytest.raises(ValueError, match="shared memory"):
        direct._tile(geom, 8)


@pytest.mark.parametrize("m, n, k, dtype", [(63, 65, 17, np.float32), (65, 7, 16, np.float64)])
def test_matmul_with_strided_operands_groups_and_sums(m, n, k, dtype, rng, dev):
    """C[g] = sum_s A[g, s]^T @ B[g, s]: A read transposed through its strides, 2 groups, 2 summed terms."""
    a = rng.standard_normal((2, 2, k, m)).astype(dtype)      # (group, summed, k, m): A[g, s] is a[g, s].T
    b = rng.standard_normal((2, 2, k, n)).astype(dtype)
    bias = rng.standard_normal(2 * m).astype(dtype)
    c = arrays.empty((2, m, n), dtype)
    gemm.matmul(dev(a), dev(b), c, m, n, k, (0, 2 * k * m, k * m, 1, m), (0, 2 * k * n, k * n, n, 1),
                (0, m * n, 0, n, 1), groups=2, sums=2, bias=dev(bias))
    expected = np.einsum("gskm,gskn->gmn", a, b) + bias.reshape(2, m, 1)
    assert_close(c.copy_to_host(), expected, dtype)
