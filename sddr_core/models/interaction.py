"""Attention-based interaction of the two branches' deepest features (METHOD.md section 2).

The deepest feature maps of the low and the high branch are flattened into one token
sequence (``2·h·w`` tokens). Each token gets a sinusoidal x/y position encoding and a learned
input-type embedding (which branch it came from); a few pre-norm transformer layers then let
every position of either branch attend to every position of both: a whole-image receptive
field at the coarsest scale, where it is cheap. The result is added back to the features.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sddr_core.models.attention import Attention

__all__ = ["BranchInteraction", "InteractionLayer", "position_encoding_2d"]


def position_encoding_2d(
    height: int,
    width: int,
    dim: int,
    *,
    temperature: float = 10000.0,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Sinusoidal x/y position encoding of a ``height × width`` grid, for any size.

    Positions are cell centres normalised to ``[0, 2π]`` along each axis (DETR style), so a
    scene seen at two working sizes gets the same encoding at the same relative place.
    The first half of the channels encodes y, the second half x, each as interleaved
    ``sin``/``cos`` pairs over ``dim / 4`` geometric frequencies.

    Args:
        height, width: grid size.
        dim: channels, a multiple of 4.

    Returns:
        ``(height · width, dim)``, row-major like ``x.flatten(2).transpose(1, 2)``.
    """
    if dim % 4:
        raise ValueError(f"position encoding needs a channel count divisible by 4, got {dim}.")
    quarter = dim // 4
    freqs = temperature ** (torch.arange(quarter, device=device, dtype=torch.float32) / quarter)
    ys = (torch.arange(height, device=device, dtype=torch.float32) + 0.5) / height * 2 * math.pi
    xs = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) / width * 2 * math.pi
    py = ys[:, None] / freqs  # (h, q)
    px = xs[:, None] / freqs  # (w, q)
    ey = torch.stack((py.sin(), py.cos()), dim=-1).flatten(1)  # (h, 2q)
    ex = torch.stack((px.sin(), px.cos()), dim=-1).flatten(1)  # (w, 2q)
    grid = torch.cat(
        (
            ey[:, None, :].expand(height, width, 2 * quarter),
            ex[None, :, :].expand(height, width, 2 * quarter),
        ),
        dim=-1,
    )
    return grid.reshape(height * width, dim).to(dtype)


class InteractionLayer(nn.Module):
    """Pre-norm transformer layer: full self-attention then an MLP, both residual.

    Shape: ``(B, N, C) -> (B, N, C)``.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads, sr_ratio=1)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class BranchInteraction(nn.Module):
    """Joint attention over the deepest features of both branches.

    Args:
        dim: channels of the deepest features.
        layers: number of transformer layers (the paper uses 4).
        num_heads: attention heads.
        mlp_ratio: hidden width of the MLP relative to ``dim``.

    Shape:
        - low, high: ``(B, C, h, w)``.
        - output: the pair ``(low', high')``, same shapes (``x' = x + interaction``).
    """

    def __init__(self, dim: int, layers: int = 4, num_heads: int = 8, mlp_ratio: float = 4.0):
        super().__init__()
        self.type_embed = nn.Parameter(torch.zeros(2, dim))
        nn.init.trunc_normal_(self.type_embed, std=0.02)
        self.layers = nn.ModuleList(
            InteractionLayer(dim, num_heads, mlp_ratio) for _ in range(layers)
        )
        self.norm = nn.LayerNorm(dim)

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, c, h, w = low.shape
        pos = position_encoding_2d(h, w, c, device=low.device, dtype=low.dtype)
        tokens = torch.cat(
            (
                low.flatten(2).transpose(1, 2) + pos + self.type_embed[0],
                high.flatten(2).transpose(1, 2) + pos + self.type_embed[1],
            ),
            dim=1,
        )
        for layer in self.layers:
            tokens = layer(tokens)
        tokens = self.norm(tokens).transpose(1, 2)
        n = h * w
        return (
            low + tokens[..., :n].reshape(b, c, h, w),
            high + tokens[..., n:].reshape(b, c, h, w),
        )
