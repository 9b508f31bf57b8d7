"""The Cython extensions are compiled, imported as such, share one fast_sgemm switch, and pack exactly what a NumPy
im2col packs."""
import importlib
import importlib.machinery
import subprocess
import sys

import numpy as np
import pytest

from ops._native import depthwise, implicit, matmul, products
from ops._native import gemm as native
from tests.helpers import assert_close


@pytest.mark.parametrize("name", ["products", "gemm", "implicit", "depthwise", "winograd", "matmul", "padding"])
def test_the_compiled_modules_are_the_ones_imported(name):
    module = importlib.import_module(f"ops._native.{name}")
    assert module.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)), module.__file__


def test_fast_sgemm_switches_every_module():
    """Turned off in products, the AVX-512-only kernels of the other modules refuse to run."""
    before = products.fast_sgemm(False)
    one = np.zeros((1, 1), np.float32)
    planes = np.zeros((1, 1, 1), np.float32)
    ones = (1, 1, 1)
    try:
        with pytest.raises(RuntimeError, match="fast_sgemm"):
            matmul.matmul(one, one, one.copy(), 1)
        with pytest.raises(RuntimeError, match="fast_sgemm"):
            implicit.conv_implicit(planes, one[0], np.zeros(1, np.intp), one[0], planes.copy(), 1, ones, ones, 1, 1, 1)
        with pytest.raises(RuntimeError, match="fast_sgemm"):
            depthwise.conv_depthwise(planes, one, one[0], planes.copy(), ones, ones, ones, ones, (0, 0, 0), 1)
    finally:
        products.fast_sgemm(before)
    assert products.fast_sgemm() == before


def numpy_im2col(x, kernel, stride, pad, dilation, out_size):
    """Independent im2col over (N, C, D, H, W): one column per output position, zero where padding is read."""
    n, c = x.shape[:2]
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple((p, p + k * d) for p, k, d in zip(pad, kernel, dilation)))
    rows = []
    for ci in range(c):
        for off in np.ndindex(*kernel):
            window = tuple(slice(f * d, f * d + (o - 1) * s + 1, s)
                           for f, d, s, o in zip(off, dilation, stride, out_size))
            rows.append(xp[(slice(None), ci) + window].reshape(n, -1).reshape(-1))
    return np.array(rows)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_im2col_matches_numpy_and_col2im_is_its_adjoint(rng, dtype):
    for _ in range(5):
        kernel = tuple(int(v) for v in rng.integers(1, 4, 3))
        stride = tuple(int(v) for v in rng.integers(1, 3, 3))
        dilation = tuple(int(v) for v in rng.integers(1, 3, 3))
        pad = tuple(int(v) for v in rng.integers(0, 2, 3))
        spatial = tuple(d * (k - 1) + 1 + int(rng.integers(0, 4)) for k, d in zip(kernel, dilation))
        out_size = tuple((s + 2 * p - d * (k - 1) - 1) // st + 1
                         for s, p, d, k, st in zip(spatial, pad, dilation, kernel, stride))
        x = rng.standard_normal((2, 3) + spatial).astype(dtype)
        cols = np.empty((3 * int(np.prod(kernel)), 2 * int(np.prod(out_size))), dtype)
        native.im2col(x, cols, kernel, stride, pad, dilation, out_size)
        assert_close(cols, numpy_im2col(x, kernel, stride, pad, dilation, out_size), dtype)
        y = rng.standard_normal(cols.shape).astype(dtype)
        back = np.zeros_like(x)
        native.col2im(y, back, kernel, stride, pad, dilation, out_size)
        assert np.isclose(np.vdot(cols, y), np.vdot(x, back), rtol=1e-4)


def test_wrong_cols_shape_is_rejected(rng):
    x = rng.standard_normal((1, 1, 1, 4, 4))
    with pytest.raises(ValueError, match="cols has shape"):
        native.im2col(x, np.empty((9, 5)), (1, 3, 3), (1, 1, 1), (0, 0, 0), (1, 1, 1), (1, 2, 2))


def test_import_compiles_nothing():
    """`import ops, engine` must not even load Numba: compilation is a cost paid on first use."""
    code = "import sys, ops, engine; print('numba' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
