"""Spec-compatible wrapper: `python scripts/split_dataset.py ...` = `slidercaptcha split ...`."""

import sys

from slidercaptcha.cli import main

if __name__ == "__main__":
    sys.exit(main(["split", *sys.argv[1:]]))
