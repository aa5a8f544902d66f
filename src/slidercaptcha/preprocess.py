"""Letterboxing: any image → the model's 4-channel 256×512 input, and the way back.

Conventions, fixed here once (DESIGN §2):
- Coordinates are continuous pixel coordinates: pixel ``j`` covers ``[j, j+1)``, so a
  resize by factor ``s`` maps ``x`` to ``s·x`` exactly.
- Channel 4 is the padding mask: **1 on real image pixels, 0 on padding**.
- RGB channels are ``value / 255``; padding RGB is 0.
- The resized image is centred on the canvas. Its width and height are rounded to whole
  pixels, so x and y keep separate scales (``scale_x = new_w / W``); using one scale for
  both would shift labels by up to half a pixel at the far edge.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass

import cv2
import numpy as np

INPUT_SIZE = (256, 512)  # H, W
STRIDE = 4  # output maps are at 1/4 resolution


@dataclass(frozen=True)
class Letterbox:
    """Where an original ``width × height`` image sits on the model canvas."""

    scale_x: float
    scale_y: float
    pad_left: float
    pad_top: float
    width: int
    height: int

    def to_input(self, xy: np.ndarray) -> np.ndarray:
        """Original pixel coordinates [..., 2] → canvas coordinates."""
        xy = np.asarray(xy, dtype=np.float64)
        return np.stack([xy[..., 0] * self.scale_x + self.pad_left, xy[..., 1] * self.scale_y + self.pad_top], -1)

    def to_original(self, xy: np.ndarray) -> np.ndarray:
        """Canvas coordinates [..., 2] → original pixel coordinates."""
        xy = np.asarray(xy, dtype=np.float64)
        return np.stack([(xy[..., 0] - self.pad_left) / self.scale_x, (xy[..., 1] - self.pad_top) / self.scale_y], -1)

    def as_array(self) -> np.ndarray:
        """``[scale_x, scale_y, pad_left, pad_top, width, height]`` for batching as a tensor."""
        return np.array(astuple(self), dtype=np.float64)


def to_rgb(image: np.ndarray, color_order: str = "RGB") -> np.ndarray:
    """Gray / RGB / BGR / RGBA / BGRA uint8 array → H×W×3 RGB uint8.

    Alpha is composited over black: transparent pixels carry no image content.
    """
    if image.dtype != np.uint8:
        raise ValueError(f"expected an 8-bit image, got dtype {image.dtype}")
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected H×W, H×W×1, H×W×3 or H×W×4, got shape {image.shape}")
    if image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    if color_order.upper() not in ("RGB", "BGR"):
        raise ValueError(f"color_order must be 'RGB' or 'BGR', got {color_order!r}")
    rgb = image[:, :, :3]
    if image.shape[2] == 4:
        alpha = image[:, :, 3:4].astype(np.uint16)
        rgb = (rgb.astype(np.uint16) * alpha // 255).astype(np.uint8)
    if color_order.upper() == "BGR":
        rgb = rgb[:, :, ::-1]
    return np.ascontiguousarray(rgb)


def compute_letterbox(width: int, height: int, size: tuple[int, int] = INPUT_SIZE) -> Letterbox:
    if width < 1 or height < 1:
        raise ValueError(f"image must be at least 1×1, got {width}×{height}")
    out_h, out_w = size
    s = min(out_w / width, out_h / height)
    new_w = min(out_w, max(1, round(width * s)))
    new_h = min(out_h, max(1, round(height * s)))
    return Letterbox(new_w / width, new_h / height, (out_w - new_w) // 2, (out_h - new_h) // 2, width, height)


def scale_image(image: np.ndarray, new_w: int, new_h: int) -> np.ndarray:
    """Downscale with the area filter's anti-aliasing at a fraction of its cost.

    OpenCV's area filter is fast only for whole-number factors, where it is the exact box
    mean; its general path made most of the solver's preprocessing at 672×390 (factor 2.03;
    ``benchmarks/bench_solve.py``: 2.8–3.2 ms before, 1.6–1.8 ms after). So reduce by the largest
    whole factor k first, then the rest (a factor under 1.5) bilinearly. The geometry is that
    of one resize: pixel ``j`` still covers ``[j, j+1)`` scaled by ``new_w / width``. Sides
    that are not multiples of k are edge-padded for the box step, and the bilinear step then
    maps only the real part (a warp; a plain resize would stretch the padding in).
    """
    height, width = image.shape[:2]
    k = int(min(width / new_w, height / new_h))
    if k < 2:
        interp = cv2.INTER_AREA if new_w < width else cv2.INTER_LINEAR
        return cv2.resize(image, (new_w, new_h), interpolation=interp)
    pad_h, pad_w = -height % k, -width % k
    if not (pad_h or pad_w):
        small = cv2.resize(image, (width // k, height // k), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    image = cv2.copyMakeBorder(image, 0, pad_h, 0, pad_w, cv2.BORDER_REPLICATE)
    small = cv2.resize(image, ((width + pad_w) // k, (height + pad_h) // k), interpolation=cv2.INTER_AREA)
    sx, sy = new_w * k / width, new_h * k / height  # pixel centres: x' + 0.5 = s·(x + 0.5)
    warp = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5]])
    return cv2.warpAffine(small, warp, (new_w, new_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def letterbox_image(rgb: np.ndarray, size: tuple[int, int] = INPUT_SIZE) -> tuple[np.ndarray, np.ndarray, Letterbox]:
    """RGB uint8 H×W×3 → (canvas uint8 h×w×3, mask uint8 h×w in {0,1}, Letterbox)."""
    height, width = rgb.shape[:2]
    box = compute_letterbox(width, height, size)
    new_w, new_h = round(width * box.scale_x), round(height * box.scale_y)
    resized = scale_image(rgb, new_w, new_h)
    canvas = np.zeros((*size, 3), dtype=np.uint8)
    mask = np.zeros(size, dtype=np.uint8)
    x0, y0 = int(box.pad_left), int(box.pad_top)
    canvas[y0:y0 + new_h, x0:x0 + new_w] = resized
    mask[y0:y0 + new_h, x0:x0 + new_w] = 1
    return canvas, mask, box


def to_model_input(canvas: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(canvas uint8 h×w×3, mask h×w) → float32 [4, h, w]: RGB/255 and the mask."""
    out = np.empty((4, *mask.shape), dtype=np.float32)
    out[:3] = canvas.transpose(2, 0, 1)
    out[:3] *= 1.0 / 255.0
    out[3] = mask
    return out


def preprocess(image: np.ndarray, size: tuple[int, int] = INPUT_SIZE, color_order: str = "RGB") -> tuple[np.ndarray, Letterbox]:
    """Any 8-bit image array → (float32 [4, h, w] model input, Letterbox)."""
    canvas, mask, box = letterbox_image(to_rgb(image, color_order), size)
    return to_model_input(canvas, mask), box
