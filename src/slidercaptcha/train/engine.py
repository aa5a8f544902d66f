"""``slidercaptcha train``: the spec's training flow, readable top to bottom.

    config → datasets → model, AdamW, warm-up + cosine restarts, EMA → for each epoch:
    train steps (AMP, accumulation, clipping, EMA) → validate (EMA model, real decoder,
    original pixels) → checkpoints (epoch_XXX / best_model / last), log line, TensorBoard.

Interrupts (Ctrl-C, SIGTERM) and crashes save ``last.pth`` first; resuming from it restores
model, optimiser, scheduler, EMA, scaler, RNG states and the position inside the epoch, so
an interrupted run continues exactly where it stopped.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import math
import os
import random
import signal
import time
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from slidercaptcha import checkpoint as ckpt_io
from slidercaptcha.config import Config, load_config, save_config
from slidercaptcha.decode import decode
from slidercaptcha.losses import compute_loss
from slidercaptcha.metrics import sample_errors
from slidercaptcha.model import model_from_config
from slidercaptcha.train import distributed as dist
from slidercaptcha.train import tensorboard as tb
from slidercaptcha.train.ema import ModelEMA
from slidercaptcha.train.freeze import freeze, train_mode
from slidercaptcha.train.gradients import large_gradients
from slidercaptcha.train.schedule import WarmupCosineRestarts
from slidercaptcha.train.validate import TARGET_KEYS, metrics_of, predict_loader
from slidercaptcha.utils.io import atomic_write_json

log = logging.getLogger("slidercaptcha.train")


class TrainingError(RuntimeError):
    """Training cannot go on (NaN/Inf loss); ``last.pth`` was saved first."""


class Interrupted(Exception):
    """SIGINT/SIGTERM arrived; raised between steps so the state is consistent."""


def release_free_memory() -> None:
    """Hand the heap's freed memory back to the OS (glibc's ``malloc_trim``); a no-op elsewhere."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class TrimmedLoader(DataLoader):
    """A DataLoader that trims the trainer's heap before each pass forks its workers.

    glibc keeps what a training step frees (GBs of activations on the CPU) in the heap. A worker
    forked from that heap reuses the free chunks it inherits, and every page it writes is
    copied. Measured at 192x384 on 2 CPU cores, a third epoch's worker held 2.9 GB of such
    copies at batch 16 and 9.0 GB at batch 64 (next to a 10-12 GB trainer: a run on 24 GB was
    killed for memory when its second epoch forked); trimmed first, 0.3-0.4 GB, and the epochs
    ran 10-40 % faster with the same losses."""

    def __iter__(self):
        release_free_memory()
        return super().__iter__()


