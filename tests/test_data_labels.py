"""Label readers: every external format gives exact truths; bad files are skipped and named."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from slidercaptcha.data.dataset import readable
from slidercaptcha.data.labels import detect_format, read_labels

W, H = 320, 160
GAP, SLIDER, BOX = (231.5, 70.25), (30.0, 70.25), (40.0, 36.0)


def captcha(path: Path, gap=GAP, slider=SLIDER) -> Path:
    """White image with a dark blob at the gap and a red blob at the slider (if any)."""
    ys, xs = np.mgrid[:H, :W] + 0.5
    img = np.full((H, W, 3), 255.0)
    dark = np.exp(-((xs - gap[0]) ** 2 + (ys - gap[1]) ** 2) / (2 * 6.0**2))
    img *= 1 - dark[..., None]
    if slider is not None:
        red = np.exp(-((xs - slider[0]) ** 2 + (ys - slider[1]) ** 2) / (2 * 6.0**2))
        img[..., 1:] *= 1 - red[..., None]
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.clip(img, 0, 255).astype(np.uint8)[:, :, ::-1])
    return path


def rect(label, center, size=BOX):
    (x, y), (w, h) = center, size
    return {
        "label": label,
        "points": [[x - w / 2, y - h / 2], [x + w / 2, y + h / 2]],
        "shape_type": "rectangle",
    }


def labelme_set(root: Path, gap_only: bool = False) -> Path:
    captcha(root / "a.png", slider=None if gap_only else SLIDER)
    shapes = [rect("Gap", GAP)] + ([] if gap_only else [rect("slider", SLIDER)])
    (root / "a.json").write_text(
        json.dumps({"imagePath": "a.png", "imageWidth": W, "imageHeight": H, "shapes": shapes})
    )
    return root


def yolo_set(root: Path, gap_only: bool = False) -> Path:
    captcha(root / "images" / "a.png", slider=None if gap_only else SLIDER)
    lines = [f"0 {GAP[0] / W} {GAP[1] / H} {BOX[0] / W} {BOX[1] / H}"]
    if not gap_only:
        lines.append(f"1 {SLIDER[0] / W} {SLIDER[1] / H} {BOX[0] / W} {BOX[1] / H}")
    (root / "labels").mkdir(parents=True)
    (root / "labels" / "a.txt").write_text("\n".join(lines) + "\n")
    return root


def csv_set(root: Path, gap_only: bool = False) -> Path:
    captcha(root / "img" / "a.png", slider=None if gap_only else SLIDER)
    slider = ",," if gap_only else f",{SLIDER[0]},{SLIDER[1]}"
    (root / "labels.csv").write_text(
        f"file,gap_x,gap_y,slider_x,slider_y\nimg/a.png,{GAP[0]},{GAP[1]}{slider}\n"
    )
    return root


WRITERS = {"labelme": labelme_set, "yolo": yolo_set, "csv": csv_set}


@pytest.mark.parametrize("fmt", WRITERS)
@pytest.mark.parametrize("gap_only", [False, True])
def test_formats_parse_exact_truths(tmp_path, fmt, gap_only):
    root = WRITERS[fmt](tmp_path, gap_only)
    assert detect_format(root) == fmt
    records, skipped, used = read_labels(root)
    assert used == fmt and not skipped and len(records) == 1
    r = records[0]
    assert r.file.is_file()
    assert r.gap == pytest.approx(GAP, abs=1e-6)
    if gap_only:
        assert r.slider is None and not r.has_slider and r.mode == "gap-only"
    else:
        assert r.slider == pytest.approx(SLIDER, abs=1e-6) and r.has_slider
    if fmt != "csv":
        assert r.gap_size == pytest.approx(BOX, abs=1e-6)


def test_yolo_classes_file_overrides_default_ids(tmp_path):
    yolo_set(tmp_path)
    (tmp_path / "classes.txt").write_text("slider\ngap\n")  # ids swapped: 0 = slider
    (r,), _, _ = read_labels(tmp_path, "yolo")
    assert r.gap == pytest.approx(SLIDER, abs=1e-6) and r.slider == pytest.approx(GAP, abs=1e-6)


def test_manifest_separate_piece_scores_gap_keeps_slider_truth(tmp_path):
    captcha(tmp_path / "bg.png", slider=None)
    rec = {
        "file": "bg.png",
        "width": W,
        "height": H,
        "gap_x": GAP[0],
        "gap_y": GAP[1],
        "slider_x": SLIDER[0],
        "slider_y": SLIDER[1],
        "piece_w": 40,
        "piece_h": 36,
        "gap_angle": 12.5,
        "decoys": [],
        "sample_type": "rotated_gap",
        "mode": "separate",
        "piece_file": "piece.png",
    }
    (tmp_path / "manifest.jsonl").write_text(json.dumps(rec) + "\n")
    (r,), skipped, fmt = read_labels(tmp_path)
    assert fmt == "manifest" and not skipped
    assert (
        r.slider == SLIDER and not r.has_slider
    )  # truth kept, slider not scored on the background
    assert r.gap_angle == 12.5 and r.sample_type == "rotated_gap" and r.gap_size == (40, 36)


def test_bad_labels_are_skipped_with_reason(tmp_path):
    captcha(tmp_path / "two.png")
    (tmp_path / "two.json").write_text(
        json.dumps({"imagePath": "two.png", "shapes": [rect("gap", GAP), rect("gap", SLIDER)]})
    )
    records, skipped, _ = read_labels(tmp_path, "labelme")
    assert not records and "2 gap" in skipped[0].reason and skipped[0].file.endswith("two.json")


def test_corrupt_image_is_skipped_and_named(tmp_path):
    csv_set(tmp_path)
    (tmp_path / "img" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with open(tmp_path / "labels.csv", "a") as f:
        f.write("img/broken.png,100,50,,\n")
    records, skipped, _ = read_labels(tmp_path)
    assert len(records) == 2 and not skipped
    ok, bad = readable(records)
    assert [r.file.name for r in ok] == ["a.png"] and ok[0].size == (W, H)
    assert len(bad) == 1 and bad[0].file.endswith("broken.png")


def test_npc_audit_moves_only_the_audited_gaps_and_checks_the_published_position():
    """An audited npc label moves its gap by audited − published; the rest stay; an audit whose
    published position is not the set's (made for another revision) is refused."""
    from slidercaptcha.data.labels import apply_npc_audit, read_npc

    root = Path(__file__).parent / "data" / "real" / "npc"
    records, _ = read_npc(root)
    key = "geetest_test/IMG_000_O.png"
    fixed = apply_npc_audit(records, root, {key: {"published": [194, 73], "audited": [188, 75]}})
    moved = [(a.gap[0] - b.gap[0], a.gap[1] - b.gap[1]) for a, b in zip(fixed, records, strict=True)]
    index = next(i for i, r in enumerate(records) if r.file == root / key)
    assert moved[index] == (-6, 2) and fixed[index].meta["position"] == [188, 75]
    assert all(m == (0, 0) for i, m in enumerate(moved) if i != index)
    assert records[index].meta["position"] == [194, 73]  # the input records are not changed
    with pytest.raises(ValueError, match="another revision|not the set's"):
        apply_npc_audit(records, root, {key: {"published": [190, 73], "audited": [188, 75]}})


