"""Random palettes and palette mapping, shared by the procedural and illustrated backgrounds."""

from __future__ import annotations

import cv2
import numpy as np


def random_palette(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` RGB colours in [0, 1] around a random hue, with varied lightness."""
    base = rng.uniform(0, 180)
    hues = (base + rng.normal(0, rng.uniform(8, 50), n)) % 180
    sat = rng.uniform(30, 230, n)
    val = np.sort(rng.uniform(20, 255, n))
    hsv = np.stack([hues, sat, val], 1).astype(np.uint8)[None]
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0].astype(np.float32) / 255.0


def colorize(values: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Map [0, 1] values through a palette (colour stops spread evenly) → float RGB."""
    stops = np.linspace(0, 1, len(palette))
    lut = np.stack([np.interp(np.linspace(0, 1, 256), stops, palette[:, c]) for c in range(3)], 1)
    lut = (lut * 255).astype(np.uint8)[:, None, :]  # 256×1×3 for cv2.LUT
    idx = np.clip(values * 255, 0, 255).astype(np.uint8)
    return cv2.LUT(cv2.merge([idx, idx, idx]), lut.reshape(1, 256, 3)).astype(np.float32) / 255.0
