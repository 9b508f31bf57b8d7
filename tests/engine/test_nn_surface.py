"""Modules PyTorch scripts reach for after LeNet: containers, Identity, activations, BatchNorm3d and the loss
modules (cross-entropy with weight / ignore_index / label_smoothing, MSE, L1, BCE with logits); gradients
against finite differences in float64 and values against PyTorch when installed."""
import numpy as np
import pytest

import engine as E
from engine import functional as F
from engine import nn
from tests.engine.gradients import assert_grads_match, leaves, weighted_sum

F64 = dict(dtype=np.float64)
ACTIVATIONS = {
    "LeakyReLU": (lambda: nn.LeakyReLU(0.2, inplace=True), "LeakyReLU", dict(negative_slope=0.2)),
    "GELU": (lambda: nn.GELU(), "GELU", {}),
    "GELU-tanh": (lambda: nn.GELU(approximate="tanh"), "GELU", dict(approximate="tanh")),
    "SiLU": (lambda: nn.SiLU(), "SiLU", {}),
    "ReLU6": (lambda: nn.ReLU6(inplace=True), "ReLU6", {}),
    "ReLU-inplace": (lambda: nn.ReLU(inplace=True), "ReLU", {}),
    "Softmax": (lambda: nn.Softmax(dim=1), "Softmax", dict(dim=1)),
    "Identity": (lambda: nn.Identity(3, unused=True), "Identity", {}),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_gradients(name, rng):
    layer = ACTIVATIONS[name][0]()
    (x,) = leaves(rng, (3, 4, 2))
    x.data *= 4  # reach past ReLU6's upper bound too
    assert_grads_match(lambda: weighted_sum(layer(x)), [x])


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations_match_pytorch(name, rng):
    torch = pytest.importorskip("torch")
    make, torch_name, kwargs = ACTIVATIONS[name]
    x = (rng.standard_normal((3, 4, 2)) * 4).astype(np.float32)
    ours = make()(E.tensor(x)).numpy()
    theirs = getattr(torch.nn, torch_name)(**kwargs)(torch.tensor(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_module_list_and_dict_register_their_modules():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(3, 3) for _ in range(2)])
            self.blocks.append(nn.Linear(3, 2))
            self.heads = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.Identity()})

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return self.heads["a"](self.heads["b"](x))

    net = Net()
    names = [name for name, _ in net.named_parameters()]
    assert names == ["blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "blocks.1.bias", "blocks.2.weight",
                     "blocks.2.bias", "heads.a.weight", "heads.a.bias"]
    assert len(net.blocks) == 3 and len(net.blocks[:2]) == 2 and isinstance(net.blocks[-1], nn.Linear)
    assert list(net.heads) == ["a", "b"] and "a" in net.heads and len(net.heads) == 2
    assert net(E.tensor(np.ones((4, 3), np.float32))).shape == (4, 1)
    net.blocks[0] = nn.Linear(3, 3)
    assert len(net.blocks) == 3
    with pytest.raises(TypeError, match="Modules"):
        nn.ModuleList([nn.Linear(1, 1), "relu"])
    with pytest.raises(ValueError, match="identifiers"):
        nn.ModuleDict({"a.b": nn.Identity()})
    with pytest.raises(ValueError, match="hide a method"):
        nn.ModuleDict({"forward": nn.Identity()})


def test_batchnorm3d_gradients_and_shape_check(rng):
    layer = nn.BatchNorm3d(2, **F64)
    (x,) = leaves(rng, (2, 2, 3, 2, 2))
    assert_grads_match(lambda: weighted_sum(layer(x)), [x, layer.weight, layer.bias])
    with pytest.raises(ValueError, match="5 dims"):
        layer(E.tensor(np.ones((2, 2, 3))))


