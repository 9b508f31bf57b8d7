"""E.compile: replaying a traced step gives the eager path's numbers (losses over 20 steps, gradients,
parameters), fuses ReLU into the layer before it, re-traces on a new input signature."""
import threading

import numpy as np
import pytest

import engine as E
from engine import graph, nn, trace
from engine.functional import cross_entropy
from engine.tensor import apply


def _model():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3), nn.ReLU(), nn.Dropout(0.2), nn.Flatten(),
                         nn.Linear(6 * 2 * 2, 16), nn.ReLU(), nn.Linear(16, 3))


def _train(compiled, steps=20, seed=0):
    """Losses, final parameters and buffers of `steps` SGD steps on fixed random batches (last one smaller)."""
    E.manual_seed(seed)
    model = _model()
    opt = E.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    data = np.random.default_rng(1)
    step = E.compile(lambda x, y: cross_entropy(model(x), y)) if compiled else None
    losses = []
    for i in range(steps):
        n = 5 if i == steps - 1 else 8
        x = E.tensor(data.standard_normal((n, 1, 8, 8)).astype(np.float32))
        y = E.tensor(data.integers(0, 3, n))
        opt.zero_grad()
        if compiled:
            loss = step(x, y)
        else:
            loss = cross_entropy(model(x), y)
            loss.backward()
        opt.step()
        losses.append(loss.item())
    return np.array(losses), model.state_dict(), step


def test_compiled_training_matches_eager_over_20_steps():
    eager_losses, eager_state, _ = _train(compiled=False)
    losses, state, step = _train(compiled=True)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-6)
    for name in eager_state:
        np.testing.assert_allclose(state[name], eager_state[name], rtol=1e-5, atol=1e-7, err_msg=name)
    assert len(step.plans) == 2  # the smaller last batch traced again


def test_relu_after_conv_and_linear_is_fused_unless_shared(rng):
    model = _model()
    step = E.compile(lambda x, y: cross_entropy(model(x), y))
    step(E.tensor(rng.standard_normal((2, 1, 8, 8)).astype(np.float32)), E.tensor(np.array([0, 2])))
    (plan,) = step.plans.values()
    kinds = [type(s[0]).__name__ for s in plan.steps]
    # conv -> batch norm -> relu stays apart; the second conv and the first linear absorb their ReLUs
    assert kinds.count("_ReLUAfter") == 2 and kinds.count("ReLU") == 1

    w = E.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    shared = E.compile(lambda x: (lambda h: (h * h).sum() + h.relu().sum())(E.functional.linear(x, w)))
    shared(E.tensor(rng.standard_normal((2, 3))))
    (plan,) = shared.plans.values()
    assert not any(isinstance(s[0], trace._ReLUAfter) for s in plan.steps)


def test_gradients_match_eager_for_inputs_used_twice(rng):
    x_data, w_data = rng.standard_normal((4, 3)), rng.standard_normal((3, 3))

    def fn(x, w):
        h = (x @ w).relu()
        return (h * x + h.tanh()).sum()

    eager = [E.tensor(x_data, requires_grad=True), E.tensor(w_data, requires_grad=True)]
    fn(*eager).backward()
    step = E.compile(fn)
    for _ in range(3):  # the trace, then two replays; gradients accumulate as in eager mode
        compiled = [E.tensor(x_data, requires_grad=True), E.tensor(w_data, requires_grad=True)]
        loss = step(*compiled)
        assert not loss.requires_grad
        for a, b in zip(compiled, eager):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)
    assert len(step.plans) == 1


def test_the_same_tensor_passed_twice(rng):
    x_data = rng.standard_normal(4)
    step = E.compile(lambda a, b: (a * b.exp()).sum())
    for _ in range(2):
        x = E.tensor(x_data, requires_grad=True)
        loss = step(x, x)
        np.testing.assert_allclose(loss.item(), (x_data * np.exp(x_data)).sum())
        np.testing.assert_allclose(x.grad.numpy(), np.exp(x_data) * (1 + x_data))


