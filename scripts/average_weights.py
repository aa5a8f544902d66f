"""Average the weights of checkpoints that share a start: a model soup, or with two of them the
interpolation of a fine-tune with its starting weights (WiSE-FT), which often keeps what the
start did well and what the fine-tune learned.

    python scripts/average_weights.py --out soup.pth A.pth B.pth            # equal weights
    python scripts/average_weights.py --out mid.pth A.pth:0.7 B.pth:0.3     # 0.7·A + 0.3·B

Each checkpoint gives its EMA weights when it has them (what ``evaluate`` and the solver use);
BatchNorm running statistics are averaged like the weights; integer buffers come from the first.
The output is a checkpoint with the first one's config, which every command loads;
``--input-size H W`` changes the size it runs at (the network is fully convolutional).
"""

from __future__ import annotations

import argparse

import torch

from slidercaptcha.checkpoint import load_checkpoint, load_weights, save_checkpoint


def parse(item: str) -> tuple[str, float | None]:
    path, sep, weight = item.rpartition(":")
    if sep and path and weight.replace(".", "", 1).isdigit():
        return path, float(weight)
    return item, None


def average(sources: list[tuple[str, float | None]]) -> dict[str, torch.Tensor]:
    given = [w for _, w in sources]
    if any(w is None for w in given) and not all(w is None for w in given):
        raise SystemExit("give a weight to every checkpoint or to none")
    weights = [1.0 / len(sources)] * len(sources) if given[0] is None else given
    if abs(sum(weights) - 1.0) > 1e-6:
        raise SystemExit(f"weights must sum to 1, not {sum(weights):g}")
    states = [load_weights(path) for path, _ in sources]
    keys = states[0].keys()
    for (path, _), state in zip(sources, states, strict=True):
        if state.keys() != keys:
            raise SystemExit(f"{path}: its weights do not match {sources[0][0]}'s")
    return {k: sum(w * s[k].float() for w, s in zip(weights, states, strict=True)) if states[0][k].is_floating_point()
            else states[0][k] for k in keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", help="PATH or PATH:WEIGHT")
    parser.add_argument("--out", required=True)
    parser.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"),
                        help="run the average at this input size instead of the first checkpoint's")
    args = parser.parse_args()
    sources = [parse(c) for c in args.checkpoints]
    state = average(sources)
    config = load_checkpoint(sources[0][0])["config"]
    if args.input_size:
        config["model"]["input_size"] = list(args.input_size)
    save_checkpoint(args.out, {"epoch": 0, "model_state_dict": state, "ema_state_dict": state, "config": config,
                               "averaged_from": [f"{p}:{w}" if w is not None else p for p, w in sources]})
    print(f"wrote {args.out} from {len(sources)} checkpoints")


if __name__ == "__main__":
    main()
