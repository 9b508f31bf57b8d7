"""Training-loop pieces of PyTorch scripts: AdamW, RMSprop, parameter groups, optimizer and scheduler state_dicts,
StepLR / MultiStepLR / CosineAnnealingLR / OneCycleLR, gradient clipping, TensorDataset / DataLoader over
datasets / random_split, and whole training state through save_checkpoint; against PyTorch when installed."""
import numpy as np
import pytest

import engine as E
from engine import nn, optim
from engine.optim import lr_scheduler

STEPS = 5


def _fit(make_optimizer, p0, grads, make_scheduler=None):
    """Parameter values after each step under fixed gradients, and the learning rates seen."""
    params = [nn.Parameter(p.copy()) for p in p0]
    opt = make_optimizer(params)
    scheduler = make_scheduler(opt) if make_scheduler else None
    history, rates = [], []
    for step_grads in grads:
        opt.zero_grad()
        for p, g in zip(params, step_grads):
            p.backward(g)
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        if scheduler:
            scheduler.step()
        history.append([p.numpy().copy() for p in params])
    return history, rates


def _torch_fit(torch, make_optimizer, p0, grads, make_scheduler=None):
    params = [torch.nn.Parameter(torch.from_numpy(p.copy())) for p in p0]
    opt = make_optimizer(params)
    scheduler = make_scheduler(opt) if make_scheduler else None
    history, rates = [], []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = torch.from_numpy(g.copy())
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        if scheduler:
            scheduler.step()
        history.append([p.detach().numpy().copy() for p in params])
    return history, rates


def _problem(rng):
    p0 = [rng.standard_normal((2, 3)), rng.standard_normal(4)]
    return p0, [[rng.standard_normal(p.shape) for p in p0] for _ in range(STEPS)]


def _groups(params, **second):
    return [{"params": params[:1]}, {"params": params[1:], **second}]


OPTIMIZERS = {  # name: (optimizer class name, positional-free kwargs, group overrides)
    "adamw": ("AdamW", dict(lr=0.01, weight_decay=0.1), {}),
    "adamw-groups": ("AdamW", dict(lr=0.01), dict(lr=0.05, weight_decay=0.0)),
    "rmsprop": ("RMSprop", dict(lr=0.01), {}),
    "rmsprop-all": ("RMSprop", dict(lr=0.01, alpha=0.9, weight_decay=0.1, momentum=0.8, centered=True), {}),
    "sgd-groups": ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=1e-2), dict(lr=0.01, nesterov=True)),
    "adam-groups": ("Adam", dict(lr=0.01, weight_decay=1e-2), dict(betas=(0.8, 0.9))),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizers_match_pytorch(name, rng):
    torch = pytest.importorskip("torch")
    cls, kwargs, second = OPTIMIZERS[name]
    p0, grads = _problem(rng)
    ours, _ = _fit(lambda ps: getattr(optim, cls)(_groups(ps, **second), **kwargs), p0, grads)
    theirs, _ = _torch_fit(torch, lambda ps: getattr(torch.optim, cls)(_groups(ps, **second), **kwargs), p0, grads)
    for a, b in zip(ours, theirs):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-14)


def test_adamw_and_rmsprop_by_hand(rng):
    p0, g = rng.standard_normal(3), rng.standard_normal(3)
    (after,), _ = _fit(lambda ps: optim.AdamW(ps, lr=0.1, weight_decay=0.5), [p0], [[g]])
    # the first Adam step moves by lr * sign(g) (m_hat / sqrt(v_hat) = g / |g|), after the decay
    np.testing.assert_allclose(after[0], p0 * (1 - 0.1 * 0.5) - 0.1 * g / (np.abs(g) + 1e-8), rtol=1e-12)
    (after,), _ = _fit(lambda ps: optim.RMSprop(ps, lr=0.1, alpha=0.5), [p0], [[g]])
    np.testing.assert_allclose(after[0], p0 - 0.1 * g / (np.sqrt(0.5 * g * g) + 1e-8), rtol=1e-12)


