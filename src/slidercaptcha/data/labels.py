"""Annotated captcha sets in several formats → one list of :class:`LabelRecord`.

Supported inputs (``--format auto`` picks by what the folder holds):

- ``manifest``: our generator's JSONL (paths relative to the manifest's folder);
- ``labelme``: LabelMe / X-AnyLabeling ``*.json`` next to the images, with rectangle (or
  polygon / rotation) shapes labelled ``gap`` and ``slider`` (aliases below, any case);
- ``yolo``: one ``<image stem>.txt`` per image (same folder, or ``labels/`` beside
  ``images/``), lines ``class cx cy w h`` normalised to the image size. Classes:
  **0 = gap, 1 = slider**, unless a ``classes.txt`` (one name per line) says otherwise;
- ``csv``: ``file,gap_x,gap_y[,slider_x,slider_y]`` with a header row, optional
  ``sample_type`` and ``gap_angle`` columns; an empty slider means a gap-only image.

Two public sets of real captchas have layouts of their own (README, "Real captchas"):

- ``spc``: ``<Vendor>/images/<split>/*`` with YOLO boxes in ``<Vendor>/labels/<split>/``;
  class 0 is the gap, the box is hand-drawn around the hollow (knobs included), and the
  gap is the box centre. Where one file holds several boxes (Shumei: the gap and a decoy,
  not told apart) the first is the gap and the others are kept as ``gap_alternatives``, so
  scoring can accept either box. The vendor is the record's group (``sample_type``).
  The published val split repeats many train images byte for byte (61 of Dingxiang's 68
  distinct val images are in its train split), and both splits repeat images within
  themselves; :func:`spc_unseen` keeps the val captchas a solver tuned on train has not seen.
- ``npc``: ``dataset.json`` files with ``cases[{background, puzzle, position}]``, where
  ``position`` is the top-left of the piece *image* placed on the background (y = 0 for
  full-height strips). The gap is then at position + the centre of the piece's silhouette
  (alpha) box in its image. Each set is a group; every record has its piece file.

Coordinates are box centres in original-image pixels. A file whose labels cannot be used
is not fatal: it is returned in the ``skipped`` list with the reason, and counted.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from PIL import Image

from slidercaptcha.utils.io import read_jsonl

FORMATS = ("manifest", "labelme", "yolo", "csv", "spc", "npc")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff"}
GAP_NAMES = {"gap", "target", "hole", "notch", "缺口"}
SLIDER_NAMES = {"slider", "piece", "block", "puzzle", "滑块"}
YOLO_CLASSES = ("gap", "slider")  # default class ids: 0 = gap, 1 = slider
EXTERNAL_TYPE = "external"  # sample type of annotations that do not say
IMAGE_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


def image_files(folder: Path, recursive: bool = False) -> list[Path]:
    """The image files directly in ``folder`` (or anywhere under it), by suffix, in name order."""
    found = folder.rglob("*") if recursive else folder.glob("*")
    return sorted(p for p in found if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


@dataclass
class LabelRecord:
    """One image with its truth, whatever format it came from."""

    file: Path
    gap: tuple[float, float]
    slider: tuple[float, float] | None = None
    gap_angle: float = 0.0
    sample_type: str = EXTERNAL_TYPE
    mode: str = "composite"  # composite | gap-only | separate (piece in its own file)
    gap_size: tuple[float, float] | None = None  # gap box width, height when known
    size: tuple[int, int] | None = None  # image width, height (set once the image is decoded)
    slider_known: bool = True  # False: the labels do not say whether a slider is drawn
    meta: dict = field(default_factory=dict)  # the source record (manifest fields, decoys, effects)

    def gap_nearest(self, point: tuple[float, float]) -> tuple[float, float]:
        """The true gap closest to ``point``: the gap itself unless the label lists several
        boxes it does not tell apart (``gap_alternatives``), where either counts as the gap."""
        options = [self.gap, *map(tuple, self.meta.get("gap_alternatives") or [])]
        return min(options, key=lambda g: (g[0] - point[0]) ** 2 + (g[1] - point[1]) ** 2)

    @property
    def has_slider(self) -> bool:
        """Whether the slider is drawn on this image, so its prediction can be scored."""
        return self.slider is not None and self.mode == "composite"

    def as_manifest(self) -> dict:
        """The manifest fields the training dataset reads, so both letterbox and label alike."""
        slider = self.slider if self.has_slider else (None, None)
        return {
            "gap_x": self.gap[0],
            "gap_y": self.gap[1],
            "slider_x": slider[0],
            "slider_y": slider[1],
            "mode": self.mode,
            "gap_angle": self.gap_angle,
            "sample_type": self.sample_type,
            "decoys": self.meta.get("decoys") or [],
            "slider_known": self.slider_known,
        }


@dataclass
class Skipped:
    file: str
    reason: str


class LabelError(ValueError):
    """A label file that cannot be turned into a record."""


# ----------------------------------------------------------------------------- formats
def read_manifest(path: Path) -> tuple[list[LabelRecord], list[Skipped]]:
    records, skipped = [], []
    for i, rec in enumerate(read_jsonl(path)):
        try:
            slider = (
                None
                if rec.get("slider_x") is None
                else (float(rec["slider_x"]), float(rec["slider_y"]))
            )
            size = (float(rec["piece_w"]), float(rec["piece_h"])) if rec.get("piece_w") else None
            records.append(
                LabelRecord(
                    file=path.parent / rec["file"],
                    gap=(float(rec["gap_x"]), float(rec["gap_y"])),
                    slider=slider,
                    gap_angle=float(rec.get("gap_angle") or 0.0),
                    sample_type=rec.get("sample_type") or "normal",
                    mode=rec.get("mode") or ("composite" if slider else "gap-only"),
                    gap_size=size,
                    slider_known=bool(rec.get("slider_known", True)),
                    meta=rec,
                )
            )
        except (KeyError, TypeError, ValueError) as err:
            skipped.append(
                Skipped(str(rec.get("file", f"{path}:{i + 1}")), f"bad manifest record: {err!r}")
            )
    return records, skipped


def _role(name: str, classes: dict[str, str] | None = None) -> str | None:
    """'gap', 'slider' or None for a label name (or, with ``classes``, a class id)."""
    name = (classes or {}).get(name, name).strip().lower()
    return "gap" if name in GAP_NAMES else "slider" if name in SLIDER_NAMES else None


def _one_per_role(
    boxes: list[tuple[str, float, float, float, float]], label: str
) -> dict[str, tuple]:
    """{role: (cx, cy, w, h)}; exactly one gap required, at most one slider."""
    found: dict[str, list] = {"gap": [], "slider": []}
    for role, *box in boxes:
        found[role].append(tuple(box))
    if len(found["gap"]) != 1 or len(found["slider"]) > 1:
        raise LabelError(
            f"{label}: expected 1 gap and at most 1 slider box, found "
            f"{len(found['gap'])} gap and {len(found['slider'])} slider"
        )
    return {role: b[0] for role, b in found.items() if b}


def _record_from_boxes(image: Path, boxes: dict[str, tuple], meta: dict) -> LabelRecord:
    gap, slider = boxes["gap"], boxes.get("slider")
    return LabelRecord(
        file=image,
        gap=(gap[0], gap[1]),
        slider=None if slider is None else (slider[0], slider[1]),
        mode="composite" if slider else "gap-only",
        gap_size=(gap[2], gap[3]),
        slider_known=slider is not None,  # a gap box alone does not say there is no slider
        meta=meta,
    )


def read_labelme_file(path: Path) -> LabelRecord:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "shapes" not in data:
        raise LabelError(f"{path}: not a LabelMe/X-AnyLabeling file (no 'shapes')")
    boxes = []
    for shape in data["shapes"]:
        role = _role(str(shape.get("label", "")))
        points = shape.get("points") or []
        if role is None or len(points) < 2:
            continue
        xs, ys = [float(p[0]) for p in points], [float(p[1]) for p in points]
        boxes.append(
            (
                role,
                (min(xs) + max(xs)) / 2,
                (min(ys) + max(ys)) / 2,
                max(xs) - min(xs),
                max(ys) - min(ys),
            )
        )
    image = path.parent / data["imagePath"] if data.get("imagePath") else _image_for(path)
    return _record_from_boxes(image, _one_per_role(boxes, str(path)), {"source": str(path)})


def _image_for(label: Path) -> Path:
    for suffix in IMAGE_SUFFIXES:
        for candidate in (label.with_suffix(suffix), label.with_suffix(suffix.upper())):
            if candidate.is_file():
                return candidate
    raise LabelError(f"{label}: no image with the same name")


def _yolo_classes(root: Path) -> dict[str, str]:
    """Class id → name: ``classes.txt`` when present, else 0 = gap, 1 = slider."""
    for candidate in (root / "classes.txt", root.parent / "classes.txt"):
        if candidate.is_file():
            names = [
                n.strip() for n in candidate.read_text(encoding="utf-8").splitlines() if n.strip()
            ]
            return {str(i): n for i, n in enumerate(names)}
    return {str(i): n for i, n in enumerate(YOLO_CLASSES)}


def _yolo_label_for(image: Path) -> Path | None:
    same = image.with_suffix(".txt")
    if same.is_file():
        return same
    if image.parent.name == "images":
        beside = image.parent.parent / "labels" / same.name
        return beside if beside.is_file() else None
    return None


def _yolo_boxes(image: Path, label: Path, classes: dict[str, str]) -> list[tuple]:
    """[(role, cx, cy, w, h)] in pixels, in file order; lines of other classes are ignored."""
    try:
        with Image.open(image) as img:  # header only: the size, no pixel decoding
            width, height = img.size
    except IMAGE_ERRORS as err:
        raise LabelError(f"{image}: unreadable image ({err})") from None
    boxes = []
    for n, line in enumerate(label.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 5:
            raise LabelError(f"{label}:{n}: expected 'class cx cy w h', got {line!r}")
        role = _role(parts[0], classes)
        if role is not None:
            cx, cy, w, h = (float(v) for v in parts[1:5])
            boxes.append((role, cx * width, cy * height, w * width, h * height))
    return boxes


def read_yolo_file(image: Path, label: Path, classes: dict[str, str]) -> LabelRecord:
    boxes = _one_per_role(_yolo_boxes(image, label, classes), str(label))
    return _record_from_boxes(image, boxes, {"source": str(label)})


def read_yolo(root: Path) -> tuple[list[LabelRecord], list[Skipped]]:
    classes = _yolo_classes(root)
    records, skipped = [], []
    for image in image_files(root, recursive=True):
        label = _yolo_label_for(image)
        if label is None:
            skipped.append(Skipped(str(image), "no YOLO label file"))
            continue
        try:
            records.append(read_yolo_file(image, label, classes))
        except (LabelError, ValueError) as err:
            skipped.append(Skipped(str(image), str(err)))
    return records, skipped


def read_labelme(root: Path) -> tuple[list[LabelRecord], list[Skipped]]:
    records, skipped = [], []
    for path in sorted([root] if root.is_file() else root.rglob("*.json")):
        try:
            records.append(read_labelme_file(path))
        except (LabelError, ValueError, KeyError) as err:
            skipped.append(Skipped(str(path), str(err)))
    return records, skipped


def _number(value: str | None) -> float | None:
    return float(value) if value not in (None, "") else None


def read_csv(path: Path) -> tuple[list[LabelRecord], list[Skipped]]:
    records, skipped = [], []
    with open(path, newline="", encoding="utf-8") as f:
        for n, row in enumerate(csv.DictReader(f), 2):
            try:
                sx, sy = _number(row.get("slider_x")), _number(row.get("slider_y"))
                slider = None if sx is None or sy is None else (sx, sy)
                records.append(
                    LabelRecord(
                        file=path.parent / row["file"],
                        gap=(float(row["gap_x"]), float(row["gap_y"])),
                        slider=slider,
                        gap_angle=_number(row.get("gap_angle")) or 0.0,
                        sample_type=row.get("sample_type") or EXTERNAL_TYPE,
                        mode="composite" if slider else "gap-only",
                        slider_known=slider is not None,
                        meta=dict(row),
                    )
                )
            except (KeyError, TypeError, ValueError) as err:
                skipped.append(
                    Skipped(row.get("file") or f"{path}:{n}", f"{path}:{n}: bad row: {err!r}")
                )
    return records, skipped


# ----------------------------------------------------------------------------- real sets
SPC_SPLITS = ("train", "val")  # the labelled ones; spc's test split has no labels


def read_spc(root: Path, splits: tuple[str, ...] = SPC_SPLITS) -> tuple[list[LabelRecord], list[Skipped]]:
    """spc: one folder per vendor with ``images/<split>`` and YOLO ``labels/<split>``."""
    records, skipped = [], []
    classes = {str(i): n for i, n in enumerate(YOLO_CLASSES)}
    vendors = sorted(d for d in root.iterdir() if (d / "images").is_dir())
    if not vendors:
        raise ValueError(f"{root}: no spc vendor folders (<Vendor>/images/<split>/)")
    for vendor in vendors:
        for split in splits:
            folder = vendor / "images" / split
            for image in image_files(folder):
                label = vendor / "labels" / split / image.with_suffix(".txt").name
                try:
                    if not label.is_file():
                        raise LabelError(f"{image}: no label file {label}")
                    gaps = [b for role, *b in _yolo_boxes(image, label, classes) if role == "gap"]
                    if not gaps:
                        raise LabelError(f"{label}: no gap box")
                except (LabelError, ValueError) as err:
                    skipped.append(Skipped(str(image), str(err)))
                    continue
                (cx, cy, w, h), others = gaps[0], gaps[1:]
                records.append(LabelRecord(
                    file=image, gap=(cx, cy), mode="gap-only", gap_size=(w, h), sample_type=vendor.name,
                    slider_known=False,
                    meta={"source": "spc", "vendor": vendor.name, "split": split, "label_file": str(label),
                          "gap_alternatives": [[b[0], b[1]] for b in others]}))
    return records, skipped


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def spc_unseen(records: list[LabelRecord], root: Path, seen_split: str | None = "train") -> list[int]:
    """Indices of the spc ``records`` whose image (its bytes) is neither in its vendor's
    ``seen_split`` under ``root`` nor an earlier record's: each distinct image once, and none a
    solver tuned on ``seen_split`` has met (``None``: each distinct image once, nothing more)."""
    seen: dict[str, set[str]] = {}
    keep = []
    for i, r in enumerate(records):
        vendor = r.meta["vendor"]
        if vendor not in seen:
            seen[vendor] = set()
            if seen_split:
                folder = root / vendor / "images" / seen_split
                seen[vendor] = {_digest(p) for p in image_files(folder)}
        digest = _digest(Path(r.file))
        if digest not in seen[vendor]:
            seen[vendor].add(digest)
            keep.append(i)
    return keep


def silhouette_center(piece: Path) -> tuple[float, float]:
    """Centre of the opaque (alpha > 127) box of a piece image; its image centre without alpha."""
    with Image.open(piece) as img:
        img.load()
        width, height = img.size
        box = img.getchannel("A").point(lambda a: 255 if a > 127 else 0).getbbox() \
            if "A" in img.getbands() else None
    x0, y0, x1, y1 = box or (0, 0, width, height)
    return (x0 + x1) / 2, (y0 + y1) / 2


def read_npc(root: Path) -> tuple[list[LabelRecord], list[Skipped]]:
    """npc: every ``dataset.json`` under ``root``; the gap is where the placed piece's silhouette is."""
    records, skipped = [], []
    sets = sorted(root.rglob("dataset.json")) if root.is_dir() else [root]
    if not sets:
        raise ValueError(f"{root}: no npc dataset.json files")
    for index in sets:
        folder, name = index.parent, index.parent.name.removesuffix("_test").replace("_", "-")
        try:
            cases = json.loads(index.read_text(encoding="utf-8"))["cases"]
        except (ValueError, KeyError, TypeError) as err:
            skipped.append(Skipped(str(index), f"unreadable npc index: {err!r}"))
            continue
        for case in cases:
            image = folder / str(case.get("background"))
            try:
                piece = folder / case["puzzle"]
                x, y = (float(v) for v in case["position"])
                cx, cy = silhouette_center(piece)
            except (KeyError, TypeError, ValueError, *IMAGE_ERRORS) as err:
                skipped.append(Skipped(str(image), f"bad npc case: {err!r}"))
                continue
            records.append(LabelRecord(
                file=image, gap=(x + cx, y + cy), mode="separate", sample_type=name, slider_known=False,
                meta={"source": "npc", "set": name, "split": "test", "piece_file": os.path.relpath(piece, root),
                      "position": [x, y]}))
    return records, skipped


