"""Optimizers with PyTorch's update rules, parameter groups and state_dict, updating the parameters' arrays in
place through their device's namespace (fused: xp.sgd_update, xp.adam_update; composed: AdamW's decay, RMSprop).

SGD:     g = grad + weight_decay * p;  buf = momentum * buf + (1 - dampening) * g  (buf = g at the first step);
         step = g + momentum * buf if nesterov else buf;  p -= lr * step.
Adam:    g = grad + weight_decay * p;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
         p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
AdamW:   p *= 1 - lr * weight_decay, then Adam's step without weight decay (decoupled decay).
RMSprop: g = grad + weight_decay * p;  s = alpha s + (1 - alpha) g^2;  (centered: a = alpha a + (1 - alpha) g,
         s - a^2 in place of s);  u = g / (sqrt(s) + eps);  buf = momentum buf + u if momentum, p -= lr * (buf or u).

params is an iterable of Parameters or of dicts {"params": [...], **overrides} (parameter groups, each with
its own hyperparameters: group["lr"] is what schedulers change). state_dict() / load_state_dict() carry the
groups' hyperparameters and each parameter's buffers (as NumPy arrays), numbered as PyTorch numbers them.
"""
import numpy as np

from . import (
    buffers,
    lr_scheduler,  # noqa: F401  (E.optim.lr_scheduler, as torch.optim.lr_scheduler)
)
from .device import device_of
from .graph import no_grad


class Optimizer:
    def __init__(self, params, defaults):
        params = list(params)
        if not params:
            raise ValueError("the optimizer got an empty parameter list")
        self.defaults = defaults
        self.param_groups = []
        self.state = {}  # parameter -> its buffers (arrays on the parameter's device) and step count
        for group in params if isinstance(params[0], dict) else [{"params": params}]:
            self.add_param_group(group)

    def add_param_group(self, group):
        """Add {"params": [...], hyperparameter: value, ...}; missing hyperparameters take the defaults."""
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError("a parameter group must be a dict with a 'params' entry")
        params = [group["params"]] if hasattr(group["params"], "requires_grad") else list(group["params"])
        if not params:
            raise ValueError("the optimizer got an empty parameter list")
        if not all(getattr(p, "requires_grad", False) for p in params):
            raise ValueError("every parameter handed to an optimizer must be a Tensor that requires grad")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("a parameter appears in more than one parameter group")
        unknown = set(group) - set(self.defaults) - {"params", "initial_lr", "max_lr", "min_lr", "base_momentum", "max_momentum"}
        if unknown:
            raise ValueError(f"unknown hyperparameters {sorted(unknown)}; {type(self).__name__} takes "
                             f"{sorted(self.defaults)}")
        full = {**self.defaults, **group, "params": params}
        self._check(full)
        self.param_groups.append(full)

    def _check(self, group):
        if group["lr"] < 0:
            raise ValueError(f"learning rate must be >= 0, got {group['lr']}")
        if group.get("weight_decay", 0) < 0:
            raise ValueError(f"weight_decay must be >= 0, got {group['weight_decay']}")

    def zero_grad(self, set_to_none=True):
        """Forget the gradients (set to None: the next backward writes fresh ones)."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def step(self):
        buffers.run(self._step)

    @no_grad()
    def _step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p.data, p.grad.data, self.state.setdefault(p, {}), group)

    def _update(self, p, grad, state, group):
        raise NotImplementedError

    # --- state ------------------------------------------------------------
    def _numbered(self):
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self):
        """{"state": {index: {name: array or number}}, "param_groups": [{hyperparameters, "params": [index]}]}."""
        numbered = self._numbered()
        state = {i: {name: device_of(v).to_host(v).copy() if hasattr(v, "shape") and not np.isscalar(v) else v
                     for name, v in self.state[p].items()}
                 for i, p in enumerate(numbered) if self.state.get(p)}
        start, groups = 0, []
        for group in self.param_groups:
            count = len(group["params"])
            groups.append({**{k: v for k, v in group.items() if k != "params"},
                           "params": list(range(start, start + count))})
            start += count
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyperparameters and buffers saved by state_dict() (keys may be ints or their strings)."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(saved["params"]) != len(own["params"]) for saved, own in zip(groups, self.param_groups)):
            raise ValueError(f"the state_dict's parameter groups {[len(g['params']) for g in groups]} do not match "
                             f"the optimizer's {[len(g['params']) for g in self.param_groups]}")
        numbered = self._numbered()
        saved_state = {int(k): v for k, v in state_dict["state"].items()}
        for i in saved_state:
            if not 0 <= i < len(numbered):
                raise ValueError(f"the state_dict has state for parameter {i}; the optimizer has {len(numbered)}")
        for saved, own in zip(groups, self.param_groups):
            for key, value in saved.items():
                if key != "params":
                    own[key] = tuple(np.asarray(value).tolist()) if key == "betas" else _plain(value)
        self.state = {}
        for i, values in saved_state.items():
            p = numbered[i]
            device = device_of(p.data)
            self.state[p] = {name: int(v) if name == "step" else
                             device.from_host(np.array(v, dtype=p.dtype)) for name, v in values.items()}


def _plain(value):
    """A saved hyperparameter (maybe a 0-d array after a round trip through E.save) as a Python value."""
    value = np.asarray(value)
    return value.item() if value.ndim == 0 else value.tolist()


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov))

    def _check(self, group):
        super()._check(group)
        if group["momentum"] < 0:
            raise ValueError(f"momentum must be >= 0, got {group['momentum']}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and dampening 0")

    def _update(self, p, grad, state, group):
        xp = device_of(p).xp
        buffer = state.get("momentum_buffer")
        first_step = buffer is None
        if group["momentum"] and first_step:
            buffer = state["momentum_buffer"] = xp.zeros_like(p)
        xp.sgd_update(p, grad, group["lr"], buffer, group["momentum"], group["dampening"], group["weight_decay"],
                      group["nesterov"], first_step)


class Adam(Optimizer):
    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    def _check(self, group):
        super()._check(group)
        if not all(0 <= b < 1 for b in group["betas"]) or group["eps"] < 0:
            raise ValueError(f"Adam needs betas in [0, 1), eps >= 0; got {group['betas']}, {group['eps']}")

    def _update(self, p, grad, state, group):
        xp = device_of(p).xp
        if not state:
            state.update(step=0, exp_avg=xp.zeros_like(p), exp_avg_sq=xp.zeros_like(p))
        state["step"] += 1
        weight_decay = group["weight_decay"]
        if self.decoupled and weight_decay:
            xp.multiply(p, 1 - group["lr"] * weight_decay, out=p)
        xp.adam_update(p, grad, state["exp_avg"], state["exp_avg_sq"], state["step"], group["lr"], *group["betas"],
                       group["eps"], 0.0 if self.decoupled else weight_decay)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): the decay shrinks p directly, not through g."""
    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr, betas, eps, weight_decay)


