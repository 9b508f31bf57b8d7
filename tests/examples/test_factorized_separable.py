"""examples/factorized_separable.py: cost counts, the exact two-3x3 = composed-5x5 identity, rank-1 fits."""


def test_costs_identity_and_separable_fits(run_example):
    results, printed, out = run_example("factorized_separable", "--batch", 1, "--channels", 4, "--size", 12,
                                        "--repeats", 1, "--random-trials", 50)
    assert (out / "factorized_separable.png").exists()
    costs = results["costs"]
    assert [costs[n]["params"] for n in ("5x5", "two 3x3", "1x5 + 5x1")] == [25 * 16, 18 * 16, 10 * 16]
    assert costs["5x5"]["flops"] == 2 * 4 * 4 * 25 * 8 * 8
    assert costs["1x5 + 5x1"]["flops"] < costs["two 3x3"]["flops"] < costs["5x5"]["flops"]
    identity = results["identity"]
    assert identity["float64"]["valid"] < 1e-13 and identity["float64"]["same, interior"] < 1e-13
    assert identity["float32"]["valid"] < 1e-5
    for errors in identity.values():
        assert errors["same, border"] > 1e-2 and errors["valid, ReLU between"] > 1e-2
    fits = results["fits"]
    assert fits["gaussian (binomial)"]["kernel_error"] < 1e-13 and fits["sobel 5x5"]["output_error"] < 1e-13
    assert fits["random"]["kernel_error"] > 0.1 and fits["laplacian of gaussian"]["kernel_error"] > 0.1
    assert all(t > 0 for t in results["layer_time"].values())
