"""Compose one synthetic slider captcha: background, gap, decoys, piece, effects, label.

All randomness comes from the ``rng`` passed in, so a captcha is a pure function of its
seed. Positions are continuous (sub-pixel): shapes are placed with affine warps, never
snapped to a grid (DESIGN §5). Work happens in float32 RGB in [0, 1] and only on the
region around each shape, which keeps one 400×200 captcha at a few milliseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

from slidercaptcha.config import AugmentationConfig, GeneratorConfig
from slidercaptcha.data import styles
from slidercaptcha.data.backgrounds import (
    PhotoLibrary,
    default_backgrounds,
    fractal_noise,
    make_background,
)
from slidercaptcha.data.colour import colorize, random_palette
from slidercaptcha.data.geometry import apply, compose, similarity, translation, warp
from slidercaptcha.data.shapes import SHAPE_WEIGHTS, make_mask, random_shape
from slidercaptcha.data.styles import Style, pick
from slidercaptcha.utils.random import weighted_choice

COMMON_SIZES = ((320, 160), (360, 140), (410, 200), (552, 344), (672, 390))  # W, H seen on real sites
MODES = ("composite", "gap-only", "separate")
CLASSIC_LOOKS = dict.fromkeys(("dark", "rim", "shadow", "blur", "hollow", "frosted"), 1.0)  # "highlight": own ratio
PAD = 6  # transparent margin around a piece for its rim and shadow
EDGE = 2  # minimum distance between a shape and the image border, px
MIN_HEIGHT = 100
VIS_PAD = 10  # px around a shape where its visibility is measured
VIS_ATTEMPTS = 4  # draws of a captcha before a faint gap or slider is kept anyway
_K3 = np.ones((3, 3), np.uint8)


@dataclass(frozen=True)
class EffectProbs:
    """Per-sample ratios of the captcha-specific effects (0 = off)."""

    confusing_gap: float = 0.0
    perlin_noise: float = 0.0
    rotation: float = 0.0
    highlight: float = 0.0

    @classmethod
    def from_augmentation(cls, aug: AugmentationConfig, confusing_gaps: bool = True,
                          rotation: bool = True, perlin_noise: bool = True) -> EffectProbs:
        """The config's ratios, with each effect switched off unless enabled (the spec's flags)."""
        return cls(aug.confusing_gap_prob * confusing_gaps, aug.perlin_noise_prob * perlin_noise,
                   aug.gap_rotation_prob * rotation, aug.gap_highlight_prob)

    def with_style(self, style: Style) -> EffectProbs:
        """The style's ratios in place of these, except where an effect is switched off."""
        given = {k: float(v) for k, v in style.effects.items() if getattr(self, k) > 0}
        return replace(self, **given) if given else self


@dataclass
class Captcha:
    image: np.ndarray  # RGB uint8 H×W×3
    piece: np.ndarray | None  # RGBA uint8 crop (separate mode only)
    record: dict  # manifest fields except file, piece_file and seed


@dataclass
class _Placed:
    """A mask placed on the image: rotated by ``angle`` and scaled about its centre."""

    mask: np.ndarray
    center: tuple[float, float]
    angle: float = 0.0
    scale: float = 1.0

    def matrix(self) -> np.ndarray:
        """Mask coordinates → image coordinates (continuous)."""
        h, w = self.mask.shape
        cx, cy = self.center
        return compose(similarity(self.center, self.angle, self.scale), translation(cx - w / 2, cy - h / 2))

    def box(self, margin: float = 0.0) -> tuple[float, float, float, float]:
        """Axis-aligned bounds (x0, y0, x1, y1) of the placed mask, grown by ``margin``."""
        hx, hy = half_extent(self.mask.shape, self.angle, self.scale)
        cx, cy = self.center
        return cx - hx - margin, cy - hy - margin, cx + hx + margin, cy + hy + margin


def half_extent(shape_hw: tuple[int, int], angle: float, scale: float = 1.0) -> tuple[float, float]:
    h, w = shape_hw
    c, s = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
    return scale * (w * c + h * s) / 2, scale * (w * s + h * c) / 2


