"""engine.Tensor: construction, dtypes, devices, arithmetic with broadcasting, reductions, shapes,
activations and their gradients (against finite differences), and the graph walk itself."""
import weakref

import numpy as np
import pytest

import engine as E
from tests.engine.gradients import assert_grads_match, leaves, weighted_sum


# --- construction, dtypes, devices ---------------------------------------------
def test_tensor_default_dtypes_follow_pytorch():
    assert E.tensor([1.5, 2.0]).dtype == np.float32
    assert E.tensor(3.0).dtype == np.float32 and E.tensor(3.0).shape == ()
    assert E.tensor([1, 2]).dtype == np.int64
    assert E.tensor(np.zeros(3, np.float64)).dtype == np.float64
    assert E.tensor(np.zeros(3, np.float32)).dtype == np.float32
    assert E.tensor([True, False]).dtype == np.bool_
    assert E.tensor([1, 2], dtype=np.float64).dtype == np.float64


def test_tensor_copies_and_wrapping_shares(rng):
    a = rng.standard_normal(4).astype(np.float32)
    t = E.tensor(a)
    a[0] = 100.0
    assert t.numpy()[0] != 100.0
    w = E.Tensor(a)
    assert w.numpy() is a and w.detach().numpy() is a


def test_unsupported_dtypes_raise_type_error():
    with pytest.raises(TypeError, match="float16"):
        E.tensor(np.zeros(3, np.float16))
    with pytest.raises(TypeError, match="complex"):
        E.tensor(np.zeros(3, np.complex64))
    with pytest.raises(TypeError, match="int64"):
        E.tensor([1, 2], requires_grad=True)


def test_shape_dtype_device_numpy_item():
    t = E.tensor(np.arange(6.0).reshape(2, 3))
    assert t.shape == (2, 3) and t.ndim == 2 and t.numel() == 6 and len(t) == 2
    assert t.device == "cpu" and t.to("cpu") is t
    assert t.sum().item() == 15.0
    with pytest.raises(ValueError, match="one element"):
        t.item()
    assert "tensor(" in repr(t)


def test_unknown_device_is_a_value_error():
    with pytest.raises(ValueError, match="tpu"):
        E.tensor([1.0]).to("tpu")
    with pytest.raises(ValueError, match="tpu"):
        E.tensor([1.0], device="tpu")


def test_dtype_cast_is_differentiable(rng):
    x = E.tensor(rng.standard_normal(3).astype(np.float32), requires_grad=True)
    y = x.to(np.float64)
    assert y.dtype == np.float64 and x.to(np.float32) is x
    (y * 2).sum().backward()
    assert x.grad.dtype == np.float32 and np.allclose(x.grad.numpy(), 2)


def test_float32_stays_float32(rng):
    x = E.tensor(rng.standard_normal((2, 3)).astype(np.float32), requires_grad=True)
    y = ((x * 2.5 + 1) / 3 - x ** 2).mean()
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32


# --- gradients of every op (float64, finite differences) -----------------------
BROADCAST_PAIRS = [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((3, 1, 5), (1, 4, 1)), ((5,), (2, 1, 5)), ((2, 3), ())]


@pytest.mark.parametrize("a_shape,b_shape", BROADCAST_PAIRS)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_binary_op_gradients_reduce_to_operand_shapes(rng, op, a_shape, b_shape):
    a, b = leaves(rng, a_shape, b_shape)
    if op == "div":
        b.data += np.sign(b.data) * 2  # keep away from zero
    fn = {"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b, "div": lambda: a / b}[op]
    expected = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}[op](a.data, b.data)
    np.testing.assert_allclose(fn().numpy(), expected)
    assert_grads_match(lambda: weighted_sum(fn()), [a, b])


def test_scalars_and_arrays_on_either_side(rng):
    (x,) = leaves(rng, (2, 3))
    assert_grads_match(lambda: weighted_sum(2.0 - x * 3 + 1 / (x ** 2 + 1) - -x), [x])
    arr = rng.standard_normal((2, 3))
    y = arr * x + arr  # ndarray on the left defers to the Tensor
    assert isinstance(y, E.Tensor)
    np.testing.assert_allclose(y.numpy(), arr * x.data + arr)


