"""Pick a training run's epoch by real captchas it never saw: the spc *train* split.

    python scripts/pick_by_real.py JSON [JSON ...]

Each JSON is ``benchmarks/bench_real.py --spc-split train --model <checkpoint> --out JSON``.
The score is the mean, over the vendors the accuracy target names (every spc vendor but
Shumei), of "within 5 px with the vendor's median error removed"; the best is printed last.
The model never trains on spc, and the val split that the README reports stays untouched by
the choice.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

VENDORS = ("Dingxiang", "GeeTest v3", "GeeTest v4", "NetEase", "Tencent")


def score(path: Path) -> tuple[str, dict[str, float], float | None]:
    data = json.loads(path.read_text())
    model = data["command"].split("--model ")[1].split()[0] if "--model " in data["command"] else "packaged"
    ours = data["results"]["slidercaptcha"]
    shumei = ours.get("spc Shumei", {}).get("within_5px_median_removed")
    return model, {v: ours[f"spc {v}"]["within_5px_median_removed"] for v in VENDORS}, shumei


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__)
        return 2
    rows = [score(Path(p)) for p in paths]
    print("| model | " + " | ".join(VENDORS) + " | mean | Shumei |")
    print("|---|" + "---|" * (len(VENDORS) + 2))
    for model, acc, shumei in rows:
        print(f"| {model} | " + " | ".join(f"{acc[v]:.1f}" for v in VENDORS) + f" | {sum(acc.values()) / len(VENDORS):.1f} | "
              + ("—" if shumei is None else f"{shumei:.1f}") + " |")
    best = max(rows, key=lambda r: sum(r[1].values()))
    print(f"best: {best[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
