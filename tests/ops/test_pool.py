"""Pooling: the reference against per-window loops (and PyTorch when installed), its gradients
against finite differences, and the pool backend of each device against the reference."""
import numpy as np
import pytest
import scipy.signal

import ops
from ops import reference, shapes
from tests.helpers import assert_close, numerical_grad

MAX = {1: ops.max_pool1d, 2: ops.max_pool2d, 3: ops.max_pool3d}
AVG = {1: ops.avg_pool1d, 2: ops.avg_pool2d, 3: ops.avg_pool3d}
MAX_GRAD = {1: ops.max_pool1d_grad_input, 2: ops.max_pool2d_grad_input, 3: ops.max_pool3d_grad_input}
AVG_GRAD = {1: ops.avg_pool1d_grad_input, 2: ops.avg_pool2d_grad_input, 3: ops.avg_pool3d_grad_input}


def random_case(rng, nd, dtype=np.float64, small=False):
    kernel = tuple(int(v) for v in rng.integers(1, 4, nd))
    stride = tuple(int(v) for v in rng.integers(1, 4, nd))
    padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
    extra = 3 if small or nd == 3 else 6
    spatial = tuple(k + int(rng.integers(0, extra)) for k in kernel)
    shape = (1, 2) if small else (int(rng.choice([1, 2])), int(rng.integers(1, 4)))
    x = rng.standard_normal(shape + spatial).astype(dtype)
    return x, dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=bool(rng.integers(0, 2)))


def windows(x, geom):
    """Yield (output index, list of (flat input index, value)) for every window, padding excluded."""
    for n, c in np.ndindex(*x.shape[:2]):
        for o in np.ndindex(*geom.out_spatial):
            cells = []
            for off in np.ndindex(*geom.kernel):
                pos = [oo * s - p + f * d for oo, s, p, f, d in zip(o, geom.stride, geom.padding, off, geom.dilation)]
                if all(0 <= q < size for q, size in zip(pos, geom.in_spatial)):
                    cells.append((int(np.ravel_multi_index(pos, geom.in_spatial)), x[(n, c) + tuple(pos)]))
            yield (n, c) + o, cells


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_reference_matches_window_loops(rng, nd):
    for _ in range(5):
        x, args = random_case(rng, nd)
        geom = shapes.pool_geometry(x.shape, nd, args["kernel_size"], args["stride"], args["padding"], 1, args["ceil_mode"])
        out, idx = reference.pool.max_pool(x, geom)
        avg_in = reference.pool.avg_pool(x, geom, count_include_pad=True)
        avg_ex = reference.pool.avg_pool(x, geom, count_include_pad=False)
        for o, cells in windows(x, geom):
            best = max(cells, key=lambda cell: cell[1])
            assert out[o] == best[1] and idx[o] == best[0]
            assert np.isclose(avg_ex[o], np.mean([v for _, v in cells]))
            # count_include_pad divides by the window clipped to the padded input
            span = [min(oo * s - p + k, size + p) - (oo * s - p)
                    for oo, s, p, k, size in zip(o[2:], geom.stride, geom.padding, geom.kernel, geom.in_spatial)]
            assert np.isclose(avg_in[o], np.sum([v for _, v in cells]) / np.prod(span))


def test_max_pool_with_dilation_matches_window_loops(rng):
    x = rng.standard_normal((2, 3, 9, 8))
    geom = shapes.pool_geometry(x.shape, 2, 3, 2, 1, 2, True)
    out, idx = reference.pool.max_pool(x, geom)
    for o, cells in windows(x, geom):
        best = max(cells, key=lambda cell: cell[1])
        assert out[o] == best[1] and idx[o] == best[0]


