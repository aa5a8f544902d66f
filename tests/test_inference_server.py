"""HTTP service: /solve on a generated captcha, /health, and 4xx JSON errors without traces."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402
from images import bad_inputs  # noqa: E402

from slidercaptcha.inference import SliderSolver  # noqa: E402
from slidercaptcha.inference.export import export  # noqa: E402
from slidercaptcha.inference.images import ImageLimits, encode_png  # noqa: E402
from slidercaptcha.inference.samples import generated_captchas, random_checkpoint  # noqa: E402
from slidercaptcha.inference.server import create_app  # noqa: E402


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    onnx = export(random_checkpoint(tmp_path_factory.mktemp("srv") / "m.pth"), "onnx")
    limits = ImageLimits(max_bytes=2 * 1024 * 1024)
    return TestClient(create_app(SliderSolver.load(onnx, threads=2, limits=limits), limits))


def test_health(client):
    assert client.get("/health").json()["status"] == "ok"


def test_solve_generated_captcha(client):
    cap = generated_captchas(1, seed=8, mode="separate")[0]
    r = client.post("/solve", files={"image": ("c.png", encode_png(cap.image)), "piece": ("p.png", encode_png(cap.piece))})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["gap"]) == 2 and body["slider"] is not None and body["distance"] is not None
    r = client.post("/solve", files={"image": ("c.png", encode_png(cap.image))})
    assert r.status_code == 200 and set(r.json()) >= {"gap", "gap_confidence", "timing"}


@pytest.mark.parametrize("name", list(bad_inputs()))
def test_bad_uploads_are_4xx_json(client, name):
    r = client.post("/solve", files={"image": ("bad.png", bad_inputs()[name])})
    assert r.status_code == (413 if name == "20000x20000" else 400)
    assert "bad.png" in r.json()["error"] and "Traceback" not in r.text


def test_missing_field_and_oversized_body(client):
    r = client.post("/solve", files={"other": ("x.png", b"123")})
    assert r.status_code == 422 and "image" in r.json()["error"]
    r = client.post("/solve", files={"image": ("big.png", b"\0" * (5 * 1024 * 1024))})
    assert r.status_code == 413 and "error" in r.json()