@pytest.mark.parametrize("a_shape,b_shape", [((3, 4), (4, 5)), ((4,), (4, 2)), ((3, 4), (4,)), ((4,), (4,)),
                                             ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (5, 4, 2))])
def test_matmul_gradients(rng, a_shape, b_shape):
    a, b = leaves(rng, a_shape, b_shape)
    np.testing.assert_allclose((a @ b).numpy(), a.data @ b.data)
    assert_grads_match(lambda: weighted_sum(a @ b), [a, b])


@pytest.mark.parametrize("dim,keepdim", [(None, False), (0, False), (1, True), (-1, False), ((0, 2), False), ((0, 2), True)])
@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_reduction_gradients(rng, reduce, dim, keepdim):
    (x,) = leaves(rng, (2, 3, 5))
    out = getattr(x, reduce)(dim, keepdim)
    axis = dim if not isinstance(dim, tuple) else dim
    np.testing.assert_allclose(out.numpy(), getattr(x.data, reduce)(axis=axis, keepdims=keepdim))
    assert_grads_match(lambda: weighted_sum(getattr(x, reduce)(dim, keepdim)), [x])


def test_reduction_bad_dim_raises(rng):
    with pytest.raises(ValueError, match="dim 3"):
        E.tensor(rng.standard_normal((2, 3))).sum(3)


def test_shape_op_gradients(rng):
    (x,) = leaves(rng, (2, 3, 4))
    assert x.reshape(6, 4).shape == (6, 4) and x.reshape((4, -1)).shape == (4, 6)
    assert x.flatten().shape == (24,) and x.flatten(1).shape == (2, 12) and x.view(2, 12).shape == (2, 12)
    assert x.transpose(0, 2).shape == (4, 3, 2) and x.permute(2, 0, 1).shape == (4, 2, 3)
    assert x.reshape(6, 4).T.shape == (4, 6)
    np.testing.assert_array_equal(x.permute(2, 0, 1).numpy(), x.data.transpose(2, 0, 1))
    for fn in (lambda: x.reshape(4, 6), lambda: x.flatten(0, 1), lambda: x.transpose(0, 2),
               lambda: x.permute(1, 2, 0), lambda: x.reshape(6, 4).T):
        assert_grads_match(lambda: weighted_sum(fn()), [x])
    with pytest.raises(ValueError, match="permutation"):
        x.permute(0, 0, 1)


@pytest.mark.parametrize("index", [1, (slice(None), 2), (Ellipsis, slice(1, 3)), (None, 0, slice(None, None, 2)),
                                   (np.array([0, 0, 1]),), (slice(None), np.array([2, 0, 2]))])
def test_getitem_gradients_add_up_over_repeated_indices(rng, index):
    (x,) = leaves(rng, (2, 3, 4))
    np.testing.assert_array_equal(x[index].numpy(), x.data[index])
    assert_grads_match(lambda: weighted_sum(x[index]), [x])


def test_getitem_with_a_boolean_mask(rng):
    (x,) = leaves(rng, (3, 4))
    mask = x.data > 0
    x[mask].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), mask.astype(np.float64))


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "exp", "log", "softmax", "log_softmax"])
def test_activation_gradients(rng, name):
    (x,) = leaves(rng, (3, 5))
    if name == "log":
        x.data[...] = np.abs(x.data) + 0.5
    fn = (lambda: getattr(x, name)(1)) if "softmax" in name else (lambda: getattr(x, name)())
    assert_grads_match(lambda: weighted_sum(fn()), [x])


