"""The spec's metrics, defined once for training validation and for evaluation.

Definitions (all in original-image pixels):
- gap error / slider error: Euclidean distance between predicted and true centre;
- sample error: mean of its gap and slider errors (gap alone when the image has no slider),
  as the spec's ``mean(|pred - gt|)`` over components;
- MAE: mean sample error; accuracy@k px: percentage of samples whose error is < k;
- distance error: |predicted − true sliding distance| (gap_x − slider_x), samples with a slider;
- angle error: |predicted − true gap rotation| in degrees, wrapped to [0, 180], rotated gaps only.
"""

from __future__ import annotations

import numpy as np

THRESHOLDS = (3, 5, 10)
TARGETS = {"mae": 5.0, "accuracy@5px": 98.0, "accuracy@3px": 85.0, "accuracy@10px": 99.5,
           "gap_mae": 5.0, "slider_mae": 5.0, "angle_error": 2.0, "inference_ms": 15.0}  # CPU, per image
HIGHER_IS_BETTER = {"accuracy@3px", "accuracy@5px", "accuracy@10px"}


def sample_errors(pred_gap: np.ndarray, pred_slider: np.ndarray, gap: np.ndarray, slider: np.ndarray,
                  has_slider: np.ndarray, pred_angle: np.ndarray | None = None,
                  gap_angle: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-sample errors [N]; NaN where a component does not apply."""
    has = np.asarray(has_slider, bool)
    gap_err = np.linalg.norm(np.asarray(pred_gap, float) - gap, axis=1)
    slider_err = np.where(has, np.linalg.norm(np.asarray(pred_slider, float) - slider, axis=1), np.nan)
    true_dist = np.asarray(gap, float)[:, 0] - np.asarray(slider, float)[:, 0]
    pred_dist = np.asarray(pred_gap, float)[:, 0] - np.asarray(pred_slider, float)[:, 0]
    out = {
        "gap": gap_err,
        "slider": slider_err,
        "error": np.where(has, (gap_err + np.nan_to_num(slider_err)) / 2, gap_err),
        "distance": np.where(has, np.abs(pred_dist - true_dist), np.nan),
        "angle": np.full(len(gap_err), np.nan),
    }
    if pred_angle is not None and gap_angle is not None:
        diff = np.abs((np.asarray(pred_angle, float) - gap_angle + 180.0) % 360.0 - 180.0)
        out["angle"] = np.where(np.abs(gap_angle) > 1e-6, diff, np.nan)
    return out


def _mean(x: np.ndarray) -> float | None:
    x = x[~np.isnan(x)]
    return float(x.mean()) if len(x) else None


def accuracy(err: np.ndarray, k: float) -> float | None:
    """Percentage of (non-NaN) errors below ``k`` px."""
    err = err[~np.isnan(err)]
    return float(100.0 * (err < k).mean()) if len(err) else None


def summarize(errors: dict[str, np.ndarray]) -> dict[str, float | int | None]:
    """The spec's metric table from per-sample errors."""
    s: dict[str, float | int | None] = {"n": int(len(errors["error"])), "mae": _mean(errors["error"])}
    for k in THRESHOLDS:
        s[f"accuracy@{k}px"] = accuracy(errors["error"], k)
    for part in ("gap", "slider"):
        s[f"{part}_mae"] = _mean(errors[part])
        for k in THRESHOLDS:
            s[f"{part}_accuracy@{k}px"] = accuracy(errors[part], k)
    s["distance_mae"] = _mean(errors["distance"])
    s["distance_accuracy@5px"] = accuracy(errors["distance"], 5)
    s["angle_error"] = _mean(errors["angle"])
    return s


def x_error_summary(signed: np.ndarray, tolerance: float = 5.0) -> dict[str, float | int | None]:
    """How a solver lands on a set of real captchas, from signed x errors (predicted − true
    gap centre x; NaN = no answer, counted as a miss).

    Real labels differ in where a box starts (knobs in or out, hand-drawn edges), which shifts
    every error of a set alike; ``within_5px_median_removed`` scores the answers once the set's
    median signed error is taken off, so a fixed convention offset is not counted as a miss.
    """
    signed = np.asarray(signed, float)
    answered = signed[~np.isnan(signed)]
    err = np.where(np.isnan(signed), np.inf, np.abs(signed))
    median = float(np.median(answered)) if len(answered) else None
    out: dict[str, float | int | None] = {"n": int(len(signed)), "answered": int(len(answered))}
    for k in THRESHOLDS:
        out[f"within_{k}px"] = float(100.0 * (err <= k).mean()) if len(err) else None
    out["median_signed_error"] = median
    centred = np.abs(signed - (median or 0.0))
    out[f"within_{tolerance:g}px_median_removed"] = (
        float(100.0 * (np.nan_to_num(centred, nan=np.inf) <= tolerance).mean()) if len(err) else None)
    out["median_error"] = float(np.median(err)) if len(err) else None
    out["p95_error"] = float(np.percentile(err, 95, method="higher")) if len(err) else None
    return out


def meets_target(name: str, value: float | None) -> bool | None:
    """Whether ``value`` meets the spec's target for ``name`` (None when no target/value)."""
    if name not in TARGETS or value is None:
        return None
    return value > TARGETS[name] if name in HIGHER_IS_BETTER else value < TARGETS[name]
