"""Full-resolution piece matching (``inference/matching.py``): every piece form a site serves
finds the gap, decoys do not fool it, unreadable pieces are refused, and the solver's result
carries the matched boxes."""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np
import pytest
import torch
from oracle import OracleBackend

from slidercaptcha.inference import ImageError, SliderSolver
from slidercaptcha.inference.matching import (
    ANGLE_STEP,
    PAD,
    ROW_SLACK,
    align_drawn_slider,
    cut_drawn_slider,
    edges,
    locate_piece,
    masked_ncc,
    other_hollow,
    outline_score,
    read_piece,
    search_piece,
    window_sums,
)
from slidercaptcha.inference.samples import generated_captchas

CAPTCHA_SEED = 21


@cache
def separate_captchas() -> tuple:
    """Ten generated separate-piece captchas whose gap is not rotated (a rotated gap cannot be
    matched by translating the upright piece, which is no question of the piece's form)."""
    caps = [c for c in generated_captchas(20, seed=CAPTCHA_SEED, mode="separate") if c.record["gap_angle"] == 0]
    assert len(caps) >= 10
    return tuple(caps[:10])


def jpeg(rgb: np.ndarray, quality: int = 85) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1])


def flatten(rgba: np.ndarray, value: int) -> np.ndarray:
    """RGBA composited over a plain grey ``value``, alpha dropped."""
    a = rgba[:, :, 3:].astype(np.float32) / 255
    return np.round(rgba[:, :, :3] * a + np.float32(value) * (1 - a)).astype(np.uint8)


def strip_top(cap) -> int:
    """Row of the piece image's top in a strip, so the piece sits on the gap's row."""
    return int(round(cap.record["gap_y"] - cap.piece.shape[0] / 2))


def as_strip(cap) -> np.ndarray:
    """The piece pasted into a transparent image as tall as the background, on the gap's row."""
    height, top, rgba = cap.image.shape[0], strip_top(cap), cap.piece
    out = np.zeros((height, rgba.shape[1], 4), np.uint8)
    lo, hi = max(top, 0), min(top + rgba.shape[0], height)  # the crop's transparent margin may stick out
    out[lo:hi] = rgba[lo - top:hi - top]
    return out


def with_rim(rgba: np.ndarray, width: int = 2, color=(255, 255, 255)) -> np.ndarray:
    """An opaque outline ``width`` px wide drawn around (outside) the silhouette."""
    solid = (rgba[:, :, 3] > 127).astype(np.uint8)
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
    ring = (cv2.dilate(solid, disk) > 0) & (solid == 0)
    out = rgba.copy()
    out[ring] = (*color, 255)
    return out


def near(center, x: float, y: float, tol: float = 2.0) -> bool:
    return bool(np.hypot(center[0] - x, center[1] - y) <= tol)


# ----------------------------------------------------------------------------- piece forms
PIECE_FORMS = {
    "rgba-crop": lambda cap: cap.piece,
    "jpeg-white": lambda cap: jpeg(flatten(cap.piece, 255)),
    "jpeg-near-white": lambda cap: jpeg(flatten(cap.piece, 244)),
    "jpeg-black": lambda cap: jpeg(flatten(cap.piece, 0)),
    "rgba-strip": as_strip,
    "jpeg-strip-black": lambda cap: jpeg(flatten(as_strip(cap), 0)),
    "rim-2px-white": lambda cap: with_rim(cap.piece),
}
# Gaps within 2 px of 10 (seed 21, unrotated gaps, the classic style), measured since decoys
# with no piece in view are drawn faded (``data.generator.decoy_fade``; the extra draw changed
# which captchas seed 21 draws): 8/10 for the RGBA strip, 7/10 for every other form. The misses
# are inner-shadow (bevel) jigsaws, which pull the outline match 2-5 px up-left, one triangle
# that a rotated decoy wins, and for the white rim one more piece lost to a decoy. The matcher
# here runs without the network's prior, which the solver adds. Earlier draws of seed 21
# measured 7-10/10 per form; the floors follow the captchas, not the matcher.
FLOORS = {"rgba-crop": 7, "jpeg-white": 7, "jpeg-near-white": 7, "jpeg-black": 7, "rgba-strip": 8,
          "jpeg-strip-black": 7, "rim-2px-white": 7}


@pytest.mark.parametrize("form", list(PIECE_FORMS))
def test_every_piece_form_locates_the_gap(form):
    found = []
    for cap in separate_captchas():
        match = locate_piece(cap.image, read_piece(PIECE_FORMS[form](cap)))
        found.append(near(match.center, cap.record["gap_x"], cap.record["gap_y"]))
        assert 0.0 <= match.score <= 1.0
    assert sum(found) >= FLOORS[form], f"{form}: {sum(found)}/{len(found)} gaps within 2 px ({found})"


@pytest.mark.parametrize("form", ["rgba-strip", "jpeg-strip-black"])
def test_strip_fixes_the_row(form):
    """A strip's piece row is read from the strip, and the match stays on that row. A piece
    nearly as dark as a black strip (mean under 40) cannot be told from it by colour: that limit
    is the black-background count of the test above, not a question of rows."""
    for cap in separate_captchas():
        if form == "jpeg-strip-black" and cap.piece[:, :, :3][cap.piece[:, :, 3] > 127].mean() < 40:
            continue
        strip = PIECE_FORMS[form](cap)
        assert strip.shape[0] == cap.image.shape[0]
        tight = read_piece(cap.piece)
        piece = read_piece(strip)
        expected_y0 = strip_top(cap) + tight.y0
        # JPEG blurs the silhouette's edge by a pixel at most (measured: 0 or -1 px).
        read_error = 0 if form == "rgba-strip" else 1
        assert abs(piece.y0 - expected_y0) <= read_error, (piece.y0, expected_y0)
        assert piece.image_height == cap.image.shape[0]
        match = locate_piece(cap.image, piece)
        assert abs(match.center[1] - piece.center[1]) <= ROW_SLACK + 0.5  # the row comes from the strip
        assert abs(match.center[1] - cap.record["gap_y"]) <= ROW_SLACK + 0.5 + read_error  # ... the gap's


