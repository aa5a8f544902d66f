"""How far checkpoints moved from a start: the relative L2 distance of their weights.

    python scripts/weight_distance.py src/slidercaptcha/weights/default.safetensors checkpoints/stage30/epoch_*.pth

Stage 21's lesson is that a run which travelled far from its start, averaged with that start,
beat both; this measures the travel. Each checkpoint gives its EMA weights when it has them (as
``average_weights.py`` and the solver read it); BatchNorm running statistics and counters are
left out (they are statistics of the data, not learned weights). Prints ||w - w0|| / ||w0|| per
checkpoint.
"""

from __future__ import annotations

import argparse

import torch

from slidercaptcha.checkpoint import load_weights


def learned(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.float() for k, v in state.items() if v.is_floating_point() and "running_" not in k}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("start", help="the weights the runs started from")
    parser.add_argument("checkpoints", nargs="+")
    args = parser.parse_args()
    start = learned(load_weights(args.start))
    norm = torch.sqrt(sum((v ** 2).sum() for v in start.values()))
    for path in args.checkpoints:
        weights = learned(load_weights(path))
        if weights.keys() != start.keys():
            raise SystemExit(f"{path}: its weights do not match {args.start}'s")
        moved = torch.sqrt(sum(((weights[k] - start[k]) ** 2).sum() for k in start))
        print(f"{path}: {moved / norm:.4f}")


if __name__ == "__main__":
    main()
