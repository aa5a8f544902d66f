"""Adapters that make peer slider-captcha solvers from PyPI callable side by side with ours.

Every adapter has ``name``, ``takes_piece``, ``needs_piece``, ``load()`` (imports the library lazily and builds
its model once) and ``solve(background, piece) -> (x, y)``: the predicted gap centre in the
background image's pixels, ``nan`` for a coordinate the peer does not give. The peers are
benchmark-only extras (``bash benchmarks/install_peers.sh``), never project dependencies.

Template matchers return where the piece *image* goes; the adapters add the centre of the
piece's silhouette (alpha box), the same convention as the npc labels
(``slidercaptcha.data.labels.silhouette_center``), so a strip piece also yields a y.

    peers = load_peers(["all"])        # raises PeerUnavailable for a missing library
    x, y = peers[0].solve(bg_path, piece_path)
"""

from __future__ import annotations

import contextlib
import importlib
import io
from pathlib import Path

from slidercaptcha.data.labels import silhouette_center

INSTALL = "bash benchmarks/install_peers.sh"
NAN = float("nan")


class PeerUnavailable(RuntimeError):
    """A peer that cannot be used here; the message is a one-line reason."""


class Peer:
    name = ""
    takes_piece = False
    needs_piece = False  # a piece matcher: nothing to score on captchas without a piece

    def __init__(self) -> None:
        self._model = None

    def load(self) -> Peer:
        if self._model is None:
            self._model = self._build()
        return self

    def _build(self):
        raise NotImplementedError

    def _import(self, module: str, package: str):
        """The peer's module, or an ImportError that names the pip package and the installer."""
        try:
            return importlib.import_module(module)
        except ImportError as err:
            raise ImportError(f"peer {package!r} is not importable ({err}); install it with: {INSTALL}") from err

    def _need_piece(self, piece: Path | None) -> Path:
        if piece is None:
            raise ValueError(f"{self.name} matches the piece image against the background; "
                             "this sample has no piece")
        return Path(piece)

    def solve(self, background: Path, piece: Path | None = None) -> tuple[float, float]:
        raise NotImplementedError


class CaptchaRecognizer(Peer):
    """captcha-recognizer 1.0.2: YOLO-seg ONNX model on the background alone.

    ``Slider().identify(path)`` -> ``([x1, y1, x2, y2], conf)`` in original pixels (``[]`` when
    nothing clears conf 0.5); the gap centre is the box centre. With several boxes it takes
    the leftmost for the slider and returns the one most like it.
    """

    name = "captcha-recognizer"

    def _build(self):
        return self._import("captcha_recognizer.slider", "captcha-recognizer").Slider()

    def solve(self, background, piece=None):
        box, _conf = self.load()._model.identify(str(background))
        if not box:
            return NAN, NAN
        x1, y1, x2, y2 = (float(v) for v in box)
        return (x1 + x2) / 2, (y1 + y2) / 2


class Sider(Peer):
    """sider-captcha-solver 1.0.3: CenterNet (ResNet18-lite) on the background alone.

    ``CaptchaPredictor(device=...).predict(path)['gap_x'/'gap_y']`` is the gap centre in the
    320x160 image it resizes every input to (``None`` when nothing is found); the adapter
    scales it back to the background's own size. It ships 1.0.2 and 1.0.3 checkpoints and
    ``model_path='best'`` picks 1.0.3.
    """

    name = "sider"

    def __init__(self, device: str = "cpu") -> None:
        super().__init__()
        self.device = device

    def _build(self):
        # its top-level module re-exports src.models.predictor (src = its own package)
        predictor = self._import("sider_captcha_solver", "sider-captcha-solver").CaptchaPredictor
        with contextlib.redirect_stdout(io.StringIO()):  # it prints the device and checkpoint
            return predictor(model_path="best", device=self.device)

    def solve(self, background, piece=None):
        from PIL import Image

        with Image.open(background) as img:  # header only; the peer reads the file itself
            width, height = img.size
        found = self.load()._model.predict(str(background))
        if found["gap_x"] is None:
            return NAN, NAN
        return float(found["gap_x"]) * width / 320, float(found["gap_y"]) * height / 160


class Ddddocr(Peer):
    """ddddocr 1.6.x ``slide_match(piece, background)``: Canny edges + template matching.

    Returns ``{'target': [cx, cy], ...}`` = top-left of the best placement of the piece image
    + ``(w // 2, h // 2)`` of that image (1.6 no longer trims transparent borders). The adapter
    takes the top-left back out and adds the piece's silhouette centre instead.
    """

    name = "ddddocr"
    takes_piece = needs_piece = True

    def _build(self):
        return self._import("ddddocr", "ddddocr").DdddOcr(ocr=False, det=False, show_ad=False)

    def solve(self, background, piece=None):
        from PIL import Image

        piece = self._need_piece(piece)
        found = self.load()._model.slide_match(piece, Path(background), simple_target=False)
        with Image.open(piece) as img:
            width, height = img.size
        cx, cy = silhouette_center(piece)
        return found["target"][0] - width // 2 + cx, found["target"][1] - height // 2 + cy


class NoPuzzleCaptcha(Peer):
    """no_puzzle_captcha 1.1.1 ``PuzzleCaptchaSolver().handle_file(background, piece)``.

    Min-max normalise + Canny on both images (alpha dropped), then template matching; the
    result's ``.x, .y`` is the top-left of the piece image. The adapter adds the piece's
    silhouette centre.
    """

    name = "no-puzzle-captcha"
    takes_piece = needs_piece = True

    def _build(self):
        return self._import("no_puzzle_captcha", "no_puzzle_captcha").PuzzleCaptchaSolver()

    def solve(self, background, piece=None):
        piece = self._need_piece(piece)
        found = self.load()._model.handle_file(str(background), str(piece))
        cx, cy = silhouette_center(piece)
        return found.x + cx, found.y + cy


PEERS: dict[str, type[Peer]] = {
    cls.name: cls for cls in (CaptchaRecognizer, Sider, Ddddocr, NoPuzzleCaptcha)
}


def load_peers(names: list[str]) -> list[Peer]:
    """Built (loaded) adapters for ``names``; ``'all'`` means every peer.

    Raises PeerUnavailable naming the peer and the reason when one cannot be loaded, and
    ValueError for an unknown name.
    """
    wanted = list(PEERS) if "all" in names else list(dict.fromkeys(names))
    unknown = [n for n in wanted if n not in PEERS]
    if unknown:
        raise ValueError(f"unknown peer(s) {unknown}; choose from {sorted(PEERS)} or 'all'")
    peers = []
    for name in wanted:
        try:
            peers.append(PEERS[name]().load())
        except Exception as err:  # any failure makes the peer unavailable
            reason = " ".join(str(err).split()) or type(err).__name__
            raise PeerUnavailable(f"{name}: {reason}") from err
    return peers
