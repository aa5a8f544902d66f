"""How visible real gaps are, by the measure the generator's visibility floor uses.

    python benchmarks/real_gap_visibility.py --npc data/real/npc \\
        --synthetic data/default_model/test data/styles_model/test

The generator redraws a gap (or a drawn slider) whose outline is less than
``data.generator.min_gap_visibility`` times as edgy as its surroundings
(``render.edge_contrast``). This measures the same ratio on real gaps whose shape is known:
npc's captchas come with their pieces, so each piece's silhouette (``matching.read_piece``:
alpha, or the plain background of a JPEG strip) is placed where the set's (audited) label puts
it, and the best ratio over shifts of up to ``--shift`` px is kept (labels and the real
renderers round differently, and an outline one pixel off reads fainter than it is). Beside
them, the gap visibility that generated test sets record in their manifests. Prints quantiles
per set and writes ``benchmarks/results/real_gap_visibility.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from slidercaptcha.data.labels import LabelRecord, apply_npc_audit, read_labels, read_npc
from slidercaptcha.data.render import VIS_PAD, edge_contrast
from slidercaptcha.inference.images import load_image
from slidercaptcha.inference.matching import read_piece
from slidercaptcha.preprocess import to_rgb

QUANTILES = (1, 5, 10, 25, 50)
BANDS = (1.5, 2.0, 3.0)  # share of gaps below each


def placed_visibility(record: LabelRecord, npc_root: Path, shift: int) -> float:
    """``edge_contrast`` of the record's background over its piece's silhouette placed at the
    label (the piece image's top-left at ``position``), best over shifts of up to ``shift`` px.
    Only the piece's box and the ring the measure reads around it are filtered."""
    gray = cv2.cvtColor(to_rgb(load_image(record.file)), cv2.COLOR_RGB2GRAY)
    piece = read_piece(load_image(npc_root / record.meta["piece_file"]), str(record.meta["piece_file"]))
    x, y = record.meta["position"]
    h, w = piece.mask.shape
    x0, y0 = int(round(x)) + piece.x0, int(round(y)) + piece.y0
    reach = VIS_PAD + shift  # the ring reaches 8 px past the outline; Sobel one more
    left, top = max(x0 - reach, 0), max(y0 - reach, 0)
    around = gray[top:y0 + h + reach, left:x0 + w + reach]
    best = 0.0
    for dy in range(-shift, shift + 1):
        for dx in range(-shift, shift + 1):
            inside = np.zeros(around.shape, bool)
            px, py = x0 + dx - left, y0 + dy - top  # the piece's corner in ``around``
            window = inside[max(py, 0):py + h, max(px, 0):px + w]
            window[:] = piece.mask[max(-py, 0):max(-py, 0) + window.shape[0], max(-px, 0):max(-px, 0) + window.shape[1]]
            best = max(best, edge_contrast(around, inside))
    return best


def summary(values: list[float]) -> dict:
    v = np.asarray(values, np.float64)
    return {"n": len(v), "min": round(float(v.min()), 2),
            **{f"p{q}": round(float(np.percentile(v, q)), 2) for q in QUANTILES},
            **{f"below_{b:g}": round(100 * float((v < b).mean()), 1) for b in BANDS}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--npc", type=Path, default=Path("data/real/npc"), help="the npc set (REALDATA.md)")
    p.add_argument("--audit", type=Path, default=Path(__file__).parent / "label_audit.json",
                   help="corrected npc labels (label_audit.py)")
    p.add_argument("--synthetic", type=Path, nargs="*", default=[],
                   help="generated datasets whose manifests record gap_visibility")
    p.add_argument("--shift", type=int, default=2, help="px the placed silhouette may move")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/real_gap_visibility.json"))
    args = p.parse_args(argv)
    if not args.npc.is_dir():
        sys.exit(f"{args.npc}: no npc set here (REALDATA.md says how to fetch it)")
    records, _ = read_npc(args.npc)
    records = apply_npc_audit(records, args.npc, json.loads(args.audit.read_text(encoding="utf-8"))["npc"])
    measured: dict[str, list[float]] = {}
    for r in records:
        measured.setdefault(f"npc {r.sample_type}", []).append(placed_visibility(r, args.npc, args.shift))
    for folder in args.synthetic:
        measured[f"generated {folder}"] = [r.meta["gap_visibility"] for r in read_labels(folder)[0]]
    rows = {name: summary(values) for name, values in measured.items()}
    cols = ["n", "min", *(f"p{q}" for q in QUANTILES), *(f"below_{b:g}" for b in BANDS)]
    print("| set | " + " | ".join(c.replace("below_", "% below ") for c in cols) + " |")
    print("|---|" + "---|" * len(cols))
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(f"{row[c]:g}" for c in cols) + " |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": "python " + " ".join(sys.argv), "shift": args.shift, "sets": rows},
                                   indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
