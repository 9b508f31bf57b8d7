"""A whole small CNN: the engine's parameter gradients against a backward pass written out by hand
with the NumPy oracle in ops.reference (conv, max-pool) and plain NumPy (ReLU, linear, cross-entropy)."""
import numpy as np
import pytest

import engine as E
from engine import nn
from ops import reference, shapes
from tests.helpers import assert_close


def _by_hand(x, labels, w1, b1, w2, b2, w3, b3):
    g1 = shapes.conv_geometry(x.shape, w1.shape, 2, stride=1, padding=1)
    h1 = reference.conv.forward(x, w1, b1, g1)
    a1 = np.maximum(h1, 0)
    pool = shapes.pool_geometry(a1.shape, 2, 2)
    p1, indices = reference.pool.max_pool(a1, pool)
    g2 = shapes.conv_geometry(p1.shape, w2.shape, 2, stride=2, padding=1, groups=2)
    h2 = reference.conv.forward(p1, w2, b2, g2)
    a2 = np.maximum(h2, 0)
    features = a2.reshape(len(x), -1)
    logits = features @ w3.T + b3
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    loss = -np.log(probs[np.arange(len(x)), labels]).mean()

    d_logits = probs.copy()
    d_logits[np.arange(len(x)), labels] -= 1
    d_logits /= len(x)
    d_w3, d_b3 = d_logits.T @ features, d_logits.sum(axis=0)
    d_h2 = (d_logits @ w3).reshape(h2.shape) * (h2 > 0)
    d_w2, d_b2 = reference.conv.grad_weight(p1, d_h2, g2), d_h2.sum(axis=(0, 2, 3))
    d_p1 = reference.conv.grad_input(d_h2, w2, g2)
    d_h1 = reference.pool.max_pool_grad_input(d_p1, indices, pool) * (h1 > 0)
    d_w1, d_b1 = reference.conv.grad_weight(x, d_h1, g1), d_h1.sum(axis=(0, 2, 3))
    return loss, [d_w1, d_b1, d_w2, d_b2, d_w3, d_b3]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_small_cnn_gradients_match_a_hand_written_reference_backward(rng, dtype):
    E.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, dtype=dtype), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2, dtype=dtype), nn.ReLU(),
                          nn.Flatten(), nn.Linear(6 * 2 * 2, 5, dtype=dtype))
    x = rng.standard_normal((3, 3, 7, 8)).astype(dtype)
    labels = np.array([4, 0, 2])
    loss = E.functional.cross_entropy(model(E.tensor(x)), labels)
    loss.backward()
    params = [p.numpy() for p in model.parameters()]
    expected_loss, expected_grads = _by_hand(x, labels, *params)
    assert_close(loss.numpy(), np.asarray(expected_loss), dtype)
    names = [n for n, _ in model.named_parameters()]
    for name, p, expected in zip(names, model.parameters(), expected_grads):
        assert p.grad.dtype == dtype, name
        assert_close(p.grad.numpy(), expected, dtype)
