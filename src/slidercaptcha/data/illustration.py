"""Flat, vector-like illustrated backgrounds: scenes, festive banners and UI-like screens.

Many captchas (GeeTest, e-commerce sites) sit on illustrations rather than photos: large
flat colour regions with hard, often outlined edges, sunbursts, mascots, big lettering.
Such art is full of dark closed shapes that look like gaps, so a model that only saw
photos lands on them. Every kind draws with OpenCV's antialiased primitives in float RGB
[0, 1]; the caller adds grain and softening (``backgrounds.finish``).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from slidercaptcha.data.colour import random_palette

_FONTS = (cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_SIMPLEX)
_LETTERS = "ABCDEFGHKMNOPRSTUWXYZ0123456789!?"


def _color(palette: np.ndarray, rng: np.random.Generator) -> tuple[float, ...]:
    return tuple(float(c) for c in palette[int(rng.integers(len(palette)))])


def _outline_color(rng: np.random.Generator) -> tuple[float, ...]:
    v = rng.uniform(0.0, 0.2) if rng.random() < 0.8 else rng.uniform(0.85, 1.0)
    return (v, v, v)


def _vertical(height: int, width: int, top, bottom) -> np.ndarray:
    t = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    return np.broadcast_to(np.asarray(top, np.float32) * (1 - t) + np.asarray(bottom, np.float32) * t,
                           (height, width, 3)).copy()


def _sunburst(img: np.ndarray, center, colour, rays: int, alpha: float, phase: float) -> None:
    h, w = img.shape[:2]
    r = 2 * math.hypot(h, w)
    layer = img.copy()
    for k in range(rays):
        a0 = phase + 2 * math.pi * k / rays
        a1 = a0 + math.pi / rays
        pts = np.array([center, (center[0] + r * math.cos(a0), center[1] + r * math.sin(a0)),
                        (center[0] + r * math.cos(a1), center[1] + r * math.sin(a1))], np.float32)
        cv2.fillPoly(layer, [np.round(pts * 16).astype(np.int32)], colour, cv2.LINE_AA, 4)
    img[:] = cv2.addWeighted(layer, alpha, img, 1 - alpha, 0)


def _blob(img: np.ndarray, center, radius: float, colour, outline, thick: int, rng: np.random.Generator) -> None:
    """A wobbly closed shape (a bush, a stone, a cloud part) with an optional outline."""
    n = 24
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    rr = radius * (1 + 0.25 * np.sin(t * rng.integers(2, 5) + rng.uniform(0, 6)))
    pts = np.stack([center[0] + rr * np.cos(t), center[1] + rr * np.sin(t) * rng.uniform(0.5, 1.0)], 1)
    pts = np.round(pts * 16).astype(np.int32)
    cv2.fillPoly(img, [pts], colour, cv2.LINE_AA, 4)
    if thick:
        cv2.polylines(img, [pts], True, outline, thick, cv2.LINE_AA, 4)


def _mascot(img: np.ndarray, x: float, y: float, s: float, palette: np.ndarray, rng: np.random.Generator) -> None:
    """A cartoon figure: body, head, eyes, arms, all flat with a dark outline."""
    outline, thick = _outline_color(rng), max(1, int(s / 18))
    body, skin = _color(palette, rng), _color(palette, rng)
    p = lambda a, b: (int(a), int(b))  # noqa: E731
    for dx in (-1, 1):  # arms behind the body
        cv2.line(img, p(x + dx * s * 0.3, y), p(x + dx * s * rng.uniform(0.6, 0.9), y - s * rng.uniform(-0.4, 0.5)),
                 skin, max(2, int(s / 7)), cv2.LINE_AA)
    cv2.ellipse(img, p(x, y + s * 0.2), p(s * 0.38, s * 0.5), 0, 0, 360, body, -1, cv2.LINE_AA)
    cv2.ellipse(img, p(x, y + s * 0.2), p(s * 0.38, s * 0.5), 0, 0, 360, outline, thick, cv2.LINE_AA)
    cv2.circle(img, p(x, y - s * 0.45), int(s * 0.3), skin, -1, cv2.LINE_AA)
    cv2.circle(img, p(x, y - s * 0.45), int(s * 0.3), outline, thick, cv2.LINE_AA)
    for dx in (-1, 1):
        cv2.circle(img, p(x + dx * s * 0.11, y - s * 0.5), max(1, int(s * 0.05)), (0.05, 0.05, 0.05), -1, cv2.LINE_AA)


def _lettering(img: np.ndarray, palette: np.ndarray, rng: np.random.Generator) -> None:
    """A few big letters, outlined and sometimes extruded in 3D (banners print slogans; the
    counters of letters like E, A or O look like gaps)."""
    h, w = img.shape[:2]
    text = "".join(_LETTERS[int(i)] for i in rng.integers(len(_LETTERS), size=int(rng.integers(2, 7))))
    font = _FONTS[int(rng.integers(len(_FONTS)))]
    scale = h * rng.uniform(0.25, 0.5) / 22
    thick = max(2, int(scale * rng.uniform(2, 5)))
    (tw, th), _ = cv2.getTextSize(text, font, scale, thick)
    org = (int(rng.uniform(-0.1, 0.6) * w), int(rng.uniform(0.3, 0.9) * h + th / 2))
    face = _color(palette, rng)
    layers = [(thick + max(2, thick // 2), _outline_color(rng), (0, 0))] if rng.random() < 0.7 else []
    if rng.random() < 0.5:  # extrusion: darker copies stepping down-right, under the face
        side = tuple(c * rng.uniform(0.35, 0.6) for c in face)
        layers = [(thick, side, (k, k)) for k in range(int(rng.integers(3, 9)), 0, -1)] + layers
    for width, colour, (dx, dy) in [*layers, (thick, face, (0, 0))]:  # putText draws on 8-bit only
        mask = np.zeros((h, w), np.uint8)
        cv2.putText(mask, text, (org[0] + dx, org[1] + dy), font, scale, 255, width, cv2.LINE_AA)
        a = (mask.astype(np.float32) / 255)[..., None]
        img[:] = img * (1 - a) + np.asarray(colour, np.float32) * a


def flat_scene(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Gradient sky, sun and rays, flat hills, outlined bushes, clouds and mascots."""
    sky = random_palette(rng, 2)
    img = _vertical(height, width, sky[1], sky[0])
    palette = random_palette(rng, 6)
    scale = min(height, width)
    if rng.random() < 0.5:
        c = (rng.uniform(0, width), rng.uniform(0, height * 0.5))
        _sunburst(img, c, _color(palette, rng), int(rng.integers(8, 20)), rng.uniform(0.15, 0.4), rng.uniform(0, 6))
        cv2.circle(img, (int(c[0]), int(c[1])), int(scale * rng.uniform(0.08, 0.2)), _color(palette, rng), -1,
                   cv2.LINE_AA)
    for _ in range(int(rng.integers(0, 4))):  # clouds: unions of white circles
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height * 0.4), scale * rng.uniform(0.04, 0.1)
        for k in range(int(rng.integers(3, 6))):
            cv2.circle(img, (int(cx + k * r * 0.9), int(cy + rng.uniform(-r, r) * 0.3)), int(r * rng.uniform(0.8, 1.3)),
                       (0.97, 0.97, 0.98), -1, cv2.LINE_AA)
    outlined = rng.random() < 0.6
    xs = np.linspace(0, width, 64)
    for k in range(int(rng.integers(1, 4))):  # hills, back to front
        base = height * (0.45 + 0.5 * (k + rng.uniform(0, 1)) / 3)
        ys = base - height * rng.uniform(0.05, 0.25) * np.sin(xs / width * math.pi * rng.uniform(0.5, 3) + rng.uniform(0, 6))
        pts = np.vstack([np.stack([xs, ys], 1), [[width, height], [0, height]]])
        pts = np.round(pts * 16).astype(np.int32)
        cv2.fillPoly(img, [pts], _color(palette, rng), cv2.LINE_AA, 4)
        if outlined:
            cv2.polylines(img, [pts[:64]], False, _outline_color(rng), max(1, int(scale / 80)), cv2.LINE_AA, 4)
    for _ in range(int(rng.integers(2, 9))):
        _blob(img, (rng.uniform(0, width), rng.uniform(0.3, 1.0) * height), scale * rng.uniform(0.04, 0.14),
              _color(palette, rng), _outline_color(rng), max(1, int(scale / 70)) * outlined, rng)
    for _ in range(int(rng.integers(0, 3))):
        _mascot(img, rng.uniform(0.1, 0.9) * width, rng.uniform(0.4, 0.8) * height,
                scale * rng.uniform(0.2, 0.45), palette, rng)
    if rng.random() < 0.35:
        _lettering(img, palette, rng)
    return np.clip(img, 0, 1)


