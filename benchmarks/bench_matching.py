"""The piece search's texture cue: OpenCV's masked correlation against ``masked_ncc``.

    python benchmarks/bench_matching.py [--calls 30]

On generated separate-piece captchas at 672×390 (as ``bench_solve.py`` draws them), times the
texture cue at the coarse search's size both ways (OpenCV's ``TM_CCOEFF_NORMED`` with a mask,
and :func:`slidercaptcha.inference.matching.masked_ncc`, which the matcher uses), their largest
score difference, and the whole ``locate_piece``. Prints a table and writes
``benchmarks/results/bench_matching.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from bench_solve import HEIGHT, WIDTH, captchas

from slidercaptcha.inference.matching import (
    COARSE_HEIGHT,
    _scaled,
    locate_piece,
    masked_ncc,
    read_piece,
    texture_template,
)


def p50_ms(calls: int, fn, *fn_args) -> float:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn(*fn_args)
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=30)
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "bench_matching.json"))
    args = p.parse_args(argv)
    rows = {"opencv_masked": [], "masked_ncc": [], "locate_piece": []}
    max_diff = 0.0
    for cap in captchas("separate", 6, seed=5):
        piece = read_piece(cap.piece)
        gray = cv2.cvtColor(cap.image, cv2.COLOR_RGB2GRAY)
        s = COARSE_HEIGHT / gray.shape[0]
        small = _scaled(piece, s)
        image = cv2.resize(gray, (round(gray.shape[1] * s), round(gray.shape[0] * s)), interpolation=cv2.INTER_AREA)
        image = image.astype(np.float32)
        template, mask = (a.astype(np.float32) for a in texture_template(small))  # OpenCV wants one depth
        theirs = cv2.matchTemplate(image, template, cv2.TM_CCOEFF_NORMED, mask=mask)
        ours = masked_ncc(image, template, mask)
        both = np.isfinite(theirs) & (ours > -1.0)
        max_diff = max(max_diff, float(np.abs(ours[both] - theirs[both]).max()))
        rows["opencv_masked"].append(p50_ms(args.calls, cv2.matchTemplate, image, template, cv2.TM_CCOEFF_NORMED,
                                            None, mask))
        rows["masked_ncc"].append(p50_ms(args.calls, masked_ncc, image, template, mask))
        rows["locate_piece"].append(p50_ms(args.calls, locate_piece, cap.image, piece))
    result = {k: float(np.median(v)) for k, v in rows.items()}
    print(f"| texture cue at the coarse size ({WIDTH}x{HEIGHT} captchas) | p50 ms |")
    print("|---|---|")
    for k, v in result.items():
        print(f"| {k} | {v:.2f} |")
    print(f"speed-up {result['opencv_masked'] / result['masked_ncc']:.1f}x, largest score difference {max_diff:.1e}")
    Path(args.out).write_text(json.dumps({
        "command": "python benchmarks/bench_matching.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {"processor": platform.processor() or platform.machine(), "python": platform.python_version(),
                    "opencv_threads": cv2.getNumThreads()},
        "p50_ms": result, "speedup": result["opencv_masked"] / result["masked_ncc"], "max_score_difference": max_diff,
    }, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
