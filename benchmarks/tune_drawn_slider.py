"""Choose how a composite captcha's drawn slider moves the answer: to the hollow its silhouette
fits (``hollow_min_prior``), whether the slider's row is trusted as the gap's (``same_row``), and
what the match along that row must win by (``row_margin``).

    bash scripts/make_eval_data.sh   # the validation and tuning sets (data/tune/...)
    python benchmarks/tune_drawn_slider.py data/default_model/val data/styles_model/val \
        data/tune/mix_composite data/tune/mix_gaponly --spc data/real/spc

For each captcha where the network sees a drawn slider, the drawn-slider match
(``align_drawn_slider``) runs once per candidate ``hollow_min_prior`` (the gap heatmap's value
that another hollow the silhouette fits must reach for the answer to move there), and once
without the silhouette search ("off"), with ``same_row`` as the solver sets it; then once per
candidate ``SAME_ROW_MIN_SLIDER`` (the slider heatmap's peak from which both points take one
row; "never" and 0.3, the slider threshold, i.e. always, are the ends). A composite captcha
counts as solved when gap and slider are within 5 px on average, as ``evaluate`` scores them,
and is missed for every candidate when no slider is detected; a gap-only captcha (a decoy or
object read as a slider) when its gap is within 5 px, and is left out where no slider is seen
(nothing here changes its answer). The first table is over composites only. The third counts
the same captchas solved per candidate ``ROW_MARGIN``, and with ``--spc`` also the real captchas
of spc's train split that the network reads a drawn slider in (a decoy or object; spc has no
composites), solved when the gap's x is within 5 px: on them a smaller margin lets the row match
take a decoy. Prints three tables and writes ``benchmarks/results/tune_drawn_slider.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from slidercaptcha.data.labels import LabelRecord, read_labels, read_spc
from slidercaptcha.inference import SliderSolver
from slidercaptcha.inference.matching import (
    HOLLOW_MIN_PRIOR,
    ROW_MARGIN,
    SAME_ROW_MIN_SLIDER,
    align_drawn_slider,
)
from slidercaptcha.inference.solver import decoding_mode
from slidercaptcha.preprocess import to_rgb

CANDIDATES = (None, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5)
ROW_CANDIDATES = (None, 0.3, 0.4, 0.5, 0.6, 0.7)  # None: never one row
MARGIN_CANDIDATES = (0.0, 0.05, 0.1, 0.2, 0.3)


def label(candidate: float | None, none: str = "off") -> str:
    return none if candidate is None else f"{candidate:g}"


def solved(record: LabelRecord, image: np.ndarray, prior: np.ndarray, found: dict, hollow_min_prior: float | None,
           same_row_from: float | None, row_margin: float = ROW_MARGIN) -> bool:
    """Whether the drawn-slider match leaves a composite within 5 px (gap and slider on average),
    a gap-only captcha's gap within 5 px, or a real (spc) captcha's gap x within 5 px."""
    same_row = same_row_from is not None and found["slider_confidence"] >= same_row_from
    gap, slider, _ = align_drawn_slider(image, found["gap"], found["slider"], prior,
                                        hollow_min_prior=hollow_min_prior, same_row=same_row, row_margin=row_margin)
    if record.meta.get("source") == "spc":
        return abs(gap[0] - record.gap_nearest(gap)[0]) <= 5
    if record.mode == "gap-only":
        return bool(np.hypot(*np.subtract(gap, record.gap)) <= 5)
    return bool((np.hypot(*np.subtract(gap, record.gap)) + np.hypot(*np.subtract(slider, record.slider))) / 2 <= 5)


Scores = tuple[dict[str, list[bool]], dict[str, dict[str, list[bool]]], dict[str, dict[str, list[bool]]]]


def score_set(solver: SliderSolver, records: list[LabelRecord], desc: str) -> Scores:
    """Per composite captcha: solved under each ``hollow_min_prior`` candidate; per composite and
    per gap-only captcha with a detected slider, {form: solved under each same-row candidate} and
    {form: solved under each row-margin candidate}."""
    hollow: dict[str, list[bool]] = {label(c): [] for c in CANDIDATES}
    rows: dict[str, dict[str, list[bool]]] = {}
    margins: dict[str, dict[str, list[bool]]] = {}
    for r in tqdm([r for r in records if r.mode in ("composite", "gap-only")], desc=desc, leave=False,
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
                for c in MARGIN_CANDIDATES:
                    margins.setdefault(r.mode, {}).setdefault(label(c), []).append(False)
            continue

        image, prior = to_rgb(batch.images[0]), solver._prior(batch, 0)
        if r.mode == "composite":
            for c in CANDIDATES:
                hollow[label(c)].append(solved(r, image, prior, found, c, SAME_ROW_MIN_SLIDER))
        for c in ROW_CANDIDATES:
            rows.setdefault(r.mode, {}).setdefault(label(c, "never"), []).append(
                solved(r, image, prior, found, HOLLOW_MIN_PRIOR, c))
        for c in MARGIN_CANDIDATES:
            margins.setdefault(r.mode, {}).setdefault(label(c), []).append(
                solved(r, image, prior, found, HOLLOW_MIN_PRIOR, SAME_ROW_MIN_SLIDER, c))
    return hollow, rows, margins


def counts(solved: dict[str, list[bool]]) -> dict:
    return {"n": len(next(iter(solved.values()))), "solved": {k: int(np.sum(v)) for k, v in solved.items()}}


def print_counts(title: str, candidates: list[str], table: dict[str, dict], in_use: str) -> None:
    print(f"\n{title}")
    print("| set | n | " + " | ".join(candidates) + " |")
    print("|---|---|" + "---|" * len(candidates))
    for name, t in table.items():
        print(f"| {name} | {t['n']} | " + " | ".join(str(v) for v in t["solved"].values()) + " |")
    print(f"in use: {in_use}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data", nargs="+", type=Path, help="generated sets with composite (and gap-only) captchas")
    p.add_argument("--spc", type=Path, help="the spc set's folder (data/real/spc): its train split's captchas "
                   "with a detected slider join the same-row and row-margin tables")
    p.add_argument("--model", help="model path (default: the packaged one)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "tune_drawn_slider.json"))
    args = p.parse_args(argv)
    solver = SliderSolver.load(args.model, threads=args.threads)
    groups = {str(root): read_labels(root)[0] for root in args.data}
    if args.spc:
        real = read_spc(args.spc, ("train",))[0]
        groups |= {f"spc train {v}": [r for r in real if r.sample_type == v] for v in sorted({r.sample_type for r in real})}
    table, row_table, margin_table = {}, {}, {}
    for name, records in groups.items():
        hollow, rows, margins = score_set(solver, records, name)
        if hollow["off"]:
            table[name] = {"n": len(hollow["off"]), "within_5px": {k: float(np.mean(v)) for k, v in hollow.items()}}
        row_table |= {f"{name} {form}": counts(solved) for form, solved in rows.items()}
        margin_table |= {f"{name} {form}": counts(solved) for form, solved in margins.items()}
    print("Composites within 5 px (%), by hollow_min_prior:")
    print("| set | n | " + " | ".join(label(c) for c in CANDIDATES) + " |")
    print("|---|---|" + "---|" * len(CANDIDATES))
    for name, t in table.items():
        print(f"| {name} | {t['n']} | " + " | ".join(f"{100 * v:.1f}" for v in t["within_5px"].values()) + " |")
    print(f"in use: HOLLOW_MIN_PRIOR = {HOLLOW_MIN_PRIOR:g}")
    print_counts("Captchas solved (composites; gap-only ones with a detected slider), by SAME_ROW_MIN_SLIDER:",
                 [label(c, "never") for c in ROW_CANDIDATES], row_table, f"SAME_ROW_MIN_SLIDER = {SAME_ROW_MIN_SLIDER:g}")
    print_counts("The same captchas solved, by ROW_MARGIN:", [label(c) for c in MARGIN_CANDIDATES], margin_table,
                 f"ROW_MARGIN = {ROW_MARGIN:g}")
    Path(args.out).write_text(json.dumps({
        "command": "python benchmarks/tune_drawn_slider.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "model": solver.backend.description, "in_use": HOLLOW_MIN_PRIOR, "sets": table,
        "same_row": {"in_use": SAME_ROW_MIN_SLIDER, "sets": row_table},
        "row_margin": {"in_use": ROW_MARGIN, "sets": margin_table}}, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
