"""examples/rotation_equivariance.py: p4 layers are equivariant to quarter turns, a plain conv is not; the training runs."""
from tests.examples.loader import load_example


def test_equivariance_and_turned_digits(run_example):
    results, printed, out = run_example("rotation_equivariance", "--epochs", 1, "--train-size", 64, "--width", 2)
    assert (out / "rotation_equivariance.png").exists()
    errors = results["equivariance"]
    assert errors["p4 lifting layer"] < 1e-12 and errors["p4 lifting + group layer"] < 1e-12
    assert errors["plain conv layer"] > 0.1
    p4, plain = results["cnn"]["p4 CNN"], results["cnn"]["plain CNN"]
    accuracies = list(p4["accuracy"].values())  # invariant: the same predictions at every turn, but for a float32
    assert max(accuracies) - min(accuracies) <= 2 / 359  # near-tie, which rounding may flip
    assert abs(p4["parameters"] - plain["parameters"]) <= 0.2 * p4["parameters"]
    assert results["cnn"]["plain CNN, turned training digits"]["parameters"] == plain["parameters"]
    assert "accuracy" in printed


def test_turn_of_a_p4_map_rolls_its_rotation_axis(rng):
    example = load_example("rotation_equivariance")
    x = rng.standard_normal((1, 2, 4, 3, 3))
    turned = example.turn(x)
    for r in range(4):
        assert (turned[:, :, r] == example.np.rot90(x[:, :, (r - 1) % 4], 1, axes=(-2, -1))).all()
