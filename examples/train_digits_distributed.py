"""Train train_digits.py's CNN data-parallel over MPI ranks: each rank takes its share of every batch.

Every rank builds the same model (DistributedDataParallel broadcasts rank 0's weights), reads
its share of each global batch through a DistributedSampler, and averages the gradients with
the other ranks (one MPI Allreduce per step) before the optimizer's step, so the copies stay
identical: N ranks with a global batch of B take the steps one process takes with batch B.
Rank 0 prints one line per epoch with the mean step time, writes the checkpoint
(train_digits_distributed.npz) and the curves (train_digits_distributed.png).

Run: mpiexec -n 2 python examples/train_digits_distributed.py [--epochs N] [--batch B] [--seed S] [--threads T] [--out DIR]
(as root: mpiexec --allow-run-as-root; more ranks than cores: --oversubscribe). Needs mpi4py and an
MPI library (pip install -e ".[mpi,examples]"; Debian: apt-get install openmpi-bin libopenmpi-dev).
"""
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
from train_digits import make_model  # noqa: E402

import engine as E  # noqa: E402
import engine.distributed as dist  # noqa: E402


def train(model, optimizer, train_set, test_set, epochs, global_batch, seed, rank, ranks):
    """The epoch loop of _common.train, on this rank's share of every batch; returns the history on every rank."""
    sampler = dist.DistributedSampler(train_set[0], num_replicas=ranks, rank=rank, seed=seed)
    loader = E.data.DataLoader(*train_set, batch_size=global_batch // ranks, sampler=sampler)
    history = {"loss": [], "train_acc": [], "test_acc": [], "seconds": [], "step_ms": [], "allreduce_ms": []}
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        sampler.set_epoch(epoch)
        total, count, stepping, reducing = 0.0, 0, 0.0, 0.0
        for xb, yb in loader:
            began = time.perf_counter()
            loss = E.functional.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            computed = time.perf_counter()
            model.average_gradients()  # includes waiting for the slowest rank
            reduced = time.perf_counter()
            optimizer.step()
            stepping += time.perf_counter() - began
            reducing += reduced - computed
            total, count = total + loss.item() * len(yb), count + len(yb)
        mean_loss = np.array([total / count])
        dist.average([mean_loss])  # equal shares: the mean of the ranks' means is the epoch's mean loss
        history["loss"].append(float(mean_loss[0]))
        history["train_acc"].append(_common.accuracy(model, *train_set, "cpu"))  # the same model on every rank
        history["test_acc"].append(_common.accuracy(model, *test_set, "cpu"))
        history["seconds"].append(time.perf_counter() - start)
        history["step_ms"].append(1000 * stepping / len(loader))
        history["allreduce_ms"].append(1000 * reducing / len(loader))
        if rank == 0:
            print(f"epoch {epoch:3d}/{epochs} loss {history['loss'][-1]:.4f}  train {100 * history['train_acc'][-1]:5.1f}%"
                  f"  test {100 * history['test_acc'][-1]:5.1f}%  step {history['step_ms'][-1]:.2f} ms (allreduce "
                  f"{history['allreduce_ms'][-1]:.2f}) "
                  f"({history['seconds'][-1]:.1f} s)", flush=True)
    return history


def plot(history, ranks, path):
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    _common.plot_curves(ax_loss, ax_acc, history)
    ax_acc.set_title(f"{ranks} ranks: test accuracy {100 * history['test_acc'][-1]:.1f} %", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = _common.parser(__doc__.splitlines()[0], epochs=20, out_name="train_digits_distributed.png")
    p.add_argument("--batch", type=int, default=32, help="global batch, shared among the ranks (default 32)")
    args = p.parse_args(argv)
    _common.setup(args)
    rank, ranks = dist.get_rank(), dist.get_world_size()
    if args.device != "cpu" or args.batch % ranks:
        raise SystemExit(f"--device cpu only, and --batch {args.batch} must be a multiple of the {ranks} ranks")
    train_set, test_set = E.data.load_digits()
    train_set = _common.subset(train_set, args.subset)
    model = dist.DistributedDataParallel(make_model())
    optimizer = E.optim.Adam(model.parameters(), lr=1e-3)
    if rank == 0:
        print(f"digits: {len(train_set[0])} train / {len(test_set[0])} test images of 8x8 on {ranks} ranks, "
              f"global batch {args.batch} ({args.batch // ranks} per rank)")
    history = train(model, optimizer, train_set, test_set, args.epochs, args.batch, args.seed, rank, ranks)
    args.out.mkdir(parents=True, exist_ok=True)
    dist.save(model.module.state_dict(), args.out / "train_digits_distributed.npz")
    if rank == 0:
        plot(history, ranks, args.out / "train_digits_distributed.png")
        print(f"test accuracy {100 * history['test_acc'][-1]:.1f} % after {args.epochs} epochs in "
              f"{history['seconds'][-1]:.1f} s, mean step {np.mean(history['step_ms']):.2f} ms (allreduce "
              f"{np.mean(history['allreduce_ms']):.2f} ms) on {ranks} ranks; "
              f"wrote {args.out / 'train_digits_distributed.png'} and the checkpoint")
    return {"history": history, "test_acc": history["test_acc"][-1], "rank": rank, "ranks": ranks}


if __name__ == "__main__":
    main()
