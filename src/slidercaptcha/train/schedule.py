"""Linear warm-up, then CosineAnnealingWarmRestarts, stepped once per optimiser step.

The learning rate is a closed-form function of the step, so resuming (or checking the
schedule in a test) needs only the step count. After warm-up it equals
``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts`` evaluated at fractional epochs.
"""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from slidercaptcha.config import SchedulerConfig


def cosine_restart_factor(t: float, t0: float, t_mult: int) -> float:
    """Position (1 → 0 → restart) within the current cosine cycle at epoch ``t``."""
    if t_mult == 1:
        t_cur, t_i = t % t0, t0
    else:
        n = int(math.log(t / t0 * (t_mult - 1) + 1, t_mult))
        t_cur, t_i = t - t0 * (t_mult**n - 1) / (t_mult - 1), t0 * t_mult**n
        if t_cur >= t_i:  # float round-off at a restart boundary
            t_cur, t_i = t_cur - t_i, t_i * t_mult
    return (1 + math.cos(math.pi * t_cur / t_i)) / 2


def lr_at(step: int, base_lr: float, steps_per_epoch: int, cfg: SchedulerConfig) -> float:
    warmup_steps = round(cfg.warmup_epochs * steps_per_epoch)
    if step < warmup_steps:
        return cfg.warmup_lr + (base_lr - cfg.warmup_lr) * step / warmup_steps
    t = (step - warmup_steps) / steps_per_epoch
    return cfg.eta_min + (base_lr - cfg.eta_min) * cosine_restart_factor(t, cfg.T_0, cfg.T_mult)


class WarmupCosineRestarts(LRScheduler):
    """``last_epoch`` counts optimiser steps here, not epochs."""

    def __init__(self, optimizer: Optimizer, steps_per_epoch: int, cfg: SchedulerConfig, last_epoch: int = -1):
        self.steps_per_epoch = steps_per_epoch
        self.cfg = cfg
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [lr_at(self.last_epoch, base, self.steps_per_epoch, self.cfg) for base in self.base_lrs]

    def state_dict(self) -> dict:
        return {k: v for k, v in super().state_dict().items() if k != "cfg"}