def _overlaps(a: tuple, b: tuple) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _roi_warp(src: np.ndarray, matrix: np.ndarray, width: int, height: int) -> tuple[tuple[slice, slice], np.ndarray]:
    """Warp ``src`` by ``matrix`` into only the image region it covers (clipped to the image)."""
    h, w = src.shape[:2]
    corners = apply(matrix, np.array([[0, 0], [w, 0], [0, h], [w, h]]))
    x0, y0 = np.floor(corners.min(0)).astype(int) - 1
    x1, y1 = np.ceil(corners.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    out = warp(src, compose(translation(-x0, -y0), matrix), (int(x1 - x0), int(y1 - y0)))
    return (slice(y0, y1), slice(x0, x1)), out


# ----------------------------------------------------------------------------- styles
def _blend(img: np.ndarray, m: np.ndarray, color, alpha: float) -> np.ndarray:
    """``img`` blended towards ``color`` (one colour, or an image of ``img``'s shape) where the
    mask is, by ``alpha``."""
    a = (m * alpha)[..., None]
    return img * (1 - a) + np.asarray(color, np.float32) * a


def _edge(m: np.ndarray, width: int) -> np.ndarray:
    """The mask's inner rim, ``width`` px thick."""
    return np.clip(m - cv2.erode(m, np.ones((3, 3), np.uint8), iterations=width), 0, 1)


def _shift(a: np.ndarray, dx: int, dy: int) -> np.ndarray:
    return np.roll(a, (dy, dx), axis=(0, 1))


def _dark(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0, 0.12) + rng.uniform(0, 0.08, 3)


def _light(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0.85, 1.0) - rng.uniform(0, 0.05, 3)


def _grey(rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    """A neutral grey between ``low`` and ``high``, faintly tinted."""
    return rng.uniform(low, high) + rng.uniform(-0.03, 0.03, 3)


def style_dark(img, m, rng):
    return _blend(img, m, _dark(rng), rng.uniform(0.3, 0.8))


def style_rim(img, m, rng):
    img = _blend(img, m, _dark(rng), rng.uniform(0.3, 0.7))
    return _blend(img, _edge(m, int(rng.integers(1, 3))), _light(rng), rng.uniform(0.6, 1.0))


def style_shadow(img, m, rng):
    """Inner shadow and emboss: dark along the top-left inner edge, light along the other."""
    img = _blend(img, m, _dark(rng), rng.uniform(0.2, 0.55))
    soft = cv2.GaussianBlur(m, (0, 0), rng.uniform(1.0, 2.5))
    d = int(rng.integers(2, 5))
    img = _blend(img, m * np.clip(1 - _shift(soft, d, d), 0, 1), _dark(rng), rng.uniform(0.5, 0.9))
    return _blend(img, m * np.clip(1 - _shift(soft, -d, -d), 0, 1), _light(rng), rng.uniform(0.3, 0.7))


def style_blur(img, m, rng):
    """Blurred and darkened inside, with a faint contour: blur alone vanishes on smooth areas."""
    blurred = cv2.GaussianBlur(img, (0, 0), rng.uniform(2.0, 5.0)) * rng.uniform(0.5, 0.8)
    img = _blend(img, m, blurred, 1.0)
    color = _light(rng) if rng.random() < 0.5 else _dark(rng)
    return _blend(img, _edge(m, 1), color, rng.uniform(0.3, 0.7))


def style_hollow(img, m, rng):
    """Mostly an outline: a faint fill and a dark or bright contour."""
    img = _blend(img, m, _dark(rng), rng.uniform(0.0, 0.25))
    color = _light(rng) if rng.random() < 0.5 else _dark(rng)
    return _blend(img, _edge(m, int(rng.integers(1, 4))), color, rng.uniform(0.6, 1.0))


def style_inset(img, m, rng):
    """A dark fill darkest along the whole inner edge, an inner glow with no direction, often
    with a thin light rim (Dingxiang's look)."""
    img = _blend(img, m, _dark(rng), rng.uniform(0.4, 0.7))
    soft = cv2.GaussianBlur(m, (0, 0), rng.uniform(1.5, 3.5))
    img = _blend(img, m * np.clip(2.0 * (1.0 - soft), 0, 1), _dark(rng), rng.uniform(0.5, 0.9))
    if rng.random() < 0.5:
        img = _blend(img, _edge(m, 1), _light(rng), rng.uniform(0.3, 0.7))
    return img


def style_translucent(img, m, rng):
    """A dark translucent fill with a softened edge and no rim (GeeTest's look)."""
    soft = cv2.GaussianBlur(m, (0, 0), rng.uniform(0.4, 1.0))
    return _blend(img, soft, _dark(rng), rng.uniform(0.35, 0.65))


def style_light(img, m, rng):
    """A white translucent fill, sometimes with a bright outline or a soft glow (Shumei's)."""
    img = _blend(img, m, _light(rng), rng.uniform(0.45, 0.8))
    u = rng.random()
    if u < 0.4:
        img = _blend(img, _edge(m, 1), _light(rng), rng.uniform(0.6, 1.0))
    elif u < 0.7:
        glow = np.clip(cv2.GaussianBlur(m, (0, 0), 2.0) * 1.5 - m, 0, 1)
        img = _blend(img, glow, _light(rng), rng.uniform(0.3, 0.6))
    return img


def style_solid_light(img, m, rng):
    """A near-opaque white fill shaded a little darker towards one side, no outline: Shumei's
    shapes, which hide the picture under them where the translucent looks let it show."""
    h, w = m.shape
    t = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = ((xx - w / 2) * np.cos(t) + (yy - h / 2) * np.sin(t)) / max(h, w) + 0.5
    base = _light(rng)
    shade = base - rng.uniform(0.03, 0.15)
    colour = base * (1 - ramp[..., None]) + shade * ramp[..., None]
    return _blend(img, m, colour, rng.uniform(0.7, 0.95))


def _grey_with_outline(img, m, rng, strength=1.0, outline_strength=1.0):
    """A neutral grey translucent fill and a thin white outline, each scaled by a weight map
    (or 1) over the shape."""
    img = _blend(img, m * strength, _grey(rng, 0.45, 0.75), rng.uniform(0.45, 0.8))
    return _blend(img, _edge(m, int(rng.integers(1, 3))) * outline_strength, _light(rng), rng.uniform(0.5, 0.95))


def style_gray(img, m, rng):
    """NetEase's look: a grey translucent fill with a thin white outline."""
    return _grey_with_outline(img, m, rng)


def style_gray_faint_knobs(img, m, rng):
    """NetEase's grey fill where the knobs stay faint: a pale bubble barely joined to the body.
    The knobs are what an opening with a square of half the shape's side removes; the label is
    still the whole shape's centre, so the network must not centre on the body alone."""
    side = max(int(np.sqrt(m.sum()) * 0.55), 3)
    body = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((side, side), np.uint8))
    weight = body + rng.uniform(0.1, 0.4) * np.clip(m - body, 0, 1)  # 1 on the body, faint on the knobs
    return _grey_with_outline(img, m, rng, weight, np.maximum(cv2.dilate(body, np.ones((5, 5), np.uint8)), weight))


def style_frosted(img, m, rng):
    blurred = cv2.GaussianBlur(img, (0, 0), rng.uniform(1.5, 4.0))
    img = _blend(img, m, blurred, 1.0)
    return _blend(img, m, _light(rng), rng.uniform(0.3, 0.6))


def style_highlight(img, m, rng):
    img = _blend(img, m, _light(rng), rng.uniform(0.3, 0.7))
    if rng.random() < 0.5:
        img = _blend(img, _edge(m, 1), _light(rng), rng.uniform(0.5, 1.0))
    return img


def style_displaced(img, m, rng):
    """The picture under the shape turned about its centre, greyed a little, with a thin light
    outline: Dingxiang's decoys, which show other content than their surroundings where the
    gap shows the same content darkened."""
    h, w = m.shape
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(60.0, 300.0), 1.0)
    turned = cv2.warpAffine(img, turn, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    img = _blend(img, m, turned, 1.0)
    img = _blend(img, m, _grey(rng, 0.4, 0.7), rng.uniform(0.1, 0.35))
    return _blend(img, _edge(m, 1), _light(rng), rng.uniform(0.4, 0.9))


GAP_LOOKS = {"dark": style_dark, "rim": style_rim, "shadow": style_shadow, "blur": style_blur,
             "hollow": style_hollow, "frosted": style_frosted, "highlight": style_highlight,
             "translucent": style_translucent, "light": style_light, "gray": style_gray, "inset": style_inset,
             "displaced": style_displaced, "gray_faint_knobs": style_gray_faint_knobs,
             "solid_light": style_solid_light}
# Decoy looks of styles that name none (classic's); listed, not GAP_LOOKS, so that a look added
# for one vendor does not change what the seeds of the other styles render.
ANY_LOOK = dict.fromkeys(("dark", "rim", "shadow", "blur", "hollow", "frosted", "highlight", "translucent",
                          "light", "gray", "inset", "displaced", "gray_faint_knobs"), 1.0)


def stamp(img: np.ndarray, placed: _Placed, look: str, rng: np.random.Generator, strength: float = 1.0) -> None:
    """Draw a gap (or decoy) with ``look`` into ``img`` in place; ``strength`` < 1 fades it
    towards the background."""
    sl, m = _roi_warp(placed.mask, placed.matrix(), img.shape[1], img.shape[0])
    styled = GAP_LOOKS[look](img[sl], m, rng)
    img[sl] = styled if strength == 1.0 else img[sl] + strength * (styled - img[sl])


# ----------------------------------------------------------------------------- piece
def piece_layers(texture: np.ndarray, m: np.ndarray, rng: np.random.Generator,
                 noise: bool, rim_prob: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Piece texture + mask → (premultiplied RGBA, drop-shadow alpha), padded by ``PAD``.

    The texture gets a bevel lit from the top left, an optional Perlin-noise overlay and
    a rim; the shadow is the blurred mask, offset down-right.
    """
    soft = cv2.GaussianBlur(m, (0, 0), rng.uniform(1.0, 2.5))
    shade = cv2.Sobel(soft, cv2.CV_32F, 1, 0) + cv2.Sobel(soft, cv2.CV_32F, 0, 1)
    shade /= max(float(np.abs(shade).max()), 1e-6)
    tex = texture + rng.uniform(0.1, 0.45) * shade[..., None]
    if noise:
        n = fractal_noise(*m.shape, rng, 3, base_cells=int(rng.integers(2, 5)))
        tex = tex * (1 + rng.uniform(0.2, 0.5) * (n[..., None] - 0.5) * 2)
    if rng.random() < 0.3:
        tex = tex * rng.uniform(1.05, 1.3)
    if rng.random() < rim_prob:
        color = _light(rng) if rng.random() < 0.7 else _dark(rng)
        tex = _blend(tex, _edge(m, int(rng.integers(1, 3))), color, rng.uniform(0.5, 1.0))
    tex = np.clip(tex, 0, 1)
    pad = ((PAD, PAD), (PAD, PAD))
    mp = np.pad(m, pad)
    rgba = np.dstack([np.pad(tex * m[..., None], (*pad, (0, 0))), mp])
    d = int(rng.integers(0, 4))
    shadow = cv2.GaussianBlur(_shift(mp, d, d), (0, 0), rng.uniform(1.0, 3.0)) * rng.uniform(0.3, 0.75)
    return rgba, shadow


def paste_piece(img: np.ndarray, rgba: np.ndarray, shadow: np.ndarray, left: float, top: float) -> None:
    """Composite the padded piece with its unpadded top-left corner at (left, top), sub-pixel."""
    matrix = translation(left - PAD, top - PAD)
    sl, shadow_w = _roi_warp(shadow, matrix, img.shape[1], img.shape[0])
    _, rgba_w = _roi_warp(rgba, matrix, img.shape[1], img.shape[0])
    roi = img[sl] * (1 - shadow_w[..., None])
    img[sl] = roi * (1 - rgba_w[..., 3:]) + rgba_w[..., :3]


def piece_png(rgba: np.ndarray) -> np.ndarray:
    """Premultiplied float RGBA → straight-alpha uint8 RGBA (what a site would serve)."""
    alpha = rgba[..., 3:]
    rgb = np.where(alpha > 1e-3, rgba[..., :3] / np.maximum(alpha, 1e-3), 0)
    return to_uint8(np.dstack([rgb, alpha]))


def to_uint8(img: np.ndarray) -> np.ndarray:
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


# ----------------------------------------------------------------------------- sampling
def resolve_mode(mode: str, cfg: GeneratorConfig, rng: np.random.Generator) -> str:
    """``mixed`` → one of the three forms at the config's ratios; others pass through."""
    if mode != "mixed":
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {[*MODES, 'mixed']}")
        return mode
    u = rng.random()
    return "gap-only" if u < cfg.gap_only_prob else "separate" if u < cfg.gap_only_prob + cfg.separate_prob else "composite"


def sample_size(cfg: GeneratorConfig, style: Style, rng: np.random.Generator) -> tuple[int, int]:
    """One of the style's canvases, else one seen on real sites or a random one."""
    if style.sizes:
        w, h = style.sizes[int(rng.integers(len(style.sizes)))]
        return int(w), int(h)
    if rng.random() < cfg.common_size_prob:
        return COMMON_SIZES[int(rng.integers(len(COMMON_SIZES)))]
    width = int(rng.integers(cfg.width[0], cfg.width[1] + 1))
    return width, max(MIN_HEIGHT, round(width / rng.uniform(*cfg.aspect_ratio)))


def photometric(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Global gamma, contrast, saturation and brightness variety (before any drawing)."""
    img = cv2.pow(np.clip(img, 0, 1), rng.uniform(0.75, 1.35))
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)[..., None]
    img = gray + (img - gray) * rng.uniform(0.5, 1.3)
    mean = float(img.mean())
    return (img - mean) * rng.uniform(0.75, 1.2) + mean + rng.uniform(-0.08, 0.08)


def perlin_overlay(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Image-wide Perlin-noise interference, as luminance modulation or a coloured veil."""
    n = fractal_noise(*img.shape[:2], rng, 4, base_cells=int(rng.integers(2, 7)))
    if rng.random() < 0.5:
        return img * (1 + rng.uniform(0.2, 0.45) * (n[..., None] - 0.5) * 2)
    return _blend(img, n, colorize(n, random_palette(rng, 3)), rng.uniform(0.2, 0.45))


def _jpeg(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(45, 96))])
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


def _signed(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi) * rng.choice([-1, 1]))


