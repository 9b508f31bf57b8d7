"""examples/aliasing.py: linear poolings attenuate a grating as their transfer functions say; blurring aliases least."""
import numpy as np


def test_grating_amplitudes_and_aliased_share(run_example):
    results, printed, out = run_example("aliasing", "--size", 64)
    assert (out / "aliasing.png").exists()
    gratings = results["gratings"]
    for f in (0.05, 0.15, 0.375):  # |H(f)| of a 2-tap mean is cos(pi f); the 3- and 5-tap binomials cos^2, cos^4
        assert abs(gratings["avg"][f][0] - np.cos(np.pi * f)) < 0.03
        assert abs(gratings["blur3"][f][0] - np.cos(np.pi * f) ** 2) < 0.03
        assert abs(gratings["blur5"][f][0] - np.cos(np.pi * f) ** 4) < 0.03
    assert gratings["blur5"][0.45][0] < gratings["blur3"][0.45][0] < gratings["avg"][0.45][0]
    shares = results["aliased_share"]
    assert shares["blur5"] < shares["blur3"] < shares["avg"] < shares["max"]
    assert shares["maxblur3"] < shares["max"]
    assert "aliased share" in printed


def test_low_pass_removes_exactly_the_high_frequencies(rng):
    from tests.examples.loader import load_example
    example = load_example("aliasing")
    image = rng.standard_normal((16, 16))
    low = example.low_pass(image)
    spectrum = np.abs(np.fft.fft2(low))
    frequencies = np.abs(np.fft.fftfreq(16))
    high = (frequencies[:, None] >= 0.25) | (frequencies[None, :] >= 0.25)
    assert spectrum[high].max() < 1e-12
    np.testing.assert_allclose(np.fft.fft2(low)[~high], np.fft.fft2(image)[~high], atol=1e-12)
