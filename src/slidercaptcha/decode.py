"""Model output → points in original-image pixels (CenterNet-style peak + offset).

:func:`decode` works on whole batches with tensor ops, no Python loop per pixel or sample;
:func:`gap_candidates`, which the solver asks for per gap-only captcha, works per image.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from slidercaptcha.grid import grid_to_canvas, valid_cells


def _masked(heatmap: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
    """[B,1,h,w] heatmap with padding cells pushed below any real score."""
    return heatmap if valid is None else heatmap.masked_fill(~valid, -1.0)


def _peak_in_rows(heatmap: torch.Tensor, rows: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat index and score of the peak of [B,h,w], optionally only in allowed rows [B,h].

    The peak is the maximum of the map smoothed by a 3×3 binomial kernel: a trained head can
    saturate into a plateau of equal cells, where a plain argmax would take the plateau's
    first (top-left) cell; the smoothed map peaks at the plateau's centre, and at a lone
    spike's own cell. The score is the raw value there.
    """
    smooth = _smoothed(heatmap)
    if rows is not None:
        smooth = smooth.masked_fill(~rows[:, :, None], -2.0)
    idx = smooth.flatten(1).argmax(dim=1)
    return idx, heatmap.flatten(1).gather(1, idx[:, None])[:, 0]


def _smoothed(heatmap: torch.Tensor) -> torch.Tensor:
    """[B,h,w] heatmap smoothed by the 3×3 binomial kernel (edges replicated)."""
    return F.conv2d(F.pad(heatmap[:, None], (1, 1, 1, 1), mode="replicate"), _BINOMIAL.to(heatmap))[:, 0]


