"""Data pipeline benchmark: generation images/s and training-loader samples/s.

Usage: python benchmarks/bench_data.py [benchmark-dataloader options]
Defaults: on-the-fly rendering, workers 0/1/2, batch 8/16, JSON to benchmarks/results/bench_data.json.
"""

import sys

from slidercaptcha.cli import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--manifest" not in args and "--on_the_fly" not in args and "--on-the-fly" not in args:
        args = ["--on_the_fly", *args]
    if "--json" not in args:
        args += ["--json", "benchmarks/results/bench_data.json"]
    sys.exit(main(["benchmark-dataloader", *args]))