def shape_angle(cfg: GeneratorConfig, rng: np.random.Generator) -> float:
    """The shape's own tilt in ``cfg.shape_angle_deg``; no random draw when the range is empty,
    so styles without tilt render the captchas they always did for a seed."""
    lo, hi = cfg.shape_angle_deg
    return float(rng.uniform(lo, hi)) if hi > lo else float(lo)


def _gap_angle(cfg: GeneratorConfig, rng: np.random.Generator) -> float:
    """A visible rotation (|angle| ≥ 3°) inside ``cfg.rotation_deg``."""
    lo, hi = cfg.rotation_deg
    angle = _signed(rng, 3.0, max(abs(lo), abs(hi), 3.0))
    return float(np.clip(angle, lo, hi))


def _layout(cfg: GeneratorConfig, width: int, height: int, mask: np.ndarray, angle: float,
            rng: np.random.Generator) -> tuple[float, float, float] | None:
    """(slider left edge, gap centre x, gap centre y), or None when the piece is too big."""
    ph, pw = mask.shape
    ex, ey = half_extent(mask.shape, angle)
    sep = max(4.0, 0.03 * width)
    x0_hi = min(cfg.slider_x_frac[1] * width, width - EDGE - 2 * ex - sep - pw)
    x0_lo = min(cfg.slider_x_frac[0] * width, x0_hi)
    if x0_hi < 0 or 2 * ey + 2 * EDGE > height or ph + 2 * EDGE > height:
        return None
    x0 = rng.uniform(x0_lo, x0_hi)
    gx_lo = max(cfg.gap_x_min_frac * width, x0 + pw + sep) + ex
    gx_hi = width - EDGE - ex
    if gx_lo > gx_hi:
        return None
    return x0, rng.uniform(gx_lo, gx_hi), rng.uniform(EDGE + ey, height - EDGE - ey)


