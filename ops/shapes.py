"""Argument checks and output-shape arithmetic shared by every backend.

Every public op validates here first, so each backend receives arrays it can
trust (float32/float64, contiguous, non-empty, one device) and a geometry
object that already holds the normalised stride, padding and output shape.
Errors name the offending value.
"""
import math
from dataclasses import dataclass

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
SIGNAL_MODES = ("full", "same", "valid")
# The native kernels index the positions of one (padded) plane with 32-bit ints.
MAX_PLANE = 2**31 - 1


def device_of(a):
    """'cuda' for a Numba CUDA device array (anything exposing the CUDA array interface, or the
    simulator's stand-in, which marks itself __cuda_ndarray__ instead), else 'cpu'."""
    if isinstance(a, np.ndarray):
        return "cpu"
    return "cuda" if hasattr(a, "__cuda_array_interface__") or getattr(a, "__cuda_ndarray__", False) else "cpu"


def check_array(a, name):
    """Return `a` as a contiguous float32/float64 array on its own device, or raise.

    Host arrays that are not C-contiguous are copied; device arrays that are not
    are rejected, since copying them would be a hidden device operation.
    """
    if device_of(a) == "cpu" and not isinstance(a, np.ndarray):
        a = np.asarray(a)
    if device_of(a) == "cpu" and a.dtype.kind == "f" and not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))  # big-endian floats: the same values in the machine's order
    if np.dtype(a.dtype) not in FLOAT_DTYPES:
        raise TypeError(f"{name} has dtype {a.dtype}; convref computes in float32 or float64")
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {tuple(a.shape)})")
    if device_of(a) == "cpu":
        return np.ascontiguousarray(a)
    if not a.is_c_contiguous():
        raise ValueError(f"{name} is a non-contiguous device array (strides {a.strides}); make it contiguous first")
    return a


def check_same_kind(**arrays):
    """Raise unless all given arrays share one dtype and one device; return (dtype, device)."""
    items = [(n, a) for n, a in arrays.items() if a is not None]
    devices = {n: device_of(a) for n, a in items}
    if len(set(devices.values())) > 1:
        raise ValueError(f"arrays on different devices: {devices}")
    dtypes = {n: np.dtype(a.dtype) for n, a in items}
    if len(set(dtypes.values())) > 1:
        raise TypeError(f"arrays of different dtypes: { {n: str(d) for n, d in dtypes.items()} }")
    return items[0][1].dtype, devices[items[0][0]]


def is_int(value):
    """An int or NumPy integer, not a bool (True is an int to Python, never a size or a stride here)."""
    return type(value) is int or (isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)))


def as_int(value, name, minimum):
    """`value` as a Python int >= minimum, or a TypeError / ValueError naming it."""
    if not is_int(value):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def as_tuple(value, n, name, minimum):
    """Normalise an int or a length-n sequence of ints to an n-tuple, each >= minimum."""
    if is_int(value):
        values = (int(value),) * n
    elif isinstance(value, (tuple, list)) and all(is_int(v) for v in value):
        if len(value) != n:
            raise ValueError(f"{name} must be an int or {n} ints, got {value!r}")
        values = tuple(int(v) for v in value)
    else:
        raise TypeError(f"{name} must be an int or {n} ints, got {value!r}")
    if any(v < minimum for v in values):
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return values


def as_shape(shape, name):
    """A shape argument (input_shape, weight_shape) as a tuple of positive Python ints."""
    if not isinstance(shape, (tuple, list)) or not all(map(is_int, shape)):
        raise TypeError(f"{name} must be a tuple of ints, got {shape!r}")
    if min(shape, default=1) < 1:
        raise ValueError(f"{name} must have positive sizes, got {tuple(shape)}")
    return tuple(map(int, shape))


def check_plane(spatial, what):
    """Raise unless one plane of this spatial shape fits the kernels' 32-bit position indexes."""
    if math.prod(spatial) > MAX_PLANE:
        raise ValueError(f"{what} of spatial shape {tuple(spatial)} has {math.prod(spatial)} elements per plane; "
                         f"convref's kernels handle at most {MAX_PLANE}")


def _check_ndim(a, ndim, name, layout):
    if len(a.shape) != ndim:
        raise ValueError(f"{name} must be {ndim}-D {layout}, got shape {tuple(a.shape)}")


