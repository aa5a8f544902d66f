"""The spec's figures (可视化监控), all computed from a run's history and real predictions.

- ``training_curves.png``: loss, MAE (5 px target), accuracy@3/5/10 (98 % target), LR (log);
- ``error_distribution.png``: gap and slider error histograms with the 5 px line and MAE;
- ``confusion_matrix.png``: error range × sample type, counts from ``predictions.csv``;
- ``worst_predictions.png``: the worst images with true (green) and predicted (red) points.

Labels are English by default; ``lang="zh"`` switches to Chinese only when a CJK font is
installed (otherwise the glyphs would render as boxes), and says so when it falls back.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from slidercaptcha.data.dataset import load_rgb  # noqa: E402
from slidercaptcha.evaluation.evaluate import read_predictions  # noqa: E402
from slidercaptcha.metrics import TARGETS  # noqa: E402

log = logging.getLogger("slidercaptcha.plots")

DPI = 300
CJK_FONTS = (
    "Noto Sans CJK",
    "Noto Serif CJK",
    "Source Han Sans",
    "WenQuanYi",
    "SimHei",
    "Microsoft YaHei",
    "PingFang",
    "Heiti",
    "AR PL",
    "Droid Sans Fallback",
)
ERROR_RANGES = ((0.0, 3.0), (3.0, 5.0), (5.0, 10.0), (10.0, math.inf))
TEXT = {
    "en": {
        "loss_title": "Loss",
        "train": "train",
        "val": "validation",
        "mae_title": "Mean absolute error",
        "mae_axis": "MAE (pixels)",
        "target": "target",
        "acc_title": "Accuracy at thresholds",
        "acc_axis": "Accuracy (%)",
        "acc": "accuracy@{k}px",
        "lr_title": "Learning rate schedule",
        "lr_axis": "Learning rate",
        "err_axis": "Error (pixels)",
        "density": "Probability density",
        "gap_err": "Gap position error",
        "slider_err": "Slider position error",
        "no_data": "no samples",
        "matrix_title": "Error range by sample type",
        "range_axis": "Error range",
        "type_axis": "Sample type",
        "worst": "error {e:.1f}px",
        "truth": "truth",
        "pred": "prediction",
        "gap": "gap",
        "slider": "slider",
    },
    "zh": {
        "loss_title": "损失函数变化曲线",
        "train": "训练集",
        "val": "验证集",
        "mae_title": "平均绝对误差变化曲线",
        "mae_axis": "MAE (像素)",
        "target": "目标",
        "acc_title": "不同阈值下的精度变化",
        "acc_axis": "精度 (%)",
        "acc": "精度@{k}px",
        "lr_title": "学习率调度",
        "lr_axis": "学习率",
        "err_axis": "误差 (像素)",
        "density": "概率密度",
        "gap_err": "缺口位置误差分布",
        "slider_err": "滑块位置误差分布",
        "no_data": "无样本",
        "matrix_title": "不同样本类型的误差分布",
        "range_axis": "误差范围",
        "type_axis": "样本类型",
        "worst": "误差 {e:.1f}px",
        "truth": "真实",
        "pred": "预测",
        "gap": "缺口",
        "slider": "滑块",
    },
}
SAMPLE_TYPES = {
    "en": {
        "normal": "normal",
        "confusing_gap": "confusing gap",
        "rotated_gap": "rotated gap",
        "noise": "noise",
        "highlight": "highlight",
        "external": "external",
    },
    "zh": {
        "normal": "普通样本",
        "confusing_gap": "混淆缺口",
        "rotated_gap": "旋转缺口",
        "noise": "噪声样本",
        "highlight": "高亮缺口",
        "external": "外部样本",
    },
}


# ----------------------------------------------------------------------------- style
def cjk_font() -> str | None:
    """Name of an installed font with Chinese glyphs, if any."""
    names = sorted({f.name for f in font_manager.fontManager.ttflist})
    return next((n for key in CJK_FONTS for n in names if key.lower() in n.lower()), None)


def setup_style(lang: str = "en") -> str:
    """Apply the spec's seaborn style; returns the language actually used."""
    sns.set_theme(style="darkgrid")
    if lang != "zh":
        return "en"
    font = cjk_font()
    if font is None:
        log.warning("no CJK font installed (e.g. fonts-noto-cjk); labels fall back to English")
        return "en"
    plt.rcParams["font.sans-serif"] = [font, *plt.rcParams["font.sans-serif"]]
    plt.rcParams["axes.unicode_minus"] = False
    return "zh"


