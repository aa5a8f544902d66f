"""Failure analysis (spec 失败案例分析): why did a sample miss by more than the threshold?

Each failure gets every reason that its record or its pixels support; a failure that none
explains is counted as ``unexplained`` rather than forced into a bucket.

- extreme_rotation: the gap is rotated by at least ``EXTREME_ROTATION_DEG`` (record);
- heavy_noise: the record lists a noise effect, or the image's noise level (Immerkær's
  estimate, gray levels) is above ``NOISE_SIGMA``;
- multiple_gaps: the record has decoy gaps (external labels cannot say);
- edge_position: the gap box comes within a quarter of its width of the image border;
- low_contrast: the gap's interior differs from the ring around it by less than
  ``LOW_CONTRAST`` gray levels, so the hole is barely visible.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from slidercaptcha.data.dataset import load_rgb
from slidercaptcha.data.labels import LabelRecord

THRESHOLD = 10.0
REASONS = ("extreme_rotation", "heavy_noise", "multiple_gaps", "edge_position", "low_contrast")
EXTREME_ROTATION_DEG = 15.0
NOISE_SIGMA = 10.0
LOW_CONTRAST = 8.0
EDGE_FRACTION = 0.25
DEFAULT_GAP_FRACTION = 0.2  # gap size / image height when the labels do not give it


def noise_sigma(gray: np.ndarray) -> float:
    """Immerkær (1996) fast noise estimate: Laplacian-difference kernel, mean absolute response."""
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    h, w = gray.shape
    if h < 3 or w < 3:
        return 0.0
    response = cv2.filter2D(gray.astype(np.float32), -1, kernel)[1:-1, 1:-1]
    return float(math.sqrt(math.pi / 2) * np.abs(response).sum() / (6 * (w - 2) * (h - 2)))


def gap_box(record: LabelRecord, shape: tuple[int, int]) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of the true gap in image pixels."""
    side = DEFAULT_GAP_FRACTION * shape[0]
    w, h = record.gap_size or (side, side)
    return (
        record.gap[0] - w / 2,
        record.gap[1] - h / 2,
        record.gap[0] + w / 2,
        record.gap[1] + h / 2,
    )


def gap_contrast(gray: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """|mean of the gap's central half − mean of a ring just outside its rim| in gray levels."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    ys, xs = np.mgrid[: gray.shape[0], : gray.shape[1]] + 0.5
    dx, dy = np.abs(xs - cx) / w, np.abs(ys - cy) / h
    inner = (dx < 0.25) & (dy < 0.25)
    ring = (np.maximum(dx, dy) > 0.55) & (np.maximum(dx, dy) < 0.8)
    if not inner.any() or not ring.any():
        return float("inf")
    return float(abs(gray[inner].mean() - gray[ring].mean()))


def reasons_for(record: LabelRecord, gray: np.ndarray) -> list[str]:
    """The failure reasons that this sample's record and pixels support."""
    meta = record.meta
    effects = (
        " ".join(str(e) for e in meta.get("effects") or []).lower()
        + " "
        + record.sample_type.lower()
    )
    box = gap_box(record, gray.shape)
    margin = EDGE_FRACTION * (box[2] - box[0])
    found = {
        "extreme_rotation": abs(record.gap_angle) >= EXTREME_ROTATION_DEG,
        "heavy_noise": "noise" in effects or noise_sigma(gray) > NOISE_SIGMA,
        "multiple_gaps": bool(meta.get("decoys")),
        "edge_position": (
            box[0] < margin
            or box[1] < margin
            or box[2] > gray.shape[1] - margin
            or box[3] > gray.shape[0] - margin
        ),
        "low_contrast": gap_contrast(gray, box) < LOW_CONTRAST,
    }
    return [r for r in REASONS if found[r]]


def analyze(
    records: list[LabelRecord], errors: dict[str, np.ndarray], threshold: float = THRESHOLD
) -> list[dict]:
    """Every sample with error > threshold (records aligned with ``errors``), worst first."""
    fails = []
    for i in np.flatnonzero(errors["error"] > threshold):
        r = records[i]
        gray = cv2.cvtColor(load_rgb(r.file), cv2.COLOR_RGB2GRAY)
        fails.append(
            {
                "file": str(r.file),
                "sample_type": r.sample_type,
                "error": float(errors["error"][i]),
                "gap_error": float(errors["gap"][i]),
                "slider_error": None
                if np.isnan(errors["slider"][i])
                else float(errors["slider"][i]),
                "reasons": reasons_for(r, gray),
            }
        )
    return sorted(fails, key=lambda f: -f["error"])


def summary(fails: list[dict], threshold: float = THRESHOLD) -> dict:
    """Failure count and the count per reason (a failure may have several)."""
    by_reason = {r: sum(r in f["reasons"] for f in fails) for r in REASONS}
    return {
        "threshold": threshold,
        "count": len(fails),
        "by_reason": by_reason,
        "unexplained": sum(not f["reasons"] for f in fails),
    }