def test_activation_values(rng):
    x = rng.standard_normal((4, 6)) * 3
    t = E.tensor(x)
    np.testing.assert_allclose(t.relu().numpy(), np.maximum(x, 0))
    np.testing.assert_allclose(t.sigmoid().numpy(), 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(t.tanh().numpy(), np.tanh(x))
    soft = np.exp(x) / np.exp(x).sum(axis=0, keepdims=True)
    np.testing.assert_allclose(t.softmax(0).numpy(), soft)
    np.testing.assert_allclose(t.log_softmax(0).numpy(), np.log(soft))


def test_sigmoid_and_log_softmax_are_stable_for_large_inputs():
    x = E.tensor(np.array([[-1000.0, 0.0, 1000.0]]))
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        np.testing.assert_allclose(x.sigmoid().numpy(), [[0.0, 0.5, 1.0]])
        np.testing.assert_allclose(x.log_softmax(1).numpy(), [[-2000.0, -1000.0, 0.0]])


# --- the graph -------------------------------------------------------------------
def test_tensor_used_twice_sums_its_gradients(rng):
    (x,) = leaves(rng, (3,))
    y = x * x + x  # x feeds three edges
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.data + 1)


def test_diamond_graph(rng):
    (x,) = leaves(rng, (4,))
    assert_grads_match(lambda: ((lambda h: h.sigmoid() * h + h.exp())(x.tanh())).sum(), [x])


def test_gradients_accumulate_until_zeroed(rng):
    (x,) = leaves(rng, (3,))
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 5.0)
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3.0)


def test_two_leaves_never_share_a_gradient_array(rng):
    a, b = leaves(rng, (3,), (3,))
    (a + b).sum().backward()
    a.grad.data += 1
    np.testing.assert_allclose(b.grad.numpy(), 1.0)


def test_backward_with_explicit_gradient(rng):
    (x,) = leaves(rng, (2, 3))
    g = rng.standard_normal((2, 3))
    (x * 3).backward(g)
    np.testing.assert_allclose(x.grad.numpy(), 3 * g)
    with pytest.raises(RuntimeError, match="scalar"):
        (x * 3).backward()
    with pytest.raises(ValueError, match="shape"):
        (x * 3).backward(np.ones(3))


def test_backward_on_a_leaf_and_on_a_constant(rng):
    (x,) = leaves(rng, ())
    x.backward()
    assert x.grad.item() == 1.0
    with pytest.raises(RuntimeError, match="does not require grad"):
        E.tensor([1.0]).sum().backward()


def test_second_backward_needs_retain_graph(rng):
    (x,) = leaves(rng, (3,))
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(x.data) * (1 + x.data))
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_backward_frees_what_nodes_saved(rng):
    (x,) = leaves(rng, (1000,))
    h = x.exp()
    saved = weakref.ref(h._node.out)
    loss = (h * 2).sum()
    del h
    loss.backward()
    assert saved() is None, "the exp node's saved output is still alive after backward"


def test_deep_graph_needs_no_recursion(rng):
    (x,) = leaves(rng, (2,))
    y = x
    for _ in range(20000):
        y = y + 1.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 1.0)


def test_only_leaves_that_require_grad_get_gradients(rng):
    a = E.tensor(rng.standard_normal(3), requires_grad=True)
    b = E.tensor(rng.standard_normal(3))
    (a * b).sum().backward()
    assert a.grad is not None and b.grad is None and b.is_leaf


# --- no_grad, detach ---------------------------------------------------------------
def test_no_grad_records_nothing(rng):
    (x,) = leaves(rng, (3,))
    with E.no_grad():
        y = x * 2
        assert not E.is_grad_enabled()
    assert E.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf

    @E.no_grad()
    def double(t, depth=0):
        return double(t, depth - 1) if depth else t * 2
    assert not double(x, depth=3).requires_grad
    assert E.is_grad_enabled()  # a decorated function that re-enters itself restores the mode too


def test_no_grad_nests_and_restores_after_an_error(rng):
    with pytest.raises(ZeroDivisionError):
        with E.no_grad():
            with E.no_grad():
                pass
            assert not E.is_grad_enabled()
            1 / 0
    assert E.is_grad_enabled()


def test_detach_cuts_the_graph(rng):
    (x,) = leaves(rng, (3,))
    y = (x * 2).detach()
    assert not y.requires_grad
    (x * y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.data)
