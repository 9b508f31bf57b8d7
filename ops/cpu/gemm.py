"""Convolution as im2col + one matrix product per group (the workhorse for many channels).

Packing runs in the Cython extension (OpenMP); the products go through NumPy's
matmul, i.e. the BLAS sgemm/dgemm NumPy links. cols is laid out
(C * kvol, N * L) so a whole batch is a single product per group.
"""
import numpy as np

from .._native import im2col as native


def _as_3d(values, fill):
    """Left-pad a per-dim tuple to 3 dims, so 1-D and 2-D convs run as 3-D ones."""
    return (fill,) * (3 - len(values)) + tuple(values)


def _args(geom):
    return (_as_3d(geom.kernel, 1), _as_3d(geom.stride, 1), _as_3d(tuple(lo for lo, _ in geom.padding), 0),
            _as_3d(geom.dilation, 1), _as_3d(geom.out_spatial, 1))


def _five_d(shape, geom):
    return shape[:2] + _as_3d(shape[2:], 1)


def _cols(x, geom):
    kvol = int(np.prod(geom.kernel))
    cols = np.empty((geom.in_channels * kvol, geom.batch * int(np.prod(geom.out_spatial))), x.dtype)
    native.im2col(x.reshape(_five_d(x.shape, geom)), cols, *_args(geom))
    return cols.reshape(geom.groups, -1, cols.shape[1])


def _out_as_rows(grad_out, geom):
    """(N, K, *S_out) -> (groups, K // groups, N * L)."""
    n, k = grad_out.shape[:2]
    rows = grad_out.reshape(n, k, -1).transpose(1, 0, 2)
    return rows.reshape(geom.groups, k // geom.groups, -1)


def _weight_rows(w, geom):
    return w.reshape(geom.groups, geom.out_channels // geom.groups, -1)


def forward(x, w, bias, geom):
    out = np.matmul(_weight_rows(w, geom), _cols(x, geom))  # (G, K/G, N*L)
    out = out.reshape(geom.out_channels, geom.batch, -1).transpose(1, 0, 2)
    if bias is not None:
        out = out + bias[:, None]
    return np.ascontiguousarray(out).reshape(geom.output_shape)


def grad_input(grad_out, w, geom):
    cols = np.matmul(_weight_rows(w, geom).transpose(0, 2, 1), _out_as_rows(grad_out, geom))
    grad = np.zeros(_five_d(geom.input_shape, geom), grad_out.dtype)
    native.col2im(cols.reshape(-1, cols.shape[2]), grad, *_args(geom))
    return grad.reshape(geom.input_shape)


def grad_weight(x, grad_out, geom):
    gw = np.matmul(_out_as_rows(grad_out, geom), _cols(x, geom).transpose(0, 2, 1))
    return gw.reshape(geom.weight_shape)
