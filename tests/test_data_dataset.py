"""Training datasets: targets decode to the labels, augmentation moves labels with pixels,
per-item determinism, clear errors for bad files and records."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, default_collate

from slidercaptcha.config import AugmentationConfig, GeneratorConfig
from slidercaptcha.data.augment import augment
from slidercaptcha.data.dataset import ManifestDataset, SyntheticDataset
from slidercaptcha.data.generate import Job, generate
from slidercaptcha.data.render import EffectProbs
from slidercaptcha.decode import decode
from slidercaptcha.preprocess import letterbox_image


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("captchas")
    probs = EffectProbs.from_augmentation(AugmentationConfig())
    generate(Job(out, 11, "mixed", GeneratorConfig(), probs, ()), 12, progress=False)
    return out


def _as_outputs(batch: dict) -> dict:
    """Targets posing as model outputs."""
    return {k: batch[k] for k in ("heatmap_gap", "heatmap_slider", "offset_gap", "offset_slider", "angle")}


def test_targets_decode_back_to_labels(dataset_dir):
    batch = default_collate([ManifestDataset(dataset_dir)[i] for i in range(12)])
    res = decode(_as_outputs(batch), batch["box"], batch["image"][:, 3:])
    assert (res["gap"] - batch["gap_xy"]).abs().max() < 0.05
    has = batch["has_slider"].bool()
    assert has.any() and (~has).any()
    assert (res["slider"][has] - batch["slider_xy"][has]).abs().max() < 0.05
    assert (res["gap_angle"] - batch["gap_angle"]).abs().max() < 1e-3
    assert batch["peak_slider"][~has].sum() == 0 and (batch["slider_xy"][~has] == 0).all()


def test_item_layout_and_collate(dataset_dir):
    ds = ManifestDataset(dataset_dir, augment=AugmentationConfig())
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch["image"].shape == (4, 4, 256, 512) and batch["image"].dtype == torch.float32
    assert batch["box"].dtype == torch.float64 and batch["box"].shape == (4, 6)
    assert batch["gap_xy"].dtype == torch.float32 and batch["has_slider"].shape == (4,)
    assert len(batch["sample_type"]) == 4 and batch["index"].tolist() == [0, 1, 2, 3]
    mask = batch["image"][:, 3]
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    assert (batch["image"][:, :3] * (1 - mask[:, None])).abs().max() == 0  # padding stays black


def test_randomness_per_seed_epoch_index():
    ds = SyntheticDataset(GeneratorConfig(), AugmentationConfig(), length=4, seed=3)
    a, b = ds[1], ds[1]
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["heatmap_gap"], b["heatmap_gap"])
    ds.set_epoch(1)
    assert not torch.equal(ds[1]["image"], a["image"])
    ds.set_epoch(0)
    serial = next(iter(DataLoader(ds, batch_size=2, num_workers=0)))
    parallel = next(iter(DataLoader(ds, batch_size=2, num_workers=1)))
    assert torch.equal(serial["image"], parallel["image"])


def _marker_canvas(x: float, y: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 410×200 black image with a bright disc at (x, y), letterboxed; and the point on the canvas."""
    img = np.zeros((200, 410, 3), np.uint8)
    cv2.circle(img, (round(x * 16 - 8), round(y * 16 - 8)), 5 * 16, (255, 255, 255), -1, cv2.LINE_AA, 4)
    canvas, mask, box = letterbox_image(img)
    return canvas, mask, box.to_input(np.array([[x, y]]))


def _centroid(rgb: np.ndarray) -> np.ndarray:
    w = np.clip(rgb.astype(np.float32).mean(2) / 255 - 0.4, 0, None)
    ys, xs = np.mgrid[0:w.shape[0], 0:w.shape[1]]
    return np.array([(w * (xs + 0.5)).sum(), (w * (ys + 0.5)).sum()]) / w.sum()


def test_marker_centroid_matches_before_augmentation():
    canvas, _, point = _marker_canvas(300.3, 77.8)
    assert np.abs(_centroid(canvas) - point[0]).max() < 0.2


@pytest.mark.parametrize("seed", range(6))
def test_augmentation_keeps_labels_on_the_marker(seed):
    canvas, mask, point = _marker_canvas(300.3, 77.8)
    cfg = AugmentationConfig(random_rotate=[-5.0, 5.0], random_translate=[-10.0, 10.0], gaussian_noise=0.0)
    out, out_mask, moved, angle = augment(canvas, mask, point, cfg, np.random.default_rng(seed))
    assert abs(angle) <= 5 and out.dtype == np.uint8 and out_mask.shape == mask.shape
    assert np.linalg.norm(_centroid(out) - moved[0]) < 1.0
    assert not np.allclose(moved, point)  # it did move


def test_grayscale_augmentation_greys_only_when_asked():
    """grayscale=1 leaves no colour on the real pixels; grayscale=0 (the default) draws nothing
    extra, so an older recipe's samples replay exactly."""
    from slidercaptcha.data.augment import photometric

    rng = np.random.default_rng(0)
    canvas = rng.integers(0, 256, (64, 128, 3), dtype=np.uint8)
    mask = np.ones((64, 128), np.uint8)
    grey = photometric(canvas, mask, AugmentationConfig(grayscale=1.0, gaussian_noise=0.0), np.random.default_rng(1))
    assert np.abs(grey.astype(int) - grey[..., :1]).max() <= 1  # RGB -> grey rounding
    colour = photometric(canvas, mask, AugmentationConfig(), np.random.default_rng(1))
    assert np.abs(colour.astype(int) - colour[..., :1]).max() > 50
    again = photometric(canvas, mask, AugmentationConfig(grayscale=0.0), np.random.default_rng(1))
    assert np.array_equal(colour, again)


def test_corrupt_image_names_the_file(dataset_dir, tmp_path):
    records = [json.loads(x) for x in (dataset_dir / "manifest.jsonl").read_text().splitlines()[:2]]
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\ngarbage")
    records[0]["file"] = "images/bad.png"
    (tmp_path / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    with pytest.raises(ValueError, match=r"bad\.png: missing or not a decodable image"):
        ManifestDataset(tmp_path)[0]


def test_missing_field_names_file_and_field(dataset_dir, tmp_path):
    record = json.loads((dataset_dir / "manifest.jsonl").read_text().splitlines()[0])
    del record["gap_angle"]
    (tmp_path / "m.jsonl").write_text(json.dumps(record) + "\n")
    with pytest.raises(ValueError, match=rf"{record['file']}: field 'gap_angle': missing"):
        ManifestDataset(tmp_path / "m.jsonl")
