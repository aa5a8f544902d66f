"""Exponential moving average of the weights *and* the BatchNorm running statistics.

The reference system averaged parameters only, so its EMA model normalised with the
random-init BN statistics and was useless (DESIGN §6). Here every floating-point entry of
the state dict is averaged; integer buffers (``num_batches_tracked``) are copied.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class ModelEMA:
    def __init__(self, model: nn.Module, decay: float, update_interval: int = 1):
        self.module = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay
        self.update_interval = update_interval
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        if step % self.update_interval:
            return
        self.updates += 1
        # Warm-up of the decay (as in YOLO/timm): early averages are not dominated by init.
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        source = model.state_dict()
        for name, ema_value in self.module.state_dict().items():
            value = source[name].detach()
            if ema_value.dtype.is_floating_point:
                ema_value.mul_(d).add_(value.to(ema_value.dtype), alpha=1 - d)
            else:
                ema_value.copy_(value)

    def state_dict(self) -> dict:
        return self.module.state_dict()

    def load_state_dict(self, state: dict, updates: int) -> None:
        self.module.load_state_dict(state)
        self.updates = updates
