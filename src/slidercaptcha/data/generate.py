"""``slidercaptcha generate``: render synthetic captchas to PNG files and a manifest.

Image ``i`` is rendered from ``np.random.default_rng([seed, i])`` alone, and results are
collected in order, so the output is byte-identical for any number of workers.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from slidercaptcha.config import GeneratorConfig, load_config
from slidercaptcha.data.backgrounds import PhotoLibrary
from slidercaptcha.data.manifest import MANIFEST_NAME, write_manifest
from slidercaptcha.data.render import MODES, EffectProbs, render_captcha
from slidercaptcha.data.styles import resolve, style_names

PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 3]


@dataclass
class Job:
    """Everything a worker needs; sent once per worker, not per image."""

    out_dir: Path
    seed: int
    mode: str
    generator: GeneratorConfig
    probs: EffectProbs
    backgrounds: tuple[str, ...]
    art: tuple[str, ...] = ()


_JOB: Job | None = None
_PHOTOS: PhotoLibrary | None = None


def _init_worker(job: Job) -> None:
    global _JOB, _PHOTOS
    _JOB, _PHOTOS = job, PhotoLibrary(job.backgrounds, job.art)


def write_png(path: Path, rgb: np.ndarray) -> None:
    code = cv2.COLOR_RGBA2BGRA if rgb.shape[2] == 4 else cv2.COLOR_RGB2BGR
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, code), PNG_PARAMS)
    if not ok:
        raise ValueError(f"{path}: PNG encoding failed")
    path.write_bytes(buf.tobytes())


def render_one(index: int) -> dict:
    """Render image ``index`` of the worker's job, write its file(s), return its record."""
    job = _JOB
    captcha = render_captcha(np.random.default_rng([job.seed, index]), job.generator, job.probs,
                             job.mode, _PHOTOS)
    name = f"{index:06d}.png"
    write_png(job.out_dir / "images" / name, captcha.image)
    piece_file = None
    if captcha.piece is not None:
        piece_file = f"pieces/{name}"
        write_png(job.out_dir / piece_file, captcha.piece)
    return {"file": f"images/{name}", **captcha.record, "piece_file": piece_file, "seed": [job.seed, index]}


def _collect(results, bar: tqdm) -> list[dict]:
    records = []
    for record in results:
        records.append(record)
        bar.update(1)
    return records


def generate(job: Job, num_images: int, workers: int = 1, progress: bool = True) -> list[dict]:
    """Render ``num_images`` captchas into ``job.out_dir`` and write the manifest."""
    (job.out_dir / "images").mkdir(parents=True, exist_ok=True)
    if job.mode in ("separate", "mixed"):
        (job.out_dir / "pieces").mkdir(exist_ok=True)
    with tqdm(total=num_images, desc="generate", unit="img", disable=not progress) as bar:
        if workers <= 1:
            _init_worker(job)
            records = _collect(map(render_one, range(num_images)), bar)
        else:
            chunk = max(1, min(32, num_images // (workers * 8)))
            with mp.Pool(workers, _init_worker, (job,)) as pool:
                records = _collect(pool.imap(render_one, range(num_images), chunk), bar)
    write_manifest(job.out_dir / MANIFEST_NAME, records)
    return records


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--num_images", "--num-images", type=int, default=2000)
    p.add_argument("--output_dir", "--output-dir", default="data/captchas")
    p.add_argument("--enable_confusing_gaps", "--enable-confusing-gaps", action="store_true",
                   help="add 1–3 decoy gaps to training.augmentation.confusing_gap_prob of samples")
    p.add_argument("--enable_rotation", "--enable-rotation", action="store_true",
                   help="rotate the gap in training.augmentation.gap_rotation_prob of samples")
    p.add_argument("--enable_perlin_noise", "--enable-perlin-noise", action="store_true",
                   help="Perlin-noise interference (image and piece) at the config's ratios")
    p.add_argument("--backgrounds", nargs="+", default=None, metavar="DIR",
                   help="photo folders (searched recursively: jpg, png, webp); default: data.backgrounds")
    p.add_argument("--art", nargs="+", default=None, metavar="DIR",
                   help="painted or cartoon art folders (the styles' art backgrounds); default: data.art")
    p.add_argument("--mode", choices=[*MODES, "mixed"], default="mixed",
                   help="captcha form; mixed uses data.generator.gap_only_prob / separate_prob")
    p.add_argument("--style", default=None,
                   help=f"generator style: {', '.join(style_names())} or a style .yaml "
                        "(default: data.generator.style, which is mix)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--config", default=None, help="YAML config (data.generator, training.augmentation)")
    p.add_argument("--no_progress", "--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.num_images < 1:
        raise ValueError("--num_images must be at least 1")
    probs = EffectProbs.from_augmentation(config.training.augmentation, args.enable_confusing_gaps,
                                          args.enable_rotation, args.enable_perlin_noise)
    backgrounds = tuple(args.backgrounds if args.backgrounds is not None else config.data.backgrounds)
    generator = config.data.generator
    if args.style is not None:
        generator = replace(generator, style=args.style)
    resolve(generator.style)  # fails early on an unknown style
    art = tuple(args.art if args.art is not None else config.data.art)
    job = Job(Path(args.output_dir), args.seed, args.mode, generator, probs, backgrounds, art)
    photos = len(PhotoLibrary(backgrounds, art))  # fails early on a missing folder
    records = generate(job, args.num_images, args.workers, progress=not args.no_progress)
    print(f"wrote {len(records)} captchas in style {generator.style} to {job.out_dir} ({photos} background photos); "
          f"manifest: {job.out_dir / MANIFEST_NAME}")
    return 0
