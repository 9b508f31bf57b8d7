"""Optimizers with PyTorch's update rules, updating the parameters' arrays in place (one fused update per
parameter through its device's namespace: xp.sgd_update, xp.adam_update).

SGD:  g = grad + weight_decay * p;  buf = momentum * buf + (1 - dampening) * g  (buf = g at the first step);
      step = g + momentum * buf if nesterov else buf;  p -= lr * step.
Adam: g = grad + weight_decay * p;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
      p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
"""
from . import buffers
from .device import device_of
from .graph import no_grad


class Optimizer:
    def __init__(self, params, lr):
        self.params = list(params)
        if not self.params:
            raise ValueError("the optimizer got an empty parameter list")
        if not all(getattr(p, "requires_grad", False) for p in self.params):
            raise ValueError("every parameter handed to an optimizer must be a Tensor that requires grad")
        if lr < 0:
            raise ValueError(f"learning rate must be >= 0, got {lr}")
        self.lr = lr
        self.state = [{} for _ in self.params]

    def zero_grad(self):
        """Forget the gradients (set to None: the next backward writes fresh ones)."""
        for p in self.params:
            p.grad = None

    def step(self):
        buffers.run(self._step)

    @no_grad()
    def _step(self):
        for p, state in zip(self.params, self.state):
            if p.grad is not None:
                self._update(p.data, p.grad.data, state)

    def _update(self, p, grad, state):
        raise NotImplementedError


class SGD(Optimizer):
    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, lr)
        if momentum < 0 or weight_decay < 0:
            raise ValueError(f"momentum and weight_decay must be >= 0, got {momentum} and {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and dampening 0")
        self.momentum, self.dampening, self.weight_decay, self.nesterov = momentum, dampening, weight_decay, nesterov

    def _update(self, p, grad, state):
        xp = device_of(p).xp
        buffer = state.get("momentum_buffer")
        first_step = buffer is None
        if self.momentum and first_step:
            buffer = state["momentum_buffer"] = xp.zeros_like(p)
        xp.sgd_update(p, grad, self.lr, buffer, self.momentum, self.dampening, self.weight_decay, self.nesterov,
                      first_step)


class Adam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        if not all(0 <= b < 1 for b in betas) or eps < 0 or weight_decay < 0:
            raise ValueError(f"Adam needs betas in [0, 1), eps >= 0, weight_decay >= 0; got {betas}, {eps}, {weight_decay}")
        self.betas, self.eps, self.weight_decay = betas, eps, weight_decay

    def _update(self, p, grad, state):
        xp = device_of(p).xp
        if not state:
            state.update(step=0, exp_avg=xp.zeros_like(p), exp_avg_sq=xp.zeros_like(p))
        state["step"] += 1
        xp.adam_update(p, grad, state["exp_avg"], state["exp_avg_sq"], state["step"], self.lr, *self.betas, self.eps,
                       self.weight_decay)
