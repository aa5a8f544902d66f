"""Keep parts of the model as loaded while the rest trains (``training.freeze``).

A fine-tune (a few hundred labelled captchas, or a generator mix other than the one the
loaded weights were chosen with) can move features that already work on real captchas.
A frozen part keeps its weights *and* its BatchNorm statistics (it stays in eval mode while
the rest trains), and no gradient is computed for it, so each step is also cheaper.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from slidercaptcha.config import ConfigError


def freeze(model: nn.Module, parts: Sequence[str]) -> list[nn.Module]:
    """Stop training the model's top-level children named in ``parts``; returns them. An
    unknown name, or freezing every part, is a config error that lists the parts."""
    children = dict(model.named_children())
    unknown = sorted(set(parts) - set(children))
    if unknown:
        raise ConfigError(f"training.freeze: unknown model part(s) {unknown}; the parts are {list(children)}")
    if set(parts) == set(children):
        raise ConfigError(f"training.freeze: {list(parts)} leaves nothing to train; the parts are {list(children)}")
    frozen = [children[name] for name in parts]
    for module in frozen:
        module.requires_grad_(False)
    return frozen


def train_mode(model: nn.Module, frozen: Sequence[nn.Module]) -> None:
    """``model.train()``, with the frozen parts left in eval mode (their BatchNorm statistics fixed)."""
    model.train()
    for module in frozen:
        module.eval()
