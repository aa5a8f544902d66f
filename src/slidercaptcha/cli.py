"""``slidercaptcha <command>``: one entry point whose commands mirror the spec's scripts.

Each command lives in its own module exposing ``add_arguments(parser)`` and ``run(args) -> int``.
Only the chosen command's module is imported, so ``slidercaptcha --help`` stays instant
and a command that needs no torch never pays for importing it.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from slidercaptcha import __version__

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("slidercaptcha.data.generate", "render synthetic slider captchas and a manifest"),
    "split": ("slidercaptcha.data.split", "split a generated dataset by background group"),
    "validate-data": ("slidercaptcha.data.validate", "check every record of a manifest"),
    "preview": ("slidercaptcha.data.preview", "contact sheet of samples with their labels drawn"),
    "benchmark-dataloader": ("slidercaptcha.data.benchmark", "samples/s of generation and of the training loader"),
    "model-info": ("slidercaptcha.model.info", "parameter table, GFLOPs and weight sizes"),
    "train": ("slidercaptcha.train.engine", "train the model from a YAML config"),
    "import-real": ("slidercaptcha.data.import_real", "convert a public set of real captchas to manifests"),
    "evaluate": ("slidercaptcha.evaluation.evaluate", "score a checkpoint on a labelled set"),
    "report": ("slidercaptcha.evaluation.report", "write the evaluation report and plots"),
    "plot": ("slidercaptcha.evaluation.plots", "draw training curves from a run"),
    "doctor": ("slidercaptcha.evaluation.doctor", "gradient, data and output-range checks"),
    "predict": ("slidercaptcha.inference.predict", "solve captchas: gap, slider and distance"),
    "export": ("slidercaptcha.inference.export", "export to ONNX (FP32, FP16, INT8)"),
    "benchmark-inference": ("slidercaptcha.inference.benchmark", "latency and throughput per backend"),
    "serve": ("slidercaptcha.inference.server", "HTTP service: POST /solve"),
    "finetune": ("slidercaptcha.finetune", "fine-tune on your own labelled captchas, before/after report"),
    "quickstart": ("slidercaptcha.quickstart", "the whole pipeline in minutes on a CPU"),
}


def _available() -> dict[str, tuple[str, str]]:
    return {name: spec for name, spec in COMMANDS.items() if importlib.util.find_spec(spec[0]) is not None}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slidercaptcha", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    for name, (module, help_text) in _available().items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError) as err:  # user errors: a message, no stack trace
        print(f"slidercaptcha {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
