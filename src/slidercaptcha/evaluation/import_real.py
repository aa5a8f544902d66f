"""``slidercaptcha import-real``: a public set of real captchas → the project's manifests.

    slidercaptcha import-real --format spc data/real/spc data/real/converted/spc
    slidercaptcha evaluate --checkpoint best_model.pth --data data/real/converted/spc/val.jsonl

One ``<split>.jsonl`` per split, in the generator's manifest format, so ``evaluate``,
``report`` and ``preview`` read real captchas as they read generated ones; the vendor (spc)
or set (npc) is the record's ``sample_type``, so their tables are per vendor. Images stay
where they are: the manifest names them relative to its own folder. Reading lives in
:mod:`slidercaptcha.evaluation.labels`, where each set's label convention is written down.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from pathlib import Path

from slidercaptcha.evaluation.labels import LabelRecord, read_labels
from slidercaptcha.utils.io import atomic_write_jsonl, read_jsonl

REAL_FORMATS = ("spc", "npc")


def manifest_record(r: LabelRecord, src_root: Path, dst: Path) -> dict:
    """One manifest line; paths relative to ``dst`` (the manifest's folder)."""
    rec = {
        "file": os.path.relpath(r.file, dst),
        "gap_x": r.gap[0],
        "gap_y": r.gap[1],
        "slider_x": None,
        "slider_y": None,
        "mode": r.mode,
        "sample_type": r.sample_type,
        **{k: v for k, v in r.meta.items() if k not in ("piece_file", "label_file")},
    }
    if r.gap_size is not None:
        w, h = r.gap_size
        rec.update(piece_w=w, piece_h=h, gap_box=[r.gap[0] - w / 2, r.gap[1] - h / 2, r.gap[0] + w / 2, r.gap[1] + h / 2])
    if r.meta.get("piece_file"):
        rec["piece_file"] = os.path.relpath(src_root / r.meta["piece_file"], dst)
    return rec


def import_real(src: str | Path, dst: str | Path, fmt: str) -> dict[str, Path]:
    """Write one manifest per split; returns {split: path}. Unusable files are reported, not fatal."""
    src, dst = Path(src), Path(dst)
    records, skipped, _ = read_labels(src, fmt)
    if not records:
        raise ValueError(f"{src}: no usable {fmt} records ({len(skipped)} skipped)")
    written = {}
    for split in sorted({r.meta["split"] for r in records}):
        lines = [manifest_record(r, src, dst) for r in records if r.meta["split"] == split]
        written[split] = atomic_write_jsonl(dst / f"{split}.jsonl", lines)
    for s in skipped:
        print(f"skipped {s.file}: {s.reason}")
    return written


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("src", help="the set as fetched (e.g. data/real/spc or data/real/npc)")
    p.add_argument("dst", help="folder for the manifests (e.g. data/real/converted/spc)")
    p.add_argument("--format", required=True, choices=REAL_FORMATS, help="which public set")


def run(args: argparse.Namespace) -> int:
    for path in import_real(args.src, args.dst, args.format).values():
        groups = Counter(rec["sample_type"] for rec in read_jsonl(path))
        print(f"{path}: {sum(groups.values())} captchas ({', '.join(f'{g} {n}' for g, n in groups.items())})")
    return 0