@dataclass(frozen=True)
class ConvGeometry:
    """Everything a conv kernel needs besides the arrays. Hashable: a cache key for algorithm choice.

    padding holds (before, after) per spatial dim, so the asymmetric padding of
    padding="same" with an even kernel is representable.
    """
    batch: int
    in_channels: int
    out_channels: int
    groups: int
    in_spatial: tuple
    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    out_spatial: tuple

    @property
    def nd(self):
        return len(self.kernel)

    @property
    def input_shape(self):
        return (self.batch, self.in_channels) + self.in_spatial

    @property
    def weight_shape(self):
        return (self.out_channels, self.in_channels // self.groups) + self.kernel

    @property
    def output_shape(self):
        return (self.batch, self.out_channels) + self.out_spatial

    @property
    def flops(self):
        """Multiply-adds x 2 of the forward pass."""
        return 2 * math.prod(self.output_shape) * math.prod(self.weight_shape[1:])

    def transposed(self):
        """The input gradient of a stride-1 conv is the stride-1 conv of grad_out with the kernel flipped and its
        channel axes swapped within each group, padded by span - padding: (the crop of grad_out where that
        padding is negative, that conv's geometry)."""
        spans = [d * (k - 1) for k, d in zip(self.kernel, self.dilation)]
        pads = [(span - lo, span - hi) for span, (lo, hi) in zip(spans, self.padding)]
        crop = tuple(slice(max(0, -lo), size - max(0, -hi)) for (lo, hi), size in zip(pads, self.out_spatial))
        spatial = tuple(c.stop - c.start for c in crop)
        pads = tuple((max(0, lo), max(0, hi)) for lo, hi in pads)
        return crop, ConvGeometry(self.batch, self.out_channels, self.in_channels, self.groups, spatial, self.kernel,
                                  self.stride, pads, self.dilation, self.in_spatial)


def normalise_padding(padding, kernel, dilation, stride, nd):
    """A conv's padding argument (an int, nd ints, 'same' or 'valid') as nd (before, after) pairs."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"padding='same' needs stride 1, got stride {stride}")
            totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in totals)
        raise ValueError(f"padding must be an int, a tuple of ints, 'same' or 'valid', got {padding!r}")
    return tuple((p, p) for p in as_tuple(padding, nd, "padding", 0))


def conv_geometry(input_shape, weight_shape, nd, stride=1, padding=0, dilation=1, groups=1):
    """Check a conv's shapes and arguments; return its ConvGeometry.

    input_shape: (N, C, *spatial); weight_shape: (K, C // groups, *kernel).
    """
    input_shape, weight_shape = as_shape(input_shape, "input_shape"), as_shape(weight_shape, "weight_shape")
    if len(input_shape) != nd + 2:
        raise ValueError(f"conv{nd}d input must be {nd + 2}-D (N, C, {'spatial ' * nd}), got shape {input_shape}")
    if len(weight_shape) != nd + 2:
        raise ValueError(f"conv{nd}d weight must be {nd + 2}-D (out_ch, in_ch // groups, *kernel), got shape {weight_shape}")
    groups = as_int(groups, "groups", 1)
    n, c = input_shape[:2]
    k, cg = weight_shape[:2]
    if c % groups:
        raise ValueError(f"input channels {c} are not divisible by groups={groups}")
    if k % groups:
        raise ValueError(f"output channels {k} are not divisible by groups={groups}")
    if cg * groups != c:
        raise ValueError(f"weight expects {cg} x groups={groups} = {cg * groups} input channels, input has {c} (weight shape {weight_shape}, input shape {input_shape})")
    stride = as_tuple(stride, nd, "stride", 1)
    dilation = as_tuple(dilation, nd, "dilation", 1)
    kernel = weight_shape[2:]
    pads = normalise_padding(padding, kernel, dilation, stride, nd)
    out = []
    for i, (size, kk, s, d, (lo, hi)) in enumerate(zip(input_shape[2:], kernel, stride, dilation, pads)):
        span = d * (kk - 1) + 1
        if size + lo + hi < span:
            raise ValueError(f"kernel of dilated size {span} is larger than the padded input ({size} + {lo} + {hi}) in spatial dim {i}")
        out.append((size + lo + hi - span) // s + 1)
    check_plane([size + lo + hi for size, (lo, hi) in zip(input_shape[2:], pads)], f"conv{nd}d's padded input")
    return ConvGeometry(n, c, k, groups, input_shape[2:], kernel, stride, pads, dilation, tuple(out))


def conv_transpose_geometry(input_shape, weight_shape, nd, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Geometry of conv_transposeNd(x) seen as the conv whose input gradient it computes.

    x: (N, C_in, *spatial); weight: (C_in, C_out // groups, *kernel), PyTorch's layout.
    Returns the ConvGeometry of the forward conv that maps the transposed output back to x. Its
    out_spatial is x's spatial shape, except where output_padding >= stride (allowed when smaller than
    the dilation, as in PyTorch): there the conv has more outputs than x, and x fills their leading part.
    """
    input_shape, weight_shape = as_shape(input_shape, "input_shape"), as_shape(weight_shape, "weight_shape")
    if len(input_shape) != nd + 2 or len(weight_shape) != nd + 2:
        raise ValueError(f"conv_transpose{nd}d needs {nd + 2}-D input and weight, got {input_shape} and {weight_shape}")
    if isinstance(padding, str):
        raise ValueError(f"conv_transpose{nd}d padding must be ints, got {padding!r}")
    groups = as_int(groups, "groups", 1)
    n, c_in = input_shape[:2]
    if weight_shape[0] != c_in:
        raise ValueError(f"weight has {weight_shape[0]} input channels, input has {c_in}")
    if c_in % groups:
        raise ValueError(f"input channels {c_in} are not divisible by groups={groups}")
    stride = as_tuple(stride, nd, "stride", 1)
    dilation = as_tuple(dilation, nd, "dilation", 1)
    pads = as_tuple(padding, nd, "padding", 0)
    out_pads = as_tuple(output_padding, nd, "output_padding", 0)
    for op, s, d in zip(out_pads, stride, dilation):
        if op >= max(s, d):
            raise ValueError(f"output_padding {out_pads} must be smaller than stride {stride} or dilation {dilation}")
    kernel = weight_shape[2:]
    spatial = tuple((size - 1) * s - 2 * p + d * (k - 1) + op + 1
                    for size, s, p, d, k, op in zip(input_shape[2:], stride, pads, dilation, kernel, out_pads))
    if any(o < 1 for o in spatial):
        raise ValueError(f"conv_transpose{nd}d output would have spatial shape {spatial}")
    conv_weight_shape = (c_in, weight_shape[1]) + kernel
    out_shape = (n, weight_shape[1] * groups) + spatial
    return conv_geometry(out_shape, conv_weight_shape, nd, stride, pads, dilation, groups)


def check_conv_grad_shape(grad_out, geom):
    if tuple(grad_out.shape) != geom.output_shape:
        raise ValueError(f"grad_out has shape {tuple(grad_out.shape)}, the conv produces {geom.output_shape}")


@dataclass(frozen=True)
class PoolGeometry:
    """A pooling window's geometry over the spatial dims of an (N, C, *spatial) input."""
    batch: int
    channels: int
    in_spatial: tuple
    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    out_spatial: tuple

    @property
    def nd(self):
        return len(self.kernel)

    @property
    def input_shape(self):
        return (self.batch, self.channels) + self.in_spatial

    @property
    def output_shape(self):
        return (self.batch, self.channels) + self.out_spatial


def pool_geometry(input_shape, nd, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Check a pooling op's arguments (PyTorch's rules) and return its PoolGeometry."""
    input_shape = as_shape(input_shape, "input_shape")
    if len(input_shape) != nd + 2:
        raise ValueError(f"pool{nd}d input must be {nd + 2}-D (N, C, {'spatial ' * nd}), got shape {input_shape}")
    kernel = as_tuple(kernel_size, nd, "kernel_size", 1)
    stride = kernel if stride is None else as_tuple(stride, nd, "stride", 1)
    pads = as_tuple(padding, nd, "padding", 0)
    dilation = as_tuple(dilation, nd, "dilation", 1)
    out = []
    for i, (size, k, s, p, d) in enumerate(zip(input_shape[2:], kernel, stride, pads, dilation)):
        if p > k // 2:
            raise ValueError(f"padding {p} must be at most half the kernel size {k} (spatial dim {i})")
        span = d * (k - 1) + 1
        room = size + 2 * p - span
        if room < 0:
            raise ValueError(f"pooling window of size {span} is larger than the padded input ({size} + 2*{p}) in spatial dim {i}")
        o = (-(-room // s) if ceil_mode else room // s) + 1
        if ceil_mode and (o - 1) * s >= size + p:
            o -= 1  # the last window must start inside the input or its left padding
        out.append(o)
    check_plane([size + 2 * p for size, p in zip(input_shape[2:], pads)], f"pool{nd}d's padded input")
    return PoolGeometry(input_shape[0], input_shape[1], input_shape[2:], kernel, stride, pads, dilation, tuple(out))


def check_signal_pair(in1, in2, mode):
    """SciPy's rules for correlate/convolve: same ndim (1-3 here), a known mode,
    and for 'valid' one input at least as large as the other in every dim."""
    if mode not in SIGNAL_MODES:
        raise ValueError(f"mode must be one of {SIGNAL_MODES}, got {mode!r}")
    if len(in1.shape) != len(in2.shape):
        raise ValueError(f"in1 and in2 must have the same number of dimensions, got {tuple(in1.shape)} and {tuple(in2.shape)}")
    if not 1 <= len(in1.shape) <= 3:
        raise ValueError(f"correlate/convolve support 1-D to 3-D inputs, got {len(in1.shape)}-D")
    if mode == "valid" and not (all(a >= b for a, b in zip(in1.shape, in2.shape))
                                or all(b >= a for a, b in zip(in1.shape, in2.shape))):
        raise ValueError(f"for 'valid' mode one input must be at least as large as the other in every dimension, "
                         f"got {tuple(in1.shape)} and {tuple(in2.shape)}")
    check_plane(signal_output_shape(in1.shape, in2.shape, "full"), "the full correlation of in1 and in2")


def signal_output_shape(shape1, shape2, mode):
    """Output shape of correlate/convolve(in1, in2, mode), SciPy's convention."""
    if mode == "full":
        return tuple(a + b - 1 for a, b in zip(shape1, shape2))
    if mode == "same":
        return tuple(shape1)
    return tuple(abs(a - b) + 1 for a, b in zip(shape1, shape2))


def signal_crop(full_shape, out_shape):
    """Slices that take the centred out_shape part of a full result (SciPy's `_centered`)."""
    return tuple(slice((f - o) // 2, (f - o) // 2 + o) for f, o in zip(full_shape, out_shape))


def signal_conv_geometry(shape1, shape2, mode):
    """The ConvGeometry (one image, one channel, one filter) of correlating a shape1 input with a shape2 kernel,
    padded (unevenly where the mode centres) so that its outputs are exactly SciPy's `mode` result: the direct signal
    method of both devices."""
    out = signal_output_shape(shape1, shape2, mode)
    full = signal_output_shape(shape1, shape2, "full")
    padding = []
    for a, b, o, f in zip(shape1, shape2, out, full):
        lead = b - 1 - (f - o) // 2
        padding.append((lead, o - a + b - 1 - lead))
    ones = (1,) * len(shape1)
    return ConvGeometry(1, 1, 1, 1, tuple(shape1), tuple(shape2), ones, tuple(padding), ones, out)


# scipy.signal's functions take every numeric family: bool, signed and unsigned integers, floats, complex.
SIGNAL_KINDS = "biufc"


def check_signal_array(a, name):
    """Return `a` as a contiguous array of a numeric dtype on its own device, or raise.

    Unlike check_array it keeps 0-d and empty arrays (scipy.signal gives them a meaning)
    and every dtype family of SIGNAL_KINDS.
    """
    if device_of(a) == "cpu":
        a = np.asarray(a)
        a = a if a.flags.c_contiguous else np.ascontiguousarray(a)  # ascontiguousarray makes 0-d arrays 1-d
    elif not a.is_c_contiguous():
        raise ValueError(f"{name} is a non-contiguous device array (strides {a.strides}); make it contiguous first")
    dtype = np.dtype(a.dtype)
    # long double has no kernel here: computing it in float64 would silently drop its extra precision
    if dtype.kind not in SIGNAL_KINDS or dtype.itemsize > {"f": 8, "c": 16}.get(dtype.kind, 8):
        raise TypeError(f"{name} has dtype {dtype}; correlate/convolve take bool, integer, float16/32/64 "
                        f"and complex64/128 arrays")
    return a


def check_signal_mode(mode):
    if mode not in SIGNAL_MODES:  # SciPy's words: code written against scipy.signal may match them
        raise ValueError(f"acceptable mode flags are 'valid', 'same', or 'full'; got mode={mode!r}")


def all_finite(a):
    """False when host array `a` may hold NaN or Inf: one BLAS pass (a dot product of `a` with itself).

    A sum of squares that overflows reads as non-finite too; callers only use the
    answer to prefer the direct method, which is right for every input.
    """
    return a.dtype.kind not in "fc" or bool(np.isfinite(np.vdot(a, a)))


def signal_axes(shape1, shape2, mode, axes=None):
    """scipy.signal.fftconvolve's `axes`: (the axes to transform, whether 'valid' needs the inputs swapped).

    Axes where either input has length 1 need no transform (the product broadcasts there) and are
    dropped; every axis not transformed must have equal lengths or a length 1 (broadcasting).
    """
    check_signal_mode(mode)
    ndim = len(shape1)
    if axes is None:
        if 1 not in shape1 and 1 not in shape2 and mode != "valid":  # the common case, quickly
            return tuple(range(ndim)), False
        chosen = list(range(ndim))
    else:
        chosen = [axes] if isinstance(axes, (int, np.integer)) else list(axes)
        if not chosen:
            raise ValueError("when provided, axes cannot be empty")
        if not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in chosen):
            raise ValueError(f"axes must be a scalar or iterable of integers, got {axes!r}")
        if not all(-ndim <= a < ndim for a in chosen):
            raise ValueError(f"axes exceeds dimensionality of input: {axes!r} for {ndim}-D inputs")
        chosen = [int(a) % ndim for a in chosen]
        if len(set(chosen)) != len(chosen):
            raise ValueError(f"all axes must be unique, got {axes!r}")
    chosen = [a for a in chosen if shape1[a] != 1 and shape2[a] != 1]
    if not all(shape1[a] == shape2[a] or 1 in (shape1[a], shape2[a]) for a in range(ndim) if a not in chosen):
        raise ValueError(f"incompatible shapes for in1 and in2: {tuple(shape1)} and {tuple(shape2)} (outside the "
                         f"convolved axes their lengths must be equal or 1)")
    swap = False
    if mode == "valid":
        first_larger = all(shape1[a] >= shape2[a] for a in chosen)
        if not first_larger and not all(shape2[a] >= shape1[a] for a in chosen):
            raise ValueError(f"For 'valid' mode, one must be at least as large as the other in every dimension "
                             f"convolved: in1 {tuple(shape1)}, in2 {tuple(shape2)}")
        swap = not first_larger
    return tuple(chosen), swap


def signal_axes_shapes(shape1, shape2, mode, axes):
    """(full shape, output shape) of fftconvolve(in1, in2, mode, axes) for inputs already in 'valid' order,
    SciPy's rules: along the convolved axes a + b - 1 and the mode's crop of it; elsewhere the broadcast
    length ('same': in1's)."""
    if len(axes) == len(shape1):
        full = tuple(a + b - 1 for a, b in zip(shape1, shape2))
    else:
        full = tuple(a + b - 1 if i in axes else max(a, b) for i, (a, b) in enumerate(zip(shape1, shape2)))
    if mode == "full":
        return full, full
    if mode == "same":
        return full, tuple(shape1)
    return full, tuple(a - b + 1 if i in axes else f for i, (a, b, f) in enumerate(zip(shape1, shape2, full)))


def adaptive_windows(size, out):
    """PyTorch's adaptive-pooling windows along one dim: [floor(i * size / out), ceil((i + 1) * size / out))."""
    starts = [(i * size) // out for i in range(out)]
    ends = [-((-(i + 1) * size) // out) for i in range(out)]
    return starts, ends


BINOMIAL_ROWS = {1: [1.0], 2: [1.0, 1.0], 3: [1.0, 2.0, 1.0], 4: [1.0, 3.0, 3.0, 1.0],
                 5: [1.0, 4.0, 6.0, 4.0, 1.0], 6: [1.0, 5.0, 10.0, 10.0, 5.0, 1.0],
                 7: [1.0, 6.0, 15.0, 20.0, 15.0, 6.0, 1.0]}


def blur_filter(filt_size, nd, dtype):
    """The normalised binomial low-pass filter of Zhang's BlurPool, outer product over nd dims."""
    row = np.array(BINOMIAL_ROWS[filt_size])
    filt = row
    for _ in range(nd - 1):
        filt = np.multiply.outer(filt, row)
    return (filt / filt.sum()).astype(dtype)


def blur_geometry(input_shape, filt_size, stride):
    """Blur-pool = reflect pad ((f-1)//2, f//2), then a depthwise stride-s conv with the binomial filter.

    Returns (pads, geom) where geom is the ConvGeometry of that depthwise conv on the padded input.
    """
    if filt_size not in BINOMIAL_ROWS:
        raise ValueError(f"filt_size must be 1 to 7, got {filt_size!r}")
    n, c = input_shape[:2]
    nd = len(input_shape) - 2
    pads = ((filt_size - 1) // 2, filt_size // 2)
    for i, size in enumerate(input_shape[2:]):
        if size <= max(pads):
            raise ValueError(f"blur-pool reflect padding {pads} needs a spatial size above {max(pads)}, got {size} in dim {i}")
    padded = (n, c) + tuple(size + sum(pads) for size in input_shape[2:])
    return pads, conv_geometry(padded, (c, 1) + (filt_size,) * nd, nd, stride, 0, 1, c)
