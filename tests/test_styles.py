"""Generator styles, illustrated backgrounds and the visibility floor of gaps and drawn sliders."""

from __future__ import annotations

import json
from dataclasses import replace

import cv2
import numpy as np
import pytest

from slidercaptcha.cli import main
from slidercaptcha.config import AugmentationConfig, ConfigError, GeneratorConfig
from slidercaptcha.data.backgrounds import BACKGROUND_KINDS, PhotoLibrary, make_background
from slidercaptcha.data.render import (
    VIS_ATTEMPTS,
    EffectProbs,
    _Placed,
    outline_visibility,
    render_captcha,
    stamp,
    style_gray_faint_knobs,
)
from slidercaptcha.data.shapes import make_mask
from slidercaptcha.data.styles import builtin_styles, load_style_file, resolve
from slidercaptcha.inference.matching import locate_piece, read_piece

STYLES = list(builtin_styles())
NO_EFFECTS = EffectProbs()  # no decoys or rotation: the piece has one place to fit


def test_builtin_styles_cover_the_vendors_and_the_mix_draws_them_all():
    assert {"classic", "illustrated", "tencent-like", "geetest3-like", "geetest4-like", "netease-like",
            "dingxiang-like", "shumei-like"} <= set(STYLES)
    cfg = replace(GeneratorConfig(), style="mix")
    drawn = {render_captcha(np.random.default_rng([3, i]), cfg, NO_EFFECTS, "gap-only").record["style"]
             for i in range(60)}
    assert drawn == set(STYLES)  # every style has weight > 0 and shows up


@pytest.mark.parametrize("style", STYLES)
def test_each_style_labels_the_gap_where_it_is_drawn(style):
    """An independent check of the labels: the matcher, given the separate piece, finds the gap
    where the manifest says it is (at the style's own sizes, looks and shapes). A wrong label
    would be off on every captcha; the matcher alone misses a bevelled gap now and then, and
    lands 2–4 px up-left of a tilted one drawn with the inner-shadow bevel (its dark top-left
    band pulls the outline in)."""
    cfg = replace(GeneratorConfig(), style=style)
    errors = []
    for i in range(8):
        c = render_captcha(np.random.default_rng([11, i]), cfg, NO_EFFECTS, "separate")
        r = c.record
        assert r["style"] == style
        assert r["gap_visibility"] >= cfg.min_gap_visibility or r["redraws"] == VIS_ATTEMPTS - 1
        spec = builtin_styles()[style]
        if spec.sizes:
            assert [r["width"], r["height"]] in spec.sizes
        if spec.shapes:
            assert r["shape"] in spec.shapes
        found = locate_piece(c.image, read_piece(c.piece)).center
        errors.append(np.hypot(found[0] - r["gap_x"], found[1] - r["gap_y"]))
    assert np.median(errors) < 1.5 and sum(e < 4 for e in errors) >= 6, (style, np.round(errors, 1))


