"""``slidercaptcha predict IMG... [--piece P...] [--base64] [--json] [--visualize OUT.png]``.

Inputs are image files by default. ``-`` reads one input from stdin (the raw image bytes,
or base64 text with ``--base64``). With ``--base64``, every IMG and ``--piece`` value is base64
text (a ``data:image/...;base64,`` prefix is fine), ``@FILE`` reads that text from FILE and ``-``
from stdin; argv holds at most ~128 KB per argument, so larger images go through ``@FILE`` or ``-``.

A bad input (bad base64, not an image, under 16 px, too large) prints one line, ``NAME: error:
MESSAGE`` on stderr (a JSON ``{"image", "error"}`` line on stdout with ``--json``), the other
inputs are still solved, and the exit status is 1.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path

from slidercaptcha.data.labels import IMAGE_SUFFIXES, image_files
from slidercaptcha.inference.images import (
    ImageError,
    ImageLimits,
    ImageTooLargeError,
    base64_limit,
    decode_base64,
)

STDIN = "-"


def add_arguments(parser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE",
                        help="captcha image files or folders of them; '-' reads one image from stdin "
                             "(raw bytes, or base64 text with --base64)")
    parser.add_argument("--piece", nargs="+", metavar="PIECE",
                        help="separate piece image(s), one for all images or one per image (a folder: its "
                             "images, paired with IMAGE's in name order): a tight piece, a full-height strip "
                             "with the piece inside, or a JPEG without alpha; '-' reads stdin like IMAGE")
    parser.add_argument("--base64", action="store_true",
                        help="IMAGE and PIECE values are base64 text (a 'data:image/png;base64,' prefix is "
                             "fine) instead of file names; '@FILE' reads the base64 text from FILE, '-' "
                             "from stdin")
    parser.add_argument("--checkpoint", help=".pth, .safetensors, .onnx or a directory (default: packaged model)")
    parser.add_argument("--backend", choices=("auto", "onnx", "torch"), default="auto")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for the model")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per line: image, gap, slider, distance, confidences, gap_angle, "
                             "gap_box, slider_box (these two need --piece), offset (the drag distance), match_score, timing; "
                             "a failed input gives {\"image\", \"error\"}")
    parser.add_argument("--visualize", metavar="OUT.png", help="save points, boxes and heatmaps")
    parser.epilog = ("examples: slidercaptcha predict bg.png --piece piece.png --json;  "
                     "base64 -w0 bg.png | slidercaptcha predict --base64 - --piece @piece.b64 --json.  "
                     "A bad input (bad base64, not an image, under 16 px) prints one error line and "
                     "the exit status is 1.")


class InputSpec:
    """One IMAGE or PIECE argument, read and decoded on first :meth:`load` (errors: ImageError)."""

    def __init__(self, value: str, kind: str, index: int, as_base64: bool, read_stdin):
        self.value, self.as_base64, self._read_stdin = value, as_base64, read_stdin
        if value == STDIN:
            self.label = f"{kind} (stdin)"
        elif as_base64 and value.startswith("@"):
            self.label = value[1:]
        elif as_base64:
            self.label = f"{kind} {index} (base64)"
        else:
            self.label = value
        self._loaded = None

    def _raw(self, limits: ImageLimits) -> str | bytes:
        """A path (plain file input), or bytes: the image's, or its base64 text."""
        cap = base64_limit(limits) if self.as_base64 else limits.max_bytes
        if self.value == STDIN:
            data = self._read_stdin(cap + 1)
        elif self.as_base64 and self.value.startswith("@"):
            path = Path(self.value[1:])
            if not path.is_file():
                raise ImageError(f"{self.label}: no such file")
            if path.stat().st_size > cap:
                raise ImageTooLargeError(f"{self.label}: {path.stat().st_size} bytes of base64 text exceeds "
                                         f"the limit of {cap}")
            data = path.read_bytes()
        elif self.as_base64:
            data = self.value.encode("ascii", "replace")  # a non-ASCII character fails as base64
        else:
            return self.value
        if len(data) > cap:
            raise ImageTooLargeError(f"{self.label}: more than {cap} bytes"
                                     f"{' of base64 text' if self.as_base64 else ''}")
        return decode_base64(data, self.label, limits) if self.as_base64 else data

    def load(self, limits: ImageLimits):
        """The decoded uint8 array (cached: a piece shared by all images is read once)."""
        from slidercaptcha.inference.images import load_image

        if self._loaded is None:
            self._loaded = load_image(self._raw(limits), limits=limits, name=self.label)
        return self._loaded


