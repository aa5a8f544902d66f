"""Lite-HRNet-18+LiteFPN model."""
from slidercaptcha.model.lite_hrnet import (
    OUTPUT_NAMES,
    VARIANTS,
    LiteHRNet18FPN,
    TupleOutputs,
    build_model,
    model_from_config,
)

__all__ = ["LiteHRNet18FPN", "TupleOutputs", "build_model", "model_from_config", "VARIANTS", "OUTPUT_NAMES"]