LOSSES = {  # name: (our module, torch class name, kwargs, float targets?)
    "ce": (nn.CrossEntropyLoss, "CrossEntropyLoss", {}, False),
    "ce-weight": (nn.CrossEntropyLoss, "CrossEntropyLoss", dict(weight=[0.5, 2.0, 1.0, 0.3]), False),
    "ce-ignore": (nn.CrossEntropyLoss, "CrossEntropyLoss", dict(ignore_index=1), False),
    "ce-smooth": (nn.CrossEntropyLoss, "CrossEntropyLoss", dict(label_smoothing=0.1), False),
    "ce-all-sum": (nn.CrossEntropyLoss, "CrossEntropyLoss",
                   dict(weight=[0.5, 2.0, 1.0, 0.3], ignore_index=2, label_smoothing=0.2, reduction="sum"), False),
    "ce-all-none": (nn.CrossEntropyLoss, "CrossEntropyLoss",
                    dict(weight=[0.5, 2.0, 1.0, 0.3], ignore_index=0, label_smoothing=0.3, reduction="none"), False),
    "mse": (nn.MSELoss, "MSELoss", {}, True),
    "l1": (nn.L1Loss, "L1Loss", {}, True),
    "l1-sum": (nn.L1Loss, "L1Loss", dict(reduction="sum"), True),
    "bce": (nn.BCEWithLogitsLoss, "BCEWithLogitsLoss", {}, True),
    "bce-pos-weight": (nn.BCEWithLogitsLoss, "BCEWithLogitsLoss", dict(pos_weight=[2.0, 0.5, 1.0, 3.0]), True),
}


def _loss_inputs(rng, float_target, dtype=np.float64):
    logits = rng.standard_normal((6, 4)) * 3
    target = rng.uniform(0, 1, (6, 4)) if float_target else np.array([0, 1, 2, 3, 1, 2])
    return logits.astype(dtype), target.astype(dtype) if float_target else target


def _ours(kwargs, dtype):
    return {k: E.tensor(np.array(v, dtype)) if k in ("weight", "pos_weight") else v for k, v in kwargs.items()}


@pytest.mark.parametrize("name", LOSSES)
def test_loss_gradients(name, rng):
    cls, _, kwargs, float_target = LOSSES[name]
    logits, target = _loss_inputs(rng, float_target)
    loss = cls(**_ours(kwargs, np.float64))
    (x,) = [E.tensor(logits, requires_grad=True)]
    assert_grads_match(lambda: weighted_sum(loss(x, E.tensor(target))), [x])


@pytest.mark.parametrize("name", LOSSES)
def test_losses_match_pytorch(name, rng):
    torch = pytest.importorskip("torch")
    cls, torch_name, kwargs, float_target = LOSSES[name]
    logits, target = _loss_inputs(rng, float_target)
    x = E.tensor(logits, requires_grad=True)
    ours = cls(**_ours(kwargs, np.float64))(x, E.tensor(target))
    px = torch.tensor(logits, requires_grad=True)
    theirs_kwargs = {k: torch.tensor(v, dtype=torch.float64) if k in ("weight", "pos_weight") else v
                     for k, v in kwargs.items()}
    theirs = getattr(torch.nn, torch_name)(**theirs_kwargs)(px, torch.tensor(target))
    weights = rng.standard_normal(ours.shape)
    (ours * E.tensor(weights)).sum().backward()
    (theirs * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), px.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_cross_entropy_checks_its_arguments(rng):
    logits = E.tensor(rng.standard_normal((3, 4)))
    with pytest.raises(ValueError, match="ignore_index"):
        F.cross_entropy(logits, E.tensor([0, 7, 1]), label_smoothing=0.1)
    with pytest.raises(ValueError, match="weight must have shape"):
        F.cross_entropy(logits, E.tensor([0, 1, 1]), weight=E.tensor(np.ones(3)))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(logits, E.tensor([0, 1, 1]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="reduction"):
        nn.L1Loss(reduction="avg")
    assert F.cross_entropy(logits, E.tensor([0, 1, 1]), "sum").shape == ()  # reduction by position still works
