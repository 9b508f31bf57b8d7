"""Tensor ops PyTorch scripts use: cat, stack, squeeze/unsqueeze, max/amax/argmax with dim and keepdim,
clamp, sqrt, abs, base ** tensor, size(); gradients against finite differences in float64, values against
NumPy (and PyTorch when installed)."""
import numpy as np
import pytest

import engine as E
from tests.engine.gradients import assert_grads_match, leaves, weighted_sum

GRAD_CASES = {  # name: (function of leaves -> tensor, leaf shapes)
    "cat-dim1": (lambda a, b: E.cat([a, b, a], dim=1), [(2, 3, 4), (2, 1, 4)]),
    "cat-negative-dim": (lambda a, b: E.cat((a, b), dim=-1), [(3, 2), (3, 5)]),
    "stack": (lambda a, b: E.stack([a, b * 2], dim=-1), [(2, 3), (2, 3)]),
    "squeeze-unsqueeze": (lambda a: a.unsqueeze(0).unsqueeze(-1).squeeze(0) * a.squeeze(1).unsqueeze(1).unsqueeze(-1),
                          [(3, 1, 4)]),
    "max-dim": (lambda a: a.max(dim=1).values + a.max(dim=-1, keepdim=True)[0], [(3, 4)]),
    "amax-tuple": (lambda a: a.amax(dim=(0, 2)), [(2, 3, 4)]),
    "max-all": (lambda a: a.max() * a, [(2, 5)]),
    "clamp": (lambda a: a.clamp(-0.5, 0.7) + a.clamp(min=0.1) * a.clamp(max=-0.2), [(4, 5)]),
    "sqrt-abs": (lambda a: (a * a + 0.3).sqrt() + a.abs(), [(3, 4)]),
    "rpow-pow": (lambda a: 2.0 ** a + a ** 2, [(6,)]),
    "getitem-slices": (lambda a: a[:, 1:3] * a[:, ::2][:, :2] + a[-1, 1:3], [(3, 5)]),
}


@pytest.mark.parametrize("case", GRAD_CASES)
def test_gradients_match_finite_differences(case, rng):
    fn, shapes = GRAD_CASES[case]
    tensors = leaves(rng, *shapes)
    assert_grads_match(lambda: weighted_sum(fn(*tensors)), tensors)


def test_values_match_numpy(rng):
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 2, 4))
    ta, tb = E.tensor(a), E.tensor(b)
    assert np.array_equal(E.cat([ta, tb], 1).numpy(), np.concatenate([a, b], 1))
    assert np.array_equal(E.stack([ta, ta], 1).numpy(), np.stack([a, a], 1))
    values, indices = ta.max(dim=2)
    assert np.array_equal(values.numpy(), a.max(2)) and np.array_equal(indices.numpy(), a.argmax(2))
    assert ta.argmax(1, keepdim=True).shape == (2, 1, 4) and ta.argmax().item() == a.argmax()
    assert ta.size() == (2, 3, 4) and ta.size(-1) == 4 and ta.numel() == 24
    assert ta.unsqueeze(-1).shape == (2, 3, 4, 1) and ta.unsqueeze(0).squeeze().shape == (2, 3, 4)
    assert np.array_equal(ta.clamp(-0.1, 0.2).numpy(), np.clip(a, -0.1, 0.2))


def test_comparisons_give_bool_tensors_and_tensors_stay_hashable():
    a, b = E.tensor([1, 2, 3]), E.tensor([1, 0, 3])
    assert (a == b).dtype == np.bool_ and (a == b).numpy().tolist() == [True, False, True]
    assert (a != b).numpy().tolist() == [False, True, False] and (a == b).sum().item() == 2
    assert (E.tensor([1.5, 2.0]) == 2.0).numpy().tolist() == [False, True]
    assert {a: 1}[a] == 1 and bool(E.tensor([3.0]) == 3.0)
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(a == b)


def test_max_shares_the_gradient_between_ties():
    x = E.tensor(np.array([[1.0, 3.0, 3.0], [2.0, 0.5, -1.0]]), requires_grad=True)
    x.amax(dim=1).sum().backward()
    assert np.array_equal(x.grad.numpy(), [[0, 0.5, 0.5], [1, 0, 0]])


def test_bad_arguments_are_clear_errors(rng):
    a = E.tensor(rng.standard_normal((2, 3)))
    with pytest.raises(ValueError, match="all dims but 1"):
        E.cat([a, E.tensor(rng.standard_normal((3, 3)))], dim=1)
    with pytest.raises(TypeError, match="float32"):
        E.cat([a, a.to(np.float32)])
    with pytest.raises(TypeError, match="sequence of Tensors"):
        E.cat([])
    with pytest.raises(ValueError, match="one shape"):
        E.stack([a, a[:1]])
    with pytest.raises(ValueError, match="out of range"):
        a.unsqueeze(4)
    with pytest.raises(ValueError, match="at least one"):
        a.clamp()
    with pytest.raises(ValueError, match="positive base"):
        (-2.0) ** a


def test_tensor_ops_match_pytorch(rng):
    torch = pytest.importorskip("torch")
    a = rng.standard_normal((3, 4, 5)).astype(np.float32)
    ta, pa = E.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    ours = E.cat([ta.amax(dim=1, keepdim=True).clamp(-0.2, 0.9), (ta * ta + 1).sqrt()], dim=1).sum(dim=2)
    theirs = torch.cat([pa.amax(dim=1, keepdim=True).clamp(-0.2, 0.9), (pa * pa + 1).sqrt()], dim=1).sum(dim=2)
    weights = rng.standard_normal(ours.shape).astype(np.float32)
    (ours * E.tensor(weights)).sum().backward()
    (theirs * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ta.grad.numpy(), pa.grad.numpy(), rtol=1e-5, atol=1e-6)
