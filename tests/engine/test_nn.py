"""engine.nn: Module bookkeeping, every layer's gradients (input and parameters) against finite
differences in float64, default initialisation, BatchNorm train vs eval, and PyTorch when installed."""
import math

import numpy as np
import pytest

import engine as E
from engine import nn
from tests.engine.gradients import assert_grads_match, weighted_sum

F64 = dict(dtype=np.float64)
LAYERS = [  # (layer, input shape)
    (lambda: nn.Conv1d(3, 4, 3, stride=2, padding=1, **F64), (2, 3, 9)),
    (lambda: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=1, groups=2, **F64), (2, 4, 7, 6)),
    (lambda: nn.Conv2d(2, 3, 3, dilation=2, bias=False, **F64), (1, 2, 7, 8)),
    (lambda: nn.Conv3d(2, 3, 2, stride=(1, 2, 1), padding=1, **F64), (1, 2, 4, 5, 3)),
    (lambda: nn.ConvTranspose1d(3, 2, 3, stride=2, padding=1, output_padding=1, **F64), (2, 3, 5)),
    (lambda: nn.ConvTranspose2d(4, 2, (3, 2), stride=2, groups=2, **F64), (1, 4, 3, 4)),
    (lambda: nn.ConvTranspose3d(2, 2, 2, stride=2, **F64), (1, 2, 2, 3, 2)),
    (lambda: nn.Linear(5, 3, **F64), (4, 5)),
    (lambda: nn.MaxPool1d(3, stride=2, padding=1), (2, 3, 9)),
    (lambda: nn.MaxPool2d(2, ceil_mode=True), (2, 2, 5, 7)),
    (lambda: nn.MaxPool3d(2, stride=(1, 2, 2)), (1, 2, 4, 5, 4)),
    (lambda: nn.AvgPool1d(3, stride=2, padding=1, count_include_pad=False), (2, 2, 8)),
    (lambda: nn.AvgPool2d(3, stride=2, padding=1), (2, 2, 7, 6)),
    (lambda: nn.AvgPool3d(2), (1, 2, 4, 4, 5)),
    (lambda: nn.BlurPool1d(3, 2), (2, 2, 9)),
    (lambda: nn.BlurPool2d(3, 2), (2, 3, 7, 6)),
    (lambda: nn.BlurPool2d(4, 2, max_pool=True), (1, 2, 8, 7)),
    (lambda: nn.BatchNorm1d(3, **F64), (5, 3)),
    (lambda: nn.BatchNorm1d(3, **F64), (4, 3, 6)),
    (lambda: nn.BatchNorm2d(3, **F64), (2, 3, 4, 3)),
    (lambda: nn.BatchNorm2d(3, affine=False, track_running_stats=False, **F64), (2, 3, 3, 3)),
    (lambda: nn.Flatten(), (2, 3, 4)),
    (lambda: nn.ReLU(), (3, 7)),
    (lambda: nn.Sigmoid(), (3, 7)),
    (lambda: nn.Tanh(), (3, 7)),
]


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("make,shape", LAYERS)
def test_layer_gradients_match_finite_differences(rng, make, shape, train):
    E.manual_seed(0)
    layer = make().train(train)
    x = E.tensor(rng.standard_normal(shape), requires_grad=True)
    if isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)) and layer.track_running_stats:
        layer.running_mean.data[...] = rng.standard_normal(shape[1])
        layer.running_var.data[...] = rng.random(shape[1]) + 0.5
        if layer.weight is not None:
            layer.weight.data[...] = rng.standard_normal(shape[1])
            layer.bias.data[...] = rng.standard_normal(shape[1])
    assert_grads_match(lambda: weighted_sum(layer(x)), [x] + list(layer.parameters()))


def test_sequential_model_gradients(rng):
    E.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, **F64), nn.BatchNorm2d(3, **F64), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(3, 4, 2, **F64), nn.Tanh(), nn.Flatten(), nn.Linear(16, 3, **F64))
    x = E.tensor(rng.standard_normal((3, 2, 6, 6)))
    labels = np.array([0, 2, 1])
    assert_grads_match(lambda: E.functional.cross_entropy(model(x), labels), list(model.parameters()), rtol=1e-5)


