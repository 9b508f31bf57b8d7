"""The CPU algorithm choice: the cost model picks the expected algorithm where the answer is clear,
'auto' agrees with the reference whatever it picks, and autotune times, remembers and still agrees."""
import importlib

import numpy as np
import pytest

import ops
from ops import reference, select, shapes
from tests.helpers import assert_close


def conv_costs(geom, op, itemsize=4, threads=2):
    """Every CPU algorithm's estimated seconds for this pass, where it supports it ('auto''s candidates)."""
    dtype = np.dtype(f"f{itemsize}")
    modules = {name: importlib.import_module(path) for name, path in select.CONV_ALGORITHMS["cpu"].items()
               if name != "reference"}
    return {name: m.cost(op, geom, itemsize, threads) for name, m in modules.items() if m.supports(geom, dtype, op)}


def conv_choice(x_shape, w_shape, nd=2, stride=1, padding=0, groups=1, op="forward", threads=2, itemsize=4):
    geom = shapes.conv_geometry(x_shape, w_shape, nd, stride, padding, 1, groups)
    return select.cheapest(conv_costs(geom, op, itemsize, threads))


@pytest.mark.parametrize("op", ["forward", "grad_input", "grad_weight"])
def test_the_cost_model_picks_the_obvious_algorithm(op):
    from ops._native import products
    # many channels: Winograd's F(2x2, 3x3) for 3x3 stride-1 convs where its transforms run on AVX-512 (float32),
    # but for the weight gradient; elsewhere the implicit GEMM where it runs (float32 on AVX-512; strided convs'
    # forward only), else im2col + GEMM; the two come close for the weight gradient
    fast = products.fast_sgemm()
    many = {"winograd"} if fast and op != "grad_weight" else {"implicit", "gemm"} if fast else {"gemm"}
    assert conv_choice((8, 64, 56, 56), (64, 64, 3, 3), padding=1, op=op) in many
    assert conv_choice((8, 64, 56, 56), (64, 64, 3, 3), padding=1, op=op, itemsize=8) == "gemm"
    assert conv_choice((8, 64, 56, 56), (128, 64, 1, 1), op=op) == "gemm"
    depthwise = "depthwise" if fast else "direct"
    assert conv_choice((8, 64, 56, 56), (64, 1, 3, 3), padding=1, groups=64, op=op) == depthwise
    assert conv_choice((4, 8, 128, 128), (8, 8, 15, 15), padding=7, op=op) == "fft"
    # the strided stem: the implicit GEMM reads stride phases for the forward and the weight gradient
    stem = "implicit" if fast and op != "grad_input" else "gemm"
    assert conv_choice((8, 3, 224, 224), (64, 3, 7, 7), stride=2, padding=3, op=op) == stem


@pytest.mark.parametrize("op", ["forward", "grad_input", "grad_weight"])
def test_the_cuda_rule_takes_the_gemm_for_deep_sums_over_many_filters(op):
    def choice(x_shape, w_shape, groups=1):
        geom = shapes.conv_geometry(x_shape, w_shape, 2, 1, 1, 1, groups)
        return select.cheapest({name: select.cuda_conv_cost(name, op, geom) for name in select.CONV_ALGORITHMS["cuda"]})
    assert choice((8, 64, 32, 32), (64, 64, 3, 3)) == "gemm"
    assert choice((64, 1, 28, 28), (6, 1, 5, 5)) == "direct"                       # LeNet's first layer
    assert choice((8, 64, 32, 32), (64, 1, 3, 3), groups=64) == "direct"           # depthwise
    # 8 filters share too little for the forward and weight gradient; the input gradient sums 8 * 9 over 64
    assert choice((8, 64, 32, 32), (8, 64, 3, 3)) == ("gemm" if op == "grad_input" else "direct")


def test_the_signal_cost_model_picks_the_obvious_method():
    def choice(s1, s2, mode):
        return select.cheapest({m: importlib.import_module(path).cost(s1, s2, mode, 4, 2)
                                for m, path in select.SIGNAL_METHODS["cpu"].items()})
    assert choice((512, 512), (3, 3), "same") == "direct"
    assert choice((512, 512), (31, 31), "same") == "fft"
    assert choice((1000000,), (1001,), "full") == "oa"
    assert choice((1000000,), (11,), "full") == "direct"


def test_the_reference_is_never_chosen(rng, monkeypatch):
    def no_reference(*args):
        raise AssertionError("auto ran the NumPy reference")
    monkeypatch.setattr(reference.conv, "forward", no_reference)
    x, w = rng.standard_normal((1, 1, 4)), rng.standard_normal((1, 1, 3))
    geom = shapes.conv_geometry(x.shape, w.shape, 1)
    assert_close(ops.conv1d(x, w), reference.correlate(x[0, 0], w[0, 0], "valid").reshape(geom.output_shape))


@pytest.fixture
def autotuning():
    saved = dict(select._winners)
    select._winners.clear()
    previous = ops.autotune(True)
    yield select._winners
    ops.autotune(previous)
    select._winners.clear()
    select._winners.update(saved)


def test_autotune_times_once_remembers_and_agrees_with_the_reference(rng, autotuning):
    x = rng.standard_normal((2, 3, 12, 11)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    geom = shapes.conv_geometry(x.shape, w.shape, 2, 1, 1)
    g = rng.standard_normal(geom.output_shape).astype(np.float32)
    for _ in range(2):
        assert_close(ops.conv2d(x, w, padding=1), reference.conv.forward(x, w, None, geom))
        assert_close(ops.conv2d_grad_input(g, w, x.shape, padding=1), reference.conv.grad_input(g, w, geom))
        assert_close(ops.conv2d_grad_weight(x, g, w.shape, padding=1), reference.conv.grad_weight(x, g, geom))
    keys = [key for key in autotuning if key[0] == "conv"]
    assert sorted(key[1] for key in keys) == ["forward", "grad_input", "grad_weight"]
    assert all(autotuning[key] in select.CONV_ALGORITHMS["cpu"] and autotuning[key] != "reference" for key in keys)
    a, b = rng.standard_normal(300), rng.standard_normal(7)
    assert_close(ops.correlate(a, b, "same"), reference.correlate(a, b, "same"))
    assert any(key[0] == "signal" for key in autotuning)


def test_unknown_names_are_rejected():
    x = np.ones((1, 1, 5, 5), np.float32) * np.arange(5)
    with pytest.raises(ValueError, match="unknown conv algorithm 'toom-cook'"):
        ops.conv2d(x, x[:, :, :3, :3], algorithm="toom-cook")
    with pytest.raises(ValueError, match="unknown correlate/convolve method 'spline'"):
        ops.correlate(x[0, 0], x[0, 0], method="spline")
