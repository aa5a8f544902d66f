"""Checkpoint files: the spec's layout, written atomically, read safely.

Everything in a checkpoint is plain tensors, numbers, strings, lists and dicts, so it
loads with ``torch.load(..., weights_only=True)``: a checkpoint handed in by a user
cannot run code. The numpy RNG state is stored as a tensor for that reason.
"""

from __future__ import annotations

import io
import pickle
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from slidercaptcha.config import Config, config_from_dict
from slidercaptcha.model import LiteHRNet18FPN, model_from_config
from slidercaptcha.utils.io import atomic_write

FORMAT_VERSION = 1
SPEC_KEYS = ("epoch", "model_state_dict", "optimizer_state_dict", "scheduler_state_dict", "ema_state_dict",
             "metrics", "config", "random_state")


class CheckpointError(ValueError):
    """The file is not a readable slidercaptcha checkpoint."""


def rng_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "random": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    version, internal, gauss = state["random"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Serialise to memory first, then write temp file + rename: never a half-written .pth."""
    buffer = io.BytesIO()
    torch.save({"format_version": FORMAT_VERSION, **state}, buffer)
    return atomic_write(path, lambda f: f.write(buffer.getbuffer()))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely; a truncated or foreign file is refused with a clear message."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:  # torch's own text advises weights_only=False: not for a file handed in
        raise CheckpointError(f"{path}: not a PyTorch checkpoint, or one that holds more than tensors and "
                              "plain data (only those are loaded: unpickling anything else can run code)") from None
    except Exception as err:  # torch raises several types for corrupt or truncated zips
        reason = str(err).split(". ")[0]  # torch's first sentence; the rest is advice about its internals
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or corrupt?): {reason}") from None
    if not isinstance(ckpt, dict) or "model_state_dict" not in ckpt:
        raise CheckpointError(f"{path}: not a slidercaptcha checkpoint (no model_state_dict)")
    return ckpt


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """A model's weights from a checkpoint (EMA when present) or a shipped ``.safetensors``
    file (stored FP16: returned as FP32), e.g. to start a fine-tune from either."""
    path = Path(path)
    if path.suffix.lower() != ".safetensors":
        ckpt = load_checkpoint(path)
        return ckpt.get("ema_state_dict") or ckpt["model_state_dict"]
    from safetensors.torch import load_file

    if not path.is_file():
        raise FileNotFoundError(f"weights not found: {path}")
    return {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(path)).items()}


def load_model(path: str | Path, prefer_ema: bool = True, map_location: str = "cpu") -> tuple[LiteHRNet18FPN, Config]:
    """Build the model a checkpoint was trained with and load its (EMA, when present) weights."""
    ckpt = load_checkpoint(path, map_location)
    config = config_from_dict(ckpt.get("config") or {})
    model = model_from_config(config.model)
    weights = ckpt.get("ema_state_dict") if prefer_ema and ckpt.get("ema_state_dict") else ckpt["model_state_dict"]
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        raise CheckpointError(f"{path}: weights do not fit model '{config.model.variant}': {err}") from None
    return model.eval(), config
