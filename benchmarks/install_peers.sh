#!/usr/bin/env bash
# Install the peer solvers for benchmarks/peers.py into the current Python environment.
# See benchmarks/requirements-peers.txt for why three of them go in with --no-deps.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python}"

"$python" -m pip install -r "$here/requirements-peers.txt"
"$python" -m pip install --no-deps \
    captcha-recognizer==1.0.2 \
    no_puzzle_captcha==1.1.1 \
    sider-captcha-solver==1.0.3
