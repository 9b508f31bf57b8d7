"""examples/universal_approximator.py: the error of one hidden layer falls as it widens."""


def test_error_falls_with_width(run_example):
    results, printed, out = run_example("universal_approximator", "--widths", 2, 32, "--steps", 100)
    assert (out / "universal_approximator.png").exists()
    for name in ("random features", "trained"):
        assert results[name][32]["rms"] < results[name][2]["rms"]
        assert results[name][32]["max"] >= results[name][32]["rms"]
    assert results["random features"][32]["rms"] < 0.1
    assert "N =   32" in printed