def test_faint_knobs_look_keeps_the_knobs_paler_than_the_body():
    """NetEase-like gaps with faint knobs: a square body with a knob out of each side, on a flat
    background. The body is filled, the knobs change far less (under a plain grey fill they
    change as much or more), and nothing outside the shape moves."""
    r = 11
    mask = np.zeros((100, 100), np.float32)
    mask[20:80, 20:80] = 1
    for cx, cy in ((50, 20 - r // 2), (80 + r // 2, 50), (50, 80 + r // 2), (20 - r // 2, 50)):
        cv2.circle(mask, (cx, cy), r, 1.0, -1)
    body = np.zeros_like(mask, bool)
    body[25:75, 25:75] = True  # away from the outline, which is drawn over the fill
    square = np.zeros_like(body)
    square[18:82, 18:82] = True
    knobs = (mask > 0) & ~square  # the knobs, 2 px clear of the body's outline
    img = np.full((100, 100, 3), 0.2, np.float32)
    for seed in range(5):
        out = style_gray_faint_knobs(img, mask, np.random.default_rng(seed))
        change = np.abs(out - img).mean(axis=2)
        assert change[mask == 0].max() < 1e-6
        assert change[knobs].mean() < 0.75 * change[body].mean(), (seed, change[knobs].mean(), change[body].mean())


def test_style_effects_replace_the_configs_ratios_but_never_switch_one_on():
    dx = builtin_styles()["dingxiang-like"]
    on = EffectProbs.from_augmentation(AugmentationConfig())
    assert on.with_style(dx).confusing_gap == dx.effects["confusing_gap"] != on.confusing_gap
    off = EffectProbs.from_augmentation(AugmentationConfig(), confusing_gaps=False)
    assert off.with_style(dx).confusing_gap == 0


def test_style_file_errors_name_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("gap_looks: {darkk: 1}\n")
    with pytest.raises(ConfigError, match="darkk.*known"):
        load_style_file(bad)
    bad.write_text("generator: {piece_sise: [1, 2]}\n")
    with pytest.raises(ConfigError, match="piece_sise"):
        load_style_file(bad)
    bad.write_text("colour: red\n")
    with pytest.raises(ConfigError, match="colour.*valid keys"):
        load_style_file(bad)
    bad.write_text("effects: {confusing_gap: 0}\n")  # switching an effect off is allowed
    assert load_style_file(bad).effects == {"confusing_gap": 0}
    bad.write_text("effects: {confusing_gap: 2}\n")
    with pytest.raises(ConfigError, match="ratio in"):
        load_style_file(bad)
    with pytest.raises(ConfigError, match="unknown style 'nope'"):
        resolve("nope")


def test_a_users_style_file_renders(tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("sizes: [[300, 150]]\nshapes: {heart: 1}\ngap_looks: {light: 1}\nbackgrounds: {festive: 1}\n")
    c = render_captcha(np.random.default_rng(0), replace(GeneratorConfig(), style=str(mine)), NO_EFFECTS, "gap-only")
    assert (c.record["style"], c.record["shape"], c.record["gap_style"]) == ("mine", "heart", "light")
    assert c.image.shape == (150, 300, 3) and c.record["bg_group"].startswith("proc-festive")


@pytest.mark.parametrize("kind", [k for k in BACKGROUND_KINDS if k not in ("photo", "art")])
def test_every_background_kind_renders_varied_images(kind):
    a, _ = make_background(150, 300, np.random.default_rng(1), None, {kind: 1})
    b, _ = make_background(150, 300, np.random.default_rng(2), None, {kind: 1})
    assert a.shape == (150, 300, 3) and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    assert a.std() > 0.02 and np.abs(a - b).mean() > 0.02  # not flat, not the same picture


def test_art_backgrounds_come_from_their_own_folder(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "art").mkdir()
    cv2.imwrite(str(tmp_path / "photos" / "p.jpg"), np.full((200, 400, 3), 30, np.uint8))
    cv2.imwrite(str(tmp_path / "art" / "a.png"), np.full((200, 400, 3), 220, np.uint8))
    lib = PhotoLibrary([tmp_path / "photos"], [tmp_path / "art"])
    rng = np.random.default_rng(0)
    assert make_background(100, 200, rng, lib, {"art": 1})[1] == "a"
    assert make_background(100, 200, rng, lib, {"photo": 1})[1] == "p"
    assert make_background(100, 200, rng, PhotoLibrary(), {"art": 1})[1].startswith("proc-")  # no art: procedural


def test_visibility_grows_with_contrast_and_the_floor_redraws_faint_gaps():
    rng = np.random.default_rng(0)
    bg = np.full((120, 240, 3), 0.5, np.float32) + rng.normal(0, 0.03, (120, 240, 3)).astype(np.float32)
    gap = _Placed(make_mask("jigsaw", 40, rng), (150.0, 60.0))
    levels = []
    for alpha in (0.02, 0.3, 1.0):
        img = bg.copy()
        stamp(img, gap, "dark", np.random.default_rng(1))  # dark look, then blend toward bg
        img = bg * (1 - alpha) + img * alpha
        levels.append(outline_visibility((np.clip(img, 0, 1) * 255).astype(np.uint8), gap))
    assert levels[0] < 1.1 and 1.5 < levels[1] < levels[2]  # invisible ≈ 1; plain to see > 1.5
    cfg = GeneratorConfig()
    floor = [render_captcha(np.random.default_rng([5, i]), cfg, NO_EFFECTS, "gap-only").record for i in range(20)]
    assert all(r["gap_visibility"] >= cfg.min_gap_visibility or r["redraws"] == VIS_ATTEMPTS - 1 for r in floor)
    assert any(r["redraws"] > 0 for r in floor)  # the floor did redraw some (else this checks nothing)


def test_the_floor_redraws_composites_whose_drawn_slider_does_not_show():
    """Same seeds with and without the slider floor: a composite whose first draw has a faint
    slider (and a visible gap) is drawn again; every other captcha comes out the same."""
    off = replace(GeneratorConfig(), style="shumei-like", min_slider_visibility=0.0)
    on = replace(off, min_slider_visibility=1.5)
    redrawn = 0
    for i in range(60):
        first = render_captcha(np.random.default_rng([7, i]), off, NO_EFFECTS, "composite").record
        floored = render_captcha(np.random.default_rng([7, i]), on, NO_EFFECTS, "composite").record
        assert floored["slider_visibility"] >= 1.5 or floored["redraws"] == VIS_ATTEMPTS - 1
        if first["slider_visibility"] < 1.5 and first["redraws"] == 0:
            assert floored["redraws"] > 0 and floored["gap_x"] != first["gap_x"]
            redrawn += 1
        elif first["redraws"] == 0:
            assert floored == first
    assert redrawn >= 2  # shumei-like's rimless pieces do vanish into busy backgrounds
    gap_only = render_captcha(np.random.default_rng(0), on, NO_EFFECTS, "gap-only").record
    assert gap_only["slider_visibility"] is None


def test_generate_style_cli_and_preview_sheet_per_style(tmp_path, capsys):
    out = tmp_path / "gen"
    assert main(["generate", "--num_images", "4", "--output_dir", str(out), "--style", "shumei-like",
                 "--no_progress"]) == 0
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert {r["style"] for r in records} == {"shumei-like"} and all("gap_visibility" in r for r in records)
    assert main(["generate", "--num_images", "1", "--output_dir", str(out), "--style", "nope"]) == 2
    assert "unknown style 'nope'; known: ['mix', 'classic'" in capsys.readouterr().err
    assert main(["preview", "--style", "all", "--out", str(tmp_path / "sheets"), "--num", "2"]) == 0
    assert sorted(p.stem for p in (tmp_path / "sheets").glob("*.png")) == STYLES
