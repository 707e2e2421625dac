"""Parameter and FLOP counts of the refinement network.

FLOPs are measured with :class:`torch.utils.flop_counter.FlopCounterMode`, which counts the
matrix products and convolutions (``2`` FLOPs per multiply-add) and ignores element-wise ops,
normalisation, softmax and interpolation. The paper's "GFLOPs" follow the common convention
of tools such as ``thop`` / ``fvcore`` that count one multiply-add as one FLOP, i.e. MACs;
:func:`count_flops` reports both so the convention is always explicit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["FlopCount", "count_flops", "count_parameters"]


@dataclass(frozen=True)
class FlopCount:
    """FLOPs of one forward pass.

    Attributes:
        flops: floating-point operations, 2 per multiply-add (FlopCounterMode's convention).
        macs: multiply-adds (``flops / 2``), the "FLOPs" of the paper and of thop/fvcore.
        height, width: the input size measured at.
    """

    flops: int
    macs: int
    height: int
    width: int

    @property
    def gflops(self) -> float:
        return self.flops / 1e9

    @property
    def gmacs(self) -> float:
        return self.macs / 1e9


def count_parameters(model: nn.Module) -> int:
    """Number of parameters of ``model``."""
    return sum(p.numel() for p in model.parameters())


def count_flops(
    model: nn.Module, height: int = 1024, width: int | None = None, *, batch: int = 1
) -> FlopCount:
    """FLOPs and MACs of ``model(low, high, edges=False)`` at ``height × width``.

    Runs on the ``meta`` device (shapes only, no arithmetic), so even 2048² takes about a
    second and no memory; ``model`` itself is not modified.
    """
    from torch.utils.flop_counter import FlopCounterMode

    width = height if width is None else width
    meta = _to_meta(model)
    x = torch.zeros(batch, 1, height, width, device="meta")
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        meta(x, x, edges=False)
    flops = int(counter.get_total_flops())
    return FlopCount(flops=flops, macs=flops // 2, height=height, width=width)


def _to_meta(model: nn.Module) -> nn.Module:
    import copy

    clone = copy.deepcopy(model) if next(model.parameters()).device.type != "meta" else model
    return clone.to("meta").eval()
