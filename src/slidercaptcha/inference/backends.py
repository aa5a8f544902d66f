"""Model runners with one interface: float32 batch [B,4,H,W] → dict of output tensors.

Each backend knows the canvas size ``input_size`` (H, W) its model was trained at.

Both backends return CPU torch tensors keyed by :data:`OUTPUT_NAMES`, so preprocessing and
decoding (:mod:`slidercaptcha.preprocess`, :mod:`slidercaptcha.decode`) are shared.
This module also finds the model files: a checkpoint, an ONNX file, a directory, or the
model shipped in the package (``slidercaptcha/weights/``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from slidercaptcha.model import OUTPUT_NAMES, LiteHRNet18FPN, build_model

PACKAGE_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
DEFAULT_STEM = "default"
SHIPPED_WEIGHTS = PACKAGE_WEIGHTS / f"{DEFAULT_STEM}.safetensors"  # the shipped model's PyTorch weights
ONNX_PREFERENCE = ("default_int8.onnx", "model_int8.onnx", "default.onnx", "model.onnx")
CHECKPOINT_PREFERENCE = ("default.safetensors", "best_model.pth", "last.pth")


class ModelNotFoundError(FileNotFoundError):
    """No usable model file where one was expected."""


class TorchBackend:
    """Runs a :class:`LiteHRNet18FPN` in eval mode without autograd."""

    kind = "torch"

    def __init__(self, model: LiteHRNet18FPN, device: str = "cpu", threads: int | None = None,
                 description: str = "torch"):
        if threads:
            torch.set_num_threads(threads)  # process-wide: torch has no per-model pool
        self.device = torch.device(device)
        # channels_last: 1.4-1.7x faster on CPU at batch 16 and 1 (192x384, 2 threads)
        self.model = model.eval().to(self.device, memory_format=torch.channels_last)
        self.input_size = model.input_size
        self.description = description

    def __call__(self, batch: np.ndarray) -> dict[str, torch.Tensor]:
        with torch.inference_mode():
            out = self.model(torch.from_numpy(batch).to(self.device))
        return {k: v.float().cpu().contiguous() for k, v in out.items()}


class OnnxBackend:
    """Runs an exported model with ONNX Runtime (FP32, FP16 or INT8 files alike)."""

    kind = "onnx"

    def __init__(self, path: str | Path, device: str = "cpu", threads: int | None = None,
                 profile_prefix: str | None = None):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        if profile_prefix:
            opts.enable_profiling = True
            opts.profile_file_prefix = profile_prefix
        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), opts, providers=providers)
        self.input_name = self.session.get_inputs()[0].name
        self.input_size = tuple(self.session.get_inputs()[0].shape[2:4])  # exported with a fixed H, W
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        self.description = f"onnx:{self.path.name}"

    def __call__(self, batch: np.ndarray) -> dict[str, torch.Tensor]:
        outs = self.session.run(self.output_names, {self.input_name: batch})
        return {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in zip(self.output_names, outs, strict=True)}

    def end_profiling(self) -> str:
        """Stop profiling and return the trace file's path (Chrome trace JSON)."""
        return self.session.end_profiling()


# ----------------------------------------------------------------------------- model files
@dataclass(frozen=True)
class ModelFiles:
    """What a path resolved to: an ONNX file and/or a PyTorch weights file."""

    onnx: Path | None = None
    torch: Path | None = None


def _first(directory: Path, preferred: tuple[str, ...], pattern: str) -> Path | None:
    for name in preferred:
        if (directory / name).is_file():
            return directory / name
    found = sorted(directory.glob(pattern))
    return found[0] if found else None


def find_model_files(path: str | Path | None) -> ModelFiles:
    """Resolve ``path`` (None = the packaged model) to the model files it holds."""
    directory = PACKAGE_WEIGHTS if path is None else Path(path)
    if directory.is_file():
        suffix = directory.suffix.lower()
        if suffix == ".onnx":
            return ModelFiles(onnx=directory)
        if suffix in (".pth", ".pt", ".safetensors"):
            return ModelFiles(torch=directory)
        raise ValueError(f"{directory}: unknown model file type; expected .pth, .safetensors or .onnx")
    if not directory.is_dir():
        raise ModelNotFoundError(f"model not found: {directory}")
    files = ModelFiles(onnx=_first(directory, ONNX_PREFERENCE, "*.onnx"),
                       torch=_first(directory, CHECKPOINT_PREFERENCE, "*.pth"))
    if files.onnx is None and files.torch is None:
        hint = (" (the packaged model is not installed yet; pass a checkpoint or .onnx file)"
                if path is None else "")
        raise ModelNotFoundError(f"no model in {directory}: expected {DEFAULT_STEM}.safetensors + "
                                 f"{DEFAULT_STEM}.json, *.onnx or *.pth{hint}")
    return files


def load_safetensors_model(path: Path, variant: str | None = None) -> tuple[LiteHRNet18FPN, str]:
    """FP16/FP32 safetensors state dict + sibling JSON config (variant, angle_head) → FP32 model."""
    from slidercaptcha.checkpoint import load_weights

    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    variant = variant or meta.get("variant")
    if variant is None:
        raise ModelNotFoundError(f"{meta_path}: missing; it names the model variant (or pass variant=)")
    model = build_model(variant, angle_head=bool(meta.get("angle_head", True)),
                        input_size=tuple(meta.get("input_size", (256, 512))))
    model.load_state_dict(load_weights(path))
    return model.eval(), variant


def load_torch_model(path: str | Path, variant: str | None = None) -> tuple[LiteHRNet18FPN, str]:
    """A .pth checkpoint (EMA weights preferred) or a .safetensors file → (eval model, variant)."""
    path = Path(path)
    if path.suffix.lower() == ".safetensors":
        return load_safetensors_model(path, variant)
    from slidercaptcha.checkpoint import load_model

    model, config = load_model(path, prefer_ema=True)
    if variant and variant != config.model.variant:
        raise ValueError(f"{path}: checkpoint holds variant {config.model.variant!r}, not {variant!r}")
    return model, config.model.variant


def create_backend(path: str | Path | None = None, backend: str = "auto", device: str = "cpu",
                   threads: int | None = None, variant: str | None = None) -> TorchBackend | OnnxBackend:
    """Pick and build a backend: 'auto' prefers ONNX Runtime when an .onnx model is there."""
    if backend not in ("auto", "onnx", "torch"):
        raise ValueError(f"backend must be 'auto', 'onnx' or 'torch', got {backend!r}")
    files = find_model_files(path)
    if backend in ("auto", "onnx") and files.onnx is not None:
        return OnnxBackend(files.onnx, device, threads)
    if backend == "onnx":
        raise ModelNotFoundError(f"no .onnx model at {path or PACKAGE_WEIGHTS}; "
                                 "create one with `slidercaptcha export`")
    if files.torch is None:
        raise ModelNotFoundError(f"no PyTorch weights at {path or PACKAGE_WEIGHTS} (only ONNX); "
                                 "use backend='onnx' or pass a checkpoint")
    model, _ = load_torch_model(files.torch, variant)
    return TorchBackend(model, device, threads, description=f"torch:{files.torch.name}")


__all__ = ["TorchBackend", "OnnxBackend", "create_backend", "find_model_files", "ModelFiles",
           "ModelNotFoundError", "load_torch_model", "OUTPUT_NAMES", "PACKAGE_WEIGHTS"]
