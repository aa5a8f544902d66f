"""``slidercaptcha evaluate``: score a checkpoint on a labelled set, write metrics and predictions.

Scoring goes through :func:`slidercaptcha.train.validate.predict_loader` and
:mod:`slidercaptcha.metrics`, so a number here means what the same number meant in
training validation. Outputs, in ``<out>/<name>/``:

- ``metrics.json``: overall, per component, per sample type and per mode metrics, the
  failure summary, skipped files with reasons, and model time per image;
- ``predictions.csv``: one row per evaluated image (truth, prediction, errors, scores);
- ``failures.json``: every sample above the failure threshold with its reasons.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from slidercaptcha.checkpoint import load_checkpoint, load_model
from slidercaptcha.config import config_from_dict
from slidercaptcha.data.dataset import LabelledDataset, read_usable, require_usable
from slidercaptcha.data.labels import (
    FORMATS,
    LabelRecord,
    data_root,
)
from slidercaptcha.decode import SLIDER_THRESHOLD
from slidercaptcha.evaluation import failures
from slidercaptcha.inference.backends import SHIPPED_WEIGHTS, TorchBackend, load_safetensors_model
from slidercaptcha.metrics import summarize
from slidercaptcha.train.validate import errors_of, predict_loader
from slidercaptcha.utils.io import atomic_write_json, atomic_write_text

log = logging.getLogger("slidercaptcha.evaluate")

PREDICTION_COLUMNS = (
    "file",
    "sample_type",
    "mode",
    "width",
    "height",
    "has_slider",
    "gap_x",
    "gap_y",
    "slider_x",
    "slider_y",
    "gap_angle",
    "pred_gap_x",
    "pred_gap_y",
    "pred_slider_x",
    "pred_slider_y",
    "pred_angle",
    "gap_error",
    "slider_error",
    "error",
    "distance_error",
    "angle_error",
    "gap_score",
    "slider_score",
)


# ----------------------------------------------------------------------------- data
# ----------------------------------------------------------------------------- metrics
def subset_metrics(errors: dict[str, np.ndarray], keys: np.ndarray) -> dict[str, dict]:
    """summarize() for each distinct key (sample type, mode), with its share of the set."""
    out = {}
    for key in sorted(set(keys.tolist()), key=lambda k: (-(keys == k).sum(), k)):
        sel = keys == key
        out[key] = {
            "share": float(100.0 * sel.mean()),
            **summarize({k: v[sel] for k, v in errors.items()}),
        }
    return out


VISIBILITY_BINS = (1.5, 2.0, 3.0, 5.0)  # edges of the visibility groups (render.outline_visibility)


def visibility_group(v: float) -> str:
    """The visibility bin of a gap or drawn slider, e.g. "1.5–2" or "≥5"."""
    for lo, hi in zip((0.0, *VISIBILITY_BINS), VISIBILITY_BINS, strict=False):
        if v < hi:
            return f"{lo:g}–{hi:g}"
    return f"≥{VISIBILITY_BINS[-1]:g}"


def _by_visibility(errors: dict[str, np.ndarray], values: list[float | None]) -> dict[str, dict]:
    """Metrics per visibility bin, faintest first; records without a value (None) left out."""
    groups = subset_metrics(errors, np.array(["" if v is None else visibility_group(v) for v in values]))
    order = [visibility_group(v) for v in (0.0, *VISIBILITY_BINS)]
    return {g: groups[g] for g in order if g in groups}


def generator_groups(records: list[LabelRecord], errors: dict[str, np.ndarray]) -> dict[str, dict]:
    """Accuracy per generator style (largest first), per gap-visibility bin and per drawn-slider
    visibility bin (composites; faintest first), when the manifest records them (generated since
    styles, and since the slider floor); empty otherwise."""
    out = {}
    if records and all("style" in r.meta for r in records):
        out["per_style"] = subset_metrics(errors, np.array([r.meta["style"] for r in records]))
    for key, field in (("per_visibility", "gap_visibility"), ("per_slider_visibility", "slider_visibility")):
        if records and all(field in r.meta for r in records):
            groups = _by_visibility(errors, [r.meta[field] for r in records])
            if groups:
                out[key] = groups
    return out


def components(overall: dict) -> dict[str, dict]:
    """The spec's component table (gap, slider) plus sliding distance and angle."""
    table = {
        part: {
            "mae": overall[f"{part}_mae"],
            **{f"accuracy@{k}px": overall[f"{part}_accuracy@{k}px"] for k in (3, 5, 10)},
        }
        for part in ("gap", "slider")
    }
    table["distance"] = {
        "mae": overall["distance_mae"],
        "accuracy@5px": overall["distance_accuracy@5px"],
    }
    table["angle"] = {"mae": overall["angle_error"]}
    return table


