"""``slidercaptcha benchmark-inference``: end-to-end latency per backend and precision.

Each timed call is the user's path: PNG bytes → decode → letterbox → model → decode points.
Reported per image: p50/p95 latency (a batch call's time divided by its size), images/s,
and the model's share. Accuracy on generated captchas: FP16/INT8 decoded points vs FP32,
and each backend's accuracy@5px against the generator's labels (what a precision costs
in solved captchas).
``--profile`` adds ONNX Runtime's per-operator time summary (where the time goes).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from slidercaptcha.inference.backends import OnnxBackend, TorchBackend, load_torch_model
from slidercaptcha.inference.export import add_int8_arguments, export
from slidercaptcha.inference.images import encode_png
from slidercaptcha.inference.samples import errors_vs_labels, generated_captchas, random_checkpoint
from slidercaptcha.inference.solver import SliderSolver
from slidercaptcha.metrics import accuracy
from slidercaptcha.model import VARIANTS

BACKENDS = ("torch-fp32", "onnx-fp32", "onnx-fp16", "onnx-int8")
ONNX_FORMATS = {"onnx-fp32": "onnx", "onnx-fp16": "onnx-fp16", "onnx-int8": "onnx-int8"}


def add_arguments(parser) -> None:
    parser.add_argument("--checkpoint", nargs="*", help="checkpoints (default: random weights per variant)")
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=sorted(VARIANTS))
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 32])
    parser.add_argument("--calls", type=int, default=20, help="timed calls at batch 1 (fewer for big batches)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--samples", type=int, default=32, help="generated captchas for the accuracy check")
    parser.add_argument("--profile", action="store_true", help="ONNX Runtime per-operator profile (batch 1)")
    add_int8_arguments(parser)
    parser.add_argument("--json", default="benchmark_inference.json", help="where to write the results")


def time_calls(solver: SliderSolver, data: list[bytes], batch: int, calls: int) -> dict:
    """p50/p95 per-image latency (ms) and images/s over ``calls`` batch calls, after a warm-up."""
    inputs = (data * (batch // len(data) + 1))[:batch]
    solver.solve_batch(inputs)
    times, model_ms = [], []
    for _ in range(calls):
        start = time.perf_counter()
        results = solver.solve_batch(inputs)
        times.append((time.perf_counter() - start) * 1000 / batch)
        model_ms.append(results[0].timing["model"])
    return {"batch": batch, "calls": calls, "p50_ms": statistics.median(times),
            "p95_ms": float(np.percentile(times, 95)), "images_per_s": 1000 / statistics.mean(times),
            "model_ms": statistics.median(model_ms)}


def point_distances(ref, other) -> np.ndarray:
    """Distance (px) between two runs' decoded points: every gap, and every slider both found."""
    dists = [np.hypot(a.gap[0] - b.gap[0], a.gap[1] - b.gap[1]) for a, b in zip(ref, other, strict=True)]
    dists += [np.hypot(a.slider[0] - b.slider[0], a.slider[1] - b.slider[1])
              for a, b in zip(ref, other, strict=True) if a.slider is not None and b.slider is not None]
    return np.array(dists)


def point_errors(ref, other) -> dict:
    """Mean and max of :func:`point_distances`, and the share of points within 1 px and 3 px."""
    dists = point_distances(ref, other)
    return {"mean_px": float(dists.mean()), "max_px": float(dists.max()),
            "within_1px": float((dists <= 1).mean()), "within_3px": float((dists <= 3).mean())}


def operator_profile(path: Path, data: list[bytes], threads: int, calls: int = 10, top: int = 8) -> list[dict]:
    """Total time per ONNX operator type over ``calls`` batch-1 runs, largest first."""
    with tempfile.TemporaryDirectory() as tmp:
        backend = OnnxBackend(path, threads=threads, profile_prefix=str(Path(tmp) / "ort"))
        solver = SliderSolver(backend)
        for i in range(calls):
            solver.solve(data[i % len(data)])
        events = json.loads(Path(backend.end_profiling()).read_text())
    per_op: dict[str, float] = defaultdict(float)
    for event in events:
        if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time"):
            per_op[event["args"]["op_name"]] += event["dur"] / 1000 / calls
    total = sum(per_op.values())
    ranked = sorted(per_op.items(), key=lambda kv: -kv[1])[:top]
    return [{"op": op, "ms_per_image": ms, "share": ms / total} for op, ms in ranked]