def test_strip_row_overrides_a_better_fit_elsewhere():
    """The row constraint is real: a strip placed 30 px off the gap's row is matched on its own
    row (and so misses the gap), where the same piece as a tight crop finds the gap."""
    cap = separate_captchas()[0]
    r = cap.record
    shift = 30 if r["gap_y"] < cap.image.shape[0] / 2 else -30
    strip = np.roll(as_strip(cap), shift, axis=0)
    piece = read_piece(strip)
    match = locate_piece(cap.image, piece)
    assert abs(match.center[1] - piece.center[1]) <= ROW_SLACK + 0.5  # sub-pixel refinement adds ≤ 0.5
    assert abs(match.center[1] - r["gap_y"]) >= 30 - ROW_SLACK - 0.5 - 1
    assert near(locate_piece(cap.image, read_piece(cap.piece)).center, r["gap_x"], r["gap_y"])


def test_plain_background_piece_silhouette():
    """An RGB piece on a plain background: the shape is what differs from the border colour."""
    img = np.full((40, 50, 3), 250, np.uint8)
    img[10:30, 12:40] = (30, 90, 160)
    img[18:22, 20:24] = 250  # a hole of the background colour inside the piece is filled
    piece = read_piece(img)
    assert (piece.x0, piece.y0, piece.mask.shape) == (12, 10, (20, 28))
    assert piece.mask.all()


# ----------------------------------------------------------------------------- decoys
SHAPE_SIDE = 40


def jigsaw_mask(side: int = SHAPE_SIDE) -> np.ndarray:
    """An asymmetric jigsaw-like shape: a square body, a knob on the right (above the middle),
    a round notch in the top (left of the middle) and a cut-off bottom-left corner."""
    body = int(side * 0.78)
    mask = np.zeros((side, side), np.uint8)
    cv2.fillPoly(mask, [np.array([[0, 0], [body, 0], [body, body], [9, body], [0, body - 9]], np.int32)], 1)
    cv2.circle(mask, (body, int(body * 0.38)), side - body, 1, -1)
    cv2.circle(mask, (int(body * 0.32), 0), 6, 0, -1)
    ys, xs = np.nonzero(mask)
    return mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1].astype(bool)


def scaled(mask: np.ndarray, factor: float) -> np.ndarray:
    h, w = mask.shape
    size = (int(round(w * factor)), int(round(h * factor)))
    return cv2.resize(mask.astype(np.uint8) * 255, size, interpolation=cv2.INTER_LINEAR) > 127


