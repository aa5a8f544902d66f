"""``slidercaptcha doctor``: the spec's debugging checks (调试技巧) in one command.

1. Gradient check: one forward/backward on a batch; every parameter whose gradient norm
   exceeds ``--grad_limit`` (spec: 100) is named, and a non-finite loss fails.
2. Data check: every label lies inside its image and the image decodes (any label
   format); for our manifests also the data module's ``validate-data`` checks.
3. Output-range check: heatmaps in [0, 1], offsets within ±0.5, nothing NaN or infinite.

Without ``--data`` the batch is random pixels with random labels: enough to check the
numerics of a checkpoint, not its quality. Exit status 1 when any check fails.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from slidercaptcha.config import Config
from slidercaptcha.data.dataset import LabelledDataset, read_usable
from slidercaptcha.data.labels import FORMATS, LabelRecord, manifest_file
from slidercaptcha.data.targets import build_targets
from slidercaptcha.data.validate import validate_manifest
from slidercaptcha.evaluation.evaluate import load_for_evaluation
from slidercaptcha.losses import compute_loss
from slidercaptcha.train.gradients import large_gradients
from slidercaptcha.train.validate import TARGET_KEYS

GRAD_LIMIT = 100.0
OFFSET_LIMIT = 0.5
TOLERANCE = 1e-4


# ----------------------------------------------------------------------------- checks
def gradient_check(
    model: torch.nn.Module, cfg: Config, batch: dict, limit: float = GRAD_LIMIT
) -> list[str]:
    """Problems found in one training step's loss and gradients (nothing is updated)."""
    model.train()
    model.zero_grad(set_to_none=True)
    loss, _ = compute_loss(model(batch["image"]), {k: batch[k] for k in TARGET_KEYS}, cfg.loss)
    if not torch.isfinite(loss):
        return [f"loss is {loss.item()}"]
    loss.backward()
    problems = [f"large gradient in {name}: {norm:.1f}" for name, norm in large_gradients(model, limit)]
    model.zero_grad(set_to_none=True)
    model.eval()
    return problems


def output_range_check(model: torch.nn.Module, images: torch.Tensor) -> list[str]:
    """Problems with the ranges the decoder relies on."""
    with torch.no_grad():
        out = model.eval()(images)
    problems = [f"{k} has non-finite values" for k, v in out.items() if not torch.isfinite(v).all()]
    for k in ("heatmap_gap", "heatmap_slider"):
        lo, hi = out[k].min().item(), out[k].max().item()
        if lo < 0 or hi > 1:
            problems.append(f"{k} outside [0, 1]: [{lo:.4f}, {hi:.4f}]")
    for k in ("offset_gap", "offset_slider"):
        peak = out[k].abs().max().item()
        if peak > OFFSET_LIMIT + TOLERANCE:
            problems.append(f"{k} |value| {peak:.4f} exceeds {OFFSET_LIMIT}")
    return problems


def label_problems(r: LabelRecord) -> list[str]:
    """The spec's label check, in original pixels: points inside the image they label."""
    width, height = r.size
    points = [("gap", r.gap)] + ([("slider", r.slider)] if r.slider is not None else [])
    return [
        f"{r.file}: {name} ({x:.1f}, {y:.1f}) outside the {width}×{height} image"
        for name, (x, y) in points
        if not (0 <= x <= width and 0 <= y <= height)
    ]


def data_check(data: Path, fmt: str) -> tuple[list[LabelRecord], list[str]]:
    """Readable records and every problem with the set.

    Our manifests go through the data module's own validator (schema, labels, images);
    other formats get the label-inside-image check and a decode of every image.
    """
    records, skipped, fmt = read_usable(data, fmt)
    if fmt == "manifest":
        return records, validate_manifest(manifest_file(data))[0]
    problems = [f"{s.file}: {s.reason}" for s in skipped]
    return records, problems + [p for r in records for p in label_problems(r)]


def random_batch(cfg: Config, size: int, seed: int = 0) -> dict:
    """Random pixels and labels in the layout the loss expects (no data needed)."""
    rng = np.random.default_rng(seed)
    h, w = cfg.model.input_size
    mask = np.ones((h, w), np.uint8)
    items = []
    for _ in range(size):
        gap, slider = (
            rng.uniform([w * 0.4, 8], [w - 8, h - 8]),
            rng.uniform([8, 8], [w * 0.3, h - 8]),
        )
        items.append(build_targets(gap, slider, mask, float(rng.uniform(-30, 30)), None, (h, w)))
    batch = {k: torch.stack([t[k] for t in items]) for k in items[0]}
    image = torch.from_numpy(rng.random((size, 3, h, w), dtype=np.float32))
    batch["image"] = torch.cat([image, torch.ones(size, 1, h, w)], dim=1)
    return batch


# ----------------------------------------------------------------------------- CLI
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="checkpoint .pth or .safetensors weights to check")
    p.add_argument(
        "--data", help="labelled set (manifest, LabelMe, YOLO, CSV); default: a random batch"
    )
    p.add_argument("--format", default="auto", choices=("auto", *FORMATS))
    p.add_argument("--batch_size", "--batch-size", type=int, default=4)
    p.add_argument(
        "--grad_limit",
        "--grad-limit",
        type=float,
        default=GRAD_LIMIT,
        help="gradient norm that counts as large (default: %(default)s)",
    )


def _print(title: str, problems: list[str], limit: int = 30) -> bool:
    print(
        f"[{'OK' if not problems else 'FAIL'}] {title}"
        + (f": {len(problems)} problem(s)" if problems else "")
    )
    for line in problems[:limit]:
        print(f"    {line}")
    if len(problems) > limit:
        print(f"    ... and {len(problems) - limit} more")
    return not problems


def run(args: argparse.Namespace) -> int:
    torch.manual_seed(0)
    model, cfg, _ = load_for_evaluation(args.checkpoint)
    print(f"checkpoint {args.checkpoint}: {cfg.model.variant}, input {cfg.model.input_size}")
    ok = True
    if args.data:
        records, problems = data_check(Path(args.data), args.format)
        ok &= _print(f"data: {len(records)} readable images", problems)
        if not records:
            return 1
        loader = DataLoader(
            LabelledDataset(records, tuple(cfg.model.input_size)), batch_size=args.batch_size
        )
        batch, source = next(iter(loader)), "first batch of the data"
    else:
        batch, source = (
            random_batch(cfg, args.batch_size),
            "random batch (pass --data for real images)",
        )
    print(f"checks on the {source}, {len(batch['image'])} images")
    ok &= _print(
        f"gradients (norm ≤ {args.grad_limit:g})",
        gradient_check(model, cfg, batch, args.grad_limit),
    )
    ok &= _print("output ranges", output_range_check(model, batch["image"]))
    return 0 if ok else 1
