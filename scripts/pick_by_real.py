"""Pick a training run's epoch by real captchas it never saw: the spc *train* split.

    python scripts/pick_by_real.py JSON [JSON ...]

Each JSON is ``benchmarks/bench_real.py --spc-split train --model <checkpoint> --out JSON``.
The score is the mean, over the vendors the accuracy target names (every spc vendor but
Shumei), of "within 5 px with the vendor's median error removed"; the best is printed last.
The model never trains on spc, and the val split that the README reports stays untouched by
the choice. spc train serves some images several times (a vendor's first 300 hold 119-227
distinct ones), so the same mean over each distinct image once, and the distinct images solved
(of how many), follow as information (from JSONs that have them: bench_real.py since session 26).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

VENDORS = ("Dingxiang", "GeeTest v3", "GeeTest v4", "NetEase", "Tencent")


def score(path: Path) -> tuple[str, dict[str, float], float | None, str]:
    data = json.loads(path.read_text())
    model = data["command"].split("--model ")[1].split()[0] if "--model " in data["command"] else "packaged"
    ours = data["results"]["slidercaptcha"]
    shumei = ours.get("spc Shumei", {}).get("within_5px_median_removed")
    distinct = data.get("results_held_out", {}).get("slidercaptcha", {})
    if all(f"spc {v}" in distinct for v in VENDORS):
        parts = [distinct[f"spc {v}"] for v in VENDORS]
        solved = sum(round(p["within_5px_median_removed"] * p["n"] / 100) for p in parts)
        each = f"{sum(p['within_5px_median_removed'] for p in parts) / len(VENDORS):.1f} | {solved} / {sum(p['n'] for p in parts)}"
    else:
        each = "— | —"
    return model, {v: ours[f"spc {v}"]["within_5px_median_removed"] for v in VENDORS}, shumei, each


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__)
        return 2
    rows = [score(Path(p)) for p in paths]
    print("| model | " + " | ".join(VENDORS) + " | mean | Shumei | mean, each image once | images solved |")
    print("|---|" + "---|" * (len(VENDORS) + 4))
    for model, acc, shumei, each in rows:
        print(f"| {model} | " + " | ".join(f"{acc[v]:.1f}" for v in VENDORS) + f" | {sum(acc.values()) / len(VENDORS):.1f} | "
              + ("—" if shumei is None else f"{shumei:.1f}") + f" | {each} |")
    best = max(rows, key=lambda r: sum(r[1].values()))
    print(f"best: {best[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