# --- Module bookkeeping -------------------------------------------------------------
class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.norm = nn.BatchNorm2d(2)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(8, 3))
        self.scale = 2.0  # a plain attribute: not a parameter

    def forward(self, x):
        return self.head(self.norm(self.conv(x)).relu()) * self.scale


def test_named_parameters_buffers_and_modules():
    block = Block()
    assert [n for n, _ in block.named_parameters()] == [
        "conv.weight", "conv.bias", "norm.weight", "norm.bias", "head.2.weight", "head.2.bias"]
    assert [n for n, _ in block.named_buffers()] == ["norm.running_mean", "norm.running_var"]
    assert [n for n, _ in block.named_modules()] == ["", "conv", "norm", "head", "head.0", "head.1", "head.2"]
    assert [type(m).__name__ for m in block.children()] == ["Conv2d", "BatchNorm2d", "Sequential"]
    assert sum(p.numel() for p in block.parameters()) == 2 * 9 + 2 + 2 + 2 + 8 * 3 + 3
    assert all(p.requires_grad for p in block.parameters())
    assert "Conv2d(1, 2" in repr(block) and "Dropout(p=0.5)" in repr(block)


def test_shared_layers_are_listed_once():
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.parameters())) == 2


def test_reassigning_and_deleting_attributes_updates_the_registry():
    block = Block()
    block.conv = nn.Conv2d(1, 2, 3, bias=False)
    assert "conv.bias" not in dict(block.named_parameters())
    del block.norm
    assert not any(n.startswith("norm") for n, _ in block.named_parameters())
    block.head = None
    assert "head" not in dict(block.named_children())


def test_module_init_must_come_first():
    class Broken(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(2, 2)
    with pytest.raises(AttributeError, match="Module.__init__"):
        Broken()


def test_train_eval_reach_every_submodule_and_dropout_obeys(rng):
    block = Block()
    assert all(m.training for m in block.modules())
    block.eval()
    assert not any(m.training for m in block.modules())
    x = E.tensor(rng.standard_normal((4, 1, 4, 4)).astype(np.float32))
    np.testing.assert_array_equal(block(x).numpy(), block(x).numpy())  # no dropout, running statistics
    block.train()
    assert all(m.training for m in block.modules())


def test_zero_grad_clears_every_parameter(rng):
    block = Block()
    block(E.tensor(rng.standard_normal((2, 1, 4, 4)).astype(np.float32))).sum().backward()
    assert all(p.grad is not None for p in block.parameters())
    block.zero_grad()
    assert all(p.grad is None for p in block.parameters())


def test_module_to_dtype_and_device():
    layer = nn.Linear(3, 2).to(np.float64)
    assert layer.weight.dtype == np.float64 and layer.weight.requires_grad
    assert layer.to("cpu") is layer


def test_sequential_indexing():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(model) == 3 and isinstance(model[1], nn.ReLU) and isinstance(model[-1], nn.Linear)
    assert len(model[:2]) == 2 and [type(m) for m in model] == [nn.Linear, nn.ReLU, nn.Linear]
    with pytest.raises(TypeError, match="argument 1"):
        nn.Sequential(nn.ReLU(), lambda x: x)


def test_layer_argument_errors():
    with pytest.raises(ValueError, match="groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="kernel_size"):
        nn.Conv2d(3, 4, (3, 3, 3))
    with pytest.raises(ValueError, match="probability"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="BatchNorm2d"):
        nn.BatchNorm2d(3)(E.tensor(np.ones((2, 3))))


# --- initialisation -----------------------------------------------------------------
@pytest.mark.parametrize("make,fan_in", [(lambda g: nn.Linear(50, 40, generator=g), 50),
                                         (lambda g: nn.Conv2d(6, 16, 5, generator=g), 150),
                                         (lambda g: nn.Conv1d(8, 4, 3, groups=2, generator=g), 12),
                                         (lambda g: nn.ConvTranspose2d(6, 4, 3, generator=g), 36)])
def test_default_init_is_pytorch_kaiming_uniform(make, fan_in):
    layer = make(np.random.default_rng(0))
    bound = 1 / math.sqrt(fan_in)
    for p in (layer.weight, layer.bias):
        values = p.numpy()
        assert p.dtype == np.float32 and np.abs(values).max() <= bound
        assert np.abs(values).max() > 0.8 * bound  # spread over the whole interval
    w = layer.weight.numpy()
    assert abs(w.std() - bound / math.sqrt(3)) < 0.2 * bound  # the std of U(-b, b)


def test_init_is_seedable():
    E.manual_seed(3)
    a = nn.Conv2d(2, 3, 3).weight.numpy()
    E.manual_seed(3)
    b = nn.Conv2d(2, 3, 3).weight.numpy()
    c = nn.Conv2d(2, 3, 3).weight.numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)
    g1, g2 = np.random.default_rng(7), np.random.default_rng(7)
    np.testing.assert_array_equal(nn.Linear(4, 4, generator=g1).weight.numpy(),
                                  nn.Linear(4, 4, generator=g2).weight.numpy())
    with pytest.raises(TypeError, match="Generator"):
        nn.Linear(2, 2, generator=7)


# --- BatchNorm train vs eval ----------------------------------------------------------
def test_batch_norm_train_updates_running_stats_and_eval_uses_them(rng):
    bn = nn.BatchNorm2d(3, momentum=0.5, dtype=np.float64)
    x = rng.standard_normal((4, 3, 5, 5)) * 3 + 2
    out = bn(E.tensor(x)).numpy()
    axes = (0, 2, 3)
    np.testing.assert_allclose(out.mean(axis=axes), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=axes), 1, atol=1e-5)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.5 * x.mean(axis=axes))
    np.testing.assert_allclose(bn.running_var.numpy(), 0.5 + 0.5 * x.var(axis=axes, ddof=1))
    bn.eval()
    before = bn.running_mean.numpy().copy()
    evaluated = bn(E.tensor(x)).numpy()
    np.testing.assert_array_equal(bn.running_mean.numpy(), before)
    expected = (x - before[None, :, None, None]) / np.sqrt(bn.running_var.numpy()[None, :, None, None] + 1e-5)
    np.testing.assert_allclose(evaluated, expected)


