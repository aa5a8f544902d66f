"""Full-resolution matching: where a piece's shape fits in the image.

The network's gap heatmap has 1/4-scale cells (up to ~10 original pixels on a wide captcha)
and, on real captchas, sometimes ranks a decoy or a picture edge first. Given the piece, the
image itself says where the gap is, at full resolution, by three cues scored at every
position (one ``cv2.matchTemplate`` each, a few ms):

- **outline**: the piece silhouette's edges against the image's gradient magnitude. Every
  way of drawing a gap (dark or light fill, rim, bevel, emboss) leaves its outline, and a
  rotated or scaled decoy's outline does not fit the piece;
- **texture**: the piece is the background cut out, so its inside correlates with the gap's
  inside even under a translucent fill (a linear change of brightness), and not with a
  decoy elsewhere;
- **prior**: the network's gap heatmap, brought to full resolution, breaks near-ties.

A piece image that spans the background's height (a strip, or a full-size layer) also fixes
the gap's row. Where the upright piece fits nowhere decisively, it is also tried turned (some
captchas turn the gap against its piece). Composite captchas draw the piece in the image; :func:`align_drawn_slider`
matches it against the gap the network found to measure the sliding distance, and cuts its
silhouette out (:func:`cut_drawn_slider`) to search for it like a given piece, so a hollow the
network ranked second can win on its shape. Gap-only captchas have neither; where the heatmap
is in doubt between peaks, the one with the clearly stronger closed outline and fill can win
(:func:`pick_gap`), since decoys are drawn paler than the gap, unless it is shaded the other
way (light against a dark first peak, or dark against a light one).

The solver, ``evaluate`` and the benchmarks all go through this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from slidercaptcha.grid import canvas_to_grid
from slidercaptcha.inference.images import ImageError
from slidercaptcha.preprocess import to_rgb

ALPHA_THRESHOLD = 127
PLAIN_TOLERANCE = 30  # pieces without alpha: pixels this far (max over channels) from the border colour are the piece
PAD = 3  # so the outline along the silhouette's bounding box shows in the edge map
# Cue weights (outline correlation is in [0, 1], texture in [-1, 1], prior a heatmap in [0, 1]);
# chosen on npc (real) and generated separate-piece captchas together (MODEL_CARD.md):
TEXTURE_WEIGHT = 0.3
PRIOR_WEIGHT = 0.4
# A fit that beats every other place by this much (outline + texture, no prior) is taken without
# the network: the smallest margin at which the prior changed no answer on 800 tuning captchas
# (MODEL_CARD.md, "Piece first"):
DECISIVE_MARGIN = 0.15
FLAT_EDGE = 1.0  # RMS gradient (grey levels per px) under which a window holds no outline to fit
RIM_SHRINK = 2  # px a drawn rim may add around the piece's true outline
ROW_SLACK = 2  # px a known row may be off by: a strip's (labels and renderers round differently), a drawn slider's
# Some captchas draw the gap turned against its piece (the generator's ``rotated_gap``, up to
# ±30°). Where the upright fit is not decisive, the piece is also tried turned by these angles,
# at ``TURNED_HEIGHT`` (a quarter of the pixels of the upright search), and the turned winner
# is refined at full resolution to the nearest ``ANGLE_STEP``:
ROTATIONS = (-30, -20, -10, 10, 20, 30)
ANGLE_STEP = 5
TURNED_HEIGHT = 100
COARSE_HEIGHT = 200  # px: taller images are searched at this height, then refined at full resolution
REFINE_RADIUS = 3  # full-resolution px searched around the coarse winner, beyond its rounding
# Drawn-slider alignment, chosen on the default model's validation set (MODEL_CARD.md):
SLIDER_PATCH_SIZES = (0.2, 0.25, 0.3, 0.35)  # patch side / image height, tried in turn
ALIGN_SEARCH = 0.2  # how far (× patch side) the match may move from the gap the heatmap found
ALIGN_MIN_SCORE = 0.3  # edge correlation below which a drawn slider is not trusted to align
ROW_BAND = 0.15  # × patch side: how far from the slider's row the row-wide match may look
# What the row-wide match must win by (chosen on the validation set; checked again in session 24
# with ``benchmarks/tune_drawn_slider.py``, whose spc train rows it protects, MODEL_CARD.md):
ROW_MARGIN = 0.2
# Closed outlines traced along rays from a point (:func:`trace_outline`: the drawn slider's
# silhouette, gap-only peaks' outlines; set by looking at traced outlines on the validation
# sets, not swept):
OUTLINE_RAYS = 64
OUTLINE_REACH = 0.4  # × image height: the farthest a ray looks for the outline
OUTLINE_MIN = 0.06  # × image height: the nearest the outline may lie to the centre
OUTLINE_BEND = 0.05  # cost of one px of radius between neighbouring rays (edge strengths are 0..1)
OUTLINE_STRENGTH_CAP = 3.0  # × the image's 90th-percentile gradient: one very sharp outline counts no more
# Gap-only captchas: a translucent fill flattens the texture under it and darkens or lightens
# it; a closed outline's inside (eroded FILL_CORE px) is compared with a ring FILL_RING px outside it:
FILL_CORE = 3
FILL_RING = (3, 7)
_K3 = np.ones((3, 3), np.uint8)  # one px of erosion or dilation
# How much the outline's and the fill's strengths add to a heatmap peak's rank, by how much
# another peak's sum must beat the first's, and how close its rank must be, for it to be
# considered (chosen on spc train and the validation sets with ``benchmarks/tune_gap_looks.py``,
# MODEL_CARD.md):
GAP_OUTLINE_WEIGHT = 0.15
GAP_FILL_WEIGHT = 0.05
GAP_LOOK_MARGIN = 0.05
GAP_RANK_DOUBT = 0.1  # only peaks ranked within this of the first are weighed (and traced)
GAP_SHADE_CLEAR = 1.0  # × the image's grey spread: a fill this much darker or lighter is clearly shaded
# The gap heatmap at another hollow the silhouette fits, for the answer to move there; chosen on
# the validation sets and a tuning set with ``benchmarks/tune_drawn_slider.py`` (MODEL_CARD.md):
HOLLOW_MIN_PRIOR = 0.15
# The slider heatmap's peak at or above which the drawn slider's row is trusted as the gap's
# (``align_drawn_slider(same_row=True)``); a decoy or object read as a slider in a gap-only captcha
# peaks lower, and its row would pull the gap off its own. Chosen on the validation and tuning
# sets (MODEL_CARD.md), 0.5-0.7 level:
SAME_ROW_MIN_SLIDER = 0.5


# ----------------------------------------------------------------------------- pieces
@dataclass(frozen=True)
class Piece:
    """A piece's silhouette and pixels cropped to its bounding box, and where that box sat in
    its image (a tight crop, a strip with the piece inside, or a full-size layer)."""

    mask: np.ndarray  # bool h×w
    gray: np.ndarray  # uint8 h×w, the piece's own pixels (for the texture cue)
    x0: int
    y0: int
    image_width: int
    image_height: int

    @property
    def center(self) -> tuple[float, float]:
        """Bounding-box centre in the piece image's pixels (continuous coordinates)."""
        h, w = self.mask.shape
        return self.x0 + w / 2, self.y0 + h / 2

    @property
    def box(self) -> tuple[float, float, float, float]:
        h, w = self.mask.shape
        return float(self.x0), float(self.y0), float(self.x0 + w), float(self.y0 + h)


