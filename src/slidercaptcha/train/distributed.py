"""torchrun / DDP helpers: NCCL on GPU, gloo on CPU; rank 0 alone writes files."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def setup(distributed: bool) -> tuple[int, int, torch.device]:
    """Initialise the process group when asked (env from torchrun); returns (rank, world, device)."""
    cuda = torch.cuda.is_available()
    if distributed:
        if "RANK" not in os.environ:
            raise ValueError("--distributed needs torchrun (or torch.distributed.launch) to set RANK/WORLD_SIZE")
        dist.init_process_group("nccl" if cuda else "gloo")
        local = int(os.environ.get("LOCAL_RANK", 0))
        if cuda:
            torch.cuda.set_device(local)
        return dist.get_rank(), dist.get_world_size(), torch.device("cuda", local) if cuda else torch.device("cpu")
    return 0, 1, torch.device("cuda" if cuda else "cpu")


def active() -> bool:
    return dist.is_available() and dist.is_initialized()


def all_reduce_mean(values: list[float], device: torch.device) -> list[float]:
    if not active():
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return (t / dist.get_world_size()).tolist()


def gather_objects(obj):
    """List of every rank's ``obj`` (just ``[obj]`` when not distributed)."""
    if not active():
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_flag(flag: bool, device: torch.device) -> bool:
    """True on every rank when any rank set ``flag`` (so all ranks stop together)."""
    if not active():
        return flag
    t = torch.tensor([int(flag)], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def cleanup() -> None:
    if active():
        dist.destroy_process_group()


def sync_buffers(model: torch.nn.Module) -> None:
    """Copy rank 0's buffers (BN running statistics) to every rank.

    DDP keeps parameters identical, but each rank's last forward updates its own BN
    statistics; syncing at epoch end makes every rank hold the model rank 0 saves.
    """
    if active():
        for buf in model.buffers():
            dist.broadcast(buf, 0)