# ----------------------------------------------------------------------------- setup helpers
def adaptive_batch_size(cfg: Config, device: torch.device) -> int:
    """The spec's GPU-memory table; on CPU (or when disabled) the config's batch size."""
    if device.type != "cuda" or not cfg.training.adaptive_batch_size:
        return cfg.training.batch_size
    gb = torch.cuda.get_device_properties(device).total_memory / 1024**3
    return 64 if gb >= 24 else 32 if gb >= 16 else 16 if gb >= 8 else 8


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """No weight decay on norm weights and biases (1-D tensors)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def real_sets(cfg: Config, size: tuple[int, int], aug) -> list:
    """``data.real``: each labelled set as a dataset; unusable files are logged and left out."""
    from slidercaptcha.data.dataset import LabelledDataset, read_usable, require_usable

    sets = []
    for rs in cfg.data.real:
        records, skipped, _ = read_usable(rs.path, rs.format)
        for s in skipped:
            log.warning("data.real %s: skipped %s: %s", rs.path, s.file, s.reason)
        require_usable(f"data.real {rs.path}", records, skipped)
        sets.append(LabelledDataset(records, size, aug, cfg.training.seed, rs.weight))
        log.info("data.real %s: %d images, shown %.2f times per epoch", rs.path, len(records), rs.weight)
    return sets


def build_datasets(cfg: Config):
    """Training: generated captchas (on the fly or a manifest) plus any ``data.real`` sets.
    Validation: any labelled set (a generated manifest, or real captchas in a label format)."""
    from slidercaptcha.data.dataset import (
        LabelledDataset,
        ManifestDataset,
        MixedDataset,
        SyntheticDataset,
        read_usable,
    )
    from slidercaptcha.data.render import EffectProbs

    size = tuple(cfg.model.input_size)
    aug = cfg.training.augmentation if cfg.training.augmentation.enabled else None
    needed = {"data.train_manifest": None if cfg.data.on_the_fly else cfg.data.train_manifest,
              "data.val_manifest": cfg.data.val_manifest}
    for key, path in needed.items():
        if path and not Path(path).is_file():
            raise FileNotFoundError(f"{key}: {path} not found; make it with `slidercaptcha generate` and "
                                    f"`slidercaptcha split`, or point to yours with --set {key}=PATH")
    if cfg.data.on_the_fly:
        train_set = SyntheticDataset(cfg.data.generator, aug, cfg.data.samples_per_epoch, cfg.training.seed,
                                     cfg.data.backgrounds, input_size=size,
                                     probs=EffectProbs.from_augmentation(cfg.training.augmentation),
                                     art=cfg.data.art)
    else:
        train_set = ManifestDataset(cfg.data.train_manifest, size, aug, cfg.training.seed)
    extra = real_sets(cfg, size, aug)
    if extra:
        train_set = MixedDataset([train_set, *extra])
    records, skipped, _ = read_usable(cfg.data.val_manifest)
    if skipped or not records:  # validation picks best_model.pth: it must score what it says it scores
        first = f" (first: {skipped[0].file}: {skipped[0].reason})" if skipped else ""
        raise ValueError(f"{cfg.data.val_manifest}: {len(records)} usable validation images, "
                         f"{len(skipped)} unusable{first}")
    val_set = LabelledDataset(records, size, None, cfg.training.seed)
    return train_set, val_set


def setup_logging(log_dir: str, main: bool) -> Path | None:
    """``logs/training_YYYYMMDD.log`` (rank 0 only), one grep-able line per epoch."""
    log.setLevel(logging.INFO)
    log.propagate = False
    for h in list(log.handlers):
        log.removeHandler(h)
        h.close()
    if not main:
        log.addHandler(logging.NullHandler())
        return None
    path = Path(log_dir) / f"training_{datetime.now():%Y%m%d}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = logging.Formatter("%(asctime)s | %(levelname)s | %(message)s", "%Y-%m-%d %H:%M:%S")
    for handler in (logging.FileHandler(path, encoding="utf-8"), logging.StreamHandler()):
        handler.setFormatter(fmt)
        log.addHandler(handler)
    return path


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def canvas_errors(out: dict, targets: dict, has_slider: torch.Tensor) -> np.ndarray:
    """Per-sample train error in canvas pixels: decoded prediction vs decoded targets."""
    identity = torch.tensor([[1.0, 1.0, 0.0, 0.0]]).expand(len(has_slider), 4)
    fields = ("heatmap_gap", "heatmap_slider", "offset_gap", "offset_slider")
    pred = decode({k: out[k].detach().float().cpu() for k in fields}, identity)
    true = decode({k: targets[k].cpu() for k in fields}, identity)
    err = sample_errors(pred["gap"].numpy(), pred["slider"].numpy(), true["gap"].numpy(), true["slider"].numpy(),
                        has_slider.numpy())
    return err["error"]


# ----------------------------------------------------------------------------- checkpoints
class CheckpointWriter:
    """Rank 0's checkpoint files in ``checkpoints/<version>/``."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.dir = Path(cfg.checkpoints.save_dir)

    def save(self, name: str, state: dict) -> Path:
        return ckpt_io.save_checkpoint(self.dir / name, state)

    def save_epoch(self, epoch: int, state: dict) -> None:
        if epoch % self.cfg.checkpoints.save_interval == 0:
            self.save(f"epoch_{epoch:03d}.pth", state)
            for old in sorted(self.dir.glob("epoch_*.pth"))[: -self.cfg.checkpoints.keep_last]:
                old.unlink()


