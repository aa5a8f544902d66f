"""``slidercaptcha benchmark-dataloader``: how fast data arrives, against how fast training eats.

Measures captcha rendering (images/s, one core, no disk) and the training loader
(samples/s, with augmentation) for each workers × batch-size pair; optionally one CPU
training step (forward + backward) for comparison. The loader should outpace the step
several times over, or training waits on data.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from slidercaptcha.config import AugmentationConfig, GeneratorConfig
from slidercaptcha.data.dataset import CaptchaDataset, ManifestDataset, SyntheticDataset
from slidercaptcha.data.render import EffectProbs, render_captcha
from slidercaptcha.utils.io import atomic_write_json


def bench_generation(num_images: int, seed: int = 0) -> dict:
    cfg, probs = GeneratorConfig(), EffectProbs.from_augmentation(AugmentationConfig())
    start = time.perf_counter()
    pixels = 0
    for i in range(num_images):
        image = render_captcha(np.random.default_rng([seed, i]), cfg, probs, "mixed").image
        pixels += image.shape[0] * image.shape[1]
    seconds = time.perf_counter() - start
    return {"what": "generation", "workers": 1, "batch_size": 1, "images_per_s": num_images / seconds,
            "mean_pixels": pixels / num_images}


def bench_loader(dataset: CaptchaDataset, workers: int, batch_size: int, batches: int) -> dict:
    """Samples/s over ``batches`` batches, after the first (worker start-up excluded)."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers,
                        generator=torch.Generator().manual_seed(0))
    it = iter(loader)
    next(it)
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    seconds = time.perf_counter() - start
    del it
    return {"what": "loader", "workers": workers, "batch_size": batch_size,
            "samples_per_s": batches * batch_size / seconds}


def bench_train_step(batch_size: int, steps: int = 3) -> dict:
    """Forward + backward of the default model on one batch (CPU), after one warm-up step."""
    from slidercaptcha.model.lite_hrnet import build_model

    model = build_model().train()
    x = torch.rand(batch_size, 4, 256, 512)
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        outputs = model(x)
        sum(v.float().mean() for v in outputs.values()).backward()
        times.append(time.perf_counter() - start)
    return {"what": "train_step", "workers": 0, "batch_size": batch_size,
            "samples_per_s": batch_size / float(np.median(times[1:]))}


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--manifest", help="manifest to load (ManifestDataset)")
    src.add_argument("--on_the_fly", "--on-the-fly", action="store_true", help="render in the workers")
    p.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--batch_size", "--batch-size", type=int, nargs="+", default=[8, 16])
    p.add_argument("--batches", type=int, default=10)
    p.add_argument("--gen_images", "--gen-images", type=int, default=100, help="images for the generation rate")
    p.add_argument("--train_step", "--train-step", action="store_true", help="also time a CPU training step")
    p.add_argument("--json", default=None, help="write the rows as JSON here")


def run(args: argparse.Namespace) -> int:
    aug = AugmentationConfig()
    if args.on_the_fly:
        length = args.batches * max(args.batch_size) * 4
        dataset: CaptchaDataset = SyntheticDataset(GeneratorConfig(), aug, length=length)
    else:
        dataset = ManifestDataset(args.manifest, augment=aug)
    rows = [bench_generation(args.gen_images)]
    rows += [bench_loader(dataset, w, b, args.batches) for w in args.workers for b in args.batch_size]
    if args.train_step:
        rows += [bench_train_step(b) for b in args.batch_size]
    source = "on the fly" if args.on_the_fly else str(args.manifest)
    print(f"data: {source}; torch threads {torch.get_num_threads()}")
    print(f"{'what':12s} {'workers':>7s} {'batch':>5s} {'per second':>11s}")
    for r in rows:
        rate = r.get("images_per_s", r.get("samples_per_s"))
        unit = "img/s" if "images_per_s" in r else "samples/s"
        print(f"{r['what']:12s} {r['workers']:7d} {r['batch_size']:5d} {rate:11.1f} {unit}")
    if args.json:
        atomic_write_json(Path(args.json), {"source": source, "rows": rows})
        print(f"wrote {args.json}")
    return 0
