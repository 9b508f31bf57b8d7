"""ops.cuda.xp, NumPy's functions on device arrays, against NumPy itself (ops.cpu.xp for the fused ones)."""
import numpy as np
import pytest

from ops.cpu import xp as cpu_xp
from ops.cuda import xp
from tests.helpers import assert_close

pytestmark = pytest.mark.cuda


def _host(a):
    return a.copy_to_host()


def test_both_namespaces_offer_the_same_functions():
    missing = [name for name in xp.__all__ if not callable(getattr(cpu_xp, name, None))]
    assert not missing, f"ops.cpu.xp lacks {missing}"
    assert all(callable(getattr(xp, name)) for name in xp.__all__)


@pytest.mark.parametrize("name", ["add", "subtract", "multiply", "divide", "maximum", "minimum", "power"])
def test_binary_ops_broadcast_like_numpy(name, rng, dev):
    a = rng.uniform(0.5, 2.0, (2, 1, 3)).astype(np.float32)
    b = rng.uniform(0.5, 2.0, (4, 1)).astype(np.float32)
    fn, ref = getattr(xp, name), getattr(np, name)
    out = fn(dev(a), dev(b))
    assert tuple(out.shape) == (2, 4, 3) and out.dtype == np.float32
    assert_close(_host(out), ref(a, b))
    assert_close(_host(fn(dev(a), 1.5)), ref(a, 1.5))       # Python numbers on either side take the array's dtype
    assert fn(2, dev(a)).dtype == np.float32
    assert_close(_host(fn(2, dev(a))), ref(np.float32(2), a))


def test_binary_ops_promote_in_place_and_propagate_nan(rng, dev):
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal(4)
    mixed = xp.multiply(dev(a), dev(b))
    assert mixed.dtype == np.float64
    assert_close(_host(mixed), a * b)
    target = dev(a)
    assert xp.add(target, dev(b.astype(np.float32)), out=target) is target
    assert_close(_host(target), a + b.astype(np.float32))
    a[0, :2] = np.nan, -np.nan
    np.testing.assert_array_equal(_host(xp.maximum(dev(a), 0)), np.maximum(a, 0))
    np.testing.assert_array_equal(_host(xp.minimum(0, dev(a))), np.minimum(0, a))
    with pytest.raises(ValueError, match="broadcast"):
        xp.add(dev(a), dev(np.zeros(3, np.float32)))


