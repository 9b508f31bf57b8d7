"""examples/one_by_one.py: a 1x1 conv is a per-pixel matrix product across channels."""


def test_one_by_one_is_a_per_pixel_matrix_product(run_example):
    results, printed, out = run_example("one_by_one", "--batch", 1, "--size", 8, "--repeats", 1)
    assert (out / "one_by_one.png").exists()
    assert results["errors"]["float64"] < 1e-13 and results["errors"]["float32"] < 1e-5
    assert results["grey_error"] < 1e-12
    costs = results["costs"]
    assert costs["1x1, 64 -> 16"]["params"] == 64 * 16 + 16
    assert costs["3x3, 64 -> 16"]["params"] == 9 * 64 * 16 + 16
    assert costs["3x3, 64 -> 16"]["flops"] == 9 * costs["1x1, 64 -> 16"]["flops"]
    assert costs["bottleneck 1x1 -> 3x3 -> 1x1"]["flops"] < costs["3x3, 64 -> 64"]["flops"] / 8