def test_forward_only_and_non_scalar_results(rng):
    model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))
    run = E.compile(model)
    x = E.tensor(rng.standard_normal((3, 5)).astype(np.float32))
    np.testing.assert_allclose(run.forward(x).numpy(), model(x).numpy(), rtol=1e-6)
    np.testing.assert_allclose(run.forward(x).numpy(), model(x).numpy(), rtol=1e-6)  # replayed
    with pytest.raises(RuntimeError, match="scalar"):
        run(x)


def test_retrace_false_raises_on_a_new_signature(rng):
    model = nn.Linear(3, 2)
    step = E.compile(lambda x: model(x).sum(), retrace=False)
    step(E.tensor(rng.standard_normal((4, 3)).astype(np.float32)))
    with pytest.raises(ValueError, match="retrace=False"):
        step(E.tensor(rng.standard_normal((5, 3)).astype(np.float32)))


def test_bad_functions(rng):
    x = E.tensor(rng.standard_normal(3))
    with pytest.raises(TypeError, match="Tensor"):
        E.compile(lambda t: 3.0)(x)
    with pytest.raises(ValueError, match="computed by engine ops"):
        E.compile(lambda t: E.tensor([1.0]))(x)


def test_labels_are_still_checked_on_replay(rng):
    model = nn.Linear(3, 4)
    step = E.compile(lambda x, y: cross_entropy(model(x), y))
    x = E.tensor(rng.standard_normal((2, 3)).astype(np.float32))
    step(x, E.tensor(np.array([0, 3])))
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        step(x, E.tensor(np.array([0, 4])))


def test_plans_are_bounded_least_recently_used_first(rng):
    model = nn.Linear(3, 2)
    step = E.compile(lambda x: model(x).sum())
    assert step.max_plans == 8
    for n in range(1, 21):  # 20 batch sizes: only the 8 last stay
        step(E.tensor(rng.standard_normal((n, 3)).astype(np.float32)))
    assert len(step.plans) == 8 and [k[0][0][0] for k in step.plans] == list(range(13, 21))

    small = E.compile(lambda x: model(x).sum(), max_plans=2)
    x = {n: E.tensor(rng.standard_normal((n, 3)).astype(np.float32)) for n in (1, 2, 3)}
    small(x[1]), small(x[2]), small(x[1]), small(x[3])  # 1 was used after 2: 2 goes
    assert [k[0][0][0] for k in small.plans] == [1, 3]
    eager = model(x[2]).sum().item()
    assert small(x[2]).item() == eager and [k[0][0][0] for k in small.plans] == [3, 2]  # traced again
    for bad in (0, -1, 2.0, True, None):
        with pytest.raises(ValueError, match="max_plans"):
            E.compile(lambda t: t.sum(), max_plans=bad)


class _Gate(graph.Function):
    """Doubles its input, holding it on the Function between saving and using it (as Functions hold what backward
    needs); on replay each call waits there until a second call is inside too, or `patience` seconds."""

    def __init__(self, patience):
        self.patience, self.replaying, self.calls_inside, self.both_inside = patience, False, 0, threading.Event()

    def forward(self, x):
        self.saved = x
        if self.replaying:
            self.calls_inside += 1
            if self.calls_inside == 2:
                self.both_inside.set()
            self.both_inside.wait(self.patience)
        return self.saved * 2


def test_one_compiled_step_called_from_two_threads_runs_one_call_at_a_time():
    gate = _Gate(patience=1.0)
    step = E.compile(lambda x: apply(gate, x))
    first, second = np.arange(3.0), np.arange(3.0) + 10
    step.forward(E.tensor(first))
    gate.replaying = True
    results = {}
    threads = [threading.Thread(target=lambda k=k, v=v: results.__setitem__(k, step.forward(E.tensor(v)).numpy()))
               for k, v in (("first", first), ("second", second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_array_equal(results["first"], first * 2)
    np.testing.assert_array_equal(results["second"], second * 2)
