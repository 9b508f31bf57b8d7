"""CUDA elementwise ops, reductions and optimizer updates against NumPy formulas (and PyTorch where installed)."""
import numpy as np
import pytest

from ops.cuda import arrays
from ops.cuda import elementwise as ew
from ops.cuda.indexing import ARGMAX, MAX
from tests.helpers import assert_close, numerical_grad

pytestmark = pytest.mark.cuda

DTYPES = [np.float32, np.float64]


def _log_softmax(x):
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


@pytest.mark.parametrize("dtype", DTYPES)
def test_bias_add_and_relu(dtype, rng, dev):
    x = rng.standard_normal((2, 3, 4, 5)).astype(dtype)
    bias = rng.standard_normal(3).astype(dtype)
    assert_close(ew.bias_add(dev(x), dev(bias)).copy_to_host(), x + bias.reshape(1, 3, 1, 1), dtype)
    in_place = dev(x)
    assert ew.bias_add(in_place, dev(bias), out=in_place) is in_place
    assert_close(in_place.copy_to_host(), x + bias.reshape(1, 3, 1, 1), dtype)

    x[0, 0, 0, :2] = [0.0, np.nan]
    out = ew.relu(dev(x)).copy_to_host()
    np.testing.assert_array_equal(out, np.where(x > 0, x, np.where(np.isnan(x), x, 0)))
    grad_out = rng.standard_normal(x.shape).astype(dtype)
    np.testing.assert_array_equal(ew.relu_grad_input(dev(grad_out), dev(x)).copy_to_host(), np.where(x > 0, grad_out, 0))


