"""Spec-compatible wrapper: `python scripts/generate_captchas.py ...` = `slidercaptcha generate ...`."""

import sys

from slidercaptcha.cli import main

if __name__ == "__main__":
    sys.exit(main(["generate", *sys.argv[1:]]))