def npc_case_name(record: LabelRecord, root: Path) -> str:
    """The background's path relative to the npc ``root`` (``tests/geetest_test/IMG_005_O.png``):
    how an audit names a case."""
    return Path(os.path.relpath(record.file, root)).as_posix()


def apply_npc_audit(records: list[LabelRecord], root: Path, audit: dict) -> list[LabelRecord]:
    """npc records with an audit's corrected positions: ``audit`` maps a background's path
    (relative to the npc ``root``) to ``{"published": [x, y], "audited": [x, y]}``; the gap
    moves by audited − published. A published position that differs from the set's own is
    refused: the audit was made for another revision of the set."""
    out = []
    for r in records:
        fix = audit.get(npc_case_name(r, root))
        if fix is not None:
            (px, py), (ax, ay) = fix["published"], fix["audited"]
            if [px, py] != r.meta.get("position"):
                raise ValueError(f"{r.file}: the audit's published position {[px, py]} is not the set's "
                                 f"{r.meta.get('position')}")
            r = replace(r, gap=(r.gap[0] + ax - px, r.gap[1] + ay - py), meta={**r.meta, "position": [ax, ay]})
        out.append(r)
    return out


def manifest_line(r: LabelRecord, src_root: Path, dst: Path) -> dict:
    """A record as one line of a manifest in folder ``dst`` (paths relative to it), so any set
    can be re-read as ``manifest`` (by ``evaluate``, ``train``'s ``data.real``, ``preview``).
    ``src_root`` is what the record's ``piece_file`` is relative to (:func:`data_root`)."""
    line = {
        **{k: v for k, v in r.meta.items() if k not in ("piece_file", "label_file")},  # the fields below win
        **r.as_manifest(),
        "file": os.path.relpath(r.file, dst),
    }
    if r.gap_size is not None:
        w, h = r.gap_size
        line.update(piece_w=w, piece_h=h,
                    gap_box=[r.gap[0] - w / 2, r.gap[1] - h / 2, r.gap[0] + w / 2, r.gap[1] + h / 2])
    if r.meta.get("piece_file"):
        line["piece_file"] = os.path.relpath(Path(src_root) / r.meta["piece_file"], dst)
    return line


