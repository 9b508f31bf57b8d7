"""Signal-processing correlation and convolution with scipy.signal's signatures, and their gradients.

dtypes as in SciPy: bool, signed and unsigned integers, float16/32/64 and complex64/128, mixed
ones promoted as NumPy does. correlate, convolve and convolve2d return np.result_type(in1, in2):
exact for integers under method 'direct', the FFT's result rounded under 'fft'; fftconvolve and
oaconvolve return the FFT's dtype (float64 for integers and bools, float32 for float16), as SciPy's do.
Device (CUDA) arrays: float32/float64/complex64/complex128 of one dtype, 1-3-D, non-empty; correlate,
convolve and fftconvolve without axes= (oaconvolve, convolve2d, correlate2d: CPU only).

mode: 'full', 'same' (shaped like in1, centred as SciPy does) or 'valid' (the larger input must
contain the smaller in every dim; either order is accepted, as in SciPy).

NaN and Inf: method 'direct' gives the plain sum of products (ops.reference): NaN and Inf only where
products with them land. 'fft' and 'oa' spread them over the whole result, as SciPy's FFT does.
'auto' takes 'direct' whenever an input holds NaN or Inf, so its result never depends on which
method the cost model would have picked.

Gradients of complex results: for a real loss L, the gradient returned for a complex z is
dL/dRe(z) + i dL/dIm(z), twice the conjugate Wirtinger derivative dL/d(conj z) (PyTorch's
convention): a step against it descends. A real input gets the real part of that.
"""
import time
import warnings

import numpy as np

from . import select, shapes

DEVICE_DTYPES = tuple(np.dtype(t) for t in (np.float32, np.float64, np.complex64, np.complex128))


def _checked(in1, in2):
    """Both inputs as arrays scipy.signal accepts, on one device (device arrays: one of DEVICE_DTYPES)."""
    if shapes.device_of(in1) == "cuda" or shapes.device_of(in2) == "cuda":
        if shapes.device_of(in1) != shapes.device_of(in2):
            raise ValueError(f"in1 is on {shapes.device_of(in1)}, in2 on {shapes.device_of(in2)}")
        in1, in2 = shapes.check_signal_array(in1, "in1"), shapes.check_signal_array(in2, "in2")
        if in1.dtype != in2.dtype:
            raise TypeError(f"device arrays of different dtypes: {in1.dtype} and {in2.dtype}")
        if np.dtype(in1.dtype) not in DEVICE_DTYPES:
            raise TypeError(f"device arrays have dtype {in1.dtype}; on CUDA the signal functions take "
                            f"{', '.join(map(str, DEVICE_DTYPES))}")
        for name, a in (("in1", in1), ("in2", in2)):
            if a.size == 0 or a.ndim == 0:
                raise ValueError(f"{name} has shape {tuple(a.shape)}; on CUDA the signal functions take 1-3-D, "
                                 f"non-empty arrays")
        return in1, in2
    return shapes.check_signal_array(in1, "in1"), shapes.check_signal_array(in2, "in2")


def _check_ndim(in1, in2):
    if in1.ndim != in2.ndim:
        raise ValueError(f"in1 and in2 should have the same dimensionality, got shapes {in1.shape} and {in2.shape}")


def convolve(in1, in2, mode="full", method="auto"):
    """True convolution of in1 with in2 (in2 flipped), like scipy.signal.convolve.

    method: 'auto' (choose_conv_method), 'direct', 'fft', or on the CPU 'oa' (overlap-add, as oaconvolve).
    1-3-D inputs of equal ndim -> an array of shapes.signal_output_shape(in1.shape, in2.shape, mode) and
    dtype np.result_type(in1, in2); two 0-d inputs -> their product. An empty in1 with mode 'same' gives
    an empty result; any other empty input is a ValueError.
    """
    in1, in2 = _checked(in1, in2)
    if in1.ndim == in2.ndim == 0:
        return in1 * in2
    shapes.check_signal_pair(in1, in2, mode)
    return _convolve(in1, in2, mode, method)


