"""engine.functional: every op of `ops` plus linear, batch_norm, dropout and the losses, each with its
gradients checked against central finite differences in float64 on small odd shapes."""
import numpy as np
import pytest

import engine as E
import ops
from engine import functional as F
from tests.engine.gradients import assert_grads_match, leaves, weighted_sum

CONV_CASES = [  # (nd, x shape, weight shape, arguments)
    (1, (2, 3, 9), (4, 3, 3), dict(stride=2, padding=1)),
    (1, (1, 4, 7), (6, 2, 2), dict(dilation=2, groups=2)),
    (2, (2, 3, 7, 6), (4, 3, 3, 2), dict(stride=(2, 1), padding=(1, 0))),
    (2, (1, 4, 6, 5), (4, 1, 3, 3), dict(padding="same", groups=4)),
    (2, (2, 2, 8, 7), (3, 2, 3, 3), dict(stride=2, dilation=(1, 2), padding=2)),
    (3, (1, 2, 5, 4, 5), (3, 2, 2, 3, 2), dict(stride=(1, 2, 1), padding=1)),
]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("nd,x_shape,w_shape,args", CONV_CASES)
def test_conv_gradients(rng, nd, x_shape, w_shape, args, bias):
    x, w, b = leaves(rng, x_shape, w_shape, (w_shape[0],))
    conv = getattr(F, f"conv{nd}d")
    inputs = [x, w, b] if bias else [x, w]
    out = conv(*inputs, **args)
    np.testing.assert_allclose(out.numpy(), getattr(ops, f"conv{nd}d")(*[t.data for t in inputs], **args))
    assert_grads_match(lambda: weighted_sum(conv(*inputs, **args)), inputs)


TRANSPOSE_CASES = [  # (nd, x shape, weight shape (C_in, C_out // groups, *k), arguments)
    (1, (2, 3, 5), (3, 2, 3), dict(stride=2, padding=1, output_padding=1)),
    (2, (1, 4, 3, 4), (4, 1, 3, 2), dict(stride=(2, 1), groups=2)),
    (2, (2, 2, 4, 3), (2, 3, 3, 3), dict(stride=2, padding=1, dilation=2, output_padding=(1, 0))),
    (3, (1, 2, 3, 2, 3), (2, 2, 2, 2, 2), dict(stride=2)),
]


@pytest.mark.parametrize("nd,x_shape,w_shape,args", TRANSPOSE_CASES)
def test_conv_transpose_gradients(rng, nd, x_shape, w_shape, args):
    groups = args.get("groups", 1)
    x, w, b = leaves(rng, x_shape, w_shape, (w_shape[1] * groups,))
    fn = getattr(F, f"conv_transpose{nd}d")
    out = fn(x, w, b, **args)
    np.testing.assert_allclose(out.numpy(), getattr(ops, f"conv_transpose{nd}d")(x.data, w.data, b.data, **args))
    assert_grads_match(lambda: weighted_sum(fn(x, w, b, **args)), [x, w, b])


POOL_CASES = [
    (1, (2, 3, 9), dict(kernel_size=3, stride=2, padding=1)),
    (1, (1, 2, 8), dict(kernel_size=2, ceil_mode=True, stride=3)),
    (2, (2, 2, 7, 6), dict(kernel_size=(3, 2), stride=2, padding=(1, 0))),
    (2, (1, 3, 5, 5), dict(kernel_size=2, ceil_mode=True)),
    (3, (1, 2, 4, 5, 3), dict(kernel_size=2, stride=(2, 2, 1), padding=1)),
]


@pytest.mark.parametrize("nd,shape,args", POOL_CASES)
def test_max_pool_gradients(rng, nd, shape, args):
    (x,) = leaves(rng, shape)
    fn = getattr(F, f"max_pool{nd}d")
    out, indices = fn(x, **args, return_indices=True)
    expected, expected_indices = getattr(ops, f"max_pool{nd}d")(x.data, **args, return_indices=True)
    np.testing.assert_array_equal(out.numpy(), expected)
    np.testing.assert_array_equal(indices.numpy(), expected_indices)
    assert not indices.requires_grad
    assert_grads_match(lambda: weighted_sum(fn(x, **args)), [x])


