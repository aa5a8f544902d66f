"""Generated captchas for INT8 calibration, accuracy checks, benchmarks and smoke tests."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from slidercaptcha.config import AugmentationConfig, GeneratorConfig


def generated_captchas(count: int, seed: int = 0, mode: str = "composite", style: str = "classic"):
    """``count`` captchas from the data generator (procedural backgrounds, all effects on), in
    ``style``: the checks calibrated before styles keep the classic one; INT8 calibration
    takes the mix, which spans every look."""
    from slidercaptcha.data.render import EffectProbs, render_captcha

    rng = np.random.default_rng(seed)
    cfg = replace(GeneratorConfig(), style=style)
    probs = EffectProbs.from_augmentation(AugmentationConfig())
    return [render_captcha(rng, cfg, probs, mode) for _ in range(count)]


def errors_vs_labels(captchas, results) -> dict[str, np.ndarray]:
    """Per-sample errors (:func:`slidercaptcha.metrics.sample_errors`) of solver results
    against the generator's labels; a slider the solver missed counts as infinitely far."""
    from slidercaptcha.metrics import sample_errors

    def point(p):
        return (np.inf, np.inf) if p is None else p

    records = [c.record for c in captchas]
    has = np.array([r["slider_x"] is not None for r in records])
    return sample_errors(np.array([r.gap for r in results], float),
                         np.array([point(r.slider) for r in results], float),
                         np.array([(r["gap_x"], r["gap_y"]) for r in records], float),
                         np.array([(r["slider_x"] or 0.0, r["slider_y"] or 0.0) for r in records], float),
                         has)


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