def test_spc_unseen_drops_val_images_repeated_from_train_or_within_val(tmp_path):
    """spc's val split repeats train images byte for byte and itself: the held-out captchas are
    each distinct val image once, none that train holds, whatever the file names."""
    from slidercaptcha.data.labels import read_spc, spc_unseen

    def write(split: str, name: str, gap: tuple[float, float]) -> None:
        captcha(tmp_path / "Acme" / "images" / split / name, gap=gap, slider=None)
        label = tmp_path / "Acme" / "labels" / split / name.replace(".png", ".txt")
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text(f"0 {gap[0] / W} {gap[1] / H} {BOX[0] / W} {BOX[1] / H}\n")

    write("train", "1.png", (100.5, 60.5))
    write("val", "a.png", (100.5, 60.5))  # the same image as train/1.png
    write("val", "b.png", (200.5, 90.5))
    write("val", "c.png", (200.5, 90.5))  # the same image as val/b.png
    write("val", "d.png", (150.5, 40.5))
    records, skipped = read_spc(tmp_path, ("val",))
    assert not skipped and [r.file.name for r in records] == ["a.png", "b.png", "c.png", "d.png"]
    assert [records[i].file.name for i in spc_unseen(records, tmp_path)] == ["b.png", "d.png"]
    assert [records[i].file.name for i in spc_unseen(records, tmp_path, None)] == ["a.png", "b.png", "d.png"]

    from slidercaptcha.data.import_real import import_real

    written = import_real(tmp_path, tmp_path / "converted", "spc")
    assert sorted(written) == ["train", "val", "val_held_out"]
    held_out, _, _ = read_labels(written["val_held_out"])
    assert [Path(r.file).name for r in held_out] == ["b.png", "d.png"]
    assert held_out[0].gap == pytest.approx((200.5, 90.5), abs=0.01)
