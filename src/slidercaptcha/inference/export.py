"""``slidercaptcha export``: checkpoint → ONNX (FP32), ONNX FP16, or static-INT8 ONNX.

- FP32: the TorchScript exporter (opset 17, BN folded into convs, dynamic batch axis).
  It is ~15× faster than the dynamo exporter here and folds BN, which the dynamo path
  left unfolded (+1 MB).
- FP16: weights and activations in half precision, inputs/outputs kept float32, so the
  file is a drop-in replacement. Mainly for GPUs and size; ORT's CPU kernels are FP32.
- INT8: static QDQ quantisation, per-channel signed weights, unsigned activations
  calibrated on generated captchas (the data the model sees in use); ORT fuses QDQ into
  integer kernels at load time. u8 activations × s8 weights is x86's fast (VNNI) path:
  signed activations measured 3-10× slower here. SiLU is quantised too (a table lookup
  and an integer multiply): kept in float it costs a dequantise/quantise pair per block
  and halved batch-32 throughput, for no accuracy gain on the shipped model (MODEL_CARD.md).
  The stem and stage 2 stay in float: they carry the 1/4-scale detail that places a peak
  within its cell, and quantising them moved ~2 % of decoded points to a neighbouring cell
  (5-10 px); kept in float, that share halves for ~15 % more time (MODEL_CARD.md).
  ``--int8-ops`` chooses the quantised operator types, ``--int8-float-modules`` the
  top-level model parts kept in float.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import onnx
import torch
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

from slidercaptcha.model import OUTPUT_NAMES, LiteHRNet18FPN, TupleOutputs
from slidercaptcha.preprocess import preprocess

FORMATS = ("onnx", "onnx-fp16", "onnx-int8")
SPEC_SIZES_MB = {"onnx": 12.53, "onnx-fp16": 6.27, "onnx-int8": 3.13}  # spec; MB = 2^20 bytes
SUFFIXES = {"onnx": ".onnx", "onnx-fp16": "_fp16.onnx", "onnx-int8": "_int8.onnx"}
OPSET = 17
INT8_OPS = ["Conv", "Relu", "Add", "Mul", "Sigmoid", "Resize", "Concat"]  # Sigmoid·Mul is SiLU
INT8_FLOAT_MODULES = ["stem", "stage2"]  # top-level LiteHRNet18FPN children INT8 leaves in float


def size_mb(path: str | Path) -> float:
    return Path(path).stat().st_size / 2**20


def update_metadata(path: str | Path, **updates: str) -> None:
    """Set model properties (variant, precision, …) that the solver reads back."""
    proto = onnx.load(str(path))
    metadata = {p.key: p.value for p in proto.metadata_props} | {k: str(v) for k, v in updates.items()}
    del proto.metadata_props[:]
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, str(path))


def export_onnx(model: LiteHRNet18FPN, path: str | Path, metadata: dict[str, str] | None = None,
                opset: int = OPSET) -> Path:
    """FP32 ONNX with a dynamic batch axis; ``metadata`` is stored as model properties."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [k for k in OUTPUT_NAMES if k != "angle" or model.head.angle is not None]
    dummy = torch.zeros(1, 4, *model.input_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation
        torch.onnx.export(TupleOutputs(model).eval(), (dummy,), str(path), input_names=["input"],
                          output_names=names, opset_version=opset, dynamo=False, do_constant_folding=True,
                          dynamic_axes={n: {0: "batch"} for n in ["input", *names]})
    update_metadata(path, precision="fp32", **(metadata or {}))
    return path


def convert_fp16(src: str | Path, dst: str | Path) -> Path:
    """FP32 ONNX → FP16 weights and compute, float32 inputs/outputs."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    onnx.save(convert_float_to_float16(onnx.load(str(src)), keep_io_types=True), str(dst))
    update_metadata(dst, precision="fp16")
    return Path(dst)


class _Reader(CalibrationDataReader):
    """ONNX Runtime calibration reader over preprocessed images, a few per batch."""

    def __init__(self, inputs: np.ndarray, batch_size: int = 8):
        self._batches: Iterator[np.ndarray] = iter(np.array_split(inputs, max(1, len(inputs) // batch_size)))

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {"input": batch}


def nodes_of_modules(path: str | Path, modules: Sequence[str]) -> list[str]:
    """Names of the ONNX nodes that the exporter scoped under the model's top-level ``modules``
    (``/model/<module>/…``); a module with no nodes is an error that lists the valid ones."""
    names = [n.name for n in onnx.load(str(path)).graph.node]
    parts = {name.split("/")[2] for name in names if name.startswith("/model/") and name.count("/") > 2}
    unknown = sorted(set(modules) - parts)
    if unknown:
        raise ValueError(f"unknown model part(s) {unknown} to keep in float; parts: {sorted(parts)}")
    prefixes = tuple(f"/model/{m}/" for m in modules)
    return [name for name in names if name.startswith(prefixes)]  # startswith(()) is False


def quantize_int8(src: str | Path, dst: str | Path, images: Sequence[np.ndarray],
                  input_size: tuple[int, int], ops: Sequence[str] = INT8_OPS,
                  float_modules: Sequence[str] = INT8_FLOAT_MODULES) -> Path:
    """Static INT8 (QDQ, per-channel weights, MinMax activations) calibrated on ``images``;
    only the operator types in ``ops`` are quantised, and nothing inside ``float_modules``."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not images:
        raise ValueError("INT8 calibration needs at least one image")
    reader = _Reader(np.stack([preprocess(im, input_size)[0] for im in images]))
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(src), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(dst), reader, quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        op_types_to_quantize=list(ops),
                        nodes_to_exclude=nodes_of_modules(prepared, float_modules))
    update_metadata(dst, precision="int8")
    return Path(dst)


