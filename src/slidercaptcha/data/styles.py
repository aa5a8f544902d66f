"""Generator styles: named bundles of settings that make captchas look like one vendor's.

A style is one YAML file in ``data/styles/`` (or any path a user passes): canvas sizes,
shapes, how the gap and the piece are drawn, decoys, backgrounds, plus overrides of any
``data.generator`` key and of the four effect ratios. Styles are data, so adding a look
means writing a file, not a branch. ``mix`` draws one style per captcha by the styles'
``weight``; that is the default, so a model sees every look.

Keys (all optional; unknown keys fail with the valid ones listed):

- ``weight``: share of this style in ``mix`` (0 keeps it out of the mix).
- ``vendor``: the real vendor it imitates (``preview --style`` shows its captchas alongside).
- ``sizes``: ``[[W, H], ...]`` canvases to pick from; empty = the generator's random sizes.
- ``shapes``, ``gap_looks``, ``backgrounds``: ``{name: weight}``; empty = the generator's
  defaults (every shape and gap look; photos at ``photo_prob``, else procedural art).
- ``decoy_same_look_prob``: chance that a decoy is drawn like the gap, else with a look from
  ``decoy_looks`` (``{name: weight}``; empty = any look). Either way, in captchas with no piece
  in view the decoy is faded by ``data.generator.decoy_fade``.
- ``piece_rim_prob``: chance that the piece gets a drawn rim.
- ``generator``: overrides of ``data.generator`` keys for this style.
- ``effects``: ``{confusing_gap, rotation, perlin_noise, highlight}`` ratios replacing the
  config's wherever the config's ratio is not zero (a switched-off effect stays off).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from slidercaptcha.config import ConfigError, GeneratorConfig, _build

MIX = "mix"
EFFECTS = ("confusing_gap", "rotation", "perlin_noise", "highlight")


@dataclass
class Style:
    name: str = ""
    description: str = ""
    weight: float = 1.0
    vendor: str = ""  # the real vendor it imitates: preview shows its captchas alongside
    sizes: list[list[int]] = field(default_factory=list)
    shapes: dict = field(default_factory=dict)
    gap_looks: dict = field(default_factory=dict)
    backgrounds: dict = field(default_factory=dict)
    decoy_same_look_prob: float = 0.7
    decoy_looks: dict = field(default_factory=dict)
    piece_rim_prob: float = 0.8
    generator: dict = field(default_factory=dict)
    effects: dict = field(default_factory=dict)

    def generator_config(self, base: GeneratorConfig) -> GeneratorConfig:
        """``base`` with this style's overrides, checked like a config file. Built once per
        base config (checking costs ~0.5 ms, a twentieth of rendering a captcha)."""
        if not self.generator:
            return base
        built = self.__dict__.get("_built")
        if built is None or built[0] is not base:
            built = self._built = (base, _build(GeneratorConfig, {**dataclasses.asdict(base), **self.generator},
                                                f"style {self.name}.generator"))
        return built[1]


def _weights(table: dict, known: tuple[str, ...], where: str) -> dict[str, float]:
    for key, value in table.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown name {key!r}; known: {list(known)}")
        if not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"{where}.{key}: expected a weight >= 0, got {value!r}")
    if table and not sum(table.values()) > 0:
        raise ConfigError(f"{where}: the weights add up to zero")
    return {k: float(v) for k, v in table.items()}


def check_style(style: Style) -> Style:
    """Fail on names the renderer does not know, with the known ones listed."""
    from slidercaptcha.data.backgrounds import BACKGROUND_KINDS
    from slidercaptcha.data.render import GAP_LOOKS
    from slidercaptcha.data.shapes import SHAPES

    where = f"style {style.name}"
    style.shapes = _weights(style.shapes, SHAPES, f"{where}.shapes")
    style.gap_looks = _weights(style.gap_looks, tuple(GAP_LOOKS), f"{where}.gap_looks")
    style.decoy_looks = _weights(style.decoy_looks, tuple(GAP_LOOKS), f"{where}.decoy_looks")
    style.backgrounds = _weights(style.backgrounds, BACKGROUND_KINDS, f"{where}.backgrounds")
    for key, value in style.effects.items():
        if key not in EFFECTS or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ConfigError(f"{where}.effects.{key}: expected one of {list(EFFECTS)} with a ratio in [0, 1], "
                              f"got {value!r}")
    for size in style.sizes:
        if len(size) != 2 or min(size) < 16:
            raise ConfigError(f"{where}.sizes: {size!r} is not a [width, height] of at least 16 px")
    style.generator_config(GeneratorConfig())  # checks the override keys now, not mid-run
    return style


def load_style_file(path: str | Path) -> Style:
    path = Path(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a style is a mapping of keys")
    data.setdefault("name", path.stem)
    return check_style(_build(Style, data, f"style {data['name']}"))


@cache
def builtin_styles() -> dict[str, Style]:
    """The styles shipped in ``slidercaptcha/data/styles/``, by name."""
    folder = resources.files("slidercaptcha.data") / "styles"
    styles = [load_style_file(Path(str(f))) for f in folder.iterdir() if f.name.endswith(".yaml")]
    return {s.name: s for s in sorted(styles, key=lambda s: s.name)}


def style_names() -> list[str]:
    return [MIX, *builtin_styles()]


@cache
def resolve(name: str) -> tuple[Style, ...]:
    """A style name, ``mix`` or a YAML path → the styles to draw from (one, or the mix)."""
    if name.endswith((".yaml", ".yml")):
        return (load_style_file(name),)
    styles = builtin_styles()
    if name == MIX:
        return tuple(s for s in styles.values() if s.weight > 0)
    if name not in styles:
        raise ConfigError(f"unknown style {name!r}; known: {style_names()} or a .yaml path")
    return (styles[name],)


def pick(styles: tuple[Style, ...], rng: np.random.Generator) -> Style:
    """One style of the mix, drawn by weight (a single style is always itself)."""
    if len(styles) == 1:
        return styles[0]
    w = np.array([s.weight for s in styles])
    return styles[int(rng.choice(len(styles), p=w / w.sum()))]
