"""Which algorithm computes an op for a given shape and device: the only place that chooses.

Algorithms are modules, imported on first use so that `import ops` stays cheap:
- conv algorithms expose forward(x, w, bias, geom), grad_input(grad_out, w, geom),
  grad_weight(x, grad_out, geom), over an ops.shapes.ConvGeometry;
- pool backends expose the functions of ops.reference.pool;
- signal methods expose convolve(in1, in2, mode) with SciPy's semantics.

algorithm="auto" (and, on the CPU, method="auto") returns a chooser with the
same interface that picks, at each call, the algorithm for that op, geometry,
dtype and thread count: the cheapest by the cost model below (on CUDA, a rule
ranking the GEMM against the direct kernel), or, after autotune(True), the
fastest of the plausible candidates timed once on the call's own arrays (like
cuDNN's benchmark mode), remembered per key.
"""
import functools
import importlib
import math
import time

CONV_ALGORITHMS = {
    "cpu": {"reference": "ops.reference.conv", "gemm": "ops.cpu.gemm", "direct": "ops.cpu.direct",
            "fft": "ops.cpu.fftconv", "winograd": "ops.cpu.winograd"},
    "cuda": {"direct": "ops.cuda.direct", "gemm": "ops.cuda.gemm", "fft": "ops.cuda.fftconv"},
}
POOL_BACKENDS = {"cpu": "ops.cpu.pool", "cuda": "ops.cuda.pool"}
RESAMPLE_BACKENDS = {"cpu": "ops.cpu.resample", "cuda": "ops.cuda.resample"}
SIGNAL_METHODS = {
    "cpu": {"direct": "ops.cpu.signal", "fft": "ops.cpu.fft", "oa": "ops.cpu.oaconv"},
    "cuda": {"direct": "ops.cuda.signal", "fft": "ops.cuda.fft"},
}

# Direct correlation wins while its multiply-adds stay below this many times the
# FFT's n log2 n; measured on 512x512 images against 3x3 ... 31x31 kernels.
DIRECT_TO_FFT_RATIO = 4.0

# The CPU cost model: seconds per unit of work on one core in float32 (float64 costs
# twice as much), fitted to one-thread timings of the bench shapes and random geometries
# on an AVX-512 machine. Every algorithm's parallel loops scale with threads up to its
# number of independent tasks.
GEMM_FLOP = 1 / 200e9        # float32 product on the AVX-512 kernel of ops/_native/sgemm.h
BLAS_FLOP = 1 / 100e9        # sgemm of OpenBLAS (float32 without AVX-512; dgemm costs twice)
GEMM_CALL = 0.5e-6            # one product on a block, with its own packing of the operands
PACK_ELEMENT = 0.15e-9        # one element of im2col, col2im or a padded copy, written to the L2 cache
PACK_RUN = 4e-9               # one run of im2col (an output line of one channel at one kernel offset)
DIRECT_MAC = 1 / 20e9         # direct kernel (Numba), stride 1: vectorised rows
DEPTHWISE_MAC = 1 / 38e9      # native depthwise kernel (float32, AVX-512, stride 1), signals included
DIRECT_STRIDED_MAC = 1 / 2.5e9  # direct kernel, stride > 1: gathers
DIRECT_ROW_TAP = 10e-9        # direct kernel: one tap over one row block (slicing, loop setup)
WINOGRAD_ELEMENT = 0.28e-9     # one element of a Winograd transform (input, or output), in the L2 cache ...
WINOGRAD_SCALAR = 4e-9        # ... and by the scalar loops (float64, or a CPU without AVX-512)
FFT_UNIT = 0.12e-9            # one n log2 n unit of a real FFT (pocketfft) ...
FFT_LARGE = 3.0               # ... and this many times more when one dim is longer than FFT_CACHED
FFT_CACHED = 1 << 16
SPECTRAL_MAC = 1.2e-9         # one complex multiply-add between transforms
FFT_BATCHED = 0.5             # a conv transforms many planes per call: cheaper per plane
FFT_CALL = 50e-6              # the fixed part of a conv by FFT (allocations, three transform calls)
FFT_BLOCK = 1e-6              # the fixed part of one block's N-D transform in an overlap-add (1-D batches well)
CALL = 20e-6                  # fixed cost of one call (Python, allocation, thread start)

