"""Learning-rate schedules (torch.optim.lr_scheduler's names, arguments and closed forms), setting each parameter
group's "lr" of an engine optimizer. As in PyTorch, making a scheduler sets the epoch-0 rate, and step() is
called once per epoch (OneCycleLR: once per batch) after optimizer.step().

StepLR:            base * gamma ** (epoch // step_size)
MultiStepLR:       base * gamma ** (number of milestones <= epoch)
CosineAnnealingLR: eta_min + (base - eta_min) * (1 + cos(pi * epoch / T_max)) / 2
OneCycleLR:        from max_lr / div_factor up to max_lr over pct_start of total_steps, then down to
                   max_lr / (div_factor * final_div_factor) (cosine or linear), momentum (or Adam's beta1)
                   cycled the other way between max_momentum and base_momentum.
"""
import bisect
import math


class LRScheduler:
    def __init__(self, optimizer, last_epoch=-1):
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(f"{type(self).__name__} needs an engine optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def get_lr(self):
        """The rate of each group at self.last_epoch."""
        raise NotImplementedError

    def step(self):
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self):
        return list(self._last_lr)

    def state_dict(self):
        """The scheduler's numbers (no optimizer): {"last_epoch": ..., "base_lrs": [...], ...}."""
        return {key: value for key, value in vars(self).items() if key != "optimizer"}

    def load_state_dict(self, state_dict):
        for key, value in state_dict.items():
            if key not in vars(self):
                raise KeyError(f"{type(self).__name__} has no state {key!r}")
            old = getattr(self, key)
            setattr(self, key, [type(o)(v) for o, v in zip(old, _as_list(value))] if isinstance(old, list)
                    else type(old)(_as_number(value)))
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr


def _as_number(value):
    return value.item() if hasattr(value, "item") else value


def _as_list(value):
    return value.tolist() if hasattr(value, "tolist") else list(value)


class StepLR(LRScheduler):
    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        if not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"step_size must be a positive int, got {step_size!r}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones, self.gamma = sorted(int(m) for m in milestones), gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * self.gamma ** bisect.bisect_right(self.milestones, self.last_epoch) for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        if T_max <= 0:
            raise ValueError(f"T_max must be positive, got {T_max!r}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        cosine = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base - self.eta_min) * cosine for base in self.base_lrs]


class OneCycleLR(LRScheduler):
    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
                 anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85, max_momentum=0.95, div_factor=25.0,
                 final_div_factor=1e4, three_phase=False, last_epoch=-1):
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("OneCycleLR needs total_steps, or epochs and steps_per_epoch")
            total_steps = epochs * steps_per_epoch
        if not isinstance(total_steps, int) or total_steps < 2:
            raise ValueError(f"total_steps must be an int >= 2, got {total_steps!r}")
        if not 0 < pct_start < 1:
            raise ValueError(f"pct_start must be in (0, 1), got {pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        groups = optimizer.param_groups
        max_lrs = list(max_lr) if isinstance(max_lr, (list, tuple)) else [max_lr] * len(groups)
        self.total_steps, self.cosine, self.cycle_momentum = total_steps, anneal_strategy == "cos", cycle_momentum
        up = float(pct_start * total_steps) - 1
        self.phases = ([(up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                        (2 * up, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                        (total_steps - 1.0, "initial_lr", "min_lr", "max_momentum", "max_momentum")] if three_phase else
                       [(up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                        (total_steps - 1.0, "max_lr", "min_lr", "base_momentum", "max_momentum")])
        for group, top in zip(groups, max_lrs):
            group.update(initial_lr=top / div_factor, max_lr=top, min_lr=top / div_factor / final_div_factor)
            if cycle_momentum:
                if "momentum" not in group and "betas" not in group:
                    raise ValueError("cycle_momentum needs an optimizer with momentum or betas (SGD, Adam, RMSprop)")
                group.update(base_momentum=base_momentum, max_momentum=max_momentum)
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start, end, pct):
        if self.cosine:
            return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        step = self.last_epoch
        if step > self.total_steps:  # PyTorch's rule: total_steps calls of step() after the one at construction
            raise ValueError(f"OneCycleLR stepped {step} times, past total_steps={self.total_steps}")
        lrs = []
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, (end, lr_from, lr_to, momentum_from, momentum_to) in enumerate(self.phases):
                if step <= end or i == len(self.phases) - 1:
                    pct = (step - start) / (end - start)
                    lrs.append(self._anneal(group[lr_from], group[lr_to], pct))
                    if self.cycle_momentum:
                        momentum = self._anneal(group[momentum_from], group[momentum_to], pct)
                        if "betas" in group:
                            group["betas"] = (momentum, *group["betas"][1:])
                        else:
                            group["momentum"] = momentum
                    break
                start = end
        return lrs

    def state_dict(self):
        return {key: value for key, value in super().state_dict().items() if key != "phases"}
