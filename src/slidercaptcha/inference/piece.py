"""Separate-piece captchas: the piece image says where the slider is and which gap is real.

The gap heatmap proposes a few candidates (its local maxima); the piece's silhouette is then
matched against the image around each one. Decoys are rotated or scaled copies of the gap
shape, so the outline of the real piece fits the real gap best. Matching compares edge
maps (the piece's alpha outline against the image's gradient magnitude), which works for
dark, bright, rimmed and embossed gaps alike because all of them have an outline. Where
the outline fits best is also where the gap is, at full resolution: finer than the
heatmap's cells (4 canvas pixels, up to ~10 original pixels on a wide image).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from slidercaptcha.decode import points_at, to_original
from slidercaptcha.grid import valid_cells
from slidercaptcha.inference.images import ImageError

ALPHA_THRESHOLD = 127
DARK_THRESHOLD = 10  # pieces without alpha: near-black pixels count as background
# Drawn-slider alignment, chosen on the default model's validation set (MODEL_CARD.md):
SLIDER_PATCH_SIZES = (0.2, 0.25, 0.3, 0.35)  # patch side / image height, tried in turn
ALIGN_SEARCH = 0.2  # how far (× patch side) the match may move from the gap the heatmap found
ALIGN_MIN_SCORE = 0.3  # edge correlation below which a drawn slider is not trusted to align


@dataclass(frozen=True)
class Piece:
    """A piece's silhouette cropped to its bounding box, and where that box sat in its image."""

    mask: np.ndarray  # bool h×w, cropped to the silhouette's bounding box
    x0: int
    y0: int
    image_width: int
    image_height: int

    @property
    def center(self) -> tuple[float, float]:
        """Bounding-box centre in the piece image's pixels (continuous coordinates)."""
        h, w = self.mask.shape
        return self.x0 + w / 2, self.y0 + h / 2


def piece_from_array(piece: np.ndarray, label: str = "piece") -> Piece:
    """RGBA (alpha = silhouette) or RGB/gray (non-black = silhouette) array → :class:`Piece`."""
    if piece.ndim == 3 and piece.shape[2] == 4:
        solid = piece[:, :, 3] > ALPHA_THRESHOLD
    else:
        solid = (piece if piece.ndim == 2 else piece.max(axis=2)) > DARK_THRESHOLD
    ys, xs = np.nonzero(solid)
    if len(xs) == 0:
        raise ImageError(f"{label}: the piece image is fully transparent (no silhouette)")
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    return Piece(solid[y0:y1, x0:x1], int(x0), int(y0), piece.shape[1], piece.shape[0])


def slider_position(piece: Piece, image_hw: tuple[int, int], gap_y: float) -> tuple[float, float]:
    """Where the piece sits on the background, assuming the piece image starts at x = 0.

    A full-height piece image (or a full-size transparent layer) fixes y too; a small crop
    does not, and the piece then sits on the gap's row.
    """
    cx, cy = piece.center
    return cx, (cy if piece.image_height == image_hw[0] else gap_y)


@dataclass(frozen=True)
class Candidates:
    points: np.ndarray  # [n,2] original pixels
    scores: np.ndarray  # [n] heatmap values
    cells: np.ndarray  # [n] flat cell indices on the output grid


def gap_candidates(heatmap: torch.Tensor, offset: torch.Tensor, box: torch.Tensor, mask: torch.Tensor,
                   k: int = 5, min_score: float = 0.05) -> Candidates:
    """Up to ``k`` local maxima of one gap heatmap [1,h,w], best first.

    A 3×3 max-pool keeps only cells that are maxima of their neighbourhood; padding cells
    (mask [1,H,W], 1 = image) are excluded. The best candidate is always kept.
    """
    heat = heatmap[None].masked_fill(~valid_cells(mask[None]), -1.0)
    peaks = heat.masked_fill(F.max_pool2d(heat, 3, 1, 1) != heat, -1.0).flatten()
    scores, idx = peaks.topk(min(k, peaks.numel()))
    keep = (scores >= min_score) | (torch.arange(len(scores)) == 0)
    scores, idx = scores[keep], idx[keep]
    canvas = points_at(idx, offset[None].expand(len(idx), -1, -1, -1), heatmap.shape[-1])
    points = to_original(canvas, box[None].expand(len(idx), -1))
    return Candidates(points.numpy(), scores.numpy(), idx.numpy())