@pytest.mark.parametrize("name", ["negative", "exp", "log", "tanh", "sqrt", "abs"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unary_ops(name, dtype, rng, dev):
    signs = 1 if name in ("log", "sqrt") else rng.choice([-1, 1], (2, 3, 2))
    x = (rng.uniform(0.1, 3.0, (2, 3, 2)) * signs).astype(dtype)
    out = getattr(xp, name)(dev(x))
    assert out.dtype == dtype
    assert_close(_host(out), getattr(np, name)(x), dtype)


def test_creation_and_casts(rng, dev):
    assert _host(xp.zeros((2, 3), np.float32)).tolist() == [[0.0] * 3] * 2
    assert _host(xp.ones(4)).dtype == np.float64
    scalar = xp.asarray(2.5, dtype=np.float32)
    assert tuple(scalar.shape) == () and scalar.dtype == np.float32 and _host(scalar) == 2.5
    x = rng.standard_normal((2, 3)).astype(np.float32)
    d = dev(x)
    assert xp.asarray(d) is d and xp.asarray(d, dtype=np.float32) is d
    as64 = xp.asarray(d, dtype=np.float64)
    assert as64.dtype == np.float64 and np.array_equal(_host(as64), x.astype(np.float64))
    copy = xp.array(d)
    assert copy is not d and np.array_equal(_host(copy), x)
    zeros = xp.zeros_like(d)
    xp.copyto(zeros, dev(x[1]))
    assert np.array_equal(_host(zeros), np.broadcast_to(x[1], x.shape))


def test_host_arrays_and_non_contiguous_views_are_refused(dev):
    d = dev(np.zeros((3, 4), np.float32))
    with pytest.raises(TypeError, match="host .*NumPy.* array"):
        xp.add(d, np.ones((3, 4), np.float32))
    with pytest.raises(TypeError, match="list"):
        xp.sum([1.0, 2.0])
    with pytest.raises(ValueError, match="non-contiguous"):
        xp.exp(d[:, ::2])


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 2), -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions(axis, keepdims, rng, dev):
    x = rng.standard_normal((3, 4, 2))
    for name in ("sum", "mean", "max"):
        out = getattr(xp, name)(dev(x), axis=axis, keepdims=keepdims)
        expected = getattr(np, name)(x, axis=axis, keepdims=keepdims)
        assert tuple(out.shape) == np.shape(expected)
        assert_close(_host(out), expected)


def test_argmax_takes_the_first_maximum_and_nan(dev):
    x = np.array([[1.0, 3.0, 3.0, 2.0], [0.0, np.nan, 5.0, np.nan], [-1.0, -1.0, -2.0, -3.0]], np.float32)
    for axis in (None, 0, 1):
        out = xp.argmax(dev(x), axis=axis)
        assert out.dtype == np.int64
        np.testing.assert_array_equal(_host(out), np.argmax(x, axis=axis))
    np.testing.assert_array_equal(_host(xp.max(dev(x), axis=1)), np.max(x, axis=1))


def test_reshape_transpose_swapaxes_broadcast_to(rng, dev):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    assert tuple(xp.reshape(dev(x), (3, -1)).shape) == (3, 8)
    assert np.array_equal(_host(xp.reshape(dev(x), (4, 6))), x.reshape(4, 6))
    with pytest.raises(ValueError, match="reshape"):
        xp.reshape(dev(x), (5, -1))
    for axes in [None, (1, 0, 2), (2, 0, 1)]:
        assert np.array_equal(_host(xp.transpose(dev(x), axes)), np.transpose(x, axes))
    assert np.array_equal(_host(xp.swapaxes(dev(x), -1, -2)), np.swapaxes(x, -1, -2))
    column = x[:, :1, :1].copy()
    assert np.array_equal(_host(xp.broadcast_to(dev(column), (5, 2, 3, 4))), np.broadcast_to(column, (5, 2, 3, 4)))
    with pytest.raises(ValueError, match="broadcast"):
        xp.broadcast_to(dev(x), (3, 3, 4))


@pytest.mark.parametrize("a_shape, b_shape", [
    ((3, 5), (5, 2)), ((5,), (5, 2)), ((3, 5), (5,)), ((5,), (5,)), ((2, 3, 5), (5, 4)), ((3, 5), (2, 5, 4)),
    ((2, 1, 3, 5), (3, 5, 2)), ((17, 33), (33, 65))])
def test_matmul_like_numpy(a_shape, b_shape, rng, dev):
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    out = xp.matmul(dev(a), dev(b))
    expected = np.matmul(a, b)
    assert tuple(out.shape) == expected.shape
    assert_close(_host(out), expected)


def test_matmul_refuses_mismatches(dev):
    with pytest.raises(ValueError, match="align"):
        xp.matmul(dev(np.zeros((2, 3))), dev(np.zeros((4, 2))))
    with pytest.raises(TypeError, match="dtype"):
        xp.matmul(dev(np.zeros((2, 3))), dev(np.zeros((3, 2), np.float32)))


@pytest.mark.parametrize("index", [1, -1, (slice(None), 2), (slice(1, None, 2), slice(None, None, -1)),
                                   (Ellipsis, 0), (None, 1, slice(0, 3)), (0, 1, 2), slice(5, 9)])
def test_basic_indexing_and_its_adjoint(index, rng, dev):
    x = rng.standard_normal((3, 4, 5))
    out = xp.getitem(dev(x), index)
    assert np.array_equal(_host(out), x[index])
    target, expected = dev(np.zeros_like(x)), np.zeros_like(x)
    xp.setitem(target, index, out)
    expected[index] = x[index]
    assert np.array_equal(_host(target), expected)


def test_indexing_refuses_arrays_and_out_of_range(dev):
    d = dev(np.zeros((3, 4)))
    with pytest.raises(NotImplementedError, match="basic"):
        xp.getitem(d, np.array([0, 2]))
    with pytest.raises(IndexError, match="out of bounds"):
        xp.getitem(d, (0, 4))
    with pytest.raises(IndexError, match="too many"):
        xp.getitem(d, (0, 1, 2))


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_family_along_any_axis(axis, rng, dev):
    x = rng.standard_normal((3, 4, 2)) * 3
    grad = rng.standard_normal(x.shape)
    for forward, backward in [("softmax", "softmax_grad"), ("log_softmax", "log_softmax_grad")]:
        out = getattr(xp, forward)(dev(x), axis)
        expected = getattr(cpu_xp, forward)(x, axis)
        assert_close(_host(out), expected)
        assert_close(_host(getattr(xp, backward)(dev(grad), out, axis)), getattr(cpu_xp, backward)(grad, expected, axis))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_reductions_and_gradients(reduction, rng, dev):
    logits = rng.standard_normal((5, 3)) * 2
    labels = rng.integers(0, 3, 5)
    loss = xp.cross_entropy(dev(logits), dev(labels), reduction)
    expected = cpu_xp.cross_entropy(logits, labels, reduction)
    assert_close(_host(loss), expected)
    grad = rng.standard_normal(np.shape(expected))
    assert_close(_host(xp.cross_entropy_grad(dev(logits), dev(labels), dev(np.asarray(grad)), reduction)),
                 cpu_xp.cross_entropy_grad(logits, labels, grad, reduction))


def test_relu_grad_and_optimizer_updates_match_the_cpu_namespace(rng, dev):
    out = np.maximum(rng.standard_normal((4, 3)), 0)
    grad = rng.standard_normal(out.shape)
    assert np.array_equal(_host(xp.relu_grad(dev(grad), dev(out))), cpu_xp.relu_grad(grad, out))
    param, velocity = rng.standard_normal(6), np.zeros(6)
    d_param, d_velocity = dev(param), dev(velocity)
    m, v = np.zeros(6), np.zeros(6)
    d_m, d_v = dev(m), dev(v)
    for step in range(1, 3):
        g = rng.standard_normal(6)
        for namespace, args in [(xp, (d_param, dev(g), 0.1, d_velocity)), (cpu_xp, (param, g, 0.1, velocity))]:
            namespace.sgd_update(*args, momentum=0.9, weight_decay=1e-2, nesterov=True, first_step=step == 1)
        xp.adam_update(d_param, dev(g), d_m, d_v, step, 1e-2, 0.8, 0.9, 1e-8, 1e-3)
        cpu_xp.adam_update(param, g, m, v, step, 1e-2, 0.8, 0.9, 1e-8, 1e-3)
    for device_array, host in [(d_param, param), (d_velocity, velocity), (d_m, m), (d_v, v)]:
        assert_close(_host(device_array), host)


def test_simulated_device_arrays_have_no_numpy_arithmetic(dev):
    """tests/cuda/conftest.py strips the simulator's stand-in down to a real device array's API."""
    import ops.cuda
    if not ops.cuda.simulated():
        pytest.skip("a real GPU: its device arrays never had NumPy's arithmetic")
    d = dev(np.ones(3))
    for attempt in (lambda: d + 1, lambda: d * d, lambda: d > 0, lambda: d.T):
        with pytest.raises(TypeError, match="real GPU"):
            attempt()
    with pytest.raises(AttributeError, match="no attribute 'sum'"):
        d.sum()
