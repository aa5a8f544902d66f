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
