"""Every public op driven by random arguments, valid and not: each call either matches ops.reference or
raises TypeError, ValueError or NotImplementedError whose message names what was wrong; never another
exception, never a wrong answer."""
import numpy as np
import pytest

import ops
from ops import reference, shapes
from tests.helpers import assert_close

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

EXPLAINED = (TypeError, ValueError, NotImplementedError)
SETTINGS = hypothesis.settings(max_examples=200, deadline=None, derandomize=True,
                               suppress_health_check=list(hypothesis.HealthCheck))
# what an error message may name: the arguments, or the shapes and dtypes of the arrays
WORDS = ("input", "weight", "bias", "grad_out", "indices", "stride", "padding", "dilation", "groups", "kernel",
         "output_padding", "filt_size", "shape", "dtype", "in1", "in2", "mode", "algorithm", "method", "channels",
         "empty", "larger", "device", "ceil_mode")


def outcome(f, *args, **kwargs):
    """f's result, or the explained exception it raised (anything else fails the test)."""
    try:
        return f(*args, **kwargs)
    except EXPLAINED as e:
        message = str(e)
        assert any(word in message for word in WORDS), f"{type(e).__name__} names nothing: {message!r}"
        return e


def expected_or_error(f, *args):
    """The reference's answer, or the exception the argument checks raise."""
    try:
        return f(*args)
    except EXPLAINED as e:
        return e


def sizes(draw, n, low, high):
    return tuple(draw(st.integers(low, high)) for _ in range(n))


def fault(draw, names):
    """None for a valid call (two times in three), else the one argument this call gets wrong."""
    return draw(st.sampled_from([None] * (2 * len(names)) + list(names)))


def per_dim(draw, nd, low, high, bad, wrong=False):
    """An int or an nd-tuple from [low, high]; if wrong, a value that must be refused."""
    if wrong:
        return draw(st.sampled_from(bad + [True, 1.5, "1", (1,) * (nd + 1), None, [low - 1] * nd]))
    return draw(st.integers(low, high)) if draw(st.booleans()) else sizes(draw, nd, low, high)