def points_at(idx: torch.Tensor, offset: torch.Tensor, width: int) -> torch.Tensor:
    """Flat cell indices [B] + offset maps [B,2,h,w] → canvas (x, y) [B,2] (cell + sub-cell offset)."""
    off = offset.flatten(2).gather(2, idx[:, None, None].expand(-1, 2, 1))[:, :, 0]
    cell = torch.stack([idx % width, idx // width], dim=1).to(off.dtype)
    return grid_to_canvas(cell + off)


def to_original(xy: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Canvas (x, y) [B,2] → original pixels, with boxes [B,≥4] = (scale_x, scale_y, pad_left, pad_top, …)."""
    boxes = boxes.to(xy)
    return (xy - boxes[:, 2:4]) / boxes[:, 0:2]


_BINOMIAL = (torch.tensor([1.0, 2.0, 1.0])[:, None] * torch.tensor([1.0, 2.0, 1.0]))[None, None] / 16
SLIDER_THRESHOLD = 0.3  # a slider peak below this: no piece drawn in the image (gap-only form)
# Joint decoding trusts the slider only if its row holds a gap at least this fraction of the best
# gap anywhere: a decoy or an object read as a slider in a piece-free captcha (common in spc's
# Dingxiang) would pull the gap onto a wrong row. Chosen on spc train and the synthetic val sets.
JOINT_MIN_RATIO = 0.7
# Gap-only captchas: the heatmap peaks the solver weighs against each other (gap_candidates).
CANDIDATES = 4
CANDIDATE_MIN_SCORE = 0.1
CANDIDATE_SPACING = 7  # cells (28 canvas px): peaks closer than this belong to one hollow


def decode(outputs: dict[str, torch.Tensor], boxes: torch.Tensor, mask: torch.Tensor | None = None,
           joint: bool = False, row_tolerance: int = 1, slider_threshold: float = SLIDER_THRESHOLD,
           joint_min_ratio: float = JOINT_MIN_RATIO) -> dict[str, torch.Tensor]:
    """Decode gap and slider centres, confidences and the gap angle.

    outputs: the model's dict; boxes [B,≥4] letterbox parameters; mask [B,1,H,W] the input's
    padding mask (channel 4), or None to search every cell.
    joint: pick gap and slider rows together so they lie within ``row_tolerance`` cells of
    each other (true of nearly every real captcha), maximising the product of the two peaks.
    Images whose best slider peak is below ``slider_threshold`` have no piece to align with
    (gap-only form), so their gap is searched freely even when ``joint`` is set; so are images
    whose best gap on the slider's row is under ``joint_min_ratio`` of their best gap.
    Returns gap/slider [B,2] in original pixels, gap_score/slider_score [B] (peak values),
    distance [B] = gap_x − slider_x, and gap_angle [B] in degrees when the angle head exists.
    """
    valid = None if mask is None else valid_cells(mask)
    hm_gap = _masked(outputs["heatmap_gap"], valid)[:, 0]
    hm_slider = _masked(outputs["heatmap_slider"], valid)[:, 0]
    width = hm_gap.shape[-1]

    gap_rows = slider_rows = None
    if joint:
        row_gap, row_slider = hm_gap.amax(-1), hm_slider.amax(-1)  # [B,h]
        k = 2 * row_tolerance + 1
        near_slider = F.max_pool1d(row_slider[:, None], k, 1, row_tolerance)[:, 0]
        best_row = (row_gap.clamp_min(0) * near_slider.clamp_min(0)).argmax(1)  # [B]
        rows = torch.arange(hm_gap.shape[1], device=hm_gap.device)[None]
        on_row = row_gap.gather(1, best_row[:, None])[:, 0]  # [B]: the best gap on the slider's row
        no_slider = hm_slider.flatten(1).amax(1) < slider_threshold
        free = (no_slider | (on_row < joint_min_ratio * row_gap.amax(1)))[:, None]  # [B,1]
        gap_rows = (rows == best_row[:, None]) | free
        slider_rows = ((rows - best_row[:, None]).abs() <= row_tolerance) | free

    gap_idx, gap_score = _peak_in_rows(hm_gap, gap_rows)
    slider_idx, slider_score = _peak_in_rows(hm_slider, slider_rows)
    gap = to_original(points_at(gap_idx, outputs["offset_gap"], width), boxes)
    slider = to_original(points_at(slider_idx, outputs["offset_slider"], width), boxes)
    result = {"gap": gap, "slider": slider, "gap_score": gap_score, "slider_score": slider_score,
              "distance": gap[:, 0] - slider[:, 0]}
    if "angle" in outputs:
        sc = outputs["angle"].flatten(2).gather(2, gap_idx[:, None, None].expand(-1, 2, 1))[:, :, 0]
        result["gap_angle"] = torch.rad2deg(torch.atan2(sc[:, 0], sc[:, 1]))
    return result


class GapCandidates(NamedTuple):
    """One image's separate gap-heatmap peaks, best first (the first is :func:`decode`'s gap)."""

    points: torch.Tensor  # [n,2] original pixels, cell + sub-cell offset
    ranks: torch.Tensor  # [n] smoothed peak values, by which decode ranks them
    scores: torch.Tensor  # [n] raw heatmap values there (decode's gap_score)


def _apart(cells: np.ndarray, width: int, reach: int, count: int) -> np.ndarray:
    """The first ``count`` flat cell indices, best first, without those within ``reach`` cells
    (each axis) of a better one: a plateau of equal maxima (the trained heads saturate) is one
    peak, not several. Stops at ``count``: a flat stretch of the map (the padding, a blank sky)
    makes thousands of cells local maxima, and comparing each with the kept ones cost ~6 ms."""
    kept: list[int] = []
    for c in cells.tolist():
        if all(abs(c % width - k % width) > reach or abs(c // width - k // width) > reach for k in kept):
            kept.append(c)
            if len(kept) == count:
                break
    return np.array(kept, np.int64)


def gap_candidates(outputs: dict[str, torch.Tensor], boxes: torch.Tensor, mask: torch.Tensor | None = None,
                   count: int = CANDIDATES, min_score: float = CANDIDATE_MIN_SCORE,
                   spacing: int = CANDIDATE_SPACING) -> list[GapCandidates]:
    """Per image, up to ``count`` separate peaks of the gap heatmap: maxima of the smoothed map
    (as :func:`decode` takes them, so the first is its gap) within ``spacing`` cells, scoring at
    least ``min_score`` (the first is kept whatever its score). Where a decoy outscores the gap,
    the gap is usually the second. The solver asks for them per gap-only captcha, so past the
    masking and smoothing (decode's own) the work is numpy and OpenCV: torch's per-call cost
    made it 1.2 ms a captcha."""
    valid = None if mask is None else valid_cells(mask)
    heatmap = _masked(outputs["heatmap_gap"], valid)[:, 0]
    smooth, heatmap = _smoothed(heatmap).numpy(), heatmap.numpy()
    offsets, boxes = outputs["offset_gap"].numpy(), boxes.numpy()
    width = heatmap.shape[-1]
    window = np.ones((spacing, spacing), np.uint8)
    found = []
    for i in range(len(heatmap)):
        values = smooth[i].ravel()
        peaks = np.flatnonzero(smooth[i] == cv2.dilate(smooth[i], window))
        top = _apart(peaks[np.argsort(-values[peaks], kind="stable")], width, spacing // 2, count)  # ties: the first cell, as argmax
        top = top[(heatmap[i].ravel()[top] >= min_score) | (np.arange(len(top)) == 0)]
        cells = np.stack([top % width, top // width], axis=1).astype(np.float32)
        canvas = grid_to_canvas(cells + offsets[i].reshape(2, -1)[:, top].T)
        points = (canvas - boxes[i, 2:4]) / boxes[i, 0:2]
        found.append(GapCandidates(torch.from_numpy(points.astype(np.float32)), torch.from_numpy(values[top]),
                                   torch.from_numpy(heatmap[i].ravel()[top])))
    return found
