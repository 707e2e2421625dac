"""Multi-head attention with optional spatial reduction of keys and values.

The attention of the MiT (SegFormer) encoder stages and, with ``sr_ratio=1``, of the
cross-branch interaction. The product ``softmax(q kᵀ / √d) v`` is written with plain matrix
products (not ``scaled_dot_product_attention``) so :class:`torch.utils.flop_counter.FlopCounterMode`
counts it and CPU results are deterministic.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Attention", "attention"]


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``softmax(q kᵀ / √d) v``.

    Args:
        q: ``(B, heads, N, d)`` queries.
        k, v: ``(B, heads, M, d)`` keys and values.

    Returns:
        ``(B, heads, N, d)``.
    """
    scores = torch.matmul(q, k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)
    return torch.matmul(scores.softmax(dim=-1), v)


class Attention(nn.Module):
    """Self-attention over a ``(B, N, C)`` token sequence.

    With ``sr_ratio > 1`` the tokens are a ``(h, w)`` grid and keys/values come from the grid
    reduced by a ``sr_ratio``-strided convolution (PVT / SegFormer "efficient
    self-attention"): the cost is ``N · N / sr_ratio²`` instead of ``N²``. A grid whose sides
    are not multiples of ``sr_ratio`` is padded by replication first, so any size works.

    Shape:
        - x: ``(B, N, C)``; ``size = (h, w)`` with ``h · w = N`` when ``sr_ratio > 1``.
        - output: ``(B, N, C)``.
    """

    def __init__(self, dim: int, num_heads: int, sr_ratio: int = 1) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}.")
        self.num_heads = int(num_heads)
        self.sr_ratio = int(sr_ratio)
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        if self.sr_ratio > 1:
            self.sr = nn.Conv2d(dim, dim, kernel_size=self.sr_ratio, stride=self.sr_ratio)
            self.norm = nn.LayerNorm(dim)

    def _reduce(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        b, _, c = x.shape
        h, w = size
        grid = x.transpose(1, 2).reshape(b, c, h, w)
        r = self.sr_ratio
        ph, pw = (-h) % r, (-w) % r
        if ph or pw:
            grid = F.pad(grid, (0, pw, 0, ph), mode="replicate")
        return self.norm(self.sr(grid).flatten(2).transpose(1, 2))

    def forward(self, x: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
        b, n, c = x.shape
        heads = self.num_heads
        q = self.q(x).reshape(b, n, heads, c // heads).transpose(1, 2)
        if self.sr_ratio > 1:
            if size is None:
                raise ValueError("spatial-reduction attention needs the token grid size.")
            src = self._reduce(x, size)
        else:
            src = x
        kv = self.kv(src).reshape(b, src.shape[1], 2, heads, c // heads).permute(2, 0, 3, 1, 4)
        out = attention(q, kv[0], kv[1])
        return self.proj(out.transpose(1, 2).reshape(b, n, c))

    def extra_repr(self) -> str:
        return f"heads={self.num_heads}, sr_ratio={self.sr_ratio}"