def type_name(sample_type: str, lang: str) -> str:
    return SAMPLE_TYPES[lang].get(sample_type, sample_type)


def range_labels() -> list[str]:
    return [f">{lo:g}px" if math.isinf(hi) else f"{lo:g}-{hi:g}px" for lo, hi in ERROR_RANGES]


def _save(fig, path: Path, dpi: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------- figures
def _series(epochs: list[dict], get) -> tuple[list[int], list[float]]:
    """(epoch, value) where ``get(record)`` has a value (validation may skip epochs)."""
    pairs = [(r["epoch"], get(r)) for r in epochs]
    pairs = [(e, v) for e, v in pairs if v is not None]
    return [e for e, _ in pairs], [v for _, v in pairs]


def training_curves(history: dict, path: Path, lang: str = "en", dpi: int = DPI) -> Path:
    """The spec's 2×2 panel from history.json; dotted lines mark where chained runs begin."""
    t, epochs = TEXT[lang], history["epochs"]
    if not epochs:
        raise ValueError("history has no epochs to plot")
    fig, axes = plt.subplots(2, 2, figsize=(15, 12))
    ax = axes[0, 0]
    ax.plot(*_series(epochs, lambda r: r.get("train_loss")), "b-", label=t["train"], linewidth=2)
    ax.plot(*_series(epochs, lambda r: r.get("val_loss")), "r-", label=t["val"], linewidth=2)
    ax.set(xlabel="Epoch", ylabel="Loss", title=t["loss_title"])
    ax = axes[0, 1]
    ax.plot(*_series(epochs, lambda r: r.get("train_mae")), "b-", label=t["train"], linewidth=2)
    ax.plot(*_series(epochs, lambda r: r.get("val_mae")), "r-", label=t["val"], linewidth=2)
    ax.axhline(
        TARGETS["mae"], color="g", linestyle="--", label=f"{t['target']}: {TARGETS['mae']:g}px"
    )
    ax.set(xlabel="Epoch", ylabel=t["mae_axis"], title=t["mae_title"])
    ax = axes[1, 0]
    for k, style in ((3, "g-"), (5, "b-"), (10, "r-")):
        ax.plot(
            *_series(epochs, lambda r, k=k: (r.get("val_metrics") or {}).get(f"accuracy@{k}px")),
            style,
            label=t["acc"].format(k=k),
            linewidth=2,
        )
    ax.axhline(
        TARGETS["accuracy@5px"],
        color="k",
        linestyle="--",
        label=f"{t['target']}: {TARGETS['accuracy@5px']:g}%",
    )
    ax.set(xlabel="Epoch", ylabel=t["acc_axis"], title=t["acc_title"])
    ax = axes[1, 1]
    ax.plot(*_series(epochs, lambda r: r.get("lr")), color="orange", linewidth=2)
    ax.set(xlabel="Epoch", ylabel=t["lr_axis"], title=t["lr_title"], yscale="log")
    for a in axes.flat:
        for start in history.get("stage_starts", []):  # a fine-tune began here (--init_from)
            a.axvline(start - 0.5, color="gray", linestyle=":", linewidth=1.5)
        a.grid(True, alpha=0.3)
        if a.get_legend_handles_labels()[0]:
            a.legend()
    fig.tight_layout()
    return _save(fig, path, dpi)


def _histogram(ax, errors: np.ndarray, title: str, color: str, t: dict) -> None:
    errors = errors[~np.isnan(errors)]
    ax.set(xlabel=t["err_axis"], ylabel=t["density"])
    if not len(errors):
        ax.set_title(f"{title}\n{t['no_data']}")
        ax.text(
            0.5, 0.5, t["no_data"], ha="center", va="center", transform=ax.transAxes, fontsize=14
        )
        return
    ax.hist(errors, bins=50, density=True, alpha=0.7, color=color, edgecolor="black")
    ax.axvline(
        TARGETS["mae"], color="r", linestyle="--", label=f"{t['target']}: {TARGETS['mae']:g}px"
    )
    ax.set_title(f"{title}\nMAE: {errors.mean():.2f}px")
    ax.legend()


def error_distribution(
    gap_errors: np.ndarray, slider_errors: np.ndarray, path: Path, lang: str = "en", dpi: int = DPI
) -> Path:
    t = TEXT[lang]
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    _histogram(axes[0], np.asarray(gap_errors, float), t["gap_err"], "blue", t)
    _histogram(axes[1], np.asarray(slider_errors, float), t["slider_err"], "green", t)
    fig.tight_layout()
    return _save(fig, path, dpi)


def error_range_matrix(
    errors: np.ndarray, sample_types: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """Counts [types, ranges] of per-sample errors; types ordered by count (most first)."""
    errors, sample_types = np.asarray(errors, float), np.asarray(sample_types)
    types = sorted(set(sample_types.tolist()), key=lambda s: (-(sample_types == s).sum(), s))
    counts = np.array(
        [
            [
                int(((sample_types == s) & (errors >= lo) & (errors < hi)).sum())
                for lo, hi in ERROR_RANGES
            ]
            for s in types
        ],
        dtype=int,
    ).reshape(len(types), len(ERROR_RANGES))
    return counts, types


def error_matrix(
    errors: np.ndarray, sample_types: np.ndarray, path: Path, lang: str = "en", dpi: int = DPI
) -> Path:
    t = TEXT[lang]
    counts, types = error_range_matrix(errors, sample_types)
    fig, ax = plt.subplots(figsize=(8, max(3.0, 1.0 + 0.8 * len(types))))
    sns.heatmap(
        counts,
        annot=True,
        fmt="d",
        cmap="YlOrRd",
        xticklabels=range_labels(),
        yticklabels=[type_name(s, lang) for s in types],
        ax=ax,
    )
    ax.set(title=t["matrix_title"], xlabel=t["range_axis"], ylabel=t["type_axis"])
    ax.tick_params(axis="y", labelrotation=0)
    return _save(fig, path, dpi)


def _gallery_legend(t: dict) -> list:
    marker = dict(linestyle="none", ms=10, mew=2)
    return [
        Line2D(
            [], [], marker="o", mfc="none", mec="lime", label=f"{t['truth']}: {t['gap']}", **marker
        ),
        Line2D([], [], marker="x", color="red", label=f"{t['pred']}: {t['gap']}", **marker),
        Line2D(
            [],
            [],
            marker="s",
            mfc="none",
            mec="lime",
            label=f"{t['truth']}: {t['slider']}",
            **marker,
        ),
        Line2D([], [], marker="+", color="red", label=f"{t['pred']}: {t['slider']}", **marker),
    ]


def worst_predictions(
    pred: dict[str, np.ndarray],
    root: Path,
    path: Path,
    count: int = 8,
    lang: str = "en",
    dpi: int = DPI,
) -> Path:
    """Gallery of the ``count`` largest errors: truth green (○ gap, □ slider), prediction red
    (× gap, + slider)."""
    t = TEXT[lang]
    order = np.argsort(-pred["error"])[:count]
    cols = 2 if len(order) > 1 else 1
    rows = math.ceil(len(order) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, order, strict=False):
        ax.imshow(load_rgb(root / pred["file"][i]))
        mark = {"ms": 12, "mew": 2, "clip_on": False}  # points at the border stay whole
        ax.plot(pred["gap_x"][i], pred["gap_y"][i], "o", mfc="none", mec="lime", **mark)
        ax.plot(pred["pred_gap_x"][i], pred["pred_gap_y"][i], "x", color="red", **mark)
        if pred["has_slider"][i]:
            ax.plot(pred["slider_x"][i], pred["slider_y"][i], "s", mfc="none", mec="lime", **mark)
            ax.plot(pred["pred_slider_x"][i], pred["pred_slider_y"][i], "+", color="red", **mark)
        ax.set_title(
            f"{pred['file'][i]} | {type_name(pred['sample_type'][i], lang)} | "
            f"{t['worst'].format(e=pred['error'][i])}",
            fontsize=9,
        )
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))
    fig.legend(handles=_gallery_legend(t), loc="upper center", ncol=4, frameon=False)
    return _save(fig, path, dpi)


