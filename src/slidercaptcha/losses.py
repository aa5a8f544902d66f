"""Training loss (DESIGN §4): CenterNet focal loss, L1 offsets at peaks, angle L1, decoy margin."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from slidercaptcha.config import LossConfig

EPS = 1e-4


def focal_loss(pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor, alpha: float = 2.0,
               beta: float = 4.0) -> torch.Tensor:
    """Penalty-reduced pixel-wise focal loss, summed over valid cells, divided by the positives.

    pred, gt, valid: [B,1,h,w]; positives are cells where ``gt == 1`` (the Gaussian peaks).
    """
    pred = pred.float().clamp(EPS, 1 - EPS)
    pos = (gt == 1).float() * valid
    neg = (1 - (gt == 1).float()) * valid
    pos_loss = torch.log(pred) * (1 - pred).pow(alpha) * pos
    neg_loss = torch.log(1 - pred) * pred.pow(alpha) * (1 - gt).pow(beta) * neg
    return -(pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp_min(1.0)


def masked_l1(pred: torch.Tensor, gt: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean |pred − gt| over the cells where ``weight`` is set (weight [B,1,h,w] broadcasts over channels)."""
    return (F.l1_loss(pred.float(), gt, reduction="none") * weight).sum() / (weight.sum() * pred.shape[1]).clamp_min(1.0)


def _score_at(heatmap: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
    """Heatmap [B,1,h,w] values at grid points xy [B,K,2] (nearest cell)."""
    h, w = heatmap.shape[-2:]
    col = xy[..., 0].round().long().clamp(0, w - 1)
    row = xy[..., 1].round().long().clamp(0, h - 1)
    return heatmap[:, 0].flatten(1).gather(1, row * w + col)


def decoy_margin(heatmap_gap: torch.Tensor, peak_gap: torch.Tensor, decoys: torch.Tensor,
                 decoy_valid: torch.Tensor, margin: float) -> torch.Tensor:
    """Hinge that keeps the true gap's peak at least ``margin`` above each decoy's score."""
    true_score = (heatmap_gap.float() * peak_gap).flatten(1).sum(1, keepdim=True)  # [B,1]
    hinge = F.relu(margin - (true_score - _score_at(heatmap_gap.float(), decoys)))
    return (hinge * decoy_valid).sum() / decoy_valid.sum().clamp_min(1.0)


def compute_loss(out: dict[str, torch.Tensor], t: dict[str, torch.Tensor], cfg: LossConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted total and its parts (as floats for logging)."""
    hm = cfg.heatmap
    parts = {
        "heatmap": focal_loss(out["heatmap_gap"], t["heatmap_gap"], t["valid"], hm.alpha, hm.beta)
        + focal_loss(out["heatmap_slider"], t["heatmap_slider"], t["slider_valid"], hm.alpha, hm.beta),
        "offset": masked_l1(out["offset_gap"], t["offset_gap"], t["peak_gap"])
        + masked_l1(out["offset_slider"], t["offset_slider"], t["peak_slider"]),
        "decoy": decoy_margin(out["heatmap_gap"], t["peak_gap"], t["decoys"], t["decoy_valid"], cfg.decoy.margin),
    }
    weights = {"heatmap": hm.weight, "offset": cfg.offset.weight, "decoy": cfg.decoy.weight}
    if "angle" in out:
        parts["angle"] = masked_l1(out["angle"], t["angle"], t["angle_weight"])
        weights["angle"] = cfg.angle.weight
    total = sum(weights[k] * v for k, v in parts.items())
    return total, {k: float(v.detach()) for k, v in parts.items()}