def festive(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Sale and holiday banners: a saturated ground, rays, ribbons, confetti, lanterns, stars."""
    palette = random_palette(rng, 6)
    base = palette[int(rng.integers(len(palette)))]
    img = _vertical(height, width, base * rng.uniform(0.8, 1.1), base * rng.uniform(0.5, 0.9))
    scale = min(height, width)
    _sunburst(img, (rng.uniform(0, width), rng.uniform(0, height)), _color(palette, rng),
              int(rng.integers(10, 28)), rng.uniform(0.1, 0.35), rng.uniform(0, 6))
    for _ in range(int(rng.integers(1, 4))):  # ribbons: thick wavy bands
        y0, amp = rng.uniform(0, height), rng.uniform(0.03, 0.15) * height
        xs = np.linspace(-10, width + 10, 40)
        ys = y0 + amp * np.sin(xs / width * math.pi * rng.uniform(1, 4) + rng.uniform(0, 6))
        cv2.polylines(img, [np.stack([xs, ys], 1).astype(np.int32)], False, _color(palette, rng),
                      int(scale * rng.uniform(0.03, 0.1)), cv2.LINE_AA)
    for _ in range(int(rng.integers(20, 80))):  # confetti
        c = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
        s = max(2, int(scale * rng.uniform(0.01, 0.03)))
        box = cv2.boxPoints((c, (s, s * rng.uniform(1, 3)), rng.uniform(0, 180)))
        cv2.fillPoly(img, [box.astype(np.int32)], _color(palette, rng), cv2.LINE_AA)
    for _ in range(int(rng.integers(0, 4))):  # lanterns / baubles with a gold rim
        c = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
        ax = (int(scale * rng.uniform(0.06, 0.12)), int(scale * rng.uniform(0.05, 0.1)))
        cv2.ellipse(img, c, ax, 0, 0, 360, _color(palette, rng), -1, cv2.LINE_AA)
        cv2.ellipse(img, c, ax, 0, 0, 360, (0.95, 0.8, 0.3), max(1, int(scale / 60)), cv2.LINE_AA)
    for _ in range(int(rng.integers(0, 6))):  # stars
        c, r = np.array([rng.uniform(0, width), rng.uniform(0, height)]), scale * rng.uniform(0.02, 0.07)
        t = rng.uniform(0, 6) + np.arange(10) * math.pi / 5
        rr = np.where(np.arange(10) % 2 == 0, r, r * 0.45)
        cv2.fillPoly(img, [np.stack([c[0] + rr * np.cos(t), c[1] + rr * np.sin(t)], 1).astype(np.int32)],
                     _color(palette, rng), cv2.LINE_AA)
    if rng.random() < 0.5:
        _lettering(img, palette, rng)
    return np.clip(img, 0, 1)


def ui_screen(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """UI-like scenes: panels, buttons, text bars, icons, code lines and circuit traces."""
    palette = random_palette(rng, 5)
    dark = rng.random() < 0.5
    ground = np.array([rng.uniform(0.1, 0.25)] * 3 if dark else [rng.uniform(0.85, 0.97)] * 3) + rng.uniform(-0.05, 0.05, 3)
    img = np.empty((height, width, 3), np.float32)
    img[:] = np.clip(ground, 0, 1)
    scale = min(height, width)
    for _ in range(int(rng.integers(1, 5))):  # panels with a drop shadow
        x0, y0 = int(rng.uniform(-0.1, 0.8) * width), int(rng.uniform(-0.1, 0.8) * height)
        x1, y1 = x0 + int(rng.uniform(0.2, 0.7) * width), y0 + int(rng.uniform(0.2, 0.7) * height)
        shade = np.clip(ground + (0.08 if dark else -0.06), 0, 1)
        cv2.rectangle(img, (x0 + 3, y0 + 3), (x1 + 3, y1 + 3), tuple(float(v) for v in shade * 0.8), -1)
        cv2.rectangle(img, (x0, y0), (x1, y1), tuple(float(v) for v in shade), -1)
        for k in range(int(rng.integers(2, 8))):  # text bars
            ty = y0 + int((k + 1) * scale * 0.06)
            if ty > y1:
                break
            tone = 0.75 if dark else 0.35
            cv2.line(img, (x0 + 8, ty), (x0 + 8 + int(rng.uniform(0.2, 0.9) * (x1 - x0 - 16)), ty),
                     (tone, tone, tone), max(1, int(scale * 0.012)), cv2.LINE_AA)
    for _ in range(int(rng.integers(1, 5))):  # pill buttons and round icons
        c = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
        r = int(scale * rng.uniform(0.03, 0.07))
        if rng.random() < 0.5:
            cv2.line(img, (c[0] - 2 * r, c[1]), (c[0] + 2 * r, c[1]), _color(palette, rng), 2 * r, cv2.LINE_AA)
        else:
            cv2.circle(img, c, r, _color(palette, rng), -1 if rng.random() < 0.6 else 2, cv2.LINE_AA)
    if rng.random() < 0.5:  # circuit traces ending in rings
        for _ in range(int(rng.integers(2, 7))):
            y = int(rng.uniform(0, height))
            x0, x1 = int(rng.uniform(0, 0.5) * width), int(rng.uniform(0.5, 1.0) * width)
            y2 = y + int(rng.uniform(-0.2, 0.2) * height)
            colour, t = _color(palette, rng), max(1, int(scale / 80))
            pts = np.array([[x0, y], [(x0 + x1) // 2, y], [(x0 + x1) // 2 + abs(y2 - y), y2], [x1, y2]], np.int32)
            cv2.polylines(img, [pts], False, colour, t, cv2.LINE_AA)
            cv2.circle(img, (x1, y2), int(scale * 0.03), colour, t + 1, cv2.LINE_AA)
    if rng.random() < 0.4:  # code: rows of coloured dashes
        x, y = int(rng.uniform(0, 0.5) * width), int(rng.uniform(0, 0.5) * height)
        for _ in range(int(rng.integers(3, 10))):
            cx = x + int(rng.integers(0, 3)) * 10
            for _ in range(int(rng.integers(1, 5))):
                n = int(rng.uniform(10, 50))
                cv2.line(img, (cx, y), (cx + n, y), _color(palette, rng), max(1, int(scale * 0.012)))
                cx += n + 6
            y += max(6, int(scale * 0.04))
    return np.clip(img, 0, 1)


KINDS = {"flat_scene": flat_scene, "festive": festive, "ui_screen": ui_screen}
