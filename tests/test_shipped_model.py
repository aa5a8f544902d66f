"""The model shipped in the package (src/slidercaptcha/weights/) solves generated captchas.

The floor is the issue's bar for this check (on at least 50 images); 300 captchas keep the
estimate steady: one captcha is 0.3 points here, where on 60 it was 1.7, and the stage-4 model's
first 60 sat exactly on the floor. The captchas are the generator's classic style (the check
predates styles), whose decoys take any gap look, so a new look redraws them. The shipped
(stage-10) model measures 94.7 % here with ONNX Runtime INT8 and 95.0 % with PyTorch
(``pytest -s tests/test_shipped_model.py`` prints them) since the faint-knobs look joined the
looks (the INT8 file exported before it: 95.0 %); 94.0 / 94.3 % before that, 95.0 / 95.0 %
before the displaced look.
"""

import json

import cv2
import numpy as np
import pytest

from slidercaptcha.cli import main as cli
from slidercaptcha.inference import SliderSolver
from slidercaptcha.inference.backends import PACKAGE_WEIGHTS
from slidercaptcha.inference.samples import errors_vs_labels, generated_captchas
from slidercaptcha.metrics import accuracy

ACCURACY_FLOOR = 90.0  # % within 5 px on these 300 composite captchas
pytestmark = pytest.mark.skipif(not (PACKAGE_WEIGHTS / "default_int8.onnx").is_file(),
                                reason="no model shipped in src/slidercaptcha/weights")


@pytest.fixture(scope="module")
def captchas():
    return generated_captchas(300, seed=31337, mode="composite")  # a seed no training set used


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_shipped_model_accuracy_at_5px(captchas, backend):
    solver = SliderSolver.load(backend=backend)
    results = solver.solve_batch([c.image for c in captchas])
    errors = errors_vs_labels(captchas, results)["error"]
    print(f"{backend}: accuracy@5px {accuracy(errors, 5):.1f}%")  # the model card's figure (pytest -s)
    assert accuracy(errors, 5) >= ACCURACY_FLOOR, f"accuracy@5px {accuracy(errors, 5):.1f}% (errors {np.round(errors, 1)})"


def test_predict_cli_gives_the_sliding_distance(captchas, tmp_path, capsys):
    solver = SliderSolver.load()
    hits = 0
    for i, c in enumerate(captchas[:10]):
        path = tmp_path / f"{i}.png"
        cv2.imwrite(str(path), c.image[:, :, ::-1])
        assert cli(["predict", str(path), "--json"]) == 0
        out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert out["distance"] == pytest.approx(solver.solve(path).distance, abs=1e-6)  # CLI = API
        assert out["offset"] == out["distance"]  # the drag distance sites take, drawn slider or given piece
        hits += abs(out["distance"] - (c.record["gap_x"] - c.record["slider_x"])) < 5
    assert hits >= 7


def test_evaluate_scores_the_shipped_model_without_a_checkpoint(captchas, tmp_path, capsys):
    rows = ["file,gap_x,gap_y,slider_x,slider_y"]
    for i, c in enumerate(captchas[:6]):
        cv2.imwrite(str(tmp_path / f"{i}.png"), c.image[:, :, ::-1])
        r = c.record
        rows.append(f"{i}.png,{r['gap_x']},{r['gap_y']},{r['slider_x']},{r['slider_y']}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    assert cli(["evaluate", "--data", str(tmp_path / "labels.csv"), "--out", str(tmp_path / "res")]) == 0
    metrics = json.loads((tmp_path / "res" / "labels" / "metrics.json").read_text())
    assert metrics["checkpoint"] == str(PACKAGE_WEIGHTS / "default.safetensors") and metrics["n_evaluated"] == 6


def test_doctor_checks_the_shipped_weights(capsys):
    assert cli(["doctor", "--checkpoint", str(PACKAGE_WEIGHTS / "default.safetensors")]) == 0
    assert "[OK] output ranges" in capsys.readouterr().out
