"""The same seed gives bit-identical training at a given thread count."""
import numba
import numpy as np
import pytest

import engine as E
import ops


def train(steps, seed=0):
    E.manual_seed(seed)
    data = np.random.default_rng(1)
    model = E.nn.Sequential(E.nn.Conv2d(1, 6, 5, padding=2), E.nn.ReLU(), E.nn.MaxPool2d(2),
                            E.nn.Conv2d(6, 16, 5), E.nn.ReLU(), E.nn.MaxPool2d(2), E.nn.Flatten(),
                            E.nn.Linear(16 * 5 * 5, 10))
    opt = E.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(steps):
        x = E.tensor(data.standard_normal((32, 1, 28, 28)).astype(np.float32))
        y = E.tensor(data.integers(0, 10, 32))
        opt.zero_grad()
        E.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return [p.numpy().tobytes() for p in model.parameters()]


@pytest.mark.parametrize("threads", [1, 2])
def test_seeded_lenet_training_is_bit_identical(threads):
    if threads > numba.config.NUMBA_NUM_THREADS:
        pytest.skip(f"needs {threads} threads")
    before = ops.get_num_threads()
    ops.set_num_threads(threads)
    try:
        first = train(6)
        assert all(train(6) == first for _ in range(2))
    finally:
        ops.set_num_threads(before)
