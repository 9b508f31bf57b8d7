"""examples/shift_equivariance.py: conv is equivariant, strided pooling aliases, blur-pool reduces it; the CNN part runs."""
import numpy as np
import pytest

from tests.examples.loader import load_example


def test_equivariance_toy_signal_and_consistency(run_example):
    results, printed, out = run_example("shift_equivariance", "--size", 32, "--epochs", 1, "--train-size", 64,
                                        "--pairs", 1)
    assert (out / "shift_equivariance.png").exists()
    assert all(error < 1e-6 for error in results["conv_equivariance"].values())
    toy = results["toy"]
    np.testing.assert_array_equal(toy["max"][0][:2], [0, 1])  # 0,0,1,1 -> 0,1 ...
    np.testing.assert_array_equal(toy["max"][1], np.ones(8))  # ... and shifted by one: all ones
    np.testing.assert_allclose(toy["maxblur3"][0][:2], [0.5, 1.0])
    np.testing.assert_allclose(toy["maxblur3"][1], np.full(8, 0.75))
    change = results["toy_change"]
    assert change["max"] == 1.0 and change["avg"] == 0.5 and change["maxblur3"] == 0.25 and change["maxblur5"] < 0.25
    for kind, errors in results["pooled"].items():
        assert errors[2] < 1e-12  # a 2-pixel shift moves a stride-2 map by exactly one sample
    assert results["pooled"]["maxblur3"][1] < results["pooled"]["max"][1]
    for row in results["cnn"].values():
        assert 0 <= row["consistency"] <= 1 and 0 <= row["accuracy"] <= 1
    assert "consistency" in printed


@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("kind", ["maxblur3", "maxblur5"])
def test_circular_maxblur_pool_matches_its_definition(rng, nd, kind):
    """max over (i, i+1) circularly, then the binomial blur centred on every even sample, circularly."""
    example = load_example("shift_equivariance")
    x = rng.standard_normal((2, 3) + (10,) * nd)
    taps = {"maxblur3": [1, 2, 1], "maxblur5": [1, 4, 6, 4, 1]}[kind]
    filt = np.array(taps, float) / sum(taps)
    expected = x
    for axis in range(2, 2 + nd):
        expected = np.maximum(expected, np.roll(expected, -1, axis=axis))
    for axis in range(2, 2 + nd):
        half = len(filt) // 2
        expected = sum(w * np.roll(expected, half - t, axis=axis) for t, w in enumerate(filt))
        expected = np.take(expected, np.arange(0, 10, 2), axis=axis)
    np.testing.assert_allclose(example.circular_pool(x, kind), expected, atol=1e-12)
