"""``slidercaptcha report``: ``results/<name>/evaluation_report.md`` in the shape of the spec's
模型评估报告, with the figures drawn next to it.

Every number is read from ``metrics.json`` (written by ``evaluate``) or the run's
``history.json``; targets and their ✅/❌ come from :mod:`slidercaptcha.metrics`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from slidercaptcha.evaluation import plots
from slidercaptcha.metrics import TARGETS, meets_target
from slidercaptcha.utils.io import atomic_write_text

OVERFIT_LEVELS = (
    (0.0, "none (validation loss ≤ training loss)"),
    (10.0, "slight (< 10 %)"),
    (30.0, "moderate (10–30 %)"),
    (float("inf"), "severe (> 30 %)"),
)


# ----------------------------------------------------------------------------- formatting
def px(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f} px"


def pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}%"


def mark(ok: bool | None) -> str:
    return "" if ok is None else " ✅" if ok else " ❌"


def target_text(name: str) -> str:
    unit = "%" if name.startswith("accuracy") else " px"
    return f"(target: {'>' if name.startswith('accuracy') else '<'}{TARGETS[name]:g}{unit})"


def duration(seconds: float) -> str:
    minutes, sec = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}min {sec}s" if hours else f"{minutes}min {sec}s"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


# ----------------------------------------------------------------------------- sections
def basic_metrics(m: dict) -> list[str]:
    o, inf = m["overall"], m["inference"]
    lines = [
        f"- **{label}**: {fmt(o[key])}{mark(meets_target(key, o[key]))} {target_text(key)}"
        for label, key, fmt in (
            ("Overall MAE", "mae", px),
            ("Accuracy@5px", "accuracy@5px", pct),
            ("Accuracy@3px", "accuracy@3px", pct),
            ("Accuracy@10px", "accuracy@10px", pct),
        )
    ]
    ms = inf["model_ms_per_image"]
    ok = ms < TARGETS["inference_ms"] if inf["device"] == "cpu" else None
    lines.append(
        f"- **Inference speed**: {ms:.2f} ms/image ({inf['device'].upper()}, "
        f"batch {inf['batch_size']}, {inf['threads']} threads, model only){mark(ok)} "
        f"(target: <{TARGETS['inference_ms']:g} ms on CPU)"
    )
    lines.append(
        f"- **Sliding distance error**: {px(o['distance_mae'])} "
        f"(within 5 px: {pct(o['distance_accuracy@5px'])})"
    )
    lines.append(
        "- **Angle error** (rotated gaps): "
        + ("n/a" if o["angle_error"] is None else f"{o['angle_error']:.2f}°")
        + mark(meets_target("angle_error", o["angle_error"]))
        + f" (target: <{TARGETS['angle_error']:g}°)"
    )
    return lines


def component_table(m: dict) -> list[str]:
    rows = [
        [
            name,
            px(c["mae"]) + mark(meets_target(f"{part}_mae", c["mae"])),
            pct(c["accuracy@5px"]),
            pct(c["accuracy@3px"]),
            pct(c["accuracy@10px"]),
        ]
        for name, part in (("Gap", "gap"), ("Slider", "slider"))
        for c in [m["components"][part]]
    ]
    return table(["Component", "MAE", "Accuracy@5px", "Accuracy@3px", "Accuracy@10px"], rows)


def difficult_table(groups: dict, label: str) -> list[str]:
    rows = [
        [
            plots.type_name(key, "en"),
            str(g["n"]),
            pct(g["share"]),
            px(g["mae"]),
            pct(g["accuracy@5px"]),
        ]
        for key, g in groups.items()
    ]
    return table([label, "Count", "Share", "MAE", "Accuracy@5px"], rows)


def generator_tables(m: dict) -> list[str]:
    """Accuracy per generator style, per gap visibility and per drawn-slider visibility, for sets
    that record them."""
    lines = []
    if "per_style" in m:
        lines += [*difficult_table(m["per_style"], "Generator style"), ""]
    if "per_visibility" in m:
        lines += [*difficult_table(m["per_visibility"], "Gap visibility"), ""]
    if "per_slider_visibility" in m:
        lines += [*difficult_table(m["per_slider_visibility"], "Drawn slider visibility (composites)"), ""]
    return lines


def overfitting(train_loss: float, val_loss: float) -> tuple[float, str]:
    """Relative train/val loss gap in percent, and its level."""
    gap = 100.0 * (val_loss - train_loss) / abs(train_loss) if train_loss else float("inf")
    return gap, next(text for limit, text in OVERFIT_LEVELS if gap <= limit)


def training_summary(history: dict | None, source: str) -> list[str]:
    if history is None:
        return [f"No history.json found ({source}); pass `--run checkpoints/<version>`."]
    epochs = history["epochs"]
    last = epochs[-1]
    validated = [r for r in epochs if r.get("val_loss") is not None]
    starts = history.get("stage_starts", [])
    chained = (f" in {len(starts) + 1} chained runs, later ones starting at epochs {', '.join(map(str, starts))}"
               if starts else "")
    lines = [
        f"- **Run**: `{source}`",
        f"- **Total training time**: {duration(history['train_seconds'])} ({len(epochs)} epochs{chained})",
        f"- **Best epoch**: {history['best_epoch']}/{history.get('num_epochs', len(epochs))} "
        f"(val MAE {px(history.get('best_mae'))})",
        f"- **Final loss**: {last['train_loss']:.4f} (train, epoch {last['epoch']})",
    ]
    if validated:
        v = validated[-1]
        gap, level = overfitting(v["train_loss"], v["val_loss"])
        lines.append(f"- **Final validation loss**: {v['val_loss']:.4f} (epoch {v['epoch']})")
        lines.append(
            f"- **Overfitting**: {level}; train/val loss gap {gap:.1f}% "
            f"(train {v['train_loss']:.4f}, val {v['val_loss']:.4f})"
        )
    return lines


def api_steps(m: dict) -> list[str]:
    """What `evaluate` did beyond the heatmaps, as the solver API does (see solve_as_the_api)."""
    lines = []
    if m.get("pieces_used"):
        lines.append(f"{m['pieces_used']} separate-form captchas were solved with their piece image, as "
                     "`SliderSolver.solve(image, piece=...)` does.")
    if m.get("aligned"):
        lines.append(f"In {m['aligned']} captchas with a drawn slider, matching the slider against the gap "
                     "set the sliding distance, as `SliderSolver` does.")
    if m.get("gaps_weighed"):
        lines.append(f"In {m['gaps_weighed']} gap-only captchas, weighing the heatmap's peaks by their outlines "
                     "took another peak than the heatmap's best, as `SliderSolver` does.")
    return [" ".join(lines), ""] if lines else []


def failure_section(m: dict, failures: list[dict], top: int = 10) -> list[str]:
    f = m["failures"]
    lines = [
        f"{f['count']} of {m['n_evaluated']} samples miss by more than {f['threshold']:g} px "
        f"({f['unexplained']} with no identified reason; a sample may have several).",
        "",
    ]
    lines += table(["Reason", "Count"], [[r, str(n)] for r, n in f["by_reason"].items()])
    if failures:
        lines += ["", f"Worst {min(top, len(failures))}:", ""]
        lines += table(
            ["File", "Type", "Error", "Reasons"],
            [
                [x["file"], x["sample_type"], px(x["error"]), ", ".join(x["reasons"]) or "—"]
                for x in failures[:top]
            ],
        )
    return lines


# ----------------------------------------------------------------------------- assembly
def find_history(metrics: dict, runs: list[str] | None) -> tuple[dict | None, str]:
    """history.json from --run (several chained runs allowed), else beside the checkpoint,
    else the config's save_dir."""
    if runs:
        return plots.read_history(runs), " → ".join(runs)
    candidates = [Path(metrics["checkpoint"]).parent, Path(metrics["run_dir"])]
    for path in (c / "history.json" for c in candidates):
        if path.is_file():
            return plots.read_history([path]), str(path)
    return None, " or ".join(str(c) for c in candidates)