def correlate(in1, in2, mode="full", method="auto"):
    """Cross-correlation of in1 with in2, like scipy.signal.correlate: convolve with in2 flipped (and
    conjugated when complex). Shapes, dtypes and methods as convolve; two 0-d inputs -> in1 * conj(in2)."""
    in1, in2 = _checked(in1, in2)
    if in1.ndim == in2.ndim == 0:
        return in1 * (np.conj(in2) if in2.dtype.kind == "c" else in2)
    shapes.check_signal_pair(in1, in2, mode)
    return _convolve(in1, _reversed(in2), mode, method)


def _convolve(in1, in2, mode, method):
    device = shapes.device_of(in1)
    if device == "cpu" and (in1.size == 0 or in2.size == 0):
        return _empty_result(in1, in2, mode)
    if device == "cuda":
        module = select.signal_method(in1.shape, in2.shape, mode, device, method)
        if method == "auto" and module.__name__ != select.SIGNAL_METHODS["cuda"]["direct"]:
            from .cuda import signal as cuda_signal
            if not (cuda_signal.all_finite(in1) and cuda_signal.all_finite(in2)):
                module = cuda_signal  # NaN or Inf: the direct method, as on the CPU
        return module.convolve(in1, in2, mode)
    if in1.dtype == in2.dtype and in1.dtype in shapes.FLOAT_DTYPES:
        out = select.signal_method(in1.shape, in2.shape, mode, device, method).convolve(in1, in2, mode)
    else:
        out = _convolve_any(in1, in2, mode, _chosen(in1, in2, mode) if method == "auto" else method)
    if method in ("fft", "oa") and not np.isfinite(out.flat[0]):
        warnings.warn(f"Use of fft convolution on input with NaN or Inf spreads them over the result (method "
                      f"{method!r}); method='direct' keeps them where their products land", RuntimeWarning,
                      stacklevel=3)
    return out


def _convolve_any(in1, in2, mode, method):
    """The other dtype families: exact integers by the direct method, else the FFT's result rounded for them."""
    module = select.signal_method(in1.shape, in2.shape, mode, "cpu", method)
    if method == "direct":
        return module.convolve(in1, in2, mode)
    dtype = np.result_type(in1, in2)
    out = module.convolve(*_fft_inputs(in1, in2), mode)
    if dtype.kind in "biu":
        out = np.rint(out)
    return out.astype(dtype)


def _empty_result(in1, in2, mode):
    if mode == "same" and in1.size == 0 and in2.size > 0:
        return np.zeros(in1.shape, np.result_type(in1, in2))
    name, a = ("in1", in1) if in1.size == 0 else ("in2", in2)
    raise ValueError(f"{name} is empty (shape {a.shape}); correlate/convolve take an empty array only as in1 "
                     f"in mode 'same'")


def _fft_inputs(in1, in2):
    """in1, in2 in the dtypes SciPy's FFT computes them in: integers and bools as float64, float16 as float32."""
    def cast(a):
        if a.dtype.kind in "biu":
            return a.astype(np.float64)
        return a.astype(np.float32) if a.dtype == np.float16 else a
    return cast(in1), cast(in2)


def _chosen(in1, in2, mode):
    """choose_conv_method's answer on checked, non-empty host arrays."""
    from .cpu.signal import EXACT_FLOAT_BOUND, magnitude
    if any(a.dtype.kind in "iu" for a in (in1, in2)):
        bound = min(in1.size, in2.size) * magnitude(in1) * magnitude(in2)
        if bound >= EXACT_FLOAT_BOUND:  # the FFT's float64 could not hold the sums exactly
            return "direct"
    if in1.dtype.kind == in2.dtype.kind == "b":
        return "direct"
    return _auto_pick(*_fft_inputs(in1, in2), mode)


