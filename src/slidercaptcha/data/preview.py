"""``slidercaptcha preview``: a contact sheet of captchas with their labels drawn.

Green: the gap centre and the piece's box around it (rotated by the gap angle); red: the
slider centre (in separate mode the piece is pasted at its start, half-transparent);
yellow: decoys. The drawn marks must sit on the gap and the piece, or the labels are wrong.

``--manifest`` shows a generated (or imported) set; ``--style NAME`` renders captchas of a
generator style in memory, and with ``--real`` puts the real captchas of the vendor the
style imitates in the last row, so the two can be compared side by side (``--style all``
writes one sheet per style).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from slidercaptcha.data.backgrounds import PhotoLibrary
from slidercaptcha.data.dataset import load_rgb
from slidercaptcha.data.labels import read_labels
from slidercaptcha.data.manifest import manifest_path, read_manifest
from slidercaptcha.data.styles import builtin_styles, resolve, style_names

TILE = (400, 200)  # W, H of one tile
GREEN, RED, YELLOW, WHITE = (0, 220, 0), (255, 40, 40), (255, 220, 0), (255, 255, 255)


def _box_points(cx: float, cy: float, w: float, h: float, angle: float) -> np.ndarray:
    a = math.radians(angle)
    c, s = math.cos(a), math.sin(a)
    corners = np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) / 2
    # the same sense as the renderer (OpenCV's: counter-clockwise on screen)
    return np.stack([cx + corners[:, 0] * c + corners[:, 1] * s, cy - corners[:, 0] * s + corners[:, 1] * c], 1)


def draw_labels(rgb: np.ndarray, record: dict, piece: np.ndarray | None = None) -> np.ndarray:
    """The image with its labels (and its separate RGBA piece, if any) drawn, scaled to fit
    one tile."""
    img = rgb.copy()
    if piece is not None and record.get("slider_x") is not None:
        _paste_half(img, piece, record["slider_x"], record["slider_y"])
    scale = min(TILE[0] / img.shape[1], TILE[1] / img.shape[0])
    img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)

    def pt(x, y):
        return int(round(x * scale * 16)), int(round(y * scale * 16))  # 4 fractional bits

    box = _box_points(record["gap_x"], record["gap_y"], record["piece_w"], record["piece_h"], record.get("gap_angle", 0))
    cv2.polylines(img, [np.round(box * scale * 16).astype(np.int32)], True, GREEN, 1, cv2.LINE_AA, 4)
    cv2.circle(img, pt(record["gap_x"], record["gap_y"]), 3 * 16, GREEN, -1, cv2.LINE_AA, 4)
    if record.get("slider_x") is not None:
        cv2.circle(img, pt(record["slider_x"], record["slider_y"]), 3 * 16, RED, -1, cv2.LINE_AA, 4)
    for d in record.get("decoys") or []:
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


def _read_piece(root: Path, record: dict) -> np.ndarray | None:
    if not record.get("piece_file"):
        return None
    piece = cv2.imread(str(root / record["piece_file"]), cv2.IMREAD_UNCHANGED)
    return None if piece is None else cv2.cvtColor(piece, cv2.COLOR_BGRA2RGBA)


def caption(record: dict) -> str:
    parts = [record.get("style"), record.get("mode"), record.get("gap_style"), record.get("shape"),
             record.get("sample_type")]
    if record.get("gap_visibility") is not None:
        parts.append(f"vis {record['gap_visibility']:.1f}")
    if record.get("slider_visibility") is not None:
        parts.append(f"slider vis {record['slider_visibility']:.1f}")
    return " ".join(str(p) for p in parts if p)


def contact_sheet(tiles: list[tuple[np.ndarray, str]], columns: int = 4) -> np.ndarray:
    """RGB sheet of (tile, caption) pairs, a caption line under each tile."""
    cap = 14
    rows = math.ceil(len(tiles) / columns)
    sheet = np.full((rows * (TILE[1] + cap), columns * TILE[0], 3), 32, np.uint8)
    for k, (tile, text) in enumerate(tiles):
        y, x = (k // columns) * (TILE[1] + cap), (k % columns) * TILE[0]
        sheet[y:y + tile.shape[0], x:x + tile.shape[1]] = tile
        cv2.putText(sheet, text, (x + 3, y + TILE[1] + 10), cv2.FONT_HERSHEY_SIMPLEX, 0.33, WHITE, 1, cv2.LINE_AA)
    return sheet


def manifest_tiles(records: list[dict], root: Path) -> list[tuple[np.ndarray, str]]:
    return [(draw_labels(load_rgb(root / r["file"]), r, _read_piece(root, r)), f"{Path(r['file']).stem} {caption(r)}")
            for r in records]


def style_tiles(style: str, num: int, seed: int, photos: PhotoLibrary) -> list[tuple[np.ndarray, str]]:
    """``num`` captchas of ``style`` rendered in memory with every effect on, labels drawn."""
    from slidercaptcha.config import AugmentationConfig, GeneratorConfig
    from slidercaptcha.data.render import EffectProbs, render_captcha

    cfg, probs = replace(GeneratorConfig(), style=style), EffectProbs.from_augmentation(AugmentationConfig())
    tiles = []
    for i in range(num):
        c = render_captcha(np.random.default_rng([seed, i]), cfg, probs, "mixed", photos)
        tiles.append((draw_labels(c.image, c.record, c.piece), caption(c.record)))
    return tiles


def real_tiles(path: str, vendor: str, num: int, seed: int) -> list[tuple[np.ndarray, str]]:
    """Up to ``num`` labelled real captchas of ``vendor`` (any format ``evaluate`` reads)."""
    records, _, _ = read_labels(path)
    mine = [r for r in records if r.meta.get("vendor") == vendor]
    pick = np.random.default_rng(seed).permutation(len(mine))[:num]
    tiles = []
    for i in sorted(pick):
        r = mine[i]
        w, h = r.gap_size or (40, 40)
        record = {**r.as_manifest(), "piece_w": w, "piece_h": h}
        tiles.append((draw_labels(load_rgb(r.file), record), f"real {vendor} {r.file.name}"))
    return tiles


def style_sheet(style: str, args: argparse.Namespace, photos: PhotoLibrary) -> np.ndarray:
    tiles = style_tiles(style, args.num, args.seed or 0, photos)
    vendor = resolve(style)[0].vendor if style != "mix" else ""
    if args.real and vendor:
        tiles += real_tiles(args.real, vendor, 4, args.seed or 0)
    return contact_sheet(tiles)


def write_sheet(path: Path, sheet: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise ValueError(f"{path}: cannot write the image")


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--manifest", help="manifest file or dataset folder")
    src.add_argument("--style", help=f"render a generator style instead: {', '.join(style_names())}, "
                                     "a style .yaml, or all (one sheet per style; --out is then a folder)")
    p.add_argument("--out", default="preview.png")
    p.add_argument("--num", type=int, default=16)
    p.add_argument("--seed", type=int, default=None, help="pick records at random (default: the first)")
    p.add_argument("--backgrounds", nargs="+", default=(), metavar="DIR", help="photo folders (--style)")
    p.add_argument("--art", nargs="+", default=(), metavar="DIR", help="art folders (--style)")
    p.add_argument("--real", default=None, metavar="LABELS",
                   help="labelled real captchas with vendors (e.g. an imported spc manifest): with --style, "
                        "the last row shows the style's vendor")


def run(args: argparse.Namespace) -> int:
    if args.style:
        photos = PhotoLibrary(args.backgrounds, args.art)
        names = list(builtin_styles()) if args.style == "all" else [args.style]
        for name in names:
            out = Path(args.out) / f"{name}.png" if args.style == "all" else Path(args.out)
            write_sheet(out, style_sheet(name, args, photos))
            print(f"wrote {out} (style {name})")
        return 0
    path = manifest_path(args.manifest)
    records = read_manifest(path)
    if args.seed is not None:
        idx = np.random.default_rng(args.seed).permutation(len(records))[:args.num]
        records = [records[i] for i in sorted(idx)]
    write_sheet(Path(args.out), contact_sheet(manifest_tiles(records[:args.num], path.parent)))
    print(f"wrote {args.out} ({min(len(records), args.num)} samples)")
    return 0