def _num(v) -> float | None:
    v = float(v)
    return None if np.isnan(v) else v


def prediction_rows(records: list[LabelRecord], pred: dict, errors: dict, root: Path) -> list[dict]:
    rows = []
    for j, i in enumerate(pred["index"].astype(int)):
        r = records[i]
        slider = r.slider or (None, None)
        rows.append(
            {
                "file": os.path.relpath(r.file, root),
                "sample_type": r.sample_type,
                "mode": r.mode,
                "width": r.size[0],
                "height": r.size[1],
                "has_slider": int(r.has_slider),
                "gap_x": r.gap[0],
                "gap_y": r.gap[1],
                "slider_x": slider[0],
                "slider_y": slider[1],
                "gap_angle": r.gap_angle,
                "pred_gap_x": _num(pred["pred_gap"][j, 0]),
                "pred_gap_y": _num(pred["pred_gap"][j, 1]),
                "pred_slider_x": _num(pred["pred_slider"][j, 0]),
                "pred_slider_y": _num(pred["pred_slider"][j, 1]),
                "pred_angle": _num(pred["pred_angle"][j]),
                "gap_error": _num(errors["gap"][j]),
                "slider_error": _num(errors["slider"][j]),
                "error": _num(errors["error"][j]),
                "distance_error": _num(errors["distance"][j]),
                "angle_error": _num(errors["angle"][j]),
                "gap_score": _num(pred["gap_score"][j]),
                "slider_score": _num(pred["slider_score"][j]),
            }
        )
    return rows


def write_predictions(path: Path, rows: list[dict]) -> None:
    lines = [",".join(PREDICTION_COLUMNS)]
    for row in rows:
        lines.append(",".join(_csv_cell(row[c]) for c in PREDICTION_COLUMNS))
    atomic_write_text(path, "\n".join(lines) + "\n")


def _csv_cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4f}"
    text = str(v)
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if any(c in text for c in ',"\n') else text


