"""Run ``slidercaptcha benchmark-inference`` with the settings used for the issue-6 numbers.

    python benchmarks/bench_inference.py [--checkpoint C ...] [extra benchmark-inference flags]

Defaults: both variants (random weights unless checkpoints are given), all four backends,
batch 1 and 32, 2 threads, ONNX Runtime per-operator profile, JSON to benchmark_inference.json.
"""

from __future__ import annotations

import sys

from slidercaptcha.cli import main

if __name__ == "__main__":
    sys.exit(main(["benchmark-inference", "--threads", "2", "--batch-sizes", "1", "32", "--profile",
                   *sys.argv[1:]]))