SCHEDULERS = {
    "step": lambda m, o: m.StepLR(o, step_size=2, gamma=0.5),
    "multistep": lambda m, o: m.MultiStepLR(o, milestones=[3, 1], gamma=0.3),
    "cosine": lambda m, o: m.CosineAnnealingLR(o, T_max=4, eta_min=0.01),
    "onecycle-sgd": lambda m, o: m.OneCycleLR(o, max_lr=0.5, total_steps=STEPS + 1),
    "onecycle-linear-3phase": lambda m, o: m.OneCycleLR(o, max_lr=[0.5, 0.2], epochs=2, steps_per_epoch=4,
                                                         anneal_strategy="linear", three_phase=True),
}


@pytest.mark.parametrize("name", SCHEDULERS)
@pytest.mark.parametrize("cls", ["SGD", "Adam"])
def test_schedulers_match_pytorch(name, cls, rng):
    torch = pytest.importorskip("torch")
    p0, grads = _problem(rng)
    kwargs = dict(lr=0.1, momentum=0.9) if cls == "SGD" else dict(lr=0.1)
    ours, our_rates = _fit(lambda ps: getattr(optim, cls)(_groups(ps), **kwargs), p0, grads,
                           lambda o: SCHEDULERS[name](lr_scheduler, o))
    theirs, their_rates = _torch_fit(torch, lambda ps: getattr(torch.optim, cls)(_groups(ps), **kwargs), p0, grads,
                                     lambda o: SCHEDULERS[name](torch.optim.lr_scheduler, o))
    np.testing.assert_allclose(our_rates, their_rates, rtol=1e-12)
    for a, b in zip(ours, theirs):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12)


def test_scheduler_errors():
    opt = optim.SGD([nn.Parameter(np.ones(2))], lr=0.1)
    with pytest.raises(ValueError, match="step_size"):
        lr_scheduler.StepLR(opt, 0)
    with pytest.raises(ValueError, match="total_steps"):
        lr_scheduler.OneCycleLR(opt, 0.1)
    with pytest.raises(ValueError, match="momentum or betas"):
        lr_scheduler.OneCycleLR(_NoMomentum(), 0.1, total_steps=4)
    one_cycle = lr_scheduler.OneCycleLR(opt, 0.1, total_steps=2)
    one_cycle.step()
    one_cycle.step()
    with pytest.raises(ValueError, match="past total_steps"):
        one_cycle.step()


class _NoMomentum:
    param_groups = [{"lr": 0.1}]


def test_optimizer_group_errors():
    p, q = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(3))
    with pytest.raises(ValueError, match="more than one"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(ValueError, match="unknown hyperparameters"):
        optim.Adam([{"params": [p], "momentum": 0.9}])
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD([{"params": [p]}, {"params": [q], "lr": -1.0}], lr=0.1)
    opt = optim.Adam([p])
    with pytest.raises(ValueError, match="do not match"):
        opt.load_state_dict(optim.Adam([{"params": [p]}, {"params": [q]}]).state_dict())


def test_clip_grad_norm_and_value_match_pytorch(rng):
    torch = pytest.importorskip("torch")
    grads = [rng.standard_normal((3, 4)) * 3, rng.standard_normal(5)]
    for norm_type, max_norm in ((2.0, 1.0), (1.0, 2.5), (float("inf"), 0.5), (2.0, 1e3)):
        ours = [nn.Parameter(np.zeros(g.shape)) for g in grads]
        theirs = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64)) for g in grads]
        for o, t, g in zip(ours, theirs, grads):
            o.backward(g.copy())
            t.grad = torch.from_numpy(g.copy())
        total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
        want = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
        np.testing.assert_allclose(total.item(), want.item(), rtol=1e-12)
        for o, t in zip(ours, theirs):
            np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-12)
    p = nn.Parameter(np.zeros(6))
    p.backward(np.linspace(-2, 2, 6))
    nn.utils.clip_grad_value_([p], 0.7)
    np.testing.assert_array_equal(p.grad.numpy(), np.clip(np.linspace(-2, 2, 6), -0.7, 0.7))
    with pytest.raises(RuntimeError, match="not finite"):
        q = nn.Parameter(np.zeros(2))
        q.backward(np.array([np.inf, 1.0]))
        nn.utils.clip_grad_norm_(q, 1.0, error_if_nonfinite=True)


