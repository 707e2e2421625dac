"""The band-fusion refiner network: a learned trust map per frequency band.

The SDDR network (:mod:`sddr_core.models.refiner_net`) predicts depth freely; trained on one
noise model it learned that model and, on real predictors, did worse than its own inputs
(docs/MODEL_CARD.md). This network cannot: it never draws depth itself. It predicts, for
every pixel and every band of a Laplacian pyramid, how much to trust the high-resolution
input, and the depth is assembled from the two inputs' own bands:

1. both inputs are normalised by the low input's median and deviation, and the high input is
   aligned to the low one by a least-squares scale and shift (fitted on 4× pooled maps, so
   the blur of the low input does not bias it; a negative scale, i.e. an inverted pass,
   counts as no agreement);
2. a small convolutional U-Net sees the two maps, their difference, their gradients and
   their global agreement and predicts ``Ω_k ∈ [0, 1]`` for bands ``k = 0 .. levels-2``;
3. band ``k`` of the output is ``Ω_k·band_k(high) + (1 − Ω_k)·band_k(low)``; the coarsest
   level (1/32 of the working size and below) comes from the low input, so the global
   layout is the low input's by construction; variants with ``base_trust`` (the shipped
   ``bandfusion-sb``) also predict a trust map for that base, initialised to the low input
   (real stereo estimators: the full-resolution pass has the better layout, measured in
   docs/MODEL_CARD.md), so the layout is still one of the two inputs', never drawn;
4. the result is held inside the local range (a ``range_radius`` disc) of the two inputs, so
   no fusion overshoots both of them, and mapped back to the low input's scale.

With ``Ω = 0`` everywhere the output is the low input exactly; with ``Ω = 1`` in the fine
bands it is a frequency split (the ``split`` baseline). Everything in between is learned.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sddr_core.errors import ShapeError
from sddr_core.models.group_norm import GroupNorm
from sddr_core.models.normalize import robust_stats

__all__ = [
    "BAND_CONFIGS",
    "BandFusionConfig",
    "BandFusionNet",
    "align_to",
    "create_band_model",
    "laplacian_pyramid",
    "local_clamp",
    "reconstruct",
]


@dataclass(frozen=True)
class BandFusionConfig:
    """Architecture of :class:`BandFusionNet`.

    Attributes:
        name: variant name (a key of :data:`BAND_CONFIGS` for the built-in ones).
        widths: U-Net channels at 1/2, 1/4, 1/8, 1/16 and 1/32 of the working size.
        levels: Laplacian pyramid levels (``levels - 1`` blended bands + the low input's base).
        range_radius: radius in pixels of the local-range clamp (0: no clamp).
        base_trust: also predict a trust map for the pyramid's base (else: the low input's).
        trust_margin: ``m`` in ``Ω = clamp((1 + 2m)·σ(logit) − m, 0, 1)``: with ``m > 0`` a
            trust map reaches exactly 0 and 1 inside the logit bound of training (±4), so
            a high pass that is right everywhere can be taken whole (with ``m = 0``, Ω
            stays within about [0.02, 0.98] and 2 % of the other pass always leaks in).
        align_trim: share of the worst-fitting pixels left out when the high input is
            aligned to the low one (``trim`` of :func:`align_to`; 0: plain least squares).
    """

    name: str = "bandfusion-s"
    widths: tuple[int, ...] = (16, 32, 48, 64, 96)
    levels: int = 6
    range_radius: int = 1
    base_trust: bool = False
    trust_margin: float = 0.0
    align_trim: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BandFusionConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - fields
        if unknown:
            raise ValueError(f"unknown BandFusionConfig fields: {sorted(unknown)}")
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        cfg = cls(**kw)
        if len(cfg.widths) != 5 or not 2 <= cfg.levels <= 6:
            raise ValueError("BandFusionConfig needs 5 widths and 2 to 6 levels")
        if not 0 <= cfg.align_trim < 0.5:
            raise ValueError(
                f"BandFusionConfig.align_trim must be in [0, 0.5), got {cfg.align_trim}"
            )
        return cfg


#: Built-in variants: ``bandfusion-sb`` (``bandfusion-s`` with a trust map for the base too),
#: ``bandfusion-sbm`` (``bandfusion-sb`` whose trust maps reach 0 and 1: ``trust_margin``),
#: ``bandfusion-sbmr`` (``bandfusion-sbm`` with a trimmed alignment: ``align_trim``),
#: ``bandfusion-s`` (base from the low input) and ``bandfusion-tiny`` (tests).
BAND_CONFIGS: dict[str, BandFusionConfig] = {
    "bandfusion-s": BandFusionConfig(),
    "bandfusion-sb": BandFusionConfig(name="bandfusion-sb", base_trust=True),
    "bandfusion-sbm": BandFusionConfig(name="bandfusion-sbm", base_trust=True, trust_margin=0.02),
    "bandfusion-sbmr": BandFusionConfig(
        name="bandfusion-sbmr", base_trust=True, trust_margin=0.02, align_trim=0.1
    ),
    "bandfusion-tiny": BandFusionConfig(name="bandfusion-tiny", widths=(4, 8, 8, 8, 8)),
}


# -- pure tensor operations -----------------------------------------------------------------


def laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """Bands ``[b_0 (full size), b_1 (1/2), ...]`` and the base ``g_{levels-1}`` last.

    ``g_{k+1}`` is the 2×2 average of ``g_k``; ``b_k = g_k − up(g_{k+1})`` with bilinear
    upsampling, so :func:`reconstruct` gives ``x`` back exactly. Sides must be divisible by
    ``2**(levels-1)``.
    """
    if x.shape[-1] % 2 ** (levels - 1) or x.shape[-2] % 2 ** (levels - 1):
        raise ShapeError(
            f"laplacian_pyramid with {levels} levels needs sides divisible by "
            f"{2 ** (levels - 1)}, got {tuple(x.shape[-2:])}."
        )
    out = []
    g = x
    for _ in range(levels - 1):
        down = F.avg_pool2d(g, 2)
        out.append(g - _up(down, g.shape[-2:]))
        g = down
    out.append(g)
    return out


def reconstruct(pyramid: list[torch.Tensor]) -> torch.Tensor:
    """Inverse of :func:`laplacian_pyramid`."""
    g = pyramid[-1]
    for band in reversed(pyramid[:-1]):
        g = band + _up(g, band.shape[-2:])
    return g


def _up(x: torch.Tensor, size: Any) -> torch.Tensor:
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def align_to(
    x: torch.Tensor, target: torch.Tensor, *, pool: int = 4, trim: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` aligned to ``target`` by a least-squares scale and shift per image, fitted on
    ``pool``×``pool`` averages; returns ``(aligned, agreement)`` where agreement is the
    correlation of the pooled maps clamped to ``[0, 1]`` (``(B, 1, 1, 1)``). A negative
    correlation gives scale 0 (the aligned map is then constant).

    ``trim`` in ``[0, 0.5)``: starting from the medians and the ratio of interquartile
    ranges, the fit is made three times on the pooled pixels whose residual is within the
    ``1 − trim`` quantile (trimmed least squares), so gross errors of a share ``trim`` of the
    map (filled holes, streaks, a wrong region) do not pull the scale and shift of the rest.
    The agreement stays that of the whole map."""
    xs = F.avg_pool2d(x, pool) if pool > 1 else x
    ts = F.avg_pool2d(target, pool) if pool > 1 else target
    scale, xm, tm, corr = _fit(xs, ts, None)
    if trim > 0:
        # Start from medians and the interquartile ranges: gross errors far outside the
        # range would otherwise tilt the first fit so that they no longer stand out.
        qs = torch.tensor([0.25, 0.5, 0.75], device=xs.device, dtype=xs.dtype)
        qx = torch.quantile(xs.flatten(1), qs, dim=1).T[:, :, None, None]  # (B, 3, 1, 1)
        qt = torch.quantile(ts.flatten(1), qs, dim=1).T[:, :, None, None]
        spread = (qt[:, 2:3] - qt[:, 0:1]) / (qx[:, 2:3] - qx[:, 0:1]).clamp_min(1e-12)
        scale = torch.where(scale > 0, spread, torch.zeros_like(scale))
        xm, tm = qx[:, 1:2], qt[:, 1:2]
        for _ in range(3):
            residual = (scale * (xs - xm) + tm - ts).abs().flatten(1)
            limit = torch.quantile(residual, 1.0 - trim, dim=1, keepdim=True)
            keep = (residual <= limit).float().view_as(xs)
            scale, xm, tm, _ = _fit(xs, ts, keep)
    return scale * (x - xm) + tm, corr


