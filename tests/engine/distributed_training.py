"""A few steps of data-parallel training, run by tests/engine/test_distributed.py on one process or under mpiexec.

    mpiexec -n 2 python -m tests.engine.distributed_training OUT.npz   # ranks share each global batch
    train(world_size=1)                                                 # one process, the whole batch

Both train the same small float64 CNN from the same initial weights on the same order of examples
(DistributedSampler with one seed) with global batch GLOBAL_BATCH, so their parameters must agree.
"""
import sys

import numpy as np

import engine as E
import engine.distributed  # noqa: F401  (E.distributed)
from engine import nn

GLOBAL_BATCH, EXAMPLES, EPOCHS = 12, 36, 2


def data():
    rng = np.random.default_rng(7)
    return rng.standard_normal((EXAMPLES, 2, 7, 7)), rng.integers(0, 3, EXAMPLES)


def make_model():
    E.manual_seed(3)
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(4 * 3 * 3, 3)).to(np.float64)


def train(world_size=1, rank=0, wrap=lambda model: model):
    """Train and return the model; wrap(model) gives the model the steps run through (DDP under MPI)."""
    x, y = data()
    model = wrap(make_model())
    optimizer = E.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    sampler = E.distributed.DistributedSampler(x, num_replicas=world_size, rank=rank, shuffle=True, seed=5)
    loader = E.data.DataLoader(x, y, batch_size=GLOBAL_BATCH // world_size, sampler=sampler)
    for epoch in range(EPOCHS):
        sampler.set_epoch(epoch)
        for xb, yb in loader:
            loss = E.functional.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            if hasattr(model, "average_gradients"):
                model.average_gradients()
            optimizer.step()
    return model


def batch_norm_after_two_forwards(dist, rank):
    """Running statistics after a forward on this rank's own data, then one on data all ranks share: the same
    on every rank only if the second forward started from rank 0's statistics (DDP's buffer broadcast)."""
    model = dist.DistributedDataParallel(nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3)).to(np.float64))
    model(E.tensor(np.random.default_rng(rank).standard_normal((4, 2, 5, 5))))
    model(E.tensor(np.random.default_rng(99).standard_normal((4, 2, 5, 5))))
    return {f"bn.{name}": value for name, value in model.module.state_dict().items() if "running" in name}


def main(path):
    dist = E.distributed
    comm = dist.world()
    ddp = train(comm.Get_size(), comm.Get_rank(), dist.DistributedDataParallel)
    state = {**ddp.module.state_dict(), **batch_norm_after_two_forwards(dist, comm.Get_rank())}
    gathered = {name: np.empty((comm.Get_size(),) + value.shape) for name, value in state.items()}
    for name, value in state.items():
        comm.Allgather(value, gathered[name])  # every rank's copy, to check that they stayed identical
    dist.save({**{f"rank{r}.{n}": g[r] for n, g in gathered.items() for r in range(comm.Get_size())}}, path)


if __name__ == "__main__":
    main(sys.argv[1])
