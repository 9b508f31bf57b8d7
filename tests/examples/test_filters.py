"""examples/filters.py: symmetric kernels give identical correlation and convolution; asymmetric ones do not."""


def test_filters_flip_matters_only_for_asymmetric_kernels(run_example):
    results, printed, out = run_example("filters", "--size", 64)
    assert (out / "filters.png").exists()
    for name in ("edge", "sharpen", "gaussian blur"):
        assert results[name]["symmetric"] and results[name]["diff"] == 0.0
    assert results["sobel x"]["diff"] > 0.1 and results["sobel x"]["sum"] == 0.0
    for row in results.values():
        assert row["flip_identity"] < 1e-12  # convolve(x, k) == correlate(x, flip(k))
    assert results["shift"]["corr_displacement"] == (12, 12)
    assert results["shift"]["conv_displacement"] == (-12, -12)
    assert "max|corr-conv|" in printed
