"""``slidercaptcha model-info``: the spec's parameter table, FLOPs and weight sizes."""

from __future__ import annotations

import argparse

import torch
from torch.utils.flop_counter import FlopCounterMode

from slidercaptcha.model.lite_hrnet import VARIANTS, LiteHRNet18FPN, build_model
from slidercaptcha.preprocess import INPUT_SIZE

MB = 1024 * 1024  # the spec's 12.53 MB for 3,284,846 FP32 weights is MiB


def count_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def stage_table(model: LiteHRNet18FPN) -> list[tuple[str, int, float]]:
    """(stage, parameters, percent of total) in the spec's row order."""
    total = count_params(model)
    return [(name, n, 100.0 * n / total) for name, n in ((k, count_params(m)) for k, m in model.stages().items())]


def forward_gflops(model: torch.nn.Module, size: tuple[int, int] = INPUT_SIZE) -> float:
    """Counted forward FLOPs (multiply-add = 2) for one image."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.eval()(torch.zeros(1, 4, *size))
    return counter.get_total_flops() / 1e9


def weight_sizes_mb(n_params: int) -> dict[str, float]:
    return {"FP32": n_params * 4 / MB, "FP16": n_params * 2 / MB, "INT8": n_params / MB}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", default="lite-hrnet-18-fpn", choices=sorted(VARIANTS))
    p.add_argument("--no-angle", action="store_true", help="without the optional angle head")


def run(args: argparse.Namespace) -> int:
    model = build_model(args.variant, angle_head=not args.no_angle)
    total = count_params(model)
    print(f"{args.variant}  input [B, 4, {INPUT_SIZE[0]}, {INPUT_SIZE[1]}]")
    print(f"{'stage':<10}{'parameters':>14}{'share':>9}")
    for name, n, pct in stage_table(model):
        print(f"{name:<10}{n:>14,}{pct:>8.1f}%")
    print(f"{'total':<10}{total:>14,}")
    print(f"forward: {forward_gflops(model):.2f} GFLOPs per {INPUT_SIZE[0]}x{INPUT_SIZE[1]} image")
    print("weights: " + ", ".join(f"{k} {v:.2f} MB" for k, v in weight_sizes_mb(total).items()))
    return 0
