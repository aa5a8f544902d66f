"""Spec-compatible wrapper: `python scripts/benchmark_dataloader.py ...` = `slidercaptcha benchmark-dataloader ...`."""

import sys

from slidercaptcha.cli import main

if __name__ == "__main__":
    sys.exit(main(["benchmark-dataloader", *sys.argv[1:]]))