def _piece_size(cfg: GeneratorConfig, height: int, rng: np.random.Generator) -> float:
    size = height * rng.uniform(*cfg.piece_height_frac)
    return float(np.clip(size, *cfg.piece_size))


def _decoy_strength(cfg: GeneratorConfig, mode: str, rng: np.random.Generator) -> float:
    """1 in composites, where the drawn slider shows which hollow it fits; else a draw from
    ``cfg.decoy_fade``: with no piece in view, the look is all that tells gap from decoy
    (real vendors draw the decoy paler), and a decoy as strong as the gap leaves no answer."""
    return 1.0 if mode == "composite" else float(rng.uniform(*cfg.decoy_fade))


def _decoys(cfg: GeneratorConfig, rng: np.random.Generator, gap: _Placed, shape: str, size: float,
            taken: list[tuple], width: int, height: int, x_min: float,
            shapes: dict[str, float]) -> list[tuple[_Placed, str]]:
    """1–3 fake gaps, rotated and scaled, on the gap's row or another, overlapping nothing."""
    out = []
    for _ in range(int(rng.integers(cfg.decoys[0], cfg.decoys[1] + 1))):
        other = rng.random() < cfg.decoy_other_shape_prob
        dshape = random_shape(rng, shapes) if other else shape
        mask = make_mask(dshape, round(size), rng, shape_angle(cfg, rng)) if other else gap.mask
        angle, scale = _signed(rng, *cfg.decoy_rotation_deg), rng.uniform(*cfg.decoy_scale)
        ex, ey = half_extent(mask.shape, angle, scale)
        if 2 * ey + 2 * EDGE > height or x_min + ex > width - EDGE - ex:
            continue
        for _attempt in range(12):
            same_row = rng.random() < cfg.decoy_same_row_prob
            cy = gap.center[1] if same_row else rng.uniform(EDGE + ey, height - EDGE - ey)
            cy = float(np.clip(cy, EDGE + ey, height - EDGE - ey))
            placed = _Placed(mask, (rng.uniform(x_min + ex, width - EDGE - ex), cy), angle, scale)
            box = placed.box(margin=3)
            if not any(_overlaps(box, t) for t in taken):
                taken.append(box)
                out.append((placed, dshape))
                break
    return out