def array(draw, shape, wrong=False):
    """A random float32 or float64 array of this shape, sometimes non-contiguous; if wrong, one of a dtype or
    size that must be refused."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    layout = draw(st.sampled_from(["c", "c", "strided", "fortran"]))
    if wrong:
        if draw(st.booleans()):
            shape = (0,) + tuple(shape[1:])
        else:
            dtype = draw(st.sampled_from([np.int32, np.complex128, np.bool_, np.float16]))
    a = rng.standard_normal(shape).astype(dtype) if dtype is not np.bool_ else rng.random(shape) > 0.5
    if layout == "strided" and a.ndim:
        a = np.repeat(a, 2, axis=-1)[..., ::2]
    elif layout == "fortran":
        a = np.asfortranarray(a)
    return a


def is_valid_array(a):
    return a.dtype in (np.float32, np.float64) and a.size > 0


@st.composite
def conv_case(draw):
    wrong = fault(draw, ["input", "weight", "channels", "bias", "groups", "stride", "dilation", "padding",
                         "algorithm", "dtypes"])
    nd = draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    c, k = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = sizes(draw, nd, 1, 3)
    spatial = sizes(draw, nd, 1, 7 if nd < 3 else 5)
    args = dict(stride=per_dim(draw, nd, 1, 2, [0, -1], wrong == "stride"),
                dilation=per_dim(draw, nd, 1, 2, [0], wrong == "dilation"),
                groups=draw(st.sampled_from([0, True, 1.0, groups + 1])) if wrong == "groups" else groups,
                padding=draw(st.sampled_from(["same", "valid", per_dim(draw, nd, 0, 2, [-1], wrong == "padding")])))
    x = array(draw, (draw(st.integers(1, 2)), c) + spatial, wrong == "input")
    w = array(draw, (k, c // groups) + kernel, wrong == "weight")
    if wrong == "dtypes":
        w = w.astype(np.float32 if x.dtype == np.float64 else np.float64)
    if wrong == "channels":
        w = w[:, :1] if w.shape[1] > 1 and draw(st.booleans()) else np.concatenate([w, w[:, :1]], axis=1)
    bias = draw(st.sampled_from([None, k, k + 1 if wrong == "bias" else k]))
    bias = None if bias is None else np.linspace(-1, 1, bias).astype(x.dtype)
    algorithm = "no-such" if wrong == "algorithm" else draw(st.sampled_from(["auto", "direct", "gemm", "fft",
                                                                            "winograd"]))
    return nd, x, w, bias, args, algorithm


def reference_conv(nd, x, w, bias, args):
    x, w = shapes.check_array(x, "input"), shapes.check_array(w, "weight")
    if bias is not None:
        bias = shapes.check_array(bias, "bias")
    shapes.check_same_kind(input=x, weight=w, bias=bias)
    geom = shapes.conv_geometry(x.shape, w.shape, nd, **args)
    if bias is not None and bias.shape != (geom.out_channels,):
        raise ValueError("bias shape")
    return geom, reference.conv.forward(x, w, bias, geom)


def check_against(got, wanted, dtype):
    hypothesis.event("refused" if isinstance(wanted, Exception) else "computed")
    if isinstance(wanted, Exception):
        assert isinstance(got, Exception), f"accepted what the checks refuse ({wanted!r}), returned {type(got)}"
    elif not isinstance(got, NotImplementedError):
        assert not isinstance(got, Exception), f"refused a valid call: {got!r}"
        finite = np.isfinite(wanted)  # a window wholly in max-pool's padding is -inf, in both
        np.testing.assert_array_equal(np.where(finite, 0, got), np.where(finite, 0, wanted))
        assert_close(np.where(finite, got, 0), np.where(finite, wanted, 0), dtype)


@SETTINGS
@hypothesis.given(conv_case(), st.integers(0, 2**32 - 1))
def test_conv_and_its_gradients(case, seed):
    nd, x, w, bias, args, algorithm = case
    conv, grad_input, grad_weight = (getattr(ops, f"conv{nd}d{s}") for s in ("", "_grad_input", "_grad_weight"))
    x_before, w_before = x.copy(), w.copy()
    wanted = expected_or_error(reference_conv, nd, x, w, bias, args)
    got = outcome(conv, x, w, bias, algorithm=algorithm, **args)
    np.testing.assert_array_equal(x, x_before)  # inputs are never written
    np.testing.assert_array_equal(w, w_before)
    if algorithm == "no-such":
        assert isinstance(got, Exception)
        return
    dtype = x.dtype if is_valid_array(x) else None
    check_against(got, wanted[1] if isinstance(wanted, tuple) else wanted, dtype)
    if isinstance(wanted, Exception):
        return
    geom = wanted[0]
    g = np.random.default_rng(seed).standard_normal(geom.output_shape).astype(x.dtype)
    check_against(outcome(grad_input, g, w, x.shape, algorithm=algorithm, **args),
                  reference.conv.grad_input(g, np.ascontiguousarray(w), geom), x.dtype)
    check_against(outcome(grad_weight, x, g, w.shape, algorithm=algorithm, **args),
                  reference.conv.grad_weight(np.ascontiguousarray(x), g, geom), x.dtype)
    # the gradients' own arguments: a grad_out of the wrong shape, shapes of floats, a complex grad_out
    assert isinstance(outcome(grad_input, g[..., :-1] if g.shape[-1] > 1 else g[:, :0], w, x.shape, **args),
                      ValueError)
    assert isinstance(outcome(grad_weight, x, g, tuple(float(s) for s in w.shape), **args), TypeError)
    assert isinstance(outcome(grad_weight, x, g.astype(np.complex128), w.shape, **args), TypeError)


@st.composite
def pool_case(draw):
    nd = draw(st.integers(1, 3))
    kind = draw(st.sampled_from(["max", "avg", "blur"]))
    wrong = fault(draw, ["input", "kernel_size", "stride", "padding", "dilation", "filt_size"])
    spatial = sizes(draw, nd, 1, 8 if nd < 3 else 5)
    x = array(draw, (draw(st.integers(1, 2)), draw(st.integers(1, 3))) + spatial, wrong == "input")
    if kind == "blur":
        args = dict(filt_size=draw(st.sampled_from([0, 8, True, 2.5] if wrong == "filt_size" else [1, 2, 3, 4, 5, 7])),
                    stride=per_dim(draw, nd, 1, 3, [0], wrong == "stride"))
    else:
        stride = per_dim(draw, nd, 1, 3, [0], wrong == "stride")
        args = dict(kernel_size=per_dim(draw, nd, 1, 3, [0], wrong == "kernel_size"),
                    stride=None if wrong != "stride" and draw(st.booleans()) else stride,
                    padding=per_dim(draw, nd, 0, 1, [-1], wrong == "padding"), ceil_mode=draw(st.booleans()))
        if kind == "max":
            args["dilation"] = per_dim(draw, nd, 1, 2, [0], wrong == "dilation")
        else:
            args["count_include_pad"] = draw(st.booleans())
    return nd, kind, x, args


def reference_pool(nd, kind, x, args):
    x = shapes.check_array(x, "input")
    if kind == "blur":
        if nd == 3:
            raise NotImplementedError("no blur_pool3d")
        shapes.as_int(args["filt_size"], "filt_size", 1)
        shapes.as_tuple(args["stride"], nd, "stride", 1)
        return None, reference.pool.blur_pool(x, args["filt_size"], args["stride"])
    geom = shapes.pool_geometry(x.shape, nd, args["kernel_size"], args["stride"], args["padding"],
                                args.get("dilation", 1), args["ceil_mode"])
    if kind == "max":
        return geom, reference.pool.max_pool(x, geom)
    return geom, reference.pool.avg_pool(x, geom, args["count_include_pad"])


@SETTINGS
@hypothesis.given(pool_case(), st.integers(0, 2**32 - 1))
def test_pooling_and_its_gradients(case, seed):
    nd, kind, x, args = case
    if kind == "blur" and nd == 3:
        assert not hasattr(ops, "blur_pool3d")
        return
    pool = getattr(ops, f"{kind}_pool{nd}d")
    grad = getattr(ops, f"{kind}_pool{nd}d_grad_input")
    wanted = expected_or_error(reference_pool, nd, kind, x, args)
    got = outcome(pool, x, return_indices=True, **args) if kind == "max" else outcome(pool, x, **args)
    if isinstance(wanted, Exception):
        assert isinstance(got, Exception), f"accepted what the checks refuse ({wanted!r})"
        return
    geom, out = wanted
    dtype = x.dtype
    if kind == "max":
        check_against(got[0], out[0], dtype)
        np.testing.assert_array_equal(got[1], out[1])
    else:
        check_against(got, out, dtype)
    g = np.random.default_rng(seed).standard_normal(out[0].shape if kind == "max" else out.shape).astype(dtype)
    x = np.ascontiguousarray(x)
    if kind == "max":
        check_against(outcome(grad, g, got[1], x.shape, **args), reference.pool.max_pool_grad_input(g, out[1], geom),
                      dtype)
        wrapped = np.zeros(got[1].shape, np.uint64) - np.uint64(1)  # 2**64 - 1, -1 if read as int64
        bad_indices = [got[1].astype(np.float64), wrapped, np.maximum(got[1], 0) + x[0, 0].size]
        for indices in bad_indices:
            assert isinstance(outcome(grad, g, indices, x.shape, **args), (TypeError, ValueError))
    elif kind == "avg":
        check_against(outcome(grad, g, x.shape, **args),
                      reference.pool.avg_pool_grad_input(g, geom, args["count_include_pad"]), dtype)
    else:
        check_against(outcome(grad, g, x.shape, **args),
                      reference.pool.blur_pool_grad_input(g, x.shape, args["filt_size"], args["stride"]), dtype)
        assert isinstance(outcome(grad, g[0], x.shape[1:], **args), ValueError)


@st.composite
def signal_case(draw):
    wrong = fault(draw, ["in1", "in2", "ndim", "mode", "method"])
    nd = draw(st.integers(1, 3))
    in1 = array(draw, sizes(draw, nd, 1, 9 if nd < 3 else 5), wrong == "in1")
    in2 = array(draw, sizes(draw, max(1, nd - 1) if wrong == "ndim" else nd, 1, 5), wrong == "in2")
    in2 = in2.astype(in1.dtype) if in2.dtype.kind == "f" and in1.dtype.kind == "f" else in2
    mode = "wrap" if wrong == "mode" else draw(st.sampled_from(["full", "same", "valid"]))
    return in1, in2, mode, "no-such" if wrong == "method" else draw(st.sampled_from(["auto", "direct", "fft"]))


@SETTINGS
@hypothesis.given(signal_case())
def test_correlate_and_convolve(case):
    in1, in2, mode, method = case
    for ours, theirs in ((ops.correlate, reference.signal.correlate), (ops.convolve, reference.signal.convolve)):
        got = outcome(ours, in1, in2, mode=mode, method=method)
        if method == "no-such" or mode == "wrap":
            assert isinstance(got, Exception)
        elif is_valid_array(in1) and is_valid_array(in2):  # other dtypes follow scipy.signal's rules (test_signal.py)
            check_against(got, expected_or_error(theirs, in1, in2, mode), in1.dtype)


@st.composite
def transpose_case(draw):
    wrong = fault(draw, ["input", "weight", "channels", "groups", "stride", "padding", "output_padding"])
    nd = draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 1, 2]))
    c_in = groups * draw(st.integers(1, 2))
    stride, dilation = sizes(draw, nd, 1, 2), sizes(draw, nd, 1, 3)
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    args = dict(stride=per_dim(draw, nd, 1, 2, [0], True) if wrong == "stride" else stride,
                padding=per_dim(draw, nd, 0, 1, [-1], wrong == "padding"),
                output_padding=(tuple(max(s, d) for s, d in zip(stride, dilation)) if wrong == "output_padding"
                                else output_padding),
                groups=draw(st.sampled_from([0, True, 3])) if wrong == "groups" else groups, dilation=dilation)
    x = array(draw, (draw(st.integers(1, 2)), c_in) + sizes(draw, nd, 1, 4), wrong == "input")
    w = array(draw, (c_in + (1 if wrong == "channels" else 0), draw(st.integers(1, 2))) + sizes(draw, nd, 1, 3),
              wrong == "weight")
    w = w.astype(x.dtype) if w.dtype.kind == x.dtype.kind == "f" else w
    return nd, x, w, args


@SETTINGS
@hypothesis.given(transpose_case(), st.integers(0, 2**32 - 1))
def test_conv_transpose_and_its_gradients(case, seed):
    from tests.ops.test_conv_transpose import scattered
    nd, x, w, args = case
    transpose = getattr(ops, f"conv_transpose{nd}d")

    def oracle():
        checked_x, checked_w = shapes.check_array(x, "input"), shapes.check_array(w, "weight")
        shapes.conv_transpose_geometry(checked_x.shape, checked_w.shape, nd, args["stride"], args["padding"],
                                       args["output_padding"], args["groups"], args["dilation"])
        per_dim_args = {name: shapes.as_tuple(v, nd, name, 0) for name, v in args.items() if name != "groups"}
        return scattered(checked_x, checked_w, groups=args["groups"], **per_dim_args)
    wanted = expected_or_error(oracle)
    got = outcome(transpose, x, w, **args)
    check_against(got, wanted, x.dtype if is_valid_array(x) else None)
    if isinstance(wanted, Exception):
        return
    g = np.random.default_rng(seed).standard_normal(wanted.shape).astype(x.dtype)
    grad_x = outcome(getattr(ops, f"conv_transpose{nd}d_grad_input"), g, w, x.shape, **args)
    grad_w = outcome(getattr(ops, f"conv_transpose{nd}d_grad_weight"), x, g, w.shape, **args)
    # both gradients as adjoints: <transpose(x, w), g> = <x, grad_x>, <transpose(x, dw), g> = <dw, grad_w>
    assert np.isclose(np.sum(wanted * g), np.sum(x * grad_x), rtol=1e-4, atol=1e-4)
    dw = np.random.default_rng(seed + 1).standard_normal(w.shape)
    assert np.isclose(np.sum(transpose(x.astype(np.float64), dw, **args) * g), np.sum(dw * grad_w), rtol=1e-4, atol=1e-4)


@st.composite
def p4_case(draw):
    wrong = fault(draw, ["input", "weight", "channels", "kernel", "stride", "padding"])
    lifting = draw(st.booleans())
    c, k, size = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 3))
    turns = () if lifting else (4,)
    x = array(draw, (draw(st.integers(1, 2)), c) + turns + sizes(draw, 2, 3, 6), wrong == "input")
    kernel = (size, size + 1) if wrong == "kernel" else (size, size)
    w = array(draw, (k, c + (1 if wrong == "channels" else 0)) + turns + kernel, wrong == "weight")
    w = w.astype(x.dtype) if w.dtype.kind == x.dtype.kind == "f" else w
    args = dict(stride=per_dim(draw, 2, 1, 2, [0], wrong == "stride"),
                padding=per_dim(draw, 2, 0, 1, [-1], wrong == "padding"), dilation=per_dim(draw, 2, 1, 2, [0]))
    return x, w, args


@SETTINGS
@hypothesis.given(p4_case())
def test_p4_conv(case):
    x, w, args = case

    def oracle():
        checked_x, checked_w = shapes.check_array(x, "input"), shapes.check_array(w, "weight")
        shapes.check_same_kind(input=checked_x, weight=checked_w)
        ops.group_conv.check_p4_shapes(checked_x.shape, checked_w.shape)
        return reference.group_conv.p4_conv2d(checked_x, checked_w, None, **args)
    wanted = expected_or_error(oracle)
    check_against(outcome(ops.p4_conv2d, x, w, **args), wanted, x.dtype if is_valid_array(x) else None)


def test_signal_gradients_refuse_a_complex_grad_out_of_a_real_result(rng):
    in1, in2 = rng.standard_normal(10), rng.standard_normal(3)
    for grad in (ops.correlate_grad, ops.convolve_grad):
        with pytest.raises(TypeError, match="grad_out"):
            grad(np.ones(12) + 1j, in1, in2, "full")
