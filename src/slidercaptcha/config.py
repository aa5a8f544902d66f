"""Typed training configuration.

The YAML file is plain data (as in nanoGPT); this module gives it a schema so that a
typo or a bad value fails at load time with the key path, not hours into a run.
Every key of the spec's ``config/training_config.yaml`` is here, plus the few keys the
spec leaves implicit (model variant, data paths, generator ratios, logging cadence).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A config value is unknown, of the wrong type or out of range."""


def _range(lo: float | None = None, hi: float | None = None, *, lo_open=False, hi_open=False):
    """Field metadata for a numeric range check (closed unless told otherwise)."""
    return {"range": (lo, hi, lo_open, hi_open)}


def num(default, lo=None, hi=None, *, lo_open=False, hi_open=False):
    return field(default=default, metadata=_range(lo, hi, lo_open=lo_open, hi_open=hi_open))


def choice(default, *options):
    return field(default=default, metadata={"choices": options})


# ----------------------------------------------------------------------------- model
@dataclass
class ModelConfig:
    name: str = "Lite-HRNet-18+LiteFPN"
    variant: str = choice("lite-hrnet-18-fpn", "lite-hrnet-18-fpn", "lite-hrnet-18-fpn-s")
    input_channels: int = num(4, 4, 4)
    input_size: list[int] = field(default_factory=lambda: [256, 512])  # H, W
    angle_head: bool = True


# ----------------------------------------------------------------------------- training
@dataclass
class OptimizerConfig:
    type: str = choice("AdamW", "AdamW")
    lr: float = num(3e-4, 0, None, lo_open=True)
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = num(1e-8, 0, None, lo_open=True)
    weight_decay: float = num(0.05, 0)


@dataclass
class SchedulerConfig:
    type: str = choice("CosineAnnealingWarmRestarts", "CosineAnnealingWarmRestarts")
    T_0: int = num(10, 1)
    T_mult: int = num(2, 1)
    eta_min: float = num(3e-6, 0)
    warmup_epochs: float = num(5, 0)
    warmup_lr: float = num(1e-5, 0)


@dataclass
class EMAConfig:
    enabled: bool = True
    decay: float = num(0.9997, 0, 1, hi_open=True)
    update_interval: int = num(1, 1)


@dataclass
class AugmentationConfig:
    random_rotate: list[float] = field(default_factory=lambda: [-5.0, 5.0])
    random_scale: list[float] = field(default_factory=lambda: [0.9, 1.1])
    random_translate: list[float] = field(default_factory=lambda: [-10.0, 10.0])
    brightness: float = num(0.2, 0, 1)
    contrast: float = num(0.2, 0, 1)
    saturation: float = num(0.2, 0, 1)
    hue: float = num(0.1, 0, 0.5)
    gaussian_noise: float = num(0.01, 0, 1)
    gaussian_blur: list[float] = field(default_factory=lambda: [0.0, 2.0])
    grayscale: float = num(0.0, 0, 1)  # share of samples drawn grey: a site may serve its captchas so
    # Captcha-specific effects; the generator renders them (ratios of samples).
    confusing_gap_prob: float = num(0.3, 0, 1)
    perlin_noise_prob: float = num(0.2, 0, 1)
    gap_rotation_prob: float = num(0.1, 0, 1)
    gap_highlight_prob: float = num(0.1, 0, 1)
    enabled: bool = True  # off for validation-like runs


@dataclass
class TrainingConfig:
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    batch_size: int = num(16, 1)
    num_epochs: int = num(160, 1)
    gradient_clip: float = num(1.0, 0)
    ema: EMAConfig = field(default_factory=EMAConfig)
    augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)
    # Not in the spec's YAML, but named in its text.
    adaptive_batch_size: bool = True  # spec's GPU-memory table; CPU keeps batch_size
    gradient_accumulation: int = num(1, 1)
    amp: bool = False
    amp_dtype: str = choice("bfloat16", "bfloat16", "float16")
    channels_last: bool = False
    seed: int = 42
    max_steps_per_epoch: int = num(0, 0)  # 0 = the whole loader
    checkpoint_minutes: float = num(30.0, 0, None, lo_open=True)
    grad_norm_warn: float = num(100.0, 0, None, lo_open=True)
    # Top-level model parts kept as loaded (weights and BatchNorm statistics), e.g.
    # [stem, stage2, stage3, stage4] to train only the FPN and the heads (train/freeze.py).
    freeze: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- loss
