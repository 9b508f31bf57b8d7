"""examples/weight_sharing.py: n^2 / k*n / k weights, the three layers nested, the equal-time training runs."""
import numpy as np

import engine as E
from tests.engine.gradients import assert_grads_match, weighted_sum
from tests.examples.loader import load_example


def test_counts_nesting_and_training(run_example):
    results, printed, out = run_example("weight_sharing", "--seconds", 0.3, "--train-size", 64, "--channels", 2)
    assert (out / "weight_sharing.png").exists()
    assert results["digits"] == {"fully connected": 64 * 64, "locally connected": 9 * 64, "convolution": 9}
    assert results["lecture"]["locally connected"] == 3 * 36_000_000
    assert all(error < 1e-12 for error in results["nesting"].values())
    layer = {kind: row["layer_parameters"] for kind, row in results["training"].items()}
    assert layer == {"fully connected": 2 * 64 * 64 + 2 * 64, "locally connected": 2 * 9 * 64 + 2 * 64,
                     "convolution": 2 * 9 + 2}
    assert all(row["steps"] >= 1 and 0 <= row["test_acc"] <= 1 for row in results["training"].values())
    assert "test" in printed


def test_locally_connected_gradients(rng):
    example = load_example("weight_sharing")
    layer = example.LocallyConnected2d(1, 3, 3, dtype=np.float64)
    x = E.tensor(rng.standard_normal((2, 1, 3, 3)))
    assert_grads_match(lambda: weighted_sum(layer(x)), [layer.weight, layer.bias])
