"""Training datasets: captchas from a manifest on disk, or rendered on the fly in the workers.

All randomness of item ``index`` in epoch ``epoch`` comes from
``np.random.default_rng([seed, epoch, index])``: a run resumes exactly and gives the same
batches for any number of workers. Call ``set_epoch`` before creating the epoch's
iterator (with ``persistent_workers`` the workers would keep an old copy).

Each item is a dict that the default collate batches: "image" [4,H,W]; every target of
:func:`slidercaptcha.data.targets.build_targets`; the un-augmented labels in original
pixels ("gap_xy", "slider_xy" (zeros without a slider), "has_slider", "gap_angle");
"box" (the letterbox, original → canvas); "index"; "sample_type".
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset

from slidercaptcha.config import AugmentationConfig, GeneratorConfig
from slidercaptcha.data.augment import augment
from slidercaptcha.data.backgrounds import PhotoLibrary
from slidercaptcha.data.labels import IMAGE_ERRORS, LabelRecord, Skipped, read_labels
from slidercaptcha.data.manifest import manifest_path, read_manifest, require_fields
from slidercaptcha.data.render import EffectProbs, render_captcha
from slidercaptcha.data.targets import build_targets
from slidercaptcha.preprocess import INPUT_SIZE, letterbox_image, to_model_input, to_rgb


def load_rgb(path: str | Path) -> np.ndarray:
    """Any 8-bit image file → RGB uint8; ValueError naming the file when it cannot be decoded."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f"{path}: missing or not a decodable image")
    if img.dtype != np.uint8:
        raise ValueError(f"{path}: expected an 8-bit image, got {img.dtype}")
    return to_rgb(img, "BGR")


def readable(records: list[LabelRecord]) -> tuple[list[LabelRecord], list[Skipped]]:
    """Split records into decodable images and skipped ones (each named, with the reason).

    Decoding everything once up front costs a second read per image but keeps the loader
    simple: every batch it yields is full and scoreable.
    """
    ok, bad = [], []
    for r in records:
        try:
            height, width = load_rgb(r.file).shape[:2]
            ok.append(replace(r, size=(width, height)))
        except IMAGE_ERRORS as err:
            bad.append(Skipped(str(r.file), f"unreadable image: {err}"))
    return ok, bad


def read_usable(path: str | Path, fmt: str = "auto") -> tuple[list[LabelRecord], list[Skipped], str]:
    """A labelled set's records whose labels parse and whose images decode, the files left out
    (each with its reason), and the format read."""
    records, skipped, fmt = read_labels(path, fmt)
    records, unreadable = readable(records)
    return records, skipped + unreadable, fmt


def require_usable(path: str | Path, records: list[LabelRecord], skipped: list[Skipped]) -> None:
    """Refuse a set with nothing usable, naming the first file's reason: when every file is
    skipped, the cause is nearly always one mistake (the label format) that one example shows."""
    if not records:
        first = f"; first: {skipped[0].file}: {skipped[0].reason}" if skipped else ""
        raise ValueError(f"{path}: no usable labelled images ({len(skipped)} skipped{first})")


class CaptchaDataset(Dataset):
    """Shared pipeline: letterbox → (augment) → model input + targets."""

    def __init__(self, input_size=INPUT_SIZE, augment: AugmentationConfig | None = None, seed: int = 0):
        self.input_size = tuple(input_size)
        self.augment = augment if augment is not None and augment.enabled else None
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, index])

    def sample(self, rgb: np.ndarray, record: dict, index: int, rng: np.random.Generator) -> dict:
        canvas, mask, box = letterbox_image(rgb, self.input_size)
        has_slider = record["mode"] == "composite" and record["slider_x"] is not None
        gap = np.array([record["gap_x"], record["gap_y"]], np.float64)
        slider = np.array([record["slider_x"], record["slider_y"]], np.float64) if has_slider else np.zeros(2)
        decoys = np.array([[d["x"], d["y"]] for d in record["decoys"]], np.float64).reshape(-1, 2)
        points = box.to_input(np.vstack([gap, slider, decoys]))
        angle = float(record["gap_angle"])
        if self.augment is not None:
            canvas, mask, points, extra = augment(canvas, mask, points, self.augment, rng)
            angle += extra
        targets = build_targets(points[0], points[1] if has_slider else None, mask, angle,
                                points[2:], self.input_size, record.get("slider_known", True))
        return {
            "image": torch.from_numpy(to_model_input(canvas, mask)),
            **targets,
            "gap_xy": torch.from_numpy(gap.astype(np.float32)),
            "slider_xy": torch.from_numpy(slider.astype(np.float32)),
            "has_slider": torch.tensor(float(has_slider)),
            "gap_angle": torch.tensor(float(record["gap_angle"])),
            "box": torch.from_numpy(box.as_array()),
            "index": index,
            "sample_type": record["sample_type"],
        }


class ManifestDataset(CaptchaDataset):
    """Captchas listed in a manifest (JSON Lines; paths relative to its folder)."""

    def __init__(self, manifest: str | Path, input_size=INPUT_SIZE, augment: AugmentationConfig | None = None,
                 seed: int = 0):
        super().__init__(input_size, augment, seed)
        self.path = manifest_path(manifest)
        self.root = self.path.parent
        self.records = read_manifest(self.path)
        for record in self.records:  # fail at start-up, not hours into training
            require_fields(record, f"{self.path}: {record.get('file', '<no file>')}")

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict:
        record = self.records[index]
        return self.sample(load_rgb(self.root / record["file"]), record, index, self.rng(index))


class LabelledDataset(CaptchaDataset):
    """Annotated images in any label format (:mod:`slidercaptcha.data.labels`: real captchas,
    a converted set, a manifest) through the same letterbox, augmentation and targets.

    ``repeats`` scales the set's share of an epoch (item i is record ``i mod n``): 2.0 shows
    every image twice per epoch, 0.5 half of them (different augmentations each time).
    """

    def __init__(self, records: list, input_size=INPUT_SIZE, augment: AugmentationConfig | None = None,
                 seed: int = 0, repeats: float = 1.0):
        super().__init__(input_size, augment, seed)
        self.records = records
        self.length = max(1, round(len(records) * repeats)) if records else 0

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        r = self.records[index % len(self.records)]
        return self.sample(load_rgb(r.file), r.as_manifest(), index, self.rng(index))


class MixedDataset(ConcatDataset):
    """Several training sets as one (synthetic + real); ``set_epoch`` reaches every part."""

    def set_epoch(self, epoch: int) -> None:
        for part in self.datasets:
            part.set_epoch(epoch)


class SyntheticDataset(CaptchaDataset):
    """``length`` captchas per epoch rendered in the worker (new ones every epoch)."""

    def __init__(self, generator: GeneratorConfig, augment: AugmentationConfig | None = None,
                 length: int = 2000, seed: int = 0, backgrounds=(), input_size=INPUT_SIZE,
                 probs: EffectProbs | None = None, art=()):
        super().__init__(input_size, augment, seed)
        self.generator = generator
        self.length = length
        self.photos = PhotoLibrary(backgrounds, art)
        self.probs = probs or EffectProbs.from_augmentation(augment or AugmentationConfig())

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        rng = self.rng(index)
        captcha = render_captcha(rng, self.generator, self.probs, "mixed", self.photos)
        return self.sample(captcha.image, captcha.record, index, rng)
