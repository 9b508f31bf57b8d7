"""NaN and Inf: the exact algorithms (direct, implicit, depthwise, gemm) give the reference's pattern of non-finite outputs; the
transform algorithms (fft, winograd) may spread or turn Inf into NaN, so 'auto' never uses them on
non-finite inputs: whichever algorithm it would pick, the answer is the reference's."""
import importlib

import numpy as np
import pytest

import ops
from ops import reference, select, shapes
from tests.ops.test_cpu_select import conv_costs

pytestmark = pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")

PASSES = ("forward", "grad_input", "grad_weight")


def poisoned(rng, shape, dtype, values=(np.nan, np.inf, -np.inf)):
    a = rng.standard_normal(shape).astype(dtype)
    flat = a.reshape(-1)
    for v in values:
        flat[int(rng.integers(flat.size))] = v
    return a


def run(op, algorithm, a, b, geom, args):
    if op == "forward":
        return ops.conv2d(a, b, algorithm=algorithm, **args)
    if op == "grad_input":
        return ops.conv2d_grad_input(a, b, geom.input_shape, algorithm=algorithm, **args)
    return ops.conv2d_grad_weight(a, b, geom.weight_shape, algorithm=algorithm, **args)


def operands(rng, op, geom, dtype, poison):
    """The pass's two operands, `poison` naming which holds NaN and Inf."""
    shapes_ = {"forward": (geom.input_shape, geom.weight_shape), "grad_input": (geom.output_shape, geom.weight_shape),
               "grad_weight": (geom.input_shape, geom.output_shape)}[op]
    return [poisoned(rng, s, dtype) if i == poison else rng.standard_normal(s).astype(dtype)
            for i, s in enumerate(shapes_)]


def expected(op, a, b, geom):
    return {"forward": lambda: reference.conv.forward(a, b, None, geom),
            "grad_input": lambda: reference.conv.grad_input(a, b, geom),
            "grad_weight": lambda: reference.conv.grad_weight(a, b, geom)}[op]()


def assert_same_nonfinite(actual, wanted):
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(wanted))
    np.testing.assert_array_equal(np.isposinf(actual), np.isposinf(wanted))
    np.testing.assert_array_equal(np.isneginf(actual), np.isneginf(wanted))
    finite = np.isfinite(wanted)
    np.testing.assert_allclose(actual[finite], wanted[finite], rtol=1e-4, atol=1e-4)


GEOMETRIES = {  # each one is where auto would pick winograd or fft on finite inputs
    "3x3": ((1, 48, 20, 20), (48, 48, 3, 3), dict(padding=1)),
    "15x15": ((1, 4, 48, 48), (4, 4, 15, 15), dict(padding=7)),
    "small": ((2, 3, 9, 8), (4, 3, 3, 2), dict(stride=(2, 1), padding=1)),
    "depthwise": ((2, 4, 11, 9), (4, 1, 3, 3), dict(padding=1, groups=4)),
    "first layer": ((3, 1, 12, 12), (6, 1, 5, 5), dict(padding=2)),
}


@pytest.mark.parametrize("algorithm", ["auto", "direct", "implicit", "depthwise", "gemm", "reference"])
@pytest.mark.parametrize("op", PASSES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", sorted(GEOMETRIES))
def test_exact_algorithms_and_auto_give_the_reference_nonfinite_pattern(rng, algorithm, op, dtype, case):
    x_shape, w_shape, args = GEOMETRIES[case]
    geom = shapes.conv_geometry(x_shape, w_shape, 2, **args)
    if algorithm in ("implicit", "depthwise"):
        module = importlib.import_module(select.CONV_ALGORITHMS["cpu"][algorithm])
        if not module.supports(geom, np.dtype(dtype), op):
            pytest.skip(f"{algorithm} does not compute this pass here")
    for poison in (0, 1):
        a, b = operands(rng, op, geom, dtype, poison)
        assert_same_nonfinite(run(op, algorithm, a, b, geom, args), expected(op, a, b, geom))


@pytest.mark.parametrize("algorithm", ["fft", "winograd"])
@pytest.mark.parametrize("op", PASSES)
def test_transform_algorithms_declare_that_they_spread_nonfinite_values(rng, algorithm, op):
    """They may differ from the reference on non-finite inputs (that is why auto avoids them there);
    where they run, every output the reference makes non-finite is non-finite in theirs too."""
    assert select.spreads_nonfinite("cpu", algorithm)
    x_shape, w_shape, args = GEOMETRIES["3x3"]
    geom = shapes.conv_geometry(x_shape, w_shape, 2, **args)
    a, b = operands(rng, op, geom, np.float64, 0)
    try:
        out = run(op, algorithm, a, b, geom, args)
    except NotImplementedError:
        return
    assert not np.isfinite(out[~np.isfinite(expected(op, a, b, geom))]).any()


def test_auto_still_picks_the_transforms_on_finite_inputs(rng):
    """The fallback costs a finiteness check, not the fast path: finite inputs run winograd / fft as before."""
    for case, algorithm in (("3x3", "winograd"), ("15x15", "fft")):
        x_shape, w_shape, args = GEOMETRIES[case]
        geom = shapes.conv_geometry(x_shape, w_shape, 2, **args)
        costs = conv_costs(geom, "forward", 4, ops.get_num_threads())
        if select.cheapest(costs) != algorithm:
            pytest.skip(f"the cost model prefers {select.cheapest(costs)} for {case} on this machine")
        x = rng.standard_normal(x_shape).astype(np.float32)
        w = rng.standard_normal(w_shape).astype(np.float32)
        np.testing.assert_array_equal(ops.conv2d(x, w, **args), ops.conv2d(x, w, algorithm=algorithm, **args))


def test_pools_keep_nonfinite_values_where_the_reference_does(rng):
    x = rng.standard_normal((2, 3, 9, 10))
    x[0, 0, 3, 0], x[1, 2, 0, 4], x[0, 1, 5, 9] = np.inf, np.nan, -np.inf
    assert_same_nonfinite(ops.blur_pool2d(x), reference.pool.blur_pool(x, 3, 2))
    g = poisoned(rng, ops.blur_pool2d(x).shape, np.float64)
    assert_same_nonfinite(ops.blur_pool2d_grad_input(g, x.shape), reference.pool.blur_pool_grad_input(g, x.shape, 3, 2))
    for pool, ref in ((ops.max_pool2d, reference.pool.max_pool), (ops.avg_pool2d, reference.pool.avg_pool)):
        geom = shapes.pool_geometry(x.shape, 2, 3, 2, 1)
        ours = pool(x, 3, 2, 1)
        theirs = ref(x, geom)[0] if pool is ops.max_pool2d else ref(x, geom, True)
        assert_same_nonfinite(ours, theirs)
