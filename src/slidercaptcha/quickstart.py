"""``slidercaptcha quickstart``: the whole pipeline in minutes on a CPU.

generate → split → validate → train (the packaged ``configs/cpu_small.yaml``) → evaluate → report → solve a
few captchas with the shipped model. Each step is the same CLI command a user would type,
so the quick start is also a walkthrough of the commands.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from slidercaptcha.cli import main as cli

RECIPE = Path(__file__).resolve().parent / "configs" / "cpu_small.yaml"  # packaged: works from any folder


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=str(RECIPE), help="training recipe (default: the packaged cpu_small.yaml)")
    p.add_argument("--workdir", default=".", help="where data/, checkpoints/, runs/, logs/, results/ go")
    p.add_argument("--num_images", "--num-images", type=int, default=400)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--seed", type=int, default=7)


def _step(title: str, argv: list[str]) -> None:
    print(f"\n==> {title}\n    slidercaptcha {' '.join(argv)}", flush=True)
    start = time.perf_counter()
    code = cli(argv)
    if code:
        raise SystemExit(f"quickstart: step '{title}' failed with exit code {code}")
    print(f"    ({time.perf_counter() - start:.0f} s)")


def run(args: argparse.Namespace) -> int:
    root = Path(args.workdir)
    data = root / "data" / "quickstart"
    ckpt = root / "checkpoints" / "cpu_small"
    results = root / "results"
    # One warm-up epoch, then one cosine cycle that ends with the run.
    overrides = [f"training.num_epochs={args.epochs}", f"training.scheduler.T_0={max(1, args.epochs - 1)}",
                 f"checkpoints.save_dir={ckpt}",
                 f"data.train_manifest={data / 'train.jsonl'}", f"data.val_manifest={data / 'val.jsonl'}",
                 f"logging.log_dir={root / 'logs'}", f"logging.tensorboard_dir={root / 'runs' / 'cpu_small'}"]
    sets = [a for o in overrides for a in ("--set", o)]
    _step("generate captchas", ["generate", "--num_images", str(args.num_images), "--output_dir", str(data),
                                "--mode", "mixed", "--enable_confusing_gaps", "--enable_rotation",
                                "--enable_perlin_noise", "--seed", str(args.seed)])
    _step("split by background", ["split", "--input_dir", str(data), "--train_ratio", "0.85", "--seed", "42"])
    _step("validate the data", ["validate-data", "--input_dir", str(data)])
    _step("train (cpu_small recipe)", ["train", "--config", args.config, *sets])
    _step("evaluate the best checkpoint", ["evaluate", "--checkpoint", str(ckpt / "best_model.pth"),
                                           "--data", str(data / "val.jsonl"), "--name", "quickstart",
                                           "--out", str(results)])
    _step("write the report and plots", ["report", "--results", str(results / "quickstart"), "--run", str(ckpt)])
    samples = sorted((data / "images").glob("*.png"))[:3]
    _step("solve captchas with the shipped model", ["predict", *map(str, samples)])
    print(f"""
Outputs
  data            {data}/ (images/, manifest.jsonl, train.jsonl, val.jsonl)
  checkpoints     {ckpt}/ (best_model.pth, last.pth, epoch_XXX.pth, config.yaml, history.json)
  training log    {root / 'logs'}/training_YYYYMMDD.log
  TensorBoard     tensorboard --logdir {root / 'runs' / 'cpu_small'}
  report          {results / 'quickstart' / 'evaluation_report.md'} (+ plots, metrics.json, predictions.csv)
""")
    return 0
