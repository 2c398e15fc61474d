"""Learning-rate schedules: step decay, cosine annealing, linear warm-up, and one after another.

Each schedule is a closed-form function of the step count ``t`` (the number of times :meth:`step` has
been called), with the arguments and meaning of the ``torch.optim.lr_scheduler`` class of the same
name. On construction a schedule records every group's ``lr`` as its base rate and sets the rate for
``t = 0``; each :meth:`step` advances ``t`` and writes the new rate into the optimizer's groups. Call it
once per epoch (or per batch, if the schedule is counted in batches), after ``optimizer.step``.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

__all__ = ["LRScheduler", "StepLR", "CosineAnnealingLR", "LinearLR", "SequentialLR"]


class LRScheduler:
    """Base class: ``lr_at(t, base_lr)`` gives the rate at step ``t``; ``step()`` applies it."""

    def __init__(self, optimizer: Any) -> None:
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(f"a schedule needs an optimizer with param_groups, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lrs = [float(group["lr"]) for group in optimizer.param_groups]
        self.last_epoch = 0
        self._apply()

    def lr_at(self, t: int, base_lr: float) -> float:
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The rate of every group at the current step."""
        return [self.lr_at(self.last_epoch, base) for base in self.base_lrs]

    def step(self) -> None:
        self.last_epoch += 1
        self._apply()

    def _apply(self) -> None:
        for group, lr in zip(self.optimizer.param_groups, self.get_last_lr()):
            group["lr"] = lr

    def state_dict(self) -> dict[str, Any]:
        return {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.last_epoch = int(state["last_epoch"])
        self.base_lrs = [float(lr) for lr in state["base_lrs"]]
        self._apply()


def _check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` steps: ``lr_t = lr * gamma ** (t // step_size)``."""

    def __init__(self, optimizer: Any, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = _check_positive_int("step_size", step_size)
        if not gamma > 0:
            raise ValueError(f"gamma must be positive, got {gamma!r}")
        self.gamma = float(gamma)
        super().__init__(optimizer)

    def lr_at(self, t: int, base_lr: float) -> float:
        return base_lr * self.gamma ** (t // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from ``lr`` down to ``eta_min`` over ``T_max`` steps:
    ``lr_t = eta_min + (lr - eta_min) (1 + cos(pi t / T_max)) / 2`` (and back up after ``T_max``, as
    in torch; use :class:`SequentialLR` to hold the floor instead)."""

    def __init__(self, optimizer: Any, T_max: int, eta_min: float = 0.0) -> None:
        self.T_max = _check_positive_int("T_max", T_max)
        if eta_min < 0:
            raise ValueError(f"eta_min must be non-negative, got {eta_min!r}")
        self.eta_min = float(eta_min)
        super().__init__(optimizer)

    def lr_at(self, t: int, base_lr: float) -> float:
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2


class LinearLR(LRScheduler):
    """Scale the rate linearly from ``start_factor * lr`` to ``end_factor * lr`` over ``total_iters``
    steps, then hold it: with ``end_factor=1`` this is the usual linear warm-up."""

    def __init__(self, optimizer: Any, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5) -> None:
        if not 0 < start_factor <= 1:
            raise ValueError(f"start_factor must lie in (0, 1], got {start_factor!r}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"end_factor must lie in [0, 1], got {end_factor!r}")
        self.start_factor, self.end_factor = float(start_factor), float(end_factor)
        self.total_iters = _check_positive_int("total_iters", total_iters)
        super().__init__(optimizer)

    def lr_at(self, t: int, base_lr: float) -> float:
        progress = min(t, self.total_iters) / self.total_iters
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)


class SequentialLR(LRScheduler):
    """Run ``schedulers`` one after another, switching at the step counts in ``milestones``; each
    schedule restarts its own count at its milestone. Warm-up then cosine decay is
    ``SequentialLR(opt, [LinearLR(opt, 0.01, total_iters=w), CosineAnnealingLR(opt, T - w)], [w])``."""

    def __init__(self, optimizer: Any, schedulers: Sequence[LRScheduler], milestones: Sequence[int]) -> None:
        if len(schedulers) != len(milestones) + 1:
            raise ValueError(f"SequentialLR needs one more scheduler than milestones, got {len(schedulers)} "
                             f"schedulers and {len(milestones)} milestones")
        if list(milestones) != sorted(milestones) or any(m < 1 for m in milestones):
            raise ValueError(f"milestones must be positive and increasing, got {list(milestones)}")
        if any(s.optimizer is not optimizer for s in schedulers):
            raise ValueError("every scheduler in SequentialLR must drive the same optimizer")
        self.schedulers, self.milestones = list(schedulers), list(milestones)
        base_lrs = schedulers[0].base_lrs  # the rates before any schedule touched them
        super().__init__(optimizer)
        self.base_lrs = list(base_lrs)
        self._apply()

    def lr_at(self, t: int, base_lr: float) -> float:
        k = sum(t >= m for m in self.milestones)
        start = self.milestones[k - 1] if k else 0
        return self.schedulers[k].lr_at(t - start, base_lr)