# ----------------------------------------------------------------------------- bundles
def read_history(runs: list[Path]) -> dict:
    """history.json of one run folder (or the file itself), or of several that continue one
    another (fine-tunes started with ``--init_from``), chained by :func:`chain_histories`."""
    histories = []
    for run in map(Path, runs):
        path = run / "history.json" if run.is_dir() else run
        if not path.is_file():
            raise FileNotFoundError(f"no history.json at {path}")
        histories.append(json.loads(path.read_text(encoding="utf-8")))
    return chain_histories(histories)


def chain_histories(histories: list[dict]) -> dict:
    """Several runs as one history: epochs numbered on across runs, training times summed,
    the best epoch taken from the last run (the one whose weights are evaluated), and the
    first epoch of every later run kept in ``stage_starts`` for the curves to mark."""
    if len(histories) == 1:
        return histories[0]
    *earlier, last = histories
    offsets = [0]
    for h in earlier:  # a run continues from the last epoch its parent recorded (it may have stopped early)
        offsets.append(offsets[-1] + (h["epochs"][-1]["epoch"] if h["epochs"] else 0))
    epochs = [{**r, "epoch": r["epoch"] + off} for h, off in zip(histories, offsets, strict=True)
              for r in h["epochs"]]
    return {**last, "epochs": epochs, "stage_starts": [off + 1 for off in offsets[1:]],
            "num_epochs": offsets[-1] + last.get("num_epochs", len(last["epochs"])),
            "best_epoch": last["best_epoch"] + offsets[-1],
            "train_seconds": sum(h["train_seconds"] for h in histories)}


