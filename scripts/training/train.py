"""The spec's ``python scripts/training/train.py --config ...``: same as ``slidercaptcha train``."""

import sys

from slidercaptcha.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
