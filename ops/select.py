"""Which algorithm computes an op for a given shape and device: the only place that chooses.

Algorithms are modules, imported on first use so that `import ops` stays cheap:
- conv algorithms expose forward(x, w, bias, geom), grad_input(grad_out, w, geom),
  grad_weight(x, grad_out, geom), over an ops.shapes.ConvGeometry; on the CPU also
  supports(geom, dtype, op) and cost(op, geom, itemsize, threads), its estimated seconds
  (in the units of ops.cpu.cost_model);
- pool backends expose the functions of ops.reference.pool;
- signal methods expose convolve(in1, in2, mode) with SciPy's semantics; on the CPU also
  cost(shape1, shape2, mode, itemsize, threads).

A name of CONV_FAMILIES (the CPU's "direct") runs, per pass, the first of its algorithms that supports it.
algorithm="auto" (and, on the CPU, method="auto") returns a chooser with the
same interface that picks, at each call, the algorithm for that op, geometry,
dtype and thread count: the cheapest by the modules' cost() among those that support it
(on CUDA, a rule ranking the GEMM against the direct kernel), or, after autotune(True), the
fastest of the plausible candidates timed once on the call's own arrays (like
cuDNN's benchmark mode), remembered per key.
"""
import functools
import importlib
import math
import time

CONV_ALGORITHMS = {
    "cpu": {"reference": "ops.reference.conv", "gemm": "ops.cpu.gemm", "direct": "ops.cpu.direct",
            "implicit": "ops.cpu.implicit", "depthwise": "ops.cpu.depthwise", "fft": "ops.cpu.fftconv",
            "winograd": "ops.cpu.winograd"},
    "cuda": {"direct": "ops.cuda.direct", "gemm": "ops.cuda.gemm", "fft": "ops.cuda.fftconv"},
}
# A forced name that stands for several algorithms: each pass runs the first of them whose supports() holds
# (the direct convolution on the native kernels where they run, else on the Numba ones).
CONV_FAMILIES = {"cpu": {"direct": ("depthwise", "implicit", "direct")}}
POOL_BACKENDS = {"cpu": "ops.cpu.pool", "cuda": "ops.cuda.pool"}
RESAMPLE_BACKENDS = {"cpu": "ops.cpu.resample", "cuda": "ops.cuda.resample"}
SIGNAL_METHODS = {
    "cpu": {"direct": "ops.cpu.signal", "fft": "ops.cpu.fft", "oa": "ops.cpu.oaconv"},
    "cuda": {"direct": "ops.cuda.signal", "fft": "ops.cuda.fft"},
}

# Direct correlation wins while its multiply-adds stay below this many times the
# FFT's n log2 n; measured on 512x512 images against 3x3 ... 31x31 kernels.
DIRECT_TO_FFT_RATIO = 4.0

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


def cuda_conv_cost(name, op, geom):
    """A CUDA conv algorithm's rank for this pass (1 best, 2 next; fft only when asked by name): see
    CUDA_GEMM_MIN_DEPTH."""
    summed, shared = geom.in_channels // geom.groups, geom.out_channels // geom.groups
    if op == "grad_input":
        summed, shared = shared, summed
    deep = summed * math.prod(geom.kernel) >= CUDA_GEMM_MIN_DEPTH and shared >= CUDA_GEMM_MIN_FILTERS
    return {"gemm": 1.0 if deep else 2.0, "direct": 2.0 if deep else 1.0}.get(name, math.inf)


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


class _Family:
    """A conv algorithm named in CONV_FAMILIES: each pass runs the first of its members that supports it."""

    def __init__(self, device, names):
        self.device, self.names = device, names

    def _member(self, op, geom, dtype):
        for name in self.names:
            module = _lookup(CONV_ALGORITHMS, self.device, name, "conv algorithm")
            if module.supports(geom, dtype, op):
                return module
        raise NotImplementedError(f"none of {self.names} computes the {op} of {geom} in {dtype}")

    def forward(self, x, w, bias, geom):
        return self._member("forward", geom, x.dtype).forward(x, w, bias, geom)

    def grad_input(self, grad_out, w, geom):
        return self._member("grad_input", geom, grad_out.dtype).grad_input(grad_out, w, geom)

    def grad_weight(self, x, grad_out, geom):
        return self._member("grad_weight", geom, x.dtype).grad_weight(x, grad_out, geom)


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
        modules = lambda: {name: _lookup(CONV_ALGORITHMS, self.device, name, "conv algorithm") for name in names}
        estimate = lambda: {name: module.cost(op, geom, dtype.itemsize, threads)
                            for name, module in modules().items() if module.supports(geom, dtype, op)}
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
        estimate = lambda: {name: _lookup(SIGNAL_METHODS, self.device, name, "correlate/convolve method").cost(
            in1.shape, in2.shape, mode, in1.dtype.itemsize, threads) for name in SIGNAL_METHODS[self.device]}
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
    """The module (or, for 'auto' and the CONV_FAMILIES, the per-call chooser) that computes a conv on this device."""
    if algorithm == "auto" and device in CONV_ALGORITHMS:
        return _AutoConv(device)
    if algorithm in CONV_FAMILIES.get(device, ()):
        return _Family(device, CONV_FAMILIES[device][algorithm])
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