def read_predictions(path: str | Path) -> dict[str, np.ndarray]:
    """predictions.csv → columns as arrays (numbers as float with NaN for blanks)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    text = {"file", "sample_type", "mode"}
    return {
        c: np.array([r[c] for r in rows])
        if c in text
        else np.array([float(r[c]) if r[c] != "" else np.nan for r in rows], dtype=float)
        for c in PREDICTION_COLUMNS
    }


def solve_as_the_api(model, records: list[LabelRecord], pred: dict, root: Path, pieces: bool = True,
                     align: bool = True, weigh_gaps: bool = True) -> dict[str, int]:
    """Score what a user of ``SliderSolver`` gets, not the raw heatmaps: separate-form
    captchas with a piece file are solved with it (``solve(image, piece=...)`` searches the
    image for where the piece fits, with the heatmap as a prior where the fit alone is in
    doubt), where the model sees a drawn slider, the solver's answer replaces the decoded
    points (the slider matched against the gap and along its row: ``align_drawn_slider``), and
    where it sees none, the solver's gap replaces the decoded one (the heatmap's peaks weighed
    by their outlines: ``pick_gap``). Returns how many predictions each step replaced (for the
    weighing: moved by more than a pixel)."""
    from slidercaptcha.inference.matching import ALIGN_MIN_SCORE
    from slidercaptcha.inference.solver import SliderSolver

    done = {"pieces_used": 0, "aligned": 0, "gaps_weighed": 0}
    solver = None

    def api() -> SliderSolver:  # built on first use: stand-in models in tests have no input_size
        nonlocal solver
        solver = solver or SliderSolver(TorchBackend(model), align=align, weigh_gaps=weigh_gaps)
        return solver

    for k, i in enumerate(pred["index"].astype(int)):
        rec = records[i]
        piece = root / rec.meta["piece_file"] if rec.mode == "separate" and rec.meta.get("piece_file") else None
        if pieces and piece is not None and piece.is_file():
            pred["pred_gap"][k] = api().solve(rec.file, piece=piece).gap
            done["pieces_used"] += 1
        elif align and pred["slider_score"][k] >= SLIDER_THRESHOLD:
            res = api().solve(rec.file)
            if res.slider is not None:
                pred["pred_gap"][k], pred["pred_slider"][k] = res.gap, res.slider
                done["aligned"] += (res.match_score or -1.0) >= ALIGN_MIN_SCORE  # below it: as decoded
        elif weigh_gaps and pred["slider_score"][k] < SLIDER_THRESHOLD:
            res = api().solve(rec.file)
            if res.slider is None:
                done["gaps_weighed"] += bool(np.hypot(*np.subtract(res.gap, pred["pred_gap"][k])) > 1)
                pred["pred_gap"][k] = res.gap
    return done


def group_name(records: list[LabelRecord]) -> str:
    """What ``sample_type`` means for this set: the vendor or subset of a real set, else the
    generator's sample type."""
    if records and all(r.meta.get("vendor") for r in records):
        return "Vendor"
    if records and all(r.meta.get("set") for r in records):
        return "Set"
    return "Sample type"


def load_for_evaluation(path: str | Path) -> tuple:
    """A training checkpoint (.pth) or shipped weights (.safetensors + JSON, as in the package)
    → (model, config, epoch); the config of shipped weights is the default one with their
    variant and input size, which is all scoring reads from it."""
    if Path(path).suffix.lower() != ".safetensors":
        model, cfg = load_model(path)
        return model, cfg, load_checkpoint(path).get("epoch")
    model, variant = load_safetensors_model(Path(path))
    cfg = config_from_dict({"model": {"variant": variant, "input_size": list(model.input_size)}})
    return model, cfg, None


