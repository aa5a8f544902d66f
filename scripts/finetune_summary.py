"""Collect ``slidercaptcha finetune`` runs into one JSON and a markdown table (README figures).

    python scripts/finetune_summary.py finetune/spc finetune/spc50 \
        --synthetic results/synthetic_before/metrics.json finetune/spc/results/synthetic/metrics.json \
        --out benchmarks/results/finetune_spc.json

Each run folder holds the ``summary.json`` that ``finetune`` wrote. ``--synthetic BEFORE AFTER``
adds the generated test set's accuracy@5px before and after (does the model forget?).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def accuracy(summary: dict, part: str, group: str) -> str:
    """accuracy@5px of a run's 'before' or 'after' for one group ('all': the whole held-out set)."""
    v = summary[part]["accuracy@5px"] if group == "all" else summary[part]["per_group"].get(group)
    return "—" if v is None else f"{v:.1f}"


def table(runs: dict[str, dict]) -> str:
    groups = sorted({g for s in runs.values() for g in s["after"]["per_group"]})
    first = next(iter(runs.values()))
    head = ["vendor", "before", *[f"{name} ({s['n_train']} images, {s['train_minutes']:.0f} min)"
                                  for name, s in runs.items()]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g in [*groups, "all"]:
        after = " | ".join(accuracy(s, "after", g) for s in runs.values())
        lines.append(f"| {g} | {accuracy(first, 'before', g)} | {after} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="finetune output folders")
    p.add_argument("--synthetic", nargs=2, metavar=("BEFORE", "AFTER"), help="metrics.json on a generated test set")
    p.add_argument("--out", required=True, help="JSON to write (a .md table is written beside it)")
    args = p.parse_args()
    runs = {Path(r).name: json.loads((Path(r) / "summary.json").read_text()) for r in args.runs}
    result: dict = {"runs": runs}
    text = table(runs)
    if args.synthetic:
        before, after = (json.loads(Path(m).read_text()) for m in args.synthetic)
        result["synthetic"] = {"data": after["data"], "before": before["overall"]["accuracy@5px"],
                               "after": after["overall"]["accuracy@5px"], "checkpoint_after": after["checkpoint"]}
        text += (f"\nGenerated test set ({after['n_evaluated']} captchas) accuracy@5px: "
                 f"{result['synthetic']['before']:.1f} % before, {result['synthetic']['after']:.1f} % after.\n")
    out = Path(args.out)
    out.write_text(json.dumps(result, indent=1) + "\n")
    out.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
