"""Without a GPU and without the simulator: the engine imports and runs on the CPU, and asking for "cuda" says what
to do. Each check runs in a fresh interpreter with NUMBA_ENABLE_CUDASIM unset (CUDA tests may have set it here)."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


# in the code run: stop there, printing nothing, where a real GPU makes "cuda" available
UNLESS_A_GPU = "import ops.cuda\nif ops.cuda.available():\n    raise SystemExit(0)\n"


def _without_cuda(code):
    """stdout of `code` run in a fresh interpreter without the simulator."""
    environment = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    result = subprocess.run([sys.executable, "-c", code], env=environment, cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _assert_says_what_to_do(message):
    assert "no CUDA GPU" in message and "numba-cuda" in message and "NUMBA_ENABLE_CUDASIM=1" in message, message


def test_asking_for_cuda_without_a_gpu_is_a_clear_error():
    out = _without_cuda("""
import sys
import engine as E
assert "numba.cuda" not in sys.modules, "import engine imported numba.cuda"
assert (E.tensor([1.0, 2.0]) * 2).sum().item() == 6.0
""" + UNLESS_A_GPU + """
for attempt in (lambda: E.tensor([1.0], device="cuda"), lambda: E.tensor([1.0]).to("cuda"),
                lambda: E.nn.Linear(2, 1).to("cuda"), lambda: E.data.DataLoader([1.0], device="cuda")):
    try:
        attempt()
    except RuntimeError as error:
        print(error)
    else:
        raise SystemExit("no error")
""")
    lines = out.splitlines()
    assert len(lines) in (0, 4)
    for line in lines:
        _assert_says_what_to_do(line)


def test_example_with_device_cuda_exits_with_the_reason():
    out = _without_cuda(UNLESS_A_GPU + """
import runpy, sys
sys.argv = ["train_digits.py", "--device", "cuda"]
try:
    runpy.run_path("examples/train_digits.py", run_name="__main__")
except SystemExit as stop:
    print(stop)
""")
    assert out == "" or out.startswith("--device cuda: ")
    if out:
        _assert_says_what_to_do(out)
