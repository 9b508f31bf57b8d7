"""The autograd graph: Function nodes, grad mode, and the reverse-mode walk.

A differentiable op is a Function subclass with forward(*arrays) -> array and
backward(grad_out) -> one gradient (or None) per input, side by side. Calling
`engine.tensor.apply(fn, *tensors)` runs forward on the tensors' arrays; when a
gradient is wanted, the result records fn as its node, which keeps the input tensors and
whatever forward saved on fn. `backward` visits each node once, in reverse
topological order, and frees what each node saved once it has been used.

Grad mode and the recorder belong to the thread, as in PyTorch: no_grad() in one
thread leaves another's training alone, and a trace records only its own thread's
ops. Every thread starts with gradients enabled and no recorder.
"""
import contextlib
import threading

import numpy as np

from .device import device_of


class _ThreadState(threading.local):
    """This thread's grad mode and recorder; __init__ runs once in each thread that reads them."""

    def __init__(self):
        self.grad_enabled = True
        self.recorder = None
        # the modes no_grad blocks replaced, innermost last: one no_grad object may be entered by several
        # threads at once (a decorated function), so what it restores cannot live on the object
        self.saved_grad_modes = []


_state = _ThreadState()


def is_grad_enabled():
    return _state.grad_enabled


class no_grad(contextlib.ContextDecorator):
    """Context manager and decorator: ops inside record no graph in this thread (evaluation, optimizer steps)."""

    def __enter__(self):
        _state.saved_grad_modes.append(_state.grad_enabled)
        _state.grad_enabled = False

    def __exit__(self, *exc):
        _state.grad_enabled = _state.saved_grad_modes.pop()


@contextlib.contextmanager
def recording(recorder):
    """Let `recorder(fn, inputs, output)` see every op this thread applies inside (engine.trace records a step
    this way)."""
    previous, _state.recorder = _state.recorder, recorder
    try:
        yield
    finally:
        _state.recorder = previous


class Function:
    """One op in the graph. Subclasses set their parameters in __init__ and implement forward/backward.

    forward(*arrays) may store on self what backward needs; backward(grad_out)
    returns a tuple with one entry per input: its gradient (shaped like the
    input) or None. self.needs_input_grad tells backward which ones are wanted.
    """
    needs_input_grad = ()
    inputs = ()

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, grad_out):
        raise NotImplementedError

    def release(self):
        """Drop the inputs and the saved arrays: this node has been differentiated."""
        self.__dict__.clear()
        self.released = True

    released = False


def _topological_order(root):
    """Nodes reachable from `root`, each after every node it feeds (iterative DFS: deep graphs are fine)."""
    order, visited = [], {id(root)}
    stack = [(root, iter(root.inputs))]
    while stack:
        node, pending = stack[-1]
        for tensor in pending:
            child = tensor._node
            if child is not None and id(child) not in visited:
                if child.released:
                    raise RuntimeError("backward through a graph that was already differentiated and freed; "
                                       "pass retain_graph=True to the first backward to keep it")
                visited.add(id(child))
                stack.append((child, iter(child.inputs)))
                break
        else:
            stack.pop()
            order.append(node)
    return order[::-1]


def _accumulate(store, key, grad):
    previous = store.get(key)
    store[key] = grad if previous is None else device_of(grad).xp.add(previous, grad)


def backward(tensor, grad, retain_graph=False):
    """Propagate `grad` (shaped like tensor) to every leaf that requires a gradient, adding into leaf.grad."""
    root = tensor._node
    if root.released:
        raise RuntimeError("backward through a graph that was already differentiated and freed; "
                           "pass retain_graph=True to the first backward to keep it")
    grads = {id(root): grad}
    for node in _topological_order(root):
        grad_out = grads.pop(id(node), None)
        if grad_out is None:
            continue
        for t, g in zip(node.inputs, node.backward(grad_out)):
            if g is None or not t.requires_grad:
                continue
            if isinstance(g, np.generic):  # NumPy arithmetic on 0-d arrays returns scalars
                g = np.asarray(g)
            if t._node is not None:
                _accumulate(grads, id(t._node), g)
            else:
                t._accumulate_grad(g)
        if not retain_graph:
            node.release()
