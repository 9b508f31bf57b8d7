"""examples/deformation_stability.py: warps are smooth and grow with their amplitude; the measurement runs."""
import numpy as np

from tests.examples.loader import load_example


def test_relative_changes_grow_with_the_warp(run_example):
    results, printed, out = run_example("deformation_stability", "--epochs", 1, "--train-size", 64, "--test-size", 20,
                                        "--amplitudes", 0.5, 2)
    assert (out / "deformation_stability.png").exists()
    assert results["grad_tau"][1] > results["grad_tau"][0] > 0
    for values in results["change"].values():
        assert 0 < values[0] < values[1]
    assert set(results["accuracy"]) == {"max-pool", "blur-pool", "max-pool, blur-swapped"}
    assert "relative change" in printed


def test_warp_by_a_whole_pixel_shift_is_a_shift(rng):
    example = load_example("deformation_stability")
    image = rng.standard_normal((16, 16))
    field = np.stack([np.zeros((16, 16)), np.ones((16, 16))])  # tau = one pixel to the right everywhere
    warped = example.warp(image, field)
    np.testing.assert_allclose(warped[:, 1:], image[:, :-1], atol=1e-12)
    assert np.all(warped[:, 0] == 0)
    np.testing.assert_allclose(example.warp(image, 0 * field), image, atol=1e-12)
    unit = example.smooth_field(rng, 16)
    assert np.isclose(np.abs(unit).max(), 1) and example.gradient_norm(unit) < 2
