"""Lite-HRNet-18 + LiteFPN + DualHead (DESIGN §3, 3,284,846 parameters).

Input  [B, 4, H, W]  (RGB + padding mask; H, W multiples of 32; spec: 256×512)
Output dict of maps at 1/4 resolution:
  heatmap_gap, heatmap_slider  [B,1,H/4,W/4] in [0, 1]
  offset_gap, offset_slider    [B,2,H/4,W/4] in [-0.5, 0.5]  (dx, dy in cells)
  angle                        [B,2,H/4,W/4] unit (sin, cos)  (when the angle head is on)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from slidercaptcha.model.layers import ConvBNAct, Down, LiteBlock, Up, WeightedSum, smooth_conv

VARIANTS = {"lite-hrnet-18-fpn": False, "lite-hrnet-18-fpn-s": True}  # name -> separable
HEATMAP_PRIOR = 0.1
OUTPUT_NAMES = ("heatmap_gap", "heatmap_slider", "offset_gap", "offset_slider", "angle")


class Stem(nn.Sequential):
    """Two stride-2 convs to 1/4 resolution, then two LiteBlocks (20,480 params)."""

    def __init__(self, cin: int = 4, c: int = 32):
        super().__init__(ConvBNAct(cin, c, 3, 2), ConvBNAct(c, c, 3, 2), LiteBlock(c), LiteBlock(c))


def _path(cin: int, cout: int, src: int, dst: int) -> nn.Module:
    """Resampling path from branch ``src`` to branch ``dst`` (branch i is at 1/(4·2^i))."""
    if src == dst:
        return nn.Identity()
    if src > dst:
        return Up(cin, cout, 2 ** (src - dst))
    steps = [Down(cin, cin) for _ in range(dst - src - 1)]  # keep the source width until the last step
    return nn.Sequential(*steps, Down(cin, cout))


class Fusion(nn.Module):
    """Every output branch sums all input branches, then a 3×3 smooth conv."""

    def __init__(self, widths: list[int], separable: bool):
        super().__init__()
        n = len(widths)
        self.paths = nn.ModuleList(
            nn.ModuleList(_path(widths[i], widths[j], i, j) for i in range(n)) for j in range(n)
        )
        self.smooth = nn.ModuleList(smooth_conv(c, c, separable) for c in widths)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        return [smooth(sum(p(x) for p, x in zip(paths, xs, strict=True)))
                for paths, smooth in zip(self.paths, self.smooth, strict=True)]


class HRStage(nn.Module):
    """Add one lower-resolution branch, run LiteBlocks on every branch, then fuse."""

    def __init__(self, widths: list[int], blocks: int, separable: bool, transition: bool = False):
        super().__init__()
        # Stage 2 keeps its 1/4 branch through a 1×1 transition conv; later stages pass through.
        self.transition = ConvBNAct(widths[0], widths[0], 1) if transition else nn.Identity()
        self.new_branch = Down(widths[-2], widths[-1])
        self.branches = nn.ModuleList(nn.Sequential(*[LiteBlock(c) for _ in range(blocks)]) for c in widths)
        self.fusion = Fusion(widths, separable)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        xs = [self.transition(xs[0]), *xs[1:], self.new_branch(xs[-1])]
        return self.fusion([branch(x) for branch, x in zip(self.branches, xs, strict=True)])


class LiteFPN(nn.Module):
    """Top-down FPN to one 128-channel map at 1/4 resolution, with learnable merge weights."""

    def __init__(self, widths: list[int], c: int = 128, separable: bool = False):
        super().__init__()
        self.lateral = nn.ModuleList(ConvBNAct(w, c, 1, act=False) for w in widths)
        self.top_smooth = smooth_conv(c, c, separable)
        self.merge = nn.ModuleList(WeightedSum() for _ in widths[:-1])
        self.merge_conv = nn.ModuleList(smooth_conv(c, c, separable) for _ in widths[:-1])

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        y = self.top_smooth(self.lateral[-1](xs[-1]))
        for i in reversed(range(len(xs) - 1)):
            up = F.interpolate(y, size=xs[i].shape[-2:], mode="bilinear", align_corners=False)
            y = self.merge_conv[i](self.merge[i](self.lateral[i](xs[i]), up))
        return y


class Head(nn.Sequential):
    """3×3 conv 128→64 (bias) → BN → ReLU → 1×1 conv (bias)."""

    def __init__(self, cin: int, cout: int, mid: int = 64, separable: bool = False):
        trunk = (
            [nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False), nn.BatchNorm2d(cin),
             nn.Conv2d(cin, mid, 1)]
            if separable
            else [nn.Conv2d(cin, mid, 3, padding=1)]
        )
        super().__init__(*trunk, nn.BatchNorm2d(mid), nn.ReLU(inplace=True), nn.Conv2d(mid, cout, 1))


class DualHead(nn.Module):
    """Gap and slider heatmaps (separate heads), one 4-channel offset head, optional angle head."""

    def __init__(self, c: int = 128, separable: bool = False, angle: bool = True):
        super().__init__()
        self.gap = Head(c, 1, separable=separable)
        self.slider = Head(c, 1, separable=separable)
        self.offset = Head(c, 4, separable=separable)
        self.angle = Head(c, 2, separable=separable) if angle else None

    def forward(self, f: torch.Tensor) -> dict[str, torch.Tensor]:
        offset = 0.5 * torch.tanh(self.offset(f))
        out = {
            "heatmap_gap": torch.sigmoid(self.gap(f)),
            "heatmap_slider": torch.sigmoid(self.slider(f)),
            "offset_gap": offset[:, :2],
            "offset_slider": offset[:, 2:],
        }
        if self.angle is not None:
            out["angle"] = F.normalize(self.angle(f), dim=1, eps=1e-6)
        return out


class LiteHRNet18FPN(nn.Module):
    """The spec model (``separable=False``) or its faster ``-s`` variant (``separable=True``)."""

    widths = (32, 64, 128, 256)

    def __init__(self, in_channels: int = 4, separable: bool = False, angle_head: bool = True,
                 input_size: tuple[int, int] = (256, 512)):
        super().__init__()
        # Fully convolutional, but trained at one canvas size: inference letterboxes to it.
        self.input_size = tuple(input_size)
        w = list(self.widths)
        self.stem = Stem(in_channels, w[0])
        self.stage2 = HRStage(w[:2], blocks=2, separable=separable, transition=True)
        self.stage3 = HRStage(w[:3], blocks=3, separable=separable)
        self.stage4 = HRStage(w[:4], blocks=2, separable=separable)
        self.fpn = LiteFPN(w, 128, separable)
        self.head = DualHead(128, separable, angle_head)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        # Prediction layers start near zero (as in CenterNet): a fan-out init on a 1-channel
        # output would give logits of ±10 and saturate the sigmoid. Then, after every other
        # init so nothing overwrites it, the heatmap bias: sigmoid(b) = prior.
        for head in self.head.children():
            nn.init.normal_(head[-1].weight, std=1e-3)
        bias = -math.log((1 - HEATMAP_PRIOR) / HEATMAP_PRIOR)  # -2.197
        for head in (self.head.gap, self.head.slider):
            nn.init.constant_(head[-1].bias, bias)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        xs = self.stage4(self.stage3(self.stage2([self.stem(x)])))
        return self.head(self.fpn(xs))

    def stages(self) -> dict[str, nn.Module]:
        """The spec's parameter-table rows, in order."""
        return {"Stem": self.stem, "Stage2": self.stage2, "Stage3": self.stage3,
                "Stage4": self.stage4, "LiteFPN": self.fpn, "DualHead": self.head}


class TupleOutputs(nn.Module):
    """The model with its outputs as a tuple in :data:`OUTPUT_NAMES` order.

    Graph tracing (TensorBoard) and ONNX export need a fixed sequence, not a dict.
    """

    def __init__(self, model: LiteHRNet18FPN):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(x)
        return tuple(out[k] for k in OUTPUT_NAMES if k in out)


def build_model(variant: str = "lite-hrnet-18-fpn", in_channels: int = 4, angle_head: bool = True,
                input_size: tuple[int, int] = (256, 512)) -> LiteHRNet18FPN:
    if variant not in VARIANTS:
        raise ValueError(f"unknown model variant {variant!r}; choose one of {sorted(VARIANTS)}")
    return LiteHRNet18FPN(in_channels, separable=VARIANTS[variant], angle_head=angle_head, input_size=input_size)


def model_from_config(model_cfg) -> LiteHRNet18FPN:
    return build_model(model_cfg.variant, model_cfg.input_channels, model_cfg.angle_head,
                       tuple(model_cfg.input_size))


__all__ = ["LiteHRNet18FPN", "TupleOutputs", "build_model", "model_from_config", "VARIANTS", "OUTPUT_NAMES"]
