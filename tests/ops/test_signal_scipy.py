"""ops' signal functions as drop-ins for scipy.signal's, with scipy.signal as the oracle: every dtype family
(bool, int, uint, float, complex, and mixed pairs), every mode and method, axes=, 0-d and empty inputs,
NaN and Inf, 2-D boundaries, the lags and the method chooser."""
import warnings

import numpy as np
import pytest
import scipy.signal

import ops
from ops import reference
from tests.helpers import numerical_grad

FAMILIES = {
    "bool": [np.bool_],
    "int": [np.int8, np.int16, np.int32, np.int64],
    "uint": [np.uint8, np.uint16, np.uint64],
    "float": [np.float16, np.float32, np.float64],
    "complex": [np.complex64, np.complex128],
}
MODES = ["full", "same", "valid"]
# (in1 shape, in2 shape): odd and even sizes, in2 larger than in1, a length-1 kernel dim
SHAPES = [((9,), (4,)), ((3,), (8,)), ((1,), (5,)), ((7, 6), (3, 2)), ((2, 5), (4, 5)), ((5, 4, 3), (2, 3, 1))]
RELATIVE = {"e": 2e-2, "f": 1e-4, "F": 1e-4, "d": 1e-10, "D": 1e-10}


def random_array(rng, shape, dtype):
    """Values spread over a range that exercises the dtype, never all zeros or ones."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.6
    if dtype.kind in "iu":
        low = 0 if dtype.kind == "u" else -9
        return rng.integers(low, 10, shape).astype(dtype)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def assert_like(ours, theirs, *inputs):
    """Same dtype and shape as SciPy's result; equal for bool and integer results, close for the others (as
    close as the least precise of the result and the inputs allows)."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.dtype == theirs.dtype, f"dtype {ours.dtype} != {theirs.dtype}"
    assert ours.shape == theirs.shape, f"shape {ours.shape} != {theirs.shape}"
    if theirs.dtype.kind in "biu":
        np.testing.assert_array_equal(ours, theirs)
    elif theirs.size:
        scale = max(1.0, float(np.abs(theirs.astype(np.complex128)).max()))
        err = float(np.abs(ours.astype(np.complex128) - theirs.astype(np.complex128)).max())
        tolerance = max(RELATIVE.get(np.dtype(d).char, 0.0) for d in (theirs.dtype,) + tuple(a.dtype for a in inputs))
        assert err <= tolerance * scale, f"max error {err:.3g} at scale {scale:.3g}"


