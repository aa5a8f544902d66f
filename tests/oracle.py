"""A stand-in for a model backend, so solver tests choose what the network "sees"."""

from __future__ import annotations

import numpy as np
import torch


class OracleBackend:
    """Gap heatmap peaks planted at canvas points, no slider; counts its calls.

    ``peaks`` holds (canvas x, y, height) and may be replaced between calls."""

    description = kind = "oracle"
    input_size = (256, 512)

    def __init__(self, peak: tuple[float, float] | None = None,
                 others: tuple[tuple[float, float, float], ...] = ()):
        """peak: 0.8 at this canvas point; others: (x, y, height) of further peaks."""
        self.peaks = [*(() if peak is None else ((*peak, 0.8),)), *others]
        self.batches: list[int] = []  # the size of every batch it was called with

    def __call__(self, batch: np.ndarray) -> dict[str, torch.Tensor]:
        b, h, w = batch.shape[0], batch.shape[2] // 4, batch.shape[3] // 4
        self.batches.append(b)
        heat = torch.zeros(h, w)
        gy, gx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        for x, y, height in self.peaks:
            cx, cy = x / 4 - 0.5, y / 4 - 0.5
            heat = torch.maximum(heat, height * torch.exp(-((gx - cx) ** 2 + (gy - cy) ** 2) / 4.5))
        zeros = torch.zeros(b, 2, h, w)
        return {"heatmap_gap": heat.expand(b, 1, h, w).clone(), "heatmap_slider": torch.zeros(b, 1, h, w),
                "offset_gap": zeros, "offset_slider": zeros}
