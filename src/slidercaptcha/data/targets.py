"""Training targets on the 1/4 grid (DESIGN §4), built from canvas-space labels.

Inputs are already letterboxed (and augmented) canvas coordinates; every conversion to
the grid goes through :mod:`slidercaptcha.grid` once, so decoys and points are scaled once.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from slidercaptcha.grid import canvas_to_grid, encode_cell, valid_cells
from slidercaptcha.preprocess import INPUT_SIZE, STRIDE

SIGMA_CELLS = 1.5
MAX_DECOYS = 3


def gaussian_heatmap(cell: np.ndarray, grid_hw: tuple[int, int], sigma: float = SIGMA_CELLS) -> np.ndarray:
    """Gaussian centred on an integer cell (col, row); exactly 1 at the peak."""
    h, w = grid_hw
    gx = np.exp(-((np.arange(w) - cell[0]) ** 2) / (2 * sigma**2))
    gy = np.exp(-((np.arange(h) - cell[1]) ** 2) / (2 * sigma**2))
    return np.outer(gy, gx).astype(np.float32)


def build_targets(gap: np.ndarray, slider: np.ndarray | None, mask: np.ndarray, gap_angle_deg: float = 0.0,
                  decoys: np.ndarray | None = None, input_size: tuple[int, int] = INPUT_SIZE,
                  slider_known: bool = True) -> dict[str, torch.Tensor]:
    """Canvas-space labels → dense targets.

    heatmap_gap/slider [1,h,w]; offset_gap/slider [2,h,w] (set at the peak cell only);
    peak_gap/slider [1,h,w] (1 at the peak cell; slider all-zero when there is no slider);
    angle [2,h,w] (sin, cos) with angle_weight [1,h,w] on the 3×3 cells around the gap peak;
    valid [1,h,w] (cells on the image); slider_valid: valid, or all-zero where the labels do
    not say whether a slider is drawn (a real image labelled with its gap alone), so the
    slider head is not taught "no slider" there; decoys [MAX_DECOYS,2] grid coordinates with
    decoy_valid.
    """
    grid_hw = (input_size[0] // STRIDE, input_size[1] // STRIDE)
    h, w = grid_hw
    t: dict[str, torch.Tensor] = {}
    for name, point in (("gap", gap), ("slider", slider)):
        heat = np.zeros(grid_hw, np.float32)
        offset = np.zeros((2, *grid_hw), np.float32)
        peak = np.zeros(grid_hw, np.float32)
        if point is not None:
            cell, off = encode_cell(point, grid_hw)
            heat = gaussian_heatmap(cell, grid_hw)
            offset[:, cell[1], cell[0]] = off
            peak[cell[1], cell[0]] = 1.0
        t[f"heatmap_{name}"] = torch.from_numpy(heat)[None]
        t[f"offset_{name}"] = torch.from_numpy(offset)
        t[f"peak_{name}"] = torch.from_numpy(peak)[None]

    cell, _ = encode_cell(gap, grid_hw)
    rad = math.radians(gap_angle_deg)
    angle = np.empty((2, *grid_hw), np.float32)
    angle[0], angle[1] = math.sin(rad), math.cos(rad)
    angle_weight = np.zeros(grid_hw, np.float32)
    angle_weight[max(cell[1] - 1, 0):cell[1] + 2, max(cell[0] - 1, 0):cell[0] + 2] = 1.0
    t["angle"] = torch.from_numpy(angle)
    t["angle_weight"] = torch.from_numpy(angle_weight)[None]

    t["valid"] = valid_cells(torch.from_numpy(np.ascontiguousarray(mask))[None, None])[0].float()
    t["slider_valid"] = t["valid"] * float(slider_known)

    grid_decoys = np.zeros((MAX_DECOYS, 2), np.float32)
    decoy_valid = np.zeros(MAX_DECOYS, np.float32)
    if decoys is not None and len(decoys):
        d = canvas_to_grid(np.asarray(decoys, np.float64)[:MAX_DECOYS])
        d = np.clip(d, 0, [w - 1, h - 1])
        grid_decoys[: len(d)] = d
        decoy_valid[: len(d)] = 1.0
    t["decoys"] = torch.from_numpy(grid_decoys)
    t["decoy_valid"] = torch.from_numpy(decoy_valid)
    return t
