"""The depth edge representation G of SDDR (METHOD.md section 3)."""

from __future__ import annotations

import cv2
import numpy as np

from sddr_core.errors import ShapeError
from sddr_core.ops.align import normalize_robust

__all__ = ["edge_map", "sobel_magnitude"]


def sobel_magnitude(x: np.ndarray) -> np.ndarray:
    """``|Sobel_x x| + |Sobel_y x|`` of a ``(H, W)`` float map (3×3 kernels, /8); float32."""
    if x.ndim != 2:
        raise ShapeError(f"sobel_magnitude expects a (H, W) map, got shape {x.shape}.")
    src = np.ascontiguousarray(x, dtype=np.float32)
    gx = cv2.Sobel(src, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.Sobel(src, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REPLICATE)
    return ((np.abs(gx) + np.abs(gy)) / 8.0).astype(np.float32)


def edge_map(depth: np.ndarray, *, smooth: bool = True, sigma_space: float = 2.0) -> np.ndarray:
    """Edge map G of a depth or disparity map ``(H, W)``: larger means a stronger depth edge.

    The map is normalised robustly (median / mean absolute deviation, so G is comparable
    across predictors), smoothed with an edge-preserving bilateral filter that removes noise in
    flat areas but keeps discontinuities, then passed through :func:`sobel_magnitude`.
    G is defined up to scale and shift: fit both before comparing two edge maps.
    """
    if depth.ndim != 2:
        raise ShapeError(f"edge_map expects a (H, W) map, got shape {depth.shape}.")
    x = normalize_robust(np.nan_to_num(depth, nan=float(np.nanmedian(depth))))
    if smooth:
        x = cv2.bilateralFilter(x, d=-1, sigmaColor=0.25, sigmaSpace=sigma_space)
    return sobel_magnitude(x)
