"""The shared encoder of the SDDR network: a residual conv stem feeding MiT-b0-style stages.

Both inputs (the low- and the high-resolution prediction) go through the same encoder with
the same weights. It returns seven feature maps, finest first::

    stem   :  C0 @ 1/2,  C1 @ 1/4,  C2 @ 1/8            (3×3 residual blocks, GroupNorm, LeakyReLU)
    stages :  E0 @ 1/16, E1 @ 1/32, E2 @ 1/64, E3 @ 1/128  (overlapping patch embedding,
                                                        efficient self-attention, Mix-FFN)

Every stride-2 step rounds up (``ceil``), so any input size works; sizes that are multiples
of 32 keep the first five levels exact. Written from the SegFormer paper (Xie et al., 2021);
no ``transformers`` / ``timm`` dependency.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from sddr_core.models.attention import Attention
from sddr_core.models.group_norm import GroupNorm

__all__ = [
    "ConvStem",
    "Encoder",
    "MiTBlock",
    "MiTStage",
    "MixFFN",
    "OverlapPatchEmbed",
    "ResidualBlock",
    "group_count",
]


def group_count(channels: int) -> int:
    """GroupNorm groups for ``channels``: about 8 channels a group, dividing ``channels``."""
    for g in range(max(1, channels // 8), 0, -1):
        if channels % g == 0:
            return g
    return 1


class ResidualBlock(nn.Module):
    """``LeakyReLU(GN(conv(LeakyReLU(GN(conv_s(x))))) + GN(conv1x1_s(x)))``, stride ``s``.

    Shape: ``(B, C_in, H, W) -> (B, C_out, ⌈H/s⌉, ⌈W/s⌉)``.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 2) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1)
        self.norm1 = GroupNorm(group_count(out_ch), out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.norm2 = GroupNorm(group_count(out_ch), out_ch)
        self.skip = nn.Sequential(
            nn.Conv2d(in_ch, out_ch, 1, stride=stride), GroupNorm(group_count(out_ch), out_ch)
        )
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.norm1(self.conv1(x)))
        y = self.norm2(self.conv2(y))
        return self.act(y + self.skip(x))


class ConvStem(nn.Module):
    """Three stride-2 residual blocks: ``(B, 1, H, W)`` -> features at 1/2, 1/4 and 1/8."""

    def __init__(self, channels: Sequence[int], in_ch: int = 1) -> None:
        super().__init__()
        chans = [in_ch, *channels]
        self.blocks = nn.ModuleList(
            ResidualBlock(chans[i], chans[i + 1]) for i in range(len(channels))
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for block in self.blocks:
            x = block(x)
            out.append(x)
        return out


class OverlapPatchEmbed(nn.Module):
    """Overlapping patch embedding: 3×3 stride-2 convolution then LayerNorm.

    Shape: ``(B, C_in, H, W) -> (B, ⌈H/2⌉·⌈W/2⌉, C_out)`` plus the grid size.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 2) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1)
        self.norm = nn.LayerNorm(out_ch)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        x = self.proj(x)
        h, w = x.shape[-2:]
        return self.norm(x.flatten(2).transpose(1, 2)), (h, w)


class MixFFN(nn.Module):
    """Mix-FFN: ``fc2(GELU(dwconv3×3(fc1(x))))``; the depthwise conv gives position cues.

    Shape: ``(B, N, C) -> (B, N, C)`` with ``N = h·w``.
    """

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        b = x.shape[0]
        x = self.fc1(x)
        grid = x.transpose(1, 2).reshape(b, -1, *size)
        x = self.dwconv(grid).flatten(2).transpose(1, 2)
        return self.fc2(self.act(x))


class MiTBlock(nn.Module):
    """Pre-norm transformer block: efficient self-attention then Mix-FFN, both residual."""

    def __init__(self, dim: int, num_heads: int, sr_ratio: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads, sr_ratio)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = MixFFN(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), size)
        return x + self.ffn(self.norm2(x), size)


class MiTStage(nn.Module):
    """Patch embedding, ``depth`` MiT blocks and a LayerNorm.

    Shape: ``(B, C_in, H, W) -> (B, C_out, ⌈H/2⌉, ⌈W/2⌉)``.
    """

    def __init__(
        self, in_ch: int, dim: int, depth: int, num_heads: int, sr_ratio: int, mlp_ratio: float
    ) -> None:
        super().__init__()
        self.embed = OverlapPatchEmbed(in_ch, dim)
        self.blocks = nn.ModuleList(
            MiTBlock(dim, num_heads, sr_ratio, mlp_ratio) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens, size = self.embed(x)
        for block in self.blocks:
            tokens = block(tokens, size)
        b, _, c = tokens.shape
        return self.norm(tokens).transpose(1, 2).reshape(b, c, *size)


class Encoder(nn.Module):
    """Conv stem + MiT stages; ``forward`` returns the seven feature maps, finest first.

    Args:
        stem_channels: channels of the three stem blocks (1/2, 1/4, 1/8).
        embed_dims, depths, num_heads, sr_ratios, mlp_ratios: per MiT stage (1/16 ... 1/128).

    Shape:
        - x: ``(B, 1, H, W)``.
        - output: list of ``(B, C_i, ⌈H/2^(i+1)⌉, ⌈W/2^(i+1)⌉)`` for ``i = 0 … 6``.
    """

    def __init__(
        self,
        stem_channels: Sequence[int],
        embed_dims: Sequence[int],
        depths: Sequence[int],
        num_heads: Sequence[int],
        sr_ratios: Sequence[int],
        mlp_ratios: Sequence[float],
    ) -> None:
        super().__init__()
        self.stem = ConvStem(stem_channels)
        ins = [stem_channels[-1], *embed_dims[:-1]]
        self.stages = nn.ModuleList(
            MiTStage(ins[i], embed_dims[i], depths[i], num_heads[i], sr_ratios[i], mlp_ratios[i])
            for i in range(len(embed_dims))
        )
        self.channels: tuple[int, ...] = (*stem_channels, *embed_dims)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = self.stem(x)
        y = feats[-1]
        for stage in self.stages:
            y = stage(y)
            feats.append(y)
        return feats
