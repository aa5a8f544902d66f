"""``slidercaptcha finetune`` end to end on a tiny labelled set: generated captchas written as
YOLO labels (what a user hands in), a near-duplicate-aware split, before/after scoring, the
report and a model folder that ``SliderSolver.load`` reads."""

import json

import cv2
import numpy as np
import pytest

from slidercaptcha.cli import main as cli
from slidercaptcha.data.split import image_hash, near_duplicate_groups
from slidercaptcha.inference import SliderSolver
from slidercaptcha.inference.backends import PACKAGE_WEIGHTS
from slidercaptcha.inference.samples import generated_captchas

pytestmark = pytest.mark.skipif(not (PACKAGE_WEIGHTS / "default.safetensors").is_file(),
                                reason="no model shipped in src/slidercaptcha/weights")


def yolo_captchas(root, n=10, seed=3):
    """Composite captchas as a user's YOLO set; one label file is broken on purpose."""
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i, cap in enumerate(generated_captchas(n, seed=seed, mode="composite")):
        h, w = cap.image.shape[:2]
        cv2.imwrite(str(root / "images" / f"{i}.png"), cap.image[:, :, ::-1])
        r = cap.record
        box = f"{r['piece_w'] / w} {r['piece_h'] / h}"
        (root / "labels" / f"{i}.txt").write_text(
            f"0 {r['gap_x'] / w} {r['gap_y'] / h} {box}\n1 {r['slider_x'] / w} {r['slider_y'] / h} {box}\n")
    (root / "labels" / "0.txt").write_text("0 0.5\n")  # malformed: reported and left out
    return root


def test_near_duplicates_share_a_group():
    rng = np.random.default_rng(0)
    photo = cv2.GaussianBlur(rng.integers(0, 255, (160, 320, 3), np.uint8), (31, 31), 0)
    other = cv2.GaussianBlur(rng.integers(0, 255, (160, 320, 3), np.uint8), (31, 31), 0)
    with_gap = photo.copy()
    with_gap[60:100, 200:240] //= 2  # the same background with a gap drawn on it
    groups = near_duplicate_groups([image_hash(photo), image_hash(with_gap), image_hash(other)])
    assert groups[0] == groups[1] != groups[2]


def test_finetune_end_to_end(tmp_path, capsys):
    data = yolo_captchas(tmp_path / "mine")
    out = tmp_path / "run"
    code = cli(["finetune", "--data", str(data), "--format", "yolo", "--out", str(out), "--epochs", "1",
                "--held-out", "0.3", "--synthetic", "4", "--calibration-count", "2",
                "--set", "training.batch_size=4", "--set", "data.num_workers=0"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "0.png" in printed and "skipped" in printed  # the broken label is named
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_train"] + summary["n_heldout"] == 9
    assert summary["n_heldout"] >= 1 and summary["n_train"] >= 1
    before = json.loads((out / "results" / "before" / "metrics.json").read_text())
    after = json.loads((out / "results" / "after" / "metrics.json").read_text())
    assert summary["before"]["accuracy@5px"] == before["overall"]["accuracy@5px"]  # summary = the reports
    assert summary["after"]["accuracy@5px"] == after["overall"]["accuracy@5px"]
    assert before["checkpoint"].endswith("default.safetensors") and after["checkpoint"].endswith("best_model.pth")
    assert before["n_evaluated"] == after["n_evaluated"] == summary["n_heldout"]
    held = {json.loads(line)["file"] for line in (out / "data" / "heldout.jsonl").read_text().splitlines()}
    trained = {json.loads(line)["file"] for line in (out / "data" / "train.jsonl").read_text().splitlines()}
    assert held and trained and not held & trained
    assert (out / "results" / "after" / "evaluation_report.md").is_file()
    assert (out / "checkpoints" / "best_model.pth").is_file()
    exported = SliderSolver.load(out / "model")  # the INT8 model finetune wrote
    fine_tuned = SliderSolver.load(out / "checkpoints" / "best_model.pth", backend="torch", align=False)
    assert type(exported.backend).__name__ == "OnnxBackend"
    image = generated_captchas(1, seed=99, mode="composite")[0].image
    a, b = SliderSolver(exported.backend, align=False).solve(image), fine_tuned.solve(image)
    assert np.hypot(a.gap[0] - b.gap[0], a.gap[1] - b.gap[1]) < 6  # the export is the fine-tuned model
