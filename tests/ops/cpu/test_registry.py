"""Every CPU conv algorithm registered in ops.select, called directly where its supports() holds, and 'auto'
and the 'direct' family through ops.conv*d, against the NumPy reference on one shared list of cases; and each
module's cost() is a finite estimate wherever its supports() holds."""
import importlib
import math

import numpy as np
import pytest

import ops
from ops import reference, select, shapes
from ops._native import products
from tests.helpers import assert_close

PASSES = ("forward", "grad_input", "grad_weight")
NAMES = sorted(set(select.CONV_ALGORITHMS["cpu"]) - {"reference"})
CONV = {1: ops.conv1d, 2: ops.conv2d, 3: ops.conv3d}
GRAD_INPUT = {1: ops.conv1d_grad_input, 2: ops.conv2d_grad_input, 3: ops.conv3d_grad_input}
GRAD_WEIGHT = {1: ops.conv1d_grad_weight, 2: ops.conv2d_grad_weight, 3: ops.conv3d_grad_weight}

# (input shape, weight shape, stride, padding, dilation, groups): odd sizes, strides, padding, dilation, groups
# (depthwise, with a channel multiplier), batch 1, in 1-3 dims; stride-1 and stride-2 convs with >= 4 filters
# per group (the implicit GEMM), depthwise and first layers (the native depthwise kernels), 3x3 (Winograd).
CASES = {
    "1d": ((2, 3, 29), (5, 3, 4), 1, 2, 1, 1),
    "1d strided dilated": ((1, 4, 31), (8, 2, 3), 2, 3, 2, 2),
    "1d depthwise": ((2, 3, 17), (3, 1, 5), 1, 2, 1, 3),
    "2d 3x3": ((2, 5, 11, 9), (6, 5, 3, 3), 1, 1, 1, 1),
    "2d first layer": ((3, 1, 12, 13), (6, 1, 5, 5), 1, 2, 1, 1),
    "2d depthwise": ((1, 4, 13, 10), (4, 1, 3, 3), 1, 1, 1, 4),
    "2d multiplier": ((2, 3, 9, 8), (6, 1, 3, 2), 1, (1, 0), 1, 3),
    "2d stride 2": ((2, 3, 15, 17), (8, 3, 5, 5), 2, 2, 1, 1),
    "2d stride (1, 3) groups": ((1, 6, 10, 14), (8, 3, 3, 3), (1, 3), 1, (2, 1), 2),
    "2d dilated groups": ((2, 8, 9, 11), (12, 4, 3, 3), 1, 3, 2, 2),
    "3d": ((1, 3, 6, 7, 5), (4, 3, 3, 2, 3), 1, (1, 0, 2), 1, 1),
    "3d strided depthwise": ((2, 2, 7, 6, 9), (2, 1, 3, 3, 2), (2, 1, 2), 1, 1, 2),
}


def _module(name):
    return importlib.import_module(select.CONV_ALGORITHMS["cpu"][name])


def _geometry(case):
    x_shape, w_shape, stride, padding, dilation, groups = CASES[case]
    return shapes.conv_geometry(x_shape, w_shape, len(x_shape) - 2, stride, padding, dilation, groups)


def _operands(rng, geom, dtype):
    """x, w, bias, grad_out and what the reference makes of them per pass."""
    x = rng.standard_normal(geom.input_shape).astype(dtype)
    w = rng.standard_normal(geom.weight_shape).astype(dtype)
    bias = rng.standard_normal(geom.out_channels).astype(dtype)
    g = rng.standard_normal(geom.output_shape).astype(dtype)
    expected = {"forward": reference.conv.forward(x, w, bias, geom), "grad_input": reference.conv.grad_input(g, w, geom),
                "grad_weight": reference.conv.grad_weight(x, g, geom)}
    return x, w, bias, g, expected


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_algorithm_where_it_supports_the_pass_matches_the_reference(rng, case, dtype):
    geom = _geometry(case)
    x, w, bias, g, expected = _operands(rng, geom, dtype)
    for name in NAMES:
        module = _module(name)
        calls = {"forward": lambda: module.forward(x, w, bias, geom), "grad_input": lambda: module.grad_input(g, w, geom),
                 "grad_weight": lambda: module.grad_weight(x, g, geom)}
        for op in PASSES:
            if module.supports(geom, np.dtype(dtype), op):
                out = calls[op]()
                assert out.dtype == dtype, (name, op)
                assert_close(out, expected[op], dtype)
    x_shape, w_shape, stride, padding, dilation, groups = CASES[case]
    nd = geom.nd
    args = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    for algorithm in ("auto", "direct"):
        assert_close(CONV[nd](x, w, bias, algorithm=algorithm, **args), expected["forward"], dtype)
        assert_close(GRAD_INPUT[nd](g, w, x.shape, algorithm=algorithm, **args), expected["grad_input"], dtype)
        assert_close(GRAD_WEIGHT[nd](x, g, w.shape, algorithm=algorithm, **args), expected["grad_weight"], dtype)


@pytest.fixture(params=[False, True], ids=["this-cpu", "avx512-assumed"])
def fast_products(request, monkeypatch):
    """The cost test on this CPU, and as if it had AVX-512 (supports() and cost() only ask fast_sgemm())."""
    if request.param:
        monkeypatch.setattr(products, "fast_sgemm", lambda enabled=None: True)
    return request.param


@pytest.mark.parametrize("name", NAMES)
def test_cost_is_finite_wherever_the_algorithm_supports_the_pass(name, fast_products):
    module = _module(name)
    for case in CASES:
        geom = _geometry(case)
        for dtype in (np.dtype(np.float32), np.dtype(np.float64)):
            for op in PASSES:
                if module.supports(geom, dtype, op):
                    for threads in (1, 2, 16):
                        seconds = module.cost(op, geom, dtype.itemsize, threads)
                        assert 0 < seconds < math.inf, (name, case, dtype, op, threads)

