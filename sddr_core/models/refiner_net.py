"""The SDDR refinement network N_r (METHOD.md section 2), assembled.

Inputs are only the two predictions, the low-resolution one ``N_d(L)`` and the
high-resolution one ``N_d(H)``, resized to one working size; no RGB. Both are normalised per
image by median and mean absolute deviation (:func:`sddr_core.models.normalize.normalize_robust`),
encoded by one shared :class:`~sddr_core.models.encoder.Encoder`, their deepest features
interact through attention (:class:`~sddr_core.models.interaction.BranchInteraction`), and
the mask :class:`~sddr_core.models.decoder.Decoder` blends the skips with soft masks Ω and
predicts a residual over the normalised low input. The output is mapped back to the low
input's scale and shift (median and deviation), so it can be compared and blended with it
directly.

Variants live in :data:`CONFIGS` (``"sddr-b0"``: the default, within the paper's 16.8 M
parameters and 16.7 GFLOPs at 1024²; ``"sddr-tiny"``: for tests). Any input size works; the
refiner feeds multiples of 32 and keeps the aspect ratio.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from sddr_core.errors import ShapeError
from sddr_core.models.decoder import Decoder
from sddr_core.models.edges import edge_map
from sddr_core.models.encoder import Encoder
from sddr_core.models.interaction import BranchInteraction
from sddr_core.models.normalize import normalize_robust

__all__ = ["CONFIGS", "SDDRConfig", "SDDRNet", "create_model"]


@dataclass(frozen=True)
class SDDRConfig:
    """Architecture of :class:`SDDRNet`.

    Attributes:
        name: variant name (a key of :data:`CONFIGS` for the built-in ones).
        stem_channels: conv stem channels at 1/2, 1/4, 1/8.
        embed_dims: MiT stage channels at 1/16, 1/32, 1/64, 1/128 (MiT-b0: 32, 64, 160, 256).
        depths: transformer blocks per stage.
        num_heads: attention heads per stage.
        sr_ratios: key/value spatial reduction per stage.
        mlp_ratios: Mix-FFN hidden width per stage, relative to the stage's channels.
        interaction_layers: transformer layers of the cross-branch interaction.
        interaction_heads: its attention heads.
        interaction_mlp_ratio: its MLP width relative to ``embed_dims[-1]``.
        side_levels: decoder levels with a side output (0 = 1/2, 1 = 1/4).
    """

    name: str = "sddr-b0"
    stem_channels: tuple[int, ...] = (8, 16, 32)
    embed_dims: tuple[int, ...] = (32, 64, 160, 256)
    depths: tuple[int, ...] = (2, 2, 2, 2)
    num_heads: tuple[int, ...] = (1, 2, 5, 8)
    sr_ratios: tuple[int, ...] = (8, 4, 2, 1)
    mlp_ratios: tuple[float, ...] = (4.0, 4.0, 4.0, 4.0)
    interaction_layers: int = 4
    interaction_heads: int = 8
    interaction_mlp_ratio: float = 4.0
    side_levels: tuple[int, ...] = (0, 1)

    def __post_init__(self) -> None:
        n = len(self.embed_dims)
        for field in ("depths", "num_heads", "sr_ratios", "mlp_ratios"):
            if len(getattr(self, field)) != n:
                raise ValueError(
                    f"SDDRConfig.{field} has {len(getattr(self, field))} entries but "
                    f"embed_dims has {n}: give one per MiT stage."
                )
        for dim, heads in zip(self.embed_dims, self.num_heads, strict=True):
            if dim % heads:
                raise ValueError(f"SDDRConfig: stage width {dim} not divisible by {heads} heads.")
        if self.embed_dims[-1] % 4 or self.embed_dims[-1] % self.interaction_heads:
            raise ValueError(
                "SDDRConfig: embed_dims[-1] must be divisible by 4 (position encoding) and by "
                "interaction_heads."
            )
        if any(i < 0 or i >= len(self.stem_channels) + n - 1 for i in self.side_levels):
            raise ValueError(f"SDDRConfig.side_levels {self.side_levels} out of range.")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SDDRConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown SDDRConfig field(s): {', '.join(unknown)}.")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    @classmethod
    def default(cls) -> SDDRConfig:
        """The default architecture (``"sddr-b0"``)."""
        return CONFIGS["sddr-b0"]

    @classmethod
    def tiny(cls) -> SDDRConfig:
        """A very small architecture for tests (``"sddr-tiny"``, about 54 k parameters)."""
        return CONFIGS["sddr-tiny"]


#: The built-in variants, by name.
CONFIGS: dict[str, SDDRConfig] = {
    "sddr-b0": SDDRConfig(),
    "sddr-tiny": SDDRConfig(
        name="sddr-tiny",
        stem_channels=(4, 8, 8),
        embed_dims=(8, 16, 16, 16),
        depths=(1, 1, 1, 1),
        num_heads=(1, 1, 2, 2),
        sr_ratios=(4, 2, 1, 1),
        mlp_ratios=(2.0, 2.0, 2.0, 2.0),
        interaction_layers=1,
        interaction_heads=2,
        interaction_mlp_ratio=2.0,
    ),
}


class SDDRNet(nn.Module):
    """The refinement network: ``forward(low, high)`` fuses two depth predictions.

    Args:
        config: architecture (default: ``SDDRConfig()``, i.e. ``"sddr-b0"``).

    Example:
        >>> net = SDDRNet(SDDRConfig.tiny()).eval()
        >>> out = net(torch.rand(1, 1, 64, 96), torch.rand(1, 1, 64, 96))
        >>> out["depth"].shape, len(out["omegas"]), [s.shape[-1] for s in out["side"]]
        (torch.Size([1, 1, 64, 96]), 6, [48, 24])
    """

    def __init__(self, config: SDDRConfig | None = None) -> None:
        super().__init__()
        self.config = config or SDDRConfig()
        c = self.config
        self.encoder = Encoder(
            c.stem_channels, c.embed_dims, c.depths, c.num_heads, c.sr_ratios, c.mlp_ratios
        )
        self.interaction = BranchInteraction(
            c.embed_dims[-1], c.interaction_layers, c.interaction_heads, c.interaction_mlp_ratio
        )
        self.decoder = Decoder(self.encoder.channels, c.side_levels)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(
        self, low: torch.Tensor, high: torch.Tensor, *, edges: bool = True
    ) -> dict[str, Any]:
        """Fuse ``low`` and ``high``.

        Args:
            low: ``(B, 1, H, W)`` low-resolution prediction resized to the working size.
            high: ``(B, 1, H, W)`` high-resolution prediction at the same size and in the same
                convention (disparity or depth); any scale and shift.
            edges: also return the edge map G of the output.

        Returns:
            A dict with

            - ``depth``: ``(B, 1, H, W)`` float32 refined map in the scale and shift of ``low``;
            - ``omegas``: list of ``(B, 1, h_i, w_i)`` soft masks in ``[0, 1]``, finest
              (1/2) first, down to 1/64: where the high branch was trusted;
            - ``side``: side outputs ``(B, 1, H/2, W/2)`` and ``(B, 1, H/4, W/4)``, float32,
              in ``low``'s scale (deep supervision);
            - ``edges`` (when asked): ``(B, 1, H, W)`` edge map G of ``depth``.
        """
        if low.ndim != 4 or low.shape[1] != 1 or low.shape != high.shape:
            raise ShapeError(
                f"SDDRNet expects low and high of the same (B, 1, H, W) shape, got "
                f"{tuple(low.shape)} and {tuple(high.shape)}."
            )
        low_n, median, scale = normalize_robust(low)
        high_n, _, _ = normalize_robust(high)
        dtype = next(self.parameters()).dtype
        low_in, high_in = low_n.to(dtype), high_n.to(dtype)
        b = low.shape[0]
        feats = self.encoder(torch.cat((low_in, high_in), dim=0))  # shared weights, one batch
        low_feats = [f[:b] for f in feats]
        high_feats = [f[b:] for f in feats]
        low_feats[-1], high_feats[-1] = self.interaction(low_feats[-1], high_feats[-1])
        depth_n, omegas, side_n = self.decoder(low_feats, high_feats, low_in, high_in)
        depth = depth_n.float() * scale + median
        out: dict[str, Any] = {
            "depth": depth,
            "omegas": [o.float() for o in omegas],
            "side": [s.float() * scale + median for s in side_n],
        }
        if edges:
            out["edges"] = edge_map(depth)
        return out

    def num_parameters(self) -> int:
        """Number of parameters."""
        return sum(p.numel() for p in self.parameters())


def create_model(config: str | SDDRConfig | dict[str, Any] | None = None) -> SDDRNet:
    """An :class:`SDDRNet` from a variant name (``"sddr-b0"``, ``"sddr-tiny"``), a config or
    its dict (``None``: the default)."""
    if config is None:
        cfg = SDDRConfig()
    elif isinstance(config, str):
        if config not in CONFIGS:
            from sddr_core.errors import UnknownNameError

            raise UnknownNameError("network variant", config, CONFIGS)
        cfg = CONFIGS[config]
    elif isinstance(config, dict):
        cfg = SDDRConfig.from_dict(config)
    else:
        cfg = config
    return SDDRNet(cfg)