class RMSprop(Optimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered))

    def _check(self, group):
        super()._check(group)
        if not 0 <= group["alpha"] or group["eps"] < 0 or group["momentum"] < 0:
            raise ValueError(f"RMSprop needs alpha, eps, momentum >= 0; got {group['alpha']}, {group['eps']}, "
                             f"{group['momentum']}")

    def _update(self, p, grad, state, group):
        xp = device_of(p).xp
        if not state:
            state.update(step=0, square_avg=xp.zeros_like(p))
            if group["momentum"]:
                state["momentum_buffer"] = xp.zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(p)
        state["step"] += 1
        alpha = group["alpha"]
        if group["weight_decay"]:
            grad = xp.add(grad, xp.multiply(p, group["weight_decay"]))
        square_avg = state["square_avg"]
        xp.multiply(square_avg, alpha, out=square_avg)
        xp.add(square_avg, xp.multiply(xp.multiply(grad, grad), 1 - alpha), out=square_avg)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            xp.multiply(grad_avg, alpha, out=grad_avg)
            xp.add(grad_avg, xp.multiply(grad, 1 - alpha), out=grad_avg)
            variance = xp.subtract(square_avg, xp.multiply(grad_avg, grad_avg))
        else:
            variance = square_avg
        update = xp.divide(grad, xp.add(xp.sqrt(variance), group["eps"]))
        if group["momentum"]:
            buffer = state["momentum_buffer"]
            xp.multiply(buffer, group["momentum"], out=buffer)
            xp.add(buffer, update, out=buffer)
            update = buffer
        xp.subtract(p, xp.multiply(update, group["lr"]), out=p)
