"""Aspect-preserving resizing of images and depth maps."""

from __future__ import annotations

import cv2
import numpy as np

from sddr_core.errors import ShapeError

__all__ = ["resize_long_side", "resize_map", "round_to_multiple", "working_shape"]


def round_to_multiple(x: float, multiple: int, *, minimum: int | None = None) -> int:
    """Round ``x`` to the nearest multiple of ``multiple`` (at least ``minimum``, and at least
    one multiple)."""
    m = max(int(multiple), 1)
    out = max(int(round(x / m)) * m, m)
    if minimum is not None:
        out = max(out, int(np.ceil(minimum / m)) * m)
    return out


def working_shape(height: int, width: int, long_side: int, multiple: int = 1) -> tuple[int, int]:
    """Shape ``(h, w)`` with the aspect ratio of ``(height, width)``, long side ≈ ``long_side``.

    Both sides are rounded to ``multiple``; the aspect ratio is kept as well as rounding allows.
    """
    if height < 1 or width < 1:
        raise ShapeError(f"cannot size an empty image ({height}x{width}).")
    scale = long_side / max(height, width)
    return round_to_multiple(height * scale, multiple), round_to_multiple(width * scale, multiple)


def resize_map(arr: np.ndarray, shape: tuple[int, int], *, kind: str = "depth") -> np.ndarray:
    """Resize a ``(H, W)`` or ``(H, W, C)`` float array to ``shape = (h, w)``.

    Downsampling averages (``INTER_AREA``, no aliasing); upsampling is bilinear for depth maps
    (``kind="depth"``: no overshoot at discontinuities) and bicubic for images (``"image"``).
    The result is clipped to the finite range of the input: these interpolations are convex
    combinations, so this only removes float rounding, and a constant map stays exactly
    constant (rather than becoming float noise that a min-max normalisation would stretch).
    """
    h, w = int(shape[0]), int(shape[1])
    if arr.shape[:2] == (h, w):
        return np.ascontiguousarray(arr, dtype=np.float32)
    src = np.ascontiguousarray(arr, dtype=np.float32)
    shrinking = h * w < arr.shape[0] * arr.shape[1]
    if shrinking:
        interp = cv2.INTER_AREA
    else:
        interp = cv2.INTER_CUBIC if kind == "image" else cv2.INTER_LINEAR
    out = cv2.resize(src, (w, h), interpolation=interp)
    lo, hi = float(np.fmin.reduce(src, axis=None)), float(np.fmax.reduce(src, axis=None))
    if lo <= hi:  # False only when every value is NaN
        np.clip(out, lo, hi, out=out)
    if out.ndim == 2 and arr.ndim == 3:  # cv2 drops a single channel
        out = out[..., None]
    return out.astype(np.float32, copy=False)


def resize_long_side(
    arr: np.ndarray, long_side: int, *, multiple: int = 1, kind: str = "image"
) -> np.ndarray:
    """Resize so the long side is ``long_side`` (sides rounded to ``multiple``), keeping aspect."""
    return resize_map(
        arr, working_shape(arr.shape[0], arr.shape[1], long_side, multiple), kind=kind
    )