def plot_results(
    results_dir: Path, out_dir: Path | None = None, lang: str = "en", dpi: int = DPI
) -> dict[str, Path]:
    """The three prediction figures from ``results_dir``'s predictions.csv and metrics.json."""
    out = out_dir or results_dir
    metrics = json.loads((results_dir / "metrics.json").read_text(encoding="utf-8"))
    pred = read_predictions(results_dir / "predictions.csv")
    root = Path(metrics["data_root"])
    return {
        "error_distribution": error_distribution(
            pred["gap_error"], pred["slider_error"], out / "error_distribution.png", lang, dpi
        ),
        "confusion_matrix": error_matrix(
            pred["error"], pred["sample_type"], out / "confusion_matrix.png", lang, dpi
        ),
        "worst_predictions": worst_predictions(
            pred, root, out / "worst_predictions.png", lang=lang, dpi=dpi
        ),
    }


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--run",
        nargs="+",
        help="run folder with history.json (e.g. checkpoints/1.1.0), or the file itself; "
        "several runs that continue one another (--init_from) plot as one curve",
    )
    p.add_argument(
        "--results", help="evaluation folder (results/<name>): also draw the prediction figures"
    )
    p.add_argument("--out", help="where to write (default: --results, else results/)")
    p.add_argument(
        "--lang", choices=("en", "zh"), default="en", help="label language (zh needs a CJK font)"
    )
    p.add_argument("--dpi", type=int, default=DPI)


def run(args: argparse.Namespace) -> int:
    if not args.run and not args.results:
        raise ValueError("pass --run (training curves) and/or --results (prediction figures)")
    lang = setup_style(args.lang)
    out = Path(args.out or args.results or "results")
    written = []
    if args.run:
        written.append(
            training_curves(
                read_history(args.run), out / "training_curves.png", lang, args.dpi
            )
        )
    if args.results:
        written += plot_results(Path(args.results), out, lang, args.dpi).values()
    for path in written:
        print(f"wrote {path}")
    return 0