def test_max_pool_with_dilation(rng):
    (x,) = leaves(rng, (1, 2, 9, 8))
    assert_grads_match(lambda: weighted_sum(F.max_pool2d(x, 3, stride=2, dilation=2, padding=1)), [x])


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("nd,shape,args", POOL_CASES)
def test_avg_pool_gradients(rng, nd, shape, args, count_include_pad):
    (x,) = leaves(rng, shape)
    fn = getattr(F, f"avg_pool{nd}d")
    out = fn(x, **args, count_include_pad=count_include_pad)
    np.testing.assert_allclose(out.numpy(), getattr(ops, f"avg_pool{nd}d")(x.data, **args, count_include_pad=count_include_pad))
    assert_grads_match(lambda: weighted_sum(fn(x, **args, count_include_pad=count_include_pad)), [x])


@pytest.mark.parametrize("nd,shape,filt_size,stride", [(1, (2, 3, 11), 3, 2), (1, (1, 2, 8), 4, 3),
                                                       (2, (2, 2, 7, 6), 3, 2), (2, (1, 3, 6, 7), 5, 2)])
def test_blur_pool_gradients(rng, nd, shape, filt_size, stride):
    (x,) = leaves(rng, shape)
    fn = getattr(F, f"blur_pool{nd}d")
    np.testing.assert_allclose(fn(x, filt_size, stride).numpy(), getattr(ops, f"blur_pool{nd}d")(x.data, filt_size, stride))
    assert_grads_match(lambda: weighted_sum(fn(x, filt_size, stride)), [x])


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("shapes", [((9,), (4,)), ((3,), (8,)), ((5, 6), (3, 2)), ((3, 4, 3), (2, 3, 2))])
@pytest.mark.parametrize("name", ["correlate", "convolve"])
def test_signal_gradients(rng, name, shapes, mode):
    in1, in2 = leaves(rng, *shapes)
    fn = getattr(F, name)
    np.testing.assert_allclose(fn(in1, in2, mode).numpy(), getattr(ops, name)(in1.data, in2.data, mode))
    assert_grads_match(lambda: weighted_sum(fn(in1, in2, mode)), [in1, in2])


def test_fftconvolve_matches_convolve(rng):
    in1, in2 = leaves(rng, (20,), (5,))
    np.testing.assert_allclose(F.fftconvolve(in1, in2, "same").numpy(), F.convolve(in1, in2, "same").numpy(), atol=1e-12)
    assert_grads_match(lambda: weighted_sum(F.fftconvolve(in1, in2, "valid")), [in1, in2])


@pytest.mark.parametrize("x_shape", [(5, 4), (2, 3, 4), (4,)])
def test_linear_gradients(rng, x_shape):
    x, w, b = leaves(rng, x_shape, (3, 4), (3,))
    np.testing.assert_allclose(F.linear(x, w, b).numpy(), x.data @ w.data.T + b.data)
    assert_grads_match(lambda: weighted_sum(F.linear(x, w, b)), [x, w, b])
    assert_grads_match(lambda: weighted_sum(F.linear(x, w)), [x, w])
    with pytest.raises(ValueError, match="features"):
        F.linear(x, E.tensor(np.ones((3, 5))))


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 5), (3, 3, 4, 2)])
def test_batch_norm_gradients(rng, shape, training):
    x, w, b = leaves(rng, shape, (3,), (3,))
    mean, var = rng.standard_normal(3), rng.random(3) + 0.5
    fn = lambda *params: F.batch_norm(x, mean.copy(), var.copy(), *params, training=training)  # noqa: E731
    assert_grads_match(lambda: weighted_sum(fn(w, b)), [x, w, b])
    assert_grads_match(lambda: weighted_sum(fn()), [x])
    assert_grads_match(lambda: weighted_sum(fn(w)), [x, w])


