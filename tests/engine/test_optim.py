"""engine.optim: SGD (momentum, dampening, Nesterov, weight decay) and Adam against hand-written
updates over several steps, argument checks, and PyTorch's optimizers when installed."""
import numpy as np
import pytest

import engine as E

STEPS = 4


def _run(make_optimizer, p0, grads):
    """Apply the optimizer to a float64 parameter given a fixed gradient per step; return its values."""
    p = E.nn.Parameter(p0.copy())
    opt = make_optimizer([p])
    history = []
    for g in grads:
        opt.zero_grad()
        assert p.grad is None
        p.backward(g)  # a leaf: backward puts g in p.grad
        opt.step()
        history.append(p.numpy().copy())
    return history


def _sgd_by_hand(p, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    p, buf, history = p.copy(), None, []
    for g in grads:
        g = g + weight_decay * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
        history.append(p)
    return history


def _adam_by_hand(p, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    p, m, v, history = p.copy(), 0.0, 0.0, []
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * p
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        history.append(p)
    return history


SGD_SETTINGS = [dict(lr=0.1), dict(lr=0.05, momentum=0.9), dict(lr=0.05, momentum=0.8, dampening=0.3),
                dict(lr=0.05, momentum=0.9, nesterov=True), dict(lr=0.1, momentum=0.5, weight_decay=0.01)]
ADAM_SETTINGS = [dict(lr=1e-3), dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6), dict(lr=0.01, weight_decay=0.1)]


@pytest.mark.parametrize("settings", SGD_SETTINGS)
def test_sgd_matches_hand_computed_updates(rng, settings):
    p0 = rng.standard_normal((3, 4))
    grads = [rng.standard_normal((3, 4)) for _ in range(STEPS)]
    ours = _run(lambda ps: E.optim.SGD(ps, **settings), p0, grads)
    for a, b in zip(ours, _sgd_by_hand(p0, grads, **settings)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("settings", ADAM_SETTINGS)
def test_adam_matches_hand_computed_updates(rng, settings):
    p0 = rng.standard_normal(5)
    grads = [rng.standard_normal(5) for _ in range(STEPS)]
    ours = _run(lambda ps: E.optim.Adam(ps, **settings), p0, grads)
    for a, b in zip(ours, _adam_by_hand(p0, grads, **settings)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_step_skips_parameters_without_gradients_and_keeps_float32(rng):
    a = E.nn.Parameter(rng.standard_normal(3).astype(np.float32))
    b = E.nn.Parameter(rng.standard_normal(3).astype(np.float32))
    a_before, before = a.numpy().copy(), b.numpy().copy()
    opt = E.optim.Adam([a, b], lr=0.1)
    (a * 2).sum().backward()
    opt.step()
    np.testing.assert_array_equal(b.numpy(), before)
    assert a.dtype == np.float32 and not np.array_equal(a.numpy(), a_before)


def test_step_records_no_graph(rng):
    p = E.nn.Parameter(rng.standard_normal(3))
    (p * p).sum().backward()
    E.optim.SGD([p], lr=0.1, momentum=0.9).step()
    assert p.is_leaf and p.requires_grad


def test_optimizer_argument_errors():
    p = E.nn.Parameter(np.ones(2))
    with pytest.raises(ValueError, match="empty"):
        E.optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="learning rate"):
        E.optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        E.optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        E.optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="requires grad"):
        E.optim.SGD([E.tensor([1.0])], lr=0.1)


@pytest.mark.parametrize("name,settings", [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2)),
                                           ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.2)),
                                           ("Adam", dict(lr=0.01, betas=(0.85, 0.995), weight_decay=1e-2))])
def test_optimizers_match_pytorch(rng, name, settings):
    torch = pytest.importorskip("torch")
    p0 = rng.standard_normal((2, 3))
    grads = [rng.standard_normal((2, 3)) for _ in range(STEPS)]
    ours = _run(lambda ps: getattr(E.optim, name)(ps, **settings), p0, grads)
    tp = torch.nn.Parameter(torch.from_numpy(p0.copy()))
    opt = getattr(torch.optim, name)([tp], **settings)
    for g, mine in zip(grads, ours):
        tp.grad = torch.from_numpy(g)
        opt.step()
        np.testing.assert_allclose(mine, tp.detach().numpy(), rtol=1e-12, atol=1e-14)
