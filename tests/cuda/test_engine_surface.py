"""The ops added for PyTorch-style scripts on device="cuda" against the CPU: tensor ops, activations,
losses, padding, interpolation and adaptive pooling, forward and backward (simulator-sized shapes)."""
import numpy as np
import pytest

import engine as E
from engine import functional as F
from tests.cuda.test_engine import _grad, _labels, assert_matches_the_cpu
from tests.helpers import assert_close

pytestmark = pytest.mark.cuda

CASES = {
    "cat-stack": (lambda a, b: E.cat([a, b], dim=1)[:, 1:4] * E.stack([a, a * 2], dim=1).sum(dim=1),
                  [_grad((2, 3)), _grad((2, 2))]),
    "max-clamp-sqrt": (lambda a: a.amax(dim=1, keepdim=True) + a.clamp(-0.3, 0.4) + (a * a + 1).sqrt() + a.abs(),
                       [_grad((2, 4))]),
    "activations": (lambda a: F.leaky_relu(a, 0.1) + F.gelu(a) + F.silu(a) + F.relu6(a * 4), [_grad((3, 4))]),
    "cross_entropy-options": (lambda logits, labels: F.cross_entropy(logits, labels, weight=E.tensor(
        np.array([0.5, 2.0, 1.0]), device=logits.device), ignore_index=1, label_smoothing=0.1),
        [_grad((4, 3)), _labels(4, 3)]),
    "bce-l1": (lambda a, b: F.binary_cross_entropy_with_logits(a, b.sigmoid()) + F.l1_loss(a, b),
               [_grad((3, 2)), _grad((3, 2))]),
    "pad-modes": (lambda x: F.pad(x, (1, 2, 2, 0), "reflect").sum() + F.pad(x, (1, 1, 0, 1), "circular").sum()
                  + F.pad(x, (2, 0), "replicate").sum() + (F.pad(x, (1, 1, 1, 1), value=0.5) ** 2).sum(),
                  [_grad((1, 2, 3, 3))]),
    "interpolate": (lambda x: F.interpolate(x, scale_factor=2).sum(dim=(2, 3)) + F.interpolate(
        x, size=(4, 5), mode="bilinear").sum(dim=(2, 3)), [_grad((1, 2, 2, 3))]),
    "adaptive-pools": (lambda x: F.adaptive_avg_pool2d(x, (2, 1)).sum(dim=(2, 3)) + F.adaptive_max_pool2d(
        x, 2).sum(dim=(2, 3)), [_grad((1, 2, 3, 5))]),
}


@pytest.mark.parametrize("case", CASES)
def test_each_op_on_cuda_matches_the_cpu(case, rng):
    assert_matches_the_cpu(*CASES[case], rng)


def test_full_reductions_stay_0_d_and_comparisons_count(rng):
    a = E.tensor(rng.standard_normal((3, 2)), device="cuda")
    assert a.mean().shape == () and a.sum().shape == () and (a.mean() * 2 + 1).shape == ()
    labels, predicted = E.tensor([1, 2, 3, 4], device="cuda"), E.tensor([1, 0, 3, 4], device="cuda")
    assert (labels == predicted).dtype == np.bool_ and (labels == predicted).sum().item() == 3
    assert (labels != predicted).numpy().tolist() == [False, True, False, False]


def _steps(device, make_optimizer, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    E.manual_seed(3)
    model = E.nn.Sequential(E.nn.Conv2d(1, 2, 3, padding="same", padding_mode="reflect", dtype=np.float64),
                            E.nn.BatchNorm2d(2, dtype=np.float64), E.nn.ReLU(), E.nn.AdaptiveAvgPool2d(1),
                            E.nn.Flatten(), E.nn.Linear(2, 3, dtype=np.float64)).to(device)
    opt = make_optimizer(model.parameters())
    x = E.tensor(rng.standard_normal((2, 1, 4, 4)), device=device)
    labels = E.tensor(rng.integers(0, 3, 2), device=device)
    for _ in range(2):
        opt.zero_grad()
        E.functional.cross_entropy(model(x), labels, label_smoothing=0.1).backward()
        E.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        E.nn.utils.clip_grad_value_(model.parameters(), 0.2)
        opt.step()
    return [p.numpy() for p in model.parameters()]


@pytest.mark.parametrize("make_optimizer", [lambda ps: E.optim.AdamW(ps, lr=0.01),
                                            lambda ps: E.optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True,
                                                                       weight_decay=0.1)])
def test_optimizers_and_clipping_on_cuda_match_the_cpu(make_optimizer):
    for got, want in zip(_steps("cuda", make_optimizer), _steps("cpu", make_optimizer)):
        assert_close(got, want, np.float64, scale=100)  # Adam's g / sqrt(v) magnifies rounding of small gradients


def test_cpu_and_cuda_methods_move_tensors(rng):
    t = E.tensor(rng.standard_normal(3))
    on_gpu = t.cuda()
    assert t.cpu() is t and on_gpu.device == "cuda" and on_gpu.cuda() is on_gpu
    assert np.array_equal(on_gpu.cpu().numpy(), t.numpy())


def test_a_dataset_of_cuda_tensors_loads_onto_cuda(rng):
    x, y = rng.standard_normal((5, 2)), np.arange(5)
    dataset = E.data.TensorDataset(E.tensor(x, device="cuda"), E.tensor(y, device="cuda"))
    train, _ = E.data.random_split(dataset, [3, 2])
    for loader in (E.data.DataLoader(dataset, batch_size=2), E.data.DataLoader(train, batch_size=2, shuffle=True)):
        xb, yb = next(iter(loader))
        assert xb.device == "cuda" and yb.device == "cuda" and xb.shape == (2, 2)
    assert E.data.DataLoader(dataset, batch_size=2, device="cpu").device.name == "cpu"
