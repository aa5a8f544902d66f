"""Choose when a composite captcha's answer moves to the hollow the drawn slider's silhouette fits.

    bash scripts/make_eval_data.sh   # the validation and tuning sets (data/tune/...)
    python benchmarks/tune_drawn_slider.py data/default_model/val data/styles_model/val data/tune/mix_composite

For each composite captcha where the network sees a drawn slider, the drawn-slider match
(``align_drawn_slider``) runs once per candidate ``hollow_min_prior`` (the gap heatmap's value
that another hollow the silhouette fits must reach for the answer to move there), and once
without the silhouette search ("off"). A captcha counts as solved when gap and slider are within
5 px on average, as ``evaluate`` scores composites; captchas without a detected slider count as
missed for every candidate. Prints a table and writes ``benchmarks/results/tune_drawn_slider.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from slidercaptcha.data.labels import read_labels
from slidercaptcha.inference import SliderSolver
from slidercaptcha.inference.matching import HOLLOW_MIN_PRIOR, align_drawn_slider
from slidercaptcha.inference.solver import decoding_mode
from slidercaptcha.preprocess import to_rgb

CANDIDATES = (None, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5)


def label(candidate: float | None) -> str:
    return "off" if candidate is None else f"{candidate:g}"


def score_set(solver: SliderSolver, root: Path) -> dict[str, list[bool]]:
    """Per composite captcha: solved (mean of gap and slider error ≤ 5 px) under each candidate."""
    records, _, _ = read_labels(root)
    solved: dict[str, list[bool]] = {label(c): [] for c in CANDIDATES}
    for r in tqdm([r for r in records if r.mode == "composite"], desc=root.name, leave=False, disable=None):
        batch = solver.run([r.file])
        with decoding_mode():
            found = solver._decode(batch)[0]  # as solve() decodes
        for c in CANDIDATES:
            ok = False
            if found["slider"] is not None:
                gap, slider, _ = align_drawn_slider(to_rgb(batch.images[0]), found["gap"], found["slider"],
                                                    solver._prior(batch, 0), hollow_min_prior=c)
                ok = (np.hypot(*np.subtract(gap, r.gap)) + np.hypot(*np.subtract(slider, r.slider))) / 2 <= 5
            solved[label(c)].append(bool(ok))
    return solved


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data", nargs="+", type=Path, help="generated sets with composite captchas")
    p.add_argument("--model", help="model path (default: the packaged one)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "tune_drawn_slider.json"))
    args = p.parse_args(argv)
    solver = SliderSolver.load(args.model, threads=args.threads)
    table = {}
    for root in args.data:
        solved = score_set(solver, root)
        table[str(root)] = {"n": len(solved["off"]), "within_5px": {k: float(np.mean(v)) for k, v in solved.items()}}
    print("| set | n | " + " | ".join(label(c) for c in CANDIDATES) + " |")
    print("|---|---|" + "---|" * len(CANDIDATES))
    for name, t in table.items():
        print(f"| {name} | {t['n']} | " + " | ".join(f"{100 * v:.1f}" for v in t["within_5px"].values()) + " |")
    print(f"in use: HOLLOW_MIN_PRIOR = {HOLLOW_MIN_PRIOR:g}")
    Path(args.out).write_text(json.dumps({
        "command": "python benchmarks/tune_drawn_slider.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "model": solver.backend.description, "in_use": HOLLOW_MIN_PRIOR, "sets": table}, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
