"""ops.pad / interpolate / adaptive pooling against the NumPy oracle (ops.reference.resample), their gradients
against the oracle's and through the adjoint identity <A x, g> = <x, A^T g>, and against PyTorch when installed."""
import numpy as np
import pytest

import ops
from ops.reference import resample as ref
from tests.helpers import assert_close

DTYPES = [np.float32, np.float64]
PADS = [  # (input shape, pads per spatial dim)
    ((2, 3, 7), ((2, 3),)),
    ((1, 2, 5, 6), ((1, 2), (3, 0))),
    ((2, 1, 3, 4, 5), ((1, 1), (0, 2), (2, 1))),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pads", PADS)
def test_pad_and_its_gradient_match_the_reference(shape, pads, mode, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    value = 0.7 if mode == "constant" else 0.0
    out = ops.pad(x, pads, mode, value)
    assert out.dtype == dtype
    assert_close(out, ref.pad(x, pads, mode, value))
    g = rng.standard_normal(out.shape).astype(dtype)
    grad = ops.pad_grad_input(g, shape, pads, mode)
    assert_close(grad, ref.pad_grad_input(g, shape, pads, mode))
    linear = ops.pad(x, pads, mode)  # the adjoint identity holds for the linear part (value 0)
    np.testing.assert_allclose(np.vdot(linear, g), np.vdot(x, grad), rtol=1e-4 if dtype == np.float32 else 1e-12)


INTERPOLATIONS = [  # (input shape, kwargs)
    ((2, 3, 5), dict(size=9, mode="nearest")),
    ((2, 3, 7), dict(scale_factor=0.5, mode="linear")),
    ((1, 2, 5, 6), dict(scale_factor=2, mode="nearest")),
    ((1, 2, 5, 6), dict(size=(3, 11), mode="bilinear")),
    ((1, 2, 5, 6), dict(scale_factor=(2, 1.5), mode="bilinear", align_corners=True)),
    ((1, 1, 3, 4, 2), dict(size=(5, 2, 3), mode="trilinear")),
    ((1, 1, 3, 4, 2), dict(scale_factor=2, mode="nearest")),
]


def _scales(shape, out_spatial, kwargs):
    return ops.resample.interpolate_geometry(shape, kwargs.get("size"), kwargs.get("scale_factor"), kwargs["mode"],
                                             kwargs.get("align_corners"))[1]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,kwargs", INTERPOLATIONS)
def test_interpolate_and_its_gradient_match_the_reference(shape, kwargs, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    out = ops.interpolate(x, **kwargs)
    scales = _scales(shape, out.shape[2:], kwargs)
    align = bool(kwargs.get("align_corners"))
    assert_close(out, ref.interpolate(x, out.shape[2:], scales, kwargs["mode"], align))
    g = rng.standard_normal(out.shape).astype(dtype)
    grad = ops.interpolate_grad_input(g, shape, **kwargs)
    assert_close(grad, ref.interpolate_grad_input(g, shape, scales, kwargs["mode"], align))
    np.testing.assert_allclose(np.vdot(out, g), np.vdot(x, grad), rtol=1e-4 if dtype == np.float32 else 1e-12)


ADAPTIVE = [((2, 3, 10), 1, 4), ((1, 2, 7, 5), 2, (3, 2)), ((2, 2, 9, 9), 2, 1), ((1, 2, 5, 4, 6), 3, (2, 3, 4)),
            ((1, 1, 4, 6), 2, (8, None))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,nd,size", ADAPTIVE)
def test_adaptive_pooling_matches_the_reference(shape, nd, size, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    avg = getattr(ops, f"adaptive_avg_pool{nd}d")(x, size)
    assert_close(avg, ref.adaptive_avg_pool(x, avg.shape[2:]))
    g = rng.standard_normal(avg.shape).astype(dtype)
    assert_close(ops.adaptive_avg_pool_grad_input(g, shape, nd), ref.adaptive_avg_pool_grad_input(g, shape))
    out, indices = getattr(ops, f"adaptive_max_pool{nd}d")(x, size, return_indices=True)
    want, want_indices = ref.adaptive_max_pool(x, out.shape[2:])
    assert np.array_equal(out, want) and np.array_equal(indices, want_indices)
    assert_close(ops.adaptive_max_pool_grad_input(g, indices, shape, nd),
                 ref.adaptive_max_pool_grad_input(g, indices, shape))


def test_bad_arguments_are_clear_errors(rng):
    x = rng.standard_normal((1, 2, 4, 5))
    with pytest.raises(ValueError, match="smaller than the input size"):
        ops.pad(x, ((4, 0), (0, 0)), "reflect")
    with pytest.raises(ValueError, match="at most the input size"):
        ops.pad(x, ((0, 0), (0, 6)), "circular")
    with pytest.raises(ValueError, match="padding mode"):
        ops.pad(x, ((1, 1), (1, 1)), "mirror")
    with pytest.raises(ValueError, match="fill value"):
        ops.pad(x, ((1, 1), (1, 1)), "reflect", 2.0)
    with pytest.raises(ValueError, match="one \\(before, after\\) pair"):
        ops.pad(x, ((1, 1),))
    with pytest.raises(ValueError, match="even number"):
        ops.resample.pad_widths((1, 2, 3), 4)
    with pytest.raises(ValueError, match=">= 0"):
        ops.resample.pad_widths((1, -1), 4)
    with pytest.raises(ValueError, match="exactly one"):
        ops.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(ValueError, match="needs 1 spatial"):
        ops.interpolate(x, size=3, mode="linear")
    with pytest.raises(ValueError, match="align_corners"):
        ops.interpolate(x, size=3, align_corners=True)
    with pytest.raises(ValueError, match="bicubic"):
        ops.interpolate(x, size=3, mode="bicubic")
    with pytest.raises(ValueError, match="output_size"):
        ops.adaptive_avg_pool2d(x, (1, 2, 3))
    with pytest.raises(ValueError, match="2 spatial dims"):
        ops.adaptive_max_pool2d(x[0], 2)
    with pytest.raises(TypeError, match="int64"):
        ops.pad(np.zeros((1, 1, 3), np.int64), ((1, 1),))


def test_against_pytorch(rng):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    t = torch.tensor(x)
    for mode in ("constant", "reflect", "replicate", "circular"):
        assert_close(ops.pad(x, ops.resample.pad_widths((1, 2, 3, 0), 4), mode), tf.pad(t, (1, 2, 3, 0), mode).numpy())
    cases = [dict(scale_factor=2, mode="nearest"), dict(size=(4, 9), mode="nearest"),
             dict(scale_factor=2, mode="bilinear", align_corners=False), dict(size=(3, 11), mode="bilinear"),
             dict(scale_factor=(1.5, 2.5), mode="bilinear", align_corners=True), dict(scale_factor=0.5, mode="bilinear")]
    for kwargs in cases:
        torch_kwargs = dict(kwargs, align_corners=kwargs.get("align_corners", False if kwargs["mode"] != "nearest" else None))
        assert_close(ops.interpolate(x, **kwargs), tf.interpolate(t, **torch_kwargs).numpy())
    for size in (1, (3, 4), (5, 2), (7, 6), (None, 4)):
        assert_close(ops.adaptive_avg_pool2d(x, size), tf.adaptive_avg_pool2d(t, size).numpy())
        out, indices = ops.adaptive_max_pool2d(x, size, return_indices=True)
        want, want_indices = tf.adaptive_max_pool2d(t, size, return_indices=True)
        assert np.array_equal(out, want.numpy()) and np.array_equal(indices, want_indices.numpy())
    v = rng.standard_normal((1, 2, 9)).astype(np.float32)
    assert_close(ops.adaptive_avg_pool1d(v, 4), tf.adaptive_avg_pool1d(torch.tensor(v), 4).numpy())
    assert_close(ops.interpolate(v, size=13, mode="linear"),
                 tf.interpolate(torch.tensor(v), size=13, mode="linear", align_corners=False).numpy())
    w = rng.standard_normal((1, 2, 5, 4, 6)).astype(np.float32)
    assert_close(ops.adaptive_avg_pool3d(w, (2, 3, 4)), tf.adaptive_avg_pool3d(torch.tensor(w), (2, 3, 4)).numpy())
    assert_close(ops.interpolate(w, scale_factor=2, mode="trilinear"),
                 tf.interpolate(torch.tensor(w), scale_factor=2, mode="trilinear", align_corners=False).numpy())