# ----------------------------------------------------------------------------- training
def train(cfg: Config, resume_from: str | Path | None = None, distributed: bool = False,
          init_from: str | Path | None = None) -> dict:
    """Train as configured; returns the run summary (also in ``history.json``).

    resume_from: continue a run exactly (weights, optimiser, schedule, EMA, RNG, position).
    init_from: start a new run from a checkpoint's weights (EMA when present): fine-tuning.
    """
    rank, world, device = dist.setup(distributed)
    main = rank == 0
    log_path = setup_logging(cfg.logging.log_dir, main)
    seed_everything(cfg.training.seed + rank)
    tc = cfg.training

    # Data. Each epoch's order comes from DistributedSampler(seed, epoch) and each item's
    # augmentation from (seed, epoch, index), so a resumed run sees exactly the same batches.
    train_set, val_set = build_datasets(cfg)
    batch_size = adaptive_batch_size(cfg, device)
    sampler = DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True, seed=tc.seed)
    batches_per_epoch = len(sampler) // batch_size
    if tc.max_steps_per_epoch:
        batches_per_epoch = min(batches_per_epoch, tc.max_steps_per_epoch * tc.gradient_accumulation)
    if batches_per_epoch < tc.gradient_accumulation:
        raise ValueError(f"training set too small: {len(train_set)} samples give no full batch of {batch_size}")
    steps_per_epoch = batches_per_epoch // tc.gradient_accumulation
    val_sampler = DistributedSampler(val_set, num_replicas=world, rank=rank, shuffle=False) if distributed else None
    val_loader = TrimmedLoader(val_set, batch_size=batch_size, sampler=val_sampler, num_workers=cfg.data.num_workers,
                               pin_memory=device.type == "cuda")

    # Model and optimisation.
    model = model_from_config(cfg.model).to(device)
    memory_format = torch.channels_last if tc.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    if init_from:
        try:
            model.load_state_dict(ckpt_io.load_weights(init_from))
        except RuntimeError as err:
            raise ckpt_io.CheckpointError(f"{init_from}: weights do not fit model '{cfg.model.variant}' "
                                          f"at this config: {err}") from None
    frozen = freeze(model, tc.freeze)
    opt = tc.optimizer
    optimizer = torch.optim.AdamW(param_groups(model, opt.weight_decay), lr=opt.lr, betas=tuple(opt.betas), eps=opt.eps)
    scheduler = WarmupCosineRestarts(optimizer, steps_per_epoch, tc.scheduler)
    ema = ModelEMA(model, tc.ema.decay, tc.ema.update_interval) if tc.ema.enabled else None
    amp_dtype = torch.float16 if tc.amp_dtype == "float16" else torch.bfloat16
    scaler = torch.amp.GradScaler(device.type, enabled=tc.amp and amp_dtype == torch.float16 and device.type == "cuda")

    state = {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "best_mae": math.inf, "best_epoch": None,
             "history": [], "progress": {"loss": 0.0, "err": 0.0, "n": 0}, "train_seconds": 0.0}
    if resume_from:
        state = restore(resume_from, model, optimizer, scheduler, ema, scaler, state)
        log.info("resumed from %s at epoch %d step %d", resume_from, state["epoch"] + 1, state["step_in_epoch"])
    net = DistributedDataParallel(model) if distributed else model

    writer = saver = None
    if main:
        saver = CheckpointWriter(cfg)
        saver.dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, saver.dir / "config.yaml")
        writer = tb.new_writer(str(Path(cfg.logging.tensorboard_dir) / f"exp_{datetime.now():%Y%m%d_%H%M%S}"))
        if cfg.logging.graph:
            tb.add_graph(writer, model, tuple(cfg.model.input_size))
        log.info("model %s | %d params (%d trained) | batch %d x %d ranks x %d accum | %d steps/epoch | device %s | log %s",
                 cfg.model.variant, sum(p.numel() for p in model.parameters()),
                 sum(p.numel() for p in model.parameters() if p.requires_grad), batch_size, world,
                 tc.gradient_accumulation, steps_per_epoch, device, log_path)

    def snapshot() -> dict:
        return {
            "epoch": state["epoch"],
            "model_state_dict": model.state_dict(),
            "optimizer_state_dict": optimizer.state_dict(),
            "scheduler_state_dict": scheduler.state_dict(),
            "ema_state_dict": ema.state_dict() if ema else None,
            "ema_updates": ema.updates if ema else 0,
            "scaler_state_dict": scaler.state_dict(),
            "metrics": dict(state["history"][-1]["metrics"]) if state["history"] else {},
            "config": cfg.to_dict(),
            "random_state": ckpt_io.rng_state(),
            **{k: state[k] for k in ("global_step", "step_in_epoch", "best_mae", "best_epoch", "history",
                                     "progress", "train_seconds")},
        }

    stop = {"flag": False}
    owner = os.getpid()

    def on_signal(signum, _frame):
        if os.getpid() != owner:  # a DataLoader worker forked with this handler (Ctrl-C reaches them all)
            return
        stop["flag"] = True
        log.warning("signal %d received: saving last.pth after this step", signum)

    old_handlers = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    last_save = time.monotonic()
    try:
        for epoch in range(state["epoch"] + 1, tc.num_epochs + 1):
            # ---- train one epoch
            train_mode(net, frozen)
            train_set.set_epoch(epoch)
            sampler.set_epoch(epoch)
            order = list(sampler)[: batches_per_epoch * batch_size]
            start = state["step_in_epoch"] * tc.gradient_accumulation * batch_size
            loader = TrimmedLoader(train_set, batch_size=batch_size, sampler=order[start:], drop_last=True,
                                   num_workers=cfg.data.num_workers, pin_memory=device.type == "cuda")
            bar = tqdm(total=steps_per_epoch, initial=state["step_in_epoch"], desc=f"epoch {epoch}/{tc.num_epochs}",
                       disable=not (main and cfg.logging.progress_bar), dynamic_ncols=True, leave=False)
            t0, seen = time.perf_counter(), 0
            lr = optimizer.param_groups[0]["lr"]
            for micro, batch in enumerate(loader):
                images = batch["image"].to(device, non_blocking=True).contiguous(memory_format=memory_format)
                targets = {k: batch[k].to(device, non_blocking=True) for k in TARGET_KEYS}
                last_micro = (micro + 1) % tc.gradient_accumulation == 0
                sync = nullcontext() if (last_micro or not distributed) else net.no_sync()
                with sync:
                    with torch.autocast(device.type, dtype=amp_dtype, enabled=tc.amp):
                        out = net(images)
                    loss, parts = compute_loss(out, targets, cfg.loss)
                    if dist.broadcast_flag(not torch.isfinite(loss).item(), device):
                        if main:
                            saver.save("last.pth", snapshot())
                        raise TrainingError(f"loss is {loss.item()} at epoch {epoch}, step {state['global_step']} "
                                            f"(parts {parts}); last.pth saved. Lower training.optimizer.lr "
                                            "or check the data (slidercaptcha validate-data).")
                    scaler.scale(loss / tc.gradient_accumulation).backward()
                err = canvas_errors(out, targets, batch["has_slider"])
                p = state["progress"]
                p["loss"] += loss.item() * len(images)
                p["err"] += float(err.sum())
                p["n"] += len(images)
                seen += len(images)
                if not last_micro:
                    continue

                scaler.unscale_(optimizer)
                grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), tc.gradient_clip or math.inf)
                log_step = state["global_step"] % cfg.logging.log_every_steps == 0
                if log_step or not math.isfinite(grad_norm.item()) or grad_norm.item() > tc.grad_norm_warn:
                    for name, norm in large_gradients(model, tc.grad_norm_warn):
                        log.warning("large gradient in %s: %.1f", name, norm)
                before = [q.detach().clone() for q in model.parameters()] if (log_step and main) else None
                scaler.step(optimizer)
                scaler.update()
                if main and state["step_in_epoch"] + 1 == steps_per_epoch and epoch % cfg.logging.histogram_interval == 0:
                    tb.add_histograms(writer, model, epoch)  # before zero_grad: gradients still there
                optimizer.zero_grad(set_to_none=True)
                lr = optimizer.param_groups[0]["lr"]  # the rate this step used (logged below)
                scheduler.step()
                state["global_step"] += 1
                state["step_in_epoch"] += 1
                if ema:
                    ema.update(model, state["global_step"])

                rate = seen * world / (time.perf_counter() - t0)
                bar.set_postfix(loss=f"{loss.item():.4f}", lr=f"{lr:.2e}", samples_s=f"{rate:.1f}")
                bar.update()
                if main and log_step:
                    step = state["global_step"]
                    writer.add_scalar("Loss/train", loss.item(), step)
                    writer.add_scalar("Learning_Rate", lr, step)
                    writer.add_scalar("Gradients/norm", grad_norm.item(), step)
                    writer.add_scalar("Weights/update_ratio", update_ratio(before, model), step)
                    for k, v in parts.items():
                        writer.add_scalar(f"Loss_Parts/{k}", v, step)
                if dist.broadcast_flag(stop["flag"], device):
                    raise Interrupted
                if main and time.monotonic() - last_save > tc.checkpoint_minutes * 60:
                    saver.save("last.pth", snapshot())
                    last_save = time.monotonic()
            bar.close()
            dist.sync_buffers(model)
            state["train_seconds"] += time.perf_counter() - t0

            # ---- end of epoch: reduce, validate, save, log
            p = state["progress"]
            train_loss, train_mae = dist.all_reduce_mean([p["loss"] / max(p["n"], 1), p["err"] / max(p["n"], 1)], device)
            state["epoch"], state["step_in_epoch"] = epoch, 0
            state["progress"] = {"loss": 0.0, "err": 0.0, "n": 0}
            record = {"epoch": epoch, "train_loss": train_loss, "train_mae": train_mae,
                      "lr": lr, "epoch_seconds": time.perf_counter() - t0,
                      "samples_per_second": seen * world / (time.perf_counter() - t0), "metrics": {}}
            if epoch % cfg.validation.interval == 0 or epoch == tc.num_epochs:
                record.update(validate(cfg, ema.module if ema else model, val_loader, device, writer, epoch, main))
            improved = record.get("val_mae") is not None and record["val_mae"] < state["best_mae"]
            if improved:
                state["best_mae"], state["best_epoch"] = record["val_mae"], epoch
            record["metrics"] = {"train_loss": train_loss, "val_loss": record.get("val_loss"),
                                 "val_mae": record.get("val_mae"), "val_acc_5px": record.get("val_acc_5px"),
                                 "val_acc_3px": record.get("val_acc_3px"), "best_mae": state["best_mae"]}
            state["history"].append(record)
            if main:
                snap = snapshot()
                saver.save_epoch(epoch, snap)
                saver.save("last.pth", snap)
                last_save = time.monotonic()
                if improved and cfg.checkpoints.save_best and cfg.validation.save_best:
                    saver.save("best_model.pth", snap)
                write_history(saver.dir / "history.json", cfg, state)
                tb.add_epoch_scalars(writer, state["global_step"], train_loss, record.get("val_loss"),
                                     record.get("val_metrics"))
                writer.flush()
                log.info(epoch_line(epoch, tc.num_epochs, record))
    except Interrupted:
        if main:
            saver.save("last.pth", snapshot())
            log.warning("interrupted at epoch %d step %d: saved %s", state["epoch"] + 1, state["step_in_epoch"],
                        saver.dir / "last.pth")
    except TrainingError:
        raise
    except Exception:
        if main and saver is not None:
            saver.save("last.pth", snapshot())
            log.exception("training failed; last.pth saved")
        raise
    finally:
        for s, h in old_handlers.items():
            signal.signal(s, h)
        if writer is not None:
            writer.close()
        dist.cleanup()
    return {"epochs": state["epoch"], "best_mae": state["best_mae"], "best_epoch": state["best_epoch"],
            "history": state["history"], "checkpoint_dir": str(Path(cfg.checkpoints.save_dir)), "model": model}


