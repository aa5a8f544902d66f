"""evaluate → report on real files: scoring per format, skipped files, plots, report numbers."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_data_labels import GAP, SLIDER, WRITERS, captcha
from torch import nn

from slidercaptcha.checkpoint import rng_state, save_checkpoint
from slidercaptcha.cli import main
from slidercaptcha.config import Config
from slidercaptcha.data.labels import LabelRecord
from slidercaptcha.evaluation import evaluate as ev
from slidercaptcha.evaluation import failures, plots, report
from slidercaptcha.evaluation.doctor import gradient_check, output_range_check, random_batch
from slidercaptcha.model import model_from_config

INPUT = [128, 256]


def tiny_config(save_dir: Path) -> Config:
    cfg = Config()
    cfg.model.variant, cfg.model.input_size = "lite-hrnet-18-fpn-s", list(INPUT)
    cfg.checkpoints.save_dir = str(save_dir)
    return cfg


def history(epochs: int = 6) -> dict:
    """A hand-made run: falling losses, validation every other epoch."""
    recs = []
    for e in range(1, epochs + 1):
        val = e % 2 == 0
        m = {
            "mae": 30 / e,
            "accuracy@3px": 10.0 * e,
            "accuracy@5px": 12.0 * e,
            "accuracy@10px": 15.0 * e,
        }
        recs.append(
            {
                "epoch": e,
                "train_loss": 1.0 / e,
                "train_mae": 25 / e,
                "lr": 3e-4 * 0.7**e,
                "val_loss": 1.05 / e if val else None,
                "val_mae": m["mae"] if val else None,
                "val_metrics": m if val else {},
                "epoch_seconds": 61.0,
            }
        )
    return {
        "version": "t",
        "best_mae": 5.0,
        "best_epoch": epochs,
        "train_seconds": 3725.0,
        "num_epochs": epochs,
        "epochs": recs,
    }


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A randomly initialised small checkpoint with its run's history.json."""
    d = tmp_path_factory.mktemp("run")
    cfg = tiny_config(d)
    torch.manual_seed(0)
    model = model_from_config(cfg.model)
    save_checkpoint(
        d / "best_model.pth",
        {
            "epoch": 1,
            "model_state_dict": model.state_dict(),
            "ema_state_dict": None,
            "config": cfg.to_dict(),
            "metrics": {},
            "random_state": rng_state(),
        },
    )
    (d / "history.json").write_text(json.dumps(history()))
    return d


