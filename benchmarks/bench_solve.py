"""End-to-end solve latency at a real captcha size, with a piece and without, per stage.

    python benchmarks/bench_solve.py [--model PATH] [--threads 2] [--calls 60]

Generated captchas at 672×390 (Tencent's size, the widest of the real sets; the ``classic``
style, the one that takes its canvas from the config), passed as bytes the way sites serve
them: the background as JPEG (quality 85; Tencent's are JPEG, 22 KB on average in spc, and
decode in ~2 ms where a lossless PNG of a generated captcha, ~330 KB, takes ~6), a separate
piece as PNG (it needs its alpha). Three forms: gap-only (the network alone, as on the spc
sets), separate with its piece (the full-resolution piece search) and composite (the
drawn-slider alignment). With a piece, the network runs only where the piece's fit alone is
in doubt (``SliderSolver(piece_first=True)``), so that form's times are a mix of two paths:
``network_share`` says on how many calls the network ran. p50/p95 of the solver's own stage times (``SolveResult.timing``:
preprocess incl. decoding the image, model, decode, match) and of the whole call. Prints a
table and writes ``benchmarks/results/bench_solve.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from slidercaptcha.config import AugmentationConfig, GeneratorConfig
from slidercaptcha.data.render import EffectProbs, render_captcha
from slidercaptcha.inference import SliderSolver
from slidercaptcha.inference.images import encode_png

WIDTH, HEIGHT = 672, 390
STAGES = ("preprocess", "model", "decode", "match", "total")


def captchas(mode: str, count: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    probs = EffectProbs.from_augmentation(AugmentationConfig())
    gen = GeneratorConfig(style="classic", width=[WIDTH, WIDTH], aspect_ratio=[WIDTH / HEIGHT] * 2,
                          common_size_prob=0.0)
    caps = [render_captcha(rng, gen, probs, mode) for _ in range(count)]
    sizes = {c.image.shape[:2] for c in caps}
    if sizes != {(HEIGHT, WIDTH)}:  # a style's own canvases would win over the config's: say so
        raise SystemExit(f"the generator drew {sorted(sizes)} (height, width), not {(HEIGHT, WIDTH)}")
    return caps


def encode_jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def time_solver(solver: SliderSolver, mode: str, calls: int, seed: int, count: int) -> dict:
    caps = captchas(mode, count, seed)
    inputs = [(encode_jpeg(c.image), encode_png(c.piece) if mode == "separate" else None) for c in caps]
    solver.solve(*inputs[0])  # warm-up
    stages: dict[str, list[float]] = {k: [] for k in (*STAGES, "wall")}
    for i in range(calls):
        image, piece = inputs[i % len(inputs)]
        start = time.perf_counter()
        result = solver.solve(image, piece=piece)
        stages["wall"].append((time.perf_counter() - start) * 1000)
        for k in STAGES:
            stages[k].append(result.timing[k])
    size = caps[0].image.shape
    out = {"image": f"{size[1]}x{size[0]}", "background_kb": float(np.mean([len(i[0]) for i in inputs]) / 1024),
           "captchas": count, "calls": calls, "network_share": float(np.mean(np.array(stages["model"]) > 0))}
    for k, v in stages.items():
        out[k] = {"p50_ms": float(np.percentile(v, 50)), "p95_ms": float(np.percentile(v, 95))}
    out["match_share_of_total"] = out["match"]["p50_ms"] / out["total"]["p50_ms"]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="model path (default: the packaged one)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--calls", type=int, default=60)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--captchas", type=int, default=40, help="distinct captchas per form, called in turn")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "bench_solve.json"))
    args = p.parse_args(argv)
    solver = SliderSolver.load(args.model, threads=args.threads)
    results = {mode: time_solver(solver, mode, args.calls, args.seed, args.captchas) for mode in ("gap-only", "separate", "composite")}
    print(f"| form ({WIDTH}x{HEIGHT}, {args.threads} threads) | " + " | ".join(STAGES) + " | wall | network ran |")
    print("|---|" + "---|" * (len(STAGES) + 2))
    for mode, r in results.items():
        print(f"| {mode} | " + " | ".join(f"{r[k]['p50_ms']:.1f}" for k in (*STAGES, "wall"))
              + f" | {100 * r['network_share']:.0f} % |")
    Path(args.out).write_text(json.dumps({
        "command": "python benchmarks/bench_solve.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "backend": solver.backend.description, "threads": args.threads,
        "machine": {"processor": platform.processor() or platform.machine(), "python": platform.python_version()},
        "results": results}, indent=1) + "\n")
    print(f"wrote {args.out} (p50 ms per call; p95 in the JSON)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
