"""DataLoader: batches (and per-epoch shuffles) of a dataset, or of equal-length NumPy arrays, as Tensors."""
import math

import numpy as np

from ..device import get_device
from ..random import generator_or_default
from ..tensor import Tensor
from .dataset import Subset, TensorDataset


def _fields(dataset):
    """The arrays behind a TensorDataset (or a Subset of one) and the row indices of its items, else None:
    their batches are sliced from the arrays at once instead of stacked item by item."""
    if isinstance(dataset, TensorDataset):
        return dataset.arrays, None
    if isinstance(dataset, Subset):
        inner = _fields(dataset.dataset)
        if inner is not None:
            arrays, rows = inner
            return arrays, dataset.indices if rows is None else rows[dataset.indices]
    return None


def _dataset_device(dataset):
    """A Subset's (of a Subset's ...) TensorDataset's device, else 'cpu'."""
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return getattr(dataset, "device", "cpu")


def _collate(items):
    """Stack a batch of items: tuples field by field, Tensors and arrays and numbers into one array each."""
    first = items[0]
    if isinstance(first, (tuple, list)):
        return [np.stack([np.asarray(item[i].numpy() if isinstance(item[i], Tensor) else item[i]) for item in items])
                for i in range(len(first))], True
    return [np.stack([np.asarray(item.numpy() if isinstance(item, Tensor) else item) for item in items])], False


class DataLoader:
    """Iterate over batches of `dataset` as Tensors on `device`, PyTorch's arguments.

    DataLoader(dataset, batch_size=1, shuffle=False, drop_last=False) takes any object with __len__ and
    __getitem__ (items: arrays, numbers, Tensors, or tuples of them) and yields the items stacked, a tuple
    per batch for tuple items. DataLoader(x, y, ..., batch_size=64) batches equal-length arrays directly
    (as TensorDataset(x, y, ...) would). device: where the batches go; by default a TensorDataset's (the device
    of the Tensors it was made from), else the CPU. shuffle draws a fresh order every epoch from `generator` (or the
    default one, so E.manual_seed makes it repeatable); drop_last skips a final short batch. sampler, instead of
    shuffle: an iterable of example indices with a len(), read afresh every epoch
    (engine.distributed.DistributedSampler: this rank's share).
    """

    def __init__(self, *data, batch_size=None, shuffle=False, drop_last=False, generator=None, device=None,
                 sampler=None):
        if not data:
            raise ValueError("DataLoader needs a dataset or at least one array")
        is_dataset = len(data) == 1 and hasattr(data[0], "__getitem__") and not isinstance(data[0], (np.ndarray, Tensor, list))
        self.dataset = data[0] if is_dataset else TensorDataset(*data)
        if batch_size is None:
            batch_size = 1 if is_dataset else 64
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.length = len(self.dataset)
        if self.length == 0:
            raise ValueError("DataLoader got an empty dataset")
        if sampler is not None and shuffle:
            raise ValueError("sampler and shuffle=True exclude each other: the sampler sets the order")
        self.sampler = sampler
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.generator = generator
        self.device = get_device(device or _dataset_device(self.dataset))
        self._fields = _fields(self.dataset)

    def __len__(self):
        batches = (self.length if self.sampler is None else len(self.sampler)) / self.batch_size
        return math.floor(batches) if self.drop_last else math.ceil(batches)

    def _batch(self, picked):
        if self._fields is not None:
            arrays, rows = self._fields
            at = picked if rows is None else rows[picked]
            return [a[at] for a in arrays], True
        return _collate([self.dataset[int(i)] for i in np.arange(self.length)[picked]])

    def __iter__(self):
        order = generator_or_default(self.generator).permutation(self.length) if self.shuffle else None
        if self.sampler is not None:
            order = np.fromiter(self.sampler, np.int64, len(self.sampler))
        for b in range(len(self)):
            rows = slice(b * self.batch_size, (b + 1) * self.batch_size)
            arrays, as_tuple = self._batch(rows if order is None else order[rows])
            tensors = tuple(Tensor(self.device.from_host(np.ascontiguousarray(a))) for a in arrays)
            yield tensors if as_tuple else tensors[0]