def _fit(
    xs: torch.Tensor, ts: torch.Tensor, weight: torch.Tensor | None
) -> tuple[torch.Tensor, ...]:
    """Weighted least-squares ``ts ≈ scale·(xs − xm) + tm`` per image (scale clamped at 0)
    and the weighted correlation clamped to ``[0, 1]``: ``(scale, xm, tm, corr)``."""

    def mean(v: torch.Tensor) -> torch.Tensor:
        if weight is None:
            return v.mean(dim=(2, 3), keepdim=True)
        total = weight.sum(dim=(2, 3), keepdim=True).clamp_min(1e-12)
        return (weight * v).sum(dim=(2, 3), keepdim=True) / total

    xm, tm = mean(xs), mean(ts)
    xc, tc = xs - xm, ts - tm
    var, cov, tvar = mean(xc * xc), mean(xc * tc), mean(tc * tc)
    scale = (cov / var.clamp_min(1e-12)).clamp_min(0.0)
    corr = (cov / (var * tvar).clamp_min(1e-24).sqrt()).clamp(0.0, 1.0)
    return scale, xm, tm, corr


def local_clamp(x: torch.Tensor, maps: list[torch.Tensor], radius: int) -> torch.Tensor:
    """``x`` clamped per pixel into ``[min, max]`` of ``maps`` over a ``(2r+1)²`` window
    (the torch twin of :func:`sddr_core.ops.local_range.clamp_to_local_range` with a square
    window)."""
    if radius <= 0:
        return x
    stack = torch.cat(maps, dim=1)
    k = 2 * radius + 1
    hi = F.max_pool2d(stack, k, stride=1, padding=radius).amax(dim=1, keepdim=True)
    lo = -F.max_pool2d(-stack, k, stride=1, padding=radius).amax(dim=1, keepdim=True)
    return torch.minimum(torch.maximum(x, lo), hi)


