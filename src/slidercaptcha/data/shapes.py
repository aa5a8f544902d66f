"""Antialiased piece masks: jigsaw pieces with knobs, circles, crescents, polygons, stars, ….

Every shape is drawn on a 256×256 working canvas (with OpenCV's antialiasing), cropped to
its tight bounding box and resized to the piece size. So the mask always touches all four
sides of its ``w × h`` box, and the box centre is the shape's centre: the label convention.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

from slidercaptcha.utils.random import weighted_choice

WORK = 256  # working canvas side
_C = WORK / 2
_SHIFT = 4  # fixed-point bits for cv2 drawing: sub-pixel vertex positions
_ONE = 1 << _SHIFT


def _fill(img: np.ndarray, points: np.ndarray, value: int = 255) -> None:
    cv2.fillPoly(img, [np.round(points * _ONE).astype(np.int32)], value, cv2.LINE_AA, _SHIFT)


def _circle(img: np.ndarray, center: tuple[float, float], radius: float, value: int = 255) -> None:
    c = (round(center[0] * _ONE), round(center[1] * _ONE))
    cv2.circle(img, c, round(radius * _ONE), value, -1, cv2.LINE_AA, _SHIFT)


def _regular(n: int, radius: float, phase: float, inner: float | None = None) -> np.ndarray:
    """Vertices of a regular polygon (or a star when ``inner`` is the inner-radius ratio)."""
    k = 2 * n if inner else n
    t = phase + np.arange(k) * (2 * math.pi / k)
    r = np.full(k, radius)
    if inner:
        r[1::2] *= inner
    return np.stack([_C + r * np.cos(t), _C + r * np.sin(t)], 1)


def _jigsaw(img: np.ndarray, rng: np.random.Generator) -> None:
    """Square body with 0–4 knobs, each pointing in or out, near the side's middle."""
    side = 120.0
    r = side * rng.uniform(0.16, 0.22)
    lo, hi = _C - side / 2, _C + side / 2
    _fill(img, np.array([[lo, lo], [hi, lo], [hi, hi], [lo, hi]]))
    n_knobs = int(rng.choice(5, p=[0.1, 0.2, 0.3, 0.25, 0.15]))
    sides = rng.permutation(4)[:n_knobs]
    for s in sides:
        outward = rng.random() < 0.6
        along = _C + side * rng.uniform(-0.08, 0.08)
        depth = r * rng.uniform(0.45, 0.7) * (1 if outward else -1)
        # side 0 top, 1 right, 2 bottom, 3 left; normal points out of the body
        normal = ((0, -1), (1, 0), (0, 1), (-1, 0))[s]
        edge = (along, lo) if s == 0 else (hi, along) if s == 1 else (along, hi) if s == 2 else (lo, along)
        center = (edge[0] + normal[0] * depth, edge[1] + normal[1] * depth)
        _circle(img, center, r, 255 if outward else 0)


def _crescent(img: np.ndarray, rng: np.random.Generator) -> None:
    radius = 100.0
    _circle(img, (_C, _C), radius)
    a = rng.uniform(0, 2 * math.pi)
    d = radius * rng.uniform(0.35, 0.6)
    _circle(img, (_C + d * math.cos(a), _C + d * math.sin(a)), radius * rng.uniform(0.8, 0.95), 0)


def _rounded_square(img: np.ndarray, rng: np.random.Generator) -> None:
    half, r = 100.0, 100.0 * rng.uniform(0.2, 0.5)
    lo, hi = _C - half, _C + half
    _fill(img, np.array([[lo + r, lo], [hi - r, lo], [hi - r, hi], [lo + r, hi]]))
    _fill(img, np.array([[lo, lo + r], [hi, lo + r], [hi, hi - r], [lo, hi - r]]))
    for cx in (lo + r, hi - r):
        for cy in (lo + r, hi - r):
            _circle(img, (cx, cy), r)


