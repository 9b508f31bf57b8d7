"""autotune(cache=path): winners measured on this machine come back from the file (in this process or the
next) without timing again; other machines' winners, stale names and broken files are handled."""
import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import ops
from ops import select, tuning_cache

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def fresh():
    """An empty winners table and autotune off, restored afterwards."""
    saved, state = dict(select._winners), dict(select._autotune)
    select._winners.clear()
    yield select._winners
    select._autotune.update(state)
    select._winners.clear()
    select._winners.update(saved)


def conv(size=9):
    """A small conv2d on arrays seeded by its size: one winners key per size."""
    rng = np.random.default_rng(size)
    x = rng.standard_normal((2, 3, size, size)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    return ops.conv2d(x, w, padding=1)


def test_winners_come_back_without_timing_again(fresh, tmp_path, monkeypatch):
    path = tmp_path / "winners.json"
    ops.autotune(True, cache=path)
    expected = conv()
    ops.correlate(np.arange(300.0), np.ones(7), "same")
    measured = dict(fresh)
    assert {key[0] for key in measured} == {"conv", "signal"}
    assert tuning_cache.load(path) == measured
    fresh.clear()
    ops.autotune(True, cache=path)
    assert fresh == measured
    monkeypatch.setattr(select.time, "perf_counter", lambda: pytest.fail("autotune timed a candidate"))
    np.testing.assert_array_equal(conv(), expected)


def test_another_process_reads_them_back(fresh, tmp_path):
    path = tmp_path / "winners.json"
    ops.autotune(True, cache=path)
    conv()
    key = next(iter(fresh))
    check = ("import numpy as np, ops, sys\n"
             "from ops import select\n"
             "ops.set_num_threads(int(sys.argv[2]))  # the key holds the thread count\n"
             "ops.autotune(True, cache=sys.argv[1])\n"
             "select.time.perf_counter = None  # any timing fails\n"
             "from tests.ops.test_autotune_cache import conv\n"
             "conv()\n"
             "print(sorted(select._winners.values()))\n")
    done = subprocess.run([sys.executable, "-c", check, str(path), str(key[-1])], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": ROOT}, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str([fresh[key]])


def _rewrite(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_other_machines_winners_are_kept_but_not_used(fresh, tmp_path):
    path = tmp_path / "winners.json"
    ops.autotune(True, cache=path)
    conv()
    _rewrite(path, lambda data: data["machines"][0]["fingerprint"].update(cpu="another CPU"))
    fresh.clear()
    ops.autotune(True, cache=path)
    assert not fresh
    conv()  # measured again, here
    groups = json.loads(path.read_text())["machines"]
    assert sorted(group["fingerprint"]["cpu"] for group in groups) == sorted(["another CPU", tuning_cache._cpu_model()])
    assert all(len(group["winners"]) == 1 for group in groups)


def test_a_winner_no_longer_registered_is_ignored(fresh, tmp_path):
    path = tmp_path / "winners.json"
    ops.autotune(True, cache=path)
    conv()
    key = next(iter(fresh))
    _rewrite(path, lambda data: data["machines"][0]["winners"][0].__setitem__(1, "toom-cook"))
    fresh.clear()
    ops.autotune(True, cache=path)
    assert key not in fresh
    conv()
    assert tuning_cache.load(path)[key] in select.CONV_ALGORITHMS["cpu"]


@pytest.mark.parametrize("text", ["", "{not json", "[]", '{"format": "convref-autotune", "version": 99}',
                                  '{"format": "convref-autotune", "version": 1, "machines": [{"winners": []}]}',
                                  ('{"format": "convref-autotune", "version": 1, "machines": '
                                   '[{"fingerprint": {}, "winners": [[["conv", "forward", 3], "gemm"]]}]}')])
def test_a_broken_file_is_an_error_naming_it(fresh, tmp_path, text):
    path = tmp_path / "broken.json"
    path.write_text(text)
    with pytest.raises(ValueError, match="broken.json"):
        ops.autotune(True, cache=path)


def test_a_missing_file_starts_empty_and_turning_off_stops_writing(fresh, tmp_path):
    path = tmp_path / "new" / "winners.json"
    path.parent.mkdir()
    assert ops.autotune(True, cache=path) is False
    assert not fresh and not path.exists()
    conv()
    written = path.read_text()
    assert ops.autotune(False) is True
    assert fresh  # what was measured stays
    ops.autotune(True)  # no cache: measures in memory only
    conv(size=11)
    assert len(fresh) == 2 and path.read_text() == written
    assert os.listdir(path.parent) == ["winners.json"]  # no temporary file left behind


def test_threads_measuring_at_once_all_land_in_the_file(fresh, tmp_path):
    path = tmp_path / "winners.json"
    ops.autotune(True, cache=path)
    errors = []

    def measure(size):
        try:
            conv(size)
        except Exception as error:  # noqa: BLE001  (reported below)
            errors.append(error)
    workers = [threading.Thread(target=measure, args=(size,)) for size in range(6, 14)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors
    assert tuning_cache.load(path) == fresh and len(fresh) == 8
