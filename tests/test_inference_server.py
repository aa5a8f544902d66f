"""HTTP service: /solve on a generated captcha (multipart or JSON base64, with or without a
separate piece), /health, and 4xx JSON errors without traces."""

from __future__ import annotations

import base64

import numpy as np
import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402
from images import bad_inputs  # noqa: E402

import slidercaptcha  # noqa: E402
from slidercaptcha.inference import SliderSolver  # noqa: E402
from slidercaptcha.inference.images import ImageLimits, encode_png  # noqa: E402
from slidercaptcha.inference.samples import generated_captchas  # noqa: E402
from slidercaptcha.inference.server import create_app  # noqa: E402

NEW_FIELDS = ("gap_box", "slider_box", "offset", "match_score")


@pytest.fixture(scope="module")
def client():
    limits = ImageLimits(max_bytes=2 * 1024 * 1024)
    return TestClient(create_app(SliderSolver.load(threads=2, limits=limits), limits))  # the packaged model


@pytest.fixture(scope="module")
def captchas():
    return generated_captchas(2, seed=5, mode="separate")


def b64(array: np.ndarray) -> str:
    return base64.b64encode(encode_png(array)).decode()


def assert_piece_fields(body: dict, cap) -> None:
    """Boxes are 4 numbers, offset = gap_box.x0 - slider_box.x0, and the gap is found (5 px)."""
    assert all(isinstance(body[k], int | float) for k in ("offset", "match_score", "distance"))
    assert len(body["gap_box"]) == 4 and len(body["slider_box"]) == 4
    assert all(isinstance(v, int | float) for v in body["gap_box"] + body["slider_box"])
    assert body["offset"] == pytest.approx(body["gap_box"][0] - body["slider_box"][0])
    assert 0.0 <= body["match_score"] <= 1.0
    assert abs(body["gap"][0] - cap.record["gap_x"]) < 5 and abs(body["gap"][1] - cap.record["gap_y"]) < 5


def test_health(client):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["version"] == slidercaptcha.__version__


def test_solve_generated_captcha(client):
    cap = generated_captchas(1, seed=8, mode="separate")[0]
    r = client.post("/solve", files={"image": ("c.png", encode_png(cap.image)), "piece": ("p.png", encode_png(cap.piece))})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["gap"]) == 2 and body["slider"] is not None and body["distance"] is not None
    r = client.post("/solve", files={"image": ("c.png", encode_png(cap.image))})
    assert r.status_code == 200 and set(r.json()) >= {"gap", "gap_confidence", "timing"}
    assert all(r.json()[k] is None for k in NEW_FIELDS)  # no piece: no boxes


def test_multipart_with_piece_has_boxes(client, captchas):
    cap = captchas[0]
    r = client.post("/solve", files={"image": ("c.png", encode_png(cap.image)),
                                     "piece": ("p.png", encode_png(cap.piece))})
    assert r.status_code == 200, r.text
    assert_piece_fields(r.json(), cap)


def test_json_base64_image_and_piece(client, captchas):
    for cap in captchas:
        r = client.post("/solve", json={"image": b64(cap.image), "piece": "data:image/png;base64," + b64(cap.piece)})
        assert r.status_code == 200, r.text
        assert_piece_fields(r.json(), cap)
    r = client.post("/solve", json={"image": b64(captchas[0].image), "piece": None})  # piece optional
    assert r.status_code == 200 and r.json()["gap_box"] is None and len(r.json()["gap"]) == 2


def test_base64_text_field_in_multipart(client, captchas):
    cap = captchas[0]
    r = client.post("/solve", data={"image": b64(cap.image)}, files={"piece": ("p.png", encode_png(cap.piece))})
    assert r.status_code == 200, r.text
    assert_piece_fields(r.json(), cap)


@pytest.mark.parametrize("body, status, words", [
    ({"image": "not base64!!"}, 400, ["image (base64)", "not valid base64"]),
    ({"image": "SGVsbG8="}, 400, ["image (base64)", "not a recognised image"]),
    ({"image": ""}, 400, ["empty base64"]),
    ({"piece": "SGVsbG8="}, 422, ["image"]),
    ({"image": 12}, 422, ["image", "base64 string"]),
    (["image"], 422, ["JSON object"]),
])
def test_bad_json_is_4xx_json(client, body, status, words):
    r = client.post("/solve", json=body)
    assert r.status_code == status, r.text
    assert all(w in r.json()["error"] for w in words) and "Traceback" not in r.text


def test_bad_piece_and_body_and_content_type(client, captchas):
    r = client.post("/solve", json={"image": b64(captchas[0].image), "piece": "%%%"})
    assert r.status_code == 400 and "piece (base64)" in r.json()["error"]
    r = client.post("/solve", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
    r = client.post("/solve", content=b"abc", headers={"content-type": "text/plain"})
    assert r.status_code == 415 and "application/json" in r.json()["error"]


def test_tiny_image_is_4xx(client, captchas):
    tiny = np.zeros((10, 10, 3), np.uint8)
    for r in (client.post("/solve", json={"image": b64(tiny)}),
              client.post("/solve", files={"image": ("t.png", encode_png(tiny))}),
              client.post("/solve", json={"image": b64(captchas[0].image), "piece": b64(tiny)})):
        assert r.status_code == 400, r.text
        assert "10×10 image is too small" in r.json()["error"] and "Traceback" not in r.text


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
    r = client.post("/solve", json={"image": "A" * (3 * 1024 * 1024)})  # 2.25 MB decoded > 2 MB limit
    assert r.status_code == 413 and "exceeds the limit" in r.json()["error"]
