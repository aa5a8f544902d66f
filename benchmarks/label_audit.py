"""Draw the evidence for ``label_audit.json``: each audited npc captcha with its piece pasted
at the published position (top) and at the audited one (bottom), cropped around both,
three times the size.

    python benchmarks/label_audit.py --root data/real --out /tmp/audit

Where a label is wrong, the top copy leaves part of the hollow uncovered (or covers no hollow
at all) and the bottom one covers it exactly.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from slidercaptcha.data.labels import npc_case_name, read_npc

HERE = Path(__file__).resolve().parent
MARGIN = 15  # px of background shown around the two positions


def pasted(background: np.ndarray, piece: np.ndarray, x: int, y: int) -> np.ndarray:
    """``piece`` (BGRA, or BGR: opaque) over ``background`` with its top-left at (x, y), clipped."""
    out = background.astype(np.float32)
    alpha = piece[:, :, 3:] / 255.0 if piece.shape[2] == 4 else np.ones((*piece.shape[:2], 1))
    h, w = piece.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, out.shape[1]), min(y + h, out.shape[0])
    a, p = alpha[y0 - y:y1 - y, x0 - x:x1 - x], piece[y0 - y:y1 - y, x0 - x:x1 - x, :3]
    out[y0:y1, x0:x1] = out[y0:y1, x0:x1] * (1 - a) + p * a
    return out.astype(np.uint8)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default="data/real", help="folder holding npc/ (default: %(default)s)")
    p.add_argument("--audit", default=str(HERE / "label_audit.json"))
    p.add_argument("--out", required=True, help="folder for the overlays")
    args = p.parse_args(argv)
    npc, out = Path(args.root) / "npc", Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    records, _ = read_npc(npc)  # the set's own reader: background and piece of every case
    pieces = {npc_case_name(r, npc): npc / r.meta["piece_file"] for r in records}
    for name, fix in json.loads(Path(args.audit).read_text(encoding="utf-8"))["npc"].items():
        background = npc / name
        image = cv2.imread(str(background), cv2.IMREAD_COLOR)
        piece = cv2.imread(str(pieces[name]), cv2.IMREAD_UNCHANGED) if name in pieces else None
        if image is None or piece is None:
            print(f"note: {background} or its piece is missing; skipped")
            continue
        (px, py), (ax, ay), (h, w) = fix["published"], fix["audited"], piece.shape[:2]
        x0, x1 = max(min(px, ax) - MARGIN, 0), max(px, ax) + w + MARGIN  # both positions, with a margin
        y0, y1 = max(min(py, ay) - MARGIN, 0), max(py, ay) + h + MARGIN
        rows = [pasted(image, piece, x, y)[y0:y1, x0:x1] for x, y in (fix["published"], fix["audited"])]
        target = out / f"{background.parent.name}_{background.stem}.png"
        cv2.imwrite(str(target), cv2.resize(np.concatenate(rows, 0), None, fx=3, fy=3,
                                            interpolation=cv2.INTER_NEAREST))
        print(f"{target}: published {fix['published']}, audited {fix['audited']}: {fix['why']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