def validate(cfg: Config, model, loader, device, writer, epoch: int, main: bool) -> dict:
    """Validation metrics (gathered over ranks) and, on rank 0, TensorBoard figures."""
    figures = main and (epoch % cfg.logging.figure_interval == 0 or epoch == 1)
    acts = main and cfg.logging.activation_histograms and epoch % cfg.logging.histogram_interval == 0
    if acts:  # one hooked forward on a few images: bounded cost
        with tb.activation_histograms(writer, model, epoch), torch.no_grad():
            model.eval()(next(iter(loader))["image"][:4].to(device))
    pred = predict_loader(model, loader, device, cfg.loss, joint=cfg.validation.joint_decode, keep_first_batch=figures)
    parts = dist.gather_objects({k: v for k, v in pred.items() if k not in ("first",)})
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0] if isinstance(parts[0][k], np.ndarray)}
    val_loss = float(np.mean([p["loss"] for p in parts]))
    metrics = metrics_of(merged)
    if figures:
        tb.add_predictions(writer, pred["first"], epoch)
        tb.add_pr_curve(writer, pred["first"], epoch)
    return {"val_loss": val_loss, "val_mae": metrics["mae"], "val_acc_5px": metrics["accuracy@5px"],
            "val_acc_3px": metrics["accuracy@3px"], "val_metrics": metrics}