# --- PyTorch, when installed ------------------------------------------------------------
def _torch_pair(torch, ours, theirs, x):
    for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == tname
        tp.data = torch.from_numpy(p.numpy().copy())
    tx = torch.from_numpy(x.copy()).requires_grad_()
    ex = E.tensor(x, requires_grad=True)
    out_theirs, out_ours = theirs(tx), ours(ex)
    np.testing.assert_allclose(out_ours.numpy(), out_theirs.detach().numpy(), rtol=1e-9, atol=1e-12)
    weights = np.random.default_rng(0).standard_normal(out_ours.shape)
    (out_theirs * torch.from_numpy(weights)).sum().backward()
    (out_ours * E.tensor(weights)).sum().backward()
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["conv2d", "conv_transpose2d", "conv1d", "batchnorm2d", "linear", "maxpool", "avgpool"])
def test_layers_match_pytorch(rng, name):
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    pairs = {
        "conv2d": (nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2, **F64), tnn.Conv2d(4, 6, 3, 2, 1, groups=2).double(), (2, 4, 7, 8)),
        "conv_transpose2d": (nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1, **F64),
                             tnn.ConvTranspose2d(3, 4, 3, 2, 1, output_padding=1).double(), (2, 3, 4, 5)),
        "conv1d": (nn.Conv1d(2, 3, 5, padding=2, **F64), tnn.Conv1d(2, 3, 5, padding=2).double(), (3, 2, 11)),
        "batchnorm2d": (nn.BatchNorm2d(3, **F64), tnn.BatchNorm2d(3).double(), (4, 3, 5, 5)),
        "linear": (nn.Linear(7, 3, **F64), tnn.Linear(7, 3).double(), (5, 7)),
        "maxpool": (nn.MaxPool2d(3, 2, 1, ceil_mode=True), tnn.MaxPool2d(3, 2, 1, ceil_mode=True), (2, 2, 8, 7)),
        "avgpool": (nn.AvgPool2d(3, 2, 1, count_include_pad=False), tnn.AvgPool2d(3, 2, 1, count_include_pad=False), (2, 2, 8, 7)),
    }
    ours, theirs, shape = pairs[name]
    _torch_pair(torch, ours, theirs, rng.standard_normal(shape))
    if name == "batchnorm2d":
        np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(), rtol=1e-12)
