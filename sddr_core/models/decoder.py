"""The mask decoder of the SDDR network (METHOD.md section 2).

From the coarsest level up, each level

1. upsamples the decoder feature to the level's size and projects it (3×3 conv, GN, LeakyReLU),
2. predicts a soft mask ``Ω ∈ [0, 1]`` from the decoder feature and both branches' skip
   features (where to trust the high-resolution branch),
3. blends the skips ``F = (1 − Ω)·F_L + Ω·F_H`` and fuses ``F`` into the decoder feature
   (concatenation, 3×3 conv, residual).

A final head at full resolution sees the decoder feature and both normalised inputs and
predicts a residual over the normalised low input. Side outputs at 1/2 and 1/4 supervise the
intermediate levels during training.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sddr_core.models.encoder import group_count
from sddr_core.models.group_norm import GroupNorm

__all__ = ["Decoder", "DecoderLevel", "MaskHead"]


def _conv_gn_act(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 3, padding=1),
        GroupNorm(group_count(out_ch), out_ch),
        nn.LeakyReLU(0.2),
    )


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class MaskHead(nn.Module):
    """Soft mask Ω from ``[decoder, F_L, F_H]``: ``(B, 3C, h, w) -> (B, 1, h, w)`` in [0, 1]."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        mid = max(4, ch // 2)
        self.body = _conv_gn_act(3 * ch, mid)
        self.out = nn.Conv2d(mid, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.out(self.body(x)))


class DecoderLevel(nn.Module):
    """One decoder level: upsample + project, predict Ω, blend the skips, fuse.

    Shape:
        - x: ``(B, C_in, h', w')`` decoder feature of the coarser level.
        - low, high: ``(B, C, h, w)`` skip features of the two branches.
        - output: ``(B, C, h, w)`` decoder feature and ``(B, 1, h, w)`` Ω.
    """

    def __init__(self, in_ch: int, ch: int) -> None:
        super().__init__()
        self.up = _conv_gn_act(in_ch, ch)
        self.mask = MaskHead(ch)
        self.fuse = _conv_gn_act(2 * ch, ch)

    def forward(
        self, x: torch.Tensor, low: torch.Tensor, high: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.up(_resize(x, tuple(low.shape[-2:])))
        omega = self.mask(torch.cat((x, low, high), dim=1))
        skip = low + omega * (high - low)  # (1 − Ω)·F_L + Ω·F_H
        x = x + self.fuse(torch.cat((x, skip), dim=1))
        return x, omega


class Decoder(nn.Module):
    """Mask decoder over the encoder's feature pyramid.

    Args:
        channels: channels of the encoder levels, finest first (``Encoder.channels``).
        side_levels: indices of the levels with a side output (0 = 1/2, 1 = 1/4).

    Shape:
        - low_feats, high_feats: lists as returned by :class:`~sddr_core.models.encoder.Encoder`.
        - low_n, high_n: ``(B, 1, H, W)`` normalised inputs.
        - output: ``(B, 1, H, W)`` normalised depth; the Ω maps finest first
          (``(B, 1, h_i, w_i)`` for levels ``0 … len(channels) − 2``); the side outputs
          (normalised depth at the ``side_levels``' sizes), in ``side_levels`` order.
    """

    def __init__(self, channels: Sequence[int], side_levels: Sequence[int] = (0, 1)) -> None:
        super().__init__()
        c = list(channels)
        self.start = nn.Sequential(
            nn.Conv2d(2 * c[-1], c[-1], 1),
            GroupNorm(group_count(c[-1]), c[-1]),
            nn.LeakyReLU(0.2),
        )
        self.levels = nn.ModuleList(DecoderLevel(c[i + 1], c[i]) for i in range(len(c) - 1))
        self.side_levels = tuple(int(i) for i in side_levels)
        self.side = nn.ModuleList(nn.Conv2d(c[i], 1, 3, padding=1) for i in self.side_levels)
        self.head = nn.Sequential(
            nn.Conv2d(c[0] + 2, c[0], 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(c[0], 1, 3, padding=1),
        )
        for conv in (*self.side, self.head[-1]):
            nn.init.normal_(conv.weight, std=0.01)
            nn.init.zeros_(conv.bias)

    def forward(
        self,
        low_feats: Sequence[torch.Tensor],
        high_feats: Sequence[torch.Tensor],
        low_n: torch.Tensor,
        high_n: torch.Tensor,
    ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        x = self.start(torch.cat((low_feats[-1], high_feats[-1]), dim=1))
        omegas: list[torch.Tensor] = []
        decoded: dict[int, torch.Tensor] = {}
        for i in reversed(range(len(self.levels))):
            x, omega = self.levels[i](x, low_feats[i], high_feats[i])
            omegas.append(omega)
            if i in self.side_levels:
                decoded[i] = x
        omegas.reverse()
        side = []
        for conv, i in zip(self.side, self.side_levels, strict=True):
            feat = decoded[i]
            base = F.adaptive_avg_pool2d(low_n, feat.shape[-2:])
            side.append(base + conv(feat))
        x = _resize(x, tuple(low_n.shape[-2:]))
        depth = low_n + self.head(torch.cat((x, low_n, high_n), dim=1))
        return depth, omegas, side