def _gradient(x: torch.Tensor) -> torch.Tensor:
    gx = F.pad(x[..., :, 1:] - x[..., :, :-1], (0, 1, 0, 0))
    gy = F.pad(x[..., 1:, :] - x[..., :-1, :], (0, 0, 0, 1))
    return (gx.abs() + gy.abs()).clamp_max(10.0)


# -- the network ------------------------------------------------------------------------------


class _Block(nn.Module):
    """conv-GN-act, conv-GN, residual, act; optional stride-2 entry."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        groups = max(1, cout // 8)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.norm1 = GroupNorm(groups, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.norm2 = GroupNorm(groups, cout)
        self.skip = (
            nn.Identity()
            if cin == cout and stride == 1
            else nn.Conv2d(cin, cout, 1, stride, bias=False)
        )
        self.act = nn.LeakyReLU(0.1, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.norm1(self.conv1(x)))
        y = self.norm2(self.conv2(y))
        return self.act(y + self.skip(x))


#: Input channels of the U-Net: low, aligned high, their difference, both gradients,
#: the global agreement.
IN_CHANNELS = 6


class BandFusionNet(nn.Module):
    """See the module docstring. ``forward(low, high)`` takes ``(B, 1, H, W)`` maps with sides
    divisible by 32 and returns ``{"depth", "omegas", "logits", "base_omega", "agreement"}``:
    the fused map in the low input's scale, the trust maps ``[Ω_0 (full size), Ω_1 (1/2),
    ...]``, all logits (the base's last), the base's trust map (``None`` without
    ``base_trust``), and the global agreement of the two inputs."""

    size_multiple = 32
    #: Its convolutions run 15-20 % faster on a CPU with channels-last weights and activations
    #: (one thread and two, 1024x768, same output to 3e-7); NetworkRefiner converts it there.
    channels_last_on_cpu = True

    def __init__(self, config: BandFusionConfig | None = None) -> None:
        super().__init__()
        self.config = config or BandFusionConfig()
        w = self.config.widths
        self.stem = _Block(IN_CHANNELS, w[0], stride=2)  # 1/2
        self.down = nn.ModuleList(_Block(w[i], w[i + 1], stride=2) for i in range(4))
        self.context = nn.Sequential(nn.Linear(w[4], w[4]), nn.LeakyReLU(0.1))
        self.up = nn.ModuleList(_Block(w[i + 1] + w[i], w[i]) for i in reversed(range(4)))
        # Each head normalises its features first: unnormalised decoder features grow during
        # training and drove every logit into the flat tails of the sigmoid, where no gradient
        # flows (measured: Ω = 1.000 everywhere after 500 steps, the network stopped learning).
        self.heads = nn.ModuleList(
            nn.Sequential(
                GroupNorm(max(1, w[max(k, 1) - 1] // 8), w[max(k, 1) - 1]),
                nn.Conv2d(w[max(k, 1) - 1], 1, 3, 1, 1),
            )
            for k in range(self.config.levels - 1)
        )
        for k, head in enumerate(self.heads):
            conv = head[1]
            nn.init.normal_(conv.weight, std=0.01)
            nn.init.constant_(conv.bias, 2.0 if k < 3 else -2.0)  # start near the split
        self.base_head: nn.Module | None = None
        if self.config.base_trust:
            cb = w[min(self.config.levels - 1, 5) - 1]
            self.base_head = nn.Sequential(
                GroupNorm(max(1, cb // 8), cb), nn.Conv2d(cb, 1, 3, 1, 1)
            )
            nn.init.normal_(self.base_head[1].weight, std=0.01)
            nn.init.constant_(self.base_head[1].bias, -3.0)  # start at the low input's base

    def _trust(self, logit: torch.Tensor) -> torch.Tensor:
        """Trust map Ω from a head's logits (see ``BandFusionConfig.trust_margin``)."""
        m = self.config.trust_margin
        om = torch.sigmoid(logit)
        return om if m <= 0 else ((1 + 2 * m) * om - m).clamp(0.0, 1.0)

    def forward(
        self,
        low: torch.Tensor,
        high: torch.Tensor,
        *,
        keep_low_layout: bool = False,
        **_: Any,
    ) -> dict[str, Any]:
        """``keep_low_layout``: take the base from the low input even with a base trust head
        (two-stage windows: the current estimate already has the layout of the whole image,
        a window's prediction only adds detail)."""
        if low.ndim != 4 or low.shape != high.shape or low.shape[1] != 1:
            raise ShapeError(
                f"BandFusionNet takes two (B, 1, H, W) maps of one shape, got "
                f"{tuple(low.shape)} and {tuple(high.shape)}."
            )
        if low.shape[-1] % 32 or low.shape[-2] % 32:
            raise ShapeError(f"BandFusionNet needs sides divisible by 32, got {tuple(low.shape)}.")
        median, scale = robust_stats(low)
        lo = (low.float() - median) / scale
        hi, agreement = align_to((high.float() - median) / scale, lo, trim=self.config.align_trim)
        features = torch.cat(
            [lo, hi, lo - hi, _gradient(lo), _gradient(hi), agreement.expand_as(lo)], dim=1
        )
        skips = [self.stem(features)]
        for block in self.down:
            skips.append(block(skips[-1]))
        deep = skips[-1]
        ctx = self.context(deep.mean(dim=(2, 3)))[:, :, None, None]
        x = deep + ctx
        decoded = [x]  # 1/32, 1/16, ..., 1/2 after the loop
        for i, block in zip(reversed(range(4)), self.up, strict=True):
            x = block(torch.cat([_up(x, skips[i].shape[-2:]), skips[i]], dim=1))
            decoded.append(x)
        by_scale = {2 ** (5 - j): f for j, f in enumerate(decoded)}  # 2: 1/2, ..., 32: 1/32
        levels = self.config.levels
        p_lo = laplacian_pyramid(lo, levels)
        p_hi = laplacian_pyramid(hi, levels)
        fused, omegas, logits = [], [], []
        for k in range(levels - 1):
            feat = by_scale[2 ** max(k, 1)]
            logit = self.heads[k](feat)
            logits.append(logit)
            om = self._trust(logit)
            if om.shape[-2:] != p_lo[k].shape[-2:]:
                om = _up(om, p_lo[k].shape[-2:])
            omegas.append(om)
            fused.append(om * p_hi[k] + (1 - om) * p_lo[k])
        base_omega = None
        if self.base_head is not None and not keep_low_layout:
            logit = self.base_head(by_scale[2 ** min(levels - 1, 5)])
            logits.append(logit)
            base_omega = self._trust(logit)
            if base_omega.shape[-2:] != p_lo[-1].shape[-2:]:
                base_omega = _up(base_omega, p_lo[-1].shape[-2:])
            fused.append(base_omega * p_hi[-1] + (1 - base_omega) * p_lo[-1])
        else:
            fused.append(p_lo[-1])
        out = local_clamp(reconstruct(fused), [lo, hi], self.config.range_radius)
        return {
            "depth": out * scale + median,
            "omegas": omegas,
            "logits": logits,
            "base_omega": base_omega,
            "agreement": agreement,
        }


def create_band_model(name: str = "bandfusion-s") -> BandFusionNet:
    """A randomly initialised :class:`BandFusionNet` of a built-in variant."""
    if name not in BAND_CONFIGS:
        from sddr_core.errors import UnknownNameError

        raise UnknownNameError("band-fusion variant", name, BAND_CONFIGS)
    return BandFusionNet(BAND_CONFIGS[name])
