"""Smoke run of examples/denoise_autoencoder.py: a subset, two epochs; the same script on PyTorch when installed."""
import pytest

pytest.importorskip("sklearn")


def test_denoise_autoencoder_smoke(run_example):
    results, printed, out = run_example("denoise_autoencoder", "--epochs", "2", "--subset", "640", "--batch-size", "32",
                                          "--threads", "1")
    assert (out / "denoise_autoencoder.png").exists()
    assert "test MSE" in printed and "median training step" in printed
    assert results["denoised_mse"] < results["noisy_mse"]  # the skip makes the identity the start; training improves on it


def test_the_same_script_runs_on_pytorch(run_example):
    pytest.importorskip("torch")
    results, printed, _ = run_example("denoise_autoencoder", "--framework", "torch", "--epochs", "1", "--subset", "128",
                                      "--threads", "1")
    assert printed.startswith("torch:") and results["step_ms"] > 0
