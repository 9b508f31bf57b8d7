"""E.compile: trace a function of tensors once, then replay its forward and backward without building a graph.

    step = E.compile(lambda x, y: F.cross_entropy(model(x), y))
    loss = step(x, y)        # forward, then backward into the parameters' .grad, as loss.backward() would

The first call with a given input signature (shapes, dtypes, devices) runs the
function eagerly while recording every op it applies; that run is the call's
forward pass, and its backward runs through the recording. Later calls with the
same signature replay the recorded Functions on arrays: no Tensors, no nodes, no
topological sort. A new signature (say a smaller last batch) traces again.

Each plan holds the arrays its Functions saved at its last call (about one step's
activations), so a step keeps at most `max_plans` of them (8 by default, as
torch.compile's cache_size_limit), dropping the least recently used: a loop over
many batch sizes re-traces the ones it comes back to instead of holding one
step's memory per size. One Compiled runs one call at a time (a lock): its
Functions keep their saved arrays from forward to backward.

What the trace freezes: Python control flow and module modes (train/eval) as they
were when it was made, and any tensor the function makes from something other
than its inputs and the tensors it reads (parameters, buffers, constants are read
afresh at each call). Replay gives the eager path's numbers: the same Functions run
in the same order; the only change is that a ReLU right after a conv or linear
layer is applied in place on that layer's fresh output (bias + activation fused).
"""
import collections
import threading

import numpy as np

from . import buffers, graph
from . import functional as F
from . import tensor_ops as T
from .device import device_of
from .tensor import Tensor

# producers whose result is a fresh array they keep no reference to: a ReLU may overwrite it in place
_FUSABLE = (F.Conv, F.ConvTranspose, F.Linear)


class _ReLUAfter(graph.Function):
    """A conv or linear Function followed by ReLU, the ReLU done in place on the fresh output."""

    def __init__(self, inner, out=None):
        self.inner, self.out = inner, out
        self.needs_input_grad = inner.needs_input_grad

    def forward(self, *arrays):
        out = self.inner.forward(*arrays)
        self.out = device_of(out).xp.maximum(out, 0, out=out)
        return self.out

    def backward(self, grad):
        return self.inner.backward(device_of(grad).xp.relu_grad(grad, self.out))


class _Plan:
    """The recorded ops of one trace over numbered slots: inputs first, then leaves read at each call, then results."""

    def __init__(self, inputs, records, result):
        slot = {id(t): i for i, t in enumerate(inputs)}
        self.n_inputs = self.n_slots = len(inputs)
        self.leaves = []  # (slot, Tensor): parameters, buffers and constants the function read

        def new_slot(t):
            slot[id(t)], self.n_slots = self.n_slots, self.n_slots + 1
            return slot[id(t)]

        steps = []  # [fn, input slots, output slot, whether the output needs a gradient]
        for fn, args, out in records:
            for t in args:
                if id(t) not in slot:
                    self.leaves.append((new_slot(t), t))
            steps.append([fn, [slot[id(t)] for t in args], new_slot(out), out.requires_grad])
            fn.inputs = ()  # the trace's tensors are not needed any more
        if id(result) not in slot:
            raise ValueError("the compiled function must return a Tensor computed by engine ops from its inputs")
        self.result = slot[id(result)]
        self.result_requires_grad = result.requires_grad
        self.steps = self._fuse(steps)
        self.backward_steps = [s for s in reversed(self.steps) if s[3]]
        self.grad_leaves = {s: t for s, t in self.leaves if t.requires_grad}
        self.grad_inputs = {i for i, t in enumerate(inputs) if t.requires_grad}

    def _fuse(self, steps):
        """Merge each ReLU into the conv / linear step that feeds it, when nothing else reads that step's result."""
        readers = {}
        for step in steps:
            for s in step[1]:
                readers[s] = readers.get(s, 0) + 1
        producer = {step[2]: step for step in steps}
        fused = []
        for step in steps:
            fn, ins = step[0], step[1]
            source = producer.get(ins[0]) if isinstance(fn, T.ReLU) else None
            if (source is not None and isinstance(source[0], _FUSABLE) and readers[ins[0]] == 1
                    and ins[0] != self.result):
                source[0] = _ReLUAfter(source[0], fn.out)
                source[2] = step[2]
                continue
            fused.append(step)
        return fused

    def forward(self, arrays):
        values = [None] * self.n_slots
        values[:self.n_inputs] = arrays
        for s, t in self.leaves:
            values[s] = t.data
        for fn, ins, out, _ in self.steps:
            values[out] = fn.forward(*[values[s] for s in ins])
        return values[self.result]

    def backward(self, grad, inputs):
        grads = [None] * self.n_slots
        grads[self.result] = grad
        for fn, ins, out, _ in self.backward_steps:
            grad_out, grads[out] = grads[out], None
            if grad_out is None:
                continue
            for s, g in zip(ins, fn.backward(grad_out)):
                if g is None:
                    continue
                if isinstance(g, np.generic):
                    g = np.asarray(g)
                if s in self.grad_leaves:
                    self.grad_leaves[s]._accumulate_grad(g)
                elif s in self.grad_inputs:
                    inputs[s]._accumulate_grad(g)
                elif s >= self.n_inputs:
                    grads[s] = g if grads[s] is None else grads[s] + g


