import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(name):
    """Import examples/<name>.py as a module (the examples folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def run_example(tmp_path, capsys):
    """Run an example's main(argv) with its PNG going to tmp_path; return (results, printed text, out folder)."""
    def run(name, *argv):
        results = load_example(name).main([*map(str, argv), "--out", str(tmp_path)])
        pngs = sorted(p.name for p in tmp_path.glob("*.png"))
        assert pngs, f"{name} wrote no PNG into {tmp_path}"
        return results, capsys.readouterr().out, tmp_path
    return run