def update_ratio(before: list[torch.Tensor] | None, model: torch.nn.Module) -> float:
    """||Δw|| / ||w|| over all parameters for one optimiser step."""
    if before is None:
        return float("nan")
    delta = sum(float((p.detach() - b).pow(2).sum()) for p, b in zip(model.parameters(), before, strict=True))
    norm = sum(float(b.pow(2).sum()) for b in before)
    return math.sqrt(delta / max(norm, 1e-12))


def epoch_line(epoch: int, total: int, r: dict) -> str:
    """One grep-able line per epoch (the spec greps for Loss|MAE|Acc)."""
    line = f"Epoch {epoch}/{total} | Loss train {r['train_loss']:.4f}"
    if r.get("val_loss") is not None:
        m = r["val_metrics"]
        line += (f" val {r['val_loss']:.4f} | MAE {m['mae']:.2f}px (gap {m['gap_mae']:.2f}"
                 + (f", slider {m['slider_mae']:.2f}" if m.get("slider_mae") is not None else "")
                 + f") | Acc@3px {m['accuracy@3px']:.1f}% Acc@5px {m['accuracy@5px']:.1f}% "
                 f"Acc@10px {m['accuracy@10px']:.1f}%")
    return line + f" | train MAE {r['train_mae']:.2f}px | lr {r['lr']:.2e} | {r['samples_per_second']:.1f} samples/s | time {r['epoch_seconds']:.1f}s"


