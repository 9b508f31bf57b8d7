import pytest

from tests.examples.loader import load_example


@pytest.fixture
def run_example(tmp_path, capsys):
    """Run an example's main(argv) with its PNG going to tmp_path; return (results, printed text, out folder)."""
    def run(name, *argv):
        results = load_example(name).main([*map(str, argv), "--out", str(tmp_path)])
        pngs = sorted(p.name for p in tmp_path.glob("*.png"))
        assert pngs, f"{name} wrote no PNG into {tmp_path}"
        return results, capsys.readouterr().out, tmp_path
    return run