def test_bias_add_checks_the_bias_shape(dev):
    with pytest.raises(ValueError, match="bias of shape"):
        ew.bias_add(dev(np.zeros((2, 3, 4), np.float32)), dev(np.zeros(4, np.float32)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_log_softmax_and_gradients(dtype, rng, dev):
    x = (rng.standard_normal((5, 7)) * 4 + 50).astype(dtype)     # large logits: must not overflow
    expected = _log_softmax(x.astype(np.float64))
    log_out = ew.log_softmax(dev(x))
    out = ew.softmax(dev(x))
    assert_close(log_out.copy_to_host(), expected, dtype)
    assert_close(out.copy_to_host(), np.exp(expected), dtype)

    grad_out = rng.standard_normal(x.shape).astype(dtype)
    softmax = np.exp(expected)
    expected_log_grad = grad_out - softmax * grad_out.sum(axis=1, keepdims=True)
    expected_grad = softmax * (grad_out - (grad_out * softmax).sum(axis=1, keepdims=True))
    assert_close(ew.log_softmax_grad_input(dev(grad_out), log_out).copy_to_host(), expected_log_grad, dtype)
    assert_close(ew.softmax_grad_input(dev(grad_out), out).copy_to_host(), expected_grad, dtype)


def test_softmax_gradient_matches_finite_differences(rng, dev):
    x = rng.standard_normal((2, 3))
    weights = rng.standard_normal(x.shape)
    numeric = numerical_grad(lambda v: float((weights * np.exp(_log_softmax(v))).sum()), x.copy())
    analytic = ew.softmax_grad_input(dev(weights), ew.softmax(dev(x))).copy_to_host()
    assert_close(analytic, numeric, scale=1e4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_and_gradient(dtype, rng, dev):
    logits = (rng.standard_normal((6, 5)) * 3).astype(dtype)
    labels = rng.integers(0, 5, 6)
    log_probs = _log_softmax(logits.astype(np.float64))
    loss = ew.cross_entropy(dev(logits), dev(labels))
    assert tuple(loss.shape) == ()
    assert_close(loss.copy_to_host(), -log_probs[np.arange(6), labels].mean(), dtype)

    expected = (np.exp(log_probs) - np.eye(5)[labels]) / 6
    assert_close(ew.cross_entropy_grad_input(dev(logits), dev(labels)).copy_to_host(), expected, dtype)
    grad_loss = np.array([2.5], dtype)
    assert_close(ew.cross_entropy_grad_input(dev(logits), dev(labels), dev(grad_loss)).copy_to_host(), 2.5 * expected, dtype)

    numeric = numerical_grad(lambda v: -_log_softmax(v)[np.arange(6), labels].mean(), logits.astype(np.float64))
    assert_close(ew.cross_entropy_grad_input(dev(logits.astype(np.float64)), dev(labels)).copy_to_host(), numeric,
                 scale=1e4)


@pytest.mark.parametrize("reduction", ["sum", "none"])
def test_cross_entropy_sum_and_none(reduction, rng, dev):
    logits = rng.standard_normal((4, 3))
    labels = rng.integers(0, 3, 4)
    losses = -_log_softmax(logits)[np.arange(4), labels]
    loss = ew.cross_entropy(dev(logits), dev(labels), reduction)
    assert_close(loss.copy_to_host(), losses.sum() if reduction == "sum" else losses)
    grad_loss = rng.standard_normal(() if reduction == "sum" else 4)
    expected = (np.exp(_log_softmax(logits)) - np.eye(3)[labels]) * (grad_loss if reduction == "sum" else grad_loss[:, None])
    assert_close(ew.cross_entropy_grad_input(dev(logits), dev(labels), dev(np.asarray(grad_loss)), reduction).copy_to_host(),
                 expected)


def test_cross_entropy_with_a_bad_label_is_nan_and_bad_shapes_raise(rng, dev):
    logits = rng.standard_normal((3, 4)).astype(np.float32)
    assert np.isnan(ew.cross_entropy(dev(logits), dev(np.array([0, 4, 1]))).copy_to_host())
    with pytest.raises(ValueError, match="labels must be integers"):
        ew.cross_entropy(dev(logits), dev(np.array([0.0, 1.0, 2.0], np.float32)))
    with pytest.raises(ValueError, match=r"\(N, classes\)"):
        ew.log_softmax(dev(logits.reshape(3, 2, 2)))


@pytest.mark.parametrize("axes", [None, 0, (0, 2, 3), (1,), (-1, 0), 3])
@pytest.mark.parametrize("keepdims", [False, True])
def test_sum_over_axes(axes, keepdims, rng, dev):
    x = rng.standard_normal((3, 4, 2, 5)).astype(np.float32)
    out = ew.sum_axes(dev(x), axes, keepdims)
    expected = x.sum(axis=axes, keepdims=keepdims)
    assert tuple(out.shape) == expected.shape
    assert_close(out.copy_to_host(), expected)


def test_sum_of_more_terms_than_lanes(rng, dev):
    """Each lane of a row sums many terms before the tree sum (2,100 terms over 32 lanes)."""
    x = rng.standard_normal((3, 700, 2))
    assert_close(ew.sum_axes(dev(x), (0, 1)).copy_to_host(), x.sum(axis=(0, 1)))


def test_max_and_argmax_over_many_terms(rng, dev):
    """Maxima found by different lanes meet in the tree: the first occurrence and the first NaN win."""
    x = rng.standard_normal((3, 300))
    x[0, [250, 37]] = 9.0
    x[1, [100, 20]] = np.nan
    x[2, [299, 298]] = 9.0
    positions = ew.reduce_axes(ARGMAX, dev(x), 1)
    np.testing.assert_array_equal(positions.copy_to_host(), [37, 20, 298])
    np.testing.assert_array_equal(ew.reduce_axes(MAX, dev(x), 1).copy_to_host(), x.max(axis=1))
    assert ew.reduce_axes(ARGMAX, dev(x)).copy_to_host() == np.argmax(x)
    with pytest.raises(ValueError, match="empty"):
        ew.reduce_axes(MAX, dev(np.zeros((2, 0))), 1)


def test_sum_rejects_bad_axes(dev):
    x = dev(np.zeros((2, 3), np.float32))
    for axes in [(0, 0), 2, (-3,)]:
        with pytest.raises(ValueError, match="axes"):
            ew.sum_axes(x, axes)


def _sgd_reference(param, grad, velocity, lr, momentum, dampening, weight_decay, nesterov, first_step):
    step = grad + weight_decay * param
    if momentum:
        velocity = step.copy() if first_step else momentum * velocity + (1 - dampening) * step
        step = step + momentum * velocity if nesterov else velocity
    return param - lr * step, velocity


@pytest.mark.parametrize("momentum, dampening, weight_decay, nesterov", [
    (0.0, 0.0, 0.0, False), (0.9, 0.0, 1e-2, False), (0.9, 0.0, 0.0, True), (0.8, 0.3, 1e-3, False)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_update(momentum, dampening, weight_decay, nesterov, dtype, rng, dev):
    param = rng.standard_normal((3, 5)).astype(dtype)
    velocity = np.zeros_like(param)
    d_param, d_velocity = dev(param), dev(velocity)
    for step in range(3):
        grad = rng.standard_normal(param.shape).astype(dtype)
        ew.sgd_update(d_param, dev(grad), 0.1, d_velocity if momentum else None, momentum, dampening, weight_decay,
                      nesterov, first_step=step == 0)
        param, velocity = _sgd_reference(param, grad, velocity, 0.1, momentum, dampening, weight_decay, nesterov,
                                         step == 0)
    assert_close(d_param.copy_to_host(), param, dtype)
    if momentum:
        assert_close(d_velocity.copy_to_host(), velocity, dtype)


def test_sgd_momentum_needs_a_velocity(dev):
    with pytest.raises(ValueError, match="velocity"):
        ew.sgd_update(dev(np.ones(3)), dev(np.ones(3)), 0.1, momentum=0.9)


@pytest.mark.parametrize("weight_decay", [0.0, 1e-2])
@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_update(weight_decay, dtype, rng, dev):
    lr, beta1, beta2, eps = 1e-2, 0.9, 0.99, 1e-8
    param = rng.standard_normal(7).astype(dtype)
    m, v = np.zeros_like(param), np.zeros_like(param)
    d_param, d_m, d_v = dev(param), dev(m), dev(v)
    expected = param.astype(np.float64)
    for step in range(1, 4):
        grad = rng.standard_normal(param.shape).astype(dtype)
        ew.adam_update(d_param, dev(grad), d_m, d_v, step, lr, beta1, beta2, eps, weight_decay)
        g = grad + weight_decay * expected
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        expected = expected - lr / (1 - beta1 ** step) * m / (np.sqrt(v) / np.sqrt(1 - beta2 ** step) + eps)
    assert_close(d_param.copy_to_host(), expected, dtype)
    with pytest.raises(ValueError, match="step"):
        ew.adam_update(d_param, dev(grad), d_m, d_v, 0)


def test_optimizers_match_pytorch(rng, dev):
    torch = pytest.importorskip("torch")
    start = rng.standard_normal((4, 3))
    grads = [rng.standard_normal(start.shape) for _ in range(3)]
    for name, make in [("sgd", lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2)),
                       ("adam", lambda p: torch.optim.Adam([p], lr=1e-2, betas=(0.8, 0.95), weight_decay=1e-2))]:
        p = torch.tensor(start, requires_grad=True)
        opt = make(p)
        d_param, buffers = dev(start), [arrays.full(start.shape, 0.0, np.float64) for _ in range(2)]
        for step, grad in enumerate(grads, 1):
            p.grad = torch.tensor(grad)
            opt.step()
            if name == "sgd":
                ew.sgd_update(d_param, dev(grad), 0.1, buffers[0], 0.9, 0.0, 1e-2, True, first_step=step == 1)
            else:
                ew.adam_update(d_param, dev(grad), *buffers, step, 1e-2, 0.8, 0.95, 1e-8, 1e-2)
        assert_close(d_param.copy_to_host(), p.detach().numpy())
