"""Gradient checks for the engine: backward against central finite differences in float64."""
import numpy as np

import engine as E
from tests.helpers import numerical_grad


def leaves(rng, *shapes):
    """float64 leaf tensors of standard-normal values, requiring grad."""
    return [E.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]


def weighted_sum(out, seed=0):
    """A scalar that depends on every element of `out` with a different random weight."""
    weights = np.random.default_rng(seed).standard_normal(out.shape)
    return (out * E.tensor(weights, dtype=out.dtype)).sum()


def assert_grads_match(f, tensors, rtol=1e-6, atol=1e-8, eps=1e-6):
    """f() -> scalar Tensor computed from `tensors` (float64 leaves or Parameters).

    Runs backward once, then perturbs each tensor's array in place for central
    differences and compares element by element.
    """
    for t in tensors:
        t.grad = None
    f().backward()
    for i, t in enumerate(tensors):
        assert t.grad is not None, f"input {i} got no gradient"
        assert t.grad.shape == t.shape and t.grad.dtype == t.dtype

        def value(_):
            with E.no_grad():
                return f().item()

        numeric = numerical_grad(value, t.data, eps)
        np.testing.assert_allclose(t.grad.numpy(), numeric, rtol=rtol, atol=atol, err_msg=f"input {i}")
