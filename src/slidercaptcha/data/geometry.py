"""2-D affine maps in continuous pixel coordinates, shared by rendering and augmentation.

Labels use continuous coordinates (pixel ``j`` covers ``[j, j+1)``, centre ``j + 0.5``),
while OpenCV's ``warpAffine`` indexes pixel centres as integers. Every warp goes through
:func:`cv2_matrix` so that images and labels can never disagree by half a pixel.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def similarity(center: tuple[float, float], angle_deg: float = 0.0, scale: float = 1.0,
               translate: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """2×3 map that rotates by ``angle_deg`` (OpenCV's sense: counter-clockwise on screen)
    and scales about ``center``, then translates; continuous coordinates."""
    a = math.radians(angle_deg)
    c, s = scale * math.cos(a), scale * math.sin(a)
    cx, cy = center
    return np.array([[c, s, cx - c * cx - s * cy + translate[0]],
                     [-s, c, cy + s * cx - c * cy + translate[1]]], dtype=np.float64)


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """2×3 map equal to applying ``inner`` first, then ``outer``."""
    m = np.vstack([outer, [0, 0, 1]]) @ np.vstack([inner, [0, 0, 1]])
    return m[:2]


def translation(dx: float, dy: float) -> np.ndarray:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])


def apply(matrix: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Map points [..., 2] with a 2×3 matrix."""
    xy = np.asarray(xy, dtype=np.float64)
    return xy @ matrix[:, :2].T + matrix[:, 2]


def cv2_matrix(matrix: np.ndarray) -> np.ndarray:
    """Continuous-coordinate 2×3 map → the matrix ``cv2.warpAffine`` expects (pixel centres at
    integers): ``i' + ½ = A(i + ½) + t``."""
    out = matrix.astype(np.float64).copy()
    out[:, 2] += matrix[:, :2] @ np.array([0.5, 0.5]) - 0.5
    return out


def warp(image: np.ndarray, matrix: np.ndarray, size: tuple[int, int], *, nearest: bool = False,
         inverse: bool = False, border: int = cv2.BORDER_CONSTANT) -> np.ndarray:
    """``cv2.warpAffine`` with a continuous-coordinate map; ``size`` is (width, height).
    ``inverse``: the map goes from output to input (sample ``image`` at ``matrix(p)``)."""
    flags = (cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR) | (cv2.WARP_INVERSE_MAP if inverse else 0)
    return cv2.warpAffine(image, cv2_matrix(matrix), size, flags=flags, borderMode=border)
