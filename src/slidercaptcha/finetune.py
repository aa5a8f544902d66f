"""``slidercaptcha finetune``: a few hundred of your labelled captchas → a model for your style.

    slidercaptcha finetune --data my_captchas/ --format yolo --out finetune/mine
    SliderSolver.load("finetune/mine/model")

1. read the labels (any format ``evaluate`` reads); unusable files are listed and left out;
2. split by image into train and held-out parts, keeping captchas drawn on one background
   (near-duplicate images, :func:`~slidercaptcha.data.split.near_duplicate_groups`) on one side;
3. score the starting model (the shipped one unless ``--from``) on the held-out part;
4. fine-tune from it (``configs/finetune.yaml``: the real images mixed with generated captchas,
   so the model learns the style without forgetting the rest);
5. score the best checkpoint on the held-out part, write the report, and export the model
   (``default.safetensors`` + ONNX INT8) into ``<out>/model/`` for ``SliderSolver.load``.

``--train-data`` skips the split: train on one labelled set, hold out another (how the spc
demonstration in the README trains on spc's train split and scores its val split).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from slidercaptcha.data.labels import FORMATS, LabelRecord, data_root, manifest_line
from slidercaptcha.inference.backends import SHIPPED_WEIGHTS
from slidercaptcha.utils.io import atomic_write_json, atomic_write_jsonl

RECIPE = Path(__file__).resolve().parent / "configs" / "finetune.yaml"


def usable(path: Path, fmt: str) -> tuple[list[LabelRecord], str]:
    """Readable, labelled records of a set; prints every file left out and why."""
    from slidercaptcha.data.dataset import read_usable, require_usable

    records, skipped, fmt = read_usable(path, fmt)
    for s in skipped:
        print(f"skipped {s.file}: {s.reason}")
    require_usable(path, records, skipped)
    return records, fmt


def split_by_image(records: list[LabelRecord], held_out: float, seed: int) -> tuple[list, list]:
    """(train, held-out): whole near-duplicate groups go to one side, about ``held_out`` of the images."""
    from slidercaptcha.data.dataset import load_rgb
    from slidercaptcha.data.split import image_hash, near_duplicate_groups, split_records

    groups = near_duplicate_groups([image_hash(load_rgb(r.file)) for r in records])
    parts = split_records([{"bg_group": str(g), "i": i} for i, g in enumerate(groups)], 1 - held_out, 0.0, seed)
    return [records[p["i"]] for p in parts["train"]], [records[p["i"]] for p in parts["val"]]


def first_per_group(records: list[LabelRecord], limit: int) -> list[LabelRecord]:
    seen: dict[str, int] = {}
    kept = []
    for r in records:
        seen[r.sample_type] = seen.get(r.sample_type, 0) + 1
        if seen[r.sample_type] <= limit:
            kept.append(r)
    return kept


def write_set(records: list[LabelRecord], src: Path, path: Path) -> Path:
    return atomic_write_jsonl(path, [manifest_line(r, data_root(src), path.parent) for r in records])


def per_group(metrics: dict) -> dict[str, float]:
    return {k: v["accuracy@5px"] for k, v in metrics["per_sample_type"].items()}


def finetune(data: str | Path, out: str | Path, fmt: str = "auto", start: str | Path = SHIPPED_WEIGHTS,
             train_data: str | Path | None = None, held_out: float = 0.2, epochs: int = 8,
             synthetic: int | None = None, weight: float = 1.0, limit: int | None = None, seed: int = 0,
             overrides: list[str] | None = None, calibration_count: int = 64) -> dict:
    """Run the five steps of the module docstring; returns the summary (also ``summary.json``)."""
    from slidercaptcha.config import RealSetConfig, load_config
    from slidercaptcha.evaluation.evaluate import evaluate, load_for_evaluation
    from slidercaptcha.evaluation.report import write_report
    from slidercaptcha.inference.export import package
    from slidercaptcha.train.engine import train

    out, data = Path(out), Path(data)
    records, fmt = usable(data, fmt)
    if train_data is None:
        train_recs, val_recs = split_by_image(records, held_out, seed)
        train_src = data
    else:
        train_src = Path(train_data)
        train_recs, val_recs = usable(train_src, "auto")[0], records
    if limit:  # the first `limit` training images of each group (vendor, set): how few labels suffice
        train_recs = first_per_group(train_recs, limit)
    if not train_recs or not val_recs:
        raise ValueError(f"{len(train_recs)} training and {len(val_recs)} held-out images: need some of each")
    train_manifest = write_set(train_recs, train_src, out / "data" / "train.jsonl")
    val_manifest = write_set(val_recs, data, out / "data" / "heldout.jsonl")
    print(f"{len(train_recs)} training images, {len(val_recs)} held out -> {out / 'data'}")

    model, base_cfg, _ = load_for_evaluation(start)
    del model
    cfg_over = [
        f"model.variant={base_cfg.model.variant}", f"model.input_size={list(base_cfg.model.input_size)}",
        f"training.num_epochs={epochs}", f"training.scheduler.T_0={max(1, epochs - 1)}",
        f"training.seed={seed}",
        f"data.val_manifest={val_manifest}",
        f"checkpoints.save_dir={out / 'checkpoints'}",
        f"logging.log_dir={out / 'logs'}", f"logging.tensorboard_dir={out / 'runs'}",
        *([f"data.samples_per_epoch={synthetic}"] if synthetic else []),
        *(overrides or []),
    ]
    cfg = load_config(RECIPE, cfg_over)
    cfg.data.real = [RealSetConfig(path=str(train_manifest), format="manifest", weight=weight)]

    print("==> scoring the starting model on the held-out images")
    before = evaluate(start, val_manifest, out / "results" / "before")
    print("==> fine-tuning")
    started = time.perf_counter()
    summary_train = train(cfg, init_from=start)
    minutes = (time.perf_counter() - started) / 60
    best = out / "checkpoints" / "best_model.pth"
    print("==> scoring the fine-tuned model on the held-out images")
    after = evaluate(best, val_manifest, out / "results" / "after")
    report = write_report(out / "results" / "after", [str(out / "checkpoints")])
    files = package(best, out / "model", calibration_count=calibration_count)
    summary = {
        "data": str(data), "format": fmt, "train_data": str(train_src), "start": str(start),
        "n_train": len(train_recs), "n_heldout": len(val_recs), "epochs": epochs,
        "train_minutes": minutes, "best_epoch": summary_train.get("best_epoch"),
        "before": {"accuracy@5px": before["overall"]["accuracy@5px"], "per_group": per_group(before)},
        "after": {"accuracy@5px": after["overall"]["accuracy@5px"], "per_group": per_group(after)},
        "report": str(report), "model": [str(f) for f in files],
    }
    atomic_write_json(out / "summary.json", summary)
    return summary


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="your labelled captchas (folder or label file)")
    p.add_argument("--format", default="auto", choices=("auto", *FORMATS), help="label format (default: auto)")
    p.add_argument("--out", default="finetune/run", help="output folder (default: %(default)s)")
    p.add_argument("--from", dest="start", default=str(SHIPPED_WEIGHTS),
                   help="weights to start from: .safetensors or .pth (default: the shipped model)")
    p.add_argument("--train-data", help="train on this labelled set and hold out all of --data (no split)")
    p.add_argument("--held-out", type=float, default=0.2, help="share of --data held out (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=8, help="(default: %(default)s)")
    p.add_argument("--synthetic", type=int, help="generated captchas per epoch (default: the recipe's)")
    p.add_argument("--weight", type=float, default=1.0, help="times each real image is shown per epoch")
    p.add_argument("--limit", type=int, help="use only the first N training images of each group (vendor)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--calibration-count", type=int, default=64, help="generated captchas for INT8 calibration")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe key, e.g. --set training.optimizer.lr=3e-4")


def run(args: argparse.Namespace) -> int:
    s = finetune(args.data, args.out, args.format, args.start, args.train_data, args.held_out, args.epochs,
                 args.synthetic, args.weight, args.limit, args.seed, args.overrides, args.calibration_count)
    print(f"\nheld-out accuracy@5px: {s['before']['accuracy@5px']:.1f}% -> {s['after']['accuracy@5px']:.1f}% "
          f"({s['n_train']} training images, {s['train_minutes']:.1f} min)")
    for group, acc in s["after"]["per_group"].items():
        print(f"  {group:20s} {s['before']['per_group'].get(group, float('nan')):5.1f}% -> {acc:5.1f}%")
    print(f"report {s['report']}\nmodel  {Path(s['model'][0]).parent}  (SliderSolver.load(...))")
    return 0