def write_history(path: Path, cfg: Config, state: dict) -> None:
    atomic_write_json(path, {"version": cfg.version, "best_mae": state["best_mae"], "best_epoch": state["best_epoch"],
                             "train_seconds": state["train_seconds"], "num_epochs": cfg.training.num_epochs,
                             "epochs": state["history"]})


def restore(path, model, optimizer, scheduler, ema, scaler, state: dict) -> dict:
    ckpt = ckpt_io.load_checkpoint(path)
    model.load_state_dict(ckpt["model_state_dict"])
    optimizer.load_state_dict(ckpt["optimizer_state_dict"])
    scheduler.load_state_dict(ckpt["scheduler_state_dict"])
    if ema and ckpt.get("ema_state_dict"):
        ema.load_state_dict(ckpt["ema_state_dict"], ckpt.get("ema_updates", 0))
    if ckpt.get("scaler_state_dict"):
        scaler.load_state_dict(ckpt["scaler_state_dict"])
    ckpt_io.set_rng_state(ckpt["random_state"])
    state = dict(state, epoch=ckpt["epoch"])
    for key in ("global_step", "step_in_epoch", "best_mae", "best_epoch", "history", "progress", "train_seconds"):
        if key in ckpt:
            state[key] = ckpt[key]
    return state


# ----------------------------------------------------------------------------- CLI
SPEC_CONFIG = "config/training_config.yaml"  # the spec's path; config.py's defaults hold the same spec values


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help=f"YAML config (default: {SPEC_CONFIG} where it exists, as in a checkout; "
                   "elsewhere the spec's values built into config.py)")
    p.add_argument("--resume_from", "--resume-from", help="checkpoint to resume from (e.g. checkpoints/1.1.0/last.pth)")
    p.add_argument("--resume", action="store_true", help="resume from last.pth of the configured save_dir")
    p.add_argument("--init_from", "--init-from", help="start from a checkpoint's weights (fine-tuning); new optimiser and schedule")
    p.add_argument("--amp", action="store_true", help="mixed precision (autocast; bf16, or fp16 + GradScaler)")
    p.add_argument("--amp_level", "--amp-level", choices=["O1"], help="accepted for the spec's command; O1 = autocast")
    p.add_argument("--distributed", action="store_true", help="DDP under torchrun (NCCL on GPU, gloo on CPU)")
    p.add_argument("--local-rank", "--local_rank", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set training.batch_size=8 (repeatable)")


def run(args: argparse.Namespace) -> int:
    overrides = list(args.set) + (["training.amp=true"] if args.amp or args.amp_level else [])
    cfg = load_config(args.config or (SPEC_CONFIG if Path(SPEC_CONFIG).is_file() else None), overrides)
    resume = args.resume_from or (Path(cfg.checkpoints.save_dir) / "last.pth" if args.resume else None)
    try:
        summary = train(cfg, resume_from=resume, distributed=args.distributed, init_from=args.init_from)
    except TrainingError as err:
        log.error("%s", err)
        return 1
    if summary["best_epoch"] is not None:
        log.info("done: best val MAE %.2f px at epoch %d; checkpoints in %s", summary["best_mae"],
                 summary["best_epoch"], summary["checkpoint_dir"])
    return 0
