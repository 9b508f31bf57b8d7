"""Convolution layers: the reference against an independent formulation, its gradients against
finite differences, and every conv algorithm against the reference."""
import numpy as np
import pytest
import scipy.signal

import ops
from ops import reference, select, shapes
from tests.helpers import assert_close, numerical_grad

CONV = {1: ops.conv1d, 2: ops.conv2d, 3: ops.conv3d}
GRAD_INPUT = {1: ops.conv1d_grad_input, 2: ops.conv2d_grad_input, 3: ops.conv3d_grad_input}
GRAD_WEIGHT = {1: ops.conv1d_grad_weight, 2: ops.conv2d_grad_weight, 3: ops.conv3d_grad_weight}
TRANSPOSE = {1: ops.conv_transpose1d, 2: ops.conv_transpose2d, 3: ops.conv_transpose3d}


def random_case(rng, nd, dtype=np.float64, small=False):
    """A random conv: odd and even sizes, stride, padding, dilation, groups, sometimes batch 1.

    small keeps the element count low enough for element-wise finite differences.
    """
    groups = int(rng.choice([1, 1, 2, 3]))
    c = groups * int(rng.integers(1, 3))
    k = groups * int(rng.integers(1, 3))
    kernel = tuple(int(v) for v in rng.integers(1, 4, nd))
    dilation = tuple(int(v) for v in rng.integers(1, 3, nd))
    stride = tuple(int(v) for v in rng.integers(1, 3, nd))
    padding = tuple(int(v) for v in rng.integers(0, 3, nd))
    low = [d * (kk - 1) + 1 for kk, d in zip(kernel, dilation)]
    extra = 3 if small or nd == 3 else 7
    spatial = tuple(max(1, lo - 2 * p) + int(rng.integers(0, extra)) for lo, p in zip(low, padding))
    n = 1 if small else int(rng.choice([1, 2]))
    x = rng.standard_normal((n, c) + spatial).astype(dtype)
    w = rng.standard_normal((k, c // groups) + kernel).astype(dtype)
    b = rng.standard_normal(k).astype(dtype)
    return x, w, b, dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


def by_scipy(x, w, b, stride, padding, dilation, groups):
    """conv as sums of scipy.signal.correlate over channel pairs, with a zero-dilated kernel, then subsampled."""
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple((p, p) for p in padding))
    dilated_shape = tuple(d * (k - 1) + 1 for k, d in zip(w.shape[2:], dilation))
    wd = np.zeros(w.shape[:2] + dilated_shape)
    wd[(Ellipsis,) + tuple(slice(None, None, d) for d in dilation)] = w
    cg, kg = x.shape[1] // groups, w.shape[0] // groups
    rows = []
    for n in range(x.shape[0]):
        outs = []
        for k in range(w.shape[0]):
            g = k // kg
            full = sum(scipy.signal.correlate(xp[n, g * cg + c], wd[k, c], "valid") for c in range(cg))
            outs.append(full[tuple(slice(None, None, s) for s in stride)] + b[k])
        rows.append(outs)
    return np.array(rows)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_reference_matches_scipy_formulation(rng, nd):
    for _ in range(6):
        x, w, b, args = random_case(rng, nd)
        assert_close(CONV[nd](x, w, b, algorithm="reference", **args), by_scipy(x, w, b, **args))


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_reference_gradients_match_finite_differences(rng, nd):
    x, w, b, args = random_case(rng, nd, small=True)
    out = CONV[nd](x, w, b, algorithm="reference", **args)
    weights = rng.standard_normal(out.shape)
    grad_x = GRAD_INPUT[nd](weights, w, x.shape, algorithm="reference", **args)
    grad_w = GRAD_WEIGHT[nd](x, weights, w.shape, algorithm="reference", **args)
    loss_x = lambda v: np.sum(weights * CONV[nd](v, w, b, algorithm="reference", **args))
    loss_w = lambda v: np.sum(weights * CONV[nd](x, v, b, algorithm="reference", **args))
    assert_close(grad_x, numerical_grad(loss_x, x.copy()), scale=1e4)
    assert_close(grad_w, numerical_grad(loss_w, w.copy()), scale=1e4)


def test_same_padding_with_even_kernel_pads_more_after(rng):
    x = rng.standard_normal((1, 2, 7, 6))
    w = rng.standard_normal((3, 2, 4, 2))
    out = ops.conv2d(x, w, padding="same", algorithm="reference")
    explicit = ops.conv2d(np.pad(x, ((0, 0), (0, 0), (1, 2), (0, 1))), w, algorithm="reference")
    assert out.shape == (1, 3, 7, 6)
    assert_close(out, explicit)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_conv_transpose_is_the_adjoint_of_conv(rng, nd):
    """<conv(y), x> == <y, conv_transpose(x)> for every geometry: the transpose is the exact adjoint."""
    checked = 0
    for _ in range(8):
        y, w, _, args = random_case(rng, nd)
        x = rng.standard_normal(CONV[nd](y, w, **args).shape)
        # PyTorch's transposed weight is (in, out // groups, *k): for conv's adjoint that is conv's (K, C/g) layout.
        geom = shapes.conv_geometry(y.shape, w.shape, nd, **args)
        out_padding = tuple(o - t for o, t in zip(y.shape[2:], (
            (i - 1) * s - 2 * p + d * (k - 1) + 1 for i, s, p, d, k in
            zip(x.shape[2:], args["stride"], args["padding"], args["dilation"], w.shape[2:]))))
        if any(op >= max(s, d) for op, s, d in zip(out_padding, geom.stride, geom.dilation)):
            continue
        transposed = TRANSPOSE[nd](x, w, None, args["stride"], args["padding"], out_padding, args["groups"], args["dilation"])
        assert transposed.shape == y.shape
        assert np.isclose(np.sum(CONV[nd](y, w, **args) * x), np.sum(y * transposed))
        checked += 1
    assert checked


@pytest.mark.parametrize("algorithm", sorted(select.CONV_ALGORITHMS["cpu"]))
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_cpu_algorithm_matches_the_reference(rng, algorithm, nd, dtype):
    for _ in range(4):
        x, w, b, args = random_case(rng, nd, dtype)
        geom = shapes.conv_geometry(x.shape, w.shape, nd, **args)
        g = rng.standard_normal(geom.output_shape).astype(dtype)
        passes = [(lambda: CONV[nd](x, w, b, algorithm=algorithm, **args), reference.conv.forward(x, w, b, geom)),
                  (lambda: GRAD_INPUT[nd](g, w, x.shape, algorithm=algorithm, **args),
                   reference.conv.grad_input(g, w, geom)),
                  (lambda: GRAD_WEIGHT[nd](x, g, w.shape, algorithm=algorithm, **args),
                   reference.conv.grad_weight(x, g, geom))]
        for run, expected in passes:
            try:
                out = run()
            except NotImplementedError:
                continue  # the algorithm does not cover this pass (e.g. the native kernels off AVX-512)
            assert out.dtype == dtype
            assert_close(out, expected, dtype)


def test_torch_agrees_when_installed(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    for _ in range(5):
        x, w, b, args = random_case(rng, 2)
        theirs = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), **args).numpy()
        assert_close(ops.conv2d(x, w, b, **args), theirs)
    x = rng.standard_normal((2, 4, 5, 6))
    w = rng.standard_normal((4, 3, 3, 2))
    theirs = F.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), None, 2, 1, 1, 2, 2).numpy()
    assert_close(ops.conv_transpose2d(x, w, None, 2, 1, 1, 2, 2), theirs)
