"""How the solver holds when a site serves its captchas rescaled, recompressed or re-toned.

    python benchmarks/bench_robustness.py --root data/real              # every perturbation
    python benchmarks/bench_robustness.py --root data/real --perturbations none "jpeg 30"

A captcha designer may hope that a cheap change to how images are served (a 2× retina copy,
harsher JPEG, a darker tone, noise) defeats a learned solver; an ML engineer wants to know
where the solver is brittle. Each real captcha of ``bench_real.py``'s sets (spc on
``--spc-split``, npc with its pieces) is loaded, perturbed (the piece alike: same scale, same
tone; its alpha kept), solved, and the answer mapped back to the original pixels. Scored as
``bench_real.py`` scores (the gap centre's x within 5 px of the label's, each set's median signed
error removed), always in the original image's pixels: at scale 0.75 the same 5 px are 3.75 px of
the image the solver sees. Noise is drawn per image from a fixed seed. Prints one table (sets ×
perturbations) and writes ``--out`` (JSON) and the table next to it (``.md``).
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # bench_real.py sits beside this script

from bench_real import markdown, real_sets, solve_all, summarise, write_results  # noqa: E402

Perturb = Callable[[np.ndarray, int], np.ndarray]  # (uint8 H×W×C image, seed) -> perturbed image


def _colour_only(fn: Perturb) -> Perturb:
    """Apply ``fn`` to the colour channels (every image here has three), keeping a piece's alpha."""
    def apply(image: np.ndarray, seed: int) -> np.ndarray:
        if image.ndim == 3 and image.shape[2] == 4:
            return np.dstack([fn(np.ascontiguousarray(image[:, :, :3]), seed), image[:, :, 3]])
        return fn(image, seed)
    return apply


def _jpeg(quality: int) -> Perturb:
    def apply(rgb: np.ndarray, seed: int) -> np.ndarray:
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
        return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return _colour_only(apply)


def _gamma(gamma: float) -> Perturb:
    table = np.clip(255 * (np.arange(256) / 255) ** gamma + 0.5, 0, 255).astype(np.uint8)
    return _colour_only(lambda rgb, seed: cv2.LUT(rgb, table))


def _noise(sigma: float) -> Perturb:
    def apply(rgb: np.ndarray, seed: int) -> np.ndarray:
        noise = np.random.default_rng(seed).normal(0, sigma, rgb.shape)
        return np.clip(rgb + noise, 0, 255).astype(np.uint8)
    return _colour_only(apply)


def _blur(sigma: float) -> Perturb:
    return _colour_only(lambda rgb, seed: cv2.GaussianBlur(rgb, (0, 0), sigma))


def _grey(rgb: np.ndarray, seed: int) -> np.ndarray:
    return cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)


def _same(image: np.ndarray, seed: int) -> np.ndarray:
    return image


# name -> (perturbation, scale it applies to both images: answers are divided by it)
PERTURBATIONS: dict[str, tuple[Perturb, float]] = {
    "none": (_same, 1.0),
    "scale 0.75": (_same, 0.75),
    "scale 1.5": (_same, 1.5),
    "scale 2": (_same, 2.0),
    "jpeg 50": (_jpeg(50), 1.0),
    "jpeg 30": (_jpeg(30), 1.0),
    "gamma 0.6": (_gamma(0.6), 1.0),
    "gamma 1.6": (_gamma(1.6), 1.0),
    "noise 8": (_noise(8.0), 1.0),
    "blur 1": (_blur(1.0), 1.0),
    "grey": (_colour_only(_grey), 1.0),
}


def rescale(image: np.ndarray, scale: float) -> np.ndarray:
    if scale == 1.0:
        return image
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


class Perturbed:
    """``SliderSolver`` on perturbed copies of each captcha (and its piece), answers in the
    original image's pixels: the interface ``bench_real.solve_all`` drives."""

    takes_piece = True

    def __init__(self, solver, name: str):
        from slidercaptcha.inference import load_image

        self.solver, self.name, self.load = solver, name, load_image
        self.perturb, self.scale = PERTURBATIONS[name]

    def _prepare(self, path: Path) -> np.ndarray:
        image = self.load(path, "RGB")
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else image  # RGB or RGBA from here
        seed = zlib.crc32(str(path).encode())  # the same noise for an image in every run
        return self.perturb(rescale(image, self.scale), seed)

    def solve(self, background: Path, piece: Path | None) -> tuple[float, float]:
        result = self.solver.solve(self._prepare(background), piece=None if piece is None else self._prepare(piece))
        return result.gap[0] / self.scale, result.gap[1] / self.scale


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default="data/real", help="folder holding spc/ and npc/ (default: %(default)s)")
    p.add_argument("--perturbations", nargs="+", default=list(PERTURBATIONS), choices=list(PERTURBATIONS),
                   metavar="NAME", help=f"which ones (default: all of {', '.join(PERTURBATIONS)})")
    p.add_argument("--model", help="model (default: the packaged one)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--spc-split", default="val", choices=("train", "val"), help="spc split to score")
    p.add_argument("--sets", nargs="+", default=["spc", "npc"], choices=("spc", "npc"), help="which real sets")
    p.add_argument("--limit", type=int, help="score only the first N captchas of each set")
    p.add_argument("--out", default=str(HERE / "results" / "bench_robustness.json"))
    args = p.parse_args(argv)

    from slidercaptcha.inference import SliderSolver

    torch.set_num_threads(args.threads)
    root = Path(args.root)
    groups = real_sets(root, args.spc_split, tuple(args.sets))
    if not groups:
        print(f"no real sets under {root}; nothing to score")
        return 1
    solver = SliderSolver.load(args.model, threads=args.threads)
    start = time.perf_counter()
    results = {}
    for name in args.perturbations:
        results[name] = summarise(solve_all(Perturbed(solver, name), groups, root, args.limit), groups)
        print(f"{name}: done", flush=True)
    table = markdown(results, list(groups))
    print(table)
    write_results(Path(args.out), "bench_robustness.py", argv, table, model=solver.backend.description,
                  seconds=time.perf_counter() - start, results=results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