def _signature(tensors):
    return tuple((t.shape, t.dtype, t.device, t.requires_grad) for t in tensors)


class Compiled:
    """fn traced per input signature, keeping the `max_plans` most recently used traces; call it for
    forward + backward, or .forward() for the result alone."""

    def __init__(self, fn, retrace=True, max_plans=8):
        if isinstance(max_plans, bool) or not isinstance(max_plans, int) or max_plans < 1:
            raise ValueError(f"max_plans must be a positive int, got {max_plans!r}")
        self.fn, self.retrace, self.max_plans = fn, retrace, max_plans
        self.plans = collections.OrderedDict()  # signature -> _Plan, least recently used first
        self._lock = threading.RLock()  # re-entrant: fn may call this step while it is traced

    def _plan(self, inputs):
        """(plan, result array, traced now): the recording for these inputs' signature, made on first sight."""
        key = _signature(inputs)
        plan = self.plans.get(key)
        if plan is not None:
            self.plans.move_to_end(key)
            return plan, None, False
        if self.plans and not self.retrace:
            raise ValueError(f"inputs {[t.shape for t in inputs]} differ from the traced "
                             f"{[[s[0] for s in k] for k in self.plans]} and retrace=False")
        records = []
        with graph.recording(lambda fn, args, out: records.append((fn, args, out))):
            result = self.fn(*inputs)
        if not isinstance(result, Tensor):
            raise TypeError(f"the compiled function must return a Tensor, got {type(result).__name__}")
        plan = self.plans[key] = _Plan(inputs, records, result)
        if len(self.plans) > self.max_plans:
            self.plans.popitem(last=False)
        return plan, result.data, True

    def _run(self, inputs):
        plan, result, traced = self._plan(inputs)
        return (result if traced else buffers.run(plan.forward, [t.data for t in inputs])), plan

    def forward(self, *inputs):
        """The function's result for these inputs (no backward)."""
        with self._lock:
            return Tensor(self._run([t if isinstance(t, Tensor) else Tensor(t) for t in inputs])[0])

    def __call__(self, *inputs):
        """Forward, then (when the result needs a gradient) backward into every leaf's .grad; returns the result."""
        inputs = [t if isinstance(t, Tensor) else Tensor(t) for t in inputs]
        with self._lock:
            result, plan = self._run(inputs)
            out = Tensor(result)
            if plan.result_requires_grad:
                if out.data.size != 1:
                    raise RuntimeError(f"a compiled training step needs a scalar result, got shape {out.shape}; "
                                       "use .forward() for other results")
                buffers.run(plan.backward, device_of(out.data).xp.ones(out.data.shape, out.dtype), inputs)
        return out


def compile(fn, retrace=True, max_plans=8):
    """Trace `fn(*tensors) -> Tensor` at its first call (and at each new input signature unless retrace=False),
    keeping the traces of the `max_plans` most recently used input signatures."""
    return Compiled(fn, retrace, max_plans)
