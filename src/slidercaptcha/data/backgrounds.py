"""Captcha backgrounds: procedural art that needs no files, and crops of any photo folder.

Texture variety is what lets a model trained on synthetic data work on real captchas
(DESIGN §5), so the procedural kinds differ in structure (smooth clouds, hard edges,
horizons, mosaics), each with its own random palette and film grain.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np

from slidercaptcha.data import illustration
from slidercaptcha.data.colour import colorize, random_palette
from slidercaptcha.utils.random import weighted_choice

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
CLASSIC_KINDS = {"fractal": 0.25, "gradient": 0.15, "geometric": 0.25, "landscape": 0.25, "mosaic": 0.10}
_NOISE_SCALE = 4  # fractal noise is computed at 1/4 resolution and upsampled (speed)


# ----------------------------------------------------------------------------- noise
def perlin(height: int, width: int, cells: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Perlin gradient noise over a ``cells = (rows, cols)`` lattice; values in about [-1, 1]."""
    cy, cx = cells
    angles = rng.uniform(0, 2 * math.pi, (cy + 1, cx + 1))
    gx, gy = np.cos(angles), np.sin(angles)
    y = np.arange(height) * (cy / height)
    x = np.arange(width) * (cx / width)
    yi, xi = y.astype(np.int64), x.astype(np.int64)
    yf, xf = (y - yi)[:, None], (x - xi)[None, :]

    def corner(oy: int, ox: int) -> np.ndarray:
        iy, ix = (yi + oy)[:, None], (xi + ox)[None, :]
        return gx[iy, ix] * (xf - ox) + gy[iy, ix] * (yf - oy)

    u = xf * xf * xf * (xf * (xf * 6 - 15) + 10)
    v = yf * yf * yf * (yf * (yf * 6 - 15) + 10)
    top = corner(0, 0) + u * (corner(0, 1) - corner(0, 0))
    bottom = corner(1, 0) + u * (corner(1, 1) - corner(1, 0))
    return ((top + v * (bottom - top)) * math.sqrt(2)).astype(np.float32)


