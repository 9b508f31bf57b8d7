"""examples/train_digits_distributed.py under mpiexec -n 2: trains, and rank 0 writes the curves and the checkpoint."""
import engine as E
from tests.helpers import run_mpiexec


def test_two_ranks_train_and_rank_0_writes(tmp_path):
    printed = run_mpiexec(2, "examples/train_digits_distributed.py", "--epochs", 2, "--subset", 256,
                          "--out", tmp_path)
    assert "on 2 ranks, global batch 32 (16 per rank)" in printed
    assert printed.count("epoch ") == 2  # rank 0 alone prints
    assert (tmp_path / "train_digits_distributed.png").exists()
    state = E.load(tmp_path / "train_digits_distributed.npz")
    assert set(state) == {"0.weight", "0.bias", "2.weight", "2.bias", "6.weight", "6.bias", "8.weight", "8.bias"}
