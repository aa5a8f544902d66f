"""The spec's gradient check (调试技巧): which parameters have a gradient norm over a limit."""

from __future__ import annotations

from torch import nn


def large_gradients(model: nn.Module, limit: float) -> list[tuple[str, float]]:
    """(name, norm) of every parameter whose gradient norm exceeds ``limit`` or is not finite."""
    found = []
    for name, p in model.named_parameters():
        if p.grad is not None:
            norm = p.grad.norm().item()
            if not norm <= limit:  # also catches NaN
                found.append((name, norm))
    return found
