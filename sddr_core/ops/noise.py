"""The SDDR noise model (METHOD.md section 1): how a predictor deviates from true depth.

A prediction is modelled as ``D ≈ D* + ε_cons + ε_edge``:

- :func:`resolution_blur`: running at a resolution loses detail finer than its pixels;
- :func:`local_inconsistency` (ε_cons): an independent scale and shift per edge-bounded region
  inside overlapping patches, as a predictor run above its training resolution shows;
- :func:`edge_bumps` (ε_edge): Gaussian bumps placed along depth edges (edge deformation).

All functions are pure: float32 ``(H, W)`` in, float32 ``(H, W)`` out, randomness from the
``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import cv2
import numpy as np

from sddr_core.ops.edges import sobel_magnitude
from sddr_core.ops.resize import resize_map, working_shape

__all__ = ["depth_edges", "edge_bumps", "local_inconsistency", "resolution_blur"]


def depth_edges(x: np.ndarray, *, rel_threshold: float = 0.05) -> np.ndarray:
    """Boolean ``(H, W)`` map of depth discontinuities: Sobel magnitude above
    ``rel_threshold`` times the map's robust range (2nd to 98th percentile)."""
    lo, hi = np.percentile(x, [2, 98])
    return sobel_magnitude(x) > rel_threshold * max(float(hi - lo), 1e-12)


def resolution_blur(x: np.ndarray, resolution: int, *, sigma: float = 1.0) -> np.ndarray:
    """``x`` as seen at ``resolution`` (long side): area-downsampled, then blurred by
    ``sigma`` pixels at that scale (a network's own smoothing). Returns the map at the
    downsampled size."""
    small = resize_map(x, working_shape(x.shape[0], x.shape[1], resolution))
    if sigma > 0:
        small = cv2.GaussianBlur(small, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)
    return small


def local_inconsistency(
    x: np.ndarray,
    strength: float,
    rng: np.random.Generator,
    *,
    patch: int = 64,
    stride: int = 32,
    edges: np.ndarray | None = None,
) -> np.ndarray:
    """ε_cons: each edge-bounded component inside each ``patch``×``patch`` window (moved by
    ``stride``) gets its own scale ``1 + N(0, 0.1·strength)`` and shift
    ``N(0, 0.05·strength)·range``; overlapping windows are averaged with a smooth weight.
    ``strength = 0`` returns ``x`` unchanged."""
    if strength <= 0:
        return x.astype(np.float32, copy=True)
    h, w = x.shape
    edges = depth_edges(x) if edges is None else edges
    span = float(np.percentile(x, 98) - np.percentile(x, 2)) or 1.0
    mean = float(x.mean())
    acc = np.zeros((h, w), np.float64)
    wsum = np.zeros((h, w), np.float64)
    ph, pw = min(patch, h), min(patch, w)
    win = np.outer(np.hanning(ph + 2)[1:-1], np.hanning(pw + 2)[1:-1]) + 1e-3
    ys = list(range(0, max(h - ph, 0) + 1, stride))
    xs = list(range(0, max(w - pw, 0) + 1, stride))
    if ys[-1] != h - ph:
        ys.append(h - ph)
    if xs[-1] != w - pw:
        xs.append(w - pw)
    for y0 in ys:
        for x0 in xs:
            sl = (slice(y0, y0 + ph), slice(x0, x0 + pw))
            n, labels = cv2.connectedComponents((~edges[sl]).astype(np.uint8), connectivity=4)
            scale = 1.0 + rng.normal(0.0, 0.1 * strength, n)
            shift = rng.normal(0.0, 0.05 * strength, n) * span
            xp = x[sl].astype(np.float64)
            acc[sl] += win * ((xp - mean) * scale[labels] + mean + shift[labels])
            wsum[sl] += win
    return (acc / np.maximum(wsum, 1e-12)).astype(np.float32)


def edge_bumps(
    x: np.ndarray,
    strength: float,
    rng: np.random.Generator,
    *,
    density: float = 0.02,
    sigma: tuple[float, float] = (1.5, 4.0),
    edges: np.ndarray | None = None,
) -> np.ndarray:
    """ε_edge: Gaussian bumps of amplitude ``N(0, 0.05·strength)·range`` and width drawn from
    ``sigma`` pixels, centred on a ``density`` fraction of the edge pixels."""
    if strength <= 0:
        return x.astype(np.float32, copy=True)
    edges = depth_edges(x) if edges is None else edges
    ys, xs = np.nonzero(edges)
    if ys.size == 0:
        return x.astype(np.float32, copy=True)
    k = max(1, int(density * ys.size))
    pick = rng.choice(ys.size, size=k, replace=False)
    span = float(np.percentile(x, 98) - np.percentile(x, 2)) or 1.0
    impulses = np.zeros(x.shape, np.float32)
    np.add.at(impulses, (ys[pick], xs[pick]), rng.normal(0, 0.05 * strength, k) * span)
    s = float(rng.uniform(*sigma))
    bumps = cv2.GaussianBlur(impulses, (0, 0), sigmaX=s) * (2 * np.pi * s * s)
    return (x + bumps).astype(np.float32)