def test_data_pieces(rng):
    x, y = rng.standard_normal((10, 3)).astype(np.float32), np.arange(10)
    dataset = E.data.TensorDataset(E.tensor(x), y)
    assert len(dataset) == 10 and np.array_equal(dataset[3][0], x[3])
    train, test = E.data.random_split(dataset, [0.7, 0.3], generator=np.random.default_rng(0))
    assert (len(train), len(test)) == (7, 3)
    assert sorted(np.concatenate([train.indices, test.indices]).tolist()) == list(range(10))
    seen = np.concatenate([yb.numpy() for _, yb in E.data.DataLoader(train, batch_size=3, shuffle=True)])
    assert sorted(seen.tolist()) == sorted(train.indices.tolist())
    assert len(E.data.DataLoader(train, batch_size=3, drop_last=True)) == 2
    assert len(E.data.random_split(range(5), [2, 3])[1]) == 3
    with pytest.raises(ValueError, match="summing"):
        E.data.random_split(dataset, [3, 3])
    with pytest.raises(ValueError, match="one length"):
        E.data.TensorDataset(x, y[:3])

    class Squares:  # any indexable dataset, items stacked field by field
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.full((2,), i, np.float32), i * i

    batches = list(E.data.DataLoader(Squares(), batch_size=2))
    assert len(batches) == 3 and batches[0][0].shape == (2, 2) and batches[-1][1].numpy().tolist() == [16]
    assert E.data.DataLoader(Squares()).batch_size == 1


def test_whole_training_state_round_trips(tmp_path, rng):
    E.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    opt = optim.SGD([{"params": model[0].parameters()}, {"params": list(model[1].parameters()) + list(
        model[3].parameters()), "lr": 0.05}], lr=0.1, momentum=0.9)
    scheduler = lr_scheduler.MultiStepLR(opt, [2, 4])
    x, labels = E.tensor(rng.standard_normal((6, 3)).astype(np.float32)), E.tensor(rng.integers(0, 2, 6))

    def train(steps, model, opt, scheduler):
        for _ in range(steps):
            opt.zero_grad()
            E.functional.cross_entropy(model(x), labels).backward()
            opt.step()
            scheduler.step()
        return model[3].weight.numpy().copy()

    train(3, model, opt, scheduler)
    E.save_checkpoint({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": scheduler.state_dict(),
                       "epoch": 3, "history": [0.5, 0.25]}, tmp_path / "run.npz")
    expected = train(3, model, opt, scheduler)

    E.manual_seed(1)
    again = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    opt2 = optim.SGD([{"params": again[0].parameters()}, {"params": list(again[1].parameters()) + list(
        again[3].parameters()), "lr": 0.05}], lr=0.1, momentum=0.9)
    scheduler2 = lr_scheduler.MultiStepLR(opt2, [2, 4])
    state = E.load_checkpoint(tmp_path / "run.npz")
    assert state["epoch"] == 3 and state["history"] == [0.5, 0.25]
    again.load_state_dict(state["model"])
    opt2.load_state_dict(state["optimizer"])
    scheduler2.load_state_dict(state["scheduler"])
    assert scheduler2.last_epoch == 3 and scheduler2.get_last_lr() == [0.1 * 0.1, 0.05 * 0.1]
    np.testing.assert_array_equal(train(3, again, opt2, scheduler2), expected)
    with pytest.raises(ValueError, match="checkpoint keys"):
        E.save_checkpoint({"a/b": 1}, tmp_path / "bad.npz")
    with pytest.raises(TypeError, match="arrays, numbers"):
        E.save_checkpoint({"name": "resnet"}, tmp_path / "bad.npz")