def outline_visibility(image: np.ndarray, shape: _Placed) -> float:
    """How much stronger the image's edges are along a drawn shape's outline (the gap, or the
    drawn slider) than around it: :func:`edge_contrast` over the shape's mask as placed."""
    padded = _Placed(np.pad(shape.mask, VIS_PAD), shape.center, shape.angle, shape.scale)
    sl, m = _roi_warp(padded.mask, padded.matrix(), image.shape[1], image.shape[0])
    return edge_contrast(cv2.cvtColor(image[sl], cv2.COLOR_RGB2GRAY), m > 0.5)


def edge_contrast(gray: np.ndarray, inside: np.ndarray) -> float:
    """Mean Sobel magnitude of ``gray`` on the outline of the ``inside`` mask ÷ the same in its
    core and a ring 3–8 px outside it (floored at 2 grey levels, so a flat background does not
    make a faint shape look strong); 0 where the mask has no outline or no surroundings.

    Around 1 a person cannot see the shape. Real gaps measured with their pieces' silhouettes
    (npc, ``benchmarks/real_gap_visibility.py``) lie mostly above 2 but reach down to 1.2-1.5,
    which is why the generator's floor is 1.5.
    """
    gray = gray.astype(np.float32)
    mag = cv2.magnitude(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1)) / 4
    inside = inside.astype(np.uint8)
    outline = cv2.dilate(inside - cv2.erode(inside, _K3), _K3) > 0
    around = (cv2.dilate(inside, _K3, iterations=8) - cv2.dilate(inside, _K3, iterations=3)) > 0
    around |= cv2.erode(inside, _K3, iterations=3) > 0
    if not outline.any() or not around.any():
        return 0.0
    return float(mag[outline].mean() / max(float(mag[around].mean()), 2.0))


