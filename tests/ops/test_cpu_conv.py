"""Every CPU conv algorithm (ops.cpu.*), forced by name, against the NumPy reference: forward,
grad_input and grad_weight on random geometries with odd sizes, stride, padding (asymmetric
"same" included), dilation, groups (depthwise included), batch 1, in 1-3 dims and both dtypes."""
import numpy as np
import pytest

import ops
from ops import reference, select, shapes
from ops.cpu import winograd
from tests.helpers import assert_close

CONV = {1: ops.conv1d, 2: ops.conv2d, 3: ops.conv3d}
GRAD_INPUT = {1: ops.conv1d_grad_input, 2: ops.conv2d_grad_input, 3: ops.conv3d_grad_input}
GRAD_WEIGHT = {1: ops.conv1d_grad_weight, 2: ops.conv2d_grad_weight, 3: ops.conv3d_grad_weight}
# The native kernels alone cover only some passes: tests/ops/cpu/test_registry.py runs them where they do, and
# here they run within the direct family.
ALGORITHMS = sorted(set(select.CONV_ALGORITHMS["cpu"]) - {"reference", "implicit", "depthwise"})


def random_case(rng, nd, dtype, stride_one=False):
    groups = int(rng.choice([1, 1, 2, 3]))
    c = groups * int(rng.integers(1, 4))
    k = groups * int(rng.integers(1, 3))
    if rng.random() < 0.2:  # depthwise, with a channel multiplier
        groups, c = c, c
        k = c * int(rng.integers(1, 3))
    kernel = tuple(int(v) for v in rng.integers(1, 5, nd))
    dilation = tuple(int(v) for v in rng.integers(1, 3, nd))
    stride = (1,) * nd if stride_one else tuple(int(v) for v in rng.integers(1, 4, nd))
    if stride_one and rng.random() < 0.4:
        padding = "same"
    else:
        padding = tuple(int(v) for v in rng.integers(0, 3, nd))
    pads = (0,) * nd if padding == "same" else padding
    spatial = tuple(max(1, d * (kk - 1) + 1 - 2 * p) + int(rng.integers(0, 8 if nd < 3 else 4))
                    for kk, d, p in zip(kernel, dilation, pads))
    n = int(rng.choice([1, 2, 3]))
    x = rng.standard_normal((n, c) + spatial).astype(dtype)
    w = rng.standard_normal((k, c // groups) + kernel).astype(dtype)
    b = rng.standard_normal(k).astype(dtype)
    return x, w, b, dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


def refused(algorithm, geom, call):
    """Whether the algorithm does not cover this geometry (winograd: 2-D 3x3 stride-1 convs only), after
    checking that call() then says so."""
    if algorithm == "winograd" and not winograd.supports(geom, np.dtype(np.float64), "forward"):
        with pytest.raises(NotImplementedError, match="3x3"):
            call()
        return True
    return False


def check_against_reference(rng, algorithm, nd, dtype, x, w, b, args):
    geom = shapes.conv_geometry(x.shape, w.shape, nd, **args)
    if refused(algorithm, geom, lambda: CONV[nd](x, w, b, algorithm=algorithm, **args)):
        return
    out = CONV[nd](x, w, b, algorithm=algorithm, **args)
    assert out.dtype == dtype
    assert_close(out, reference.conv.forward(x, w, b, geom))
    g = rng.standard_normal(geom.output_shape).astype(dtype)
    grad_x = GRAD_INPUT[nd](g, w, x.shape, algorithm=algorithm, **args)
    grad_w = GRAD_WEIGHT[nd](x, g, w.shape, algorithm=algorithm, **args)
    assert grad_x.dtype == dtype and grad_w.dtype == dtype
    assert_close(grad_x, reference.conv.grad_input(g, w, geom))
    assert_close(grad_w, reference.conv.grad_weight(x, g, geom))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_algorithm_matches_the_reference(rng, algorithm, nd, dtype):
    for i in range(8):
        x, w, b, args = random_case(rng, nd, dtype, stride_one=i % 2 == 0)
        check_against_reference(rng, algorithm, nd, dtype, x, w, b, args)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_bench_like_shapes_match_the_reference(rng, algorithm):
    """Shapes like the benchmark's (first layer, depthwise, 1x1, strided stem) at reduced size."""
    cases = [((4, 1, 28, 28), (6, 1, 5, 5), dict(padding=2)),
             ((2, 8, 17, 15), (8, 1, 3, 3), dict(padding=1, groups=8)),
             ((2, 16, 9, 11), (24, 16, 1, 1), dict()),
             ((2, 3, 31, 30), (8, 3, 7, 7), dict(stride=2, padding=3)),
             ((1, 4, 20, 20), (4, 4, 9, 9), dict(padding="same"))]
    for x_shape, w_shape, args in cases:
        x = rng.standard_normal(x_shape).astype(np.float32)
        w = rng.standard_normal(w_shape).astype(np.float32)
        b = rng.standard_normal(w_shape[0]).astype(np.float32)
        check_against_reference(rng, algorithm, 2, np.float32, x, w, b, dict(dict(stride=1, padding=0, dilation=1, groups=1), **args))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_conv_transpose_matches_the_reference(rng, algorithm):
    x = rng.standard_normal((2, 4, 6, 5))
    for w_shape, stride, output_padding, groups in (((4, 3, 3, 2), 2, 1, 2), ((4, 3, 3, 3), 1, 0, 1)):
        w = rng.standard_normal(w_shape)
        geom = shapes.conv_transpose_geometry(x.shape, w.shape, 2, stride, 1, output_padding, groups, 1)
        transpose = lambda: ops.conv_transpose2d(x, w, None, stride, 1, output_padding, groups, algorithm=algorithm)
        if refused(algorithm, geom, transpose):
            continue
        expected = reference.conv.grad_input(x, w, geom)
        assert_close(transpose(), expected)


@pytest.fixture(params=[True, False], ids=["avx512-kernel", "blas"])
def product(request):
    """Run a test with the float32 products on sgemm.h's kernel (where the CPU has AVX-512) and on BLAS."""
    from ops._native import products
    before = products.fast_sgemm(request.param)
    if request.param and not products.fast_sgemm(request.param):
        pytest.skip("this CPU has no AVX-512")
    yield request.param
    products.fast_sgemm(before)


def test_gemm_across_the_kernel_blocking_edges(rng, product):
    """Depths past one KC panel (256), blocks past one NC panel (512), channel counts off the 8 x 32 tile,
    1x1 convs (no packing) and groups, in float32 on both product paths."""
    cases = [((2, 40, 31, 30), (20, 40, 3, 3), dict(padding=1)),
             ((1, 300, 23, 25), (13, 300, 1, 1), dict()),
             ((2, 12, 40, 33), (18, 4, 3, 2), dict(stride=(2, 1), padding=1, groups=3)),
             ((3, 9, 17, 19), (33, 9, 1, 1), dict(stride=2))]
    for x_shape, w_shape, args in cases:
        x = rng.standard_normal(x_shape).astype(np.float32)
        w = rng.standard_normal(w_shape).astype(np.float32)
        b = rng.standard_normal(w_shape[0]).astype(np.float32)
        check_against_reference(rng, "gemm", 2, np.float32, x, w, b, dict(dict(stride=1, padding=0, dilation=1, groups=1), **args))


def test_direct_on_the_native_kernels_and_on_numba(rng, product):
    """Stride-1 convs with >= 4 filters per group run the direct family's native implicit GEMM in
    float32, depthwise ones its native depthwise kernel (grad_input as a conv of grad_out for both), else
    its Numba kernels: 1-3 dims, dilation, groups, 'same' with an even kernel, padding larger than the
    kernel (negative padding for grad_input), more taps than the depthwise weight gradient keeps at once,
    rows of several 64-wide blocks (masked at the edges, unmasked inside) and of several 4096-wide stretches,
    and strides (the implicit GEMM's forward reads stride phases, along W every element or every other)."""
    cases = [((2, 5, 13, 12), (8, 5, 3, 4), dict(padding="same")),
             ((2, 6, 15, 14), (6, 1, 3, 3), dict(padding=1, groups=6)),
             ((1, 3, 8, 9, 7), (3, 1, 2, 3, 3), dict(padding=(0, 2, 1), dilation=(2, 1, 1), groups=3)),
             ((2, 4, 23, 21), (4, 1, 5, 6), dict(padding=4, groups=4)),
             ((1, 2, 300), (2, 1, 17), dict(padding="same", groups=2)),
             ((2, 3, 4, 150), (3, 1, 3, 5), dict(padding=(1, 7), dilation=(1, 3), groups=3)),
             ((1, 1, 4500), (1, 1, 9), dict(padding=12, dilation=2)),
             ((2, 2, 9, 70), (4, 2, 3, 5), dict(padding=(2, 1), dilation=(1, 2))),
             ((2, 3, 4, 150), (3, 1, 3, 5), dict(padding=(1, 7), dilation=(1, 3), groups=3)),
             ((1, 1, 4500), (1, 1, 9), dict(padding=12, dilation=2)),
             ((2, 3, 31, 30), (8, 3, 7, 7), dict(stride=2, padding=3)),
             ((2, 6, 17, 19), (12, 3, 3, 4), dict(stride=(1, 2), padding=(2, 1), dilation=(1, 2), groups=2)),
             ((1, 4, 16, 15), (9, 4, 3, 3), dict(stride=(3, 1), padding=1)),
             ((1, 4, 16, 15), (9, 4, 3, 3), dict(stride=(1, 3), padding=1)),
             ((2, 5, 33), (8, 5, 4), dict(stride=2, padding=5)),
             ((1, 3, 7, 9, 8), (8, 3, 3, 3, 2), dict(stride=(2, 1, 2), padding=(1, 0, 1))),
             ((1, 8, 9, 11), (12, 4, 3, 3), dict(padding=3, dilation=2, groups=2)),
             ((2, 6, 19), (10, 6, 5), dict(padding=6)),
             ((1, 4, 6, 7, 5), (9, 4, 3, 2, 3), dict(padding=(1, 0, 2), dilation=(1, 2, 1))),
             ((3, 16, 7, 7), (16, 16, 1, 1), dict()),
             ((1, 4, 9, 13), (64, 2, 3, 3), dict(stride=(1, 2), padding=1, groups=2)),
             ((2, 3, 8, 7), (40, 3, 2, 3), dict(padding=1))]
    for x_shape, w_shape, args in cases:
        nd = len(x_shape) - 2
        for dtype in (np.float32, np.float64):
            x = rng.standard_normal(x_shape).astype(dtype)
            w = rng.standard_normal(w_shape).astype(dtype)
            b = rng.standard_normal(w_shape[0]).astype(dtype)
            check_against_reference(rng, "direct", nd, dtype, x, w, b, dict(dict(stride=1, padding=0, dilation=1, groups=1), **args))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_without_bias_every_output_is_written(rng, algorithm, dtype):
    for i in range(4):
        x, w, _, args = random_case(rng, 2, dtype, stride_one=i % 2 == 0)
        geom = shapes.conv_geometry(x.shape, w.shape, 2, **args)
        if not refused(algorithm, geom, lambda: ops.conv2d(x, w, algorithm=algorithm, **args)):
            assert_close(ops.conv2d(x, w, algorithm=algorithm, **args), reference.conv.forward(x, w, None, geom))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_winograd_across_tiles_and_blocks(rng, dtype, product):
    """F(2x2, 3x3) on odd and even sizes (a last tile half outside the output), rows of one tile, of 16 tiles
    and more (the float32 transforms' blocks of 16 and their tails), tasks of several tile rows and a last
    shorter one, padding 0 to 2, different per dim, with and without bias; in float32 both the AVX-512
    transforms and products and the scalar loops with BLAS."""
    cases = [((1, 3, 5, 7), (4, 3, 3, 3), 1),
             ((2, 4, 9, 40), (5, 4, 3, 3), 0),
             ((1, 2, 37, 70), (3, 2, 3, 3), 2),
             ((3, 5, 4, 4), (9, 5, 3, 3), (1, 2)),
             ((1, 1, 3, 3), (2, 1, 3, 3), 0)]
    for x_shape, w_shape, padding in cases:
        x = rng.standard_normal(x_shape).astype(dtype)
        w = rng.standard_normal(w_shape).astype(dtype)
        b = rng.standard_normal(w_shape[0]).astype(dtype)
        check_against_reference(rng, "winograd", 2, dtype, x, w, b, dict(stride=1, padding=padding, dilation=1, groups=1))
        geom = shapes.conv_geometry(x.shape, w.shape, 2, padding=padding)
        assert_close(ops.conv2d(x, w, None, padding=padding, algorithm="winograd"), reference.conv.forward(x, w, None, geom))