def bench_model(ckpt: Path, name: str, args, data: list[bytes], accuracy_set: list, tmp: Path) -> dict:
    """Every requested backend for one checkpoint: timings, accuracy (vs FP32 and vs the labels
    of the captchas in ``accuracy_set``), optional profile."""
    calibration = [c.image for c in generated_captchas(32, seed=99)]
    solvers, rows, decoded = {}, [], {}
    for backend in args.backends:
        if backend == "torch-fp32":
            solvers[backend] = SliderSolver(TorchBackend(load_torch_model(ckpt)[0], threads=args.threads))
        else:
            path = export(ckpt, ONNX_FORMATS[backend], tmp / f"{name}_{backend}.onnx", calibration=calibration,
                          int8_ops=args.int8_ops, float_modules=args.int8_float_modules)
            solvers[backend] = SliderSolver(OnnxBackend(path, threads=args.threads))
        for batch in args.batch_sizes:
            calls = max(2, args.calls if batch == 1 else args.calls * 2 // batch)
            row = {"model": name, "backend": backend, **time_calls(solvers[backend], data, batch, calls)}
            rows.append(row)
            print(format_row(row), flush=True)
        decoded[backend] = solvers[backend].solve_batch([c.image for c in accuracy_set])
    reference = decoded.get("onnx-fp32") or decoded.get("torch-fp32")
    vs_fp32 = {b: point_errors(reference, d) for b, d in decoded.items() if reference is not None}
    vs_labels = {b: accuracy(errors_vs_labels(accuracy_set, d)["error"], 5) for b, d in decoded.items()}
    result = {"rows": rows, "accuracy_vs_fp32": vs_fp32, "accuracy@5px_vs_labels": vs_labels,
              "int8_ops": list(args.int8_ops), "int8_float_modules": list(args.int8_float_modules)}
    if args.profile:
        result["profile"] = {b: operator_profile(solvers[b].backend.path, data, args.threads)
                             for b in args.backends if b.startswith("onnx")}
    return result


def format_row(row: dict) -> str:
    return (f"{row['model']:24s} {row['backend']:11s} batch {row['batch']:3d}  p50 {row['p50_ms']:7.1f} ms  "
            f"p95 {row['p95_ms']:7.1f} ms  {row['images_per_s']:6.1f} img/s  (model {row['model_ms']:.1f} ms/img)")


def run(args) -> int:
    data = [encode_png(c.image) for c in generated_captchas(8, seed=7)]
    accuracy_set = generated_captchas(args.samples, seed=123)
    results = {}
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        models = ([(Path(c), Path(c).stem) for c in args.checkpoint] if args.checkpoint else
                  [(random_checkpoint(tmp / f"{v}.pth", v), f"{v} (random)") for v in args.variants])
        for ckpt, name in models:
            results[name] = bench_model(ckpt, name.split()[0], args, data, accuracy_set, tmp)
    print("\naccuracy vs FP32 (decoded points, px):")
    for name, res in results.items():
        for backend, err in res["accuracy_vs_fp32"].items():
            print(f"  {name:32s} {backend:11s} mean {err['mean_px']:.3f}  max {err['max_px']:.3f}  "
                  f"within 1 px {err['within_1px']:.1%}  within 3 px {err['within_3px']:.1%}  "
                  f"(accuracy@5px vs labels {res['accuracy@5px_vs_labels'][backend]:.1f}%)")
        for backend, ops in res.get("profile", {}).items():
            print(f"  profile {name} {backend}: " + ", ".join(
                f"{o['op']} {o['ms_per_image']:.1f}ms ({o['share']:.0%})" for o in ops))
    Path(args.json).write_text(json.dumps(results, indent=2))
    print(f"results: {args.json}")
    return 0