# ----------------------------------------------------------------------------- main flow
def evaluate(
    checkpoint: str | Path,
    data: str | Path,
    out_dir: str | Path,
    fmt: str = "auto",
    batch_size: int = 16,
    joint: bool = True,
    workers: int = 0,
    threshold: float = failures.THRESHOLD,
    use_pieces: bool = True,
    align: bool = True,
    weigh_gaps: bool = True,
) -> dict:
    """Score ``checkpoint`` on ``data`` and write the outputs to ``out_dir``; returns metrics.

    use_pieces, align, weigh_gaps: score as the solver API solves (:func:`solve_as_the_api`);
    all off score the model's decoded heatmaps alone.
    """
    model, cfg, epoch = load_for_evaluation(checkpoint)
    model = model.to(memory_format=torch.channels_last)  # as TorchBackend runs it: 1.4-1.7x faster on CPU
    records, skipped, fmt = read_usable(data, fmt)
    found = len(records) + len(skipped)
    require_usable(data, records, skipped)
    loader = DataLoader(
        LabelledDataset(records, tuple(cfg.model.input_size)),
        batch_size=batch_size,
        num_workers=workers,
    )
    pred = predict_loader(model, loader, torch.device("cpu"), cfg.loss, joint=joint)
    root = data_root(Path(data))
    api_steps = solve_as_the_api(model, records, pred, root, use_pieces, align, weigh_gaps)
    for k, i in enumerate(pred["index"].astype(int)):  # labels with several boxes: either one counts
        if records[i].meta.get("gap_alternatives"):
            pred["gap"][k] = records[i].gap_nearest(tuple(pred["pred_gap"][k]))
    errors = errors_of(pred)
    ordered = [records[i] for i in pred["index"].astype(int)]
    fails = failures.analyze(ordered, errors, threshold)
    overall = summarize(errors)
    metrics = {
        "checkpoint": str(checkpoint),
        "epoch": epoch,
        "model": cfg.model.variant,
        "input_size": list(cfg.model.input_size),
        "run_dir": cfg.checkpoints.save_dir,
        "data": str(data),
        "data_root": str(root),
        "format": fmt,
        "joint_decode": joint,
        **api_steps,
        "n_found": found,
        "n_evaluated": len(records),
        "n_skipped": len(skipped),
        "skipped": [vars(s) for s in skipped],
        "inference": {
            "device": "cpu",
            "batch_size": batch_size,
            "model_ms_per_image": pred["model_ms_per_image"],
            "threads": torch.get_num_threads(),
        },
        "loss": pred["loss"],
        "overall": overall,
        "components": components(overall),
        "group_by": group_name(ordered),
        "per_sample_type": subset_metrics(errors, pred["sample_type"]),
        "per_mode": subset_metrics(errors, np.array([r.mode for r in ordered])),
        **generator_groups(ordered, errors),
        "failures": failures.summary(fails, threshold),
    }
    out = Path(out_dir)
    atomic_write_json(out / "metrics.json", metrics)
    write_predictions(out / "predictions.csv", prediction_rows(records, pred, errors, root))
    atomic_write_json(
        out / "failures.json", [dict(f, file=os.path.relpath(f["file"], root)) for f in fails]
    )
    return metrics


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--checkpoint",
        help="checkpoint .pth (e.g. checkpoints/1.1.0/best_model.pth) or .safetensors weights "
        "(default: the model shipped in the package)",
    )
    p.add_argument(
        "--data", required=True, help="dataset folder or label file (manifest, LabelMe, YOLO, CSV)"
    )
    p.add_argument(
        "--format", default="auto", choices=("auto", *FORMATS), help="label format (default: auto)"
    )
    p.add_argument("--name", help="results sub-folder (default: the data folder's name)")
    p.add_argument("--out", default="results", help="results root (default: %(default)s)")
    p.add_argument("--batch_size", "--batch-size", type=int, default=16)
    p.add_argument(
        "--workers", type=int, default=0, help="data loader workers (default: %(default)s)"
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=failures.THRESHOLD,
        help="failure threshold in px (default: %(default)s)",
    )
    for flag, text in (
        ("joint", "decode gap and slider on one row"),
        ("pieces", "solve separate-form captchas with their piece file, as the solver API does"),
        ("align", "match a drawn slider against the gap, as the solver API does"),
        ("weigh-gaps", "weigh a gap-only captcha's heatmap peaks by their outlines, as the solver API does"),
    ):
        p.add_argument(f"--{flag}", action=argparse.BooleanOptionalAction, default=True,
                       help=f"{text} (default: on)")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if args.threshold <= 0:
        raise ValueError(f"--threshold must be a positive distance in px, got {args.threshold:g}")
    data = Path(args.data)
    name = args.name or (data.stem if data.is_file() else data.resolve().name)
    out = Path(args.out) / name
    m = evaluate(
        args.checkpoint or SHIPPED_WEIGHTS,
        data,
        out,
        args.format,
        args.batch_size,
        args.joint,
        args.workers,
        args.threshold,
        args.pieces,
        args.align,
        args.weigh_gaps,
    )
    o = m["overall"]
    print(
        f"{m['n_evaluated']} images scored, {m['n_skipped']} skipped | MAE {o['mae']:.2f}px | "
        f"Acc@3/5/10px {o['accuracy@3px']:.1f}/{o['accuracy@5px']:.1f}/{o['accuracy@10px']:.1f}% | "
        f"{m['failures']['count']} failures > {m['failures']['threshold']:g}px | "
        f"{m['inference']['model_ms_per_image']:.1f} ms/image"
    )
    for s in m["skipped"]:
        print(f"skipped {s['file']}: {s['reason']}")
    print(f"wrote {out / 'metrics.json'}, {out / 'predictions.csv'}, {out / 'failures.json'}")
    return 0