def test_batch_norm_values_and_running_statistics(rng):
    x = rng.standard_normal((6, 3, 4)) * 2 + 1
    mean, var = np.zeros(3), np.ones(3)
    out = F.batch_norm(E.tensor(x), mean, var, training=True, momentum=0.25).numpy()
    batch_mean, batch_var = x.mean(axis=(0, 2)), x.var(axis=(0, 2))
    np.testing.assert_allclose(out, (x - batch_mean[:, None]) / np.sqrt(batch_var[:, None] + 1e-5))
    np.testing.assert_allclose(mean, 0.25 * batch_mean)
    np.testing.assert_allclose(var, 0.75 + 0.25 * x.var(axis=(0, 2), ddof=1))
    evaluated = F.batch_norm(E.tensor(x), mean, var, training=False).numpy()
    np.testing.assert_allclose(evaluated, (x - mean[:, None]) / np.sqrt(var[:, None] + 1e-5))
    with pytest.raises(ValueError, match="more than one value"):
        F.batch_norm(E.tensor(np.ones((1, 3))), None, None, training=True)


def test_dropout_masks_and_scales(rng):
    x = E.tensor(rng.standard_normal((50, 40)) + 5, requires_grad=True)
    out = F.dropout(x, 0.3, generator=np.random.default_rng(1))
    kept = out.numpy() != 0
    assert 0.6 < kept.mean() < 0.8
    np.testing.assert_allclose(out.numpy()[kept], x.data[kept] / 0.7)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.7)
    assert F.dropout(x, 0.3, training=False) is x
    again = F.dropout(x, 0.3, generator=np.random.default_rng(1))
    np.testing.assert_array_equal(again.numpy(), out.numpy())
    with pytest.raises(ValueError, match="probability"):
        F.dropout(x, 1.0)


def _cross_entropy_numpy(logits, labels):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(labels)), labels]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_values_and_gradients(rng, reduction):
    (logits,) = leaves(rng, (6, 5))
    labels = rng.integers(0, 5, 6)
    losses = _cross_entropy_numpy(logits.data, labels)
    expected = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    np.testing.assert_allclose(F.cross_entropy(logits, labels, reduction).numpy(), expected)
    assert_grads_match(lambda: weighted_sum(F.cross_entropy(logits, E.tensor(labels), reduction)), [logits])


def test_cross_entropy_is_stable_and_float32(rng):
    logits = E.tensor(np.array([[1000.0, 0.0, -1000.0]], np.float32), requires_grad=True)
    loss = F.cross_entropy(logits, np.array([1]))
    assert loss.dtype == np.float32 and np.isclose(loss.item(), 1000.0)
    loss.backward()
    np.testing.assert_allclose(logits.grad.numpy(), [[1.0, -1.0, 0.0]], atol=1e-6)


def test_cross_entropy_rejects_bad_labels(rng):
    logits = E.tensor(rng.standard_normal((3, 4)))
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        F.cross_entropy(logits, np.array([0, 4, 1]))
    with pytest.raises(TypeError, match="integers"):
        F.cross_entropy(logits, np.array([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="labels"):
        F.cross_entropy(logits, np.array([0, 1]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(logits, np.array([0, 1, 1]), reduction="avg")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss(rng, reduction):
    a, b = leaves(rng, (3, 4), (3, 4))
    squared = (a.data - b.data) ** 2
    expected = {"mean": squared.mean(), "sum": squared.sum(), "none": squared}[reduction]
    np.testing.assert_allclose(F.mse_loss(a, b, reduction).numpy(), expected)
    assert_grads_match(lambda: weighted_sum(F.mse_loss(a, b, reduction)), [a, b])
    with pytest.raises(ValueError, match="equal shapes"):
        F.mse_loss(a, E.tensor(np.ones(4)))


def test_functional_activations_match_methods(rng):
    (x,) = leaves(rng, (2, 3, 4))
    for name in ("relu", "sigmoid", "tanh"):
        np.testing.assert_array_equal(getattr(F, name)(x).numpy(), getattr(x, name)().numpy())
    np.testing.assert_array_equal(F.softmax(x, 1).numpy(), x.softmax(1).numpy())
    np.testing.assert_array_equal(F.log_softmax(x).numpy(), x.log_softmax(-1).numpy())
    assert F.flatten(x).shape == (2, 12)


def test_ops_errors_surface_unchanged(rng):
    x, w = leaves(rng, (1, 3, 5, 5), (2, 4, 3, 3))
    with pytest.raises(ValueError, match="input channels"):
        F.conv2d(x, w)
