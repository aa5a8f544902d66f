"""``slidercaptcha validate-data``: check every record of a manifest before training on it.

Each error names the image file and the field, so a bad record can be found and fixed.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from slidercaptcha.data.manifest import label_errors, manifest_path, read_manifest, schema_errors


def _image_errors(root: Path, record: dict) -> list[tuple[str, str]]:
    """The image decodes and has the recorded size; a separate piece decodes with alpha."""
    errors = []
    img = cv2.imread(str(root / record["file"]), cv2.IMREAD_UNCHANGED)
    if img is None:
        errors.append(("file", "missing or not a decodable image"))
    elif img.shape[:2] != (record["height"], record["width"]):
        errors.append(("width", f"image is {img.shape[1]}×{img.shape[0]}, record says "
                                f"{record['width']}×{record['height']}"))
    if record["piece_file"] is not None:
        piece = cv2.imread(str(root / record["piece_file"]), cv2.IMREAD_UNCHANGED)
        if piece is None:
            errors.append(("piece_file", "missing or not a decodable image"))
        elif piece.ndim != 3 or piece.shape[2] != 4:
            errors.append(("piece_file", f"expected an RGBA image, got shape {piece.shape}"))
    return errors


def validate_manifest(path: str | Path, check_images: bool = True) -> tuple[list[str], dict]:
    """(error lines ``file: field: problem``, summary) for a manifest."""
    path = manifest_path(path)
    records = read_manifest(path)
    errors: list[str] = []
    seen: dict[str, int] = {}
    for lineno, record in enumerate(records, 1):
        where = f"{path.name}:{lineno} {record.get('file', '<no file>')}"
        problems = schema_errors(record)
        if not problems:
            problems = label_errors(record)
            if check_images:
                problems += _image_errors(path.parent, record)
            if record["file"] in seen:
                problems.append(("file", f"duplicate of line {seen[record['file']]}"))
            seen.setdefault(record["file"], lineno)
        errors += [f"{where}: {field}: {problem}" for field, problem in problems]
    return errors, summarize(records)


def summarize(records: list[dict]) -> dict:
    def count(key):
        return dict(Counter(r.get(key) for r in records).most_common())

    sizes = np.array([[r.get("width", 0), r.get("height", 0)] for r in records] or [[0, 0]])
    return {
        "records": len(records),
        "mode": count("mode"), "sample_type": count("sample_type"), "shape": count("shape"),
        "gap_style": count("gap_style"),
        "effects": dict(Counter(e for r in records for e in r.get("effects", [])).most_common()),
        "background_groups": len({r.get("bg_group") for r in records}),
        "width_range": [int(sizes[:, 0].min()), int(sizes[:, 0].max())],
        "height_range": [int(sizes[:, 1].min()), int(sizes[:, 1].max())],
    }


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--input_dir", "--input-dir", help="folder with manifest.jsonl")
    src.add_argument("--manifest", help="a manifest file (manifest.jsonl, train.jsonl, …)")
    p.add_argument("--no_images", "--no-images", action="store_true", help="skip decoding images")
    p.add_argument("--max_errors", "--max-errors", type=int, default=50, help="errors to print")


def run(args: argparse.Namespace) -> int:
    errors, summary = validate_manifest(args.manifest or args.input_dir, not args.no_images)
    for key, value in summary.items():
        print(f"{key:18s} {value}")
    for line in errors[:args.max_errors]:
        print(f"ERROR {line}")
    if len(errors) > args.max_errors:
        print(f"... and {len(errors) - args.max_errors} more errors")
    print(f"{summary['records']} records, {len(errors)} errors")
    return 1 if errors else 0