def fractal_noise(height: int, width: int, rng: np.random.Generator, octaves: int = 4,
                  base_cells: int = 2, persistence: float = 0.5) -> np.ndarray:
    """Fractal (fBm) Perlin noise normalised to [0, 1]; computed small, resized up."""
    h, w = max(8, height // _NOISE_SCALE), max(8, width // _NOISE_SCALE)
    aspect = width / height
    total = np.zeros((h, w), np.float32)
    for o in range(octaves):
        rows = base_cells * 2 ** o
        total += persistence ** o * perlin(h, w, (rows, max(1, round(rows * aspect))), rng)
    total = cv2.resize(total, (width, height), interpolation=cv2.INTER_CUBIC)
    lo, hi = float(total.min()), float(total.max())
    return (total - lo) / max(hi - lo, 1e-6)


# ----------------------------------------------------------------------------- kinds
def _ramp(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Linear or radial ramp in [0, 1]."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    if rng.random() < 0.6:
        a = rng.uniform(0, 2 * math.pi)
        t = x * math.cos(a) + y * math.sin(a)
    else:
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        t = np.hypot(x - cx, y - cy)
    return (t - t.min()) / max(float(np.ptp(t)), 1e-6)


def _fractal(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    noise = fractal_noise(height, width, rng, octaves=int(rng.integers(3, 6)),
                          base_cells=int(rng.integers(1, 4)), persistence=rng.uniform(0.4, 0.65))
    return colorize(noise, random_palette(rng, int(rng.integers(2, 6))))


def _gradient(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    t = _ramp(height, width, rng) + rng.uniform(0.05, 0.3) * fractal_noise(height, width, rng, 3)
    return colorize(t / t.max(), random_palette(rng, int(rng.integers(2, 5))))


def _geometric(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Abstract art: translucent layers of circles, rectangles, polygons and thick lines."""
    img = _gradient(height, width, rng)
    palette = random_palette(rng, 6)
    scale = min(height, width)
    for _ in range(int(rng.integers(1, 4))):
        layer = img.copy()
        for _ in range(int(rng.integers(3, 12))):
            color = tuple(float(c) for c in palette[rng.integers(len(palette))])
            kind = rng.integers(4)
            p = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
            size = int(rng.uniform(0.05, 0.4) * scale)
            if kind == 0:
                cv2.circle(layer, p, size, color, -1, cv2.LINE_AA)
            elif kind == 1:
                cv2.rectangle(layer, p, (p[0] + size, p[1] + int(size * rng.uniform(0.3, 2))), color, -1)
            elif kind == 2:
                pts = rng.uniform(-size, size, (int(rng.integers(3, 7)), 2)) + p
                cv2.fillPoly(layer, [pts.astype(np.int32)], color, cv2.LINE_AA)
            else:
                q = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
                cv2.line(layer, p, q, color, int(rng.integers(1, max(2, size // 4))), cv2.LINE_AA)
        alpha = rng.uniform(0.4, 1.0)
        img = cv2.addWeighted(layer, alpha, img, 1 - alpha, 0)
    return img


def _landscape(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Sky ramp and 2–4 ridges of fractal mountains, paler with distance."""
    sky = random_palette(rng, 2)
    t = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    img = np.broadcast_to(sky[1] * (1 - t) + sky[0] * t, (height, width, 3)).copy()
    ground = random_palette(rng, 1)[0]
    n = int(rng.integers(2, 5))
    y = np.arange(height, dtype=np.float32)[:, None]
    layer = np.full((height, width), -1, np.int64)  # index of the nearest ridge covering a pixel
    for k in range(n):
        profile = fractal_noise(8, width, rng, octaves=4, base_cells=1)[4]
        base = height * (0.3 + 0.6 * (k + rng.uniform(0, 1)) / n)
        layer[y >= (base - profile * height * rng.uniform(0.1, 0.4))[None, :]] = k
    depth = (np.arange(n, dtype=np.float32)[:, None] + 1) / n  # 1 = nearest
    colors = ground * (0.35 + 0.65 * depth) + sky[1] * (1 - depth) * 0.6
    texture = fractal_noise(height, width, rng, 3, base_cells=4)[..., None] * 0.25 + 0.875
    land = layer >= 0
    img[land] = np.clip(colors[layer[land]] * texture[land], 0, 1)
    return img


def _mosaic(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Blocks of colour with hard edges (tiles, pixel art, building facades)."""
    rows = int(rng.integers(3, 14))
    cols = max(2, round(rows * width / height * rng.uniform(0.5, 1.5)))
    palette = random_palette(rng, int(rng.integers(3, 8)))
    cells = palette[rng.integers(len(palette), size=(rows, cols))]
    img = cv2.resize(cells, (width, height), interpolation=cv2.INTER_NEAREST)
    shade = fractal_noise(height, width, rng, 3, base_cells=2)[..., None]
    return np.clip(img * (0.7 + 0.5 * shade), 0, 1)


_KINDS = {"fractal": _fractal, "gradient": _gradient, "geometric": _geometric,
          "landscape": _landscape, "mosaic": _mosaic, **illustration.KINDS}
BACKGROUND_KINDS = ("photo", "art", *_KINDS)  # the names a style's ``backgrounds`` may weigh


def finish(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Film grain, optional softening and a fine texture, so no surface is perfectly flat."""
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.5))
    grain = rng.uniform(0.0, 0.025)
    if grain > 0.005:
        img = img + grain * rng.standard_normal(img.shape[:2], dtype=np.float32)[..., None]
    return np.clip(img, 0, 1)


def procedural_background(kind: str, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Float32 RGB image in [0, 1]."""
    return finish(_KINDS[kind](height, width, rng).astype(np.float32), rng)


# ----------------------------------------------------------------------------- photos
class PhotoLibrary:
    """Photos (and, apart, painted or cartoon art) found recursively under some folders,
    cropped at random scales.

    The last ``cache_size`` decoded photos are kept per process (downscaled so the short side is
    at most ``max_side``). A training epoch's loader forks fresh workers, so each starts cold;
    ``scripts/prepare_backgrounds.py``'s downscaled photos decode in a few ms anyway.
    """

    def __init__(self, folders: list[str | Path] | tuple = (), art_folders: list[str | Path] | tuple = (),
                 max_side: int = 720, cache_size: int = 48):
        self.files = sorted({p for d in folders for p in _photos_under(Path(d))})
        self.art = sorted({p for d in art_folders for p in _photos_under(Path(d))})
        self.max_side = max_side
        self.cache_size = cache_size
        self._cache: OrderedDict[Path, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return len(self.files)

    def has(self, kind: str) -> bool:
        return bool(self.art if kind == "art" else self.files)

    def load(self, path: Path) -> np.ndarray:
        if path in self._cache:
            self._cache.move_to_end(path)
            return self._cache[path]
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"{path}: cannot decode background photo")
        short = min(bgr.shape[:2])
        if short > self.max_side:
            f = self.max_side / short
            bgr = cv2.resize(bgr, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        self._cache[path] = rgb
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return rgb

    def crop(self, height: int, width: int, rng: np.random.Generator, kind: str = "photo") -> tuple[np.ndarray, str]:
        """A random crop of a photo (or of art) with the target aspect at 35–100 % of the
        largest, resized; and the picture's group name (its file stem)."""
        files = self.art if kind == "art" else self.files
        path = files[int(rng.integers(len(files)))]
        photo = self.load(path)
        ph, pw = photo.shape[:2]
        aspect = width / height
        cw_max = min(pw, ph * aspect)
        cw = cw_max * rng.uniform(0.35, 1.0)
        ch = cw / aspect
        x0, y0 = rng.uniform(0, pw - cw), rng.uniform(0, ph - ch)
        crop = photo[int(y0):int(y0 + ch), int(x0):int(x0 + cw)]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        interp = cv2.INTER_AREA if crop.shape[1] > width else cv2.INTER_LINEAR
        out = cv2.resize(np.ascontiguousarray(crop), (width, height), interpolation=interp)
        return out.astype(np.float32) / 255.0, path.stem


def _photos_under(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"background folder not found: {folder}")
    return [p for p in folder.rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES and p.is_file()]


def default_backgrounds(cfg) -> dict[str, float]:
    """Photos at ``cfg.photo_prob``, else the classic procedural kinds (mosaics are rare on
    real sites, hence their small share)."""
    rest = 1.0 - cfg.photo_prob
    return {"photo": cfg.photo_prob, **{k: w * rest for k, w in CLASSIC_KINDS.items()}}


def make_background(height: int, width: int, rng: np.random.Generator, photos: PhotoLibrary | None,
                    kinds: dict[str, float]) -> tuple[np.ndarray, str]:
    """A background of a kind drawn from ``kinds`` (``photo`` and ``art`` fall back to
    procedural art when there are none): (float32 RGB [0, 1], background group id)."""
    kind = weighted_choice(kinds, rng)
    if kind in ("photo", "art"):
        if photos is not None and photos.has(kind):
            return photos.crop(height, width, rng, kind)
        kind = weighted_choice({k: w for k, w in kinds.items() if k not in ("photo", "art")} or CLASSIC_KINDS, rng)
    seed = int(rng.integers(2**31))
    return procedural_background(kind, height, width, np.random.default_rng(seed)), f"proc-{kind}-{seed}"
