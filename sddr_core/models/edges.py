"""The depth edge map G in torch: the differentiable twin of :func:`sddr_core.ops.edge_map`.

G = ``|Sobel_x D̃| + |Sobel_y D̃|`` (3×3 kernels, /8) where ``D̃`` is the robustly normalised
depth smoothed by an edge-preserving bilateral filter (METHOD.md section 3). The filter
matches OpenCV's ``bilateralFilter`` with ``d=-1``: radius ``round(1.5·σ_space)``, a circular
window, reflect-101 borders, Gaussian space and colour weights; the Sobel uses replicated
borders. The numpy version in :mod:`sddr_core.ops.edges` and this one agree to within
OpenCV's colour look-up table (tested). Training uses this one (gradients flow through it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from sddr_core.errors import ShapeError
from sddr_core.models.normalize import normalize_robust

__all__ = ["bilateral_filter", "edge_map", "sobel_magnitude"]


def _check(x: torch.Tensor, name: str) -> None:
    if x.ndim != 4 or x.shape[1] != 1:
        raise ShapeError(f"{name} expects a (B, 1, H, W) tensor, got {tuple(x.shape)}.")


def sobel_magnitude(x: torch.Tensor) -> torch.Tensor:
    """``(|Sobel_x x| + |Sobel_y x|) / 8`` with replicated borders.

    Shape: ``(B, 1, H, W) -> (B, 1, H, W)``.
    """
    _check(x, "sobel_magnitude")
    k = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=x.device)
    kernels = torch.stack((k, k.t()))[:, None].to(x.dtype)  # (2, 1, 3, 3): d/dx, d/dy
    g = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernels)
    return g.abs().sum(dim=1, keepdim=True) / 8.0


def bilateral_filter(
    x: torch.Tensor, sigma_color: float = 0.25, sigma_space: float = 2.0
) -> torch.Tensor:
    """Edge-preserving bilateral filter (OpenCV ``bilateralFilter(x, -1, σc, σs)`` semantics).

    Weights ``exp(−r²/2σs²) · exp(−Δ²/2σc²)`` over a circular window of radius
    ``round(1.5·σs)``, reflect-101 borders. Loops over window offsets, so memory stays at a
    few copies of ``x`` whatever the radius.

    Shape: ``(B, 1, H, W) -> (B, 1, H, W)``.
    """
    _check(x, "bilateral_filter")
    radius = max(int(round(1.5 * sigma_space)), 1)
    h, w = x.shape[-2:]
    mode = "reflect" if min(h, w) > radius else "replicate"
    padded = F.pad(x, (radius, radius, radius, radius), mode=mode)
    cs = -0.5 / (sigma_color * sigma_color)
    ss = -0.5 / (sigma_space * sigma_space)
    num = torch.zeros_like(x)
    den = torch.zeros_like(x)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            r2 = dy * dy + dx * dx
            if r2 > radius * radius:
                continue
            shifted = padded[..., radius + dy : radius + dy + h, radius + dx : radius + dx + w]
            weight = torch.exp((shifted - x) ** 2 * cs + r2 * ss)
            num = num + weight * shifted
            den = den + weight
    return num / den


def edge_map(depth: torch.Tensor, *, smooth: bool = True, sigma_space: float = 2.0) -> torch.Tensor:
    """Edge map G of depth or disparity: larger means a stronger depth edge.

    Args:
        depth: ``(B, 1, H, W)`` finite values (any scale and shift).
        smooth: apply the bilateral filter (σ_colour 0.25 in normalised units).
        sigma_space: spatial σ of the bilateral filter, in pixels.

    Returns:
        ``(B, 1, H, W)`` float32. Defined up to scale and shift: fit both before comparing
        two edge maps.
    """
    _check(depth, "edge_map")
    x, _, _ = normalize_robust(depth)
    if smooth:
        x = bilateral_filter(x, 0.25, sigma_space)
    return sobel_magnitude(x)
