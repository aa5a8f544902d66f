"""``SliderSolver``: one call from a captcha image to the sliding distance.

    solver = SliderSolver.load()                  # packaged model; or a .pth / .onnx / directory
    result = solver.solve("captcha.png")          # result.distance, result.gap, result.slider
    result = solver.solve(bg, piece="piece.png")  # separate piece: searched for at full resolution,
                                                  # the network only run where the fit is in doubt

Both backends share the same preprocessing (:func:`slidercaptcha.preprocess.preprocess`) and
decoding (:func:`slidercaptcha.decode.decode`); only the model call differs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from slidercaptcha.decode import SLIDER_THRESHOLD, GapCandidates, decode, gap_candidates
from slidercaptcha.grid import canvas_to_grid
from slidercaptcha.inference.backends import OnnxBackend, TorchBackend, create_backend
from slidercaptcha.inference.images import (
    DEFAULT_LIMITS,
    ImageError,
    ImageInput,
    ImageLimits,
    describe,
    load_image,
)
from slidercaptcha.inference.matching import (
    SAME_ROW_MIN_SLIDER,
    Match,
    PieceSearch,
    align_drawn_slider,
    heatmap_in_image,
    pick_gap,
    read_piece,
    search_piece,
    slider_position,
    value_at,
)
from slidercaptcha.preprocess import preprocess, to_rgb

Box = tuple[float, float, float, float]


@dataclass
class SolveResult:
    """Points are (x, y) in the original image's pixels; ``distance = gap_x - slider_x``.

    ``slider``, ``distance`` and ``offset`` are None for gap-only images (no piece drawn, none given).
    With a separate piece, its shape is known, so the result also has boxes (x0, y0, x1, y1):
    ``gap_box`` where the piece fits, ``slider_box`` where it sits now (piece image at x = 0),
    ``offset = gap_box.x0 - slider_box.x0`` (the left-edge drag distance sites take; equal to
    ``gap_box.x0`` for a tight piece) and ``match_score`` (0..1, how well the outline fits; for
    a composite captcha, how well the drawn slider's edges match the gap's). Gap and piece
    have one shape, so their left edges lie as far apart as their centres: ``offset`` equals
    ``distance``, and a composite captcha (drawn slider, no boxes) has it too.
    ``gap_confidence`` and ``slider_confidence`` are the network's heatmap peaks, and with
    ``gap_angle`` they are None when the network did not run: a separate piece whose fit alone
    was decisive (``SliderSolver(piece_first=True)``, the default; ``timing["model"]`` is 0).
    ``timing`` is in ms per image (a batch's stage times divided by its size): preprocess, model,
    decode (the heatmaps), match (the full-resolution piece search or drawn-slider alignment), total.
    """

    gap: tuple[float, float]
    slider: tuple[float, float] | None
    distance: float | None
    gap_confidence: float | None
    slider_confidence: float | None
    gap_angle: float | None
    gap_box: Box | None = None
    slider_box: Box | None = None
    offset: float | None = None
    match_score: float | None = None
    timing: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class BatchOutput:
    """Everything one model call saw and produced, for decoding and visualisation."""

    images: list[np.ndarray]  # loaded uint8 arrays, RGB order
    inputs: np.ndarray  # float32 [B,4,H,W]
    boxes: torch.Tensor  # [B,6] letterbox parameters
    outputs: dict[str, torch.Tensor]
    timing: dict[str, float]

    @property
    def mask(self) -> torch.Tensor:
        return torch.from_numpy(self.inputs[:, 3:4])


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


@contextmanager
def decoding_mode() -> Iterator[None]:
    """Decode on one torch thread without autograd bookkeeping, then restore the thread count.
    The tensors are tiny, so their cost is per-op overhead, which inference mode trims; and an
    OpenMP team woken by a parallel op keeps spinning after it, taking the cores from the next
    ONNX Runtime call (compare ``benchmark-inference`` batch-1 latency with and without)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            yield
    finally:
        torch.set_num_threads(before)


class SliderSolver:
    """Locate gap and slider with a model backend; see the module docstring."""

    def __init__(self, backend: TorchBackend | OnnxBackend, slider_threshold: float = SLIDER_THRESHOLD,
                 joint: bool = True, limits: ImageLimits = DEFAULT_LIMITS, align: bool = True,
                 piece_first: bool = True, weigh_gaps: bool = True):
        """align: in composite captchas, match the drawn slider against the gap to measure the
        sliding distance at full resolution (:func:`~slidercaptcha.inference.matching.align_drawn_slider`);
        off returns the heatmaps' points as decoded.
        piece_first: with a separate piece, take its fit without running the network when the
        fit is decisive (:attr:`~slidercaptcha.inference.matching.PieceSearch.decisive`); off
        always adds the network's gap heatmap as a prior.
        weigh_gaps: in gap-only captchas, weigh the heatmap's peaks by how strongly an outline
        stands out around each (:func:`~slidercaptcha.inference.matching.pick_gap`); off
        returns the heatmap's best peak as decoded."""
        self.backend = backend
        self.align = align
        self.weigh_gaps = weigh_gaps
        self.piece_first = piece_first
        self.slider_threshold = slider_threshold
        self.joint = joint
        self.limits = limits

    @classmethod
    def load(cls, path: str | Path | None = None, backend: str = "auto", device: str = "cpu",
             threads: int | None = None, variant: str | None = None, **kwargs) -> SliderSolver:
        """path: .pth checkpoint, .safetensors, .onnx, a directory, or None for the packaged model."""
        return cls(create_backend(path, backend, device, threads, variant), **kwargs)

    # ------------------------------------------------------------------------- model call
    def run(self, images: Sequence[ImageInput], color_order: str = "RGB") -> BatchOutput:
        """Load, letterbox and stack the images, then run the model once on the batch."""
        start = time.perf_counter()
        arrays = [load_image(img, color_order, self.limits) for img in images]
        prepared = [preprocess(a, self.backend.input_size) for a in arrays]
        inputs = np.stack([p[0] for p in prepared])
        boxes = torch.from_numpy(np.stack([p[1].as_array() for p in prepared]))
        t_pre = _ms(start)
        start = time.perf_counter()
        outputs = self.backend(inputs)
        return BatchOutput(arrays, inputs, boxes, outputs, {"preprocess": t_pre, "model": _ms(start)})

    # ------------------------------------------------------------------------- decoding
    def _decode(self, batch: BatchOutput) -> list[dict]:
        """Joint-row decoding when a slider is visible; free gap decoding for gap-only images."""
        dec = decode(batch.outputs, batch.boxes, batch.mask, joint=self.joint, slider_threshold=self.slider_threshold)
        angle = dec.get("gap_angle")
        results = []
        for i in range(len(batch.images)):
            has_slider = bool(dec["slider_score"][i] >= self.slider_threshold)
            results.append({
                "gap": tuple(map(float, dec["gap"][i])),
                "slider": tuple(map(float, dec["slider"][i])) if has_slider else None,
                "gap_confidence": float(dec["gap_score"][i]),
                "slider_confidence": float(dec["slider_score"][i]),
                "gap_angle": None if angle is None else float(angle[i]),
            })
        return results

    @staticmethod
    def _prior(batch: BatchOutput, i: int) -> np.ndarray:
        """Image ``i``'s gap heatmap over its own pixels: the matchers' prior."""
        height, width = batch.images[i].shape[:2]
        return heatmap_in_image(batch.outputs["heatmap_gap"][i, 0].numpy(), batch.boxes[i].numpy(), width, height)

    def _search(self, image: np.ndarray, piece: ImageInput, color_order: str) -> PieceSearch:
        """Score where the piece fits over the whole image, before any network call. A shape
        wider than half the background cannot slide into a gap to its right: that input is
        not a piece (often the captcha itself, passed twice), and is refused, not answered."""
        label = describe(piece, "piece")
        found = read_piece(load_image(piece, color_order, self.limits), label)
        width = image.shape[1]
        if 2 * found.mask.shape[1] > width:
            raise ImageError(f"{label}: its shape is {found.mask.shape[1]} px wide, more than half the background's "
                             f"{width} px; pass the piece (a tight crop, a strip or a transparent layer), "
                             "not a whole captcha")
        return search_piece(to_rgb(image), found)

    @staticmethod
    def _piece_fields(search: PieceSearch, match: Match, image_hw: tuple[int, int]) -> dict:
        """The gap where the piece fits; the piece (image at x = 0) fixes the slider."""
        piece = search.piece
        slider = slider_position(piece, image_hw, match.center[1])
        dy = slider[1] - piece.center[1]
        x0, y0, x1, y1 = piece.box
        return {"gap": match.center, "gap_box": match.box, "slider": slider, "slider_box": (x0, y0 + dy, x1, y1 + dy),
                "offset": match.box[0] - x0, "match_score": match.score}

    def _use_piece(self, batch: BatchOutput, i: int, search: PieceSearch, found: dict) -> None:
        """The piece's fit with the gap heatmap as a prior, so a hollow the shape alone leaves
        in doubt is settled by the network (:meth:`~slidercaptcha.inference.matching.PieceSearch.match`)."""
        prior = self._prior(batch, i)
        match = search.match(prior)
        found.update(self._piece_fields(search, match, batch.images[i].shape[:2]),
                     gap_confidence=value_at(prior, match.center))
        if "angle" in batch.outputs:  # the angle map's value at the matched gap's cell
            angle = batch.outputs["angle"][i]  # [2,h,w]: sin, cos
            sx, sy, left, top = batch.boxes[i][:4].tolist()
            col = int(np.clip(round(canvas_to_grid(match.center[0] * sx + left)), 0, angle.shape[2] - 1))
            row = int(np.clip(round(canvas_to_grid(match.center[1] * sy + top)), 0, angle.shape[1] - 1))
            sin, cos = angle[:, row, col].tolist()
            found["gap_angle"] = float(np.degrees(np.arctan2(sin, cos)))

    @staticmethod
    def _weigh_gap(batch: BatchOutput, i: int, peaks: GapCandidates, found: dict) -> None:
        """Gap-only captcha: the heatmap's peaks weighed by how strongly an outline stands out
        around each (:func:`~slidercaptcha.inference.matching.pick_gap`), so a paler decoy the
        network ranked first loses to the gap."""
        best = pick_gap(batch.images[i], peaks.points.numpy(), peaks.ranks.numpy())
        if best:  # peak 0 is the decoded gap already
            found["gap"], found["gap_confidence"] = tuple(map(float, peaks.points[best])), float(peaks.scores[best])

    def _align(self, batch: BatchOutput, i: int, found: dict) -> None:
        """Composite captcha: the drawn slider, matched against the gap (and along its row, with
        the heatmap as a prior), sets the sliding distance at full resolution."""
        found["gap"], found["slider"], found["match_score"] = align_drawn_slider(
            to_rgb(batch.images[i]), found["gap"], found["slider"], self._prior(batch, i),
            same_row=found["slider_confidence"] >= SAME_ROW_MIN_SLIDER)

    # ------------------------------------------------------------------------- public API
    def solve_batch(self, images: Sequence[ImageInput], pieces: Sequence[ImageInput | None] | None = None,
                    color_order: str = "RGB") -> list[SolveResult]:
        """Solve many captchas with one model call; ``pieces[i]`` (optional) belongs to ``images[i]``.

        A piece is searched for first; where its fit is decisive (``piece_first``) the network
        is not run for that image, and the others share one model call."""
        if not images:
            return []
        pieces = list(pieces) if pieces is not None else [None] * len(images)
        if len(pieces) != len(images):
            raise ValueError(f"got {len(pieces)} pieces for {len(images)} images")
        start = time.perf_counter()
        arrays = [load_image(img, color_order, self.limits) for img in images]
        t_load = _ms(start)
        t_search = time.perf_counter()
        searches = [None if p is None else self._search(a, p, color_order) for a, p in zip(arrays, pieces, strict=True)]
        found: list[dict | None] = [None] * len(images)
        for i, search in enumerate(searches):
            if search is not None and self.piece_first and search.decisive:
                found[i] = {**self._piece_fields(search, search.match(), arrays[i].shape[:2]),
                            "gap_confidence": None, "slider_confidence": None, "gap_angle": None}
        timing = {"preprocess": t_load, "model": 0.0, "decode": 0.0, "match": _ms(t_search)}
        rest = [i for i, f in enumerate(found) if f is None]
        if rest:
            batch = self.run([arrays[i] for i in rest])
            t_dec = time.perf_counter()
            with decoding_mode():
                decoded = self._decode(batch)
                candidates = None
                t_match = time.perf_counter()
                for j, i in enumerate(rest):
                    if searches[i] is not None:
                        self._use_piece(batch, j, searches[i], decoded[j])
                    elif decoded[j]["slider"] is not None:
                        if self.align:
                            self._align(batch, j, decoded[j])
                    elif self.weigh_gaps:
                        candidates = candidates or gap_candidates(batch.outputs, batch.boxes, batch.mask)
                        self._weigh_gap(batch, j, candidates[j], decoded[j])
                    found[i] = decoded[j]
            timing["preprocess"] += batch.timing["preprocess"]
            timing["model"] = batch.timing["model"]
            timing["decode"] = (t_match - t_dec) * 1000.0
            timing["match"] += _ms(t_match)
        timing["total"] = _ms(start)
        per_image = {k: v / len(images) for k, v in timing.items()}
        for f in found:
            f["distance"] = None if f["slider"] is None else f["gap"][0] - f["slider"][0]
            f.setdefault("offset", f["distance"])  # a given piece's comes from its boxes, and equals it
        return [SolveResult(timing=dict(per_image), **f) for f in found]

    def solve(self, image: ImageInput, piece: ImageInput | None = None, color_order: str = "RGB") -> SolveResult:
        """Solve one captcha. ``color_order`` ('RGB' or 'BGR') applies to numpy arrays, the piece's too."""
        return self.solve_batch([image], [piece], color_order)[0]
