"""``slidercaptcha predict IMG... [--piece P] [--json] [--visualize OUT.png]``."""

from __future__ import annotations

import json
import sys

from slidercaptcha.inference.images import ImageError


def add_arguments(parser) -> None:
    parser.add_argument("images", nargs="+", help="captcha image files")
    parser.add_argument("--piece", nargs="+", help="separate piece image(s): one for all, or one per image")
    parser.add_argument("--checkpoint", help=".pth, .safetensors, .onnx or a directory (default: packaged model)")
    parser.add_argument("--backend", choices=("auto", "onnx", "torch"), default="auto")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for the model")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--visualize", metavar="OUT.png", help="save points, boxes and heatmaps")


def _pieces(args) -> list[str | None]:
    if not args.piece:
        return [None] * len(args.images)
    if len(args.piece) == 1:
        return args.piece * len(args.images)
    if len(args.piece) != len(args.images):
        raise ValueError(f"give one --piece for all images or one per image ({len(args.images)})")
    return list(args.piece)


def _fmt_point(p) -> str:
    return "none" if p is None else f"({p[0]:.1f}, {p[1]:.1f})"


def format_line(name: str, res) -> str:
    distance = "none" if res.distance is None else f"{res.distance:.1f}"
    return (f"{name}: distance={distance} gap={_fmt_point(res.gap)} slider={_fmt_point(res.slider)} "
            f"conf=({res.gap_confidence:.2f}, {res.slider_confidence:.2f}) {res.timing['total']:.1f}ms")


def run(args) -> int:
    from slidercaptcha.inference.solver import SliderSolver

    pieces = _pieces(args)
    solver = SliderSolver.load(args.checkpoint, backend=args.backend, threads=args.threads)
    failures = 0
    solved = []
    for path, piece in zip(args.images, pieces, strict=True):
        try:
            res = solver.solve(path, piece=piece)
        except ImageError as err:
            failures += 1
            print(json.dumps({"image": path, "error": str(err)}) if args.json else f"{path}: error: {err}",
                  file=sys.stdout if args.json else sys.stderr)
            continue
        solved.append((path, piece, res))
        print(json.dumps({"image": path, **res.to_dict()}) if args.json else format_line(path, res))
    if args.visualize and solved:
        from slidercaptcha.inference.visualize import draw_predictions

        batch = solver.run([p for p, _, _ in solved])
        out = draw_predictions(batch, [r for _, _, r in solved], [p for p, _, _ in solved], args.visualize)
        print(f"figure: {out}", file=sys.stderr)
    return 1 if failures else 0
