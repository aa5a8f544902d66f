"""Choose the piece-first margin: when may the solver answer from the piece's fit alone?

    bash scripts/make_eval_data.sh   # the validation and tuning sets (data/tune/...)
    python benchmarks/tune_piece_first.py data/tune/classic data/tune/mix

Tuning captchas: their own seed (no validation or test captcha among them), training photos and
art only. For each captcha the piece is searched for once (``search_piece``), then matched
without and with the network's gap heatmap as a prior. For each candidate margin: the share
of captchas within 5 px of the gap centre when the fit alone is taken at or above that margin
(and the prior added below it), and the share that skips the network. ``DECISIVE_MARGIN`` is
the smallest candidate at which no set loses a captcha against always adding the prior. Prints
a table and writes ``benchmarks/results/tune_piece_first.json``.
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
from slidercaptcha.inference.matching import DECISIVE_MARGIN

MARGINS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4)


def score_set(solver: SliderSolver, root: Path) -> dict[str, list]:
    """Per captcha with a piece: the fit's margin, and whether the answer without and with the
    prior is within 5 px of the gap centre."""
    records, _, _ = read_labels(root)
    rows: dict[str, list] = {"margin": [], "alone_ok": [], "prior_ok": []}
    for r in tqdm([r for r in records if r.meta.get("piece_file")], desc=root.name, leave=False, disable=None):
        batch = solver.run([r.file])
        search = solver._search(batch.images[0], root / r.meta["piece_file"])  # as solve() searches
        for key, prior in (("alone_ok", None), ("prior_ok", solver._prior(batch, 0))):
            rows[key].append(bool(np.hypot(*np.subtract(search.match(prior).center, r.gap)) <= 5))
        rows["margin"].append(search.margin)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data", nargs="+", type=Path, help="generated separate-form sets (manifest + pieces)")
    p.add_argument("--model", help="model path (default: the packaged one)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "tune_piece_first.json"))
    args = p.parse_args(argv)
    solver = SliderSolver.load(args.model, threads=args.threads)
    sets = {str(root): score_set(solver, root) for root in args.data}
    table = {}
    for name, rows in sets.items():
        margin, alone, prior = (np.asarray(rows[k]) for k in ("margin", "alone_ok", "prior_ok"))
        table[name] = {"n": len(margin), "alone": float(alone.mean()), "always_prior": float(prior.mean()),
                       "by_margin": {f"{m:g}": {"within_5px": float(np.where(margin >= m, alone, prior).mean()),
                                                "skips_network": float((margin >= m).mean())} for m in MARGINS}}
    lossless = [m for m in MARGINS if all(t["by_margin"][f"{m:g}"]["within_5px"] >= t["always_prior"]
                                          for t in table.values())]
    print("| set | n | fit alone | always prior | " + " | ".join(f"≥{m:g}: within 5 px / skips" for m in MARGINS) + " |")
    print("|---|---|---|---|" + "---|" * len(MARGINS))
    for name, t in table.items():
        cells = [f"{100 * c['within_5px']:.1f} / {100 * c['skips_network']:.0f}" for c in t["by_margin"].values()]
        print(f"| {name} | {t['n']} | {100 * t['alone']:.1f} | {100 * t['always_prior']:.1f} | " + " | ".join(cells) + " |")
    print(f"smallest margin with no loss: {min(lossless) if lossless else None} (DECISIVE_MARGIN = {DECISIVE_MARGIN})")
    Path(args.out).write_text(json.dumps({
        "command": "python benchmarks/tune_piece_first.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "model": solver.backend.description, "sets": table,
        "smallest_lossless_margin": min(lossless) if lossless else None}, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