def _auto_pick(in1, in2, mode):
    dtype = np.result_type(in1, in2)
    return select.signal_method(in1.shape, in2.shape, mode, "cpu").pick(in1.astype(dtype, copy=False),
                                                                          in2.astype(dtype, copy=False), mode)[0]


def choose_conv_method(in1, in2, mode="full", measure=False):
    """The method ops.convolve / correlate with method='auto' take for these inputs, like
    scipy.signal.choose_conv_method: 'direct', 'fft' or (CPU) 'oa'.

    Bools, and integers whose sums could exceed float64's exact integers, take 'direct' (exact); inputs with
    NaN or Inf take 'direct' (see the module's note); otherwise the cost model of ops.select (or what
    autotune measured). measure=True times every method on these inputs instead and returns
    (the fastest, {method: seconds}).
    """
    in1, in2 = _checked(in1, in2)
    shapes.check_signal_pair(in1, in2, mode)
    device = shapes.device_of(in1)
    if measure:
        times = {}
        for name in select.SIGNAL_METHODS[device]:
            convolve(in1, in2, mode, name)  # compiles, warms caches
            start = time.perf_counter()
            convolve(in1, in2, mode, name)
            times[name] = time.perf_counter() - start
        return min(times, key=times.get), times
    if device == "cuda":
        module = select.signal_method(in1.shape, in2.shape, mode, device)
        return next(n for n, m in select.SIGNAL_METHODS[device].items() if m == module.__name__)
    if in1.size == 0 or in2.size == 0:
        return "direct"
    return _chosen(in1, in2, mode)


def fftconvolve(in1, in2, mode="full", axes=None):
    """Convolution through the FFT, like scipy.signal.fftconvolve.

    axes: the axes to convolve along (all by default; the CPU only); along the others the inputs broadcast.
    Inputs of any equal ndim (device arrays: 1-3-D, axes=None); two 0-d inputs -> their product; an empty
    input -> an empty float64 array of shape (0,), as SciPy gives. The result has the FFT's dtype (see the
    module's note); NaN or Inf anywhere in an input may spread over the whole result.
    """
    in1, in2 = _checked(in1, in2)
    if in1.ndim == in2.ndim == 0:
        return in1 * in2
    _check_ndim(in1, in2)
    if shapes.device_of(in1) == "cuda":
        if axes is not None:
            raise NotImplementedError("fftconvolve with axes= is implemented on the CPU only")
        shapes.check_signal_pair(in1, in2, mode)
        return select.signal_method(in1.shape, in2.shape, mode, "cuda", "fft").convolve(in1, in2, mode)
    from .cpu import fft
    if axes is None and in1.dtype == in2.dtype and in1.dtype in shapes.FLOAT_DTYPES and in1.size and in2.size:
        return fft.convolve(in1, in2, mode)
    return _spectral(fft, in1, in2, mode, axes)


def oaconvolve(in1, in2, mode="full", axes=None):
    """Convolution by overlap-add (blocks of in1 through batched FFTs), like scipy.signal.oaconvolve: fast
    for a long signal against a much shorter kernel. Arguments, shapes and dtypes as fftconvolve (CPU only)."""
    in1, in2 = _checked(in1, in2)
    if in1.ndim == in2.ndim == 0:
        return in1 * in2
    _check_ndim(in1, in2)
    if shapes.device_of(in1) == "cuda":
        raise NotImplementedError("oaconvolve is implemented on the CPU only")
    from .cpu import oaconv
    return _spectral(oaconv, in1, in2, mode, axes)


def _spectral(module, in1, in2, mode, axes):
    shapes.check_signal_mode(mode)
    if in1.size == 0 or in2.size == 0:
        return np.array([])
    if not shapes.signal_axes(in1.shape, in2.shape, mode, axes)[0]:
        return module.convolve(in1, in2, mode, axes)  # no transform: the plain product in its own dtype, as SciPy
    return module.convolve(*_fft_inputs(in1, in2), mode, axes)