# CUDA: no GPU has timed these kernels yet, so a rule from their shapes ranks them. The tiled GEMM (64 x 64
# output tiles, 16-deep slices of the sum staged in shared memory, 4 x 4 outputs per thread) pays once every
# output sums at least two slices and at least 16 filters share each staged input tile; below that the
# direct kernel's thread per output wastes less. autotune(True) times both on the device instead.
CUDA_GEMM_MIN_DEPTH = 32    # products summed per output: (C / groups) * kernel volume (K / groups for grad_input)
CUDA_GEMM_MIN_FILTERS = 16  # filters per group (input channels per group for grad_input)

# autotune times only the candidates the model puts within this factor of its favourite.
AUTOTUNE_SPREAD = 8.0

_autotune = {"on": False, "cache": None}
_winners = {}  # measured by autotune (or read from its cache file)
_picks = {}    # the cost model's choices


def autotune(enabled=True, cache=None):
    """Time the plausible conv algorithms (and CPU signal methods) once per (op, geometry, dtype, threads or
    device) and keep the fastest.

    cache: a JSON file of winners (ops.tuning_cache): those measured on this machine are read now, and each
    new measurement is written back, so that the next process times nothing twice. A missing file starts
    empty; one that is not such a file raises ValueError.
    Returns the previous setting. Turning it off keeps what was measured or read; new keys use the cost model,
    and the file is no longer written.
    """
    if cache is not None and enabled:
        from . import tuning_cache
        for key, name in tuning_cache.load(cache).items():
            if name in _candidates(key):
                _winners.setdefault(key, name)
    previous = _autotune["on"]
    _autotune.update(on=bool(enabled), cache=cache if enabled else None)
    return previous


def _candidates(key):
    """The algorithms (or signal methods) 'auto' chooses among for a key of _choose."""
    if key[0] == "signal":
        return SIGNAL_METHODS["cpu"]
    return [name for name in CONV_ALGORITHMS["cuda" if key[-1] == "cuda" else "cpu"] if name != "reference"]


def _lookup(table, device, name, what):
    if device not in table or not table[device]:
        raise NotImplementedError(f"no {what} is implemented on device {device!r} yet")
    if name not in table[device]:
        raise ValueError(f"unknown {what} {name!r} on {device}; choose 'auto' or one of {sorted(table[device])}")
    return importlib.import_module(table[device][name])


def _threads():
    from . import threads
    return threads.get_num_threads()


def _parallel(seconds, tasks, threads):
    return seconds / max(1, min(threads, tasks))


def _fft_seconds(shape):
    """One real N-D FFT of this shape."""
    size = math.prod(shape)
    return size * math.log2(max(size, 2)) * FFT_UNIT * (FFT_LARGE if max(shape) > FFT_CACHED else 1.0)


def _fast_products(itemsize):
    from ._native import products
    return itemsize == 4 and products.fast_sgemm()