def write_report(
    results: str | Path, runs: list[str] | None = None, lang: str = "en", dpi: int = plots.DPI
) -> Path:
    """Draw the figures and write evaluation_report.md into ``results``."""
    results = Path(results)
    if not (results / "metrics.json").is_file():
        raise FileNotFoundError(f"no metrics.json in {results}: point --results at the folder "
                                "`slidercaptcha evaluate` wrote (results/<name>)")
    m = json.loads((results / "metrics.json").read_text(encoding="utf-8"))
    failures = json.loads((results / "failures.json").read_text(encoding="utf-8"))
    history, source = find_history(m, runs)
    lang = plots.setup_style(lang)
    figures = {}
    if history is not None:
        figures["training_curves"] = plots.training_curves(
            history, results / "training_curves.png", lang, dpi
        )
    figures.update(plots.plot_results(results, lang=lang, dpi=dpi))
    lines = [
        "# Model evaluation report (模型评估报告)",
        "",
        f"Checkpoint `{m['checkpoint']}` ("
        f"{'shipped weights' if m['epoch'] is None else 'epoch ' + str(m['epoch'])}, {m['model']}, "
        f"input {m['input_size']}) on `{m['data']}` ({m['format']}): "
        f"{m['n_evaluated']} images scored, {m['n_skipped']} skipped.",
        "",
        "## Basic metrics (基础指标)",
        "",
        *basic_metrics(m),
        "",
        "## Components (分项指标)",
        "",
        *component_table(m),
        "",
        "## Difficult samples (困难样本表现)",
        "",
        *difficult_table(m["per_sample_type"], m.get("group_by", "Sample type")),
        "",
        *difficult_table(m["per_mode"], "Captcha form"),
        "",
        *generator_tables(m),
        *api_steps(m),
        "## Training (训练过程)",
        "",
        *training_summary(history, source),
        "",
        "## Failure analysis (失败案例分析)",
        "",
        *failure_section(m, failures),
        "",
    ]
    if m["skipped"]:
        lines += [
            "## Skipped files",
            "",
            *(f"- `{s['file']}`: {s['reason']}" for s in m["skipped"]),
            "",
        ]
    lines += ["## Figures", ""]
    for name, path in figures.items():
        lines += [f"![{name.replace('_', ' ')}]({path.name})", ""]
    return atomic_write_text(results / "evaluation_report.md", "\n".join(lines))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--results", required=True, help="evaluation folder written by `evaluate` (results/<name>)"
    )
    p.add_argument(
        "--run",
        nargs="+",
        help="training run folder with history.json (default: the checkpoint's folder); "
        "several runs that continue one another (--init_from) report as one",
    )
    p.add_argument(
        "--lang", choices=("en", "zh"), default="en", help="figure labels (zh needs a CJK font)"
    )
    p.add_argument("--dpi", type=int, default=plots.DPI)


def run(args: argparse.Namespace) -> int:
    path = write_report(args.results, args.run, args.lang, args.dpi)
    print(f"wrote {path} and its figures")
    return 0
