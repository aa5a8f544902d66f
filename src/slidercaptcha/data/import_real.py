"""``slidercaptcha import-real``: a public set of real captchas → the project's manifests.

    slidercaptcha import-real --format spc data/real/spc data/real/converted/spc
    slidercaptcha evaluate --checkpoint best_model.pth --data data/real/converted/spc/val.jsonl

One ``<split>.jsonl`` per split, in the generator's manifest format, so ``evaluate``,
``report`` and ``preview`` read real captchas as they read generated ones; the vendor (spc)
or set (npc) is the record's ``sample_type``, so their tables are per vendor. For spc also
``val_held_out.jsonl``: the val captchas whose image train does not hold, each distinct image
once (:func:`~slidercaptcha.data.labels.spc_unseen`; the published val split is mostly train's
images), for scoring what was tuned or trained on train. Images stay
where they are: the manifest names them relative to its own folder. Reading lives in
:mod:`slidercaptcha.data.labels`, where each set's label convention is written down.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from slidercaptcha.data.labels import manifest_line, read_labels, spc_unseen
from slidercaptcha.utils.io import atomic_write_jsonl, read_jsonl

REAL_FORMATS = ("spc", "npc")


def import_real(src: str | Path, dst: str | Path, fmt: str, exclude: tuple[str, ...] = ()) -> dict[str, Path]:
    """Write one manifest per split; returns {split: path}. Unusable files are reported, not
    fatal; groups (vendors, sets) named in ``exclude`` are left out."""
    src, dst = Path(src), Path(dst)
    records, skipped, _ = read_labels(src, fmt)
    records = [r for r in records if r.sample_type not in exclude]
    if not records:
        raise ValueError(f"{src}: no usable {fmt} records ({len(skipped)} skipped)")
    written = {}
    for split in sorted({r.meta["split"] for r in records}):
        lines = [manifest_line(r, src, dst) for r in records if r.meta["split"] == split]
        written[split] = atomic_write_jsonl(dst / f"{split}.jsonl", lines)
    if fmt == "spc" and "val" in written:
        val = [r for r in records if r.meta["split"] == "val"]
        written["val_held_out"] = atomic_write_jsonl(
            dst / "val_held_out.jsonl", [manifest_line(val[i], src, dst) for i in spc_unseen(val, src)])
    for s in skipped:
        print(f"skipped {s.file}: {s.reason}")
    return written


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("src", help="the set as fetched (e.g. data/real/spc or data/real/npc)")
    p.add_argument("dst", help="folder for the manifests (e.g. data/real/converted/spc)")
    p.add_argument("--format", required=True, choices=REAL_FORMATS, help="which public set")
    p.add_argument("--exclude", nargs="*", default=[], metavar="GROUP",
                   help="vendors or sets to leave out (e.g. Shumei, whose labels hold a decoy box too)")


def run(args: argparse.Namespace) -> int:
    for path in import_real(args.src, args.dst, args.format, tuple(args.exclude)).values():
        groups = Counter(rec["sample_type"] for rec in read_jsonl(path))
        print(f"{path}: {sum(groups.values())} captchas ({', '.join(f'{g} {n}' for g, n in groups.items())})")
    return 0
