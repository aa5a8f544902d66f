"""Run a model over a labelled loader: loss, decoded points, per-sample errors, metrics.

Used by training validation and by ``slidercaptcha evaluate`` so both score the same way:
through the real decoder, in original-image pixels.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from slidercaptcha.config import LossConfig
from slidercaptcha.decode import decode
from slidercaptcha.losses import compute_loss
from slidercaptcha.metrics import sample_errors, summarize

TARGET_KEYS = ("heatmap_gap", "heatmap_slider", "offset_gap", "offset_slider", "peak_gap", "peak_slider",
               "angle", "angle_weight", "valid", "slider_valid", "decoys", "decoy_valid")


@torch.no_grad()
def predict_loader(model: nn.Module, loader, device: torch.device, loss_cfg: LossConfig | None = None,
                   joint: bool = True, keep_first_batch: bool = False) -> dict:
    """Predictions and truths of every sample, as numpy arrays keyed by name.

    Also the mean loss (when ``loss_cfg``), the model time per image, and optionally the
    first batch with its outputs (for TensorBoard figures).
    """
    model.eval()
    cols: dict[str, list] = {k: [] for k in ("pred_gap", "pred_slider", "gap_score", "slider_score", "pred_angle",
                                             "gap", "slider", "has_slider", "gap_angle", "index", "sample_type")}
    losses, seconds, first = [], 0.0, None
    for batch in loader:
        image = batch["image"].to(device, non_blocking=True)
        start = time.perf_counter()
        out = model(image)
        seconds += time.perf_counter() - start
        if loss_cfg is not None:
            targets = {k: batch[k].to(device) for k in TARGET_KEYS}
            losses.append(compute_loss(out, targets, loss_cfg)[0].item() * len(image))
        dec = decode(out, batch["box"].to(device), image[:, 3:4], joint=joint)
        cols["pred_gap"].append(dec["gap"].cpu().numpy())
        cols["pred_slider"].append(dec["slider"].cpu().numpy())
        cols["gap_score"].append(dec["gap_score"].cpu().numpy())
        cols["slider_score"].append(dec["slider_score"].cpu().numpy())
        cols["pred_angle"].append(dec["gap_angle"].cpu().numpy() if "gap_angle" in dec else np.zeros(len(image)))
        cols["gap"].append(batch["gap_xy"].numpy())
        cols["slider"].append(batch["slider_xy"].numpy())
        cols["has_slider"].append(batch["has_slider"].numpy())
        cols["gap_angle"].append(batch["gap_angle"].numpy())
        cols["index"].append(np.asarray(batch["index"]))
        cols["sample_type"].append(np.asarray(batch["sample_type"]))
        if keep_first_batch and first is None:
            first = {"batch": batch, "outputs": {k: v.cpu() for k, v in out.items()},
                     "decoded": {k: v.cpu() for k, v in dec.items()}}
    result = {k: np.concatenate(v) if v else np.zeros(0) for k, v in cols.items()}
    n = len(result["gap"])
    result["loss"] = float(sum(losses) / max(n, 1)) if loss_cfg is not None else None
    result["model_ms_per_image"] = 1000.0 * seconds / max(n, 1)
    result["first"] = first
    return result


def errors_of(pred: dict) -> dict[str, np.ndarray]:
    return sample_errors(pred["pred_gap"], pred["pred_slider"], pred["gap"], pred["slider"], pred["has_slider"],
                         pred["pred_angle"], pred["gap_angle"])


def metrics_of(pred: dict) -> dict:
    return summarize(errors_of(pred))
