"""Data-parallel training over MPI ranks, in the spirit of PyTorch's DistributedDataParallel.

Each rank holds a full copy of the model and trains on its own shard of every batch;
after backward the gradients are averaged over the ranks with one MPI Allreduce of a
flat buffer per dtype, so every rank takes the same optimizer step and the copies stay
identical. With equal shards (global batch B, B / world_size per rank) the average of
the per-rank mean losses is the mean loss over the global batch: N ranks reach the
parameters one process reaches with batch B. BatchNorm is the exception (its batch
statistics are per shard; its running buffers are broadcast from rank 0 at every training forward).

    import engine as E, engine.distributed
    model = E.distributed.DistributedDataParallel(make_model())       # broadcasts rank 0's state
    sampler = E.distributed.DistributedSampler(x_train, shuffle=True, seed=0)
    loader = E.data.DataLoader(x_train, y_train, batch_size=B // E.distributed.get_world_size(), sampler=sampler)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        for xb, yb in loader:
            loss = E.functional.cross_entropy(model(xb), yb)
            optimizer.zero_grad(); loss.backward(); model.average_gradients(); optimizer.step()
    E.distributed.save(model.module.state_dict(), "model.npz")         # written by rank 0

Run with `mpiexec -n 2 python train.py`. Needs mpi4py (pip install -e ".[mpi]") and an MPI
library (Debian: apt-get install openmpi-bin libopenmpi-dev); `import engine` does not import it.
"""
import numpy as np

from .device import device_of
from .nn.module import Module
from .serialize import save as _save_local
from .tensor import Tensor


def world():
    """MPI.COMM_WORLD: every process mpiexec started (a single rank without mpiexec)."""
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError('engine.distributed needs mpi4py: pip install -e ".[mpi]" (and an MPI library, '
                          'e.g. apt-get install openmpi-bin libopenmpi-dev)') from error
    return MPI.COMM_WORLD


def get_rank(comm=None):
    return (comm or world()).Get_rank()


def get_world_size(comm=None):
    return (comm or world()).Get_size()


def average(arrays, comm=None):
    """Average NumPy arrays over the ranks, in place: one Allreduce of one flat buffer per dtype."""
    comm = comm or world()
    if comm.Get_size() == 1:
        return
    from mpi4py import MPI
    for flat, group in _flat_by_dtype(arrays):
        comm.Allreduce(MPI.IN_PLACE, flat, op=MPI.SUM)
        flat /= comm.Get_size()
        _unflatten(flat, group)


def broadcast(arrays, root=0, comm=None):
    """Overwrite NumPy arrays with root's, in place: one Bcast of one flat buffer per dtype."""
    comm = comm or world()
    if comm.Get_size() == 1:
        return
    for flat, group in _flat_by_dtype(arrays):
        comm.Bcast(flat, root=root)
        _unflatten(flat, group)


def _flat_by_dtype(arrays):
    """(one flat copy, the arrays in it) per dtype, in the order the dtypes first appear: the same on every rank,
    which a set's order (from hashes that vary between processes) would not be."""
    for dtype in dict.fromkeys(a.dtype for a in arrays):
        group = [a for a in arrays if a.dtype == dtype]
        yield np.concatenate([a.ravel() for a in group]), group


def _unflatten(flat, arrays):
    offset = 0
    for a in arrays:
        a[...] = flat[offset:offset + a.size].reshape(a.shape)
        offset += a.size


def _on_host(tensors, operation, comm):
    """operation(arrays, comm=comm) over the tensors' arrays in place, through host copies for those on a GPU."""
    devices = [device_of(t.data) for t in tensors]
    hosts = [t.data if d.name == "cpu" else d.to_host(t.data) for t, d in zip(tensors, devices)]
    operation(hosts, comm=comm)
    for t, d, h in zip(tensors, devices, hosts):
        if d.name != "cpu":
            d.xp.copyto(t.data, d.from_host(h))


class DistributedDataParallel(Module):
    """Wrap a module for data-parallel training: rank 0's parameters and buffers are broadcast at construction
    (so every rank starts from the same model) and its buffers again at every forward in training mode
    (all ranks must call it then, as they do in a training step); average_gradients(),
    called between backward and the optimizer's step, averages the gradients over the ranks.

    state_dict() names carry the prefix 'module.', as PyTorch's; save module.state_dict() for a plain model.
    """

    def __init__(self, module, comm=None):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps a Module, got {type(module).__name__}")
        self.module = module
        object.__setattr__(self, "comm", comm or world())
        state = [t for _, t in module._named_state()]
        if state:
            _on_host(state, broadcast, comm=self.comm)

    def forward(self, *inputs, **kwargs):
        own_buffers = list(self.module.buffers())
        if own_buffers and self.training and self.comm.Get_size() > 1:
            # every rank must take part: evaluate on one rank alone in eval mode (no broadcast), or through .module
            _on_host(own_buffers, broadcast, comm=self.comm)
        return self.module(*inputs, **kwargs)

    def average_gradients(self):
        """Replace every parameter's gradient by its mean over the ranks. A parameter without a gradient on
        this rank takes part with zeros (the ranks must agree on the buffer's layout) and gets the mean."""
        params = list(self.module.parameters())
        for p in params:
            if p.grad is None:
                p.grad = Tensor(device_of(p.data).xp.zeros_like(p.data))
        _on_host([p.grad for p in params], average, comm=self.comm)


class DistributedSampler:
    """Which examples this rank reads, like PyTorch's DistributedSampler: one order for all ranks (a permutation
    drawn from seed + epoch when shuffle, else 0..n-1), made divisible by the number of ranks (repeating its
    first indices, or dropping its tail with drop_last), and every num_replicas-th index from `rank` on.

    Batching these with batch_size B / num_replicas gives each rank its share of the global batch of B that a
    single process with DistributedSampler(data, num_replicas=1) and batch_size B reads. Call set_epoch(epoch)
    at every epoch for a fresh order.
    """

    def __init__(self, data, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        self.length = data if isinstance(data, (int, np.integer)) else len(data)
        self.num_replicas = get_world_size() if num_replicas is None else num_replicas
        self.rank = get_rank() if rank is None else rank
        if not isinstance(self.num_replicas, (int, np.integer)) or self.num_replicas < 1:
            raise ValueError(f"num_replicas must be a positive int, got {self.num_replicas!r}")
        if not isinstance(self.rank, (int, np.integer)) or not 0 <= self.rank < self.num_replicas:
            raise ValueError(f"rank must be in [0, {self.num_replicas}), got {self.rank!r}")
        if self.length < 1 or (drop_last and self.length < self.num_replicas):
            raise ValueError(f"{self.length} examples cannot be shared among {self.num_replicas} ranks")
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, seed, drop_last, 0
        shares = self.length / self.num_replicas
        self.num_samples = int(np.floor(shares) if drop_last else np.ceil(shares))

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return self.num_samples

    def __iter__(self):
        order = (np.random.default_rng(self.seed + self.epoch).permutation(self.length) if self.shuffle
                 else np.arange(self.length))
        total = self.num_samples * self.num_replicas
        order = np.resize(order, total)  # drop_last: the tail cut; otherwise the first indices repeated
        return iter(order[self.rank::self.num_replicas].tolist())


def save(state_dict, path, comm=None):
    """engine.save on rank 0 only, then every rank waits for the file to be complete (a checkpoint)."""
    comm = comm or world()
    if comm.Get_rank() == 0:
        _save_local(state_dict, path)
    comm.Barrier()
