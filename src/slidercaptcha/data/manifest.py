"""The manifest: one JSON object per captcha (JSON Lines), paths relative to its folder.

The schema lives here once; the generator writes it, ``validate-data`` checks it and the
datasets refuse a record that lacks a field, naming the file and the field.
"""

from __future__ import annotations

from pathlib import Path

from slidercaptcha.utils.io import atomic_write_jsonl, read_jsonl

NUMBER = (int, float)
OPT_NUMBER = (int, float, type(None))
FIELDS: dict[str, tuple[type, ...]] = {
    "file": (str,), "width": (int,), "height": (int,),
    "gap_x": NUMBER, "gap_y": NUMBER,
    "slider_x": OPT_NUMBER, "slider_y": OPT_NUMBER, "slider_start_x": OPT_NUMBER,
    "piece_w": (int,), "piece_h": (int,),
    "shape": (str,), "gap_style": (str,), "gap_angle": NUMBER,
    "decoys": (list,), "effects": (list,), "sample_type": (str,), "bg_group": (str,),
    "mode": (str,), "piece_file": (str, type(None)), "seed": (list,),
}
# Written by the generator since styles; manifests from before them lack these.
OPTIONAL_FIELDS: dict[str, tuple[type, ...]] = {"style": (str,), "gap_visibility": NUMBER,
                                                "slider_visibility": OPT_NUMBER, "redraws": (int,)}
DECOY_FIELDS = ("x", "y", "angle", "scale")
MODES = ("composite", "gap-only", "separate")
SAMPLE_TYPES = ("normal", "confusing_gap", "rotated_gap", "noise", "highlight")
MANIFEST_NAME = "manifest.jsonl"


def _is(value, types: tuple[type, ...]) -> bool:
    return isinstance(value, types) and not (isinstance(value, bool) and bool not in types)


def _names(types: tuple[type, ...]) -> str:
    return "/".join("null" if t is type(None) else t.__name__ for t in types)


def schema_errors(record: dict) -> list[tuple[str, str]]:
    """(field, problem) for every missing or mistyped field; no file access."""
    errors = []
    for key, types in FIELDS.items():
        if key not in record:
            errors.append((key, "missing"))
        elif not _is(record[key], types):
            errors.append((key, f"expected {_names(types)}, got {record[key]!r}"))
    for key, types in OPTIONAL_FIELDS.items():
        if key in record and not _is(record[key], types):
            errors.append((key, f"expected {_names(types)}, got {record[key]!r}"))
    for i, d in enumerate(record.get("decoys") or []):
        if not isinstance(d, dict) or any(not _is(d.get(k), NUMBER) for k in DECOY_FIELDS):
            errors.append((f"decoys[{i}]", f"expected numbers {DECOY_FIELDS}, got {d!r}"))
    return errors


def label_errors(record: dict) -> list[tuple[str, str]]:
    """(field, problem) for labels that cannot be right; assumes the schema holds."""
    errors = []
    w, h = record["width"], record["height"]
    if not (16 <= w <= 4096 and 16 <= h <= 4096):
        errors.append(("width", f"implausible image size {w}×{h}"))
    if not (4 <= record["piece_w"] <= w and 4 <= record["piece_h"] <= h):
        errors.append(("piece_w", f"implausible piece size {record['piece_w']}×{record['piece_h']}"))
    points = [("gap", record["gap_x"], record["gap_y"])]
    if record["slider_x"] is not None or record["slider_y"] is not None:
        points.append(("slider", record["slider_x"], record["slider_y"]))
    points += [(f"decoys[{i}]", d["x"], d["y"]) for i, d in enumerate(record["decoys"])]
    for name, x, y in points:
        if x is None or y is None or not (0 <= x <= w and 0 <= y <= h):
            field = name if name.startswith("decoys") else f"{name}_x"
            errors.append((field, f"{name} ({x}, {y}) outside the {w}×{h} image"))
    if record["slider_x"] is not None and record["slider_x"] >= record["gap_x"]:
        errors.append(("slider_x", f"slider x {record['slider_x']:.1f} not left of gap x {record['gap_x']:.1f}"))
    if record["mode"] not in MODES:
        errors.append(("mode", f"{record['mode']!r} not one of {MODES}"))
    elif (record["mode"] == "gap-only") != (record["slider_x"] is None):
        errors.append(("slider_x", f"mode {record['mode']} with slider_x {record['slider_x']}"))
    if (record["mode"] == "separate") != (record["piece_file"] is not None):
        errors.append(("piece_file", f"mode {record['mode']} with piece_file {record['piece_file']!r}"))
    if record["sample_type"] not in SAMPLE_TYPES:
        errors.append(("sample_type", f"{record['sample_type']!r} not one of {SAMPLE_TYPES}"))
    if not -180 <= record["gap_angle"] <= 180:
        errors.append(("gap_angle", f"{record['gap_angle']} outside [-180, 180]"))
    return errors


def require_fields(record: dict, where: str) -> None:
    """Raise ValueError naming ``where`` (the file) and the first bad field."""
    errors = schema_errors(record)
    if errors:
        field, problem = errors[0]
        raise ValueError(f"{where}: field '{field}': {problem}")


def manifest_path(path: str | Path) -> Path:
    """A manifest file, or a dataset folder holding ``manifest.jsonl``."""
    path = Path(path)
    return path / MANIFEST_NAME if path.is_dir() else path


def read_manifest(path: str | Path) -> list[dict]:
    path = manifest_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"manifest not found: {path}")
    return read_jsonl(path)


def write_manifest(path: str | Path, records: list[dict]) -> Path:
    return atomic_write_jsonl(path, records)
