"""A whole training step of a small CNN on device arrays only: conv, bias, ReLU, max-pool, linear,
cross-entropy, every gradient and the SGD update, with no host copy between them, against NumPy."""
import numpy as np
import pytest

import ops
from ops import reference, shapes
from ops.cuda import arrays, gemm
from ops.cuda import elementwise as ew
from tests.helpers import assert_close

pytestmark = pytest.mark.cuda

LR = 0.1


def _linear(h, weight, m, n, k):
    """h (m, k) @ weight (n, k)^T -> (m, n) on the device."""
    out = arrays.empty((m, n), h.dtype)
    gemm.matmul(h, weight, out, m, n, k, (0, 0, 0, k, 1), (0, 0, 0, 1, k), (0, 0, 0, n, 1))
    return out


def _device_step(x, labels, w1, b1, w2, b2):
    n = x.shape[0]
    z = ops.conv2d(x, w1, b1, padding=1)
    a = ew.relu(z)
    pooled, indices = ops.max_pool2d(a, 2, return_indices=True)
    features = pooled.reshape((n, pooled.size // n))
    logits = ew.bias_add(_linear(features, w2, n, *w2.shape), b2)
    loss = ew.cross_entropy(logits, labels)

    d_logits = ew.cross_entropy_grad_input(logits, labels)
    classes, width = w2.shape
    d_w2 = arrays.empty(w2.shape, x.dtype)       # d_logits^T @ features
    gemm.matmul(d_logits, features, d_w2, classes, width, n, (0, 0, 0, 1, classes), (0, 0, 0, width, 1),
                (0, 0, 0, width, 1))
    d_b2 = ew.sum_axes(d_logits, 0)
    d_features = arrays.empty(features.shape, x.dtype)       # d_logits @ w2
    gemm.matmul(d_logits, w2, d_features, n, width, classes, (0, 0, 0, classes, 1), (0, 0, 0, width, 1),
                (0, 0, 0, width, 1))
    d_a = ops.max_pool2d_grad_input(d_features.reshape(pooled.shape), indices, a.shape, 2)
    d_z = ew.relu_grad_input(d_a, z)
    d_w1 = ops.conv2d_grad_weight(x, d_z, w1.shape, padding=1)
    d_b1 = ew.sum_axes(d_z, (0, 2, 3))
    for param, grad in [(w1, d_w1), (b1, d_b1), (w2, d_w2), (b2, d_b2)]:
        ew.sgd_update(param, grad, LR)
    return loss


def _host_step(x, labels, w1, b1, w2, b2):
    n = x.shape[0]
    geom = shapes.conv_geometry(x.shape, w1.shape, 2, padding=1)
    z = reference.conv.forward(x, w1, b1, geom)
    a = np.maximum(z, 0)
    pool = shapes.pool_geometry(a.shape, 2, 2)
    pooled, indices = reference.pool.max_pool(a, pool)
    features = pooled.reshape(n, -1)
    logits = features @ w2.T + b2
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(n), labels].mean()

    d_logits = (np.exp(log_probs) - np.eye(logits.shape[1])[labels]) / n
    d_features = d_logits @ w2
    d_a = reference.pool.max_pool_grad_input(d_features.reshape(pooled.shape), indices, pool)
    d_z = d_a * (z > 0)
    grads = [reference.conv.grad_weight(x, d_z, geom), d_z.sum(axis=(0, 2, 3)), d_logits.T @ features, d_logits.sum(0)]
    return loss, [p - LR * g for p, g in zip((w1, b1, w2, b2), grads)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_training_step_stays_on_the_device(dtype, rng, dev):
    x = rng.standard_normal((2, 1, 6, 6)).astype(dtype)
    labels = rng.integers(0, 4, 2)
    params = [rng.standard_normal(s).astype(dtype) * 0.5 for s in [(3, 1, 3, 3), (3,), (4, 27), (4,)]]
    device_params = [dev(p) for p in params]
    loss = _device_step(dev(x), dev(labels), *device_params)
    expected_loss, expected_params = _host_step(x, labels, *params)
    assert_close(loss.copy_to_host(), expected_loss, dtype)
    for actual, expected in zip(device_params, expected_params):
        assert_close(actual.copy_to_host(), expected, dtype)
