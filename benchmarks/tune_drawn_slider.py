"""Choose how a composite captcha's drawn slider moves the answer: to the hollow its silhouette
fits (``hollow_min_prior``), and whether the slider's row is trusted as the gap's (``same_row``).

    bash scripts/make_eval_data.sh   # the validation and tuning sets (data/tune/...)
    python benchmarks/tune_drawn_slider.py data/default_model/val data/styles_model/val \
        data/tune/mix_composite data/tune/mix_gaponly

For each captcha where the network sees a drawn slider, the drawn-slider match
(``align_drawn_slider``) runs once per candidate ``hollow_min_prior`` (the gap heatmap's value
that another hollow the silhouette fits must reach for the answer to move there), and once
without the silhouette search ("off"), with ``same_row`` as the solver sets it; then once per
candidate ``SAME_ROW_MIN_SLIDER`` (the slider heatmap's peak from which both points take one
row; "never" and 0.3, the slider threshold, i.e. always, are the ends). A composite captcha
counts as solved when gap and slider are within 5 px on average, as ``evaluate`` scores them,
and is missed for every candidate when no slider is detected; a gap-only captcha (a decoy or
object read as a slider) when its gap is within 5 px, and is left out where no slider is seen
(nothing here changes its answer). The first table is over composites only. Prints two tables
and writes ``benchmarks/results/tune_drawn_slider.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from slidercaptcha.data.labels import LabelRecord, read_labels
from slidercaptcha.inference import SliderSolver
from slidercaptcha.inference.matching import (
    HOLLOW_MIN_PRIOR,
    SAME_ROW_MIN_SLIDER,
    align_drawn_slider,
)
from slidercaptcha.inference.solver import decoding_mode
from slidercaptcha.preprocess import to_rgb

CANDIDATES = (None, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5)
ROW_CANDIDATES = (None, 0.3, 0.4, 0.5, 0.6, 0.7)  # None: never one row


def label(candidate: float | None, none: str = "off") -> str:
    return none if candidate is None else f"{candidate:g}"


def solved(record: LabelRecord, image: np.ndarray, prior: np.ndarray, found: dict, hollow_min_prior: float | None,
           same_row_from: float | None) -> bool:
    """Whether the drawn-slider match leaves a composite within 5 px (gap and slider on average) or
    a gap-only captcha's gap within 5 px."""
    same_row = same_row_from is not None and found["slider_confidence"] >= same_row_from
    gap, slider, _ = align_drawn_slider(image, found["gap"], found["slider"], prior,
                                        hollow_min_prior=hollow_min_prior, same_row=same_row)
    if record.mode == "gap-only":
        return bool(np.hypot(*np.subtract(gap, record.gap)) <= 5)
    return bool((np.hypot(*np.subtract(gap, record.gap)) + np.hypot(*np.subtract(slider, record.slider))) / 2 <= 5)


def score_set(solver: SliderSolver, root: Path) -> tuple[dict[str, list[bool]], dict[str, dict[str, list[bool]]]]:
    """Per composite captcha: solved under each ``hollow_min_prior`` candidate; per composite and
    per gap-only captcha with a detected slider, {form: solved under each same-row candidate}."""
    records, _, _ = read_labels(root)
    hollow: dict[str, list[bool]] = {label(c): [] for c in CANDIDATES}
    rows: dict[str, dict[str, list[bool]]] = {}
    for r in tqdm([r for r in records if r.mode in ("composite", "gap-only")], desc=root.name, leave=False,
                  disable=None):
        batch = solver.run([r.file])
        with decoding_mode():
            found = solver._decode(batch)[0]  # as solve() decodes
        if found["slider"] is None:
            if r.mode == "composite":
                for c in CANDIDATES:
                    hollow[label(c)].append(False)
                for c in ROW_CANDIDATES:
                    rows.setdefault(r.mode, {}).setdefault(label(c, "never"), []).append(False)
            continue

        image, prior = to_rgb(batch.images[0]), solver._prior(batch, 0)
        if r.mode == "composite":
            for c in CANDIDATES:
                hollow[label(c)].append(solved(r, image, prior, found, c, SAME_ROW_MIN_SLIDER))
        for c in ROW_CANDIDATES:
            rows.setdefault(r.mode, {}).setdefault(label(c, "never"), []).append(
                solved(r, image, prior, found, HOLLOW_MIN_PRIOR, c))
    return hollow, rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data", nargs="+", type=Path, help="generated sets with composite (and gap-only) captchas")
    p.add_argument("--model", help="model path (default: the packaged one)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "tune_drawn_slider.json"))
    args = p.parse_args(argv)
    solver = SliderSolver.load(args.model, threads=args.threads)
    table, row_table = {}, {}
    for root in args.data:
        hollow, rows = score_set(solver, root)
        if hollow["off"]:
            table[str(root)] = {"n": len(hollow["off"]), "within_5px": {k: float(np.mean(v)) for k, v in hollow.items()}}
        for form, solved in rows.items():
            row_table[f"{root} {form}"] = {"n": len(solved["never"]),
                                           "solved": {k: int(np.sum(v)) for k, v in solved.items()}}
    print("Composites within 5 px (%), by hollow_min_prior:")
    print("| set | n | " + " | ".join(label(c) for c in CANDIDATES) + " |")
    print("|---|---|" + "---|" * len(CANDIDATES))
    for name, t in table.items():
        print(f"| {name} | {t['n']} | " + " | ".join(f"{100 * v:.1f}" for v in t["within_5px"].values()) + " |")
    print(f"in use: HOLLOW_MIN_PRIOR = {HOLLOW_MIN_PRIOR:g}")
    print("\nCaptchas solved (composites; gap-only ones with a detected slider), by SAME_ROW_MIN_SLIDER:")
    print("| set | n | " + " | ".join(label(c, "never") for c in ROW_CANDIDATES) + " |")
    print("|---|---|" + "---|" * len(ROW_CANDIDATES))
    for name, t in row_table.items():
        print(f"| {name} | {t['n']} | " + " | ".join(str(v) for v in t["solved"].values()) + " |")
    print(f"in use: SAME_ROW_MIN_SLIDER = {SAME_ROW_MIN_SLIDER:g}")
    Path(args.out).write_text(json.dumps({
        "command": "python benchmarks/tune_drawn_slider.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "model": solver.backend.description, "in_use": HOLLOW_MIN_PRIOR, "sets": table,
        "same_row": {"in_use": SAME_ROW_MIN_SLIDER, "sets": row_table}}, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
