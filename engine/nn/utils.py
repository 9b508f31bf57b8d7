"""Gradient clipping, torch.nn.utils' names: in place on the parameters' .grad, on their own device."""
import numpy as np

from ..device import device_of
from ..graph import no_grad
from ..tensor import Tensor


def _grads(parameters):
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad.data for p in parameters if p.grad is not None]


@no_grad()
def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together so that their joint norm (norm_type: a p >= 1 or inf) is at most max_norm;
    returns that norm before clipping (a 0-d Tensor). The scale min(1, max_norm / (norm + 1e-6)) is computed and
    applied on the device, so no value crosses to the host (error_if_nonfinite reads it there)."""
    grads = _grads(parameters)
    if max_norm < 0 or not norm_type >= 1:
        raise ValueError(f"clip_grad_norm_ needs max_norm >= 0 and norm_type >= 1, got {max_norm} and {norm_type}")
    if not grads:
        return Tensor(np.asarray(0.0))
    xp = device_of(grads[0]).xp
    if norm_type == float("inf"):
        norms = [xp.max(xp.abs(g)) for g in grads]
        total = norms[0]
        for n in norms[1:]:
            total = xp.maximum(total, n)
    else:
        total = xp.sum(xp.power(xp.abs(grads[0]), norm_type))
        for g in grads[1:]:
            total = xp.add(total, xp.sum(xp.power(xp.abs(g), norm_type)))
        total = xp.power(total, 1.0 / norm_type)
    if error_if_nonfinite and not abs(float(device_of(total).to_host(total))) < float("inf"):
        raise RuntimeError(f"the total norm of order {norm_type} of the gradients is not finite")
    scale = xp.minimum(xp.divide(max_norm, xp.add(total, 1e-6)), 1.0)
    for g in grads:
        xp.multiply(g, xp.asarray(scale, dtype=g.dtype), out=g)
    return Tensor(total)


@no_grad()
def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient element to [-clip_value, clip_value], in place."""
    if clip_value < 0:
        raise ValueError(f"clip_value must be >= 0, got {clip_value}")
    for g in _grads(parameters):
        xp = device_of(g).xp
        xp.maximum(g, -clip_value, out=g)
        xp.minimum(g, clip_value, out=g)
