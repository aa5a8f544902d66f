"""Generated captchas for INT8 calibration, accuracy checks, benchmarks and smoke tests."""

from __future__ import annotations

import numpy as np

from slidercaptcha.config import AugmentationConfig, GeneratorConfig


def generated_captchas(count: int, seed: int = 0, mode: str = "composite"):
    """``count`` captchas from the data generator (procedural backgrounds, all effects on)."""
    from slidercaptcha.data.render import EffectProbs, render_captcha

    rng = np.random.default_rng(seed)
    probs = EffectProbs.from_augmentation(AugmentationConfig())
    return [render_captcha(rng, GeneratorConfig(), probs, mode) for _ in range(count)]


def random_checkpoint(path, variant: str = "lite-hrnet-18-fpn-s", seed: int = 0):
    """A randomly initialised checkpoint in the training layout (for benchmarks and tests)."""
    import torch

    from slidercaptcha.checkpoint import save_checkpoint
    from slidercaptcha.config import Config
    from slidercaptcha.model import model_from_config

    config = Config()
    config.model.variant = variant
    torch.manual_seed(seed)
    model = model_from_config(config.model)
    return save_checkpoint(path, {"epoch": 0, "model_state_dict": model.state_dict(), "ema_state_dict": None,
                                  "config": config.to_dict()})