def _tile_waste(rows):
    """The AVX-512 kernel computes 8 rows of output at a time: the share of its work that is wasted."""
    return -(-rows // 8) * 8 / rows


def conv_cost(name, op, geom, itemsize, threads):
    """Estimated seconds of one conv pass ('forward', 'grad_input' or 'grad_weight') by a CPU algorithm.

    gemm:   the flops at the product rate (AVX-512 kernel, else BLAS; empty rows of its 8-row tile
            count), plus the im2col/col2im elements (three times for the weight gradient, whose product
            packs them again, transposed) and lines, plus one call per image block and group;
    direct: depthwise on the native kernel, and the weight gradient of stride-1 convs with few (filter,
            channel) pairs on its per-pair kernel: the multiply-adds plus the padded copy; >= 4 filters per
            group on the implicit GEMM (stride 1, or stride <= 2 along W for the forward and the weight
            gradient): the flops over the padded grid's positions plus the copies it makes; otherwise
            the Numba kernels: the multiply-adds over wide rows (stride 1) or output lines (strided),
            plus a fixed cost per row and tap;
    fft:    one transform per input, filter and output plane, plus the channel sums between them;
    winograd (2-D 3x3 stride-1 convs, forward and grad_input): the flops / 2.25 of its 16 products per
            tile, plus the padded copy and the transforms' elements (16 per tile and channel or filter,
            far cheaper on AVX-512 than in the scalar loops).
    Each is divided by min(threads, its independent tasks); float64 costs twice as much.
    """
    out_positions = math.prod(geom.out_spatial)
    cg, kg = geom.in_channels // geom.groups, geom.out_channels // geom.groups
    kvol = math.prod(geom.kernel)
    precision = itemsize / 4
    fast = _fast_products(itemsize)
    flop = GEMM_FLOP if fast else BLAS_FLOP * precision
    padded = [s + lo + hi for s, (lo, hi) in zip(geom.in_spatial, geom.padding)]
    stride_one = all(s == 1 for s in geom.stride)
    if name == "gemm":
        identity = kvol == 1 and stride_one and not any(map(any, geom.padding))
        packed = 0 if identity else geom.batch * geom.in_channels * kvol * out_positions
        runs = 0 if identity else packed // geom.out_spatial[-1]
        calls = geom.batch * geom.groups * max(1, out_positions // 4096)
        rows = {"forward": kg, "grad_input": cg * kvol, "grad_weight": kg}[op]
        if op == "grad_weight":  # the columns packed once more, transposed, as the product's B
            packed *= 3
        work = geom.flops * flop * _tile_waste(rows) + packed * PACK_ELEMENT + runs * PACK_RUN + calls * GEMM_CALL
        tasks = geom.batch * (geom.groups if op == "grad_input" else max(1, out_positions // 256))
        return CALL + _parallel(work, tasks, threads)
    if name == "direct":
        if fast and stride_one and geom.groups == geom.in_channels == geom.out_channels:
            # the native depthwise kernel, on the padded input, straight into the output
            copied = math.prod(padded) * geom.in_channels + (out_positions * geom.out_channels if op == "grad_weight" else 0)
            work = geom.flops / 2 * DEPTHWISE_MAC + geom.batch * copied * PACK_ELEMENT
            return CALL + _parallel(work, geom.batch * geom.in_channels, threads)
        from .cpu.direct import FEW_PAIR_TAPS, TAPS_AS_ROWS_FILTERS
        few_pairs = geom.out_channels * cg * kvol <= FEW_PAIR_TAPS and kg < TAPS_AS_ROWS_FILTERS
        if fast and stride_one and op == "grad_weight" and kg >= 4 and few_pairs:
            # one correlation per (filter, channel) pair on the native kernel (first layers), on the padded input
            work = geom.flops / 2 * DEPTHWISE_MAC + geom.batch * math.prod(padded) * geom.in_channels * PACK_ELEMENT
            return CALL + _parallel(work, geom.out_channels * cg, threads)
        phased = op != "grad_input" and geom.stride[-1] <= 2  # strided forward and weight gradient: stride phases
        if fast and (stride_one or phased) and (cg if op == "grad_input" else kg) >= 4:
            # the implicit GEMM over the padded grid (split into stride phases): rows as wide as the input
            spans = [d * (k - 1) for k, d in zip(geom.kernel, geom.dilation)]
            if op == "grad_input":
                wide = math.prod(geom.in_spatial[:-1]) * (geom.in_spatial[-1] + spans[-1])
                copied = math.prod(o + s for o, s in zip(geom.out_spatial, spans)) * geom.out_channels
            else:
                wide = out_positions // geom.out_spatial[-1] * -(-padded[-1] // geom.stride[-1])
                if geom.nd > 1:
                    wide = wide // geom.out_spatial[-2] * -(-padded[-2] // geom.stride[-2])
                copied = math.prod(padded) * geom.in_channels * (1 if stride_one else 2)
                if op == "grad_weight":  # grad_out packed (on the grid), and with few filters the taps
                    packed_taps = wide * geom.in_channels * kvol if kg < TAPS_AS_ROWS_FILTERS else 0
                    copied += wide * geom.out_channels + packed_taps
            waste = _tile_waste(cg if op == "grad_input" else kg)
            work = geom.flops * wide / out_positions * GEMM_FLOP * waste + geom.batch * copied * PACK_ELEMENT
            return CALL + _parallel(work, geom.batch * geom.groups * max(1, wide // 2048), threads)
        if stride_one:
            row = padded[-1] * geom.out_spatial[-2] if geom.nd > 1 else padded[-1]  # wide rows: the padded width
            rows = out_positions // geom.out_spatial[-1] * padded[-1] // row
            macs = geom.batch * geom.out_channels * cg * kvol * rows * row
            work = macs * DIRECT_MAC + macs / row * (1 + row // 2048) * DIRECT_ROW_TAP
        else:
            macs = geom.batch * geom.out_channels * cg * kvol * out_positions
            work = macs * DIRECT_STRIDED_MAC + macs / geom.out_spatial[-1] * DIRECT_ROW_TAP
        tasks = {"forward": geom.batch * geom.out_channels, "grad_input": geom.batch * geom.in_channels,
                 "grad_weight": geom.out_channels * cg * geom.batch}[op]
        return CALL + _parallel(work * precision, tasks, threads)
    if name == "winograd":
        from .cpu import winograd
        if op == "grad_weight" or not winograd.supports(geom):
            return math.inf  # its weight gradient is the direct algorithm's
        tiles = math.prod(-(-o // 2) for o in geom.out_spatial)
        transformed = geom.batch * tiles * 16 * (geom.in_channels + geom.out_channels)
        rows = geom.out_channels if op == "forward" else geom.in_channels
        work = (geom.flops / 2.25 * flop * _tile_waste(rows) + geom.batch * math.prod(padded) * geom.in_channels
                * PACK_ELEMENT + transformed * (WINOGRAD_ELEMENT if fast else WINOGRAD_SCALAR))
        return CALL + _parallel(work, geom.batch * max(1, tiles // 64), threads)
    if name == "fft":
        size = math.prod(padded)
        transforms = geom.batch * geom.in_channels + geom.out_channels * cg + geom.batch * geom.out_channels
        spectral = geom.batch * geom.out_channels * cg * size / 2
        work = transforms * _fft_seconds(padded) * FFT_BATCHED + spectral * SPECTRAL_MAC
        return CALL + FFT_CALL + _parallel(work * precision, geom.batch * geom.out_channels, threads)
    return math.inf  # the NumPy reference, or an algorithm the model does not know: never chosen


def cuda_conv_cost(name, op, geom):
    """A CUDA conv algorithm's rank for this pass (1 best, 2 next; fft only when asked by name): see
    CUDA_GEMM_MIN_DEPTH."""
    summed, shared = geom.in_channels // geom.groups, geom.out_channels // geom.groups
    if op == "grad_input":
        summed, shared = shared, summed
    deep = summed * math.prod(geom.kernel) >= CUDA_GEMM_MIN_DEPTH and shared >= CUDA_GEMM_MIN_FILTERS
    return {"gemm": 1.0 if deep else 2.0, "direct": 2.0 if deep else 1.0}.get(name, math.inf)


def signal_cost(name, shape1, shape2, mode, itemsize, threads):
    """Estimated seconds of correlate/convolve(in1, in2, mode) by a CPU method."""
    full = [a + b - 1 for a, b in zip(shape1, shape2)]
    out = math.prod(shape1) if mode == "same" else math.prod(full) if mode == "full" else \
        math.prod(abs(a - b) + 1 for a, b in zip(shape1, shape2))
    precision = itemsize / 4
    if name == "direct":
        macs = out * min(math.prod(shape1), math.prod(shape2))
        if _fast_products(itemsize):  # the native depthwise kernel on a padded copy of the larger input
            work = macs * DEPTHWISE_MAC + math.prod(full) * PACK_ELEMENT
        else:
            work = macs * DIRECT_MAC * precision
        return CALL + _parallel(work, out // 4096, threads)
    if name == "fft":
        return CALL + _parallel(3 * _fft_seconds(full) * precision, 1 + math.prod(full) // 65536, threads)
    if name == "oa":
        from .cpu.oaconv import block_plan
        if mode == "valid" and any(b > a for a, b in zip(shape1, shape2)):
            shape1, shape2 = shape2, shape1
        fft_shape, _, counts = block_plan(shape1, shape2)
        if math.prod(counts) == 1:
            return math.inf  # one block: the plain FFT without the overlap-add's extra passes
        size, batch = math.prod(fft_shape), math.prod(counts)
        # two transforms per block (and one of in2), then an overlap-add pass over the blocks per dim
        per_block = _fft_seconds(fft_shape) + (FFT_BLOCK if len(shape1) > 1 else 0.0)
        work = (2 * batch + 1) * per_block + 3 * len(shape1) * batch * size * PACK_ELEMENT
        return CALL + _parallel(work * precision, batch, threads)
    return math.inf


def cheapest(costs):
    """The name with the lowest estimated cost."""
    return min(costs, key=costs.get)


def _choose(key, estimate, run, wait=lambda: None):
    """The algorithm for `key`: measured (autotune), else timed now among the plausible candidates when
    autotune is on, else the cost model's pick (both remembered per key: the model costs tens of
    microseconds, a small conv not many more).

    estimate() -> {name: estimated cost}; run(name) runs that candidate and returns its result; wait()
    returns once what run started has finished (a device synchronisation for CUDA).
    Returns (name, its result or None when nothing ran yet).
    """
    if key in _winners:
        return _winners[key], None
    if not _autotune["on"] and key in _picks:
        return _picks[key], None
    costs = estimate()
    best = _picks[key] = cheapest(costs)
    if not _autotune["on"]:
        return best, None
    timings, results = {}, {}
    for name in (n for n, c in costs.items() if c <= AUTOTUNE_SPREAD * costs[best]):
        run(name)  # first call: compiles or warms caches, not timed
        wait()
        start = time.perf_counter()
        results[name] = run(name)
        wait()
        timings[name] = time.perf_counter() - start
    winner = min(timings, key=timings.get)
    _winners[key] = winner
    if _autotune["cache"] is not None:
        from . import tuning_cache
        tuning_cache.save(_autotune["cache"], _winners.copy())
    return winner, results[winner]


def chosen(op, geom, dtype, device="cpu"):
    """The conv algorithm 'auto' takes for this pass ('forward', 'grad_input' or 'grad_weight'), geometry and
    dtype at the current thread count, on finite inputs: what autotune measured, else the cost model's pick;
    None before 'auto' first ran that pass."""
    key = ("conv", op, geom, dtype.str, "cuda" if device == "cuda" else _threads())
    return _winners.get(key, _picks.get(key))


@functools.lru_cache(maxsize=None)
def spreads_nonfinite(device, name):
    """Whether a conv algorithm may answer a NaN or Inf input otherwise than the direct sums do: transforms
    (FFT, Winograd) mix every input of a plane or tile into each output, so one Inf can become NaN there, or
    everywhere. Such a module says so with SPREADS_NONFINITE = True."""
    return getattr(_lookup(CONV_ALGORITHMS, device, name, "conv algorithm"), "SPREADS_NONFINITE", False)


class _AutoConv:
    """A conv algorithm that picks the actual one per op and dtype on each call.

    On the CPU, an algorithm that spreads non-finite values runs only on finite inputs: otherwise the cheapest
    exact one does, so that 'auto' gives the reference's NaN and Inf whichever algorithm the shape favours
    (shapes.all_finite: one BLAS pass per input, only where the pick is such an algorithm).
    (CUDA's 'auto' ranks only its exact algorithms, the direct kernel and the GEMM.)
    """

    def __init__(self, device):
        self.device = device

    def _call(self, op, geom, dtype, *args):
        names = [name for name in CONV_ALGORITHMS[self.device] if name != "reference"]
        run = lambda name: getattr(_lookup(CONV_ALGORITHMS, self.device, name, "conv algorithm"), op)(*args, geom)
        if self.device == "cuda":
            from numba import cuda
            estimate = lambda: {name: cuda_conv_cost(name, op, geom) for name in names}
            name, result = _choose(("conv", op, geom, dtype.str, "cuda"), estimate, run, cuda.synchronize)
            return run(name) if result is None else result
        threads = _threads()
        estimate = lambda: {name: conv_cost(name, op, geom, dtype.itemsize, threads) for name in names}
        name, result = _choose(("conv", op, geom, dtype.str, threads), estimate, run)
        from . import shapes
        if spreads_nonfinite(self.device, name) and not all(a is None or shapes.all_finite(a) for a in args):
            costs = estimate()
            name = cheapest({n: c for n, c in costs.items() if not spreads_nonfinite(self.device, n)})
            result = None
        return run(name) if result is None else result

    def forward(self, x, w, bias, geom):
        return self._call("forward", geom, x.dtype, x, w, bias)

    def grad_input(self, grad_out, w, geom):
        return self._call("grad_input", geom, grad_out.dtype, grad_out, w)

    def grad_weight(self, x, grad_out, geom):
        return self._call("grad_weight", geom, x.dtype, x, grad_out)


class _AutoSignal:
    """A correlate/convolve method that picks the actual one per shapes, mode and dtype on each call (CPU).

    Inputs holding NaN or Inf always take the direct method, whose result keeps them where the plain sum
    of products puts them; the FFT would spread them over the whole result.
    """

    def __init__(self, device):
        self.device = device

    def _run(self, name, in1, in2, mode):
        return _lookup(SIGNAL_METHODS, self.device, name, "correlate/convolve method").convolve(in1, in2, mode)

    def pick(self, in1, in2, mode):
        """(the method for these arrays, its result when choosing it ran it, else None)."""
        threads = _threads()
        estimate = lambda: {name: signal_cost(name, in1.shape, in2.shape, mode, in1.dtype.itemsize, threads)
                            for name in SIGNAL_METHODS[self.device]}
        run = lambda name: self._run(name, in1, in2, mode)
        name, result = _choose(("signal", in1.shape, in2.shape, mode, in1.dtype.str, threads), estimate, run)
        from . import shapes
        if name != "direct" and not (shapes.all_finite(in1) and shapes.all_finite(in2)):
            return "direct", None
        return name, result

    def convolve(self, in1, in2, mode="full"):
        name, result = self.pick(in1, in2, mode)
        return self._run(name, in1, in2, mode) if result is None else result


def conv_algorithm(geom, device, algorithm="auto"):
    """The module (or, for 'auto', the per-call chooser) that computes a conv on this device."""
    if algorithm == "auto" and device in CONV_ALGORITHMS:
        return _AutoConv(device)
    return _lookup(CONV_ALGORITHMS, device, algorithm, "conv algorithm")


def pool_backend(device):
    if device not in POOL_BACKENDS:
        raise NotImplementedError(f"no pooling is implemented on device {device!r} yet")
    return importlib.import_module(POOL_BACKENDS[device])


def resample_backend(device):
    """The module of padding, interpolation and adaptive-pooling kernels for device."""
    if device not in RESAMPLE_BACKENDS:
        raise NotImplementedError(f"no resampling is implemented on device {device!r} yet")
    return importlib.import_module(RESAMPLE_BACKENDS[device])


def signal_method(shape1, shape2, mode, device, method="auto"):
    """SciPy's `method` for correlate/convolve: a name from SIGNAL_METHODS, or 'auto' by a cost model."""
    if method == "auto" and device == "cpu":
        return _AutoSignal(device)
    if method == "auto":
        full = math.prod(a + b - 1 for a, b in zip(shape1, shape2))
        out = math.prod(shape1) if mode == "same" else full if mode == "full" else \
            math.prod(abs(a - b) + 1 for a, b in zip(shape1, shape2))
        direct_cost = out * min(math.prod(shape1), math.prod(shape2))
        fft_cost = full * math.log2(max(full, 2))
        method = "direct" if direct_cost < DIRECT_TO_FFT_RATIO * fft_cost else "fft"
    return _lookup(SIGNAL_METHODS, device, method, "correlate/convolve method")
