"""``slidercaptcha preview``: a contact sheet of captchas with their labels drawn.

Green: the gap centre and the piece's box around it (rotated by the gap angle); red: the
slider centre (in separate mode the piece is pasted at its start, half-transparent);
yellow: decoys. The drawn marks must sit on the gap and the piece, or the labels are wrong.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import cv2
import numpy as np

from slidercaptcha.data.dataset import load_rgb
from slidercaptcha.data.manifest import manifest_path, read_manifest

TILE = (400, 200)  # W, H of one tile
GREEN, RED, YELLOW, WHITE = (0, 220, 0), (255, 40, 40), (255, 220, 0), (255, 255, 255)


def _box_points(cx: float, cy: float, w: float, h: float, angle: float) -> np.ndarray:
    a = math.radians(angle)
    c, s = math.cos(a), math.sin(a)
    corners = np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) / 2
    # the same sense as the renderer (OpenCV's: counter-clockwise on screen)
    return np.stack([cx + corners[:, 0] * c + corners[:, 1] * s, cy - corners[:, 0] * s + corners[:, 1] * c], 1)


def draw_labels(rgb: np.ndarray, record: dict, root: Path) -> np.ndarray:
    """The image with its labels drawn, scaled to fit one tile."""
    img = rgb.copy()
    if record.get("piece_file"):
        piece = cv2.imread(str(root / record["piece_file"]), cv2.IMREAD_UNCHANGED)
        if piece is not None:
            _paste_half(img, cv2.cvtColor(piece, cv2.COLOR_BGRA2RGBA), record["slider_x"], record["slider_y"])
    scale = min(TILE[0] / img.shape[1], TILE[1] / img.shape[0])
    img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)

    def pt(x, y):
        return int(round(x * scale * 16)), int(round(y * scale * 16))  # 4 fractional bits

    box = _box_points(record["gap_x"], record["gap_y"], record["piece_w"], record["piece_h"], record["gap_angle"])
    cv2.polylines(img, [np.round(box * scale * 16).astype(np.int32)], True, GREEN, 1, cv2.LINE_AA, 4)
    cv2.circle(img, pt(record["gap_x"], record["gap_y"]), 3 * 16, GREEN, -1, cv2.LINE_AA, 4)
    if record.get("slider_x") is not None:
        cv2.circle(img, pt(record["slider_x"], record["slider_y"]), 3 * 16, RED, -1, cv2.LINE_AA, 4)
    for d in record["decoys"]:
        cv2.drawMarker(img, (int(d["x"] * scale), int(d["y"] * scale)), YELLOW, cv2.MARKER_TILTED_CROSS, 9, 2)
    return img


def _paste_half(img: np.ndarray, rgba: np.ndarray, cx: float, cy: float) -> None:
    """Paste a piece centred at (cx, cy) at 70 % opacity (clipped to the image)."""
    h, w = rgba.shape[:2]
    x0, y0 = int(round(cx - w / 2)), int(round(cy - h / 2))
    xs, ys = slice(max(x0, 0), min(x0 + w, img.shape[1])), slice(max(y0, 0), min(y0 + h, img.shape[0]))
    part = rgba[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0]
    a = part[..., 3:].astype(np.float32) / 255 * 0.7
    img[ys, xs] = (img[ys, xs] * (1 - a) + part[..., :3] * a).astype(np.uint8)


def contact_sheet(records: list[dict], root: Path, columns: int = 4) -> np.ndarray:
    """RGB sheet of tiles with a caption line under each."""
    cap = 14
    rows = math.ceil(len(records) / columns)
    sheet = np.full((rows * (TILE[1] + cap), columns * TILE[0], 3), 32, np.uint8)
    for k, record in enumerate(records):
        tile = draw_labels(load_rgb(root / record["file"]), record, root)
        y, x = (k // columns) * (TILE[1] + cap), (k % columns) * TILE[0]
        sheet[y:y + tile.shape[0], x:x + tile.shape[1]] = tile
        text = f"{Path(record['file']).stem} {record['mode']} {record['gap_style']} {record['shape']} {record['sample_type']}"
        cv2.putText(sheet, text, (x + 3, y + TILE[1] + 10), cv2.FONT_HERSHEY_SIMPLEX, 0.33, WHITE, 1, cv2.LINE_AA)
    return sheet


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--manifest", required=True, help="manifest file or dataset folder")
    p.add_argument("--out", default="preview.png")
    p.add_argument("--num", type=int, default=16)
    p.add_argument("--seed", type=int, default=None, help="pick records at random (default: the first)")


def run(args: argparse.Namespace) -> int:
    path = manifest_path(args.manifest)
    records = read_manifest(path)
    if args.seed is not None:
        idx = np.random.default_rng(args.seed).permutation(len(records))[:args.num]
        records = [records[i] for i in sorted(idx)]
    sheet = contact_sheet(records[:args.num], path.parent)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise ValueError(f"{args.out}: cannot write the image")
    print(f"wrote {args.out} ({min(len(records), args.num)} samples)")
    return 0
