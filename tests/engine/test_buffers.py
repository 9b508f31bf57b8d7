"""The engine's reuse of freed CPU buffers (engine.buffers) changes no number, and does reuse."""
import numpy as np
import pytest

import engine as E
from engine import nn
from engine.functional import cross_entropy


def _losses(steps=6):
    E.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(6 * 14 * 14, 10))
    opt = E.optim.Adam(model.parameters(), lr=1e-2)
    data = np.random.default_rng(3)
    losses = []
    for _ in range(steps):
        x = E.tensor(data.standard_normal((16, 1, 28, 28)).astype(np.float32))
        y = E.tensor(data.integers(0, 10, 16))
        opt.zero_grad()
        loss = cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return np.array(losses)


@pytest.fixture
def reuse_setting():
    before = E.buffers.enable(True)
    yield
    E.buffers.enable(before)


def test_training_gives_the_same_losses_with_and_without_reuse(reuse_setting):
    E.buffers.clear()
    with_reuse = _losses()
    assert E.buffers.cached_bytes() > 0
    E.buffers.enable(False)
    E.buffers.clear()
    without = _losses()
    assert E.buffers.cached_bytes() == 0
    np.testing.assert_array_equal(with_reuse, without)


def test_numpy_outside_the_engine_keeps_its_own_handler(reuse_setting):
    get_handler_name = getattr(np, "_core", getattr(np, "core", None)).multiarray.get_handler_name
    before = get_handler_name()
    out = E.tensor(np.ones((4, 4), np.float32)).relu()
    assert get_handler_name(out.data) == "convref_buffer_cache"
    assert get_handler_name() == before
