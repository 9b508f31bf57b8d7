"""Smoke runs of examples/train_digits.py and examples/train_mnist1d.py: tiny subsets, one or two epochs."""
import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
pytestmark = pytest.mark.slow  # about 10 s together: data generation, training and plotting


def _main(name):
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_train_digits_smoke(tmp_path, capsys):
    pytest.importorskip("sklearn")
    results = _main("train_digits")(["--epochs", "2", "--subset", "256", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert (tmp_path / "train_digits.png").exists()
    assert "epoch   2/2" in printed and "test accuracy" in printed
    assert len(results["history"]["loss"]) == 2 and results["history"]["loss"][1] < results["history"]["loss"][0]
    assert results["test_acc"] > 0.3  # far above chance after two short epochs


@pytest.mark.parametrize("mlp", [False, True])
def test_train_mnist1d_smoke(tmp_path, capsys, mlp):
    pytest.importorskip("mnist1d")
    argv = ["--epochs", "2", "--subset", "400", "--out", str(tmp_path)] + (["--mlp"] if mlp else [])
    results = _main("train_mnist1d")(argv)
    assert (tmp_path / f"train_mnist1d{'_mlp' if mlp else ''}.png").exists()
    assert "test accuracy" in capsys.readouterr().out
    assert results["test_acc"] > 0.15
