"""engine.distributed: the sampler's shares, and N ranks under mpiexec reaching one process's parameters."""
import subprocess
import sys

import numpy as np
import pytest

import engine as E
import engine.distributed as dist
from tests.engine import distributed_training
from tests.helpers import assert_close, run_mpiexec


def test_sampler_shares_cover_each_global_batch_like_pytorch():
    for length, replicas in [(12, 2), (13, 3), (10, 4)]:
        one = list(dist.DistributedSampler(length, num_replicas=1, rank=0, seed=4))
        shares = [list(dist.DistributedSampler(length, num_replicas=replicas, rank=r, seed=4)) for r in range(replicas)]
        assert sorted(one) == list(range(length))
        size = -(-length // replicas)
        assert all(len(s) == size for s in shares)
        padded = one + one[:size * replicas - length]  # PyTorch repeats the first indices
        assert [s[i] for i in range(size) for s in shares] == padded


def test_sampler_epochs_seeds_drop_last_and_order():
    sampler = dist.DistributedSampler(np.zeros(10), num_replicas=3, rank=1, seed=2, drop_last=True)
    first = list(sampler)
    assert len(sampler) == 3 and len(first) == 3
    sampler.set_epoch(1)
    assert list(sampler) != first
    sampler.set_epoch(0)
    assert list(sampler) == first
    assert list(dist.DistributedSampler(7, num_replicas=2, rank=1, shuffle=False)) == [1, 3, 5, 0]


def test_sampler_refuses_bad_arguments():
    with pytest.raises(ValueError, match="rank must be in"):
        dist.DistributedSampler(10, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas must be a positive int"):
        dist.DistributedSampler(10, num_replicas=0, rank=0)
    with pytest.raises(ValueError, match="cannot be shared"):
        dist.DistributedSampler(3, num_replicas=4, rank=0, drop_last=True)


def test_data_loader_reads_the_sampler_order():
    x = np.arange(10.0)[:, None]
    sampler = dist.DistributedSampler(x, num_replicas=2, rank=0, seed=1)
    batches = [xb.numpy()[:, 0].tolist() for (xb,) in E.data.DataLoader(x, batch_size=2, sampler=sampler)]
    assert sum(batches, []) == [float(i) for i in sampler]
    with pytest.raises(ValueError, match="sampler and shuffle"):
        E.data.DataLoader(x, sampler=sampler, shuffle=True)


def test_import_engine_does_not_import_mpi4py():
    code = "import sys, engine, engine.distributed; print('mpi4py' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("ranks", [2, 3])
def test_ranks_reach_the_parameters_of_one_process_with_the_global_batch(tmp_path, ranks):
    path = tmp_path / "ranks.npz"
    run_mpiexec(ranks, "-m", "tests.engine.distributed_training", path)
    saved = E.load(path)
    single = distributed_training.train().state_dict()
    initial = distributed_training.make_model().state_dict()
    for name, expected in single.items():
        for r in range(ranks):
            assert_close(saved[f"rank{r}.{name}"], expected)
        assert not np.allclose(expected, initial[name])  # it did train
    for name in ("bn.1.running_mean", "bn.1.running_var"):
        assert all(np.array_equal(saved[f"rank{r}.{name}"], saved[f"rank0.{name}"]) for r in range(ranks))
        assert not np.allclose(saved[f"rank0.{name}"], 0.0) and not np.allclose(saved[f"rank0.{name}"], 1.0)
