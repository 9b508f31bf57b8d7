"""engine's p4 group convolution: functional.p4_conv2d and nn.P4Conv2d, gradients (input, weight, bias)
against finite differences in float64, and a p4 network that is invariant to 90-degree turns."""
import numpy as np
import pytest

import engine as E
import ops
from engine import functional as F
from engine import nn
from tests.engine.gradients import assert_grads_match, leaves, weighted_sum

CASES = [  # (x shape, weight shape, arguments): small, for element-wise finite differences
    ((1, 2, 5, 6), (2, 2, 3, 3), dict(stride=2, padding=1)),
    ((2, 1, 5, 5), (2, 1, 2, 2), dict(dilation=2)),
    ((1, 2, 4, 4, 5), (2, 2, 4, 3, 3), dict(padding=1)),
    ((1, 1, 4, 5, 5), (2, 1, 4, 2, 2), dict(stride=2, padding=(0, 1))),
]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_shape,w_shape,args", CASES)
def test_p4_conv2d_gradients(rng, x_shape, w_shape, args, bias):
    x, w, b = leaves(rng, x_shape, w_shape, (w_shape[0],))
    inputs = [x, w, b] if bias else [x, w]
    np.testing.assert_allclose(F.p4_conv2d(*inputs, **args).numpy(), ops.p4_conv2d(*[t.data for t in inputs], **args))
    assert_grads_match(lambda: weighted_sum(F.p4_conv2d(*inputs, **args)), inputs)


@pytest.mark.parametrize("lifting", [True, False])
def test_p4_layer_shapes_init_and_gradients(rng, lifting):
    layer = nn.P4Conv2d(2, 2, 3, padding=1, lifting=lifting, dtype=np.float64)
    assert layer.weight.shape == ((2, 2, 3, 3) if lifting else (2, 2, 4, 3, 3))
    bound = 1 / np.sqrt(2 * 9 * (1 if lifting else 4))  # PyTorch's default: U(+-1/sqrt(fan_in)), turns included
    assert np.abs(layer.weight.numpy()).max() <= bound and np.abs(layer.weight.numpy()).max() > bound / 2
    x = E.tensor(rng.standard_normal((1, 2, 5, 5) if lifting else (1, 2, 4, 4, 4)), requires_grad=True)
    assert layer(x).shape == ((1, 2, 4, 5, 5) if lifting else (1, 2, 4, 4, 4))
    assert_grads_match(lambda: weighted_sum(layer(x)), [x, layer.weight, layer.bias])
    assert "lifting=True" in repr(layer) if lifting else "lifting" not in repr(layer)


def test_p4_network_is_invariant_to_quarter_turns(rng):
    """lift - ReLU - max-pool 2 - group conv - mean over turns and space: the same logits for all four turns."""
    E.manual_seed(3)
    model = nn.Sequential(nn.P4Conv2d(1, 4, 3, padding=1, lifting=True), nn.ReLU(),
                          nn.P4Conv2d(4, 5, 3, padding=1))
    x = rng.standard_normal((3, 1, 8, 8)).astype(np.float32)
    with E.no_grad():
        features = [model(E.tensor(np.ascontiguousarray(np.rot90(x, t, axes=(-2, -1))))).mean(dim=(2, 3, 4)).numpy()
                    for t in range(4)]
    for turned in features[1:]:
        np.testing.assert_allclose(turned, features[0], rtol=1e-5, atol=1e-6)


def test_layer_argument_errors():
    with pytest.raises(ValueError, match="kernel_size must be a positive int"):
        nn.P4Conv2d(1, 2, (3, 2))
    with pytest.raises(ValueError, match="in_channels"):
        nn.P4Conv2d(0, 2, 3)


def test_compiled_step_and_save_load_carry_p4_layers(rng, tmp_path):
    """E.compile replays the p4 ops with eager's loss and gradients; the weights round-trip through E.save."""
    E.manual_seed(0)
    model = nn.Sequential(nn.P4Conv2d(1, 2, 3, padding=1, lifting=True), nn.ReLU(), nn.P4Conv2d(2, 2, 3, padding=1),
                          nn.Flatten(), nn.Linear(2 * 4 * 6 * 6, 3))
    x, y = E.tensor(rng.standard_normal((4, 1, 6, 6)).astype(np.float32)), E.tensor(np.arange(4) % 3)
    loss = E.functional.cross_entropy(model(x), y)
    loss.backward()
    eager = [p.grad.numpy().copy() for p in model.parameters()]
    step = E.compile(lambda xb, yb: E.functional.cross_entropy(model(xb), yb))
    for _ in range(2):  # the first call traces, the second replays
        model.zero_grad()
        compiled = step(x, y)
    assert compiled.item() == loss.item()
    for grad, p in zip(eager, model.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), grad, rtol=1e-6, atol=1e-7)
    E.save(model.state_dict(), tmp_path / "p4.npz")
    restored = nn.Sequential(nn.P4Conv2d(1, 2, 3, padding=1, lifting=True), nn.ReLU(), nn.P4Conv2d(2, 2, 3, padding=1),
                             nn.Flatten(), nn.Linear(2 * 4 * 6 * 6, 3))
    restored.load_state_dict(E.load(tmp_path / "p4.npz"))
    with E.no_grad():
        np.testing.assert_array_equal(restored(x).numpy(), model(x).numpy())
