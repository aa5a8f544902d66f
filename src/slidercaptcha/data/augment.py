"""Training augmentation on the letterboxed canvas (the spec's list), labels moved along.

Geometry is one affine map (rotate about the canvas centre, scale, translate) applied to
the canvas, the padding mask and every label point alike; the rotation also adds to the
gap angle. Photometric changes touch only real pixels: padding stays 0 (DESIGN §2).
"""

from __future__ import annotations

import cv2
import numpy as np

from slidercaptcha.config import AugmentationConfig
from slidercaptcha.data.geometry import apply, similarity, warp


def geometric(canvas: np.ndarray, mask: np.ndarray, points: np.ndarray, cfg: AugmentationConfig,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Random rotate/scale/translate → (canvas, mask, points, rotation in degrees)."""
    h, w = mask.shape
    angle = float(rng.uniform(*cfg.random_rotate))
    matrix = similarity((w / 2, h / 2), angle, rng.uniform(*cfg.random_scale),
                        tuple(rng.uniform(*cfg.random_translate, size=2)))
    return (warp(canvas, matrix, (w, h)), warp(mask, matrix, (w, h), nearest=True),
            apply(matrix, points), angle)


def photometric(canvas: np.ndarray, mask: np.ndarray, cfg: AugmentationConfig,
                rng: np.random.Generator) -> np.ndarray:
    """Brightness, contrast, saturation (or grey), hue, Gaussian noise and blur on a uint8 RGB canvas.

    Done in uint8 with OpenCV's saturating arithmetic: a few milliseconds per sample, which
    matters when two CPU cores feed training.
    """
    img = canvas
    if cfg.hue > 0:
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)  # uint8: H in [0, 180)
        shift = round(180 * rng.uniform(-cfg.hue, cfg.hue))
        hsv[..., 0] = ((np.arange(256) + shift) % 180).astype(np.uint8)[hsv[..., 0]]
        img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    # Brightness b, contrast c about the mean m, saturation s against gray g, as one blend:
    # out = b·c·(s·img + (1−s)·g) + b·m·(1−c)
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    b = 1 + rng.uniform(-cfg.brightness, cfg.brightness)
    c = 1 + rng.uniform(-cfg.contrast, cfg.contrast)
    s = 1 + rng.uniform(-cfg.saturation, cfg.saturation)
    if cfg.grayscale > 0 and rng.uniform() < cfg.grayscale:  # drawn only when asked: older recipes replay
        s = 0.0
    m = cv2.mean(gray, mask)[0]
    img = cv2.addWeighted(img, b * c * s, cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB), b * c * (1 - s),
                          b * m * (1 - c))
    sigma = 255 * rng.uniform(0, cfg.gaussian_noise)
    if sigma > 0.5:
        noise = np.empty(img.shape, np.int16)
        cv2.setRNGSeed(int(rng.integers(2**31)))
        cv2.randn(noise, 0, sigma)
        img = cv2.add(img, noise, dtype=cv2.CV_8U)
    blur = rng.uniform(*cfg.gaussian_blur)
    if blur > 0.2:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    return cv2.bitwise_and(img, img, mask=mask)


def augment(canvas: np.ndarray, mask: np.ndarray, points: np.ndarray, cfg: AugmentationConfig,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Both stages → (canvas uint8, mask uint8, points [N, 2] on the canvas, added angle)."""
    canvas, mask, points, angle = geometric(canvas, mask, points, cfg, rng)
    return photometric(canvas, mask, cfg, rng), mask, points, angle