def textured_background(rng: np.random.Generator, height: int = 170, width: int = 420) -> np.ndarray:
    """Smooth colour blobs plus fine grain (so the texture cue has something to correlate)."""
    low = rng.random((height // 20 + 2, width // 20 + 2, 3)).astype(np.float32)
    img = cv2.resize(low, (width, height), interpolation=cv2.INTER_CUBIC) * 150 + 50
    img += cv2.GaussianBlur(rng.normal(0, 30, (height, width, 3)).astype(np.float32), (0, 0), 1.2)
    return np.clip(img, 0, 255).astype(np.uint8)


def stamp(img: np.ndarray, mask: np.ndarray, x: int, y: int) -> None:
    """A gap: the inside darkened by 40 %, the outline drawn light."""
    h, w = mask.shape
    roi = img[y:y + h, x:x + w]
    roi[mask] = (roi[mask] * 0.6).astype(np.uint8)
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(roi, contours, -1, (235, 235, 235), 1)


def decoy_layout(seed: int):
    """Background with the true gap and four decoys (the shape rotated 90° and 180°, scaled
    0.8 and 1.25), at random non-overlapping places. Returns the image, the piece (the clean
    background inside the true shape, RGBA), the true centre, the decoys' (centre, mask, box)
    and the clean background."""
    rng = np.random.default_rng(seed)
    clean = textured_background(rng)
    height, width = clean.shape[:2]
    true = jigsaw_mask()
    masks = [true, np.rot90(true), np.rot90(true, 2), scaled(true, 0.8), scaled(true, 1.25)]
    boxes: list[tuple[int, int, int, int]] = []
    for mask in masks:
        h, w = mask.shape
        for _ in range(1000):
            x, y = int(rng.integers(2, width - w - 2)), int(rng.integers(2, height - h - 2))
            if all(x + w + 6 < bx0 or bx1 + 6 < x or y + h + 6 < by0 or by1 + 6 < y for bx0, by0, bx1, by1 in boxes):
                boxes.append((x, y, x + w, y + h))
                break
        else:
            raise AssertionError("no room for the layout")
    image = clean.copy()
    for mask, (x, y, _, _) in zip(masks, boxes, strict=True):
        stamp(image, mask, x, y)
    x0, y0, x1, y1 = boxes[0]
    piece = np.dstack([clean[y0:y1, x0:x1], true.astype(np.uint8) * 255])
    centers = [((bx0 + bx1) / 2, (by0 + by1) / 2) for bx0, by0, bx1, by1 in boxes]
    return image, piece, centers[0], list(zip(centers[1:], masks[1:], boxes[1:], strict=True)), clean


def turned_rgba(rgba: np.ndarray, angle: float) -> np.ndarray:
    """An RGBA image turned by ``angle`` degrees about its centre, on a canvas large enough."""
    h, w = rgba.shape[:2]
    side = int(np.ceil(np.hypot(h, w))) + 2
    turn = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
    turn[:, 2] += ((side - w) / 2, (side - h) / 2)
    return cv2.warpAffine(rgba, turn, (side, side), flags=cv2.INTER_LINEAR)


def rotated_gap_layout(seed: int, angle: float):
    """A textured background whose gap is the piece turned by ``angle`` (its own pixels
    darkened, its outline drawn light), as captchas that rotate the gap against the piece draw
    it. Returns the image, the upright RGBA piece and the gap's centre."""
    rng = np.random.default_rng(seed)
    image = textured_background(rng)
    mask = jigsaw_mask()
    h, w = mask.shape
    px, py = int(rng.integers(10, 120)), int(rng.integers(10, image.shape[0] - h - 10))
    piece = np.dstack([image[py:py + h, px:px + w], mask.astype(np.uint8) * 255])
    turned = turned_rgba(piece, angle)
    side = turned.shape[0]
    x, y = int(rng.integers(200, image.shape[1] - side - 2)), int(rng.integers(2, image.shape[0] - side - 2))
    inside = turned[:, :, 3] > 127
    roi = image[y:y + side, x:x + side]
    roi[inside] = turned[:, :, :3][inside]
    stamp(image, inside, x, y)
    return image, piece, (x + side / 2, y + side / 2)


@pytest.mark.parametrize("angle", [-25.0, -12.0, 17.0, 28.0])
def test_gap_turned_against_its_piece_is_found_with_its_angle(angle):
    """The upright piece does not fit a turned gap well enough to be decisive, so the piece is
    tried turned too (``ROTATIONS``, refined to ``ANGLE_STEP``): the gap is found to a pixel and
    the match says by how much it is turned (to a step: neighbouring angles score within noise)."""
    for seed in range(3):
        image, piece, center = rotated_gap_layout(seed, angle)
        match = locate_piece(image, read_piece(piece))
        assert near(match.center, *center, tol=1.5), (seed, match, center)
        assert abs(match.angle - angle) <= ANGLE_STEP, (seed, match.angle)


@pytest.mark.parametrize("angle", [-10.0, 10.0, 20.0])
def test_turned_gap_on_the_image_edge_is_refined_inside_the_image(angle):
    """A large piece's turned gap on the image's bottom edge: the neighbouring angle's template
    is taller than the one the pose was found with, and its refinement window must still hold
    it (it ran past the image's edge and raised OpenCV's size assertion on 10 of these 12)."""
    for seed in range(4):
        rng = np.random.default_rng(seed)
        image = textured_background(rng, 260, 420)
        mask = jigsaw_mask(90)
        h, w = mask.shape
        piece = np.dstack([image[5:5 + h, 10:10 + w], mask.astype(np.uint8) * 255])
        turned = turned_rgba(piece, angle)
        inside = turned[:, :, 3] > 127
        ys = np.nonzero(inside)[0]
        side, x, y = turned.shape[0], 250, 120
        roi = image[y:y + side, x:x + side]
        roi[inside] = turned[:, :, :3][inside]
        stamp(image, inside, x, y)
        band = np.ascontiguousarray(image[y + ys.min() - 14:y + ys.max() + 1])  # the gap's bottom is the image's
        match = locate_piece(band, read_piece(piece))
        assert abs(match.center[0] - (x + side / 2)) < 2, (seed, match)


def test_piece_nearly_as_tall_as_the_image_is_searched_at_full_resolution():
    """The coarse search shrinks the image but not the template's padding, so a piece nearly as
    tall as a tall image fits only at full resolution (it raised OpenCV's size assertion)."""
    image = textured_background(np.random.default_rng(0), 400, 600)
    piece = np.dstack([image[2:398, 300:400], np.full((396, 100), 255, np.uint8)])
    piece[:, :, 3][:, :3] = 0  # some transparency, so the alpha is the silhouette
    match = locate_piece(image, read_piece(piece))
    assert near(match.center, 351.5, 200.0, tol=1.5), match


def test_upright_gap_is_not_taken_for_a_turned_one():
    """Where the upright fit is in doubt, the turned poses compete with it and must not win
    against an upright gap: the decoy layouts (with their 90° and 180° decoys) stay upright."""
    found = 0
    for seed in DECOY_SEEDS:
        image, piece, center, _, _ = decoy_layout(seed)
        match = locate_piece(image, read_piece(piece))
        if near(match.center, *center):
            found += 1
            assert match.angle == 0.0, (seed, match)
    assert found >= 9  # the layouts' gaps are found (the decoy test above), so the check ran


def blob(shape: tuple[int, int], center: tuple[float, float], sigma: float = 10.0) -> np.ndarray:
    yy, xx = np.mgrid[:shape[0], :shape[1]].astype(np.float32)
    return np.exp(-((xx - center[0]) ** 2 + (yy - center[1]) ** 2) / (2 * sigma ** 2))


DECOY_SEEDS = range(10)


def test_piece_finds_the_true_gap_among_rotated_and_scaled_decoys():
    found = 0
    for seed in DECOY_SEEDS:
        image, piece, center, decoys, _ = decoy_layout(seed)
        match = locate_piece(image, read_piece(piece))
        found += near(match.center, *center)
    # Measured 10/10.
    assert found >= 9, f"{found}/{len(DECOY_SEEDS)} true gaps found"


def test_decoys_are_real_gaps_for_their_own_shape():
    """The decoys are findable: a piece cut in the 180°-rotated decoy's shape (from the clean
    background there) is located at that decoy, not at the true gap."""
    found = 0
    for seed in DECOY_SEEDS:
        image, _, center, decoys, clean = decoy_layout(seed)
        (dx, dy), mask, (x0, y0, x1, y1) = decoys[1]
        piece = np.dstack([clean[y0:y1, x0:x1], mask.astype(np.uint8) * 255])
        match = locate_piece(image, read_piece(piece))
        found += near(match.center, dx, dy)
    # Measured 10/10.
    assert found >= 9, f"{found}/{len(DECOY_SEEDS)} decoys found with their own shape"


def held_against(prior_for) -> tuple[int, int]:
    """(matches still at the true gap, tries) with ``prior_for(image shape, true centre, decoy centre)``
    as the heatmap, for every decoy of every layout whose true gap is found without a prior."""
    held = total = 0
    for seed in DECOY_SEEDS:
        image, piece, center, decoys, _ = decoy_layout(seed)
        piece_obj = read_piece(piece)
        if not near(locate_piece(image, piece_obj).center, *center):
            continue  # counted by the test above
        for decoy_center, _, _ in decoys:
            prior = prior_for(image.shape[:2], center, decoy_center)
            assert 0.0 <= prior.min() and prior.max() <= 1.0
            total += 1
            held += near(locate_piece(image, piece_obj, prior).center, *center)
    return held, total


def test_shape_usually_beats_a_prior_that_is_sure_of_a_decoy():
    """A heatmap that peaks (1.0) on a decoy and is ~0 at the true gap: the prior is a cue, not
    a tie-breaker only (PRIOR_WEIGHT was chosen on real captchas, where a weaker prior solved
    fewer: npc tricky 98 % at 0.4, 96 % at 0.2 and 0.3), so a network sure of a decoy can win
    where the shape fits it almost as well. Most matches must still hold."""
    held, total = held_against(lambda shape, center, decoy: blob(shape, decoy))
    # Measured 30/40 with PRIOR_WEIGHT 0.4.
    assert total >= 36 and held >= 0.7 * total, f"{held}/{total} matches held against a decoy prior"


def test_prior_stronger_on_a_decoy_than_on_the_gap_does_not_win():
    """What a network that ranks a decoy first gives: 0.9 on the decoy, 0.6 on the true gap."""
    held, total = held_against(lambda shape, center, decoy: np.maximum(0.9 * blob(shape, decoy),
                                                                         0.6 * blob(shape, center)))
    # Measured 40/40.
    assert total >= 36 and held >= total - 2, f"{held}/{total} matches held against a decoy prior"


def identical_gaps() -> tuple[np.ndarray, np.ndarray, list[tuple[float, float]]]:
    """An image with two identical gaps (same shape, same texture), the RGBA piece that fits
    both, and the two gap centres: the shape alone cannot choose."""
    rng = np.random.default_rng(5)
    clean = textured_background(rng)
    mask = jigsaw_mask()
    h, w = mask.shape
    tile = clean[20:20 + h, 30:30 + w].copy()
    image = clean.copy()
    spots = [(60, 40), (300, 90)]
    for x, y in spots:
        image[y:y + h, x:x + w] = tile
        stamp(image, mask, x, y)
    return image, np.dstack([tile, mask.astype(np.uint8) * 255]), [(x + w / 2, y + h / 2) for x, y in spots]


def test_prior_breaks_a_tie_between_identical_gaps():
    """Two identical gaps: the prior decides, so it is used at all."""
    image, piece, centers = identical_gaps()
    for center in centers:
        assert near(locate_piece(image, read_piece(piece), blob(image.shape[:2], center)).center, *center)


@pytest.mark.parametrize("side", ["top", "bottom", "left", "right"])
def test_gap_touching_the_border_is_found_where_it_is(side):
    """A gap drawn flush with the image's border (npc tricky has them) is matched in place, as a
    tight crop and as a strip: the template's margin hangs over the border instead of pushing
    the match inwards (it was 3 px off, and on npc lost a gap to a blank spot)."""
    rng = np.random.default_rng(11)
    clean = textured_background(rng)
    height, width = clean.shape[:2]
    mask = jigsaw_mask()
    h, w = mask.shape
    x, y = {"top": (150, 0), "bottom": (150, height - h), "left": (0, 60), "right": (width - w, 60)}[side]
    image = clean.copy()
    stamp(image, mask, x, y)
    rgba = np.dstack([clean[y:y + h, x:x + w], mask.astype(np.uint8) * 255])
    strip = np.zeros((height, w, 4), np.uint8)
    strip[y:y + h] = rgba
    for piece in (rgba, strip):
        match = locate_piece(image, read_piece(piece))
        assert near(match.center, x + w / 2, y + h / 2, tol=1.0), (side, match.center, (x + w / 2, y + h / 2))


# ----------------------------------------------------------------------------- refusals
def test_masked_ncc_is_opencvs_masked_ccoeff_normed():
    """The texture cue's fast masked correlation gives OpenCV's masked TM_CCOEFF_NORMED scores,
    on a textured image with a flat patch (where both have no evidence) and a jigsaw-like mask."""
    rng = np.random.default_rng(4)
    image = cv2.GaussianBlur(rng.random((90, 160), np.float32) * 255, (5, 5), 0)
    image[10:60, 100:150] = 77.0  # flat: windows inside it have no texture
    template = image[30:61, 20:51].copy()
    mask = np.zeros((31, 31), np.float32)
    cv2.circle(mask, (15, 15), 12, 1.0, -1)
    mask[2:8, 12:19] = 1.0
    ours = masked_ncc(image, template, mask)
    theirs = cv2.matchTemplate(image, template, cv2.TM_CCOEFF_NORMED, mask=mask)
    assert ours.shape == theirs.shape
    textured = np.isfinite(theirs) & (ours > -1.0)
    assert textured.mean() > 0.8
    np.testing.assert_allclose(ours[textured], theirs[textured], atol=1e-4)
    assert ours[15, 105] == -1.0  # a window inside the flat patch
    assert np.unravel_index(int(np.argmax(ours)), ours.shape) == (30, 20)


def test_fully_transparent_piece_is_refused():
    with pytest.raises(ImageError, match="shape.*transparent"):
        read_piece(np.zeros((40, 40, 4), np.uint8))


def test_one_colour_piece_is_refused():
    with pytest.raises(ImageError, match="shape.*plain colour"):
        read_piece(np.full((40, 40, 3), 200, np.uint8))
    with pytest.raises(ImageError, match="shape"):
        read_piece(np.full((40, 40), 17, np.uint8))


def test_piece_larger_than_the_background_is_refused():
    cap = separate_captchas()[0]
    height, width = cap.image.shape[:2]
    big = np.zeros((height + 20, 60, 4), np.uint8)
    big[5:height + 15, 10:50, 3] = 255
    big[5:height + 15, 10:50, :3] = 128
    with pytest.raises(ImageError, match="larger than the image"):
        locate_piece(cap.image, read_piece(big))
    wide = np.zeros((40, width + 10, 4), np.uint8)
    wide[5:35, 2:width + 8] = 200
    with pytest.raises(ImageError, match="more than half the background"):  # the solver refuses it first
        SliderSolver(OracleBackend()).solve(cap.image, piece=wide)


def test_tiny_image_and_tiny_piece_are_refused():
    solver = SliderSolver(OracleBackend())
    with pytest.raises(ImageError, match="too small"):
        solver.solve(np.full((10, 40, 3), 128, np.uint8))
    piece = np.zeros((12, 12, 4), np.uint8)
    piece[2:10, 2:10] = 200
    with pytest.raises(ImageError, match="too small"):
        solver.solve(separate_captchas()[0].image, piece=piece)


# ----------------------------------------------------------------------------- solver result
@pytest.mark.parametrize("form", ["rgba-crop", "rgba-strip"])
def test_solver_result_has_the_matched_boxes(form):
    from slidercaptcha.preprocess import preprocess

    for cap in separate_captchas()[:4]:
        r = cap.record
        _, box = preprocess(cap.image)
        solver = SliderSolver(OracleBackend(tuple(box.to_input(np.array([r["gap_x"], r["gap_y"]])))))
        piece_image = PIECE_FORMS[form](cap)
        res = solver.solve(cap.image, piece=piece_image)
        piece = read_piece(piece_image)
        assert len(res.gap_box) == 4 and all(isinstance(v, float) for v in res.gap_box)
        x0, y0, x1, y1 = res.gap_box
        assert ((x0 + x1) / 2, (y0 + y1) / 2) == pytest.approx(res.gap, abs=1e-6)
        assert (x1 - x0, y1 - y0) == pytest.approx((piece.mask.shape[1], piece.mask.shape[0]))
        sx0, sy0, sx1, sy1 = res.slider_box
        assert (sx1 - sx0, sy1 - sy0) == pytest.approx((piece.mask.shape[1], piece.mask.shape[0]))
        assert sx0 == pytest.approx(piece.x0)  # the piece image sits at x = 0
        assert ((sx0 + sx1) / 2, (sy0 + sy1) / 2) == pytest.approx(res.slider)
        assert res.offset == pytest.approx(res.gap_box[0] - res.slider_box[0], abs=1e-9)
        assert res.distance == pytest.approx(res.gap[0] - res.slider[0])
        assert 0.0 <= res.match_score <= 1.0
        if form == "rgba-strip":
            assert res.slider[1] == pytest.approx(piece.center[1])  # a strip fixes the slider's row
        else:
            assert res.slider[1] == pytest.approx(res.gap[1])  # a tight crop sits on the gap's row


def canvas_point(image: np.ndarray, point: tuple[float, float]) -> tuple[float, float]:
    from slidercaptcha.preprocess import preprocess

    return tuple(preprocess(image)[1].to_input(np.array(point)))


def test_decisive_fit_skips_the_network():
    """Where the piece's shape alone beats every other place by ``DECISIVE_MARGIN``, the solver
    answers without a model call (the prior-free search's answer, no network fields);
    ``piece_first=False`` runs the model."""
    caps = [c for c in separate_captchas() if search_piece(c.image, read_piece(c.piece)).decisive]
    assert len(caps) >= 5, f"{len(caps)} of 10 captchas decisive"  # measured 9 of 10
    for cap in caps:
        oracle = OracleBackend(canvas_point(cap.image, (cap.record["gap_x"], cap.record["gap_y"])))
        res = SliderSolver(oracle).solve(cap.image, piece=cap.piece)
        assert oracle.batches == []
        assert res.gap == pytest.approx(locate_piece(cap.image, read_piece(cap.piece)).center, abs=1e-4)
        assert res.gap_confidence is None and res.slider_confidence is None and res.gap_angle is None
        assert res.timing["model"] == 0.0 and res.offset is not None
        always = SliderSolver(oracle, piece_first=False).solve(cap.image, piece=cap.piece)
        assert oracle.batches == [1] and always.gap_confidence is not None


def test_fit_in_doubt_asks_the_network():
    """Two identical gaps: the fit is not decisive, so the network runs and its heatmap picks."""
    image, piece, centers = identical_gaps()
    assert not search_piece(image, read_piece(piece)).decisive
    for center in centers:
        oracle = OracleBackend(canvas_point(image, center))
        res = SliderSolver(oracle).solve(image, piece=piece)
        assert oracle.batches == [1] and near(res.gap, *center) and res.gap_confidence is not None


def test_batch_runs_the_network_only_for_the_images_that_need_it():
    """A decisive piece, a gap-only image and a piece in doubt: one model call, on two images;
    every answer as when solved alone."""
    decisive = next(c for c in separate_captchas() if search_piece(c.image, read_piece(c.piece)).decisive)
    image, piece, centers = identical_gaps()
    oracle = OracleBackend(canvas_point(image, centers[1]))
    images, pieces = [decisive.image, decisive.image, image], [decisive.piece, None, piece]
    batch = SliderSolver(oracle).solve_batch(images, pieces)
    assert oracle.batches == [2]
    for res, im, pc in zip(batch, images, pieces, strict=True):
        alone = SliderSolver(oracle).solve(im, piece=pc)
        assert res.gap == pytest.approx(alone.gap, abs=1e-4) and res.gap_confidence == alone.gap_confidence


def test_solver_result_without_a_piece_has_no_boxes():
    cap = separate_captchas()[0]
    res = SliderSolver(OracleBackend((200.0, 100.0))).solve(cap.image)
    assert res.gap_box is None and res.slider_box is None and res.offset is None and res.match_score is None
    assert res.slider is None and res.distance is None


# ----------------------------------------------------------------------------- composites
def composite_with_decoy(seed: int):
    """A composite captcha: the piece drawn at the left (its pixels from the true gap, outlined
    light, as sites draw the slider), the true gap and a 180°-rotated decoy on the same row.
    Returns the image, the slider centre, the true gap centre and the decoy centre."""
    rng = np.random.default_rng(seed)
    clean = textured_background(rng)
    image = clean.copy()
    mask = jigsaw_mask()
    h, w = mask.shape
    y = int(rng.integers(20, clean.shape[0] - h - 20))
    gap_x, decoy_x = (int(v) for v in rng.permutation([int(rng.integers(150, 220)), int(rng.integers(300, 350))]))
    piece = clean[y:y + h, gap_x:gap_x + w].copy()
    stamp(image, mask, gap_x, y)
    stamp(image, mask[::-1, ::-1], decoy_x, y)
    slider_x = 12
    roi = image[y:y + h, slider_x:slider_x + w]
    roi[mask] = piece[mask]
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(roi, contours, -1, (245, 245, 245), 1)

    def center(x: int) -> tuple[float, float]:
        return x + w / 2, y + h / 2
    return image, center(slider_x), center(gap_x), center(decoy_x)


def test_drawn_slider_finds_the_gap_when_the_network_took_a_decoy():
    """The network's gap point and heatmap favour the decoy (0.9 against 0.6); matched along its
    row, the drawn slider's outline moves the answer to the real gap. Without the heatmap the
    search stays near the network's point (the local alignment alone)."""
    found = stayed = 0
    for seed in range(10):
        image, slider, gap, decoy = composite_with_decoy(seed)
        prior = np.maximum(0.9 * blob(image.shape[:2], decoy), 0.6 * blob(image.shape[:2], gap))
        new_gap, new_slider, _ = align_drawn_slider(image, decoy, slider, prior)
        found += near(new_gap, *gap, tol=3) and new_slider == slider
        stayed += near(align_drawn_slider(image, decoy, slider)[0], *decoy, tol=8)
    # Measured: 8/10 found (the other two keep the decoy), 10/10 stayed.
    assert found >= 7 and stayed >= 9, f"{found}/10 real gaps found, {stayed}/10 stayed without a prior"


def test_a_slider_on_another_row_moves_the_gap_only_when_trusted():
    """``same_row=False`` (the solver: a slider peak under SAME_ROW_MIN_SLIDER, maybe a decoy
    read as a slider) leaves the gap on its own row; ``same_row=True`` puts both points on the
    mean of their rows."""
    kept = 0
    for seed in range(5):
        image, _, gap, _ = composite_with_decoy(seed)
        false_slider = (30.0, gap[1] + 30.0)  # an object 30 px below the gap's row
        new_gap, new_slider, _ = align_drawn_slider(image, gap, false_slider, same_row=False)
        kept += abs(new_gap[1] - gap[1]) <= 3 and new_gap[1] != new_slider[1]
        trusted_gap, trusted_slider, _ = align_drawn_slider(image, gap, false_slider, same_row=True)
        assert trusted_gap[1] == trusted_slider[1] and abs(trusted_gap[1] - gap[1]) > 10
    assert kept == 5, f"{kept}/5 gaps kept their row"


def test_drawn_slider_silhouette_is_traced():
    """The outline traced around the network's slider point is the drawn piece's: its box within
    2 px of the true one, and its mask covering the true silhouette (IoU)."""
    traced = 0
    for seed in range(10):
        image, slider, _, _ = composite_with_decoy(seed)
        mask = jigsaw_mask()
        h, w = mask.shape
        piece = cut_drawn_slider(image, (slider[0] + 1.5, slider[1] - 1.5))  # the network is a little off
        x0, y0 = slider[0] - w / 2, slider[1] - h / 2
        truth = np.zeros(image.shape[:2], bool)
        truth[round(y0):round(y0) + h, round(x0):round(x0) + w] = mask
        cut = np.zeros(image.shape[:2], bool)
        cut[piece.y0:piece.y0 + piece.mask.shape[0], piece.x0:piece.x0 + piece.mask.shape[1]] = piece.mask
        iou = (truth & cut).sum() / (truth | cut).sum()
        traced += bool(np.abs(np.subtract(piece.box, (x0, y0, x0 + w, y0 + h))).max() <= 2 and iou >= 0.85)
    # Measured: 10/10.
    assert traced >= 9, f"{traced}/10 silhouettes traced"


def composite_with_other_decoy(seed: int):
    """:func:`composite_with_decoy` with a decoy of another shape (a rounded square as large as
    the piece), where the network's point and the heatmap favour the decoy."""
    rng = np.random.default_rng(100 + seed)
    image, slider, gap, decoy = composite_with_decoy(seed)
    clean = textured_background(rng)
    h, w = jigsaw_mask().shape
    x, y = round(decoy[0] - w / 2), round(decoy[1] - h / 2)
    image[y:y + h, x:x + w] = clean[y:y + h, x:x + w]  # the flipped decoy removed
    square = np.zeros((h, w), np.uint8)
    cv2.rectangle(square, (2, 2), (w - 3, h - 3), 1, -1)
    stamp(image, cv2.morphologyEx(square, cv2.MORPH_OPEN, np.ones((9, 9), np.uint8)).astype(bool), x, y)
    return image, slider, gap, decoy


def test_drawn_slider_silhouette_finds_the_hollow_of_its_shape(monkeypatch):
    """Cut out and searched for like a given piece, the drawn slider's silhouette picks the
    hollow of its own shape over the decoy the network took, if the heatmap sees that hollow
    at all; where the heatmap sees nothing else, or the network's gap already fits, nothing
    moves. The row-wide patch match is switched off, so the silhouette does the work."""
    import slidercaptcha.inference.matching as matching

    monkeypatch.setattr(matching, "ROW_MARGIN", np.inf)
    found = kept = unseen = 0
    for seed in range(10):
        image, slider, gap, decoy = composite_with_other_decoy(seed)
        shape = image.shape[:2]
        prior = np.maximum(0.9 * blob(shape, decoy), 0.3 * blob(shape, gap))
        hollow = other_hollow(image, slider, decoy, prior)
        new_gap, new_slider, _ = align_drawn_slider(image, decoy, slider, prior)
        found += hollow is not None and near(hollow, *gap, tol=2) and near(new_gap, *gap, tol=3)
        kept += other_hollow(image, slider, gap, prior) is None
        unseen += other_hollow(image, slider, decoy, 0.9 * blob(shape, decoy)) is None
    # Measured: 10/10 found, 10/10 kept, 10/10 unseen.
    assert found >= 9 and kept >= 9 and unseen == 10, f"found {found}, kept {kept}, unseen {unseen} of 10"


def test_silhouette_search_window_is_never_narrower_than_the_silhouette():
    """Where the heatmap sees a place just right of a wide drawn slider and the network's gap
    lies left of it, the columns to search span less than the silhouette; the window is widened
    to it instead of the search refusing a piece larger than the image (a geetest4-like
    composite of the styles validation set raised this from ``solve``)."""
    image = textured_background(np.random.default_rng(0), height=200, width=400)
    cv2.rectangle(image, (10, 50), (110, 150), (250, 250, 250), 3)
    piece = cut_drawn_slider(image, (60.0, 100.0))
    right = piece.x0 + piece.mask.shape[1]
    prior = np.zeros((200, 400), np.float32)
    prior[95:106, right + 30:right + 41] = 0.5
    # Before the fix this raised ImageError; the picture holds no second hollow, so none is found.
    assert other_hollow(image, (60.0, 100.0), (right - 25.0, 100.0), prior) is None


def test_window_variance_is_exact_on_flat_windows():
    """The drawn-slider match marks edge-free windows as no evidence by their variance, which must
    be 0 on a flat region next to strong edges (OpenCV's own normalisation is not)."""
    from slidercaptcha.inference.matching import _window_variance

    rng = np.random.default_rng(0)
    image = (rng.random((30, 50)) * 300).astype(np.float32)
    image[:, 30:] = 7.0
    var = _window_variance(image, 9)
    ref = np.array([[image[y:y + 9, x:x + 9].astype(np.float64).var() for x in range(42)] for y in range(22)])
    assert var == pytest.approx(ref, abs=1e-6)
    assert np.abs(var[:, 30:]).max() < 1e-6


def test_outline_score_is_zero_where_the_image_is_flat():
    """OpenCV's normalised correlation over an edge-free window divides the FFT's rounding
    residue by a near-zero norm: on a plain image crossed by a few bright lines it returned
    scores up to 1.98 there (seeds 2-4 below; seed 6 gave 1.24 in a nearly flat window). Such
    windows must score 0, and no score may pass 1."""
    mask = jigsaw_mask()
    h, w = mask.shape
    for seed in (2, 3, 4, 6):
        rng = np.random.default_rng(seed)
        image = np.full((135, 345, 3), 40, np.uint8)
        for _ in range(6):
            cv2.line(image, tuple(map(int, rng.integers(0, 345, 2))), tuple(map(int, rng.integers(0, 135, 2))),
                     (250, 250, 250), 3)
        piece = read_piece(np.dstack([textured_background(rng)[20:20 + h, 20:20 + w], mask.astype(np.uint8) * 255]))
        image_edges = edges(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
        score = outline_score(image_edges, piece)
        flat = window_sums(np.square(image_edges), h + 2 * PAD, w + 2 * PAD) == 0
        assert flat.any() and not flat.all()
        assert np.all(score[flat] == 0.0)
        assert 0.3 < score.max() <= 1.0 + 1e-5, (seed, score.max())


def gap_with_paler_decoy(seed: int):
    """A gap drawn as :func:`stamp` draws it and a decoy of the same shape drawn paler (10 %
    darker, no outline), as vendors draw theirs. Returns the image, the gap's and the decoy's
    centres."""
    rng = np.random.default_rng(seed)
    image = textured_background(rng)
    mask = jigsaw_mask()
    h, w = mask.shape
    y = int(rng.integers(20, image.shape[0] - h - 20))
    gap_x, decoy_x = (int(v) for v in rng.permutation([int(rng.integers(60, 160)), int(rng.integers(250, 350))]))
    stamp(image, mask, gap_x, y)
    roi = image[y:y + h, decoy_x:decoy_x + w]
    roi[mask] = (roi[mask] * 0.9).astype(np.uint8)
    return image, (gap_x + w / 2, y + h / 2), (decoy_x + w / 2, y + h / 2)


def test_gap_candidates_are_the_heatmaps_separate_peaks_decoded_gap_first():
    """Two peaks far apart are both candidates, the decoded gap first, each at its own point;
    a second bump within ``CANDIDATE_SPACING`` cells of a peak, or under the minimum score, is not."""
    from slidercaptcha.decode import decode, gap_candidates

    image = textured_background(np.random.default_rng(0))
    for others in (((302.0, 90.0, 0.6),), ((302.0, 90.0, 0.6), (114.0, 90.0, 0.5), (422.0, 150.0, 0.05))):
        oracle = OracleBackend((100.0, 90.0), others)
        batch = SliderSolver(oracle).run([image])
        peaks = gap_candidates(batch.outputs, batch.boxes, batch.mask)[0]
        decoded = decode(batch.outputs, batch.boxes, batch.mask)["gap"][0]
        assert len(peaks.points) == 2, peaks
        assert torch.allclose(peaks.points[0], decoded)
        assert bool((peaks.ranks[:-1] >= peaks.ranks[1:]).all()) and peaks.scores[1] == pytest.approx(0.6, abs=0.01)
        second = canvas_point(image, tuple(peaks.points[1].tolist()))
        assert near(second, 302.0, 90.0, tol=4.0), second


def test_gap_candidates_take_a_plateau_of_equal_maxima_as_one_peak():
    """Two neighbouring cells of equal value (the trained heads saturate into such plateaus)
    are one candidate, the first cell's, as ``decode`` takes it; a peak further away is another."""
    from slidercaptcha.decode import gap_candidates

    heat = torch.zeros(1, 1, 24, 48)
    heat[0, 0, 10, 20:22] = 0.9
    heat[0, 0, 10, 35] = 0.6
    outputs = {"heatmap_gap": heat, "offset_gap": torch.zeros(1, 2, 24, 48)}
    peaks = gap_candidates(outputs, torch.tensor([[1.0, 1.0, 0.0, 0.0]]))[0]
    assert len(peaks.points) == 2, peaks
    assert peaks.scores.tolist() == pytest.approx([0.9, 0.6])


def test_gap_candidates_on_a_flat_map_are_the_best_separate_peaks_in_order():
    """A flat map makes every cell a local maximum; the candidates are still the ``count`` best
    separate peaks, best first, whatever order the flat cells come in."""
    from slidercaptcha.decode import CANDIDATES, gap_candidates

    heat = torch.full((1, 1, 24, 48), 0.2)
    values = (0.5, 0.9, 0.3, 0.7, 0.6, 0.8)  # six peaks 8 cells apart, not in rank order
    for i, v in enumerate(values):
        heat[0, 0, 12, 2 + 8 * i] = v
    outputs = {"heatmap_gap": heat, "offset_gap": torch.zeros(1, 2, 24, 48)}
    peaks = gap_candidates(outputs, torch.tensor([[1.0, 1.0, 0.0, 0.0]]))[0]
    assert peaks.scores.tolist() == pytest.approx(sorted(values, reverse=True)[:CANDIDATES])
    assert [round(float(x)) for x in peaks.points[:, 0]] == [4 * (2 + 8 * values.index(v)) + 2
                                                             for v in sorted(values, reverse=True)[:CANDIDATES]]


def test_choose_gap_takes_a_clearly_stronger_look_of_a_peak_in_doubt_only():
    from slidercaptcha.inference.matching import choose_gap

    rule = {"weights": (0.15, 0.05), "margin": 0.1, "doubt": 0.2, "shade_clear": 1.0}
    assert choose_gap([0.5, 0.4], [[1.0, 0.0, 0], [1.8, 0.0, 0]], **rule) == 1  # 0.67 > 0.65, 0.12 stronger
    assert choose_gap([0.5, 0.4], [[1.0, 1.0, 0], [1.0, 2.0, 0]], **rule) == 0  # 0.05 stronger fill: under the margin
    assert choose_gap([0.5, 0.4], [[1.0, 1.0, 0], [1.0, 4.0, 0]], **rule) == 1  # 0.15 stronger fill: 0.55 > 0.5
    assert choose_gap([0.5, 0.4], [[1.0, 0.0, 0], [1.4, 0.0, 0]], **rule) == 0  # 0.06 stronger: under the margin
    assert choose_gap([0.5, 0.25], [[1.0, 0.0, 0], [3.0, 0.0, 0]], **rule) == 0  # would win on the sum, but ranked 0.25 lower
    assert choose_gap([0.5, 0.25], [[1.0, 0.0, 0], [3.0, 0.0, 0]], **{**rule, "doubt": 1.0}) == 1
    assert choose_gap([0.5, 0.4, 0.45], [[1.0, 0.0, 0], [1.8, 0.0, 0], [1.9, 0.0, 0]], **rule) == 2


def test_choose_gap_keeps_a_clearly_dark_first_peak_against_a_clearly_light_one():
    """The look that would win (0.15 stronger fill) is shaded the other way: a bright patch beside
    a dark hollow. Only where both are clearly shaded (beyond ``shade_clear``) is it passed over."""
    from slidercaptcha.inference.matching import choose_gap

    rule = {"weights": (0.15, 0.05), "margin": 0.1, "doubt": 0.2, "shade_clear": 1.0}
    assert choose_gap([0.5, 0.4], [[1.0, 1.5, -1.5], [1.0, 4.5, 1.5]], **rule) == 0  # dark first, light other
    assert choose_gap([0.5, 0.4], [[1.0, 1.5, 1.5], [1.0, 4.5, -1.5]], **rule) == 0  # light first, dark other
    assert choose_gap([0.5, 0.4], [[1.0, 1.5, -1.5], [1.0, 4.5, -2.5]], **rule) == 1  # both dark: the look decides
    assert choose_gap([0.5, 0.4], [[1.0, 1.5, -0.5], [1.0, 4.5, 1.5]], **rule) == 1  # the first barely shaded
    assert choose_gap([0.5, 0.4], [[1.0, 1.5, -1.5], [1.0, 4.5, 0.5]], **rule) == 1  # the other barely shaded


def test_gap_looks_measure_a_translucent_fill_stronger_than_a_paler_ones():
    """Two fills of the same shape with no drawn outline, as vendors draw gap and decoy: the
    gap keeps 40 % of the texture under a dark tint, the decoy 85 %. The gap's fill (flatter
    and darker than the ring around it) measures clearly stronger."""
    from slidercaptcha.inference.matching import gap_looks

    mask = jigsaw_mask()
    h, w = mask.shape
    stronger = darker = 0
    for seed in range(10):
        image = textured_background(np.random.default_rng(seed)).astype(np.float32)
        for x, keep in ((80, 0.4), (280, 0.85)):
            roi = image[60:60 + h, x:x + w]
            roi[mask] = roi[mask] * keep + (1 - keep) * 20
        looks = gap_looks(image.astype(np.uint8), np.array([(80 + w / 2, 60 + h / 2), (280 + w / 2, 60 + h / 2)]))
        stronger += bool(looks[0, 1] > looks[1, 1] + 1.0)
        darker += bool(looks[0, 2] < looks[1, 2] < 0)
    # Measured: 10/10 (gap fill 3.0-4.0, decoy 0.7-1.9); 10/10 shaded darker, both below 0.
    assert stronger >= 9 and darker >= 9, f"stronger {stronger}, darker {darker} of 10"


def test_gap_only_solve_prefers_the_gap_over_a_paler_decoy_the_network_ranked_first():
    """The stand-in network puts 0.8 on the paler decoy and 0.7 on the gap; the gap's outline is
    far stronger (its strength per :func:`gap_looks`), so the solver answers the gap.
    With ``weigh_gaps=False`` it answers the heatmap's best peak, the decoy."""
    from slidercaptcha.inference.matching import gap_looks

    found = kept = stronger = 0
    for seed in range(10):
        image, gap, decoy = gap_with_paler_decoy(seed)
        outline = gap_looks(image, np.array([gap, decoy]))[:, 0]
        stronger += bool(outline[0] - outline[1] >= 0.7)
        oracle = OracleBackend(canvas_point(image, decoy), ((*canvas_point(image, gap), 0.7),))
        found += near(SliderSolver(oracle).solve(image).gap, *gap, tol=4.0)
        kept += near(SliderSolver(oracle, weigh_gaps=False).solve(image).gap, *decoy, tol=4.0)
    # Measured: 10/10 stronger, 10/10 found, 10/10 kept.
    assert stronger >= 9 and found >= 9 and kept == 10, f"stronger {stronger}, found {found}, kept {kept} of 10"
