"""``slidercaptcha split``: train/val(/test) lists, split by background group.

Two crops of one photo are near-duplicates, so a background may sit in one split only;
otherwise validation would reward memorising backgrounds.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from slidercaptcha.data.manifest import manifest_path, read_manifest, require_fields, write_manifest


def split_records(records: list[dict], train_ratio: float, test_ratio: float = 0.0,
                  seed: int = 42) -> dict[str, list[dict]]:
    """Shuffle the groups, fill test then val up to their shares of records, rest to train."""
    if not (0 < train_ratio <= 1 and 0 <= test_ratio < 1 and train_ratio + test_ratio <= 1):
        raise ValueError(f"bad ratios: train {train_ratio}, test {test_ratio}")
    sizes = Counter(r["bg_group"] for r in records)
    groups = sorted(sizes)
    order = np.random.default_rng(seed).permutation(len(groups))
    targets = {"test": test_ratio * len(records), "val": (1 - train_ratio - test_ratio) * len(records)}
    assign, filled = {}, {"train": 0, "test": 0, "val": 0}
    for i in order:
        g = groups[i]
        name = next((s for s in ("test", "val") if filled[s] < targets[s] - 0.5), "train")
        assign[g] = name
        filled[name] += sizes[g]
    splits = {"train": [], "val": [], "test": []}
    for r in records:
        splits[assign[r["bg_group"]]].append(r)
    return splits


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input_dir", "--input-dir", required=True, help="folder with manifest.jsonl")
    p.add_argument("--train_ratio", "--train-ratio", type=float, default=0.9)
    p.add_argument("--test_ratio", "--test-ratio", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=42)


def run(args: argparse.Namespace) -> int:
    path = manifest_path(args.input_dir)
    records = read_manifest(path)
    for r in records:
        require_fields(r, f"{path}: {r.get('file')}")
    splits = split_records(records, args.train_ratio, args.test_ratio, args.seed)
    folder = Path(path).parent
    for name, items in splits.items():
        if name != "test" or args.test_ratio > 0:
            write_manifest(folder / f"{name}.jsonl", items)
            groups = len({r["bg_group"] for r in items})
            print(f"{name:5s} {len(items):7d} records {groups:7d} background groups -> {folder / f'{name}.jsonl'}")
    return 0


def image_hash(rgb: np.ndarray) -> int:
    """64-bit difference hash: each bit says whether a 9×8 thumbnail brightens left to right.
    A captcha's gap covers a small part of its background, so two captchas drawn on one
    background hash within a few bits of each other; different photos differ in ~32."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb
    small = cv2.resize(gray, (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    return int(np.packbits((small[:, 1:] > small[:, :-1]).ravel()).view(">u8")[0])


def near_duplicate_groups(hashes: list[int], max_bits: int = 6) -> list[int]:
    """Group id per hash: hashes within ``max_bits`` of each other, directly or through a
    chain, share a group (union-find over all pairs; a few thousand images take a moment)."""
    parent = list(range(len(hashes)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    values = np.array(hashes, dtype=np.uint64)
    for i in range(len(values)):
        diff = np.bitwise_xor(values[i + 1:], values[i])
        bits = np.unpackbits(diff.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)
        for j in np.flatnonzero(bits <= max_bits) + i + 1:
            parent[root(int(j))] = root(i)
    return [root(i) for i in range(len(values))]