def correlation_lags(in1_len, in2_len, mode="full"):
    """The lag of each element of the 1-D correlate(in1, in2, mode), like scipy.signal.correlation_lags:
    element k of the full correlation is sum_n in1[n + lag] * conj(in2[n]) with lag = k - (in2_len - 1),
    and 'same' and 'valid' keep the part of it correlate keeps. (For 'same' with an odd in1_len and an even
    in2_len SciPy's correlation_lags is one off from what its own correlate returns; these are correlate's.)"""
    for name, value in (("in1_len", in1_len), ("in2_len", in2_len)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    shapes.check_signal_mode(mode)
    full = np.arange(-int(in2_len) + 1, int(in1_len))
    out = shapes.signal_output_shape((in1_len,), (in2_len,), mode)
    return full[shapes.signal_crop(full.shape, out)]


BOUNDARIES = {"fill": "constant", "pad": "constant", "wrap": "wrap", "circular": "wrap", "symm": "symmetric",
              "symmetric": "symmetric"}


def convolve2d(in1, in2, mode="full", boundary="fill", fillvalue=0):
    """2-D convolution with a boundary condition, like scipy.signal.convolve2d: outside in1 the image
    continues as `fillvalue` ('fill'), periodically ('wrap') or mirrored with its edge repeated ('symm').
    in1 (H, W), in2 (kh, kw) -> shapes.signal_output_shape(in1.shape, in2.shape, mode); 'valid' never
    reads outside in1, so there the boundary makes no difference."""
    return _two_d(convolve, in1, in2, mode, boundary, fillvalue)


def correlate2d(in1, in2, mode="full", boundary="fill", fillvalue=0):
    """2-D cross-correlation with a boundary condition, like scipy.signal.correlate2d (see convolve2d).

    Its 'same' window is SciPy's correlate2d's: along a dim where in2 has an even length it starts one sample
    later than correlate's 'same' window. 'valid' is correlate's: when in2 is the larger input SciPy's
    correlate2d returns the conjugate of that for complex inputs."""
    return _two_d(correlate, in1, in2, mode, boundary, fillvalue)


def _two_d(op, in1, in2, mode, boundary, fillvalue):
    in1, in2 = _checked(in1, in2)
    if shapes.device_of(in1) == "cuda":
        raise NotImplementedError("convolve2d and correlate2d are implemented on the CPU only")
    if not in1.ndim == in2.ndim == 2:
        raise ValueError(f"in1 and in2 must both be 2-D, got shapes {in1.shape} and {in2.shape}")
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {sorted(BOUNDARIES)}, got {boundary!r}")
    if np.size(fillvalue) != 1:
        raise ValueError(f"`fillvalue` must be scalar or an array with one element, got {fillvalue!r}")
    fill = np.asarray(fillvalue).reshape(())
    if fill.dtype.kind == "c" and in1.dtype.kind != "c" and fill.imag != 0:
        raise ValueError(f"could not cast `fillvalue` directly to the output dtype {in1.dtype}: {fillvalue!r}")
    fill = fill.astype(in1.dtype) if in1.dtype.kind == "c" else fill.real.astype(in1.dtype)
    shapes.check_signal_pair(in1, in2, mode)
    if mode == "valid" or in1.size == 0 or in2.size == 0:
        return op(in1, in2, mode, "auto")
    pads = [(b - 1, b - 1) for b in in2.shape]
    extra = {"constant_values": fill} if BOUNDARIES[boundary] == "constant" else {}
    full = op(np.pad(in1, pads, BOUNDARIES[boundary], **extra), in2, "valid", "auto")
    if mode == "full":
        return full
    # 'same': SciPy's correlate2d centres its window half a sample later than correlate's for even kernel sizes
    late = op is correlate
    return np.ascontiguousarray(full[tuple(slice((f - o + late) // 2, (f - o + late) // 2 + o)
                                           for f, o in zip(full.shape, in1.shape))])


def _reversed(a):
    """a reversed along every axis (and conjugated when complex), as a new contiguous array on a's device."""
    if shapes.device_of(a) == "cpu":
        flipped = np.flip(a)
        return np.ascontiguousarray(np.conj(flipped) if a.dtype.kind == "c" else flipped)
    from .cuda import arrays, signal
    return signal.conjugate(arrays.flip(a)) if np.dtype(a.dtype).kind == "c" else arrays.flip(a)


def _full_grad(grad_out, shape1, shape2, mode):
    """Embed the gradient of a cropped result into the full-size result it was cut from."""
    full_shape = shapes.signal_output_shape(shape1, shape2, "full")
    expected = shapes.signal_output_shape(shape1, shape2, mode)
    if tuple(grad_out.shape) != expected:
        raise ValueError(f"grad_out has shape {tuple(grad_out.shape)}, the {mode!r} result has {expected}")
    crop = shapes.signal_crop(full_shape, expected)
    if shapes.device_of(grad_out) == "cuda":
        from .cuda import arrays
        return arrays.embed(grad_out, full_shape, tuple(sl.start for sl in crop))
    full = np.zeros(full_shape, grad_out.dtype)
    full[crop] = grad_out
    return full


def _grad_inputs(grad_out, in1, in2, mode):
    """(grad_out, in1, in2) checked and in the result's dtype, and whether in1 and in2 were complex."""
    in1, in2 = _checked(in1, in2)
    if in1.ndim == 0 or in2.ndim == 0:
        raise ValueError(f"gradients need 1-3-D inputs, got shapes {in1.shape} and {in2.shape}")
    shapes.check_signal_pair(in1, in2, mode)
    kinds = np.dtype(in1.dtype).kind == "c", np.dtype(in2.dtype).kind == "c"
    if shapes.device_of(in1) == "cuda":
        return grad_out, in1, in2, kinds
    if in1.dtype.kind not in "fc" or in2.dtype.kind not in "fc":
        raise TypeError(f"gradients need float or complex inputs, got {in1.dtype} and {in2.dtype}")
    dtype = np.result_type(in1, in2)
    grad_out = np.asarray(grad_out)
    if grad_out.dtype.kind == "c" and dtype.kind != "c":
        raise TypeError(f"grad_out is complex ({grad_out.dtype}) but the result of real inputs is real: "
                        "its imaginary part would be lost")
    return grad_out.astype(dtype, copy=False), in1.astype(dtype, copy=False), in2.astype(dtype, copy=False), kinds


def _as_input(grad, is_complex):
    """The gradient for an input: its real part when that input is real and the result complex (host arrays:
    on the device both are of one dtype). See the module's note on complex gradients."""
    if is_complex or shapes.device_of(grad) == "cuda" or grad.dtype.kind != "c":
        return grad
    return np.ascontiguousarray(grad.real)


def convolve_grad(grad_out, in1, in2, mode="full", method="auto"):
    """Gradients (d in1, d in2) of convolve(in1, in2, mode) given the gradient of its result: the
    correlations of that gradient with in2 and in1 (which conjugate them when complex)."""
    grad_out, a, b, (complex1, complex2) = _grad_inputs(grad_out, in1, in2, mode)
    full = _full_grad(grad_out, a.shape, b.shape, mode)
    return _as_input(correlate(full, b, "valid", method), complex1), _as_input(correlate(full, a, "valid", method),
                                                                               complex2)


def correlate_grad(grad_out, in1, in2, mode="full", method="auto"):
    """Gradients (d in1, d in2) of correlate(in1, in2, mode) given the gradient of its result."""
    grad_out, a, b, (complex1, complex2) = _grad_inputs(grad_out, in1, in2, mode)
    g1, g_reversed = convolve_grad(grad_out, a, _reversed(b), mode, method)
    return _as_input(g1, complex1), _as_input(_reversed(g_reversed), complex2)
