"""Smoke run of examples/train_resnet_digits.py: a subset, two epochs; the same script on PyTorch when installed."""
import pytest

pytest.importorskip("sklearn")


def test_train_resnet_digits_smoke(run_example):
    results, printed, out = run_example("train_resnet_digits", "--epochs", "2", "--subset", "640", "--batch-size", "32",
                                          "--threads", "1")
    assert (out / "train_resnet_digits.png").exists()
    assert "epoch   2/2" in printed and "median training step" in printed
    history = results["history"]
    assert history["loss"][1] < history["loss"][0] and history["lr"] == [0.1, 0.05]  # cosine over two epochs
    assert results["test_acc"] > 0.2 and results["step_ms"] > 0


def test_the_same_script_runs_on_pytorch(run_example):
    pytest.importorskip("torch")
    results, printed, _ = run_example("train_resnet_digits", "--framework", "torch", "--epochs", "1", "--subset", "128",
                                      "--threads", "1")
    assert printed.startswith("torch:") and results["step_ms"] > 0