@dataclass
class HeatmapLossConfig:
    type: str = choice("FocalLoss", "FocalLoss")
    alpha: float = num(2, 0)
    beta: float = num(4, 0)
    weight: float = num(1.0, 0)


@dataclass
class WeightedLossConfig:
    type: str = choice("L1Loss", "L1Loss")
    weight: float = num(1.0, 0)


@dataclass
class DecoyLossConfig:
    """Margin that keeps the true gap's score above every decoy's (DESIGN §4)."""

    weight: float = num(0.1, 0)
    margin: float = num(0.2, 0, 1)


@dataclass
class LossConfig:
    heatmap: HeatmapLossConfig = field(default_factory=HeatmapLossConfig)
    offset: WeightedLossConfig = field(default_factory=WeightedLossConfig)
    angle: WeightedLossConfig = field(default_factory=lambda: WeightedLossConfig(weight=0.5))
    decoy: DecoyLossConfig = field(default_factory=DecoyLossConfig)


# ----------------------------------------------------------------------------- validation
METRIC_NAMES = ("mae", "accuracy@3px", "accuracy@5px", "accuracy@10px", "gap_mae", "slider_mae", "angle_error")


@dataclass
class ValidationConfig:
    interval: int = num(1, 1)
    save_best: bool = True
    metrics: list[str] = field(default_factory=lambda: ["mae", "accuracy@5px", "accuracy@3px"])
    joint_decode: bool = True


@dataclass
class CheckpointConfig:
    save_dir: str = "checkpoints/1.1.0"
    save_interval: int = num(1, 1)
    keep_last: int = num(5, 1)
    save_best: bool = True


# ----------------------------------------------------------------------------- data
@dataclass
class GeneratorConfig:
    """How synthetic captchas look (DESIGN §5). Ratios are per sample; the four captcha
    effects (decoys, Perlin noise, gap rotation, highlight) take their ratios from
    ``training.augmentation``."""

    width: list[int] = field(default_factory=lambda: [280, 680])
    aspect_ratio: list[float] = field(default_factory=lambda: [1.6, 2.8])  # W / H
    common_size_prob: float = num(0.3, 0, 1)  # one of the sizes seen on real sites instead
    piece_size: list[int] = field(default_factory=lambda: [40, 100])
    piece_height_frac: list[float] = field(default_factory=lambda: [0.2, 0.4])
    slider_x_frac: list[float] = field(default_factory=lambda: [0.0, 0.15])  # piece left edge / W
    gap_x_min_frac: float = num(0.3, 0, 0.9)  # gaps lie right of this fraction of the width
    decoys: list[int] = field(default_factory=lambda: [1, 3])
    decoy_same_row_prob: float = num(0.5, 0, 1)
    decoy_other_shape_prob: float = num(0.5, 0, 1)
    decoy_rotation_deg: list[float] = field(default_factory=lambda: [10.0, 30.0])  # |angle|
    decoy_scale: list[float] = field(default_factory=lambda: [0.7, 1.3])
    rotation_deg: list[float] = field(default_factory=lambda: [-30.0, 30.0])
    shape_angle_deg: list[float] = field(default_factory=lambda: [0.0, 0.0])  # the shape's own tilt (gap, piece and decoys alike)
    decoy_fade: list[float] = field(default_factory=lambda: [0.3, 0.7])  # decoy strength with no piece in view (1 = full)
    gap_only_prob: float = num(0.15, 0, 1)
    separate_prob: float = num(0.15, 0, 1)
    photo_prob: float = num(0.5, 0, 1)
    piece_noise_prob: float = num(0.2, 0, 1)
    jpeg_prob: float = num(0.3, 0, 1)  # many real captchas are JPEGs
    style: str = "mix"  # a style name (data/styles/*.yaml), "mix" (weighted, one per captcha) or a .yaml path
    min_gap_visibility: float = num(1.5, 0)  # redraw fainter gaps (outline vs surrounding edges; 0 = off)
    min_slider_visibility: float = num(1.5, 0)  # redraw composites whose drawn slider is fainter (same measure)


