"""Datasets as in torch.utils.data: TensorDataset over equal-length arrays, Subset, random_split."""
import math

import numpy as np

from ..random import generator_or_default
from ..tensor import Tensor


class TensorDataset:
    """Item i is (arrays[0][i], arrays[1][i], ...); arrays are NumPy arrays or Tensors of one length, kept on the
    host. device: the first Tensor's, where a DataLoader puts the batches unless told otherwise."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one array")
        self.device = next((t.device for t in tensors if isinstance(t, Tensor)), "cpu")
        self.arrays = [t.numpy() if isinstance(t, Tensor) else np.asarray(t) for t in tensors]
        lengths = [len(a) for a in self.arrays]
        if len(set(lengths)) != 1:
            raise ValueError(f"TensorDataset needs arrays of one length, got lengths {lengths}")

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)


class Subset:
    """The items of `dataset` at `indices`, in that order."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, np.asarray(indices, np.int64)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        return self.dataset[self.indices[index]]


def random_split(dataset, lengths, generator=None):
    """Subsets of `dataset` with the given lengths (counts summing to len(dataset), or fractions summing to 1,
    whose remainders go one each to the first subsets, as in PyTorch), over one random permutation."""
    n = len(dataset)
    lengths = list(lengths)
    if all(isinstance(x, float) for x in lengths) and math.isclose(sum(lengths), 1.0):
        counts = [math.floor(n * f) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if any(not isinstance(x, (int, np.integer)) or x < 0 for x in lengths) or sum(lengths) != n:
        raise ValueError(f"random_split lengths must be counts summing to {n} or fractions summing to 1, got {lengths}")
    order = generator_or_default(generator).permutation(n)
    bounds = np.cumsum([0] + lengths)
    return [Subset(dataset, order[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:])]
