"""Choose how much a gap's look (its outline's and its fill's strength and shade) weighs when a gap-only captcha's heatmap has several peaks.

    bash scripts/make_eval_data.sh   # the validation and tuning sets (data/tune/...)
    python benchmarks/tune_gap_looks.py --spc data/real/spc --spc-split train \
        --data data/default_model/val data/styles_model/val data/tune/mix_gaponly

Where the network sees no slider and no piece is given, the solver weighs the gap heatmap's
peaks (``decode.gap_candidates``) by how strongly a gap is drawn around each
(``matching.choose_gap``: the peak's rank + the weighed ``gap_looks``, outline and fill, among
the first peak and those ranked within a doubt of it whose weighed looks beat the first's by a
margin and, with a shade threshold, are not clearly shaded the other way than a clearly shaded
first peak). For
each rule: spc vendors scored as ``bench_real.py`` scores them (x error within 5 px once the
vendor's median signed error is removed), generated sets' gap-only captchas by the gap centre
within 5 px. Tune on spc train and the validation sets; spc val stays the yardstick
(``bench_real.py``, whose held-out view leaves out the val captchas train also holds). The
last row, the peak nearest the label, is the ceiling of any weighing of these peaks. Prints a
table and writes ``benchmarks/results/tune_gap_looks.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from slidercaptcha.data.labels import LabelRecord, read_labels, read_spc
from slidercaptcha.decode import gap_candidates
from slidercaptcha.inference import SliderSolver
from slidercaptcha.inference.matching import (
    GAP_FILL_WEIGHT,
    GAP_LOOK_MARGIN,
    GAP_OUTLINE_WEIGHT,
    GAP_RANK_DOUBT,
    GAP_SHADE_CLEAR,
    choose_gap,
    gap_looks,
)
from slidercaptcha.inference.solver import decoding_mode
from slidercaptcha.metrics import x_error_summary
from slidercaptcha.preprocess import to_rgb

# (outline weight, fill weight, margin, doubt, shade_clear): off; the outline alone (the rule before
# fills were measured); outline and fill; the fill alone; then outline and fill where a peak
# clearly shaded the other way than a clearly shaded first peak is passed over
IN_USE = (GAP_OUTLINE_WEIGHT, GAP_FILL_WEIGHT, GAP_LOOK_MARGIN, GAP_RANK_DOUBT, GAP_SHADE_CLEAR)
RULES = ((0.0, 0.0, 0.0, np.inf, np.inf), (0.15, 0.0, 0.075, 0.1, np.inf),
         *((0.15, f, m, d, np.inf) for f in (0.05, 0.1, 0.2) for m in (0.05, 0.1) for d in (0.1, 0.15)),
         *((0.0, f, m, 0.1, np.inf) for f in (0.05, 0.1, 0.2) for m in (0.05, 0.1)),
         *((0.15, 0.05, 0.05, d, s) for d in (0.1, 0.15) for s in (0.5, 1.0, 1.5)),
         *((0.15, 0.05, 0.05, d, 1.0) for d in (0.2, 0.3)))
CEILING = "ceiling: the peak nearest the label"  # what the best possible weighing of these peaks would solve


def label(rule: tuple[float, float, float, float, float]) -> str:
    outline, fill, margin, doubt, shade = rule
    if outline == fill == 0:
        return "off"
    return f"outline {outline:g}, fill {fill:g}, margin {margin:g}, doubt {doubt:g}" + \
        (f", shade {shade:g}" if np.isfinite(shade) else "")


def answers(solver: SliderSolver, records: list[LabelRecord], desc: str,
            miss: Callable[[LabelRecord, tuple[float, float]], float]) -> dict[str, list[tuple[float, float]]]:
    """{rule: the gap each record gets}: the decoded gap where a slider is seen, else the peak
    ``pick_gap`` picks under that rule (the first peak is the decoded gap); and under
    ``CEILING`` the peak that ``miss`` (how far a point is from the record's gap) finds nearest."""
    out: dict[str, list[tuple[float, float]]] = {label(rule): [] for rule in RULES}
    out[CEILING] = []
    for r in tqdm(records, desc=desc, leave=False, disable=None):
        batch = solver.run([r.file])
        with decoding_mode():
            found = solver._decode(batch)[0]  # as solve() decodes
            peaks = gap_candidates(batch.outputs, batch.boxes, batch.mask)[0]
        looks = None
        if found["slider"] is None and len(peaks.points) > 1:
            looks = gap_looks(to_rgb(batch.images[0]), peaks.points.numpy())
        for rule in RULES:  # every rule from one trace per peak (pick_gap traces only the peaks in doubt)
            best = 0 if looks is None else choose_gap(peaks.ranks.numpy(), looks, rule[:2], *rule[2:])
            out[label(rule)].append(found["gap"] if best == 0 else tuple(map(float, peaks.points[best])))
        points = [found["gap"]] + ([] if looks is None else [tuple(map(float, p)) for p in peaks.points[1:]])
        out[CEILING].append(min(points, key=lambda pt: miss(r, pt)))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--spc", type=Path, help="the spc set's folder (data/real/spc)")
    p.add_argument("--spc-split", default="train", choices=("train", "val"))
    p.add_argument("--data", nargs="*", type=Path, default=[], help="generated sets (their gap-only captchas)")
    p.add_argument("--model", help="model path (default: the packaged one)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "tune_gap_looks.json"))
    args = p.parse_args(argv)
    solver = SliderSolver.load(args.model, threads=args.threads)
    table: dict[str, dict] = {}
    if args.spc:
        records, _ = read_spc(args.spc, (args.spc_split,))
        for vendor in sorted({r.sample_type for r in records}):
            group = [r for r in records if r.sample_type == vendor]
            found = answers(solver, group, vendor, lambda r, pt: abs(pt[0] - r.gap_nearest(pt)[0]))
            table[f"spc {args.spc_split} {vendor}"] = {"n": len(group), "within_5px": {
                rule: x_error_summary(np.array([x - r.gap_nearest((x, y))[0] for r, (x, y) in zip(group, pts, strict=True)]))[
                    "within_5px_median_removed"] / 100 for rule, pts in found.items()}}
    for root in args.data:
        group = [r for r in read_labels(root)[0] if r.mode == "gap-only"]
        found = answers(solver, group, root.name, lambda r, pt: float(np.hypot(*np.subtract(pt, r.gap))))
        table[str(root)] = {"n": len(group), "within_5px": {
            rule: float(np.mean([np.hypot(*np.subtract(pt, r.gap)) <= 5 for r, pt in zip(group, pts, strict=True)]))
            for rule, pts in found.items()}}
    names = list(table)
    print("| rule | " + " | ".join(f"{n} ({table[n]['n']})" for n in names) + " |")
    print("|---|" + "---|" * len(names))
    for rule in [*map(label, RULES), CEILING]:
        print(f"| {rule} | " + " | ".join(f"{100 * table[n]['within_5px'][rule]:.1f}" for n in names) + " |")
    print(f"in use: {label(IN_USE)}")
    Path(args.out).write_text(json.dumps({
        "command": "python benchmarks/tune_gap_looks.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "model": solver.backend.description,
        "in_use": label(IN_USE), "sets": table}, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
