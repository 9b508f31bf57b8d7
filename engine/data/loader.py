"""DataLoader: batches (and per-epoch shuffles) of equal-length NumPy arrays, as Tensors."""
import math

import numpy as np

from ..device import get_device
from ..random import generator_or_default
from ..tensor import Tensor


class DataLoader:
    """Iterate over (arrays[0][batch], arrays[1][batch], ...) as Tensors on `device`.

    shuffle draws a fresh order every epoch from `generator` (or the default one,
    so E.manual_seed makes it repeatable); drop_last skips a final short batch.
    sampler, instead of shuffle: an iterable of example indices with a len(), read
    afresh every epoch (engine.distributed.DistributedSampler: this rank's share).
    """

    def __init__(self, *arrays, batch_size=64, shuffle=False, drop_last=False, generator=None, device="cpu",
                 sampler=None):
        if not arrays:
            raise ValueError("DataLoader needs at least one array")
        self.arrays = [np.asarray(a) for a in arrays]
        lengths = {len(a) for a in self.arrays}
        if len(lengths) != 1 or 0 in lengths:
            raise ValueError(f"DataLoader needs non-empty arrays of one length, got lengths {[len(a) for a in self.arrays]}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if sampler is not None and shuffle:
            raise ValueError("sampler and shuffle=True exclude each other: the sampler sets the order")
        self.length = lengths.pop() if sampler is None else len(sampler)
        self.sampler = sampler
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.generator = generator
        self.device = get_device(device)

    def __len__(self):
        batches = self.length / self.batch_size
        return math.floor(batches) if self.drop_last else math.ceil(batches)

    def __iter__(self):
        order = generator_or_default(self.generator).permutation(self.length) if self.shuffle else None
        if self.sampler is not None:
            order = np.fromiter(self.sampler, np.int64, self.length)
        for b in range(len(self)):
            rows = slice(b * self.batch_size, (b + 1) * self.batch_size)
            picked = rows if order is None else order[rows]
            yield tuple(Tensor(self.device.from_host(np.ascontiguousarray(a[picked]))) for a in self.arrays)
