"""asv_bench/regret_sweep.py on two tiny cases: every pass timed, auto's pick and the summary reported."""
import json
import os
import subprocess
import sys
from pathlib import Path

from ops import select

ROOT = Path(__file__).resolve().parents[2]


def test_the_sweep_reports_every_pass_of_two_tiny_cases(tmp_path):
    out = tmp_path / "sweep.json"
    command = [sys.executable, str(ROOT / "asv_bench" / "regret_sweep.py"), "--cases", "2", "--max-flops", "2e6",
               "--seed", "3", "--threads", "1", "--json", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert "geometric mean regret" in done.stdout and "worst: case" in done.stdout
    result = json.loads(out.read_text())
    records = result["records"]
    assert [(r["case"], r["op"]) for r in records] == [(c, op) for c in range(2)
                                                       for op in ("forward", "grad_input", "grad_weight")]
    algorithms = set(select.CONV_ALGORITHMS["cpu"]) - {"reference"}
    for record in records:
        assert record["gflop"] <= 2e-3
        assert record["pick"] in algorithms and record["fastest"] in algorithms
        assert set(record["seconds"]) <= algorithms | {"auto"} and "auto" in record["seconds"]
        assert record["regret"] > 0
    assert result["summary"]["passes"] == 6 and 0 <= result["summary"]["within_1_25"] <= 1
    assert result["threads"] == 1
