"""The 1/4-resolution output grid, shared by target building and decoding.

Cell ``i`` of a stride-4 map is centred on canvas coordinate ``4·i + 2`` (continuous pixel
coordinates), so grid coordinate ``g = x/4 − 0.5`` puts cell centres on integers. A point is
encoded as its nearest cell ``round(g)`` plus the remainder ``g − round(g)`` in [−0.5, 0.5];
decoding is the exact inverse. Both directions live here so they cannot drift apart.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from slidercaptcha.preprocess import STRIDE


def canvas_to_grid(xy):
    """Canvas pixel coordinates → continuous grid coordinates (numpy or torch)."""
    return xy / STRIDE - 0.5


def grid_to_canvas(g):
    return (g + 0.5) * STRIDE


def encode_cell(xy_canvas: np.ndarray, grid_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Canvas point(s) [..., 2] → (integer cell [..., 2] as (col, row), offset [..., 2])."""
    g = canvas_to_grid(np.asarray(xy_canvas, dtype=np.float64))
    cell = np.round(g)
    cell = np.clip(cell, 0, np.array([grid_hw[1] - 1, grid_hw[0] - 1]))
    return cell.astype(np.int64), (g - cell).astype(np.float32)


def valid_cells(mask: torch.Tensor) -> torch.Tensor:
    """Padding mask [B,1,H,W] (1 = image) → bool [B,1,H/4,W/4]: cells at least half on the image."""
    return F.avg_pool2d(mask.float(), STRIDE) >= 0.5
