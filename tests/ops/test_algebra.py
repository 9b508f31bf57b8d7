"""The convolution algebra of the lecture, as property tests on random signals and kernels."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import ops
from tests.helpers import assert_close

shape_1d = st.tuples(st.integers(1, 12))
shape_2d = st.tuples(st.integers(1, 7), st.integers(1, 7))


def arrays(seed, *shapes):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


@settings(max_examples=30, deadline=None)
@given(st.one_of(st.tuples(shape_1d, shape_1d, shape_1d), st.tuples(shape_2d, shape_2d, shape_2d)), st.integers(0, 2**32 - 1))
def test_commutative_associative_distributive(shapes, seed):
    f, g, h = arrays(seed, *shapes)
    assert_close(ops.convolve(f, g), ops.convolve(g, f))
    assert_close(ops.convolve(ops.convolve(f, g), h), ops.convolve(f, ops.convolve(g, h)))
    if g.shape == h.shape:
        assert_close(ops.convolve(f, g + h), ops.convolve(f, g) + ops.convolve(f, h))
    a = float(np.random.default_rng(seed).uniform(-3, 3))
    assert_close(a * ops.convolve(f, g), ops.convolve(a * f, g))
    assert_close(ops.convolve(f, a * g), ops.convolve(a * f, g))


@settings(max_examples=30, deadline=None)
@given(st.one_of(st.tuples(shape_1d, shape_1d), st.tuples(shape_2d, shape_2d)), st.sampled_from(["full", "same"]),
       st.integers(0, 2**32 - 1))
def test_correlation_is_convolution_with_the_flipped_kernel(shapes, mode, seed):
    f, g = arrays(seed, *shapes)
    assert_close(ops.correlate(f, g, mode), ops.convolve(f, np.flip(g), mode))


def test_distributes_over_addition_of_same_shaped_kernels(rng):
    f, g, h = rng.standard_normal((9, 8)), rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    assert_close(ops.convolve(f, g + h), ops.convolve(f, g) + ops.convolve(f, h))


def test_two_3x3_convs_are_one_5x5_with_the_composed_kernel(rng):
    x = rng.standard_normal((2, 1, 12, 11))
    k1, k2 = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    two_layers = ops.conv2d(ops.conv2d(x, k1[None, None]), k2[None, None])
    composed = ops.convolve(k1, k2, "full")  # cross-correlation layers compose by convolving their kernels
    assert composed.shape == (5, 5)
    assert_close(two_layers, ops.conv2d(x, composed[None, None]))


def test_rank_one_5x5_is_1x5_then_5x1(rng):
    x = rng.standard_normal((3, 2, 10, 13))
    column, row = rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
    full = np.einsum("ci,cj->cij", column, row)[:, None]  # depthwise 5x5 kernels of rank one
    separable = ops.conv2d(ops.conv2d(x, row[:, None, None, :], groups=2), column[:, None, :, None], groups=2)
    assert_close(separable, ops.conv2d(x, full, groups=2))


def test_conv_is_shift_equivariant_under_circular_shifts(rng):
    x = rng.standard_normal((1, 1, 16, 16))
    w = rng.standard_normal((1, 1, 3, 3))

    def circular_conv(v):
        return ops.conv2d(np.pad(v, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="wrap"), w)

    shifted = np.roll(x, (3, -5), axis=(2, 3))
    assert_close(circular_conv(shifted), np.roll(circular_conv(x), (3, -5), axis=(2, 3)))