def calibration_images(count: int, seed: int = 1234) -> list[np.ndarray]:
    """Generated captchas of every style (RGB arrays) for INT8 calibration and accuracy checks."""
    from slidercaptcha.inference.samples import generated_captchas

    return [s.image for s in generated_captchas(count, seed, style="mix")]


def export(checkpoint: str | Path, fmt: str, output: str | Path | None = None,
           calibration: Sequence[np.ndarray] | None = None, calibration_count: int = 64,
           int8_ops: Sequence[str] = INT8_OPS, float_modules: Sequence[str] = INT8_FLOAT_MODULES) -> Path:
    """Export one format from a checkpoint (.pth: EMA weights when present, or .safetensors)."""
    from slidercaptcha.inference.backends import load_torch_model

    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    checkpoint = Path(checkpoint)
    output = Path(output) if output else checkpoint.with_name(checkpoint.stem + SUFFIXES[fmt])
    model, variant = load_torch_model(checkpoint)
    metadata = {"variant": variant, "angle_head": str(model.head.angle is not None), "source": checkpoint.name}
    if fmt == "onnx":
        return export_onnx(model, output, metadata)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(model, Path(tmp) / "fp32.onnx", metadata)
        if fmt == "onnx-fp16":
            return convert_fp16(fp32, output)
        images = calibration if calibration is not None else calibration_images(calibration_count)
        return quantize_int8(fp32, output, images, model.input_size, int8_ops, float_modules)


def package(checkpoint: str | Path, out_dir: str | Path, calibration: Sequence[np.ndarray] | None = None,
            calibration_count: int = 64, int8_ops: Sequence[str] = INT8_OPS,
            float_modules: Sequence[str] = INT8_FLOAT_MODULES) -> list[Path]:
    """The files ``SliderSolver.load()`` finds in a folder (the package ships them in weights/):
    ``default.safetensors`` (EMA weights in FP16), ``default.json`` (how to build the model)
    and ``default_int8.onnx`` (the fast CPU model; calibration and ops as in :func:`export`)."""
    import json

    from safetensors.torch import save_file

    from slidercaptcha.inference.backends import load_torch_model

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model, variant = load_torch_model(checkpoint)
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    save_file(state, str(out_dir / "default.safetensors"))
    meta = {"variant": variant, "angle_head": model.head.angle is not None, "input_size": list(model.input_size),
            "weights": "EMA, FP16", "source": Path(checkpoint).name}
    (out_dir / "default.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    onnx_path = export(checkpoint, "onnx-int8", out_dir / "default_int8.onnx", calibration, calibration_count,
                       int8_ops, float_modules)
    return [out_dir / "default.safetensors", out_dir / "default.json", onnx_path]


# ----------------------------------------------------------------------------- CLI
def add_int8_arguments(parser) -> None:
    """The INT8 choices, shared by ``export`` and ``benchmark-inference``."""
    parser.add_argument("--int8-ops", nargs="+", default=INT8_OPS, metavar="OP",
                        help=f"ONNX operator types to quantise (default: {' '.join(INT8_OPS)}; "
                             "without Sigmoid Mul, SiLU stays float)")
    parser.add_argument("--int8-float-modules", nargs="*", default=INT8_FLOAT_MODULES, metavar="MODULE",
                        help=f"model parts INT8 keeps in float (default: {' '.join(INT8_FLOAT_MODULES)}; "
                             "none: quantise everything)")


def add_arguments(parser) -> None:
    parser.add_argument("--checkpoint", required=True, help=".pth checkpoint or .safetensors weights")
    parser.add_argument("--format", dest="formats", nargs="+", choices=[*FORMATS, "package"], default=["onnx"],
                        help="one or more formats; 'package' writes the solver's default.* files to --output")
    parser.add_argument("--output", help="output file (one format) or directory (several)")
    parser.add_argument("--calibration-images", nargs="*", default=None,
                        help="image files for INT8 calibration (default: generated captchas)")
    parser.add_argument("--calibration-count", type=int, default=64, help="generated calibration captchas")
    add_int8_arguments(parser)


def _output_for(args, fmt: str) -> Path | None:
    if not args.output:
        return None
    out = Path(args.output)
    if len(args.formats) == 1 and out.suffix == ".onnx":
        return out
    return out / (Path(args.checkpoint).stem + SUFFIXES[fmt])


def run(args) -> int:
    from slidercaptcha.inference.images import load_image

    calibration = ([load_image(p) for p in args.calibration_images] if args.calibration_images else None)
    for fmt in args.formats:
        if fmt == "package":
            for path in package(args.checkpoint, args.output or "weights", calibration, args.calibration_count,
                                args.int8_ops, args.int8_float_modules):
                print(f"package    {path}  {size_mb(path):6.2f} MB")
            continue
        path = export(args.checkpoint, fmt, _output_for(args, fmt), calibration, args.calibration_count,
                      args.int8_ops, args.int8_float_modules)
        print(f"{fmt:10s} {path}  {size_mb(path):6.2f} MB  (spec {SPEC_SIZES_MB[fmt]:.2f} MB)")
    return 0