def _heart(img: np.ndarray, rng: np.random.Generator) -> None:
    t = np.linspace(0, 2 * math.pi, 120, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    _fill(img, np.stack([_C + 6 * x, _C + 6 * y], 1))


def _shield(img: np.ndarray, rng: np.random.Generator) -> None:
    """Flat top, straight sides, curved bottom meeting in a point."""
    shoulder = rng.uniform(0.0, 0.4)
    t = np.linspace(0, 1, 24)
    right = np.stack([1 - t ** 2, shoulder + (1 - shoulder) * t], 1)  # shoulder → tip
    pts = np.vstack([[[-1, -1], [1, -1]], right, (right * [-1, 1])[::-1]])
    _fill(img, _C + 100 * pts)


def _polygon(n: int, inner: tuple[float, float] | None = None) -> Callable:
    def draw(img: np.ndarray, rng: np.random.Generator) -> None:
        ratio = rng.uniform(*inner) if inner else None
        _fill(img, _regular(n, 110.0, rng.uniform(0, 2 * math.pi), ratio))
    return draw


def _person(img: np.ndarray, rng: np.random.Generator) -> None:
    """A head over rounded shoulders, joined (one piece): the silhouette some vendors cut (Shumei)."""
    _circle(img, (_C, _C - 35), 48.0)
    t = np.linspace(math.pi, 2 * math.pi, 40)
    shoulders = np.stack([_C + 95 * np.cos(t), _C + 95 + 90 * np.sin(t)], 1)
    _fill(img, np.vstack([shoulders, [[_C + 95, _C + 95], [_C - 95, _C + 95]]]))


def _ellipse(img: np.ndarray, rng: np.random.Generator) -> None:
    _circle(img, (_C, _C), 100.0)


def _cloud(img: np.ndarray, rng: np.random.Generator) -> None:
    """Three or four puffs on a flat base."""
    base = _C + 45
    _fill(img, np.array([[_C - 95, base], [_C + 95, base], [_C + 95, base - 40], [_C - 95, base - 40]]))
    puffs = [(-60, 35), (-5, 60), (55, 42)] if rng.random() < 0.5 else [(-70, 30), (-25, 52), (25, 58), (68, 34)]
    for dx, r in puffs:
        _circle(img, (_C + dx, base - r), r)


def _arrow(img: np.ndarray, rng: np.random.Generator) -> None:
    """A thick shaft and a triangular head, pointing a random way."""
    w, head = rng.uniform(18, 26), rng.uniform(40, 55)
    pts = np.array([[-100, -w], [100 - head * 1.4, -w], [100 - head * 1.4, -head], [100, 0],
                    [100 - head * 1.4, head], [100 - head * 1.4, w], [-100, w]])
    t = rng.uniform(0, 2 * math.pi)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    _fill(img, _C + pts @ rot.T)


def _pie(img: np.ndarray, rng: np.random.Generator) -> None:
    """A disc with a quarter (or a third) cut out."""
    _circle(img, (_C, _C), 100.0)
    start, cut = rng.uniform(0, 2 * math.pi), rng.choice([math.pi / 2, 2 * math.pi / 3])
    t = np.linspace(start, start + cut, 16)
    _fill(img, np.vstack([[[_C, _C]], np.stack([_C + 130 * np.cos(t), _C + 130 * np.sin(t)], 1)]), 0)


def _trapezoid(img: np.ndarray, rng: np.random.Generator) -> None:
    """Wider at the top than at the bottom, like a cup or a bin."""
    top, bottom = 100.0, 100.0 * rng.uniform(0.5, 0.75)
    _fill(img, np.array([[_C - top, _C - 80], [_C + top, _C - 80], [_C + bottom, _C + 80], [_C - bottom, _C + 80]]))


def _house(img: np.ndarray, rng: np.random.Generator) -> None:
    """A square body under a pointed roof."""
    roof = rng.uniform(40, 70)
    _fill(img, np.array([[_C - 80, _C - 20], [_C, _C - 20 - roof], [_C + 80, _C - 20], [_C + 80, _C + 90],
                         [_C - 80, _C + 90]]))


DRAWERS: dict[str, Callable[[np.ndarray, np.random.Generator], None]] = {
    "jigsaw": _jigsaw,
    "circle": _ellipse,
    "crescent": _crescent,
    "triangle": _polygon(3),
    "diamond": _polygon(4),
    "pentagon": _polygon(5),
    "hexagon": _polygon(6),
    "star": _polygon(5, (0.42, 0.6)),
    "star4": _polygon(4, (0.4, 0.55)),
    "rounded_square": _rounded_square,
    "heart": _heart,
    "shield": _shield,
    "person": _person,
    "cloud": _cloud,
    "arrow": _arrow,
    "pie": _pie,
    "trapezoid": _trapezoid,
    "house": _house,
}
SHAPES = tuple(DRAWERS)
# The classic style's shapes, fixed so that its seeds keep rendering the same sets: jigsaw
# pieces dominate real captchas; the rest share the remaining half.
_CLASSIC = ("jigsaw", "circle", "crescent", "triangle", "diamond", "pentagon", "hexagon", "star", "star4",
            "rounded_square", "heart", "shield", "person")
SHAPE_WEIGHTS = {s: 0.5 if s == "jigsaw" else 0.5 / (len(_CLASSIC) - 1) for s in _CLASSIC}


def random_shape(rng: np.random.Generator, weights: dict[str, float] = SHAPE_WEIGHTS) -> str:
    return weighted_choice(weights, rng)


def make_mask(shape: str, size: int, rng: np.random.Generator, angle: float = 0.0) -> np.ndarray:
    """Float32 mask in [0, 1] whose shape fills its box exactly. The box keeps the shape's own
    aspect ratio with the area of a ``size × size`` square (a knob makes a piece wider).

    ``angle`` (degrees, counter-clockwise) turns the shape itself before it is cut out, as
    vendors that draw tilted hearts and squares do; the shape keeps its scale, so a turned box
    is larger than ``size × size``."""
    if shape not in DRAWERS:
        raise ValueError(f"unknown shape {shape!r}; known: {list(SHAPES)}")
    img = np.zeros((WORK, WORK), np.uint8)
    DRAWERS[shape](img, rng)
    x, y, w, h = cv2.boundingRect((img > 127).astype(np.uint8))
    scale = size / math.sqrt(w * h)  # output px per drawing px
    if angle:
        img = np.pad(img, WORK // 2)  # room for the corners to turn into
        c = img.shape[0] / 2
        img = cv2.warpAffine(img, cv2.getRotationMatrix2D((c, c), angle, 1.0), img.shape[::-1], flags=cv2.INTER_LINEAR)
        x, y, w, h = cv2.boundingRect((img > 127).astype(np.uint8))
    width, height = max(4, round(w * scale)), max(4, round(h * scale))
    crop = img[y:y + h, x:x + w]
    return cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
