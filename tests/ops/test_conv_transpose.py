"""Transposed convolutions against a scatter written from PyTorch's definition, output_padding up to
max(stride, dilation) - 1 included, and their gradients against finite differences."""
import itertools

import numpy as np
import pytest

import engine as E
import ops
from tests.engine.gradients import assert_grads_match, weighted_sum
from tests.helpers import assert_close

TRANSPOSE = {1: ops.conv_transpose1d, 2: ops.conv_transpose2d, 3: ops.conv_transpose3d}
FUNCTIONAL = {1: E.functional.conv_transpose1d, 2: E.functional.conv_transpose2d, 3: E.functional.conv_transpose3d}


def scattered(x, w, stride, padding, output_padding, groups, dilation):
    """Each input element adds x * w[tap] at position i * stride - padding + tap * dilation of the output."""
    n, c_in = x.shape[:2]
    cg_in, cg_out = c_in // groups, w.shape[1]
    size = [(i - 1) * s - 2 * p + d * (k - 1) + op + 1
            for i, s, p, d, k, op in zip(x.shape[2:], stride, padding, dilation, w.shape[2:], output_padding)]
    out = np.zeros((n, cg_out * groups) + tuple(size))
    for c in range(c_in):
        g = c // cg_in
        for i in itertools.product(*map(range, x.shape[2:])):
            for tap in itertools.product(*map(range, w.shape[2:])):
                at = tuple(ii * s - p + t * d for ii, s, p, t, d in zip(i, stride, padding, tap, dilation))
                if all(0 <= a < m for a, m in zip(at, size)):
                    out[(slice(None), slice(g * cg_out, (g + 1) * cg_out)) + at] += \
                        x[(slice(None), c) + i][:, None] * w[(c, slice(None)) + tap]
    return out


def random_transpose(rng, nd):
    groups = int(rng.choice([1, 2]))
    stride = tuple(int(v) for v in rng.integers(1, 3, nd))
    dilation = tuple(int(v) for v in rng.integers(1, 4, nd))
    padding = tuple(int(v) for v in rng.integers(0, 2, nd))
    output_padding = tuple(int(rng.integers(0, max(s, d))) for s, d in zip(stride, dilation))
    kernel = tuple(int(v) for v in rng.integers(1, 4, nd))
    spatial = tuple(int(v) for v in rng.integers(2, 6 if nd < 3 else 4, nd))
    if any((i - 1) * s - 2 * p + d * (k - 1) < 0 for i, s, p, d, k in zip(spatial, stride, padding, dilation, kernel)):
        return random_transpose(rng, nd)  # an empty output: draw again
    x = rng.standard_normal((int(rng.integers(1, 3)), 2 * groups) + spatial)
    w = rng.standard_normal((2 * groups, int(rng.integers(1, 3))) + kernel)
    return x, w, dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation)


def test_output_padding_past_the_stride_is_computed():
    """output_padding >= stride is allowed while below the dilation (PyTorch gives length 11 here)."""
    x, w = np.arange(1.0, 7.0).reshape(1, 1, 6), np.array([[[1.0, -2.0, 0.5]]])
    out = ops.conv_transpose1d(x, w, stride=1, dilation=2, output_padding=1)
    assert out.shape == (1, 1, 11)
    assert_close(out, scattered(x, w, (1,), (0,), (1,), 1, (2,)))
    with pytest.raises(ValueError, match="output_padding"):
        ops.conv_transpose1d(x, w, stride=1, dilation=2, output_padding=2)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transpose_matches_the_scatter(rng, nd, dtype):
    for _ in range(6):
        x, w, args = random_transpose(rng, nd)
        expected = scattered(x, w, **args)
        assert_close(TRANSPOSE[nd](x.astype(dtype), w.astype(dtype), **args), expected, dtype)


@pytest.mark.parametrize("nd", [1, 2])
def test_transpose_gradients_match_finite_differences(rng, nd):
    for _ in range(3):
        x, w, args = random_transpose(rng, nd)
        xt, wt = E.tensor(x, requires_grad=True), E.tensor(w, requires_grad=True)
        bt = E.tensor(rng.standard_normal(w.shape[1] * args["groups"]), requires_grad=True)
        assert_grads_match(lambda: weighted_sum(FUNCTIONAL[nd](xt, wt, bt, **args)), [xt, wt, bt])


def test_transpose_gradients_check_their_shapes(rng):
    x, w = rng.standard_normal((1, 2, 5)), rng.standard_normal((2, 3, 3))
    with pytest.raises(ValueError, match="grad_out"):
        ops.conv_transpose1d_grad_input(np.ones((1, 3, 4)), w, x.shape, stride=2)
    with pytest.raises(ValueError, match="grad_out"):
        ops.conv_transpose1d_grad_weight(x, np.ones((1, 3, 4)), w.shape, stride=2)