# ----------------------------------------------------------------------------- dispatch
def _manifest_in(root: Path) -> Path:
    """The manifest of a dataset folder: test.jsonl, manifest.jsonl, or the only *.jsonl."""
    found = sorted(root.glob("*.jsonl"))
    for name in ("test.jsonl", "manifest.jsonl"):
        if root / name in found:
            return root / name
    if len(found) == 1:
        return found[0]
    raise ValueError(
        f"{root}: {len(found)} manifests ({', '.join(p.name for p in found)}); pass one file"
    )


def manifest_file(path: Path) -> Path:
    return path if path.is_file() else _manifest_in(path)


def detect_format(path: Path) -> str:
    """Guess the annotation format of a file or folder."""
    if path.is_file():
        kind = {".jsonl": "manifest", ".csv": "csv", ".json": "labelme"}.get(path.suffix.lower())
        if kind is None:
            raise ValueError(f"{path}: cannot tell the label format from the suffix; pass --format")
        return kind
    if any(path.glob("*.jsonl")):
        return "manifest"
    if any(path.rglob("dataset.json")):
        return "npc"
    if any(path.glob("*/images/*/")) and any(path.glob("*/labels/*/")):
        return "spc"
    if any(path.glob("*.csv")):
        return "csv"
    if any(path.rglob("*.json")):
        return "labelme"
    if any(p.name != "classes.txt" for p in path.rglob("*.txt")):
        return "yolo"
    raise ValueError(f"{path}: no manifest, CSV, LabelMe JSON or YOLO labels found")


def data_root(path: Path) -> Path:
    """The folder that relative image names in outputs are relative to."""
    return path.parent if path.is_file() else path


def read_labels(
    path: str | Path, fmt: str = "auto"
) -> tuple[list[LabelRecord], list[Skipped], str]:
    """All records of an annotated set, the files skipped with reasons, and the format used."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data not found: {path}")
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt not in FORMATS:
        raise ValueError(f"unknown label format {fmt!r}; choose one of {FORMATS}")
    if fmt == "manifest":
        records, skipped = read_manifest(manifest_file(path))
    elif fmt == "csv":
        csvs = [path] if path.is_file() else sorted(path.glob("*.csv"))
        if len(csvs) != 1:
            raise ValueError(f"{path}: expected one CSV file, found {len(csvs)}")
        records, skipped = read_csv(csvs[0])
    elif fmt == "labelme":
        records, skipped = read_labelme(path)
    elif fmt == "spc":
        records, skipped = read_spc(path)
    elif fmt == "npc":
        records, skipped = read_npc(path)
    else:
        records, skipped = read_yolo(path)
    return records, skipped, fmt