@dataclass
class RealSetConfig:
    """A labelled set of real captchas mixed into training (any format ``evaluate`` reads)."""

    path: str = ""
    format: str = "auto"  # auto | manifest | labelme | yolo | csv | spc | npc
    weight: float = num(1.0, 0, lo_open=True)  # times each image is shown per epoch


@dataclass
class DataConfig:
    train_manifest: str = "data/captchas/train.jsonl"
    val_manifest: str = "data/captchas/val.jsonl"
    num_workers: int = num(2, 0)
    on_the_fly: bool = False  # render training captchas in the workers instead of reading disk
    samples_per_epoch: int = num(2000, 1)  # on-the-fly only
    backgrounds: list[str] = field(default_factory=list)  # photo folders
    art: list[str] = field(default_factory=list)  # painted or cartoon art folders (the "art" background kind)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    real: list[RealSetConfig] = field(default_factory=list)  # labelled real sets added to each epoch


@dataclass
class LoggingConfig:
    log_dir: str = "logs"
    tensorboard_dir: str = "runs/1.1.0"
    log_every_steps: int = num(10, 1)
    figure_interval: int = num(10, 1)  # epochs between prediction figures (spec: 10)
    histogram_interval: int = num(1, 1)
    activation_histograms: bool = True
    graph: bool = True
    progress_bar: bool = True


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    checkpoints: CheckpointConfig = field(default_factory=CheckpointConfig)
    data: DataConfig = field(default_factory=DataConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def version(self) -> str:
        """The run's version tag: the last part of ``checkpoints.save_dir`` (spec: 1.1.0)."""
        return Path(self.checkpoints.save_dir).name


# ----------------------------------------------------------------------------- loading
def _check_value(path: str, value: Any, tp: Any, meta: typing.Mapping) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {type(value).__name__}")
        return _build(tp, value, path)
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        (item_tp,) = typing.get_args(tp)[:1]
        return [_check_value(f"{path}[{i}]", v, item_tp, {}) for i, v in enumerate(value)]
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in typing.get_args(tp):
            return None
        tp = next(a for a in typing.get_args(tp) if a is not type(None))
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true/false, got {value!r}")
    elif tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
    elif tp is float:
        if isinstance(value, str):  # YAML 1.1 reads 3e-4 as a string
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(f"{path}: expected a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        value = float(value)
    elif tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
    if "choices" in meta and value not in meta["choices"]:
        raise ConfigError(f"{path}: {value!r} is not one of {list(meta['choices'])}")
    if "range" in meta:
        lo, hi, lo_open, hi_open = meta["range"]
        if lo is not None and (value < lo or (lo_open and value == lo)):
            raise ConfigError(f"{path}: {value!r} must be {'>' if lo_open else '>='} {lo}")
        if hi is not None and (value > hi or (hi_open and value == hi)):
            raise ConfigError(f"{path}: {value!r} must be {'<' if hi_open else '<='} {hi}")
    return value


def _build(cls: type, data: dict, prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if key not in fields:
            raise ConfigError(f"unknown config key '{path}'; valid keys here: {sorted(fields)}")
        kwargs[key] = _check_value(path, value, hints[key], fields[key].metadata)
    obj = cls(**kwargs)
    for name, f in fields.items():  # defaults are checked too (a typo'd default would hide)
        if name not in kwargs and not dataclasses.is_dataclass(hints[name]):
            _check_value(f"{prefix}.{name}" if prefix else name, getattr(obj, name), hints[name], f.metadata)
    return obj


def _parse_scalar(text: str) -> Any:
    return yaml.safe_load(text) if text.strip() else ""


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``key.path=value`` strings (values parsed as YAML) to a nested dict."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key.path=value")
        key, text = item.split("=", 1)
        node, parts = data, key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {key!r}: '{part}' is not a section")
        node[parts[-1]] = _parse_scalar(text)
    return data


def config_from_dict(data: dict | None, overrides: list[str] | None = None) -> Config:
    data = apply_overrides(dict(data or {}), overrides or [])
    return _build(Config, data)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Load a YAML config (or the defaults when ``path`` is None) and apply overrides."""
    data: dict = {}
    if path is not None:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML: {err}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: top level must be a mapping")
    try:
        return config_from_dict(data, overrides)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}" if path else str(err)) from None


def save_config(config: Config, path: str | Path) -> None:
    from slidercaptcha.utils.io import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(config.to_dict(), sort_keys=False, allow_unicode=True))