@pytest.mark.parametrize("filt_size", range(1, 8))
def test_blur_pool_is_reflect_pad_binomial_blur_and_subsample(rng, filt_size):
    x = rng.standard_normal((2, 3, 9, 8))
    row = scipy.special.binom(filt_size - 1, np.arange(filt_size))
    filt = np.outer(row, row) / row.sum() ** 2
    lo, hi = (filt_size - 1) // 2, filt_size // 2
    padded = np.pad(x, ((0, 0), (0, 0), (lo, hi), (lo, hi)), mode="reflect")
    expected = np.array([[scipy.signal.correlate(plane, filt, "valid")[::2, ::2] for plane in img] for img in padded])
    assert_close(ops.blur_pool2d(x, filt_size, 2), expected)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_reference_gradients_match_finite_differences(rng, nd):
    x, args = random_case(rng, nd, small=True)
    out, idx = MAX[nd](x, return_indices=True, **args)
    weights = rng.standard_normal(out.shape)
    grad = MAX_GRAD[nd](weights, idx, x.shape, **args)
    assert_close(grad, numerical_grad(lambda v: np.sum(weights * MAX[nd](v, **args)), x.copy()), scale=1e4)
    for include in (True, False):
        grad = AVG_GRAD[nd](weights, x.shape, count_include_pad=include, **args)
        loss = lambda v: np.sum(weights * AVG[nd](v, count_include_pad=include, **args))
        assert_close(grad, numerical_grad(loss, x.copy()), scale=1e4)


@pytest.mark.parametrize("filt_size", [1, 2, 3, 4, 5, 7])
def test_blur_pool_gradient_matches_finite_differences(rng, filt_size):
    for x, forward, backward in [(rng.standard_normal((1, 2, 9, 8)), ops.blur_pool2d, ops.blur_pool2d_grad_input),
                                 (rng.standard_normal((2, 1, 11)), ops.blur_pool1d, ops.blur_pool1d_grad_input)]:
        weights = rng.standard_normal(forward(x, filt_size, 2).shape)
        expected = numerical_grad(lambda v: np.sum(weights * forward(v, filt_size, 2)), x.copy())
        assert_close(backward(weights, x.shape, filt_size, 2), expected, scale=1e4)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cpu_backend_matches_reference(rng, nd, dtype):
    """Whatever ops.select picks for the CPU must agree with the reference, forward and backward."""
    for _ in range(4):
        x, args = random_case(rng, nd, dtype)
        geom = shapes.pool_geometry(x.shape, nd, args["kernel_size"], args["stride"], args["padding"], 1, args["ceil_mode"])
        out, idx = MAX[nd](x, return_indices=True, **args)
        ref_out, ref_idx = reference.pool.max_pool(x, geom)
        assert out.dtype == dtype and idx.dtype == np.int64
        assert_close(out, ref_out, dtype)
        np.testing.assert_array_equal(idx, ref_idx)
        g = rng.standard_normal(out.shape).astype(dtype)
        assert_close(MAX_GRAD[nd](g, idx, x.shape, **args), reference.pool.max_pool_grad_input(g, ref_idx, geom), dtype)
        for include in (True, False):
            assert_close(AVG[nd](x, count_include_pad=include, **args), reference.pool.avg_pool(x, geom, include), dtype)
            assert_close(AVG_GRAD[nd](g, x.shape, count_include_pad=include, **args),
                         reference.pool.avg_pool_grad_input(g, geom, include), dtype)


def test_torch_agrees_when_installed(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    for _ in range(10):
        x, args = random_case(rng, 2)
        k, s, p, ceil = args["kernel_size"], args["stride"], args["padding"], args["ceil_mode"]
        t = torch.from_numpy(x)
        out, idx = F.max_pool2d(t, k, s, p, ceil_mode=ceil, return_indices=True)
        ours, our_idx = ops.max_pool2d(x, return_indices=True, **args)
        assert_close(ours, out.numpy())
        np.testing.assert_array_equal(our_idx, idx.numpy())
        for include in (True, False):
            assert_close(ops.avg_pool2d(x, count_include_pad=include, **args),
                         F.avg_pool2d(t, k, s, p, ceil, include).numpy())
