"""Generator, manifest, split, validate-data and preview: labels, determinism, errors."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from slidercaptcha.cli import main
from slidercaptcha.config import AugmentationConfig, GeneratorConfig
from slidercaptcha.data.generate import Job, generate
from slidercaptcha.data.manifest import (
    FIELDS,
    OPTIONAL_FIELDS,
    label_errors,
    read_manifest,
    schema_errors,
)
from slidercaptcha.data.render import (
    EffectProbs,
    render_captcha,
    style_displaced,
    style_light,
    style_solid_light,
    style_translucent,
)
from slidercaptcha.data.shapes import SHAPES, make_mask
from slidercaptcha.data.split import split_records
from slidercaptcha.data.validate import validate_manifest
from slidercaptcha.inference.matching import locate_piece, read_piece

ALL_EFFECTS = EffectProbs.from_augmentation(AugmentationConfig())


def _job(out: Path, mode: str = "mixed", probs: EffectProbs = ALL_EFFECTS, backgrounds=(), **gen) -> Job:
    return Job(out, 7, mode, GeneratorConfig(**gen), probs, tuple(backgrounds))


def test_same_seed_same_bytes_for_any_worker_count(tmp_path):
    a = generate(_job(tmp_path / "a"), 6, workers=1, progress=False)
    b = generate(_job(tmp_path / "b"), 6, workers=2, progress=False)
    assert a == b
    for sub in ("manifest.jsonl", *[r["file"] for r in a], *[r["piece_file"] for r in a if r["piece_file"]]):
        assert (tmp_path / "a" / sub).read_bytes() == (tmp_path / "b" / sub).read_bytes(), sub


@pytest.mark.parametrize("mode", ["composite", "gap-only", "separate"])
def test_every_label_inside_the_image_and_schema_complete(mode):
    for i in range(12):
        c = render_captcha(np.random.default_rng([1, i]), GeneratorConfig(), ALL_EFFECTS, mode)
        record = {"file": "x.png", **c.record, "piece_file": "p.png" if mode == "separate" else None,
                  "seed": [1, i]}
        assert set(record) == set(FIELDS) | set(OPTIONAL_FIELDS)
        assert schema_errors(record) == [] and label_errors(record) == [], record
        assert c.image.shape == (record["height"], record["width"], 3)
        pw = record["piece_w"]
        assert record["gap_x"] >= 0.3 * record["width"]  # gaps sit in the right part
        if mode != "gap-only":  # piece and gap never overlap
            assert record["slider_start_x"] + pw < record["gap_x"] - pw / 2
        assert (c.piece is not None) == (mode == "separate")


def test_shapes_fill_their_box_and_are_antialiased():
    rng = np.random.default_rng(0)
    assert len(SHAPES) >= 10
    for shape in SHAPES:
        m = make_mask(shape, 60, rng)
        assert m.dtype == np.float32 and 0 <= m.min() and m.max() <= 1
        for edge in (m[0], m[-1], m[:, 0], m[:, -1]):  # touches all four sides
            assert edge.max() > 0.3, shape
        assert ((m > 0.05) & (m < 0.95)).any(), shape  # soft edges
        assert cv2.connectedComponents((m > 0.5).astype(np.uint8))[0] == 2, shape  # one piece (+ background)


def test_a_tilted_shape_keeps_its_size_and_turns():
    """``make_mask(..., angle)`` turns the shape itself (a style's ``shape_angle_deg``): same
    area as upright, still one piece touching its box, and a square at 45° fills only half of
    its (larger) box, as a diamond does."""
    for shape in SHAPES:
        upright = make_mask(shape, 60, np.random.default_rng(1))
        tilted = make_mask(shape, 60, np.random.default_rng(1), angle=30.0)
        assert abs(tilted.sum() / upright.sum() - 1) < 0.05, shape
        for edge in (tilted[0], tilted[-1], tilted[:, 0], tilted[:, -1]):
            assert edge.max() > 0.3, shape
        assert cv2.connectedComponents((tilted > 0.5).astype(np.uint8))[0] == 2, shape
    square = make_mask("rounded_square", 60, np.random.default_rng(2), angle=45.0)
    upright = make_mask("rounded_square", 60, np.random.default_rng(2))
    assert square.mean() < 0.65 < upright.mean()


def test_decoys_fade_only_without_the_piece_in_view():
    """``decoy_fade`` sets a decoy's strength in gap-only and separate captchas, where its look
    is the only thing that tells it from the gap; composites (the drawn slider shows which
    hollow it fits) keep full-strength decoys. Same seed, fade 0 against 1: composites are
    identical; in gap-only captchas only the decoys change (the gap's pixels stay)."""
    probs = EffectProbs(confusing_gap=1.0)

    def draw(mode: str, fade: float):
        gen = GeneratorConfig(style="classic", jpeg_prob=0.0, decoy_fade=[fade, fade], min_gap_visibility=0.0)
        return render_captcha(np.random.default_rng(3), gen, probs, mode)

    faint, full = draw("composite", 0.0), draw("composite", 1.0)
    assert np.array_equal(faint.image, full.image)
    faint, full = draw("gap-only", 0.0), draw("gap-only", 1.0)
    assert full.record["decoys"] == faint.record["decoys"] != []
    changed = np.abs(faint.image.astype(int) - full.image.astype(int)).max(axis=2) > 0
    assert changed.any()
    r = full.record
    x0, y0 = int(r["gap_x"] - r["piece_w"] / 2), int(r["gap_y"] - r["piece_h"] / 2)
    assert not changed[max(y0, 0):y0 + r["piece_h"], max(x0, 0):x0 + r["piece_w"]].any()
    on_decoys = np.zeros_like(changed)
    for d in r["decoys"]:  # every changed pixel lies within a decoy's reach
        radius = int(np.hypot(r["piece_w"], r["piece_h"]) / 2 * d["scale"]) + 6  # + a soft edge
        cv2.circle(on_decoys.view(np.uint8), (int(d["x"]), int(d["y"])), radius, 1, -1)
    assert not (changed & ~on_decoys).any()


@pytest.mark.parametrize("seed", range(3))
def test_displaced_look_turns_the_picture_inside_the_shape_only(seed):
    """Dingxiang's decoys show other content than their surroundings (the picture turned inside
    them) where a gap shows the same content shaded: on a ramp, a shaded look keeps the inside
    correlated with the original, the displaced look does not; away from the shape nothing moves."""
    ramp = np.tile(np.linspace(0, 1, 64, dtype=np.float32)[None, :, None], (64, 1, 3))
    mask = np.zeros((64, 64), np.float32)
    cv2.circle(mask, (32, 32), 26, 1.0, -1)
    inner = cv2.erode(mask, np.ones((5, 5), np.uint8)) > 0
    outer = cv2.dilate(mask, np.ones((7, 7), np.uint8)) == 0  # beyond a soft edge

    def correlation(look) -> float:
        out = look(ramp.copy(), mask, np.random.default_rng(seed))
        assert np.array_equal(out[outer], ramp[outer])
        return float(np.corrcoef(out[inner][:, 0], ramp[inner][:, 0])[0, 1])

    assert correlation(style_translucent) > 0.95
    assert correlation(style_displaced) < 0.6


@pytest.mark.parametrize("seed", range(3))
def test_solid_light_look_hides_the_picture_that_light_lets_show(seed):
    """Shumei's shapes are near-opaque white: on a striped picture, the stripes' contrast inside
    falls under a third of the original, where the translucent white look keeps more; the inside
    is much brighter than the picture, and nothing outside the shape moves."""
    stripes = np.tile((np.arange(64) // 4 % 2).astype(np.float32)[None, :, None] * 0.6 + 0.1, (64, 1, 3))
    mask = np.zeros((64, 64), np.float32)
    cv2.circle(mask, (32, 32), 26, 1.0, -1)
    inner = cv2.erode(mask, np.ones((5, 5), np.uint8)) > 0
    before = stripes[inner][:, 0]

    def draw(look) -> tuple[np.ndarray, float]:
        out = look(stripes.copy(), mask, np.random.default_rng(seed))
        inside = out[inner][:, 0]
        return out, float(np.corrcoef(inside, before)[0, 1] * inside.std() / before.std())

    out, solid = draw(style_solid_light)
    assert np.array_equal(out[mask == 0], stripes[mask == 0])
    assert solid < 0.3 and out[inner].mean() > stripes[inner].mean() + 0.25
    assert draw(style_light)[1] > solid


def test_gap_label_sits_where_the_piece_matches(tmp_path):
    """The files ``generate`` writes agree with their labels: the matcher, given the written
    piece, finds the gap in the written image at the labelled centre (no decoys, rotation or
    noise, so the piece has one place to fit)."""
    probs = EffectProbs(highlight=0.1)
    records = generate(_job(tmp_path, "separate", probs, jpeg_prob=0.0, style="classic"), 20, progress=False)
    hits = 0
    for r in records:
        image = cv2.cvtColor(cv2.imread(str(tmp_path / r["file"])), cv2.COLOR_BGR2RGB)
        piece = cv2.cvtColor(cv2.imread(str(tmp_path / r["piece_file"]), cv2.IMREAD_UNCHANGED), cv2.COLOR_BGRA2RGBA)
        found = locate_piece(image, read_piece(piece)).center
        hits += np.hypot(found[0] - r["gap_x"], found[1] - r["gap_y"]) <= 3
    assert hits >= 18, f"only {hits}/20 gaps found at their label"


def test_split_keeps_background_groups_apart(tmp_path):
    photos = tmp_path / "photos" / "nested"
    photos.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for k in range(4):
        cv2.imwrite(str(photos / f"photo{k}.jpg"), rng.integers(0, 255, (300, 500, 3), dtype=np.uint8))
    records = generate(_job(tmp_path / "ds", backgrounds=[tmp_path / "photos"], photo_prob=0.7), 30,
                       progress=False)
    groups = {r["bg_group"] for r in records}
    assert {f"photo{k}" for k in range(4)} & groups and any(g.startswith("proc-") for g in groups)
    splits = split_records(records, 0.7, 0.15, seed=3)
    seen = [{r["bg_group"] for r in part} for part in splits.values()]
    assert sum(len(s) for s in seen) == len(groups)  # no group in two splits
    assert sum(len(p) for p in splits.values()) == len(records)


def test_cli_generate_split_validate_preview(tmp_path, capsys):
    out = tmp_path / "captchas"
    assert main(["generate", "--num-images", "20", "--output_dir", str(out), "--enable_confusing_gaps",
                 "--enable_rotation", "--enable_perlin_noise", "--seed", "5", "--no_progress"]) == 0
    assert main(["split", "--input_dir", str(out), "--train_ratio", "0.8", "--test_ratio", "0.1"]) == 0
    n = {name: len(read_manifest(out / f"{name}.jsonl")) for name in ("train", "val", "test")}
    assert sum(n.values()) == 20 and n["val"] >= 1 and n["test"] >= 1
    assert main(["validate-data", "--input_dir", str(out)]) == 0
    assert main(["validate-data", "--manifest", str(out / "val.jsonl")]) == 0
    assert main(["preview", "--manifest", str(out), "--out", str(tmp_path / "p.png"), "--num", "16"]) == 0
    sheet = cv2.imread(str(tmp_path / "p.png"))
    assert sheet is not None and sheet.shape[1] == 1600
    assert "20 records, 0 errors" in capsys.readouterr().out


def test_validate_names_file_and_field(tmp_path):
    out = tmp_path / "ds"
    generate(_job(out, "composite"), 3, progress=False)
    lines = (out / "manifest.jsonl").read_text().splitlines()
    bad = [json.loads(line) for line in lines]
    del bad[0]["gap_y"]
    bad[1]["slider_x"] = bad[1]["gap_x"] + 5
    (out / bad[2]["file"]).write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (out / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in bad))
    errors, summary = validate_manifest(out)
    text = "\n".join(errors)
    assert f"{bad[0]['file']}: gap_y: missing" in text
    assert f"{bad[1]['file']}: slider_x: slider x" in text
    assert f"{bad[2]['file']}: file: missing or not a decodable image" in text
    assert summary["records"] == 3
    assert main(["validate-data", "--input_dir", str(out)]) == 1