class BlobModel(nn.Module):
    """Stand-in model whose heatmaps peak on the test images' blobs: dark = gap, red = slider."""

    def forward(self, x):
        rgb, mask = x[:, :3], x[:, 3:4]
        dark = (1 - rgb.amax(1, keepdim=True)) * mask
        red = (rgb[:, :1] - rgb[:, 1:].mean(1, keepdim=True)).clamp(0, 1) * mask
        b, _, h, w = x.shape
        zeros = torch.zeros(b, 2, h // 4, w // 4)
        angle = torch.cat([torch.zeros(b, 1, h // 4, w // 4), torch.ones(b, 1, h // 4, w // 4)], 1)
        return {
            "heatmap_gap": F.avg_pool2d(dark, 4),
            "heatmap_slider": F.avg_pool2d(red, 4),
            "offset_gap": zeros,
            "offset_slider": zeros,
            "angle": angle,
        }


@pytest.fixture
def blob_model(monkeypatch, run_dir):
    cfg = tiny_config(run_dir)
    model = BlobModel()
    model.input_size = tuple(cfg.model.input_size)  # as a real model has: the solver reads it
    monkeypatch.setattr(ev, "load_model", lambda path: (model, cfg))


@pytest.mark.parametrize("fmt", WRITERS)
def test_each_format_scores_the_known_gap(tmp_path, blob_model, run_dir, fmt):
    data = WRITERS[fmt](tmp_path / "data")
    m = ev.evaluate(run_dir / "best_model.pth", data, tmp_path / "out", batch_size=2)
    assert m["format"] == fmt and m["n_evaluated"] == 1 and m["n_skipped"] == 0
    # 320×160 → 256×128 canvas: one cell = 5 px; a peak in the right cell is within ~3.6 px
    assert m["overall"]["gap_mae"] < 4 and m["overall"]["slider_mae"] < 4
    row = ev.read_predictions(tmp_path / "out" / "predictions.csv")
    assert row["gap_x"][0] == pytest.approx(GAP[0], abs=1e-3) and row["slider_x"][
        0
    ] == pytest.approx(SLIDER[0])


def test_gap_only_scored_on_gap_and_corrupt_skipped(tmp_path, blob_model, run_dir):
    data = tmp_path / "data"
    captcha(data / "full.png")
    captcha(data / "gaponly.png", slider=None)
    (data / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (data / "labels.csv").write_text(
        "file,gap_x,gap_y,slider_x,slider_y\n"
        f"full.png,{GAP[0]},{GAP[1]},{SLIDER[0]},{SLIDER[1]}\n"
        f"gaponly.png,{GAP[0]},{GAP[1]},,\nbroken.jpg,10,10,,\n"
    )
    m = ev.evaluate(run_dir / "best_model.pth", data, tmp_path / "out", batch_size=4)
    assert (m["n_found"], m["n_evaluated"], m["n_skipped"]) == (3, 2, 1)
    assert m["skipped"][0]["file"].endswith("broken.jpg")
    p = ev.read_predictions(tmp_path / "out" / "predictions.csv")
    i = list(p["file"]).index("gaponly.png")
    assert p["has_slider"][i] == 0 and np.isnan(p["slider_error"][i]) and np.isnan(p["slider_x"][i])
    assert p["error"][i] == pytest.approx(p["gap_error"][i])  # gap alone
    assert m["overall"]["slider_mae"] == pytest.approx(p["slider_error"][1 - i], abs=1e-3)
    assert m["per_mode"]["gap-only"]["n"] == 1


def test_error_range_matrix_counts_every_sample():
    errors = np.array([0.0, 2.99, 3.0, 4.9, 5.0, 9.99, 10.0, 250.0, 1.0])
    types = np.array(["normal"] * 5 + ["noise"] * 4)
    counts, rows = plots.error_range_matrix(errors, types)
    assert rows == ["normal", "noise"] and counts.sum() == len(errors)
    assert counts.tolist() == [[2, 2, 1, 0], [1, 0, 1, 2]]


def test_zh_falls_back_to_english_without_cjk_font(monkeypatch):
    monkeypatch.setattr(plots, "cjk_font", lambda: None)
    assert plots.setup_style("zh") == "en"
    monkeypatch.setattr(plots, "cjk_font", lambda: "Noto Sans CJK SC")
    assert plots.setup_style("zh") == "zh"
    plots.setup_style("en")


def test_failure_reasons_from_record_and_pixels(tmp_path):
    flat = np.full((160, 320), 120, np.uint8)
    record = LabelRecord(
        file=tmp_path / "x.png",
        gap=(300.0, 80.0),
        gap_angle=25.0,
        gap_size=(40.0, 40.0),
        meta={"decoys": [{"x": 100, "y": 80}], "effects": []},
    )
    assert failures.reasons_for(record, flat) == [
        "extreme_rotation",
        "multiple_gaps",
        "edge_position",
        "low_contrast",
    ]
    clear = flat.copy()
    clear[65:95, 145:175] = 20  # a dark gap in the middle
    noisy = np.clip(clear + np.random.default_rng(0).normal(0, 30, clear.shape), 0, 255).astype(
        np.uint8
    )
    plain = LabelRecord(file=tmp_path / "x.png", gap=(160.0, 80.0), gap_size=(40.0, 40.0))
    assert failures.reasons_for(plain, clear) == []
    assert failures.reasons_for(plain, noisy) == ["heavy_noise"]


def test_doctor_checks(run_dir):
    from slidercaptcha.checkpoint import load_model

    model, cfg = load_model(run_dir / "best_model.pth")
    cfg.model.input_size = [64, 128]  # fully convolutional: a smaller batch keeps this fast
    batch = random_batch(cfg, 2)
    assert output_range_check(model, batch["image"]) == []
    named = gradient_check(
        model, cfg, batch, limit=0.0
    )  # every parameter with a gradient is "large"
    assert len(named) == sum(p.requires_grad for p in model.parameters())
    assert all(line.startswith("large gradient in ") for line in named)

    class Overshooting(BlobModel):
        def forward(self, x):
            out = super().forward(x)
            return dict(
                out, offset_gap=out["offset_gap"] + 0.7, heatmap_slider=out["heatmap_slider"] + 2
            )

    problems = output_range_check(Overshooting(), batch["image"])
    assert len(problems) == 2 and "offset_gap" in problems[1] and "heatmap_slider" in problems[0]


def _report_number(text: str, label: str) -> float:
    return float(re.search(rf"\*\*{re.escape(label)}\*\*: ([\d.]+)", text).group(1))


def check_outputs(res: Path, n: int) -> None:
    """Figures exist and are not blank; matrix and report numbers agree with metrics.json."""
    m = json.loads((res / "metrics.json").read_text())
    for name in ("training_curves", "error_distribution", "confusion_matrix", "worst_predictions"):
        assert (res / f"{name}.png").stat().st_size > 5000, name
    p = ev.read_predictions(res / "predictions.csv")
    counts, _ = plots.error_range_matrix(p["error"], p["sample_type"])
    assert counts.sum() == len(p["error"]) == n == m["n_evaluated"]

    text = (res / "evaluation_report.md").read_text()
    o = m["overall"]
    assert _report_number(text, "Overall MAE") == round(o["mae"], 2)
    assert _report_number(text, "Accuracy@5px") == round(o["accuracy@5px"], 2)
    assert _report_number(text, "Accuracy@3px") == round(o["accuracy@3px"], 2)
    assert _report_number(text, "Inference speed") == round(m["inference"]["model_ms_per_image"], 2)
    assert (
        f"| Gap | {o['gap_mae']:.2f} px" in text and f"| Slider | {o['slider_mae']:.2f} px" in text
    )
    for key, g in m["per_sample_type"].items():
        assert (
            f"| {plots.type_name(key, 'en')} | {g['n']} | {g['share']:.2f}% | {g['mae']:.2f} px |"
            in text
        )
    assert f"{m['failures']['count']} of {n} samples miss" in text
    for reason, count in m["failures"]["by_reason"].items():
        assert f"| {reason} | {count} |" in text
    assert "1h 2min 5s" in text and "Best epoch**: 6/6" in text  # from the hand-made history
    gap, level = report.overfitting(1.0 / 6, 1.05 / 6)
    assert f"train/val loss gap {gap:.1f}%" in text and level.startswith("slight")
    for name in ("training_curves", "error_distribution", "confusion_matrix", "worst_predictions"):
        assert f"({name}.png)" in text


def test_evaluate_then_report_numbers_match(tmp_path, blob_model, run_dir):
    data = tmp_path / "data"
    rows = ["file,gap_x,gap_y,slider_x,slider_y,sample_type"]
    for i, (gx, kind) in enumerate(
        [
            (231.5, "normal"),
            (200.0, "normal"),
            (280.0, "noise"),
            (150.0, "noise"),
            (300.0, "rotated_gap"),
        ]
    ):
        captcha(data / f"{i}.png", gap=(gx, 70.0), slider=(30.0, 70.0))
        wrong = 60.0 if i == 4 else gx  # one label off by far: a failure in the report
        rows.append(f"{i}.png,{wrong},70,30,70,{kind}")
    (data / "labels.csv").write_text("\n".join(rows) + "\n")
    ev.evaluate(run_dir / "best_model.pth", data, tmp_path / "res", batch_size=4)
    report.write_report(tmp_path / "res", dpi=40)  # history found beside the checkpoint
    check_outputs(tmp_path / "res", 5)
    m = json.loads((tmp_path / "res" / "metrics.json").read_text())
    assert m["failures"]["count"] == 1 and m["per_sample_type"]["noise"]["n"] == 2


@pytest.mark.slow
def test_generate_evaluate_report_end_to_end(tmp_path, run_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert (
        main(
            [
                "generate",
                "--num_images",
                "16",
                "--output_dir",
                "gen",
                "--enable_confusing_gaps",
                "--enable_rotation",
                "--no_progress",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "evaluate",
                "--checkpoint",
                str(run_dir / "best_model.pth"),
                "--data",
                "gen",
                "--name",
                "e2e",
                "--batch_size",
                "8",
            ]
        )
        == 0
    )
    res = tmp_path / "results" / "e2e"
    assert main(["report", "--results", str(res), "--dpi", "40"]) == 0
    check_outputs(res, 16)


def test_separate_captchas_are_solved_with_their_piece(tmp_path, run_dir):
    """evaluate scores separate-form captchas as the solver API solves them: with the piece."""
    from slidercaptcha.checkpoint import load_model
    from slidercaptcha.inference.backends import TorchBackend
    from slidercaptcha.inference.solver import SliderSolver

    assert main(["generate", "--num_images", "6", "--output_dir", str(tmp_path / "gen"), "--mode", "separate",
                 "--enable_confusing_gaps", "--no_progress"]) == 0
    ckpt = run_dir / "best_model.pth"
    m = ev.evaluate(ckpt, tmp_path / "gen", tmp_path / "out")
    plain = ev.evaluate(ckpt, tmp_path / "gen", tmp_path / "plain", use_pieces=False)
    assert (m["pieces_used"], plain["pieces_used"]) == (6, 0)
    rows = ev.read_predictions(tmp_path / "out" / "predictions.csv")
    solver = SliderSolver(TorchBackend(load_model(ckpt)[0]))
    manifest = [json.loads(line) for line in (tmp_path / "gen" / "manifest.jsonl").read_text().splitlines()]
    for rec in manifest:
        i = list(rows["file"]).index(rec["file"])
        expected = solver.solve(tmp_path / "gen" / rec["file"], piece=tmp_path / "gen" / rec["piece_file"]).gap
        assert (rows["pred_gap_x"][i], rows["pred_gap_y"][i]) == pytest.approx(expected, abs=1e-3)


def test_chained_runs_plot_and_report_as_one_history(tmp_path):
    """A fine-tune started with --init_from continues its parent's curve: epochs numbered on
    from the parent's last recorded epoch, times summed, the best epoch counted from the start."""

    def history(n, best, seconds):
        epochs = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.1 / e, "lr": 1e-3} for e in range(1, n + 1)]
        return {"best_mae": 3.0, "best_epoch": best, "train_seconds": seconds, "num_epochs": n, "epochs": epochs}

    stopped = {**history(3, 3, 100.0), "num_epochs": 4}  # planned 4 epochs, interrupted after 3
    for name, h in (("a", stopped), ("b", history(2, 1, 50.0))):
        (tmp_path / name).mkdir()
        (tmp_path / name / "history.json").write_text(json.dumps(h))
    chained = plots.read_history([tmp_path / "a", tmp_path / "b" / "history.json"])
    assert [r["epoch"] for r in chained["epochs"]] == [1, 2, 3, 4, 5]
    assert chained["stage_starts"] == [4]
    assert (chained["best_epoch"], chained["num_epochs"], chained["train_seconds"]) == (4, 5, 150.0)
    assert chained["epochs"][3]["train_loss"] == 1.0  # run b's first epoch
    assert plots.training_curves(chained, tmp_path / "curves.png", dpi=40).stat().st_size > 0
    summary = "\n".join(report.training_summary(chained, "a → b"))
    assert "2min 30s (5 epochs in 2 chained runs, later ones starting at epochs 4)" in summary
    assert "**Best epoch**: 4/5" in summary


def test_accuracy_per_gap_and_per_drawn_slider_visibility():
    """Generated sets record both visibilities; the slider's only for composites, whose bins
    leave the other forms out."""
    metas = [{"style": "classic", "gap_visibility": 1.7, "slider_visibility": 1.6},
             {"style": "classic", "gap_visibility": 6.0, "slider_visibility": 4.0},
             {"style": "classic", "gap_visibility": 6.0, "slider_visibility": None}]
    records = [LabelRecord(Path(f"{i}.png"), (50.0, 20.0), meta=m) for i, m in enumerate(metas)]
    err = np.array([8.0, 1.0, 2.0])
    errors = {"error": err, "gap": err, "slider": err, "distance": err, "angle": err}
    groups = ev.generator_groups(records, errors)
    assert list(groups["per_visibility"]) == ["1.5–2", "≥5"]
    assert groups["per_visibility"]["≥5"]["n"] == 2 and groups["per_visibility"]["1.5–2"]["accuracy@5px"] == 0
    assert list(groups["per_slider_visibility"]) == ["1.5–2", "3–5"]
    assert sum(g["n"] for g in groups["per_slider_visibility"].values()) == 2
    older = [LabelRecord(Path("old.png"), (50.0, 20.0), meta={"style": "classic", "gap_visibility": 2.5})]
    assert "per_slider_visibility" not in ev.generator_groups(older, {k: v[:1] for k, v in errors.items()})


def test_report_without_metrics_says_which_folder_to_pass(tmp_path):
    from slidercaptcha.evaluation.report import write_report

    with pytest.raises(FileNotFoundError, match="no metrics.json in .*slidercaptcha evaluate"):
        write_report(tmp_path)


def test_a_set_with_nothing_usable_names_the_first_reason(tmp_path, blob_model, run_dir):
    data = tmp_path / "data"
    captcha(data / "a.png")
    (data / "a.txt").write_text("0 0.5 0.5 0.1\n")  # YOLO needs five numbers
    with pytest.raises(ValueError, match=r"no usable labelled images \(1 skipped; first: .*a.png: .*class cx cy w h"):
        ev.evaluate(run_dir / "best_model.pth", data, tmp_path / "out", fmt="yolo")


def test_evaluate_refuses_a_threshold_that_is_not_a_distance(tmp_path, run_dir, capsys):
    assert main(["evaluate", "--checkpoint", str(run_dir / "best_model.pth"), "--data", str(tmp_path),
                 "--threshold", "-1"]) == 2
    assert "--threshold must be a positive distance in px, got -1" in capsys.readouterr().err