def _plain_background_silhouette(rgb: np.ndarray) -> np.ndarray:
    """Pixels that differ from the image border's colour, as one filled blob (the largest)."""
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]).astype(np.int16)
    diff = np.abs(rgb.astype(np.int16) - np.median(border, axis=0)).max(axis=2)
    solid = cv2.morphologyEx((diff > PLAIN_TOLERANCE).astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(solid, connectivity=8)
    if n < 2:
        return np.zeros(solid.shape, bool)
    blob = (labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).astype(np.uint8)
    outside = np.pad(1 - blob, 1, constant_values=1)  # fill holes: what the border's flood fill does not reach
    cv2.floodFill(outside, None, (0, 0), 2)
    return (blob > 0) | (outside[1:-1, 1:-1] == 1)


def read_piece(piece: np.ndarray, label: str = "piece") -> Piece:
    """A piece image → :class:`Piece`: RGBA by its alpha; RGB/gray (e.g. JPEG) by its
    difference from a plain background (the border's colour). A drawn rim, shadow or glow
    that is opaque belongs to the silhouette; a soft glow below half opacity does not."""
    rgb = np.repeat(piece[:, :, None], 3, axis=2) if piece.ndim == 2 else piece[:, :, :3]
    has_alpha = piece.ndim == 3 and piece.shape[2] == 4 and piece[:, :, 3].min() < 255
    solid = piece[:, :, 3] > ALPHA_THRESHOLD if has_alpha else _plain_background_silhouette(rgb)
    area = solid.mean()
    if area < 0.01 or (not has_alpha and area > 0.95):
        what = "fully transparent" if has_alpha else "one plain colour, or fills the whole image"
        raise ImageError(f"{label}: cannot find the piece's shape (the image is {what})")
    ys, xs = np.nonzero(solid)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    gray = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    return Piece(solid[y0:y1, x0:x1], gray, int(x0), int(y0), piece.shape[1], piece.shape[0])


def slider_position(piece: Piece, image_hw: tuple[int, int], gap_y: float) -> tuple[float, float]:
    """Where the piece sits on the background, assuming the piece image starts at x = 0.

    A full-height piece image (or a full-size transparent layer) fixes y too; a small crop
    does not, and the piece then sits on the gap's row.
    """
    cx, cy = piece.center
    return cx, (cy if piece.image_height == image_hw[0] else gap_y)


# ----------------------------------------------------------------------------- cues
def edges(gray: np.ndarray) -> np.ndarray:
    """Gradient magnitude of a lightly blurred float image."""
    gray = cv2.GaussianBlur(gray.astype(np.float32), (3, 3), 0)
    return cv2.magnitude(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))


