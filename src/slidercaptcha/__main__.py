"""``python -m slidercaptcha`` (what torchrun runs) is the CLI."""

import sys

from slidercaptcha.cli import main

sys.exit(main())