def _edges(gray: np.ndarray) -> np.ndarray:
    """Gradient magnitude of a lightly blurred float image."""
    gray = cv2.GaussianBlur(gray.astype(np.float32), (3, 3), 0)
    return cv2.magnitude(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))


def match_piece(image_rgb: np.ndarray, piece: Piece, points: np.ndarray,
                radius: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """How well, and where, the piece outline fits the image near each point [n,2].

    The outline is the silhouette's edge map; each candidate's window lets the piece shift by
    ``radius`` px (default 30 % of its size) to absorb the heatmap's localisation error.
    Returns the best normalised correlation per point [n] (-1 where the window does not fit)
    and the piece centre at that best fit [n,2]: the gap located at full resolution, finer
    than the heatmap's cells.
    """
    pad = 3  # so the outline along the bounding box's border shows in the edge map
    template = _edges(np.pad(piece.mask, pad).astype(np.float32) * 255)
    th, tw = template.shape
    r = int(round(radius if radius is not None else max(6.0, 0.3 * max(th, tw))))
    image_edges = _edges(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY))
    height, width = image_edges.shape
    scores = np.full(len(points), -1.0, dtype=np.float32)
    fitted = np.array(points, dtype=np.float64).reshape(-1, 2).copy()
    for i, (x, y) in enumerate(points):  # a handful of candidates, each one cv2 call
        x0, y0 = max(int(round(x - tw / 2)) - r, 0), max(int(round(y - th / 2)) - r, 0)
        window = image_edges[y0:min(y0 + th + 2 * r, height), x0:min(x0 + tw + 2 * r, width)]
        if window.shape[0] >= th and window.shape[1] >= tw:
            _, scores[i], _, (dx, dy) = cv2.minMaxLoc(cv2.matchTemplate(window, template, cv2.TM_CCOEFF_NORMED))
            fitted[i] = x0 + dx + tw / 2, y0 + dy + th / 2  # template centre = silhouette box centre
    return scores, fitted


def align_drawn_slider(image_rgb: np.ndarray, gap: tuple[float, float], slider: tuple[float, float],
                       sizes: tuple[float, ...] = SLIDER_PATCH_SIZES, search: float = ALIGN_SEARCH,
                       min_score: float = ALIGN_MIN_SCORE) -> tuple[tuple[float, float], tuple[float, float], float]:
    """Composite captchas draw the piece (the slider) in the image, and it has the gap's outline.

    A square patch of edges around the slider, matched near the gap, measures gap − slider at
    full resolution. The heatmaps' two points are then moved towards each other (or apart) by
    half the disagreement each, so the sliding distance is the measured one and the two
    points share their errors. The piece's size is unknown, so a few patch sides (fractions of
    the image height) are tried and the best match wins; below ``min_score`` (no clear match:
    a faint or rotated gap) the points stay as they were. Returns (gap, slider, match score).
    """
    edges = _edges(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY))
    height, width = edges.shape
    best_score, best_shift = -1.0, None
    for frac in sizes:
        side = int(round(frac * height)) | 1
        if side < 9 or side > min(height, width):
            continue
        x0 = min(max(int(round(slider[0])) - side // 2, 0), width - side)
        y0 = min(max(int(round(slider[1])) - side // 2, 0), height - side)
        template = edges[y0:y0 + side, x0:x0 + side]
        r = int(round(search * side))
        wx0, wy0 = max(int(round(gap[0])) - side // 2 - r, 0), max(int(round(gap[1])) - side // 2 - r, 0)
        window = edges[wy0:min(wy0 + side + 2 * r, height), wx0:min(wx0 + side + 2 * r, width)]
        if window.shape[0] < side or window.shape[1] < side or template.std() == 0:
            continue
        _, score, _, (dx, dy) = cv2.minMaxLoc(cv2.matchTemplate(window, template, cv2.TM_CCOEFF_NORMED))
        if score > best_score:
            best_score, best_shift = score, np.array([wx0 + dx - x0, wy0 + dy - y0], float)
    if best_shift is None or best_score < min_score:
        return gap, slider, best_score
    half = (best_shift - (np.asarray(gap) - np.asarray(slider))) / 2
    return (gap[0] + half[0], gap[1] + half[1]), (slider[0] - half[0], slider[1] - half[1]), best_score
