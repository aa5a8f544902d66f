"""Training-step throughput on this machine: samples/s per model, input size, batch, memory format.

One step = forward + the real loss + backward + AdamW step, on a batch of generated
captchas with their real targets. Prints a table and writes JSON.

    python benchmarks/bench_training.py                      # the default grid (CPU)
    python benchmarks/bench_training.py --compile            # also torch.compile (slow to compile)
    python benchmarks/bench_training.py --device cuda --json benchmarks/results/bench_training_cuda.json
                                                             # the GPU grid, each also under bf16 autocast
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
from torch.utils.data import default_collate

from slidercaptcha.config import Config, GeneratorConfig
from slidercaptcha.data.dataset import SyntheticDataset
from slidercaptcha.losses import compute_loss
from slidercaptcha.model import build_model
from slidercaptcha.train.validate import TARGET_KEYS

GRID = [  # (variant, input H×W, batch sizes)
    ("lite-hrnet-18-fpn-s", (128, 256), (8, 16)),
    ("lite-hrnet-18-fpn-s", (256, 512), (8, 16)),
    ("lite-hrnet-18-fpn", (128, 256), (8, 16)),
    ("lite-hrnet-18-fpn", (256, 512), (8,)),
]
GPU_GRID = [  # the shipped model's training input, and the spec's; batches the GPU table allows
    ("lite-hrnet-18-fpn-s", (192, 384), (16, 64, 256)),
    ("lite-hrnet-18-fpn", (256, 512), (16, 64)),
]


def batch_of(size: tuple[int, int], n: int) -> dict:
    data = SyntheticDataset(GeneratorConfig(), None, length=n, seed=0, input_size=size)
    return default_collate([data[i] for i in range(n)])


def steps_per_second(variant: str, batch: dict, channels_last: bool, compile_model: bool, steps: int,
                     device: torch.device, amp: bool = False) -> float:
    torch.manual_seed(0)
    model = build_model(variant, input_size=tuple(batch["image"].shape[-2:])).train()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(device, memory_format=fmt)
    net = torch.compile(model) if compile_model else model
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    images = batch["image"].to(device).contiguous(memory_format=fmt)
    targets = {k: batch[k].to(device) for k in TARGET_KEYS}
    loss_cfg = Config().loss
    times = []
    for i in range(steps + 2):  # the first two steps warm up (and compile, and pick kernels)
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            out = net(images)
        loss, _ = compute_loss(out, targets, loss_cfg)  # in FP32, as the trainer does
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize(device)  # GPU work is queued: time it to the end
        if i > 1:
            times.append(time.perf_counter() - start)
    return len(images) / sorted(times)[len(times) // 2]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=3, help="timed steps per setting (median is reported)")
    p.add_argument("--compile", action="store_true", help="also time torch.compile")
    p.add_argument("--device", default="cpu", help="cpu, or cuda: the GPU grid, with and without bf16 autocast")
    p.add_argument("--json", default="benchmarks/results/bench_training.json")
    args = p.parse_args()
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    steps = max(args.steps, 10) if gpu else args.steps
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    where = torch.cuda.get_device_name(device) if gpu else platform.processor() or platform.machine()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {where}")
    print(f"{'variant':22s} {'input':>9s} {'batch':>5s} {'format':>19s} {'samples/s':>10s}")
    for variant, size, batches in GPU_GRID if gpu else GRID:
        for n in batches:
            batch = batch_of(size, n)
            modes = [(False, False, False), (True, False, False)] + ([(True, False, True)] if gpu else [])
            modes += [(True, True, False)] if args.compile else []
            for channels_last, compiled, amp in modes:
                rate = steps_per_second(variant, batch, channels_last, compiled, steps, device, amp)
                fmt = ("channels_last" if channels_last else "contiguous") + ("+bf16" if amp else "")
                fmt += "+compile" if compiled else ""
                rows.append({"variant": variant, "input": list(size), "batch": n, "format": fmt, "samples_per_s": rate})
                print(f"{variant:22s} {size[0]:>4d}x{size[1]:<4d} {n:>5d} {fmt:>19s} {rate:>10.2f}", flush=True)
                # Written after every row: a run cut short (a lent GPU's time runs out) keeps what it measured.
                out.write_text(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                                           "device": where, "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