def render_captcha(rng: np.random.Generator, cfg: GeneratorConfig, probs: EffectProbs,
                   mode: str = "composite", photos: PhotoLibrary | None = None) -> Captcha:
    """Render one captcha and its label record in ``cfg.style`` (one style of the mix per
    captcha); a gap below ``cfg.min_gap_visibility``, or a drawn slider below
    ``cfg.min_slider_visibility``, is drawn again, up to a few times."""
    style = pick(styles.resolve(cfg.style), rng)
    gcfg, probs = style.generator_config(cfg), probs.with_style(style)
    mode = resolve_mode(mode, gcfg, rng)
    for redraws in range(VIS_ATTEMPTS):
        captcha = _render(rng, gcfg, probs, mode, photos, style)
        captcha.record["redraws"] = redraws
        if visible_enough(captcha.record, cfg):
            break
    return captcha


def visible_enough(record: dict, cfg: GeneratorConfig) -> bool:
    """A person could see the gap and, in a composite, the drawn slider: no real site draws
    either invisibly, and a captcha nobody can solve measures nothing in a test set."""
    slider = record["slider_visibility"]
    return record["gap_visibility"] >= cfg.min_gap_visibility and (
        slider is None or slider >= cfg.min_slider_visibility)


def _render(rng: np.random.Generator, cfg: GeneratorConfig, probs: EffectProbs, mode: str,
            photos: PhotoLibrary | None, style: Style) -> Captcha:
    width, height = sample_size(cfg, style, rng)
    bg, group = make_background(height, width, rng, photos, style.backgrounds or default_backgrounds(cfg))
    bg = photometric(bg, rng)

    shapes = style.shapes or SHAPE_WEIGHTS
    looks = style.gap_looks or CLASSIC_LOOKS
    shape = random_shape(rng, shapes)
    angle = _gap_angle(cfg, rng) if rng.random() < probs.rotation else 0.0
    size = _piece_size(cfg, height, rng)
    tilt = shape_angle(cfg, rng)
    while True:  # shrink until gap and slider fit side by side
        mask = make_mask(shape, round(size), rng, tilt)
        layout = _layout(cfg, width, height, mask, angle, rng)
        if layout is not None:
            break
        size *= 0.9
    x0, gx, gy = layout
    ph, pw = mask.shape
    gap = _Placed(mask, (gx, gy), angle)

    # The piece is the background under the gap, seen in the piece's own (unrotated) frame.
    texture = warp(bg, gap.matrix(), (pw, ph), inverse=True, border=cv2.BORDER_REFLECT)
    img = bg.copy()
    effects: list[str] = []
    look = "highlight" if rng.random() < probs.highlight else weighted_choice(looks, rng)
    stamp(img, gap, look, rng)

    sy = float(np.clip(gy + rng.uniform(-1, 1), ph / 2, height - ph / 2)) if mode == "composite" else gy
    decoys: list[tuple[_Placed, str]] = []
    if rng.random() < probs.confusing_gap:
        taken = [gap.box(margin=3), (x0 - 3, sy - ph / 2 - 3, x0 + pw + 3, sy + ph / 2 + 3)]
        decoys = _decoys(cfg, rng, gap, shape, size, taken, width, height, x_min=x0 + pw, shapes=shapes)
        other = style.decoy_looks or ANY_LOOK
        for placed, _dshape in decoys:
            same = rng.random() < style.decoy_same_look_prob
            stamp(img, placed, look if same else weighted_choice(other, rng), rng, _decoy_strength(cfg, mode, rng))

    piece_noise = probs.perlin_noise > 0 and rng.random() < cfg.piece_noise_prob
    rgba, shadow = piece_layers(texture, mask, rng, piece_noise, style.piece_rim_prob)
    slider = _Placed(mask, (x0 + pw / 2, sy)) if mode == "composite" else None
    if slider is not None:
        paste_piece(img, rgba, shadow, x0, sy - ph / 2)
    if rng.random() < probs.perlin_noise:
        img = perlin_overlay(img, rng)
        effects.append("noise")
    image = to_uint8(img)
    if rng.random() < cfg.jpeg_prob:
        image = _jpeg(image, rng)
        effects.append("jpeg")

    effects += ["piece_noise"] * piece_noise + ["highlight"] * (look == "highlight")
    effects += ["confusing_gap"] * bool(decoys) + ["rotated_gap"] * (angle != 0.0)
    has_slider = mode != "gap-only"
    record = {
        "width": width, "height": height, "gap_x": gx, "gap_y": gy,
        "slider_x": x0 + pw / 2 if has_slider else None, "slider_y": sy if has_slider else None,
        "slider_start_x": x0 if has_slider else None, "piece_w": pw, "piece_h": ph,
        "shape": shape, "gap_style": look, "gap_angle": angle, "style": style.name,
        "gap_visibility": round(outline_visibility(image, gap), 3),
        "slider_visibility": None if slider is None else round(outline_visibility(image, slider), 3),
        "decoys": [{"x": d.center[0], "y": d.center[1], "angle": d.angle, "scale": d.scale} for d, _ in decoys],
        "effects": sorted(effects), "sample_type": sample_type(effects), "bg_group": group, "mode": mode,
    }
    return Captcha(image, piece_png(rgba) if mode == "separate" else None, record)


def sample_type(effects: list[str]) -> str:
    """One primary tag per sample, hardest first."""
    for tag in ("confusing_gap", "rotated_gap", "noise", "highlight"):
        if tag in effects:
            return tag
    return "normal"
