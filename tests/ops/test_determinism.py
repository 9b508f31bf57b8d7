"""Reproducible results: the same call gives the same bits, call after call, at a given thread count
(every reduction sums in a fixed order, whichever thread runs which part of it)."""
import numba
import numpy as np
import pytest

import ops
from ops import select

CASES = {  # (x shape, weight shape, stride, padding, groups): many tasks per thread, both weight-gradient kernels
    "deep": ((6, 16, 18, 17), (40, 16, 3, 3), 1, 1, 1),
    "few filters": ((9, 8, 15, 16), (8, 8, 3, 3), 1, 1, 1),
    "strided": ((5, 8, 19, 18), (16, 4, 3, 3), 2, 1, 2),
}


@pytest.fixture
def two_threads():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs two threads")
    before = ops.get_num_threads()
    ops.set_num_threads(2)
    yield
    ops.set_num_threads(before)


@pytest.mark.parametrize("algorithm", sorted(set(select.CONV_ALGORITHMS["cpu"]) - {"reference"}) + ["auto"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_pass_gives_the_same_bits_every_call(rng, two_threads, algorithm, dtype, case):
    x_shape, w_shape, stride, padding, groups = CASES[case]
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    args = dict(stride=stride, padding=padding, groups=groups, algorithm=algorithm)
    try:
        y = ops.conv2d(x, w, **args)
    except NotImplementedError:
        pytest.skip(f"{algorithm} does not cover this geometry")
    g = rng.standard_normal(y.shape).astype(dtype)
    passes = {"forward": lambda: ops.conv2d(x, w, **args),
              "grad_input": lambda: ops.conv2d_grad_input(g, w, x.shape, **args),
              "grad_weight": lambda: ops.conv2d_grad_weight(x, g, w.shape, **args)}
    for name, run in passes.items():
        try:
            first = run().tobytes()
        except NotImplementedError:
            continue
        assert all(run().tobytes() == first for _ in range(12)), f"{name} differs between identical calls"
