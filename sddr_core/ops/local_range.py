"""Local value range of maps, and clamping a result into it.

A fusion of two depth maps should not invent values that neither input has nearby: an output
brighter than both inputs' local maximum (or darker than their local minimum) is an
overshoot, the halo a sharpening network leaves around an edge that was already sharp. Two-stage
refinement fuses every pixel several times, so such halos add up unless each fusion is held
inside the local range of its inputs (``coarse_to_fine(range_radius=...)``).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from sddr_core.errors import InputError, ShapeError

__all__ = ["clamp_to_local_range", "local_range"]


def local_range(maps: Sequence[np.ndarray], radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-wise ``(lower, upper)``: the minimum and maximum of all ``maps`` over a disc of
    ``radius`` pixels (``radius = 0``: the pixel itself). Float32 ``(h, w)`` each."""
    if not maps:
        raise InputError("local_range needs at least one map.")
    if radius < 0:
        raise InputError(f"radius must be >= 0, got {radius}.")
    arrays = [np.asarray(m, dtype=np.float32) for m in maps]
    shape = arrays[0].shape
    if len(shape) != 2 or any(a.shape != shape for a in arrays):
        raise ShapeError(
            f"local_range needs (h, w) maps of one size, got {[a.shape for a in arrays]}."
        )
    lower = np.minimum.reduce(arrays) if len(arrays) > 1 else arrays[0].copy()
    upper = np.maximum.reduce(arrays) if len(arrays) > 1 else arrays[0].copy()
    if radius > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        lower = cv2.erode(lower, kernel, borderType=cv2.BORDER_REPLICATE)
        upper = cv2.dilate(upper, kernel, borderType=cv2.BORDER_REPLICATE)
    return lower, upper


def clamp_to_local_range(x: np.ndarray, maps: Sequence[np.ndarray], radius: int) -> np.ndarray:
    """``x`` clipped into :func:`local_range` of ``maps``: values between the neighbourhood
    minimum and maximum are kept exactly, overshoots are cut back to the nearest bound."""
    x = np.asarray(x, dtype=np.float32)
    lower, upper = local_range(maps, radius)
    if x.shape != lower.shape:
        raise ShapeError(f"cannot clamp a {x.shape} map into the range of {lower.shape} maps.")
    return np.clip(x, lower, upper)
