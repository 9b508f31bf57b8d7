"""examples/template_matching.py: raw correlation misses the face, normalised cross-correlation finds it."""
import numpy as np
from skimage.feature import match_template


def test_ncc_finds_the_face_raw_correlation_does_not(run_example):
    results, printed, out = run_example("template_matching", "--scale", 4)
    assert (out / "template_matching.png").exists()
    assert results["ncc_peak"] == results["truth"]
    assert np.hypot(*np.subtract(results["raw_peak"], results["truth"])) > 10
    expected = match_template(results["image"], results["template"])  # scikit-image's NCC, same definition
    assert np.abs(results["ncc"] - expected).max() < 1e-10
    assert "normalised correlation peak" in printed