def _expand(value: str, as_base64: bool) -> list[str]:
    """A folder given as IMAGE or PIECE stands for the images directly inside it, in name order."""
    folder = Path(value)
    if as_base64 or value == STDIN or not folder.is_dir():
        return [value]
    files = [str(p) for p in image_files(folder)]
    if not files:
        raise ValueError(f"{folder}: a folder with no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return files


def _inputs(args) -> tuple[list[InputSpec], list[InputSpec | None]]:
    values = [*args.images, *(args.piece or [])]
    if values.count(STDIN) > 1:
        raise ValueError("stdin ('-') can be given for one input only")

    @cache
    def read_stdin(limit: int) -> bytes:
        return sys.stdin.buffer.read(limit)

    names = [f for v in args.images for f in _expand(v, args.base64)]
    images = [InputSpec(v, "image", i, args.base64, read_stdin) for i, v in enumerate(names, 1)]
    if not args.piece:
        return images, [None] * len(images)
    piece_names = [f for v in args.piece for f in _expand(v, args.base64)]
    pieces = [InputSpec(v, "piece", i, args.base64, read_stdin) for i, v in enumerate(piece_names, 1)]
    if len(pieces) == 1:
        return images, pieces * len(images)
    if len(pieces) != len(images):
        raise ValueError(f"give one --piece for all images or one per image ({len(images)})")
    return images, pieces


def _fmt_point(p) -> str:
    return "none" if p is None else f"({p[0]:.1f}, {p[1]:.1f})"


def format_line(name: str, res) -> str:
    distance = "none" if res.distance is None else f"{res.distance:.1f}"
    extra = "" if res.gap_box is None else f" offset={res.offset:.1f} match={res.match_score:.2f}"
    conf = ("(piece fit, no network)" if res.gap_confidence is None
            else f"({res.gap_confidence:.2f}, {res.slider_confidence:.2f})")
    return (f"{name}: distance={distance} gap={_fmt_point(res.gap)} slider={_fmt_point(res.slider)}{extra} "
            f"conf={conf} {res.timing['total']:.1f}ms")


def run(args) -> int:
    from slidercaptcha.inference.solver import SliderSolver

    images, pieces = _inputs(args)
    solver = SliderSolver.load(args.checkpoint, backend=args.backend, threads=args.threads)
    failures = 0
    solved = []
    for image, piece in zip(images, pieces, strict=True):
        try:
            array = image.load(solver.limits)
            res = solver.solve(array, piece=None if piece is None else piece.load(solver.limits))
        except ImageError as err:
            failures += 1
            message = " ".join(str(err).split())  # one line, whatever the message held
            print(json.dumps({"image": image.label, "error": message}) if args.json
                  else f"{image.label}: error: {message}", file=sys.stdout if args.json else sys.stderr)
            continue
        solved.append((image.label, array, res))
        print(json.dumps({"image": image.label, **res.to_dict()}) if args.json else format_line(image.label, res))
    if args.visualize and solved:
        from slidercaptcha.inference.visualize import draw_predictions

        batch = solver.run([a for _, a, _ in solved])
        out = draw_predictions(batch, [r for _, _, r in solved], [n for n, _, _ in solved], args.visualize)
        print(f"figure: {out}", file=sys.stderr)
    return 1 if failures else 0
