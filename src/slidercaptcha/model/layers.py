"""Small reusable blocks of Lite-HRNet (DESIGN §3). Convs carry no bias unless said."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvBNAct(nn.Sequential):
    """k×k conv → BN → SiLU (or no activation). Params: k²·Cin·Cout + 2·Cout."""

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1, act: bool = True):
        super().__init__(
            nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            nn.SiLU(inplace=True) if act else nn.Identity(),
        )


class SeparableConvBNAct(nn.Sequential):
    """Depthwise 3×3 (BN) → pointwise 1×1 (BN, SiLU): the ``-s`` variant's stand-in for a dense 3×3."""

    def __init__(self, cin: int, cout: int, act: bool = True):
        super().__init__(
            ConvBNAct(cin, cin, 3, groups=cin, act=False),
            ConvBNAct(cin, cout, 1, act=act),
        )


def smooth_conv(cin: int, cout: int, separable: bool) -> nn.Module:
    """The 3×3 ConvBNAct that follows every fusion / FPN merge."""
    return SeparableConvBNAct(cin, cout) if separable else ConvBNAct(cin, cout, 3)


class LiteBlock(nn.Module):
    """Inverted residual: 1×1 C→2C, depthwise 3×3, 1×1 2C→C (linear), + input. 4C² + 28C params."""

    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(
            ConvBNAct(c, 2 * c, 1),
            ConvBNAct(2 * c, 2 * c, 3, groups=2 * c),
            ConvBNAct(2 * c, c, 1, act=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Down(nn.Sequential):
    """Depthwise 3×3 stride 2 on Cin → 1×1 Cin→Cout; halves the resolution."""

    def __init__(self, cin: int, cout: int):
        super().__init__(
            ConvBNAct(cin, cin, 3, stride=2, groups=cin),
            ConvBNAct(cin, cout, 1),
        )


class Up(nn.Module):
    """1×1 conv + BN (no activation) then bilinear upsampling by ``factor``.

    The conv runs at the low resolution: same parameters as upsample-then-conv, fewer FLOPs.
    """

    def __init__(self, cin: int, cout: int, factor: int):
        super().__init__()
        self.proj = ConvBNAct(cin, cout, 1, act=False)
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.proj(x), scale_factor=self.factor, mode="bilinear", align_corners=False)


class WeightedSum(nn.Module):
    """Fast normalised fusion of two maps: softplus weights, normalised with eps (BiFPN style)."""

    def __init__(self, eps: float = 1e-4):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(2))
        self.eps = eps

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        w = F.softplus(self.weight)
        w = w / (w.sum() + self.eps)
        return w[0] * a + w[1] * b
