"""Whole training state (model, optimizer, scheduler, epoch, ...) in E.save's pickle-free format.

    E.save_checkpoint({"model": model.state_dict(), "optimizer": opt.state_dict(),
                       "scheduler": scheduler.state_dict(), "epoch": epoch}, "run.npz")
    state = E.load_checkpoint("run.npz"); model.load_state_dict(state["model"]); ...

Nested dicts and lists are flattened to one {key: array} archive: a path of keys joined by "/", where an
int dict key is written "#3" and a list position "@3", so loading rebuilds the same structure (ints stay
ints, lists stay lists). Leaves are arrays, Tensors, numbers and bools (0-d arrays come back as Python
numbers), and lists or tuples of numbers (stored as one array, back as a list).
"""
import numpy as np

from .serialize import load, save
from .tensor import Tensor

SEPARATOR = "/"


def _is_numbers(value):
    return isinstance(value, (list, tuple)) and value and all(
        isinstance(v, (int, float, bool, np.number, np.bool_)) for v in value)


def flatten(state, prefix=""):
    """{path: array} of a nested dict / list whose leaves are arrays, Tensors, numbers or lists of numbers."""
    flat = {}
    if isinstance(state, dict):
        items = []
        for key, value in state.items():
            if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
                items.append((f"#{int(key)}", value))
            elif isinstance(key, str) and key and SEPARATOR not in key and key[0] not in "#@":
                items.append((key, value))
            else:
                raise ValueError(f"checkpoint keys must be ints or non-empty strings without {SEPARATOR!r} that do "
                                 f"not start with '#' or '@'; got {key!r} under {prefix or 'the top'!r}")
    elif isinstance(state, (list, tuple)) and not _is_numbers(state):
        items = [(f"@{i}", value) for i, value in enumerate(state)]
    else:
        if isinstance(state, Tensor):
            state = state.numpy()
        array = np.asarray(state)
        if array.dtype.kind not in "fiub":
            raise TypeError(f"{prefix}: a checkpoint holds arrays, numbers and lists of them, got "
                            f"{type(state).__name__}")
        return {prefix: array if isinstance(state, np.ndarray) else _Leaf(array, isinstance(state, (list, tuple)))}
    if not items:
        raise ValueError(f"{prefix or 'the checkpoint'}: empty dicts and lists cannot be stored")
    for key, value in items:
        flat.update(flatten(value, f"{prefix}{SEPARATOR}{key}" if prefix else key))
    return flat


class _Leaf(np.ndarray):
    """Marks a stored number (0-d) or list of numbers, which loading gives back as Python values."""

    def __new__(cls, array, is_list):
        leaf = np.asarray(array).view(cls)
        leaf.is_list = is_list
        return leaf


def _marker(path, leaf):
    return f"{path}{SEPARATOR}{'@list' if leaf.is_list else '@number'}"


def unflatten(flat):
    """The nested structure that flatten() made (after E.load: paths of '/'-joined keys)."""
    root = {}
    for path, value in flat.items():
        parts = path.split(SEPARATOR)
        if parts[-1] in ("@list", "@number"):
            value = value.tolist() if parts[-1] == "@list" else value.item()
            parts = parts[:-1]
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _restore(root)


def _restore(node):
    if not isinstance(node, dict):
        return node
    keys = list(node)
    if keys and all(k.startswith("@") for k in keys):
        return [_restore(node[f"@{i}"]) for i in range(len(keys))]
    return {int(k[1:]) if k.startswith("#") else k: _restore(v) for k, v in node.items()}


def save_checkpoint(state, path):
    """Write a nested dict of state_dicts and numbers to `path` (.npz, never pickled)."""
    flat = flatten(state)
    save({_marker(k, v) if isinstance(v, _Leaf) else k: np.asarray(v) for k, v in flat.items()}, path)


def load_checkpoint(path):
    """Read a file written by save_checkpoint: the nested dict, NumPy arrays at its leaves."""
    return unflatten(load(path))
