"""examples/curse_of_dimensionality.py: distances concentrate; volume moves to the rind and the corners."""
import math


def test_concentration_rind_and_corners(run_example):
    results, printed, out = run_example("curse_of_dimensionality", "--points", 200, "--trials", 3,
                                        "--samples", 20000, "--max-dimension", 200)
    assert (out / "curse_of_dimensionality.png").exists()
    ratios = results["ratios"]
    assert ratios[2] > 10 * ratios[200] and ratios[200] < 1
    assert abs(results["torus_mean"][200] - 1 / math.sqrt(3)) < 0.01
    assert -0.6 < results["spread_slope"] < -0.4  # relative spread of distances ~ 1/sqrt(d)
    assert abs(results["rind"][2]["crust"] - (1 - 2 ** -0.5) / 2) < 1e-12
    assert results["rind"][350]["alpha"] > 0.98 and results["rind"][350]["crust"] < 0.01
    assert abs(results["sampled_rind"][10] - (1 - 0.9 ** 10)) < 0.02
    assert abs(results["corners"][8]["exact"] - (1 - math.pi ** 4 / 24 / 256)) < 1e-12
    assert abs(results["corners"][8]["sampled"] - results["corners"][8]["exact"]) < 0.01