def heatmap_in_image(heat: np.ndarray, box: np.ndarray, width: int, height: int) -> np.ndarray:
    """A gap heatmap [h,w] on the letterboxed canvas's 1/4 grid → [height,width] over the
    original image (bilinear), so it can weigh full-resolution positions.
    ``box`` = (scale_x, scale_y, pad_left, pad_top, …) as :class:`~slidercaptcha.preprocess.Letterbox`."""
    sx, sy, left, top = (float(v) for v in box[:4])
    gx = canvas_to_grid((np.arange(width, dtype=np.float32) + 0.5) * sx + left)
    gy = canvas_to_grid((np.arange(height, dtype=np.float32) + 0.5) * sy + top)
    mx, my = np.meshgrid(gx.astype(np.float32), gy.astype(np.float32))
    return cv2.remap(np.ascontiguousarray(heat, np.float32), mx, my, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def window_sums(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """Sum of ``values`` over every height×width window (``cv2.matchTemplate``'s result grid),
    from an integral image in float64, which keeps a window of zeros exactly zero."""
    total = cv2.integral(values.astype(np.float64), sdepth=cv2.CV_64F)
    return total[height:, width:] - total[:-height, width:] - total[height:, :-width] + total[:-height, :-width]


def outline_score(image_edges: np.ndarray, piece: Piece) -> np.ndarray:
    """Best over the silhouette and the silhouette shrunk by ``RIM_SHRINK`` px: a rim or
    shadow drawn around a piece lies outside the gap's outline.

    Windows without edges (a flat colour region) score 0: there OpenCV's normalised
    correlation divides the FFT's rounding residue by a near-zero norm and returns arbitrary
    scores, up to 1.98 seen, that change from call to call."""
    height, width = piece.mask.shape[0] + 2 * PAD, piece.mask.shape[1] + 2 * PAD
    flat = window_sums(np.square(image_edges, dtype=np.float32), height, width) < height * width * FLAT_EDGE ** 2
    best = None
    for shrink in (0, RIM_SHRINK):
        mask = piece.mask.astype(np.uint8)
        if shrink:
            mask = cv2.erode(mask, np.ones((2 * shrink + 1,) * 2, np.uint8), borderType=cv2.BORDER_CONSTANT,
                             borderValue=0)
        template = edges(np.pad(mask, PAD).astype(np.float32) * 255)
        score = cv2.matchTemplate(image_edges, template, cv2.TM_CCORR_NORMED)
        best = score if best is None else np.maximum(best, score)
    best[flat] = 0.0
    return best


def masked_ncc(image: np.ndarray, template: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``cv2.matchTemplate(image, template, TM_CCOEFF_NORMED, mask=mask)`` from three plain
    correlations (the mean-removed masked template, the mask over the image and over its
    square): the same scores within 2e-4, 2.3× faster than OpenCV's masked path on 672×390
    captchas (``benchmarks/bench_matching.py``). Flat windows (std under half a grey level)
    score -1: no evidence."""
    image = image.astype(np.float32) - np.float32(image.mean())  # smaller sums: float32 stays exact
    mask = mask.astype(np.float32)
    n = float(mask.sum())
    centred = (template.astype(np.float32) - float((template * mask).sum()) / n) * mask
    num = cv2.matchTemplate(image, centred, cv2.TM_CCORR)
    total = cv2.matchTemplate(image, mask, cv2.TM_CCORR)
    var = cv2.matchTemplate(image * image, mask, cv2.TM_CCORR) - total * total / n
    flat = var < 0.25 * n
    score = num / np.sqrt(np.maximum(var, 1e-6) * float((centred * centred).sum()))
    score[flat] = -1.0
    return np.clip(score, -1.0, 1.0)


def texture_template(piece: Piece) -> tuple[np.ndarray, np.ndarray] | None:
    """(template, mask) for the texture cue: the piece's padded grey and its inside with the rim
    eroded away; None when the piece has no texture to compare (a flat fill)."""
    inside = cv2.erode(piece.mask.astype(np.uint8), np.ones((5, 5), np.uint8),
                       borderType=cv2.BORDER_CONSTANT, borderValue=0)  # the crop's edges are rim too
    if inside.sum() < 16 or piece.gray[inside > 0].std() < 2.0:
        return None
    return np.pad(piece.gray, PAD, mode="edge"), np.pad(inside, PAD)


def texture_score(gray: np.ndarray, piece: Piece) -> np.ndarray | None:
    """Masked correlation of the piece's inside with the image (:func:`texture_template`)."""
    template = texture_template(piece)
    return None if template is None else masked_ncc(gray, *template)


# ----------------------------------------------------------------------------- search
@dataclass(frozen=True)
class Match:
    center: tuple[float, float]  # the gap's centre (silhouette box centre), original pixels
    box: tuple[float, float, float, float]  # the gap's box x0, y0, x1, y1
    score: float  # outline correlation at the match, 0..1: how well the shape fits there
    angle: float = 0.0  # degrees the piece was turned to fit (:data:`ROTATIONS`)


def _refine(score: np.ndarray, y: int, x: int) -> tuple[float, float]:
    """Sub-pixel peak: a parabola through the maximum and its neighbours, per axis."""
    def vertex(a: float, b: float, c: float) -> float:
        d = a - 2 * b + c
        return 0.0 if d >= 0 else float(np.clip(0.5 * (a - c) / d, -0.5, 0.5))
    dx = vertex(*score[y, x - 1:x + 2]) if 0 < x < score.shape[1] - 1 else 0.0
    dy = vertex(*score[y - 1:y + 2, x]) if 0 < y < score.shape[0] - 1 else 0.0
    return x + dx, y + dy


def _cue_sum(gray: np.ndarray, piece: Piece) -> tuple[np.ndarray, np.ndarray]:
    """(outline + texture, outline) scores of every position of the piece's padded box in ``gray``."""
    outline = outline_score(edges(gray), piece)
    total = outline.copy()
    texture = texture_score(gray, piece)
    if texture is not None:
        total += TEXTURE_WEIGHT * texture
    return total, outline


def _with_prior(total: np.ndarray, piece: Piece, prior: np.ndarray | None) -> np.ndarray:
    """``total`` plus the prior at each position's centre."""
    if prior is None:
        return total
    th, tw = piece.mask.shape[0] + 2 * PAD, piece.mask.shape[1] + 2 * PAD
    return total + PRIOR_WEIGHT * prior[th // 2:th // 2 + total.shape[0], tw // 2:tw // 2 + total.shape[1]]


def _rows(total: np.ndarray, row: int | None) -> tuple[int, int]:
    """The rows of ``total`` to search: all, or within ``ROW_SLACK`` of ``row`` when it is known."""
    if row is None:
        return 0, total.shape[0]
    lo = min(max(row - ROW_SLACK, 0), total.shape[0] - 1)
    return lo, max(min(row + ROW_SLACK + 1, total.shape[0]), lo + 1)


def _best(total: np.ndarray, row: int | None) -> tuple[int, int]:
    """Argmax (y, x) over :func:`_rows`."""
    lo, hi = _rows(total, row)
    y, x = np.unravel_index(int(np.argmax(total[lo:hi])), total[lo:hi].shape)
    return int(y) + lo, int(x)


def _margin(total: np.ndarray, row: int | None, piece: Piece) -> float:
    """How far the best position beats the best one elsewhere (outside half the piece's box
    around it): the fit's own confidence, with no prior."""
    lo, hi = _rows(total, row)
    band = total[lo:hi].copy()
    y, x = np.unravel_index(int(np.argmax(band)), band.shape)
    best = float(band[y, x])
    h, w = piece.mask.shape[0] // 2 + PAD, piece.mask.shape[1] // 2 + PAD
    band[max(y - h, 0):y + h + 1, max(x - w, 0):x + w + 1] = -np.inf
    return best - float(band.max()) if np.isfinite(band).any() else best


def _coarse_size(gray: np.ndarray, s: float) -> tuple[int, int]:
    """(width, height) of ``gray`` scaled by ``s``, as cv2.resize takes it."""
    return round(gray.shape[1] * s), round(gray.shape[0] * s)


def _scaled(piece: Piece, s: float) -> Piece:
    h, w = max(round(piece.mask.shape[0] * s), 4), max(round(piece.mask.shape[1] * s), 4)
    mask = cv2.resize(piece.mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) > 0.5
    gray = cv2.resize(piece.gray, (w, h), interpolation=cv2.INTER_AREA)
    return Piece(mask, gray, round(piece.x0 * s), round(piece.y0 * s), round(piece.image_width * s),
                 round(piece.image_height * s))


def _turned(piece: Piece, angle: float) -> Piece:
    """The piece turned by ``angle`` degrees (counter-clockwise on screen) about its box centre,
    on a canvas grown evenly on each side so the centre stays where it was."""
    if angle == 0:
        return piece
    h, w = piece.mask.shape
    c, s = abs(np.cos(np.radians(angle))), abs(np.sin(np.radians(angle)))
    gx, gy = int(np.ceil((w * c + h * s - w) / 2)), int(np.ceil((w * s + h * c - h) / 2))
    turn = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
    turn[:, 2] += (gx, gy)
    size = (w + 2 * gx, h + 2 * gy)
    mask = cv2.warpAffine(piece.mask.astype(np.float32), turn, size, flags=cv2.INTER_LINEAR) > 0.5
    gray = cv2.warpAffine(piece.gray, turn, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return Piece(mask, gray, piece.x0 - gx, piece.y0 - gy, piece.image_width, piece.image_height)


@dataclass(frozen=True)
class Pose:
    """One way the piece may sit in the gap (upright or turned): its scores over the image at
    one scale."""

    angle: float
    scale: float  # of ``total`` and ``outline`` (1.0: full resolution)
    coarse_piece: Piece  # the turned piece at ``scale``
    total: np.ndarray  # outline + texture scores
    outline: np.ndarray


@dataclass(frozen=True)
class PieceSearch:
    """A piece's outline and texture scores over a whole image, before any prior.

    Images taller than ``COARSE_HEIGHT`` are scored at that height (4× fewer pixels on a
    390-high captcha, and a smaller template); :meth:`match` refines the winner at full
    resolution within a few pixels. ``margin`` says how clearly the upright shape alone picks
    one place: at or above ``DECISIVE_MARGIN`` the network's prior has never changed the answer
    on the tuning captchas, so the solver can skip the network (MODEL_CARD.md). Below it, the
    piece is also scored turned by each of ``ROTATIONS`` (``turned``), and the turned winner
    competes with the upright one at full resolution.

    The image is edge-padded by ``PAD`` first, so a gap touching the image's border is scored
    where it is: the template's margin (``PAD``) may then hang over the border instead of
    pushing the piece ``PAD`` px inwards.
    """

    gray: np.ndarray  # the padded full-resolution grey image
    piece: Piece
    fixed_row: bool  # a strip or full-size layer fixes the gap's row (each pose's piece.y0)
    upright: Pose
    turned: tuple[Pose, ...]
    margin: float

    @property
    def decisive(self) -> bool:
        return self.margin >= DECISIVE_MARGIN

    def match(self, prior: np.ndarray | None = None) -> Match:
        """The pose and position where the piece fits best. prior: the gap heatmap over the
        image (:func:`heatmap_in_image`), or None."""
        if prior is not None:
            prior = cv2.copyMakeBorder(prior, PAD, PAD, PAD, PAD, cv2.BORDER_REPLICATE)

        def prior_at(scale: float) -> np.ndarray | None:
            if prior is None or scale == 1.0:
                return prior
            return cv2.resize(prior, _coarse_size(self.gray, scale), interpolation=cv2.INTER_LINEAR)  # smooth
        up = self.upright
        _, y, x = self._coarse_best(up, prior_at(up.scale))
        scores = (up.total, up.outline) if up.scale == 1.0 else None  # already at full resolution
        best = self._refined(self.piece, 0.0, up.scale, x / up.scale, y / up.scale, prior, scores)
        if self.turned:
            coarse = prior_at(self.turned[0].scale)  # every turned pose shares one scale
            (_, y, x), pose = max(((self._coarse_best(p, coarse), p) for p in self.turned), key=lambda f: f[0][0])
            for angle in (pose.angle - ANGLE_STEP, pose.angle, pose.angle + ANGLE_STEP):
                turned = _turned(self.piece, angle)
                if _fits(turned, self.gray):
                    found = self._refined(turned, angle, pose.scale, x / pose.scale, y / pose.scale, prior)
                    best = max(best, found, key=lambda f: f[0])
        return best[1]

    def _coarse_best(self, pose: Pose, prior: np.ndarray | None) -> tuple[float, int, int]:
        """(score with the prior, y, x) of the pose's best position at its own scale (``prior``
        is at that scale too)."""
        total = _with_prior(pose.total, pose.coarse_piece, prior)
        y, x = _best(total, pose.coarse_piece.y0 if self.fixed_row else None)
        return float(total[y, x]), y, x

    def _refined(self, piece: Piece, angle: float, scale: float, x: float, y: float, prior: np.ndarray | None,
                 scores: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[float, Match]:
        """(score with the prior, match) of ``piece`` (turned by ``angle``) at full resolution,
        within a few pixels of the template corner (x, y) found at ``scale``; over the whole
        image when its full-resolution ``scores`` (total, outline) are given."""
        gray = self.gray
        x0 = y0 = 0
        if scores is not None:
            total, outline = scores
        else:
            th, tw = piece.mask.shape[0] + 2 * PAD, piece.mask.shape[1] + 2 * PAD
            r = int(np.ceil(1 / scale)) + REFINE_RADIUS
            # the window holds the whole template even where a ±ANGLE_STEP neighbour is larger
            # than the pose it was found with and the fit lies at the image's edge
            x0, y0 = min(max(round(x) - r, 0), gray.shape[1] - tw), min(max(round(y) - r, 0), gray.shape[0] - th)
            x1, y1 = min(max(round(x) + r, x0) + tw, gray.shape[1]), min(max(round(y) + r, y0) + th, gray.shape[0])
            total, outline = _cue_sum(gray[y0:y1, x0:x1], piece)
            prior = None if prior is None else prior[y0:y1, x0:x1]
        total = _with_prior(total, piece, prior)
        y, x = _best(total, piece.y0 - y0 if self.fixed_row else None)
        fx, fy = _refine(total, y, x)
        h, w = piece.mask.shape
        cx, cy = x0 + fx + w / 2, y0 + fy + h / 2  # padded image's template corner = the piece's corner
        h, w = self.piece.mask.shape  # the box: the upright piece's, centred on the fit
        box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        return float(total[y, x]), Match((cx, cy), box, float(outline[y, x]), angle)


def _fits(piece: Piece, gray: np.ndarray) -> bool:
    """Whether the piece fits inside the (padded) image."""
    return piece.mask.shape[0] <= gray.shape[0] - 2 * PAD and piece.mask.shape[1] <= gray.shape[1] - 2 * PAD


def _pose(image: np.ndarray, turned: Piece, angle: float, scale: float) -> Pose | None:
    """The piece turned by ``angle`` (``turned``), scored over ``image`` (the padded grey image
    at ``scale``); None where it does not fit there (the padding is not scaled, so a piece
    nearly as large as the image can fit at full resolution and not at a smaller scale)."""
    small = turned if scale == 1.0 else _scaled(turned, scale)
    return Pose(angle, scale, small, *_cue_sum(image, small)) if _fits(small, image) else None


def search_piece(image_rgb: np.ndarray, piece: Piece) -> PieceSearch:
    """Score the piece's fit over the whole image (:class:`PieceSearch`)."""
    height, width = image_rgb.shape[:2]
    if piece.mask.shape[0] > height or piece.mask.shape[1] > width:
        raise ImageError(f"the piece ({piece.mask.shape[1]}×{piece.mask.shape[0]}) is larger than the image "
                         f"({width}×{height})")
    fixed_row = piece.image_height == height
    gray = cv2.copyMakeBorder(cv2.cvtColor(np.ascontiguousarray(image_rgb), cv2.COLOR_RGB2GRAY),
                              PAD, PAD, PAD, PAD, cv2.BORDER_REPLICATE)

    def scaled(target_height: int) -> tuple[np.ndarray, float]:
        """``gray`` at ``target_height`` (at full resolution when that is 80 % of it or more)."""
        s = target_height / gray.shape[0]
        if s >= 0.8:
            return gray, 1.0
        return cv2.resize(gray, _coarse_size(gray, s), interpolation=cv2.INTER_AREA), s
    image, s = scaled(COARSE_HEIGHT)
    upright = _pose(image, piece, 0.0, s) or _pose(gray, piece, 0.0, 1.0)
    margin = _margin(upright.total, upright.coarse_piece.y0 if fixed_row else None, upright.coarse_piece)
    turned = ()
    if margin < DECISIVE_MARGIN:
        image, s = scaled(TURNED_HEIGHT)
        pieces = [(angle, _turned(piece, angle)) for angle in ROTATIONS]
        turned = tuple(p for p in (_pose(image, t, a, s) for a, t in pieces if _fits(t, gray)) if p is not None)
    return PieceSearch(gray, piece, fixed_row, upright, turned, margin)


def locate_piece(image_rgb: np.ndarray, piece: Piece, prior: np.ndarray | None = None) -> Match:
    """The position where the piece fits best, searched over the whole image
    (:class:`PieceSearch`), with the network's gap heatmap as a prior when given."""
    return search_piece(image_rgb, piece).match(prior)


def _window_variance(image: np.ndarray, side: int) -> np.ndarray:
    """Variance of every ``side``×``side`` window (matchTemplate's result grid), exact where a
    window is flat (:func:`window_sums`)."""
    image = image.astype(np.float64)
    n = side * side
    return window_sums(image * image, side, side) / n - (window_sums(image, side, side) / n) ** 2


def _patch_match(image_edges: np.ndarray, slider: tuple[float, float], side: int,
                 window: tuple[int, int, int, int]) -> tuple[float, np.ndarray] | None:
    """Best CCOEFF match of the edge patch of ``side`` px around the slider inside ``window``
    (x0, y0, x1, y1): (score, shift from the patch to the match) or None when it cannot run.
    Windows without edges (a flat colour region) score -1: OpenCV's TM_CCOEFF_NORMED divides by
    their near-zero spread and gives them arbitrary scores up to 1.0, which differ between runs."""
    height, width = image_edges.shape
    x0 = min(max(int(round(slider[0])) - side // 2, 0), width - side)
    y0 = min(max(int(round(slider[1])) - side // 2, 0), height - side)
    template = image_edges[y0:y0 + side, x0:x0 + side]
    wx0, wy0, wx1, wy1 = max(window[0], 0), max(window[1], 0), min(window[2], width), min(window[3], height)
    area = image_edges[wy0:wy1, wx0:wx1]
    if area.shape[0] < side or area.shape[1] < side or template.std() == 0:
        return None
    scores = cv2.matchTemplate(area, template, cv2.TM_CCOEFF_NORMED)
    scores[_window_variance(area, side) < 0.25] = -1.0  # edge spread under half a grey level: no evidence
    _, score, _, (dx, dy) = cv2.minMaxLoc(scores)
    return score, np.array([wx0 + dx - x0, wy0 + dy - y0], float)


def align_drawn_slider(image_rgb: np.ndarray, gap: tuple[float, float], slider: tuple[float, float],
                       prior: np.ndarray | None = None, sizes: tuple[float, ...] = SLIDER_PATCH_SIZES,
                       search: float = ALIGN_SEARCH, min_score: float = ALIGN_MIN_SCORE,
                       hollow_min_prior: float | None = HOLLOW_MIN_PRIOR, same_row: bool = True,
                       row_margin: float = ROW_MARGIN) -> tuple[tuple[float, float], tuple[float, float], float]:
    """Composite captchas draw the piece (the slider) in the image, and it has the gap's outline.

    A square patch of edges around the slider, matched near the gap, measures gap − slider at
    full resolution. The heatmaps' two points are then moved towards each other (or apart) by
    half the disagreement each, so the sliding distance is the measured one and the two
    points share their errors. The piece's size is unknown, so a few patch sides (fractions of
    the image height) are tried and the best match wins; below ``min_score`` (no clear match:
    a faint or rotated gap) the points stay as they were. A drawn slider slides along its gap's
    row (in real captchas, and within ±1 px in the generator's), so with ``same_row`` (the
    solver sets it where the network is sure of the slider: :data:`SAME_ROW_MIN_SLIDER`) the
    match looks only along the mean of the two points' rows (within ``ROW_SLACK``) and both
    points take that row at the end.

    With the gap heatmap over the image (``prior``, :func:`heatmap_in_image`), the patch is also
    matched along the slider's whole row to its right: where the network took a decoy, the
    drawn slider's outline fits the real gap better. That match replaces the local one when
    its score plus the prior there beats the local one's by ``row_margin``. Then the slider's
    silhouette is searched for along its row (:func:`other_hollow`): where it fits another
    hollow where the heatmap reaches ``hollow_min_prior`` (None: no silhouette search), the
    patch is matched there instead. Returns (gap, slider, match score).
    """
    image_edges = edges(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY))
    found = _align(image_edges, gap, slider, prior, sizes, search, min_score, same_row, row_margin)
    hollow = None
    if prior is not None and hollow_min_prior is not None:
        hollow = other_hollow(image_rgb, slider, found[0], prior, hollow_min_prior)
    if hollow is not None:
        found = _align(image_edges, hollow, slider, prior, sizes, search, min_score, same_row, row_margin)
    if not same_row:
        return found
    (gx, gy), (sx, sy), score = found
    return (gx, (gy + sy) / 2), (sx, (gy + sy) / 2), score


def _align(image_edges: np.ndarray, gap: tuple[float, float], slider: tuple[float, float],
           prior: np.ndarray | None, sizes: tuple[float, ...], search: float, min_score: float,
           same_row: bool, row_margin: float) -> tuple[tuple[float, float], tuple[float, float], float]:
    """:func:`align_drawn_slider`'s patch match near ``gap`` and along the slider's row."""
    height, width = image_edges.shape
    local, row = (-1.0, None), (-1.0, None)
    for frac in sizes:
        side = int(round(frac * height)) | 1
        if side < 9 or side > min(height, width):
            continue
        r = int(round(search * side))
        row_y, ry = ((gap[1] + slider[1]) / 2, ROW_SLACK) if same_row else (gap[1], r)
        gx, gy = int(round(gap[0])) - side // 2, int(round(row_y)) - side // 2
        found = _patch_match(image_edges, slider, side, (gx - r, gy - ry, gx + side + r, gy + side + ry))
        if found is not None and found[0] > local[0]:
            local = found
        if prior is not None:  # the slider's row, right of the slider
            band = int(round(ROW_BAND * side))
            sy = int(round(slider[1])) - side // 2
            found = _patch_match(image_edges, slider, side,
                                 (int(round(slider[0])) + side, sy - band, width, sy + side + band))
            if found is not None and found[0] > row[0]:
                row = found
    best_gap, best_slider, best_score = gap, slider, local[0]
    if local[1] is not None and local[0] >= min_score:
        half = (local[1] - (np.asarray(gap) - np.asarray(slider))) / 2
        best_gap = (gap[0] + half[0], gap[1] + half[1])
        best_slider = (slider[0] - half[0], slider[1] - half[1])
    if row[1] is not None:
        row_gap = (slider[0] + row[1][0], slider[1] + row[1][1])
        if row[0] + PRIOR_WEIGHT * value_at(prior, row_gap) > \
                best_score + PRIOR_WEIGHT * value_at(prior, best_gap) + row_margin:
            return row_gap, slider, row[0]
    return best_gap, best_slider, best_score


def _radial_gradient(gray: np.ndarray, center: tuple[float, float], reach: int) -> np.ndarray:
    """[OUTLINE_RAYS, reach]: the gradient along each ray from ``center``, per px of radius, in
    grey levels. An outline around the centre crosses every ray; texture edges that run along a
    ray barely register."""
    blurred = cv2.GaussianBlur(gray.astype(np.float32), (3, 3), 0)
    flags = cv2.WARP_POLAR_LINEAR + cv2.INTER_LINEAR + cv2.WARP_FILL_OUTLIERS  # outside the image: 0
    gx, gy = (cv2.warpPolar(cv2.Sobel(blurred, cv2.CV_32F, *d), (reach, OUTLINE_RAYS), center, reach, flags)
              for d in ((1, 0), (0, 1)))
    theta = np.arange(OUTLINE_RAYS)[:, None] * (2 * np.pi / OUTLINE_RAYS)
    return np.abs(gx * np.cos(theta) + gy * np.sin(theta))


def _closed_outline(energy: np.ndarray, r_min: int, bend: float) -> np.ndarray:
    """The radius on each ray of the closed path that collects the most edge ``energy`` less
    ``bend`` per px of radius change between neighbouring rays (a knob's neck is a jump, paid
    for once). Dynamic programming around the rays twice, so the second turn starts where the
    path has settled and closes on itself; each step's best predecessor under the L1 cost comes
    from two running minima (a distance transform), not a loop over jumps, and the path is
    traced back through the second turn."""
    rays, reach = energy.shape
    cost = -energy.astype(np.float64)
    cost[:, :r_min] = np.inf
    radius = np.arange(reach)
    slope = bend * radius
    totals = np.empty((2 * rays, reach))
    totals[0] = cost[0]
    for i in range(1, 2 * rays):
        prev = totals[i - 1]
        from_below = np.minimum.accumulate(prev - slope) + slope  # min over k <= r of prev[k] + bend (r - k)
        from_above = np.minimum.accumulate((prev + slope)[::-1])[::-1] - slope  # k >= r
        np.minimum(from_below, from_above, out=totals[i])
        totals[i] += cost[i % rays]
    path = np.empty(rays, np.int64)
    path[-1] = int(np.argmin(totals[-1]))
    for i in range(rays - 1, 0, -1):
        path[i - 1] = int(np.argmin(totals[rays + i - 1] + bend * np.abs(radius - path[i])))
    return path


def trace_outline(gray: np.ndarray, point: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """The closed outline of strongest edges around ``point`` (:func:`_closed_outline` over the
    radial gradient scaled to 0..1 by its 99th percentile): (outline [OUTLINE_RAYS, 2] in
    ``gray``'s pixels, the gradient across it on each ray in grey levels). A drawn piece's or a
    gap's rim, bevel, shadow or fill makes its outline the strongest edge around, whatever its
    shape. Only the surroundings of ``point`` are read."""
    height = gray.shape[0]
    reach = max(int(OUTLINE_REACH * height), 8)
    margin = reach + 3  # the rays' reach and the gradient's 3×3 filters
    left, top = max(int(point[0]) - margin, 0), max(int(point[1]) - margin, 0)
    around = gray[top:max(int(point[1]) + margin + 1, 0), left:max(int(point[0]) + margin + 1, 0)]
    if around.size == 0:
        raise ImageError(f"({point[0]:.0f}, {point[1]:.0f}) lies outside the image: no outline to trace")
    radial = _radial_gradient(around, (point[0] - left, point[1] - top), reach)
    energy = np.minimum(radial / max(float(np.percentile(radial, 99)), 1e-3), 1.0)
    radii = _closed_outline(energy, max(int(OUTLINE_MIN * height), 2), OUTLINE_BEND)
    theta = np.arange(OUTLINE_RAYS) * (2 * np.pi / OUTLINE_RAYS)
    outline = np.stack([point[0] + radii * np.cos(theta), point[1] + radii * np.sin(theta)], axis=1)
    return outline, radial[np.arange(OUTLINE_RAYS), radii]


def _outline_mask(outline: np.ndarray, shape: tuple[int, int], margin: int = 0) -> tuple[np.ndarray, int, int]:
    """The inside of a closed outline as a 0/1 mask over its bounding box (``margin`` px wider on
    every side, clipped to an image of ``shape``), and the box's top-left (x0, y0) in the image."""
    height, width = shape
    x0, y0 = (max(int(np.floor(v)) - margin, 0) for v in outline.min(axis=0))
    x1 = min(int(np.ceil(outline[:, 0].max())) + margin + 1, width)
    y1 = min(int(np.ceil(outline[:, 1].max())) + margin + 1, height)
    mask = np.zeros((max(y1 - y0, 1), max(x1 - x0, 1)), np.uint8)
    cv2.fillPoly(mask, [np.round((outline - (x0, y0)) * 4).astype(np.int32)], 1, shift=2)  # 2 fractional bits
    return mask, x0, y0


def cut_drawn_slider(image_rgb: np.ndarray, slider: tuple[float, float]) -> Piece:
    """The drawn slider's silhouette around its centre (the network's point): the closed outline
    traced around it (:func:`trace_outline`), as a :class:`Piece` in the image's coordinates, to
    be searched for like a given one."""
    gray = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY)
    height, width = gray.shape
    mask, x0, y0 = _outline_mask(trace_outline(gray, slider)[0], gray.shape)
    bx, by, w, h = cv2.boundingRect(mask)  # not empty: the outline encloses a point in the image
    x0, y0 = x0 + bx, y0 + by
    return Piece(mask[by:by + h, bx:bx + w] > 0, gray[y0:y0 + h, x0:x0 + w], x0, y0, width, height)


def choose_gap(ranks: np.ndarray, looks: np.ndarray,
               weights: tuple[float, float] = (GAP_OUTLINE_WEIGHT, GAP_FILL_WEIGHT),
               margin: float = GAP_LOOK_MARGIN, doubt: float = GAP_RANK_DOUBT,
               shade_clear: float = GAP_SHADE_CLEAR) -> int:
    """Which of a gap-only captcha's heatmap peaks (their ``ranks``, best first, and their
    :func:`gap_looks`) is the gap: the best rank plus the outline and fill weighed by ``weights``,
    among the first peak and those ranked within ``doubt`` of it whose weighed looks beat the
    first's by ``margin``. A decoy the network ranked first, but not by far, loses where it is
    drawn clearly paler than the gap. A first peak clearly shaded (darker or lighter than its
    surroundings by ``shade_clear``) is not given up for a peak clearly shaded the other way: a
    vendor draws its gap and its decoys alike, dark or light, so a flat bright patch beside a
    dark hollow is neither."""
    ranks = np.asarray(ranks, np.float64)
    looks = np.asarray(looks, np.float64)
    strengths = looks[:, :2] @ np.asarray(weights, np.float64)
    shade = looks[:, 2]
    total = ranks + strengths
    opposite = (shade * shade[0] < 0) & (np.abs(shade) > shade_clear) & (abs(shade[0]) > shade_clear)
    total[1:][(strengths[1:] - strengths[0] < margin) | (ranks[1:] < ranks[0] - doubt) | opposite[1:]] = -np.inf
    return int(np.argmax(total))


def pick_gap(image: np.ndarray, points: np.ndarray, ranks: np.ndarray) -> int:
    """:func:`choose_gap` with the looks measured only where the heatmap is in doubt (another
    peak ranked within ``GAP_RANK_DOUBT`` of the first); ``image`` as loaded (grey, RGB or RGBA)."""
    ranks = np.asarray(ranks, np.float64)
    near = np.flatnonzero(ranks >= ranks[0] - GAP_RANK_DOUBT)
    if len(near) < 2:
        return 0
    return int(near[choose_gap(ranks[near], gap_looks(to_rgb(image), np.asarray(points)[near]))])


def gap_looks(image_rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
    """How strongly a gap is drawn around each point, [n, 3], from the closed outline traced
    there (:func:`trace_outline`): the mean gradient across the outline over the image's
    90th-percentile gradient (capped at ``OUTLINE_STRENGTH_CAP``), and the fill's strength and
    shade (:func:`_fill_look`). A gap is drawn as a dark, light or rimmed translucent hollow; a
    decoy is usually drawn paler: a weaker outline over a fainter fill."""
    gray = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY)
    scale = max(float(np.percentile(edges(gray)[::2, ::2], 90)), 1e-3)  # every 4th pixel: 4x faster, within 10 %
    spread = max(float(gray.std()), 1.0)
    looks = []
    for x, y in points:
        outline, across = trace_outline(gray, (float(x), float(y)))
        looks.append((min(float(across.mean()) / scale, OUTLINE_STRENGTH_CAP), *_fill_look(gray, outline, spread)))
    return np.array(looks, np.float64).reshape(-1, 3)


def _fill_look(gray: np.ndarray, outline: np.ndarray, spread: float) -> tuple[float, float]:
    """The inside of a closed outline against a ring just outside it: its strength (how much
    flatter, as the log ratio of standard deviations +2 grey levels each, plus how much darker or
    lighter over the image's ``spread``) and its shade (the signed difference of means over
    ``spread``: < 0 darker); (0, 0) where either is too small to measure."""
    inside, x0, y0 = _outline_mask(outline, gray.shape, margin=FILL_RING[1] + 1)
    crop = gray[y0:y0 + inside.shape[0], x0:x0 + inside.shape[1]].astype(np.float32)
    core = cv2.erode(inside, _K3, iterations=FILL_CORE) > 0
    ring = (cv2.dilate(inside, _K3, iterations=FILL_RING[1]) > 0) & ~(cv2.dilate(inside, _K3, iterations=FILL_RING[0]) > 0)
    if core.sum() < 5 or ring.sum() < 5:
        return 0.0, 0.0
    a, b = crop[core], crop[ring]
    shade = (float(a.mean()) - float(b.mean())) / spread
    return float(np.log((b.std() + 2) / (a.std() + 2))) + abs(shade), shade


def other_hollow(image_rgb: np.ndarray, slider: tuple[float, float], gap: tuple[float, float],
                 prior: np.ndarray, min_prior: float = HOLLOW_MIN_PRIOR) -> tuple[float, float] | None:
    """Where the drawn slider's silhouette fits best along its row to its right, when that is
    another hollow than ``gap`` (more than half the piece away) and the gap heatmap ``prior``
    reaches ``min_prior`` there; else None. A decoy the network took shows a different
    shape or a turned copy of it; the real gap takes the silhouette upright, or turned the way
    the piece search turns it. Nothing is searched where the heatmap has no such place, and
    only the columns from ``gap`` to the places it sees are (the answer is one of them)."""
    height, width = prior.shape
    piece = cut_drawn_slider(image_rgb, slider)
    h, w = piece.mask.shape
    band = int(round(ROW_BAND * h)) + ROW_SLACK
    y0, y1, x0 = max(piece.y0 - band, 0), min(piece.y0 + h + band, height), piece.x0 + w
    if y1 - y0 < h or width - x0 < w:
        return None
    away = 0.5 * max(h, w)
    ys, xs = np.ogrid[y0:y1, x0:width]
    seen = prior[y0:y1, x0:] >= min_prior
    if not (seen & (np.hypot(xs - gap[0], ys - gap[1]) > away)).any():
        return None
    cols = x0 + np.flatnonzero(seen.any(axis=0))
    lo = max(min(int(cols.min()), int(gap[0])) - w // 2 - PAD, x0)
    hi = min(max(int(cols.max()), int(gap[0])) + w // 2 + PAD + 1, width)
    hi = min(max(hi, lo + w), width)  # at least the piece's width (x0 + w <= width, checked above)
    lo = max(min(lo, hi - w), x0)
    match = search_piece(image_rgb[y0:y1, lo:hi], piece).match(np.ascontiguousarray(prior[y0:y1, lo:hi]))
    found = (match.center[0] + lo, match.center[1] + y0)
    if np.hypot(found[0] - gap[0], found[1] - gap[1]) <= away or value_at(prior, found) < min_prior:
        return None
    return found


def value_at(image: np.ndarray, point: tuple[float, float]) -> float:
    """The pixel of ``image`` under a point (clamped to the image)."""
    y = min(max(int(point[1]), 0), image.shape[0] - 1)
    x = min(max(int(point[0]), 0), image.shape[1] - 1)
    return float(image[y, x])