def scipy_oracle(name, in1, in2, *args):
    """scipy.signal's answer. Where SciPy's N-D direct kernel refuses float16 ('Unsupported type') it computes
    in float32 and casts back; bools go through int64 and its direct method, because its FFT path casts bool
    results without rounding (float noise reads as True) and its N-D kernel refuses them too."""
    function = getattr(scipy.signal, name)
    dtype = np.result_type(in1, in2)
    if name in ("correlate", "convolve") and dtype.kind == "b":
        return function(in1.astype(np.int64), in2.astype(np.int64), args[0], "direct").astype(bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            return function(in1, in2, *args)
        except ValueError as error:
            if "Unsupported type" not in str(error) or dtype != np.float16:
                raise
            return function(in1.astype(np.float32), in2.astype(np.float32), *args).astype(np.float16)


def pairs(family):
    """(dtype1, dtype2): each dtype of the family with itself, and mixed with another family."""
    for dtype in FAMILIES[family]:
        yield dtype, dtype
    partner = {"bool": np.int16, "int": np.float32, "uint": np.int8, "float": np.int32, "complex": np.float32}
    yield FAMILIES[family][-1], partner[family]
    yield partner[family], FAMILIES[family][0]


def valid_ok(shape1, shape2):
    return all(a >= b for a, b in zip(shape1, shape2)) or all(b >= a for a, b in zip(shape1, shape2))


@pytest.mark.parametrize("method", ["auto", "direct", "fft"])
@pytest.mark.parametrize("family", FAMILIES)
def test_correlate_and_convolve_match_scipy(rng, family, method):
    for dtype1, dtype2 in pairs(family):
        for shape1, shape2 in SHAPES:
            in1, in2 = random_array(rng, shape1, dtype1), random_array(rng, shape2, dtype2)
            for mode in MODES if valid_ok(shape1, shape2) else ["full", "same"]:
                for name in ("correlate", "convolve"):
                    assert_like(getattr(ops, name)(in1, in2, mode, method), scipy_oracle(name, in1, in2, mode, method),
                                in1, in2)


@pytest.mark.parametrize("family", FAMILIES)
def test_the_reference_matches_scipy(rng, family):
    for dtype1, dtype2 in pairs(family):
        for shape1, shape2 in SHAPES:
            in1, in2 = random_array(rng, shape1, dtype1), random_array(rng, shape2, dtype2)
            for mode in MODES if valid_ok(shape1, shape2) else ["full", "same"]:
                # SciPy's fftconvolve skips the transform along length-1 axes, keeping the inputs' dtype if none
                # is left; the reference always transforms
                names = ("correlate", "convolve") + (("fftconvolve",) if 1 not in shape1 + shape2 else ())
                for name in names:
                    assert_like(getattr(reference, name)(in1, in2, mode), scipy_oracle(name, in1, in2, mode), in1, in2)


@pytest.mark.parametrize("family", FAMILIES)
def test_fftconvolve_and_oaconvolve_match_scipy(rng, family):
    for dtype1, dtype2 in pairs(family):
        for shape1, shape2 in SHAPES + [((300,), (7,)), ((40, 3), (5, 2))]:  # the last ones in several blocks
            in1, in2 = random_array(rng, shape1, dtype1), random_array(rng, shape2, dtype2)
            for mode in MODES if valid_ok(shape1, shape2) else ["full", "same"]:
                for name in ("fftconvolve", "oaconvolve"):
                    assert_like(getattr(ops, name)(in1, in2, mode), scipy_oracle(name, in1, in2, mode), in1, in2)


# (in1 shape, in2 shape, axes): broadcasting over the other axes, negative and unsorted axes, a single int
AXES_CASES = [((4, 30), (4, 5), [1]), ((4, 30), (1, 5), -1), ((30, 3), (6, 1), [0]), ((3, 20, 2), (3, 4, 2), [1]),
              ((2, 16, 9), (1, 3, 4), [2, 1]), ((5, 12, 2), (5, 12, 2), (0, 1)), ((1, 25, 3), (4, 6, 3), [1]),
              ((6, 7, 8), (2, 3, 4), None)]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("shape1, shape2, axes", AXES_CASES)
def test_axes_match_scipy(rng, family, shape1, shape2, axes):
    for dtype1, dtype2 in list(pairs(family))[-2:]:
        in1, in2 = random_array(rng, shape1, dtype1), random_array(rng, shape2, dtype2)
        for mode in MODES:
            for name in ("fftconvolve", "oaconvolve"):
                try:
                    expected = scipy_oracle(name, in1, in2, mode, axes)
                except ValueError:
                    with pytest.raises(ValueError):
                        getattr(ops, name)(in1, in2, mode, axes)
                    continue
                assert_like(getattr(ops, name)(in1, in2, mode, axes), expected, in1, in2)


def test_bad_axes_raise_value_errors(rng):
    in1, in2 = rng.standard_normal((4, 9)), rng.standard_normal((3, 2))
    for axes, mode, message in [([], "full", "cannot be empty"), ([2], "full", "exceeds dimensionality"),
                                ([1.0], "full", "iterable of integers"), ([1, -1], "full", "unique"),
                                ([1], "full", "incompatible shapes"), (None, "chips", "mode flags")]:
        for function in (ops.fftconvolve, ops.oaconvolve):
            with pytest.raises(ValueError, match=message):
                function(in1, in2, mode, axes)
            with pytest.raises(ValueError, match="For 'valid' mode"):
                function(in1, rng.standard_normal((5, 2)), "valid")


def test_zero_d_inputs_multiply_as_in_scipy():
    for a, b in [(np.array(3), np.array(4)), (np.array(2.5), np.array(1 - 2j)), (np.array(True), np.array(5, np.int8))]:
        for name in ("correlate", "convolve", "fftconvolve", "oaconvolve"):
            ours, theirs = getattr(ops, name)(a, b), getattr(scipy.signal, name)(a, b)
            assert np.shape(ours) == () and np.asarray(ours).dtype == np.asarray(theirs).dtype
            assert ours == theirs
    with pytest.raises(ValueError, match="same dimensionality"):
        ops.fftconvolve(np.array(1.0), np.ones(3))


def test_empty_inputs_as_in_scipy():
    for in1, in2 in [(np.zeros(0), np.ones(3)), (np.ones(3), np.zeros(0)), (np.zeros((0, 3)), np.ones((2, 2)))]:
        for name in ("fftconvolve", "oaconvolve"):
            for mode in MODES:
                assert_like(getattr(ops, name)(in1, in2, mode), getattr(scipy.signal, name)(in1, in2, mode))
        for name in ("correlate", "convolve"):
            for method in ("auto", "direct", "fft"):
                for mode in MODES:
                    try:
                        expected = getattr(scipy.signal, name)(in1, in2, mode, "direct")
                    except ValueError:  # SciPy's FFT path raises IndexError here instead: ours says what is wrong
                        with pytest.raises(ValueError):
                            getattr(ops, name)(in1, in2, mode, method)
                        continue
                    assert_like(getattr(ops, name)(in1, in2, mode, method), expected)


def test_integers_stay_exact_beyond_float64(rng):
    """Sums past 2**53: SciPy's direct kernel is exact (wrapping like the dtype), its FFT is not."""
    big = rng.integers(-2 ** 40, 2 ** 40, 50, dtype=np.int64)
    kernel = rng.integers(-2 ** 20, 2 ** 20, 7, dtype=np.int64)
    expected = [sum(int(big[i - k]) * int(kernel[k]) for k in range(7) if 0 <= i - k < 50) for i in range(56)]
    assert ops.choose_conv_method(big, kernel) == "direct"
    for method in ("auto", "direct"):
        out = ops.convolve(big, kernel, "full", method)
        assert out.dtype == np.int64 and out.tolist() == expected
    huge = np.array([2 ** 62, 3, -2 ** 61], np.int64)
    assert_like(ops.correlate(huge, huge[:2], "full", "direct"), scipy.signal.correlate(huge, huge[:2], "full", "direct"))
    wraps = np.array([200, 100, 255], np.uint8)
    assert_like(ops.convolve(wraps, wraps, "full", "direct"), scipy.signal.convolve(wraps, wraps, "full", "direct"))
    u64 = np.array([2 ** 63 + 5, 7, 2 ** 64 - 1], np.uint64)
    assert_like(ops.convolve(u64, u64[:2], "same", "direct"), scipy.signal.convolve(u64, u64[:2], "same", "direct"))


def test_choose_conv_method(rng):
    small, kernel = rng.standard_normal(40), rng.standard_normal(3)
    long_signal, long_kernel = rng.standard_normal(20000), rng.standard_normal(2000)
    assert ops.choose_conv_method(small, kernel) == "direct"
    assert ops.choose_conv_method(long_signal, long_kernel) in ("fft", "oa")
    assert ops.choose_conv_method(long_signal > 0, long_kernel > 0) == "direct"  # bools: exact, as in SciPy
    long_signal[123] = np.nan
    assert ops.choose_conv_method(long_signal, long_kernel) == "direct"
    best, times = ops.choose_conv_method(small, kernel, measure=True)
    assert best in times and set(times) == set(ops.select.SIGNAL_METHODS["cpu"])


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("method", ["auto", "direct", "fft", "oa"])
def test_nan_and_inf(rng, nd, dtype, method):
    """direct (and auto, which takes it for such inputs) keeps NaN and Inf where the plain sum of products
    puts them; fft and oa may spread them (documented, as SciPy's FFT), but never lose one."""
    for shape1, shape2 in [((11, 9, 6), (3, 4, 2)), ((3, 2, 2), (6, 5, 4))]:
        for where in ("in1", "in2", "both"):
            for bad in (np.nan, np.inf, -np.inf):
                in1 = rng.standard_normal(shape1[:nd]).astype(dtype)
                in2 = rng.standard_normal(shape2[:nd]).astype(dtype)
                for a in {"in1": [in1], "in2": [in2], "both": [in1, in2]}[where]:
                    a.flat[rng.integers(a.size)] = bad
                in2.flat[0] = 0.0 if where == "in1" else in2.flat[0]  # 0 * inf = NaN must come out as NaN
                for mode in MODES:
                    for name in ("correlate", "convolve"):
                        with warnings.catch_warnings():  # inf - inf, 0 * inf
                            warnings.simplefilter("ignore", RuntimeWarning)
                            expected = getattr(reference, name)(in1, in2, mode)
                            out = getattr(ops, name)(in1, in2, mode, method)
                        if method in ("auto", "direct"):
                            np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
                            np.testing.assert_array_equal(np.isposinf(out), np.isposinf(expected))
                            np.testing.assert_array_equal(np.isneginf(out), np.isneginf(expected))
                            finite = np.isfinite(expected)
                            np.testing.assert_allclose(out[finite], expected[finite], rtol=1e-3, atol=1e-3)
                        else:
                            assert not np.isfinite(out[~np.isfinite(expected)]).any()
    signal = rng.standard_normal(200).astype(dtype)
    signal[0] = np.nan
    if method in ("fft", "oa"):
        with pytest.warns(RuntimeWarning, match="spreads them over the result"):
            ops.convolve(signal, signal[:20], "same", method)


def test_auto_takes_direct_for_non_finite_inputs(rng):
    signal, kernel = rng.standard_normal(30000), rng.standard_normal(3000)
    assert ops.choose_conv_method(signal, kernel) != "direct"
    signal[1000] = np.inf
    out = ops.convolve(signal, kernel)
    assert np.isfinite(out[:1000]).all() and np.isfinite(out[4000:]).all()


@pytest.mark.parametrize("mode", MODES)
def test_correlation_lags_match_scipy(mode):
    """SciPy's lags, except for 'same' with an odd in1_len and an even in2_len, where SciPy's are one off from
    what its correlate returns: ours label correlate's output (an impulse as in2 picks in1[lag])."""
    for in1_len in range(1, 9):
        for in2_len in range(1, 9):
            lags = ops.correlation_lags(in1_len, in2_len, mode)
            if not (mode == "same" and in1_len % 2 and not in2_len % 2):
                np.testing.assert_array_equal(lags, scipy.signal.correlation_lags(in1_len, in2_len, mode))
            x, impulse = np.arange(1.0, in1_len + 1) ** 2, np.eye(1, in2_len)[0]
            for method in ("direct", "fft"):
                expected = [x[lag] if 0 <= lag < in1_len else 0.0 for lag in lags]
                if mode != "valid" or in1_len >= in2_len:  # valid with in2 longer: SciPy swaps and reverses
                    np.testing.assert_allclose(scipy.signal.correlate(x, impulse, mode, method), expected, atol=1e-9)
    with pytest.raises(ValueError, match="in2_len"):
        ops.correlation_lags(3, 0)


@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm"])
@pytest.mark.parametrize("dtype", [np.int32, np.float32, np.float64, np.complex128])
def test_2d_boundaries_match_scipy(rng, boundary, dtype):
    for shape1, shape2 in [((7, 6), (3, 2)), ((5, 8), (4, 5)), ((3, 2), (5, 4)), ((1, 6), (1, 3))]:
        in1, in2 = random_array(rng, shape1, dtype), random_array(rng, shape2, dtype)
        for mode in MODES if valid_ok(shape1, shape2) else ["full", "same"]:
            for fillvalue in (0, 3):
                for name in ("convolve2d", "correlate2d"):
                    expected = getattr(scipy.signal, name)(in1, in2, mode, boundary, fillvalue)
                    if name == "correlate2d" and mode == "valid" and shape1 < shape2:
                        # SciPy swaps the inputs and reverses the result but does not conjugate it back
                        expected = np.conj(expected)
                    assert_like(getattr(ops, name)(in1, in2, mode, boundary, fillvalue), expected)


def test_2d_argument_errors(rng):
    image, kernel = rng.standard_normal((5, 5)), rng.standard_normal((2, 2))
    with pytest.raises(ValueError, match="2-D"):
        ops.convolve2d(image[0], kernel[0])
    with pytest.raises(ValueError, match="boundary"):
        ops.correlate2d(image, kernel, boundary="reflect101")
    with pytest.raises(ValueError, match="fillvalue"):
        ops.convolve2d(image, kernel, fillvalue=[1, 2])
    with pytest.raises(ValueError, match="could not cast `fillvalue`"):
        ops.convolve2d(image, kernel, fillvalue=1j)


def test_unsupported_dtypes_raise_type_errors():
    for bad in (np.array([1, 2], object), np.array(["a", "b"]), np.ones(3, np.longdouble)):
        for name in ("correlate", "convolve", "fftconvolve", "oaconvolve"):
            with pytest.raises(TypeError, match="in2"):
                getattr(ops, name)(np.ones(3), bad)
    with pytest.raises(TypeError, match="gradients need float or complex"):
        ops.correlate_grad(np.ones(4), np.arange(3), np.arange(2))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("real_side", [None, "in1", "in2"])
def test_complex_gradients_match_finite_differences(rng, mode, real_side):
    """For L = Re(sum(conj(w) * y)) the gradient of a complex input is dL/dRe + i dL/dIm (real inputs: dL/dRe)."""
    def complex_input(shape, real):
        a = rng.standard_normal(shape)
        return a if real else a + 1j * rng.standard_normal(shape)
    in1 = complex_input((6, 5), real_side == "in1")
    in2 = complex_input((3, 2), real_side == "in2")
    for forward, backward in [(ops.correlate, ops.correlate_grad), (ops.convolve, ops.convolve_grad)]:
        out = forward(in1, in2, mode)
        w = rng.standard_normal(out.shape) + 1j * rng.standard_normal(out.shape)
        g1, g2 = backward(w, in1, in2, mode)
        loss = lambda a, b: np.sum(np.conj(w) * forward(a, b, mode)).real
        for grad, value, other_first in ((g1, in1, False), (g2, in2, True)):
            call = (lambda v: loss(in1, v)) if other_first else (lambda v: loss(v, in2))
            expected = numerical_grad(lambda re: call(re + 1j * value.imag if value.dtype.kind == "c" else re),
                                      value.real.copy())
            if value.dtype.kind == "c":
                expected = expected + 1j * numerical_grad(lambda im: call(value.real + 1j * im), value.imag.copy())
            assert grad.dtype == value.dtype
            np.testing.assert_allclose(grad, expected, atol=1e-6)
