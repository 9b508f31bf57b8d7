"""Publish a small asv result set and check in headless Chromium that its graphs render.

Run with: .venv/bin/pytest -m browser tests/bench (needs Debian's chromium and npm).
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ASV_BENCH = ROOT / "asv_bench"
# Two small shapes keep the quick run near a minute: every conv algorithm and both pooling paths.
SMALL = r"\('(lenet2|max2x2)'"
CHECKED = ["conv.Conv.time_forward", "conv.Conv.track_gflops_forward", "pool.Pool.time_forward_backward"]


def _config(tmp_path):
    """The suite's asv.conf.json with absolute paths and results kept under tmp_path."""
    text = (ASV_BENCH / "asv.conf.json").read_text()
    conf = json.loads("\n".join(line for line in text.splitlines() if not line.strip().startswith("//")))
    conf.update(repo=str(ROOT), benchmark_dir=str(ASV_BENCH / "benchmarks"), env_dir=str(tmp_path / "env"),
                results_dir=str(tmp_path / "results"), html_dir=str(tmp_path / "html"))
    path = tmp_path / "asv.conf.json"
    path.write_text(json.dumps(conf))
    return path


def test_published_dashboard_renders(tmp_path):
    for tool in ("chromium", "npm", "git"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed")
    asv = [sys.executable, "-m", "asv"]
    config = ["--config", str(_config(tmp_path))]
    env = {**os.environ, "HOME": str(tmp_path)}  # asv machine writes ~/.asv-machine.json

    def run(*command):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{command} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        return done.stdout

    commit = run("git", "-C", str(ROOT), "rev-parse", "HEAD").strip()
    run(*asv, "machine", "--yes", "--machine", "dashboard-check", *config)
    run(*asv, "run", *config, "--python=same", "--quick", "--machine", "dashboard-check",
        f"--set-commit-hash={commit}", "--bench", SMALL)
    run(*asv, "publish", *config)
    checks = [arg for name in CHECKED for arg in ("--bench", name)]
    out = run(sys.executable, str(ASV_BENCH / "check_dashboard.py"), str(tmp_path / "html"),
              "--screenshots", str(tmp_path / "shots"), *checks)
    assert out.strip().endswith("ok"), out
    for name in ["grid", *CHECKED]:
        assert (tmp_path / "shots" / f"{name}.png").stat().st_size > 10_000
